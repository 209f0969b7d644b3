//! Scheduled posts on PostgreSQL: the `posts` table, claims with `FOR UPDATE SKIP LOCKED`.

use chrono::{DateTime, Utc};
use postgres::GenericClient;

use super::{from_record, to_record, PgStore, POSTS_CHANNEL};
use crate::store::{PostState, PostStore, Replaced, StoreError, StoredPost};

/// The schedule on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgPosts(pub(crate) PgStore);

const COLUMNS: &str = "channel, at, record";

fn key(channel: &str, at: DateTime<Utc>) -> String {
    format!("posts/{channel}@{}", at.timestamp())
}

fn read(row: &postgres::Row) -> Result<StoredPost, StoreError> {
    let channel: String = row.get(0);
    let at: DateTime<Utc> = row.get(1);
    from_record(key(&channel, at), row.get(2))
}

fn states(from: &[PostState]) -> Vec<&'static str> {
    from.iter().map(|s| s.as_str()).collect()
}

/// Writes a post (insert or replace), with its query columns.
fn upsert(c: &mut impl GenericClient, brand: &str, p: &StoredPost) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO posts (brand, channel, at, state, category, next_attempt, claimed_by, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (brand, channel, at) DO UPDATE SET state = excluded.state,
            category = excluded.category, next_attempt = excluded.next_attempt,
            claimed_by = excluded.claimed_by, record = excluded.record",
        &[
            &brand,
            &p.channel,
            &p.at,
            &p.state.as_str(),
            &p.category,
            &p.delivery.next_attempt,
            &p.delivery.claimed_by,
            &to_record(p),
        ],
    )?;
    Ok(())
}

/// Tells listening publishers that the schedule changed (sent when the transaction commits).
fn notify(c: &mut impl GenericClient, brand: &str) -> Result<(), StoreError> {
    c.execute("SELECT pg_notify($1, $2)", &[&POSTS_CHANNEL, &brand])?;
    Ok(())
}

impl PgPosts {
    fn query(
        &self,
        sql: &str,
        extra: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<StoredPost>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&brand];
            params.extend_from_slice(extra);
            c.query(sql, &params)?.iter().map(read).collect()
        })
    }
}

