//! Keyword sources: posts anyone writes about the brand, not only those addressed to it.
//!
//! - Bluesky `app.bsky.feed.searchPosts`, called through the account's PDS (which proxies it
//!   to the AppView) with the account's session.
//! - Mastodon hashtag timelines (`/api/v1/timelines/tag/:hashtag`) and status search
//!   (`/api/v2/search?type=statuses`).
//!
//! Each source keeps, per query or hashtag, how far it has read, in one small JSON cursor
//! stored by the listening loop. The cursor logic does not trust the server to honour its
//! paging hints: Bluesky's development AppView ignores `since` and `sort`, and some
//! Mastodon-compatible servers ignore `min_id` on search, so every answer is also filtered on
//! our side and a post is never emitted twice by the same source (the store's de-duplication by
//! id is a second line, not what paging relies on). This module does no storing and no
//! classifying: it returns [`Parsed`] and the next cursor.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::social::{bluesky_post, mastodon_status};
use super::{Mention, Parsed};
use crate::platform::bluesky::Bluesky;
use crate::platform::mastodon::Mastodon;
use crate::platform::Error as PlatformError;

/// Pages read per query and poll at most, so a long outage catches up in steps.
const MAX_PAGES: usize = 10;
/// Bluesky's largest `limit` for `searchPosts`.
const BLUESKY_PAGE: usize = 100;
/// Mastodon's largest `limit` for timelines and search.
const MASTODON_PAGE: usize = 40;
/// How far behind the newest post seen a Bluesky search still looks. Search orders posts by
/// `sortAt`, the earlier of when the post says it was written and when the AppView indexed it,
/// so a post indexed late lands *below* posts already seen; re-reading this window (and
/// remembering what was emitted in it) catches those without repeating anything.
pub const BLUESKY_LOOKBACK: TimeDelta = TimeDelta::minutes(15);
/// Post ids remembered for the look-back window at most, so the cursor stays small even for a
/// busy term (beyond this, the store's de-duplication by id still holds).
const MAX_SEEN: usize = 2_000;

/// Where a Bluesky search stands: per query, the newest `sortAt` seen; and the posts emitted
/// within the look-back window, with their `sortAt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlueskyCursor {
    /// Per query, the newest `sortAt` seen.
    #[serde(default)]
    pub queries: BTreeMap<String, DateTime<Utc>>,
    /// Post URIs emitted within the look-back window, with their `sortAt`.
    #[serde(default)]
    pub seen: BTreeMap<String, DateTime<Utc>>,
}

