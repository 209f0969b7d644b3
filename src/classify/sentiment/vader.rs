//! VADER's rules, ported from vaderSentiment 3.3.2 (Hutto & Gilbert, ICWSM 2014; MIT licence,
//! the lexicon and its licence are in `lexicon_en.tsv`): the compound score in -1..1 of an
//! English text, which the learned model takes as a feature.
//!
//! Ported faithfully, quirks included, so that the score is VADER's own: whitespace tokens with
//! ASCII punctuation stripped (unless that leaves two characters or fewer, which keeps
//! emoticons); lexicon valences; boosters and dampeners up to three words back (×0.95, ×0.9);
//! ALL-CAPS emphasis when only some words are in capitals; negation up to three words back
//! (×−0.74), "no" before a word, "never so/this" (×1.25), "without doubt"; "least"; the special
//! idioms ("the bomb", "yeah right", "kiss of death", …); "but" (what precedes ×0.5, what follows
//! ×1.5, with VADER's first-equal-value indexing); `!` (up to 4 × 0.292) and `??`+ amplifiers;
//! normalisation `x / √(x² + 15)`. One difference: VADER first replaces each emoji by its
//! English description (a 3,500-line table); this port leaves emoji to herald's cue table
//! (`cues.rs`), which gives them fixed priors.
//!
//! Pure and allocation-free per text (tokens are kept in a fixed array of at most
//! [`MAX_TOKENS`]; the rest of a longer text is not scored). Must not know about the learned
//! model.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

/// Tokens scored per text. A 200-character mention has about 40 and a 280-character tweet at
/// most 140; a longer text is scored on its first `MAX_TOKENS` tokens (punctuation amplifiers
/// still count the whole text).
pub const MAX_TOKENS: usize = 160;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// VADER's SPECIAL_CASES. The one-word entries ("badass") can never equal the two- and
/// three-word sequences VADER compares them with, so they are left out.
const SPECIAL_CASES: &[(&[&str], f64)] = &[
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];
/// The booster entries of more than one word, as word sequences.
const BOOSTER_PHRASES: &[(&[&str], f64)] = &[
    (&["just", "enough"], B_DECR),
    (&["kind", "of"], B_DECR),
    (&["sort", "of"], B_DECR),
];

/// FNV-1a over bytes: the key of a word in the tables (the same on every build).
const fn fnv_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

const fn key(s: &str) -> u64 {
    fnv_bytes(FNV0, s.as_bytes())
}

/// The key of a token that no table holds.
const NO_KEY: u64 = 0;

/// The key of `token` lowercased as Python's `str.lower` does (per character, Unicode). Every
/// key VADER can match is ASCII (its two non-ASCII entries, ":Þ" and ":-Þ", have a capital and
/// so never match a lowercased token), and the only non-ASCII character that lowercases to
/// ASCII is the Kelvin sign: any other token gets [`NO_KEY`] without lowercasing it (Chinese
/// text is mostly such tokens, and Unicode case tables are not free).
fn lower_key(token: &str) -> u64 {
    if !token.is_ascii() && !token.chars().all(|c| c.is_ascii() || c == '\u{212A}') {
        return NO_KEY;
    }
    if token.is_ascii() {
        let mut h = FNV0;
        for &b in token.as_bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        return h;
    }
    let mut h = FNV0;
    let mut buf = [0u8; 4];
    for c in token.chars().flat_map(char::to_lowercase) {
        h = fnv_bytes(h, c.encode_utf8(&mut buf).as_bytes());
    }
    h
}

const K_NO: u64 = key("no");
const K_OR: u64 = key("or");
const K_NOR: u64 = key("nor");
const K_KIND: u64 = key("kind");
const K_OF: u64 = key("of");
const K_NEVER: u64 = key("never");
const K_SO: u64 = key("so");
const K_THIS: u64 = key("this");
const K_WITHOUT: u64 = key("without");
const K_DOUBT: u64 = key("doubt");
const K_LEAST: u64 = key("least");
const K_AT: u64 = key("at");
const K_VERY: u64 = key("very");
const K_BUT: u64 = key("but");

