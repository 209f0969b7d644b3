//! Publishing scheduled posts to the platforms, exactly once.
//!
//! A closed set of channel kinds ([`Channel`]), one file each, behind two operations: `send` a
//! post, and `find` a post that may already be on the platform (reconciliation after a timeout
//! or a crash). [`worker`] runs the loop that claims due posts in the store and records what
//! each platform said.
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
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

pub use crate::domain::reply::{ReplyTo, StrongRef};
pub use config::{ChannelConfig, ChannelKind, PublishSettings};

/// A post to send, as a channel sees it.
#[derive(Debug, Clone)]
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

/// Why a send failed, classified for what happens next.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The platform asked us to slow down: retried after the delay it gave.
    #[error("rate limited by the platform{}", retry_hint(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A failure that did not publish and may pass (5xx, refused connection): retried with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The platform said it is unavailable for now (503): retried with backoff, and not before
    /// the delay it gave in `Retry-After`.
    #[error("platform unavailable: {message}{}", retry_hint(.retry_after))]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The platform refused the post itself (validation): not retried.
    #[error("refused by the platform: {0}")]
    Rejected(String),
    /// The credentials do not work: not retried until a person fixes them.
    #[error("not authorised: {0}")]
    Auth(String),
    /// Too long for the platform, checked before sending.
    #[error("too long: {len} {unit}, the limit is {limit}")]
    TooLong {
        len: usize,
        limit: usize,
        unit: &'static str,
    },
    /// No clear answer (timeout, connection lost after sending, unreadable success): the post
    /// may or may not be on the platform, so it is looked for before any retry.
    #[error("no clear answer: {0}; the post may be on the platform")]
    Unconfirmed(String),
    /// The channel cannot be used as configured (a missing secret).
    #[error("channel not usable: {0}")]
    Setup(String),
}

fn retry_hint(d: &Option<Duration>) -> String {
    d.map(|d| format!(", retry after {} s", d.as_secs()))
        .unwrap_or_default()
}

impl PublishError {
    /// Whether retrying can never help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            PublishError::Rejected(_)
                | PublishError::Auth(_)
                | PublishError::TooLong { .. }
                | PublishError::Setup(_)
        )
    }

    /// The delay the platform asked for before the next try (`Retry-After` on a 429 or a 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PublishError::RateLimited { retry_after }
            | PublishError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Classifies a transport error: a refused connection never reached the platform; anything
    /// after the request may have been sent is unconfirmed.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        // Never include the URL: it may carry a secret (a webhook token in its query).
        let e = e.without_url();
        if e.is_connect() {
            PublishError::Transient(format!("cannot connect: {e}"))
        } else if e.is_timeout() {
            PublishError::Unconfirmed(format!("timed out: {e}"))
        } else if e.is_builder() {
            PublishError::Setup(e.to_string())
        } else {
            PublishError::Unconfirmed(e.to_string())
        }
    }
}

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
        let secret =
            |var: &str| crate::config::env::secret(var, &what).map_err(PublishError::Setup);
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

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Shortens an error body for a message: the first 300 characters, one line.
pub(crate) fn snippet(body: &str) -> String {
    crate::untrusted::one_line(body, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            retry_after.parse().expect("header"),
        );
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers("120")), Some(Duration::from_secs(120)));
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        let soon = std::time::SystemTime::now() + Duration::from_secs(600);
        let header = headers(&httpdate::fmt_http_date(soon));
        let before = unix(std::time::SystemTime::now());
        let d = retry_after(&header).expect("a date").as_secs();
        let after = unix(std::time::SystemTime::now());
        // Counted from the moment it is read; the date has whole seconds.
        assert!(
            (unix(soon) - after - 1..=unix(soon) - before).contains(&d),
            "{d}"
        );
        // A date in the past means now; garbage means no hint.
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon")), None);
    }

    #[test]
    fn a_503_carries_its_retry_after_like_a_429() {
        let ra = Some(Duration::from_secs(90));
        let unavailable = PublishError::Unavailable {
            message: "503 Service Unavailable: maintenance".into(),
            retry_after: ra,
        };
        assert_eq!(unavailable.retry_after(), ra);
        assert!(!unavailable.is_permanent());
        assert!(
            unavailable.to_string().contains("retry after 90 s"),
            "{unavailable}"
        );
        assert_eq!(
            PublishError::RateLimited { retry_after: ra }.retry_after(),
            ra
        );
        assert_eq!(PublishError::Transient("x".into()).retry_after(), None);
    }
}
