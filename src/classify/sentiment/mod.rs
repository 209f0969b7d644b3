//! Sentiment of a mention: `negative | neutral | positive` with a score in -1..1, for Chinese,
//! English and text that mixes them.
//!
//! ```text
//! text ──► cues (Aho-Corasick: emoji, emoticons, sarcasm) ──► prior logit + cue features ─┐
//!      └─► features (char 1–3-grams, word 1–2-grams, negation scopes, emoji, punctuation) ─┴─►
//!          hashed buckets ──► Σ weight / √n  (× damp for questions) + bias + prior ──► logit
//!      └─► VADER's rules (vader.rs) ──► compound score and its bin, two more weighted features ─┘
//! score = tanh(logit / 2) = 2·P(positive) − 1;   |score| < neutral threshold ⇒ neutral
//! ```
//!
//! The model is a logistic regression over 2^`bits` hashed features, trained by
//! [`train`] (called by the `herald-train-sentiment` program on the public data sets) and
//! shipped as `model.bin`, loaded by [`Sentiment::embedded`]. Classification is pure and
//! allocation-free: text in, [`Scored`] out. This module must not do IO at inference time nor
//! learn anything at run time.

pub mod cues;
pub mod features;
pub mod model;
pub mod train;
pub mod vader;

use serde::{Deserialize, Serialize};

use cues::{CueHits, Cues};
use features::{bucket, cue_hash, vader_bin_hash, Extractor, Sink, LEXICON_HASHES, VADER_HASH};
pub use model::{Model, ModelError};
use vader::Vader;

/// The weights trained by `herald-train-sentiment`, committed with the code.
const EMBEDDED: &[u8] = include_bytes!("model.bin");

/// English word valences (see the file's header for where they come from).
pub(crate) const LEXICON_EN: &str = include_str!("lexicon_en.tsv");

/// The extractor the model is trained and run with.
pub(crate) fn standard_extractor() -> Extractor {
    Extractor::with_lexicon(features::Lexicon::parse(LEXICON_EN))
}

/// A sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// A complaint, anger, disappointment, sarcasm.
    Negative,
    /// A question, an announcement, or too little to tell.
    Neutral,
    /// Praise, thanks, satisfaction.
    Positive,
}

impl Label {
    /// The lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

/// The classifier's answer for one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The label.
    pub label: Label,
    /// -1 (surely negative) .. 1 (surely positive); `2·P(positive) − 1` under the model.
    pub score: f32,
}

/// The parts of a text's logit, for explaining a score and for the benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logit {
    /// Number of hashed features (0 for an empty text).
    pub features: u32,
    /// The learned part, after length normalisation and question damping.
    pub learned: f32,
    /// The sum of the fixed cue priors.
    pub prior: f32,
    /// The intercept.
    pub bias: f32,
    /// Whether a sarcasm marker was found.
    pub sarcasm: bool,
    /// VADER's compound score of the text (one of the model's inputs).
    pub vader: f32,
}

impl Logit {
    /// The total logit.
    pub fn total(&self) -> f32 {
        self.bias + self.learned + self.prior
    }
}

/// A trained sentiment classifier. Build once (about a millisecond for the embedded model), share
/// by reference: `classify` takes `&self`.
#[derive(Debug, Clone)]
pub struct Sentiment {
    model: Model,
    extractor: Extractor,
    cues: Cues,
    vader: Vader,
}

/// Sums the weights of the features of one text as they come: the loads of the weight table
/// are independent of each other, so the processor overlaps their cache misses with the
/// extraction's work. Features inside a negation scope (value [`features::FLIP`]) are summed
/// apart and subtracted at the end, so a feature costs a bucket, a load and an add.
///
/// Every feature is also handed to `also` (the learned heads score the same features in the
/// same pass; [`NoSink`] when nothing else listens).
struct Dot<'a, S> {
    weights: &'a [i16],
    bits: u32,
    plus: i64,
    minus: i64,
    also: S,
}

/// A sink that drops every feature.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSink;

impl Sink for NoSink {
    #[inline(always)]
    fn feature(&mut self, _hash: u64, _value: f32) {}
}

const _: () = assert!(features::FLIP == -1.0);

impl<S> Dot<'_, S> {
    fn total(&self) -> i64 {
        self.plus - self.minus
    }
}

impl<S: Sink> Sink for Dot<'_, S> {
    #[inline(always)]
    fn feature(&mut self, hash: u64, value: f32) {
        // `bucket` < 2^bits = weights.len(), checked when the model was loaded.
        let w = i64::from(self.weights[bucket(hash, self.bits)]);
        if value < 0.0 {
            self.minus += w;
        } else {
            self.plus += w;
        }
        self.also.feature(hash, value);
    }
}

