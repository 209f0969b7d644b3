//! Supervision of the long-running tasks of `herald run`: each task is restarted with backoff
//! when it returns an error, returns early or panics; every failure is logged and counted, and
//! the counts are kept where `herald status` and `/api/status` read them ([`Tasks`]).
//!
//! A task that keeps failing is not restarted for ever: after [`Policy::max_failures`] failures
//! within [`Policy::window`] the supervisor gives up and reports it ([`GaveUp`]), and `herald
//! run` stops with an error (exit 1) so that the service manager restarts the whole process or a
//! person looks. herald never keeps running without a part it needs.
//!
//! This module owns only the restart loop and its record; it knows nothing of what the tasks
//! do (the wiring in `app` names and builds them). It is a bottom-layer module: it imports only
//! the clock, the backoff and the escaping of untrusted text.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

/// The longest last error kept per task, in characters (the log has the whole of it).
pub const ERROR_CHARS: usize = 200;

/// When to restart and when to give up.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The pause before the first restart; doubled per failure within the window.
    pub first_backoff: Duration,
    /// The longest pause before a restart.
    pub max_backoff: Duration,
    /// Failures within `window` after which the task is not restarted and herald stops.
    pub max_failures: u32,
    /// How far back failures count towards `max_failures` and the backoff.
    pub window: Duration,
}

impl Default for Policy {
    /// Restarts after about 1, 2, 4 and 8 seconds; the fifth failure within ten minutes stops
    /// herald (a task that fails that often is broken, not unlucky).
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_failures: 5,
            window: Duration::from_secs(600),
        }
    }
}

/// What supervision has seen of one task, as `herald status` and `/api/status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    /// The task's name ("the publisher", "the listener of source x").
    pub name: String,
    /// Whether a run of it is in progress now (false while it waits to restart, after giving up
    /// and after shutdown).
    pub running: bool,
    /// How often it was restarted after a failure.
    pub restarts: u32,
    /// How often it failed (a failure that made the supervisor give up is counted but not
    /// followed by a restart).
    pub failures: u32,
    /// When it last failed.
    pub last_failure: Option<DateTime<Utc>>,
    /// Why it last failed: on one line, control characters escaped, cut to [`ERROR_CHARS`].
    pub last_error: Option<String>,
}

/// One task's record and the handle of its current run.
struct Slot {
    status: TaskStatus,
    abort: Option<AbortHandle>,
    /// A kill asked for while the run was being (re)started: done as soon as it has a handle.
    kill_pending: bool,
}

/// The record of every supervised task: cheap to clone, shared by the supervisor and the
/// readers (the control socket's `herald status`, the web API).
#[derive(Clone, Default)]
pub struct Tasks {
    slots: Arc<Mutex<Vec<Slot>>>,
}

impl Tasks {
    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        // A panic while holding this lock cannot leave a half-written record worth refusing.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every task's record, in the order they were started.
    pub fn snapshot(&self) -> Vec<TaskStatus> {
        self.lock().iter().map(|s| s.status.clone()).collect()
    }

    /// Aborts the current run of the task `name`, as a crash would: the supervisor counts it as
    /// a failure and restarts it (a crash on demand, for tests). A run that is being started is
    /// aborted as soon as it exists; false if no run of that name is in progress or starting.
    pub fn kill(&self, name: &str) -> bool {
        let mut slots = self.lock();
        let Some(slot) = slots
            .iter_mut()
            .find(|s| s.status.name == name && s.status.running)
        else {
            return false;
        };
        match &slot.abort {
            Some(abort) => abort.abort(),
            None => slot.kill_pending = true,
        }
        true
    }

    fn add(&self, name: &str) -> usize {
        let mut slots = self.lock();
        slots.push(Slot {
            status: TaskStatus {
                name: name.to_string(),
                // Its first run is being started.
                running: true,
                restarts: 0,
                failures: 0,
                last_failure: None,
                last_error: None,
            },
            abort: None,
            kill_pending: false,
        });
        slots.len() - 1
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut Slot)) {
        if let Some(slot) = self.lock().get_mut(index) {
            f(slot);
        }
    }
}

/// Why the supervisor stopped restarting a task (and so why `herald run` stops).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{task} failed {failures} times within {window_secs} s (last: {last_error}); herald stops so that it can be restarted")]
pub struct GaveUp {
    /// The task's name.
    pub task: String,
    /// Its failures within the window.
    pub failures: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// Its last error (escaped and cut).
    pub last_error: String,
}

/// What a task's run ended with: `()` (a loop that returned) or a `Result` whose error says why.
pub trait Ending: Send + 'static {
    /// The error, if the run ended with one.
    fn error(self) -> Option<String>;
}

impl Ending for () {
    fn error(self) -> Option<String> {
        None
    }
}

/// A run that may not have started (a task stopped before it had anything to do, such as one
/// waiting for work another process holds): `None` ended cleanly.
impl<T: Ending> Ending for Option<T> {
    fn error(self) -> Option<String> {
        self.and_then(Ending::error)
    }
}

