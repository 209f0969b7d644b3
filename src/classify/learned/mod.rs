//! Learned classifiers and how they are measured.
//!
//! ```text
//! text ──► sentiment extractor (char 1–3-grams, word 1–2-grams, negation scopes, emoji) ─┐
//!      ├─► sentiment cues (emoticons, sarcasm)                                             ├─► hashed rows
//!      ├─► fault vocabulary (brakes, fire, steering, …, recalls, collective complaints) ──┤   of 10 weights
//!      └─► intent phrase flags (complaint, question, praise, purchase interest)  ─────────┘
//!          Σ rows / √n + bias + w·(binary sentiment model's logit) + offset
//!          ──► softmax over negative / neutral / positive, sigmoid for "complaint",
//!              softmax over the five intents, sigmoid for "crisis"
//!          ──► the contract's phrases tilt it: slang (hype, negated complaints) and good
//!              news towards positive, bad news and repeated trouble towards negative
//! ```
//!
//! The heads are one linear model over hashed features ([`model::Heads`]), trained by
//! `herald-train-heads` on the public sets and on the measurement set's tuning half, brands
//! blanked out ([`train`], [`data`]), and shipped as `heads.bin`.
//! The features come out of the same pass as the binary sentiment model's (see
//! [`super::sentiment::Sentiment::logit_with_cues_and`]), so the heads cost one table row per
//! feature. [`eval`] holds the figures `herald-eval-classify` prints. Inference is pure and
//! does no IO; this module must not learn anything at run time.

pub mod data;
pub mod decide;
pub mod eval;
pub mod fault;
#[cfg(test)]
mod floors;
pub mod model;
pub mod train;

use super::phrases::{COMPLAINT, INTEREST, PRAISE, QUESTION, TEST_DRIVE};
use super::sentiment::features::{bucket, Sink};
use super::sentiment::Label;
use fault::{Fault, Faults};
pub use model::{Heads, HeadsError, COLUMNS, CRISIS_COLUMN, INTENT_COLUMNS, INTENT_ORDER};

/// The weights trained by `herald-train-heads`, committed with the code.
const EMBEDDED: &[u8] = include_bytes!("heads.bin");

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const NS_FAULT: u64 = 0xD1D1_0000_0000_0101;
const NS_FLAG: u64 = 0xD2D2_0000_0000_0202;
const NS_QUESTION: u64 = 0xD3D3_0000_0000_0303;
const NS_OLD_BIN: u64 = 0xD4D4_0000_0000_0404;
const NS_SCARE: u64 = 0xD5D5_0000_0000_0505;

fn extra(ns: u64, x: u64) -> u64 {
    (ns ^ x.wrapping_mul(K)).wrapping_mul(K).rotate_left(17) ^ ns
}

/// The phrase flags that are features.
const FLAG_FEATURES: [u16; 5] = [COMPLAINT, QUESTION, PRAISE, INTEREST, TEST_DRIVE];

/// The features the heads add to the extractor's and the cues': each fault kind found, each
/// intent phrase flag, the question mark, scare quotes ([`scare_quoted`]) and the binary
/// model's logit rounded to a unit (−6..6). Hands each hash to `f`.
pub fn extra_features(
    faults: Faults,
    flags: u16,
    question: bool,
    old_logit: f32,
    scare: bool,
    mut f: impl FnMut(u64),
) {
    for kind in Fault::ALL {
        if faults & kind.bit() != 0 {
            f(extra(NS_FAULT, kind as u64));
        }
    }
    for (i, bit) in FLAG_FEATURES.iter().enumerate() {
        if flags & bit != 0 {
            f(extra(NS_FLAG, i as u64));
        }
    }
    if question {
        f(extra(NS_QUESTION, 1));
    }
    if scare {
        f(extra(NS_SCARE, 1));
    }
    let bin = old_logit.round().clamp(-6.0, 6.0) as i64 + 6;
    f(extra(NS_OLD_BIN, bin as u64));
}

