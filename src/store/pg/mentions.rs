//! Mentions on PostgreSQL: the `mentions` table, de-duplicated by two unique keys (the id, and
//! the author and text as sled's content key), with the draft for a new mention enqueued in
//! the same transaction.
//!
//! Same behaviour as sled's mentions (`store/mentions.rs`): newest first in (time, id bytes)
//! order; the filters compare what sled compares (Rust's lowercasing, not the database's);
//! a mention older than the last pruning (`meta`, key `pruned_before`) is old news. Inserts
//! read that cutoff under a shared advisory lock that pruning takes exclusively while it
//! moves the cutoff (see `retention.rs`), so no old mention slips in behind a pruning.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::GenericClient;

use super::{from_record, to_record, PgStore};
use crate::domain::QueueItem;
use crate::store::mentions::content_key;
use crate::store::{Ingested, MentionQuery, MentionStore, StoreError, StoredMention};

/// Mentions on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgMentions(pub(crate) PgStore);

type Param<'a> = &'a (dyn ToSql + Sync);

/// The `meta` key of the cutoff of the last mention pruning (microseconds, a JSON number).
pub(super) const PRUNED_BEFORE: &str = "pruned_before";

/// The first key of the advisory lock between inserts (shared) and pruning (exclusive); the
/// second is the brand's hash ("ment" in ASCII).
pub(super) const PRUNE_LOCK: i32 = 0x6d65_6e74;

/// The most rows a listing reads per round trip.
const MAX_BATCH: usize = 1000;

fn key(id: &str) -> String {
    format!("mentions/{id}")
}

fn read(row: &postgres::Row) -> Result<StoredMention, StoreError> {
    let id: &str = row.get(0);
    from_record(key(id), row.get(1))
}

/// The cutoff of the last pruning, in microseconds (`i64::MIN` when none), read in `c`.
pub(super) fn pruned_before(c: &mut impl GenericClient, brand: &str) -> Result<i64, StoreError> {
    Ok(c.query_opt(
        "SELECT (value #>> '{}')::bigint FROM meta WHERE brand = $1 AND key = $2",
        &[&brand, &PRUNED_BEFORE],
    )?
    .and_then(|r| r.get::<_, Option<i64>>(0))
    .unwrap_or(i64::MIN))
}

/// Adds a `WHERE` clause whose parameter is written `$?` and its parameter.
fn clause<'a>(sql: &mut String, params: &mut Vec<Param<'a>>, template: &str, p: Param<'a>) {
    params.push(p);
    sql.push_str(&template.replace("$?", &format!("${}", params.len())));
}

/// Writes the row of `m` under the content key `ck` unless a row holds its id or `ck`;
/// returns whether it did.
fn insert_row(
    c: &mut impl GenericClient,
    brand: &str,
    m: &StoredMention,
    ck: i64,
) -> Result<bool, StoreError> {
    let topics = m.topics();
    let groups: Vec<String> = topics
        .iter()
        .map(|t| t.split('/').next().unwrap_or_default().to_string())
        .collect();
    Ok(c.execute(
        "INSERT INTO mentions (brand, id, at, content_key, author_lc, text_lc,
            platform_lc, topics, groups, sentiment, intent, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING",
        &[
            &brand,
            &m.mention.id,
            &m.mention.created_at,
            &ck,
            &m.mention.author.to_lowercase(),
            &m.mention.text.to_lowercase(),
            &m.mention.platform.to_ascii_lowercase(),
            &topics,
            &groups,
            &m.classification.sentiment.label.as_str(),
            &m.classification.intent.as_str(),
            &to_record(m),
        ],
    )? == 1)
}

impl MentionStore for PgMentions {
    fn pruned_before(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let brand: &str = &self.0.brand;
        let micros = self.0.pool.with(|c| pruned_before(c, brand))?;
        Ok((micros != i64::MIN)
            .then(|| DateTime::from_timestamp_micros(micros))
            .flatten())
    }

    fn raise_pruned_before(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.raise_pruned_before(at)
    }

    fn insert(&self, m: &StoredMention) -> Result<bool, StoreError> {
        Ok(self.insert_with_draft(m, None)?.new)
    }

