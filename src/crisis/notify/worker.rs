//! The delivery worker: sends pending alert deliveries from the store to the sinks.
//!
//! [`Deliverer::execute`] handles one delivery and returns what happened ([`Outcome`]);
//! [`Deliverer::run`] is the dumb loop around it: execute everything due, then sleep until the
//! next delivery is due, [`raise`](super::raise) wakes it, or shutdown. No polling.
//!
//! A delivery is marked sent only after the sink accepted it, so a crash between persist and
//! send (or during the send) leaves it pending and it is sent on the next start. A rate limit
//! of our own defers a delivery without counting an attempt; the service's own "too many"
//! (429 with Retry-After, WeCom 45009, DingTalk 130101, Feishu 9499) and transient failures
//! retry with exponential backoff and jitter; permanent failures and running out of attempts
//! mark it failed, with the error recorded for people to see.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use url::Url;

use super::{AlertMessage, AlertsConfig, DeliverySettings, RateLimit, Sink, SinkError};
use crate::clock::Clock;
use crate::store::{AlertDelivery, DeliveryState, Store, StoreError};

/// What [`Deliverer::execute`] did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sink accepted it.
    Sent,
    /// Held back by the sink's rate limit until this instant (no attempt counted).
    Deferred {
        /// When a slot frees.
        until: DateTime<Utc>,
    },
    /// A transient failure or the service's own rate limit: tried again at this instant.
    Retrying {
        /// When it is due again.
        at: DateTime<Utc>,
        /// What went wrong this time.
        error: String,
    },
    /// Given up: a permanent failure, no such sink, or out of attempts.
    Failed(String),
    /// Not pending any more (someone else handled it).
    Skipped,
}

struct Slot {
    /// The sink, or why it could not be built (a missing secret).
    sink: Result<Sink, SinkError>,
    limit: Mutex<RateLimit>,
}

/// Sends alert deliveries to the configured sinks.
pub struct Deliverer {
    store: Store,
    sinks: BTreeMap<String, Slot>,
    settings: DeliverySettings,
    ui_url: Option<Url>,
    clock: Clock,
}

impl Deliverer {
    /// Builds every configured sink. A sink that cannot be built (its secret is not set) is kept
    /// as unusable: its deliveries fail with the reason, and the reason is also returned here
    /// so the caller can log it at startup.
    pub fn from_config(
        store: Store,
        config: &AlertsConfig,
        clock: Clock,
    ) -> (Self, Vec<(String, SinkError)>) {
        let mut problems = Vec::new();
        let mut sinks = BTreeMap::new();
        for c in &config.sinks {
            let slot = match Sink::from_config(c, config.delivery.timeout) {
                Ok(sink) => Slot {
                    limit: Mutex::new(sink.rate_limit(c.per_minute)),
                    sink: Ok(sink),
                },
                Err(e) => {
                    problems.push((c.name.clone(), e.clone()));
                    Slot {
                        sink: Err(e),
                        limit: Mutex::new(RateLimit::new(vec![])),
                    }
                }
            };
            sinks.insert(c.name.clone(), slot);
        }
        let d = Self {
            store,
            sinks,
            settings: config.delivery.clone(),
            ui_url: config.ui_url.clone(),
            clock,
        };
        (d, problems)
    }

    /// A deliverer over sinks built by the caller, each with its rate limit.
    pub fn new(
        store: Store,
        sinks: Vec<(String, Sink, RateLimit)>,
        settings: DeliverySettings,
        ui_url: Option<Url>,
        clock: Clock,
    ) -> Self {
        let sinks = sinks
            .into_iter()
            .map(|(name, sink, limit)| {
                (
                    name,
                    Slot {
                        sink: Ok(sink),
                        limit: Mutex::new(limit),
                    },
                )
            })
            .collect();
        Self {
            store,
            sinks,
            settings,
            ui_url,
            clock,
        }
    }

