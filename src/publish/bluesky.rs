//! Bluesky as a publishing channel, on the account client of [`crate::platform::bluesky`]
//! (sessions, rich text, the 300-grapheme limit, error classification live there).
//!
//! Exactly once: the record key is a TID derived from the post's id and time, so a resend can
//! never create a second record, and reconciling is one `getRecord`.
//!
//! Pictures: each is fitted under [`BLUESKY_IMAGE_BYTES`] (re-encoded into the cache folder
//! when larger) and uploaded as a blob; the worker records each blob reference, and the post
//! embeds them as `app.bsky.embed.images` with their alt text and aspect ratio. A post with a
//! link and no pictures gets an `app.bsky.embed.external` card built from the post itself (the
//! link, the post's title or the link's host, the text's first line); herald fetches nothing
//! from the linked page. A reply keeps its `reply` field beside either embed.

use std::path::Path;

use chrono::Utc;
use reqwest::Client;
use serde_json::{json, Value};
use url::Url;

use super::{OutMedia, OutPost, PublishError, ReplyTo, Sent, Upload};
use crate::platform::bluesky::{blob_cid, FacetKind, NewPost, Record, Ref, RichText, Thread};
use crate::platform::limits::{BLUESKY_IMAGES, BLUESKY_IMAGE_BYTES};

/// A Bluesky account on a PDS, as a channel.
#[derive(Debug)]
pub struct Bluesky {
    account: crate::platform::bluesky::Bluesky,
}

impl Bluesky {
    /// The channel of account `identifier` on the PDS at `pds`, logging in with `password`.
    pub fn new(http: Client, pds: Url, identifier: String, password: String) -> Self {
        Self {
            account: crate::platform::bluesky::Bluesky::new(http, pds, identifier, password),
        }
    }

    /// The account behind the channel, for reads (a reply looks up the thread it joins).
    pub fn account(&self) -> &crate::platform::bluesky::Bluesky {
        &self.account
    }

    /// Uploads one picture of `post` as a blob: fitted under [`BLUESKY_IMAGE_BYTES`] first
    /// (a re-encoded copy goes to `cache_dir`). More than [`BLUESKY_IMAGES`] pictures are
    /// refused before anything is uploaded.
    pub async fn upload(
        &self,
        post: &OutPost,
        media: &OutMedia,
        cache_dir: &Path,
    ) -> Result<Upload, PublishError> {
        if post.media.len() > BLUESKY_IMAGES {
            return Err(PublishError::Rejected(format!(
                "{} pictures, Bluesky takes at most {BLUESKY_IMAGES}",
                post.media.len()
            )));
        }
        let (path, cache) = (media.path.clone(), cache_dir.to_path_buf());
        let (fitted, bytes) = tokio::task::spawn_blocking(move || {
            let fitted = crate::media::fit(&path, BLUESKY_IMAGE_BYTES, &cache)?;
            let bytes =
                std::fs::read(&fitted.path).map_err(|source| crate::media::MediaError::Read {
                    path: fitted.path.clone(),
                    source,
                })?;
            Ok::<_, crate::media::MediaError>((fitted, bytes))
        })
        .await
        .map_err(|e| PublishError::Transient(format!("preparing a picture stopped: {e}")))?
        .map_err(|e| PublishError::Rejected(format!("picture {}: {e}", media.file)))?;
        let blob = self
            .account
            .upload_blob(bytes, fitted.info.kind.mime())
            .await?;
        let id = blob_cid(&blob).unwrap_or_default().to_string();
        Ok(Upload {
            file: media.file.clone(),
            id,
            blob: Some(blob),
            width: fitted.info.width,
            height: fitted.info.height,
        })
    }

