//! Work one herald process does at a time when several share a database: the planner,
//! listening (every source, with the live crisis detector they feed), each channel's sending,
//! the reply sender, the alert sender and retention.
//!
//! Each piece of work runs only while its process holds the piece's lease in the store
//! ([`crate::store::MetaStore::try_lease`]): taken for [`TTL`], renewed every [`RENEW_EVERY`].
//! A process that dies stops renewing, so another takes the work over once the lease lapses
//! (within [`TTL`] plus one [`RENEW_EVERY`]: well within a minute); one that stops cleanly
//! releases its leases at once. A process that cannot renew (the database is unreachable)
//! stops the work before its lease can lapse, so two processes never do it together for long.
//! On sled (one process per store) every lease is always this process's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How long a lease lasts unless renewed.
pub const TTL: Duration = Duration::from_secs(30);

/// How often a held lease is renewed (and a free one looked for).
pub const RENEW_EVERY: Duration = Duration::from_secs(10);

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
}

impl Leases {
    pub fn new(store: Store, holder: impl Into<Arc<str>>) -> Self {
        Self {
            store,
            holder: holder.into(),
        }
    }

    /// This process's identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes or renews `name`: `true` if this process holds it now. A store error is logged
    /// and counts as not holding it (the safe side).
    pub fn take(&self, name: &str) -> bool {
        match self.store.meta().try_lease(name, &self.holder, TTL) {
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
                    _ = tokio::time::sleep(RENEW_EVERY) => {}
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
                    _ = tokio::time::sleep(RENEW_EVERY) => {
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

/// The channels whose sending this process holds, renewed as the publisher's loop goes round.
pub struct ChannelLeases {
    leases: Leases,
    /// When each channel's lease was last renewed, and whether it was held.
    seen: std::collections::HashMap<String, (tokio::time::Instant, bool)>,
}

impl ChannelLeases {
    pub fn new(leases: Leases) -> Self {
        Self {
            leases,
            seen: Default::default(),
        }
    }

    /// This process's identity (the publisher's claims name it).
    pub fn holder(&self) -> &str {
        self.leases.holder()
    }

    /// Whether this process may send on `channel` now (its lease taken or renewed at most
    /// [`RENEW_EVERY`] ago).
    pub fn holds(&mut self, channel: &str) -> bool {
        let now = tokio::time::Instant::now();
        if let Some((at, held)) = self.seen.get(channel) {
            if now.duration_since(*at) < RENEW_EVERY {
                return *held;
            }
        }
        let held = self.leases.take(&names::channel(channel));
        self.seen.insert(channel.to_string(), (now, held));
        held
    }

    /// Releases every channel held (on shutdown, once the sends in flight are recorded).
    pub fn release_all(&mut self) {
        for (channel, (_, held)) in self.seen.drain() {
            if held {
                self.leases.release(&names::channel(&channel));
            }
        }
    }
}
