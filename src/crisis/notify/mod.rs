//! Telling people about crisis alerts: the alert sinks and the durable delivery worker.
//!
//! ```text
//! detector event ──► raise(): record + one pending delivery per sink, one flushed transaction
//!                        │ wake (tokio Notify)
//!                        ▼
//!                 Deliverer::run ──► per-sink rate limit ──► Sink::send ──► sent | retry | failed
//! ```
//!
//! The sinks also carry messages that are not alerts ([`TextMessage`]: the weekly digest)
//! through [`Sink::send_text`]; their sender owns retrying and recording them.
//!
//! A closed set of sink kinds ([`Sink`]), one file each. Secrets come from the environment only
//! and never appear in `Debug` output, logs or errors (URLs that carry a key are never
//! printed). Delivery is at least once: an alert is persisted before anything is sent, so a
//! crash resends on restart; a timeout is retried too, since a duplicate alert costs less than a
//! lost one.

pub mod config;
pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod message;
pub mod ratelimit;
pub mod slack;
pub mod webhook;
pub mod wecom;
pub mod worker;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use reqwest::{header::HeaderMap, StatusCode};
use sha2::Sha256;
use thiserror::Error;
use tokio::sync::Notify;

pub use config::{AlertsConfig, DeliverySettings, SinkConfig, SinkKind, SmtpTls};
pub use message::{AlertMessage, TextMessage};
pub use ratelimit::RateLimit;
pub use worker::{run, Deliverer, Outcome};

use crate::platform::Error as PlatformError;
use crate::store::{AlertChange, AlertEvent, Store, StoreError};

/// Why a sink did not take a message, classified for what happens next.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The service asked us to slow down: retried after the delay it gave (or a backoff).
    #[error("rate limited: {why}")]
    RateLimited {
        /// The delay the service asked for, if it gave one.
        retry_after: Option<Duration>,
        /// What the service said.
        why: String,
    },
    /// May pass (5xx, timeout, connection refused, a "system busy" code): retried with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will not pass by retrying (4xx, a bad key or signature, a refused address): given up.
    #[error("refused: {0}")]
    Permanent(String),
    /// The sink cannot be built as configured (a missing environment variable).
    #[error("sink not usable: {0}")]
    Setup(String),
}

impl SinkError {
    /// Whether retrying can never help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SinkError::Permanent(_) | SinkError::Setup(_))
    }

    /// Classifies a transport error as the platform kit does ([`PlatformError::from_reqwest`],
    /// which drops the URL: it may carry a key), read the sinks' way (see the `From` below).
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        PlatformError::from_reqwest(e).into()
    }
}

/// A platform kit error as an alert sink reads it. The same classification, with two
/// differences kept on purpose:
/// - no clear answer (a timeout, a connection lost after sending) is retried: a platform post
///   is looked for before a retry, but an alert cannot be looked for, and a duplicate alert
///   costs less than a lost one;
/// - a 503 is retried on the worker's own backoff, its `Retry-After` not waited for: a
///   maintenance window's estimate must not hold an alert back (only a 429's is honoured).
///
/// Refusals and bad credentials alike are permanent: no sink has credentials to renew.
impl From<PlatformError> for SinkError {
    fn from(e: PlatformError) -> Self {
        match e {
            PlatformError::RateLimited { retry_after } => SinkError::RateLimited {
                retry_after,
                why: e.to_string(),
            },
            PlatformError::Transient(m)
            | PlatformError::Unconfirmed(m)
            | PlatformError::Unavailable { message: m, .. } => SinkError::Transient(m),
            PlatformError::Rejected(m) | PlatformError::Auth(m) => SinkError::Permanent(m),
            PlatformError::TooLong { .. } => SinkError::Permanent(e.to_string()),
            PlatformError::Setup(m) => SinkError::Setup(m),
        }
    }
}

/// The alert sinks herald can deliver to.
#[derive(Debug)]
pub enum Sink {
    /// WeCom group robot.
    WeCom(wecom::WeCom),
    /// DingTalk robot.
    DingTalk(dingtalk::DingTalk),
    /// Feishu / Lark bot.
    Feishu(feishu::Feishu),
    /// Slack incoming webhook.
    Slack(slack::Slack),
    /// Generic JSON webhook.
    Webhook(webhook::Webhook),
    /// E-mail over SMTP (boxed: the transport is several times the size of the others).
    Email(Box<email::Email>),
}

