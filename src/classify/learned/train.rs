//! Training the learned heads: multinomial logistic regressions (negative / neutral /
//! positive; the five intents) and logistic regressions (complaint or not; crisis or not)
//! sharing one hashed feature table,
//! by AdaGrad with L2, one example at a time in an order shuffled by a fixed seed: the same
//! samples and settings give the same weights, bit for bit.
//!
//! An example may carry any of the four labels; each head learns from the examples that have
//! its label. Pure: the program (`herald-train-heads`) reads the data
//! (see [`super::data`]) and writes the weights.

use super::super::intent::Intent;
use super::super::phrases;
use super::super::sentiment::features::{bucket, Sink};
use super::super::sentiment::{Label, Sentiment};
use super::fault::Vocabulary;
use super::model::{Heads, COLUMNS, CRISIS_COLUMN, INTENT_COLUMNS, INTENT_ORDER};
use super::{extra_features, HeadsOut, Learned};

/// One training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The text.
    pub text: String,
    /// Its sentiment, when known.
    pub sentiment: Option<Label>,
    /// Whether it is a complaint, when known.
    pub complaint: Option<bool>,
    /// Its intent, when known.
    pub intent: Option<Intent>,
    /// Whether it is a crisis, when known.
    pub crisis: Option<bool>,
    /// How much it counts.
    pub weight: f32,
}

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadsConfig {
    /// log2 of the number of rows.
    pub bits: u32,
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad's base rate.
    pub learning_rate: f32,
    /// L2 penalty on touched weights.
    pub l2: f32,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for HeadsConfig {
    fn default() -> Self {
        Self {
            bits: 18,
            epochs: 5,
            learning_rate: 0.1,
            l2: 1e-6,
            seed: 0x4EAD_5EED_2026_1206,
        }
    }
}

/// A sample turned into bucket indices once.
#[derive(Debug, Clone)]
pub struct Doc {
    features: Vec<(u32, f32)>,
    norm: f32,
    old: f32,
    sentiment: Option<u8>,
    complaint: Option<bool>,
    intent: Option<u8>,
    crisis: Option<bool>,
    weight: f32,
}

struct Collect<'a> {
    out: &'a mut Vec<(u32, f32)>,
    bits: u32,
}

impl Sink for Collect<'_> {
    fn feature(&mut self, hash: u64, value: f32) {
        self.out.push((bucket(hash, self.bits) as u32, value));
    }
}

/// The binary model's logit as the heads see it (clamped: a few texts reach ±20).
pub fn clamp_old(logit: f32) -> f32 {
    logit.clamp(-8.0, 8.0)
}

/// Extracts features exactly as the classifier does.
#[derive(Debug, Clone)]
pub struct Featuriser {
    sentiment: Sentiment,
    vocabulary: Vocabulary,
}

impl Featuriser {
    /// With the embedded binary sentiment model.
    pub fn new(sentiment: Sentiment) -> Self {
        Self {
            sentiment,
            vocabulary: Vocabulary::new(),
        }
    }

    /// The training form of a sample.
    pub fn doc(&self, s: &Sample, bits: u32) -> Doc {
        let mut features = Vec::new();
        let hits = self.sentiment.cues().scan(&s.text);
        let (logit, _, question) = self.sentiment.logit_with_cues_and(
            &s.text,
            hits,
            Collect {
                out: &mut features,
                bits,
            },
        );
        let old = clamp_old(logit.total());
        let faults = self.vocabulary.scan(&s.text);
        let flags = phrases::scan(&s.text);
        extra_features(
            faults,
            flags,
            question,
            old,
            super::scare_quoted(&s.text),
            |h| {
                features.push((bucket(h, bits) as u32, 1.0));
            },
        );
        let n = features.len();
        Doc {
            norm: 1.0 / (n.max(1) as f32).sqrt(),
            features,
            old,
            sentiment: s.sentiment.map(|l| match l {
                Label::Negative => 0,
                Label::Neutral => 1,
                Label::Positive => 2,
            }),
            complaint: s.complaint,
            intent: s
                .intent
                .and_then(|i| INTENT_ORDER.iter().position(|&o| o == i))
                .map(|k| k as u8),
            crisis: s.crisis,
            weight: s.weight,
        }
    }
}

