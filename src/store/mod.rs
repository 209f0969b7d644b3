//! The embedded store: sled trees and typed keys. The only module that knows sled.
//!
//! Trees:
//! - `posts`: the schedule. Key `channel ‖ 0x00 ‖ at` (seconds since the epoch, big-endian with
//!   the sign bit flipped, so keys sort by channel, then time). A channel never has two posts
//!   in one minute (the planner keeps them an hour apart), so the key is also the post's stable
//!   identity, the idempotency key publishing will use.
//! - `meta`: the schema version.
//!
//! Values are JSON: readable with `sled`-agnostic tools and tolerant of added fields.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use thiserror::Error;

use crate::plan::SeriesPart;

const SCHEMA_VERSION: &[u8] = b"1";

/// Why the store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {key} is unreadable: {why}")]
    Corrupt { key: String, why: String },
    #[error("the store at {path} has schema version {found}; this herald reads version 1")]
    Schema { path: String, found: String },
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

/// A post of the schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPost {
    pub channel: String,
    pub at: DateTime<Utc>,
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
}

/// What [`Store::replace_planned`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replaced {
    pub removed: usize,
    pub inserted: usize,
    /// New posts not written because a kept post already holds their key.
    pub skipped: usize,
}

/// The sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    posts: sled::Tree,
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

fn encode(post: &StoredPost) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_vec(post).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema")? {
            None => {
                meta.insert("schema", SCHEMA_VERSION)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    path: path.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
        }
        let posts = db.open_tree("posts")?;
        Ok(Self { db, posts })
    }

    /// Every post, in (channel, time) order.
    pub fn all_posts(&self) -> Result<Vec<StoredPost>, StoreError> {
        self.posts
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// The posts a re-plan keeps (published, sending, unconfirmed, approved), any time.
    pub fn kept_posts(&self) -> Result<Vec<StoredPost>, StoreError> {
        Ok(self
            .all_posts()?
            .into_iter()
            .filter(|p| p.state.is_kept())
            .collect())
    }

    /// Posts with `from <= at < to`, in (time, channel) order.
    pub fn posts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredPost>, StoreError> {
        let mut out: Vec<StoredPost> = self
            .all_posts()?
            .into_iter()
            .filter(|p| p.at >= from && p.at < to)
            .collect();
        out.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
        Ok(out)
    }

    /// One post by channel and time.
    pub fn get(&self, channel: &str, at: DateTime<Utc>) -> Result<Option<StoredPost>, StoreError> {
        let key = post_key(channel, at);
        self.posts.get(&key)?.map(|v| decode(&key, &v)).transpose()
    }

    /// Writes a post (for states set by a person or by publishing).
    pub fn put(&self, post: &StoredPost) -> Result<(), StoreError> {
        self.posts
            .insert(post_key(&post.channel, post.at), encode(post))?;
        self.db.flush()?;
        Ok(())
    }

    /// Replaces the planned (not yet kept) posts at or after `from` with `new`, atomically: a
    /// post that became kept meanwhile (claimed for sending, approved) is never removed or
    /// overwritten.
    pub fn replace_planned(
        &self,
        from: DateTime<Utc>,
        new: &[StoredPost],
    ) -> Result<Replaced, StoreError> {
        let stale: Vec<Vec<u8>> = self
            .all_posts()?
            .into_iter()
            .filter(|p| p.state == PostState::Planned && p.at >= from)
            .map(|p| post_key(&p.channel, p.at))
            .collect();
        let new: Vec<(Vec<u8>, Vec<u8>)> = new
            .iter()
            .map(|p| (post_key(&p.channel, p.at), encode(p)))
            .collect();
        let result = self.posts.transaction(|tx| {
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
        self.db.flush()?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(channel: &str, at: &str, state: PostState) -> StoredPost {
        StoredPost {
            channel: channel.into(),
            at: DateTime::parse_from_rfc3339(at)
                .expect("time")
                .with_timezone(&Utc),
            category: "product".into(),
            draft: "product/a".into(),
            peak: "lunch".into(),
            text: "hi".into(),
            promo: false,
            series: None,
            source_code: "c".into(),
            state,
            title: None,
        }
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
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let published = post("x", "2026-12-01T01:00:00Z", PostState::Published);
        let approved = post("x", "2026-12-01T05:00:00Z", PostState::Approved);
        let old_planned = post("x", "2026-12-01T08:00:00Z", PostState::Planned);
        let past_planned = post("x", "2026-11-30T08:00:00Z", PostState::Planned);
        for p in [&published, &approved, &old_planned, &past_planned] {
            store.put(p).expect("put");
        }
        let from = published.at;
        let mut clash = approved.clone();
        clash.state = PostState::Planned;
        clash.text = "would overwrite".into();
        let fresh = post("x", "2026-12-01T09:00:00Z", PostState::Planned);
        let done = store
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
        let all = store.all_posts().expect("all");
        assert_eq!(all, vec![past_planned, published, approved, fresh]);
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        let p = post("x", "2026-12-01T01:00:00Z", PostState::Approved);
        {
            let store = Store::open(&path).expect("open");
            store.put(&p).expect("put");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.get("x", p.at).expect("get"), Some(p));
    }

    #[test]
    fn a_corrupt_record_is_reported_not_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        store
            .posts
            .insert(b"x\0junk", b"{not json".as_slice())
            .expect("raw insert");
        match store.all_posts() {
            Err(StoreError::Corrupt { key, .. }) => assert!(key.starts_with("x@")),
            other => panic!("{other:?}"),
        }
    }
}