impl<E: std::fmt::Display + Send + 'static> Ending for Result<(), E> {
    fn error(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

/// Starts tasks, restarts them when they fail, and reports when one fails too often.
#[derive(Clone)]
pub struct Supervisor {
    tasks: Tasks,
    policy: Policy,
    clock: Clock,
    shutdown: CancellationToken,
    gave_up: tokio::sync::mpsc::UnboundedSender<GaveUp>,
    loops: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Where the supervisor reports a task it gave up on.
pub struct GiveUps(tokio::sync::mpsc::UnboundedReceiver<GaveUp>);

impl GiveUps {
    /// The next task given up on (never returns while none is: the supervisor keeps the sender).
    pub async fn next(&mut self) -> GaveUp {
        match self.0.recv().await {
            Some(g) => g,
            None => std::future::pending().await,
        }
    }
}

impl Supervisor {
    /// A supervisor whose tasks stop at `shutdown`; failure times are read from `clock`.
    pub fn new(policy: Policy, clock: Clock, shutdown: CancellationToken) -> (Self, GiveUps) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let supervisor = Self {
            tasks: Tasks::default(),
            policy,
            clock,
            shutdown,
            gave_up: tx,
            loops: Arc::default(),
        };
        (supervisor, GiveUps(rx))
    }

    /// The record of the tasks, for readers.
    pub fn tasks(&self) -> Tasks {
        self.tasks.clone()
    }

    /// Runs `start()` as the task `name` and runs it again, after a pause, each time it ends
    /// before shutdown. `start` is called once per run: it should hand out clones of components
    /// built once, not build them again. Each run must return when `shutdown` is cancelled.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, start: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Ending,
    {
        let name = name.into();
        let index = self.tasks.add(&name);
        let run = supervise(self.clone(), name, index, start);
        let handle = tokio::spawn(run);
        self.lock_loops().push(handle);
    }

    fn lock_loops(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.loops.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every supervised task has ended (call after cancelling `shutdown`; each run
    /// finishes what it has in flight, as its own loop decides).
    pub async fn join(&self) {
        loop {
            let loops: Vec<JoinHandle<()>> = std::mem::take(&mut *self.lock_loops());
            if loops.is_empty() {
                return;
            }
            for handle in loops {
                let _ = handle.await;
            }
        }
    }
}

/// The restart loop of one task.
async fn supervise<F, Fut>(sup: Supervisor, name: String, index: usize, mut start: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Ending,
{
    let mut recent: VecDeque<Instant> = VecDeque::new();
    loop {
        let run = tokio::spawn(start());
        let abort = run.abort_handle();
        sup.tasks.update(index, |s| {
            s.status.running = true;
            if std::mem::take(&mut s.kill_pending) {
                abort.abort();
            }
            s.abort = Some(abort);
        });
        let ended = run.await;
        sup.tasks.update(index, |s| {
            s.status.running = false;
            s.abort = None;
        });
        if sup.shutdown.is_cancelled() {
            return;
        }
        let why = match ended {
            Ok(ending) => ending
                .error()
                .unwrap_or_else(|| "it stopped without an error".to_string()),
            Err(e) if e.is_panic() => format!("it panicked: {}", panic_text(e.into_panic())),
            Err(_) => "it was aborted".to_string(),
        };
        let why =
            crate::untrusted::escape(&crate::untrusted::one_line(&why, ERROR_CHARS)).into_owned();
        let now = Instant::now();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > sup.policy.window)
        {
            recent.pop_front();
        }
        let failures = u32::try_from(recent.len()).unwrap_or(u32::MAX);
        let at = (sup.clock)();
        sup.tasks.update(index, |s| {
            s.status.failures += 1;
            s.status.last_failure = Some(at);
            s.status.last_error = Some(why.clone());
        });
        if failures >= sup.policy.max_failures {
            tracing::error!(task = %name, error = %why, failures, "A task of herald keeps failing; giving up on it and stopping herald");
            let _ = sup.gave_up.send(GaveUp {
                task: name,
                failures,
                window_secs: sup.policy.window.as_secs(),
                last_error: why,
            });
            return;
        }
        let wait =
            crate::retry::backoff(sup.policy.first_backoff, sup.policy.max_backoff, failures);
        tracing::error!(task = %name, error = %why, failures, restart_in = ?wait, "A task of herald failed; restarting it");
        tokio::select! {
            _ = sup.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        sup.tasks.update(index, |s| s.status.restarts += 1);
        tracing::info!(task = %name, "Task restarted");
    }
}

/// The message of a panic, when it is text.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Aborts a task when dropped: for a task spawned inside a supervised run, so that killing the
/// run (or the run's end) does not leave it behind.
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fixed_clock() -> Clock {
        let t = DateTime::from_timestamp(1_796_083_200, 0).expect("t");
        Arc::new(move || t)
    }

    /// The default limits with millisecond pauses, so that tests wait on conditions, not time.
    fn fast() -> Policy {
        Policy {
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..Policy::default()
        }
    }

    async fn until(what: &str, tasks: &Tasks, done: impl Fn(&[TaskStatus]) -> bool) {
        for _ in 0..10_000 {
            if done(&tasks.snapshot()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}: {:?}", tasks.snapshot());
    }

    /// A task that panics, returns an error, returns early or is killed is restarted each time,
    /// and its record says how often and why (escaped, on one line).
    #[tokio::test]
    async fn failures_are_restarted_counted_and_recorded() {
        let shutdown = CancellationToken::new();
        let (sup, _give_ups) = Supervisor::new(fast(), fixed_clock(), shutdown.clone());
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let stop = shutdown.clone();
        sup.spawn("the worker", move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            let stop = stop.clone();
            async move {
                match n {
                    0 => panic!("a bug"),
                    1 => Err::<(), String>("remote said no".into()),
                    2 => Ok(()),
                    _ => {
                        stop.cancelled().await;
                        Ok(())
                    }
                }
            }
        });
        let tasks = sup.tasks();
        until("three restarts", &tasks, |t| {
            t[0].restarts == 3 && t[0].running
        })
        .await;
        let t = &tasks.snapshot()[0];
        assert_eq!((t.failures, t.name.as_str()), (3, "the worker"));
        assert_eq!(t.last_error.as_deref(), Some("it stopped without an error"));
        assert!(tasks.kill("the worker"));
        until("restarted after the kill", &tasks, |t| {
            t[0].restarts == 4 && t[0].running
        })
        .await;
        assert_eq!(
            tasks.snapshot()[0].last_error.as_deref(),
            Some("it was aborted")
        );
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        shutdown.cancel();
        sup.join().await;
        assert!(!tasks.snapshot()[0].running);
        assert!(!tasks.kill("the worker"), "nothing runs after shutdown");
    }

    /// The text of a panic is kept on one line with control characters escaped.
    #[tokio::test]
    async fn a_panic_message_is_recorded_escaped() {
        let shutdown = CancellationToken::new();
        let (sup, _give_ups) = Supervisor::new(fast(), fixed_clock(), shutdown.clone());
        let mut first = true;
        let stop = shutdown.clone();
        sup.spawn("the worker", move || {
            let panics = std::mem::replace(&mut first, false);
            let stop = stop.clone();
            async move {
                if panics {
                    panic!("bad\nline \u{1b}[2J");
                }
                stop.cancelled().await;
            }
        });
        let tasks = sup.tasks();
        until("restarted", &tasks, |t| t[0].restarts == 1).await;
        let t = &tasks.snapshot()[0];
        assert_eq!(
            t.last_error.as_deref(),
            Some("it panicked: bad line \\u{1b}[2J")
        );
        assert_eq!(t.last_failure, Some(fixed_clock()()));
        shutdown.cancel();
        sup.join().await;
    }

    /// A task that keeps failing is given up on after `max_failures` within the window: it is
    /// not started again and the give-up is reported.
    #[tokio::test]
    async fn a_task_failing_over_and_over_is_given_up() {
        let shutdown = CancellationToken::new();
        let (sup, mut give_ups) = Supervisor::new(fast(), fixed_clock(), shutdown.clone());
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        sup.spawn("the flaky one", move || {
            r.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), &str>("broken") }
        });
        let gave_up = give_ups.next().await;
        assert_eq!(gave_up.task, "the flaky one");
        assert_eq!(gave_up.failures, 5);
        assert_eq!(gave_up.last_error, "broken");
        assert!(gave_up.to_string().contains("herald stops"));
        sup.join().await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            5,
            "not started after giving up"
        );
        let t = &sup.tasks().snapshot()[0];
        assert_eq!((t.failures, t.restarts, t.running), (5, 4, false));
    }

    /// Failures spread wider than the window never add up to giving up.
    #[tokio::test]
    async fn failures_further_apart_than_the_window_do_not_add_up() {
        let shutdown = CancellationToken::new();
        let policy = Policy {
            max_failures: 2,
            window: Duration::from_millis(50),
            ..fast()
        };
        let (sup, mut give_ups) = Supervisor::new(policy, fixed_clock(), shutdown.clone());
        sup.spawn("the slow failer", || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err::<(), &str>("tired")
        });
        let tasks = sup.tasks();
        until("three restarts", &tasks, |t| t[0].restarts >= 3).await;
        shutdown.cancel();
        sup.join().await;
        assert!(give_ups.0.try_recv().is_err(), "never given up");
    }

    /// A task that ends because of shutdown is neither counted nor restarted.
    #[tokio::test]
    async fn ending_at_shutdown_is_not_a_failure() {
        let shutdown = CancellationToken::new();
        let (sup, _give_ups) = Supervisor::new(fast(), fixed_clock(), shutdown.clone());
        let stop = shutdown.clone();
        sup.spawn("the loop", move || {
            let stop = stop.clone();
            async move { stop.cancelled().await }
        });
        let tasks = sup.tasks();
        until("running", &tasks, |t| t[0].running).await;
        shutdown.cancel();
        sup.join().await;
        let t = &tasks.snapshot()[0];
        assert_eq!((t.failures, t.restarts, t.running), (0, 0, false));
    }
}
