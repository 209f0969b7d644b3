//! The publish loop: claim a due post, send it, record the outcome.
//!
//! [`Publisher::execute`] handles one post and returns what happened ([`Outcome`]);
//! [`Publisher::run`] is the dumb loop around it: execute everything due, then sleep until the
//! next post is due, a re-plan wakes it, or shutdown. No polling.
//!
//! States (see [`PostState`]): `planned | approved` → (claim, flushed) `sending` → `published`,
//! or back to `planned | approved` with a backoff (transient failure, rate limit), or `failed`
//! (refused, unauthorised, too long, or out of attempts), or `unconfirmed` (no clear answer).
//! A post found `sending` (a crash mid-send) or `unconfirmed` is looked for on the platform
//! first: found → `published`; certainly absent → sent. A post later than `missed_after` is
//! `missed`, never sent late.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Channel, OutPost, PublishError, PublishSettings, Sent};
use crate::store::{PostState, Store, StoreError, StoredPost};

/// The wall clock, injectable so tests decide what "now" is.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// What [`Publisher::execute`] did with a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Published(Sent),
    /// A transient failure: tried again at this instant.
    Retrying {
        at: DateTime<Utc>,
        error: String,
    },
    /// Given up: the platform refused it, or it failed too often.
    Failed(String),
    /// Too late to send.
    Missed,
    /// Sent without a clear answer; to be looked for on the platform.
    Unconfirmed(String),
    /// Held by a pause (crisis or by hand).
    Held,
    /// Someone else changed it meanwhile, or it was not due.
    Skipped,
}

/// Publishes due posts from the store to the channels.
pub struct Publisher {
    store: Store,
    channels: BTreeMap<String, Channel>,
    settings: PublishSettings,
    clock: Clock,
}

