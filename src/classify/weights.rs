//! The one file format of herald's trained weights (the sentiment model and the learned heads):
//! a little-endian header, then a table of `i16` weights quantised with one scale.
//!
//! ```text
//! magic [4]  format u16  features u16  bits u8  0 0 0
//! f32 × floats (the first is the scale), zero-padded to the header's size
//! weights: columns × 2^bits i16   (weight = i16 × scale)
//! ```
//!
//! Each model names its [`Layout`] (magic, versions, header size, how many numbers, columns,
//! allowed table sizes) and its own meaning of the numbers; this module knows no features.

use std::ops::RangeInclusive;

use thiserror::Error;

/// Bytes before the numbers: magic, two versions, bits and padding.
const FIXED: usize = 12;

/// The shape one model's weights file takes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// What the file holds, for error messages ("sentiment model").
    pub what: &'static str,
    pub magic: [u8; 4],
    /// The layout's version.
    pub format: u16,
    /// The version of the features the weights were trained with.
    pub features: u16,
    /// Header size in bytes (at least 12 + 4 × floats).
    pub header: usize,
    /// How many `f32` follow the fixed part; the first is the scale.
    pub floats: usize,
    /// Weights per hash bucket.
    pub columns: usize,
    /// The table sizes (log2 of buckets) a file may have.
    pub bits: RangeInclusive<u8>,
}

/// Why a weights file was refused.
#[derive(Debug, Error, PartialEq)]
pub enum WeightsError {
    /// The file does not start with the model's magic bytes.
    #[error("not a herald {0} (bad magic bytes)")]
    BadMagic(&'static str),
    /// Shorter or longer than its header says.
    #[error("{what} file is {found} bytes, expected {expected}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// Another layout version.
    #[error("{what} format version {found}, this build reads {expected}")]
    Format {
        what: &'static str,
        found: u16,
        expected: u16,
    },
    /// Trained with other features: the weights would mean nothing.
    #[error(
        "{what} trained with feature version {found}, this build extracts {expected}: retrain it"
    )]
    Features {
        what: &'static str,
        found: u16,
        expected: u16,
    },
    /// A table size outside the layout's range.
    #[error("{what} has 2^{found} buckets, expected 2^{min}..2^{max}")]
    Bits {
        what: &'static str,
        found: u8,
        min: u8,
        max: u8,
    },
    /// A header number that is not finite.
    #[error("{0} header holds a non-finite number")]
    NotFinite(&'static str),
}

/// A read file: its table size, header numbers (scale first) and quantised weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub bits: u32,
    pub floats: Vec<f32>,
    pub weights: Vec<i16>,
}

/// Quantises weights to `i16` with one scale for the whole table: `(scale, weights)`.
pub fn quantise(weights: &[f32]) -> (f32, Vec<i16>) {
    let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
    let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
    let q = weights
        .iter()
        .map(|w| (w / scale).round().clamp(-32767.0, 32767.0) as i16)
        .collect();
    (scale, q)
}

impl Layout {
    /// The file's bytes.
    pub fn write(&self, bits: u32, floats: &[f32], weights: &[i16]) -> Vec<u8> {
        debug_assert_eq!(floats.len(), self.floats);
        let mut out = Vec::with_capacity(self.header + 2 * weights.len());
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.format.to_le_bytes());
        out.extend_from_slice(&self.features.to_le_bytes());
        out.extend_from_slice(&[u8::try_from(bits).unwrap_or(u8::MAX), 0, 0, 0]);
        for x in floats {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.resize(self.header.max(out.len()), 0);
        for w in weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads a file's bytes, checking everything that could make the weights meaningless.
    pub fn read(&self, bytes: &[u8]) -> Result<Table, WeightsError> {
        let what = self.what;
        let length = |expected: usize| WeightsError::Length {
            what,
            expected,
            found: bytes.len(),
        };
        if bytes.len() < self.header {
            return Err(length(self.header));
        }
        if bytes[0..4] != self.magic {
            return Err(WeightsError::BadMagic(what));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let format = u16_at(4);
        if format != self.format {
            return Err(WeightsError::Format {
                what,
                found: format,
                expected: self.format,
            });
        }
        let features = u16_at(6);
        if features != self.features {
            return Err(WeightsError::Features {
                what,
                found: features,
                expected: self.features,
            });
        }
        let bits = bytes[8];
        if !self.bits.contains(&bits) {
            return Err(WeightsError::Bits {
                what,
                found: bits,
                min: *self.bits.start(),
                max: *self.bits.end(),
            });
        }
        let expected = self.header + 2 * self.columns * (1usize << bits);
        if bytes.len() != expected {
            return Err(length(expected));
        }
        let floats: Vec<f32> = bytes[FIXED..FIXED + 4 * self.floats]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if !floats.iter().all(|x| x.is_finite()) {
            return Err(WeightsError::NotFinite(what));
        }
        let weights = bytes[self.header..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Table {
            bits: u32::from(bits),
            floats,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            what: "test model",
            magic: *b"TEST",
            format: 1,
            features: 3,
            header: 24,
            floats: 2,
            columns: 2,
            bits: 10..=12,
        }
    }

    #[test]
    fn round_trips_and_names_each_damage() {
        let l = layout();
        let w: Vec<f32> = (0..2048).map(|i| (i as f32 - 1024.0) / 100.0).collect();
        let (scale, q) = quantise(&w);
        let bytes = l.write(10, &[scale, 0.5], &q);
        assert_eq!(bytes.len(), 24 + 2 * 2048);
        let t = l.read(&bytes).expect("read");
        assert_eq!((t.bits, t.floats[1], &t.weights), (10, 0.5, &q));
        assert!((f32::from(q[2047]) * scale - 10.23).abs() < 1e-3);

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(l.read(&bad), Err(WeightsError::BadMagic("test model")));
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert!(matches!(
            l.read(&bad),
            Err(WeightsError::Format { found: 2, .. })
        ));
        let mut bad = bytes.clone();
        bad[6] = 9;
        assert!(matches!(
            l.read(&bad),
            Err(WeightsError::Features { found: 9, .. })
        ));
        let mut bad = bytes.clone();
        bad[8] = 13;
        assert!(matches!(
            l.read(&bad),
            Err(WeightsError::Bits { found: 13, .. })
        ));
        let mut bad = bytes.clone();
        bad[16..20].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(l.read(&bad), Err(WeightsError::NotFinite("test model")));
        assert!(matches!(
            l.read(&bytes[..bytes.len() - 1]),
            Err(WeightsError::Length { .. })
        ));
        assert!(matches!(
            l.read(&bytes[..10]),
            Err(WeightsError::Length { .. })
        ));
    }
}
