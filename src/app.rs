//! Wiring: the operations the CLI offers, built from the pure cores and the store.
//!
//! Nothing here decides policy; it gathers inputs (configuration, stored history, the clock
//! value it is given), calls the core, and records the result.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::classify::keywords;
use crate::clock::system_clock;
use crate::config::Config;
use crate::plan::output::Entry;
use crate::plan::{self, track, Note, PastPost, PlanRequest};
use crate::publish::worker::Publisher;
use crate::publish::{Channel, PublishError};
use crate::store::{PostKind, PostState, Replaced, Store, StoreError, StoredPost};

/// A schedule for a range, as planned (and saved, unless a dry run).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Kept posts in the range and newly planned ones, in (time, channel) order.
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
    /// What the store did, when the plan was saved.
    pub saved: Option<Replaced>,
}

/// The instant local midnight of `date` begins in `tz` (the earliest, if a DST change repeats it).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
        // A zone that skips midnight itself: the day starts an hour later.
        .unwrap_or_else(|| {
            let n = date.and_hms_opt(1, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        })
}

/// Plans `channels` (all configured channels when empty) from `start` up to local midnight of
/// `end_date`, around the posts the store keeps; saves the result unless `save` is false.
pub fn replan(
    config: &Config,
    store: Option<&Store>,
    start: DateTime<Utc>,
    end_date: NaiveDate,
    channels: &[String],
    save: bool,
) -> Result<Schedule, StoreError> {
    let tz = config.herald.timezone;
    let channels: Vec<String> = if channels.is_empty() {
        config
            .herald
            .channels
            .iter()
            .map(|c| c.name.clone())
            .collect()
    } else {
        channels.to_vec()
    };
    let kept: Vec<StoredPost> = match store {
        Some(s) => s.kept_posts()?,
        None => Vec::new(),
    };
    // Replies from the inbox are not part of the content plan's mix, gaps or caps.
    let kept: Vec<StoredPost> = kept
        .into_iter()
        .filter(|p| p.kind != PostKind::Reply)
        .collect();
    let history: Vec<PastPost> = kept
        .iter()
        .map(|p| PastPost {
            channel: p.channel.clone(),
            at: p.at,
            category: p.category.clone(),
            draft: p.draft.clone(),
            promo: p.promo,
            series: p.series.as_ref().map(Into::into),
        })
        .collect();
    let req = PlanRequest {
        channels: channels.clone(),
        start,
        end_date,
        timezone: tz,
    };
    let planned = plan::plan(&config.plan, &config.drafts, &history, &req);

    let new: Vec<StoredPost> = planned
        .posts
        .iter()
        .map(|p| {
            draft_post(
                config,
                &config.drafts[p.draft],
                &channels[p.channel],
                p.at,
                &config.plan.categories[p.category].name,
                &config.plan.peaks[p.peak].name,
                PostState::Planned,
            )
        })
        .collect();

    let saved = match store {
        Some(s) if save => Some(s.replace_planned(start, &new)?),
        _ => None,
    };

    let end = local_midnight(tz, end_date);
    let mut posts: Vec<&StoredPost> = kept
        .iter()
        .filter(|p| p.at >= start && p.at < end && channels.contains(&p.channel))
        .chain(new.iter())
        .collect();
    posts.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
    let entries = posts.into_iter().map(|p| entry(p, tz)).collect();
    Ok(Schedule {
        entries,
        notes: planned.notes,
        saved,
    })
}

fn entry(p: &StoredPost, tz: Tz) -> Entry {
    Entry {
        at: p.at.with_timezone(&tz).fixed_offset(),
        channel: p.channel.clone(),
        category: p.category.clone(),
        draft: p.draft.clone(),
        peak: p.peak.clone(),
        text: p.text.clone(),
        promo: p.promo,
        source_code: p.source_code.clone(),
        state: p.state.as_str().to_string(),
        title: p.title.clone(),
    }
}

