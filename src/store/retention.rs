//! Retention: mentions and closed queue items older than the configured ages are deleted with
//! their index entries, so the store stops growing with time. Posts and alerts are kept: they
//! are the record of what herald did.
//!
//! Deletion is not one transaction (a store can hold hundreds of thousands of old records), so
//! each record's index entries go first and the record last: a crash leaves a record with
//! some index entries gone, which the next run finds and finishes, never an index entry
//! pointing nowhere for ever. A mention older than the last cutoff that a source serves again
//! is refused by [`super::MentionStore::insert`] (`meta/pruned_before`), so it is not drafted anew.

use chrono::{DateTime, TimeDelta, Utc};

use super::mentions::{content_key, time_key};
use super::{SledStore, StoreError, StoredMention};
use crate::domain::ReplyState;

/// The `meta` key of the cutoff of the last mention pruning (microseconds, big-endian i64).
pub(super) const PRUNED_BEFORE: &str = "pruned_before";

/// Records deleted per flush.
const BATCH: usize = 1000;

/// How long records are kept (`[storage]` in herald.toml). `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Mentions, by the time they were posted.
    pub mentions: Option<TimeDelta>,
    /// Queue items that are over (sent, rejected, expired), by the time they closed.
    pub closed_queue: Option<TimeDelta>,
}

impl Default for Retention {
    /// 90 days of mentions, 30 days of closed queue items.
    fn default() -> Self {
        Self {
            mentions: Some(TimeDelta::days(90)),
            closed_queue: Some(TimeDelta::days(30)),
        }
    }
}

/// What [`super::Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub mentions: usize,
    pub queue_items: usize,
}

/// The queue states retention may delete.
const CLOSED: [ReplyState; 3] = [ReplyState::Sent, ReplyState::Rejected, ReplyState::Expired];

impl SledStore {
    /// Deletes what `retention` no longer keeps at `now`.
    pub fn prune(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let mut done = Pruned::default();
        if let Some(keep) = retention.closed_queue {
            done.queue_items = self.prune_closed_queue(now - keep)?;
        }
        if let Some(keep) = retention.mentions {
            done.mentions = self.prune_mentions(now - keep)?;
        }
        Ok(done)
    }

