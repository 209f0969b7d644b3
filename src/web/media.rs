//! The pictures of the media library in the browser: `GET /media/thumb/{file}` serves a small
//! JPEG of a picture in `<content_plan>/media/` (behind the login, like every page), and the
//! pages list the library ([`library`]) and link their thumbnails ([`Thumb`]).
//!
//! A name from a request is untrusted: [`resolve`] takes only a plain relative path (no `..`,
//! no absolute path, no backslash), and only when the file it names, symlinks followed, is
//! inside the media folder. The type comes from the file's bytes ([`crate::media::inspect_bytes`]),
//! never from its name. Thumbnails are made with the `image` crate (within
//! [`THUMB_SIZE`]² pixels) and cached under `<data_dir>/media-cache/thumbs/`, named by the
//! original's content hash, so an edited picture gets a new one; nothing is written into the
//! content plan. Anything that is not a picture of the library is a 404, never a panic.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{plain_page, request_lang, AppState};
use crate::domain::PostMedia;
use crate::inbox::is_plain_media_name;

/// Thumbnails fit within this many pixels on each side.
pub const THUMB_SIZE: u32 = 320;
/// The JPEG quality of thumbnails.
const THUMB_QUALITY: u8 = 80;
/// At most this many files are listed in the reply editor's picture choice.
pub const LIBRARY_LIMIT: usize = 500;
/// How deep the library's folders are listed.
const LIBRARY_DEPTH: usize = 4;
/// The URL prefix of thumbnails.
pub const THUMB_PREFIX: &str = "/media/thumb/";
/// The most memory one picture may take to decode: a picture claiming more (a decompression
/// bomb) is refused rather than decoded.
const DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// Thumbnails made at once: a calendar full of new pictures asks for many together, and each
/// decode holds the whole picture in memory; the rest wait their turn.
static MAKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The file `name` (relative to `media_dir`) as a canonical path inside the canonical media
/// folder, if `name` is a plain relative path and names an existing file there; `None` for
/// anything else (traversal, absolute paths, backslashes, symlinks that lead out, folders).
pub fn resolve(media_dir: &Path, name: &str) -> Option<PathBuf> {
    if !is_plain_media_name(name) {
        return None;
    }
    let root = media_dir.canonicalize().ok()?;
    let path = root.join(name).canonicalize().ok()?;
    (path.starts_with(&root) && path != root && path.is_file()).then_some(path)
}

/// The pictures of the library that the reply editor offers: files under `media_dir` whose
/// name ends in an image extension, as relative paths with `/`, sorted, at most
/// [`LIBRARY_LIMIT`]. Hidden files and symlinks that lead out are left out. A missing folder
/// is an empty library.
pub fn library(media_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(root) = media_dir.canonicalize() else {
        return out;
    };
    walk(&root, &root, "", 0, &mut out);
    out.sort();
    out.truncate(LIBRARY_LIMIT);
    out
}

fn walk(root: &Path, dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // A name that is not UTF-8 cannot be put in a form or a URL: left out.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || out.len() >= LIBRARY_LIMIT * 2 {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let Ok(real) = entry.path().canonicalize() else {
            continue;
        };
        if !real.starts_with(root) || !is_plain_media_name(&rel) {
            continue;
        }
        if real.is_dir() {
            if depth < LIBRARY_DEPTH {
                walk(root, &real, &format!("{rel}/"), depth + 1, out);
            }
        } else if looks_like_picture(&name) {
            out.push(rel);
        }
    }
}

/// Whether a file name has an image extension (only to choose what the editor lists: the
/// bytes decide whether it is a picture).
fn looks_like_picture(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp", ".gif"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Why a thumbnail cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// The file is not a picture herald can read.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// The thumbnail cannot be encoded.
    #[error("cannot encode the thumbnail of {path}: {why}")]
    Encode { path: PathBuf, why: String },
    /// The cache cannot be written (the thumbnail is still served).
    #[error("cannot write the thumbnail cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A thumbnail: its JPEG bytes and the original's content hash (its ETag).
#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub hash: String,
}

/// The thumbnail of the picture at `path`, from `cache_dir` when made before, else made (fit
/// within [`THUMB_SIZE`]², JPEG) and cached there. A cache that cannot be written is logged;
/// the thumbnail is served anyway.
pub fn thumbnail(path: &Path, cache_dir: &Path) -> Result<Thumbnail, ThumbError> {
    let bytes = std::fs::read(path).map_err(|source| crate::media::MediaError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The type from the bytes: anything else in the folder is refused before decoding.
    crate::media::inspect_bytes(path, &bytes)?;
    let hash = crate::media::content_hash(&bytes);
    let cached = cache_dir.join(format!("{hash}-{THUMB_SIZE}.jpg"));
    if let Ok(jpeg) = std::fs::read(&cached) {
        if crate::media::inspect_bytes(&cached, &jpeg).is_ok() {
            return Ok(Thumbnail { jpeg, hash });
        }
    }
    let encode = |why: String| ThumbError::Encode {
        path: path.to_path_buf(),
        why,
    };
    let mut reader = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| encode(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_BYTES);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| encode(e.to_string()))?;
    // Only ever smaller: a picture already within the size keeps its pixels.
    let small = if picture.width() > THUMB_SIZE || picture.height() > THUMB_SIZE {
        picture.thumbnail(THUMB_SIZE, THUMB_SIZE)
    } else {
        picture
    };
    // JPEG has no alpha: flatten onto the RGB channels.
    let rgb = image::DynamicImage::ImageRgb8(small.to_rgb8());
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, THUMB_QUALITY);
    rgb.write_with_encoder(encoder)
        .map_err(|e| encode(e.to_string()))?;
    if let Err(e) = store(&cached, cache_dir, &jpeg) {
        tracing::warn!(error = %e, "Thumbnail not cached");
    }
    Ok(Thumbnail { jpeg, hash })
}