impl Publisher {
    pub fn new(
        store: Store,
        channels: BTreeMap<String, Channel>,
        settings: PublishSettings,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            channels,
            settings,
            clock,
        }
    }

    /// Runs until `shutdown`: each round executes every due post, then sleeps until the next one
    /// is due or `wake` is notified (a new plan, a lifted hold). An in-flight send finishes
    /// before shutdown is honoured, so its outcome is recorded.
    pub async fn run(&self, shutdown: CancellationToken, wake: Arc<Notify>) {
        loop {
            let now = (self.clock)();
            match self.store.due_posts(now) {
                Ok(due) => {
                    for post in due {
                        if shutdown.is_cancelled() {
                            return;
                        }
                        if let Err(e) = self.execute(post).await {
                            error!(error = %e, "Store failed while publishing");
                        }
                    }
                }
                Err(e) => error!(error = %e, "Cannot read the schedule"),
            }
            let now = (self.clock)();
            let next = self.store.next_due(now).ok().flatten();
            // Wake at least hourly anyway: cheap, and a safety net against a missed notify.
            let sleep = next
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(3600));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    fn out_post(post: &StoredPost) -> OutPost {
        OutPost {
            id: post.id(),
            text: post.text.clone(),
            at: post.at,
            lang: None,
            source_code: post.source_code.clone(),
            reply: post.reply.clone(),
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.settings.backoff.as_secs_f64()
            * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
        let capped = base.min(self.settings.max_backoff.as_secs_f64());
        // ±20% jitter, so channels that failed together do not retry together.
        Duration::from_secs_f64(capped * (0.8 + 0.4 * fastrand::f64()))
    }

    /// Handles one post: reconcile, hold, miss, claim, send, record.
    pub async fn execute(&self, post: StoredPost) -> Result<Outcome, StoreError> {
        let now = (self.clock)();
        let Some(channel) = self.channels.get(&post.channel) else {
            let why = format!("no channel {:?} is configured", post.channel);
            self.fail(
                &post,
                &[
                    PostState::Planned,
                    PostState::Approved,
                    PostState::Sending,
                    PostState::Unconfirmed,
                ],
                &why,
            )?;
            return Ok(Outcome::Failed(why));
        };
        let out = Self::out_post(&post);
        let late = now - post.at > self.settings.missed_after;

        if matches!(post.state, PostState::Sending | PostState::Unconfirmed) {
            match channel.find(&out).await {
                Ok(Some(sent)) => {
                    return self.published(
                        &post,
                        &[PostState::Sending, PostState::Unconfirmed],
                        sent,
                    )
                }
                Ok(None) if late => {
                    return self.missed(&post, &[PostState::Sending, PostState::Unconfirmed])
                }
                Ok(None) => {
                    info!(post = %out.id, "Not on the platform after an unclear send; sending again");
                }
                Err(e) => {
                    let at = now
                        + TimeDelta::from_std(self.backoff(post.delivery.attempts))
                            .unwrap_or_default();
                    warn!(post = %out.id, error = %e, "Cannot look for an unconfirmed post; will look again");
                    self.store
                        .transition(&post.channel, post.at, &[post.state], |p| {
                            p.delivery.next_attempt = Some(at);
                            p.delivery.error = Some(e.to_string());
                        })?;
                    return Ok(Outcome::Retrying {
                        at,
                        error: e.to_string(),
                    });
                }
            }
        } else {
            if self.store.is_held(&post.category)? {
                return Ok(Outcome::Held);
            }
            if late {
                return self.missed(&post, &[PostState::Planned, PostState::Approved]);
            }
        }

        // Claim it: durable before any network call, so a crash from here on leaves `sending`,
        // which the next start reconciles.
        let from = [
            PostState::Planned,
            PostState::Approved,
            PostState::Sending,
            PostState::Unconfirmed,
        ];
        let Some(claimed) = self.store.transition(&post.channel, post.at, &from, |p| {
            p.state = PostState::Sending;
            p.delivery.attempts += 1;
            p.delivery.claimed_at = Some(now);
            p.delivery.next_attempt = None;
        })?
        else {
            return Ok(Outcome::Skipped);
        };
        // A retry after a failure that might have reached the platform: look first.
        if claimed.delivery.attempts > 1 && post.delivery.error.is_some() {
            if let Ok(Some(sent)) = channel.find(&out).await {
                return self.published(&claimed, &[PostState::Sending], sent);
            }
        }
        let back_to = if post.state == PostState::Planned {
            PostState::Planned
        } else {
            PostState::Approved
        };
        tracing::debug!(channel = %post.channel, post = %out.id, attempt = claimed.delivery.attempts, "Sending");
        match channel.send(&out).await {
            Ok(sent) => self.published(&claimed, &[PostState::Sending], sent),
            Err(PublishError::Unconfirmed(why)) => {
                warn!(post = %out.id, why = %why, "Send unconfirmed; will look for it on the platform");
                let at = now + TimeDelta::seconds(30);
                self.store
                    .transition(&post.channel, post.at, &[PostState::Sending], |p| {
                        p.state = PostState::Unconfirmed;
                        p.delivery.next_attempt = Some(at);
                        p.delivery.error = Some(why.clone());
                    })?;
                Ok(Outcome::Unconfirmed(why))
            }
            Err(e)
                if e.is_permanent() || claimed.delivery.attempts >= self.settings.max_attempts =>
            {
                let why = if e.is_permanent() {
                    e.to_string()
                } else {
                    format!("gave up after {} attempts: {e}", claimed.delivery.attempts)
                };
                self.fail(&claimed, &[PostState::Sending], &why)?;
                Ok(Outcome::Failed(why))
            }
            Err(e) => {
                let mut wait = self.backoff(claimed.delivery.attempts);
                if let PublishError::RateLimited {
                    retry_after: Some(ra),
                } = &e
                {
                    wait = wait.max(*ra);
                }
                let at = now + TimeDelta::from_std(wait).unwrap_or_default();
                warn!(post = %out.id, error = %e, retry_at = %at, "Publish failed; will retry");
                let why = e.to_string();
                self.store
                    .transition(&post.channel, post.at, &[PostState::Sending], |p| {
                        p.state = back_to;
                        p.delivery.next_attempt = Some(at);
                        p.delivery.error = Some(why.clone());
                    })?;
                Ok(Outcome::Retrying { at, error: why })
            }
        }
    }

    fn published(
        &self,
        post: &StoredPost,
        from: &[PostState],
        sent: Sent,
    ) -> Result<Outcome, StoreError> {
        info!(channel = %post.channel, post = %post.id(), url = sent.url.as_deref().unwrap_or(""), "Published");
        self.store.transition(&post.channel, post.at, from, |p| {
            p.state = PostState::Published;
            p.delivery.remote_id = Some(sent.remote_id.clone());
            p.delivery.remote_url = sent.url.clone();
            p.delivery.published_at = sent.published_at;
            p.delivery.error = None;
            p.delivery.next_attempt = None;
        })?;
        Ok(Outcome::Published(sent))
    }

    fn missed(&self, post: &StoredPost, from: &[PostState]) -> Result<Outcome, StoreError> {
        warn!(channel = %post.channel, post = %post.id(), at = %post.at, "Missed: too late to send");
        let why = format!(
            "more than {} minutes late",
            self.settings.missed_after.num_minutes()
        );
        self.store.transition(&post.channel, post.at, from, |p| {
            p.state = PostState::Missed;
            p.delivery.error = Some(why.clone());
        })?;
        Ok(Outcome::Missed)
    }

    fn fail(&self, post: &StoredPost, from: &[PostState], why: &str) -> Result<(), StoreError> {
        error!(channel = %post.channel, post = %post.id(), error = %why, "Publish failed for good; a person must act");
        self.store.transition(&post.channel, post.at, from, |p| {
            p.state = PostState::Failed;
            p.delivery.error = Some(why.to_string());
        })?;
        Ok(())
    }
}
