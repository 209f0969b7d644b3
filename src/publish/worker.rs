//! The publish loop: claim a due post, send it, record the outcome.
//!
//! [`Publisher::execute`] handles one post and returns what happened ([`Outcome`]);
//! [`Publisher::run`] is the loop around it: it hands each due post to a task of its own, one
//! in flight per channel and the channels side by side (a platform that hangs delays only its
//! own posts), then sleeps until a send finishes, the next post is due, a re-plan wakes it, or
//! shutdown. No polling.
//!
//! States (see [`PostState`]): `planned | approved` → (claim, flushed) `sending` → `published`,
//! or back to `planned | approved` with a backoff (transient failure, rate limit, unavailable;
//! never before the platform's `Retry-After`), or `failed` (refused, unauthorised, too long, or
//! out of attempts), or `unconfirmed` (no clear answer). A post found `sending` (a crash
//! mid-send) or `unconfirmed` is looked for on the platform first: found → `published`;
//! certainly absent → sent again. An unconfirmed send is an attempt like any other: looked for
//! after the same backoff, and after `max_attempts` it is looked for once more and then
//! `failed`, never sent again. A post later than `missed_after` is `missed`, never sent late.
//!
//! Pictures are part of the same machine: after the claim, each picture is read from the media
//! folder (a file missing or not an image fails the post, never a post without it), and, on a
//! channel that uploads, each picture without a recorded upload is uploaded and its
//! [`crate::domain::Upload`] recorded in the store at once (the post still `sending`), so a
//! retry or a restart reuses it instead of uploading again. Only then is the post created, with
//! every upload. An upload that fails is classified like a send that fails.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Channel, OutMedia, OutPost, PublishError, PublishSettings, Sent};
use crate::clock::Clock;
use crate::store::{PostState, Store, StoreError, StoredPost};

/// The longest a platform's `Retry-After` may hold a post back: a bad header must not park it
/// for years (a post that late is missed anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The shortest wait before a post is taken up again after a failure, whatever the configured
/// backoff (which may be 0): the loop looks at the schedule again as soon as a send ends, and a
/// post due again at once would be taken up in a tight circle.
const MIN_RETRY: Duration = Duration::from_secs(1);

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
    channels: Arc<BTreeMap<String, Channel>>,
    settings: PublishSettings,
    clock: Clock,
    /// Several processes on one database: each channel is sent on by the process holding its
    /// lease. `None`: this publisher sends on every channel (one process).
    leases: Option<crate::lease::Leases>,
    /// Who claims posts (recorded on each claim).
    holder: Arc<str>,
    /// The media folder (`<content_plan>/media`) and the cache of re-encoded copies
    /// (`<data_dir>/media-cache`); `None` until [`Publisher::with_media`].
    media: Option<MediaDirs>,
}

#[derive(Debug, Clone)]
struct MediaDirs {
    files: PathBuf,
    cache: PathBuf,
}

/// Why a post's pictures could not be made ready.
enum MediaFailure {
    /// The post cannot carry them as it is (a file missing or not an image, no media folder):
    /// it fails with this message.
    Unusable(String),
    /// An upload failed: handled like a send that failed.
    Upload(PublishError),
    /// The post changed in the store meanwhile.
    Gone,
    Store(StoreError),
}

