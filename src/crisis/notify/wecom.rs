//! WeCom (企业微信) group robot: `POST <base>/cgi-bin/webhook/send?key=<key>` with a `text`
//! (which can @ people by mobile number) or `markdown` message. The answer is HTTP 200 with
//! `{"errcode": 0}` on success; 45009 means over the robot's 20 messages a minute, -1 means busy.

use reqwest::Client;
use url::Url;

use super::{post_json, truncate_bytes, AlertMessage, SinkError, TextMessage};

/// WeCom's limits: 2048 bytes of text, 4096 of markdown.
const TEXT_BYTES: usize = 2048;
const MARKDOWN_BYTES: usize = 4096;

/// A WeCom group robot.
pub struct WeCom {
    http: Client,
    base_url: Url,
    key: String,
    markdown: bool,
    mobiles: Vec<String>,
}

impl std::fmt::Debug for WeCom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is the robot's only credential: never shown.
        f.debug_struct("WeCom")
            .field("host", &self.base_url.host_str())
            .field("markdown", &self.markdown)
            .finish_non_exhaustive()
    }
}

impl WeCom {
    /// A robot at `base_url` (normally `https://qyapi.weixin.qq.com`) with its webhook key.
    pub fn new(
        http: Client,
        base_url: Url,
        key: String,
        markdown: bool,
        mobiles: Vec<String>,
    ) -> Self {
        Self {
            http,
            base_url,
            key,
            markdown,
            mobiles,
        }
    }

    /// The request body for a message.
    pub fn body(&self, msg: &AlertMessage) -> serde_json::Value {
        if self.markdown {
            serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "content": truncate_bytes(&msg.markdown(), MARKDOWN_BYTES) },
            })
        } else {
            serde_json::json!({
                "msgtype": "text",
                "text": {
                    "content": truncate_bytes(&msg.plain(), TEXT_BYTES),
                    "mentioned_mobile_list": self.mobiles,
                },
            })
        }
    }

    /// The request body for a text message (markdown when the robot is set to it; nobody
    /// is @-mentioned).
    pub fn text_body(&self, msg: &TextMessage) -> serde_json::Value {
        if self.markdown {
            serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "content": truncate_bytes(&msg.markdown, MARKDOWN_BYTES) },
            })
        } else {
            serde_json::json!({
                "msgtype": "text",
                "text": { "content": truncate_bytes(&msg.plain, TEXT_BYTES) },
            })
        }
    }

    /// Sends one message.
    pub async fn send(&self, msg: &AlertMessage) -> Result<(), SinkError> {
        self.post(self.body(msg)).await
    }

    /// Sends one text message.
    pub async fn send_text(&self, msg: &TextMessage) -> Result<(), SinkError> {
        self.post(self.text_body(msg)).await
    }

    async fn post(&self, body: serde_json::Value) -> Result<(), SinkError> {
        let mut url = self
            .base_url
            .join("cgi-bin/webhook/send")
            .map_err(|e| SinkError::Setup(e.to_string()))?;
        url.query_pairs_mut().append_pair("key", &self.key);
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = post_json(self.http.post(url), body).await?;
        // 45009: api freq out of limit. 93000 invalid webhook url, 40008 invalid message
        // type, 44004 empty text are permanent.
        errcode(&answer, RATE_LIMITED)
    }
}

/// Reads `{"errcode": N, "errmsg": …}` (WeCom's and DingTalk's answers look the same): 0 is
/// success, `rate_limited` is the robot's "too many messages a minute" (it is muted for about a
/// minute), -1 is "system busy", and anything else (bad key, token or signature, robot off,
/// bad message) will not get better by retrying.
/// WeCom's "api freq out of limit".
const RATE_LIMITED: i64 = 45009;

pub(crate) fn errcode(answer: &str, rate_limited: i64) -> Result<(), SinkError> {
    let v: serde_json::Value = serde_json::from_str(answer).map_err(|_| {
        SinkError::Transient(format!(
            "unreadable answer: {}",
            crate::platform::http::snippet(answer)
        ))
    })?;
    let code = v["errcode"].as_i64().ok_or_else(|| {
        SinkError::Transient(format!(
            "answer without errcode: {}",
            crate::platform::http::snippet(answer)
        ))
    })?;
    let errmsg = v["errmsg"].as_str().unwrap_or("");
    let why = format!("errcode {code}: {}", crate::platform::http::snippet(errmsg));
    match code {
        0 => Ok(()),
        c if c == rate_limited => Err(SinkError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(60)),
            why,
        }),
        -1 => Err(SinkError::Transient(why)),
        _ => Err(SinkError::Permanent(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_are_classified() {
        assert_eq!(
            errcode(r#"{"errcode":0,"errmsg":"ok"}"#, RATE_LIMITED),
            Ok(())
        );
        assert!(matches!(
            errcode(
                r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
                RATE_LIMITED
            ),
            Err(SinkError::RateLimited { .. })
        ));
        assert!(matches!(
            errcode(r#"{"errcode":-1,"errmsg":"system busy"}"#, RATE_LIMITED),
            Err(SinkError::Transient(_))
        ));
        assert!(matches!(
            errcode(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#, RATE_LIMITED),
            Err(SinkError::Permanent(w)) if w.contains("93000")
        ));
        assert!(matches!(
            errcode("<html>", RATE_LIMITED),
            Err(SinkError::Transient(_))
        ));
    }
}
