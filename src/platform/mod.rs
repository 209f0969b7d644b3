//! The platform kit: one client per platform herald talks to ([`mastodon`], [`bluesky`]: sessions,
//! auth renewal, rich text and length rules, error classification), what each accepts of a post's pictures
//! ([`limits`]), the helpers for reading any HTTP answer ([`http`]: `Retry-After`, error snippets, the status table, webhook signing) and
//! one error type, [`Error`], that classifies a failed platform call for what happens next.
//!
//! Publishing (`publish`), listening (`listen`) and alert delivery (`crisis::notify`) build on
//! it alike. It knows nothing of scheduled posts, mentions or alerts: it imports only the bottom
//! layer (`crate::untrusted`) and the image files' facts (`crate::media`), never a service or the store.

pub mod bluesky;
pub mod http;
pub mod limits;
pub mod mastodon;

use std::time::Duration;

/// Why a platform call failed, classified for what happens next (retry, wait, give up, look).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The platform asked us to slow down: retried after the delay it gave.
    #[error("rate limited by the platform{}", retry_hint(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A failure that changed nothing and may pass (5xx, refused connection): retried with
    /// backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The platform said it is unavailable for now (503): retried with backoff, and not before
    /// the delay it gave in `Retry-After`.
    #[error("platform unavailable: {message}{}", retry_hint(.retry_after))]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The platform refused the request itself (validation): not retried.
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
    /// No clear answer (timeout, connection lost after sending, unreadable success): a post may
    /// or may not be on the platform, so it is looked for before any retry.
    #[error("no clear answer: {0}; the post may be on the platform")]
    Unconfirmed(String),
    /// The client cannot be used as configured (a missing secret, a bad URL).
    #[error("channel not usable: {0}")]
    Setup(String),
}

fn retry_hint(d: &Option<Duration>) -> String {
    d.map(|d| format!(", retry after {} s", d.as_secs()))
        .unwrap_or_default()
}

impl Error {
    /// Whether retrying can never help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Rejected(_) | Error::Auth(_) | Error::TooLong { .. } | Error::Setup(_)
        )
    }

    /// The delay the platform asked for before the next try (`Retry-After` on a 429 or a 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } | Error::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Classifies a transport error: a refused connection never reached the platform; anything
    /// after the request may have been sent is unconfirmed.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        // Never include the URL: it may carry a secret (a webhook token in its query).
        let e = e.without_url();
        if e.is_connect() {
            Error::Transient(format!("cannot connect: {e}"))
        } else if e.is_timeout() {
            Error::Unconfirmed(format!("timed out: {e}"))
        } else if e.is_builder() {
            Error::Setup(e.to_string())
        } else {
            Error::Unconfirmed(e.to_string())
        }
    }

    /// The error as a lookup sees it: a read that got no clear answer changed nothing on the
    /// platform, so it is simply tried again later.
    pub fn for_lookup(self) -> Self {
        match self {
            Error::Unconfirmed(m) => Error::Transient(m),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_carries_its_retry_after_like_a_429() {
        let ra = Some(Duration::from_secs(90));
        let unavailable = Error::Unavailable {
            message: "503 Service Unavailable: maintenance".into(),
            retry_after: ra,
        };
        assert_eq!(unavailable.retry_after(), ra);
        assert!(!unavailable.is_permanent());
        assert!(
            unavailable.to_string().contains("retry after 90 s"),
            "{unavailable}"
        );
        assert_eq!(Error::RateLimited { retry_after: ra }.retry_after(), ra);
        assert_eq!(Error::Transient("x".into()).retry_after(), None);
    }

    #[test]
    fn a_lookup_without_a_clear_answer_is_only_transient() {
        assert_eq!(
            Error::Unconfirmed("timed out".into()).for_lookup(),
            Error::Transient("timed out".into())
        );
        assert_eq!(
            Error::Auth("401".into()).for_lookup(),
            Error::Auth("401".into())
        );
    }
}
