//! Slack incoming webhook: `POST <webhook URL>` with `{"text": …, "blocks": […]}`. Success is
//! HTTP 200 with the body `ok`; 429 comes with Retry-After; 4xx answers (`invalid_payload`,
//! `no_service`, …) are permanent. The webhook URL is the credential.

use reqwest::Client;
use url::Url;

use super::{post_json, AlertMessage, SinkError, TextMessage};

/// A Slack incoming webhook.
pub struct Slack {
    http: Client,
    url: Url,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The path is the secret: host only.
        f.debug_struct("Slack")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl Slack {
    /// A webhook by its URL.
    pub fn new(http: Client, url: Url) -> Self {
        Self { http, url }
    }

    /// The request body for a message.
    pub fn body(&self, msg: &AlertMessage) -> serde_json::Value {
        Self::blocks(&msg.title(), &msg.slack())
    }

    /// The request body for a text message.
    pub fn text_body(msg: &TextMessage) -> serde_json::Value {
        Self::blocks(&msg.title, &msg.slack)
    }

    fn blocks(title: &str, text: &str) -> serde_json::Value {
        serde_json::json!({
            // The fallback for notifications; blocks are what the channel shows.
            "text": text,
            "blocks": [
                {
                    "type": "header",
                    // plain_text is not interpreted, but keep it within Slack's 150 characters.
                    "text": { "type": "plain_text", "text": super::message::sanitize(title, 150) },
                },
                {
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": text },
                },
            ],
        })
    }

    /// Sends one message.
    pub async fn send(&self, msg: &AlertMessage) -> Result<(), SinkError> {
        self.post(self.body(msg)).await
    }

    /// Sends one text message.
    pub async fn send_text(&self, msg: &TextMessage) -> Result<(), SinkError> {
        self.post(Self::text_body(msg)).await
    }

    async fn post(&self, body: serde_json::Value) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = post_json(self.http.post(self.url.clone()), body).await?;
        if answer.trim() == "ok" {
            Ok(())
        } else {
            // A 200 that is not "ok" is not Slack's success.
            Err(SinkError::Permanent(format!(
                "unexpected answer: {}",
                crate::platform::http::snippet(&answer)
            )))
        }
    }
}
