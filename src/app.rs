//! Wiring of `herald run`: builds each component once (store, channels, classifier, web UI)
//! and runs every long-running task under one [`Supervisor`] (restarted with backoff when it
//! fails; herald stops when one keeps failing or the store cannot be written).
//!
//! Nothing here decides policy: the schedule operations live in [`crate::schedule`], the rules in
//! the pure cores, the records in the store.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::system_clock;
use crate::config::Config;
use crate::lease::{names, Leases};
use crate::publish::worker::Publisher;
use crate::publish::{Channel, PublishError};
use crate::schedule::{local_midnight, replan_ahead, Schedule};
use crate::store::{Store, StoreError};
use crate::supervise::{AbortOnDrop, Policy, Supervisor, Tasks};

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

/// The folder of a post's pictures: `<content_plan>/media`.
pub fn media_dir(config: &Config) -> std::path::PathBuf {
    config.herald.media_dir()
}

/// The folder of re-encoded copies of pictures: `<data_dir>/media-cache` (never under the
/// content plan).
pub fn media_cache_dir(config: &Config) -> std::path::PathBuf {
    config.herald.media_cache_dir()
}

/// The folder of the store, where the outbox file lives too.
pub fn data_dir(config: &Config) -> std::path::PathBuf {
    config.herald.data_dir()
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
    /// The supervisor of herald's tasks: the CLI starts the control socket under it, and its
    /// record ([`Supervisor::tasks`]) is what `herald status` shows of the tasks.
    pub supervisor: Supervisor,
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
    run_supervised(config, store, shutdown, Policy::default(), on_ready).await
}

