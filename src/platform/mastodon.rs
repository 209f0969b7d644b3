//! The Mastodon client: one account on one instance, its bearer token, and Mastodon's rules.
//!
//! Written to Mastodon's documentation: the instance's character limit from
//! `/api/v2/instance` (every URL counts as 23 characters, [`weighted_length`]), statuses posted
//! with an `Idempotency-Key`, and errors classified by Mastodon's documented codes ([`classify`]),
//! with rate limits from `Retry-After` or `X-RateLimit-Reset` (ISO 8601; an epoch is accepted
//! too). Reads for listening ([`Mastodon::read`]: notifications, tag timelines, search) go
//! through the same client and token, which never leaves the instance; so do the engagement
//! counters of statuses ([`Mastodon::status_counts`]). What a status is for (a
//! scheduled post, a reply, a mention) is the caller's business.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use super::http::{retry_after, snippet, status_error};
use super::Error;

/// Every URL counts as this many characters, whatever its length.
const URL_WEIGHT: usize = 23;

/// A Mastodon account (or an anonymous reader of an instance's public timelines).
pub struct Mastodon {
    http: Client,
    base: Url,
    /// `None` for an anonymous reader.
    token: Option<String>,
    limits: OnceCell<super::limits::Limits>,
    account_id: OnceCell<String>,
    /// How long to wait for media processing ([`MEDIA_WAIT`] unless set).
    media_wait: Duration,
}

impl std::fmt::Debug for Mastodon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of every log line.
        f.debug_struct("Mastodon")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// A status, as Mastodon returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub id: String,
    pub url: Option<String>,
    pub uri: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The status's HTML; [`plain`] turns it into text.
    #[serde(default)]
    pub content: String,
}

/// A status to post.
#[derive(Debug, Clone, Copy)]
pub struct NewStatus<'a> {
    pub text: &'a str,
    /// `public`, `unlisted`, `private` or `direct`.
    pub visibility: &'a str,
    /// Language code of the text, if known.
    pub language: Option<&'a str>,
    /// The status this one answers.
    pub in_reply_to_id: Option<&'a str>,
    /// Sent as `Idempotency-Key`: the same key never posts twice.
    pub idempotency_key: &'a str,
    /// Uploaded media to attach, in order (`media_ids[]`), each finished processing.
    pub media_ids: &'a [String],
}

/// A picture to upload (`POST /api/v2/media`).
#[derive(Debug, Clone)]
pub struct NewMedia<'a> {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// A file name for the form part (Mastodon reads the type from the bytes and `mime`).
    pub file_name: &'a str,
    pub mime: &'a str,
    /// The alt text (`description`).
    pub description: &'a str,
    /// The focal point, x and y in -1..=1 (`focus=x,y`).
    pub focus: Option<(f32, f32)>,
}

/// What `POST /api/v2/media` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The media id to attach.
    pub id: String,
    /// Whether it is ready (200); `false` when the instance is still processing it (202).
    pub ready: bool,
}