    /// Whether a mention posted at `at` is older than what retention already deleted.
    pub(super) fn is_pruned_time(&self, at: DateTime<Utc>) -> bool {
        at.timestamp_micros() < self.pruned_before.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Moves the cutoff of old mentions forward to `cutoff` (never back), durably.
    pub(super) fn raise_pruned_before(&self, cutoff: DateTime<Utc>) -> Result<(), StoreError> {
        let micros = cutoff.timestamp_micros();
        let old = self
            .pruned_before
            .fetch_max(micros, std::sync::atomic::Ordering::SeqCst);
        if micros > old {
            self.db
                .open_tree("meta")?
                .insert(PRUNED_BEFORE, &micros.to_be_bytes())?;
            self.flush()?;
        }
        Ok(())
    }

    fn prune_mentions(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        // Refuse old mentions from now on, before any is deleted.
        self.raise_pruned_before(cutoff)?;
        let mentions = self.db.open_tree("mentions")?;
        let ids = self.db.open_tree("mention_ids")?;
        let content = self.db.open_tree("mention_content")?;
        let by_author = self.db.open_tree("mention_by_author")?;
        let by_topic = self.db.open_tree("mention_by_topic")?;
        let queue = self.db.open_tree("queue")?;
        let by_mention = self.db.open_tree("queue_by_mention")?;
        let end = time_key(cutoff, "");
        let mut deleted = 0;
        loop {
            let batch: Vec<(sled::IVec, sled::IVec)> = mentions
                .range(..end.clone())
                .take(BATCH)
                .collect::<Result<_, _>>()?;
            if batch.is_empty() {
                return Ok(deleted);
            }
            for (key, value) in &batch {
                // An unreadable record is deleted too; its index entries cannot be found.
                if let Ok(m) = serde_json::from_slice::<StoredMention>(value) {
                    let id = m.mention.id.as_bytes();
                    let points_here = |v: Option<sled::IVec>| v.is_some_and(|v| v == *key);
                    if points_here(ids.get(id)?) {
                        ids.remove(id)?;
                    }
                    let ck = content_key(&m.mention);
                    if points_here(content.get(&ck)?) {
                        content.remove(ck)?;
                    }
                    let mut ak = m.mention.author.to_lowercase().into_bytes();
                    ak.push(0);
                    ak.extend_from_slice(key);
                    by_author.remove(ak)?;
                    for topic in m.topics() {
                        let mut tk = topic.into_bytes();
                        tk.push(0);
                        tk.extend_from_slice(key);
                        by_topic.remove(tk)?;
                    }
                    // The mention's queue entry goes once its item is gone (pruned when closed).
                    if let Some(item) = by_mention.get(id)? {
                        if queue.get(&item)?.is_none() {
                            by_mention.remove(id)?;
                        }
                    }
                }
                mentions.remove(key)?;
                deleted += 1;
            }
            self.flush()?;
        }
    }

    fn prune_closed_queue(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let items = self.db.open_tree("queue")?;
        let index = self.db.open_tree("queue_index")?;
        let mut deleted = 0;
        for state in CLOSED {
            let mut doomed = Vec::new();
            for kv in index.scan_prefix([state.code()]) {
                let (k, _) = kv?;
                // The key ends with created_at ‖ id; an item closed before the cutoff was
                // created before it, so only those are read.
                let Some(suffix) = k.len().checked_sub(16).map(|at| &k[at..]) else {
                    continue;
                };
                let created = super::queue::from_ts(&suffix[..8]).unwrap_or_default();
                if created >= cutoff {
                    continue;
                }
                let id = &suffix[8..];
                let closed_at = match items.get(id)? {
                    Some(v) => super::queue::decode(id, &v)
                        .map(|item| item.audit.last().map_or(item.created_at, |entry| entry.at)),
                    // The item is gone already: its index entry goes too.
                    None => Ok(created),
                };
                if closed_at.is_ok_and(|t| t < cutoff) {
                    doomed.push((k.clone(), sled::IVec::from(id)));
                }
            }
            for chunk in doomed.chunks(BATCH) {
                // The item first: an index entry left by a crash points at nothing, which
                // listings skip and the next run deletes.
                for (k, id) in chunk {
                    if items.remove(id)?.is_some() {
                        deleted += 1;
                    }
                    index.remove(k)?;
                }
                self.flush()?;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::queue::tests::item;
    use crate::domain::Action;
    use crate::store::mentions::tests::mention;
    use crate::store::MentionQuery;
    #[allow(unused_imports)]
    use crate::store::Store;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&Utc)
    }

    /// The store as a restarted process opens it: sled after the first closed it, PostgreSQL
    /// on the same schema.
    fn reopen(store: Store) -> Store {
        let location = store.location();
        match store.backend() {
            "sled" => {
                drop(store);
                Store::open(std::path::Path::new(&location))
            }
            _ => Store::open_postgres(&crate::store::pg::PgOptions {
                url: location,
                password: None,
                brand: "test".into(),
                ca_file: None,
            }),
        }
        .expect("reopen")
    }

    #[test]
    fn old_mentions_go_with_their_index_entries_and_recent_ones_stay() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-12-01T00:00:00Z");
            let old = mention(
                "old",
                "Alice",
                "刹车失灵了",
                "2026-08-01T00:00:00Z",
                &[("crisis", "brake-failure")],
            );
            let recent = mention(
                "recent",
                "alice",
                "thanks",
                "2026-11-20T00:00:00Z",
                &[("crisis", "brake-failure")],
            );
            for m in [&old, &recent] {
                assert!(store.mentions().insert(m).expect("insert"));
            }
            let done = store.prune(&Retention::default(), now).expect("prune");
            assert_eq!(done.mentions, 1);
            let ids = |q: MentionQuery| -> Vec<String> {
                store
                    .mentions()
                    .list(&q)
                    .expect("q")
                    .into_iter()
                    .map(|m| m.mention.id)
                    .collect()
            };
            assert_eq!(ids(MentionQuery::default()), ["recent"]);
            assert_eq!(
                ids(MentionQuery {
                    author: Some("alice".into()),
                    ..Default::default()
                }),
                ["recent"]
            );
            assert_eq!(
                ids(MentionQuery {
                    topic: Some("crisis".into()),
                    ..Default::default()
                }),
                ["recent"],
                "{}",
                ts.backend
            );
            // Every index holds exactly the recent mention's entries.
            if ts.backend == "sled" {
                for tree in [
                    "mention_ids",
                    "mention_content",
                    "mention_by_author",
                    "mention_by_topic",
                ] {
                    assert_eq!(
                        store.as_sled().db.open_tree(tree).expect("tree").len(),
                        1,
                        "{tree}"
                    );
                }
            }
            // The old mention served again by a source is not news, even after a restart
            // (or in another process on the same database).
            assert!(!store.mentions().insert(&old).expect("again"));
            let store = reopen(ts.store);
            assert!(!store.mentions().insert(&old).expect("again"));
            assert_eq!(
                store.prune(&Retention::default(), now).expect("prune"),
                Pruned::default()
            );
        }
    }

