//! Retention on PostgreSQL: the same rules as sled's (`store/retention.rs`). Closed queue
//! items (sent, rejected, expired) whose creation and last change are both older than the
//! cutoff go; then mentions posted before theirs, with the record that a reply was drafted for
//! them once that reply's item is gone. Posts and alerts are kept.
//!
//! The mention cutoff (`meta`, key `pruned_before`) only moves forward, and moves before any
//! mention is deleted, under the exclusive form of the advisory lock every insert takes in
//! shared form: an insert that read the old cutoff has committed before the cutoff moves, so
//! the deletion that follows sees (and deletes) its mention, and every later insert refuses
//! an old mention. Each step is one statement: PostgreSQL deletes a large batch atomically.

use chrono::{DateTime, Utc};

use super::mentions::{PRUNED_BEFORE, PRUNE_LOCK};
use super::PgStore;
use crate::store::{Pruned, Retention, StoreError};

/// Moves the cutoff of old mentions forward to `micros` (never back), under the lock inserts
/// read it under, so no insert that read the old cutoff commits after this.
fn raise(c: &mut postgres::Client, brand: &str, micros: i64) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&PRUNE_LOCK, &brand],
    )?;
    tx.execute(
        "INSERT INTO meta (brand, key, value) VALUES ($1, $2, to_jsonb($3::bigint))
         ON CONFLICT (brand, key) DO UPDATE SET value = to_jsonb(greatest(
            (meta.value #>> '{}')::bigint, (excluded.value #>> '{}')::bigint))",
        &[&brand, &PRUNED_BEFORE, &micros],
    )?;
    tx.commit()?;
    Ok(())
}

impl PgStore {
    /// Moves the cutoff of old mentions forward to `at` (never back).
    pub(crate) fn raise_pruned_before(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let brand: &str = &self.brand;
        self.pool.with(|c| raise(c, brand, at.timestamp_micros()))
    }

    /// Deletes what `retention` no longer keeps at `now`.
    pub(crate) fn prune(
        &self,
        retention: &Retention,
        now: DateTime<Utc>,
    ) -> Result<Pruned, StoreError> {
        let mut done = Pruned::default();
        if let Some(keep) = retention.closed_queue {
            done.queue_items = self.prune_closed_queue(now - keep)?;
        }
        if let Some(keep) = retention.mentions {
            done.mentions = self.prune_mentions(now - keep)?;
        }
        Ok(done)
    }

    fn prune_closed_queue(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let brand: &str = &self.brand;
        self.pool.with(|c| {
            // A row another process is changing is deleted (or not) by its committed state.
            let n = c.execute(
                "DELETE FROM queue_items
                 WHERE brand = $1 AND state IN ('sent', 'rejected', 'expired')
                   AND created_at < $2 AND changed_at < $2",
                &[&brand, &cutoff],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn prune_mentions(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let brand: &str = &self.brand;
        let micros = cutoff.timestamp_micros();
        self.pool.with(|c| {
            // Refuse old mentions from now on, before any is deleted.
            raise(c, brand, micros)?;
            // The mentions, and the record of their drafts once the draft's item is gone
            // (a mention whose item is still open keeps it: the item is still in the queue).
            let n: i64 = c
                .query_one(
                    "WITH gone AS (
                        DELETE FROM mentions WHERE brand = $1 AND at < $2 RETURNING id
                     ), freed AS (
                        DELETE FROM queue_mentions q USING gone
                        WHERE q.brand = $1 AND q.mention_id = gone.id
                          AND NOT EXISTS (SELECT 1 FROM queue_items i
                                          WHERE i.brand = $1 AND i.id = q.item_id)
                     )
                     SELECT count(*) FROM gone",
                    &[&brand, &cutoff],
                )?
                .get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }
}