impl BlueskyCursor {
    /// Reads a stored cursor; an unreadable one counts as none (the source starts afresh and
    /// the store's de-duplication absorbs the overlap).
    pub fn load(stored: Option<&str>) -> Self {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// Forgets posts older than the look-back window of every query, then the oldest beyond
    /// 2,000 (so the cursor stays small for a busy term).
    pub fn prune(&mut self) {
        if let Some(oldest) = self.queries.values().min() {
            let keep_from = *oldest - BLUESKY_LOOKBACK;
            self.seen.retain(|_, at| *at >= keep_from);
        }
        if self.seen.len() > MAX_SEEN {
            let mut ats: Vec<DateTime<Utc>> = self.seen.values().copied().collect();
            ats.sort_unstable();
            let cut = ats[self.seen.len() - MAX_SEEN];
            self.seen.retain(|_, at| *at >= cut);
        }
    }
}

/// The time search orders a post view by: the earlier of `indexedAt` and the record's
/// `createdAt` (the AppView's `sortAt`).
fn sort_at(post: &Value) -> Option<DateTime<Utc>> {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (
        parse(&post["indexedAt"]),
        parse(&post["record"]["createdAt"]),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads one page of `searchPosts` for `query` into `out`, updating `cursor`. Returns whether
/// the page reached posts older than the query's look-back window (or the first page was read
/// on a first poll): either way, paging stops.
pub fn read_bluesky_page(
    query: &str,
    page: &Value,
    cursor: &mut BlueskyCursor,
    out: &mut Parsed,
) -> bool {
    let watermark = cursor.queries.get(query).copied();
    let mut newest = watermark;
    let mut reached_old = watermark.is_none();
    let Some(posts) = page["posts"].as_array() else {
        out.skipped
            .push(format!("search {query:?}: answer without a posts list"));
        return true;
    };
    for post in posts {
        let uri = post["uri"].as_str().unwrap_or_default();
        let Some(at) = sort_at(post) else {
            out.skipped
                .push(format!("search {query:?}: post {uri:?} without a time"));
            continue;
        };
        if watermark.is_some_and(|w| at < w - BLUESKY_LOOKBACK) {
            reached_old = true;
            continue;
        }
        if newest.is_none_or(|n| at > n) {
            newest = Some(at);
        }
        if uri.is_empty() {
            out.skipped
                .push(format!("search {query:?}: post without a uri"));
            continue;
        }
        if cursor.seen.contains_key(uri) {
            continue;
        }
        match bluesky_post(post) {
            Some(m) => {
                cursor.seen.insert(uri.to_string(), at);
                out.mentions.push(m);
            }
            None => out
                .skipped
                .push(format!("search {query:?}: post {uri:?} is unreadable")),
        }
    }
    if let Some(n) = newest {
        cursor.queries.insert(query.to_string(), n);
    }
    reached_old || posts.is_empty()
}

/// Posts matching some queries on Bluesky.
#[derive(Debug)]
pub struct BlueskySearch {
    account: Bluesky,
    queries: Vec<String>,
}

impl BlueskySearch {
    pub fn new(account: Bluesky, queries: Vec<String>) -> Self {
        Self { account, queries }
    }

    /// Posts new since `cursor` (a [`BlueskyCursor`] as JSON) for every query, and the new
    /// cursor. On a query's first poll only the newest page is read: herald listens from now.
    pub async fn poll(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Parsed, Option<String>), PlatformError> {
        let mut state = BlueskyCursor::load(cursor);
        // A query taken out of the configuration no longer holds posts in the window.
        state.queries.retain(|q, _| self.queries.contains(q));
        let mut out = Parsed::default();
        for query in &self.queries {
            let mut page_cursor: Option<String> = None;
            // Real AppViews honour `since` (on `sortAt`) and save us the filtering; the
            // development AppView ignores it, which read_bluesky_page copes with.
            let since = state
                .queries
                .get(query)
                .map(|w| (*w - BLUESKY_LOOKBACK).to_rfc3339());
            let mut pages = 0;
            loop {
                let limit = BLUESKY_PAGE.to_string();
                let mut params = vec![
                    ("q", query.as_str()),
                    ("limit", limit.as_str()),
                    ("sort", "latest"),
                ];
                if let Some(s) = &since {
                    params.push(("since", s.as_str()));
                }
                if let Some(c) = &page_cursor {
                    params.push(("cursor", c.as_str()));
                }
                let page = self
                    .account
                    .query("app.bsky.feed.searchPosts", &params)
                    .await?;
                let done = read_bluesky_page(query, &page, &mut state, &mut out);
                pages += 1;
                page_cursor = page["cursor"].as_str().map(str::to_string);
                if done || page_cursor.is_none() {
                    break;
                }
                if pages == MAX_PAGES {
                    out.skipped.push(format!(
                        "search {query:?}: more than {} new posts since the last poll; older ones not read",
                        MAX_PAGES * BLUESKY_PAGE
                    ));
                    break;
                }
            }
        }
        state.prune();
        out.mentions.sort_by_key(|m| m.created_at);
        let next =
            serde_json::to_string(&state).map_err(|e| PlatformError::Setup(e.to_string()))?;
        Ok((out, Some(next)))
    }
}

/// Mastodon ids are decimal strings of growing length: compare as numbers (which also orders
/// Pleroma's fixed-length base-62 ids, as their alphabet is in ASCII order).
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// Where a Mastodon keyword source stands: per hashtag or query, the newest status id seen.
pub type MastodonCursor = BTreeMap<String, String>;

/// Reads one page of statuses (a timeline page, or the `statuses` of a search answer) for
/// `key` into `out`: statuses not newer than `after` are dropped (a server may ignore
/// `min_id`). Returns the newest id on the page and how many statuses were newer than `after`.
pub fn read_mastodon_page(
    base: &url::Url,
    key: &str,
    statuses: &Value,
    after: Option<&str>,
    out: &mut Parsed,
) -> (Option<String>, usize) {
    let Some(list) = statuses.as_array() else {
        out.skipped
            .push(format!("{key}: answer without a list of statuses"));
        return (None, 0);
    };
    let mut newest: Option<String> = None;
    let mut fresh = 0;
    for s in list {
        // Mastodon's ids are decimal; Pleroma's and Akkoma's are base-62 of a fixed length.
        // Both order by length, then bytes (see `newer`).
        let Some(id) = s["id"].as_str().filter(|id| {
            !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric())
        }) else {
            out.skipped.push(format!("{key}: status without an id"));
            continue;
        };
        if after.is_some_and(|a| !newer(id, a)) {
            continue;
        }
        fresh += 1;
        if newest.as_deref().is_none_or(|n| newer(id, n)) {
            newest = Some(id.to_string());
        }
        match mastodon_status(base, s, None) {
            Some(m) => out.mentions.push(m),
            None => out
                .skipped
                .push(format!("{key}: status {id:?} is unreadable")),
        }
    }
    (newest, fresh)
}

/// What a Mastodon keyword source reads.
#[derive(Debug, Clone)]
enum MastodonFeed {
    /// Public statuses with a hashtag (without `#`).
    Hashtag(String),
    /// Statuses found by full-text search.
    Search(String),
}

impl MastodonFeed {
    /// The feed's key in the cursor: `#tag` for a hashtag, the query for a search.
    fn key(&self) -> String {
        match self {
            MastodonFeed::Hashtag(t) => format!("#{t}"),
            MastodonFeed::Search(q) => q.clone(),
        }
    }
}

/// Hashtag timelines or status searches on a Mastodon server, read through the platform kit's
/// client.
#[derive(Debug)]
pub struct MastodonKeywords {
    account: Mastodon,
    feeds: Vec<MastodonFeed>,
}

impl MastodonKeywords {
    /// Hashtag timelines (`hashtags` without `#`); the token is optional, as tag timelines are
    /// public on most servers.
    pub fn hashtags(
        http: reqwest::Client,
        base: url::Url,
        token: Option<String>,
        hashtags: &[String],
    ) -> Self {
        let feeds = hashtags
            .iter()
            .map(|h| MastodonFeed::Hashtag(h.clone()))
            .collect();
        Self {
            account: Mastodon::with_token(http, base, token),
            feeds,
        }
    }

    /// Status searches; Mastodon searches statuses only for a logged-in account.
    pub fn searches(
        http: reqwest::Client,
        base: url::Url,
        token: String,
        queries: &[String],
    ) -> Self {
        let feeds = queries
            .iter()
            .map(|q| MastodonFeed::Search(q.clone()))
            .collect();
        Self {
            account: Mastodon::new(http, base, token),
            feeds,
        }
    }

    fn url_for(
        &self,
        feed: &MastodonFeed,
        min_id: Option<&str>,
    ) -> Result<url::Url, PlatformError> {
        let limit = MASTODON_PAGE.to_string();
        let mut url = match feed {
            MastodonFeed::Hashtag(tag) => {
                let mut u = self.account.url("api/v1/timelines/tag/")?;
                // As a path segment, so a tag can never reach another path or the query.
                u.path_segments_mut()
                    .map_err(|()| PlatformError::Setup("base_url cannot be a base".into()))?
                    .pop_if_empty()
                    .push(tag);
                u.query_pairs_mut().append_pair("limit", &limit);
                u
            }
            MastodonFeed::Search(q) => {
                let mut u = self.account.url("api/v2/search")?;
                u.query_pairs_mut()
                    .append_pair("q", q)
                    .append_pair("type", "statuses")
                    .append_pair("resolve", "false")
                    .append_pair("limit", &limit);
                u
            }
        };
        if let Some(m) = min_id {
            url.query_pairs_mut().append_pair("min_id", m);
        }
        Ok(url)
    }

    async fn get(&self, url: url::Url) -> Result<(Value, Option<url::Url>), PlatformError> {
        let (v, headers) = self.account.read(url, "answer").await?;
        let prev = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| link_rel(v, "prev"))
            .and_then(|u| url::Url::parse(&u).ok())
            // The token goes only to the configured server, whatever a Link header says (the
            // client refuses it too; here a foreign link only falls back on min_id).
            .filter(|u| u.origin() == self.account.base().origin());
        Ok((v, prev))
    }

    /// Statuses new since `cursor` (a [`MastodonCursor`] as JSON) for every hashtag or query,
    /// and the new cursor. On a key's first poll only the newest page is read.
    pub async fn poll(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Parsed, Option<String>), PlatformError> {
        let mut state: MastodonCursor = cursor
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        state.retain(|key, _| self.feeds.iter().any(|f| f.key() == *key));
        let mut out = Parsed::default();
        for feed in &self.feeds {
            let key = feed.key();
            let first = !state.contains_key(&key);
            let mut url = self.url_for(feed, state.get(&key).map(String::as_str))?;
            for page in 0..MAX_PAGES {
                let (v, prev) = self.get(url).await?;
                let statuses = match feed {
                    MastodonFeed::Hashtag(_) => &v,
                    MastodonFeed::Search(_) => &v["statuses"],
                };
                let after = state.get(&key).cloned();
                let (newest, fresh) = read_mastodon_page(
                    self.account.base(),
                    &key,
                    statuses,
                    after.as_deref(),
                    &mut out,
                );
                let Some(newest) = newest else { break };
                state.insert(key.clone(), newest.clone());
                // A short page is the last; a page with nothing new means the server ignored
                // min_id and sent its newest page again.
                if first || fresh < MASTODON_PAGE {
                    break;
                }
                if page + 1 == MAX_PAGES {
                    out.skipped.push(format!(
                        "{key}: more than {} new statuses since the last poll; some not read",
                        MAX_PAGES * MASTODON_PAGE
                    ));
                    break;
                }
                // Mastodon's documented way forward is the Link header's `prev`; min_id from
                // the newest id is the same page where a server sends no Link (search).
                url = match prev {
                    Some(p) => p,
                    None => self.url_for(feed, Some(&newest))?,
                };
            }
        }
        // A status with two watched hashtags, or found by two queries, is one mention.
        let mut ids = std::collections::HashSet::new();
        out.mentions.retain(|m| ids.insert(m.id.clone()));
        out.mentions.sort_by_key(|m| m.created_at);
        let next =
            serde_json::to_string(&state).map_err(|e| PlatformError::Setup(e.to_string()))?;
        Ok((out, Some(next)))
    }
}

/// The URL of the `rel` link in a `Link` header (RFC 8288), as Mastodon pages with it.
pub fn link_rel(header: &str, rel: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(k, v)| k.trim() == "rel" && v.trim().trim_matches('"') == rel)
            .then(|| target.to_string())
    })
}

