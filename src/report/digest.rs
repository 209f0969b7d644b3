//! The weekly digest: once a week, at or after `[report] digest_weekday` and `digest_hour`
//! (local), the previous local week's top figures and a link to its report, in Chinese and
//! English, to the `[report] sinks` (`[alerts]` sinks, through
//! [`crate::crisis::notify::Sink::send_text`]).
//!
//! - **Which week**: the digest that falls in the current local week reports the whole local
//!   week before it. Before this week's digest time nothing is sent; a process that was down
//!   at that time sends it when it comes back, in the same week. A digest never sent in its
//!   own week is not sent later (a stale digest helps nobody).
//! - **Exactly once per week and sink**: each sink's last week sent is kept in the store
//!   (`store.meta()` cursor `report-digest:<sink>`), written right after the sink took the
//!   message. A crash between the two can send that sink's digest twice; nothing else can.
//!   On PostgreSQL the loop runs under the [`LEASE`] lease, so two processes never both send.
//!   The generic webhook gets the idempotency key `report-digest:<week>:<sink>`.
//! - **Failures**: a sink that refuses the message for good (a permanent error) is logged
//!   and not tried again that week; a temporary failure is retried [`RETRY_AFTER`] later.
//! - It only reads figures ([`super::compute::week`]): a digest holds no mention's text.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::compute::{self, monday_of, ReportError};
use super::{WeekFigures, WeekReport};
use crate::clock::Clock;
use crate::config::Config;
use crate::crisis::notify::{Sink, SinkError, TextMessage};
use crate::store::{Store, StoreError};

/// The lease the digest loop runs under.
pub const LEASE: &str = crate::lease::names::REPORT_DIGEST;

/// The store cursor keeping a sink's last week sent: `report-digest:<sink>` = its Monday.
pub fn cursor_name(sink: &str) -> String {
    format!("report-digest:{sink}")
}

/// After a temporary failure, the next try comes no sooner than this.
pub const RETRY_AFTER: StdDuration = StdDuration::from_secs(5 * 60);

/// The longest sleep between two looks (so a changed clock or a restored store is noticed).
pub const MAX_SLEEP: StdDuration = StdDuration::from_secs(10 * 60);

