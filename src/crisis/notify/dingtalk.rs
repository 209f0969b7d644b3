//! DingTalk (钉钉) robot: `POST <base>/robot/send?access_token=T[&timestamp=<ms>&sign=S]` where
//! S = urlencode(base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret))) when the
//! robot has 加签 (signing) on. Body `{"msgtype":"text","text":{"content":…},"at":{"atMobiles":
//! […],"isAtAll":false}}`. Success is `{"errcode":0}`; 130101 means over 20 messages a minute.

use chrono::{DateTime, Utc};
use reqwest::Client;
use url::Url;

use super::wecom::errcode;
use super::{hmac_sha256_base64, post_json, truncate_bytes, AlertMessage, SinkError, TextMessage};

/// DingTalk's text limit is 20,000 bytes; far more than an alert needs, so keep it readable.
const TEXT_BYTES: usize = 4000;

/// A DingTalk robot.
pub struct DingTalk {
    http: Client,
    base_url: Url,
    token: String,
    secret: Option<String>,
    mobiles: Vec<String>,
}

impl std::fmt::Debug for DingTalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingTalk")
            .field("host", &self.base_url.host_str())
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// The `sign` parameter before URL encoding: `base64(HMAC-SHA256(secret, "<ms>\n<secret>"))`.
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_sha256_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

impl DingTalk {
    /// A robot by its access token, signed when `secret` is given.
    pub fn new(
        http: Client,
        base_url: Url,
        token: String,
        secret: Option<String>,
        mobiles: Vec<String>,
    ) -> Self {
        Self {
            http,
            base_url,
            token,
            secret,
            mobiles,
        }
    }

    /// The request body for a message.
    pub fn body(&self, msg: &AlertMessage) -> serde_json::Value {
        let mut content = truncate_bytes(&msg.plain(), TEXT_BYTES);
        // DingTalk only highlights an @ that also appears in the text.
        for m in &self.mobiles {
            content.push_str(&format!(" @{m}"));
        }
        serde_json::json!({
            "msgtype": "text",
            "text": { "content": content },
            "at": { "atMobiles": self.mobiles, "isAtAll": false },
        })
    }

    /// The request body for a text message (nobody is @-mentioned).
    pub fn text_body(msg: &TextMessage) -> serde_json::Value {
        serde_json::json!({
            "msgtype": "text",
            "text": { "content": truncate_bytes(&msg.plain, TEXT_BYTES) },
            "at": { "atMobiles": [], "isAtAll": false },
        })
    }

    /// Sends one message, signed at `now`.
    pub async fn send(&self, msg: &AlertMessage, now: DateTime<Utc>) -> Result<(), SinkError> {
        self.post(self.body(msg), now).await
    }

    /// Sends one text message, signed at `now`.
    pub async fn send_text(&self, msg: &TextMessage, now: DateTime<Utc>) -> Result<(), SinkError> {
        self.post(Self::text_body(msg), now).await
    }

    async fn post(&self, body: serde_json::Value, now: DateTime<Utc>) -> Result<(), SinkError> {
        let mut url = self
            .base_url
            .join("robot/send")
            .map_err(|e| SinkError::Setup(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("access_token", &self.token);
            if let Some(secret) = &self.secret {
                let ts = now.timestamp_millis();
                // append_pair form-encodes: '+' → %2B, '/' → %2F, '=' → %3D, as DingTalk wants.
                q.append_pair("timestamp", &ts.to_string());
                q.append_pair("sign", &sign(secret, ts));
            }
        }
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = post_json(self.http.post(url), body).await?;
        // 130101: send too fast, exceed 20 times per minute. 310000 (bad signature, keyword or
        // IP), 300001 (bad token), 43004 (robot off) are permanent.
        errcode(&answer, 130_101)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_a_reference() {
        // Python: base64.b64encode(hmac.new(b"SECtest", b"1700000000000\nSECtest",
        //   hashlib.sha256).digest()).decode()
        assert_eq!(
            sign("SECtest", 1_700_000_000_000),
            "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
        );
    }
}
