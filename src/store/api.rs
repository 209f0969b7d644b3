//! The record-kind traits: what every backend (sled, PostgreSQL) does for each kind of
//! record. [`super::Store`] hands them out (`store.posts()`, `store.queue()`, …); the services
//! see only these traits, never the backend behind them.

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::queue::{Action, QueueItem, ReplyState, TransitionError};

pub trait PostStore: Send + Sync {
    /// Every post, in (channel, time) order.
    fn all(&self) -> Result<Vec<StoredPost>, StoreError>;

    /// The posts a re-plan keeps (published, sending, unconfirmed, approved), any time.
    fn kept(&self) -> Result<Vec<StoredPost>, StoreError>;

    /// Posts with `from <= at < to`, in (time, channel) order.
    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredPost>, StoreError>;

    /// One post by channel and time.
    fn get(&self, channel: &str, at: DateTime<Utc>) -> Result<Option<StoredPost>, StoreError>;

    /// Writes a post (for states set by a person or by publishing).
    fn put(&self, post: &StoredPost) -> Result<(), StoreError>;

    /// Posts the publisher should look at now: planned or approved posts that are due (and past
    /// any backoff), and posts left `sending` or `unconfirmed` (which must be reconciled first).
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<StoredPost>, StoreError>;

    /// The next instant after `now` at which a post becomes due, if any.
    fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Changes a post atomically if it is still in state `from`: `change` edits it and the new
    /// value replaces the old only if nobody changed it meanwhile (compare-and-swap). The write
    /// is flushed to disk before this returns, so a claim survives a crash right after it.
    /// Returns the new post, or `None` if the post is gone or no longer in state `from`.
    fn transition(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        from: &[PostState],
        change: &(dyn Fn(&mut StoredPost) + Sync),
    ) -> Result<Option<StoredPost>, StoreError>;

    /// Claims a post for sending, if it is still in one of the states `from` and (when it is
    /// planned or approved) no hold keeps its category back: it becomes `sending`, with one
    /// more attempt, `claimed_at = now`, no backoff, and `holder` as the process sending it.
    /// The hold is checked in the same atomic step as the claim, so a crisis hold set a
    /// moment before always wins. Durable before this returns. `None`: not claimed (gone,
    /// moved on, held, or being claimed by another process right now).
    fn claim(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        from: &[PostState],
        now: DateTime<Utc>,
        holder: &str,
    ) -> Result<Option<StoredPost>, StoreError>;

    /// Inserts a post unless one already holds its channel and time.
    fn insert_new(&self, post: &StoredPost) -> Result<bool, StoreError>;

    /// Replaces the planned (not yet kept) posts at or after `from` with `new`, atomically: a
    /// post that became kept meanwhile (claimed for sending, approved) is never removed or
    /// overwritten.
    fn replace_planned(
        &self,
        from: DateTime<Utc>,
        new: &[StoredPost],
    ) -> Result<Replaced, StoreError>;

    /// Writes `posts` as they are (any state, delivery fields included), replacing a post of
    /// the same channel and time, in one transaction (sled: one batch, one flush). For
    /// `herald store copy`; returns how many were written.
    fn import(&self, posts: &[StoredPost]) -> Result<usize, StoreError>;
}

pub trait QueueStore: Send + Sync {
    /// Adds a drafted item (its `id` is assigned here) unless its mention already has one.
    /// Returns the new id, or `None` for a mention already in the queue. Flushed to disk.
    fn enqueue(&self, item: &QueueItem) -> Result<Option<u64>, StoreError>;

    /// Adds many items with one flush at the end (imports, benchmarks). Returns how many
    /// were new.
    fn enqueue_many(&self, items: &[QueueItem]) -> Result<usize, StoreError>;

    /// One item by id.
    fn item(&self, id: u64) -> Result<Option<QueueItem>, StoreError>;

    /// The item drafted for a mention, if any.
    fn item_for_mention(&self, mention_id: &str) -> Result<Option<QueueItem>, StoreError>;

