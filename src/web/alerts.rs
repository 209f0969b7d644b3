//! The Alerts pages: crisis alerts open and resolved, one alert's detail, and the chart of
//! negative volume ([`super::chart`]).
//!
//! Pages: `GET /alerts` (open and acknowledged alerts, then resolved ones, [`RESOLVED_PAGE`] a
//! page with `?page=N`; the last 24 hours in hourly buckets), `GET /alerts/{id}` (the facts, the
//! level changes, the sample mentions, the deliveries per sink, and the hours around the alert
//! in the detector's buckets), `POST /alerts/{id}/ack`, `POST /alerts/{id}/resolve` (form
//! field `back=alert` returns to the detail page, else to the list).
//!
//! Acknowledging is [`AlertStore::ack`](crate::store::AlertStore::ack) and resolving is
//! [`crate::crisis::live::resolve`], as in `herald alerts` and the API, with the logged-in user
//! as who acted; resolving the last open crisis alert therefore lifts the crisis hold, and the
//! publisher is woken when the hold changed. Alert ids can hold `/` (`product/leaf-…`), so links
//! carry them percent-encoded in one path segment.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::chart::{self, Marker};
use super::{plain_page, render, AppState, Chrome, Plugin, WebError};
use crate::crisis::live::LiveMention;
use crate::store::{AlertRecord, AlertState, StoredMention};

/// Resolved alerts per page of the list.
pub const RESOLVED_PAGE: usize = 20;
/// How far before an alert's window its chart begins.
pub const BEFORE: TimeDelta = TimeDelta::hours(3);
/// How far after its last change (or its resolve) the chart goes, if that is not in the future.
pub const AFTER: TimeDelta = TimeDelta::hours(1);

/// The alerts plugin: the `alerts` section.
pub fn plugin() -> Plugin {
    Plugin {
        sections: vec!["alerts"],
        pages: Router::new()
            .route("/alerts", get(alerts_page))
            .route("/alerts/{id}", get(alert_page))
            .route("/alerts/{id}/ack", post(ack_form))
            .route("/alerts/{id}/resolve", post(resolve_form)),
        api: Router::new(),
    }
}

/// An alert id as one URL path segment (everything but unreserved characters percent-encoded).
pub fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a stored mention counts in the series `topic` (`brand`, `product/<rule>`, either
/// with `@platform`), and whether it counts as negative, both as the spike detector counts them
/// ([`LiveMention::from_stored`]: negative sentiment or a crisis term). `None` as topic: every
/// mention (the brand series).
pub fn point(m: &StoredMention, topic: Option<&str>) -> Option<(DateTime<Utc>, bool)> {
    let live = LiveMention::from_stored(m);
    if let Some(topic) = topic {
        let (base, platform) = match topic.split_once('@') {
            Some((b, p)) => (b, Some(p)),
            None => (topic, None),
        };
        if !live.topics.iter().any(|t| t == base)
            || platform.is_some_and(|p| !live.platform.eq_ignore_ascii_case(p))
        {
            return None;
        }
    }
    Some((live.at, live.negative || live.crisis_term))
}

/// The span and bucket width of an alert's chart: from [`BEFORE`] its window to [`AFTER`] its
/// last change or its resolve, never past `now`; the detector's bucket width, wider if the span
/// needs more than [`chart::MAX_BUCKETS`].
pub fn alert_span(
    a: &AlertRecord,
    base: TimeDelta,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>, TimeDelta) {
    let from = a.event.window_start.min(a.event.opened_at) - BEFORE;
    let last = a
        .history
        .iter()
        .map(|h| h.at)
        .chain(a.resolved_at)
        .chain([a.event.opened_at])
        .max()
        .unwrap_or(a.event.opened_at);
    let to = (last + AFTER).min(now).max(a.event.opened_at + base);
    let width = chart::bucket_for(to - from, base);
    (from, to, width)
}

/// The span of the list's chart: the 24 whole hours up to the end of the current hour.
pub fn overview_span(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, TimeDelta) {
    let hour = TimeDelta::hours(1);
    let to = chart::floor(now, hour) + hour;
    (to - TimeDelta::hours(24), to, hour)
}

/// `?page=&msg=` of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// The page of resolved alerts, from 1.
    #[serde(default)]
    page: Option<usize>,
    /// A message code set by a redirect after an action.
    #[serde(default)]
    msg: String,
}

/// One alert as the list shows it.
pub struct AlertRow {
    id: String,
    /// The id as a path segment, for links and form actions.
    href: String,
    level: &'static str,
    state: &'static str,
    topic: String,
    opened: String,
    negative: u64,
    total: u64,
    baseline: String,
    acked_by: String,
    resolved: String,
    resolved_by: String,
}