/// [`run_with`] with the restart `policy` of its tasks (tests restart faster than the default).
///
/// Every long-running task runs under one [`Supervisor`]: one that fails (returns an error,
/// returns before shutdown, panics or is killed) is logged, counted and restarted with backoff;
/// one that fails [`Policy::max_failures`] times within [`Policy::window`] stops herald with an
/// error (exit 1), as does a store that can no longer be written. Components (channels, the
/// publisher, the reply sender, the alert deliverer, the web router) are built once; a restart
/// runs the same one again.
pub async fn run_supervised(
    config: Config,
    store: Store,
    shutdown: CancellationToken,
    policy: Policy,
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
        .collect::<Result<_, _>>()?;
    let classifier =
        Arc::new(crate::classify::Classifier::new(&config.keywords).map_err(anyhow::Error::msg)?);
    let drafter = crate::inbox::Drafter::from_config(&config).map(Arc::new);
    let clock = system_clock();
    // The one ingest stage every listener hands its mentions to.
    let mut ingest = crate::ingest::Ingest::new(store.clone(), classifier)
        .with_drafter(drafter.clone())
        .with_clock(clock.clone());
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
    // Several processes may share a PostgreSQL store: work one process does at a time runs
    // under a lease (see `crate::lease`), and changes another process makes to the schedule
    // wake this one's publisher.
    let leases = Leases::new(
        store.clone(),
        crate::lease::holder_id(),
        config.herald.storage.lease_ttl,
    );
    store.watch_posts(wake.clone());
    let (supervisor, mut give_ups) = Supervisor::new(policy, clock.clone(), shutdown.clone());
    // Live crisis detection: warmed from the store before the listeners start feeding it.
    if config.herald.crisis.enabled {
        let (tx, rx) = crate::crisis::live::channel();
        ingest = ingest.with_live(tx);
        let detector = LiveDetector {
            store: store.clone(),
            config: Arc::new(config.clone()),
            clock: clock.clone(),
            alert_wake: alert_wake.clone(),
            wake: wake.clone(),
        };
        let mut live = detector.build();
        let fed = live.warm_up()?;
        tracing::info!(mentions = fed, "Crisis detector warmed up from the store");
        let first = std::sync::Mutex::new(Some(live));
        let input = Arc::new(tokio::sync::Mutex::new(rx));
        let (stop, leases) = (shutdown.clone(), leases.clone());
        supervisor.spawn("the crisis detector", move || {
            let built = std::sync::Mutex::new(first.lock().ok().and_then(|mut f| f.take()));
            let (detector, input, stop, leases) = (
                detector.clone(),
                input.clone(),
                stop.clone(),
                leases.clone(),
            );
            async move {
                // It reads what this process's listeners read: it runs where they run.
                leases
                    .hold(names::LISTEN, stop, |stop| {
                        let built = built.lock().ok().and_then(|mut b| b.take());
                        let (detector, input) = (detector.clone(), input.clone());
                        async move {
                            let live = match built {
                                Some(live) => live,
                                // A failed run's counts are gone with it: rebuilt from the store.
                                None => {
                                    let mut live = detector.build();
                                    live.warm_up()?;
                                    live
                                }
                            };
                            feed_live(live, input, stop).await
                        }
                    })
                    .await
            }
        });
    }
    {
        let (deliverer, problems) = crate::crisis::notify::Deliverer::from_config(
            store.clone(),
            &config.herald.alerts,
            clock.clone(),
        );
        for (name, e) in problems {
            tracing::error!(sink = %name, error = %e, "Alert sink cannot be used");
        }
        let deliverer = Arc::new(deliverer);
        let (wake, stop, leases) = (alert_wake.clone(), shutdown.clone(), leases.clone());
        supervisor.spawn("the alert sender", move || {
            let (deliverer, wake, stop, leases) = (
                deliverer.clone(),
                wake.clone(),
                stop.clone(),
                leases.clone(),
            );
            async move {
                leases
                    .hold(names::ALERTS, stop, |stop| {
                        let (deliverer, wake) = (deliverer.clone(), wake.clone());
                        async move { deliverer.run(wake, stop).await }
                    })
                    .await
            }
        });
    }
    let listener = crate::listen::run::Listener::new(store.clone(), Arc::new(ingest));
    for (name, source, interval) in sources {
        let (listener, stop, leases) = (listener.clone(), shutdown.clone(), leases.clone());
        supervisor.spawn(format!("the listener of source {name}"), move || {
            let (listener, name, source, stop, leases) = (
                listener.clone(),
                name.clone(),
                source.clone(),
                stop.clone(),
                leases.clone(),
            );
            async move {
                leases
                    .hold(names::LISTEN, stop, |stop| {
                        listener
                            .clone()
                            .run_source(name.clone(), source.clone(), interval, stop)
                    })
                    .await
            }
        });
    }
    // The process holding the planner's lease plans; another only reads the schedule.
    let planner = leases.take(names::PLANNER);
    let schedule = if planner {
        replan_ahead(&config, &store, clock())?
    } else {
        let now = clock();
        let end = now.with_timezone(&config.herald.timezone).date_naive()
            + chrono::Days::new(crate::schedule::PLAN_AHEAD_DAYS);
        crate::schedule::replan(&config, Some(&store), now, end, &[], false)?
    };
    let publisher = Arc::new(
        Publisher::new(
            store.clone(),
            channels.clone(),
            config.herald.publish.clone(),
            clock.clone(),
        )
        .with_media(media_dir(&config), media_cache_dir(&config))
        .with_leases(leases.clone()),
    );
    let web_addr = match config.herald.web.clone().filter(|w| w.enabled) {
        Some(web) => {
            let state = (&store, &wake, &clock, &supervisor.tasks());
            let (listener, router, addr) = start_web(&config, web, state).await?;
            // The first run serves the socket bound at the start; a restart binds the same
            // address again.
            let bound = std::sync::Mutex::new(Some(listener));
            let stop = shutdown.clone();
            supervisor.spawn("the web UI", move || {
                let listener = bound.lock().ok().and_then(|mut b| b.take());
                let (router, stop) = (router.clone(), stop.clone());
                async move {
                    let listener = match listener {
                        Some(l) => l,
                        None => tokio::net::TcpListener::bind(addr).await?,
                    };
                    crate::web::serve(listener, router, stop).await
                }
            });
            Some(addr)
        }
        None => None,
    };
    tracing::info!(channels = config.herald.channels.len(), sources = config.herald.sources.len(), store = %config.herald.storage.shown(), "herald is running");

    {
        let (stop, wake) = (shutdown.clone(), wake.clone());
        supervisor.spawn("the publisher", move || {
            publisher.clone().run(stop.clone(), wake.clone())
        });
    }
    // Replies approved in the inbox go to the publisher (started first: it has posts due).
    {
        let sender = Arc::new(crate::inbox::send::ReplySender::new(
            store.clone(),
            channels.clone(),
            clock.clone(),
            wake.clone(),
            config.replies.as_ref().map(|r| r.expire_after),
        ));
        let (stop, leases) = (shutdown.clone(), leases.clone());
        supervisor.spawn("the reply sender", move || {
            let (sender, stop, leases) = (sender.clone(), stop.clone(), leases.clone());
            async move {
                leases
                    .hold(names::REPLIES, stop, |stop| {
                        let sender = sender.clone();
                        async move { sender.run(REPLY_ROUND_EVERY, stop).await }
                    })
                    .await
            }
        });
    }
    // Old mentions and closed queue items are deleted every hour (`[storage]` retention).
    {
        let (store, retention, clock, stop, leases) = (
            store.clone(),
            config.herald.storage.retention,
            clock.clone(),
            shutdown.clone(),
            leases.clone(),
        );
        supervisor.spawn("the retention task", move || {
            let (store, clock, stop, leases) =
                (store.clone(), clock.clone(), stop.clone(), leases.clone());
            async move {
                leases
                    .hold(names::RETENTION, stop, |stop| {
                        prune_every(
                            store.clone(),
                            retention,
                            clock.clone(),
                            RETENTION_EVERY,
                            stop,
                        )
                    })
                    .await
            }
        });
    }
    // The engagement of published posts is read from their platforms by the posts' age.
    {
        let poller = Arc::new(crate::engage::Poller::new(
            store.clone(),
            channels.clone(),
            clock.clone(),
        ));
        let (stop, leases) = (shutdown.clone(), leases.clone());
        supervisor.spawn("the engagement poller", move || {
            let (poller, stop, leases) = (poller.clone(), stop.clone(), leases.clone());
            async move {
                leases
                    .hold(names::ENGAGEMENT, stop, |stop| poller.clone().run(stop))
                    .await
            }
        });
    }
    // The weekly digest of the report, when `[report] digest` is on.
    if config.herald.report.digest {
        let (digester, problems) = crate::report::digest::Digester::from_config(
            store.clone(),
            Arc::new(config.clone()),
            clock.clone(),
        );
        for (name, e) in problems {
            tracing::error!(sink = %name, error = %e, "Digest sink cannot be used");
        }
        let digester = Arc::new(digester);
        let (stop, leases) = (shutdown.clone(), leases.clone());
        supervisor.spawn("the weekly digest", move || {
            let (digester, stop, leases) = (digester.clone(), stop.clone(), leases.clone());
            async move {
                leases
                    .hold(crate::report::digest::LEASE, stop, |stop| {
                        digester.clone().run(stop)
                    })
                    .await
            }
        });
    }
    // Re-plan shortly after each local midnight, so the schedule always reaches a week ahead.
    {
        let config = Arc::new(config.clone());
        let (stop, wake, store, clock, leases) = (
            shutdown.clone(),
            wake.clone(),
            store.clone(),
            clock.clone(),
            leases.clone(),
        );
        // Planned at the start when this process held the lease then; a process that takes
        // the planner over later plans at once.
        let planned = std::sync::atomic::AtomicBool::new(planner);
        supervisor.spawn("the planner", move || {
            let (config, store, clock, wake, stop, leases) = (
                config.clone(),
                store.clone(),
                clock.clone(),
                wake.clone(),
                stop.clone(),
                leases.clone(),
            );
            let planned = planned.swap(false, std::sync::atomic::Ordering::SeqCst);
            async move {
                let mut planned = planned;
                leases
                    .hold(names::PLANNER, stop, |stop| {
                        let now_too = !std::mem::replace(&mut planned, false);
                        replan_at_midnights(
                            config.clone(),
                            store.clone(),
                            clock.clone(),
                            wake.clone(),
                            stop,
                            now_too,
                        )
                    })
                    .await
            }
        });
    }
    on_ready(Ready {
        schedule,
        web: web_addr,
        wake: wake.clone(),
        supervisor: supervisor.clone(),
    });
    // A store that can no longer be written (a full disk: sled does not recover by itself)
    // stops herald with an error, so that a supervisor restarts it. The probe is not restarted
    // here: its ending is the verdict.
    let failure: Option<anyhow::Error> = tokio::select! {
        _ = shutdown.cancelled() => None,
        e = crate::store::health::watch_writes(&store, WRITE_PROBE_EVERY, WRITE_PROBE_FAILURES) => {
            tracing::error!(error = %e, "Store cannot be written; stopping");
            Some(e.into())
        }
        gave_up = give_ups.next() => {
            tracing::error!(task = %gave_up.task, failures = gave_up.failures, "A part of herald keeps failing; stopping so that it can be restarted");
            Some(gave_up.into())
        }
    };
    if failure.is_some() {
        shutdown.cancel();
    }
    tracing::info!("Shutting down: finishing the send in flight");
    supervisor.join().await;
    tracing::info!("Stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How often the reply sender looks for approved replies.
const REPLY_ROUND_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Re-plans shortly after each local midnight until `shutdown` (and at once when `now_too`),
/// waking the publisher after.
async fn replan_at_midnights(
    config: Arc<Config>,
    store: Store,
    clock: crate::clock::Clock,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    now_too: bool,
) {
    let tz = config.herald.timezone;
    if now_too {
        match replan_ahead(&config, &store, clock()) {
            Ok(_) => wake.notify_one(),
            Err(e) => tracing::error!(error = %e, "Re-planning failed"),
        }
    }
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
}

/// What the live crisis detector is built from: built once at the start, and again only after
/// a failed run (whose counts died with it), warmed from the store each time.
#[derive(Clone)]
struct LiveDetector {
    store: Store,
    config: Arc<Config>,
    clock: crate::clock::Clock,
    alert_wake: Arc<Notify>,
    wake: Arc<Notify>,
}

impl LiveDetector {
    fn build(&self) -> crate::crisis::live::Live {
        crate::crisis::live::Live::new(
            self.store.clone(),
            self.config.herald.crisis.params.clone(),
            self.config.herald.alerts.clone(),
            self.config.plan.pause_categories.clone(),
            self.clock.clone(),
            self.alert_wake.clone(),
            self.wake.clone(),
        )
    }
}

/// Why a run of the live crisis detector ended early.
#[derive(Debug, thiserror::Error)]
enum DetectorError {
    /// Warming a rebuilt detector from the store failed.
    #[error("warming up from the store: {0}")]
    WarmUp(#[from] StoreError),
    /// The detector panicked (or was aborted).
    #[error("the detector {0}")]
    Ended(#[from] tokio::task::JoinError),
}

/// One run of the live detector: the listeners' mentions (from `input`, which outlives the run)
/// are handed to `live` until it ends; a panic of the detector ends the run with an error.
async fn feed_live(
    live: crate::crisis::live::Live,
    input: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<crate::crisis::live::LiveMention>>>,
    shutdown: CancellationToken,
) -> Result<(), DetectorError> {
    let (tx, rx) = crate::crisis::live::channel();
    // Aborted with this run, so that a killed run leaves no detector behind.
    let mut detector = AbortOnDrop(tokio::spawn(live.run(rx, shutdown)));
    let mut input = input.lock().await;
    loop {
        tokio::select! {
            ended = &mut detector.0 => return Ok(ended?),
            m = input.recv() => match m {
                // An error means the detector ended; the next turn sees how.
                Some(m) => { let _ = tx.send(m).await; }
                None => break,
            },
        }
    }
    // Every listener is gone: the detector ends once it has what was sent.
    drop(tx);
    Ok((&mut detector.0).await?)
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

/// Binds the web UI's address and builds its router (see [`crate::web`]); the caller serves it.
async fn start_web(
    config: &Config,
    web: crate::web::WebConfig,
    (store, wake, clock, tasks): (&Store, &Arc<Notify>, &crate::clock::Clock, &Tasks),
) -> anyhow::Result<(tokio::net::TcpListener, axum::Router, std::net::SocketAddr)> {
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
    )
    .with_tasks(tasks.clone());
    let router = crate::web::router(
        state,
        vec![crate::web::inbox::plugin(), crate::web::alerts::plugin()],
    );
    tracing::info!(address = %addr, "Web UI listening");
    Ok((listener, router, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

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
            assert!(store.mentions().insert(&mention(id, days)).expect("insert"));
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
            .mentions()
            .list(&Default::default())
            .expect("mentions")
            .into_iter()
            .map(|m| m.mention.id)
            .collect();
        assert_eq!(left, ["new"]);
    }
}