/// The table's keys are already hashes: pass them through.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv_bytes(self.0 ^ FNV0, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// One token of the text.
#[derive(Debug, Clone, Copy, Default)]
struct Token {
    /// [`lower_key`] of the text.
    low: u64,
    /// Python's `str.isupper()`.
    upper: bool,
    /// The text holds "n't" (any case), which VADER counts as a negation.
    nt: bool,
}

/// The compiled rule tables.
#[derive(Clone)]
pub struct Vader {
    /// Valence by the key of the entry as written (VADER looks up the lowercased token, so an
    /// entry with a capital, such as ":D", never matches: kept so).
    lexicon: KeyMap<f64>,
    boosters: KeyMap<f64>,
    negate: KeyMap<()>,
}

impl std::fmt::Debug for Vader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vader")
            .field("lexicon", &self.lexicon.len())
            .finish_non_exhaustive()
    }
}

/// Python's `str.isupper()`: at least one cased character, and no lowercase one.
fn is_upper(s: &str) -> bool {
    let mut upper = false;
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_lowercase() {
                return false;
            }
            upper |= c.is_ascii_uppercase();
            continue;
        }
        // Han, kana and CJK punctuation have no case: skip the table look-ups.
        if ('\u{2E80}'..='\u{9FFF}').contains(&c) {
            continue;
        }
        if c.is_lowercase() {
            return false;
        }
        upper |= c.is_uppercase();
    }
    upper
}

