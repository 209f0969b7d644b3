//! Crisis alerts in the store, and their durable deliveries to the alert sinks.
//!
//! Trees:
//! - `alerts`: key the alert id, value an [`AlertRecord`] (JSON).
//! - `alert_deliveries`: key `alert id ‖ 0x00 ‖ change number (u32, big-endian) ‖ 0x00 ‖ sink`,
//!   value an [`AlertDelivery`] (JSON): one entry per sink for each open or escalation.
//!
//! "Never lose an alert": an open or escalation writes the record and its delivery entries in one
//! sled transaction over both trees and flushes it to disk before anything is sent, so a crash
//! at any point leaves either nothing or the record with every delivery still pending; the
//! delivery worker sends pending entries on its next start. Delivery is therefore at least once.
//!
//! This module decides nothing about routing (which sink wants which level) or sending: the
//! caller passes the sink names, and `crisis::notify` sends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

pub use crate::domain::alert::{AlertEvent, AlertLevel};

use super::{AlertStore, Alerts, SledStore, StoreError};

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Raised, nobody has taken it yet.
    Open,
    /// A person has seen it and is on it.
    Acknowledged,
    /// Over, by a person's word.
    Resolved,
}

impl AlertState {
    /// The state's name as shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

/// A sample mention kept with an alert, for the message (texts are untrusted: the renderer
/// sanitises them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSample {
    /// The mention id.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// What it says, as received.
    pub text: String,
    /// Where it can be read, if known.
    #[serde(default)]
    pub url: Option<String>,
}

impl From<super::StoredMention> for AlertSample {
    /// The part of a stored mention an alert's message shows.
    fn from(m: super::StoredMention) -> Self {
        Self {
            id: m.mention.id,
            author: m.mention.author,
            text: m.mention.text,
            url: m.mention.url,
        }
    }
}

/// One level change of an alert: the open, then each escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelChange {
    /// The level reached.
    pub level: AlertLevel,
    /// Stream time of the event (the detector's clock).
    pub at: DateTime<Utc>,
    /// When herald recorded it (the wall clock).
    pub recorded_at: DateTime<Utc>,
    /// Negative mentions in the window at that moment.
    pub negative: u64,
    /// All mentions in the window at that moment.
    pub total: u64,
}

/// An alert as stored: the detector's latest event of the episode (flattened: the stored JSON
/// has the contract's fields at its top, as before), and what people and herald did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The event that opened the alert, or the escalation that last raised it: its `level` is
    /// the highest reached, its `opened_at` the open's, its window and counts the latest
    /// event's, its `sample` the latest non-empty one.
    #[serde(flatten)]
    pub event: AlertEvent,
    /// The sample mentions herald could find, for messages.
    #[serde(default)]
    pub samples: Vec<AlertSample>,
    /// Open, acknowledged or resolved.
    pub state: AlertState,
    /// Who acknowledged it.
    #[serde(default)]
    pub acked_by: Option<String>,
    /// When it was acknowledged.
    #[serde(default)]
    pub acked_at: Option<DateTime<Utc>>,
    /// Who resolved it.
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// When it was resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Every level change, oldest first; the first entry is the open.
    pub history: Vec<LevelChange>,
}

/// Why a delivery entry exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryReason {
    /// The alert opened.
    Opened,
    /// The alert reached a higher level.
    Escalated,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet accepted by the sink; sent when `next_at` has passed.
    Pending,
    /// The sink accepted it.
    Sent,
    /// Given up: a permanent failure or too many attempts (`last_error` says which).
    Failed,
}

/// One message owed to one sink for one level change of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDelivery {
    /// The alert this message is about.
    pub alert_id: String,
    /// Index into the alert's `history`.
    pub change: u32,
    /// The sink's name.
    pub sink: String,
    /// The level announced.
    pub level: AlertLevel,
    /// Open or escalation.
    pub reason: DeliveryReason,
    /// Pending, sent or failed.
    pub state: DeliveryState,
    /// Sends tried so far (a rate-limit deferral is not one).
    pub attempts: u32,
    /// Not before this instant.
    pub next_at: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the sink accepted it.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The last failure as the sink said it (never a secret).
    #[serde(default)]
    pub last_error: Option<String>,
}

impl AlertDelivery {
    /// The entry's key in the deliveries tree, also a stable id for logs.
    pub fn key(&self) -> Vec<u8> {
        delivery_key(&self.alert_id, self.change, &self.sink)
    }
}

