//! The learned heads' weights file and how a text is scored with it.
//!
//! Layout, little-endian, a 64-byte header then the weights:
//!
//! ```text
//! "HLRN"  format u16  features u16  bits u8  0 0 0
//! scale f32   bias[4] f32   old_logit[4] f32   offset[4] f32   (pad to 64)
//! weights: 2^bits rows × 4 columns i16   (weight = i16 × scale)
//! ```
//!
//! Columns: 0..3 are the sentiment logits (negative, neutral, positive; a softmax), 3 is the
//! complaint logit (a sigmoid). One row per hash bucket keeps a feature's four weights in one
//! cache line. `old_logit` weighs the binary sentiment model's logit (a dense input);
//! `offset` is added to the sentiment logits and the complaint logit after training (class
//! priors calibrated on the tuning half of the measurement set).

use thiserror::Error;

/// The magic bytes of a heads file.
pub const MAGIC: [u8; 4] = *b"HLRN";
/// The layout version.
pub const FORMAT_VERSION: u16 = 1;
/// The version of the features (`features.rs` here, and the sentiment extractor's): bump it
/// whenever a text's features change.
pub const FEATURE_VERSION: u16 = 1;
/// Number of columns.
pub const COLUMNS: usize = 4;
const HEADER: usize = 64;

/// Why a heads file was refused.
#[derive(Debug, Error, PartialEq)]
pub enum HeadsError {
    /// Not a heads file.
    #[error("not a herald learned-heads model (bad magic bytes)")]
    BadMagic,
    /// Too short or too long.
    #[error("heads file is {found} bytes, expected {expected}")]
    Length { expected: usize, found: usize },
    /// Another layout or feature version.
    #[error("heads file has format {format} features {features}, this build reads {FORMAT_VERSION} and {FEATURE_VERSION}: retrain it")]
    Version { format: u16, features: u16 },
    /// A table size outside 2^10..2^22.
    #[error("heads file has 2^{0} buckets, expected 2^10..2^22")]
    Bits(u8),
    /// A number that is not finite.
    #[error("heads file holds a non-finite number")]
    NotFinite,
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
    /// Calibration offsets added at inference.
    pub offset: [f32; COLUMNS],
    /// `2^bits × COLUMNS` quantised weights, row-major.
    pub weights: Vec<i16>,
}

impl Heads {
    /// Quantises trained weights (`2^bits × COLUMNS`, row-major) with one scale.
    pub fn quantise(
        weights: &[f32],
        bias: [f32; COLUMNS],
        old_logit: [f32; COLUMNS],
        offset: [f32; COLUMNS],
    ) -> Self {
        let rows = (weights.len() / COLUMNS).max(2);
        let bits = rows.ilog2();
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        Self {
            bits,
            scale,
            bias,
            old_logit,
            offset,
            weights: weights
                .iter()
                .map(|w| (w / scale).round().clamp(-32767.0, 32767.0) as i16)
                .collect(),
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 2 * self.weights.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&FEATURE_VERSION.to_le_bytes());
        out.extend_from_slice(&[self.bits as u8, 0, 0, 0]);
        out.extend_from_slice(&self.scale.to_le_bytes());
        for x in self.bias.iter().chain(&self.old_logit).chain(&self.offset) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.resize(HEADER, 0);
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads a file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HeadsError> {
        if bytes.len() < HEADER {
            return Err(HeadsError::Length {
                expected: HEADER,
                found: bytes.len(),
            });
        }
        if bytes[0..4] != MAGIC {
            return Err(HeadsError::BadMagic);
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let f32_at =
            |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let (format, features) = (u16_at(4), u16_at(6));
        if format != FORMAT_VERSION || features != FEATURE_VERSION {
            return Err(HeadsError::Version { format, features });
        }
        let bits = bytes[8];
        if !(10..=22).contains(&bits) {
            return Err(HeadsError::Bits(bits));
        }
        let expected = HEADER + 2 * COLUMNS * (1usize << bits);
        if bytes.len() != expected {
            return Err(HeadsError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let scale = f32_at(12);
        let four = |at: usize| [f32_at(at), f32_at(at + 4), f32_at(at + 8), f32_at(at + 12)];
        let (bias, old_logit, offset) = (four(16), four(32), four(48));
        if !std::iter::once(scale)
            .chain(bias)
            .chain(old_logit)
            .chain(offset)
            .all(f32::is_finite)
        {
            return Err(HeadsError::NotFinite);
        }
        let weights = bytes[HEADER..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Self {
            bits: u32::from(bits),
            scale,
            bias,
            old_logit,
            offset,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let w: Vec<f32> = (0..4096).map(|i| (i as f32 - 2048.0) / 1000.0).collect();
        let h = Heads::quantise(&w, [0.1, 0.2, 0.3, 0.4], [1.0, 0.0, -1.0, 0.5], [0.0; 4]);
        assert_eq!(h.bits, 10);
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), 64 + 2 * 4096);
        assert_eq!(Heads::from_bytes(&bytes), Ok(h));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(Heads::from_bytes(&bad), Err(HeadsError::BadMagic));
        let mut bad = bytes.clone();
        bad[6] = 9;
        assert!(matches!(
            Heads::from_bytes(&bad),
            Err(HeadsError::Version { .. })
        ));
        assert!(matches!(
            Heads::from_bytes(&bytes[..100]),
            Err(HeadsError::Length { .. })
        ));
    }
}
