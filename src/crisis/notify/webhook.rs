//! Generic webhook: a JSON POST of the alert to a configured URL, for tools herald does not
//! speak to directly (an on-call pager, a ticket system).
//!
//! Headers as for publishing webhooks: `Idempotency-Key` (the same on every attempt of one
//! delivery: receivers de-duplicate on it), `X-Herald-Timestamp` (Unix seconds) and, when a
//! secret is configured, `X-Herald-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
//! ([`crate::platform::http::signature`]). Any 2xx answer is success.

use chrono::{DateTime, Utc};
use reqwest::Client;
use url::Url;

use super::{post_json, AlertMessage, SinkError, TextMessage};
use crate::store::DeliveryReason;

/// A webhook endpoint for alerts.
pub struct Webhook {
    http: Client,
    url: Url,
    secret: Option<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token in its query: host only.
        f.debug_struct("Webhook")
            .field("host", &self.url.host_str())
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// An endpoint, signed when `secret` is given.
    pub fn new(http: Client, url: Url, secret: Option<String>) -> Self {
        Self { http, url, secret }
    }

    /// The request body: the event, the level announced, the whole alert record, the plain
    /// text and the UI link.
    pub fn body(msg: &AlertMessage) -> serde_json::Value {
        serde_json::json!({
            "event": match msg.reason {
                DeliveryReason::Opened => "alert.opened",
                DeliveryReason::Escalated => "alert.escalated",
            },
            "level": msg.level,
            "alert": msg.record,
            "text": msg.plain(),
            "link": msg.link,
        })
    }

    /// The request body of a text message: its event, title, plain text, data and link.
    pub fn text_body(msg: &TextMessage) -> serde_json::Value {
        serde_json::json!({
            "event": msg.event,
            "title": msg.title,
            "text": msg.plain,
            "data": msg.data,
            "link": msg.link,
        })
    }

    /// Sends one message; `key` is the idempotency key, `now` the signing time.
    pub async fn send(
        &self,
        msg: &AlertMessage,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SinkError> {
        self.post(&Self::body(msg), key, now).await
    }

    /// Sends one text message; `key` is the idempotency key, `now` the signing time.
    pub async fn send_text(
        &self,
        msg: &TextMessage,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SinkError> {
        self.post(&Self::text_body(msg), key, now).await
    }

    async fn post(
        &self,
        body: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SinkError> {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let ts = now.timestamp();
        let mut request = self
            .http
            .post(self.url.clone())
            .header("Idempotency-Key", key)
            .header("X-Herald-Timestamp", ts.to_string());
        if let Some(secret) = &self.secret {
            request = request.header(
                "X-Herald-Signature",
                crate::platform::http::signature(secret, ts, &body),
            );
        }
        post_json(request, body).await.map(|_| ())
    }
}
