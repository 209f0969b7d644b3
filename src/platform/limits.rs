//! What a platform accepts of a post's pictures: how many, which types, how many bytes and
//! pixels, how long an alt text. Bluesky's are fixed by its lexicon and the reference PDS;
//! a Mastodon instance says its own in `GET /api/v2/instance` (read by
//! [`crate::platform::mastodon::Mastodon::limits`]), with Mastodon's defaults where it is silent.

use crate::media::{Info, Kind};

/// A platform's limits on pictures and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Characters (Mastodon, URLs weighted) or graphemes (Bluesky) of a post's text.
    pub text: usize,
    /// Pictures per post.
    pub max_images: usize,
    /// Bytes per picture.
    pub image_bytes: u64,
    /// Width × height per picture, where the platform has a limit.
    pub image_pixels: Option<u64>,
    /// Characters of an alt text.
    pub alt_chars: usize,
    /// MIME types it takes.
    pub types: Vec<String>,
}

/// Bluesky's limit on a post's text, in graphemes.
pub const BLUESKY_TEXT: usize = 300;
/// The largest image blob the reference PDS accepts in `app.bsky.embed.images` ("blob too big"
/// above it).
pub const BLUESKY_IMAGE_BYTES: u64 = 2_000_000;
/// Images per `app.bsky.embed.images`.
pub const BLUESKY_IMAGES: usize = 4;
/// Alt text herald allows on Bluesky (the lexicon sets none; the official app stops at 2,000).
pub const BLUESKY_ALT: usize = 2_000;

impl Limits {
    /// Bluesky's.
    pub fn bluesky() -> Self {
        Self {
            text: BLUESKY_TEXT,
            max_images: BLUESKY_IMAGES,
            image_bytes: BLUESKY_IMAGE_BYTES,
            image_pixels: None,
            alt_chars: BLUESKY_ALT,
            types: ["image/jpeg", "image/png", "image/webp", "image/gif"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Mastodon's defaults (4.x), for an instance that does not say.
    pub fn mastodon_default() -> Self {
        Self {
            text: 500,
            max_images: 4,
            image_bytes: 16 * 1024 * 1024,
            image_pixels: Some(33_177_600),
            alt_chars: 1_500,
            types: ["image/jpeg", "image/png", "image/webp", "image/gif"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// A Mastodon instance's, from its `GET /api/v2/instance` answer: each value it gives,
    /// the default for each it does not.
    pub fn from_mastodon_instance(instance: &serde_json::Value) -> Self {
        let mut l = Self::mastodon_default();
        let c = &instance["configuration"];
        let n = |v: &serde_json::Value| v.as_u64().filter(|n| *n > 0);
        if let Some(v) = n(&c["statuses"]["max_characters"]) {
            l.text = v as usize;
        }
        if let Some(v) = n(&c["statuses"]["max_media_attachments"]) {
            l.max_images = v as usize;
        }
        let m = &c["media_attachments"];
        if let Some(v) = n(&m["image_size_limit"]) {
            l.image_bytes = v;
        }
        if let Some(v) = n(&m["image_matrix_limit"]) {
            l.image_pixels = Some(v);
        }
        if let Some(v) = n(&m["description_limit"]) {
            l.alt_chars = v as usize;
        }
        if let Some(types) = m["supported_mime_types"].as_array() {
            let types: Vec<String> = types
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect();
            if !types.is_empty() {
                l.types = types;
            }
        }
        l
    }

    /// What is wrong with posting `info` with `alt` under these limits, one sentence each;
    /// `fits_by_reencoding` says whether an image over the byte limit can be re-encoded to fit
    /// (Bluesky's), so that is not a problem.
    pub fn problems(&self, info: &Info, alt: &str, fits_by_reencoding: bool) -> Vec<String> {
        let mut out = Vec::new();
        if !self.types.iter().any(|t| t == info.kind.mime()) {
            out.push(format!(
                "{} is not a type it takes ({})",
                info.kind.mime(),
                self.types.join(", ")
            ));
        }
        if info.bytes > self.image_bytes && !(fits_by_reencoding && info.kind != Kind::Gif) {
            out.push(format!(
                "{} bytes is over its limit of {} bytes",
                info.bytes, self.image_bytes
            ));
        }
        if let Some(max) = self.image_pixels {
            let pixels = u64::from(info.width) * u64::from(info.height);
            if pixels > max {
                out.push(format!(
                    "{}×{} = {pixels} pixels is over its limit of {max}",
                    info.width, info.height
                ));
            }
        }
        let chars = alt.chars().count();
        if chars > self.alt_chars {
            out.push(format!(
                "the alt text has {chars} characters, over its limit of {}",
                self.alt_chars
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_says_its_own_limits_and_defaults_fill_the_rest() {
        let l = Limits::from_mastodon_instance(&serde_json::json!({
            "configuration": {
                "statuses": {"max_characters": 1000, "max_media_attachments": 6},
                "media_attachments": {
                    "supported_mime_types": ["image/jpeg", "image/png"],
                    "image_size_limit": 1000,
                    "description_limit": 0
                }
            }
        }));
        assert_eq!((l.text, l.max_images, l.image_bytes), (1000, 6, 1000));
        assert_eq!(l.alt_chars, 1_500, "0 is not a limit: the default");
        assert_eq!(l.image_pixels, Some(33_177_600));
        assert_eq!(l.types, ["image/jpeg", "image/png"]);

        let webp = Info {
            kind: Kind::Webp,
            width: 10_000,
            height: 10_000,
            bytes: 5_000,
        };
        let p = l.problems(&webp, &"字".repeat(1_501), false);
        assert_eq!(p.len(), 4, "{p:?}");
        let jpeg = Info {
            kind: Kind::Jpeg,
            width: 100,
            height: 100,
            bytes: 900,
        };
        assert!(l.problems(&jpeg, "一辆车", false).is_empty());
        let big = Info {
            bytes: 3_000_000,
            ..jpeg
        };
        let b = Limits::bluesky();
        assert!(
            b.problems(&big, "alt", true).is_empty(),
            "re-encoded to fit"
        );
        assert_eq!(b.problems(&big, "alt", false).len(), 1);
    }
}
