//! Crisis alerts and their deliveries on PostgreSQL: the `alerts` and `alert_deliveries`
//! tables (migration 3), with sled's behaviour (see `store::alerts`).
//!
//! Every read-modify-write runs in one transaction that locks the alert's row first
//! (`SELECT … FOR UPDATE`, or the insert of a new alert, which a second inserter waits on), so
//! several herald processes raising the same alert queue its deliveries once per level
//! change, and an acknowledgement is never lost to a concurrent escalation. The record and its
//! deliveries commit together: a crash leaves neither or both, and a commit is durable before
//! `upsert` returns.
//!
//! Timestamp columns hold microseconds, records nanoseconds: queries narrow by the columns
//! (rounding is monotonic, so they never leave out a row that qualifies) and the exact
//! comparison and order are decided on the records, as sled decides them.
//!
//! This module does not decide routing or send anything (`crisis::notify` does).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use postgres::GenericClient;

use super::{from_record, to_record, PgStore};
use crate::store::{
    AlertChange, AlertDelivery, AlertEvent, AlertRecord, AlertSample, AlertState, AlertStore,
    DeliveryReason, DeliveryState, LevelChange, StoreError, StoredMention,
};

/// AlertStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgAlerts(pub(crate) PgStore);

/// A delivery state as its column holds it.
pub(crate) fn delivery_state(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Pending => "pending",
        DeliveryState::Sent => "sent",
        DeliveryState::Failed => "failed",
    }
}

fn alert_key(id: &str) -> String {
    format!("alerts/{id}")
}

fn delivery_key(alert_id: &str, change: i64, sink: &str) -> String {
    format!("alert_deliveries/{alert_id}/{change}/{sink}")
}

fn read_delivery(row: &postgres::Row) -> Result<AlertDelivery, StoreError> {
    let (alert_id, change, sink): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
    from_record(delivery_key(&alert_id, change, &sink), row.get(3))
}

/// Writes an alert (insert or replace), with its query columns.
fn write_alert(c: &mut impl GenericClient, brand: &str, r: &AlertRecord) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO alerts (brand, id, state, level, opened_at, record)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (brand, id) DO UPDATE SET state = excluded.state, level = excluded.level,
            opened_at = excluded.opened_at, record = excluded.record",
        &[
            &brand,
            &r.event.id,
            &r.state.as_str(),
            &r.event.level.as_str(),
            &r.event.opened_at,
            &to_record(r),
        ],
    )?;
    Ok(())
}

/// Writes a delivery (insert or replace, as sled's insert does), with its query columns.
fn write_delivery(
    c: &mut impl GenericClient,
    brand: &str,
    d: &AlertDelivery,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO alert_deliveries
            (brand, alert_id, change, sink, state, next_at, created_at, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (brand, alert_id, change, sink) DO UPDATE SET state = excluded.state,
            next_at = excluded.next_at, created_at = excluded.created_at,
            record = excluded.record",
        &[
            &brand,
            &d.alert_id,
            &i64::from(d.change),
            &d.sink,
            &delivery_state(d.state),
            &d.next_at,
            &d.created_at,
            &to_record(d),
        ],
    )?;
    Ok(())
}

/// The alert `id`, its row locked until the transaction ends.
fn lock_alert(
    c: &mut impl GenericClient,
    brand: &str,
    id: &str,
) -> Result<Option<AlertRecord>, StoreError> {
    c.query_opt(
        "SELECT record FROM alerts WHERE brand = $1 AND id = $2 FOR UPDATE",
        &[&brand, &id],
    )?
    .map(|row| from_record(alert_key(id), row.get(0)))
    .transpose()
}

/// What an event does to the alert `old` (`None`: a new alert): the record as it now is, and
/// why it changed (`None`: nothing changed, the same or a lower level). sled's rules.
fn apply_event(
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

impl PgAlerts {
    /// Changes an alert in one transaction, its row locked; `None` if there is no such alert.
    fn change_alert(
        &self,
        id: &str,
        change: impl Fn(&mut AlertRecord) + Send + Sync,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let Some(mut r) = lock_alert(&mut tx, brand, id)? else {
                return Ok(None);
            };
            let before = r.clone();
            change(&mut r);
            if r != before {
                write_alert(&mut tx, brand, &r)?;
                tx.commit()?;
            }
            Ok(Some(r))
        })
    }
}

impl AlertStore for PgAlerts {
    fn samples(&self, ids: &[String], limit: usize) -> Result<Vec<AlertSample>, StoreError> {
        if ids.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let brand: &str = &self.0.brand;
        let found: HashMap<String, serde_json::Value> = self.0.pool.with(|c| {
            // The mentions table comes with migration 2; without it there is no mention to
            // show (as on a sled store that never stored one).
            let table: Option<String> = c
                .query_one("SELECT to_regclass('mentions')::text", &[])?
                .get(0);
            if table.is_none() {
                return Ok(HashMap::new());
            }
            // The mention's id is the `id` at the top of its record (the mention is flattened
            // into it), whatever columns the mentions table keeps beside it.
            Ok(c.query(
                "SELECT record ->> 'id', record FROM mentions
                 WHERE brand = $1 AND record ->> 'id' = ANY($2)",
                &[&brand, &ids],
            )?
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
        })?;
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            let Some(v) = found.get(id) else { continue };
            let m: StoredMention = from_record(format!("mentions/{id}"), v.clone())?;
            out.push(AlertSample {
                id: m.mention.id,
                author: m.mention.author,
                text: m.mention.text,
                url: m.mention.url,
            });
        }
        Ok(out)
    }