    fn insert_with_draft(
        &self,
        m: &StoredMention,
        draft: Option<&QueueItem>,
    ) -> Result<Ingested, StoreError> {
        let brand: &str = &self.0.brand;
        let ck = i64::from_be_bytes(content_key(&m.mention).try_into().unwrap_or([0; 8]));
        let topics = m.topics();
        let groups: Vec<String> = topics
            .iter()
            .map(|t| t.split('/').next().unwrap_or_default().to_string())
            .collect();
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock_shared($1, hashtext($2))",
                &[&PRUNE_LOCK, &brand],
            )?;
            if m.mention.created_at.timestamp_micros() < pruned_before(&mut tx, brand)? {
                return Ok(Ingested::default());
            }
            // Of two processes inserting the same mention, the second waits on the unique
            // key until the first commits, then inserts nothing.
            let new = tx.execute(
                "INSERT INTO mentions (brand, id, at, content_key, author_lc, text_lc,
                    platform_lc, topics, groups, sentiment, intent, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT DO NOTHING",
                &[
                    &brand,
                    &m.mention.id,
                    &m.mention.created_at,
                    &ck,
                    &m.mention.author.to_lowercase(),
                    &m.mention.text.to_lowercase(),
                    &m.mention.platform.to_ascii_lowercase(),
                    &topics,
                    &groups,
                    &m.classification.sentiment.label.as_str(),
                    &m.classification.intent.as_str(),
                    &to_record(m),
                ],
            )?;
            if new == 0 {
                return Ok(Ingested::default());
            }
            let queued = match draft {
                Some(d) => {
                    let mut item = d.clone();
                    item.mention_id = m.mention.id.clone();
                    super::queue::enqueue_in(&mut tx, brand, &item)?
                }
                None => None,
            };
            tx.commit()?;
            Ok(Ingested { new: true, queued })
        })
    }

    fn import(&self, mentions: &[StoredMention]) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            for m in mentions {
                let ck = content_key(&m.mention);
                // As sled's insert of a record under its key: a row of the same id is replaced.
                tx.execute(
                    "DELETE FROM mentions WHERE brand = $1 AND id = $2",
                    &[&brand, &m.mention.id],
                )?;
                if insert_row(&mut tx, brand, m, i64::from_be_bytes(ck.as_slice().try_into().unwrap_or([0; 8])))? {
                    continue;
                }
                // Another mention holds this author and text (two stored before the content
                // key existed): this one is kept too, under a key derived from its id, so the
                // unique key still de-duplicates later inserts through the first one, as sled's
                // content index (which keeps the first) does.
                let mut salt = 0u32;
                loop {
                    let mut seed = ck.clone();
                    seed.extend_from_slice(m.mention.id.as_bytes());
                    seed.extend_from_slice(&salt.to_be_bytes());
                    let alt = i64::from_be_bytes(crate::fnv1a(&seed).to_be_bytes());
                    if insert_row(&mut tx, brand, m, alt)? {
                        break;
                    }
                    salt += 1;
                    if salt > 16 {
                        return Err(StoreError::Corrupt {
                            key: key(&m.mention.id),
                            why: "no free content key for a second mention of the same author and text".into(),
                        });
                    }
                }
            }
            tx.commit()?;
            Ok(mentions.len())
        })
    }

    fn list(&self, q: &MentionQuery) -> Result<Vec<StoredMention>, StoreError> {
        let brand: &str = &self.0.brand;
        let author = q.author.as_ref().map(|a| a.to_lowercase());
        let text = q.text.as_ref().map(|t| t.to_lowercase());
        let platform = q.platform.as_ref().map(|p| p.to_ascii_lowercase());
        let mut sql = String::from("SELECT id, record, at FROM mentions WHERE brand = $1");
        let mut params: Vec<Param<'_>> = vec![&brand];
        if let Some(s) = &q.since {
            // Microseconds, like sled's key: the exact comparison is `keeps`'s.
            clause(&mut sql, &mut params, " AND at >= $?", s);
        }
        if let Some(a) = &author {
            clause(&mut sql, &mut params, " AND author_lc = $?", a);
        }
        if let Some(t) = &q.topic {
            // As sled's topic index: `group/rule` exactly, or every rule of a group.
            if t.contains('/') {
                clause(&mut sql, &mut params, " AND topics @> ARRAY[$?::text]", t);
            } else {
                clause(&mut sql, &mut params, " AND groups @> ARRAY[$?::text]", t);
            }
        }
        if let Some(t) = &text {
            clause(&mut sql, &mut params, " AND strpos(text_lc, $?) > 0", t);
        }
        if let Some(p) = &platform {
            clause(&mut sql, &mut params, " AND platform_lc = $?", p);
        }
        if let Some(s) = &q.sentiment {
            clause(&mut sql, &mut params, " AND sentiment = $?", s);
        }
        if let Some(i) = &q.intent {
            clause(&mut sql, &mut params, " AND intent = $?", i);
        }
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        // Read in batches, newest first, each after the last row of the one before (a LIMIT
        // lets the planner walk an index from the newest end rather than sort every match).
        // `keeps` may drop a row the SQL let through, so a batch can fall short of the limit.
        let batch = i64::try_from(limit.min(MAX_BATCH)).unwrap_or(1);
        let n = params.len();
        let order = "ORDER BY at DESC, id COLLATE \"C\" DESC";
        let first = format!("{sql} {order} LIMIT ${}", n + 1);
        let next = format!(
            "{sql} AND at <= ${a} AND (at < ${a} OR id COLLATE \"C\" < ${b}) {order} LIMIT ${c}",
            a = n + 1,
            b = n + 2,
            c = n + 3
        );
        self.0.pool.with(|c| {
            let mut out = Vec::new();
            let mut last: Option<(DateTime<Utc>, String)> = None;
            loop {
                let mut p = params.clone();
                let rows = match &last {
                    None => {
                        p.push(&batch);
                        c.query(&first, &p)?
                    }
                    Some((at, id)) => {
                        p.extend([at as Param<'_>, id, &batch]);
                        c.query(&next, &p)?
                    }
                };
                for row in &rows {
                    let m = read(row)?;
                    if q.keeps(&m) {
                        out.push(m);
                        if out.len() >= limit {
                            return Ok(out);
                        }
                    }
                }
                match rows.last() {
                    Some(row) if rows.len() >= MAX_BATCH.min(limit) => {
                        last = Some((row.get(2), row.get(0)));
                    }
                    _ => return Ok(out),
                }
            }
        })
    }

    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredMention>, StoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query(
                "SELECT id, record FROM mentions WHERE brand = $1 AND at >= $2 AND at < $3
                 ORDER BY at, id COLLATE \"C\"",
                &[&brand, &from, &to],
            )?
            .iter()
            .map(read)
            .collect()
        })
    }
}