/// Why [`parse_answer`] read nothing.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The answer is not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// The stand-in server URL that relative links resolve against does not parse.
    #[error("the base URL: {0}")]
    Base(#[from] url::ParseError),
}

/// Mentions from one answer of a keyword source, as the parsers above read it: used by the
/// property tests, which feed it arbitrary bytes.
pub fn parse_answer(kind: &str, body: &[u8]) -> Result<Parsed, AnswerError> {
    let v: Value = serde_json::from_slice(body)?;
    let mut out = Parsed::default();
    let base = url::Url::parse("https://mastodon.example/")?;
    match kind {
        "bluesky" => {
            let mut cursor = BlueskyCursor::default();
            read_bluesky_page("q", &v, &mut cursor, &mut out);
        }
        "mastodon-hashtag" => {
            read_mastodon_page(&base, "#tag", &v, None, &mut out);
        }
        _ => {
            read_mastodon_page(&base, "q", &v["statuses"], None, &mut out);
        }
    }
    Ok(out)
}

/// The mention ids in `parsed`, for tests and logs.
pub fn ids(parsed: &Parsed) -> Vec<&str> {
    parsed
        .mentions
        .iter()
        .map(|m: &Mention| m.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn post(rkey: &str, at: &str, text: &str) -> Value {
        json!({
            "uri": format!("at://did:plc:alice/app.bsky.feed.post/{rkey}"),
            "author": { "handle": "alice.test" },
            "record": { "text": text, "createdAt": at },
            "indexedAt": at,
        })
    }

    #[test]
    fn bluesky_first_poll_reads_one_page_and_remembers_the_newest() {
        let mut c = BlueskyCursor::default();
        let mut out = Parsed::default();
        let page = json!({ "posts": [post("b", "2026-11-22T10:05:00Z", "two"), post("a", "2026-11-22T10:00:00Z", "one")], "cursor": "x" });
        assert!(
            read_bluesky_page("q", &page, &mut c, &mut out),
            "a first poll stops after one page"
        );
        assert_eq!(out.mentions.len(), 2);
        assert_eq!(c.queries["q"], t("2026-11-22T10:05:00Z"));
    }

    #[test]
    fn bluesky_never_emits_a_post_twice_even_when_the_server_ignores_since() {
        let mut c = BlueskyCursor::default();
        let mut out = Parsed::default();
        let old = post("a", "2026-11-22T10:00:00Z", "one");
        read_bluesky_page("q", &json!({ "posts": [old.clone()] }), &mut c, &mut out);
        // The same post again, plus a newer one and one indexed late (sortAt before the
        // watermark but inside the look-back window).
        let mut out = Parsed::default();
        let page = json!({ "posts": [post("c", "2026-11-22T10:10:00Z", "new"), old, post("late", "2026-11-22T09:58:00Z", "late")] });
        read_bluesky_page("q", &page, &mut c, &mut out);
        let texts: Vec<&str> = out.mentions.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["new", "late"]);
        assert_eq!(c.queries["q"], t("2026-11-22T10:10:00Z"));
    }

    #[test]
    fn bluesky_paging_stops_below_the_look_back_window() {
        let mut c = BlueskyCursor::default();
        c.queries.insert("q".into(), t("2026-11-22T10:00:00Z"));
        let mut out = Parsed::default();
        let page = json!({ "posts": [post("n", "2026-11-22T10:01:00Z", "new"), post("o", "2026-11-22T09:00:00Z", "too old")] });
        assert!(read_bluesky_page("q", &page, &mut c, &mut out));
        assert_eq!(out.mentions.len(), 1);
        let page = json!({ "posts": [post("m", "2026-11-22T09:59:00Z", "within")] });
        assert!(
            !read_bluesky_page("q", &page, &mut c, &mut Parsed::default()),
            "still inside the window: read on"
        );
    }

    #[test]
    fn bluesky_a_post_matching_two_queries_is_emitted_once() {
        let mut c = BlueskyCursor::default();
        let mut out = Parsed::default();
        let page = json!({ "posts": [post("a", "2026-11-22T10:00:00Z", "奇骏 X-Trail")] });
        read_bluesky_page("奇骏", &page, &mut c, &mut out);
        read_bluesky_page("X-Trail", &page, &mut c, &mut out);
        assert_eq!(out.mentions.len(), 1);
        assert_eq!(c.queries.len(), 2, "each query keeps its own place");
    }

    #[test]
    fn bluesky_sort_at_is_the_earlier_time() {
        let p = json!({ "indexedAt": "2026-11-22T10:00:00Z", "record": { "createdAt": "2026-11-22T11:00:00Z" } });
        assert_eq!(sort_at(&p), Some(t("2026-11-22T10:00:00Z")));
    }

    #[test]
    fn bluesky_cursor_forgets_what_left_the_window() {
        let mut c = BlueskyCursor::default();
        c.queries.insert("q".into(), t("2026-11-22T10:00:00Z"));
        c.seen.insert("old".into(), t("2026-11-22T09:00:00Z"));
        c.seen.insert("recent".into(), t("2026-11-22T09:50:00Z"));
        c.prune();
        assert_eq!(c.seen.keys().collect::<Vec<_>>(), ["recent"]);
        assert_eq!(
            BlueskyCursor::load(Some("not json")),
            BlueskyCursor::default()
        );
    }

    #[test]
    fn bluesky_unreadable_posts_are_skipped_and_counted() {
        let mut out = Parsed::default();
        let page = json!({ "posts": [ { "uri": "at://x/app.bsky.feed.post/1" }, { "uri": "at://x/app.bsky.feed.post/2", "indexedAt": "2026-11-22T10:00:00Z", "record": {} }, 7 ] });
        read_bluesky_page("q", &page, &mut BlueskyCursor::default(), &mut out);
        assert!(out.mentions.is_empty());
        assert_eq!(out.skipped.len(), 3, "{:?}", out.skipped);
    }

    fn status(id: &str, text: &str) -> Value {
        json!({ "id": id, "content": format!("<p>{text}</p>"), "created_at": "2026-11-22T10:00:00Z", "account": { "acct": "alice" } })
    }

    #[test]
    fn mastodon_pages_drop_what_is_not_newer_than_the_cursor() {
        let base = url::Url::parse("https://m.example/").expect("url");
        let mut out = Parsed::default();
        let page = json!([
            status("110", "new"),
            status("99", "seen"),
            status("100", "at cursor")
        ]);
        let (newest, fresh) = read_mastodon_page(&base, "#x", &page, Some("100"), &mut out);
        assert_eq!((newest.as_deref(), fresh), (Some("110"), 1));
        assert_eq!(ids(&out), ["mastodon:m.example:110"]);
        assert_eq!(out.mentions[0].text, "new");
    }

    #[test]
    fn mastodon_statuses_without_ids_or_text_are_skipped() {
        let base = url::Url::parse("https://m.example/").expect("url");
        let mut out = Parsed::default();
        let page = json!([{ "content": "x" }, { "id": "../1" }, { "id": "5", "created_at": "2026-11-22T10:00:00Z" }]);
        read_mastodon_page(&base, "#x", &page, None, &mut out);
        assert_eq!(out.skipped.len(), 3, "{:?}", out.skipped);
        let mut out = Parsed::default();
        read_mastodon_page(&base, "#x", &json!({ "error": "x" }), None, &mut out);
        assert_eq!(out.skipped.len(), 1);
    }

    #[test]
    fn link_headers_are_read_as_mastodon_sends_them() {
        let h = r#"<https://m.example/api/v1/timelines/tag/x?max_id=5&limit=40>; rel="next", <https://m.example/api/v1/timelines/tag/x?min_id=9&limit=40>; rel="prev""#;
        assert_eq!(
            link_rel(h, "prev").as_deref(),
            Some("https://m.example/api/v1/timelines/tag/x?min_id=9&limit=40")
        );
        assert!(link_rel(h, "next").is_some_and(|u| u.contains("max_id=5")));
        assert_eq!(link_rel("garbage", "prev"), None);
        assert_eq!(link_rel("", "prev"), None);
    }

    #[test]
    fn hashtags_stay_one_path_segment() {
        let s = MastodonKeywords::hashtags(
            reqwest::Client::new(),
            url::Url::parse("https://m.example/sub/").expect("url"),
            None,
            &[],
        );
        let u = s
            .url_for(&MastodonFeed::Hashtag("a/../b?c".into()), Some("7"))
            .expect("url");
        assert_eq!(
            u.as_str(),
            "https://m.example/sub/api/v1/timelines/tag/a%2F..%2Fb%3Fc?limit=40&min_id=7"
        );
    }
}