    /// Ids of pending items created before `cutoff` (the drafts whose expiry deadline has
    /// passed), from the index alone: each (priority, platform, language) group of the index
    /// is in creation order, so each scan stops at its first younger item. A round of the
    /// reply sender costs what expires, not the size of the queue.
    fn pending_created_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<u64>, StoreError>;

    /// Whether a reply was ever drafted for a mention (its item may since have been pruned).
    fn is_queued(&self, mention_id: &str) -> Result<bool, StoreError>;

    /// Applies an action to an item atomically: the item, its index entry and its audit log
    /// change together or not at all; flushed before returning. `Ok(Err(_))` is a refused
    /// action (illegal in the item's state, empty text, no such item): nothing changed.
    fn apply(
        &self,
        id: u64,
        action: &Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<QueueItem, TransitionError>, StoreError>;

    /// Ids of every item in `state`, most urgent and oldest first.
    fn ids(&self, state: ReplyState) -> Result<Vec<u64>, StoreError>;

    /// A page of the inbox: the items matching `q`, by priority (most urgent first), then
    /// age (oldest first).
    fn page(&self, q: &QueueQuery) -> Result<Vec<QueueItem>, StoreError>;

    /// How many items match `q` (its offset and limit ignored).
    fn count(&self, q: &QueueQuery) -> Result<usize, StoreError>;

    /// Every language an item was ever enqueued in, sorted, without the empty "unknown" (from
    /// `queue_dims`, without reading the items).
    fn langs(&self) -> Result<Vec<String>, StoreError>;

    /// Every platform an item was ever enqueued from, sorted (from `queue_dims`, without
    /// reading the items).
    fn platforms(&self) -> Result<Vec<String>, StoreError>;

    /// Every item, in id order (for `herald store copy`).
    fn export_all(&self) -> Result<Vec<QueueItem>, StoreError>;

    /// Writes `items` as they are, ids, states and audit logs included, with their index
    /// entries, in one transaction (one flush); the id generator then continues above the
    /// highest id written, so a later enqueue never reuses one. For `herald store copy` into
    /// an empty store; returns how many were written.
    fn import(&self, items: &[QueueItem]) -> Result<usize, StoreError>;
}

pub trait MentionStore: Send + Sync {
    /// The cutoff of the last pruning: a mention posted before it is old news, not stored
    /// again (`None`: nothing was pruned yet).
    fn pruned_before(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Moves the pruning cutoff to `at` if that is later (a copied store keeps refusing what
    /// its source had pruned).
    fn raise_pruned_before(&self, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Stores a mention unless it is already there (same id, or the same author and text from
    /// another source). Returns whether it was new.
    fn insert(&self, m: &StoredMention) -> Result<bool, StoreError>;

    /// Stores a mention unless it is already there (as [`MentionStore::insert`]) and, in the
    /// same sled transaction, the reply drafted for it: a crash can leave neither or both,
    /// never a stored mention whose draft was lost. Flushed before it returns. A mention older
    /// than what retention deleted is not new.
    fn insert_with_draft(
        &self,
        m: &StoredMention,
        draft: Option<&QueueItem>,
    ) -> Result<Ingested, StoreError>;

    /// Mentions matching `q`, newest first.
    fn list(&self, q: &MentionQuery) -> Result<Vec<StoredMention>, StoreError>;

    /// Mentions posted in `[from, to)`, oldest first (a range scan of the time-ordered tree, so
    /// an old window costs no more than a recent one).
    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredMention>, StoreError>;

    /// Writes `mentions` as they are, with their indexes, in one transaction (one flush):
    /// none is dropped, not even two with the same author and text (the content de-duplication
    /// of [`MentionStore::insert`] keeps the first one's key for later inserts) nor one older
    /// than the last pruning. For `herald store copy`; returns how many were written.
    fn import(&self, mentions: &[StoredMention]) -> Result<usize, StoreError>;
}

pub trait AlertStore: Send + Sync {
    /// The stored mentions among `ids` (in that order, at most `limit`), as alert samples.
    fn samples(&self, ids: &[String], limit: usize) -> Result<Vec<AlertSample>, StoreError>;

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
    ) -> Result<AlertChange, StoreError>;

    /// One alert by id.
    fn get(&self, id: &str) -> Result<Option<AlertRecord>, StoreError>;

    /// Every alert: open first, then acknowledged, then resolved; newest first within each.
    fn list(&self) -> Result<Vec<AlertRecord>, StoreError>;

    /// A person acknowledges an open alert. Acknowledging again, or a resolved alert, changes
    /// nothing (the first acknowledgement is the one that counts). `None` if there is no such
    /// alert.
    fn ack(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError>;

    /// A person resolves an alert (open or acknowledged). Resolving again changes nothing.
    fn resolve(
        &self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError>;

    /// Every delivery of one alert, in (change, sink) order.
    fn deliveries(&self, alert_id: &str) -> Result<Vec<AlertDelivery>, StoreError>;

    /// Pending deliveries whose `next_at` has come, oldest first.
    fn due_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<AlertDelivery>, StoreError>;

    /// The earliest `next_at` of any pending delivery.
    fn next_delivery(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records what happened to a delivery (flushed).
    fn put_delivery(&self, d: &AlertDelivery) -> Result<(), StoreError>;

    /// Writes an alert as it is (state, history, samples) and its `deliveries`, in one
    /// transaction (one flush), replacing what has the same keys. For `herald store copy`.
    fn import(&self, alert: &AlertRecord, deliveries: &[AlertDelivery]) -> Result<(), StoreError>;
}

pub trait UserStore: Send + Sync {
    /// Adds `user`, or replaces the one of the same name when `replace` is true. Returns false
    /// (and changes nothing) if the name is taken and `replace` is false.
    fn put(&self, user: &User, replace: bool) -> Result<bool, StoreError>;

    /// The user called `name` (case-insensitive), if any.
    fn get(&self, name: &str) -> Result<Option<User>, StoreError>;

    /// Every user, by name.
    fn list(&self) -> Result<Vec<User>, StoreError>;

    /// Removes a user; returns whether there was one. Their sessions stop working because every
    /// request looks the user up.
    fn remove(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a session under `key` (the web layer passes a hash of the session id, so the
    /// store never holds a usable id).
    fn put_session(&self, key: &str, session: &Session) -> Result<(), StoreError>;

    /// The session recorded under `key`, if any (expired or not).
    fn session(&self, key: &str) -> Result<Option<Session>, StoreError>;

    /// Replaces the session under `key` with `new`, only if it is still exactly `old`; returns
    /// whether it did. A request that extends a session while another logs it out must not
    /// bring it back. Not flushed: an extension lost in a crash only ends the login sooner.
    fn replace_session(&self, key: &str, old: &Session, new: &Session) -> Result<bool, StoreError>;

    /// Forgets one session (logout).
    fn remove_session(&self, key: &str) -> Result<(), StoreError>;

    /// Forgets every session that expired before `now`; returns how many.
    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;
}

pub trait MetaStore: Send + Sync {
    /// A source's cursor (the last id or time it has seen).
    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError>;

    /// Saves a source's cursor.
    fn set_cursor(&self, source: &str, cursor: &str) -> Result<(), StoreError>;

    /// Every source's cursor, as (source, cursor), by source (for `herald store copy`).
    fn cursors(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// The hold a person set, if any: posts of its categories are not sent while it lasts.
    fn hold(&self) -> Result<Option<Hold>, StoreError>;

    /// Sets (`Some`) or lifts (`None`) the hold a person set.
    fn set_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError>;

    /// The hold open crisis alerts put on publishing, if any (see `crisis::live`).
    fn crisis_hold(&self) -> Result<Option<Hold>, StoreError>;

    /// Sets (`Some`) or lifts (`None`) the crisis hold.
    fn set_crisis_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError>;

    /// Every hold in force: a person's first, then the crisis hold.
    fn holds(&self) -> Result<Vec<Hold>, StoreError> {
        Ok(self
            .hold()?
            .into_iter()
            .chain(self.crisis_hold()?)
            .collect())
    }

    /// Every category some hold in force keeps back.
    fn held_categories(&self) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = self
            .holds()?
            .into_iter()
            .flat_map(|h| h.categories)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Whether any hold in force keeps `category` back.
    fn is_held(&self, category: &str) -> Result<bool, StoreError> {
        Ok(self.held_categories()?.iter().any(|c| c == category))
    }

    /// Takes or renews the lease `name` for `holder` until `ttl` from now: `true` when
    /// `holder` holds it afterwards (it was free, had lapsed, or was already its own). Work one
    /// process must do at a time (the planner, a source, a channel's sending) runs only while
    /// its lease is held; a holder that dies stops renewing, and another takes over once the
    /// lease lapses.
    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Gives up the lease `name` if `holder` holds it (a clean shutdown hands work over at
    /// once).
    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Every lease, lapsed or not, by name.
    fn leases(&self) -> Result<Vec<Lease>, StoreError>;
}

pub trait EngagementStore: Send + Sync {
    /// The engagement kept for the post of `channel` at `post_at`, if any.
    fn get(&self, channel: &str, post_at: DateTime<Utc>) -> Result<Option<Engagement>, StoreError>;

    /// Writes a post's engagement record (its samples and next poll), replacing the one kept.
    /// Flushed before it returns.
    fn put(&self, record: &Engagement) -> Result<(), StoreError>;

    /// Every record, in (channel, post time) order.
    fn all(&self) -> Result<Vec<Engagement>, StoreError>;

    /// Appends `sample` to the post's series (a new record when there is none), sets its
    /// next poll and clears its misses; returns the record written.
    fn record(
        &self,
        channel: &str,
        post_at: DateTime<Utc>,
        sample: Sample,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<Engagement, StoreError> {
        let mut e = self.get(channel, post_at)?.unwrap_or_else(|| Engagement {
            channel: channel.to_string(),
            post_at,
            samples: Vec::new(),
            next_at: None,
            misses: 0,
            gone: false,
        });
        e.samples.push(sample);
        e.next_at = next_at;
        e.misses = 0;
        self.put(&e)?;
        Ok(e)
    }

    /// The post's readings, oldest first (empty when it was never read).
    fn series(&self, channel: &str, post_at: DateTime<Utc>) -> Result<Vec<Sample>, StoreError> {
        Ok(self
            .get(channel, post_at)?
            .map(|e| e.samples)
            .unwrap_or_default())
    }

    /// The records of posts published in `[from, to)`, for reports (each with its latest
    /// reading in [`Engagement::latest`]).
    fn posted_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Engagement>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|e| e.post_at >= from && e.post_at < to)
            .collect())
    }
}

pub trait ClickStore: Send + Sync {
    /// Writes (or replaces) the target of each link's source code, in one transaction, flushed
    /// before it returns. The schedule calls it before it stores the posts that carry the
    /// links, so a published link always has its target.
    fn put_links(&self, links: &[ClickLink]) -> Result<(), StoreError>;

    /// The link of a source code, if one was written.
    fn link(&self, code: &str) -> Result<Option<ClickLink>, StoreError>;

    /// Every link, by code (for `herald store copy`).
    fn links(&self) -> Result<Vec<ClickLink>, StoreError>;

    /// Counts one visit of `code` in the UTC hour of `at` and returns the URL to send the
    /// visitor to; `None` (and nothing written) for a code without a link. The count is one
    /// atomic step: clicks at once each add one. Not flushed per click (see `store::clicks`).
    fn record_click(&self, code: &str, at: DateTime<Utc>) -> Result<Option<String>, StoreError>;

    /// Every count record, in (hour, code) order (for `herald store copy`).
    fn counts(&self) -> Result<Vec<ClickCount>, StoreError>;

    /// The visits per source code in the UTC hours that start in `[from, to)`, by code; codes
    /// without visits are left out. The code is always the full source code
    /// (`<channel>.<category>.<stem>.<YYYYMMDD>T<HHMM>`), so a report can split it.
    fn counts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// Writes `links` and `counts` as they are, replacing what has the same keys, in one
    /// transaction (one flush). For `herald store copy`; returns how many records were written.
    fn import(&self, links: &[ClickLink], counts: &[ClickCount]) -> Result<usize, StoreError>;
}
