//! The listening loop: every source polled on its interval from its stored cursor, each new
//! mention classified and stored once. A failing source backs off and is retried; a source
//! whose poll panics is restarted; a bad item is logged, counted and skipped.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::config::{SourceConfig, SourceKind};
use super::social::{BlueskyMentions, MastodonMentions};
use super::{feed, page, Parsed};
use crate::classify::lead::mask;
use crate::classify::Classifier;
use crate::store::{Store, StoredMention};

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
}

impl Source {
    /// Builds a source, reading its secret from the environment.
    pub fn from_config(cfg: &SourceConfig, tz: Tz) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let secret = |var: &str| {
            std::env::var(var).map_err(|_| {
                format!(
                    "environment variable {var} is not set (source {:?})",
                    cfg.name
                )
            })
        };
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
            } => Source::Bluesky(BlueskyMentions::new(crate::publish::bluesky::Bluesky::new(
                http,
                pds_url.clone(),
                identifier.clone(),
                secret(password_env)?,
            ))),
            SourceKind::Feed { url } => Source::Feed {
                http,
                url: url.clone(),
            },
            SourceKind::Page { url, selectors } => Source::Page {
                http,
                url: url.clone(),
                selectors: selectors.clone(),
                tz,
            },
        })
    }

    /// One poll from `cursor`: what is new, and the cursor to store.
    pub async fn poll(&self, cursor: Option<&str>) -> Result<(Parsed, Option<String>), String> {
        match self {
            Source::Mastodon(s) => s.poll(cursor).await.map_err(|e| e.to_string()),
            Source::Bluesky(s) => s.poll(cursor).await.map_err(|e| e.to_string()),
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
) -> Result<Option<(Vec<u8>, Option<String>)>, String> {
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
        return Err(format!(
            "{} from {}",
            answer.status(),
            url.host_str().unwrap_or("")
        ));
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

/// Polls sources and stores what they find.
#[derive(Clone)]
pub struct Listener {
    store: Store,
    classifier: Arc<Classifier>,
    /// Where new mentions go for live crisis detection, when it runs.
    live: Option<crate::crisis::live::LiveSender>,
}

impl Listener {
    pub fn new(store: Store, classifier: Arc<Classifier>) -> Self {
        Self {
            store,
            classifier,
            live: None,
        }
    }

    /// Also sends each new mention to the live crisis detector.
    pub fn with_live(mut self, live: crate::crisis::live::LiveSender) -> Self {
        self.live = Some(live);
        self
    }

    /// One poll of one source: classifies and stores new mentions, moves the cursor. Returns
    /// how many mentions were new.
    pub async fn poll_once(&self, name: &str, source: &Source) -> Result<usize, String> {
        let cursor = self.store.cursor(name).map_err(|e| e.to_string())?;
        let (parsed, next) = source.poll(cursor.as_deref()).await?;
        for why in &parsed.skipped {
            warn!(source = name, why = %why, "Skipped an unreadable item");
        }
        let mut new = 0;
        for m in parsed.mentions {
            let c = self.classifier.classify(&m.text, Some(&m.author));
            let text = mask(&m.text);
            let record = StoredMention::new(m, name, &c);
            if self
                .store
                .insert_mention(&record)
                .map_err(|e| e.to_string())?
            {
                new += 1;
                if let Some(live) = &self.live {
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
        if let Some(next) = next {
            self.store
                .set_cursor(name, &next)
                .map_err(|e| e.to_string())?;
        }
        Ok(new)
    }

    /// Polls one source every `interval` until `shutdown`; a failure backs off (doubling, up to
    /// ten intervals), a panic in a poll is caught and the source goes on.
    pub async fn run_source(
        self,
        name: String,
        source: Arc<Source>,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut failures: u32 = 0;
        loop {
            let poll = {
                let (me, name, source) = (self.clone(), name.clone(), source.clone());
                tokio::spawn(async move { me.poll_once(&name, &source).await })
            };
            match poll.await {
                Ok(Ok(_)) => failures = 0,
                Ok(Err(e)) => {
                    failures += 1;
                    warn!(source = %name, error = %e, failures, "Source poll failed; backing off");
                }
                Err(e) => {
                    failures += 1;
                    warn!(source = %name, error = %e, "Source poll crashed; restarting it");
                }
            }
            let wait = if failures == 0 {
                interval
            } else {
                (interval * 2u32.saturating_pow(failures.min(8))).min(interval * 10)
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
