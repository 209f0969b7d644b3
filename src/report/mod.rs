//! The weekly report: what herald did in one local week (Monday to Sunday in the configured
//! timezone) against the four weeks before it. [`WeekReport`] is the one record every output
//! is drawn from: the Reports page, `herald report --format html|csv|json` and the weekly
//! digest. It holds figures only, never a mention's text, so it can be e-mailed as it is.
//!
//! [`compute::week`] fills it from the store (docs/report-figures.md defines each figure);
//! [`digest`] sends its top figures once a week to the alert sinks; [`mod@config`] is
//! `[report]` in `herald.toml`.

pub mod chart;
pub mod compute;
pub mod config;
pub mod csv;
pub mod digest;
pub mod html;

pub use compute::{week, ReportError};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Everything the weekly report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekReport {
    /// The week reported (its Monday, local).
    pub week: NaiveDate,
    /// The IANA timezone the weeks, weekdays and hours are counted in.
    pub timezone: String,
    /// When the report was made; a week not yet over is reported up to here.
    pub generated_at: DateTime<Utc>,
    /// The week reported first, then the four before it, newest first.
    pub weeks: Vec<WeekFigures>,
    /// The reported week per content category, in `[mix]` order.
    pub categories: Vec<CategoryRow>,
    /// The reported week per peak window, in plan order.
    pub peaks: Vec<SliceRow>,
    /// The reported week per channel, by name.
    pub channels: Vec<SliceRow>,
    /// Published posts of all five weeks by local weekday and hour (only cells with posts).
    pub hours: Vec<HourCell>,
    /// Clicks of the reported week per source code (most first).
    pub clicks: Vec<ClickRow>,
    /// The reply side of the reported week.
    pub replies: ReplyFigures,
    /// Leads found in the reported week.
    pub leads: LeadFigures,
    /// Mentions per local day of the reported week, with the negative share.
    pub sentiment: Vec<DayRow>,
    /// Mentions of the brand against each competitor of the `competitor` keyword group.
    pub share_of_voice: Vec<VoiceRow>,
    /// Alerts open at any time during the reported week, oldest first.
    pub crises: Vec<CrisisRow>,
}

/// One week's top figures (the reported week or one of the four before it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// The week's Monday (local).
    pub week: NaiveDate,
    /// Planned posts due in the week (any state, replies excluded).
    pub planned: u32,
    /// Of them, published.
    pub published: u32,
    /// Likes, reposts, replies and quotes of the week's published posts (latest readings).
    pub engagement: u64,
    /// `engagement / published posts with a reading`; `None` when there is none.
    pub per_post: Option<f64>,
    /// Clicks through the redirect in the week.
    pub clicks: u64,
    /// Mentions found in the week.
    pub mentions: u32,
    /// Share of them classified negative (0..=1); `None` without mentions.
    pub negative_share: Option<f64>,
    /// Replies sent in the week.
    pub replies_sent: u32,
    /// Share of the week's inbox items answered within their SLA (0..=1).
    pub sla_met: Option<f64>,
    /// Median minutes from an item's creation to its first answer.
    pub median_response_minutes: Option<f64>,
    /// Leads found in the week (any grade but `unvalued`).
    pub leads: u32,
}

/// The reported week for one content category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryRow {
    pub category: String,
    /// The `[mix]` target, in percent.
    pub target_pct: u32,
    pub planned: u32,
    pub published: u32,
    /// Its share of the week's published posts, in percent.
    pub share_pct: f64,
    pub engagement: u64,
    pub per_post: Option<f64>,
    /// Engagement per post against that of all other categories' posts, minus one
    /// (`0.25` = 25 % more); `None` when either side has no reading.
    pub lift: Option<f64>,
    pub clicks: u64,
}

/// The reported week for one peak window or one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceRow {
    /// The peak window's or channel's name.
    pub name: String,
    pub planned: u32,
    pub published: u32,
    pub engagement: u64,
    pub per_post: Option<f64>,
    pub clicks: u64,
}

/// Published posts of one local weekday and hour over the five weeks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourCell {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// 0..=23.
    pub hour: u8,
    pub posts: u32,
    pub engagement: u64,
    pub per_post: Option<f64>,
}

/// Clicks on one source code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickRow {
    pub code: String,
    /// The code's channel and category (from the code), for grouping.
    pub channel: String,
    pub category: String,
    pub clicks: u64,
}

/// The reply side of one week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplyFigures {
    /// Inbox items created in the week.
    pub items: u32,
    /// Of them, answered (approved, edited and approved, or rejected) at all.
    pub answered: u32,
    /// Of them, answered by their due time.
    pub within_sla: u32,
    /// Still waiting now, past their due time.
    pub overdue: u32,
    /// Minutes from creation to the first answer: median and 90th percentile.
    pub median_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
    /// Replies sent in the week.
    pub sent: u32,
    /// Per person who acted in the week (by name).
    pub people: Vec<PersonRow>,
}

/// What one person did in the week, from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub name: String,
    pub approved: u32,
    /// Approvals whose text the person changed first.
    pub edited: u32,
    pub rejected: u32,
    /// Of the person's approvals, replies that went out.
    pub sent: u32,
    /// Median minutes from an item's creation to this person's first answer on it.
    pub median_minutes: Option<f64>,
}

/// Leads of one week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadFigures {
    /// `(grade, count)` for `hot`, `warm`, `cold`.
    pub by_grade: Vec<(String, u32)>,
    /// `(listening source, count)`, most first.
    pub by_source: Vec<(String, u32)>,
    /// The funnel: leads found → replied to → with contact details (phone or e-mail) →
    /// asked for a test drive.
    pub found: u32,
    pub replied: u32,
    pub contact: u32,
    pub test_drive: u32,
}

/// Mentions of one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    pub date: NaiveDate,
    pub mentions: u32,
    pub negative: u32,
    pub positive: u32,
}

/// Mentions naming one brand: the own brand (`brand` group) or a competitor rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceRow {
    /// `brand`, or the competitor's rule name.
    pub name: String,
    /// Whether it is the own brand.
    pub own: bool,
    pub mentions: u32,
    /// Share of all mentions counted in this table (0..=1).
    pub share: f64,
    pub negative: u32,
}

/// An alert of the week: the crisis timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrisisRow {
    pub id: String,
    /// The highest level reached.
    pub level: String,
    pub opened_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The most negative mentions in one detector window.
    pub peak_negative: u64,
}