/// The longest herald waits for an instance to finish processing a picture before it gives up
/// for now (a transient failure: the post is tried again later with the same media id).
pub const MEDIA_WAIT: Duration = Duration::from_secs(60);

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"https?://\S+").expect("static regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("static regex"));

/// The length Mastodon counts: characters, with every URL as 23.
pub fn weighted_length(text: &str) -> usize {
    let urls = URL.find_iter(text).count();
    let without = URL.replace_all(text, "");
    without.chars().count() + urls * URL_WEIGHT
}

/// Plain text of a status's HTML content, for comparing with what was sent.
pub fn plain(html: &str) -> String {
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
    /// An account on the instance at `base`, acting with `token`.
    pub fn new(http: Client, base: Url, token: String) -> Self {
        Self::with_token(http, base, Some(token))
    }

    /// An account with `token`, or without one: an anonymous reader of what the instance
    /// serves to anyone (tag timelines, on most instances).
    pub fn with_token(http: Client, base: Url, token: Option<String>) -> Self {
        Self {
            http,
            base,
            token,
            limits: OnceCell::new(),
            account_id: OnceCell::new(),
            media_wait: MEDIA_WAIT,
        }
    }

    /// Waits at most `wait` for the instance to finish processing a picture.
    pub fn with_media_wait(mut self, wait: Duration) -> Self {
        self.media_wait = wait;
        self
    }

    /// The instance's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` (`api/v1/notifications`) on the instance.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path)
            .map_err(|e| Error::Setup(e.to_string()))
    }

    /// A request with the token, when there is one.
    /// A GET on this instance, with the token: a successful answer, or why not (a lookup that got
    /// no clear answer is only worth trying again later).
    async fn lookup(&self, url: Url) -> Result<Response, Error> {
        let answer = self
            .authorised(self.http.get(url))
            .send()
            .await
            .map_err(|e| Error::from_reqwest(e).for_lookup())?;
        if !answer.status().is_success() {
            return Err(classify(answer).await.for_lookup());
        }
        Ok(answer)
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    /// GETs `url` (on this instance) with the account's token and reads the JSON answer; `what`
    /// names it in the error of an unreadable body (`notifications`). Returns the answer's
    /// headers too (paging `Link`s). A read: no clear answer is only a transient failure. A
    /// URL on another origin is refused, so the token never goes anywhere else, whatever a
    /// server's paging links say.
    pub async fn read(
        &self,
        url: Url,
        what: &str,
    ) -> Result<(serde_json::Value, HeaderMap), Error> {
        if url.origin() != self.base.origin() {
            return Err(Error::Setup(format!(
                "a read outside the instance ({})",
                url.host_str().unwrap_or("no host")
            )));
        }
        let answer = self.lookup(url).await?;
        let headers = answer.headers().clone();
        let body = answer
            .json()
            .await
            .map_err(|e| Error::Transient(format!("unreadable {what}: {e}")))?;
        Ok((body, headers))
    }

    /// The instance's status length limit; the default if the instance does not say.
    pub async fn limit(&self) -> usize {
        self.limits().await.text
    }

    /// The instance's limits on text and pictures (`GET /api/v2/instance`, read once), with
    /// Mastodon's defaults for what it does not say or when it cannot be read.
    pub async fn limits(&self) -> &super::limits::Limits {
        self.limits
            .get_or_init(|| async {
                let Ok(url) = self.url("api/v2/instance") else {
                    return super::limits::Limits::mastodon_default();
                };
                let answer = self.http.get(url).send().await;
                let json: Option<serde_json::Value> = match answer {
                    Ok(r) if r.status().is_success() => r.json().await.ok(),
                    _ => None,
                };
                json.map_or_else(super::limits::Limits::mastodon_default, |j| {
                    super::limits::Limits::from_mastodon_instance(&j)
                })
            })
            .await
    }

    /// Posts a status, after checking its length against the instance's limit.
    pub async fn post_status(&self, status: &NewStatus<'_>) -> Result<Status, Error> {
        let limit = self.limit().await;
        let len = weighted_length(status.text);
        if len > limit {
            return Err(Error::TooLong {
                len,
                limit,
                unit: "characters",
            });
        }
        let mut body =
            serde_json::json!({ "status": status.text, "visibility": status.visibility });
        if let Some(lang) = status.language {
            body["language"] = lang.into();
        }
        if let Some(id) = status.in_reply_to_id {
            body["in_reply_to_id"] = id.into();
        }
        if !status.media_ids.is_empty() {
            body["media_ids"] = status.media_ids.into();
        }
        let answer = self
            .authorised(self.http.post(self.url("api/v1/statuses")?))
            .header("Idempotency-Key", status.idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let code = answer.status();
        if code.is_success() {
            // The status exists now; an unreadable answer only hides its id, so reconcile.
            return answer
                .json()
                .await
                .map_err(|e| Error::Unconfirmed(format!("unreadable answer to a {code}: {e}")));
        }
        Err(classify(answer).await)
    }

    /// Uploads a picture (`POST /api/v2/media`, multipart: `file`, `description`, `focus`).
    /// 200 means it is ready, 202 that the instance is still processing it ([`Self::wait_ready`]
    /// waits for that). Media uploads carry no idempotency key on Mastodon: an upload without a
    /// clear answer may have left an unused media behind, which the instance deletes itself.
    pub async fn upload_media(&self, media: NewMedia<'_>) -> Result<Uploaded, Error> {
        let part = reqwest::multipart::Part::bytes(media.bytes)
            .file_name(media.file_name.to_string())
            .mime_str(media.mime)
            .map_err(|e| Error::Setup(format!("bad MIME type {:?}: {e}", media.mime)))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("description", media.description.to_string());
        if let Some((x, y)) = media.focus {
            form = form.text("focus", format!("{x},{y}"));
        }
        let answer = self
            .authorised(self.http.post(self.url("api/v2/media")?))
            .multipart(form)
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let code = answer.status();
        if !code.is_success() {
            return Err(classify(answer).await);
        }
        let v: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| Error::Unconfirmed(format!("unreadable answer to an upload: {e}")))?;
        let id = media_id(&v)
            .ok_or_else(|| Error::Unconfirmed("an upload answered without a media id".into()))?;
        Ok(Uploaded {
            id,
            ready: code == StatusCode::OK,
        })
    }

    /// Waits until the instance has processed media `id` (`GET /api/v1/media/:id`: 206 still
    /// processing, 200 ready, 422 failed), polling with a doubling pause (0.5 s to 5 s), for at
    /// most the media wait ([`MEDIA_WAIT`] unless set). Processing failed: refused with the
    /// instance's message. Not ready within the wait: a transient failure (try again later
    /// with the same id).
    pub async fn wait_ready(&self, id: &str) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(500);
        let url = self.url(&format!("api/v1/media/{}", urlencoding(id)))?;
        loop {
            let answer = self
                .authorised(self.http.get(url.clone()))
                .send()
                .await
                .map_err(|e| Error::from_reqwest(e).for_lookup())?;
            let code = answer.status();
            match code {
                StatusCode::OK => return Ok(()),
                StatusCode::PARTIAL_CONTENT => {}
                StatusCode::UNPROCESSABLE_ENTITY => {
                    let Error::Rejected(m) = classify(answer).await else {
                        return Err(Error::Rejected(format!("media {id}: processing failed")));
                    };
                    return Err(Error::Rejected(format!(
                        "media {id}: processing failed: {m}"
                    )));
                }
                _ => return Err(classify(answer).await.for_lookup()),
            }
            let waited = started.elapsed();
            if waited + pause > self.media_wait {
                return Err(Error::Transient(format!(
                    "media {id} still processing after {} s",
                    waited.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn account_id(&self) -> Result<&String, Error> {
        self.account_id
            .get_or_try_init(|| async {
                let answer = self
                    .authorised(
                        self.http
                            .get(self.url("api/v1/accounts/verify_credentials")?),
                    )
                    .send()
                    .await
                    .map_err(Error::from_reqwest)?;
                if !answer.status().is_success() {
                    return Err(classify(answer).await);
                }
                let v: serde_json::Value = answer
                    .json()
                    .await
                    .map_err(|e| Error::Transient(format!("unreadable account: {e}")))?;
                v["id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Transient("account without an id".into()))
            })
            .await
    }

    /// The account's own most recent statuses, newest first, at most `limit` (Mastodon caps it
    /// at 40). A lookup: no clear answer is only a transient failure.
    pub async fn own_statuses(&self, limit: u32) -> Result<Vec<Status>, Error> {
        let id = self.account_id().await?.clone();
        let mut url = self.url(&format!("api/v1/accounts/{id}/statuses"))?;
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
        let answer = self.lookup(url).await?;
        answer
            .json()
            .await
            .map_err(|e| Error::Transient(format!("unreadable statuses: {e}")))
    }
}

/// How many statuses Mastodon returns from one `GET /api/v1/statuses?id[]=…` (4.3+).
pub const STATUSES_PER_READ: usize = 20;

/// The engagement counters of one status, as Mastodon counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub replies: u64,
    pub reblogs: u64,
    pub favourites: u64,
}

impl Mastodon {
    /// The counters of the statuses `ids`, read [`STATUSES_PER_READ`] at a time with
    /// `GET /api/v1/statuses?id[]=…`. A status the instance no longer has (deleted, or not
    /// visible to the account) is simply missing from the answer: the caller records it as
    /// gone. A lookup: no clear answer is only a transient failure.
    pub async fn status_counts(
        &self,
        ids: &[String],
    ) -> Result<std::collections::BTreeMap<String, Counts>, Error> {
        let mut out = std::collections::BTreeMap::new();
        for batch in ids.chunks(STATUSES_PER_READ) {
            let mut url = self.url("api/v1/statuses")?;
            {
                let mut q = url.query_pairs_mut();
                for id in batch {
                    q.append_pair("id[]", id);
                }
            }
            let answer = self.lookup(url).await?;
            let statuses: Vec<serde_json::Value> = answer
                .json()
                .await
                .map_err(|e| Error::Transient(format!("unreadable statuses: {e}")))?;
            for s in statuses {
                let Some(id) = s["id"].as_str() else { continue };
                // Only the ids asked for: a server's answer names nothing else.
                if !batch.iter().any(|b| b == id) {
                    continue;
                }
                out.insert(
                    id.to_string(),
                    Counts {
                        replies: s["replies_count"].as_u64().unwrap_or(0),
                        reblogs: s["reblogs_count"].as_u64().unwrap_or(0),
                        favourites: s["favourites_count"].as_u64().unwrap_or(0),
                    },
                );
            }
        }
        Ok(out)
    }
}

/// The id of a media attachment answer (a string, or a number from a lax server).
fn media_id(v: &serde_json::Value) -> Option<String> {
    match &v["id"] {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A media id as one path segment: ids are digits on Mastodon; anything else is escaped.
fn urlencoding(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Turns an unsuccessful answer into an error, by Mastodon's documented codes (posting and the
/// listener's reads alike).
pub async fn classify(answer: Response) -> Error {
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| snippet(&body));
    let mut wait = retry_after(&headers);
    // Only a 429 may fall back on the rate-limit window: Mastodon sends `X-RateLimit-Reset`
    // on every answer, and it says nothing about when a 503 ends.
    if status == StatusCode::TOO_MANY_REQUESTS {
        wait = wait.or_else(|| rate_limit_reset(&headers, Utc::now()));
    }
    status_error(status, wait, format!("{status}: {message}"))
}

/// How long until `X-RateLimit-Reset`, seen at `now`: Mastodon documents an ISO 8601
/// timestamp; an epoch is accepted too.
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

    fn answer(status: u16, headers: &[(&str, String)], body: &str) -> Response {
        let mut b = axum::http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        Response::from(b.body(body.to_string()).expect("response"))
    }

    #[tokio::test]
    async fn only_a_429_waits_for_the_rate_limit_window() {
        let reset = (Utc::now() + chrono::TimeDelta::seconds(600)).to_rfc3339();
        let h = [("x-ratelimit-reset", reset)];
        let limited = classify(answer(429, &h, r#"{"error":"Too many requests"}"#)).await;
        assert!(
            matches!(limited, Error::RateLimited { retry_after: Some(d) } if d <= Duration::from_secs(600)),
            "{limited:?}"
        );
        // Mastodon sends the window's reset on every answer; a 503 is not told to wait for it.
        assert_eq!(
            classify(answer(503, &h, "<html>down</html>")).await,
            Error::Unavailable {
                message: "503 Service Unavailable: <html>down</html>".into(),
                retry_after: None
            }
        );
        assert_eq!(
            classify(answer(422, &[], r#"{"error":"Validation failed"}"#)).await,
            Error::Rejected("422 Unprocessable Entity: Validation failed".into())
        );
    }

    /// Listening reads go through the account's client: with its token on the instance, with
    /// none for an anonymous reader, never to another origin; an unreadable body is named.
    #[tokio::test]
    async fn reads_carry_the_token_only_to_the_instance() {
        use wiremock::matchers::{header, method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .and(header("authorization", "Bearer t0k"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!([]))
                    .insert_header("link", "<https://x.example/>; rel=\"prev\""),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/timelines/tag/x"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
            .mount(&server)
            .await;
        let base = Url::parse(&server.uri()).expect("url");
        let account = Mastodon::new(Client::new(), base.clone(), "t0k".into());
        let url = account.url("api/v1/notifications").expect("url");
        let (body, headers) = account.read(url, "notifications").await.expect("read");
        assert_eq!(body, serde_json::json!([]));
        assert!(headers.get("link").is_some());
        let elsewhere = Url::parse("http://127.0.0.1:9/api/v1/notifications").expect("url");
        assert!(matches!(
            account.read(elsewhere, "notifications").await,
            Err(Error::Setup(_))
        ));
        let anonymous = Mastodon::with_token(Client::new(), base, None);
        let tag = anonymous.url("api/v1/timelines/tag/x").expect("url");
        let e = anonymous.read(tag, "timeline").await.expect_err("not JSON");
        assert!(
            matches!(&e, Error::Transient(m) if m.starts_with("unreadable timeline")),
            "{e:?}"
        );
        let got = server.received_requests().await.expect("recorded");
        assert_eq!(got.len(), 2, "nothing went elsewhere");
        assert!(got[1].headers.get("authorization").is_none());
    }
}
