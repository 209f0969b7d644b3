//! TODO(pg): QueueStore on PostgreSQL — being written on a helper branch; this file is replaced.

use chrono::{DateTime, Utc};

use super::{pending, PgStore};
#[allow(unused_imports)]
use crate::domain::queue::{Action, QueueItem, ReplyState, TransitionError};
#[allow(unused_imports)]
use crate::store::*;

/// QueueStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgQueue(pub(crate) PgStore);

impl QueueStore for PgQueue {
    fn enqueue(&self, _item: &QueueItem) -> Result<Option<u64>, StoreError> {
        Err(pending())
    }

    fn enqueue_many(&self, _items: &[QueueItem]) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn item(&self, _id: u64) -> Result<Option<QueueItem>, StoreError> {
        Err(pending())
    }

    fn item_for_mention(&self, _mention_id: &str) -> Result<Option<QueueItem>, StoreError> {
        Err(pending())
    }

    fn pending_created_before(&self, _cutoff: DateTime<Utc>) -> Result<Vec<u64>, StoreError> {
        Err(pending())
    }

    fn is_queued(&self, _mention_id: &str) -> Result<bool, StoreError> {
        Err(pending())
    }

    fn apply(
        &self,
        _id: u64,
        _action: &Action,
        _who: &str,
        _now: DateTime<Utc>,
    ) -> Result<Result<QueueItem, TransitionError>, StoreError> {
        Err(pending())
    }

    fn ids(&self, _state: ReplyState) -> Result<Vec<u64>, StoreError> {
        Err(pending())
    }

    fn page(&self, _q: &QueueQuery) -> Result<Vec<QueueItem>, StoreError> {
        Err(pending())
    }

    fn count(&self, _q: &QueueQuery) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn langs(&self) -> Result<Vec<String>, StoreError> {
        Err(pending())
    }

    fn platforms(&self) -> Result<Vec<String>, StoreError> {
        Err(pending())
    }
}