#[derive(Template)]
#[template(path = "alerts.html", config = "src/web/askama.toml")]
struct AlertsPage {
    page: Chrome,
    open: Vec<AlertRow>,
    resolved: Vec<AlertRow>,
    resolved_total: usize,
    page_no: usize,
    prev: Option<String>,
    next: Option<String>,
    chart: String,
    message: Option<&'static str>,
}

impl AlertsPage {
    /// The label of a level (`level`) or state (`astate`) in the page's language.
    fn label(&self, group: &str, value: &str) -> String {
        self.page.t(&format!("{group}.{value}")).to_string()
    }
}

fn message(code: &str) -> Option<&'static str> {
    match code {
        "ack" => Some("alerts.msg.ack"),
        "resolve" => Some("alerts.msg.resolve"),
        "lifted" => Some("alerts.msg.lifted"),
        _ => None,
    }
}

fn when(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn row(a: &AlertRecord, tz: chrono_tz::Tz) -> AlertRow {
    AlertRow {
        id: a.event.id.clone(),
        href: path_segment(&a.event.id),
        level: a.event.level.as_str(),
        state: a.state.as_str(),
        topic: a.event.topic.clone(),
        opened: when(a.event.opened_at, tz),
        negative: a.event.negative,
        total: a.event.total,
        baseline: format!("{:.1}", a.event.baseline),
        acked_by: a.acked_by.clone().unwrap_or_default(),
        resolved: a.resolved_at.map(|t| when(t, tz)).unwrap_or_default(),
        resolved_by: a.resolved_by.clone().unwrap_or_default(),
    }
}

/// The chart of `[from, to)` in buckets of `width`, counting the mentions of `topic`.
fn draw(
    state: &AppState,
    page: &Chrome,
    (from, to, width): (DateTime<Utc>, DateTime<Utc>, TimeDelta),
    topic: Option<&str>,
    markers: &[Marker],
    title_key: &str,
) -> Result<String, WebError> {
    let mentions = state
        .store()
        .mentions()
        .between(chart::floor(from, width), to)?;
    let series = chart::buckets(
        mentions.iter().filter_map(|m| point(m, topic)),
        from,
        to,
        width,
    );
    Ok(chart::svg(
        &series,
        width,
        markers,
        &state.tz(),
        chart::Labels {
            title: page.t(title_key),
            negative: page.t("alerts.negative"),
            total: page.t("alerts.total"),
        },
    ))
}

fn level_marker(page: &Chrome, id: &str, level: &'static str, at: DateTime<Utc>) -> Marker {
    Marker {
        at,
        label: page.t(&format!("level.{level}")).to_string(),
        title: format!("{id} · {}", page.t(&format!("level.{level}"))),
        class: level,
    }
}

/// `GET /alerts`: open alerts first, then resolved ones (paginated), and the last 24 hours.
pub async fn alerts_page(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let tz = state.tz();
    let all = state.store().alerts().list()?;
    let (open, resolved): (Vec<&AlertRecord>, Vec<&AlertRecord>) =
        all.iter().partition(|a| a.state != AlertState::Resolved);
    let page_no = match super::pages::page_number(q.page) {
        Ok(n) => n,
        Err(e) => return Ok(super::pages::bad_query(page.lang, e)),
    };
    let offset = (page_no - 1) * RESOLVED_PAGE;
    let span = overview_span(state.now());
    // One line per alert where it opened, labelled with the level it reached (its page shows
    // each escalation).
    let markers: Vec<Marker> = all
        .iter()
        .map(|a| {
            level_marker(
                &page,
                &a.event.id,
                a.event.level.as_str(),
                a.event.opened_at,
            )
        })
        .collect();
    let chart = draw(&state, &page, span, None, &markers, "alerts.chart_24h")?;
    let link = |n: usize| format!("/alerts?page={n}#resolved");
    let tpl = AlertsPage {
        open: open.iter().map(|a| row(a, tz)).collect(),
        resolved: resolved
            .iter()
            .skip(offset)
            .take(RESOLVED_PAGE)
            .map(|a| row(a, tz))
            .collect(),
        resolved_total: resolved.len(),
        page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (offset + RESOLVED_PAGE < resolved.len()).then(|| link(page_no + 1)),
        chart,
        message: message(&q.msg),
        page,
    };
    render(&tpl)
}

/// One level change on the detail page.
pub struct ChangeRow {
    level: &'static str,
    at: String,
    recorded: String,
    negative: u64,
    total: u64,
}

/// One sample mention on the detail page (text and author escaped by the template).
pub struct SampleRow {
    author: String,
    text: String,
    /// Only an http(s) link.
    url: Option<String>,
}

/// One delivery on the detail page.
pub struct DeliveryRow {
    sink: String,
    change: u32,
    level: &'static str,
    reason: &'static str,
    state: &'static str,
    attempts: u32,
    sent: String,
    next: String,
    error: String,
}

#[derive(Template)]
#[template(path = "alert.html", config = "src/web/askama.toml")]
struct AlertPage {
    page: Chrome,
    a: AlertRow,
    window: String,
    acked: String,
    open: bool,
    ackable: bool,
    changes: Vec<ChangeRow>,
    samples: Vec<SampleRow>,
    /// Sample ids the store had no mention for.
    missing: Vec<String>,
    deliveries: Vec<DeliveryRow>,
    chart: String,
    bucket_minutes: i64,
    message: Option<&'static str>,
}

impl AlertPage {
    /// The label of a level (`level`), state (`astate`), delivery state (`dstate`) or reason
    /// (`dreason`) in the page's language.
    fn label(&self, group: &str, value: &str) -> String {
        self.page.t(&format!("{group}.{value}")).to_string()
    }
}

/// `?msg=` of the detail page.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    msg: String,
}

