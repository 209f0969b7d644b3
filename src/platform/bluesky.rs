//! The Bluesky / AT Protocol client: one account on its PDS, and Bluesky's text rules.
//!
//! - Sessions: `createSession`, then `refreshSession` when the access token expires (and a new
//!   login when the refresh token has expired too); every authenticated call renews once.
//! - Text ([`RichText`]): links are shown shortened and carried whole in link facets (as
//!   Bluesky's own app does, so a tracked link does not eat the 300-grapheme budget); mentions
//!   are resolved through the configured PDS (never a public service); `#tag` and Weibo-style
//!   `#话题#` become tag facets. Facet offsets are UTF-8 byte offsets. The [`MAX_GRAPHEMES`]
//!   limit is checked before sending.
//! - Posts: `com.atproto.repo.createRecord` of an `app.bsky.feed.post` under a record key the
//!   caller chooses, with the embed the caller built (pictures, a link card), and `getRecord`
//!   to look one up; reads (`app.bsky.*`) through [`Bluesky::query`].
//! - Pictures: `com.atproto.repo.uploadBlob` ([`Bluesky::upload_blob`]) returns the blob
//!   reference a post's embed names.
//! - Engagement: [`Bluesky::post_counts`] reads likes, reposts, replies and quotes of posts.
//! - Errors: XRPC error answers classified into [`Error`].

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use super::http::{retry_after, snippet, status_error};
use super::Error;

/// Bluesky's post length limit, in graphemes.
pub const MAX_GRAPHEMES: usize = 300;
const COLLECTION: &str = "app.bsky.feed.post";

/// A Bluesky account on a PDS.
pub struct Bluesky {
    http: Client,
    pds: Url,
    identifier: String,
    password: String,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for Bluesky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bluesky")
            .field("pds", &self.pds.as_str())
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
}

/// An XRPC error answer.
struct XrpcError {
    status: StatusCode,
    error: String,
    message: String,
    retry_after: Option<std::time::Duration>,
}

impl XrpcError {
    fn expired(&self) -> bool {
        self.error == "ExpiredToken"
            || (self.status == StatusCode::UNAUTHORIZED && self.error != "AuthenticationRequired")
    }

    fn into_error(self) -> Error {
        let text = format!("{} {}: {}", self.status.as_u16(), self.error, self.message);
        let waits = matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        // A bad token is a credentials problem whatever status carries it (but a 429 or 503
        // still says when to come back).
        if !waits && (self.error == "InvalidToken" || self.error == "ExpiredToken") {
            return Error::Auth(text);
        }
        status_error(self.status, self.retry_after, text)
    }
}