/// Writes through a temporary file of this process and a rename, so concurrent requests and
/// crashes never leave a half-written thumbnail.
fn store(path: &Path, dir: &Path, bytes: &[u8]) -> Result<(), ThumbError> {
    let fail = |source| ThumbError::Cache {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The URL of the thumbnail of library file `file` (each path segment percent-encoded).
pub fn thumb_url(file: &str) -> String {
    let segments: Vec<String> = file
        .split('/')
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect())
        .collect();
    // form encoding writes a space as `+`, which a path does not decode.
    format!("{THUMB_PREFIX}{}", segments.join("/").replace('+', "%20"))
}

/// A picture as a page shows it: its thumbnail's URL and its alt text (untrusted: askama
/// escapes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    pub src: String,
    pub file: String,
    pub alt: String,
}

impl Thumb {
    /// The thumbnail of a post's picture.
    pub fn of(m: &PostMedia) -> Self {
        Self {
            src: thumb_url(&m.file),
            file: m.file.clone(),
            alt: m.alt.clone(),
        }
    }
}

/// `GET /media/thumb/{*file}`: the JPEG thumbnail of a picture of the library, with
/// `nosniff`, a private cache header and the original's hash as ETag; 404 for any other name.
pub async fn thumb(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let not_found = || {
        plain_page(
            StatusCode::NOT_FOUND,
            super::i18n::t(request_lang(&headers), "err.not_found"),
        )
    };
    let Some(path) = resolve(&state.media_dir(), &file) else {
        return not_found();
    };
    let cache = state.thumb_dir();
    // A closed semaphore cannot happen (it is never closed); serve without the limit then.
    let _turn = MAKING.acquire().await.ok();
    let made = tokio::task::spawn_blocking(move || thumbnail(&path, &cache)).await;
    let thumb = match made {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "No thumbnail");
            return not_found();
        }
        Err(e) => {
            tracing::error!(error = %e, "Thumbnail task failed");
            return not_found();
        }
    };
    let etag = format!("\"{}\"", thumb.hash);
    let same = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if same {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/jpeg")], thumb.jpeg).into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Private: it is behind the login. Revalidated by ETag when the hour is over.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_media_folder_resolve() {
        let dir = tempfile::tempdir().expect("tmp");
        let media = dir.path().join("media");
        std::fs::create_dir_all(media.join("dealer")).expect("mkdir");
        std::fs::write(media.join("a.png"), b"x").expect("write");
        std::fs::write(media.join("dealer/b.jpg"), b"x").expect("write");
        std::fs::write(dir.path().join("secret.txt"), b"x").expect("write");
        assert!(resolve(&media, "a.png").is_some());
        assert!(resolve(&media, "dealer/b.jpg").is_some());
        for bad in [
            "",
            "../secret.txt",
            "dealer/../../secret.txt",
            "dealer/../a.png",
            "/etc/passwd",
            "dealer\\b.jpg",
            "dealer",
            "missing.png",
            "./a.png",
            "a.png/",
        ] {
            assert_eq!(resolve(&media, bad), None, "{bad:?}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), media.join("out.png"))
                .expect("symlink");
            assert_eq!(resolve(&media, "out.png"), None, "a symlink out");
            assert!(!library(&media).contains(&"out.png".to_string()));
        }
        assert_eq!(library(&media), ["a.png", "dealer/b.jpg"]);
        assert!(library(&dir.path().join("none")).is_empty());
    }

    #[test]
    fn thumbnail_urls_encode_each_segment() {
        assert_eq!(
            thumb_url("dealer/雪 地.jpg"),
            "/media/thumb/dealer/%E9%9B%AA%20%E5%9C%B0.jpg"
        );
        assert_eq!(thumb_url("a\"<b>.png"), "/media/thumb/a%22%3Cb%3E.png");
    }

    #[test]
    fn a_picture_claiming_more_memory_than_the_limit_is_refused_not_decoded() {
        // A 69-byte PNG whose header claims 30000 × 30000 RGB pixels (2.7 GB decoded).
        const BOMB: [u8; 69] = [
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
            0x44, 0x52, 0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x75, 0x30, 0x08, 0x02, 0x00, 0x00,
            0x00, 0xe9, 0x45, 0x6f, 0xed, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
            0x9c, 0x63, 0x60, 0xa0, 0x0c, 0x00, 0x00, 0x00, 0x40, 0x00, 0x01, 0xb7, 0x34, 0x7c,
            0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
        ];
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("bomb.png");
        std::fs::write(&path, BOMB).expect("write");
        let info = crate::media::inspect(&path).expect("a PNG header");
        assert_eq!((info.width, info.height), (30_000, 30_000));
        match thumbnail(&path, &dir.path().join("cache")) {
            Err(ThumbError::Encode { why, .. }) => assert!(why.contains("limit"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("cache").exists(), "nothing cached");
    }
}