/// What [`AlertStore::upsert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    /// A new alert: recorded, deliveries queued.
    Opened(AlertRecord),
    /// A known alert reached a higher level: recorded, deliveries queued.
    Escalated(AlertRecord),
    /// Nothing new (the same event again, or a lower level): nothing queued.
    Unchanged(AlertRecord),
}

impl AlertChange {
    /// The alert as it now is.
    pub fn record(&self) -> &AlertRecord {
        match self {
            AlertChange::Opened(r) | AlertChange::Escalated(r) | AlertChange::Unchanged(r) => r,
        }
    }

    /// Whether the alert opened or escalated: a delivery was queued for each sink passed.
    pub fn queued(&self) -> bool {
        !matches!(self, AlertChange::Unchanged(_))
    }
}

fn delivery_key(alert_id: &str, change: u32, sink: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(alert_id.len() + sink.len() + 6);
    k.extend_from_slice(alert_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&change.to_be_bytes());
    k.push(0);
    k.extend_from_slice(sink.as_bytes());
    k
}

fn decode<T: for<'de> Deserialize<'de>>(tree: &str, key: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        key: format!("{tree}/{}", String::from_utf8_lossy(key).replace('\0', "|")),
        why: e.to_string(),
    })
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

impl SledStore {
    fn alert_trees(&self) -> Result<(sled::Tree, sled::Tree), StoreError> {
        Ok((
            self.db.open_tree("alerts")?,
            self.db.open_tree("alert_deliveries")?,
        ))
    }

    /// Changes an alert with compare-and-swap, flushed; `None` if there is no such alert.
    fn change_alert(
        &self,
        id: &str,
        change: impl Fn(&mut AlertRecord),
    ) -> Result<Option<AlertRecord>, StoreError> {
        let (alerts, _) = self.alert_trees()?;
        loop {
            let Some(old) = alerts.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut r: AlertRecord = decode("alerts", id.as_bytes(), &old)?;
            change(&mut r);
            if alerts
                .compare_and_swap(id.as_bytes(), Some(old), Some(json(&r)))?
                .is_ok()
            {
                self.flush()?;
                return Ok(Some(r));
            }
        }
    }

    fn all_deliveries(&self) -> Result<Vec<AlertDelivery>, StoreError> {
        let (_, deliveries) = self.alert_trees()?;
        deliveries
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode("alert_deliveries", &k, &v)
            })
            .collect()
    }
}

/// What an event does to the alert `old` (`None`: a new alert): the record as it now is, and
/// why it changed (`None`: nothing changed, the same or a lower level). The rules of both backends.
pub(crate) fn apply_event(
    old: Option<AlertRecord>,
    event: &AlertEvent,
    samples: &[AlertSample],
    now: DateTime<Utc>,
) -> (AlertRecord, Option<DeliveryReason>) {
    let change = LevelChange {
        level: event.level,
        at: event.opened_at,
        recorded_at: now,
        negative: event.negative,
        total: event.total,
    };
    match old {
        None => (
            AlertRecord {
                event: event.clone(),
                samples: samples.to_vec(),
                state: AlertState::Open,
                acked_by: None,
                acked_at: None,
                resolved_by: None,
                resolved_at: None,
                history: vec![change],
            },
            Some(DeliveryReason::Opened),
        ),
        Some(old) if event.level <= old.event.level => (old, None),
        Some(mut r) => {
            r.event.level = event.level;
            r.event.window_start = event.window_start;
            r.event.negative = event.negative;
            r.event.total = event.total;
            r.event.baseline = event.baseline;
            if !event.sample.is_empty() {
                r.event.sample = event.sample.clone();
            }
            if !samples.is_empty() {
                r.samples = samples.to_vec();
            }
            r.state = AlertState::Open;
            r.history.push(change);
            (r, Some(DeliveryReason::Escalated))
        }
    }
}

/// The pending deliveries an open or an escalation queues: one per sink, due now.
pub(crate) fn new_deliveries(
    record: &AlertRecord,
    reason: DeliveryReason,
    sinks: &[String],
    now: DateTime<Utc>,
) -> Vec<AlertDelivery> {
    let change = (record.history.len() - 1) as u32;
    sinks
        .iter()
        .map(|sink| AlertDelivery {
            alert_id: record.event.id.clone(),
            change,
            sink: sink.clone(),
            level: record.event.level,
            reason,
            state: DeliveryState::Pending,
            attempts: 0,
            next_at: now,
            created_at: now,
            sent_at: None,
            last_error: None,
        })
        .collect()
}

