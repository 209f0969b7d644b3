//! Sending approved replies through the publishing path, exactly once.
//!
//! This is not a second sender. An approved item becomes a reply post in the schedule
//! (kind [`PostKind::Reply`], state `approved`, with its [`ReplyTo`]), which the
//! [`Publisher`](crate::publish::worker::Publisher) claims by compare-and-swap and sends with
//! the post's idempotency key, reconciling unclear outcomes before any resend. This module only
//! moves items along and copies the post's outcome back:
//!
//! 1. `approved`: resolve where the reply goes in the thread (Bluesky root and parent strong
//!    refs; the Mastodon status id), pick the post's key (channel and a free second), and
//!    record it on the item (`claim`, flushed) *before* the post exists;
//! 2. `sending`: make sure the post exists (a crash between 1 and 2 is repaired here: same key,
//!    so never two posts), then copy its outcome back: published → `sent`, failed or missed →
//!    `failed`.
//!
//! A crash at any point leaves either an approved item (nothing sent), a sending item whose
//! post key is fixed (its post is made once), or a post the publisher reconciles.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Action, PostRef, QueueItem, ReplyState};
use crate::clock::Clock;
use crate::publish::{Channel, ReplyTo, StrongRef};
use crate::store::{PostKind, PostState, Store, StoreError, StoredPost};

/// The schedule category of reply posts, as the calendar shows them: never a category of the
/// content plan, so never held by a category pause. What marks a reply post is its
/// [`PostKind::Reply`]; the planner leaves those out of its mix.
pub const REPLY_CATEGORY: &str = crate::store::LEGACY_REPLY_CATEGORY;

/// Who herald's own transitions are recorded as.
pub const SYSTEM: &str = "herald";

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Approved items handed to the publisher.
    pub claimed: usize,
    /// Items found sent.
    pub sent: usize,
    /// Items that failed.
    pub failed: usize,
    /// Pending drafts that expired.
    pub expired: usize,
}

/// Moves approved replies to the publisher and their outcomes back.
pub struct ReplySender {
    store: Store,
    /// The channels replies go out on (used here only to look up Bluesky thread refs): the
    /// publisher's own, so each account has one session.
    channels: Arc<BTreeMap<String, Channel>>,
    clock: Clock,
    /// Wakes the publisher when a reply post is ready.
    wake: Arc<Notify>,
    /// Pending drafts older than this expire (`None`: never).
    expire_after: Option<TimeDelta>,
}

impl ReplySender {
    /// A sender over `store`, looking up threads through `channels`, waking the publisher with
    /// `wake`; pending drafts expire after `expire_after`.
    pub fn new(
        store: Store,
        channels: impl Into<Arc<BTreeMap<String, Channel>>>,
        clock: Clock,
        wake: Arc<Notify>,
        expire_after: Option<TimeDelta>,
    ) -> Self {
        Self {
            store,
            channels: channels.into(),
            clock,
            wake,
            expire_after,
        }
    }

