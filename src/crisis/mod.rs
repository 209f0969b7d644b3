//! Crisis detection: the spike detector (pure: classified mentions in stream time in, alert
//! events out), the alert and episode types the replay contract and the live loop share,
//! `herald replay`'s pipeline, and the evaluation helpers (synthetic streams, NAB scoring).
//! The detector and replay do no network IO and never read the wall clock. [`notify`] owns the
//! alert sinks (WeCom, DingTalk, Feishu/Lark, Slack, webhook, e-mail) and the durable delivery
//! worker that sends every queued alert message to them. [`live`] runs the detector inside
//! `herald run` and keeps crisis mode (the crisis hold on publishing).

pub mod config;
pub mod detector;
pub mod eval;
pub mod live;
pub mod notify;
pub mod replay;
pub mod stats;
pub mod synth;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::domain::alert::AlertEvent;
pub use detector::{Detector, Episode, Observation, Params};

/// How serious an episode is: the one alert level, shared with the store and the sinks.
pub use crate::domain::alert::AlertLevel as Level;

/// Where an episode is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeState {
    /// Just opened (the first event of an id).
    Open,
    /// Raised from warning to crisis (a later event with the same id).
    Escalated,
    /// Quiet for `close_after_secs`; `herald replay` does not print these.
    Closed,
}

/// Which test raised an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A rolling window's negative count far above its baseline.
    Spike,
    /// The same, with the threshold lowered by crisis terms in the window.
    Terms,
    /// A slow build-up caught by the CUSUM.
    Cusum,
    /// A window whose negative share and negative count are both up: talk turning negative
    /// before its volume is far above usual (`joint_windows`).
    Share,
}

/// One alert event of the detector: the contract's event ([`AlertEvent`], the fields of
/// `herald replay`'s lines in docs/contracts.md, which the live loop stores as it is), followed
/// by the fields this module adds (`score`, `state`, `at`, `trigger`). Serialised flat, in that
/// order: one `herald replay` line.
///
/// In the event: `id` is the episode's (the same on its opening and escalation events);
/// `topic` the series (`brand`, a keyword topic such as `product/x-trail`, or
/// `topic@platform`); `level` the episode's as of this event; `window_start`, `negative`
/// (negative or crisis-term mentions), `total`, `baseline` describe the window that raised it;
/// `sample` holds the ids of the latest negative mentions in that window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The contract's event.
    #[serde(flatten)]
    pub event: AlertEvent,
    /// How surprising the window was: `-log10 p` of its negative count under the baseline
    /// (the CUSUM's statistic for a build-up; 0 on a closing event).
    pub score: f64,
    /// Open, escalated or closed.
    pub state: EpisodeState,
    /// Stream time of this event (the opening time, or when it escalated or closed).
    pub at: DateTime<Utc>,
    /// The test that raised this event (none on a closing event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

#[cfg(test)]
mod tests;