/// The order alerts are listed in: open first, then acknowledged, then resolved; newest first
/// within each.
pub(crate) fn sort_alerts(alerts: &mut [AlertRecord]) {
    alerts.sort_by(|a, b| {
        (a.state, std::cmp::Reverse(a.event.opened_at), &a.event.id).cmp(&(
            b.state,
            std::cmp::Reverse(b.event.opened_at),
            &b.event.id,
        ))
    });
}

impl AlertStore for Alerts {
    /// The stored mentions among `ids` (in that order, at most `limit`), as alert samples.
    fn samples(&self, ids: &[String], limit: usize) -> Result<Vec<AlertSample>, StoreError> {
        let index = self.0.db.open_tree("mention_ids")?;
        let mentions = self.0.db.open_tree("mentions")?;
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            let Some(key) = index.get(id.as_bytes())? else {
                continue;
            };
            let Some(v) = mentions.get(&key)? else {
                continue;
            };
            let m: super::StoredMention = decode("mentions", &key, &v)?;
            out.push(AlertSample::from(m));
        }
        Ok(out)
    }

    /// Records an alert event: a new id opens an alert, a higher level escalates it (and
    /// reopens it if a person had acknowledged or resolved it: the situation got worse), the
    /// same or a lower level changes nothing. An open or escalation queues one pending
    /// delivery for each of `sinks` (the caller's choice for this level), in the same
    /// transaction as the record, flushed before this returns.
    fn upsert(
        &self,
        event: &AlertEvent,
        samples: &[AlertSample],
        sinks: &[String],
        now: DateTime<Utc>,
    ) -> Result<AlertChange, StoreError> {
        let (alerts, deliveries) = self.0.alert_trees()?;
        let result = (&alerts, &deliveries).transaction(|(alerts, deliveries)| {
            let old: Option<AlertRecord> = match alerts.get(event.id.as_bytes())? {
                Some(v) => Some(
                    decode("alerts", event.id.as_bytes(), &v)
                        .map_err(ConflictableTransactionError::Abort)?,
                ),
                None => None,
            };
            let (record, reason) = match apply_event(old, event, samples, now) {
                (record, Some(reason)) => (record, reason),
                (old, None) => return Ok(AlertChange::Unchanged(old)),
            };
            alerts.insert(record.event.id.as_bytes(), json(&record))?;
            for d in new_deliveries(&record, reason, sinks, now) {
                deliveries.insert(d.key(), json(&d))?;
            }
            Ok(match reason {
                DeliveryReason::Opened => AlertChange::Opened(record),
                DeliveryReason::Escalated => AlertChange::Escalated(record),
            })
        });
        let change = match result {
            Ok(c) => c,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        };
        if change.queued() {
            self.0.flush()?;
        }
        Ok(change)
    }

    /// One alert by id.
    fn get(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let (alerts, _) = self.0.alert_trees()?;
        alerts
            .get(id.as_bytes())?
            .map(|v| decode("alerts", id.as_bytes(), &v))
            .transpose()
    }

    /// Every alert: open first, then acknowledged, then resolved; newest first within each.
    fn list(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let (alerts, _) = self.0.alert_trees()?;
        let mut out = alerts
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode::<AlertRecord>("alerts", &k, &v)
            })
            .collect::<Result<Vec<_>, _>>()?;
        sort_alerts(&mut out);
        Ok(out)
    }

    /// A person acknowledges an open alert. Acknowledging again, or a resolved alert, changes
    /// nothing (the first acknowledgement is the one that counts). `None` if there is no such
    /// alert.
    fn ack(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.0.change_alert(id, |r| {
            if r.state == AlertState::Open {
                r.state = AlertState::Acknowledged;
                r.acked_by = Some(who.to_string());
                r.acked_at = Some(now);
            }
        })
    }

    /// A person resolves an alert (open or acknowledged). Resolving again changes nothing.
    fn resolve(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.0.change_alert(id, |r| {
            if r.state != AlertState::Resolved {
                r.state = AlertState::Resolved;
                r.resolved_by = Some(who.to_string());
                r.resolved_at = Some(now);
            }
        })
    }

    /// Every delivery of one alert, in (change, sink) order.
    fn deliveries(&self, alert_id: &str) -> Result<Vec<AlertDelivery>, StoreError> {
        let (_, deliveries) = self.0.alert_trees()?;
        let mut prefix = alert_id.as_bytes().to_vec();
        prefix.push(0);
        deliveries
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode("alert_deliveries", &k, &v)
            })
            .collect()
    }

    /// Pending deliveries whose `next_at` has come, oldest first.
    fn due_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<AlertDelivery>, StoreError> {
        let mut due: Vec<_> = self
            .0
            .all_deliveries()?
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending && d.next_at <= now)
            .collect();
        due.sort_by_key(|a| (a.created_at, a.key()));
        Ok(due)
    }

    /// The earliest `next_at` of any pending delivery.
    fn next_delivery(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .0
            .all_deliveries()?
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.next_at)
            .min())
    }

    /// Records what happened to a delivery (flushed).
    fn put_delivery(&self, d: &AlertDelivery) -> Result<(), StoreError> {
        let (_, deliveries) = self.0.alert_trees()?;
        deliveries.insert(d.key(), json(d))?;
        self.0.flush()?;
        Ok(())
    }

    fn import(&self, alert: &AlertRecord, deliveries: &[AlertDelivery]) -> Result<(), StoreError> {
        let (alerts, tree) = self.0.alert_trees()?;
        let id = alert.event.id.as_bytes();
        let value = json(alert);
        let rows: Vec<(Vec<u8>, Vec<u8>)> = deliveries.iter().map(|d| (d.key(), json(d))).collect();
        let result: Result<(), TransactionError<()>> =
            (&alerts, &tree).transaction(|(alerts, tree)| {
                alerts.insert(id, value.as_slice())?;
                for (k, v) in &rows {
                    tree.insert(k.as_slice(), v.as_slice())?;
                }
                Ok(())
            });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Corrupt {
                key: format!("alerts/{}", alert.event.id),
                why: "aborted".into(),
            },
            TransactionError::Storage(e) => e.into(),
        })?;
        self.0.flush()?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::store::Store;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn event(id: &str, level: AlertLevel, at: &str) -> AlertEvent {
        AlertEvent {
            id: id.into(),
            topic: "brand".into(),
            level,
            opened_at: t(at),
            window_start: t(at) - chrono::TimeDelta::minutes(10),
            negative: 12,
            total: 30,
            baseline: 2.5,
            sample: vec!["m1".into()],
        }
    }

    fn sinks(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// An alert record in the flat JSON today's store holds (the event's fields at the top)
    /// reads into the record with its event, and writes back the same JSON.
    #[test]
    fn an_alert_in_the_stored_json_shape_reads_and_round_trips() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let stored = serde_json::json!({
            "id": "brand-20261123T0100", "topic": "brand", "level": "crisis",
            "opened_at": "2026-11-23T01:00:00Z", "window_start": "2026-11-23T00:50:00Z",
            "negative": 12, "total": 30, "baseline": 2.5, "sample": ["m1"],
            "samples": [{"id": "m1", "author": "alice", "text": "刹车失灵", "url": null}],
            "state": "acknowledged", "acked_by": "mei", "acked_at": "2026-11-23T01:05:00Z",
            "resolved_by": null, "resolved_at": null,
            "history": [
                {"level": "warning", "at": "2026-11-23T01:00:00Z",
                 "recorded_at": "2026-11-23T01:00:01Z", "negative": 8, "total": 25},
                {"level": "crisis", "at": "2026-11-23T01:00:00Z",
                 "recorded_at": "2026-11-23T01:02:00Z", "negative": 12, "total": 30}
            ]
        });
        let (alerts, _) = store.as_sled().alert_trees().expect("trees");
        alerts
            .insert(
                "brand-20261123T0100",
                serde_json::to_vec(&stored).expect("json"),
            )
            .expect("raw insert");
        let r = store
            .alerts()
            .get("brand-20261123T0100")
            .expect("read")
            .expect("there");
        assert_eq!(
            r.event,
            AlertEvent {
                level: AlertLevel::Crisis,
                ..event(
                    "brand-20261123T0100",
                    AlertLevel::Crisis,
                    "2026-11-23T01:00:00Z"
                )
            }
        );
        assert_eq!(
            (r.state, r.acked_by.as_deref(), r.history.len()),
            (AlertState::Acknowledged, Some("mei"), 2)
        );
        assert_eq!(serde_json::to_value(&r).expect("json"), stored);
    }

    #[test]
    fn open_escalate_and_replay_are_idempotent() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-11-23T01:00:00Z");
            let w = event("a1", AlertLevel::Warning, "2026-11-23T00:59:00Z");
            let first = store
                .alerts()
                .upsert(&w, &[], &sinks(&["slack", "mail"]), now)
                .expect("upsert");
            assert!(matches!(first, AlertChange::Opened(_)));
            let again = store
                .alerts()
                .upsert(&w, &[], &sinks(&["slack", "mail"]), now)
                .expect("upsert");
            assert!(matches!(again, AlertChange::Unchanged(_)));
            assert_eq!(store.alerts().deliveries("a1").expect("d").len(), 2);

            let mut c = event("a1", AlertLevel::Crisis, "2026-11-23T01:05:00Z");
            c.negative = 40;
            let esc = store
                .alerts()
                .upsert(&c, &[], &sinks(&["slack"]), now)
                .expect("upsert");
            let AlertChange::Escalated(r) = esc else {
                panic!("{esc:?}")
            };
            assert_eq!(
                (r.event.level, r.event.negative, r.history.len()),
                (AlertLevel::Crisis, 40, 2)
            );
            let d = store.alerts().deliveries("a1").expect("d");
            assert_eq!(d.len(), 3);
            assert_eq!(
                d.iter()
                    .map(|d| (d.change, d.sink.as_str(), d.reason))
                    .collect::<Vec<_>>(),
                [
                    (0, "mail", DeliveryReason::Opened),
                    (0, "slack", DeliveryReason::Opened),
                    (1, "slack", DeliveryReason::Escalated)
                ]
            );
            // A warning after the crisis is not a downgrade.
            let later = store
                .alerts()
                .upsert(&w, &[], &sinks(&["slack"]), now)
                .expect("upsert");
            assert_eq!(later.record().event.level, AlertLevel::Crisis);
            assert!(!later.queued());
        }
    }

    #[test]
    fn list_puts_open_first_then_newest() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-11-23T01:00:00Z");
            for (id, at) in [
                ("old", "2026-11-20T00:00:00Z"),
                ("new", "2026-11-22T00:00:00Z"),
                ("mid", "2026-11-21T00:00:00Z"),
            ] {
                store
                    .alerts()
                    .upsert(&event(id, AlertLevel::Warning, at), &[], &[], now)
                    .expect("upsert");
            }
            store.alerts().ack("new", "ops", now).expect("ack");
            store.alerts().resolve("mid", "ops", now).expect("resolve");
            let order: Vec<_> = store
                .alerts()
                .list()
                .expect("list")
                .into_iter()
                .map(|a| (a.event.id, a.state))
                .collect();
            assert_eq!(
                order,
                [
                    ("old".to_string(), AlertState::Open),
                    ("new".to_string(), AlertState::Acknowledged),
                    ("mid".to_string(), AlertState::Resolved)
                ]
            );
            let acked = store.alerts().get("new").expect("get").expect("there");
            assert_eq!(acked.acked_by.as_deref(), Some("ops"));
            // A second acknowledgement by someone else does not overwrite the first.
            let again = store
                .alerts()
                .ack("new", "other", now)
                .expect("ack")
                .expect("there");
            assert_eq!(again.acked_by.as_deref(), Some("ops"));
            assert_eq!(store.alerts().ack("nope", "ops", now).expect("ack"), None);
        }
    }

    #[test]
    fn escalation_reopens_an_acknowledged_alert() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-11-23T01:00:00Z");
            store
                .alerts()
                .upsert(
                    &event("x", AlertLevel::Warning, "2026-11-23T00:00:00Z"),
                    &[],
                    &[],
                    now,
                )
                .expect("open");
            store.alerts().ack("x", "ops", now).expect("ack");
            let r = store
                .alerts()
                .upsert(
                    &event("x", AlertLevel::Crisis, "2026-11-23T00:10:00Z"),
                    &[],
                    &[],
                    now,
                )
                .expect("escalate");
            assert_eq!(r.record().state, AlertState::Open);
        }
    }

    #[test]
    fn due_deliveries_respect_next_at_and_state() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-11-23T01:00:00Z");
            store
                .alerts()
                .upsert(
                    &event("x", AlertLevel::Warning, "2026-11-23T00:00:00Z"),
                    &[],
                    &sinks(&["a", "b"]),
                    now,
                )
                .expect("open");
            let mut due = store.alerts().due_deliveries(now).expect("due");
            assert_eq!(due.len(), 2);
            due[0].next_at = now + chrono::TimeDelta::seconds(30);
            store.alerts().put_delivery(&due[0]).expect("put");
            due[1].state = DeliveryState::Sent;
            store.alerts().put_delivery(&due[1]).expect("put");
            assert!(store.alerts().due_deliveries(now).expect("due").is_empty());
            assert_eq!(
                store.alerts().next_delivery().expect("next"),
                Some(now + chrono::TimeDelta::seconds(30))
            );
        }
    }

    /// Two handles on one store per backend, as two processes have: on sled the same store
    /// shared (one process holds a sled store), on PostgreSQL two stores opened on one fresh
    /// schema. The last item keeps the folder or schema alive.
    pub(crate) fn store_pairs() -> Vec<(&'static str, Store, Store, Box<dyn std::any::Any>)> {
        let dir = tempfile::tempdir().expect("tmp");
        let sled = Store::open(&dir.path().join("db")).expect("open sled");
        let mut out: Vec<(&'static str, Store, Store, Box<dyn std::any::Any>)> =
            vec![("sled", sled.clone(), sled, Box::new(dir))];
        match crate::store::pg::testing::Schema::new() {
            Some(pg) => {
                let options = pg.options("test");
                let a = Store::open_postgres(&options).expect("open postgres");
                let b = Store::open_postgres(&options).expect("open postgres again");
                out.push(("postgres", a, b, Box::new(pg)));
            }
            None => assert!(
                std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
                "PostgreSQL is required but no test database is named"
            ),
        }
        out
    }

    /// Runs `f(store, side)` on two threads at once, one per store, and returns both results.
    pub(crate) fn race<T: Send>(
        a: &Store,
        b: &Store,
        f: impl Fn(&Store, usize) -> T + Sync,
    ) -> (T, T) {
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let (f, start) = (&f, &start);
            let one = s.spawn(move || {
                start.wait();
                f(a, 0)
            });
            let two = s.spawn(move || {
                start.wait();
                f(b, 1)
            });
            (
                one.join().expect("first racer"),
                two.join().expect("second racer"),
            )
        })
    }

    /// Two processes raising the same alert at once open it once, and raising the same
    /// escalation at once queue its deliveries once: one wins each race, the other sees
    /// nothing new.
    #[test]
    fn racing_opens_and_escalations_queue_deliveries_once() {
        for (backend, a, b, _keep) in store_pairs() {
            let now = t("2026-11-23T01:00:00Z");
            for round in 0..12 {
                let id = format!("race{round}");
                let (x, y) = race(&a, &b, |s, _| {
                    s.alerts()
                        .upsert(
                            &event(&id, AlertLevel::Warning, "2026-11-23T00:00:00Z"),
                            &[],
                            &sinks(&["s1", "s2"]),
                            now,
                        )
                        .expect("open")
                });
                assert_eq!(
                    [x.queued(), y.queued()].iter().filter(|q| **q).count(),
                    1,
                    "{backend}: one open wins: {x:?} {y:?}"
                );
                let (x, y) = race(&a, &b, |s, _| {
                    s.alerts()
                        .upsert(
                            &event(&id, AlertLevel::Crisis, "2026-11-23T00:05:00Z"),
                            &[],
                            &sinks(&["s1", "s2"]),
                            now,
                        )
                        .expect("escalate")
                });
                assert!(
                    matches!(
                        (&x, &y),
                        (AlertChange::Escalated(_), AlertChange::Unchanged(_))
                            | (AlertChange::Unchanged(_), AlertChange::Escalated(_))
                    ),
                    "{backend}: one escalation wins: {x:?} {y:?}"
                );
                let r = a.alerts().get(&id).expect("get").expect("there");
                assert_eq!(r.history.len(), 2, "{backend}");
                let d = b.alerts().deliveries(&id).expect("deliveries");
                assert_eq!(
                    d.iter()
                        .map(|d| (d.change, d.sink.as_str(), d.reason))
                        .collect::<Vec<_>>(),
                    [
                        (0, "s1", DeliveryReason::Opened),
                        (0, "s2", DeliveryReason::Opened),
                        (1, "s1", DeliveryReason::Escalated),
                        (1, "s2", DeliveryReason::Escalated)
                    ],
                    "{backend}"
                );
            }
        }
    }

    /// An acknowledgement racing an escalation is never lost: either the escalation comes
    /// first and the acknowledgement then takes the reopened alert, or the acknowledgement
    /// comes first and the escalation reopens it; the history always has both levels.
    #[test]
    fn an_acknowledgement_racing_an_escalation_is_not_lost() {
        for (backend, a, b, _keep) in store_pairs() {
            let now = t("2026-11-23T01:00:00Z");
            for round in 0..12 {
                let id = format!("ack{round}");
                a.alerts()
                    .upsert(
                        &event(&id, AlertLevel::Warning, "2026-11-23T00:00:00Z"),
                        &[],
                        &[],
                        now,
                    )
                    .expect("open");
                race(&a, &b, |s, side| {
                    if side == 0 {
                        s.alerts().ack(&id, "ops", now).expect("ack").map(drop)
                    } else {
                        s.alerts()
                            .upsert(
                                &event(&id, AlertLevel::Crisis, "2026-11-23T00:05:00Z"),
                                &[],
                                &[],
                                now,
                            )
                            .map(drop)
                            .ok()
                    }
                });
                let r = a.alerts().get(&id).expect("get").expect("there");
                assert_eq!(r.history.len(), 2, "{backend}: the escalation is kept");
                assert_eq!(
                    r.acked_by.as_deref(),
                    Some("ops"),
                    "{backend}: the acknowledgement is kept"
                );
            }
        }
    }

    /// Delivery queries on PostgreSQL decide on the records' nanoseconds, as sled does: a
    /// delivery due half a microsecond after `now` is not due yet, and the next delivery is
    /// the exact earliest time.
    #[test]
    fn delivery_times_are_exact_below_a_microsecond() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-11-23T01:00:00Z");
            store
                .alerts()
                .upsert(
                    &event("x", AlertLevel::Warning, "2026-11-23T00:00:00Z"),
                    &[],
                    &sinks(&["a", "b"]),
                    now,
                )
                .expect("open");
            let mut d = store.alerts().deliveries("x").expect("d");
            d[0].next_at = now + chrono::TimeDelta::nanoseconds(700);
            d[1].next_at = now + chrono::TimeDelta::nanoseconds(300);
            for d in &d {
                store.alerts().put_delivery(d).expect("put");
            }
            assert!(
                store.alerts().due_deliveries(now).expect("due").is_empty(),
                "{}",
                ts.backend
            );
            let due = store
                .alerts()
                .due_deliveries(now + chrono::TimeDelta::nanoseconds(500))
                .expect("due");
            assert_eq!(
                due.iter().map(|d| d.sink.as_str()).collect::<Vec<_>>(),
                ["b"],
                "{}",
                ts.backend
            );
            assert_eq!(
                store.alerts().next_delivery().expect("next"),
                Some(now + chrono::TimeDelta::nanoseconds(300)),
                "{}",
                ts.backend
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Whatever order events arrive in, and however often: an alert's level is the highest
        /// seen, its history rises strictly, and each sink got one delivery per rise.
        #[test]
        fn any_event_sequence_keeps_the_invariants(
            events in proptest::collection::vec((0usize..3, proptest::bool::ANY), 0..24)
        ) {
            for ts in crate::store::testing::each() {
                let store = &ts.store;
                let now = t("2026-11-23T01:00:00Z");
                let ids = ["a", "b", "c"];
                let mut highest: std::collections::BTreeMap<&str, AlertLevel> = Default::default();
                for (i, crisis) in &events {
                    let level = if *crisis { AlertLevel::Crisis } else { AlertLevel::Warning };
                    store
                        .alerts().upsert(&event(ids[*i], level, "2026-11-23T00:00:00Z"), &[], &sinks(&["s1", "s2"]), now)
                        .expect("upsert");
                    let h = highest.entry(ids[*i]).or_insert(level);
                    *h = (*h).max(level);
                }
                proptest::prop_assert_eq!(store.alerts().list().expect("list").len(), highest.len());
                for (id, level) in &highest {
                    let r = store.alerts().get(id).expect("get").expect("there");
                    proptest::prop_assert_eq!(r.event.level, *level);
                    proptest::prop_assert!(r.history.windows(2).all(|w| w[0].level < w[1].level));
                    let d = store.alerts().deliveries(id).expect("d");
                    proptest::prop_assert_eq!(d.len(), 2 * r.history.len());
                }
            }
        }
    }
}
