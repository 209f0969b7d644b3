//! The listening loop: every source polled on its interval from its stored cursor, each new
//! mention classified and stored once, with its reply draft (when the inbox drafts one) in the
//! same store transaction. A failing source backs off and is retried; a source
//! whose poll panics is restarted; a bad item is logged, counted and skipped.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::config::{SourceConfig, SourceKind};
use super::search::{BlueskySearch, MastodonKeywords};
use super::social::{BlueskyMentions, MastodonMentions};
use super::{feed, page, Parsed};
use crate::classify::lead::mask;
use crate::classify::Classifier;
use crate::store::{Store, StoredMention};

/// Why a poll failed, and how long the server asked us to wait before the next one, if it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    pub why: String,
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for PollError {}

impl From<String> for PollError {
    fn from(why: String) -> Self {
        Self {
            why,
            retry_after: None,
        }
    }
}

impl From<crate::platform::Error> for PollError {
    fn from(e: crate::platform::Error) -> Self {
        // 429 and 503 alike: a server that says when to come back is listened to.
        let retry_after = e.retry_after();
        Self {
            why: e.to_string(),
            retry_after,
        }
    }
}

/// The longest a server's `Retry-After` may hold a source back: a bad header must not silence
/// it for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How long to wait before the next poll: the interval after a success; after `failures`
/// failures in a row, the interval doubled per failure up to ten intervals, and never less than
/// what the server asked for (capped at an hour).
pub fn next_wait(interval: Duration, failures: u32, retry_after: Option<Duration>) -> Duration {
    if failures == 0 {
        return interval;
    }
    let backoff = (interval * 2u32.saturating_pow(failures.min(8))).min(interval * 10);
    backoff.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER))
}

/// A source ready to poll.
pub enum Source {
    Mastodon(MastodonMentions),
    Bluesky(BlueskyMentions),
    Feed {
        http: reqwest::Client,
        url: url::Url,
    },
    Page {
        http: reqwest::Client,
        url: url::Url,
        selectors: page::Selectors,
        tz: Tz,
    },
    /// Bluesky posts matching search queries.
    BlueskySearch(BlueskySearch),
    /// Mastodon hashtag timelines or status searches.
    MastodonKeywords(MastodonKeywords),
    /// Bluesky posts matching keywords on the firehose (boxed: its matcher and connection
    /// make it the largest variant).
    BlueskyFirehose(Box<super::firehose::Firehose>),
}

impl Source {
    /// Builds a source, reading its secret from the environment.
    pub fn from_config(cfg: &SourceConfig, tz: Tz) -> Result<Self, String> {
        let http = crate::http::client(Duration::from_secs(30)).map_err(|e| e.to_string())?;
        let what = format!("source {:?}", cfg.name);
        let secret = |var: &str| crate::config::env::secret(var, &what);
        Ok(match &cfg.kind {
            SourceKind::Mastodon {
                base_url,
                token_env,
            } => Source::Mastodon(MastodonMentions::new(
                http,
                base_url.clone(),
                secret(token_env)?,
            )),
            SourceKind::Bluesky {
                pds_url,
                identifier,
                password_env,
            } => Source::Bluesky(BlueskyMentions::new(
                crate::platform::bluesky::Bluesky::new(
                    http,
                    pds_url.clone(),
                    identifier.clone(),
                    secret(password_env)?,
                ),
            )),
            SourceKind::Feed { url } => Source::Feed {
                http,
                url: url.clone(),
            },
            SourceKind::Page {
                url,
                selectors,
                timezone,
            } => Source::Page {
                http,
                url: url.clone(),
                selectors: selectors.clone(),
                tz: timezone.unwrap_or(tz),
            },
            SourceKind::BlueskySearch {
                pds_url,
                identifier,
                password_env,
                queries,
            } => Source::BlueskySearch(BlueskySearch::new(
                crate::platform::bluesky::Bluesky::new(
                    http,
                    pds_url.clone(),
                    identifier.clone(),
                    secret(password_env)?,
                ),
                queries.clone(),
            )),
            SourceKind::BlueskyFirehose {
                url,
                queries,
                plc_url,
            } => Source::BlueskyFirehose(Box::new(super::firehose::Firehose::new(
                http,
                url,
                queries,
                plc_url.clone(),
            )?)),
            SourceKind::MastodonHashtag {
                base_url,
                token_env,
                hashtags,
            } => Source::MastodonKeywords(MastodonKeywords::hashtags(
                http,
                base_url.clone(),
                token_env.as_deref().map(secret).transpose()?,
                hashtags,
            )),
            SourceKind::MastodonSearch {
                base_url,
                token_env,
                queries,
            } => Source::MastodonKeywords(MastodonKeywords::searches(
                http,
                base_url.clone(),
                secret(token_env)?,
                queries,
            )),
        })
    }