/// Whether `text` puts a short word in quotation marks: scare quotes, which often mark
/// sarcasm (油耗真是“低”, a "fix"). Up to four Han characters, or one Latin word of up to
/// twelve characters, between “ ”, 「 」 or straight double quotes. A feature, not a verdict:
/// the heads learn what it weighs.
pub fn scare_quoted(text: &str) -> bool {
    for (open, close) in [('“', '”'), ('「', '」'), ('"', '"')] {
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + open.len_utf8()..];
            let Some(j) = after.find(close) else { break };
            let inner = &after[..j];
            let n = inner.chars().count();
            let han = has_han(inner);
            if n > 0 && (han && n <= 4 || !han && n <= 12 && !inner.contains(' ')) {
                return true;
            }
            rest = &after[j + close.len_utf8()..];
        }
    }
    false
}

/// Whether `text` holds a Han character: such a text gets the Chinese calibration offsets,
/// any other the Latin ones (the extractor splits features by script the same way).
pub fn has_han(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Sums the rows of the features of one text.
#[derive(Debug, Clone, Copy)]
pub struct RowSum<'a> {
    weights: &'a [i16],
    bits: u32,
    sum: [i64; COLUMNS],
    count: u32,
}

impl<'a> RowSum<'a> {
    /// An empty sum over `heads`.
    pub fn new(heads: &'a Heads) -> Self {
        Self {
            weights: &heads.weights,
            bits: heads.bits,
            sum: [0; COLUMNS],
            count: 0,
        }
    }
}

impl Sink for RowSum<'_> {
    #[inline(always)]
    fn feature(&mut self, hash: u64, value: f32) {
        let r = bucket(hash, self.bits) * COLUMNS;
        // `r + COLUMNS` ≤ weights.len(): checked when the heads were loaded.
        let row = &self.weights[r..r + COLUMNS];
        if value < 0.0 {
            for (s, w) in self.sum.iter_mut().zip(row) {
                *s -= i64::from(*w);
            }
        } else {
            for (s, w) in self.sum.iter_mut().zip(row) {
                *s += i64::from(*w);
            }
        }
        self.count += 1;
    }
}

/// What the heads say about one text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeadsOut {
    /// P(negative), P(neutral), P(positive).
    pub sentiment: [f32; 3],
    /// P(complaint), from the public sets' complaint labels and the car mentions' intents.
    pub complaint: f32,
    /// P(intent) in the order of [`INTENT_ORDER`], learned from the car mentions' intents.
    pub intent: [f32; 5],
    /// P(crisis), learned from the car mentions' crisis labels.
    pub crisis: f32,
}

impl HeadsOut {
    /// The most probable sentiment.
    pub fn label(&self) -> Label {
        let [n, z, p] = self.sentiment;
        if n >= z && n >= p {
            Label::Negative
        } else if p >= z {
            Label::Positive
        } else {
            Label::Neutral
        }
    }

    /// The same reading with `logit` added to the positive class's logit.
    pub fn tilted_positive(self, logit: f32) -> Self {
        self.tilted(2, logit)
    }

    /// The same reading with `logit` added to the negative class's logit.
    pub fn tilted_negative(self, logit: f32) -> Self {
        self.tilted(0, logit)
    }

    /// The same reading with `logit` added to sentiment class `k`'s logit.
    fn tilted(self, k: usize, logit: f32) -> Self {
        let mut sentiment = self.sentiment;
        sentiment[k] *= logit.exp();
        let t: f32 = sentiment.iter().sum();
        Self {
            sentiment: sentiment.map(|x| x / t),
            ..self
        }
    }

    /// The most probable intent of the intent head.
    pub fn learned_intent(&self) -> crate::classify::intent::Intent {
        let mut best = 0;
        for k in 1..5 {
            if self.intent[k] > self.intent[best] {
                best = k;
            }
        }
        INTENT_ORDER[best]
    }

    /// P(positive) − P(negative), in −1..1.
    pub fn score(&self) -> f32 {
        self.sentiment[2] - self.sentiment[0]
    }
}

/// The embedded heads and the fault vocabulary.
#[derive(Debug, Clone)]
pub struct Learned {
    heads: Heads,
    vocabulary: fault::Vocabulary,
    slang: decide::Slang,
}

impl Learned {
    /// The committed heads (`src/classify/learned/heads.bin`).
    pub fn embedded() -> Result<Self, HeadsError> {
        Ok(Self::from_heads(Heads::from_bytes(EMBEDDED)?))
    }

    /// From heads in memory (the trainer measures what it will write).
    pub fn from_heads(heads: Heads) -> Self {
        Self {
            heads,
            vocabulary: fault::Vocabulary::new(),
            slang: decide::Slang::new(),
        }
    }