/// The learner's state.
pub struct HeadsTrainer {
    cfg: HeadsConfig,
    weights: Vec<f32>,
    grad2: Vec<f32>,
    bias: [f32; COLUMNS],
    bias_g2: [f32; COLUMNS],
    old: [f32; COLUMNS],
    old_g2: [f32; COLUMNS],
    rng: crate::rng::Rng,
}

fn adagrad(w: &mut f32, g2: &mut f32, g: f32, lr: f32) {
    *g2 += g * g;
    *w -= lr * g / (g2.sqrt() + 1e-6);
}

impl HeadsTrainer {
    /// A zero model.
    pub fn new(cfg: HeadsConfig) -> Self {
        let n = (1usize << cfg.bits) * COLUMNS;
        let rng = crate::rng::Rng::new(cfg.seed);
        Self {
            cfg,
            weights: vec![0.0; n],
            grad2: vec![0.0; n],
            bias: [0.0; COLUMNS],
            bias_g2: [0.0; COLUMNS],
            old: [0.0; COLUMNS],
            old_g2: [0.0; COLUMNS],
            rng,
        }
    }

    fn logits(&self, d: &Doc) -> [f32; COLUMNS] {
        let mut z = [0f32; COLUMNS];
        for &(i, v) in &d.features {
            let r = i as usize * COLUMNS;
            for (k, zk) in z.iter_mut().enumerate() {
                *zk += self.weights[r + k] * v;
            }
        }
        std::array::from_fn(|k| self.bias[k] + z[k] * d.norm + self.old[k] * d.old)
    }

    /// One pass in a fresh shuffled order; returns the mean loss.
    pub fn epoch(&mut self, docs: &[Doc]) -> f64 {
        let mut order: Vec<usize> = (0..docs.len()).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.below(i + 1);
            order.swap(i, j);
        }
        let (lr, l2) = (self.cfg.learning_rate, self.cfg.l2);
        let mut loss = 0f64;
        for &k in &order {
            let d = &docs[k];
            let z = self.logits(d);
            let mut g = [0f32; COLUMNS];
            if let Some(y) = d.sentiment {
                let m = z[0].max(z[1]).max(z[2]);
                let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
                let t = e[0] + e[1] + e[2];
                for c in 0..3 {
                    let p = e[c] / t;
                    let target = if c == usize::from(y) { 1.0 } else { 0.0 };
                    g[c] = d.weight * (p - target);
                    if target > 0.0 {
                        loss -= f64::from(d.weight * p.max(1e-7).ln());
                    }
                }
            }
            for (column, y) in [(3, d.complaint), (CRISIS_COLUMN, d.crisis)] {
                let Some(y) = y else { continue };
                let p = 1.0 / (1.0 + (-z[column]).exp());
                let target = if y { 1.0 } else { 0.0 };
                g[column] = d.weight * (p - target);
                loss -= f64::from(
                    d.weight
                        * (target * p.max(1e-7).ln() + (1.0 - target) * (1.0 - p).max(1e-7).ln()),
                );
            }
            if let Some(y) = d.intent {
                let zi = &z[INTENT_COLUMNS];
                let m = zi.iter().fold(f32::MIN, |a, &b| a.max(b));
                let e: Vec<f32> = zi.iter().map(|v| (v - m).exp()).collect();
                let t: f32 = e.iter().sum();
                for (c, ec) in e.iter().enumerate() {
                    let p = ec / t;
                    let target = if c == usize::from(y) { 1.0 } else { 0.0 };
                    g[INTENT_COLUMNS.start + c] = d.weight * (p - target);
                    if target > 0.0 {
                        loss -= f64::from(d.weight * p.max(1e-7).ln());
                    }
                }
            }
            for &(i, v) in &d.features {
                let r = i as usize * COLUMNS;
                for (c, &gc) in g.iter().enumerate() {
                    if gc == 0.0 {
                        continue;
                    }
                    let w = &mut self.weights[r + c];
                    let gi = gc * v * d.norm + l2 * *w;
                    adagrad(w, &mut self.grad2[r + c], gi, lr);
                }
            }
            for (c, &gc) in g.iter().enumerate() {
                if gc != 0.0 {
                    adagrad(&mut self.bias[c], &mut self.bias_g2[c], gc, lr);
                    adagrad(&mut self.old[c], &mut self.old_g2[c], gc * d.old, lr * 0.1);
                }
            }
        }
        loss / docs.len().max(1) as f64
    }

    /// The quantised heads with the given calibration offsets.
    pub fn heads(&self, offset: [f32; COLUMNS]) -> Heads {
        Heads::quantise(&self.weights, self.bias, self.old, offset)
    }
}

