//! The wall clock, injected: every wall-clock decision (what is due, what expired, when an alert
//! opened) asks a [`Clock`] instead of the system, so tests decide what "now" is. The bottom
//! layer: it imports nothing of herald's.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The wall clock, injectable so tests decide what "now" is.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
