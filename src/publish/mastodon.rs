//! Mastodon as a publishing channel, on the account client of [`crate::platform::mastodon`]
//! (the instance's length limit, `Idempotency-Key`, error classification live there):
//! `in_reply_to_id` for replies, and reconciliation that looks through the account's recent
//! statuses for the post's tracking code or its text.

use reqwest::Client;
use url::Url;

use super::{OutPost, PublishError, ReplyTo, Sent};
use crate::platform::mastodon::{plain, NewStatus, Status};

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

    /// Posts with this visibility (`public`, `unlisted`, `private`, `direct`).
    pub fn with_visibility(mut self, visibility: &str) -> Self {
        self.visibility = visibility.to_string();
        self
    }

    /// Posts the status, with the post's id as its `Idempotency-Key`.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let in_reply_to_id = match &post.reply {
            Some(ReplyTo::Mastodon { status_id }) => Some(status_id.as_str()),
            _ => None,
        };
        let status = self
            .account
            .post_status(&NewStatus {
                text: &post.text,
                visibility: &self.visibility,
                language: post.lang.as_deref(),
                in_reply_to_id,
                idempotency_key: &post.id,
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

fn sent(s: Status) -> Sent {
    Sent {
        url: s.url.or(s.uri),
        remote_id: s.id,
        published_at: s.created_at,
        cid: None,
    }
}