    #[test]
    fn closed_queue_items_go_after_their_age_and_open_ones_stay() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-12-01T00:00:00Z");
            let mk = |n: u32, state: ReplyState, at: &str| {
                let mut i = item(state);
                i.mention_id = format!("m{n}");
                i.created_at = t(at);
                i.due_at = i.created_at;
                store.queue().enqueue(&i).expect("enqueue").expect("new")
            };
            let old_sent = mk(1, ReplyState::Sent, "2026-10-01T00:00:00Z");
            let old_expired = mk(2, ReplyState::Expired, "2026-10-01T00:00:00Z");
            let old_failed = mk(3, ReplyState::Failed, "2026-10-01T00:00:00Z");
            let old_pending = mk(4, ReplyState::Pending, "2026-06-01T00:00:00Z");
            let recent_sent = mk(5, ReplyState::Sent, "2026-11-25T00:00:00Z");
            // Created long ago but rejected recently: kept, by the time it closed.
            let late_reject = mk(6, ReplyState::Pending, "2026-09-01T00:00:00Z");
            store
                .queue()
                .apply(
                    late_reject,
                    &Action::Reject { reason: None },
                    "mei",
                    t("2026-11-28T00:00:00Z"),
                )
                .expect("store")
                .expect("legal");
            let old_reject = mk(7, ReplyState::Pending, "2026-09-01T00:00:00Z");
            store
                .queue()
                .apply(
                    old_reject,
                    &Action::Reject { reason: None },
                    "mei",
                    t("2026-09-02T00:00:00Z"),
                )
                .expect("store")
                .expect("legal");
            let done = store.prune(&Retention::default(), now).expect("prune");
            assert_eq!(done.queue_items, 3);
            for (id, kept) in [
                (old_sent, false),
                (old_expired, false),
                (old_reject, false),
                (old_failed, true),
                (old_pending, true),
                (recent_sent, true),
                (late_reject, true),
            ] {
                assert_eq!(
                    store.queue().item(id).expect("get").is_some(),
                    kept,
                    "item {id}"
                );
            }
            assert_eq!(
                store
                    .queue()
                    .count(&crate::store::QueueQuery::default())
                    .expect("count"),
                4,
                "the index lost the deleted items' entries"
            );
            // Their mentions keep the record that they were drafted: no draft again.
            assert!(store.queue().is_queued("m1").expect("queued?"));
            // Keeping for ever deletes nothing.
            let forever = Retention {
                mentions: None,
                closed_queue: None,
            };
            assert_eq!(
                store
                    .prune(&forever, now + TimeDelta::days(3650))
                    .expect("prune"),
                Pruned::default()
            );
        }
    }

    /// A pruned mention forgets that it was drafted only once its item is gone too: a closed
    /// old draft goes with it, an open one keeps the mention queued.
    #[test]
    fn a_pruned_mention_keeps_its_queue_record_while_its_item_stays() {
        for ts in crate::store::testing::each() {
            let store = &ts.store;
            let now = t("2026-12-01T00:00:00Z");
            let closed = mention("closed", "alice", "one", "2026-08-01T00:00:00Z", &[]);
            let open = mention("open", "bob", "two", "2026-08-01T00:00:00Z", &[]);
            let mut draft = item(ReplyState::Sent);
            draft.created_at = t("2026-08-01T00:00:00Z");
            store
                .mentions()
                .insert_with_draft(&closed, Some(&draft))
                .expect("insert");
            draft.state = ReplyState::Pending;
            let kept = store
                .mentions()
                .insert_with_draft(&open, Some(&draft))
                .expect("insert")
                .queued
                .expect("queued");
            let done = store.prune(&Retention::default(), now).expect("prune");
            assert_eq!(
                done,
                Pruned {
                    mentions: 2,
                    queue_items: 1
                },
                "{}",
                ts.backend
            );
            assert!(
                !store.queue().is_queued("closed").expect("queued?"),
                "{}",
                ts.backend
            );
            assert!(
                store.queue().is_queued("open").expect("queued?"),
                "{}",
                ts.backend
            );
            assert_eq!(
                store
                    .queue()
                    .item_for_mention("open")
                    .expect("get")
                    .map(|i| i.id),
                Some(kept),
                "{}",
                ts.backend
            );
        }
    }

    /// One process prunes while another ingests, the cutoff moving just past the mention
    /// being inserted each time: once both are done no mention older than the last cutoff is
    /// left (an insert that read an older cutoff committed before the cutoff moved, so the
    /// deletion saw it), and every pruned mention was one stored.
    #[test]
    fn pruning_in_one_process_while_another_ingests_leaves_nothing_old() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let Some((a, b, _schema)) = crate::store::queue::tests::two_processes() else {
            return;
        };
        let base = t("2026-08-01T00:00:00Z");
        let keep = Retention::default().mentions.expect("kept for a while");
        let done = AtomicUsize::new(0);
        let (inserted, pruned, cutoff) = std::thread::scope(|sc| {
            let ingest = sc.spawn(|| {
                let mut new = 0;
                for n in 0..300 {
                    let at = (base + TimeDelta::seconds(n)).to_rfc3339();
                    let m = mention(&format!("m{n}"), &format!("a{n}"), "x", &at, &[]);
                    new += usize::from(b.mentions().insert(&m).expect("insert"));
                    done.fetch_add(1, Ordering::SeqCst);
                }
                new
            });
            let (mut pruned, mut cutoff) = (0, base);
            while !ingest.is_finished() {
                // Past the mention being inserted now and the next one.
                let n = i64::try_from(done.load(Ordering::SeqCst)).expect("small");
                cutoff = base + TimeDelta::seconds(n + 2);
                pruned += a
                    .prune(&Retention::default(), cutoff + keep)
                    .expect("prune")
                    .mentions;
            }
            (ingest.join().expect("ingest"), pruned, cutoff)
        });
        let left = a.mentions().between(base, cutoff).expect("old");
        assert!(
            left.is_empty(),
            "{} mentions older than the cutoff slipped in",
            left.len()
        );
        let stored = a.mentions().between(base, base + keep).expect("all").len();
        assert_eq!(
            pruned + stored,
            inserted,
            "every mention stored was pruned or is kept"
        );
        let mut again = mention("again", "z", "x", &base.to_rfc3339(), &[]);
        again.mention.id = "again".into();
        assert!(!b.mentions().insert(&again).expect("again"), "old news");
    }
}