/// `GET /alerts/{id}`: one alert with its samples, deliveries and chart.
pub async fn alert_page(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, WebError> {
    let Some(a) = state.store().alerts().get(&id)? else {
        return Ok(plain_page(StatusCode::NOT_FOUND, page.t("alerts.no_such")));
    };
    let tz = state.tz();
    let base = TimeDelta::seconds(state.config().herald.crisis.params.bucket_secs.max(60));
    let span = alert_span(&a, base, state.now());
    let mut markers: Vec<Marker> = a
        .history
        .iter()
        .map(|h| level_marker(&page, &a.event.id, h.level.as_str(), h.at))
        .collect();
    if let Some(at) = a.resolved_at {
        markers.push(Marker {
            at,
            label: page.t("astate.resolved").to_string(),
            title: format!("{} · {}", a.event.id, page.t("astate.resolved")),
            class: "resolved",
        });
    }
    let chart = draw(
        &state,
        &page,
        span,
        Some(&a.event.topic),
        &markers,
        "alerts.chart_alert",
    )?;
    let deliveries = state
        .store()
        .alerts()
        .deliveries(&a.event.id)?
        .into_iter()
        .map(|d| DeliveryRow {
            sink: d.sink,
            change: d.change,
            level: d.level.as_str(),
            reason: match d.reason {
                crate::store::DeliveryReason::Opened => "opened",
                crate::store::DeliveryReason::Escalated => "escalated",
            },
            state: match d.state {
                crate::store::DeliveryState::Pending => "pending",
                crate::store::DeliveryState::Sent => "sent",
                crate::store::DeliveryState::Failed => "failed",
            },
            attempts: d.attempts,
            sent: d.sent_at.map(|t| when(t, tz)).unwrap_or_default(),
            next: if d.state == crate::store::DeliveryState::Pending {
                when(d.next_at, tz)
            } else {
                String::new()
            },
            error: d.last_error.unwrap_or_default(),
        })
        .collect();
    let found: Vec<&str> = a.samples.iter().map(|s| s.id.as_str()).collect();
    let tpl = AlertPage {
        window: when(a.event.window_start, tz),
        acked: a.acked_at.map(|t| when(t, tz)).unwrap_or_default(),
        open: a.state != AlertState::Resolved,
        ackable: a.state == AlertState::Open,
        changes: a
            .history
            .iter()
            .map(|h| ChangeRow {
                level: h.level.as_str(),
                at: when(h.at, tz),
                recorded: when(h.recorded_at, tz),
                negative: h.negative,
                total: h.total,
            })
            .collect(),
        samples: a
            .samples
            .iter()
            .map(|s| SampleRow {
                author: s.author.clone(),
                text: s.text.clone(),
                url: s.url.clone().filter(|u| super::pages::safe_link(u)),
            })
            .collect(),
        missing: a
            .event
            .sample
            .iter()
            .filter(|id| !found.contains(&id.as_str()))
            .cloned()
            .collect(),
        deliveries,
        chart,
        bucket_minutes: span.2.num_minutes(),
        message: message(&q.msg),
        a: row(&a, tz),
        page,
    };
    render(&tpl)
}

/// The field of the ack and resolve forms (besides the CSRF token).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// `alert`: back to the alert's page; otherwise the list.
    #[serde(default)]
    back: Option<String>,
}

