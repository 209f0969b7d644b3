//! WeCom (企业微信) group robot: `POST <base>/cgi-bin/webhook/send?key=<key>` with a `text`
//! (which can @ people by mobile number) or `markdown` message. The answer is HTTP 200 with
//! `{"errcode": 0}` on success; 45009 means over the robot's 20 messages a minute, -1 means busy.

use reqwest::Client;
use url::Url;

use super::{post_json, truncate_bytes, AlertMessage, SinkError};

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

    /// Sends one message.
    pub async fn send(&self, msg: &AlertMessage) -> Result<(), SinkError> {
        let mut url = self
            .base_url
            .join("cgi-bin/webhook/send")
            .map_err(|e| SinkError::Setup(e.to_string()))?;
        url.query_pairs_mut().append_pair("key", &self.key);
        let body = serde_json::to_vec(&self.body(msg)).unwrap_or_default();
        let answer = post_json(self.http.post(url), body).await?;
        errcode(&answer)
    }
}

/// Reads `{"errcode": N, "errmsg": …}` (shared with DingTalk, whose answers look the same).
pub(crate) fn errcode_of(answer: &str) -> Result<(i64, String), SinkError> {
    let v: serde_json::Value = serde_json::from_str(answer).map_err(|_| {
        SinkError::Transient(format!(
            "unreadable answer: {}",
            crate::publish::snippet(answer)
        ))
    })?;
    let code = v["errcode"].as_i64().ok_or_else(|| {
        SinkError::Transient(format!(
            "answer without errcode: {}",
            crate::publish::snippet(answer)
        ))
    })?;
    Ok((code, v["errmsg"].as_str().unwrap_or("").to_string()))
}

fn errcode(answer: &str) -> Result<(), SinkError> {
    let (code, errmsg) = errcode_of(answer)?;
    let why = format!("errcode {code}: {}", crate::publish::snippet(&errmsg));
    match code {
        0 => Ok(()),
        // api freq out of limit: the robot is muted for a while.
        45009 => Err(SinkError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(60)),
            why,
        }),
        // system busy
        -1 => Err(SinkError::Transient(why)),
        // 93000 invalid webhook url, 40008 invalid message type, 44004 empty text, …
        _ => Err(SinkError::Permanent(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_are_classified() {
        assert_eq!(errcode(r#"{"errcode":0,"errmsg":"ok"}"#), Ok(()));
        assert!(matches!(
            errcode(r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#),
            Err(SinkError::RateLimited { .. })
        ));
        assert!(matches!(
            errcode(r#"{"errcode":-1,"errmsg":"system busy"}"#),
            Err(SinkError::Transient(_))
        ));
        assert!(matches!(
            errcode(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#),
            Err(SinkError::Permanent(w)) if w.contains("93000")
        ));
        assert!(matches!(errcode("<html>"), Err(SinkError::Transient(_))));
    }
}
