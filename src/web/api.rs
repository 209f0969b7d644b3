//! The JSON API: the pages' actions for scripts, behind a bearer token.
//!
//! The token is the value of the environment variable `[web] api_token_env` names (default
//! `HERALD_API_TOKEN`), compared in constant time. Without it set the API answers 503, so an
//! unconfigured API is visibly off rather than open. Sessions do not work here and the token
//! does not work on pages, which keeps CSRF out of the API's concerns.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::same_secret;
use super::pages::{is_held, local_rfc3339, search_mentions, MentionFilter};
use super::AppState;
use crate::schedule::{local_midnight, PauseError};

/// An API failure: a status and a message in `{"error": …}`; server faults are logged.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What the caller is told.
    pub message: String,
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error; the server log has the details".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Middleware for `/api/…`: the bearer token or 401 (503 when no token is configured).
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.inner.api_token.as_deref() else {
        return ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the API is off: set {}", state.web().api_token_env),
        }
        .into_response();
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    if sent.is_some_and(|t| same_secret(t, expected)) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "API request refused: bearer token missing or wrong");
    let mut res = ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: "a valid bearer token is required".into(),
    }
    .into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer` and `BEARER` work as `Bearer` does.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn post_json(p: &crate::store::StoredPost, tz: chrono_tz::Tz, held: &[String]) -> Value {
    json!({
        "id": p.id(),
        "at": local_rfc3339(p.at, tz),
        "channel": p.channel,
        "category": p.category,
        "draft": p.draft,
        "state": p.state.as_str(),
        "held": is_held(p, held),
        "text": p.text,
        "url": p.delivery.remote_url,
    })
}

/// `GET /api/status`: the hold, the posts of the 24 hours around now by state, and the
/// supervised tasks of `herald run` (`tasks`: name, running, restarts, failures, last failure
/// time and last error, escaped and cut).
pub async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = state.now();
    let day = chrono::TimeDelta::hours(24);
    let posts = state.store().posts().between(now - day, now + day)?;
    let hold = state.store().meta().hold()?;
    let crisis_hold = state.store().meta().crisis_hold()?;
    let open_alerts: Vec<_> = state
        .store()
        .alerts()
        .list()?
        .into_iter()
        .filter(|a| a.state != crate::store::AlertState::Resolved)
        .map(|a| alert_summary(&a))
        .collect();
    let mut counts = serde_json::Map::new();
    for p in &posts {
        let n = counts.entry(p.state.as_str()).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
    }
    let held = state.store().meta().held_categories()?;
    let next = posts
        .iter()
        .find(|p| {
            p.at > now
                && matches!(
                    p.state,
                    crate::store::PostState::Planned | crate::store::PostState::Approved
                )
        })
        .map(|p| post_json(p, state.tz(), &held));
    Ok(Json(json!({
        "now": local_rfc3339(now, state.tz()),
        "timezone": state.tz().name(),
        "hold": hold,
        "crisis_hold": crisis_hold,
        "open_alerts": open_alerts,
        "posts_24h": counts,
        "next": next,
        "tasks": state
            .tasks()
            .snapshot()
            .iter()
            .map(|t| task_json(t, state.tz()))
            .collect::<Vec<_>>(),
    })))
}

/// One supervised task in `/api/status`, its last failure in the plan's time zone.
fn task_json(t: &crate::supervise::TaskStatus, tz: chrono_tz::Tz) -> Value {
    json!({
        "name": t.name,
        "running": t.running,
        "restarts": t.restarts,
        "failures": t.failures,
        "last_failure": t.last_failure.map(|at| local_rfc3339(at, tz)),
        "last_error": t.last_error,
    })
}

/// `?from=YYYY-MM-DD&days=N` of `/api/schedule`.
#[derive(Debug, Deserialize)]
pub struct ScheduleQuery {
    from: Option<String>,
    days: Option<u32>,
}

/// `GET /api/schedule`: the posts of `days` (default 7, at most 62) local days from `from`
/// (default today).
pub async fn schedule(
    State(state): State<AppState>,
    Query(q): Query<ScheduleQuery>,
) -> Result<Json<Value>, ApiError> {
    let tz = state.tz();
    // Dates are limited to 1970-9999 (as on the pages), so the range's end cannot overflow.
    let from = match super::pages::parse_day(q.from.as_deref()) {
        Ok(Some(d)) => d,
        Ok(None) => state.now().with_timezone(&tz).date_naive(),
        Err(_) => {
            return Err(ApiError::bad_request(format!(
                "from: {:?} is not a date from 1970-01-01 to 9999-12-31 (YYYY-MM-DD)",
                q.from.as_deref().unwrap_or_default()
            )))
        }
    };
    let days = q.days.unwrap_or(7);
    if !(1..=62).contains(&days) {
        return Err(ApiError::bad_request("days: 1 to 62"));
    }
    let end = from + chrono::Days::new(u64::from(days));
    let posts = state
        .store()
        .posts()
        .between(local_midnight(tz, from), local_midnight(tz, end))?;
    let held = state.store().meta().held_categories()?;
    Ok(Json(json!({
        "timezone": tz.name(),
        "from": from.to_string(),
        "days": days,
        "posts": posts.iter().map(|p| post_json(p, tz, &held)).collect::<Vec<_>>(),
    })))
}

/// The body of `POST /api/pause` (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// Categories to hold; default the plan's `crisis.pause_categories`.
    #[serde(default)]
    categories: Vec<String>,
    /// Why (shown with the hold).
    reason: Option<String>,
}

/// `POST /api/pause`: sets the hold, as `herald pause` does.
pub async fn pause(
    State(state): State<AppState>,
    body: Option<Json<PauseBody>>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let reason = body
        .reason
        .unwrap_or_else(|| "paused through the API".into());
    let hold = crate::schedule::pause(
        state.config(),
        state.store(),
        &body.categories,
        &reason,
        state.now(),
    )
    .map_err(|e| match e {
        PauseError::UnknownCategory(c) => {
            ApiError::bad_request(format!("{c:?} is not a category of the plan"))
        }
        PauseError::Store(e) => e.into(),
    })?;
    tracing::info!(categories = %hold.categories.join(","), "Publishing paused through the API");
    state.wake_publisher();
    Ok(Json(json!({ "hold": hold })))
}

/// `POST /api/resume`: lifts the hold.
pub async fn resume(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    crate::schedule::resume(state.store())?;
    tracing::info!("Publishing resumed through the API");
    state.wake_publisher();
    Ok(Json(json!({ "hold": null })))
}

/// `GET /api/mentions` query: the page's filters plus `limit` (default 50, at most 500) and
/// `offset`.
#[derive(Debug, Deserialize)]
pub struct MentionsQuery {
    #[serde(flatten)]
    filter: MentionFilter,
    limit: Option<String>,
    offset: Option<String>,
}

/// `GET /api/mentions`: stored mentions (the Mention contract plus `source` and
/// `classification`), newest first.
pub async fn mentions(
    State(state): State<AppState>,
    Query(q): Query<MentionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let number = |v: Option<&str>, default: usize, name: &str| -> Result<usize, ApiError> {
        v.map_or(Ok(default), |s| {
            s.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("{name}: not a number")))
        })
    };
    let limit = number(q.limit.as_deref(), 50, "limit")?.clamp(1, 500);
    let offset = number(q.offset.as_deref(), 0, "offset")?;
    let (found, more) = search_mentions(state.store(), &q.filter, offset, limit)?;
    Ok(Json(json!({ "mentions": found, "more": more })))
}

/// An alert as the API lists it: the record without its delivery details.
fn alert_summary(a: &crate::store::AlertRecord) -> Value {
    json!({
        "id": a.event.id,
        "topic": a.event.topic,
        "level": a.event.level.as_str(),
        "state": a.state.as_str(),
        "opened_at": a.event.opened_at,
        "window_start": a.event.window_start,
        "negative": a.event.negative,
        "total": a.event.total,
        "baseline": a.event.baseline,
        "acked_by": a.acked_by,
        "resolved_by": a.resolved_by,
    })
}

/// `?all=true` of `/api/alerts`.
#[derive(Debug, Deserialize)]
pub struct AlertsQuery {
    #[serde(default)]
    all: bool,
}

/// `GET /api/alerts`: alerts not yet resolved (every alert with `?all=true`), as stored, open
/// first; with the crisis hold.
pub async fn alerts(
    State(state): State<AppState>,
    Query(q): Query<AlertsQuery>,
) -> Result<Json<Value>, ApiError> {
    let alerts: Vec<_> = state
        .store()
        .alerts()
        .list()?
        .into_iter()
        .filter(|a| q.all || a.state != crate::store::AlertState::Resolved)
        .collect();
    Ok(Json(json!({
        "alerts": alerts,
        "crisis_hold": state.store().meta().crisis_hold()?,
    })))
}

/// The body of `POST /api/alerts/{id}/ack` and `…/resolve` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertActionBody {
    /// Who acts (default `api`).
    by: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("no alert {id:?}"),
    }
}

/// `POST /api/alerts/{id}/ack`: a person has seen the alert.
pub async fn ack_alert(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Option<Json<AlertActionBody>>,
) -> Result<Json<Value>, ApiError> {
    let who = body
        .and_then(|Json(b)| b.by)
        .unwrap_or_else(|| "api".into());
    let record = state
        .store()
        .alerts()
        .ack(&id, &who, state.now())?
        .ok_or_else(|| not_found(&id))?;
    tracing::info!(alert = %id, by = %who, "Alert acknowledged through the API");
    Ok(Json(json!({ "alert": record })))
}

/// `POST /api/alerts/{id}/resolve`: the alert is over; resolving the last open crisis alert
/// lifts the crisis hold (never a person's hold).
pub async fn resolve_alert(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Option<Json<AlertActionBody>>,
) -> Result<Json<Value>, ApiError> {
    let who = body
        .and_then(|Json(b)| b.by)
        .unwrap_or_else(|| "api".into());
    let (record, changed) = crate::crisis::live::resolve(
        state.store(),
        &state.config().plan.pause_categories,
        &id,
        &who,
        state.now(),
    )?;
    let record = record.ok_or_else(|| not_found(&id))?;
    tracing::info!(alert = %id, by = %who, "Alert resolved through the API");
    if changed {
        state.wake_publisher();
    }
    Ok(Json(json!({
        "alert": record,
        "crisis_hold": state.store().meta().crisis_hold()?,
    })))
}