/// Why a round could not be done (the loop logs it and tries again later).
#[derive(Debug, Error)]
pub enum DigestError {
    #[error("reading or writing the store: {0}")]
    Store(#[from] StoreError),
    #[error("making the report: {0}")]
    Report(#[from] ReportError),
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    /// The week reported (its Monday), when a digest was due.
    pub week: Option<NaiveDate>,
    /// Sinks that took it.
    pub sent: Vec<String>,
    /// Sinks that refused it for good (not tried again this week).
    pub given_up: Vec<String>,
    /// Sinks to try again later.
    pub failed: Vec<String>,
    /// When to look again.
    pub next: DateTime<Utc>,
}

/// Sends the weekly digest.
pub struct Digester {
    store: Store,
    config: Arc<Config>,
    sinks: Vec<(String, Sink)>,
    clock: Clock,
}

impl Digester {
    /// A digester sending to `sinks` (name, sink).
    pub fn new(
        store: Store,
        config: Arc<Config>,
        sinks: Vec<(String, Sink)>,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            config,
            sinks,
            clock,
        }
    }

    /// A digester for `[report] sinks`, built from their `[alerts]` configuration; the sinks
    /// that cannot be built (a missing secret) are returned to be logged, and left out.
    pub fn from_config(
        store: Store,
        config: Arc<Config>,
        clock: Clock,
    ) -> (Self, Vec<(String, SinkError)>) {
        let alerts = &config.herald.alerts;
        let mut sinks = Vec::new();
        let mut problems = Vec::new();
        for name in &config.herald.report.sinks {
            let Some(sc) = alerts.sinks.iter().find(|s| &s.name == name) else {
                continue;
            };
            match Sink::from_config(sc, alerts.delivery.timeout) {
                Ok(sink) => sinks.push((name.clone(), sink)),
                Err(e) => problems.push((name.clone(), e)),
            }
        }
        (Self::new(store, config, sinks, clock), problems)
    }

    /// When this local week's digest goes out, and the Monday of the week it reports.
    pub fn slot(&self, now: DateTime<Utc>) -> (DateTime<Utc>, NaiveDate) {
        let tz = self.config.herald.timezone;
        let report = &self.config.herald.report;
        let this_monday = monday_of(now.with_timezone(&tz).date_naive());
        let day = this_monday
            .checked_add_signed(Duration::days(i64::from(
                report.digest_weekday.num_days_from_monday(),
            )))
            .unwrap_or(this_monday);
        let at = day
            .and_hms_opt(report.digest_hour, 0, 0)
            .and_then(|local| {
                // An hour a clock change skips goes out at the first instant after it.
                (0..=4).find_map(|h| {
                    tz.from_local_datetime(&(local + Duration::hours(h)))
                        .earliest()
                })
            })
            .map_or(now, |t| t.with_timezone(&Utc));
        let reported = this_monday
            .checked_sub_signed(Duration::weeks(1))
            .unwrap_or(this_monday);
        (at, reported)
    }

    /// Sends the digest that is due at `now` to every sink that has not had it.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<Round, DigestError> {
        let (at, week) = self.slot(now);
        let next_week = at + Duration::weeks(1);
        if now < at {
            return Ok(Round {
                next: at,
                ..Round::default()
            });
        }
        let mut pending = Vec::new();
        for (name, sink) in &self.sinks {
            let sent = self.store.meta().cursor(&cursor_name(name))?;
            let done = sent
                .and_then(|s| s.parse::<NaiveDate>().ok())
                .is_some_and(|d| d >= week);
            if !done {
                pending.push((name, sink));
            }
        }
        let mut round = Round {
            week: Some(week),
            next: next_week,
            ..Round::default()
        };
        if pending.is_empty() {
            return Ok(round);
        }
        let report = compute::week(&self.store, &self.config, week, now)?;
        let msg = message(&report, self.link(week).as_ref());
        for (name, sink) in pending {
            let key = format!("report-digest:{week}:{name}");
            match sink.send_text(&msg, &key, now).await {
                Ok(()) => {
                    self.store
                        .meta()
                        .set_cursor(&cursor_name(name), &week.to_string())?;
                    tracing::info!(sink = %name, %week, "Sent the weekly digest");
                    round.sent.push(name.clone());
                }
                Err(e) if e.is_permanent() => {
                    self.store
                        .meta()
                        .set_cursor(&cursor_name(name), &week.to_string())?;
                    tracing::error!(sink = %name, %week, error = %e, "A sink refused the weekly digest; not tried again this week");
                    round.given_up.push(name.clone());
                }
                Err(e) => {
                    tracing::warn!(sink = %name, %week, error = %e, "Cannot send the weekly digest; will try again");
                    round.failed.push(name.clone());
                }
            }
        }
        if !round.failed.is_empty() {
            round.next = now + Duration::from_std(RETRY_AFTER).unwrap_or(Duration::minutes(5));
        }
        Ok(round)
    }

    /// The report's address for `week`: `[report] link`, else the web UI's `/reports` when
    /// `[web]` is on, with `?week=<Monday>`.
    pub fn link(&self, week: NaiveDate) -> Option<Url> {
        let herald = &self.config.herald;
        let mut url = match (&herald.report.link, &herald.web) {
            (Some(link), _) => link.clone(),
            (None, Some(web)) if web.enabled => {
                Url::parse(&format!("http://{}/reports", web.bind)).ok()?
            }
            _ => return None,
        };
        url.query_pairs_mut().append_pair("week", &week.to_string());
        Some(url)
    }

    /// Sends each week's digest until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        if self.sinks.is_empty() {
            tracing::warn!("The weekly digest has no sink it can use; nothing will be sent");
        }
        loop {
            let now = (self.clock)();
            let wait = match self.round(now).await {
                Ok(r) => (r.next - now).to_std().unwrap_or(StdDuration::ZERO),
                Err(e) => {
                    tracing::error!(error = %e, "Cannot make the weekly digest; will try again");
                    RETRY_AFTER
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait.clamp(StdDuration::from_secs(1), MAX_SLEEP)) => {}
            }
        }
    }
}