/// Trains on `samples` and returns the heads (offsets zero).
pub fn train(samples: &[Sample], featuriser: &Featuriser, cfg: &HeadsConfig) -> Heads {
    let docs: Vec<Doc> = samples
        .iter()
        .map(|s| featuriser.doc(s, cfg.bits))
        .collect();
    let mut t = HeadsTrainer::new(cfg.clone());
    for _ in 0..cfg.epochs {
        t.epoch(&docs);
    }
    t.heads([0.0; COLUMNS])
}

/// The sentiment offsets (neutral, positive; negative stays 0) on a grid of 0.1 in −3..3 that
/// maximise the mean of accuracy and macro-F1 of `(heads output, gold)` pairs scored with zero
/// offsets.
pub fn calibrate_offsets(scored: &[(HeadsOut, Label)]) -> [f32; 2] {
    let mut best = (f64::MIN, [0.0, 0.0]);
    for a in -30..=30 {
        for b in -30..=30 {
            let (oz, op) = (a as f32 * 0.1, b as f32 * 0.1);
            let pairs: Vec<(Label, Label)> = scored
                .iter()
                .map(|(h, g)| {
                    let [n, z, p] = h.sentiment;
                    let (z, p) = (z.ln() + oz, p.ln() + op);
                    let n = n.ln();
                    let l = if n >= z && n >= p {
                        Label::Negative
                    } else if p >= z {
                        Label::Positive
                    } else {
                        Label::Neutral
                    };
                    (l, *g)
                })
                .collect();
            let f = super::eval::class_figures(&pairs, &super::eval::LABELS);
            let objective = (f.accuracy + f.macro_f1) / 2.0;
            if objective > best.0 + 1e-12 {
                best = (objective, [oz, op]);
            }
        }
    }
    best.1
}

/// The heads' output for a text (what [`super::super::Classifier`] computes in its pass).
pub fn score(learned: &Learned, sentiment: &Sentiment, text: &str) -> HeadsOut {
    let hits = sentiment.cues().scan(text);
    let (logit, sum, question) =
        sentiment.logit_with_cues_and(text, hits, super::RowSum::new(learned.heads()));
    let scan = learned.faults(text);
    let out = learned.finish(
        sum,
        text,
        scan.faults(),
        phrases::scan(text),
        question,
        clamp_old(logit.total()),
    );
    learned.after_slang(learned.tilt(text), scan.named(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<Sample> {
        let mut v = Vec::new();
        for (t, l, c) in [
            ("很好，非常满意", Label::Positive, Some(false)),
            ("太差了，刹车失灵，投诉", Label::Negative, Some(true)),
            ("今天发布新车", Label::Neutral, Some(false)),
            ("great car, love it", Label::Positive, None),
            ("awful service, broke again", Label::Negative, Some(true)),
            ("the launch is on monday", Label::Neutral, None),
        ] {
            v.push(Sample {
                text: t.into(),
                sentiment: Some(l),
                complaint: c,
                intent: None,
                crisis: None,
                weight: 1.0,
            });
        }
        v
    }

    /// Same seed and samples give the same weights, bit for bit; another seed other weights;
    /// and the tiny set is learned.
    #[test]
    fn training_is_deterministic_and_learns() {
        let f = Featuriser::new(Sentiment::embedded().expect("model"));
        let cfg = HeadsConfig {
            bits: 12,
            epochs: 20,
            ..HeadsConfig::default()
        };
        let a = train(&tiny(), &f, &cfg);
        let b = train(&tiny(), &f, &cfg);
        assert_eq!(a.to_bytes(), b.to_bytes());
        let c = train(
            &tiny(),
            &f,
            &HeadsConfig {
                seed: 7,
                ..cfg.clone()
            },
        );
        assert_ne!(a.to_bytes(), c.to_bytes());
        let learned = Learned::from_heads(a);
        let s = Sentiment::embedded().expect("model");
        for sample in tiny() {
            let out = score(&learned, &s, &sample.text);
            assert_eq!(Some(out.label()), sample.sentiment, "{}", sample.text);
        }
    }
}