impl Sink {
    /// Builds a sink from its configuration, reading its secrets from the environment.
    pub fn from_config(config: &SinkConfig, timeout: Duration) -> Result<Self, SinkError> {
        let http = crate::http::client(timeout).map_err(|e| SinkError::Setup(e.to_string()))?;
        let what = format!("alert sink {:?}", config.name);
        let secret = |var: &str| {
            crate::config::env::secret(var, &what).map_err(|e| SinkError::Setup(e.to_string()))
        };
        Ok(match &config.kind {
            SinkKind::WeCom {
                base_url,
                key_env,
                markdown,
                mobiles,
            } => Sink::WeCom(wecom::WeCom::new(
                http,
                base_url.clone(),
                secret(key_env)?,
                *markdown,
                mobiles.clone(),
            )),
            SinkKind::DingTalk {
                base_url,
                token_env,
                secret_env,
                mobiles,
            } => Sink::DingTalk(dingtalk::DingTalk::new(
                http,
                base_url.clone(),
                secret(token_env)?,
                secret_env.as_deref().map(secret).transpose()?,
                mobiles.clone(),
            )),
            SinkKind::Feishu {
                base_url,
                hook_env,
                secret_env,
            } => Sink::Feishu(feishu::Feishu::new(
                http,
                base_url.clone(),
                secret(hook_env)?,
                secret_env.as_deref().map(secret).transpose()?,
            )),
            SinkKind::Slack { url_env } => {
                let url = url::Url::parse(&secret(url_env)?).map_err(|_| {
                    // Never echo the value: it is the secret.
                    SinkError::Setup(format!("{url_env} does not hold a URL"))
                })?;
                Sink::Slack(slack::Slack::new(http, url))
            }
            SinkKind::Webhook { url, secret_env } => Sink::Webhook(webhook::Webhook::new(
                http,
                url.clone(),
                secret_env.as_deref().map(secret).transpose()?,
            )),
            SinkKind::Email {
                host,
                port,
                tls,
                username,
                password_env,
                from,
                to,
                ca_file,
            } => Sink::Email(Box::new(email::Email::new(
                email::SmtpSettings {
                    host: host.clone(),
                    port: *port,
                    tls: *tls,
                    username: username.clone(),
                    password: password_env.as_deref().map(secret).transpose()?,
                    timeout,
                    ca_file: ca_file.clone(),
                },
                from,
                to,
            )?)),
        })
    }

    /// The service's own rate limit (`per_minute`, when given, replaces it).
    pub fn rate_limit(&self, per_minute: Option<u32>) -> RateLimit {
        if let Some(n) = per_minute {
            return RateLimit::per_minute(n);
        }
        match self {
            // WeCom and DingTalk: 20 messages a minute per robot; more mutes the robot.
            Sink::WeCom(_) | Sink::DingTalk(_) => RateLimit::per_minute(20),
            // Feishu/Lark custom bots: 100 a minute and 5 a second.
            Sink::Feishu(_) => RateLimit::new(vec![
                (5, TimeDelta::seconds(1)),
                (100, TimeDelta::minutes(1)),
            ]),
            // Slack incoming webhooks: about one message a second.
            Sink::Slack(_) => RateLimit::new(vec![(1, TimeDelta::seconds(1))]),
            Sink::Webhook(_) | Sink::Email(_) => RateLimit::new(vec![]),
        }
    }