/// What `herald check` found beyond file syntax: rule-file test failures and what a plan of the
/// next `days` days would run short of.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub keyword_failures: Vec<keywords::TestFailure>,
    /// `keywords/replies.toml` test cases that failed.
    pub reply_failures: Vec<crate::inbox::draft::ReplyTestFailure>,
    pub notes: Vec<Note>,
}

/// Runs the keyword files' own tests and a dry-run plan from `start` for `days` days.
pub fn check(config: &Config, start: DateTime<Utc>, days: u32) -> Result<CheckReport, String> {
    let keyword_failures = keywords::run_file_tests(&config.keywords)?;
    let reply_failures = match &config.replies {
        Some(r) => crate::inbox::draft::run_file_tests(r, &config.keywords)?,
        None => Vec::new(),
    };
    let tz = config.herald.timezone;
    let end_date = start.with_timezone(&tz).date_naive() + chrono::Days::new(u64::from(days));
    let schedule = replan(config, None, start, end_date, &[], false).map_err(|e| e.to_string())?;
    Ok(CheckReport {
        keyword_failures,
        reply_failures,
        notes: schedule.notes,
    })
}

/// How far ahead `herald run` keeps the schedule planned.
pub const PLAN_AHEAD_DAYS: u64 = 7;

/// Builds every configured channel, reading secrets from the environment.
pub fn channels(
    config: &Config,
) -> Result<std::collections::BTreeMap<String, Channel>, PublishError> {
    let data_dir = data_dir(config);
    config
        .herald
        .channels
        .iter()
        .map(|c| {
            Channel::from_config(c, &config.herald.publish, &data_dir)
                .map(|ch| (c.name.clone(), ch))
        })
        .collect()
}

