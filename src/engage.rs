//! The engagement poller: reads the counters (replies, reposts, likes, quotes) of every
//! published post and reply of the schedule from its platform, by the post's age, and keeps
//! each reading in the store ([`crate::store::EngagementStore`]) as the post's time series.
//!
//! - **When** ([`next_poll`]): first an hour after the post, then hourly up to 6 h, every 3 h
//!   up to 24 h, every 12 h up to 72 h, daily up to 7 days, then never again (Shoutrrr's
//!   schedule). A reading equal to the one before doubles the next interval (twice after two
//!   such readings, and so on, at most [`MAX_STRETCH`] times): a post nobody touches costs
//!   fewer reads.
//! - **What**: posts `published` with a platform id, on Mastodon (status ids, read 20 a call)
//!   and Bluesky (`at://` URIs, 25 a call through the PDS); outbox and webhook channels have
//!   nothing to read and are skipped. Reads are batched per channel.
//! - **Failures**: a failing platform answer is logged and counted ([`Poller::failures`]);
//!   the posts stay due and are read again at the next round, [`RETRY_AFTER`] later. A post
//!   missing from [`GONE_AFTER`] answers in a row (deleted) is marked gone and not read again;
//!   one missing once (an index lagging) is read again at its next time.
//! - **Where it runs**: under the supervisor, and on PostgreSQL under the `engagement` lease
//!   (one process polls); it sleeps until the next post is due, at most [`MAX_SLEEP`], so a
//!   post published meanwhile is read on time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::publish::Channel;
use crate::store::{Engagement, PostState, Sample, Store, StoreError, StoredPost};

/// The polling schedule by age: up to this age (exclusive), poll every so often.
const SCHEDULE: &[(i64, i64)] = &[
    // (age limit in hours, interval in hours)
    (6, 1),
    (24, 3),
    (72, 12),
    (7 * 24, 24),
];

/// After this age a post is not read again.
pub fn stop_after() -> Duration {
    Duration::hours(7 * 24)
}

/// How many times an interval is doubled at most when readings do not change.
pub const MAX_STRETCH: u32 = 3;

/// How many answers in a row must lack a post before it is taken for deleted.
pub const GONE_AFTER: u32 = 3;

/// After a failed read, the next round comes no sooner than this.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The longest sleep between two rounds.
pub const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// When a post published at `post_at` is read first.
pub fn first_poll(post_at: DateTime<Utc>) -> DateTime<Utc> {
    post_at + Duration::hours(1)
}

/// When a post published at `post_at` and read at `polled_at` is read next, with
/// `unchanged` readings in a row equal to the one before them (each doubles the interval, at
/// most [`MAX_STRETCH`] times). `None`: the post is old enough to stop.
pub fn next_poll(
    post_at: DateTime<Utc>,
    polled_at: DateTime<Utc>,
    unchanged: u32,
) -> Option<DateTime<Utc>> {
    let age = polled_at - post_at;
    let hours = SCHEDULE
        .iter()
        .find(|(limit, _)| age < Duration::hours(*limit))
        .map(|(_, every)| *every)?;
    let step = Duration::hours(hours) * (1 << unchanged.min(MAX_STRETCH));
    let next = polled_at + step;
    (next <= post_at + stop_after()).then_some(next)
}

/// How many readings at the end of `samples` equal the one before each.
pub fn unchanged_run(samples: &[Sample]) -> u32 {
    samples
        .windows(2)
        .rev()
        .take_while(|w| w[1].same_counts(&w[0]))
        .count() as u32
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Posts whose reading was due.
    pub due: usize,
    /// Readings recorded.
    pub recorded: usize,
    /// Posts missing from the platform's answer (gone after [`GONE_AFTER`]).
    pub missing: usize,
    /// Posts whose read failed (read again at the next round).
    pub failed: usize,
    /// When the next post is due, if any.
    pub next: Option<DateTime<Utc>>,
}

/// Reads engagement for the channels it was given.
pub struct Poller {
    store: Store,
    channels: Arc<BTreeMap<String, Channel>>,
    clock: Clock,
    failures: AtomicU64,
}

/// The posts due, by channel.
type DueByChannel = BTreeMap<String, Vec<Due>>;