fn back_to(id: &str, back: Option<&str>, msg: &str) -> Response {
    let to = if back == Some("alert") {
        format!("/alerts/{}?msg={msg}", path_segment(id))
    } else {
        format!("/alerts?msg={msg}")
    };
    Redirect::to(&to).into_response()
}

/// `POST /alerts/{id}/ack`: the logged-in user is on it (an alert already acknowledged or
/// resolved stays as it is).
pub async fn ack_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    match state.store().alerts().ack(&id, &page.user, state.now())? {
        None => Ok(plain_page(StatusCode::NOT_FOUND, page.t("alerts.no_such"))),
        Some(a) => {
            tracing::info!(alert = %id, by = %page.user, state = a.state.as_str(), "Alert acknowledged in the web UI");
            Ok(back_to(&id, f.back.as_deref(), "ack"))
        }
    }
}

/// `POST /alerts/{id}/resolve`: the alert is over; resolving the last open crisis alert lifts
/// the crisis hold and wakes the publisher.
pub async fn resolve_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let (record, changed) = crate::crisis::live::resolve(
        state.store(),
        &state.config().plan.pause_categories,
        &id,
        &page.user,
        state.now(),
    )?;
    if record.is_none() {
        return Ok(plain_page(StatusCode::NOT_FOUND, page.t("alerts.no_such")));
    }
    tracing::info!(alert = %id, by = %page.user, hold_changed = changed, "Alert resolved in the web UI");
    if changed {
        state.wake_publisher();
    }
    let lifted = changed && state.store().meta().crisis_hold()?.is_none();
    Ok(back_to(
        &id,
        f.back.as_deref(),
        if lifted { "lifted" } else { "resolve" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AlertLevel, LevelChange};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn record(opened: &str) -> AlertRecord {
        AlertRecord {
            event: crate::store::AlertEvent {
                id: "product/leaf-20261123T0100".into(),
                topic: "product/leaf".into(),
                level: AlertLevel::Crisis,
                opened_at: t(opened),
                window_start: t(opened) - TimeDelta::minutes(30),
                negative: 12,
                total: 20,
                baseline: 1.5,
                sample: vec![],
            },
            samples: vec![],
            state: AlertState::Open,
            acked_by: None,
            acked_at: None,
            resolved_by: None,
            resolved_at: None,
            history: vec![LevelChange {
                level: AlertLevel::Crisis,
                at: t(opened),
                recorded_at: t(opened),
                negative: 12,
                total: 20,
            }],
        }
    }

    #[test]
    fn ids_become_one_path_segment() {
        assert_eq!(
            path_segment("product/leaf-20261123T0100"),
            "product%2Fleaf-20261123T0100"
        );
        assert_eq!(path_segment("brand@马"), "brand%40%E9%A9%AC");
        assert_eq!(path_segment("a b?#"), "a%20b%3F%23");
    }

    #[test]
    fn an_alert_chart_spans_its_window_and_an_hour_after_never_the_future() {
        let five = TimeDelta::minutes(5);
        let a = record("2026-11-23T01:00:00Z");
        // Long after: from 3 h before the window to an hour after the open.
        let (from, to, w) = alert_span(&a, five, t("2026-11-23T09:00:00Z"));
        assert_eq!(
            (from, to, w),
            (t("2026-11-22T21:30:00Z"), t("2026-11-23T02:00:00Z"), five)
        );
        // Just opened: up to now.
        let (_, to, _) = alert_span(&a, five, t("2026-11-23T01:10:00Z"));
        assert_eq!(to, t("2026-11-23T01:10:00Z"));
        // Resolved two days later: wider buckets, and the resolve is inside the span.
        let mut r = a.clone();
        r.resolved_at = Some(t("2026-11-25T01:00:00Z"));
        let (from, to, w) = alert_span(&r, five, t("2026-11-26T00:00:00Z"));
        assert_eq!(to, t("2026-11-25T02:00:00Z"));
        assert!((to - from).num_seconds() / w.num_seconds() <= chart::MAX_BUCKETS);
        assert_eq!(w.num_seconds() % 300, 0);
    }

    #[test]
    fn the_overview_is_the_24_hours_to_the_end_of_this_hour() {
        let (from, to, w) = overview_span(t("2026-11-23T02:17:00Z"));
        assert_eq!(
            (from, to, w),
            (
                t("2026-11-22T03:00:00Z"),
                t("2026-11-23T03:00:00Z"),
                TimeDelta::hours(1)
            )
        );
    }
}