    /// Runs rounds every `every` until `shutdown`. A round's store failure is logged; the
    /// next round tries again.
    pub async fn run(&self, every: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.round().await {
                error!(error = %e, "Reply sender failed a round");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass over the queue: expire stale drafts, claim approved items, reconcile sending
    /// ones with their posts.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let mut done = Round::default();
        let now = (self.clock)();
        if let Some(after) = self.expire_after {
            // Read from the index by creation time: only the drafts that are due to expire,
            // not every pending item (49k pending drafts cost 14.5 % of a core that way).
            for id in self.store.queue().pending_created_before(now - after)? {
                if self
                    .store
                    .queue()
                    .apply(id, &Action::Expire, SYSTEM, now)?
                    .is_ok()
                {
                    done.expired += 1;
                }
            }
        }
        for id in self.store.queue().ids(ReplyState::Approved)? {
            if let Some(item) = self.store.queue().item(id)? {
                if self.claim(&item, now).await? {
                    done.claimed += 1;
                }
            }
        }
        for id in self.store.queue().ids(ReplyState::Sending)? {
            if let Some(item) = self.store.queue().item(id)? {
                match self.reconcile(&item, now)? {
                    Some(ReplyState::Sent) => done.sent += 1,
                    Some(ReplyState::Failed) => done.failed += 1,
                    _ => {}
                }
            }
        }
        Ok(done)
    }

    fn fail(&self, item: &QueueItem, why: String, now: DateTime<Utc>) -> Result<(), StoreError> {
        error!(item = item.id, error = %why, "Reply cannot be sent; a person must act");
        let _ = self
            .store
            .queue()
            .apply(item.id, &Action::Fail { error: why }, SYSTEM, now)?;
        Ok(())
    }

    /// approved → sending: resolve the thread, fix the post's key, record it, make the post.
    async fn claim(&self, item: &QueueItem, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(channel_name) = item.channel.clone() else {
            self.fail(
                item,
                format!(
                    "no configured channel can reply on {}; answer there by hand",
                    item.platform
                ),
                now,
            )?;
            return Ok(false);
        };
        let Some(channel) = self.channels.get(&channel_name) else {
            self.fail(
                item,
                format!("no channel {channel_name:?} is configured"),
                now,
            )?;
            return Ok(false);
        };
        let reply_to = match thread_of(channel, item).await {
            Ok(r) => r,
            Err(Lookup::Retry(why)) => {
                warn!(item = item.id, why = %why, "Cannot find the mention's thread yet; will try again");
                return Ok(false);
            }
            Err(Lookup::Never(why)) => {
                self.fail(item, why, now)?;
                return Ok(false);
            }
        };
        // A free second on the channel: the post's key, and so its idempotency key.
        let mut at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        while self.store.posts().get(&channel_name, at)?.is_some() {
            at += TimeDelta::seconds(1);
        }
        let claim = Action::Claim {
            post: PostRef {
                channel: channel_name,
                at,
            },
            reply_to,
        };
        match self.store.queue().apply(item.id, &claim, SYSTEM, now)? {
            Ok(claimed) => {
                self.materialize(&claimed)?;
                Ok(true)
            }
            // Rejected or claimed by someone else meanwhile: nothing to do.
            Err(_) => Ok(false),
        }
    }

    /// Makes the item's reply post if it does not exist yet; whether it is ours.
    fn materialize(&self, item: &QueueItem) -> Result<Option<StoredPost>, StoreError> {
        let Some(post_ref) = &item.post else {
            return Ok(None);
        };
        if let Some(existing) = self.store.posts().get(&post_ref.channel, post_ref.at)? {
            return Ok(is_ours(&existing, item).then_some(existing));
        }
        let post = reply_post(item, post_ref);
        if self.store.posts().insert_new(&post)? {
            info!(item = item.id, post = %post.id(), "Reply handed to the publisher");
            self.wake.notify_one();
            return Ok(Some(post));
        }
        // Taken between the look and the insert: look again.
        Ok(self
            .store
            .posts()
            .get(&post_ref.channel, post_ref.at)?
            .filter(|p| is_ours(p, item)))
    }

    /// sending → sent | failed, from the reply post's state.
    fn reconcile(
        &self,
        item: &QueueItem,
        now: DateTime<Utc>,
    ) -> Result<Option<ReplyState>, StoreError> {
        let Some(post) = self.materialize(item)? else {
            // Another post holds the key: ours was never made, so nothing was sent.
            self.fail(
                item,
                "its schedule slot was taken by another post before it was made; retry it".into(),
                now,
            )?;
            return Ok(Some(ReplyState::Failed));
        };
        let action = match post.state {
            PostState::Published => Action::Sent {
                remote_id: post.delivery.remote_id.clone().unwrap_or_default(),
                url: post.delivery.remote_url.clone(),
            },
            PostState::Failed | PostState::Missed => Action::Fail {
                error: post
                    .delivery
                    .error
                    .clone()
                    .unwrap_or_else(|| post.state.as_str().to_string()),
            },
            _ => return Ok(None),
        };
        match self.store.queue().apply(item.id, &action, SYSTEM, now)? {
            Ok(done) => {
                if done.state == ReplyState::Sent {
                    info!(
                        item = item.id,
                        url = done.remote_url.as_deref().unwrap_or(""),
                        "Reply sent"
                    );
                }
                Ok(Some(done.state))
            }
            Err(_) => Ok(None),
        }
    }
}

/// Whether a schedule post is the reply post of `item`.
fn is_ours(post: &StoredPost, item: &QueueItem) -> bool {
    post.kind == PostKind::Reply && post.draft == reply_draft(item.id)
}

fn reply_draft(id: u64) -> String {
    format!("{REPLY_CATEGORY}/{id}")
}

/// The reply post of an item, approved: the publisher sends it at once.
pub fn reply_post(item: &QueueItem, at: &PostRef) -> StoredPost {
    StoredPost {
        // The picture a person attached in the inbox: the publisher uploads it with the reply.
        media: item.media.iter().cloned().collect(),
        channel: at.channel.clone(),
        at: at.at,
        kind: PostKind::Reply,
        category: REPLY_CATEGORY.into(),
        draft: reply_draft(item.id),
        peak: REPLY_CATEGORY.into(),
        text: item.text.clone(),
        promo: false,
        series: None,
        source_code: item.source_code.clone(),
        state: PostState::Approved,
        title: None,
        reply: item.reply_to.clone(),
        delivery: Default::default(),
    }
}

enum Lookup {
    /// A failure that may pass (the network).
    Retry(String),
    /// This reply can never be threaded.
    Never(String),
}

/// Where the reply goes in the mention's thread, per the channel's platform.
async fn thread_of(channel: &Channel, item: &QueueItem) -> Result<Option<ReplyTo>, Lookup> {
    match (channel, item.platform.as_str()) {
        (Channel::Mastodon(_), "mastodon") => {
            // Listening ids are `mastodon:<host>:<status id>`.
            let status_id = item
                .mention_id
                .rsplit(':')
                .next()
                .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| {
                    Lookup::Never(format!("{:?} is not a Mastodon status id", item.mention_id))
                })?;
            Ok(Some(ReplyTo::Mastodon {
                status_id: status_id.to_string(),
            }))
        }
        (Channel::Bluesky(b), "bluesky") => {
            let v = b
                .account()
                .query(
                    "app.bsky.feed.getPosts",
                    &[("uris", item.mention_id.as_str())],
                )
                .await
                .map_err(|e| Lookup::Retry(e.to_string()))?;
            let post = &v["posts"][0];
            let (Some(uri), Some(cid)) = (post["uri"].as_str(), post["cid"].as_str()) else {
                return Err(Lookup::Retry(format!(
                    "the AppView does not have {} (yet)",
                    item.mention_id
                )));
            };
            let parent = StrongRef {
                uri: uri.to_string(),
                cid: cid.to_string(),
            };
            // Replying to a reply: the thread's root stays the root.
            let root = match (
                post["record"]["reply"]["root"]["uri"].as_str(),
                post["record"]["reply"]["root"]["cid"].as_str(),
            ) {
                (Some(uri), Some(cid)) => StrongRef {
                    uri: uri.to_string(),
                    cid: cid.to_string(),
                },
                _ => parent.clone(),
            };
            Ok(Some(ReplyTo::Bluesky { root, parent }))
        }
        (Channel::Mastodon(_) | Channel::Bluesky(_), platform) => Err(Lookup::Never(format!(
            "the reply channel is not on {platform}, where the mention is"
        ))),
        // Outbox and webhooks take the reply as a post; they have no threads.
        _ => Ok(None),
    }
}

