//! Supervision of `herald run`'s tasks, in process with the outbox channel (no peers): a task
//! killed while herald runs comes back, its restart is recorded where `/api/status` and
//! `herald status` read it, and it does its job again; a task killed over and over stops herald
//! with an error. Every wait is on a condition, never on a fixed time.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{TimeDelta, Utc};
use herald::store::{PostState, Store};
use herald::supervise::{Policy, Supervisor, TaskStatus, Tasks};
use herald::web::{AppState, WebConfig};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::helpers::{stored_post, Workspace};

/// Restarts within milliseconds, so that the test waits on conditions and not on backoff.
fn fast(max_failures: u32) -> Policy {
    Policy {
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_failures,
        window: Duration::from_secs(600),
    }
}

/// A workspace with the default configuration (one outbox channel) and its open store.
fn workspace() -> (Workspace, herald::config::Config, Store) {
    let ws = Workspace::new();
    ws.write("herald.toml", "");
    let config = herald::config::load(&ws.path().join("herald.toml"), true).expect("config");
    let store = crate::helpers::open_store(&config);
    (ws, config, store)
}

/// `run`, saying its error as soon as it ends with one: when herald stops before it is ready,
/// the test's own failure ("herald started") then comes after the reason.
async fn said(run: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let result = run.await;
    if let Err(e) = &result {
        eprintln!("herald stopped: {e:#}");
    }
    result
}

/// Polls `check` until it holds; a guard against a hang (a minute), not a timing goal.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..6000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

fn task(tasks: &Tasks, name: &str) -> TaskStatus {
    tasks
        .snapshot()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name:?} in {:?}", tasks.snapshot()))
}

/// The regression this supervision exists for: a publisher that died stayed dead until
/// Ctrl-C, or (later) stopped all of herald. Killed now, it is restarted, counted, and a post
/// that falls due after the kill is published exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_publisher_comes_back_and_publishes_a_post_due_after_the_kill() {
    let (ws, config, store) = workspace();
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<(Supervisor, Arc<Notify>)>();
    let run = herald::app::run_supervised(
        config.clone(),
        store.clone(),
        shutdown.clone(),
        fast(5),
        move |ready| {
            let _ = ready_tx.send((ready.supervisor, ready.wake));
        },
    );
    let body = async {
        let (supervisor, wake) = ready_rx.await.expect("herald started");
        let tasks = supervisor.tasks();
        let names: Vec<String> = tasks.snapshot().into_iter().map(|t| t.name).collect();
        for expected in [
            "the crisis detector",
            "the alert sender",
            "the publisher",
            "the reply sender",
            "the retention task",
            "the engagement poller",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
        }
        until("the publisher runs", || {
            task(&tasks, "the publisher").running
        })
        .await;
        assert!(tasks.kill("the publisher"), "a run to kill");
        until("the publisher is back", || {
            let t = task(&tasks, "the publisher");
            t.restarts == 1 && t.running
        })
        .await;
        let t = task(&tasks, "the publisher");
        assert_eq!(t.failures, 1);
        assert_eq!(t.last_error.as_deref(), Some("it was aborted"));
        assert!(t.last_failure.is_some());
        let others_untouched = tasks
            .snapshot()
            .iter()
            .filter(|t| t.name != "the publisher")
            .all(|t| t.failures == 0 && t.restarts == 0);
        assert!(others_untouched, "{:?}", tasks.snapshot());

        // A post due now, after the kill: the restarted publisher sends it, once.
        let nonce = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let text = format!("due after the kill {nonce}");
        let post = stored_post("outbox", &text, Utc::now() - TimeDelta::seconds(1));
        assert!(store.posts().insert_new(&post).expect("insert"));
        wake.notify_one();
        until("the post is published", || {
            store
                .posts()
                .all()
                .expect("posts")
                .iter()
                .any(|p| p.id() == post.id() && p.state == PostState::Published)
        })
        .await;
        let outbox = std::fs::read_to_string(ws.path().join("data/outbox.jsonl")).expect("outbox");
        assert_eq!(
            outbox.lines().filter(|l| l.contains(&text)).count(),
            1,
            "{outbox}"
        );

        // `/api/status` shows the record (the router `herald run` serves, on the same tasks).
        let state = AppState::new(
            store.clone(),
            Arc::new(config.clone()),
            WebConfig::default(),
            wake.clone(),
            herald::clock::system_clock(),
            Some("supervise-token".into()),
        )
        .with_tasks(tasks.clone());
        let router = herald::web::router(state, Vec::new());
        let res = router
            .oneshot(
                Request::get("/api/status")
                    .header(header::AUTHORIZATION, "Bearer supervise-token")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let publisher = json["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["name"] == "the publisher")
            .expect("the publisher listed")
            .clone();
        assert_eq!(publisher["restarts"], 1);
        assert_eq!(publisher["failures"], 1);
        assert_eq!(publisher["running"], true);
        assert_eq!(publisher["last_error"], "it was aborted");
        assert!(publisher["last_failure"].is_string(), "{publisher}");
        shutdown.cancel();
    };
    let (result, ()) = tokio::join!(said(run), body);
    result.expect("a graceful stop after a restarted task");
}

/// A task that fails over and over is given up on: herald stops with an error naming it, rather
/// than run on without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_killed_over_and_over_stops_herald_with_an_error() {
    let (_ws, config, store) = workspace();
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Supervisor>();
    let run = herald::app::run_supervised(config, store, shutdown.clone(), fast(3), move |ready| {
        let _ = ready_tx.send(ready.supervisor);
    });
    let body = async {
        let tasks = ready_rx.await.expect("herald started").tasks();
        for restarts in 0..3 {
            until("the reply sender runs", || {
                let t = task(&tasks, "the reply sender");
                t.running && t.restarts == restarts
            })
            .await;
            assert!(tasks.kill("the reply sender"));
        }
    };
    let (result, ()) = tokio::join!(said(run), body);
    let error = result.expect_err("herald stops").to_string();
    assert!(
        error.contains("the reply sender failed 3 times") && error.contains("herald stops"),
        "{error}"
    );
    assert!(shutdown.is_cancelled(), "every other task was told to stop");
}

