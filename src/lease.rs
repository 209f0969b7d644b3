//! Work one herald process does at a time when several share a database: the planner,
//! listening (every source, with the live crisis detector they feed), each channel's sending,
//! the reply sender, the alert sender, retention, the engagement poller and the weekly digest.
//!
//! Each piece of work runs only while its process holds the piece's lease in the store
//! ([`crate::store::MetaStore::try_lease`]): taken for a time to live (`[storage]
//! lease_seconds`, default [`TTL`]), renewed every third of it. A process that dies stops
//! renewing, so another takes the work over once the lease lapses (within the time to live
//! plus a third: 40 s by default, well within a minute); one that stops cleanly
//! releases its leases at once. A process that cannot renew (the database is unreachable)
//! stops the work before its lease can lapse, so two processes never do it together for long.
//! On sled (one process per store) every lease is always this process's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How long a lease lasts unless renewed, by default.
pub const TTL: Duration = crate::config::DEFAULT_LEASE_TTL;

/// This process's identity as a lease holder: host, process id and a random part (a restarted
/// process with a reused pid is still someone else).
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

/// The lease names herald uses.
pub mod names {
    /// The planner (re-planning after midnight and at start).
    pub const PLANNER: &str = "planner";
    /// Every source and the live crisis detector they feed.
    pub const LISTEN: &str = "listen";
    /// Sending the approved replies to the publisher.
    pub const REPLIES: &str = "replies";
    /// Sending the crisis alerts' messages.
    pub const ALERTS: &str = "alerts";
    /// Deleting old records.
    pub const RETENTION: &str = "retention";
    /// Reading the engagement of published posts.
    pub const ENGAGEMENT: &str = "engagement";
    /// Sending the weekly report's digest.
    pub const REPORT_DIGEST: &str = "report-digest";

    /// Sending on one channel account.
    pub fn channel(name: &str) -> String {
        format!("channel:{name}")
    }
}

/// Takes, renews and releases this process's leases.
#[derive(Clone)]
pub struct Leases {
    store: Store,
    holder: Arc<str>,
    ttl: Duration,
}

impl Leases {
    /// Leases held for `ttl` and renewed every third of it.
    pub fn new(store: Store, holder: impl Into<Arc<str>>, ttl: Duration) -> Self {
        Self {
            store,
            holder: holder.into(),
            ttl: ttl.max(Duration::from_secs(1)),
        }
    }

