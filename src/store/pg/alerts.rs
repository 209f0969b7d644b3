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
use crate::store::alerts::{apply_event, new_deliveries, sort_alerts};
use crate::store::{
    AlertChange, AlertDelivery, AlertEvent, AlertRecord, AlertSample, AlertState, AlertStore,
    DeliveryReason, DeliveryState, StoreError, StoredMention,
};

/// AlertStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgAlerts(pub(crate) PgStore);

/// A delivery state as its column holds it.
fn delivery_state(s: DeliveryState) -> &'static str {
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
            // Keyed by `(brand, id)`, the mention's id (migration 2).
            Ok(c.query(
                "SELECT id, record FROM mentions WHERE brand = $1 AND id = ANY($2)",
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
            out.push(AlertSample::from(m));
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
            for d in new_deliveries(&record, reason, sinks, now) {
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
        sort_alerts(&mut out);
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

    fn import(&self, alert: &AlertRecord, deliveries: &[AlertDelivery]) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            write_alert(&mut tx, brand, alert)?;
            for d in deliveries {
                write_delivery(&mut tx, brand, d)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn put_delivery(&self, d: &AlertDelivery) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| write_delivery(c, brand, d))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Schema;
    use crate::store::mentions::tests::mention;
    use crate::store::{AlertLevel, AlertSample, AlertState, Store};

    fn raw(schema: &Schema, sql: &str) -> Vec<Option<String>> {
        let url = schema.options("test").url;
        let sql = sql.to_string();
        // On a thread of its own, as the store's calls (the driver runs its own runtime).
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.simple_query(&sql)
                .expect("raw sql")
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
                    _ => None,
                })
                .collect()
        })
        .join()
        .expect("raw sql thread")
    }

    fn schema() -> Option<Schema> {
        let schema = Schema::new();
        assert!(
            schema.is_some() || std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
            "PostgreSQL is required but no test database is named"
        );
        schema
    }

    /// An alert written in sled's JSON shape (the event's fields at the top) reads from the
    /// `record` column, and writes back the same JSON (as sled's round-trip test).
    #[test]
    fn an_alert_in_the_stored_json_shape_reads_and_round_trips() {
        let Some(schema) = schema() else { return };
        let store = Store::open_postgres(&schema.options("test")).expect("open");
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
        raw(
            &schema,
            &format!(
                "INSERT INTO alerts (brand, id, state, level, opened_at, record)
                 VALUES ('test', 'brand-20261123T0100', 'acknowledged', 'crisis',
                         '2026-11-23T01:00:00Z', '{}')",
                stored.to_string().replace('\'', "''")
            ),
        );
        let r = store
            .alerts()
            .get("brand-20261123T0100")
            .expect("read")
            .expect("there");
        assert_eq!(
            (
                r.event.level,
                r.state,
                r.acked_by.as_deref(),
                r.history.len()
            ),
            (AlertLevel::Crisis, AlertState::Acknowledged, Some("mei"), 2)
        );
        assert_eq!(r.samples[0].text, "刹车失灵");
        assert_eq!(serde_json::to_value(&r).expect("json"), stored);
        // Resolving writes the record and its columns together.
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
            .expect("t")
            .with_timezone(&chrono::Utc);
        store
            .alerts()
            .resolve("brand-20261123T0100", "mei", now)
            .expect("resolve");
        assert_eq!(
            raw(
                &schema,
                "SELECT state || ' ' || (record ->> 'state') || ' ' || (record ->> 'resolved_by')
                   FROM alerts"
            ),
            [Some("resolved resolved mei".to_string())]
        );
    }

    /// Samples are the stored mentions among the ids, in the ids' order, at most `limit`,
    /// unknown ids skipped; another brand's mentions are not this store's.
    #[test]
    fn samples_are_the_stored_mentions_in_the_order_asked() {
        let Some(schema) = schema() else { return };
        let store = Store::open_postgres(&schema.options("test")).expect("open");
        let ms = [
            mention("m1", "alice", "brakes failed", "2026-11-22T10:00:00Z", &[]),
            mention("m2", "bob", "still broken", "2026-11-22T10:01:00Z", &[]),
            mention("m3", "carol", "recall?", "2026-11-22T10:02:00Z", &[]),
        ];
        let other = mention("m4", "dan", "elsewhere", "2026-11-22T10:03:00Z", &[]);
        let migrated = raw(&schema, "SELECT to_regclass('mentions')::text")[0].is_some();
        if migrated {
            for m in &ms {
                assert!(store.mentions().insert(m).expect("insert"));
            }
            let brand2 = Store::open_postgres(&schema.options("other")).expect("open other");
            assert!(brand2.mentions().insert(&other).expect("insert"));
        } else {
            // Before the mentions' migration is merged: the columns samples read.
            raw(
                &schema,
                "CREATE TABLE mentions (brand text NOT NULL, id text NOT NULL,
                                        record jsonb NOT NULL, PRIMARY KEY (brand, id))",
            );
            for (brand, m) in ms.iter().map(|m| ("test", m)).chain([("other", &other)]) {
                let record = serde_json::to_string(m).expect("json").replace('\'', "''");
                raw(
                    &schema,
                    &format!(
                        "INSERT INTO mentions VALUES ('{brand}', '{}', '{record}')",
                        m.mention.id
                    ),
                );
            }
        }
        let ids: Vec<String> = ["m3", "nope", "m4", "m1", "m2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = store.alerts().samples(&ids, 2).expect("samples");
        assert_eq!(
            got,
            [
                AlertSample {
                    id: "m3".into(),
                    author: "carol".into(),
                    text: "recall?".into(),
                    url: ms[2].mention.url.clone(),
                },
                AlertSample {
                    id: "m1".into(),
                    author: "alice".into(),
                    text: "brakes failed".into(),
                    url: ms[0].mention.url.clone(),
                },
            ]
        );
        assert_eq!(store.alerts().samples(&ids, 10).expect("samples").len(), 3);
        assert!(store.alerts().samples(&[], 10).expect("samples").is_empty());
    }
}