    /// Posts under the post's record key, with its pictures or its link card; a key already
    /// taken returns the post already there.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let embed = embed(post)?;
        let record = self
            .account
            .create_post(
                &record_key(post),
                &new_post(post, embed.as_ref()),
                Utc::now(),
            )
            .await?;
        Ok(sent(record))
    }

    /// Looks the post up under its record key.
    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        Ok(self.account.get_post(&record_key(post)).await?.map(sent))
    }
}

/// The post's embed: its uploaded pictures, else a card for its first link, else none.
fn embed(post: &OutPost) -> Result<Option<Value>, PublishError> {
    if !post.media.is_empty() {
        if post.uploads.len() != post.media.len() {
            return Err(PublishError::Setup(format!(
                "{} of {} pictures uploaded",
                post.uploads.len(),
                post.media.len()
            )));
        }
        let images: Vec<Value> = post
            .media
            .iter()
            .zip(&post.uploads)
            .map(|(m, u)| {
                let mut image = json!({ "image": u.blob, "alt": m.alt });
                if u.width > 0 && u.height > 0 {
                    image["aspectRatio"] = json!({ "width": u.width, "height": u.height });
                }
                image
            })
            .collect();
        if post.uploads.iter().any(|u| u.blob.is_none()) {
            return Err(PublishError::Setup(
                "a picture's upload has no blob reference".into(),
            ));
        }
        return Ok(Some(
            json!({ "$type": "app.bsky.embed.images", "images": images }),
        ));
    }
    Ok(link_card(post))
}

/// An `app.bsky.embed.external` card for the post's first link: the link, the post's title or
/// the link's host, and the text's first line. Nothing is fetched from the page.
fn link_card(post: &OutPost) -> Option<Value> {
    let uri = RichText::parse(&post.text)
        .facets
        .into_iter()
        .find_map(|f| match f.kind {
            FacetKind::Link(uri) => Some(uri),
            _ => None,
        })?;
    let title = post
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            Url::parse(&uri)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
        })
        .unwrap_or_else(|| uri.clone());
    let description = post.text.lines().next().unwrap_or_default().trim();
    Some(json!({
        "$type": "app.bsky.embed.external",
        "external": { "uri": uri, "title": title, "description": description },
    }))
}

fn new_post<'a>(post: &'a OutPost, embed: Option<&'a Value>) -> NewPost<'a> {
    fn strong(r: &super::StrongRef) -> Ref<'_> {
        Ref {
            uri: &r.uri,
            cid: &r.cid,
        }
    }
    NewPost {
        text: &post.text,
        lang: post.lang.as_deref(),
        reply: match &post.reply {
            Some(ReplyTo::Bluesky { root, parent }) => Some(Thread {
                root: strong(root),
                parent: strong(parent),
            }),
            _ => None,
        },
        embed,
    }
}

fn sent(r: Record) -> Sent {
    Sent {
        remote_id: r.uri,
        url: Some(r.url),
        published_at: r.created_at,
        cid: r.cid,
    }
}

