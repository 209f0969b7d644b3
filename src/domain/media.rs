//! Pictures attached to a post: what the schedule keeps for each ([`PostMedia`]) and what
//! publishing recorded of its upload to the platform ([`Upload`]). The drafts name the files;
//! the store keeps these records; the channels read them.

use serde::{Deserialize, Serialize};

/// A focal point, each coordinate in -1.0..=1.0 (Mastodon's convention: x to the right, y up),
/// so a platform that crops a thumbnail keeps the part that matters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Focus {
    pub x: f32,
    pub y: f32,
}

// Coordinates are validated finite (never NaN) where a focus is made, so equality is total.
impl Eq for Focus {}

/// One picture of a post, as stored with it: the file under `content-plan/media/` and the alt
/// text already chosen for the post's platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostMedia {
    /// Path relative to the media folder, with `/` separators.
    pub file: String,
    /// The alt text for the post's platform (never empty for a planned post).
    pub alt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<Focus>,
}

/// One picture uploaded to the platform for a post, recorded before the post is created so
/// that a retry or a restart reuses it instead of uploading again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The [`PostMedia::file`] it is the upload of.
    pub file: String,
    /// The platform's id of the upload: a Mastodon media id, or a Bluesky blob's CID.
    pub id: String,
    /// Bluesky: the blob reference to embed (`{"$type": "blob", "ref": …, "mimeType", "size"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<serde_json::Value>,
    /// Pixel size of what was uploaded (Bluesky's aspect ratio).
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}
