//! Wiring of `herald run`: builds each component once (store, channels, classifier, web UI),
//! spawns the long-running tasks, watches them, and shuts them down gracefully.
//!
//! Nothing here decides policy: the schedule operations live in [`crate::schedule`], the rules in
//! the pure cores, the records in the store.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::system_clock;
use crate::config::Config;
use crate::publish::worker::Publisher;
use crate::publish::{Channel, PublishError};
use crate::schedule::{local_midnight, replan_ahead, Schedule};
use crate::store::Store;

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
    // Every task is watched: one that ends before shutdown (a panic) stops herald with an
    // error instead of leaving it running without that part.
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let watch = |name: &str, task| supervise(name.to_string(), task, &shutdown, &ended_tx);
    // Live crisis detection: warmed from the store before the listeners start feeding it.
    let live_task = if config.herald.crisis.enabled {
        let (tx, rx) = crate::crisis::live::channel();
        ingest = ingest.with_live(tx);
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
    let listener = crate::listen::run::Listener::new(store.clone(), Arc::new(ingest));
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

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