    fn upsert(
        &self,
        event: &AlertEvent,
        samples: &[AlertSample],
        sinks: &[String],
        now: DateTime<Utc>,
    ) -> Result<AlertChange, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            // Lock the alert's row, or insert it. Two processes opening the same alert at
            // once: the second's insert waits for the first's commit and then does nothing,
            // and the second locks the row the first wrote (and sees no level change).
            let ((record, reason), written) = match lock_alert(&mut tx, brand, &event.id)? {
                Some(old) => (apply_event(Some(old), event, samples, now), false),
                None => {
                    let (r, reason) = apply_event(None, event, samples, now);
                    let inserted = tx.execute(
                        "INSERT INTO alerts (brand, id, state, level, opened_at, record)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        &[
                            &brand,
                            &r.event.id,
                            &r.state.as_str(),
                            &r.event.level.as_str(),
                            &r.event.opened_at,
                            &to_record(&r),
                        ],
                    )?;
                    if inserted == 1 {
                        ((r, reason), true)
                    } else {
                        // Another process opened it meanwhile: its row is committed now.
                        let Some(old) = lock_alert(&mut tx, brand, &event.id)? else {
                            return Err(StoreError::Postgres {
                                why: format!(
                                    "alert {:?} was opened and removed while being raised",
                                    event.id
                                ),
                            });
                        };
                        (apply_event(Some(old), event, samples, now), false)
                    }
                }
            };
            let Some(reason) = reason else {
                return Ok(AlertChange::Unchanged(record));
            };
            if !written {
                write_alert(&mut tx, brand, &record)?;
            }
            let change_no = (record.history.len() - 1) as u32;
            for sink in sinks {
                let d = AlertDelivery {
                    alert_id: record.event.id.clone(),
                    change: change_no,
                    sink: sink.clone(),
                    level: record.event.level,
                    reason,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    next_at: now,
                    created_at: now,
                    sent_at: None,
                    last_error: None,
                };
                write_delivery(&mut tx, brand, &d)?;
            }
            tx.commit()?;
            Ok(match reason {
                DeliveryReason::Opened => AlertChange::Opened(record),
                DeliveryReason::Escalated => AlertChange::Escalated(record),
            })
        })
    }

    fn get(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT record FROM alerts WHERE brand = $1 AND id = $2",
                &[&brand, &id],
            )?
            .map(|row| from_record(alert_key(id), row.get(0)))
            .transpose()
        })
    }

    fn list(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let brand: &str = &self.0.brand;
        let mut out: Vec<AlertRecord> = self.0.pool.with(|c| {
            c.query("SELECT id, record FROM alerts WHERE brand = $1", &[&brand])?
                .into_iter()
                .map(|row| from_record(alert_key(row.get(0)), row.get(1)))
                .collect::<Result<_, _>>()
        })?;
        // Sorted here, on the records' own times (nanoseconds), exactly as sled sorts.
        out.sort_by(|a, b| {
            (a.state, std::cmp::Reverse(a.event.opened_at), &a.event.id).cmp(&(
                b.state,
                std::cmp::Reverse(b.event.opened_at),
                &b.event.id,
            ))
        });
        Ok(out)
    }

    fn ack(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.change_alert(id, |r| {
            if r.state == AlertState::Open {
                r.state = AlertState::Acknowledged;
                r.acked_by = Some(who.to_string());
                r.acked_at = Some(now);
            }
        })
    }

    fn resolve(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.change_alert(id, |r| {
            if r.state != AlertState::Resolved {
                r.state = AlertState::Resolved;
                r.resolved_by = Some(who.to_string());
                r.resolved_at = Some(now);
            }
        })
    }

    fn deliveries(&self, alert_id: &str) -> Result<Vec<AlertDelivery>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            // sled's key order: the change number, then the sink's bytes.
            c.query(
                "SELECT alert_id, change, sink, record FROM alert_deliveries
                 WHERE brand = $1 AND alert_id = $2 ORDER BY change, sink COLLATE \"C\"",
                &[&brand, &alert_id],
            )?
            .iter()
            .map(read_delivery)
            .collect()
        })
    }

    fn due_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<AlertDelivery>, StoreError> {
        let brand: &str = &self.0.brand;
        // The index narrows to the pending rows due by the column (microseconds: rounding
        // keeps the order, so no due row is left out); the record's time decides.
        let found: Vec<AlertDelivery> = self.0.pool.with(|c| {
            c.query(
                "SELECT alert_id, change, sink, record FROM alert_deliveries
                 WHERE brand = $1 AND state = 'pending' AND next_at <= $2",
                &[&brand, &now],
            )?
            .iter()
            .map(read_delivery)
            .collect()
        })?;
        let mut due: Vec<_> = found
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending && d.next_at <= now)
            .collect();
        due.sort_by_key(|a| (a.created_at, a.key()));
        Ok(due)
    }

    fn next_delivery(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let brand: &str = &self.0.brand;
        // The rows with the earliest column value hold the earliest record value (maybe
        // several within one microsecond): one statement, so one snapshot.
        let first: Vec<AlertDelivery> = self.0.pool.with(|c| {
            c.query(
                "SELECT alert_id, change, sink, record FROM alert_deliveries
                 WHERE brand = $1 AND state = 'pending' AND next_at = (
                    SELECT min(next_at) FROM alert_deliveries
                     WHERE brand = $1 AND state = 'pending')",
                &[&brand],
            )?
            .iter()
            .map(read_delivery)
            .collect()
        })?;
        Ok(first
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.next_at)
            .min())
    }

    fn put_delivery(&self, d: &AlertDelivery) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| write_delivery(c, brand, d))
    }
}