impl Publisher {
    pub fn new(
        store: Store,
        channels: impl Into<Arc<BTreeMap<String, Channel>>>,
        settings: PublishSettings,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            channels: channels.into(),
            settings,
            clock,
            leases: None,
            holder: "herald".into(),
            media: None,
        }
    }

    /// Reads posts' pictures from `media_dir` (`<content_plan>/media`) and keeps re-encoded
    /// copies in `cache_dir` (`<data_dir>/media-cache`). Without it, a post with pictures fails.
    pub fn with_media(mut self, media_dir: PathBuf, cache_dir: PathBuf) -> Self {
        self.media = Some(MediaDirs {
            files: media_dir,
            cache: cache_dir,
        });
        self
    }

    /// Sends only on the channels whose lease this process holds (several processes on one
    /// database), claiming posts in the name of the leases' holder.
    pub fn with_leases(mut self, leases: crate::lease::Leases) -> Self {
        self.holder = leases.holder().into();
        self.leases = Some(leases);
        self
    }

    /// Runs until `shutdown`. Each channel sends one post at a time and the channels send side
    /// by side: a post is handed to its own task as soon as it is due and its channel has
    /// nothing in flight, so a platform that hangs delays only its own posts. The loop looks at
    /// the schedule again when a send finishes, when the next post is due, or when `wake` is
    /// notified (a new plan, a lifted hold). On shutdown no new send starts, and the sends in
    /// flight finish and are recorded before this returns.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, wake: Arc<Notify>) {
        let mut in_flight: JoinSet<Result<Outcome, StoreError>> = JoinSet::new();
        // Which channel each task sends for: at most one task per channel.
        let mut sending: HashMap<tokio::task::Id, String> = HashMap::new();
        // Channels resting after a store failure or a panic, so that a post failing the same
        // way at once is not taken up again in a tight loop.
        let mut resting: HashMap<String, Instant> = HashMap::new();
        let mut leases = self.leases.clone().map(crate::lease::ChannelLeases::new);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let now = (self.clock)();
            let rested = Instant::now();
            resting.retain(|_, until| *until > rested);
            // Held posts are left where they are, not handed to a task that would find them
            // held at once, end, and have the loop look again in a tight circle.
            if let Some(l) = leases.as_mut() {
                // Renew this process's channels, take its share of free ones, give up extra.
                l.round(self.channels.keys(), &|c: &str| {
                    sending.values().any(|s| s == c)
                });
            }
            let held = self.store.meta().held_categories().unwrap_or_else(|e| {
                error!(error = %e, "Cannot read the holds; each post checks them");
                Vec::new()
            });
            match self.store.posts().due(now) {
                Ok(due) => {
                    for post in due {
                        let busy = sending.values().any(|c| *c == post.channel)
                            || resting.contains_key(&post.channel)
                            || leases.as_ref().is_some_and(|l| !l.holds(&post.channel));
                        let is_held =
                            matches!(post.state, PostState::Planned | PostState::Approved)
                                && held.contains(&post.category);
                        if busy || is_held {
                            continue;
                        }
                        let channel = post.channel.clone();
                        let publisher = Arc::clone(&self);
                        let task = in_flight.spawn(async move { publisher.execute(post).await });
                        sending.insert(task.id(), channel);
                    }
                }
                Err(e) => error!(error = %e, "Cannot read the schedule"),
            }
            // From the instant the schedule was read: a post falling due since then is still
            // ahead of it, so the loop wakes for it instead of sleeping past it.
            let next = self.store.posts().next_due(now).ok().flatten();
            // Wake at least hourly anyway: cheap, and a safety net against a missed notify.
            let mut sleep = next
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(3600));
            if let Some(until) = resting.values().min() {
                sleep = sleep.min(until.saturating_duration_since(Instant::now()));
            }
            if let Some(l) = leases.as_ref() {
                // Come round before the channels' leases lapse.
                sleep = sleep.min(l.renew_every());
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = in_flight.join_next_with_id() => {
                    self.finished(done, &mut sending, &mut resting);
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        if !in_flight.is_empty() {
            info!(
                sends = in_flight.len(),
                "Shutting down: waiting for the sends in flight"
            );
        }
        while let Some(done) = in_flight.join_next_with_id().await {
            self.finished(done, &mut sending, &mut resting);
        }
        // Every send is recorded: another process may take the channels over at once.
        if let Some(l) = leases.as_mut() {
            l.release_all();
        }
    }

    /// Frees the channel of a task that ended; a store failure or a panic rests the channel.
    fn finished(
        &self,
        done: Result<(tokio::task::Id, Result<Outcome, StoreError>), JoinError>,
        sending: &mut HashMap<tokio::task::Id, String>,
        resting: &mut HashMap<String, Instant>,
    ) {
        let (id, failure) = match done {
            Ok((id, Ok(_))) => {
                sending.remove(&id);
                return;
            }
            Ok((id, Err(e))) => (id, format!("store failed while publishing: {e}")),
            Err(e) if e.is_panic() => (e.id(), "the send panicked".to_string()),
            Err(e) => (e.id(), format!("the send was stopped: {e}")),
        };
        let rest = self.settings.backoff.max(Duration::from_secs(1));
        if let Some(channel) = sending.remove(&id) {
            error!(channel = %channel, error = %failure, rest_seconds = rest.as_secs(), "Publishing failed; the channel rests");
            resting.insert(channel, Instant::now() + rest);
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
            title: post.title.clone(),
            // Read from disk after the claim (`prepare_media`).
            media: Vec::new(),
            uploads: Vec::new(),
        }
    }

    /// The post's pictures, read and checked on disk, and, on a channel that uploads, each
    /// uploaded unless its upload is recorded already; every new upload is recorded in the store
    /// before the next. Fills `out.media` and `out.uploads` (in the order of the pictures).
    async fn prepare_media(
        &self,
        channel: &Channel,
        claimed: &StoredPost,
        out: &mut OutPost,
    ) -> Result<(), MediaFailure> {
        if claimed.media.is_empty() {
            return Ok(());
        }
        let Some(dirs) = &self.media else {
            return Err(MediaFailure::Unusable(
                "the post has pictures but herald was started without a media folder".into(),
            ));
        };
        for m in &claimed.media {
            let path = media_path(&dirs.files, &m.file).ok_or_else(|| {
                MediaFailure::Unusable(format!(
                    "picture {:?}: not a plain path under the media folder",
                    crate::untrusted::one_line(&m.file, 200)
                ))
            })?;
            let media = m.clone();
            let read = tokio::task::spawn_blocking(move || OutMedia::inspect(&media, path)).await;
            match read {
                Ok(Ok(media)) => out.media.push(media),
                Ok(Err(e)) => {
                    return Err(MediaFailure::Unusable(format!("picture {}: {e}", m.file)))
                }
                Err(e) => {
                    return Err(MediaFailure::Upload(PublishError::Transient(format!(
                        "reading a picture stopped: {e}"
                    ))))
                }
            }
        }
        if !channel.uploads() {
            return Ok(());
        }
        let mut recorded = claimed.delivery.uploads.clone();
        for media in out.media.clone() {
            if let Some(done) = recorded.iter().find(|u| u.file == media.file) {
                out.uploads.push(done.clone());
                continue;
            }
            let upload = channel
                .upload(out, &media, &dirs.cache)
                .await
                .map_err(MediaFailure::Upload)?;
            let kept = upload.clone();
            let stored = self
                .store
                .posts()
                .transition(
                    &claimed.channel,
                    claimed.at,
                    &[PostState::Sending],
                    &|p: &mut StoredPost| {
                        p.delivery.uploads.retain(|u| u.file != kept.file);
                        p.delivery.uploads.push(kept.clone());
                    },
                )
                .map_err(MediaFailure::Store)?;
            if stored.is_none() {
                return Err(MediaFailure::Gone);
            }
            // Logged once recorded: from here a restart reuses it.
            info!(channel = %claimed.channel, post = %out.id, file = %media.file, upload = %upload.id, "Picture uploaded");
            recorded.push(upload.clone());
            out.uploads.push(upload);
        }
        Ok(())
    }

    /// When to try again after `e` on attempt `attempts`: the backoff, and never before the
    /// delay the platform asked for (`Retry-After` on a 429 or a 503).
    fn retry_at(&self, now: DateTime<Utc>, e: &PublishError, attempts: u32) -> DateTime<Utc> {
        let asked = e.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
        let wait = self.backoff(attempts).max(asked);
        now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::days(1))
    }

    /// The backoff before attempt `attempts + 1`: the configured backoff doubled per attempt up
    /// to `max_backoff`, with jitter, and at least [`MIN_RETRY`].
    fn backoff(&self, attempts: u32) -> Duration {
        crate::retry::backoff(self.settings.backoff, self.settings.max_backoff, attempts)
            .max(MIN_RETRY)
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
        let unclear = matches!(post.state, PostState::Sending | PostState::Unconfirmed);

        if unclear {
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
                // Out of attempts: the last unclear send was looked for once more (above) and
                // is not sent again. A post left `sending` by a crash is not counted here: the
                // crash, not the platform, cut that attempt short.
                Ok(None)
                    if post.state == PostState::Unconfirmed
                        && post.delivery.attempts >= self.settings.max_attempts =>
                {
                    let why = format!(
                        "gave up after {} attempts without a clear answer (last: {}); it may \
                         be on the platform: look there before sending it again by hand",
                        post.delivery.attempts,
                        post.delivery.error.as_deref().unwrap_or("no answer")
                    );
                    self.fail(&post, &[PostState::Unconfirmed], &why)?;
                    return Ok(Outcome::Failed(why));
                }
                Ok(None) => {
                    info!(post = %out.id, "Not on the platform after an unclear send; sending again");
                }
                Err(e) => {
                    // From the answer: a lookup may hang until its timeout too.
                    let at = self.retry_at((self.clock)(), &e, post.delivery.attempts);
                    warn!(post = %out.id, error = %e, retry_at = %at, "Cannot look for an unconfirmed post; will look again");
                    self.store.posts().transition(
                        &post.channel,
                        post.at,
                        &[post.state],
                        &|p: &mut StoredPost| {
                            p.delivery.next_attempt = Some(at);
                            p.delivery.error = Some(e.to_string());
                        },
                    )?;
                    return Ok(Outcome::Retrying {
                        at,
                        error: e.to_string(),
                    });
                }
            }
        } else {
            if self.store.meta().is_held(&post.category)? {
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
        // The claim checks the holds again in the same atomic step: a crisis hold set since the
        // check above wins.
        let Some(claimed) =
            self.store
                .posts()
                .claim(&post.channel, post.at, &from, now, &self.holder)?
        else {
            return Ok(Outcome::Skipped);
        };
        // Send the post as stored at the claim, not as it was when found due.
        let mut out = Self::out_post(&claimed);
        // A retry after a failure that might have reached the platform: look first (an unclear
        // post was looked for just above).
        if !unclear && claimed.delivery.attempts > 1 && post.delivery.error.is_some() {
            if let Ok(Some(sent)) = channel.find(&out).await {
                return self.published(&claimed, &[PostState::Sending], sent);
            }
        }
        let back_to = if post.state == PostState::Planned {
            PostState::Planned
        } else {
            PostState::Approved
        };
        let attempts = claimed.delivery.attempts;
        let answer = match self.prepare_media(channel, &claimed, &mut out).await {
            Ok(()) => {
                tracing::debug!(channel = %post.channel, post = %out.id, attempt = attempts, "Sending");
                channel.send(&out).await
            }
            Err(MediaFailure::Upload(e)) => Err(e),
            Err(MediaFailure::Unusable(why)) => {
                self.fail(&claimed, &[PostState::Sending], &why)?;
                return Ok(Outcome::Failed(why));
            }
            Err(MediaFailure::Gone) => return Ok(Outcome::Skipped),
            Err(MediaFailure::Store(e)) => return Err(e),
        };
        // Waits count from the answer, not from the claim: a send that hung until its timeout
        // must not have used up the backoff meanwhile.
        let answered = (self.clock)();
        match answer {
            Ok(sent) => self.published(&claimed, &[PostState::Sending], sent),
            Err(PublishError::Unconfirmed(why)) => {
                // Looked for (and, if absent, sent again) after a backoff like any retry; an
                // attempt like any other, so `max_attempts` bounds the copies a slow receiver
                // gets.
                let at = answered + TimeDelta::from_std(self.backoff(attempts)).unwrap_or_default();
                if attempts >= self.settings.max_attempts {
                    warn!(post = %out.id, error = %why, look_at = %at, attempt = attempts, "Send unconfirmed on the last attempt; will look for it once more, not send it again");
                } else {
                    warn!(post = %out.id, error = %why, retry_at = %at, attempt = attempts, "Send unconfirmed; will look for it on the platform before sending again");
                }
                self.store.posts().transition(
                    &post.channel,
                    post.at,
                    &[PostState::Sending],
                    &|p: &mut StoredPost| {
                        p.state = PostState::Unconfirmed;
                        p.delivery.next_attempt = Some(at);
                        p.delivery.error = Some(why.clone());
                    },
                )?;
                Ok(Outcome::Unconfirmed(why))
            }
            Err(e) if e.is_permanent() || attempts >= self.settings.max_attempts => {
                let why = if e.is_permanent() {
                    e.to_string()
                } else {
                    format!("gave up after {attempts} attempts: {e}")
                };
                self.fail(&claimed, &[PostState::Sending], &why)?;
                Ok(Outcome::Failed(why))
            }
            Err(e) => {
                let at = self.retry_at(answered, &e, attempts);
                warn!(post = %out.id, error = %e, retry_at = %at, "Publish failed; will retry");
                let why = e.to_string();
                self.store.posts().transition(
                    &post.channel,
                    post.at,
                    &[PostState::Sending],
                    &|p: &mut StoredPost| {
                        p.state = back_to;
                        p.delivery.next_attempt = Some(at);
                        p.delivery.error = Some(why.clone());
                    },
                )?;
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
        self.store
            .posts()
            .transition(&post.channel, post.at, from, &|p: &mut StoredPost| {
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
        self.store
            .posts()
            .transition(&post.channel, post.at, from, &|p: &mut StoredPost| {
                p.state = PostState::Missed;
                p.delivery.error = Some(why.clone());
            })?;
        Ok(Outcome::Missed)
    }

    fn fail(&self, post: &StoredPost, from: &[PostState], why: &str) -> Result<(), StoreError> {
        error!(channel = %post.channel, post = %post.id(), error = %why, "Publish failed for good; a person must act");
        self.store
            .posts()
            .transition(&post.channel, post.at, from, &|p: &mut StoredPost| {
                p.state = PostState::Failed;
                p.delivery.error = Some(why.to_string());
            })?;
        Ok(())
    }
}

/// `file` (relative, `/`-separated) under `dir`, or `None` if it is not a plain relative path
/// (absolute, or with `..`): a post names a file in the media folder, never elsewhere.
fn media_path(dir: &Path, file: &str) -> Option<PathBuf> {
    let rel = Path::new(file);
    let plain = !file.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    plain.then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_paths_stay_under_the_media_folder() {
        let dir = Path::new("/plan/media");
        assert_eq!(
            media_path(dir, "cars/x-trail.jpg"),
            Some(PathBuf::from("/plan/media/cars/x-trail.jpg"))
        );
        for bad in ["", "/etc/passwd", "../secret.jpg", "cars/../../x.jpg"] {
            assert_eq!(media_path(dir, bad), None, "{bad}");
        }
    }

    fn stored(media: Vec<crate::domain::PostMedia>) -> StoredPost {
        StoredPost {
            channel: "masto".into(),
            at: Utc::now() - TimeDelta::seconds(5),
            kind: crate::store::PostKind::Planned,
            category: "product".into(),
            draft: "product/a".into(),
            peak: "lunch".into(),
            text: "雪地试驾".into(),
            promo: false,
            series: None,
            source_code: "masto.product.a.1".into(),
            state: PostState::Planned,
            title: None,
            reply: None,
            media,
            delivery: Default::default(),
        }
    }

    fn picture(file: &str) -> crate::domain::PostMedia {
        crate::domain::PostMedia {
            file: file.into(),
            alt: format!("alt of {file}"),
            focus: None,
        }
    }

    /// A post whose first picture's upload is recorded (as a crash after it leaves it) uploads
    /// only the second, records it, and creates the status with both ids in order. A stand-in
    /// instance counts the uploads (the real peer is in `tests/it/media.rs`).
    #[tokio::test]
    async fn recorded_uploads_are_reused_and_the_rest_recorded() {
        use wiremock::matchers::{body_partial_json, method, path, path_regex};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/instance"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v2/media"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "id": "m-b" })),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v1/media/m-[ab]$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/statuses"))
            .and(body_partial_json(
                serde_json::json!({ "media_ids": ["m-a", "m-b"] }),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "id": "s1", "content": "" })),
            )
            .expect(1)
            .mount(&server)
            .await;

        let dir = tempfile::tempdir().expect("tmp");
        let media = dir.path().join("media");
        std::fs::create_dir_all(&media).expect("mkdir");
        for (name, w) in [("a.png", 8), ("b.png", 6)] {
            image::RgbImage::new(w, 4)
                .save(media.join(name))
                .expect("png");
        }
        let store = crate::store::Store::open(&dir.path().join("db")).expect("store");
        let mut post = stored(vec![picture("a.png"), picture("b.png")]);
        let first = crate::domain::Upload {
            file: "a.png".into(),
            id: "m-a".into(),
            blob: None,
            width: 8,
            height: 4,
        };
        post.delivery.uploads = vec![first.clone()];
        store.posts().put(&post).expect("put");
        let base = url::Url::parse(&server.uri()).expect("url");
        let channel = Channel::Mastodon(super::super::mastodon::Mastodon::new(
            reqwest::Client::new(),
            base,
            "t".into(),
        ));
        let publisher = Publisher::new(
            store.clone(),
            BTreeMap::from([("masto".to_string(), channel)]),
            PublishSettings::default(),
            crate::clock::system_clock(),
        )
        .with_media(media, dir.path().join("cache"));
        let outcome = publisher.execute(post.clone()).await.expect("execute");
        assert!(matches!(outcome, Outcome::Published(_)), "{outcome:?}");
        let got = store
            .posts()
            .get("masto", post.at)
            .expect("get")
            .expect("post");
        assert_eq!(got.state, PostState::Published);
        assert_eq!(
            got.delivery.uploads,
            vec![
                first,
                crate::domain::Upload {
                    file: "b.png".into(),
                    id: "m-b".into(),
                    blob: None,
                    width: 6,
                    height: 4,
                }
            ]
        );
        // `expect`s checked on drop: one upload, one status.
    }

    /// Without a media folder, a post with pictures fails with a clear message, never goes out
    /// without them.
    #[tokio::test]
    async fn pictures_without_a_media_folder_fail_the_post() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::Store::open(&dir.path().join("db")).expect("store");
        let post = stored(vec![picture("a.png")]);
        store.posts().put(&post).expect("put");
        let outbox = super::super::outbox::Outbox::new("masto", dir.path().join("out.jsonl"));
        let publisher = Publisher::new(
            store.clone(),
            BTreeMap::from([("masto".to_string(), Channel::Outbox(outbox))]),
            PublishSettings::default(),
            crate::clock::system_clock(),
        );
        let outcome = publisher.execute(post).await.expect("execute");
        assert!(
            matches!(&outcome, Outcome::Failed(why) if why.contains("without a media folder")),
            "{outcome:?}"
        );
        assert!(!dir.path().join("out.jsonl").exists(), "nothing sent");
    }
}
