//! The alert records shared by the spike detector, the store, the alert sinks and the web UI:
//! one level ([`AlertLevel`]) and the alert event of `herald replay`'s contract
//! ([`AlertEvent`], docs/contracts.md), which the detector's own events carry and the store's
//! alert records are made from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How serious an alert is: the one level of the detector's episodes, the stored alerts, the
/// alert sinks' routing and `herald replay`'s output. Ordered: a warning can escalate to a
/// crisis, never back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    /// Unusual negative volume: someone should look.
    Warning,
    /// Strongly unusual, or carried by crisis terms: act now.
    Crisis,
}

impl AlertLevel {
    /// The level as written in the contract and in `herald.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Warning => "warning",
            AlertLevel::Crisis => "crisis",
        }
    }

    /// Parses `warning` or `crisis`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "warning" => Some(AlertLevel::Warning),
            "crisis" => Some(AlertLevel::Crisis),
            _ => None,
        }
    }
}

/// An alert as the spike detector emits it (the `herald replay` contract of docs/contracts.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Stable per episode: a later event with the same id updates (escalates) the same alert.
    pub id: String,
    /// What the alert is about (the brand, or a keyword group/rule).
    pub topic: String,
    /// The level of this event.
    pub level: AlertLevel,
    /// Stream time when raised.
    pub opened_at: DateTime<Utc>,
    /// Start of the window the counts cover.
    pub window_start: DateTime<Utc>,
    /// Negative mentions in the window.
    pub negative: u64,
    /// All mentions in the window.
    pub total: u64,
    /// The negative count the detector expected.
    pub baseline: f64,
    /// Mention ids, most telling first.
    #[serde(default)]
    pub sample: Vec<String>,
}
