//! The web UI and the JSON API that `herald run` serves: an axum router over the store.
//!
//! The module owns HTTP only: login and sessions ([`auth`]), the strings of both languages
//! ([`i18n`]), the pages ([`pages`], the weekly report's in [`reports`]) and the API ([`api`]). Every decision a page offers (pause,
//! resume, the schedule, mention search) is a library call that the CLI makes too, so the UI
//! never has rules of its own.
//!
//! Security, in one place so later pages inherit it: every route except `/login`, `/lang/…`,
//! `/static/…` and the public click redirect `/r/…` ([`clicks`], which keeps nothing about its
//! visitors and bounds what they can make it do) needs a session; logins are limited in concurrency and per name and address
//! ([`auth::LoginGuard`]); every POST to a page must carry the session's CSRF token (checked
//! by a middleware before any handler runs); the API needs a bearer token; every response gets a
//! strict Content-Security-Policy (no inline script), `frame-ancestors 'none'`, `nosniff`; pages
//! are rendered by askama, which escapes every value. Pictures of the media library are served
//! only as thumbnails, behind the login, by name checked to stay in the media folder
//! ([`media`]).
//!
//! # Adding a page or an API route
//! Build a [`Plugin`] and pass it to [`router`]:
//! ```text
//! Plugin {
//!     sections: vec!["inbox"],                       // nav sections it serves (no placeholder)
//!     pages: Router::new().route("/inbox", get(inbox_page)).route("/inbox/{id}/approve", post(approve)),
//!     api: Router::new().route("/api/queue", get(queue_json)),
//! }
//! ```
//! A page handler takes [`Chrome`] (the user, language, CSRF token, navigation) and renders an
//! askama template that `{% extends "layout.html" %}` (templates live in `src/web/templates/`, with `config = "src/web/askama.toml"` on the derive) and has a `page: Chrome` field; its
//! forms carry `<input type="hidden" name="csrf" value="{{ page.csrf }}">`. Strings go into
//! [`i18n::STRINGS`]. Errors are returned as [`WebError`] (logged, shown plainly); API errors as
//! [`api::ApiError`].

pub mod alerts;
pub mod api;
pub mod auth;
pub mod chart;
pub mod clicks;
pub mod config;
pub mod i18n;
pub mod inbox;
pub mod media;
pub mod pages;
pub mod reports;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;
pub use config::WebConfig;
use i18n::{t, Lang};

/// What every handler can reach: the store, the configuration, the publisher's wake-up, the
/// clock, and the login state that lives only in memory.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Arc<Config>,
    web: WebConfig,
    wake: Arc<Notify>,
    clock: Clock,
    api_token: Option<String>,
    login: auth::LoginGuard,
    tasks: crate::supervise::Tasks,
}

impl AppState {
    /// The state for one server. `api_token` is the value of the variable `web.api_token_env`
    /// names (None: the API answers 503).
    pub fn new(
        store: Store,
        config: Arc<Config>,
        web: WebConfig,
        wake: Arc<Notify>,
        clock: Clock,
        api_token: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                wake,
                clock,
                api_token: api_token.filter(|t| !t.is_empty()),
                login: auth::LoginGuard::new(web.login_checks),
                web,
                tasks: crate::supervise::Tasks::default(),
            }),
        }
    }

    /// The state with the record of `herald run`'s supervised tasks, which `/api/status`
    /// shows (without it, the list is empty). Call before the state is cloned.
    pub fn with_tasks(mut self, tasks: crate::supervise::Tasks) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tasks = tasks;
        }
        self
    }

    /// The record of the supervised tasks.
    pub fn tasks(&self) -> &crate::supervise::Tasks {
        &self.inner.tasks
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The whole configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The `[web]` section.
    pub fn web(&self) -> &WebConfig {
        &self.inner.web
    }

    /// The brake on password guessing (its counters show what a login flood did).
    pub fn login_guard(&self) -> &auth::LoginGuard {
        &self.inner.login
    }

    /// Wakes the publisher (after a pause or resume, so it re-reads the hold at once).
    pub fn wake_publisher(&self) {
        self.inner.wake.notify_one();
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.inner.clock)()
    }

    /// The media library: `<content_plan>/media/`.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.inner.config.herald.media_dir()
    }

    /// Where thumbnails are cached: `<data_dir>/media-cache/thumbs/`, never the content plan.
    pub fn thumb_dir(&self) -> std::path::PathBuf {
        self.inner.config.herald.media_cache_dir().join("thumbs")
    }

    /// The configured timezone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.inner.config.herald.timezone
    }
}