impl PostStore for PgPosts {
    fn import(&self, posts: &[StoredPost]) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            for p in posts {
                upsert(&mut tx, brand, p)?;
            }
            notify(&mut tx, brand)?;
            tx.commit()?;
            Ok(posts.len())
        })
    }

    fn all(&self) -> Result<Vec<StoredPost>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM posts WHERE brand = $1 ORDER BY channel COLLATE \"C\", at"
            ),
            &[],
        )
    }

    fn kept(&self) -> Result<Vec<StoredPost>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM posts WHERE brand = $1
                 AND state IN ('published', 'sending', 'unconfirmed', 'approved')
                 ORDER BY channel COLLATE \"C\", at"
            ),
            &[],
        )
    }

    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredPost>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM posts WHERE brand = $1 AND at >= $2 AND at < $3
                 ORDER BY at, channel COLLATE \"C\""
            ),
            &[&from, &to],
        )
    }

    fn get(&self, channel: &str, at: DateTime<Utc>) -> Result<Option<StoredPost>, StoreError> {
        Ok(self
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM posts WHERE brand = $1 AND channel = $2 AND at = $3"
                ),
                &[&channel, &at],
            )?
            .pop())
    }

    fn put(&self, post: &StoredPost) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            upsert(&mut tx, brand, post)?;
            notify(&mut tx, brand)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn due(&self, now: DateTime<Utc>) -> Result<Vec<StoredPost>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM posts WHERE brand = $1
                 AND ((state IN ('planned', 'approved') AND at <= $2)
                      OR state IN ('sending', 'unconfirmed'))
                 AND (next_attempt IS NULL OR next_attempt <= $2)
                 ORDER BY at, channel COLLATE \"C\""
            ),
            &[&now],
        )
    }

    fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query_one(
                "SELECT min(t) FROM (
                    SELECT greatest(at, coalesce(next_attempt, at)) AS t FROM posts
                     WHERE brand = $1 AND state IN ('planned', 'approved')
                    UNION ALL
                    SELECT next_attempt FROM posts
                     WHERE brand = $1 AND state IN ('sending', 'unconfirmed')
                 ) due WHERE t > $2",
                &[&brand, &now],
            )?
            .get(0))
        })
    }

    fn transition(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        from: &[PostState],
        change: &(dyn Fn(&mut StoredPost) + Sync),
    ) -> Result<Option<StoredPost>, StoreError> {
        let brand: &str = &self.0.brand;
        let from = states(from);
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM posts WHERE brand = $1 AND channel = $2 AND at = $3
                     AND state = ANY($4) FOR UPDATE"
                ),
                &[&brand, &channel, &at, &from],
            )?
            else {
                return Ok(None);
            };
            let mut post = read(&row)?;
            change(&mut post);
            upsert(&mut tx, brand, &post)?;
            if matches!(post.state, PostState::Planned | PostState::Approved) {
                notify(&mut tx, brand)?;
            }
            tx.commit()?;
            Ok(Some(post))
        })
    }

    fn claim(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        from: &[PostState],
        now: DateTime<Utc>,
        holder: &str,
    ) -> Result<Option<StoredPost>, StoreError> {
        let brand: &str = &self.0.brand;
        let from = states(from);
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        self.0.pool.with(|c| {
            // One statement: the row is locked (or skipped, if another process is claiming it
            // right now), the holds are read in the same snapshot, and the claim is written.
            let row = c.query_opt(
                "UPDATE posts SET state = 'sending', next_attempt = NULL, claimed_by = $5,
                    record = jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(record,
                        '{state}', '\"sending\"'),
                        '{delivery,attempts}',
                            to_jsonb(coalesce((record #>> '{delivery,attempts}')::int, 0) + 1)),
                        '{delivery,claimed_at}', to_jsonb($6::text)),
                        '{delivery,claimed_by}', to_jsonb($5::text)),
                        '{delivery,next_attempt}', 'null')
                 WHERE (brand, channel, at) IN (
                    SELECT p.brand, p.channel, p.at FROM posts p
                     WHERE p.brand = $1 AND p.channel = $2 AND p.at = $3 AND p.state = ANY($4)
                       AND (p.state NOT IN ('planned', 'approved') OR NOT EXISTS (
                            SELECT 1 FROM meta m
                             WHERE m.brand = p.brand AND m.key IN ('hold', 'crisis_hold')
                               AND m.value -> 'categories' ? p.category))
                     FOR UPDATE SKIP LOCKED)
                 RETURNING channel, at, record",
                &[&brand, &channel, &at, &from, &holder, &stamp],
            )?;
            row.as_ref().map(read).transpose()
        })
    }

    fn insert_new(&self, post: &StoredPost) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "INSERT INTO posts (brand, channel, at, state, category, next_attempt, claimed_by, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &brand,
                    &post.channel,
                    &post.at,
                    &post.state.as_str(),
                    &post.category,
                    &post.delivery.next_attempt,
                    &post.delivery.claimed_by,
                    &to_record(post),
                ],
            )?;
            if n > 0 {
                notify(&mut tx, brand)?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn replace_planned(
        &self,
        from: DateTime<Utc>,
        new: &[StoredPost],
    ) -> Result<Replaced, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            let mut done = Replaced {
                removed: tx.execute(
                    "DELETE FROM posts WHERE brand = $1 AND state = 'planned' AND at >= $2",
                    &[&brand, &from],
                )? as usize,
                ..Replaced::default()
            };
            for p in new {
                // A kept post (claimed, approved, published) holding the key stays; a planned
                // one before `from` is replaced like sled does.
                let kept = tx
                    .query_opt(
                        "SELECT state FROM posts WHERE brand = $1 AND channel = $2 AND at = $3
                         FOR UPDATE",
                        &[&brand, &p.channel, &p.at],
                    )?
                    .map(|r| r.get::<_, String>(0))
                    .is_some_and(|s| {
                        matches!(
                            s.as_str(),
                            "published" | "sending" | "unconfirmed" | "approved"
                        )
                    });
                if kept {
                    done.skipped += 1;
                    continue;
                }
                upsert(&mut tx, brand, p)?;
                done.inserted += 1;
            }
            notify(&mut tx, brand)?;
            tx.commit()?;
            Ok(done)
        })
    }
}