async fn xrpc_error(answer: reqwest::Response) -> XrpcError {
    let status = answer.status();
    let retry = retry_after(answer.headers()).or_else(|| {
        // The PDS sends `ratelimit-reset` as epoch seconds.
        let reset = answer
            .headers()
            .get("ratelimit-reset")?
            .to_str()
            .ok()?
            .parse::<i64>()
            .ok()?;
        (DateTime::from_timestamp(reset, 0)? - Utc::now())
            .to_std()
            .ok()
    });
    let body = answer.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    XrpcError {
        status,
        error: v["error"].as_str().unwrap_or("").to_string(),
        message: v["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| snippet(&body)),
        retry_after: retry,
    }
}

impl Bluesky {
    /// The account `identifier` (a handle or DID) on the PDS at `pds`, logging in with
    /// `password` (an app password) on first use.
    pub fn new(http: Client, pds: Url, identifier: String, password: String) -> Self {
        Self {
            http,
            pds,
            identifier,
            password,
            session: Mutex::new(None),
        }
    }

    fn xrpc(&self, method: &str) -> Result<Url, Error> {
        self.pds
            .join(&format!("xrpc/{method}"))
            .map_err(|e| Error::Setup(e.to_string()))
    }

    async fn create_session(&self) -> Result<Session, Error> {
        let answer = self
            .http
            .post(self.xrpc("com.atproto.server.createSession")?)
            .json(&json!({ "identifier": self.identifier, "password": self.password }))
            .send()
            .await
            .map_err(transient_lookup)?;
        if !answer.status().is_success() {
            return Err(xrpc_error(answer).await.into_error());
        }
        answer
            .json()
            .await
            .map_err(|e| Error::Transient(format!("unreadable session: {e}")))
    }

    async fn refresh(&self, old: &Session) -> Result<Session, Error> {
        let answer = self
            .http
            .post(self.xrpc("com.atproto.server.refreshSession")?)
            .bearer_auth(&old.refresh_jwt)
            .send()
            .await
            .map_err(transient_lookup)?;
        if answer.status().is_success() {
            return answer
                .json()
                .await
                .map_err(|e| Error::Transient(format!("unreadable session: {e}")));
        }
        // The refresh token expired too: log in again.
        self.create_session().await
    }

    /// The current session, created if there is none.
    async fn session(&self) -> Result<Session, Error> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.create_session().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    async fn renew(&self, stale: &Session) -> Result<Session, Error> {
        let mut guard = self.session.lock().await;
        // Another task may have refreshed already.
        if let Some(s) = guard.as_ref() {
            if s.access_jwt != stale.access_jwt {
                return Ok(s.clone());
            }
        }
        let s = self.refresh(stale).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Resolves a handle through the configured PDS.
    async fn resolve(&self, handle: &str) -> Option<String> {
        let mut url = self.xrpc("com.atproto.identity.resolveHandle").ok()?;
        url.query_pairs_mut().append_pair("handle", handle);
        let answer = self.http.get(url).send().await.ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let v: Value = answer.json().await.ok()?;
        v["did"].as_str().map(str::to_string)
    }

    /// Sends the request `build` makes with the session's access token; if the token has
    /// expired, renews the session once and sends again. Returns the session used and the
    /// answer: a success, or the error the PDS gave. `network` maps a failure to connect.
    async fn authorized<F>(
        &self,
        build: F,
        network: fn(reqwest::Error) -> Error,
    ) -> Result<(Session, Result<reqwest::Response, XrpcError>), Error>
    where
        F: Fn(&Session) -> Result<reqwest::RequestBuilder, Error>,
    {
        let mut session = self.session().await?;
        let mut renewed = false;
        loop {
            let answer = build(&session)?.send().await.map_err(network)?;
            if answer.status().is_success() {
                return Ok((session, Ok(answer)));
            }
            let e = xrpc_error(answer).await;
            if !renewed && e.expired() {
                session = self.renew(&session).await?;
                renewed = true;
                continue;
            }
            return Ok((session, Err(e)));
        }
    }

    /// An authenticated XRPC query (GET) on the PDS, renewing the session once if it expired.
    /// Listening uses it for `app.bsky.*` reads, which the PDS proxies to the AppView.
    pub async fn query(&self, method: &str, params: &[(&str, &str)]) -> Result<Value, Error> {
        let mut url = self.xrpc(method)?;
        url.query_pairs_mut().extend_pairs(params);
        let build = |s: &Session| Ok(self.http.get(url.clone()).bearer_auth(&s.access_jwt));
        match self.authorized(build, transient_lookup).await? {
            (_, Ok(answer)) => answer
                .json()
                .await
                .map_err(|e| Error::Transient(format!("unreadable {method}: {e}"))),
            (_, Err(e)) => Err(e.into_error()),
        }
    }
    /// The record of a post: display text, facets (mentions resolved), language, reply refs.
    /// Fails with [`Error::TooLong`] over [`MAX_GRAPHEMES`].
    pub async fn record(
        &self,
        post: &NewPost<'_>,
        created_at: DateTime<Utc>,
    ) -> Result<Value, Error> {
        let rich = RichText::parse(post.text);
        let graphemes = rich.text.graphemes(true).count();
        if graphemes > MAX_GRAPHEMES {
            return Err(Error::TooLong {
                len: graphemes,
                limit: MAX_GRAPHEMES,
                unit: "graphemes",
            });
        }
        let mut facets = Vec::new();
        for f in &rich.facets {
            let feature = match &f.kind {
                FacetKind::Link(uri) => {
                    json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
                }
                FacetKind::Tag(tag) => {
                    json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag })
                }
                FacetKind::Mention(handle) => match self.resolve(handle).await {
                    Some(did) => json!({ "$type": "app.bsky.richtext.facet#mention", "did": did }),
                    None => continue, // an unknown handle stays plain text
                },
            };
            facets.push(json!({ "index": { "byteStart": f.start, "byteEnd": f.end }, "features": [feature] }));
        }
        let mut record = json!({
            "$type": COLLECTION,
            "text": rich.text,
            "createdAt": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if let Some(lang) = post.lang {
            record["langs"] = json!([lang]);
        }
        if let Some(Thread { root, parent }) = &post.reply {
            record["reply"] = json!({
                "root": { "uri": root.uri, "cid": root.cid },
                "parent": { "uri": parent.uri, "cid": parent.cid },
            });
        }
        if let Some(embed) = post.embed {
            record["embed"] = embed.clone();
        }
        Ok(record)
    }

    /// Creates the post under record key `rkey`, stamped `created_at`. A key can hold one
    /// record only, so a resend cannot post twice: if the key is taken, the post already there
    /// is returned.
    pub async fn create_post(
        &self,
        rkey: &str,
        post: &NewPost<'_>,
        created_at: DateTime<Utc>,
    ) -> Result<Record, Error> {
        let record = self.record(post, created_at).await?;
        let url = self.xrpc("com.atproto.repo.createRecord")?;
        let build = |s: &Session| {
            Ok(self.http.post(url.clone()).bearer_auth(&s.access_jwt).json(
                &json!({ "repo": s.did, "collection": COLLECTION, "rkey": rkey, "record": record }),
            ))
        };
        let e = match self.authorized(build, Error::from_reqwest).await? {
            (session, Ok(answer)) => {
                let v: Value = answer.json().await.map_err(|e| {
                    Error::Unconfirmed(format!("unreadable answer to createRecord: {e}"))
                })?;
                return Ok(Record {
                    uri: v["uri"].as_str().unwrap_or_default().to_string(),
                    cid: v["cid"].as_str().map(str::to_string),
                    url: web_url(&session.handle, rkey),
                    created_at: Some(created_at),
                });
            }
            (_, Err(e)) => e,
        };
        // The record key may be taken: this post is already there (an earlier, unconfirmed
        // send). The reference PDS answers a taken key with a 500, so look on any 5xx too.
        if e.status.is_server_error()
            || e.message.contains("already exists")
            || e.error == "RecordAlreadyExists"
        {
            if let Some(found) = self.get_post(rkey).await? {
                return Ok(found);
            }
        }
        Err(e.into_error())
    }

    /// Uploads `bytes` of type `mime` as a blob (`com.atproto.repo.uploadBlob`) and returns its
    /// reference (`{"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}`) for an embed.
    /// The PDS keeps a blob no record names for a while only, so the post must follow soon.
    pub async fn upload_blob(&self, bytes: Vec<u8>, mime: &str) -> Result<Value, Error> {
        let url = self.xrpc("com.atproto.repo.uploadBlob")?;
        let build = |s: &Session| {
            Ok(self
                .http
                .post(url.clone())
                .bearer_auth(&s.access_jwt)
                .header(reqwest::header::CONTENT_TYPE, mime)
                .body(bytes.clone()))
        };
        match self.authorized(build, Error::from_reqwest).await? {
            (_, Ok(answer)) => {
                let v: Value = answer.json().await.map_err(|e| {
                    Error::Unconfirmed(format!("unreadable answer to uploadBlob: {e}"))
                })?;
                let blob = v["blob"].clone();
                if blob_cid(&blob).is_none() {
                    return Err(Error::Unconfirmed(
                        "uploadBlob answered without a blob reference".into(),
                    ));
                }
                Ok(blob)
            }
            (_, Err(e)) => Err(e.into_error()),
        }
    }

    /// The account's post under record key `rkey`: `Ok(None)` means there is certainly none.
    /// A lookup: no clear answer is only a transient failure.
    pub async fn get_post(&self, rkey: &str) -> Result<Option<Record>, Error> {
        let session = self.session().await?;
        let mut url = self.xrpc("com.atproto.repo.getRecord")?;
        url.query_pairs_mut()
            .append_pair("repo", &session.did)
            .append_pair("collection", COLLECTION)
            .append_pair("rkey", rkey);
        let answer = self.http.get(url).send().await.map_err(transient_lookup)?;
        if answer.status().is_success() {
            let v: Value = answer
                .json()
                .await
                .map_err(|e| Error::Transient(format!("unreadable record: {e}")))?;
            let created_at = v["value"]["createdAt"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            return Ok(Some(Record {
                uri: v["uri"].as_str().unwrap_or_default().to_string(),
                cid: v["cid"].as_str().map(str::to_string),
                url: web_url(&session.handle, rkey),
                created_at,
            }));
        }
        let e = xrpc_error(answer).await;
        if e.error == "RecordNotFound" || e.message.contains("Could not locate record") {
            return Ok(None);
        }
        Err(match e.into_error() {
            Error::Rejected(m) => Error::Transient(m),
            other => other,
        })
    }
}

/// How many posts `app.bsky.feed.getPosts` returns from one call.
pub const POSTS_PER_READ: usize = 25;

/// The engagement counters of one post, as the AppView counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
    pub quotes: u64,
}

impl Bluesky {
    /// The counters of the posts `uris` (`at://` URIs), read [`POSTS_PER_READ`] at a time with
    /// `app.bsky.feed.getPosts` through the PDS (which proxies it to the AppView). A post the
    /// AppView no longer has (deleted) is missing from the answer: the caller records it as
    /// gone.
    pub async fn post_counts(
        &self,
        uris: &[String],
    ) -> Result<std::collections::BTreeMap<String, Counts>, Error> {
        let mut out = std::collections::BTreeMap::new();
        for batch in uris.chunks(POSTS_PER_READ) {
            let params: Vec<(&str, &str)> = batch.iter().map(|u| ("uris", u.as_str())).collect();
            let v = self.query("app.bsky.feed.getPosts", &params).await?;
            for p in v["posts"].as_array().into_iter().flatten() {
                let Some(uri) = p["uri"].as_str() else {
                    continue;
                };
                if !batch.iter().any(|b| b == uri) {
                    continue;
                }
                out.insert(
                    uri.to_string(),
                    Counts {
                        likes: p["likeCount"].as_u64().unwrap_or(0),
                        reposts: p["repostCount"].as_u64().unwrap_or(0),
                        replies: p["replyCount"].as_u64().unwrap_or(0),
                        quotes: p["quoteCount"].as_u64().unwrap_or(0),
                    },
                );
            }
        }
        Ok(out)
    }
}

/// The CID of a blob reference (`ref.$link`).
pub fn blob_cid(blob: &Value) -> Option<&str> {
    blob["ref"]["$link"].as_str().filter(|c| !c.is_empty())
}

/// A lookup that did not answer changed nothing on the platform: retry it later.
fn transient_lookup(e: reqwest::Error) -> Error {
    Error::from_reqwest(e).for_lookup()
}

fn web_url(handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{handle}/post/{rkey}")
}

/// A post to create.
#[derive(Debug, Clone, Copy)]
pub struct NewPost<'a> {
    pub text: &'a str,
    /// Language code of the text, if known.
    pub lang: Option<&'a str>,
    /// The thread this post answers, for replies.
    pub reply: Option<Thread<'a>>,
    /// The record's `embed` (`app.bsky.embed.images`, `app.bsky.embed.external`), if any.
    pub embed: Option<&'a Value>,
}

/// Where a reply goes: the thread's root and the post answered.
#[derive(Debug, Clone, Copy)]
pub struct Thread<'a> {
    pub root: Ref<'a>,
    pub parent: Ref<'a>,
}