/// The record key of a post: a TID (13 base32-sortable characters) from the post's scheduled
/// time in microseconds and a 10-bit clock id hashed from its id. Stable for the post, unique
/// per channel and minute.
pub fn record_key(post: &OutPost) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let h = crate::fnv1a(post.id.as_bytes());
    let micros = post.at.timestamp_micros().max(0) as u64 & ((1 << 53) - 1);
    let mut v = (micros << 10) | (h & 0x3ff);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::publish::StrongRef;

    fn post(id: &str, at: &str) -> OutPost {
        OutPost {
            id: id.into(),
            text: String::new(),
            at: DateTime::parse_from_rfc3339(at)
                .expect("t")
                .with_timezone(&Utc),
            lang: None,
            source_code: String::new(),
            ..OutPost::default()
        }
    }

    #[test]
    fn record_keys_are_valid_stable_tids() {
        let a = record_key(&post("sky@1", "2026-12-01T00:45:00Z"));
        assert_eq!(a, record_key(&post("sky@1", "2026-12-01T00:45:00Z")));
        assert_ne!(a, record_key(&post("sky@2", "2026-12-01T00:45:00Z")));
        assert_eq!(a.len(), 13);
        assert!("234567abcdefghij".contains(&a[..1]), "{a}");
        let later = record_key(&post("sky@1", "2026-12-01T01:45:00Z"));
        assert!(later > a, "TIDs sort by time");
    }

    #[test]
    fn replies_carry_both_strong_refs_and_others_none() {
        let r = |n: &str| StrongRef {
            uri: format!("at://did:plc:a/app.bsky.feed.post/{n}"),
            cid: format!("cid{n}"),
        };
        let mut p = post("sky@1", "2026-12-01T00:45:00Z");
        p.reply = Some(ReplyTo::Bluesky {
            root: r("1"),
            parent: r("2"),
        });
        let thread = new_post(&p, None).reply.expect("a thread");
        assert_eq!(
            (thread.root.uri, thread.root.cid),
            ("at://did:plc:a/app.bsky.feed.post/1", "cid1")
        );
        assert_eq!(
            (thread.parent.uri, thread.parent.cid),
            ("at://did:plc:a/app.bsky.feed.post/2", "cid2")
        );
        p.reply = Some(ReplyTo::Mastodon {
            status_id: "9".into(),
        });
        assert!(new_post(&p, None).reply.is_none());
    }

    fn media(file: &str, alt: &str, w: u32, h: u32) -> (OutMedia, Upload) {
        let m = OutMedia {
            file: file.into(),
            path: format!("/media/{file}").into(),
            alt: alt.into(),
            focus: None,
            info: crate::media::Info {
                kind: crate::media::Kind::Png,
                width: w,
                height: h,
                bytes: 10,
            },
        };
        let blob = json!({ "$type": "blob", "ref": { "$link": format!("cid-{file}") }, "mimeType": "image/png", "size": 10 });
        let u = Upload {
            file: file.into(),
            id: format!("cid-{file}"),
            blob: Some(blob),
            width: w,
            height: h,
        };
        (m, u)
    }

    #[test]
    fn pictures_embed_in_order_with_alt_and_aspect_ratio() {
        let mut p = post("sky@1", "2026-12-01T00:45:00Z");
        p.text = "see https://dealer.example/x".into();
        for (m, u) in [
            media("a.png", "first", 4, 3),
            media("b.png", "second", 1, 2),
        ] {
            p.media.push(m);
            p.uploads.push(u);
        }
        let embed = embed(&p).expect("embed").expect("some");
        assert_eq!(embed["$type"], "app.bsky.embed.images");
        assert_eq!(embed["images"][0]["alt"], "first");
        assert_eq!(embed["images"][0]["image"]["ref"]["$link"], "cid-a.png");
        assert_eq!(
            embed["images"][1]["aspectRatio"],
            json!({ "width": 1, "height": 2 })
        );
        // Pictures win over the link card; a missing upload is never posted around.
        p.uploads.pop();
        assert!(matches!(embed_err(&p), PublishError::Setup(_)));
    }

    fn embed_err(p: &OutPost) -> PublishError {
        embed(p).expect_err("refused")
    }

    #[test]
    fn a_link_gets_a_card_titled_by_the_post_or_the_host() {
        let mut p = post("sky@1", "2026-12-01T00:45:00Z");
        p.text = "冬季保养 #tips\nhttps://dealer.example/care?x=1".into();
        let card = embed(&p).expect("embed").expect("a card");
        assert_eq!(
            card,
            json!({ "$type": "app.bsky.embed.external", "external": {
                "uri": "https://dealer.example/care?x=1",
                "title": "dealer.example",
                "description": "冬季保养 #tips",
            }})
        );
        p.title = Some("Winter care".into());
        let card = embed(&p).expect("embed").expect("a card");
        assert_eq!(card["external"]["title"], "Winter care");
        p.text = "no link here".into();
        assert_eq!(embed(&p).expect("embed"), None);
    }
}
