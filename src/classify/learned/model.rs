//! The learned heads' weights file and how a text is scored with it.
//!
//! Layout ([`crate::classify::weights`]), little-endian, a 64-byte header then the weights:
//!
//! ```text
//! "HLRN"  format u16  features u16  bits u8  0 0 0
//! scale f32   bias[10] f32   old_logit[10] f32   offset[10] f32   offset_latin[10] f32
//! weights: 2^bits rows × 10 columns i16   (weight = i16 × scale)
//! ```
//!
//! Columns: 0..3 are the sentiment logits (negative, neutral, positive; a softmax), 3 is the
//! complaint logit (a sigmoid), 4..9 the intent logits (complaint, question, purchase, praise,
//! other; a softmax) and 9 the crisis logit (a sigmoid). One row per hash bucket keeps a
//! feature's ten weights together (20 bytes). `old_logit` weighs the binary sentiment model's logit (a dense input);
//! `offset` is added to the sentiment logits and the complaint logit of a text with a Han
//! character after training (class priors calibrated on the tuning half of the measurement
//! set); `offset_latin` is added instead for any other text (calibrated on English tweets of
//! a public development split: neutral is far commoner there than in car mentions).

use crate::classify::weights::{self, Layout, WeightsError};

/// The magic bytes of a heads file.
pub const MAGIC: [u8; 4] = *b"HLRN";
/// The layout version.
pub const FORMAT_VERSION: u16 = 3;
/// The version of the features (`features.rs` here, and the sentiment extractor's): bump it
/// whenever a text's features change.
pub const FEATURE_VERSION: u16 = 4;
/// Number of columns.
pub const COLUMNS: usize = 10;
/// The intent columns, in the order of [`INTENT_ORDER`].
pub const INTENT_COLUMNS: std::ops::Range<usize> = 4..9;
/// The intents of the intent columns.
pub const INTENT_ORDER: [crate::classify::intent::Intent; 5] = {
    use crate::classify::intent::Intent::*;
    [Complaint, Question, Purchase, Praise, Other]
};
/// The crisis column.
pub const CRISIS_COLUMN: usize = 9;

/// Why a heads file was refused.
pub type HeadsError = WeightsError;

fn layout() -> Layout {
    Layout {
        what: "learned-heads model",
        magic: MAGIC,
        format: FORMAT_VERSION,
        features: FEATURE_VERSION,
        header: 12 + 4 * (1 + 4 * COLUMNS),
        floats: 1 + 4 * COLUMNS,
        columns: COLUMNS,
        bits: 10..=22,
    }
}

/// Quantised weights of the four columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Heads {
    /// log2 of the number of rows.
    pub bits: u32,
    /// Weight of one quantisation step.
    pub scale: f32,
    /// Intercepts.
    pub bias: [f32; COLUMNS],
    /// Weight of the binary sentiment model's logit, per column.
    pub old_logit: [f32; COLUMNS],
    /// Calibration offsets added at inference to a text with a Han character.
    pub offset: [f32; COLUMNS],
    /// Calibration offsets added at inference to any other text.
    pub offset_latin: [f32; COLUMNS],
    /// `2^bits × COLUMNS` quantised weights, row-major.
    pub weights: Vec<i16>,
}

impl Heads {
    /// Quantises trained weights (`2^bits × COLUMNS`, row-major) with one scale; both
    /// scripts get `offset`.
    pub fn quantise(
        weights: &[f32],
        bias: [f32; COLUMNS],
        old_logit: [f32; COLUMNS],
        offset: [f32; COLUMNS],
    ) -> Self {
        let bits = (weights.len() / COLUMNS).max(2).ilog2();
        let (scale, weights) = weights::quantise(weights);
        Self {
            bits,
            scale,
            bias,
            old_logit,
            offset,
            offset_latin: offset,
            weights,
        }
    }

    /// The offsets for a text: `han` is whether it holds a Han character.
    pub fn offsets(&self, han: bool) -> &[f32; COLUMNS] {
        if han {
            &self.offset
        } else {
            &self.offset_latin
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut floats = vec![self.scale];
        floats.extend(
            self.bias
                .iter()
                .chain(&self.old_logit)
                .chain(&self.offset)
                .chain(&self.offset_latin),
        );
        layout().write(self.bits, &floats, &self.weights)
    }

    /// Reads a file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HeadsError> {
        let t = layout().read(bytes)?;
        let cols = |at: usize| -> [f32; COLUMNS] { std::array::from_fn(|k| t.floats[at + k]) };
        Ok(Self {
            bits: t.bits,
            scale: t.floats[0],
            bias: cols(1),
            old_logit: cols(1 + COLUMNS),
            offset: cols(1 + 2 * COLUMNS),
            offset_latin: cols(1 + 3 * COLUMNS),
            weights: t.weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let w: Vec<f32> = (0..1024 * COLUMNS)
            .map(|i| (i as f32 - 2048.0) / 1000.0)
            .collect();
        let bias: [f32; COLUMNS] = std::array::from_fn(|k| k as f32 / 10.0);
        let old: [f32; COLUMNS] = std::array::from_fn(|k| 1.0 - k as f32 / 4.0);
        let mut h = Heads::quantise(&w, bias, old, [0.0; COLUMNS]);
        let latin: [f32; COLUMNS] = std::array::from_fn(|k| k as f32 * 0.25 - 1.0);
        h.offset_latin = latin;
        assert_eq!(h.bits, 10);
        assert_eq!(h.offsets(true), &[0.0; COLUMNS]);
        assert_eq!(h.offsets(false), &latin);
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), 12 + 4 * (1 + 4 * COLUMNS) + 2 * 1024 * COLUMNS);
        assert_eq!(Heads::from_bytes(&bytes), Ok(h));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            Heads::from_bytes(&bad),
            Err(HeadsError::BadMagic(_))
        ));
        let mut bad = bytes.clone();
        bad[6] = 9;
        assert!(matches!(
            Heads::from_bytes(&bad),
            Err(HeadsError::Features { found: 9, .. })
        ));
        assert!(matches!(
            Heads::from_bytes(&bytes[..100]),
            Err(HeadsError::Length { .. })
        ));
    }
}
