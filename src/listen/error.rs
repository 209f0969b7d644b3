//! Why a poll failed, as the listening loop sees it: what to log and how long the server asked
//! it to wait. Below every source kind and the loop, so that each source can return it without
//! importing the loop.

use std::time::Duration;

/// Why a poll failed, and how long the server asked us to wait before the next one, if it said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct PollError {
    /// What went wrong, for the log.
    pub why: String,
    /// How long the server asked us to wait (`Retry-After`), when it said.
    pub retry_after: Option<Duration>,
}

impl PollError {
    /// A failure the server gave no wait for.
    pub fn new(why: impl std::fmt::Display) -> Self {
        Self {
            why: why.to_string(),
            retry_after: None,
        }
    }
}

impl From<crate::platform::Error> for PollError {
    fn from(e: crate::platform::Error) -> Self {
        // 429 and 503 alike: a server that says when to come back is listened to.
        let retry_after = e.retry_after();
        Self {
            why: e.to_string(),
            retry_after,
        }
    }
}

impl From<crate::store::StoreError> for PollError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::new(e)
    }
}

impl From<reqwest::Error> for PollError {
    fn from(e: reqwest::Error) -> Self {
        // Without the URL: a source's URL may carry a token in its query.
        Self::new(e.without_url())
    }
}
