//! Publishing scheduled posts to the platforms, exactly once.
//!
//! A closed set of channel kinds ([`Channel`]), one file each, behind two operations: `send` a
//! post, and `find` a post that may already be on the platform (reconciliation after a timeout
//! or a crash). The Mastodon and Bluesky channels are built on the clients of
//! [`crate::platform`], which listening and alerting share; what is about publishing (record
//! keys, reconciliation, the outbox, the webhook channel) stays here. [`worker`] runs the loop that claims due posts in the store and records what
//! each platform said.
//!
//! Pictures: [`OutPost`] carries the post's pictures ([`OutMedia`], read from the media folder
//! by the worker) and the uploads already recorded; `upload` sends one picture to a platform
//! that takes uploads (Mastodon, Bluesky), and the worker records each upload before the post
//! is created. The outbox and the webhook only name the files in their JSON.
//!
//! Exactly once rests on three things: a post is claimed in the store (flushed to disk) before
//! any network call; every send carries a stable key of the post (Mastodon's
//! `Idempotency-Key`, a Bluesky record key derived from the post, the outbox line id, the
//! webhook's `Idempotency-Key`); and a post whose fate is unknown is looked for on the platform
//! before it is ever sent again.

pub mod bluesky;
pub mod config;
pub mod mastodon;
pub mod outbox;
pub mod webhook;
pub mod worker;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use crate::domain::reply::{ReplyTo, StrongRef};
pub use crate::domain::Upload;
pub use config::{ChannelConfig, ChannelKind, PublishSettings};

/// A post to send, as a channel sees it.
#[derive(Debug, Clone, Default)]
pub struct OutPost {
    /// Stable across retries and restarts: the idempotency key.
    pub id: String,
    pub text: String,
    /// When it was scheduled.
    pub at: DateTime<Utc>,
    /// Language code of the text, if known.
    pub lang: Option<String>,
    /// The post's tracking code; found in its links, it identifies the post on the platform.
    pub source_code: String,
    /// The post this one answers, for replies.
    pub reply: Option<ReplyTo>,
    /// The post's title, if its draft has one (a Bluesky link card's title).
    pub title: Option<String>,
    /// Its pictures, in order, checked on disk by the worker before anything is sent.
    pub media: Vec<OutMedia>,
    /// The pictures already uploaded to the platform (recorded in the store), in the order of
    /// `media`; a channel that uploads creates the post with exactly these.
    pub uploads: Vec<Upload>,
}

/// One picture of a post, as the channels see it: where the file is and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMedia {
    /// Path relative to the media folder, as the post names it.
    pub file: String,
    /// Absolute path of the file (under the media folder).
    pub path: std::path::PathBuf,
    /// Alt text for the post's platform.
    pub alt: String,
    pub focus: Option<crate::domain::Focus>,
    /// Its type (judged from its bytes), pixel size and byte size.
    pub info: crate::media::Info,
}

impl OutMedia {
    /// The picture `media` of a post, read at `path`: its type and size from its bytes.
    pub fn inspect(
        media: &crate::domain::PostMedia,
        path: std::path::PathBuf,
    ) -> Result<Self, crate::media::MediaError> {
        let info = crate::media::inspect(&path)?;
        Ok(Self {
            file: media.file.clone(),
            path,
            alt: media.alt.clone(),
            focus: media.focus,
            info,
        })
    }

    /// The JSON a webhook or the outbox carries for it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file,
            "path": self.path,
            "alt": self.alt,
            "mime": self.info.kind.mime(),
            "width": self.info.width,
            "height": self.info.height,
        })
    }
}

/// What a platform answered for a published post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub remote_id: String,
    pub url: Option<String>,
    /// The platform's timestamp of the post, when it gives one.
    pub published_at: Option<DateTime<Utc>>,
    /// AT Protocol content id (to thread replies under it).
    pub cid: Option<String>,
}

