//! The reply queue on PostgreSQL: `queue_items` (the items, with the columns the inbox sorts
//! and filters on), `queue_mentions` (a mention is enqueued once), `queue_dims` (the platforms
//! and languages ever seen) and the `queue_item_ids` sequence.
//!
//! Same behaviour as sled's queue (`store/queue.rs`): the inbox order is priority (most urgent
//! first), then creation time, then id; a transition locks the item's row (`FOR UPDATE`), runs
//! the same pure [`apply`] and writes the result in one transaction, so of two processes
//! acting on one item the second sees the first's result.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::GenericClient;

use super::{from_record, to_record, PgStore};
use crate::domain::queue::{apply, Action, Priority, QueueItem, ReplyState, TransitionError};
use crate::store::{QueueQuery, QueueStore, StoreError};

/// The reply queue on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgQueue(pub(crate) PgStore);

type Param<'a> = &'a (dyn ToSql + Sync);

fn key(id: i64) -> String {
    format!("queue/{id}")
}

fn read(row: &postgres::Row) -> Result<QueueItem, StoreError> {
    let id: i64 = row.get(0);
    from_record(key(id), row.get(1))
}

/// When an item last changed: its last audit entry (its creation without one). A closed item
/// closed then.
fn changed_at(item: &QueueItem) -> DateTime<Utc> {
    item.audit.last().map_or(item.created_at, |e| e.at)
}

/// An id as the table keeps it; an id beyond `i64` names no item.
fn db_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

/// Enqueues `item` in the transaction `c` unless its mention already has an item: takes a new
/// id, records the mention, writes the item and its (platform, language). Returns the id, or
/// `None` for a mention already queued. The unique key on `queue_mentions` decides between
/// two processes enqueueing one mention: the second waits for the first to commit, then
/// finds the row.
pub(super) fn enqueue_in(
    c: &mut impl GenericClient,
    brand: &str,
    item: &QueueItem,
) -> Result<Option<u64>, StoreError> {
    let Some(row) = c.query_opt(
        "INSERT INTO queue_mentions (brand, mention_id, item_id)
         VALUES ($1, $2, nextval('queue_item_ids'))
         ON CONFLICT (brand, mention_id) DO NOTHING
         RETURNING item_id",
        &[&brand, &item.mention_id],
    )?
    else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    let mut item = item.clone();
    // A sequence starts at 1 and only grows: never negative.
    item.id = id.unsigned_abs();
    c.execute(
        "INSERT INTO queue_items (brand, id, mention_id, state, priority, platform, lang,
            created_at, due_at, changed_at, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &brand,
            &id,
            &item.mention_id,
            &item.state.as_str(),
            &i16::from(item.priority.code()),
            &item.platform,
            &item.lang,
            &item.created_at,
            &item.due_at,
            &changed_at(&item),
            &to_record(&item),
        ],
    )?;
    c.execute(
        "INSERT INTO queue_dims (brand, platform, lang) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&brand, &item.platform, &item.lang],
    )?;
    Ok(Some(item.id))
}

