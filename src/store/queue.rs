//! The reply queue in the store: items, their index for listing, and atomic transitions.
//!
//! Trees:
//! - `queue`: key = item id (u64, big-endian; from sled's monotonic id generator), value = the
//!   [`QueueItem`] as JSON, audit log included.
//! - `queue_index`: key = `state ‖ priority ‖ platform ‖ 0 ‖ lang ‖ 0 ‖ created_at ‖ id`,
//!   value = `due_at`. Every combination of filters is a set of key prefixes, each already in
//!   age order, so a page is a k-way merge that reads only the entries it returns (plus the
//!   ones the overdue filter drops), never the whole queue.
//! - `queue_dims`: key = `platform ‖ 0 ‖ lang`, the combinations seen, to build those prefixes.
//! - `queue_by_mention`: mention id → item id, so a mention is enqueued once.
//!
//! A transition (and enqueueing) changes the item, its index entry and its audit log in one
//! sled transaction, flushed before it returns: the log is never missing a change, and an
//! approval is on disk before anything is sent.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Queue, QueueStore, SledStore, StoreError};
use crate::domain::queue::{apply, Action, Priority, QueueItem, ReplyState, TransitionError};

/// What to list. Empty filters mean "any".
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    /// Any of these states.
    pub states: Vec<ReplyState>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Any of these platforms (`bluesky`, `mastodon`, …).
    pub platforms: Vec<String>,
    /// Any of these languages (`zh`, `en`).
    pub langs: Vec<String>,
    /// Only items still awaiting an answer (pending, approved) whose SLA ran out before this
    /// instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Items to skip (for pages after the first).
    pub offset: usize,
    /// Page size; 0 means 50.
    pub limit: usize,
}

pub(super) fn ts(t: DateTime<Utc>) -> [u8; 8] {
    ((t.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

pub(super) fn from_ts(b: &[u8]) -> Option<DateTime<Utc>> {
    let raw = u64::from_be_bytes(b.try_into().ok()?) ^ (1 << 63);
    DateTime::from_timestamp_micros(raw as i64)
}

fn group_prefix(state: ReplyState, priority: Priority, platform: &str, lang: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + platform.len() + lang.len() + 16);
    k.push(state.code());
    k.push(priority.code());
    k.extend_from_slice(platform.as_bytes());
    k.push(0);
    k.extend_from_slice(lang.as_bytes());
    k.push(0);
    k
}

pub(super) fn index_key(item: &QueueItem) -> Vec<u8> {
    let mut k = group_prefix(item.state, item.priority, &item.platform, &item.lang);
    k.extend_from_slice(&ts(item.created_at));
    k.extend_from_slice(&item.id.to_be_bytes());
    k
}

pub(super) fn dims_key(item: &QueueItem) -> Vec<u8> {
    let mut k = item.platform.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(item.lang.as_bytes());
    k
}

pub(super) fn decode(key: &[u8], value: &[u8]) -> Result<QueueItem, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        key: format!(
            "queue/{}",
            key.try_into().map(u64::from_be_bytes).unwrap_or_default()
        ),
        why: e.to_string(),
    })
}

/// An index entry as the page walk merges it: `created_at ‖ id` (the sort key within one
/// priority) and `due_at`.
type Entry = ([u8; 16], [u8; 8]);

/// Why a transaction was aborted.
enum Abort {
    SledStore(StoreError),
    Refused(TransitionError),
}

impl SledStore {
    fn queue_trees(&self) -> Result<[sled::Tree; 4], StoreError> {
        Ok([
            self.db.open_tree("queue")?,
            self.db.open_tree("queue_index")?,
            self.db.open_tree("queue_dims")?,
            self.db.open_tree("queue_by_mention")?,
        ])
    }