/// VADER's `_strip_punc_if_word`: strip `string.punctuation` from both ends unless two
/// characters or fewer would be left.
fn strip_punct(token: &str) -> &str {
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

impl Vader {
    /// Builds the tables from `word<TAB>valence` lines (`#` starts a comment line).
    pub fn new(lexicon_tsv: &str) -> Self {
        let mut lexicon = KeyMap::default();
        for line in lexicon_tsv.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            if let (Some(w), Some(v)) = (cols.next(), cols.next()) {
                if let Ok(v) = v.trim().parse::<f64>() {
                    lexicon.insert(key(w), v);
                }
            }
        }
        Self {
            lexicon,
            boosters: BOOSTERS.iter().map(|&(w, v)| (key(w), v)).collect(),
            negate: NEGATE.iter().map(|&w| (key(w), ())).collect(),
        }
    }

    fn in_lexicon(&self, t: &Token) -> bool {
        self.in_lexicon_key(t.low)
    }

    fn in_lexicon_key(&self, low: u64) -> bool {
        low != NO_KEY && self.lexicon.contains_key(&low)
    }

    /// VADER's `negated([word])` for one word.
    fn negated(&self, t: &Token) -> bool {
        t.nt || self.negate.contains_key(&t.low)
    }

    fn scalar_inc_dec(&self, t: &Token, valence: f64, cap_diff: bool) -> f64 {
        let Some(&b) = self.boosters.get(&t.low) else {
            return 0.0;
        };
        let mut scalar = if valence < 0.0 { -b } else { b };
        if t.upper && cap_diff {
            scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        scalar
    }

    /// The compound score of `text` in -1..1, as `SentimentIntensityAnalyzer.polarity_scores`
    /// gives it (rounded to 4 decimals, as VADER rounds).
    pub fn compound(&self, text: &str) -> f32 {
        self.score(text).unwrap_or(0.0)
    }

    /// The compound score, or `None` when no token of the text is in the lexicon (VADER then
    /// says 0, which for a Chinese text means nothing at all).
    pub fn score(&self, text: &str) -> Option<f32> {
        // Most texts of a Chinese brand's mentions have no lexicon word at all: find out before
        // filling the token table.
        let words = || text.split_whitespace().take(MAX_TOKENS).map(strip_punct);
        if !words().any(|t| self.in_lexicon_key(lower_key(t))) {
            return None;
        }
        let mut tokens = [Token::default(); MAX_TOKENS];
        let mut n = 0;
        let mut caps = 0;
        for t in words() {
            let upper = is_upper(t);
            caps += usize::from(upper);
            tokens[n] = Token {
                low: lower_key(t),
                upper,
                nt: t
                    .as_bytes()
                    .windows(3)
                    .any(|w| w.eq_ignore_ascii_case(b"n't")),
            };
            n += 1;
        }
        let tokens = &tokens[..n];
        let cap_diff = caps > 0 && caps < n;
        let mut sentiments = [0f64; MAX_TOKENS];
        let sentiments = &mut sentiments[..n];
        for (i, s) in sentiments.iter_mut().enumerate() {
            *s = self.valence(tokens, i, cap_diff);
        }
        but_check(tokens, sentiments);
        let mut sum: f64 = sentiments.iter().sum();
        let bangs = text.bytes().filter(|&b| b == b'!').count().min(4);
        let questions = text.bytes().filter(|&b| b == b'?').count();
        let qm = match questions {
            0 | 1 => 0.0,
            2 | 3 => questions as f64 * 0.18,
            _ => 0.96,
        };
        let amplifier = bangs as f64 * 0.292 + qm;
        if sum > 0.0 {
            sum += amplifier;
        } else if sum < 0.0 {
            sum -= amplifier;
        }
        Some(((normalize(sum) * 1e4).round() / 1e4) as f32)
    }

    /// VADER's `sentiment_valence` of token `i` (0 for boosters and for "kind" before "of").
    fn valence(&self, tokens: &[Token], i: usize, cap_diff: bool) -> f64 {
        let n = tokens.len();
        let item = &tokens[i];
        if self.boosters.contains_key(&item.low)
            || (i + 1 < n && item.low == K_KIND && tokens[i + 1].low == K_OF)
        {
            return 0.0;
        }
        let Some(&base) = self.lexicon.get(&item.low) else {
            return 0.0;
        };
        let low = |j: usize| tokens[j].low;
        let mut valence = base;
        if item.low == K_NO && i + 1 < n && self.in_lexicon(&tokens[i + 1]) {
            valence = 0.0;
        }
        if (i > 0 && low(i - 1) == K_NO)
            || (i > 1 && low(i - 2) == K_NO)
            || (i > 2 && low(i - 3) == K_NO && (low(i - 1) == K_OR || low(i - 1) == K_NOR))
        {
            valence = base * N_SCALAR;
        }
        if item.upper && cap_diff {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start in 0..3 {
            if i > start && !self.in_lexicon(&tokens[i - (start + 1)]) {
                let mut s = self.scalar_inc_dec(&tokens[i - (start + 1)], valence, cap_diff);
                if start == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = self.negation_check(valence, tokens, start, i);
                if start == 2 {
                    valence = special_idioms(valence, tokens, i);
                }
            }
        }
        self.least_check(valence, tokens, i)
    }

    fn negation_check(&self, valence: f64, tokens: &[Token], start: usize, i: usize) -> f64 {
        let low = |j: usize| tokens[j].low;
        match start {
            0 if self.negated(&tokens[i - 1]) => valence * N_SCALAR,
            1 => {
                if low(i - 2) == K_NEVER && (low(i - 1) == K_SO || low(i - 1) == K_THIS) {
                    valence * 1.25
                } else if low(i - 2) == K_WITHOUT && low(i - 1) == K_DOUBT {
                    valence
                } else if self.negated(&tokens[i - 2]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            2 => {
                if (low(i - 3) == K_NEVER && (low(i - 2) == K_SO || low(i - 2) == K_THIS))
                    || (low(i - 1) == K_SO || low(i - 1) == K_THIS)
                {
                    valence * 1.25
                } else if low(i - 3) == K_WITHOUT
                    && (low(i - 2) == K_DOUBT || low(i - 1) == K_DOUBT)
                {
                    valence
                } else if self.negated(&tokens[i - 3]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            _ => valence,
        }
    }

    fn least_check(&self, valence: f64, tokens: &[Token], i: usize) -> f64 {
        let prev_is_least =
            |i: usize| i > 0 && !self.in_lexicon(&tokens[i - 1]) && tokens[i - 1].low == K_LEAST;
        if i > 1 && prev_is_least(i) {
            if tokens[i - 2].low != K_AT && tokens[i - 2].low != K_VERY {
                return valence * N_SCALAR;
            }
            valence
        } else if prev_is_least(i) {
            valence * N_SCALAR
        } else {
            valence
        }
    }
}

/// Whether the tokens `tokens[at..]` start with the words of `phrase` (lowercased).
fn seq_is(tokens: &[Token], at: &[usize], phrase: &[&str]) -> bool {
    at.len() == phrase.len() && at.iter().zip(phrase).all(|(&j, w)| tokens[j].low == key(w))
}

/// VADER's `_special_idioms_check` (called with `i >= 3`).
fn special_idioms(mut valence: f64, tokens: &[Token], i: usize) -> f64 {
    let n = tokens.len();
    let onezero = [i - 1, i];
    let twoonezero = [i - 2, i - 1, i];
    let twoone = [i - 2, i - 1];
    let threetwoone = [i - 3, i - 2, i - 1];
    let threetwo = [i - 3, i - 2];
    let sequences: [&[usize]; 5] = [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo];
    'found: for seq in sequences {
        for (phrase, v) in SPECIAL_CASES {
            if seq_is(tokens, seq, phrase) {
                valence = *v;
                break 'found;
            }
        }
    }
    if n - 1 > i {
        for (phrase, v) in SPECIAL_CASES {
            if seq_is(tokens, &[i, i + 1], phrase) {
                valence = *v;
            }
        }
    }
    if n - 1 > i + 1 {
        for (phrase, v) in SPECIAL_CASES {
            if seq_is(tokens, &[i, i + 1, i + 2], phrase) {
                valence = *v;
            }
        }
    }
    for seq in [&threetwoone[..], &threetwo[..], &twoone[..]] {
        for (phrase, v) in BOOSTER_PHRASES {
            if seq_is(tokens, seq, phrase) {
                valence += v;
            }
        }
    }
    valence
}

/// VADER's `_but_check`, quirk included: each value is located by the first index holding an
/// equal value, so an earlier equal value may be scaled in its place.
fn but_check(tokens: &[Token], sentiments: &mut [f64]) {
    let Some(bi) = tokens.iter().position(|t| t.low == K_BUT) else {
        return;
    };
    for k in 0..sentiments.len() {
        let v = sentiments[k];
        let si = sentiments.iter().position(|&x| x == v).unwrap_or(k);
        if si < bi {
            sentiments[si] = v * 0.5;
        } else if si > bi {
            sentiments[si] = v * 1.5;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compound scores printed by vaderSentiment 3.3.2 (`polarity_scores(text)["compound"]`) for
    /// the example sentences of its own source and for sentences written for this test, one per
    /// rule. Regenerate with benches/compare_sentiment.py's `--vader-golden`.
    const GOLDEN: &str = include_str!("../../../tests/fixtures/sentiment_vader_golden.tsv");

    #[test]
    fn same_compound_as_vader_sentiment() {
        let v = Vader::new(super::super::LEXICON_EN);
        let mut n = 0;
        for line in GOLDEN
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (want, text) = line.split_once('\t').expect("compound<TAB>text");
            let want: f32 = want.parse().expect("a number");
            let got = v.compound(text);
            assert!(
                (got - want).abs() < 2e-4,
                "{text:?}: got {got}, VADER {want}"
            );
            n += 1;
        }
        assert!(n >= 40, "{n} golden lines");
    }

    #[test]
    fn rules_move_the_score_the_right_way() {
        let v = Vader::new(super::super::LEXICON_EN);
        let c = |t: &str| v.compound(t);
        assert!(c("good") > 0.0 && c("not good") < 0.0);
        assert!(c("very good") > c("good"));
        assert!(c("good!!!") > c("good"));
        // "kind of" dampens only three words back or more, as in VADER.
        assert!(c("the book was only kind of good") < c("the book was good"));
        assert!(c("the food is GOOD, the rest ok") > c("the food is good, the rest ok"));
        assert!(c("it was bad but the staff were great") > 0.0);
        assert_eq!(c(""), 0.0);
        assert_eq!(c("这个车很好"), 0.0);
        assert_eq!(v.score("这个车很好"), None);
        assert_eq!(c("这个车很好 good"), c("good"));
    }
}
