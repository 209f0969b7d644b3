//! TODO(pg): MentionStore on PostgreSQL — being written on a helper branch; this file is replaced.

use chrono::{DateTime, Utc};

use super::{pending, PgStore};
#[allow(unused_imports)]
use crate::domain::queue::{Action, QueueItem, ReplyState, TransitionError};
#[allow(unused_imports)]
use crate::store::*;

/// MentionStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgMentions(pub(crate) PgStore);

impl MentionStore for PgMentions {
    fn insert(&self, _m: &StoredMention) -> Result<bool, StoreError> {
        Err(pending())
    }

    fn insert_with_draft(
        &self,
        _m: &StoredMention,
        _draft: Option<&QueueItem>,
    ) -> Result<Ingested, StoreError> {
        Err(pending())
    }

    fn list(&self, _q: &MentionQuery) -> Result<Vec<StoredMention>, StoreError> {
        Err(pending())
    }

    fn between(
        &self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<StoredMention>, StoreError> {
        Err(pending())
    }
}
