//! herald's store: the records it keeps, the record-kind traits every backend implements
//! ([`PostStore`], [`QueueStore`], … in `api.rs`; reached as `store.posts()`, `store.queue()`,
//! …), and the two backends behind [`Store`]: the embedded sled store (this file and its
//! siblings, the only modules that know sled) and a shared PostgreSQL database ([`pg`], the
//! only module that knows PostgreSQL). The services see the traits, never a backend.
//!
//! sled's trees:
//! - `posts`: the schedule. Key `channel ‖ 0x00 ‖ at` (seconds since the epoch, big-endian with
//!   the sign bit flipped, so keys sort by channel, then time). A channel never has two posts
//!   in one minute (the planner keeps them an hour apart), so the key is also the post's stable
//!   identity, the idempotency key publishing will use.
//! - `meta`: the schema version, when the store was created, the last write probe.
//! - `alerts`, `alert_deliveries`: crisis alerts and their queued messages (see `alerts.rs`).
//! - `engagement`: the counters read from the platforms for each published post, keyed like
//!   `posts` (see `engagement.rs`).
//! - `click_links`, `clicks`: each tracked link's target by source code, and visits per code
//!   and UTC hour through the click redirect (see `clicks.rs`).
//!
//! - `mentions` and its index trees, `queue` and its index trees, `cursors`, `users`,
//!   `sessions` (see `mentions.rs`, `queue.rs`, `users.rs`).
//!
//! Values are JSON: readable with `sled`-agnostic tools and tolerant of added fields. The
//! records are the store's own (posts, holds, alerts, users) or shared ones from
//! [`crate::domain`] and [`crate::classify`]; the store imports no service module (inbox,
//! listen, publish, crisis' live loop, web). Records written by older versions still read
//! (a post without a [`PostKind`] is worked out from its category).
//!
//! A damaged store never opens as an empty one: sled's errors and panics on open become
//! [`StoreError::Damaged`], and a store whose files say it holds data (the marker file
//! [`MARKER_FILE`] written at creation, or sled's own list of trees) but which opens without
//! its schema record, or whose schedule cannot be read through, is refused the same way. A
//! store another process holds is [`StoreError::Locked`]. [`check`] walks a store and reports what is
//! unreadable; [`retention`] prunes old records; [`health`] probes whether writes still work;
//! [`copy()`] moves every record into another (empty) store, on either backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use thiserror::Error;

use crate::plan::SeriesPart;

mod alerts;
mod api;
mod check;
mod copy;
pub mod health;
mod mentions;
pub mod pg;
pub mod retention;
pub use alerts::{
    AlertChange, AlertDelivery, AlertEvent, AlertLevel, AlertRecord, AlertSample, AlertState,
    DeliveryReason, DeliveryState, LevelChange,
};
pub use api::{
    AlertStore, ClickStore, EngagementStore, MentionStore, MetaStore, PostStore, QueueStore,
    UserStore,
};
mod clicks;
use clicks::Clicks;
pub use clicks::{hour_of, ClickCount, ClickLink};
mod engagement;
pub use check::{check, CheckReport, TreeReport};
pub use copy::{copy, Copied};
use engagement::Engagements;
pub use engagement::{Engagement, Sample};
pub use health::{available_space, WriteFailure};
pub use mentions::{Ingested, MentionQuery, StoredMention};
pub use retention::{Pruned, Retention};
mod users;
pub use users::{Session, User};
mod queue;
pub use queue::QueueQuery;

const SCHEMA_VERSION: &[u8] = b"1";

/// How long [`SledStore::open`] waits for a store another handle is letting go of.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The file herald writes into the store's folder once the store is created. Its presence says
/// the store holds data, so a store that then opens empty (a deleted or cut sled snapshot) is
/// refused instead of being taken for a new one.
pub const MARKER_FILE: &str = "herald-store";

/// sled's page cache when the configuration does not say (`[storage] cache_mb`): small enough
/// for a 512 MB VM. sled's own default is 1 GiB.
pub const DEFAULT_CACHE_MB: u64 = 64;

/// How the store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled's page cache, in bytes.
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_MB * 1024 * 1024,
        }
    }
}

/// The sled configuration for a store at `path`.
fn sled_config(path: &Path, options: &StoreOptions) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_bytes)
}

