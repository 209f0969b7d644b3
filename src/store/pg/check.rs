//! `herald store check` on PostgreSQL: count every herald table's rows of this brand, decode
//! every record into its Rust type, and say what is there and what is unreadable, in the
//! report sled's check gives ([`CheckReport`]). It changes nothing.
//!
//! The tables are the ones herald's migrations make; tables of another migration this herald
//! knows only by name (the mentions and the reply queue) are read if they exist. A table
//! without a `record` column (cursors, leases, an index) is counted, not decoded; `meta` holds
//! holds, decoded as such.

use std::path::PathBuf;

use postgres::fallible_iterator::FallibleIterator;
use serde::de::DeserializeOwned;

use super::{PgStore, SCHEMA_VERSION};
use crate::domain::QueueItem;
use crate::store::{
    AlertDelivery, AlertRecord, CheckReport, Hold, Session, StoreError, StoredMention, StoredPost,
    TreeReport, User,
};

/// At most this many problems are listed one by one; the rest are counted (as sled's check).
const MAX_LISTED: usize = 50;

/// The tables herald makes, in the order they are reported.
const TABLES: &[&str] = &[
    "posts",
    "meta",
    "cursors",
    "leases",
    "mentions",
    "queue_items",
    "alerts",
    "alert_deliveries",
    "users",
    "sessions",
    "engagement",
    "click_links",
    "click_counts",
];

/// Decodes one record, or says why it cannot.
type Decoder = fn(serde_json::Value) -> Result<(), serde_json::Error>;

fn decodes<T: DeserializeOwned>(v: serde_json::Value) -> Result<(), serde_json::Error> {
    serde_json::from_value::<T>(v).map(drop)
}

/// The decoder of a table's `record` column; `None` for tables only counted.
fn decoder(table: &str) -> Option<Decoder> {
    Some(match table {
        "posts" => decodes::<StoredPost>,
        "mentions" => decodes::<StoredMention>,
        "queue_items" => decodes::<QueueItem>,
        "alerts" => decodes::<AlertRecord>,
        "alert_deliveries" => decodes::<AlertDelivery>,
        "users" => decodes::<User>,
        "sessions" => decodes::<Session>,
        "engagement" => decodes::<crate::store::Engagement>,
        "click_links" => decodes::<crate::store::ClickLink>,
        _ => return None,
    })
}

/// A key as it may be shown: control characters escaped (keys hold mention ids and names,
/// which are untrusted).
fn shown_key(k: &str) -> String {
    format!("{k:?}")
}

/// An identifier quoted for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn problem(report: &mut CheckReport, line: String) {
    if report.problems.len() < MAX_LISTED {
        report.problems.push(line);
    } else {
        report.more_problems += 1;
    }
}

/// How one table is read: its key columns (without `brand`), and which columns it has.
struct Shape {
    key: Vec<String>,
    brand: bool,
    record: bool,
    value: bool,
}

fn shape(c: &mut postgres::Client, table: &str) -> Result<Shape, StoreError> {
    let columns: Vec<String> = c
        .query(
            "SELECT attname::text FROM pg_attribute
              WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            &[&table],
        )?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut key: Vec<String> = c
        .query(
            "SELECT a.attname::text FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
              WHERE i.indrelid = to_regclass($1) AND i.indisprimary
              ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&table],
        )?
        .into_iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|k| k != "brand")
        .collect();
    if key.is_empty() {
        // No primary key: the row's place is all there is to name it by.
        key.push("ctid".into());
    }
    let has = |name: &str| columns.iter().any(|c| c == name);
    Ok(Shape {
        key,
        brand: has("brand"),
        record: has("record"),
        value: has("value"),
    })
}

