//! Mastodon as a publishing channel, on the account client of [`crate::platform::mastodon`]
//! (the instance's length limit, `Idempotency-Key`, media upload and processing, error
//! classification live there): pictures checked against the instance's limits and uploaded
//! one by one (the worker records each media id), the status created with `media_ids[]` once
//! every picture has finished processing, `in_reply_to_id` for replies, and reconciliation that
//! looks through the account's recent statuses for the post's tracking code or its text.

use reqwest::Client;
use url::Url;

use super::{OutMedia, OutPost, PublishError, ReplyTo, Sent, Upload};
use crate::platform::mastodon::{plain, NewMedia, NewStatus, Status};

/// How many recent statuses reconciliation looks through (Mastodon's largest page).
const RECENT: u32 = 40;

/// A Mastodon account, as a channel.
#[derive(Debug)]
pub struct Mastodon {
    account: crate::platform::mastodon::Mastodon,
    visibility: String,
}

impl Mastodon {
    /// The channel of the account acting with `token` on the instance at `base`.
    pub fn new(http: Client, base: Url, token: String) -> Self {
        Self {
            account: crate::platform::mastodon::Mastodon::new(http, base, token),
            visibility: "public".to_string(),
        }
    }

    /// The account client (reads beside publishing: engagement counters).
    pub fn account(&self) -> &crate::platform::mastodon::Mastodon {
        &self.account
    }

    /// Posts with this visibility (`public`, `unlisted`, `private`, `direct`).
    pub fn with_visibility(mut self, visibility: &str) -> Self {
        self.visibility = visibility.to_string();
        self
    }

    /// Waits at most `wait` for the instance to process a picture (60 s unless set).
    pub fn with_media_wait(mut self, wait: std::time::Duration) -> Self {
        self.account = self.account.with_media_wait(wait);
        self
    }

    /// Uploads one picture of `post`, after checking the post's pictures against the instance's
    /// limits (count, type, bytes, pixels, alt length: refused before anything is uploaded).
    pub async fn upload(&self, post: &OutPost, media: &OutMedia) -> Result<Upload, PublishError> {
        let limits = self.account.limits().await;
        if post.media.len() > limits.max_images {
            return Err(PublishError::Rejected(format!(
                "{} pictures, the instance takes at most {}",
                post.media.len(),
                limits.max_images
            )));
        }
        // Every picture, not only this one: a post the instance cannot take is refused before
        // its first upload.
        for m in &post.media {
            let problems = limits.problems(&m.info, &m.alt, false);
            if !problems.is_empty() {
                return Err(PublishError::Rejected(format!(
                    "picture {}: {}",
                    m.file,
                    problems.join("; ")
                )));
            }
        }
        let path = media.path.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| PublishError::Transient(format!("reading a picture stopped: {e}")))?
            .map_err(|e| PublishError::Rejected(format!("cannot read {}: {e}", media.file)))?;
        let name = media
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "picture".into());
        let uploaded = self
            .account
            .upload_media(NewMedia {
                bytes,
                file_name: &name,
                mime: media.info.kind.mime(),
                description: &media.alt,
                focus: media.focus.map(|f| (f.x, f.y)),
            })
            .await?;
        Ok(Upload {
            file: media.file.clone(),
            id: uploaded.id,
            blob: None,
            width: media.info.width,
            height: media.info.height,
        })
    }

    /// Posts the status, with [`idempotency_key`] and its uploaded pictures, after waiting for
    /// the instance to finish processing each.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let in_reply_to_id = match &post.reply {
            Some(ReplyTo::Mastodon { status_id }) => Some(status_id.as_str()),
            _ => None,
        };
        if post.uploads.len() != post.media.len() {
            return Err(PublishError::Setup(format!(
                "{} of {} pictures uploaded",
                post.uploads.len(),
                post.media.len()
            )));
        }
        let media_ids: Vec<String> = post.uploads.iter().map(|u| u.id.clone()).collect();
        let key = idempotency_key(post);
        for id in &media_ids {
            self.account.wait_ready(id).await?;
        }
        let status = self
            .account
            .post_status(&NewStatus {
                text: &post.text,
                visibility: &self.visibility,
                language: post.lang.as_deref(),
                in_reply_to_id,
                idempotency_key: &key,
                media_ids: &media_ids,
            })
            .await?;
        Ok(sent(status))
    }

    /// Looks for the post among the account's recent statuses: by its tracking code when its
    /// text carries one, else by its text.
    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        let statuses = self.account.own_statuses(RECENT).await?;
        let want = plain(&post.text);
        Ok(statuses
            .into_iter()
            .find(|s| {
                let has_code =
                    post.text.contains(&post.source_code) && s.content.contains(&post.source_code);
                has_code || plain(&s.content) == want
            })
            .map(sent))
    }
}

/// The `Idempotency-Key` of a post: its id (channel and second) and a hash of its text. Every
/// attempt at one post sends the same key, so an instance never makes it twice; the text's
/// hash keeps another store's post on the same account, channel name and second (a staging
/// copy, a store started afresh) from being answered with this one's status, as if sent.
pub fn idempotency_key(post: &OutPost) -> String {
    format!("{}-{:016x}", post.id, crate::fnv1a(post.text.as_bytes()))
}

fn sent(s: Status) -> Sent {
    Sent {
        url: s.url.or(s.uri),
        remote_id: s.id,
        published_at: s.created_at,
        cid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_posts_own_and_tells_texts_apart() {
        let a = OutPost {
            id: "masto@1796663760".into(),
            text: "冬季检测 https://example.com/r/x".into(),
            ..OutPost::default()
        };
        assert_eq!(idempotency_key(&a), idempotency_key(&a.clone()));
        assert!(idempotency_key(&a).starts_with("masto@1796663760-"));
        let b = OutPost {
            text: "冬季检测".into(),
            ..a.clone()
        };
        assert_ne!(idempotency_key(&a), idempotency_key(&b));
    }
}
