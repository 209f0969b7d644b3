//! Mastodon: `POST /api/v1/statuses` with an `Idempotency-Key`.
//!
//! Written to Mastodon's documentation: the instance's character limit from
//! `/api/v2/instance` (every URL counts as 23 characters), `in_reply_to_id` for replies, and
//! rate limits from `Retry-After` or `X-RateLimit-Reset` (ISO 8601; an epoch is accepted too).
//! To reconcile, it looks through the account's recent statuses for the post's tracking code or
//! its text.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use reqwest::{Client, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use super::{retry_after, snippet, OutPost, PublishError, ReplyTo, Sent};

/// Mastodon's default status length, used when the instance does not say.
const DEFAULT_LIMIT: usize = 500;
/// Every URL counts as this many characters, whatever its length.
const URL_WEIGHT: usize = 23;

/// A Mastodon account.
pub struct Mastodon {
    http: Client,
    base: Url,
    token: String,
    visibility: String,
    limit: OnceCell<usize>,
    account_id: OnceCell<String>,
}

impl std::fmt::Debug for Mastodon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of every log line.
        f.debug_struct("Mastodon")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Status {
    id: String,
    url: Option<String>,
    uri: Option<String>,
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    content: String,
}

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"https?://\S+").expect("static regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("static regex"));

/// The length Mastodon counts: characters, with every URL as 23.
pub fn weighted_length(text: &str) -> usize {
    let urls = URL.find_iter(text).count();
    let without = URL.replace_all(text, "");
    without.chars().count() + urls * URL_WEIGHT
}

/// Plain text of a status's HTML content, for comparing with what was sent.
fn plain(html: &str) -> String {
    let text = html
        .replace("<br>", "\n")
        .replace("<br />", "\n")
        .replace("</p><p>", "\n\n");
    let text = TAG.replace_all(&text, "");
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Mastodon {
    pub fn new(http: Client, base: Url, token: String) -> Self {
        Self {
            http,
            base,
            token,
            visibility: "public".to_string(),
            limit: OnceCell::new(),
            account_id: OnceCell::new(),
        }
    }

    /// Posts with this visibility (`public`, `unlisted`, `private`, `direct`).
    pub fn with_visibility(mut self, visibility: &str) -> Self {
        self.visibility = visibility.to_string();
        self
    }

    fn url(&self, path: &str) -> Result<Url, PublishError> {
        self.base
            .join(path)
            .map_err(|e| PublishError::Setup(e.to_string()))
    }

    /// The instance's status length limit; the default if the instance does not say.
    async fn limit(&self) -> usize {
        *self
            .limit
            .get_or_init(|| async {
                let Ok(url) = self.url("api/v2/instance") else {
                    return DEFAULT_LIMIT;
                };
                let answer = self.http.get(url).send().await;
                let json: Option<serde_json::Value> = match answer {
                    Ok(r) if r.status().is_success() => r.json().await.ok(),
                    _ => None,
                };
                json.and_then(|j| j["configuration"]["statuses"]["max_characters"].as_u64())
                    .map_or(DEFAULT_LIMIT, |n| n as usize)
            })
            .await
    }

    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let limit = self.limit().await;
        let len = weighted_length(&post.text);
        if len > limit {
            return Err(PublishError::TooLong {
                len,
                limit,
                unit: "characters",
            });
        }
        let mut body = serde_json::json!({ "status": post.text, "visibility": self.visibility });
        if let Some(lang) = &post.lang {
            body["language"] = lang.clone().into();
        }
        if let Some(ReplyTo::Mastodon { status_id }) = &post.reply {
            body["in_reply_to_id"] = status_id.clone().into();
        }
        let answer = self
            .http
            .post(self.url("api/v1/statuses")?)
            .bearer_auth(&self.token)
            .header("Idempotency-Key", &post.id)
            .json(&body)
            .send()
            .await
            .map_err(PublishError::from_reqwest)?;
        let status = answer.status();
        if status.is_success() {
            // The status exists now; an unreadable answer only hides its id, so reconcile.
            let s: Status = answer.json().await.map_err(|e| {
                PublishError::Unconfirmed(format!("unreadable answer to a {status}: {e}"))
            })?;
            return Ok(sent(s));
        }
        Err(classify(answer).await)
    }

    async fn account_id(&self) -> Result<&String, PublishError> {
        self.account_id
            .get_or_try_init(|| async {
                let answer = self
                    .http
                    .get(self.url("api/v1/accounts/verify_credentials")?)
                    .bearer_auth(&self.token)
                    .send()
                    .await
                    .map_err(PublishError::from_reqwest)?;
                if !answer.status().is_success() {
                    return Err(classify(answer).await);
                }
                let v: serde_json::Value = answer
                    .json()
                    .await
                    .map_err(|e| PublishError::Transient(format!("unreadable account: {e}")))?;
                v["id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| PublishError::Transient("account without an id".into()))
            })
            .await
    }

    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        let id = self.account_id().await?.clone();
        let mut url = self.url(&format!("api/v1/accounts/{id}/statuses"))?;
        url.query_pairs_mut().append_pair("limit", "40");
        let answer = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| match PublishError::from_reqwest(e) {
                // A lookup that did not answer changes nothing on the platform: try again later.
                PublishError::Unconfirmed(m) => PublishError::Transient(m),
                other => other,
            })?;
        if !answer.status().is_success() {
            return Err(match classify(answer).await {
                PublishError::Unconfirmed(m) => PublishError::Transient(m),
                other => other,
            });
        }
        let statuses: Vec<Status> = answer
            .json()
            .await
            .map_err(|e| PublishError::Transient(format!("unreadable statuses: {e}")))?;
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

/// Turns an unsuccessful answer into an error, by Mastodon's documented codes (the listener's
/// reads use it too).
pub(crate) async fn classify(answer: Response) -> PublishError {
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| snippet(&body));
    let message = format!("{status}: {message}");
    match status {
        StatusCode::TOO_MANY_REQUESTS => PublishError::RateLimited {
            retry_after: retry_after(&headers).or_else(|| rate_limit_reset(&headers, Utc::now())),
        },
        StatusCode::SERVICE_UNAVAILABLE => PublishError::Unavailable {
            retry_after: retry_after(&headers),
            message,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PublishError::Auth(message),
        s if s.is_server_error() => PublishError::Transient(message),
        StatusCode::REQUEST_TIMEOUT => PublishError::Transient(message),
        _ => PublishError::Rejected(message),
    }
}

/// `X-RateLimit-Reset`: Mastodon documents an ISO 8601 timestamp; an epoch is accepted too.
/// How long until `X-RateLimit-Reset` (an RFC 3339 time or epoch seconds), seen at `now`.
fn rate_limit_reset(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    let when = DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            v.parse::<f64>()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s as i64, 0))
        })?;
    (when - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_count_as_23() {
        let long = format!("买车 https://a.example/{}", "x".repeat(200));
        assert_eq!(weighted_length(&long), 3 + 23);
        assert_eq!(weighted_length("hello"), 5);
    }

    #[test]
    fn html_content_compares_as_text() {
        let html = "<p>Hi &amp; welcome<br>see <a href=\"https://x.example/a\"><span class=\"invisible\">https://</span>x.example/a</a></p>";
        assert_eq!(plain(html), "Hi & welcome see https://x.example/a");
    }

    #[test]
    fn rate_limit_reset_accepts_iso_and_epoch() {
        let now = DateTime::from_timestamp(1_796_083_200, 0).expect("time");
        let soon = now + chrono::TimeDelta::seconds(120);
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            soon.to_rfc3339().parse().expect("header"),
        );
        assert_eq!(rate_limit_reset(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            "x-ratelimit-reset",
            soon.timestamp().to_string().parse().expect("header"),
        );
        assert_eq!(rate_limit_reset(&h, now), Some(Duration::from_secs(120)));
        // A reset in the past asks for no wait.
        assert_eq!(
            rate_limit_reset(&h, soon + chrono::TimeDelta::seconds(1)),
            None
        );
    }
}