    /// One poll from `cursor`: what is new, and the cursor to store.
    pub async fn poll(&self, cursor: Option<&str>) -> Result<(Parsed, Option<String>), PollError> {
        match self {
            Source::Mastodon(s) => Ok(s.poll(cursor).await?),
            Source::Bluesky(s) => Ok(s.poll(cursor).await?),
            Source::BlueskySearch(s) => Ok(s.poll(cursor).await?),
            Source::MastodonKeywords(s) => Ok(s.poll(cursor).await?),
            Source::BlueskyFirehose(s) => s.poll(cursor).await,
            Source::Feed { http, url } => {
                let Some((body, next)) = conditional_get(http, url, cursor).await? else {
                    return Ok((Parsed::default(), cursor.map(str::to_string)));
                };
                Ok((feed::parse_named(url, &body)?, next))
            }
            Source::Page {
                http,
                url,
                selectors,
                tz,
            } => {
                let Some((body, next)) = conditional_get(http, url, cursor).await? else {
                    return Ok((Parsed::default(), cursor.map(str::to_string)));
                };
                let html = String::from_utf8_lossy(&body);
                let name = url.host_str().unwrap_or("page");
                Ok((
                    page::parse(name, url, &html, selectors, *tz, Utc::now()),
                    next,
                ))
            }
        }
    }
}