/// An AT Protocol strong reference, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Ref<'a> {
    pub uri: &'a str,
    pub cid: &'a str,
}

/// A post on the account's repository, as created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The `at://` URI.
    pub uri: String,
    /// The content id (to thread replies under it).
    pub cid: Option<String>,
    /// The post on bsky.app.
    pub url: String,
    /// The record's `createdAt`, when known.
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    pub start: usize,
    pub end: usize,
    pub kind: FacetKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetKind {
    Link(String),
    Mention(String),
    Tag(String),
}

/// Post text as Bluesky shows it, with facets at UTF-8 byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RichText {
    pub text: String,
    pub facets: Vec<Facet>,
}

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"https?://[^\s<>"'\p{Han}，。！？、；：）（【】《》「」]+"#).expect("static regex")
});
static MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s(（])(@([a-zA-Z0-9][a-zA-Z0-9-]*(?:\.[a-zA-Z0-9-]+)+))")
        .expect("static regex")
});
static HASHTAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s(（])(#([^\s#.,!?;:，。！？；：（）()]+)(#)?)").expect("static regex")
});

impl RichText {
    /// Shortens links (keeping them whole in facets) and finds mentions and hashtags.
    pub fn parse(input: &str) -> Self {
        let mut text = String::with_capacity(input.len());
        let mut facets = Vec::new();
        let mut last = 0;
        for m in LINK.find_iter(input) {
            let raw = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            text.push_str(&input[last..m.start()]);
            let start = text.len();
            text.push_str(&display_link(raw));
            facets.push(Facet {
                start,
                end: text.len(),
                kind: FacetKind::Link(raw.to_string()),
            });
            last = m.start() + raw.len();
        }
        text.push_str(&input[last..]);
        let in_link =
            |s: usize, e: usize, facets: &[Facet]| facets.iter().any(|f| s < f.end && e > f.start);
        let mut extra = Vec::new();
        for c in MENTION.captures_iter(&text) {
            let (Some(all), Some(handle)) = (c.get(1), c.get(2)) else {
                continue;
            };
            if !in_link(all.start(), all.end(), &facets) {
                extra.push(Facet {
                    start: all.start(),
                    end: all.end(),
                    kind: FacetKind::Mention(handle.as_str().trim_end_matches('.').to_string()),
                });
            }
        }
        for c in HASHTAG.captures_iter(&text) {
            let (Some(all), Some(tag)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let tag = tag.as_str();
            if tag.chars().all(|ch| ch.is_ascii_digit()) || tag.graphemes(true).count() > 64 {
                continue;
            }
            if !in_link(all.start(), all.end(), &facets) {
                extra.push(Facet {
                    start: all.start(),
                    end: all.end(),
                    kind: FacetKind::Tag(tag.to_string()),
                });
            }
        }
        facets.extend(extra);
        facets.sort_by_key(|f| f.start);
        Self { text, facets }
    }
}

/// `https://jincheng-nissan.example.com/models/x-trail?utm_…` → `jincheng-nissan.example.com/mo…`
fn display_link(url: &str) -> String {
    let bare = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    if bare.chars().count() <= 32 {
        bare.to_string()
    } else {
        let cut: String = bare.chars().take(30).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_use_utf8_byte_offsets() {
        let rich = RichText::parse("试驾 @alice.test 看 #奇骏# and #EV https://a.example/p?utm_source=sky&utm_medium=social 。");
        let slice = |f: &Facet| &rich.text[f.start..f.end];
        let got: Vec<(&str, &FacetKind)> =
            rich.facets.iter().map(|f| (slice(f), &f.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("@alice.test", &FacetKind::Mention("alice.test".into())),
                ("#奇骏#", &FacetKind::Tag("奇骏".into())),
                ("#EV", &FacetKind::Tag("EV".into())),
                (
                    "a.example/p?utm_source=sky&utm…",
                    &FacetKind::Link("https://a.example/p?utm_source=sky&utm_medium=social".into())
                ),
            ]
        );
        assert!(rich.text.ends_with("utm… 。"), "{}", rich.text);
    }

    #[test]
    fn short_links_stay_whole_and_numbers_are_not_tags() {
        let rich = RichText::parse("see https://a.example/x. Call #1 now");
        assert_eq!(rich.text, "see a.example/x. Call #1 now");
        assert_eq!(rich.facets.len(), 1);
    }

    #[test]
    fn token_errors_are_auth_unless_they_say_when_to_come_back() {
        let e = |status: u16, error: &str| XrpcError {
            status: StatusCode::from_u16(status).expect("status"),
            error: error.into(),
            message: "m".into(),
            retry_after: None,
        };
        assert!(matches!(
            e(400, "ExpiredToken").into_error(),
            Error::Auth(_)
        ));
        assert!(matches!(
            e(400, "InvalidToken").into_error(),
            Error::Auth(_)
        ));
        assert!(matches!(
            e(400, "InvalidRequest").into_error(),
            Error::Rejected(_)
        ));
        assert!(matches!(
            e(500, "InternalServerError").into_error(),
            Error::Transient(_)
        ));
        // A PDS timing out on our request: try again, it is not a refusal.
        assert!(matches!(
            e(408, "RequestTimeout").into_error(),
            Error::Transient(_)
        ));
        assert!(matches!(
            e(429, "ExpiredToken").into_error(),
            Error::RateLimited { .. }
        ));
        assert!(matches!(
            e(503, "ExpiredToken").into_error(),
            Error::Unavailable { .. }
        ));
    }
}