/// A figure's change against the average of the weeks before (those that have it), as
/// `+12%`; `None` when there is nothing to compare with.
fn change(now: Option<f64>, before: &[Option<f64>]) -> Option<String> {
    let known: Vec<f64> = before.iter().flatten().copied().collect();
    if known.is_empty() {
        return None;
    }
    let avg = known.iter().sum::<f64>() / known.len() as f64;
    let now = now?;
    if avg <= 0.0 {
        return None;
    }
    let pct = (now / avg - 1.0) * 100.0;
    Some(format!("{pct:+.0}%"))
}

fn pct(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_string(), |s| format!("{:.0}%", s * 100.0))
}

/// The digest's lines: (label, value), each label in Chinese and English.
fn lines(report: &WeekReport) -> Vec<(&'static str, String)> {
    let default = WeekFigures::default();
    let w = report.weeks.first().unwrap_or(&default);
    let before: &[WeekFigures] = report.weeks.get(1..).unwrap_or(&[]);
    let vs = |now: Option<f64>, f: fn(&WeekFigures) -> Option<f64>| {
        let earlier: Vec<Option<f64>> = before.iter().map(f).collect();
        change(now, &earlier).map_or_else(String::new, |c| {
            format!(" ({c} 对比前四周均值 / vs 4-week avg)")
        })
    };
    vec![
        (
            "发帖 / Posts",
            format!(
                "{} 已发 published / {} 计划 planned",
                w.published, w.planned
            ),
        ),
        (
            "互动 / Engagement",
            format!(
                "{}{}",
                w.engagement,
                vs(Some(w.engagement as f64), |f| Some(f.engagement as f64))
            ),
        ),
        (
            "每帖互动 / Per post",
            format!(
                "{}{}",
                w.per_post
                    .map_or_else(|| "–".to_string(), |p| format!("{p:.1}")),
                vs(w.per_post, |f| f.per_post)
            ),
        ),
        (
            "点击 / Clicks",
            format!(
                "{}{}",
                w.clicks,
                vs(Some(w.clicks as f64), |f| Some(f.clicks as f64))
            ),
        ),
        (
            "回复时效达标 / Reply SLA met",
            format!(
                "{} ({} 条回复已发 replies sent)",
                pct(w.sla_met),
                w.replies_sent
            ),
        ),
        ("线索 / Leads", w.leads.to_string()),
        (
            "负面占比 / Negative share",
            format!("{} ({} 条提及 mentions)", pct(w.negative_share), w.mentions),
        ),
        ("警报 / Alerts", report.crises.len().to_string()),
    ]
}

/// The digest of `report` in every format the sinks take.
pub fn message(report: &WeekReport, link: Option<&Url>) -> TextMessage {
    let end = report.week + Duration::days(6);
    let title = format!("herald 周报 / Weekly report: {} – {end}", report.week);
    let lines = lines(report);
    let mut plain = format!("{title}\n");
    let mut markdown = format!("**{title}**\n");
    let mut slack = String::new();
    for (label, value) in &lines {
        plain.push_str(&format!("{label}: {value}\n"));
        markdown.push_str(&format!("> {label}: **{value}**\n"));
        slack.push_str(&format!("• *{label}*: {value}\n"));
    }
    if let Some(url) = link {
        plain.push_str(&format!("完整报告 / Full report: {url}\n"));
        markdown.push_str(&format!("[完整报告 / Full report]({url})\n"));
        slack.push_str(&format!("<{url}|完整报告 / Full report>\n"));
    }
    let data = serde_json::json!({
        "week": report.week,
        "timezone": report.timezone,
        "figures": report.weeks.first(),
        "before": report.weeks.get(1..).unwrap_or(&[]),
        "alerts": report.crises.len(),
    });
    TextMessage {
        event: "report.digest".into(),
        title,
        plain,
        markdown,
        slack,
        data,
        link: link.map(Url::to_string),
    }
}

#[cfg(test)]
mod tests;