impl Sentiment {
    /// The classifier with the committed weights (`src/classify/sentiment/model.bin`).
    pub fn embedded() -> Result<Self, ModelError> {
        Self::from_bytes(EMBEDDED)
    }

    /// A classifier from the bytes of a weights file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Ok(Self::from_model(Model::from_bytes(bytes)?))
    }

    /// A classifier from a model in memory (the training program evaluates what it will write).
    pub fn from_model(model: Model) -> Self {
        Self {
            model,
            extractor: standard_extractor(),
            cues: Cues::new(),
            vader: Vader::new(LEXICON_EN),
        }
    }

    /// The model's numbers.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The feature extractor this classifier uses (for the benchmark's breakdown).
    pub fn extractor(&self) -> &Extractor {
        &self.extractor
    }

    /// VADER's rules as this classifier runs them (for the benchmark's breakdown).
    pub fn vader(&self) -> &Vader {
        &self.vader
    }

    /// The cue table this classifier uses (for the benchmark's breakdown).
    pub fn cues(&self) -> &Cues {
        &self.cues
    }

    /// Classifies one text.
    pub fn classify(&self, text: &str) -> Scored {
        self.classify_with_cues(text, self.cues.scan(text))
    }

    /// Classifies one text whose cues were found already (by a pipeline that finds the cue
    /// patterns together with other literals: see [`cues::CueScan`]).
    pub fn classify_with_cues(&self, text: &str, hits: CueHits) -> Scored {
        let logit = self.logit_with_cues(text, hits);
        if logit.features == 0 && logit.prior == 0.0 && logit.learned == 0.0 {
            return Scored {
                label: Label::Neutral,
                score: 0.0,
            };
        }
        let score = (logit.total() / 2.0).tanh();
        Scored {
            label: self.label_for(score),
            score,
        }
    }

    /// The label for a score under this model's neutral threshold.
    pub fn label_for(&self, score: f32) -> Label {
        if score >= self.model.neutral {
            Label::Positive
        } else if score <= -self.model.neutral {
            Label::Negative
        } else {
            Label::Neutral
        }
    }

    /// The parts of the logit of `text`.
    pub fn logit(&self, text: &str) -> Logit {
        self.logit_with_cues(text, self.cues.scan(text))
    }

    /// The parts of the logit of `text`, whose cues were found already.
    pub fn logit_with_cues(&self, text: &str, hits: CueHits) -> Logit {
        self.logit_with_cues_and(text, hits, NoSink).0
    }

    /// [`Sentiment::logit_with_cues`], handing every hashed feature (the extractor's and the
    /// cues') to `also` as well, and whether the text asks a question.
    pub fn logit_with_cues_and<S: Sink>(
        &self,
        text: &str,
        hits: CueHits,
        also: S,
    ) -> (Logit, S, bool) {
        let dot = Dot {
            weights: &self.model.weights,
            bits: self.model.bits,
            plus: 0,
            minus: 0,
            also,
        };
        let (summary, mut dot) = self.extractor.extract_into(text, dot);
        let mut count = summary.count;
        for i in hits.indices() {
            dot.feature(cue_hash(i), 1.0);
            count += 1;
        }
        let damp = if summary.question {
            self.model.question_damp
        } else {
            1.0
        };
        let sparse = if count == 0 {
            0.0
        } else {
            dot.total() as f32 / (count as f32).sqrt()
        };
        let w = |h| f32::from(self.model.weights[bucket(h, self.model.bits)]);
        let vader = self.vader.score(text);
        let dense = w(LEXICON_HASHES[0]) * summary.lexicon
            + w(LEXICON_HASHES[1]) * summary.lexicon_negated
            + vader.map_or(0.0, |v| w(VADER_HASH) * v + w(vader_bin_hash(v)));
        let mut learned = (sparse + dense) * self.model.scale * damp;
        // Under a sarcasm marker the literal praise is the complaint ("love waiting 🙄", "great
        // service /s", "真行啊，呵呵"), so positive evidence from the words counts against the
        // text. Only at inference: the training data (2014 tweets, reviews where 呵呵 is a
        // friendly laugh) has too few sarcastic texts to learn it, and flipping during training
        // would only distort the weights of the friendly ones.
        if hits.sarcasm && learned > 0.0 {
            learned = -learned;
        }
        let logit = Logit {
            features: count,
            learned,
            prior: hits.prior,
            bias: self.model.bias,
            sarcasm: hits.sarcasm,
            vader: vader.unwrap_or(0.0),
        };
        (logit, dot.also, summary.question)
    }
}

#[cfg(test)]
mod tests;
