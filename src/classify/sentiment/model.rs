//! The weights file: its binary format, and quantisation from the trained `f32` weights.
//!
//! Layout ([`crate::classify::weights`]), little-endian, 28-byte header then the weights:
//!
//! ```text
//! "HSNT"  format u16  features u16  bits u8  0 0 0
//! scale f32  bias f32  neutral f32  question_damp f32
//! weights: 2^bits × i16   (weight = i16 × scale)
//! ```
//!
//! `features` is [`FEATURE_VERSION`]: a file trained with other features is refused rather than
//! silently misread. This module must not know how features are made.

use crate::classify::weights::{self, Layout, WeightsError};

/// The magic bytes that open a weights file.
pub const MAGIC: [u8; 4] = *b"HSNT";
/// The version of this layout.
pub const FORMAT_VERSION: u16 = 1;
/// The version of the feature extraction (`features.rs`, `cues.rs`) the weights were trained
/// with. Bump it whenever a change there changes which feature a text produces.
pub const FEATURE_VERSION: u16 = 2;

/// Why a weights file was refused.
pub type ModelError = WeightsError;

fn layout() -> Layout {
    Layout {
        what: "sentiment model",
        magic: MAGIC,
        format: FORMAT_VERSION,
        features: FEATURE_VERSION,
        header: 28,
        floats: 4,
        columns: 1,
        bits: 10..=24,
    }
}

/// Quantised weights plus the few numbers the classifier needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// log2 of the number of hash buckets.
    pub bits: u32,
    /// Weight of one quantisation step.
    pub scale: f32,
    /// The intercept (logit units).
    pub bias: f32,
    /// Scores with |score| below this are neutral.
    pub neutral: f32,
    /// The learned part of the logit is multiplied by this for questions.
    pub question_damp: f32,
    /// `2^bits` quantised weights.
    pub weights: Vec<i16>,
}

impl Model {
    /// Quantises trained weights to i16 with one scale for the whole table.
    pub fn quantise(weights: &[f32], bias: f32, neutral: f32, question_damp: f32) -> Self {
        let (scale, weights) = weights::quantise(weights);
        Self {
            bits: weights.len().max(2).ilog2(),
            scale,
            bias,
            neutral,
            question_damp,
            weights,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        layout().write(
            self.bits,
            &[self.scale, self.bias, self.neutral, self.question_damp],
            &self.weights,
        )
    }

    /// Reads a file's bytes, checking everything that could make the weights meaningless.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let t = layout().read(bytes)?;
        let [scale, bias, neutral, question_damp] = t.floats[..] else {
            unreachable!("the layout reads four numbers");
        };
        Ok(Self {
            bits: t.bits,
            scale,
            bias,
            neutral,
            question_damp,
            weights: t.weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let w: Vec<f32> = (0..1024).map(|i| (i as f32 - 512.0) / 100.0).collect();
        let m = Model::quantise(&w, 0.25, 0.3, 0.5);
        assert_eq!(m.bits, 10);
        let bytes = m.to_bytes();
        assert_eq!(Model::from_bytes(&bytes), Ok(m.clone()));
        let back = f32::from(m.weights[1023]) * m.scale;
        assert!((back - 5.11).abs() < 1e-3, "{back}");

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            Model::from_bytes(&bad),
            Err(ModelError::BadMagic(_))
        ));
        let mut bad = bytes.clone();
        bad[6] = 99;
        assert!(matches!(
            Model::from_bytes(&bad),
            Err(ModelError::Features { found: 99, .. })
        ));
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() - 1]),
            Err(ModelError::Length { .. })
        ));
        assert!(matches!(
            Model::from_bytes(&bytes[..10]),
            Err(ModelError::Length { .. })
        ));
    }
}