/// GET with `If-None-Match` / `If-Modified-Since` from the cursor (a small JSON object);
/// `None` when the server says nothing changed.
async fn conditional_get(
    http: &reqwest::Client,
    url: &url::Url,
    cursor: Option<&str>,
) -> Result<Option<(Vec<u8>, Option<String>)>, PollError> {
    let validators: serde_json::Value = cursor
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let mut request = http.get(url.clone());
    if let Some(etag) = validators["etag"].as_str() {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = validators["last_modified"].as_str() {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if answer.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !answer.status().is_success() {
        return Err(PollError {
            why: format!("{} from {}", answer.status(), url.host_str().unwrap_or("")),
            retry_after: crate::platform::http::retry_after(answer.headers()),
        });
    }
    let header = |h: reqwest::header::HeaderName| {
        answer
            .headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let next = serde_json::json!({
        "etag": header(reqwest::header::ETAG),
        "last_modified": header(reqwest::header::LAST_MODIFIED),
    });
    let body = answer
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok(Some((body.to_vec(), Some(next.to_string()))))
}

/// What one source has done since the listener started, counted where it is logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Polls tried.
    pub polls: u64,
    /// Polls that failed (an error answer, an unreadable body, no connection).
    pub failures: u64,
    /// Polls that succeeded.
    pub ok: u64,
    /// Mentions stored for the first time.
    pub new: u64,
    /// Items skipped as unreadable.
    pub skipped: u64,
}

/// Polls sources and stores what they find.
#[derive(Clone)]
pub struct Listener {
    store: Store,
    classifier: Arc<Classifier>,
    stats: Arc<std::sync::Mutex<std::collections::BTreeMap<String, SourceStats>>>,
    inbox: Option<Arc<crate::inbox::Drafter>>,
    /// Where new mentions go for live crisis detection, when it runs.
    live: Option<crate::crisis::live::LiveSender>,
}

impl Listener {
    pub fn new(store: Store, classifier: Arc<Classifier>) -> Self {
        Self {
            store,
            classifier,
            stats: Arc::default(),
            inbox: None,
            live: None,
        }
    }

    /// Drafts replies to new mentions into the inbox's queue.
    pub fn with_inbox(self, inbox: Option<Arc<crate::inbox::Drafter>>) -> Self {
        Self { inbox, ..self }
    }

    /// Also sends each new mention to the live crisis detector.
    pub fn with_live(mut self, live: crate::crisis::live::LiveSender) -> Self {
        self.live = Some(live);
        self
    }

    /// The counts of the source named `name` so far.
    pub fn stats(&self, name: &str) -> SourceStats {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    fn count(&self, name: &str, f: impl FnOnce(&mut SourceStats)) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(stats.entry(name.to_string()).or_default());
    }

    /// One poll of one source: classifies and stores new mentions, moves the cursor. Returns
    /// how many mentions were new. A failed poll leaves the cursor where it was and is
    /// counted; the caller logs it and backs off.
    pub async fn poll_once(&self, name: &str, source: &Source) -> Result<usize, PollError> {
        self.count(name, |s| s.polls += 1);
        let result = self.poll_inner(name, source).await;
        match result {
            Ok(_) => self.count(name, |s| s.ok += 1),
            Err(_) => self.count(name, |s| s.failures += 1),
        }
        result
    }

    async fn poll_inner(&self, name: &str, source: &Source) -> Result<usize, PollError> {
        let cursor = self.store.cursor(name).map_err(|e| e.to_string())?;
        // A source's first poll brings back its history: stored, and counted by the next
        // warm-up, but not news for the live detector. A source that had nothing yet keeps no
        // cursor, so "first" is also "no successful poll since the listener started".
        let history = cursor.is_none() && self.stats(name).ok == 0;
        let (parsed, next) = source.poll(cursor.as_deref()).await?;
        for why in &parsed.skipped {
            warn!(source = name, why = %why, "Skipped an unreadable item");
        }
        let skipped = parsed.skipped.len() as u64;
        self.count(name, |s| s.skipped += skipped);
        let mut new = 0;
        for m in parsed.mentions {
            let c = self.classifier.classify(&m.text, Some(&m.author));
            let text = mask(&m.text);
            let record = StoredMention::new(m, name, &c);
            // The draft is written with the mention, in one transaction: a crash between the
            // two can no longer leave a stored mention that was never drafted.
            let verdict = self.inbox.as_ref().map(|d| d.draft(&record, Utc::now()));
            let draft = match &verdict {
                Some(crate::inbox::Verdict::Draft(item)) => Some(item.as_ref()),
                _ => None,
            };
            let ingested = self
                .store
                .insert_mention_with_draft(&record, draft)
                .map_err(|e| e.to_string())?;
            if ingested.new {
                new += 1;
                match (&verdict, ingested.queued, draft) {
                    (_, Some(id), Some(item)) => info!(
                        item = id,
                        priority = item.priority.as_str(),
                        template = %item.template,
                        "Reply drafted"
                    ),
                    (Some(crate::inbox::Verdict::Skip(why)), _, _) => {
                        tracing::debug!(mention = %record.mention.id, why = %why, "No reply drafted")
                    }
                    _ => {}
                }
                if let Some(live) = self.live.as_ref().filter(|_| !history) {
                    // Never block polling on the detector: a full channel drops, loudly.
                    if let Err(e) =
                        live.try_send(crate::crisis::live::LiveMention::from_stored(&record))
                    {
                        warn!(source = name, error = %e, "Crisis detector is behind; mention not observed live");
                    }
                }
                info!(
                    source = name,
                    author = %record.mention.author,
                    intent = ?c.intent,
                    sentiment = c.sentiment.label.as_str(),
                    text = %text,
                    "Mention"
                );
            }
        }
        self.count(name, |s| s.new += new as u64);
        if let Some(next) = next {
            self.store
                .set_cursor(name, &next)
                .map_err(|e| e.to_string())?;
        }
        Ok(new)
    }

    /// Polls one source every `interval` until `shutdown`; a failure backs off (see
    /// [`next_wait`]), a panic in a poll is caught and the source goes on.
    pub async fn run_source(
        self,
        name: String,
        source: Arc<Source>,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut failures: u32 = 0;
        loop {
            let mut retry_after = None;
            let poll = {
                let (me, name, source) = (self.clone(), name.clone(), source.clone());
                tokio::spawn(async move { me.poll_once(&name, &source).await })
            };
            match poll.await {
                Ok(Ok(_)) => failures = 0,
                Ok(Err(e)) => {
                    failures += 1;
                    retry_after = e.retry_after;
                    warn!(source = %name, error = %e, failures, retry_after = ?e.retry_after, "Source poll failed; backing off");
                }
                Err(e) => {
                    failures += 1;
                    self.count(&name, |s| {
                        s.polls += 1;
                        s.failures += 1;
                    });
                    warn!(source = %name, error = %e, "Source poll crashed; restarting it");
                }
            }
            let wait = next_wait(interval, failures, retry_after);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_waits_as_long_as_a_503_asks() {
        let e = PollError::from(crate::platform::Error::Unavailable {
            message: "down for maintenance".into(),
            retry_after: Some(Duration::from_secs(600)),
        });
        assert_eq!(e.retry_after, Some(Duration::from_secs(600)));
        assert_eq!(
            next_wait(Duration::from_secs(60), 1, e.retry_after),
            Duration::from_secs(600)
        );
    }

    /// A notification as mastodon-mock answers it.
    fn notification(id: &str, text: &str) -> serde_json::Value {
        serde_json::json!([{
            "id": id,
            "type": "mention",
            "account": {"acct": "alice"},
            "status": {
                "id": format!("s{id}"),
                "content": format!("<p>{text}</p>"),
                "created_at": Utc::now().to_rfc3339(),
                "account": {"acct": "alice"},
            },
        }])
    }

    /// The live detector gets what is news: not a first poll's history, but everything after a
    /// first poll, even one that found nothing and so left no cursor (an account never mentioned
    /// before: the bug that made the end-to-end crisis test miss its first mention).
    #[tokio::test]
    async fn only_a_first_polls_history_is_kept_from_the_live_detector() {
        use wiremock::matchers::{method, path, query_param};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(crate::classify::Classifier::new(&[]).expect("classifier"));
        let server = MockServer::start().await;
        let base = url::Url::parse(&server.uri()).expect("url");
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            base,
            "token".into(),
        ));
        let (tx, mut rx) = crate::crisis::live::channel();
        let listener = Listener::new(store, classifier).with_live(tx);
        let poll = |answer: serde_json::Value| {
            Mock::given(method("GET"))
                .and(path("/api/v1/notifications"))
                .respond_with(ResponseTemplate::new(200).set_body_json(answer))
                .up_to_n_times(1)
        };

        // Nothing yet: no cursor is kept.
        poll(serde_json::json!([])).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 0);
        // The first mention after that is news, though the source still had no cursor.
        poll(notification("1", "first")).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        let live = rx
            .try_recv()
            .expect("the first mention reached the detector");
        assert!(live.id.ends_with(":s1"), "{}", live.id);
        // And so is the next one, read after the cursor.
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .and(query_param("min_id", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(notification("2", "next")))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        assert!(rx.try_recv().expect("next").id.ends_with(":s2"));
        assert_eq!(listener.stats("m").ok, 3);

        // A listener starting on a source with history and no cursor keeps that history away.
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(crate::classify::Classifier::new(&[]).expect("classifier"));
        let (tx, mut rx) = crate::crisis::live::channel();
        let listener = Listener::new(store, classifier).with_live(tx);
        poll(notification("7", "old news")).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        assert!(rx.try_recv().is_err(), "history reached the live detector");
    }

    /// A new mention that wants an answer is stored with its draft (one transaction); one
    /// that wants none is stored alone; a mention seen again adds nothing.
    #[tokio::test]
    async fn a_new_mention_is_stored_with_its_draft() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let keywords = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&keywords).expect("keywords");
        let replies = crate::inbox::templates::load(&keywords.join("replies.toml"))
            .expect("replies.toml")
            .expect("replies.toml exists");
        let drafter = crate::inbox::Drafter::new(
            replies,
            chrono_tz::Asia::Shanghai,
            Default::default(),
            [("mastodon".to_string(), "masto".to_string())]
                .into_iter()
                .collect(),
        );
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(Classifier::new(&groups).expect("classifier"));
        let listener = Listener::new(store.clone(), classifier).with_inbox(Some(Arc::new(drafter)));
        let server = MockServer::start().await;
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            url::Url::parse(&server.uri()).expect("url"),
            "token".into(),
        ));
        let mut answer = notification("1", "刹车失灵了，太危险，投诉！");
        answer.as_array_mut().expect("array").extend(
            notification("2", "今天路过春熙路")
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        answer[1]["status"]["id"] = "s2".into();
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&server)
            .await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 2);
        let ids: Vec<String> = store
            .mentions(&Default::default())
            .expect("mentions")
            .into_iter()
            .map(|m| m.mention.id)
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        let drafted: Vec<bool> = ids
            .iter()
            .map(|id| store.is_queued(id).expect("queued?"))
            .collect();
        assert_eq!(drafted.iter().filter(|d| **d).count(), 1, "{ids:?}");
        // The same answer again (no cursor moves a mock): nothing new, no second draft.
        store.set_cursor("m", "0").expect("cursor");
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 0);
        assert_eq!(
            store
                .queue_count(&crate::store::QueueQuery::default())
                .expect("count"),
            1
        );
    }

    #[test]
    fn waits_back_off_and_respect_the_server() {
        let s = Duration::from_secs;
        for (failures, retry_after, want) in [
            (0, None, s(60)),
            (0, Some(s(900)), s(60)),
            (1, None, s(120)),
            (2, None, s(240)),
            (9, None, s(600)),
            (1, Some(s(300)), s(300)),
            (1, Some(s(30)), s(120)),
            (1, Some(s(86_400)), s(3600)),
        ] {
            assert_eq!(
                next_wait(s(60), failures, retry_after),
                want,
                "{failures} failures, {retry_after:?}"
            );
        }
    }
}