/// The `WHERE` clause and parameters of a query (after `$1`, the brand), as sled's index walk
/// filters.
struct Filter {
    sql: String,
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filter {
    /// `None` when nothing can match.
    fn new(q: &QueueQuery) -> Option<Self> {
        let mut states: Vec<ReplyState> = if q.states.is_empty() {
            ReplyState::ALL.to_vec()
        } else {
            q.states.clone()
        };
        if q.overdue_at.is_some() {
            // Answered, rejected or expired items are past their SLA by nobody's fault.
            states.retain(|s| s.awaits_answer());
        }
        states.sort();
        states.dedup();
        if states.is_empty() {
            return None;
        }
        let mut f = Filter {
            sql: "brand = $1".into(),
            values: Vec::new(),
        };
        if states.len() < ReplyState::ALL.len() {
            let states: Vec<&'static str> = states.iter().map(|s| s.as_str()).collect();
            f.any("state", states);
        }
        if !q.priorities.is_empty() {
            let mut p: Vec<i16> = q.priorities.iter().map(|p| i16::from(p.code())).collect();
            p.sort_unstable();
            p.dedup();
            if let (Some(&lo), Some(&hi)) = (p.first(), p.last()) {
                if lo < hi {
                    // Bounds the index scan to the priorities asked for; it stays in order.
                    f.clause(" AND priority >= $?", Box::new(lo));
                    f.clause(" AND priority <= $?", Box::new(hi));
                }
            }
            f.any("priority", p);
        }
        if !q.platforms.is_empty() {
            f.any("platform", q.platforms.clone());
        }
        if !q.langs.is_empty() {
            f.any("lang", q.langs.clone());
        }
        if let Some(at) = q.overdue_at {
            f.clause(" AND due_at < $?", Box::new(at));
        }
        Some(f)
    }

    /// Adds a clause whose parameter is written `$?`.
    fn clause(&mut self, template: &str, value: Box<dyn ToSql + Sync + Send>) {
        self.values.push(value);
        // $1 is the brand.
        let n = self.values.len() + 1;
        self.sql.push_str(&template.replace("$?", &format!("${n}")));
    }

    /// `column` is one of `values`: `=` for one value (the planner reads an index on the
    /// column in order), `= ANY` for several.
    fn any<T: ToSql + Sync + Send + Clone + 'static>(&mut self, column: &str, values: Vec<T>)
    where
        Vec<T>: ToSql,
    {
        match &values[..] {
            [one] => self.clause(&format!(" AND {column} = $?"), Box::new(one.clone())),
            _ => self.clause(&format!(" AND {column} = ANY($?)"), Box::new(values)),
        }
    }

    /// The parameters after the brand, in the order of the clauses.
    fn params(&self) -> impl Iterator<Item = Param<'_>> {
        self.values.iter().map(|v| &**v as Param<'_>)
    }
}

impl PgQueue {
    /// `SELECT {columns}` of the items matching `q`, in the inbox order, with its offset and
    /// limit (`limit` `None`: all).
    fn select<T: Send>(
        &self,
        columns: &str,
        q: &QueueQuery,
        limit: Option<i64>,
        read: impl Fn(&postgres::Row) -> Result<T, StoreError> + Send + Sync,
    ) -> Result<Vec<T>, StoreError> {
        let Some(f) = Filter::new(q) else {
            return Ok(Vec::new());
        };
        let brand: &str = &self.0.brand;
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        self.0.pool.with(|c| {
            let mut params: Vec<Param<'_>> = vec![&brand];
            params.extend(f.params());
            let n = params.len();
            params.push(&offset);
            params.push(&limit);
            let sql = format!(
                "SELECT {columns} FROM queue_items WHERE {}
                 ORDER BY priority, created_at, id OFFSET ${} LIMIT ${}",
                f.sql,
                n + 1,
                n + 2
            );
            c.query(&sql, &params)?.iter().map(&read).collect()
        })
    }
}

impl QueueStore for PgQueue {
    fn enqueue(&self, item: &QueueItem) -> Result<Option<u64>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let id = enqueue_in(&mut tx, brand, item)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn enqueue_many(&self, items: &[QueueItem]) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let mut new = 0;
            for item in items {
                new += usize::from(enqueue_in(&mut tx, brand, item)?.is_some());
            }
            tx.commit()?;
            Ok(new)
        })
    }

    fn item(&self, id: u64) -> Result<Option<QueueItem>, StoreError> {
        let Some(id) = db_id(id) else {
            return Ok(None);
        };
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT id, record FROM queue_items WHERE brand = $1 AND id = $2",
                &[&brand, &id],
            )?
            .as_ref()
            .map(read)
            .transpose()
        })
    }

    fn item_for_mention(&self, mention_id: &str) -> Result<Option<QueueItem>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT i.id, i.record FROM queue_mentions m
                 JOIN queue_items i ON i.brand = m.brand AND i.id = m.item_id
                 WHERE m.brand = $1 AND m.mention_id = $2",
                &[&brand, &mention_id],
            )?
            .as_ref()
            .map(read)
            .transpose()
        })
    }

    fn pending_created_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<u64>, StoreError> {
        let brand: &str = &self.0.brand;
        // Every priority named, so the index on (brand, state, priority, created_at) is read
        // as one range per priority that stops at the cutoff.
        let priorities: Vec<i16> = Priority::ALL.iter().map(|p| i16::from(p.code())).collect();
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT id FROM queue_items
                 WHERE brand = $1 AND state = 'pending' AND priority = ANY($2)
                   AND created_at < $3",
                &[&brand, &priorities, &cutoff],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0).unsigned_abs())
            .collect())
        })
    }

    fn is_queued(&self, mention_id: &str) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM queue_mentions WHERE brand = $1 AND mention_id = $2",
                &[&brand, &mention_id],
            )?
            .is_some())
        })
    }

    fn apply(
        &self,
        id: u64,
        action: &Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<QueueItem, TransitionError>, StoreError> {
        let Some(db) = db_id(id) else {
            return Ok(Err(TransitionError::NotFound(id)));
        };
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            // The row stays locked until the commit: another process applying an action to
            // this item waits, then reads what this one wrote.
            let Some(row) = tx.query_opt(
                "SELECT id, record FROM queue_items WHERE brand = $1 AND id = $2 FOR UPDATE",
                &[&brand, &db],
            )?
            else {
                return Ok(Err(TransitionError::NotFound(id)));
            };
            let old = read(&row)?;
            let new = match apply(&old, action, who, now) {
                Ok(new) => new,
                // Dropping the transaction rolls it back: nothing changed.
                Err(e) => return Ok(Err(e)),
            };
            tx.execute(
                "UPDATE queue_items SET state = $3, priority = $4, platform = $5, lang = $6,
                    created_at = $7, due_at = $8, changed_at = $9, record = $10
                 WHERE brand = $1 AND id = $2",
                &[
                    &brand,
                    &db,
                    &new.state.as_str(),
                    &i16::from(new.priority.code()),
                    &new.platform,
                    &new.lang,
                    &new.created_at,
                    &new.due_at,
                    &changed_at(&new),
                    &to_record(&new),
                ],
            )?;
            if (&new.platform, &new.lang) != (&old.platform, &old.lang) {
                tx.execute(
                    "INSERT INTO queue_dims (brand, platform, lang) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&brand, &new.platform, &new.lang],
                )?;
            }
            tx.commit()?;
            Ok(Ok(new))
        })
    }

    fn ids(&self, state: ReplyState) -> Result<Vec<u64>, StoreError> {
        let q = QueueQuery {
            states: vec![state],
            ..Default::default()
        };
        self.select("id", &q, None, |r| Ok(r.get::<_, i64>(0).unsigned_abs()))
    }

    fn page(&self, q: &QueueQuery) -> Result<Vec<QueueItem>, StoreError> {
        let limit = if q.limit == 0 { 50 } else { q.limit };
        let limit = i64::try_from(limit).ok();
        self.select("id, record", q, limit, read)
    }

    fn count(&self, q: &QueueQuery) -> Result<usize, StoreError> {
        let Some(f) = Filter::new(q) else {
            return Ok(0);
        };
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut params: Vec<Param<'_>> = vec![&brand];
            params.extend(f.params());
            let sql = format!("SELECT count(*) FROM queue_items WHERE {}", f.sql);
            let n: i64 = c.query_one(&sql, &params)?.get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn export_all(&self) -> Result<Vec<QueueItem>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query(
                "SELECT id, record FROM queue_items WHERE brand = $1 ORDER BY id",
                &[&brand],
            )?
            .iter()
            .map(read)
            .collect()
        })
    }

    fn import(&self, items: &[QueueItem]) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let id = db_id(item.id).ok_or_else(|| StoreError::Corrupt {
                key: format!("queue/{}", item.id),
                why: "the id is beyond PostgreSQL's bigint".into(),
            })?;
            rows.push((id, item));
        }
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            for (id, item) in &rows {
                tx.execute(
                    "INSERT INTO queue_mentions (brand, mention_id, item_id) VALUES ($1, $2, $3)
                     ON CONFLICT (brand, mention_id) DO UPDATE SET item_id = excluded.item_id",
                    &[&brand, &item.mention_id, id],
                )?;
                tx.execute(
                    "INSERT INTO queue_items (brand, id, mention_id, state, priority, platform,
                        lang, created_at, due_at, changed_at, record)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (brand, id) DO UPDATE SET mention_id = excluded.mention_id,
                        state = excluded.state, priority = excluded.priority,
                        platform = excluded.platform, lang = excluded.lang,
                        created_at = excluded.created_at, due_at = excluded.due_at,
                        changed_at = excluded.changed_at, record = excluded.record",
                    &[
                        &brand,
                        id,
                        &item.mention_id,
                        &item.state.as_str(),
                        &i16::from(item.priority.code()),
                        &item.platform,
                        &item.lang,
                        &item.created_at,
                        &item.due_at,
                        &changed_at(item),
                        &to_record(*item),
                    ],
                )?;
                tx.execute(
                    "INSERT INTO queue_dims (brand, platform, lang) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&brand, &item.platform, &item.lang],
                )?;
            }
            if let Some(max) = rows.iter().map(|(id, _)| *id).max() {
                // The sequence is shared by every process (and brand), so it is only ever
                // moved forward: when it is already past `max` (another process took ids
                // meanwhile), it is left alone. setval is not undone by a rollback: a failed
                // import leaves a gap in the ids, which is harmless.
                tx.query(
                    "SELECT setval('queue_item_ids', $1) FROM queue_item_ids
                     WHERE last_value < $1",
                    &[&max],
                )?;
            }
            tx.commit()?;
            Ok(rows.len())
        })
    }

    fn langs(&self) -> Result<Vec<String>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT DISTINCT lang COLLATE \"C\" FROM queue_dims
                 WHERE brand = $1 AND lang <> '' ORDER BY 1",
                &[&brand],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn platforms(&self) -> Result<Vec<String>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT DISTINCT platform COLLATE \"C\" FROM queue_dims
                 WHERE brand = $1 ORDER BY 1",
                &[&brand],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }
}