/// A due post: its key and platform id.
struct Due {
    channel: String,
    at: DateTime<Utc>,
    remote_id: String,
    record: Option<Engagement>,
}

impl Poller {
    /// A poller of `channels` (the channel accounts herald publishes with).
    pub fn new(store: Store, channels: Arc<BTreeMap<String, Channel>>, clock: Clock) -> Self {
        Self {
            store,
            channels,
            clock,
            failures: AtomicU64::new(0),
        }
    }

    /// How many reads failed since the start (one per post of a failed batch).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether a channel has counters to read.
    fn readable(channel: Option<&Channel>) -> bool {
        matches!(channel, Some(Channel::Mastodon(_) | Channel::Bluesky(_)))
    }

    /// The posts due at `now`, by channel, and when the next one not yet due is.
    fn due(&self, now: DateTime<Utc>) -> Result<(DueByChannel, Option<DateTime<Utc>>), StoreError> {
        let mut records: BTreeMap<(String, DateTime<Utc>), Engagement> = self
            .store
            .engagement()
            .all()?
            .into_iter()
            .map(|e| ((e.channel.clone(), e.post_at), e))
            .collect();
        let posts: Vec<StoredPost> = self.store.posts().all()?;
        let mut due: DueByChannel = BTreeMap::new();
        let mut next: Option<DateTime<Utc>> = None;
        for p in posts {
            if p.state != PostState::Published || !Self::readable(self.channels.get(&p.channel)) {
                continue;
            }
            let Some(remote_id) = p.delivery.remote_id.clone() else {
                continue;
            };
            let record = records.remove(&(p.channel.clone(), p.at));
            let when = match &record {
                Some(r) if r.gone => continue,
                Some(r) => match r.next_at {
                    Some(t) => t,
                    None => continue,
                },
                // Never read: from an hour after it was posted, until it is too old.
                None if now >= p.at + stop_after() => continue,
                None => first_poll(p.at),
            };
            if when <= now {
                due.entry(p.channel.clone()).or_default().push(Due {
                    channel: p.channel,
                    at: p.at,
                    remote_id,
                    record,
                });
            } else {
                next = Some(next.map_or(when, |n| n.min(when)));
            }
        }
        Ok((due, next))
    }

