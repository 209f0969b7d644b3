//! The listening loop: every source polled on its interval from its stored cursor, what it read
//! handed to a [`MentionSink`] (the ingest stage, which classifies and stores), and the cursor
//! saved only after that. A failing source backs off and is retried; a source whose poll panics
//! is restarted; a bad item is logged, counted and skipped.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::config::{SourceConfig, SourceKind};
use super::error::PollError;
use super::firehose::FirehoseError;
use super::search::{BlueskySearch, MastodonKeywords};
use super::sink::{Batch, MentionSink};
use super::social::{BlueskyMentions, MastodonMentions};
use super::{feed, page, Parsed};
use crate::store::Store;

/// Why a source could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The HTTP client could not be built.
    #[error("the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// A secret's environment variable is not set.
    #[error(transparent)]
    Secret(#[from] crate::config::env::SecretError),
    /// The firehose's endpoint or queries are unusable.
    #[error(transparent)]
    Firehose(#[from] FirehoseError),
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
    pub fn from_config(cfg: &SourceConfig, tz: Tz) -> Result<Self, SourceError> {
        let http = crate::http::client(Duration::from_secs(30))?;
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
    let answer = request.send().await?;
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
    let body = answer.bytes().await?;
    Ok(Some((body.to_vec(), Some(next.to_string()))))
}

/// What one source has done since the listener started, counted where it is logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Polls tried.
    pub polls: u64,
    /// Polls that failed (an error answer, an unreadable body, no connection, a store that
    /// would not take the mentions).
    pub failures: u64,
    /// Polls that succeeded.
    pub ok: u64,
    /// Mentions read and handed to the sink, new or not: what a poll from a cursor that holds
    /// must keep at zero, whatever the store would de-duplicate.
    pub read: u64,
    /// Mentions stored for the first time.
    pub new: u64,
    /// Items skipped as unreadable.
    pub skipped: u64,
}

/// Polls sources from their stored cursors and hands what they read to a [`MentionSink`].
#[derive(Clone)]
pub struct Listener {
    /// The cursors' home: read before a poll, written after the sink took its mentions.
    store: Store,
    sink: Arc<dyn MentionSink>,
    stats: Arc<std::sync::Mutex<std::collections::BTreeMap<String, SourceStats>>>,
}

impl Listener {
    /// A listener keeping its cursors in `store` and handing mentions to `sink`.
    pub fn new(store: Store, sink: Arc<dyn MentionSink>) -> Self {
        Self {
            store,
            sink,
            stats: Arc::default(),
        }
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

    /// One poll of one source: hands what it read to the sink, then moves the cursor. Returns
    /// how many mentions were new. A failed poll (or a sink that failed) leaves the cursor
    /// where it was and is counted; the caller logs it and backs off.
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
        let cursor = self.store.meta().cursor(name)?;
        // A source's first poll brings back its history: stored, and counted by the next
        // warm-up, but not news for the live detector. A source that had nothing yet keeps no
        // cursor, so "first" is also "no successful poll since the listener started".
        let history = cursor.is_none() && self.stats(name).ok == 0;
        let (parsed, next) = source.poll(cursor.as_deref()).await?;
        for why in &parsed.skipped {
            warn!(source = name, why = %why, "Skipped an unreadable item");
        }
        for m in &parsed.mentions {
            // Which mentions a poll read (new or not), for whoever checks that a stored cursor
            // keeps a source from reading them again.
            debug!(source = name, mention = %m.id, "Read a mention");
        }
        let skipped = parsed.skipped.len() as u64;
        let read = parsed.mentions.len() as u64;
        self.count(name, |s| {
            s.skipped += skipped;
            s.read += read;
        });
        let new = if parsed.mentions.is_empty() {
            0
        } else {
            self.sink.ingest(Batch {
                source: name,
                mentions: parsed.mentions,
                history,
            })?
        };
        self.count(name, |s| s.new += new as u64);
        // Only now: a cursor saved before its mentions were taken would skip them for good
        // after a crash.
        if let Some(next) = next {
            self.store.meta().set_cursor(name, &next)?;
        }
        debug!(source = name, read, new, "Polled");
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

    /// A sink that takes nothing: its store is full.
    struct Refusing(std::sync::Mutex<usize>);

    impl MentionSink for Refusing {
        fn ingest(&self, batch: Batch<'_>) -> Result<usize, crate::store::StoreError> {
            *self.0.lock().expect("lock") += batch.mentions.len();
            Err(crate::store::StoreError::Unreadable {
                why: "disk full".into(),
            })
        }
    }

    /// A sink that fails keeps the cursor where it was (the mentions are read again next
    /// time), and the poll counts as failed; what was handed to it is counted as read.
    #[tokio::test]
    async fn a_sink_that_fails_keeps_the_cursor() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        store.meta().set_cursor("m", "4").expect("cursor");
        let sink = Arc::new(Refusing(Default::default()));
        let listener = Listener::new(store.clone(), sink.clone());
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!([{
                    "id": "5",
                    "type": "mention",
                    "account": {"acct": "alice"},
                    "status": {
                        "id": "s5",
                        "content": "<p>hello</p>",
                        "created_at": Utc::now().to_rfc3339(),
                        "account": {"acct": "alice"},
                    },
                }])),
            )
            .mount(&server)
            .await;
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            url::Url::parse(&server.uri()).expect("url"),
            "token".into(),
        ));
        let e = listener.poll_once("m", &source).await.expect_err("fails");
        assert!(e.why.contains("disk full"), "{e}");
        assert_eq!(
            store.meta().cursor("m").expect("cursor").as_deref(),
            Some("4")
        );
        assert_eq!(*sink.0.lock().expect("lock"), 1);
        let stats = listener.stats("m");
        assert_eq!(
            (stats.polls, stats.failures, stats.ok, stats.read, stats.new),
            (1, 1, 0, 1, 0)
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
