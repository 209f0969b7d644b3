//! The Reports page: the weekly report of one local week ([`crate::report::week`]) drawn by
//! [`crate::report::html`] inside the UI's layout, with week navigation and downloads.
//!
//! Pages (behind the login like every page): `GET /reports?week=YYYY-MM-DD&lang=en|zh` (any day
//! of the week wanted; without it the last full week; `lang` sets the report's language, else
//! the UI's), `GET /reports/week.html|csv|json?week=&lang=` (the same report as a download:
//! the self-contained HTML file `herald report` writes, the CSV, the JSON record), and
//! `GET /reports/report.css` (the report's stylesheet: the Content-Security-Policy forbids the
//! inline one the e-mailed file carries). A week that has not begun, or a date that is not one,
//! is a 400 with a plain message. The report's charts are SVG without script or inline style.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;

use super::i18n::{t, Lang};
use super::pages::parse_day;
use super::{plain_page, render, AppState, Chrome, WebError};
use crate::report::compute::monday_of;
use crate::report::WeekReport;

/// `?week=&lang=` of the page and the downloads.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    /// Any day of the week wanted (YYYY-MM-DD).
    #[serde(default)]
    week: Option<String>,
    /// `en` or `zh`: the report's language (the UI's when absent).
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "reports.html", config = "src/web/askama.toml")]
struct ReportsPage {
    page: Chrome,
    /// The week's Monday, `YYYY-MM-DD`.
    week: String,
    /// The query suffix that keeps an explicit `lang` (`&lang=zh`, or empty).
    lang_q: String,
    /// The explicit `lang`, for the week picker.
    lang_code: Option<&'static str>,
    prev: String,
    /// The next week, unless the shown one is the current week.
    next: Option<String>,
    /// The report as HTML (escaped and drawn by `report::html`).
    body: String,
}

/// The Monday of the week asked for (the last full week without one), and the current week's
/// Monday; else the i18n key of why not (a date that is not one, a week not begun), for a
/// plain 400 ([`refuse`]).
fn week_of(state: &AppState, q: &ReportQuery) -> Result<(NaiveDate, NaiveDate), &'static str> {
    let tz = state.tz();
    let this_monday = monday_of(state.now().with_timezone(&tz).date_naive());
    let week = match parse_day(q.week.as_deref()) {
        Ok(Some(d)) => monday_of(d),
        Ok(None) => this_monday - TimeDelta::days(7),
        Err(e) => return Err(e.key()),
    };
    if week > this_monday {
        return Err("reports.future");
    }
    Ok((week, this_monday))
}

/// The plain 400 of a week the page cannot show.
fn refuse(ui: Lang, key: &str) -> Response {
    plain_page(StatusCode::BAD_REQUEST, t(ui, key))
}

fn make(state: &AppState, week: NaiveDate) -> Result<WeekReport, WebError> {
    crate::report::week(state.store(), state.config(), week, state.now())
        .map_err(|e| WebError::Internal(format!("making the weekly report: {e}")))
}

/// `GET /reports`: the week's report with links to the weeks around it and its downloads.
pub async fn reports_page(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let (week, this_monday) = match week_of(&state, &q) {
        Ok(w) => w,
        Err(key) => return Ok(refuse(page.lang, key)),
    };
    let explicit = q.lang.as_deref().and_then(Lang::parse);
    let lang = explicit.unwrap_or(page.lang);
    let report = make(&state, week)?;
    let lang_q = explicit.map_or(String::new(), |l| format!("&lang={}", l.code()));
    let fmt = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    render(&ReportsPage {
        week: fmt(week),
        prev: fmt(week - TimeDelta::days(7)),
        next: (week < this_monday).then(|| fmt(week + TimeDelta::days(7))),
        lang_q,
        lang_code: explicit.map(Lang::code),
        body: crate::report::html::body(&report, lang),
        page,
    })
}

/// The report's stylesheet.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        crate::report::html::CSS,
    )
        .into_response()
}

/// `GET /reports/week.<format>`: the report as a download.
async fn download(
    state: AppState,
    headers: axum::http::HeaderMap,
    q: ReportQuery,
    format: &'static str,
) -> Result<Response, WebError> {
    let ui = super::request_lang(&headers);
    let (week, _) = match week_of(&state, &q) {
        Ok(w) => w,
        Err(key) => return Ok(refuse(ui, key)),
    };
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(ui);
    let report = make(&state, week)?;
    let (mime, body) = match format {
        "csv" => (
            "text/csv; charset=utf-8",
            crate::report::csv::to_csv(&report),
        ),
        "json" => (
            "application/json",
            serde_json::to_string_pretty(&report).map_err(|e| WebError::Internal(e.to_string()))?,
        ),
        _ => (
            "text/html; charset=utf-8",
            crate::report::html::document(&report, lang),
        ),
    };
    let disposition = format!(
        "attachment; filename=\"herald-report-{}.{format}\"",
        week.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `GET /reports/week.html`.
pub async fn download_html(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    download(state, headers, q, "html").await
}

/// `GET /reports/week.csv`.
pub async fn download_csv(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    download(state, headers, q, "csv").await
}

/// `GET /reports/week.json`.
pub async fn download_json(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    download(state, headers, q, "json").await
}