    /// Reads the counters of every post due at `now`, records them, and says when the next
    /// post is due. A failing platform is logged and counted, never an error: only the store
    /// failing is.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<Round, StoreError> {
        let (due, mut next) = self.due(now)?;
        let mut round = Round::default();
        for (name, posts) in due {
            round.due += posts.len();
            let ids: Vec<String> = posts.iter().map(|d| d.remote_id.clone()).collect();
            let read = match self.channels.get(&name) {
                Some(Channel::Mastodon(c)) => c.account().status_counts(&ids).await.map(|m| {
                    m.into_iter()
                        .map(|(id, c)| {
                            let s = Sample {
                                at: now,
                                replies: c.replies,
                                reposts: c.reblogs,
                                likes: c.favourites,
                                quotes: 0,
                            };
                            (id, s)
                        })
                        .collect::<BTreeMap<_, _>>()
                }),
                Some(Channel::Bluesky(c)) => c.account().post_counts(&ids).await.map(|m| {
                    m.into_iter()
                        .map(|(id, c)| {
                            let s = Sample {
                                at: now,
                                replies: c.replies,
                                reposts: c.reposts,
                                likes: c.likes,
                                quotes: c.quotes,
                            };
                            (id, s)
                        })
                        .collect::<BTreeMap<_, _>>()
                }),
                _ => continue,
            };
            let samples = match read {
                Ok(s) => s,
                Err(e) => {
                    self.failures
                        .fetch_add(posts.len() as u64, Ordering::Relaxed);
                    round.failed += posts.len();
                    tracing::warn!(channel = %name, posts = posts.len(), error = %e, "Cannot read engagement; will try again");
                    continue;
                }
            };
            for d in posts {
                let at = match samples.get(&d.remote_id) {
                    Some(sample) => {
                        let mut series = d.record.map(|r| r.samples).unwrap_or_default();
                        series.push(*sample);
                        let at = next_poll(d.at, now, unchanged_run(&series));
                        self.store
                            .engagement()
                            .record(&d.channel, d.at, *sample, at)?;
                        round.recorded += 1;
                        at
                    }
                    None => {
                        round.missing += 1;
                        let mut r = d.record.unwrap_or_else(|| Engagement {
                            channel: d.channel.clone(),
                            post_at: d.at,
                            samples: Vec::new(),
                            next_at: None,
                            misses: 0,
                            gone: false,
                        });
                        r.misses += 1;
                        r.gone = r.misses >= GONE_AFTER;
                        let unchanged = unchanged_run(&r.samples);
                        r.next_at = if r.gone {
                            None
                        } else {
                            next_poll(d.at, now, unchanged)
                        };
                        if r.gone {
                            tracing::info!(channel = %d.channel, post_at = %d.at, "A published post is gone from its platform; no longer read");
                        }
                        self.store.engagement().put(&r)?;
                        r.next_at
                    }
                };
                if let Some(at) = at {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        round.next = next;
        Ok(round)
    }

    /// Polls round after round until `stop`, sleeping until the next post is due (at most
    /// [`MAX_SLEEP`]; at least [`RETRY_AFTER`] after a failure).
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let now = (self.clock)();
            let wait = match self.round(now).await {
                Ok(r) => {
                    if r.recorded > 0 || r.missing > 0 {
                        tracing::info!(
                            recorded = r.recorded,
                            missing = r.missing,
                            failed = r.failed,
                            "Read engagement of published posts"
                        );
                    }
                    let until = r
                        .next
                        .and_then(|n| (n - now).to_std().ok())
                        .unwrap_or(MAX_SLEEP)
                        .min(MAX_SLEEP);
                    if r.failed > 0 {
                        until.max(RETRY_AFTER)
                    } else {
                        until
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "Cannot keep engagement in the store; will try again");
                    RETRY_AFTER
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait.max(std::time::Duration::from_secs(1))) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    /// The poll times of a post nobody touches differently each time (never stretched).
    fn times(post: DateTime<Utc>) -> Vec<i64> {
        let mut out = Vec::new();
        let mut t = Some(first_poll(post));
        while let Some(now) = t {
            out.push((now - post).num_hours());
            t = next_poll(post, now, 0);
            assert!(out.len() < 100, "the schedule never stops: {out:?}");
        }
        out
    }

    /// Hourly to 6 h, every 3 h to 24 h, every 12 h to 72 h, daily to 7 days, then stop.
    #[test]
    fn the_schedule_follows_the_posts_age_and_stops_after_a_week() {
        let post = at("2026-12-01T10:00:00Z");
        assert_eq!(
            times(post),
            vec![1, 2, 3, 4, 5, 6, 9, 12, 15, 18, 21, 24, 36, 48, 60, 72, 96, 120, 144, 168]
        );
        assert_eq!(next_poll(post, post + Duration::hours(168), 0), None);
        assert_eq!(next_poll(post, post + Duration::hours(500), 0), None);
    }

    /// A reading equal to the last doubles the interval, twice doubles it twice, capped; it
    /// never polls past a week.
    #[test]
    fn unchanged_readings_stretch_the_interval() {
        let post = at("2026-12-01T10:00:00Z");
        let h = |n| post + Duration::hours(n);
        assert_eq!(next_poll(post, h(2), 1), Some(h(4)));
        assert_eq!(next_poll(post, h(2), 2), Some(h(6)));
        assert_eq!(next_poll(post, h(7), 1), Some(h(13)));
        assert_eq!(next_poll(post, h(2), 9), Some(h(2 + 8)));
        assert_eq!(next_poll(post, h(100), 1), Some(h(148)));
        assert_eq!(next_poll(post, h(150), 1), None, "past a week");
        let s = |likes| Sample {
            at: post,
            replies: 0,
            reposts: 0,
            likes,
            quotes: 0,
        };
        assert_eq!(unchanged_run(&[]), 0);
        assert_eq!(unchanged_run(&[s(1)]), 0);
        assert_eq!(unchanged_run(&[s(1), s(2)]), 0);
        assert_eq!(unchanged_run(&[s(1), s(2), s(2), s(2)]), 2);
        assert_eq!(unchanged_run(&[s(2), s(2), s(3)]), 0);
    }
}