/// The folder of the store, where the outbox file lives too.
pub fn data_dir(config: &Config) -> std::path::PathBuf {
    config
        .herald
        .storage
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// Plans from `now` to `PLAN_AHEAD_DAYS` ahead and saves it; logs what a person should know.
pub fn replan_ahead(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Schedule, StoreError> {
    let tz = config.herald.timezone;
    let end = now.with_timezone(&tz).date_naive() + chrono::Days::new(PLAN_AHEAD_DAYS);
    let schedule = replan(config, Some(store), now, end, &[], true)?;
    for note in &schedule.notes {
        if note.is_warning() {
            tracing::warn!(note = %note, "Plan falls short");
        } else {
            tracing::info!(note = %note, "Plan note");
        }
    }
    if let Some(saved) = schedule.saved {
        tracing::info!(planned = saved.inserted, replaced = saved.removed, until = %end, "Schedule planned");
    }
    Ok(schedule)
}

/// What a started `herald run` hands its caller once every task is running: for the startup
/// summary and for the control socket the CLI serves beside it.
pub struct Ready {
    /// The schedule as planned at the start.
    pub schedule: Schedule,
    /// The address the web UI listens on, when it is on.
    pub web: Option<std::net::SocketAddr>,
    /// Wakes the publisher after a change to the schedule or the holds.
    pub wake: Arc<Notify>,
}

/// `herald run`: keeps the schedule planned ahead and publishes due posts until `shutdown`.
pub async fn run(config: Config, store: Store, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with(config, store, shutdown, |_| {}).await
}

/// [`run`], calling `on_ready` once everything has started.
pub async fn run_with(
    config: Config,
    store: Store,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Ready),
) -> anyhow::Result<()> {
    // One client per channel account, shared by the publisher and the reply sender.
    let channels = Arc::new(channels(&config)?);
    let sources: Vec<(String, Arc<crate::listen::run::Source>, std::time::Duration)> = config
        .herald
        .sources
        .iter()
        .map(|s| {
            crate::listen::run::Source::from_config(s, config.herald.timezone)
                .map(|src| (s.name.clone(), Arc::new(src), s.interval))
        })
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    let classifier =
        Arc::new(crate::classify::Classifier::new(&config.keywords).map_err(anyhow::Error::msg)?);
    let drafter = crate::inbox::Drafter::from_config(&config).map(Arc::new);
    let mut listener =
        crate::listen::run::Listener::new(store.clone(), classifier).with_inbox(drafter.clone());
    let clock = system_clock();
    if let Some(drafter) = &drafter {
        let drafted = crate::inbox::draft::draft_missing(drafter, &store, clock())?;
        if drafted > 0 {
            tracing::warn!(
                drafted,
                "Drafted replies to mentions a crash had left without one"
            );
        }
    }
    let wake = Arc::new(Notify::new());
    let alert_wake = Arc::new(Notify::new());
    // Every task is watched: one that ends before shutdown (a panic) stops herald with an
    // error instead of leaving it running without that part.
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let watch = |name: &str, task| supervise(name.to_string(), task, &shutdown, &ended_tx);
    // Live crisis detection: warmed from the store before the listeners start feeding it.
    let live_task = if config.herald.crisis.enabled {
        let (tx, rx) = crate::crisis::live::channel();
        listener = listener.with_live(tx);
        let mut live = crate::crisis::live::Live::new(
            store.clone(),
            config.herald.crisis.params.clone(),
            config.herald.alerts.clone(),
            config.plan.pause_categories.clone(),
            clock.clone(),
            alert_wake.clone(),
            wake.clone(),
        );
        let fed = live.warm_up()?;
        tracing::info!(mentions = fed, "Crisis detector warmed up from the store");
        Some(watch(
            "the crisis detector",
            tokio::spawn(live.run(rx, shutdown.clone())),
        ))
    } else {
        None
    };
    let alert_task = {
        let (store, alerts, clock, wake, shutdown) = (
            store.clone(),
            config.herald.alerts.clone(),
            clock.clone(),
            alert_wake.clone(),
            shutdown.clone(),
        );
        watch(
            "the alert sender",
            tokio::spawn(async move {
                crate::crisis::notify::run(store, &alerts, clock, wake, shutdown).await
            }),
        )
    };
    let listen_tasks: Vec<_> = sources
        .into_iter()
        .map(|(name, source, interval)| {
            let what = format!("the listener of source {name}");
            watch(
                &what,
                tokio::spawn(
                    listener
                        .clone()
                        .run_source(name, source, interval, shutdown.clone()),
                ),
            )
        })
        .collect();
    let schedule = replan_ahead(&config, &store, clock())?;
    let publisher = Arc::new(Publisher::new(
        store.clone(),
        channels.clone(),
        config.herald.publish.clone(),
        clock.clone(),
    ));
    let (web_task, web_addr) = match config.herald.web.clone().filter(|w| w.enabled) {
        Some(web) => {
            let (task, addr) = start_web(&config, web, &store, &wake, &clock, &shutdown).await?;
            let task = supervise("the web UI".into(), task, &shutdown, &ended_tx);
            (Some(task), Some(addr))
        }
        None => (None, None),
    };
    tracing::info!(channels = config.herald.channels.len(), sources = config.herald.sources.len(), store = %config.herald.storage.path.display(), "herald is running");

    let publish_task = {
        let (shutdown, wake) = (shutdown.clone(), wake.clone());
        watch(
            "the publisher",
            tokio::spawn(async move { publisher.run(shutdown, wake).await }),
        )
    };
    // Replies approved in the inbox go to the publisher (started first: it has posts due).
    let reply_task = {
        let sender = crate::inbox::send::ReplySender::new(
            store.clone(),
            channels.clone(),
            clock.clone(),
            wake.clone(),
            config.replies.as_ref().map(|r| r.expire_after),
        );
        let shutdown = shutdown.clone();
        watch(
            "the reply sender",
            tokio::spawn(async move {
                sender
                    .run(std::time::Duration::from_secs(2), shutdown)
                    .await
            }),
        )
    };
    // Old mentions and closed queue items are deleted every hour (`[storage]` retention).
    let retention_task = watch(
        "the retention task",
        tokio::spawn(prune_every(
            store.clone(),
            config.herald.storage.retention,
            clock.clone(),
            RETENTION_EVERY,
            shutdown.clone(),
        )),
    );
    on_ready(Ready {
        schedule,
        web: web_addr,
        wake: wake.clone(),
    });
    // Re-plan shortly after each local midnight, so the schedule always reaches a week ahead.
    let plan_task = {
        let (shutdown, wake, store) = (shutdown.clone(), wake.clone(), store.clone());
        let task = tokio::spawn(async move {
            let tz = config.herald.timezone;
            loop {
                let now = clock();
                let tomorrow = now.with_timezone(&tz).date_naive() + chrono::Days::new(1);
                let next = local_midnight(tz, tomorrow) + chrono::TimeDelta::minutes(1);
                let wait = (next - now).to_std().unwrap_or_default();
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                match replan_ahead(&config, &store, clock()) {
                    Ok(_) => wake.notify_one(),
                    Err(e) => tracing::error!(error = %e, "Re-planning failed"),
                }
            }
        });
        watch("the planner", task)
    };
    drop(ended_tx);
    // A store that can no longer be written (a full disk: sled does not recover by itself)
    // stops herald with an error, so that a supervisor restarts it.
    let failure: Option<anyhow::Error> = tokio::select! {
        _ = shutdown.cancelled() => None,
        e = crate::store::health::watch_writes(&store, WRITE_PROBE_EVERY, WRITE_PROBE_FAILURES) => {
            tracing::error!(error = %e, "Store cannot be written; stopping");
            Some(e.into())
        }
        Some(what) = ended_rx.recv() => {
            tracing::error!(task = %what, "A part of herald stopped; stopping so that it can be restarted");
            Some(anyhow::anyhow!(
                "{what} while herald ran; herald stopped so that it can be restarted (the log above says why)"
            ))
        }
    };
    if failure.is_some() {
        shutdown.cancel();
    }
    tracing::info!("Shutting down: finishing the send in flight");
    let _ = retention_task.await;
    let _ = publish_task.await;
    let _ = reply_task.await;
    let _ = plan_task.await;
    let _ = alert_task.await;
    if let Some(task) = live_task {
        let _ = task.await;
    }
    for task in listen_tasks {
        let _ = task.await;
    }
    if let Some(task) = web_task {
        if let Ok(Some(Err(e))) = task.await {
            tracing::error!(error = %e, "Web UI stopped with an error");
        }
    }
    tracing::info!("Stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Watches a task of `herald run`: a task that ends before `shutdown` (it panicked, or its
/// loop returned) is reported on `ended` by name, so that `run` stops with an error rather
/// than run on without it. The returned handle gives the task's value (`None` if it panicked).
fn supervise<T: Send + 'static>(
    name: String,
    task: tokio::task::JoinHandle<T>,
    shutdown: &CancellationToken,
    ended: &tokio::sync::mpsc::UnboundedSender<String>,
) -> tokio::task::JoinHandle<Option<T>> {
    let (shutdown, ended) = (shutdown.clone(), ended.clone());
    tokio::spawn(async move {
        let result = task.await;
        if !shutdown.is_cancelled() {
            let how = match &result {
                Err(e) if e.is_panic() => "panicked",
                _ => "stopped",
            };
            let _ = ended.send(format!("{name} {how}"));
        }
        result.ok()
    })
}

/// How often `herald run` deletes what the retention settings no longer keep.
pub const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often `herald run` checks that the store can still be written.
pub const WRITE_PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Failed write probes in a row (so about 20 s of failing writes) after which `herald run`
/// stops.
pub const WRITE_PROBE_FAILURES: u32 = 3;

/// Prunes the store by `retention` now and every `every` until `shutdown` (off the async
/// threads: a first run can delete many records).
pub async fn prune_every(
    store: Store,
    retention: crate::store::Retention,
    clock: crate::clock::Clock,
    every: std::time::Duration,
    shutdown: CancellationToken,
) {
    loop {
        let (s, now) = (store.clone(), clock());
        match tokio::task::spawn_blocking(move || s.prune(&retention, now)).await {
            Ok(Ok(done)) if done != crate::store::Pruned::default() => {
                tracing::info!(
                    mentions = done.mentions,
                    queue_items = done.queue_items,
                    "Deleted records older than the retention settings"
                )
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "Retention failed; will try again"),
            Err(e) => tracing::error!(error = %e, "Retention crashed; will try again"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Binds the web UI's address and serves it until `shutdown` (see [`crate::web`]).
async fn start_web(
    config: &Config,
    web: crate::web::WebConfig,
    store: &Store,
    wake: &Arc<Notify>,
    clock: &crate::clock::Clock,
    shutdown: &CancellationToken,
) -> anyhow::Result<(
    tokio::task::JoinHandle<std::io::Result<()>>,
    std::net::SocketAddr,
)> {
    let listener = tokio::net::TcpListener::bind(web.bind)
        .await
        .map_err(|e| anyhow::anyhow!("web UI: cannot listen on {}: {e}", web.bind))?;
    let token = std::env::var(&web.api_token_env).ok();
    if token.as_deref().is_none_or(str::is_empty) {
        tracing::warn!(variable = %web.api_token_env, "JSON API is off: its token variable is not set");
    }
    let addr = listener.local_addr().unwrap_or(web.bind);
    if !addr.ip().is_loopback() {
        tracing::warn!(address = %addr, "Web UI reachable from other machines (allow_remote = true)");
    }
    let state = crate::web::AppState::new(
        store.clone(),
        Arc::new(config.clone()),
        web,
        wake.clone(),
        clock.clone(),
        token,
    );
    let router = crate::web::router(
        state,
        vec![crate::web::inbox::plugin(), crate::web::alerts::plugin()],
    );
    tracing::info!(address = %addr, "Web UI listening");
    let task = tokio::spawn(crate::web::serve(listener, router, shutdown.clone()));
    Ok((task, addr))
}

/// The next slot for a hand-picked draft on `channel`: the first peak slot from `now` that keeps
/// `min_gap` from the channel's other posts and is not on a blackout date.
pub fn next_free_slot(
    config: &Config,
    store: &Store,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
    let tz = config.herald.timezone;
    let rules = &config.plan;
    let grid = crate::plan::slots::DayGrid::new(rules);
    let taken: Vec<DateTime<Utc>> = store
        .all_posts()?
        .into_iter()
        .filter(|p| {
            p.channel == channel
                && !matches!(p.state, PostState::Failed | PostState::Missed)
                && p.kind != PostKind::Reply
        })
        .map(|p| p.at)
        .collect();
    let mut date = now.with_timezone(&tz).date_naive();
    for _ in 0..366 {
        if !rules.blackout.contains(&date) {
            use chrono::Datelike;
            for slot in grid.day(date.num_days_from_ce().unsigned_abs() as usize) {
                let Some(at) = tz.from_local_datetime(&date.and_time(slot.time)).earliest() else {
                    continue;
                };
                let at = at.with_timezone(&Utc);
                if at >= now && taken.iter().all(|t| (*t - at).abs() >= rules.min_gap) {
                    return Ok(Some((at, rules.peaks[slot.peak].name.clone())));
                }
            }
        }
        date = date.succ_opt().unwrap_or(date);
    }
    Ok(None)
}

/// A post for one draft, by hand: approved (a person chose it), with tracked links.
pub fn manual_post(
    config: &Config,
    draft: &crate::plan::Draft,
    channel: &str,
    at: DateTime<Utc>,
    peak: &str,
) -> StoredPost {
    let mut post = draft_post(
        config,
        draft,
        channel,
        at,
        &draft.category,
        peak,
        PostState::Approved,
    );
    post.kind = PostKind::Manual;
    post
}

/// The stored post of `draft` on `channel` at `at`: its text with links tracked by the post's
/// source code (rendered in the plan's local time).
fn draft_post(
    config: &Config,
    draft: &crate::plan::Draft,
    channel: &str,
    at: DateTime<Utc>,
    category: &str,
    peak: &str,
    state: PostState,
) -> StoredPost {
    let local = at.with_timezone(&config.herald.timezone).naive_local();
    StoredPost {
        channel: channel.to_string(),
        at,
        category: category.to_string(),
        kind: PostKind::Planned,
        draft: draft.id.clone(),
        peak: peak.to_string(),
        text: track::render(channel, draft, local),
        promo: draft.promo,
        series: draft.series.as_ref().map(Into::into),
        source_code: track::source_code(channel, draft, local),
        state,
        title: draft.title.clone(),
        reply: None,
        delivery: Default::default(),
    }
}

/// Why [`pause`] refused.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    /// A category the plan does not have.
    #[error("{0:?} is not a category of the plan")]
    UnknownCategory(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Holds scheduled posts of `categories` (the plan's `crisis.pause_categories` when empty), as
/// `herald pause` and the web UI do; the publisher should be woken afterwards.
pub fn pause(
    config: &Config,
    store: &Store,
    categories: &[String],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<crate::store::Hold, PauseError> {
    let categories = if categories.is_empty() {
        config.plan.pause_categories.clone()
    } else {
        categories.to_vec()
    };
    if let Some(c) = categories
        .iter()
        .find(|c| config.plan.category_index(c).is_none())
    {
        return Err(PauseError::UnknownCategory(c.clone()));
    }
    let hold = crate::store::Hold {
        since: now,
        reason: reason.to_string(),
        categories,
        alerts: Vec::new(),
    };
    store.set_hold(Some(&hold))?;
    Ok(hold)
}

/// Lifts the hold, as `herald resume` and the web UI do.
pub fn resume(store: &Store) -> Result<(), StoreError> {
    store.set_hold(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that panics or returns before shutdown is reported by name; one that ends because
    /// of shutdown is not, and its value comes back.
    #[tokio::test]
    async fn a_task_that_dies_before_shutdown_is_reported() {
        let shutdown = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let panics = supervise(
            "the publisher".into(),
            tokio::spawn(async { panic!("a bug") }),
            &shutdown,
            &tx,
        );
        assert_eq!(rx.recv().await.as_deref(), Some("the publisher panicked"));
        assert!(panics.await.expect("join").is_none());
        let returns = supervise("the planner".into(), tokio::spawn(async {}), &shutdown, &tx);
        assert_eq!(rx.recv().await.as_deref(), Some("the planner stopped"));
        assert_eq!(returns.await.expect("join"), Some(()));

        let stop = shutdown.clone();
        let at_shutdown = supervise(
            "the web UI".into(),
            tokio::spawn(async move {
                stop.cancelled().await;
                7
            }),
            &shutdown,
            &tx,
        );
        shutdown.cancel();
        assert_eq!(at_shutdown.await.expect("join"), Some(7));
        drop(tx);
        assert_eq!(rx.recv().await, None, "nothing reported at shutdown");
    }

    /// The retention task prunes as soon as it starts (then hourly), and stops on shutdown.
    #[tokio::test]
    async fn the_retention_task_prunes_at_start_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let now = DateTime::from_timestamp(1_796_083_200, 0).expect("t");
        let mention = |id: &str, days: i64| {
            let m = crate::listen::Mention {
                id: id.into(),
                platform: "mastodon".into(),
                author: "alice".into(),
                text: format!("text {id}"),
                created_at: now - chrono::TimeDelta::days(days),
                url: None,
                lang: None,
                in_reply_to: None,
                author_followers: None,
                verified: None,
            };
            let c = crate::classify::Classifier::new(&[])
                .expect("classifier")
                .classify(&m.text, None);
            crate::store::StoredMention::new(m, "src", &c)
        };
        for (id, days) in [("old", 120), ("new", 3)] {
            assert!(store.insert_mention(&mention(id, days)).expect("insert"));
        }
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        prune_every(
            store.clone(),
            crate::store::Retention::default(),
            Arc::new(move || now),
            RETENTION_EVERY,
            shutdown,
        )
        .await;
        let left: Vec<String> = store
            .mentions(&Default::default())
            .expect("mentions")
            .into_iter()
            .map(|m| m.mention.id)
            .collect();
        assert_eq!(left, ["new"]);
    }
}
