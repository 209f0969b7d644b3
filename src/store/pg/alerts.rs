//! TODO(pg): AlertStore on PostgreSQL — being written on a helper branch; this file is replaced.

use chrono::{DateTime, Utc};

use super::{pending, PgStore};
#[allow(unused_imports)]
use crate::domain::queue::{Action, QueueItem, ReplyState, TransitionError};
#[allow(unused_imports)]
use crate::store::*;

/// AlertStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgAlerts(pub(crate) PgStore);

impl AlertStore for PgAlerts {
    fn samples(&self, _ids: &[String], _limit: usize) -> Result<Vec<AlertSample>, StoreError> {
        Err(pending())
    }

    fn upsert(
        &self,
        _event: &AlertEvent,
        _samples: &[AlertSample],
        _sinks: &[String],
        _now: DateTime<Utc>,
    ) -> Result<AlertChange, StoreError> {
        Err(pending())
    }

    fn get(&self, _id: &str) -> Result<Option<AlertRecord>, StoreError> {
        Err(pending())
    }

    fn list(&self) -> Result<Vec<AlertRecord>, StoreError> {
        Err(pending())
    }

    fn ack(
        &self,
        _id: &str,
        _who: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        Err(pending())
    }

    fn resolve(
        &self,
        _id: &str,
        _who: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        Err(pending())
    }

    fn deliveries(&self, _alert_id: &str) -> Result<Vec<AlertDelivery>, StoreError> {
        Err(pending())
    }

    fn due_deliveries(&self, _now: DateTime<Utc>) -> Result<Vec<AlertDelivery>, StoreError> {
        Err(pending())
    }

    fn next_delivery(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Err(pending())
    }

    fn put_delivery(&self, _d: &AlertDelivery) -> Result<(), StoreError> {
        Err(pending())
    }
}
