//! Measuring classifiers on labelled data: accuracy, macro-F1 and per-class recall for
//! sentiment and intent, lead accuracy, crisis recall and precision, complaint recall and
//! precision. Pure: predictions and gold labels in, figures out; the
//! `herald-eval-classify` program reads the files and prints the table.

use super::super::intent::Intent;
use super::super::lead::Grade;
use super::super::sentiment::Label;
use super::data::MentionGold;

/// The sentiment labels in table order.
pub const LABELS: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];
/// The intents in table order.
pub const INTENTS: [Intent; 5] = [
    Intent::Complaint,
    Intent::Question,
    Intent::Purchase,
    Intent::Praise,
    Intent::Other,
];

/// Accuracy, macro-F1 and per-class recall and F1 of `(predicted, gold)` pairs over `classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFigures {
    /// Number of pairs.
    pub n: usize,
    /// Share predicted right.
    pub accuracy: f64,
    /// Mean F1 over the classes that occur in gold or prediction.
    pub macro_f1: f64,
    /// Recall of each class (`None` when the gold has none).
    pub recall: Vec<Option<f64>>,
    /// F1 of each class (`None` when neither gold nor prediction has it).
    pub f1: Vec<Option<f64>>,
}

/// The figures of `(predicted, gold)` pairs over `classes`.
pub fn class_figures<T: PartialEq + Copy>(pairs: &[(T, T)], classes: &[T]) -> ClassFigures {
    let n = pairs.len();
    let right = pairs.iter().filter(|(p, g)| p == g).count();
    let mut recall = Vec::new();
    let mut f1 = Vec::new();
    for &c in classes {
        let tp = pairs.iter().filter(|(p, g)| *p == c && *g == c).count() as f64;
        let gold = pairs.iter().filter(|(_, g)| *g == c).count() as f64;
        let pred = pairs.iter().filter(|(p, _)| *p == c).count() as f64;
        recall.push((gold > 0.0).then(|| tp / gold));
        f1.push((gold + pred > 0.0).then(|| 2.0 * tp / (gold + pred)));
    }
    let present: Vec<f64> = f1.iter().flatten().copied().collect();
    ClassFigures {
        n,
        accuracy: right as f64 / n.max(1) as f64,
        macro_f1: present.iter().sum::<f64>() / present.len().max(1) as f64,
        recall,
        f1,
    }
}

/// Recall and precision of a binary flag from `(flagged, gold)` pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagFigures {
    /// Gold positives.
    pub gold: usize,
    /// Flagged.
    pub flagged: usize,
    /// Flagged and gold.
    pub hit: usize,
}

impl FlagFigures {
    /// Counts `(flagged, gold)` pairs.
    pub fn of(pairs: impl IntoIterator<Item = (bool, bool)>) -> Self {
        let mut f = Self {
            gold: 0,
            flagged: 0,
            hit: 0,
        };
        for (p, g) in pairs {
            f.gold += usize::from(g);
            f.flagged += usize::from(p);
            f.hit += usize::from(p && g);
        }
        f
    }

    /// hit / gold.
    pub fn recall(&self) -> f64 {
        self.hit as f64 / self.gold.max(1) as f64
    }

    /// hit / flagged.
    pub fn precision(&self) -> f64 {
        self.hit as f64 / self.flagged.max(1) as f64
    }
}

/// What a classifier says about one mention, as measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Sentiment label.
    pub sentiment: Label,
    /// Intent.
    pub intent: Intent,
    /// Lead grade.
    pub lead: Option<Grade>,
    /// Whether a `crisis` keyword group matched (the learned crisis flag reports itself as one).
    pub crisis_match: bool,
}

/// Every figure of one classifier on labelled mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionFigures {
    /// Sentiment.
    pub sentiment: ClassFigures,
    /// Intent.
    pub intent: ClassFigures,
    /// Lead accuracy over mentions where the gold or the predicted lead is not null, and their
    /// number.
    pub lead: (f64, usize),
    /// Crisis flagged as a `crisis` match.
    pub crisis: FlagFigures,
    /// Crisis flagged as the issue counts it: negative, or a `crisis` match.
    pub crisis_loose: FlagFigures,
}

/// The figures of predictions against gold labels (same order).
pub fn mention_figures(pred: &[Prediction], gold: &[MentionGold]) -> MentionFigures {
    let pairs: Vec<_> = pred.iter().zip(gold).collect();
    let s: Vec<_> = pairs
        .iter()
        .map(|(p, g)| (p.sentiment, g.sentiment))
        .collect();
    let i: Vec<_> = pairs.iter().map(|(p, g)| (p.intent, g.intent)).collect();
    let leads: Vec<_> = pairs
        .iter()
        .filter(|(p, g)| p.lead.is_some() || g.lead.is_some())
        .collect();
    let lead_right = leads.iter().filter(|(p, g)| p.lead == g.lead).count();
    MentionFigures {
        sentiment: class_figures(&s, &LABELS),
        intent: class_figures(&i, &INTENTS),
        lead: (lead_right as f64 / leads.len().max(1) as f64, leads.len()),
        crisis: FlagFigures::of(pairs.iter().map(|(p, g)| (p.crisis_match, g.crisis))),
        crisis_loose: FlagFigures::of(
            pairs
                .iter()
                .map(|(p, g)| (p.crisis_match || p.sentiment == Label::Negative, g.crisis)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_a_small_table() {
        use Label::*;
        let pairs = [
            (Negative, Negative),
            (Negative, Neutral),
            (Positive, Positive),
            (Neutral, Positive),
        ];
        let f = class_figures(&pairs, &LABELS);
        assert_eq!(f.n, 4);
        assert!((f.accuracy - 0.5).abs() < 1e-9);
        assert_eq!(f.recall, vec![Some(1.0), Some(0.0), Some(0.5)]);
        // F1: negative 2/3, neutral 0, positive 2/3.
        assert!((f.macro_f1 - 4.0 / 9.0).abs() < 1e-9, "{}", f.macro_f1);
        let flag = FlagFigures::of([(true, true), (true, false), (false, true), (false, false)]);
        assert_eq!((flag.gold, flag.flagged, flag.hit), (2, 2, 1));
        assert!((flag.recall() - 0.5).abs() < 1e-9 && (flag.precision() - 0.5).abs() < 1e-9);
    }
}
