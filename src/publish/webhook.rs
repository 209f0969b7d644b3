//! Webhook: a JSON POST to a configured URL, for bridges to tools herald does not speak to
//! directly (WeChat or Weibo publishing tools, for instance).
//!
//! Headers: `Idempotency-Key` (the post's id, the same on every attempt: receivers must
//! de-duplicate on it), `X-Herald-Timestamp` (Unix seconds) and, when a secret is configured,
//! `X-Herald-Signature` ([`crate::platform::http::signature`]). A 2xx answer is
//! success; its JSON `id` and `url`, if present, are recorded. A webhook cannot be searched, so
//! an unconfirmed send is sent again with the same idempotency key.
//!
//! The body: `id`, `channel`, `scheduled_at`, `text`, `lang`, `source_code`, `reply`, and
//! `media`, the post's pictures as `{file, path, alt, mime, width, height}` (`path` is the
//! file on herald's machine; an empty list when it has none). Nothing is uploaded.

use chrono::Utc;
use reqwest::Client;
use url::Url;

use super::{OutPost, PublishError, Sent};
use crate::platform::http::{retry_after, signature, snippet, status_error};

/// A webhook endpoint.
pub struct Webhook {
    http: Client,
    channel: String,
    url: Url,
    secret: Option<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token in its query: show the host only.
        f.debug_struct("Webhook")
            .field("channel", &self.channel)
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook of channel `channel` at `url`, signing with `secret` if given.
    pub fn new(http: Client, channel: &str, url: Url, secret: Option<String>) -> Self {
        Self {
            http,
            channel: channel.to_string(),
            url,
            secret,
        }
    }

    /// Posts the post as JSON, signed when a secret is configured.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": post.id,
            "channel": self.channel,
            "scheduled_at": post.at,
            "text": post.text,
            "lang": post.lang,
            "source_code": post.source_code,
            "reply": post.reply,
            "media": post.media.iter().map(super::OutMedia::json).collect::<Vec<_>>(),
        }))
        .map_err(|e| PublishError::Setup(e.to_string()))?;
        let ts = Utc::now().timestamp();
        let mut request = self
            .http
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &post.id)
            .header("X-Herald-Timestamp", ts.to_string());
        if let Some(secret) = &self.secret {
            request = request.header("X-Herald-Signature", signature(secret, ts, &body));
        }
        let answer = request
            .body(body)
            .send()
            .await
            .map_err(PublishError::from_reqwest)?;
        let status = answer.status();
        if status.is_success() {
            let v: serde_json::Value = answer.json().await.unwrap_or(serde_json::Value::Null);
            return Ok(Sent {
                remote_id: v["id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| post.id.clone()),
                url: v["url"].as_str().map(str::to_string),
                published_at: Some(Utc::now()),
                cid: None,
            });
        }
        let ra = retry_after(answer.headers());
        let text = format!(
            "{status}: {}",
            snippet(&answer.text().await.unwrap_or_default())
        );
        Err(status_error(status, ra, text))
    }

    /// A webhook cannot be searched; resending with the same idempotency key is the contract.
    pub async fn find(&self, _post: &OutPost) -> Result<Option<Sent>, PublishError> {
        Ok(None)
    }
}