    /// Runs until `shutdown`: each round executes every due delivery, then sleeps until the
    /// next one is due or `wake` is notified. A send in flight finishes before shutdown is
    /// honoured, so its outcome is recorded.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            match self.store.alerts().due_deliveries((self.clock)()) {
                Ok(due) => {
                    for d in due {
                        if shutdown.is_cancelled() {
                            return;
                        }
                        if let Err(e) = self.execute(d).await {
                            error!(error = %e, "Store failed while delivering an alert");
                        }
                    }
                }
                Err(e) => error!(error = %e, "Cannot read the alert deliveries"),
            }
            let now = (self.clock)();
            let next = self.store.alerts().next_delivery().ok().flatten();
            // At least hourly anyway (a safety net against a lost wake-up), and never a busy
            // loop when the store keeps failing.
            let sleep = next
                .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                .clamp(Duration::from_millis(50), Duration::from_secs(3600));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Executes every due delivery once (oldest first) and returns what happened to each.
    pub async fn execute_due(&self) -> Result<Vec<(AlertDelivery, Outcome)>, StoreError> {
        let due = self.store.alerts().due_deliveries((self.clock)())?;
        let mut out = Vec::with_capacity(due.len());
        for d in due {
            let outcome = self.execute(d.clone()).await?;
            out.push((d, outcome));
        }
        Ok(out)
    }

    fn backoff(&self, attempts: u32) -> Duration {
        crate::retry::backoff(self.settings.backoff, self.settings.max_backoff, attempts)
    }

    /// Handles one delivery: rate limit, send, record.
    pub async fn execute(&self, mut d: AlertDelivery) -> Result<Outcome, StoreError> {
        if d.state != DeliveryState::Pending {
            return Ok(Outcome::Skipped);
        }
        let now = (self.clock)();
        let slot = match self.sinks.get(&d.sink) {
            Some(slot) => slot,
            None => {
                let why = format!("no alert sink {:?} is configured", d.sink);
                return self.fail(d, why);
            }
        };
        let sink = match &slot.sink {
            Ok(sink) => sink,
            Err(why) => return self.fail(d, why.to_string()),
        };
        let acquired = match slot.limit.lock() {
            Ok(mut limit) => limit.try_acquire(now),
            // A poisoned lock means a panic elsewhere; sending anyway beats losing the alert.
            Err(_) => Ok(()),
        };
        if let Err(until) = acquired {
            d.next_at = until;
            self.store.alerts().put_delivery(&d)?;
            return Ok(Outcome::Deferred { until });
        }
        let Some(record) = self.store.alerts().get(&d.alert_id)? else {
            return self.fail(d, "the alert is no longer in the store".into());
        };
        let msg = AlertMessage {
            link: self.ui_url.as_ref().map(|u| link(u, &record.event.id)),
            record,
            level: d.level,
            reason: d.reason,
        };
        let key = format!("{}/{}/{}", d.alert_id, d.change, d.sink);
        d.attempts += 1;
        let result = sink.send(&msg, &key, now).await;
        let now = (self.clock)();
        match result {
            Ok(()) => {
                d.state = DeliveryState::Sent;
                d.sent_at = Some(now);
                d.last_error = None;
                self.store.alerts().put_delivery(&d)?;
                info!(alert = %d.alert_id, sink = %d.sink, level = d.level.as_str(), "Alert delivered");
                Ok(Outcome::Sent)
            }
            Err(e) if e.is_permanent() => self.fail(d, e.to_string()),
            Err(e) if d.attempts >= self.settings.max_attempts => {
                let why = format!("gave up after {} attempts: {e}", d.attempts);
                self.fail(d, why)
            }
            Err(e) => {
                let wait = match &e {
                    SinkError::RateLimited {
                        retry_after: Some(ra),
                        ..
                    } => *ra,
                    _ => self.backoff(d.attempts),
                };
                let at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(10));
                let error = e.to_string();
                warn!(alert = %d.alert_id, sink = %d.sink, attempts = d.attempts, error = %error, retry_at = %at, "Alert delivery failed; will retry");
                d.next_at = at;
                d.last_error = Some(error.clone());
                self.store.alerts().put_delivery(&d)?;
                Ok(Outcome::Retrying { at, error })
            }
        }
    }

    fn fail(&self, mut d: AlertDelivery, why: String) -> Result<Outcome, StoreError> {
        // A person must act: the alert did not reach this sink.
        error!(alert = %d.alert_id, sink = %d.sink, error = %why, "Alert delivery failed for good");
        d.state = DeliveryState::Failed;
        d.last_error = Some(why.clone());
        self.store.alerts().put_delivery(&d)?;
        Ok(Outcome::Failed(why))
    }
}

/// `<ui_url>/<alert id>`, the id percent-encoded as one path segment.
fn link(ui_url: &Url, id: &str) -> String {
    let mut u = ui_url.clone();
    if let Ok(mut segments) = u.path_segments_mut() {
        segments.pop_if_empty().push(id);
    }
    u.to_string()
}

/// Runs the delivery worker over the configured sinks until `shutdown`; `wake` is the
/// [`Notify`] that [`raise`](super::raise) signals. Sinks that cannot be built are logged once
/// here; their deliveries are recorded as failed with the reason.
pub async fn run(
    store: Store,
    config: &AlertsConfig,
    clock: Clock,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let (deliverer, problems) = Deliverer::from_config(store, config, clock);
    for (name, e) in problems {
        error!(sink = %name, error = %e, "Alert sink cannot be used");
    }
    deliverer.run(wake, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_the_id() {
        let u = Url::parse("https://herald.example/alerts").expect("url");
        assert_eq!(link(&u, "a b/c"), "https://herald.example/alerts/a%20b%2Fc");
        let u = Url::parse("https://herald.example/alerts/").expect("url");
        assert_eq!(link(&u, "x"), "https://herald.example/alerts/x");
    }
}