    fn enqueue_one(&self, item: &QueueItem) -> Result<Option<u64>, StoreError> {
        let [items, index, dims, by_mention] = self.queue_trees()?;
        // Ids are generated outside the transaction (a retried transaction must not burn ids
        // it did not use, but a gap is harmless either way).
        let id = self.db.generate_id()? + 1;
        let mut item = item.clone();
        item.id = id;
        let value = serde_json::to_vec(&item).unwrap_or_default();
        let (ik, dk) = (index_key(&item), dims_key(&item));
        let due = ts(item.due_at);
        let result =
            (&items, &index, &dims, &by_mention).transaction(|(items, index, dims, bm)| {
                if bm.get(item.mention_id.as_bytes())?.is_some() {
                    return Ok(None);
                }
                bm.insert(item.mention_id.as_bytes(), &id.to_be_bytes())?;
                items.insert(&id.to_be_bytes(), value.as_slice())?;
                index.insert(ik.as_slice(), &due)?;
                dims.insert(dk.as_slice(), &[])?;
                Ok(Some(id))
            });
        result.map_err(|e: TransactionError<()>| match e {
            TransactionError::Abort(()) => StoreError::Corrupt {
                key: "queue".into(),
                why: "aborted".into(),
            },
            TransactionError::Storage(e) => e.into(),
        })
    }

