//! Whether the store can still be written, and how much room its disk has left.
//!
//! sled 0.34 does not recover from a failed write: after one `No space left on device` every
//! later write fails too, even once space is back (seen on a 2 MB tmpfs). A herald that keeps
//! running then publishes nothing and records nothing. So the running herald probes the store
//! with a small write every few seconds ([`watch_writes`]) and stops, with
//! [`StoreError::WritesFailing`], once several probes in a row have failed: a supervisor
//! (systemd, a container runtime) restarts it, and the restart works once the disk has room.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use super::{SledStore, StoreError};

/// Below this much free space on the store's disk, the startup summary should warn.
pub const LOW_DISK_SPACE: u64 = 512 * 1024 * 1024;

/// Writes that kept failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    /// Probes in a row that failed.
    pub failures: u32,
    /// From the first failed probe to the last.
    pub failing_for: Duration,
    /// The last failure, as sled said it (never a secret: an IO error about the store's files).
    pub error: String,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} writes in a row failed over {} s, the last with: {}",
            self.failures,
            self.failing_for.as_secs(),
            self.error
        )
    }
}

impl SledStore {
    /// Writes a small record and flushes it: `Ok` when the store can still be written.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        self.db
            .open_tree("meta")?
            .insert("probe", Utc::now().to_rfc3339().as_bytes())?;
        self.flush()
    }
}

/// Probes the store every `every` and returns once `failures` probes in a row have failed
/// (a success in between starts the count again): the error `herald run` stops with.
pub async fn watch_writes(store: &super::Store, every: Duration, failures: u32) -> StoreError {
    let mut failed = 0u32;
    let mut since = tokio::time::Instant::now();
    loop {
        match store.probe_write() {
            Ok(()) => failed = 0,
            Err(e) => {
                if failed == 0 {
                    since = tokio::time::Instant::now();
                }
                failed += 1;
                tracing::warn!(error = %e, failures = failed, "Store write failed");
                if failed >= failures.max(1) {
                    return StoreError::WritesFailing {
                        path: store.location(),
                        failure: WriteFailure {
                            failures: failed,
                            failing_for: since.elapsed(),
                            error: e.to_string(),
                        },
                    };
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Bytes available to herald on the disk that holds `path` (the store need not exist yet:
/// its nearest existing parent folder is asked).
pub fn available_space(path: &Path) -> std::io::Result<u64> {
    let mut at = path;
    loop {
        if at.exists() {
            return fs2::available_space(at);
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => return fs2::available_space("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::store::Store;

    #[tokio::test]
    async fn persistent_write_failures_end_the_watch_with_the_path_and_the_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        assert!(store.probe_write().is_ok(), "a healthy store");
        store.fail_writes();
        let e = watch_writes(&store, Duration::from_millis(1), 3).await;
        match &e {
            StoreError::WritesFailing { path, failure } => {
                assert_eq!(path, &dir.path().join("db").display().to_string());
                assert_eq!(failure.failures, 3);
                assert!(failure.failing_for >= Duration::from_millis(2));
                assert!(failure.error.contains("No space left"), "{failure}");
            }
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains(&dir.path().join("db").display().to_string())
                && text.contains("No space left on device")
                && text.contains("3 writes in a row failed"),
            "{text}"
        );
    }

    #[test]
    fn free_space_is_found_for_a_store_not_made_yet() {
        let dir = tempfile::tempdir().expect("tmp");
        let free = available_space(&dir.path().join("data/herald.db")).expect("statvfs");
        assert!(free > 0);
    }
}