thread_local! {
    /// Set while this thread opens sled: a panic there is reported as a damaged store, so the
    /// panic hook stays quiet about it.
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err(message)`, without the panic hook printing it. The
/// hook is wrapped once per process and delegates to the previous one for every other panic.
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "sled panicked".into())
    })
}

/// Opens sled, waiting up to [`LOCK_WAIT`] for its file lock. sled's background flusher keeps
/// the lock for a moment after the last handle to a store is dropped, so a re-open right after
/// a close (a restart, a CLI command after another) can find it still held, even by its own
/// process (a test failed that way). Only after the wait is the store taken to be held by
/// someone else. sled 0.34 panics on some damaged files (a log cut in half): that panic, and
/// sled's corruption errors, are [`StoreError::Damaged`].
fn open_sled(path: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let shown = || path.display().to_string();
    loop {
        let opened = catch_quietly(|| sled_config(path, options).open()).map_err(|why| {
            StoreError::Damaged {
                path: shown(),
                why: format!("sled failed reading it ({why})"),
            }
        })?;
        match opened {
            // sled says so only in its message: this is the one place that reads it.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked { path: shown() });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(db) => return Ok(db),
            Err(e @ (sled::Error::Corruption { .. } | sled::Error::ReportableBug(_))) => {
                return Err(StoreError::Damaged {
                    path: shown(),
                    why: sled_why(&e),
                })
            }
            Err(source) => {
                return Err(StoreError::Open {
                    path: shown(),
                    source,
                })
            }
        }
    }
}

/// Why the store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    /// Another process holds the store's lock (another herald, still running or stopping), and
    /// did not let go of it within a few seconds.
    #[error("the store at {path} is locked by another process")]
    Locked { path: String },
    /// The store's files are unreadable, or say it holds data it no longer has. herald must
    /// not start on it: an empty-looking store would re-plan and re-send what was done.
    #[error("the store at {path} is damaged: {why} (restore it from a backup, or run `herald store check` to see what is readable)")]
    Damaged { path: String, why: String },
    /// `herald store check` was pointed at a store that does not exist.
    #[error("there is no store at {path}")]
    Missing { path: String },
    /// The store's marker file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// sled found a damaged page while reading (the store opened, part of it is unreadable).
    #[error("the store is damaged: {why} (restore it from a backup, or run `herald store check` to see what is readable)")]
    Unreadable { why: String },
    #[error("store: {0}")]
    Sled(sled::Error),
    /// PostgreSQL refused or failed (the message is the database's; never a password).
    #[error("database: {why}")]
    Postgres { why: String },
    /// `herald store copy` was given a destination that already holds records.
    #[error("the destination store {location} is not empty: it holds {holds}; copy only into an empty store")]
    NotEmpty { location: String, holds: String },
    /// After `herald store copy`, the destination does not hold as many records of a kind as
    /// the source (or the source changed during the copy).
    #[error("the copy does not check out: {found} {kind} where the source has {expected}")]
    CopyMismatch {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("store record {key} is unreadable: {why}")]
    Corrupt { key: String, why: String },
    #[error("the store at {path} has schema version {found}; this herald reads version 1")]
    Schema { path: String, found: String },
    /// Writes kept failing (a full or broken disk): herald stops so that a supervisor restarts
    /// it once the disk is fixed (sled does not recover from a failed write by itself).
    #[error("the store at {path} cannot be written: {failure}; herald stops so that it can be restarted once the disk is fixed")]
    WritesFailing { path: String, failure: WriteFailure },
}

/// Reads a tree through once. sled reads pages lazily, so a store whose log was cut short can
/// open and fail only on the first read of a lost page; the schedule is read through at open
/// (it is read on every publishing round anyway), so that such a store is refused as damaged
/// instead of being found broken later. Corruption is [`StoreError::Unreadable`].
fn read_through(tree: &sled::Tree) -> Result<(), StoreError> {
    for kv in tree.iter() {
        kv?;
    }
    Ok(())
}

/// sled's message for a damaged store, without the empty backtrace it appends.
fn sled_why(e: &sled::Error) -> String {
    let text = e.to_string();
    text.trim_end_matches(" backtrace ()").to_string()
}

impl From<sled::Error> for StoreError {
    /// sled's corruption errors are a damaged store, said as such; the rest stay sled's.
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => {
                StoreError::Unreadable { why: sled_why(&e) }
            }
            e => StoreError::Sled(e),
        }
    }
}

/// Where a scheduled post is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostState {
    /// Placed by the planner; a re-plan may move or replace it.
    Planned,
    /// Confirmed by a person: kept by re-planning.
    Approved,
    /// Claimed by the publisher; the platform may or may not have it.
    Sending,
    /// The send timed out: must be reconciled with the platform before any retry.
    Unconfirmed,
    /// On the platform.
    Published,
    /// The platform refused it.
    Failed,
    /// Too late to send.
    Missed,
}

impl PostState {
    /// Posts a re-plan must keep and plan around: they happened or were promised.
    pub fn is_kept(self) -> bool {
        matches!(
            self,
            PostState::Approved
                | PostState::Sending
                | PostState::Unconfirmed
                | PostState::Published
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PostState::Planned => "planned",
            PostState::Approved => "approved",
            PostState::Sending => "sending",
            PostState::Unconfirmed => "unconfirmed",
            PostState::Published => "published",
            PostState::Failed => "failed",
            PostState::Missed => "missed",
        }
    }
}

/// What made a post of the schedule. A closed set, stored as `kind`; posts written before it
/// existed read as [`PostKind::Reply`] when their category is [`LEGACY_REPLY_CATEGORY`] and as
/// [`PostKind::Planned`] otherwise (the old code did not tell planned and manual posts apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    /// Placed by the content planner.
    #[default]
    Planned,
    /// Scheduled by a person (`herald post`, the calendar).
    Manual,
    /// A reply from the inbox, answering a mention in its thread: not part of the content
    /// plan's mix, gaps or caps.
    Reply,
}

impl PostKind {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Planned => "planned",
            PostKind::Manual => "manual",
            PostKind::Reply => "reply",
        }
    }
}

/// The category the inbox's reply posts were marked with before [`PostKind`] (still their
/// category, shown in the calendar; code asks the kind).
pub const LEGACY_REPLY_CATEGORY: &str = "reply";

/// A post of the schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredPostRepr")]
pub struct StoredPost {
    pub channel: String,
    pub at: DateTime<Utc>,
    /// What made it: the planner, a person, or the inbox.
    pub kind: PostKind,
    pub category: String,
    pub draft: String,
    pub peak: String,
    /// The final text, tracked links included: what will be sent, byte for byte.
    pub text: String,
    pub promo: bool,
    #[serde(default)]
    pub series: Option<StoredSeries>,
    pub source_code: String,
    pub state: PostState,
    #[serde(default)]
    pub title: Option<String>,
    /// The post this one answers (replies from the inbox).
    #[serde(default)]
    pub reply: Option<crate::domain::ReplyTo>,
    /// The pictures to post with it, in order (at most four).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<crate::domain::PostMedia>,
    /// Delivery bookkeeping, filled in by publishing.
    #[serde(default)]
    pub delivery: Delivery,
}

/// [`StoredPost`] as read from the store: `kind` may be missing (a store written before it
/// existed) and is then worked out from the category.
#[derive(Deserialize)]
struct StoredPostRepr {
    channel: String,
    at: DateTime<Utc>,
    #[serde(default)]
    kind: Option<PostKind>,
    category: String,
    draft: String,
    peak: String,
    text: String,
    promo: bool,
    #[serde(default)]
    series: Option<StoredSeries>,
    source_code: String,
    state: PostState,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    reply: Option<crate::domain::ReplyTo>,
    #[serde(default)]
    media: Vec<crate::domain::PostMedia>,
    #[serde(default)]
    delivery: Delivery,
}

impl From<StoredPostRepr> for StoredPost {
    fn from(r: StoredPostRepr) -> Self {
        let kind = r.kind.unwrap_or(if r.category == LEGACY_REPLY_CATEGORY {
            PostKind::Reply
        } else {
            PostKind::Planned
        });
        Self {
            channel: r.channel,
            at: r.at,
            kind,
            category: r.category,
            draft: r.draft,
            peak: r.peak,
            text: r.text,
            promo: r.promo,
            series: r.series,
            source_code: r.source_code,
            state: r.state,
            title: r.title,
            reply: r.reply,
            media: r.media,
            delivery: r.delivery,
        }
    }
}

/// What publishing has done with a post so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Send attempts made (a claim counts as one).
    #[serde(default)]
    pub attempts: u32,
    /// Not before this instant (a transient failure's backoff).
    #[serde(default)]
    pub next_attempt: Option<DateTime<Utc>>,
    /// When the publisher last claimed it.
    #[serde(default)]
    pub claimed_at: Option<DateTime<Utc>>,
    /// The process that last claimed it (see [`PostStore::claim`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// The platform's id of the published post (status id, at:// URI, outbox line id).
    #[serde(default)]
    pub remote_id: Option<String>,
    /// A link to the published post, where the platform has one.
    #[serde(default)]
    pub remote_url: Option<String>,
    /// The platform's own timestamp of the published post.
    #[serde(default)]
    pub published_at: Option<DateTime<Utc>>,
    /// The last failure, as the platform said it (never a secret).
    #[serde(default)]
    pub error: Option<String>,
    /// The post's pictures uploaded so far, recorded before the post is created (see
    /// [`crate::domain::Upload`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<crate::domain::Upload>,
}

/// A pause of publishing for some categories: set by a person (`herald pause`, kept under
/// [`MetaStore::hold`]) or by open crisis alerts (kept apart under [`MetaStore::crisis_hold`], so that
/// resolving the alerts never lifts a person's hold, nor `herald resume` a crisis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// When the hold began.
    pub since: DateTime<Utc>,
    /// Why, as shown to people.
    pub reason: String,
    /// The categories held; the others are sent as usual.
    pub categories: Vec<String>,
    /// The open crisis alerts behind a crisis hold (empty on a person's hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

/// Work held by one process at a time (see [`MetaStore::try_lease`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    /// Who holds it: a process's identity (host, process id and a random part).
    pub holder: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// [`SeriesPart`] as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSeries {
    pub name: String,
    pub part: u32,
}

impl From<&SeriesPart> for StoredSeries {
    fn from(s: &SeriesPart) -> Self {
        Self {
            name: s.name.clone(),
            part: s.part,
        }
    }
}

impl From<&StoredSeries> for SeriesPart {
    fn from(s: &StoredSeries) -> Self {
        Self {
            name: s.name.clone(),
            part: s.part,
        }
    }
}

impl StoredPost {
    /// The stable identity of the post: `channel@unix-seconds`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.channel, self.at.timestamp())
    }

    /// Whether a hold on the `held` categories keeps this post back: one not yet sent (planned
    /// or approved) in a held category.
    pub fn is_held_by(&self, held: &[String]) -> bool {
        held.contains(&self.category)
            && matches!(self.state, PostState::Planned | PostState::Approved)
    }
}

/// What [`PostStore::replace_planned`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replaced {
    pub removed: usize,
    pub inserted: usize,
    /// New posts not written because a kept post already holds their key.
    pub skipped: usize,
}

/// The sled database.
#[derive(Clone)]
pub(crate) struct SledStore {
    db: sled::Db,
    posts: sled::Tree,
    /// Where it lives (for messages).
    path: Arc<PathBuf>,
    /// Mentions created before this instant (microseconds) were pruned by retention: one
    /// that comes back from a source is old news, not a new mention (see [`retention`]).
    pruned_before: Arc<std::sync::atomic::AtomicI64>,
    /// Tests make writes fail through this, as a full disk would.
    #[cfg(test)]
    fail_writes: Arc<std::sync::atomic::AtomicBool>,
}

/// sled's scheduled posts.
#[derive(Clone)]
pub(crate) struct Posts(SledStore);

/// sled's reply queue.
#[derive(Clone)]
pub(crate) struct Queue(SledStore);

/// sled's mentions.
#[derive(Clone)]
pub(crate) struct Mentions(SledStore);

/// sled's alerts.
#[derive(Clone)]
pub(crate) struct Alerts(SledStore);

/// sled's users and sessions.
#[derive(Clone)]
pub(crate) struct Users(SledStore);

/// sled's holds and cursors.
#[derive(Clone)]
pub(crate) struct Meta(SledStore);

/// herald's store: one backend (embedded sled, or a shared PostgreSQL) behind the
/// record-kind handles. Cloning is cheap (handles are shared).
#[derive(Clone)]
pub struct Store {
    posts: Arc<dyn PostStore>,
    queue: Arc<dyn QueueStore>,
    mentions: Arc<dyn MentionStore>,
    alerts: Arc<dyn AlertStore>,
    users: Arc<dyn UserStore>,
    meta: Arc<dyn MetaStore>,
    engagement: Arc<dyn EngagementStore>,
    clicks: Arc<dyn ClickStore>,
    backend: Backend,
}

/// The backend behind a [`Store`], for what is not a record kind (health, retention, checks).
#[derive(Clone)]
enum Backend {
    Sled(SledStore),
    Postgres(pg::PgStore),
}

impl Store {
    /// Opens (creating if needed) the sled store at `path`, with the default options.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// Opens (creating if needed) the sled store at `path`. A store that cannot be read, or
    /// whose files say it holds data but which opens empty, is [`StoreError::Damaged`].
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        Ok(Self::sled(SledStore::open_with(path, options)?))
    }

    /// Connects to the PostgreSQL store `options` names, applying any migration the
    /// database lacks (a schema ahead of this herald is refused).
    pub fn open_postgres(options: &pg::PgOptions) -> Result<Self, StoreError> {
        let s = pg::PgStore::open(options)?;
        Ok(Self {
            posts: Arc::new(pg::PgPosts(s.clone())),
            queue: Arc::new(pg::PgQueue(s.clone())),
            mentions: Arc::new(pg::PgMentions(s.clone())),
            alerts: Arc::new(pg::PgAlerts(s.clone())),
            users: Arc::new(pg::PgUsers(s.clone())),
            meta: Arc::new(pg::PgMeta(s.clone())),
            engagement: Arc::new(pg::PgEngagement(s.clone())),
            clicks: Arc::new(pg::PgClicks(s.clone())),
            backend: Backend::Postgres(s),
        })
    }

    /// The backend's name: `sled` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match &self.backend {
            Backend::Sled(_) => "sled",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Wakes `wake` when another process changes the schedule (PostgreSQL's `LISTEN`); sled
    /// has no other process, so nothing is started there.
    pub fn watch_posts(&self, wake: Arc<tokio::sync::Notify>) {
        if let Backend::Postgres(p) = &self.backend {
            p.listen(pg::POSTS_CHANNEL, wake);
        }
    }

    fn sled(s: SledStore) -> Self {
        Self {
            posts: Arc::new(Posts(s.clone())),
            queue: Arc::new(Queue(s.clone())),
            mentions: Arc::new(Mentions(s.clone())),
            alerts: Arc::new(Alerts(s.clone())),
            users: Arc::new(Users(s.clone())),
            meta: Arc::new(Meta(s.clone())),
            engagement: Arc::new(Engagements(s.clone())),
            clicks: Arc::new(Clicks(s.clone())),
            backend: Backend::Sled(s),
        }
    }

    /// Scheduled posts.
    pub fn posts(&self) -> &dyn PostStore {
        &*self.posts
    }

    /// The reply queue.
    pub fn queue(&self) -> &dyn QueueStore {
        &*self.queue
    }

    /// Stored mentions.
    pub fn mentions(&self) -> &dyn MentionStore {
        &*self.mentions
    }

    /// Crisis alerts.
    pub fn alerts(&self) -> &dyn AlertStore {
        &*self.alerts
    }

    /// Users and sessions.
    pub fn users(&self) -> &dyn UserStore {
        &*self.users
    }

    /// Holds and cursors.
    pub fn meta(&self) -> &dyn MetaStore {
        &*self.meta
    }

    /// Engagement of published posts.
    pub fn engagement(&self) -> &dyn EngagementStore {
        &*self.engagement
    }

    /// Tracked links and the clicks counted through the redirect.
    pub fn clicks(&self) -> &dyn ClickStore {
        &*self.clicks
    }

    /// The PostgreSQL store behind this one (tests reach its pool).
    #[cfg(test)]
    pub(crate) fn as_postgres(&self) -> Option<&pg::PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sled(_) => None,
        }
    }

    /// The sled store behind this one, if sled is the backend (tests reach its trees).
    #[cfg(test)]
    pub(crate) fn as_sled(&self) -> &SledStore {
        match &self.backend {
            Backend::Sled(s) => s,
            Backend::Postgres(_) => panic!("a sled-only test got a PostgreSQL store"),
        }
    }

    /// Where the store is, for messages: sled's folder.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sled(s) => s.path().display().to_string(),
            Backend::Postgres(p) => p.shown(),
        }
    }

    /// Writes a probe record and reads it back (see [`health`]).
    pub fn probe_write(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.probe_write(),
            Backend::Postgres(p) => p.probe_write(),
        }
    }

    /// Deletes what `retention` no longer keeps (see [`retention`]).
    pub fn prune(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.prune(retention, now),
            Backend::Postgres(p) => p.prune(retention, now),
        }
    }

    /// Makes every later write fail, as a full disk does.
    #[cfg(test)]
    pub(crate) fn fail_writes(&self) {
        self.as_sled().fail_writes();
    }
}

fn post_key(channel: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut key = Vec::with_capacity(channel.len() + 9);
    key.extend_from_slice(channel.as_bytes());
    key.push(0);
    key.extend_from_slice(&((at.timestamp() as u64) ^ (1 << 63)).to_be_bytes());
    key
}

fn decode(key: &[u8], value: &[u8]) -> Result<StoredPost, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "@"),
        why: e.to_string(),
    })
}

fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn encode(post: &StoredPost) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_vec(post).unwrap_or_default()
}

impl SledStore {
    /// Opens (creating if needed) the store at `path`. A store that cannot be read, or whose
    /// files say it holds data but which opens empty, is [`StoreError::Damaged`].
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        // sled may open a damaged log and fail (or panic) on the first read: that is a damaged
        // store too.
        let opened = catch_quietly(|| Self::open_inner(path, options)).map_err(|why| {
            StoreError::Unreadable {
                why: format!("sled failed reading it ({why})"),
            }
        });
        opened.and_then(|r| r).map_err(|e| match e {
            StoreError::Unreadable { why } => StoreError::Damaged {
                path: path.display().to_string(),
                why,
            },
            e => e,
        })
    }

    fn open_inner(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let shown = || path.display().to_string();
        let marker = path.join(MARKER_FILE);
        let marked = marker.exists();
        let db = open_sled(path, options)?;
        // sled lists the trees it recovered, even when their contents are gone (a deleted
        // snapshot); a new store has only its default tree.
        let had_trees = db.tree_names().len() > 1;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None if marked || had_trees => {
                return Err(StoreError::Damaged {
                    path: shown(),
                    why: "it opened empty, but its files say it holds data (a file of it, such as a `snap.*` snapshot, is missing or cut short)".into(),
                })
            }
            None => {
                meta.insert("schema", SCHEMA_VERSION)?;
                meta.insert("created", Utc::now().to_rfc3339().as_bytes())?;
                db.flush()?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    path: shown(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
        }
        // Written once the schema is on disk; stores made by older versions get it now.
        if !marked {
            std::fs::write(
                &marker,
                "This folder is a herald store. herald refuses to open it if its data goes missing.\n",
            )
            .map_err(|source| StoreError::Io {
                path: marker.display().to_string(),
                source,
            })?;
        }
        let pruned_before = meta
            .get(retention::PRUNED_BEFORE)?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(i64::MIN);
        let posts = db.open_tree("posts")?;
        read_through(&posts)?;
        Ok(Self {
            db,
            posts,
            path: Arc::new(path.to_path_buf()),
            pruned_before: Arc::new(std::sync::atomic::AtomicI64::new(pruned_before)),
            #[cfg(test)]
            fail_writes: Arc::default(),
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes to disk. Every write goes through here, so a test can make writes fail.
    fn flush(&self) -> Result<(), StoreError> {
        #[cfg(test)]
        if self.fail_writes.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Sled(sled::Error::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device (injected by a test)",
            ))));
        }
        self.db.flush()?;
        Ok(())
    }

    /// Moves sled's id generator past `max`, so that the next id handed out (one above what
    /// `generate_id` returns, see `queue.rs`) is above it: after an import of items with their
    /// own ids, a new item never reuses one. sled's generator only advances one id at a time
    /// (cheap: an atomic increment, persisted once per million), so an id absurdly far ahead
    /// is refused rather than spun to.
    pub(crate) fn raise_ids_above(&self, max: u64) -> Result<(), StoreError> {
        const MAX_STEPS: u64 = 1 << 30;
        let mut steps = 0u64;
        while self.db.generate_id()?.saturating_add(1) < max {
            steps += 1;
            if steps > MAX_STEPS {
                return Err(StoreError::Corrupt {
                    key: format!("queue/{max}"),
                    why: "the item id is too far above sled's id generator to continue after it"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// Makes every later flush fail, as a full disk does.
    #[cfg(test)]
    pub(crate) fn fail_writes(&self) {
        self.fail_writes
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl PostStore for Posts {
    /// Every post, in (channel, time) order.
    fn all(&self) -> Result<Vec<StoredPost>, StoreError> {
        self.0
            .posts
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// The posts a re-plan keeps (published, sending, unconfirmed, approved), any time.
    fn kept(&self) -> Result<Vec<StoredPost>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|p| p.state.is_kept())
            .collect())
    }

    /// Posts with `from <= at < to`, in (time, channel) order.
    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredPost>, StoreError> {
        let mut out: Vec<StoredPost> = self
            .all()?
            .into_iter()
            .filter(|p| p.at >= from && p.at < to)
            .collect();
        out.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
        Ok(out)
    }

    /// One post by channel and time.
    fn get(&self, channel: &str, at: DateTime<Utc>) -> Result<Option<StoredPost>, StoreError> {
        let key = post_key(channel, at);
        self.0
            .posts
            .get(&key)?
            .map(|v| decode(&key, &v))
            .transpose()
    }

    /// Writes a post (for states set by a person or by publishing).
    fn put(&self, post: &StoredPost) -> Result<(), StoreError> {
        self.0
            .posts
            .insert(post_key(&post.channel, post.at), encode(post))?;
        self.0.flush()?;
        Ok(())
    }

    /// Posts the publisher should look at now: planned or approved posts that are due (and past
    /// any backoff), and posts left `sending` or `unconfirmed` (which must be reconciled first).
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<StoredPost>, StoreError> {
        let mut due: Vec<StoredPost> = self
            .all()?
            .into_iter()
            .filter(|p| match p.state {
                PostState::Planned | PostState::Approved => {
                    p.at <= now && p.delivery.next_attempt.is_none_or(|n| n <= now)
                }
                PostState::Sending | PostState::Unconfirmed => {
                    p.delivery.next_attempt.is_none_or(|n| n <= now)
                }
                _ => false,
            })
            .collect();
        due.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
        Ok(due)
    }

    /// The next instant after `now` at which a post becomes due, if any.
    fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter_map(|p| match p.state {
                PostState::Planned | PostState::Approved => {
                    Some(p.at.max(p.delivery.next_attempt.unwrap_or(p.at)))
                }
                PostState::Sending | PostState::Unconfirmed => p.delivery.next_attempt,
                _ => None,
            })
            .filter(|t| *t > now)
            .min())
    }

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
    ) -> Result<Option<StoredPost>, StoreError> {
        let key = post_key(channel, at);
        loop {
            let Some(old) = self.0.posts.get(&key)? else {
                return Ok(None);
            };
            let mut post = decode(&key, &old)?;
            if !from.contains(&post.state) {
                return Ok(None);
            }
            change(&mut post);
            let new = encode(&post);
            match self.0.posts.compare_and_swap(&key, Some(old), Some(new))? {
                Ok(()) => {
                    self.0.flush()?;
                    return Ok(Some(post));
                }
                Err(_) => continue, // changed under us: look again
            }
        }
    }

    fn claim(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        from: &[PostState],
        now: DateTime<Utc>,
        holder: &str,
    ) -> Result<Option<StoredPost>, StoreError> {
        // One process holds a sled store: the hold cannot change between this read and the
        // claim except from this process.
        let held = Meta(self.0.clone()).held_categories()?;
        self.transition(channel, at, from, &|p: &mut StoredPost| {
            if p.is_held_by(&held) {
                return;
            }
            p.state = PostState::Sending;
            p.delivery.attempts += 1;
            p.delivery.claimed_at = Some(now);
            p.delivery.claimed_by = Some(holder.to_string());
            p.delivery.next_attempt = None;
        })
        .map(|p| p.filter(|p| p.state == PostState::Sending))
    }

    /// Inserts a post unless one already holds its channel and time.
    fn insert_new(&self, post: &StoredPost) -> Result<bool, StoreError> {
        let key = post_key(&post.channel, post.at);
        let done = self
            .0
            .posts
            .compare_and_swap(&key, None as Option<&[u8]>, Some(encode(post)))?
            .is_ok();
        self.0.flush()?;
        Ok(done)
    }

    /// Replaces the planned (not yet kept) posts at or after `from` with `new`, atomically: a
    /// post that became kept meanwhile (claimed for sending, approved) is never removed or
    /// overwritten.
    fn replace_planned(
        &self,
        from: DateTime<Utc>,
        new: &[StoredPost],
    ) -> Result<Replaced, StoreError> {
        let stale: Vec<Vec<u8>> = self
            .all()?
            .into_iter()
            .filter(|p| p.state == PostState::Planned && p.at >= from)
            .map(|p| post_key(&p.channel, p.at))
            .collect();
        let new: Vec<(Vec<u8>, Vec<u8>)> = new
            .iter()
            .map(|p| (post_key(&p.channel, p.at), encode(p)))
            .collect();
        let result = self.0.posts.transaction(|tx| {
            let mut done = Replaced::default();
            let is_kept = |v: &sled::IVec, k: &[u8]| {
                decode(k, v)
                    .map(|p| p.state.is_kept())
                    .map_err(ConflictableTransactionError::Abort)
            };
            for key in &stale {
                if let Some(v) = tx.get(key)? {
                    if !is_kept(&v, key)? {
                        tx.remove(key.as_slice())?;
                        done.removed += 1;
                    }
                }
            }
            for (key, value) in &new {
                if let Some(v) = tx.get(key)? {
                    if is_kept(&v, key)? {
                        done.skipped += 1;
                        continue;
                    }
                }
                tx.insert(key.as_slice(), value.as_slice())?;
                done.inserted += 1;
            }
            Ok(done)
        });
        let done = match result {
            Ok(done) => done,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        };
        self.0.flush()?;
        Ok(done)
    }

    fn import(&self, posts: &[StoredPost]) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        for p in posts {
            batch.insert(post_key(&p.channel, p.at), encode(p));
        }
        // A batch on one tree is applied atomically.
        self.0.posts.apply_batch(batch)?;
        self.0.flush()?;
        Ok(posts.len())
    }
}

impl MetaStore for Meta {
    /// The hold a person set, if any: posts of its categories are not sent while it lasts.
    fn hold(&self) -> Result<Option<Hold>, StoreError> {
        self.meta_hold("hold")
    }

    /// Sets (`Some`) or lifts (`None`) the hold a person set.
    fn set_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError> {
        self.set_meta_hold("hold", hold)
    }

    /// The hold open crisis alerts put on publishing, if any (see `crisis::live`).
    fn crisis_hold(&self) -> Result<Option<Hold>, StoreError> {
        self.meta_hold("crisis_hold")
    }

    /// Sets (`Some`) or lifts (`None`) the crisis hold.
    fn set_crisis_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError> {
        self.set_meta_hold("crisis_hold", hold)
    }

    /// A source's cursor (the last id or time it has seen).
    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .db
            .open_tree("cursors")?
            .get(source)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn set_cursor(&self, source: &str, cursor: &str) -> Result<(), StoreError> {
        self.0
            .db
            .open_tree("cursors")?
            .insert(source, cursor.as_bytes())?;
        self.0.flush()?;
        Ok(())
    }

    fn cursors(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.0
            .db
            .open_tree("cursors")?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let tree = self.leases_tree()?;
        let now = Utc::now();
        let expires_at = now + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
        loop {
            let old = tree.get(name)?;
            if let Some(v) = &old {
                let lease: Lease = serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
                    key: format!("leases/{name}"),
                    why: e.to_string(),
                })?;
                if lease.holder != holder && lease.expires_at > now {
                    return Ok(false);
                }
            }
            let new = Lease {
                name: name.into(),
                holder: holder.into(),
                expires_at,
            };
            if tree
                .compare_and_swap(name, old, Some(encode_json(&new)))?
                .is_ok()
            {
                self.0.flush()?;
                return Ok(true);
            }
        }
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let tree = self.leases_tree()?;
        if let Some(v) = tree.get(name)? {
            if serde_json::from_slice::<Lease>(&v).is_ok_and(|l| l.holder == holder) {
                let _ = tree.compare_and_swap(name, Some(v), None as Option<&[u8]>)?;
                self.0.flush()?;
            }
        }
        Ok(())
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.leases_tree()?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    key: format!("leases/{}", String::from_utf8_lossy(&k)),
                    why: e.to_string(),
                })
            })
            .collect()
    }
}

impl Meta {
    fn leases_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.0.db.open_tree("leases")?)
    }

    fn meta_hold(&self, key: &str) -> Result<Option<Hold>, StoreError> {
        let meta = self.0.db.open_tree("meta")?;
        meta.get(key)?
            .map(|v| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    key: format!("meta/{key}"),
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    fn set_meta_hold(&self, key: &str, hold: Option<&Hold>) -> Result<(), StoreError> {
        let meta = self.0.db.open_tree("meta")?;
        match hold {
            Some(h) => {
                meta.insert(key, encode_json(h))?;
            }
            None => {
                meta.remove(key)?;
            }
        }
        self.0.flush()?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Store tests run on every backend: `for t in each() { let store = &t.store; … }`.

    use super::*;

    /// A fresh store, and what keeps it alive (a temporary folder, a test schema).
    pub struct TestStore {
        pub store: Store,
        /// `sled` or `postgres`, for assertion messages.
        pub backend: &'static str,
        _dir: Option<tempfile::TempDir>,
        _schema: Option<pg::testing::Schema>,
    }

    /// Set (to 1) where PostgreSQL must be tested: a missing test database then fails.
    pub const REQUIRED_VAR: &str = "HERALD_TEST_PG_REQUIRED";

    /// A fresh sled store in a temporary folder.
    pub fn sled() -> TestStore {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open sled");
        TestStore {
            store,
            backend: "sled",
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A fresh PostgreSQL store in a schema of its own, or `None` without a test database
    /// (a failure when [`REQUIRED_VAR`] is set).
    pub fn postgres() -> Option<TestStore> {
        let schema = pg::testing::Schema::new()?;
        let store = Store::open_postgres(&schema.options("test")).expect("open postgres");
        Some(TestStore {
            store,
            backend: "postgres",
            _dir: None,
            _schema: Some(schema),
        })
    }

    impl TestStore {
        /// Another `Store` on the same PostgreSQL schema, as a second herald process would
        /// open it; `None` on sled (one process only).
        pub fn second(&self) -> Option<Store> {
            let schema = self._schema.as_ref()?;
            Some(Store::open_postgres(&schema.options("test")).expect("open again"))
        }
    }

    /// One fresh store per backend available: sled, then PostgreSQL.
    pub fn each() -> Vec<TestStore> {
        std::iter::once(sled()).chain(postgres()).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn post(channel: &str, at: &str, state: PostState) -> StoredPost {
        StoredPost {
            media: Vec::new(),
            channel: channel.into(),
            at: DateTime::parse_from_rfc3339(at)
                .expect("time")
                .with_timezone(&Utc),
            kind: PostKind::Planned,
            category: "product".into(),
            draft: "product/a".into(),
            peak: "lunch".into(),
            text: "hi".into(),
            promo: false,
            series: None,
            source_code: "c".into(),
            state,
            title: None,
            reply: None,
            delivery: Delivery::default(),
        }
    }

    /// Posts written before `kind` existed: the inbox's reply posts (category `reply`) read as
    /// replies, the rest as planned; a post with a kind keeps it, whatever its category.
    #[test]
    fn posts_without_a_kind_read_as_replies_by_their_old_category() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let old = |category: &str, at: i64| {
            serde_json::json!({
                "channel": "masto", "at": DateTime::from_timestamp(at, 0).expect("t"),
                "category": category, "draft": format!("{category}/1"), "peak": category,
                "text": "hi", "promo": false, "series": null, "source_code": "c",
                "state": "approved", "title": null,
                "reply": {"platform": "mastodon", "status_id": "42"},
                "delivery": {"attempts": 0}
            })
        };
        let mut manual = old("reply", 3_000);
        manual["kind"] = "manual".into();
        for v in [old("reply", 1_000), old("product", 2_000), manual] {
            let at = DateTime::parse_from_rfc3339(v["at"].as_str().expect("at"))
                .expect("t")
                .with_timezone(&Utc);
            store
                .as_sled()
                .posts
                .insert(post_key("masto", at), serde_json::to_vec(&v).expect("json"))
                .expect("raw insert");
        }
        let kinds: Vec<(String, PostKind)> = store
            .posts()
            .all()
            .expect("read")
            .into_iter()
            .map(|p| (p.category, p.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("reply".to_string(), PostKind::Reply),
                ("product".to_string(), PostKind::Planned),
                ("reply".to_string(), PostKind::Manual),
            ]
        );
        // Written back, the kind is stored and read as it is.
        let mut p = store.posts().all().expect("read").remove(0);
        p.kind = PostKind::Manual;
        store.posts().put(&p).expect("put");
        assert_eq!(
            store
                .posts()
                .get("masto", p.at)
                .expect("get")
                .map(|p| p.kind),
            Some(PostKind::Manual)
        );
    }

    #[test]
    fn keys_sort_by_channel_then_time_across_the_epoch() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let a = post_key("a", t("1969-12-31T23:00:00Z"));
        let b = post_key("a", t("1970-01-01T01:00:00Z"));
        let c = post_key("a", t("2026-12-01T01:00:00Z"));
        let d = post_key("b", t("1960-01-01T00:00:00Z"));
        assert!(a < b && b < c && c < d);
    }

    #[test]
    fn replan_keeps_kept_posts_and_replaces_planned_ones() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let published = post("x", "2026-12-01T01:00:00Z", PostState::Published);
            let approved = post("x", "2026-12-01T05:00:00Z", PostState::Approved);
            let old_planned = post("x", "2026-12-01T08:00:00Z", PostState::Planned);
            let past_planned = post("x", "2026-11-30T08:00:00Z", PostState::Planned);
            for p in [&published, &approved, &old_planned, &past_planned] {
                store.posts().put(p).expect("put");
            }
            let from = published.at;
            let mut clash = approved.clone();
            clash.state = PostState::Planned;
            clash.text = "would overwrite".into();
            let fresh = post("x", "2026-12-01T09:00:00Z", PostState::Planned);
            let done = store
                .posts()
                .replace_planned(from, &[clash, fresh.clone()])
                .expect("replace");
            assert_eq!(
                done,
                Replaced {
                    removed: 1,
                    inserted: 1,
                    skipped: 1
                }
            );
            let all = store.posts().all().expect("all");
            assert_eq!(all, vec![past_planned, published, approved, fresh]);
        }
    }

    #[test]
    fn transition_is_compare_and_swap_on_state() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let p = post("x", "2026-12-01T01:00:00Z", PostState::Planned);
            store.posts().put(&p).expect("put");
            let claim = |s: &Store| {
                s.posts().transition(
                    "x",
                    p.at,
                    &[PostState::Planned, PostState::Approved],
                    &|q: &mut StoredPost| {
                        q.state = PostState::Sending;
                        q.delivery.attempts += 1;
                    },
                )
            };
            let first = claim(store).expect("claim").expect("claimed");
            assert_eq!(
                (first.state, first.delivery.attempts),
                (PostState::Sending, 1)
            );
            assert_eq!(
                claim(store).expect("claim"),
                None,
                "a second claim must fail"
            );
            assert_eq!(
                store
                    .posts()
                    .get("x", p.at)
                    .expect("get")
                    .map(|q| q.delivery.attempts),
                Some(1)
            );
        }
    }

    #[test]
    fn a_claim_checks_the_holds_and_only_one_process_wins_it() {
        for t in testing::each() {
            let store = &t.store;
            let p = post("x", "2026-12-01T01:00:00Z", PostState::Planned);
            store.posts().put(&p).expect("put");
            let now = p.at;
            let from = [PostState::Planned, PostState::Approved];
            store
                .meta()
                .set_crisis_hold(Some(&Hold {
                    since: now,
                    reason: "crisis".into(),
                    categories: vec![p.category.clone()],
                    alerts: vec!["a1".into()],
                }))
                .expect("hold");
            assert_eq!(
                store
                    .posts()
                    .claim("x", p.at, &from, now, "me")
                    .expect("claim"),
                None,
                "{}: a held post was claimed",
                t.backend
            );
            // Another process on the same database sees the hold in its claim too.
            if let Some(other) = t.second() {
                assert_eq!(
                    other
                        .posts()
                        .claim("x", p.at, &from, now, "other")
                        .expect("claim"),
                    None,
                    "a held post was claimed by another process"
                );
            }
            assert_eq!(store.posts().get("x", p.at).expect("get"), Some(p.clone()));
            store.meta().set_crisis_hold(None).expect("lift");
            let stores: Vec<Store> = std::iter::once(store.clone()).chain(t.second()).collect();
            let won: Vec<StoredPost> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|i| {
                        let st = stores[i % stores.len()].clone();
                        s.spawn(move || {
                            st.posts()
                                .claim("x", p.at, &from, now, &format!("p{i}"))
                                .expect("claim")
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| h.join().expect("thread"))
                    .collect()
            });
            assert_eq!(won.len(), 1, "{}: {won:?}", t.backend);
            let claimed = store.posts().get("x", p.at).expect("get").expect("post");
            assert_eq!(claimed, won[0], "{}", t.backend);
            assert_eq!(claimed.state, PostState::Sending);
            assert_eq!(claimed.delivery.attempts, 1);
            assert_eq!(claimed.delivery.claimed_at, Some(now));
            assert!(claimed.delivery.claimed_by.is_some());
            // A claimed post is not due for a new claim, only for reconciling.
            assert_eq!(
                store
                    .posts()
                    .claim("x", p.at, &from, now, "late")
                    .expect("claim"),
                None
            );
        }
    }

    #[test]
    fn due_and_next_due() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let t = |s: &str| {
                DateTime::parse_from_rfc3339(s)
                    .expect("t")
                    .with_timezone(&Utc)
            };
            let mut backing_off = post("a", "2026-12-01T01:00:00Z", PostState::Planned);
            backing_off.delivery.next_attempt = Some(t("2026-12-01T03:00:00Z"));
            for p in [
                post("a", "2026-12-01T00:00:00Z", PostState::Published),
                backing_off,
                post("b", "2026-12-01T01:30:00Z", PostState::Approved),
                post("c", "2026-12-01T00:30:00Z", PostState::Sending),
                post("d", "2026-12-01T05:00:00Z", PostState::Planned),
            ] {
                store.posts().put(&p).expect("put");
            }
            let now = t("2026-12-01T02:00:00Z");
            let due: Vec<String> = store
                .posts()
                .due(now)
                .expect("due")
                .iter()
                .map(|p| p.channel.clone())
                .collect();
            assert_eq!(due, ["c", "b"]);
            assert_eq!(
                store.posts().next_due(now).expect("next"),
                Some(t("2026-12-01T03:00:00Z"))
            );
        }
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        let p = post("x", "2026-12-01T01:00:00Z", PostState::Approved);
        {
            let store = Store::open(&path).expect("open");
            store.posts().put(&p).expect("put");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.posts().get("x", p.at).expect("get"), Some(p));
    }

    /// A store with a few hundred records, closed and reopened once so that sled has
    /// written a snapshot beside its log.
    pub(crate) fn filled_store(path: &Path) {
        {
            let store = Store::open(path).expect("open");
            for n in 0..300 {
                let at = DateTime::from_timestamp(1_796_083_200 + n * 3600, 0).expect("t");
                let mut p = post("x", "2026-12-01T01:00:00Z", PostState::Published);
                p.at = at;
                p.text = format!("post {n} {}", "words ".repeat(40));
                store.posts().put(&p).expect("put");
            }
        }
        drop(Store::open(path).expect("reopen"));
    }

    fn files(path: &Path) -> Vec<std::path::PathBuf> {
        let mut out: Vec<_> = std::fs::read_dir(path)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n == "db" || n.starts_with("snap."))
            })
            .collect();
        out.sort();
        out
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("dir").flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
            }
        }
    }

    fn damaged(result: Result<Store, StoreError>, path: &Path) -> String {
        match result {
            Err(e @ StoreError::Damaged { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!("the store at {} is damaged: ", path.display()))
                        && text.contains("restore it from a backup")
                        && text.contains("herald store check"),
                    "{text}"
                );
                text
            }
            Err(other) => panic!("{other:?}"),
            Ok(s) => panic!(
                "opened with {} posts",
                s.posts().all().map(|p| p.len()).unwrap_or(0)
            ),
        }
    }

    #[test]
    fn a_new_store_is_marked_and_a_marked_store_reopens() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        filled_store(&path);
        assert!(path.join(MARKER_FILE).is_file());
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.posts().all().expect("posts").len(), 300);
    }

    #[test]
    fn a_store_file_cut_in_half_is_damaged_not_a_panic() {
        let dir = tempfile::tempdir().expect("tmp");
        let good = dir.path().join("good");
        filled_store(&good);
        let names = files(&good);
        assert!(
            names.iter().any(|p| p.ends_with("db"))
                && names.iter().any(|p| p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("snap."))),
            "{names:?}"
        );
        for (n, file) in names.iter().enumerate() {
            let bad = dir.path().join(format!("bad{n}"));
            copy(&good, &bad);
            let target = bad.join(file.file_name().expect("name"));
            let len = std::fs::metadata(&target).expect("meta").len();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .expect("open file");
            f.set_len(len / 2).expect("truncate");
            drop(f);
            damaged(Store::open(&bad), &bad);
        }
    }

    #[test]
    fn a_marked_store_whose_data_files_are_gone_is_refused_not_opened_empty() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        filled_store(&path);
        // sled, finding no log and no snapshot, would make a new empty store here.
        for f in files(&path) {
            std::fs::remove_file(f).expect("rm");
        }
        let why = damaged(Store::open(&path), &path);
        assert!(why.contains("opened empty"), "{why}");
        // Refused again: the refusal wrote nothing that would make it pass next time.
        damaged(Store::open(&path), &path);
    }

    #[test]
    fn a_panic_while_opening_is_caught_with_its_message() {
        assert_eq!(catch_quietly(|| 7), Ok(7));
        let caught = catch_quietly(|| -> u8 { panic!("sled: page {} is torn", 3) });
        assert_eq!(caught, Err("sled: page 3 is torn".to_string()));
        // Nested: the outer catch still holds after the inner one returns.
        let outer = catch_quietly(|| {
            let _ = catch_quietly(|| 1);
            panic!("after")
        });
        assert_eq!(outer, Err::<(), _>("after".to_string()));
    }

    #[test]
    fn the_cache_size_reaches_sled() {
        let options = StoreOptions {
            cache_bytes: 16 << 20,
        };
        assert_eq!(
            sled_config(Path::new("x"), &options).cache_capacity,
            16 << 20
        );
        assert_eq!(
            sled_config(Path::new("x"), &StoreOptions::default()).cache_capacity,
            DEFAULT_CACHE_MB << 20
        );
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open_with(&dir.path().join("db"), &options).expect("open");
        assert!(store.probe_write().is_ok());
    }

    /// A store another handle holds is `Locked` (the CLI tells the user so by this variant,
    /// not by reading the message); the store opens once the handle lets go.
    #[test]
    fn a_store_held_by_another_handle_is_locked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        let held = Store::open(&path).expect("open");
        match Store::open(&path) {
            Err(e @ StoreError::Locked { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "the store at {} is locked by another process",
                    path.display()
                )
            ),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("opened a store another handle holds"),
        }
        drop(held);
        assert!(Store::open(&path).is_ok());
    }

    #[test]
    fn a_corrupt_record_is_reported_not_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        store
            .as_sled()
            .posts
            .insert(b"x\0junk", b"{not json".as_slice())
            .expect("raw insert");
        match store.posts().all() {
            Err(StoreError::Corrupt { key, .. }) => assert!(key.starts_with("x@")),
            other => panic!("{other:?}"),
        }
    }
}