    /// The index walk behind [`QueueStore::page`]: (id, due_at) of the page.
    fn queue_page_keys(&self, q: &QueueQuery) -> Result<Vec<(u64, DateTime<Utc>)>, StoreError> {
        let index = self.db.open_tree("queue_index")?;
        let dims = self.db.open_tree("queue_dims")?;
        let limit = if q.limit == 0 { 50 } else { q.limit };
        let mut states: Vec<ReplyState> = if q.states.is_empty() {
            ReplyState::ALL.to_vec()
        } else {
            q.states.clone()
        };
        if q.overdue_at.is_some() {
            // Answered, rejected or expired items are past their SLA by nobody's fault.
            states.retain(|s| s.awaits_answer());
        }
        let mut priorities: Vec<Priority> = if q.priorities.is_empty() {
            Priority::ALL.to_vec()
        } else {
            q.priorities.clone()
        };
        priorities.sort();
        priorities.dedup();
        let mut combos = Vec::new();
        for kv in dims.iter() {
            let (k, _) = kv?;
            let mut parts = k.splitn(2, |b| *b == 0);
            let platform = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let lang = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            if (q.platforms.is_empty() || q.platforms.contains(&platform))
                && (q.langs.is_empty() || q.langs.contains(&lang))
            {
                combos.push((platform, lang));
            }
        }
        let mut out = Vec::new();
        let mut skip = q.offset;
        for p in priorities {
            // One run per (state, platform, lang), each in age order: merge them.
            let mut runs: Vec<sled::Iter> = Vec::new();
            for s in &states {
                for (platform, lang) in &combos {
                    runs.push(index.scan_prefix(group_prefix(*s, p, platform, lang)));
                }
            }
            let mut heap = BinaryHeap::new();
            let next = |run: &mut sled::Iter| -> Result<Option<Entry>, StoreError> {
                match run.next() {
                    Some(kv) => {
                        let (k, v) = kv?;
                        let mut suffix = [0u8; 16];
                        suffix.copy_from_slice(&k[k.len().saturating_sub(16)..]);
                        let mut due = [0u8; 8];
                        due.copy_from_slice(&v[..8.min(v.len())]);
                        Ok(Some((suffix, due)))
                    }
                    None => Ok(None),
                }
            };
            for (i, run) in runs.iter_mut().enumerate() {
                if let Some((suffix, due)) = next(run)? {
                    heap.push(Reverse((suffix, due, i)));
                }
            }
            while let Some(Reverse((suffix, due, i))) = heap.pop() {
                if let Some(n) = next(&mut runs[i])? {
                    heap.push(Reverse((n.0, n.1, i)));
                }
                let due = from_ts(&due).unwrap_or_default();
                if q.overdue_at.is_some_and(|now| due >= now) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let id = u64::from_be_bytes(suffix[8..].try_into().unwrap_or_default());
                out.push((id, due));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

impl QueueStore for Queue {
    /// Adds a drafted item (its `id` is assigned here) unless its mention already has one.
    /// Returns the new id, or `None` for a mention already in the queue. Flushed to disk.
    fn enqueue(&self, item: &QueueItem) -> Result<Option<u64>, StoreError> {
        let id = self.0.enqueue_one(item)?;
        self.0.flush()?;
        Ok(id)
    }

    /// Adds many items with one flush at the end (imports, benchmarks). Returns how many
    /// were new.
    fn enqueue_many(&self, items: &[QueueItem]) -> Result<usize, StoreError> {
        let mut new = 0;
        for item in items {
            new += usize::from(self.0.enqueue_one(item)?.is_some());
        }
        self.0.flush()?;
        Ok(new)
    }

    /// One item by id.
    fn item(&self, id: u64) -> Result<Option<QueueItem>, StoreError> {
        let items = self.0.db.open_tree("queue")?;
        let key = id.to_be_bytes();
        items.get(key)?.map(|v| decode(&key, &v)).transpose()
    }

    /// The item drafted for a mention, if any.
    fn item_for_mention(&self, mention_id: &str) -> Result<Option<QueueItem>, StoreError> {
        let by_mention = self.0.db.open_tree("queue_by_mention")?;
        match by_mention.get(mention_id.as_bytes())? {
            Some(id) => {
                let id = id.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                self.item(id)
            }
            None => Ok(None),
        }
    }

    /// Ids of pending items created before `cutoff` (the drafts whose expiry deadline has
    /// passed), from the index alone: each (priority, platform, language) group of the index
    /// is in creation order, so each scan stops at its first younger item. A round of the
    /// reply sender costs what expires, not the size of the queue.
    fn pending_created_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<u64>, StoreError> {
        let index = self.0.db.open_tree("queue_index")?;
        let dims = self.0.db.open_tree("queue_dims")?;
        let limit = ts(cutoff);
        let mut out = Vec::new();
        for kv in dims.iter() {
            let (k, _) = kv?;
            let mut parts = k.splitn(2, |b| *b == 0);
            let platform = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let lang = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            for p in Priority::ALL {
                for kv in index.scan_prefix(group_prefix(ReplyState::Pending, p, &platform, &lang))
                {
                    let (k, _) = kv?;
                    let Some(suffix) = k.len().checked_sub(16).map(|at| &k[at..]) else {
                        continue;
                    };
                    if suffix[..8] >= limit[..] {
                        break;
                    }
                    out.push(u64::from_be_bytes(
                        suffix[8..].try_into().unwrap_or_default(),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Whether a reply was ever drafted for a mention (its item may since have been pruned).
    fn is_queued(&self, mention_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .0
            .db
            .open_tree("queue_by_mention")?
            .contains_key(mention_id.as_bytes())?)
    }

    /// Applies an action to an item atomically: the item, its index entry and its audit log
    /// change together or not at all; flushed before returning. `Ok(Err(_))` is a refused
    /// action (illegal in the item's state, empty text, no such item): nothing changed.
    fn apply(
        &self,
        id: u64,
        action: &Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<QueueItem, TransitionError>, StoreError> {
        let [items, index, _, _] = self.0.queue_trees()?;
        let key = id.to_be_bytes();
        let result = (&items, &index).transaction(|(items, index)| {
            let Some(old) = items.get(key)? else {
                return Err(ConflictableTransactionError::Abort(Abort::Refused(
                    TransitionError::NotFound(id),
                )));
            };
            let old = decode(&key, &old)
                .map_err(|e| ConflictableTransactionError::Abort(Abort::SledStore(e)))?;
            let new = apply(&old, action, who, now)
                .map_err(|e| ConflictableTransactionError::Abort(Abort::Refused(e)))?;
            items.insert(&key, serde_json::to_vec(&new).unwrap_or_default())?;
            let (old_k, new_k) = (index_key(&old), index_key(&new));
            if old_k != new_k {
                index.remove(old_k)?;
            }
            index.insert(new_k, &ts(new.due_at))?;
            Ok(new)
        });
        match result {
            Ok(item) => {
                self.0.flush()?;
                Ok(Ok(item))
            }
            Err(TransactionError::Abort(Abort::Refused(e))) => Ok(Err(e)),
            Err(TransactionError::Abort(Abort::SledStore(e))) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// Ids of every item in `state`, most urgent and oldest first.
    fn ids(&self, state: ReplyState) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .0
            .queue_page_keys(&QueueQuery {
                states: vec![state],
                limit: usize::MAX,
                ..Default::default()
            })?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// A page of the inbox: the items matching `q`, by priority (most urgent first), then
    /// age (oldest first).
    fn page(&self, q: &QueueQuery) -> Result<Vec<QueueItem>, StoreError> {
        let items = self.0.db.open_tree("queue")?;
        let mut out = Vec::new();
        for (id, _) in self.0.queue_page_keys(q)? {
            let key = id.to_be_bytes();
            if let Some(v) = items.get(key)? {
                out.push(decode(&key, &v)?);
            }
        }
        Ok(out)
    }

    /// How many items match `q` (its offset and limit ignored).
    fn count(&self, q: &QueueQuery) -> Result<usize, StoreError> {
        let q = QueueQuery {
            offset: 0,
            limit: usize::MAX,
            ..q.clone()
        };
        Ok(self.0.queue_page_keys(&q)?.len())
    }

    /// Every language an item was ever enqueued in, sorted, without the empty "unknown" (from
    /// `queue_dims`, without reading the items).
    fn langs(&self) -> Result<Vec<String>, StoreError> {
        let mut out = std::collections::BTreeSet::new();
        for kv in self.0.db.open_tree("queue_dims")?.iter() {
            let (k, _) = kv?;
            if let Some(lang) = k.splitn(2, |b| *b == 0).nth(1) {
                if !lang.is_empty() {
                    out.insert(String::from_utf8_lossy(lang).into_owned());
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    fn export_all(&self) -> Result<Vec<QueueItem>, StoreError> {
        // Keys are big-endian ids: the tree is in id order.
        self.0
            .db
            .open_tree("queue")?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    fn import(&self, items: &[QueueItem]) -> Result<usize, StoreError> {
        let [queue, index, dims, by_mention] = self.0.queue_trees()?;
        let rows: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.id.to_be_bytes(),
                    serde_json::to_vec(i).unwrap_or_default(),
                    index_key(i),
                    dims_key(i),
                    ts(i.due_at),
                    i.mention_id.as_bytes(),
                )
            })
            .collect();
        let result: Result<(), TransactionError<()>> = (&queue, &index, &dims, &by_mention)
            .transaction(|(queue, index, dims, bm)| {
                for (id, value, ik, dk, due, mention) in &rows {
                    queue.insert(id, value.as_slice())?;
                    index.insert(ik.as_slice(), due)?;
                    dims.insert(dk.as_slice(), &[])?;
                    bm.insert(*mention, id)?;
                }
                Ok(())
            });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Corrupt {
                key: "queue".into(),
                why: "aborted".into(),
            },
            TransactionError::Storage(e) => e.into(),
        })?;
        if let Some(max) = items.iter().map(|i| i.id).max() {
            self.0.raise_ids_above(max)?;
        }
        self.0.flush()?;
        Ok(items.len())
    }

    /// Every platform an item was ever enqueued from, sorted (from `queue_dims`, without
    /// reading the items).
    fn platforms(&self) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = Vec::new();
        for kv in self.0.db.open_tree("queue_dims")?.iter() {
            let (k, _) = kv?;
            let platform = k.split(|b| *b == 0).next().unwrap_or_default();
            let platform = String::from_utf8_lossy(platform).into_owned();
            if out.last() != Some(&platform) {
                out.push(platform);
            }
        }
        // Keys are sorted by platform first, so equal platforms were adjacent.
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::queue::tests::item;
    #[allow(unused_imports)]
    use crate::store::Store;
    use chrono::TimeDelta;

    #[test]
    fn a_mention_is_enqueued_once() {
        for t in crate::store::testing::each() {
            let s = &t.store;
            let a = item(ReplyState::Pending);
            let id = s.queue().enqueue(&a).expect("enqueue").expect("new");
            assert_eq!(s.queue().enqueue(&a).expect("enqueue"), None);
            let got = s.queue().item(id).expect("get").expect("there");
            assert_eq!((got.id, got.text.as_str()), (id, "draft"));
            assert_eq!(
                s.queue().item_for_mention("m1").expect("get").map(|i| i.id),
                Some(id)
            );
        }
    }

    #[test]
    fn pages_sort_by_priority_then_age_and_filter() {
        for t in crate::store::testing::each() {
            let s = &t.store;
            let t0 = item(ReplyState::Pending).created_at;
            let mk = |n: i64, p: Priority, platform: &str, lang: &str| {
                let mut i = item(ReplyState::Pending);
                i.mention_id = format!("m{n}");
                i.priority = p;
                i.platform = platform.into();
                i.lang = lang.into();
                i.created_at = t0 + TimeDelta::minutes(n);
                i.due_at = i.created_at + TimeDelta::minutes(30);
                i
            };
            let all = [
                mk(5, Priority::Praise, "bluesky", "en"),
                mk(1, Priority::Question, "mastodon", "zh"),
                mk(3, Priority::Crisis, "bluesky", "zh"),
                mk(2, Priority::Question, "bluesky", "en"),
                mk(4, Priority::Crisis, "mastodon", "en"),
            ];
            s.queue().enqueue_many(&all).expect("fill");
            let names = |q: &QueueQuery| -> Vec<String> {
                s.queue()
                    .page(q)
                    .expect("page")
                    .into_iter()
                    .map(|i| i.mention_id)
                    .collect()
            };
            assert_eq!(
                names(&QueueQuery::default()),
                ["m3", "m4", "m1", "m2", "m5"]
            );
            assert_eq!(
                names(&QueueQuery {
                    platforms: vec!["bluesky".into()],
                    ..Default::default()
                }),
                ["m3", "m2", "m5"]
            );
            assert_eq!(
                names(&QueueQuery {
                    langs: vec!["en".into()],
                    priorities: vec![Priority::Question, Priority::Praise],
                    ..Default::default()
                }),
                ["m2", "m5"]
            );
            assert_eq!(
                names(&QueueQuery {
                    offset: 1,
                    limit: 2,
                    ..Default::default()
                }),
                ["m4", "m1"]
            );
            // Due at t0+n+30 min: at t0+33.5 min, m1, m2 and m3 are overdue.
            assert_eq!(
                names(&QueueQuery {
                    overdue_at: Some(t0 + TimeDelta::seconds(33 * 60 + 30)),
                    ..Default::default()
                }),
                ["m3", "m1", "m2"]
            );
            assert_eq!(s.queue().count(&QueueQuery::default()).expect("count"), 5);
            assert_eq!(
                s.queue().platforms().expect("platforms"),
                ["bluesky", "mastodon"],
                "each platform once, whatever its languages"
            );
            assert_eq!(s.queue().langs().expect("langs"), ["en", "zh"]);
        }
    }

    #[test]
    fn transitions_move_the_index_and_refusals_change_nothing() {
        for t in crate::store::testing::each() {
            let s = &t.store;
            let id = s
                .queue()
                .enqueue(&item(ReplyState::Pending))
                .expect("enqueue")
                .expect("new");
            let now = Utc::now();
            let q = |st: ReplyState| QueueQuery {
                states: vec![st],
                ..Default::default()
            };
            s.queue()
                .apply(id, &Action::Approve { text: None }, "mei", now)
                .expect("store")
                .expect("legal");
            assert_eq!(s.queue().count(&q(ReplyState::Pending)).expect("n"), 0);
            assert_eq!(s.queue().ids(ReplyState::Approved).expect("ids"), [id]);
            let refused = s
                .queue()
                .apply(id, &Action::Edit { text: "x".into() }, "mei", now)
                .expect("store");
            assert!(refused.is_err());
            let after = s.queue().item(id).expect("get").expect("there");
            assert_eq!((after.state, after.audit.len()), (ReplyState::Approved, 1));
            assert_eq!(
                s.queue()
                    .apply(99, &Action::Retry, "mei", now)
                    .expect("store"),
                Err(TransitionError::NotFound(99))
            );
        }
    }

    #[test]
    fn the_index_finds_the_pending_drafts_past_their_deadline_only() {
        for t in crate::store::testing::each() {
            let s = &t.store;
            let t0 = item(ReplyState::Pending).created_at;
            let mk = |n: i64, p: Priority, platform: &str| {
                let mut i = item(ReplyState::Pending);
                i.mention_id = format!("m{n}");
                i.priority = p;
                i.platform = platform.into();
                i.created_at = t0 + TimeDelta::hours(n);
                i
            };
            let ids: Vec<u64> = [
                mk(0, Priority::Praise, "bluesky"),
                mk(1, Priority::Crisis, "mastodon"),
                mk(2, Priority::Question, "bluesky"),
                mk(5, Priority::Crisis, "mastodon"),
                mk(6, Priority::Praise, "bluesky"),
            ]
            .iter()
            .map(|i| s.queue().enqueue(i).expect("enqueue").expect("new"))
            .collect();
            // An approved old item is not a pending draft.
            s.queue()
                .apply(ids[2], &Action::Approve { text: None }, "mei", t0)
                .expect("store")
                .expect("legal");
            let mut found = s
                .queue()
                .pending_created_before(t0 + TimeDelta::hours(4))
                .expect("expiring");
            found.sort_unstable();
            assert_eq!(found, [ids[0], ids[1]]);
            assert!(s
                .queue()
                .pending_created_before(t0)
                .expect("none")
                .is_empty());
            assert_eq!(
                s.queue()
                    .pending_created_before(t0 + TimeDelta::hours(7))
                    .expect("all")
                    .len(),
                4
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, failure_persistence: None, ..Default::default() })]
        /// Through the store, the same actions give the same item as the pure state machine,
        /// the audit log is complete, and the index lists the item under its state only.
        #[test]
        fn store_transitions_match_the_state_machine_and_keep_the_index_exact(
            picks in proptest::collection::vec(0usize..7, 0..25)
        ) {
            for t in crate::store::testing::each() {
                let s = &t.store;
                let id = s.queue().enqueue(&item(ReplyState::Pending)).expect("enqueue").expect("new");
                let mut model = s.queue().item(id).expect("get").expect("there");
                let t0 = model.created_at;
                for (n, pick) in picks.iter().enumerate() {
                    let now = t0 + TimeDelta::seconds(n as i64);
                    let action = match pick {
                        0 => Action::Edit { text: format!("t{n}") },
                        1 => Action::Approve { text: None },
                        2 => Action::Reject { reason: None },
                        3 => Action::Claim { post: crate::domain::PostRef { channel: "c".into(), at: now }, reply_to: None },
                        4 => Action::Sent { remote_id: "r".into(), url: None },
                        5 => Action::Fail { error: "e".into() },
                        _ => Action::Retry,
                    };
                    let pure = apply(&model, &action, "p", now);
                    let stored = s.queue().apply(id, &action, "p", now).expect("store");
                    proptest::prop_assert_eq!(&pure, &stored);
                    if let Ok(next) = pure {
                        model = next;
                    }
                    let got = s.queue().item(id).expect("get").expect("there");
                    proptest::prop_assert_eq!(&got, &model);
                    for st in ReplyState::ALL {
                        let listed = s.queue().ids(st).expect("ids").contains(&id);
                        proptest::prop_assert_eq!(listed, st == model.state, "{:?}", st);
                    }
                }
                let accepted = model.audit.len();
                proptest::prop_assert!(accepted <= picks.len());
            }
        }
    }

    /// Two stores on one fresh PostgreSQL schema, as two herald processes see the database
    /// (`None` without a test database; a failure when one is required). The schema is last,
    /// so it is dropped after the stores.
    pub(in crate::store) fn two_processes(
    ) -> Option<(Store, Store, crate::store::pg::testing::Schema)> {
        let Some(schema) = crate::store::pg::testing::Schema::new() else {
            assert!(
                std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
                "PostgreSQL is required but no test database is named"
            );
            return None;
        };
        let a = Store::open_postgres(&schema.options("test")).expect("open a");
        let b = Store::open_postgres(&schema.options("test")).expect("open b");
        Some((a, b, schema))
    }

    /// Runs `f` on four threads at once, two through each store; returns what each gave.
    pub(in crate::store) fn race<T: Send>(
        a: &Store,
        b: &Store,
        f: impl Fn(usize, &Store) -> T + Sync,
    ) -> Vec<T> {
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|sc| {
            let handles: Vec<_> = [a, b, a, b]
                .into_iter()
                .enumerate()
                .map(|(n, s)| {
                    let (barrier, f) = (&barrier, &f);
                    sc.spawn(move || {
                        barrier.wait();
                        f(n, s)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a racing thread"))
                .collect()
        })
    }

    #[test]
    fn two_processes_racing_on_one_item_one_wins() {
        let Some((a, b, _schema)) = two_processes() else {
            return;
        };
        let t0 = item(ReplyState::Pending).created_at;
        for round in 0..8 {
            let mut i = item(ReplyState::Pending);
            i.mention_id = format!("race{round}");
            // Both processes enqueue the same mention at once: one item.
            let got = race(&a, &b, |_, s| s.queue().enqueue(&i).expect("enqueue"));
            let won: Vec<u64> = got.iter().flatten().copied().collect();
            assert_eq!(won.len(), 1, "round {round}: {got:?}");
            let id = won[0];
            // Both approve it at once: one approval, the others find it approved.
            let got = race(&a, &b, |_, s| {
                s.queue()
                    .apply(id, &Action::Approve { text: None }, "mei", t0)
                    .expect("store")
            });
            assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "{got:?}");
            assert!(got
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(TransitionError::Illegal { .. }))));
            // Two senders claim it at once, each for its own post: one claim.
            let got = race(&a, &b, |n, s| {
                let post = crate::domain::PostRef {
                    channel: format!("c{n}"),
                    at: t0,
                };
                let claim = Action::Claim {
                    post,
                    reply_to: None,
                };
                s.queue().apply(id, &claim, "herald", t0).expect("store")
            });
            let winners: Vec<&QueueItem> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "{got:?}");
            let stored = b.queue().item(id).expect("get").expect("there");
            assert_eq!(&stored, winners[0], "the winner's claim is what is stored");
            assert_eq!(
                stored
                    .audit
                    .iter()
                    .map(|e| e.action.as_str())
                    .collect::<Vec<_>>(),
                ["approve", "claim"]
            );
            assert_eq!(
                a.queue().ids(ReplyState::Sending).expect("ids").len(),
                round + 1
            );
        }
        assert_eq!(a.queue().count(&QueueQuery::default()).expect("count"), 8);
    }

    /// The inbox over a few thousand items on PostgreSQL lists the same items in the same
    /// order as sled's index walk, for every kind of filter, page by page; counts, the
    /// expiring drafts and the filter choices agree too.
    #[test]
    fn postgres_lists_the_queue_as_sled_does() {
        let Some(pg) = crate::store::testing::postgres() else {
            return;
        };
        let sled = crate::store::testing::sled();
        let mut rng = fastrand::Rng::with_seed(17);
        let t0 = item(ReplyState::Pending).created_at;
        let platforms = ["bluesky", "mastodon", "rss"];
        let langs = ["en", "zh", ""];
        let items: Vec<QueueItem> = (0..3000)
            .map(|n| {
                let mut i = item(ReplyState::ALL[rng.usize(..ReplyState::ALL.len())]);
                i.mention_id = format!("m{n}");
                i.priority = Priority::ALL[rng.usize(..Priority::ALL.len())];
                i.platform = platforms[rng.usize(..platforms.len())].into();
                i.lang = langs[rng.usize(..langs.len())].into();
                // Few distinct times, so many items tie on age and their ids decide.
                i.created_at = t0 + TimeDelta::minutes(rng.i64(0..500));
                i.due_at = i.created_at + TimeDelta::minutes(rng.i64(0..120));
                i
            })
            .collect();
        for s in [&sled.store, &pg.store] {
            assert_eq!(s.queue().enqueue_many(&items).expect("fill"), items.len());
            // Some items move through the state machine after they were enqueued.
            for id in (1..=3000).step_by(7) {
                let _ = s
                    .queue()
                    .apply(id, &Action::Reject { reason: None }, "mei", t0)
                    .expect("store");
            }
        }
        let now = t0 + TimeDelta::minutes(300);
        let mut queries = vec![
            QueueQuery::default(),
            QueueQuery {
                states: ReplyState::OPEN.to_vec(),
                ..Default::default()
            },
            QueueQuery {
                states: vec![ReplyState::Rejected, ReplyState::Pending],
                priorities: vec![Priority::Lead, Priority::Crisis],
                ..Default::default()
            },
            QueueQuery {
                platforms: vec!["mastodon".into(), "rss".into()],
                langs: vec!["zh".into()],
                ..Default::default()
            },
            QueueQuery {
                langs: vec!["".into()],
                states: vec![ReplyState::Sent],
                ..Default::default()
            },
            QueueQuery {
                overdue_at: Some(now),
                ..Default::default()
            },
            QueueQuery {
                overdue_at: Some(now),
                states: vec![ReplyState::Sent, ReplyState::Approved],
                platforms: vec!["bluesky".into()],
                ..Default::default()
            },
            QueueQuery {
                platforms: vec!["nowhere".into()],
                ..Default::default()
            },
        ];
        queries.extend(ReplyState::ALL.map(|st| QueueQuery {
            states: vec![st],
            ..Default::default()
        }));
        let listed = |s: &Store, q: &QueueQuery| -> Vec<(u64, String)> {
            s.queue()
                .page(q)
                .expect("page")
                .into_iter()
                .map(|i| (i.id, i.mention_id))
                .collect()
        };
        for q in &queries {
            let total = sled.store.queue().count(q).expect("count");
            assert_eq!(pg.store.queue().count(q).expect("count"), total, "{q:?}");
            // Page by page, with an odd page size, one page past the end.
            let mut seen = 0;
            for page in 0.. {
                let q = QueueQuery {
                    offset: page * 97,
                    limit: 97,
                    ..q.clone()
                };
                let want = listed(&sled.store, &q);
                assert_eq!(listed(&pg.store, &q), want, "{q:?}");
                seen += want.len();
                if want.is_empty() {
                    break;
                }
            }
            assert_eq!(seen, total, "{q:?}");
            // The first page of the default size.
            assert_eq!(listed(&pg.store, q), listed(&sled.store, q), "{q:?}");
        }
        for st in ReplyState::ALL {
            assert_eq!(
                pg.store.queue().ids(st).expect("ids"),
                sled.store.queue().ids(st).expect("ids"),
                "{st:?}"
            );
        }
        for cutoff in [t0, t0 + TimeDelta::minutes(250), now + TimeDelta::days(1)] {
            let mut want = sled
                .store
                .queue()
                .pending_created_before(cutoff)
                .expect("expiring");
            let mut got = pg
                .store
                .queue()
                .pending_created_before(cutoff)
                .expect("expiring");
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{cutoff}");
        }
        assert_eq!(pg.store.queue().langs().expect("langs"), ["en", "zh"]);
        assert_eq!(
            pg.store.queue().platforms().expect("platforms"),
            sled.store.queue().platforms().expect("platforms")
        );
    }
}
