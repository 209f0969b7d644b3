//! TODO(pg): UserStore on PostgreSQL — being written on a helper branch; this file is replaced.

use chrono::{DateTime, Utc};

use super::{pending, PgStore};
#[allow(unused_imports)]
use crate::domain::queue::{Action, QueueItem, ReplyState, TransitionError};
#[allow(unused_imports)]
use crate::store::*;

/// UserStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgUsers(pub(crate) PgStore);

impl UserStore for PgUsers {
    fn put(&self, _user: &User, _replace: bool) -> Result<bool, StoreError> {
        Err(pending())
    }

    fn get(&self, _name: &str) -> Result<Option<User>, StoreError> {
        Err(pending())
    }

    fn list(&self) -> Result<Vec<User>, StoreError> {
        Err(pending())
    }

    fn remove(&self, _name: &str) -> Result<bool, StoreError> {
        Err(pending())
    }

    fn put_session(&self, _key: &str, _session: &Session) -> Result<(), StoreError> {
        Err(pending())
    }

    fn session(&self, _key: &str) -> Result<Option<Session>, StoreError> {
        Err(pending())
    }

    fn replace_session(
        &self,
        _key: &str,
        _old: &Session,
        _new: &Session,
    ) -> Result<bool, StoreError> {
        Err(pending())
    }

    fn remove_session(&self, _key: &str) -> Result<(), StoreError> {
        Err(pending())
    }

    fn purge_sessions(&self, _now: DateTime<Utc>) -> Result<usize, StoreError> {
        Err(pending())
    }
}