    /// The weights.
    pub fn heads(&self) -> &Heads {
        &self.heads
    }

    /// The fault vocabulary.
    pub fn vocabulary(&self) -> &fault::Vocabulary {
        &self.vocabulary
    }

    /// The fault kinds in `text`, and how each was named.
    pub fn faults(&self, text: &str) -> fault::FaultScan {
        self.vocabulary.scan_kinds(text)
    }

    /// The contract's phrases in `text` ([`decide::Slang`]): slang, news, replies and
    /// announcements on a brand's behalf.
    pub fn tilt(&self, text: &str) -> decide::Tilt {
        self.slang.found(text)
    }

    /// The reading `out` of a text after its contract phrases (`tilt`, from
    /// [`Learned::tilt`]): bad news tilts it towards negative, else positive slang or good
    /// news towards positive, each by [`decide::SLANG_TILT`], unless a fault is `named`
    /// ([`fault::FaultScan::named`]: a weak phrase does not count, so "this car is fire" is
    /// still slang).
    pub fn after_slang(&self, tilt: decide::Tilt, named: Faults, out: HeadsOut) -> HeadsOut {
        if tilt.down {
            out.tilted_negative(decide::SLANG_TILT)
        } else if named == 0 && tilt.up {
            out.tilted_positive(decide::SLANG_TILT)
        } else {
            out
        }
    }

    /// The first fault phrase of a kind in `mask` found in `text`, with its kind.
    pub fn first_fault<'t>(&self, text: &'t str, mask: Faults) -> Option<(Fault, &'t str)> {
        self.vocabulary.first(text, mask)
    }

    /// Finishes the scoring of `text`: `sum` holds the rows of the extractor's and cues'
    /// features; the extras are added here. Whether the text holds a Han character
    /// ([`has_han`]) picks the calibration offsets.
    pub fn finish(
        &self,
        mut sum: RowSum<'_>,
        text: &str,
        faults: Faults,
        flags: u16,
        question: bool,
        old_logit: f32,
    ) -> HeadsOut {
        let scare = scare_quoted(text);
        extra_features(faults, flags, question, old_logit, scare, |h| {
            sum.feature(h, 1.0)
        });
        let h = &self.heads;
        let offset = h.offsets(has_han(text));
        let norm = h.scale / (sum.count.max(1) as f32).sqrt();
        let z: [f32; COLUMNS] = std::array::from_fn(|k| {
            h.bias[k] + sum.sum[k] as f32 * norm + h.old_logit[k] * old_logit + offset[k]
        });
        let m = z[0].max(z[1]).max(z[2]);
        let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
        let t = e[0] + e[1] + e[2];
        let zi = &z[INTENT_COLUMNS];
        let mi = zi.iter().fold(f32::MIN, |a, &b| a.max(b));
        let ei: [f32; 5] = std::array::from_fn(|k| (zi[k] - mi).exp());
        let ti: f32 = ei.iter().sum();
        HeadsOut {
            sentiment: [e[0] / t, e[1] / t, e[2] / t],
            complaint: 1.0 / (1.0 + (-z[3]).exp()),
            intent: std::array::from_fn(|k| ei[k] / ti),
            crisis: 1.0 / (1.0 + (-z[CRISIS_COLUMN]).exp()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::sentiment::Sentiment;

    /// A text with a Han character is scored with the Chinese offsets, any other with the
    /// Latin ones.
    #[test]
    fn offsets_follow_the_script() {
        assert!(has_han("刹车失灵 brakes failed"));
        assert!(!has_han("brakes failed, ¡qué mal! 😡"));
        let s = Sentiment::embedded().expect("model");
        let shipped = Learned::embedded().expect("heads");
        let mut heads = shipped.heads().clone();
        heads.offset_latin = [0.0; COLUMNS];
        heads.offset_latin[1] = 40.0;
        let neutral_latin = Learned::from_heads(heads);
        let (en, zh) = ("awful car, the brakes failed again", "太差了，刹车又失灵了");
        assert_eq!(train::score(&shipped, &s, en).label(), Label::Negative);
        assert_eq!(train::score(&neutral_latin, &s, en).label(), Label::Neutral);
        assert_eq!(
            train::score(&neutral_latin, &s, zh),
            train::score(&shipped, &s, zh)
        );
    }
}
