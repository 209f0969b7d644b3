//! Image files: their real type (from their bytes, never their name), their pixel size, and a
//! copy re-encoded to fit a platform's byte limit. `herald check` validates drafts' pictures with
//! it, and the channels use it when they upload. Re-encoded copies go to a cache folder under
//! the data folder, named by the original's content hash, never next to the original.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, ImageReader};
use sha2::{Digest, Sha256};

/// The image types herald posts. Video is out of scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl Kind {
    /// The MIME type platforms expect.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
            Kind::Gif => "image/gif",
        }
    }

    fn from_format(f: ImageFormat) -> Option<Self> {
        match f {
            ImageFormat::Jpeg => Some(Kind::Jpeg),
            ImageFormat::Png => Some(Kind::Png),
            ImageFormat::WebP => Some(Kind::Webp),
            ImageFormat::Gif => Some(Kind::Gif),
            _ => None,
        }
    }
}

/// What an image file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub kind: Kind,
    pub width: u32,
    pub height: u32,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Why an image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Its bytes are not an image type herald posts.
    #[error("{0} is not a JPEG, PNG, WebP or GIF image (judged by its bytes, not its name)")]
    NotAnImage(PathBuf),
    /// Its bytes say an image type but do not decode.
    #[error("{path} is a damaged image: {why}")]
    Damaged { path: PathBuf, why: String },
    /// Even the smallest re-encoding is over the limit.
    #[error("{path} cannot be made smaller than {limit} bytes (smallest tried: {smallest} bytes)")]
    TooLarge {
        path: PathBuf,
        limit: u64,
        smallest: u64,
    },
    /// The cache cannot be written.
    #[error("cannot write the re-encoded copy {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, MediaError> {
    std::fs::read(path).map_err(|source| MediaError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The type and pixel size of the image in `bytes` (read from its header; the pixels are not
/// decoded). `path` is only for messages.
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<Info, MediaError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Damaged {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    let kind = reader
        .format()
        .and_then(Kind::from_format)
        .ok_or_else(|| MediaError::NotAnImage(path.to_path_buf()))?;
    let (width, height) = reader.into_dimensions().map_err(|e| MediaError::Damaged {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok(Info {
        kind,
        width,
        height,
        bytes: bytes.len() as u64,
    })
}

/// The type and pixel size of the image file at `path`.
pub fn inspect(path: &Path) -> Result<Info, MediaError> {
    inspect_bytes(path, &read(path)?)
}

/// The hex SHA-256 of `bytes`: names cached copies, so an edited original gets a new one.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An image ready to upload under a byte limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The file to upload: the original when it fits, else the cached re-encoded copy.
    pub path: PathBuf,
    pub info: Info,
    /// Whether it was re-encoded.
    pub reencoded: bool,
}

/// JPEG qualities tried in turn, best first.
const QUALITIES: [u8; 6] = [90, 82, 74, 66, 58, 50];

/// The image at `path`, or a JPEG copy of it under `limit` bytes kept in `cache_dir`: quality
/// is stepped down first with the pixel size kept, then the picture is scaled down by steps of
/// 0.8 until it fits. An animated GIF is not re-encoded (that would drop its frames): over the
/// limit it is an error. The same original and limit always give the same cached copy.
pub fn fit(path: &Path, limit: u64, cache_dir: &Path) -> Result<Fitted, MediaError> {
    let bytes = read(path)?;
    let info = inspect_bytes(path, &bytes)?;
    if info.bytes <= limit {
        return Ok(Fitted {
            path: path.to_path_buf(),
            info,
            reencoded: false,
        });
    }
    let cached = cache_dir.join(format!("{}-{limit}.jpg", content_hash(&bytes)));
    if let Ok(done) = std::fs::read(&cached) {
        if let Ok(info) = inspect_bytes(&cached, &done) {
            if info.bytes <= limit {
                return Ok(Fitted {
                    path: cached,
                    info,
                    reencoded: true,
                });
            }
        }
    }
    let too_large = |smallest: u64| MediaError::TooLarge {
        path: path.to_path_buf(),
        limit,
        smallest,
    };
    if info.kind == Kind::Gif {
        return Err(too_large(info.bytes));
    }
    let damaged = |e: image::ImageError| MediaError::Damaged {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let mut picture = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Damaged {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?
        .decode()
        .map_err(damaged)?;
    // JPEG has no alpha: flatten onto the RGB channels.
    picture = image::DynamicImage::ImageRgb8(picture.to_rgb8());
    let mut smallest = info.bytes;
    for _ in 0..12 {
        for quality in QUALITIES {
            let mut out = Vec::new();
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            picture.write_with_encoder(encoder).map_err(damaged)?;
            smallest = smallest.min(out.len() as u64);
            if out.len() as u64 <= limit {
                return store(&cached, cache_dir, &out);
            }
        }
        let (w, h) = (picture.width(), picture.height());
        if w < 64 || h < 64 {
            break;
        }
        picture = picture.resize(w * 4 / 5, h * 4 / 5, image::imageops::FilterType::Triangle);
    }
    Err(too_large(smallest))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves a
/// half-written copy that a later call would upload.
fn store(path: &Path, dir: &Path, bytes: &[u8]) -> Result<Fitted, MediaError> {
    let fail = |source| MediaError::Cache {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = path.with_extension("jpg.tmp");
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    let info = inspect_bytes(path, bytes)?;
    Ok(Fitted {
        path: path.to_path_buf(),
        info,
        reencoded: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy picture (so it does not compress well), encoded as `format`.
    fn picture(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state & 0x3f) as u8;
            image::Rgb([(x % 256) as u8 ^ n, (y % 256) as u8, n.wrapping_mul(3)])
        });
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, format)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn type_comes_from_the_bytes_not_the_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("looks-like.jpg");
        std::fs::write(&path, picture(40, 30, ImageFormat::Png)).expect("write");
        let info = inspect(&path).expect("inspect");
        assert_eq!((info.kind, info.width, info.height), (Kind::Png, 40, 30));
        assert_eq!(info.kind.mime(), "image/png");

        std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0").expect("write");
        assert!(matches!(inspect(&path), Err(MediaError::Damaged { .. })));
        std::fs::write(&path, b"plain text, no image").expect("write");
        assert!(matches!(inspect(&path), Err(MediaError::NotAnImage(_))));
        assert!(matches!(
            inspect(&dir.path().join("missing.png")),
            Err(MediaError::Read { .. })
        ));
    }

    #[test]
    fn an_image_over_the_limit_is_reencoded_into_the_cache_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let original = dir.path().join("big.png");
        let bytes = picture(600, 400, ImageFormat::Png);
        std::fs::write(&original, &bytes).expect("write");
        let cache = dir.path().join("cache");
        let limit = bytes.len() as u64 / 4;

        let fitted = fit(&original, limit, &cache).expect("fits");
        assert!(fitted.reencoded);
        assert!(fitted.info.bytes <= limit, "{fitted:?}");
        assert_eq!(fitted.info.kind, Kind::Jpeg);
        assert!(fitted.path.starts_with(&cache), "{fitted:?}");
        assert_eq!(
            std::fs::read(&original).expect("read"),
            bytes,
            "original kept"
        );
        let again = fit(&original, limit, &cache).expect("fits");
        assert_eq!(again, fitted, "the cached copy is reused");

        let fits = fit(&original, bytes.len() as u64, &cache).expect("fits");
        assert!(!fits.reencoded);
        assert_eq!(fits.path, original);

        assert!(matches!(
            fit(&original, 200, &cache),
            Err(MediaError::TooLarge { limit: 200, .. })
        ));
    }
}