impl PgStore {
    /// Checks the store without changing it: every herald table of this brand is counted and
    /// every record decoded. The report's `problems` are empty when the store is sound.
    pub(crate) fn check(&self) -> Result<CheckReport, StoreError> {
        let brand: &str = &self.brand;
        let mut report = CheckReport {
            path: PathBuf::from(self.shown()),
            trees: Vec::new(),
            problems: Vec::new(),
            more_problems: 0,
        };
        self.pool.with(|c| {
            let exists = |c: &mut postgres::Client, t: &str| -> Result<bool, StoreError> {
                Ok(c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])?
                    .get(0))
            };
            let found: Option<i32> = if exists(c, "herald_migrations")? {
                c.query_one("SELECT max(version) FROM herald_migrations", &[])?
                    .get(0)
            } else {
                None
            };
            match found {
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) => problem(
                    &mut report,
                    format!("schema version {v} (this herald reads version {SCHEMA_VERSION})"),
                ),
                None => problem(
                    &mut report,
                    "this database is not a herald store (no migration applied)".into(),
                ),
            }
            // The tables of the mentions and queue work beside `mentions` and `queue_items`
            // (named `queue_*`): counted when there.
            let extra: Vec<String> = c
                .query(
                    "SELECT relname::text FROM pg_class
                      WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
                        AND relname LIKE 'queue\\_%' ORDER BY relname COLLATE \"C\"",
                    &[],
                )?
                .into_iter()
                .map(|r| r.get::<_, String>(0))
                .filter(|t| !TABLES.contains(&t.as_str()))
                .collect();
            let tables = TABLES.iter().map(|t| t.to_string()).chain(extra);
            for table in tables {
                if !exists(c, &table)? {
                    continue;
                }
                let s = shape(c, &table)?;
                let decode = decoder(&table).filter(|_| s.record);
                let key = format!(
                    "concat_ws('/', {})",
                    s.key
                        .iter()
                        .map(|k| format!("{}::text", ident(k)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let value = if decode.is_some() {
                    "record"
                } else if table == "meta" && s.value {
                    "value"
                } else {
                    "NULL::jsonb"
                };
                let filter = if s.brand { "WHERE brand = $1" } else { "" };
                let sql = format!("SELECT {key}, {value} FROM {} {filter}", ident(&table));
                let mut t = TreeReport {
                    name: table.clone(),
                    records: 0,
                    unreadable: 0,
                };
                let mut problems = Vec::new();
                // Streamed: a table of millions of mentions is not held in memory at once.
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    if s.brand { vec![&brand] } else { vec![] };
                let mut rows = c.query_raw(sql.as_str(), params)?;
                while let Some(row) = rows.next()? {
                    t.records += 1;
                    let k: String = row.get(0);
                    let v: Option<serde_json::Value> = row.get(1);
                    let result = match (decode, v) {
                        (Some(d), Some(v)) => d(v),
                        (None, Some(v)) if k == "hold" || k == "crisis_hold" => decodes::<Hold>(v),
                        _ => Ok(()),
                    };
                    if let Err(why) = result {
                        t.unreadable += 1;
                        problems.push(format!("{table}/{}: {why}", shown_key(&k)));
                    }
                }
                for p in problems {
                    problem(&mut report, p);
                }
                report.trees.push(t);
            }
            Ok(())
        })?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Schema;
    use super::*;
    use crate::store::{AlertEvent, AlertLevel, Store};

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&chrono::Utc)
    }

    /// Runs `sql` on the test schema; the first column of each row, as text.
    fn raw(schema: &Schema, sql: &str) -> Vec<Option<String>> {
        let url = schema.options("test").url;
        let sql = sql.to_string();
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

    #[test]
    fn unreadable_records_are_reported_and_sound_ones_counted() {
        let Some(schema) = Schema::new() else {
            assert!(
                std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
                "no test database"
            );
            return;
        };
        let options = schema.options("test");
        let store = Store::open_postgres(&options).expect("open");
        let pg = PgStore::open(&options).expect("open pg");
        let now = at("2026-11-23T01:00:00Z");
        let event = AlertEvent {
            id: "a1".into(),
            topic: "brand".into(),
            level: AlertLevel::Warning,
            opened_at: now,
            window_start: now,
            negative: 3,
            total: 9,
            baseline: 1.0,
            sample: vec![],
        };
        store
            .alerts()
            .upsert(&event, &[], &["slack".to_string()], now)
            .expect("upsert");
        store
            .meta()
            .set_hold(Some(&Hold {
                since: now,
                reason: "r".into(),
                categories: vec!["promo".into()],
                alerts: vec![],
            }))
            .expect("hold");

        // The mentions and the queue, once their migration is there.
        let migrated = raw(&schema, "SELECT to_regclass('queue_items')::text")[0].is_some();
        if migrated {
            let m = crate::store::mentions::tests::mention(
                "m1",
                "alice",
                "hi",
                "2026-11-22T10:00:00Z",
                &[],
            );
            let draft = crate::domain::queue::tests::item(crate::domain::ReplyState::Pending);
            store
                .mentions()
                .insert_with_draft(&m, Some(&draft))
                .expect("insert");
        }

        let report = pg.check().expect("check");
        assert!(report.is_ok(), "{report}");
        if migrated {
            assert_eq!(
                (report.records("mentions"), report.records("queue_items")),
                (1, 1),
                "{report}"
            );
        }
        assert_eq!(
            (report.records("alerts"), report.records("alert_deliveries")),
            (1, 1),
            "{report}"
        );
        assert_eq!(report.records("meta"), 1, "{report}");
        assert!(report.to_string().contains("the store is sound"));

        // A record that is JSON but not an alert, one whose key holds a control character,
        // a broken hold, and another brand's broken row (not this store's business).
        raw(
            &schema,
            "INSERT INTO alerts (brand, id, state, level, opened_at, record)
               VALUES ('test', E'bad\\x1b[2J', 'open', 'warning', now(), '{\"id\": 5}');
             INSERT INTO sessions (brand, key, expires_at, record)
               VALUES ('test', 'k', now(), '[]');
             UPDATE meta SET value = '{\"categories\": \"promo\"}' WHERE key = 'hold';
             INSERT INTO users (brand, key, record) VALUES ('other', 'x', 'null');",
        );
        if migrated {
            raw(&schema, "UPDATE queue_items SET record = '{}'");
        }
        let report = pg.check().expect("check");
        assert!(!report.is_ok());
        let tree = |name: &str| {
            report
                .trees
                .iter()
                .find(|t| t.name == name)
                .cloned()
                .expect("tree")
        };
        assert_eq!((tree("alerts").records, tree("alerts").unreadable), (2, 1));
        assert_eq!(
            (tree("sessions").records, tree("sessions").unreadable),
            (1, 1)
        );
        assert_eq!((tree("meta").records, tree("meta").unreadable), (1, 1));
        assert_eq!((tree("users").records, tree("users").unreadable), (0, 0));
        if migrated {
            assert_eq!(tree("queue_items").unreadable, 1, "{report}");
        }
        assert_eq!(
            report.problems.len(),
            if migrated { 4 } else { 3 },
            "{report}"
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.starts_with("alerts/\"bad\\u{1b}[2J\": ")),
            "{:?}",
            report.problems
        );
        assert!(report.problems.iter().all(|p| !p.contains('\x1b')));
        assert!(report.to_string().contains("the store is damaged"));
    }
}
