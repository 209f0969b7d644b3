//! The weights file: its binary format, and quantisation from the trained `f32` weights.
//!
//! Layout, little-endian, 28-byte header then the weights:
//!
//! ```text
//! "HSNT"  format u16  features u16  bits u8  0 0 0
//! scale f32  bias f32  neutral f32  question_damp f32
//! weights: 2^bits × i16   (weight = i16 × scale)
//! ```
//!
//! `features` is [`FEATURE_VERSION`]: a file trained with other features is refused rather than
//! silently misread. This module must not know how features are made.

use thiserror::Error;

/// The magic bytes that open a weights file.
pub const MAGIC: [u8; 4] = *b"HSNT";
/// The version of this layout.
pub const FORMAT_VERSION: u16 = 1;
/// The version of the feature extraction (`features.rs`, `cues.rs`) the weights were trained
/// with. Bump it whenever a change there changes which feature a text produces.
pub const FEATURE_VERSION: u16 = 2;
const HEADER: usize = 28;

/// Why a weights file was refused.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// The file does not start with `HSNT`.
    #[error("not a herald sentiment model (bad magic bytes)")]
    BadMagic,
    /// The file is shorter than its header says.
    #[error("model file is {found} bytes, expected {expected}")]
    Length { expected: usize, found: usize },
    /// Another layout version.
    #[error("model format version {found}, this build reads {expected}")]
    Format { found: u16, expected: u16 },
    /// Trained with other features: the weights would mean nothing.
    #[error(
        "model trained with feature version {found}, this build extracts {expected}: retrain it"
    )]
    Features { found: u16, expected: u16 },
    /// A hash table size outside 2^10..2^24.
    #[error("model has 2^{0} buckets, expected 2^10..2^24")]
    Bits(u8),
    /// A header number that is not finite.
    #[error("model header holds a non-finite number")]
    NotFinite,
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
        let bits = weights.len().max(2).ilog2();
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let weights = weights
            .iter()
            .map(|w| (w / scale).round().clamp(-32767.0, 32767.0) as i16)
            .collect();
        Self {
            bits,
            scale,
            bias,
            neutral,
            question_damp,
            weights,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 2 * self.weights.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&FEATURE_VERSION.to_le_bytes());
        out.extend_from_slice(&[self.bits as u8, 0, 0, 0]);
        for x in [self.scale, self.bias, self.neutral, self.question_damp] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads a file's bytes, checking everything that could make the weights meaningless.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() < HEADER {
            return Err(ModelError::Length {
                expected: HEADER,
                found: bytes.len(),
            });
        }
        if bytes[0..4] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let f32_at =
            |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let format = u16_at(4);
        if format != FORMAT_VERSION {
            return Err(ModelError::Format {
                found: format,
                expected: FORMAT_VERSION,
            });
        }
        let features = u16_at(6);
        if features != FEATURE_VERSION {
            return Err(ModelError::Features {
                found: features,
                expected: FEATURE_VERSION,
            });
        }
        let bits = bytes[8];
        if !(10..=24).contains(&bits) {
            return Err(ModelError::Bits(bits));
        }
        let n = 1usize << bits;
        let expected = HEADER + 2 * n;
        if bytes.len() != expected {
            return Err(ModelError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let (scale, bias, neutral, question_damp) =
            (f32_at(12), f32_at(16), f32_at(20), f32_at(24));
        if ![scale, bias, neutral, question_damp]
            .iter()
            .all(|x| x.is_finite())
        {
            return Err(ModelError::NotFinite);
        }
        let weights = bytes[HEADER..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Self {
            bits: u32::from(bits),
            scale,
            bias,
            neutral,
            question_damp,
            weights,
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
        assert_eq!(Model::from_bytes(&bad), Err(ModelError::BadMagic));
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