/// One delivery pass without `herald run` (`herald queue send`, tests): hands approved replies
/// to the publisher, sends the reply posts that are due (and only those: scheduled posts wait
/// for `herald run`), and records the outcomes.
pub async fn deliver_once(
    sender: &ReplySender,
    publisher: &crate::publish::worker::Publisher,
    store: &Store,
) -> Result<Round, StoreError> {
    let mut done = sender.round().await?;
    let now = (sender.clock)();
    for post in store
        .posts()
        .due(now)?
        .into_iter()
        .filter(|p| p.kind == PostKind::Reply)
    {
        publisher.execute(post).await?;
    }
    let after = sender.round().await?;
    done.claimed += after.claimed;
    done.sent += after.sent;
    done.failed += after.failed;
    done.expired += after.expired;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::tests::item;

    fn sender(store: &Store, now: DateTime<Utc>) -> ReplySender {
        ReplySender::new(
            store.clone(),
            BTreeMap::new(),
            Arc::new(move || now),
            Arc::new(Notify::new()),
            Some(TimeDelta::hours(72)),
        )
    }

    #[tokio::test]
    async fn stale_drafts_expire_and_unsendable_approvals_fail_visibly() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let t0 = item(ReplyState::Pending).created_at;
        let mut stale = item(ReplyState::Pending);
        stale.mention_id = "stale".into();
        let mut fresh = item(ReplyState::Pending);
        fresh.mention_id = "fresh".into();
        fresh.created_at = t0 + TimeDelta::hours(2);
        let mut forum = item(ReplyState::Pending);
        forum.mention_id = "forum".into();
        forum.channel = None;
        forum.platform = "rss".into();
        forum.created_at = fresh.created_at;
        let ids: Vec<u64> = [&stale, &fresh, &forum]
            .into_iter()
            .map(|i| store.queue().enqueue(i).expect("enqueue").expect("new"))
            .collect();
        let now = t0 + TimeDelta::hours(73);
        store
            .queue()
            .apply(ids[2], &Action::Approve { text: None }, "mei", now)
            .expect("store")
            .expect("legal");
        let round = sender(&store, now).round().await.expect("round");
        assert_eq!((round.expired, round.claimed), (1, 0));
        let state = |id| store.queue().item(id).expect("get").expect("there");
        assert_eq!(state(ids[0]).state, ReplyState::Expired);
        assert_eq!(
            state(ids[0]).audit.last().map(|e| e.who.clone()),
            Some(SYSTEM.to_string())
        );
        assert_eq!(state(ids[1]).state, ReplyState::Pending);
        let failed = state(ids[2]);
        assert_eq!(failed.state, ReplyState::Failed);
        assert!(
            failed
                .error
                .as_deref()
                .is_some_and(|e| e.contains("answer there by hand")),
            "{failed:?}"
        );
        assert!(
            store.posts().all().expect("posts").is_empty(),
            "nothing was scheduled"
        );
    }

    #[tokio::test]
    async fn a_claimed_reply_whose_post_was_never_made_gets_exactly_one_post() {
        // A crash between the claim (flushed) and making the post: the next round makes it,
        // under the key the claim fixed, and a further round does not make another.
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let now = item(ReplyState::Pending).created_at;
        let id = store
            .queue()
            .enqueue(&item(ReplyState::Pending))
            .expect("enqueue")
            .expect("new");
        store
            .queue()
            .apply(id, &Action::Approve { text: None }, "mei", now)
            .expect("store")
            .expect("legal");
        let at = PostRef {
            channel: "masto".into(),
            at: now,
        };
        store
            .queue()
            .apply(
                id,
                &Action::Claim {
                    post: at.clone(),
                    reply_to: Some(ReplyTo::Mastodon {
                        status_id: "42".into(),
                    }),
                },
                SYSTEM,
                now,
            )
            .expect("store")
            .expect("legal");
        let s = sender(&store, now);
        s.round().await.expect("round");
        s.round().await.expect("round");
        let posts = store.posts().all().expect("posts");
        assert_eq!(posts.len(), 1, "{posts:?}");
        let p = &posts[0];
        assert_eq!(
            (p.channel.as_str(), p.at, p.state),
            ("masto", now, PostState::Approved)
        );
        assert_eq!(p.category, REPLY_CATEGORY);
        assert_eq!(p.kind, PostKind::Reply);
        assert_eq!(
            p.reply,
            Some(ReplyTo::Mastodon {
                status_id: "42".into()
            })
        );
        // The publisher's outcome is copied back.
        store
            .posts()
            .transition(
                "masto",
                now,
                &[PostState::Approved],
                &|p: &mut StoredPost| {
                    p.state = PostState::Published;
                    p.delivery.remote_id = Some("99".into());
                },
            )
            .expect("store")
            .expect("moved");
        let round = s.round().await.expect("round");
        assert_eq!(round.sent, 1);
        let done = store.queue().item(id).expect("get").expect("there");
        assert_eq!(
            (done.state, done.remote_id.as_deref()),
            (ReplyState::Sent, Some("99"))
        );
    }
}
