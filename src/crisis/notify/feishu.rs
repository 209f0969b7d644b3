//! Feishu (飞书) / Lark bot: `POST <base>/open-apis/bot/v2/hook/<hook>` with body
//! `{"timestamp":"<s>","sign":S,"msg_type":"text","content":{"text":…}}`, where
//! S = base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = "")) when the bot has signature
//! verification on. Success is `{"code":0}`; 9499 and 11232 mean too many requests.

use chrono::{DateTime, Utc};
use reqwest::Client;
use url::Url;

use super::{hmac_sha256_base64, post_json, truncate_bytes, AlertMessage, SinkError, TextMessage};

/// Feishu takes up to 20 KB a request; an alert needs far less.
const TEXT_BYTES: usize = 4000;

/// A Feishu or Lark custom bot.
pub struct Feishu {
    http: Client,
    base_url: Url,
    hook: String,
    secret: Option<String>,
}

impl std::fmt::Debug for Feishu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feishu")
            .field("host", &self.base_url.host_str())
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// The `sign` field: `base64(HMAC-SHA256(key = "<s>\n<secret>", msg = ""))`. Feishu's scheme
/// uses the timestamp and secret as the key and signs nothing.
pub fn sign(secret: &str, timestamp_s: i64) -> String {
    hmac_sha256_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

impl Feishu {
    /// A bot by its hook id (the last part of its webhook URL), signed when `secret` is given.
    pub fn new(http: Client, base_url: Url, hook: String, secret: Option<String>) -> Self {
        Self {
            http,
            base_url,
            hook,
            secret,
        }
    }

    /// The request body for a message signed at `now`.
    pub fn body(&self, msg: &AlertMessage, now: DateTime<Utc>) -> serde_json::Value {
        self.signed(&msg.plain(), now)
    }

    /// The request body for a text message signed at `now`.
    pub fn text_body(&self, msg: &TextMessage, now: DateTime<Utc>) -> serde_json::Value {
        self.signed(&msg.plain, now)
    }

    fn signed(&self, text: &str, now: DateTime<Utc>) -> serde_json::Value {
        let mut body = serde_json::json!({
            "msg_type": "text",
            "content": { "text": truncate_bytes(text, TEXT_BYTES) },
        });
        if let Some(secret) = &self.secret {
            let ts = now.timestamp();
            body["timestamp"] = ts.to_string().into();
            body["sign"] = sign(secret, ts).into();
        }
        body
    }

    /// Sends one message, signed at `now`.
    pub async fn send(&self, msg: &AlertMessage, now: DateTime<Utc>) -> Result<(), SinkError> {
        self.post(self.body(msg, now)).await
    }

    /// Sends one text message, signed at `now`.
    pub async fn send_text(&self, msg: &TextMessage, now: DateTime<Utc>) -> Result<(), SinkError> {
        self.post(self.text_body(msg, now)).await
    }

    async fn post(&self, body: serde_json::Value) -> Result<(), SinkError> {
        let mut url = self
            .base_url
            .join("open-apis/bot/v2/hook/")
            .map_err(|e| SinkError::Setup(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| SinkError::Setup("base_url cannot take a path".into()))?
            .pop_if_empty()
            .push(&self.hook);
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = post_json(self.http.post(url), body).await?;
        code(&answer)
    }
}

fn code(answer: &str) -> Result<(), SinkError> {
    let v: serde_json::Value = serde_json::from_str(answer).map_err(|_| {
        SinkError::Transient(format!(
            "unreadable answer: {}",
            crate::platform::http::snippet(answer)
        ))
    })?;
    // Older bots answer {"StatusCode":0,"StatusMessage":"success"}.
    let code = v["code"].as_i64().or_else(|| v["StatusCode"].as_i64());
    let msg = v["msg"]
        .as_str()
        .or_else(|| v["StatusMessage"].as_str())
        .unwrap_or("");
    let why = format!(
        "code {}: {}",
        code.unwrap_or(-1),
        crate::platform::http::snippet(msg)
    );
    match code {
        Some(0) => Ok(()),
        Some(9499) | Some(11232) => Err(SinkError::RateLimited {
            retry_after: None,
            why,
        }),
        None => Err(SinkError::Transient(format!(
            "answer without code: {}",
            crate::platform::http::snippet(answer)
        ))),
        // 19021 bad signature, 19024 keyword missing, 19022 IP not allowed, …
        Some(_) => Err(SinkError::Permanent(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_a_reference() {
        // Python: base64.b64encode(hmac.new(b"1700000000\nSECtest", b"", hashlib.sha256)
        //   .digest()).decode()
        assert_eq!(
            sign("SECtest", 1_700_000_000),
            "G7XpBpG8NgG02fJOAhX6FRAObIljmFoxVReo8I62pEk="
        );
    }

    #[test]
    fn codes_are_classified() {
        assert_eq!(code(r#"{"code":0,"msg":"success","data":{}}"#), Ok(()));
        assert_eq!(
            code(r#"{"StatusCode":0,"StatusMessage":"success"}"#),
            Ok(())
        );
        assert!(matches!(
            code(r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#),
            Err(SinkError::Permanent(w)) if w.contains("19021")
        ));
        assert!(matches!(
            code(r#"{"code":9499,"msg":"too many request"}"#),
            Err(SinkError::RateLimited { .. })
        ));
    }
}