/// `herald status`, forwarded to a running `herald run`, lists its supervised tasks; the same
/// command without a running herald prints no task section (there are none to show).
#[test]
fn herald_status_lists_the_tasks_of_the_running_herald() {
    use std::process::Command;
    let ws = Workspace::new();
    let alone = ws.herald(&["status"]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    assert!(!alone.stdout.contains("TASKS"), "{}", alone.stdout);

    let mut child = ws.start_run();
    let status = ws.herald(&["status"]);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stopped = child.wait().expect("wait");
    assert_eq!(status.code, 0, "{}", status.stderr);
    let section = status
        .stdout
        .split_once("TASKS OF herald run")
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| panic!("no task section: {}", status.stdout));
    for name in [
        "the publisher",
        "the reply sender",
        "the alert sender",
        "the planner",
        "the control socket",
    ] {
        let row = section
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} not listed: {section}"));
        assert!(row.ends_with("running   no failures"), "{row}");
    }
    assert!(stopped.success(), "a graceful stop: {stopped:?}");
}

/// The crisis detector is rebuilt from the store when its run is killed (its counts die with
/// the run) and keeps taking the listeners' mentions from the same queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_crisis_detector_is_rebuilt_and_runs_again() {
    let (_ws, config, store) = workspace();
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Supervisor>();
    let run = herald::app::run_supervised(config, store, shutdown.clone(), fast(5), move |ready| {
        let _ = ready_tx.send(ready.supervisor);
    });
    let body = async {
        let tasks = ready_rx.await.expect("herald started").tasks();
        for round in 1..=2 {
            until("the detector runs", || {
                task(&tasks, "the crisis detector").running
            })
            .await;
            assert!(tasks.kill("the crisis detector"));
            until("the detector is back", || {
                let t = task(&tasks, "the crisis detector");
                t.restarts == round && t.running
            })
            .await;
        }
        assert_eq!(task(&tasks, "the crisis detector").failures, 2);
        shutdown.cancel();
    };
    let (result, ()) = tokio::join!(said(run), body);
    result.expect("a graceful stop");
}