    /// Sends a message that is not about an alert (the weekly digest) in the sink's own
    /// format: WeCom markdown or text, DingTalk and Feishu text, Slack mrkdwn, the webhook's
    /// JSON (`event`, `title`, `text`, `data`, `link`), an e-mail. Nobody is @-mentioned. `key`
    /// is the webhook's idempotency key; `now` the signing time.
    pub async fn send_text(
        &self,
        msg: &TextMessage,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SinkError> {
        match self {
            Sink::WeCom(s) => s.send_text(msg).await,
            Sink::DingTalk(s) => s.send_text(msg, now).await,
            Sink::Feishu(s) => s.send_text(msg, now).await,
            Sink::Slack(s) => s.send_text(msg).await,
            Sink::Webhook(s) => s.send_text(msg, key, now).await,
            Sink::Email(s) => s.send_text(msg).await,
        }
    }

    /// Sends one message. `key` is stable across retries (the webhook's idempotency key);
    /// `now` is the signing time.
    pub async fn send(
        &self,
        msg: &AlertMessage,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SinkError> {
        match self {
            Sink::WeCom(s) => s.send(msg).await,
            Sink::DingTalk(s) => s.send(msg, now).await,
            Sink::Feishu(s) => s.send(msg, now).await,
            Sink::Slack(s) => s.send(msg).await,
            Sink::Webhook(s) => s.send(msg, key, now).await,
            Sink::Email(s) => s.send(msg).await,
        }
    }
}

/// Records a detector event and queues its messages: one pending delivery per sink that wants
/// the event's level, persisted with the record in one flushed transaction; then wakes the
/// delivery worker. Sample mention texts are looked up in the store.
pub fn raise(
    store: &Store,
    config: &AlertsConfig,
    event: &AlertEvent,
    now: DateTime<Utc>,
    wake: &Notify,
) -> Result<AlertChange, StoreError> {
    let samples = store
        .alerts()
        .samples(&event.sample, message::SAMPLES_SHOWN)?;
    let sinks = config.sinks_for(event.level);
    let change = store.alerts().upsert(event, &samples, &sinks, now)?;
    if change.queued() && !sinks.is_empty() {
        wake.notify_one();
    }
    Ok(change)
}

/// HMAC-SHA256 of `msg` under `key`, standard base64: the signature DingTalk and Feishu take.
pub fn hmac_sha256_base64(key: &[u8], msg: &[u8]) -> String {
    use base64::Engine as _;
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps clippy's
    // no-expect rule without a panic path.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sends a JSON body and classifies the HTTP answer: `Ok(body)` for a 2xx, otherwise by the
/// platform kit's status table, read the sinks' way: 429 → rate limited (with Retry-After),
/// 5xx and 408 → transient, any other status → permanent.
pub(crate) async fn post_json(
    request: reqwest::RequestBuilder,
    body: Vec<u8>,
) -> Result<String, SinkError> {
    let answer = request
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(SinkError::from_reqwest)?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let text = answer.text().await.unwrap_or_default();
    classify_status(status, &headers, &text).map(|()| text)
}

fn classify_status(status: StatusCode, headers: &HeaderMap, body: &str) -> Result<(), SinkError> {
    if status.is_success() {
        return Ok(());
    }
    let why = format!("{status}: {}", crate::platform::http::snippet(body));
    let retry_after = crate::platform::http::retry_after(headers);
    // The platform kit's status table; a 429 keeps what the service said with its delay.
    Err(
        match crate::platform::http::status_error(status, retry_after, why.clone()) {
            PlatformError::RateLimited { retry_after } => {
                SinkError::RateLimited { retry_after, why }
            }
            other => other.into(),
        },
    )
}

/// Cuts `s` to at most `max` bytes on a character boundary (the Chinese services count bytes).
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_base64_matches_a_reference() {
        // Python: base64.b64encode(hmac.new(b"key", b"The quick brown fox jumps over the lazy dog",
        //   hashlib.sha256).digest())
        assert_eq!(
            hmac_sha256_base64(b"key", b"The quick brown fox jumps over the lazy dog"),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
    }

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        assert_eq!(classify_status(StatusCode::OK, &h, ""), Ok(()));
        assert!(matches!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, &h, ""),
            Err(SinkError::RateLimited { .. })
        ));
        assert!(matches!(
            classify_status(StatusCode::BAD_GATEWAY, &h, ""),
            Err(SinkError::Transient(_))
        ));
        assert!(matches!(
            classify_status(StatusCode::NOT_FOUND, &h, "no_service"),
            Err(SinkError::Permanent(w)) if w.contains("no_service")
        ));
    }

    /// Where sinks read the platform kit's table their own way: a 503 is retried without
    /// waiting for its Retry-After, a 401 is simply refused, a 429 keeps the service's words.
    #[test]
    fn sinks_read_the_platform_table_their_way() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "600".parse().expect("header"));
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE, &h, "maintenance"),
            Err(SinkError::Transient(
                "503 Service Unavailable: maintenance".into()
            ))
        );
        assert_eq!(
            classify_status(StatusCode::UNAUTHORIZED, &h, "bad key"),
            Err(SinkError::Permanent("401 Unauthorized: bad key".into()))
        );
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, &h, "slow down"),
            Err(SinkError::RateLimited {
                retry_after: Some(Duration::from_secs(600)),
                why: "429 Too Many Requests: slow down".into()
            })
        );
        // No clear answer is retried: an alert cannot be looked for on the service.
        assert_eq!(
            SinkError::from(PlatformError::Unconfirmed("timed out".into())),
            SinkError::Transient("timed out".into())
        );
        assert!(SinkError::from(PlatformError::Setup("bad url".into())).is_permanent());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "危机".repeat(1000);
        let t = truncate_bytes(&s, 2048);
        assert!(t.len() <= 2048, "{}", t.len());
        assert!(t.ends_with('…'));
        assert_eq!(truncate_bytes("short", 2048), "short");
    }
}