/// Routes another part of herald adds to the UI and the API.
pub struct Plugin {
    /// Navigation sections (`inbox`, `alerts`, `leads`) this plugin serves at `/<section>`, so
    /// the "not yet available" placeholder is not registered for them.
    pub sections: Vec<&'static str>,
    /// Page routes: behind login; POSTs are CSRF-checked before they reach a handler.
    pub pages: Router<AppState>,
    /// API routes (paths start with `/api/`): behind the bearer token.
    pub api: Router<AppState>,
}

/// The navigation, in order: (section, i18n key).
pub const NAV: &[(&str, &str)] = &[
    ("inbox", "nav.inbox"),
    ("calendar", "nav.calendar"),
    ("alerts", "nav.alerts"),
    ("mentions", "nav.mentions"),
    ("leads", "nav.leads"),
    ("reports", "nav.reports"),
];

/// Builds the whole router: public routes, pages behind login and CSRF, the API behind its
/// token, the plugins' routes, and security headers on everything.
pub fn router(state: AppState, plugins: Vec<Plugin>) -> Router {
    let mut pages = Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/calendar") }),
        )
        .route("/calendar", get(pages::calendar))
        .route("/calendar/pause", post(pages::pause))
        .route("/calendar/resume", post(pages::resume))
        .route("/mentions", get(pages::mentions))
        .route("/reports", get(reports::reports_page))
        .route("/reports/report.css", get(reports::stylesheet))
        .route("/reports/week.html", get(reports::download_html))
        .route("/reports/week.csv", get(reports::download_csv))
        .route("/reports/week.json", get(reports::download_json))
        .route("/media/thumb/{*file}", get(media::thumb))
        .route("/logout", post(auth::logout));
    let mut api = Router::new()
        .route("/api/status", get(api::status))
        .route("/api/schedule", get(api::schedule))
        .route("/api/pause", post(api::pause))
        .route("/api/resume", post(api::resume))
        .route("/api/mentions", get(api::mentions))
        .route("/api/alerts", get(api::alerts))
        .route("/api/alerts/{id}/ack", post(api::ack_alert))
        .route("/api/alerts/{id}/resolve", post(api::resolve_alert));
    let claimed: Vec<&str> = plugins.iter().flat_map(|p| p.sections.clone()).collect();
    for (section, _) in NAV {
        if !["calendar", "mentions", "reports"].contains(section) && !claimed.contains(section) {
            pages = pages.route(&format!("/{section}"), get(pages::soon));
        }
    }
    for plugin in plugins {
        pages = pages.merge(plugin.pages);
        api = api.merge(plugin.api);
    }
    let pages = pages.layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_session,
    ));
    let api = api.layer(middleware::from_fn_with_state(
        state.clone(),
        api::require_token,
    ));
    Router::new()
        .route(
            "/login",
            get(auth::login_form)
                .post(auth::login)
                .layer(axum::extract::DefaultBodyLimit::max(
                    auth::MAX_LOGIN_FORM_BYTES,
                )),
        )
        .route("/lang/{code}", get(pages::switch_lang))
        .route("/static/{file}", get(pages::static_file))
        .merge(clicks::routes())
        .merge(pages)
        .merge(api)
        .fallback(pages::not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown`, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// The Content-Security-Policy of every response: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let is_thumb = req.uri().path().starts_with(media::THUMB_PREFIX);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // A thumbnail keeps the private cache header its handler set (its 404 gets none).
    let cacheable = is_static || (is_thumb && h.contains_key(header::CACHE_CONTROL));
    if !cacheable {
        // Pages show private data: keep them out of shared and back-button caches.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// A failure a page handler returns: logged with its cause, shown as a plain message.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A template failed to render.
    #[error(transparent)]
    Render(#[from] askama::Error),
    /// Anything else that is herald's fault.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "Web request failed");
        plain_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong. The server log has the details. / 出错了，详情请查看服务器日志。",
        )
    }
}

/// A minimal page with one message (errors, 403s), needing no template state.
pub fn plain_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>herald</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"plain\">\
         <p>{}</p><p><a href=\"/\">herald</a></p></main></body></html>",
        escape(message)
    );
    (status, Html(body)).into_response()
}

pub use crate::untrusted::html as escape;

/// Renders a template into a response (without bidi controls: [`pages::strip_bidi_controls`]),
/// or a logged error.
pub fn render<T: askama::Template>(template: &T) -> Result<Response, WebError> {
    Ok(Html(pages::strip_bidi_controls(template.render()?)).into_response())
}

/// One navigation link.
#[derive(Debug, Clone)]
pub struct NavLink {
    /// The i18n key of its label.
    pub key: &'static str,
    /// Where it goes.
    pub href: String,
    /// Whether it is the current section.
    pub active: bool,
}

/// What the layout needs on every page: who is logged in, in which language, the CSRF token for
/// forms, and where we are. Extract it in a page handler.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The UI language.
    pub lang: Lang,
    /// The logged-in user's name.
    pub user: String,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// The request path and query (for the language switch to come back to).
    pub path: String,
    /// The first path segment (`calendar`), to mark the nav link.
    pub section: String,
    /// The holds in force, for the banner at the top of every page (a person's first).
    pub holds: Vec<HoldNotice>,
}

/// A hold on publishing as the banner on every page shows it.
#[derive(Debug, Clone)]
pub struct HoldNotice {
    /// Set by open crisis alerts (else by a person's pause).
    pub crisis: bool,
    /// When it began, local time.
    pub since: String,
    /// The held categories, comma-separated.
    pub categories: String,
    /// Why, as recorded.
    pub reason: String,
}

impl HoldNotice {
    fn new(hold: crate::store::Hold, crisis: bool, tz: chrono_tz::Tz) -> Self {
        Self {
            crisis,
            since: hold
                .since
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            categories: hold.categories.join(", "),
            reason: hold.reason,
        }
    }
}

impl Chrome {
    /// The text of `key` in the page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }

    /// The navigation links, the current one marked.
    pub fn nav(&self) -> Vec<NavLink> {
        NAV.iter()
            .map(|(section, key)| NavLink {
                key,
                href: format!("/{section}"),
                active: *section == self.section,
            })
            .collect()
    }
}

/// The language of a request: the switch cookie, else `Accept-Language`.
pub fn request_lang(headers: &HeaderMap) -> Lang {
    let cookie = auth::cookie(headers, i18n::LANG_COOKIE);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(cookie.as_deref(), accept)
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<auth::CurrentSession>()
            .cloned()
            .ok_or_else(|| WebError::Internal("a page route is not behind the login".into()))?;
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let section = parts
            .uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let tz = state.tz();
        let holds = (state
            .store()
            .meta()
            .hold()?
            .map(|h| HoldNotice::new(h, false, tz)))
        .into_iter()
        .chain(
            state
                .store()
                .meta()
                .crisis_hold()?
                .map(|h| HoldNotice::new(h, true, tz)),
        )
        .collect();
        Ok(Chrome {
            lang: request_lang(&parts.headers),
            user: session.user,
            csrf: session.csrf,
            path,
            section,
            holds,
        })
    }
}
