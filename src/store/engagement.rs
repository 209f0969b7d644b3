//! Engagement of published posts on sled: one tree, `engagement`, keyed like the schedule
//! (`channel ‖ 0x00 ‖ at`, see `post_key`), one JSON [`Engagement`] per post: its samples in
//! time order and when it is polled next. When to poll is the engagement service's business;
//! this file only keeps the records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{encode_json, post_key, EngagementStore, SledStore, StoreError};

/// One reading of a post's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was read.
    pub at: DateTime<Utc>,
    pub replies: u64,
    /// Reblogs on Mastodon, reposts on Bluesky.
    pub reposts: u64,
    /// Favourites on Mastodon, likes on Bluesky.
    pub likes: u64,
    /// Quotes (Bluesky; always 0 on Mastodon).
    pub quotes: u64,
}

impl Sample {
    /// Whether the counters are those of `other` (the time aside).
    pub fn same_counts(&self, other: &Sample) -> bool {
        (self.replies, self.reposts, self.likes, self.quotes)
            == (other.replies, other.reposts, other.likes, other.quotes)
    }
}

/// The engagement kept for one published post (or reply) of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// The post's channel and time (its key in the schedule).
    pub channel: String,
    pub post_at: DateTime<Utc>,
    /// The readings, oldest first.
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// When it is read next; `None`: no longer polled.
    pub next_at: Option<DateTime<Utc>>,
    /// Polls in a row whose answer did not have the post (an index lagging behind, or the
    /// post deleted); the service calls it gone after a few.
    #[serde(default)]
    pub misses: u32,
    /// The platform no longer has the post (deleted): not polled again.
    #[serde(default)]
    pub gone: bool,
}

impl Engagement {
    /// The latest reading, if any.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.last()
    }
}

/// sled's engagement records.
#[derive(Clone)]
pub(crate) struct Engagements(pub(crate) SledStore);

const TREE: &str = "engagement";

fn decode(k: &[u8], v: &[u8]) -> Result<Engagement, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        key: format!("{TREE}/{}", String::from_utf8_lossy(k).replace('\0', "@")),
        why: e.to_string(),
    })
}

impl EngagementStore for Engagements {
    fn get(&self, channel: &str, post_at: DateTime<Utc>) -> Result<Option<Engagement>, StoreError> {
        let key = post_key(channel, post_at);
        self.0
            .db
            .open_tree(TREE)?
            .get(&key)?
            .map(|v| decode(&key, &v))
            .transpose()
    }

    fn put(&self, record: &Engagement) -> Result<(), StoreError> {
        self.0.db.open_tree(TREE)?.insert(
            post_key(&record.channel, record.post_at),
            encode_json(record),
        )?;
        self.0.flush()
    }

    fn all(&self) -> Result<Vec<Engagement>, StoreError> {
        self.0
            .db
            .open_tree(TREE)?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn sample(when: &str, likes: u64) -> Sample {
        Sample {
            at: at(when),
            replies: 1,
            reposts: 2,
            likes,
            quotes: 3,
        }
    }

    /// Samples append in order to the post's series, the next poll is kept, posts of other
    /// channels and times stay apart, and a record reads back whole (gone included).
    #[test]
    fn samples_append_to_each_posts_series_on_every_backend() {
        for t in each() {
            let e = t.store.engagement();
            let post = at("2026-12-01T10:00:00Z");
            assert!(
                e.series("masto", post).expect("series").is_empty(),
                "{}",
                t.backend
            );
            let next = Some(at("2026-12-01T12:00:00Z"));
            e.record("masto", post, sample("2026-12-01T11:00:00Z", 4), next)
                .expect("record");
            let written = e
                .record("masto", post, sample("2026-12-01T12:00:00Z", 9), None)
                .expect("record");
            e.record("bsky", post, sample("2026-12-01T11:00:00Z", 7), next)
                .expect("record");
            let series = e.series("masto", post).expect("series");
            assert_eq!(
                series.iter().map(|s| s.likes).collect::<Vec<_>>(),
                vec![4, 9],
                "{}",
                t.backend
            );
            assert_eq!(written.samples, series, "{}", t.backend);
            let got = e.get("masto", post).expect("get").expect("kept");
            assert_eq!(got.next_at, None, "{}", t.backend);
            assert_eq!(got.latest().map(|s| s.likes), Some(9), "{}", t.backend);
            let mut gone = got.clone();
            gone.gone = true;
            e.put(&gone).expect("put");
            assert_eq!(
                e.get("masto", post).expect("get"),
                Some(gone),
                "{}",
                t.backend
            );
            let all = e.all().expect("all");
            assert_eq!(
                all.iter().map(|r| r.channel.as_str()).collect::<Vec<_>>(),
                vec!["bsky", "masto"],
                "{}",
                t.backend
            );
            assert_eq!(all[0].next_at, next, "{}", t.backend);
            let later = e
                .posted_between(at("2026-12-01T10:00:01Z"), at("2026-12-02T00:00:00Z"))
                .expect("between");
            assert!(later.is_empty(), "{}: {later:?}", t.backend);
            assert_eq!(
                e.posted_between(post, at("2026-12-02T00:00:00Z"))
                    .expect("between")
                    .len(),
                2,
                "{}",
                t.backend
            );
        }
    }

    /// `herald store check` decodes the engagement tree: a good record reads, a broken one is
    /// reported.
    #[test]
    fn check_reads_engagement_records_and_reports_a_broken_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        {
            let store = crate::store::Store::open(&path).expect("open");
            store
                .engagement()
                .record(
                    "masto",
                    at("2026-12-01T10:00:00Z"),
                    sample("2026-12-01T11:00:00Z", 1),
                    None,
                )
                .expect("record");
            store
                .as_sled()
                .db
                .open_tree(TREE)
                .expect("tree")
                .insert(b"x\0junk", b"{not json".as_slice())
                .expect("raw insert");
            store.as_sled().flush().expect("flush");
        }
        let report = crate::store::check(&path).expect("check");
        assert!(!report.is_ok(), "{report}");
        assert_eq!(report.records(TREE), 2, "{report}");
        let tree = report
            .trees
            .iter()
            .find(|t| t.name == TREE)
            .expect("the engagement tree is reported");
        assert_eq!(tree.unreadable, 1, "{report}");
    }
}