/// Why a send failed, classified for what happens next: the platform error of
/// [`crate::platform`], which the outbox and the webhook channel use too, so the worker reads one
/// classification whatever the channel.
pub use crate::platform::Error as PublishError;

/// The channels herald publishes to.
#[derive(Debug)]
pub enum Channel {
    Outbox(outbox::Outbox),
    Mastodon(mastodon::Mastodon),
    Bluesky(bluesky::Bluesky),
    Webhook(webhook::Webhook),
}

impl Channel {
    /// Builds a channel from its configuration, reading its secret from the environment.
    /// `data_dir` is where the outbox file lives.
    pub fn from_config(
        config: &ChannelConfig,
        settings: &PublishSettings,
        data_dir: &Path,
    ) -> Result<Self, PublishError> {
        let http = crate::http::client(settings.timeout)
            .map_err(|e| PublishError::Setup(e.to_string()))?;
        let what = format!("channel {:?}", config.name);
        let secret = |var: &str| {
            crate::config::env::secret(var, &what).map_err(|e| PublishError::Setup(e.to_string()))
        };
        Ok(match &config.kind {
            ChannelKind::Outbox { file } => {
                let path = data_dir.join(file.as_deref().unwrap_or("outbox.jsonl"));
                let path = std::path::absolute(&path).unwrap_or(path);
                Channel::Outbox(outbox::Outbox::new(&config.name, path))
            }
            ChannelKind::Mastodon {
                base_url,
                token_env,
                visibility,
            } => Channel::Mastodon(
                mastodon::Mastodon::new(http, base_url.clone(), secret(token_env)?)
                    .with_visibility(visibility),
            ),
            ChannelKind::Bluesky {
                pds_url,
                identifier,
                password_env,
            } => Channel::Bluesky(bluesky::Bluesky::new(
                http,
                pds_url.clone(),
                identifier.clone(),
                secret(password_env)?,
            )),
            ChannelKind::Webhook { url, secret_env } => {
                let key = secret_env.as_deref().map(secret).transpose()?;
                Channel::Webhook(webhook::Webhook::new(http, &config.name, url.clone(), key))
            }
        })
    }

    /// Sends a post.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        match self {
            Channel::Outbox(c) => c.send(post).await,
            Channel::Mastodon(c) => c.send(post).await,
            Channel::Bluesky(c) => c.send(post).await,
            Channel::Webhook(c) => c.send(post).await,
        }
    }

    /// Whether the channel uploads pictures before it creates a post (Mastodon, Bluesky); the
    /// outbox and the webhook only name the files.
    pub fn uploads(&self) -> bool {
        matches!(self, Channel::Mastodon(_) | Channel::Bluesky(_))
    }

    /// Uploads picture `media` of `post` to the platform; `cache_dir` keeps re-encoded copies.
    /// Called by the worker for each picture without a recorded upload, before [`Self::send`];
    /// a channel that does not upload answers [`PublishError::Setup`]. An upload without a
    /// clear answer is a transient failure: it made no post, at worst an unused upload.
    pub async fn upload(
        &self,
        post: &OutPost,
        media: &OutMedia,
        cache_dir: &Path,
    ) -> Result<Upload, PublishError> {
        let done = match self {
            Channel::Mastodon(c) => c.upload(post, media).await,
            Channel::Bluesky(c) => c.upload(post, media, cache_dir).await,
            Channel::Outbox(_) | Channel::Webhook(_) => {
                return Err(PublishError::Setup("this channel uploads nothing".into()))
            }
        };
        done.map_err(PublishError::for_lookup)
    }

    /// Looks for a post on the platform: `Ok(None)` means it is certainly not there (so sending
    /// it again cannot duplicate it).
    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        match self {
            Channel::Outbox(c) => c.find(post).await,
            Channel::Mastodon(c) => c.find(post).await,
            Channel::Bluesky(c) => c.find(post).await,
            Channel::Webhook(c) => c.find(post).await,
        }
    }
}