    /// How often a held lease is renewed (and a free one looked for): a third of its time to
    /// live, so two renewals can fail before it lapses.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// This process's identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes or renews `name`: `true` if this process holds it now. A store error is logged
    /// and counts as not holding it (the safe side).
    pub fn take(&self, name: &str) -> bool {
        match self.store.meta().try_lease(name, &self.holder, self.ttl) {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = %name, error = %e, "Cannot take or renew a lease; the work waits");
                false
            }
        }
    }

    /// Gives `name` up (a clean stop hands the work over at once).
    pub fn release(&self, name: &str) {
        if let Err(e) = self.store.meta().release_lease(name, &self.holder) {
            tracing::warn!(lease = %name, error = %e, "Cannot release a lease; it lapses by itself");
        }
    }

    /// Runs `work` while this process holds the lease `name`, until `stop`: waits for the
    /// lease, runs `work` with a token cancelled when the lease is lost (or on `stop`), renews
    /// it meanwhile, and after a loss waits to take it again. Returns `work`'s output when it
    /// ends by itself (the supervisor decides what that means), `None` when stopped.
    pub async fn hold<F, Fut>(
        &self,
        name: &str,
        stop: CancellationToken,
        mut work: F,
    ) -> Option<Fut::Output>
    where
        F: FnMut(CancellationToken) -> Fut,
        Fut: Future,
    {
        let mut waiting_said = false;
        loop {
            while !self.take(name) {
                if !waiting_said {
                    tracing::info!(lease = %name, "Another herald process does this work; standing by");
                    waiting_said = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep(self.renew_every()) => {}
                }
            }
            if waiting_said {
                tracing::info!(lease = %name, "Took this work over");
                waiting_said = false;
            }
            let lost = stop.child_token();
            let task = work(lost.clone());
            tokio::pin!(task);
            loop {
                tokio::select! {
                    out = &mut task => {
                        self.release(name);
                        return Some(out);
                    }
                    _ = tokio::time::sleep(self.renew_every()) => {
                        if !self.take(name) {
                            tracing::warn!(lease = %name, "Lost the lease; stopping this work");
                            lost.cancel();
                            let out = (&mut task).await;
                            if stop.is_cancelled() {
                                return Some(out);
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The channels whose sending this process holds: its fair share of them, renewed as the
/// publisher's loop goes round.
///
/// Each process announces itself with a `node:<holder>` lease; with `n` live processes and `c`
/// channels, a process takes channels only up to its share, `ceil(c / n)`, and gives up
/// channels beyond it (none with a send in flight), so a process that joins gets a share
/// within a renewal period or two, and the survivors of a dead one take its channels once their
/// leases lapse. Each process tries the channels in its own order (from its identity), so
/// processes starting together do not all race for the same ones.
pub struct ChannelLeases {
    leases: Leases,
    held: std::collections::BTreeSet<String>,
    last_round: Option<tokio::time::Instant>,
}

impl ChannelLeases {
    pub fn new(leases: Leases) -> Self {
        Self {
            leases,
            held: Default::default(),
            last_round: None,
        }
    }

    /// How often the publisher's loop must come round to keep its channels' leases.
    pub fn renew_every(&self) -> Duration {
        self.leases.renew_every()
    }

    /// Whether this process may send on `channel` (as of the last round).
    pub fn holds(&self, channel: &str) -> bool {
        self.held.contains(channel)
    }

    /// Renews the channels held, and takes or gives up channels to keep this process's share,
    /// at most once per renewal period (sooner calls do nothing). `busy` channels (a send in
    /// flight) are never given up.
    pub fn round<'a>(
        &mut self,
        channels: impl IntoIterator<Item = &'a String>,
        busy: &dyn Fn(&str) -> bool,
    ) {
        let now = tokio::time::Instant::now();
        if self
            .last_round
            .is_some_and(|at| now.duration_since(at) < self.leases.renew_every())
        {
            return;
        }
        self.last_round = Some(now);
        self.rebalance(channels, busy);
    }

    /// One round of [`Self::round`], now.
    fn rebalance<'a>(
        &mut self,
        channels: impl IntoIterator<Item = &'a String>,
        busy: &dyn Fn(&str) -> bool,
    ) {
        let node = format!("node:{}", self.leases.holder());
        self.leases.take(&node);
        let live = match self.leases.store.meta().leases() {
            Ok(all) => {
                let at = chrono::Utc::now();
                all.iter()
                    .filter(|l| l.name.starts_with("node:") && l.expires_at > at)
                    .count()
                    .max(1)
            }
            Err(_) => 1,
        };
        let mut channels: Vec<&String> = channels.into_iter().collect();
        let share = channels.len().div_ceil(live);
        // This process's own order: by a hash of (holder, channel).
        let holder = self.leases.holder().to_string();
        channels.sort_by_key(|c| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&holder, c).hash(&mut h);
            h.finish()
        });
        // Renew what is held; a renewal refused means another process has it now.
        let held: Vec<String> = self.held.iter().cloned().collect();
        for c in held {
            if !self.leases.take(&names::channel(&c)) {
                self.held.remove(&c);
            }
        }
        // Give up channels beyond the share (never one with a send in flight).
        let extra: Vec<String> = self
            .held
            .iter()
            .filter(|c| !busy(c))
            .take(self.held.len().saturating_sub(share))
            .cloned()
            .collect();
        for c in extra {
            self.leases.release(&names::channel(&c));
            self.held.remove(&c);
        }
        // Take free ones up to the share.
        for c in channels {
            if self.held.len() >= share {
                break;
            }
            if !self.held.contains(c.as_str()) && self.leases.take(&names::channel(c)) {
                self.held.insert(c.clone());
            }
        }
    }

    /// Releases every channel held and this process's node lease (on shutdown, once the sends
    /// in flight are recorded).
    pub fn release_all(&mut self) {
        for channel in std::mem::take(&mut self.held) {
            self.leases.release(&names::channel(&channel));
        }
        self.leases
            .release(&format!("node:{}", self.leases.holder()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(l: &ChannelLeases) -> Vec<String> {
        l.held.iter().cloned().collect()
    }

    /// Two processes share four channels two and two, a channel with a send in flight is never
    /// given up, and the survivor takes every channel once the other lets go.
    #[test]
    fn processes_share_the_channels_fairly_and_take_over_what_is_let_go() {
        for t in crate::store::testing::each() {
            let other = t.second().unwrap_or_else(|| t.store.clone());
            let ttl = Duration::from_secs(60);
            let mut a = ChannelLeases::new(Leases::new(t.store.clone(), "a", ttl));
            let mut b = ChannelLeases::new(Leases::new(other, "b", ttl));
            let channels: Vec<String> = (0..4).map(|i| format!("c{i}")).collect();
            let idle = |_: &str| false;
            a.rebalance(&channels, &idle);
            assert_eq!(held(&a).len(), 4, "{}: alone, a takes all", t.backend);
            b.rebalance(&channels, &idle);
            assert!(held(&b).is_empty(), "{}: nothing free yet", t.backend);
            // a sees two processes: keeps its share, and never the busy channel's lease.
            let busy_one = held(&a)[3].clone();
            a.rebalance(&channels, &|c: &str| c == busy_one);
            assert_eq!(held(&a).len(), 2, "{}", t.backend);
            assert!(
                a.holds(&busy_one),
                "{}: a busy channel was given up",
                t.backend
            );
            b.rebalance(&channels, &idle);
            assert_eq!(held(&b).len(), 2, "{}", t.backend);
            let mut all: Vec<String> = held(&a).into_iter().chain(held(&b)).collect();
            all.sort();
            assert_eq!(all, channels, "{}: every channel held once", t.backend);
            // a stops cleanly: b takes everything at its next round.
            a.release_all();
            b.rebalance(&channels, &idle);
            assert_eq!(held(&b), channels, "{}", t.backend);
        }
    }

    /// Work waits while another process holds its lease, starts once that lease lapses, and
    /// ends (releasing the lease) on stop; stopped while waiting, it never ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_waits_for_a_lapsed_lease_and_releases_it_on_stop() {
        let t = crate::store::testing::sled();
        let short = Duration::from_secs(1);
        // Another process took the work and died: it never renews.
        assert!(t
            .store
            .meta()
            .try_lease("planner", "dead", short)
            .expect("lease"));
        let mine = Leases::new(t.store.clone(), "me", short);
        let stop = CancellationToken::new();
        let started = Arc::new(tokio::sync::Notify::new());
        let run = {
            let (mine, stop, started) = (mine.clone(), stop.clone(), started.clone());
            tokio::spawn(async move {
                mine.hold("planner", stop, |lost| {
                    let started = started.clone();
                    async move {
                        started.notify_one();
                        lost.cancelled().await;
                        "ended"
                    }
                })
                .await
            })
        };
        tokio::time::timeout(Duration::from_secs(30), started.notified())
            .await
            .expect("the work started once the dead holder's lease lapsed");
        let holder = |s: &Store| {
            s.meta()
                .leases()
                .expect("leases")
                .into_iter()
                .find(|l| l.name == "planner")
                .map(|l| l.holder)
        };
        assert_eq!(holder(&t.store).as_deref(), Some("me"));
        stop.cancel();
        assert_eq!(run.await.expect("joined"), Some("ended"));
        assert_eq!(holder(&t.store), None, "released on stop");
        // Stopped while another holds the lease: the work never runs.
        assert!(t
            .store
            .meta()
            .try_lease("planner", "other", TTL)
            .expect("lease"));
        let stop = CancellationToken::new();
        stop.cancel();
        let out = mine
            .hold("planner", stop, |_| async {
                panic!("ran without the lease")
            })
            .await;
        assert_eq!(out, None::<()>);
    }
}
