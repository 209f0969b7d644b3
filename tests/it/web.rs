//! The web UI and JSON API: login, sessions, CSRF, the API token, escaping of mention text, the
//! language choice, the calendar and mention search, and `herald run` serving it all. Router
//! tests call the router in process (`tower::ServiceExt::oneshot`); `browser` drives Chromium;
//! `e2e` drives it against `herald run` and the real peers.

mod alerts;
mod browser;
mod clicks;
mod e2e;
pub(crate) mod inbox;
pub(crate) mod media;
pub(crate) mod reports;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use herald::store::{Store, StoredMention};
use herald::web::{AppState, WebConfig};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::helpers::Workspace;

pub const USER: &str = "mei";
pub const PASSWORD: &str = "correct horse battery";
pub const TOKEN: &str = "it-api-token-0123456789";

/// A router over a scratch store with one user, at a fixed clock.
pub struct App {
    pub ws: Workspace,
    pub store: Store,
    pub router: Router,
    /// The router's state (its login counters).
    pub state: AppState,
    pub wake: Arc<Notify>,
    pub now: DateTime<Utc>,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

impl App {
    pub fn new() -> Self {
        Self::with(WebConfig::default(), Some(TOKEN))
    }

    pub fn with(web: WebConfig, token: Option<&str>) -> Self {
        // 2026-11-23 10:00 in Shanghai.
        let now = at("2026-11-23T02:00:00Z");
        Self::with_clock(web, token, now, Arc::new(move || now))
    }

    /// As [`App::with`], reading the time from `clock` (`now` is the start, for seeding).
    pub fn with_clock(
        web: WebConfig,
        token: Option<&str>,
        now: DateTime<Utc>,
        clock: herald::clock::Clock,
    ) -> Self {
        Self::in_workspace(Workspace::new(), web, token, now, clock)
    }

    /// As [`App::new`], with this `herald.toml`.
    pub fn with_toml(toml: &str) -> Self {
        let ws = Workspace::new();
        ws.write("herald.toml", toml);
        let now = at("2026-11-23T02:00:00Z");
        Self::in_workspace(
            ws,
            WebConfig::default(),
            Some(TOKEN),
            now,
            Arc::new(move || now),
        )
    }

    fn in_workspace(
        ws: Workspace,
        web: WebConfig,
        token: Option<&str>,
        now: DateTime<Utc>,
        clock: herald::clock::Clock,
    ) -> Self {
        let config = herald::config::load(&ws.path().join("herald.toml"), false).expect("config");
        let store = ws.store();
        herald::web::auth::add_user(&store, USER, PASSWORD, false, now).expect("user");
        let wake = Arc::new(Notify::new());
        let state = AppState::new(
            store.clone(),
            Arc::new(config),
            web,
            wake.clone(),
            clock,
            token.map(str::to_string),
        );
        let router = herald::web::router(
            state.clone(),
            vec![herald::web::inbox::plugin(), herald::web::alerts::plugin()],
        );
        Self {
            ws,
            store,
            router,
            state,
            wake,
            now,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.expect("response")
    }

    pub async fn get(&self, path: &str, cookies: &str) -> Response<Body> {
        let mut req = Request::get(path);
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    pub async fn post_form(
        &self,
        path: &str,
        cookies: &str,
        form: &[(&str, &str)],
    ) -> Response<Body> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies);
        }
        self.send(req.body(Body::from(body)).expect("request"))
            .await
    }

    /// Logs in with `password`; returns the response of the POST and the login cookie used.
    pub async fn try_login(&self, user: &str, password: &str) -> Response<Body> {
        let form = self.get("/login", "").await;
        assert_eq!(form.status(), StatusCode::OK);
        let login_cookie = set_cookie(&form, "herald_login").expect("login cookie");
        let html = body(form).await;
        let csrf = hidden(&html, "csrf");
        self.post_form(
            "/login",
            &format!("herald_login={}", cookie_value(&login_cookie)),
            &[
                ("user", user),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/calendar"),
            ],
        )
        .await
    }

    /// A login POST ready to send as if from `peer` (an IP address; empty: no peer known), with
    /// a fresh form token.
    pub async fn login_request(&self, peer: &str, user: &str, password: &str) -> Request<Body> {
        let form = self.get("/login", "").await;
        let login_cookie = set_cookie(&form, "herald_login").expect("login cookie");
        let csrf = hidden(&body(form).await, "csrf");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("user", user),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/calendar"),
            ])
            .finish();
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::COOKIE,
                format!("herald_login={}", cookie_value(&login_cookie)),
            )
            .body(Body::from(body))
            .expect("request");
        if !peer.is_empty() {
            let ip: std::net::IpAddr = peer.parse().expect("peer address");
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                    ip, 40000,
                )));
        }
        req
    }

    /// The status of a login as the test user or another name, from `peer`.
    pub async fn login_from(&self, peer: &str, user: &str, password: &str) -> StatusCode {
        let req = self.login_request(peer, user, password).await;
        self.send(req).await.status()
    }

    /// Logs in as the test user; returns the `Cookie` header value of the session.
    pub async fn login(&self) -> String {
        let res = self.try_login(USER, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login redirects");
        let c = set_cookie(&res, "herald_session").expect("session cookie");
        format!("herald_session={}", cookie_value(&c))
    }

    /// The CSRF token of a logged-in page.
    pub async fn csrf(&self, cookies: &str) -> String {
        let res = self.get("/calendar", cookies).await;
        assert_eq!(res.status(), StatusCode::OK);
        hidden(&body(res).await, "csrf")
    }

    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json_body: Option<Value>,
    ) -> (StatusCode, Value, Response<Body>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match json_body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        let res = self.send(req.expect("request")).await;
        let status = res.status();
        let (parts, b) = res.into_parts();
        let bytes = axum::body::to_bytes(b, usize::MAX).await.expect("body");
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v, Response::from_parts(parts, Body::empty()))
    }
}

pub async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The full `Set-Cookie` value for cookie `name`.
pub fn set_cookie(res: &Response<Body>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

pub fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v)
        .unwrap_or("")
}

/// The value of the first hidden input called `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').expect("end")].to_string()
}

fn location(res: &Response<Body>) -> String {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub fn mention(
    id: &str,
    author: &str,
    text: &str,
    created: &str,
    (platform, sentiment, intent): (&str, &str, &str),
    url: Option<&str>,
) -> StoredMention {
    StoredMention {
        mention: herald::listen::Mention {
            id: id.into(),
            platform: platform.into(),
            author: author.into(),
            text: text.into(),
            created_at: at(created),
            url: url.map(str::to_string),
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        },
        source: "it".into(),
        // The stored JSON shape, read as the store reads it.
        classification: serde_json::from_value(json!({
            "sentiment": {"label": sentiment, "score": 0.0},
            "matches": [{"group": "brand", "rule": "nissan", "term": "日产"}],
            "intent": intent,
            "lead": null,
        }))
        .expect("a stored classification"),
    }
}

#[tokio::test]
async fn pages_need_a_login_but_the_login_page_and_static_files_do_not() {
    let app = App::new();
    for path in [
        "/calendar",
        "/mentions?text=x",
        "/inbox",
        "/alerts",
        "/leads",
        "/",
    ] {
        let res = app.get(path, "").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&res).starts_with("/login?next="),
            "{path}: {}",
            location(&res)
        );
    }
    assert_eq!(
        location(&app.get("/calendar", "").await),
        "/login?next=%2Fcalendar"
    );
    let res = app
        .post_form("/calendar/pause", "", &[("category", "product")])
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.store.meta().hold().expect("hold"), None);
    // A made-up session id is no session.
    let fake = format!("herald_session={}", "ab".repeat(32));
    assert_eq!(
        app.get("/calendar", &fake).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get("/login", "").await.status(), StatusCode::OK);
    let css = app.get("/static/app.css", "").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .starts_with("text/css"));
    assert_eq!(
        app.get("/static/../Cargo.toml", "").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn wrong_passwords_fail_and_repeated_failures_lock_the_name() {
    let app = App::new();
    let res = app.try_login(USER, "wrong password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "herald_session").is_none());
    assert!(body(res).await.contains("Wrong user name or password."));
    let res = app.try_login("nobody", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..4 {
        assert_eq!(
            app.try_login(USER, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Five failures: now even the right password is refused for a while.
    let res = app.try_login(USER, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&res, "herald_session").is_none());
}

/// Sends every request at once; `join_all` polls each to its first wait before any check ends.
async fn all_at_once(app: &App, reqs: Vec<Request<Body>>) -> Vec<Response<Body>> {
    futures_util::future::join_all(reqs.into_iter().map(|r| app.router.clone().oneshot(r)))
        .await
        .into_iter()
        .map(|r| r.expect("response"))
        .collect()
}

fn count(responses: &[Response<Body>], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status() == status).count()
}

#[tokio::test]
async fn forty_parallel_guesses_for_one_name_check_at_most_five_passwords() {
    // Enough password checks at once that only the lockout can stop the guesses.
    let app = App::with(
        WebConfig {
            login_checks: 64,
            ..WebConfig::default()
        },
        None,
    );
    let mut reqs = Vec::new();
    for i in 0..40 {
        reqs.push(
            app.login_request("192.0.2.10", USER, &format!("guess {i}"))
                .await,
        );
    }
    let responses = all_at_once(&app, reqs).await;
    assert_eq!(app.state.login_guard().password_checks(), 5);
    assert_eq!(count(&responses, StatusCode::UNAUTHORIZED), 5);
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 35);
    let refused = responses
        .iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .expect("a refusal");
    let retry: i64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn a_login_flood_is_answered_503_once_every_password_check_is_busy() {
    let app = App::new();
    assert_eq!(
        WebConfig::default().login_checks,
        2,
        "the default pool of password checks"
    );
    // Different names from different addresses: no lockout applies, only the pool.
    let mut reqs = Vec::new();
    for i in 0..40 {
        reqs.push(
            app.login_request(&format!("198.51.100.{i}"), &format!("user{i}"), "wrong")
                .await,
        );
    }
    let responses = all_at_once(&app, reqs).await;
    let busy = count(&responses, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        count(&responses, StatusCode::UNAUTHORIZED),
        2,
        "two checks ran"
    );
    assert_eq!(busy, 38, "the rest were refused at once, not queued");
    assert_eq!(app.state.login_guard().password_checks(), 2);
    let busy = responses
        .into_iter()
        .find(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .expect("busy");
    assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    assert!(body(busy).await.contains("Too many logins at once"));
    // The flood is over: the owner logs in.
    assert_eq!(
        app.login_from("198.51.100.1", USER, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn one_address_is_limited_over_all_names() {
    let app = App::new();
    for i in 0..30 {
        assert_eq!(
            app.login_from("203.0.113.5", &format!("name{i}"), "wrong")
                .await,
            StatusCode::UNAUTHORIZED,
            "guess {i}"
        );
    }
    // Thirty failures from one address: it is refused, even with a right password…
    assert_eq!(
        app.login_from("203.0.113.5", USER, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // … and even for names no account can have, which need no password check.
    assert_eq!(
        app.login_from("203.0.113.5", "not a name!", "x").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another address is not.
    assert_eq!(
        app.login_from("203.0.113.6", USER, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_flood_from_elsewhere_locks_the_owner_out_for_the_window_at_most() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let start = at("2026-11-23T02:00:00Z");
    let minutes = Arc::new(AtomicI64::new(0));
    let clock = {
        let minutes = minutes.clone();
        Arc::new(move || start + TimeDelta::minutes(minutes.load(Ordering::SeqCst)))
    };
    let app = App::with_clock(WebConfig::default(), None, start, clock);
    let owner = "192.0.2.1";
    // One guesser: after five failures its guesses are refused, the owner is not.
    for i in 0..10 {
        let status = app.login_from("203.0.113.66", USER, "guess").await;
        let want = if i < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, want, "guess {i}");
    }
    assert_eq!(
        app.login_from(owner, USER, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    // Guessers at four addresses: twenty failures lock the name everywhere…
    minutes.store(1, Ordering::SeqCst);
    for host in 1..=4 {
        for _ in 0..5 {
            assert_eq!(
                app.login_from(&format!("198.51.100.{host}"), USER, "guess")
                    .await,
                StatusCode::UNAUTHORIZED
            );
        }
    }
    let res = app
        .send(app.login_request(owner, USER, PASSWORD).await)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()[header::RETRY_AFTER], "900");
    // … for fifteen minutes from the first of them, not longer.
    minutes.store(15, Ordering::SeqCst);
    assert_eq!(
        app.login_from(owner, USER, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    minutes.store(16, Ordering::SeqCst);
    assert_eq!(
        app.login_from(owner, USER, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_address_is_the_client() {
    let app = App::with(
        WebConfig {
            behind_proxy: true,
            ..WebConfig::default()
        },
        None,
    );
    let app = &app;
    let from = |forwarded: &'static str| async move {
        let mut req = app.login_request("127.0.0.1", USER, "guess").await;
        req.headers_mut().insert(
            "x-forwarded-for",
            header::HeaderValue::from_static(forwarded),
        );
        app.send(req).await.status()
    };
    for _ in 0..5 {
        assert_eq!(
            from("10.0.0.1, 203.0.113.7").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(from("203.0.113.7").await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is another address.
    assert_eq!(from("203.0.113.8").await, StatusCode::UNAUTHORIZED);
    // Without the setting, every client of the proxy would be the proxy.
    let direct = App::new();
    for _ in 0..5 {
        direct.login_from("127.0.0.1", USER, "guess").await;
    }
    assert_eq!(
        direct.login_from("127.0.0.1", USER, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_served_router_counts_logins_per_peer_address() {
    let app = App::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(herald::web::serve(
        listener,
        app.router.clone(),
        shutdown.clone(),
    ));
    // Loopback is 127/8 on Linux: two clients with two source addresses.
    let login_from = |source: [u8; 4], password: &'static str| {
        let base = base.clone();
        async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(std::net::IpAddr::from(source))
                .build()
                .expect("client");
            let form = client
                .get(format!("{base}/login"))
                .send()
                .await
                .expect("form");
            let cookie = form
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("herald_login="))
                .map(|v| cookie_value(v).to_string())
                .expect("login cookie");
            let csrf = hidden(&form.text().await.expect("html"), "csrf");
            client
                .post(format!("{base}/login"))
                .header(header::COOKIE, format!("herald_login={cookie}"))
                .form(&[
                    ("user", USER),
                    ("password", password),
                    ("csrf", &csrf),
                    ("next", "/calendar"),
                ])
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(login_from([127, 0, 0, 2], "guess").await, 401);
    }
    assert_eq!(login_from([127, 0, 0, 2], PASSWORD).await, 429);
    assert_eq!(
        login_from([127, 0, 0, 3], PASSWORD).await,
        303,
        "the owner, at another address, is not locked out"
    );
    shutdown.cancel();
    server.await.expect("join").expect("serve");
}

#[tokio::test]
async fn an_oversized_login_form_is_refused_unread() {
    let app = App::new();
    let big = "x".repeat(64 * 1024);
    let res = app
        .post_form("/login", "", &[("user", USER), ("password", &big)])
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.state.login_guard().password_checks(), 0);
}

#[tokio::test]
async fn the_login_form_needs_its_own_token() {
    let app = App::new();
    let res = app
        .post_form(
            "/login",
            "",
            &[("user", USER), ("password", PASSWORD), ("csrf", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "herald_session").is_none());
    let res = app
        .post_form(
            "/login",
            "herald_login=aaaa",
            &[("user", USER), ("password", PASSWORD), ("csrf", "bbbb")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn session_cookies_are_http_only_same_site_and_secure_when_configured() {
    let app = App::new();
    let res = app.try_login(USER, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/calendar");
    let c = set_cookie(&res, "herald_session").expect("cookie");
    assert!(c.contains("; HttpOnly"), "{c}");
    assert!(c.contains("; SameSite=Lax"), "{c}");
    assert!(c.contains("; Path=/;"), "{c}");
    assert!(c.contains("Max-Age=43200"), "{c}");
    assert!(!c.contains("Secure"), "{c}");
    let id = cookie_value(&c);
    assert_eq!(id.len(), 64, "256 bits in hex");
    assert!(id.chars().all(|ch| ch.is_ascii_hexdigit()));
    // The store keeps a hash of the id, never the id itself.
    assert_eq!(app.store.users().session(id).expect("get"), None);

    let secure = App::with(
        WebConfig {
            secure_cookies: true,
            ..WebConfig::default()
        },
        None,
    );
    let res = secure.try_login(USER, PASSWORD).await;
    let c = set_cookie(&res, "herald_session").expect("cookie");
    assert!(c.contains("; Secure"), "{c}");
}

#[tokio::test]
async fn a_used_session_outlives_its_idle_deadline_an_unused_one_does_not_and_none_the_maximum() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let start = at("2026-11-23T02:00:00Z");
    let minutes = Arc::new(AtomicI64::new(0));
    let clock = {
        let minutes = minutes.clone();
        Arc::new(move || start + TimeDelta::minutes(minutes.load(Ordering::SeqCst)))
    };
    let app = App::with_clock(
        WebConfig {
            session_idle: Duration::from_secs(30 * 60),
            session_ttl: Duration::from_secs(2 * 3600),
            ..WebConfig::default()
        },
        None,
        start,
        clock,
    );
    let used = app.login().await;
    let unused = app.login().await;
    let res = app.try_login(USER, PASSWORD).await;
    let c = set_cookie(&res, "herald_session").expect("cookie");
    assert!(
        c.contains("Max-Age=7200"),
        "the cookie lives as long as the maximum: {c}"
    );
    let alive = |res: &Response<Body>| res.status() == StatusCode::OK;
    let set = |m: i64| minutes.store(m, Ordering::SeqCst);

    // Used every 20 minutes: alive at 40 and 60, past its first idle deadline (30).
    for m in [20, 40, 60] {
        set(m);
        assert!(
            alive(&app.get("/calendar", &used).await),
            "used, minute {m}"
        );
    }
    // The other, untouched since the login, ended at 30.
    assert_eq!(
        location(&app.get("/calendar", &unused).await),
        "/login?next=%2Fcalendar"
    );
    let csrf = app.csrf(&used).await;
    set(85);
    let res = app
        .post_form("/calendar/pause", &unused, &[("csrf", &csrf)])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "an ended session acts on nothing"
    );
    // Busy up to the maximum (two hours after the login), then ended however busy.
    for m in [85, 110, 119] {
        set(m);
        assert!(
            alive(&app.get("/calendar", &used).await),
            "used, minute {m}"
        );
    }
    set(120);
    assert_eq!(
        app.get("/calendar", &used).await.status(),
        StatusCode::SEE_OTHER
    );
    // Unused for the idle time after its last use: ended too.
    let again = app.login().await;
    set(140);
    assert!(alive(&app.get("/calendar", &again).await));
    set(170);
    assert_eq!(
        app.get("/calendar", &again).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_with_it_pause_and_resume_work() {
    let app = App::new();
    let cookies = app.login().await;
    let csrf = app.csrf(&cookies).await;
    assert_eq!(csrf.len(), 64);

    let missing = app
        .post_form(
            "/calendar/pause",
            &cookies,
            &[("category", "product"), ("reason", "x")],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = app
        .post_form(
            "/calendar/pause",
            &cookies,
            &[("category", "product"), ("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store.meta().hold().expect("hold"),
        None,
        "nothing changed"
    );
    // Another session's token is no good either.
    let other = app.login().await;
    let other_csrf = app.csrf(&other).await;
    assert_ne!(other_csrf, csrf);
    let crossed = app
        .post_form(
            "/calendar/pause",
            &cookies,
            &[("category", "product"), ("csrf", &other_csrf)],
        )
        .await;
    assert_eq!(crossed.status(), StatusCode::FORBIDDEN);

    let ok = app
        .post_form(
            "/calendar/pause",
            &cookies,
            &[
                ("csrf", &csrf),
                ("category", "product"),
                ("category", "lifestyle"),
                ("reason", "recall rumour"),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let hold = app.store.meta().hold().expect("hold").expect("a hold");
    assert_eq!(hold.categories, ["product", "lifestyle"]);
    assert_eq!(hold.reason, "recall rumour");
    assert_eq!(hold.since, app.now);
    tokio::time::timeout(Duration::from_secs(1), app.wake.notified())
        .await
        .expect("the publisher was woken");
    let page = body(app.get("/calendar", &cookies).await).await;
    assert!(page.contains("Publishing is on hold"), "{page}");
    assert!(page.contains("recall rumour"));

    let bad = app
        .post_form(
            "/calendar/pause",
            &cookies,
            &[("csrf", &csrf), ("category", "nonsense")],
        )
        .await;
    assert_eq!(location(&bad), "/calendar?msg=bad_category");

    assert_eq!(
        app.post_form("/calendar/resume", &cookies, &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert!(app.store.meta().hold().expect("hold").is_some());
    let res = app
        .post_form("/calendar/resume", &cookies, &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store.meta().hold().expect("hold"), None);

    // Logging out needs the token too, and ends the session.
    assert_eq!(
        app.post_form("/logout", &cookies, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let out = app.post_form("/logout", &cookies, &[("csrf", &csrf)]).await;
    assert_eq!(location(&out), "/login");
    assert_eq!(
        app.get("/calendar", &cookies).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn every_response_has_the_security_headers() {
    let app = App::new();
    let cookies = app.login().await;
    for res in [
        app.get("/login", "").await,
        app.get("/calendar", &cookies).await,
        app.get("/nope", "").await,
    ] {
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("csp");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    let page = body(app.get("/calendar", &cookies).await).await;
    assert!(!page.contains("<script>"), "no inline script");
    assert!(page.contains("<script src=\"/static/app.js\" defer></script>"));
}

#[tokio::test]
async fn the_api_needs_its_token_and_does_what_the_pages_do() {
    let app = App::new();
    let (status, v, res) = app.api("GET", "/api/status", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(v["error"].is_string());
    let (status, _, _) = app
        .api("GET", "/api/status", Some("it-api-token-012345678"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a prefix of the token is wrong"
    );
    // A browser session does not open the API.
    let cookies = app.login().await;
    assert_eq!(
        app.get("/api/status", &cookies).await.status(),
        StatusCode::UNAUTHORIZED
    );

    app.store
        .posts()
        .put(&crate::helpers::stored_post(
            "outbox",
            "保养常识：冬季检查电瓶",
            at("2026-11-23T04:00:00Z"),
        ))
        .expect("put");
    let (status, v, _) = app.api("GET", "/api/status", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["hold"], Value::Null);
    assert_eq!(v["timezone"], "Asia/Shanghai");
    assert_eq!(v["next"]["at"], "2026-11-23T12:00:00+08:00");
    assert_eq!(v["posts_24h"]["planned"], 1);

    let (status, v, _) = app
        .api(
            "GET",
            "/api/schedule?from=2026-11-23&days=1",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["posts"].as_array().expect("posts").len(), 1);
    assert_eq!(v["posts"][0]["text"], "保养常识：冬季检查电瓶");
    let (status, _, _) = app
        .api("GET", "/api/schedule?from=tomorrow", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, v, _) = app
        .api(
            "POST",
            "/api/pause",
            Some(TOKEN),
            Some(json!({"categories": ["service"], "reason": "drill"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["hold"]["categories"], json!(["service"]));
    assert_eq!(
        app.store.meta().hold().expect("hold").expect("held").reason,
        "drill"
    );
    let (_, v, _) = app
        .api(
            "GET",
            "/api/schedule?from=2026-11-23&days=1",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(v["posts"][0]["held"], true);
    let (status, v, _) = app
        .api(
            "POST",
            "/api/pause",
            Some(TOKEN),
            Some(json!({"categories": ["weather"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().expect("error").contains("weather"));
    let (status, _, _) = app.api("POST", "/api/resume", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(app.store.meta().hold().expect("hold").is_some());
    let (status, v, _) = app.api("POST", "/api/resume", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["hold"], Value::Null);
    assert_eq!(app.store.meta().hold().expect("hold"), None);

    app.store
        .mentions()
        .insert(&mention(
            "m1",
            "li",
            "刹车异响",
            "2026-11-22T10:00:00Z",
            ("mastodon", "negative", "complaint"),
            None,
        ))
        .expect("insert");
    app.store
        .mentions()
        .insert(&mention(
            "m2",
            "wang",
            "想试驾",
            "2026-11-22T11:00:00Z",
            ("bluesky", "positive", "purchase"),
            None,
        ))
        .expect("insert");
    let (status, v, _) = app
        .api("GET", "/api/mentions?sentiment=negative", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = v["mentions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["m1"]);
    let (_, v, _) = app
        .api("GET", "/api/mentions?limit=1", Some(TOKEN), None)
        .await;
    assert_eq!(v["mentions"][0]["id"], "m2", "newest first");
    assert_eq!(v["more"], true);

    let off = App::with(WebConfig::default(), None);
    let (status, v, _) = off.api("GET", "/api/status", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(v["error"]
        .as_str()
        .expect("error")
        .contains("HERALD_API_TOKEN"));
}

/// Mention texts, authors and links that try to run script; the page must show them as text.
const XSS: &[(&str, &str)] = &[
    (
        "<script>alert('x')</script>",
        "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;",
    ),
    (
        "\"><img src=x onerror=alert(1)>",
        "&#34;&#62;&#60;img src=x onerror=alert(1)&#62;",
    ),
    (
        "<a href=\"javascript:alert(1)\">点我</a>",
        "&#60;a href=&#34;javascript:alert(1)&#34;&#62;点我&#60;/a&#62;",
    ),
    (
        "</textarea><svg/onload=alert(1)>",
        "&#60;/textarea&#62;&#60;svg/onload=alert(1)&#62;",
    ),
    (
        "\u{202e}gnp.exe \u{200b}<b>bold</b> ＜script＞",
        // The right-to-left override is removed from pages (issue 14): "exe.png" stays "gnp.exe".
        "gnp.exe \u{200b}&#60;b&#62;bold&#60;/b&#62; ＜script＞",
    ),
    (
        "{{ 7*7 }} {% raw %} &amp; &#60;script&#62;",
        "{{ 7*7 }} {% raw %} &#38;amp; &#38;#60;script&#38;#62;",
    ),
];

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = App::new();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let req = Request::get("/api/status")
            .header(header::AUTHORIZATION, format!("{scheme} {TOKEN}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(req).await.status(), StatusCode::OK, "{scheme}");
    }
    for wrong in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        "Bearer ".to_string(),
        format!("bearer {TOKEN}x"),
    ] {
        let req = Request::get("/api/status")
            .header(header::AUTHORIZATION, wrong.clone())
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            app.send(req).await.status(),
            StatusCode::UNAUTHORIZED,
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn hostile_mention_text_renders_inert() {
    let app = App::new();
    for (i, (text, _)) in XSS.iter().enumerate() {
        let author = if i == 1 {
            "<img src=x onerror=alert(2)>"
        } else {
            "troll"
        };
        let url = match i {
            0 => Some("javascript:alert(document.cookie)"),
            1 => Some(" JaVaScRiPt:alert(1)"),
            2 => Some("data:text/html,<script>alert(1)</script>"),
            _ => Some("https://example.org/ok?a=1&b=\"2\""),
        };
        app.store
            .mentions()
            .insert(&mention(
                &format!("x{i}"),
                author,
                text,
                &format!("2026-11-22T10:0{i}:00Z"),
                ("mastodon", "negative", "complaint"),
                url,
            ))
            .expect("insert");
    }
    let cookies = app.login().await;
    let page = body(app.get("/mentions", &cookies).await).await;
    for (text, escaped) in XSS {
        assert!(
            page.contains(escaped),
            "{text:?} should appear as {escaped:?}"
        );
    }
    assert!(
        page.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "author escaped"
    );
    for live in [
        "<script>alert",
        "<img",
        "<svg",
        "<b>bold",
        "onerror=alert(1)>",
        "href=\"javascript:",
        "href=\" JaVaScRiPt",
        "href=\"data:",
    ] {
        assert!(!page.contains(live), "live markup {live:?} in the page");
    }
    assert!(
        page.contains("href=\"https://example.org/ok?a=1&#38;b=&#34;2&#34;\""),
        "safe links stay, escaped"
    );
    assert_eq!(
        page.matches("rel=\"noopener noreferrer nofollow\"").count(),
        XSS.len() - 3
    );

    // What a user types into the search comes back escaped in the form.
    let q = "\"><script>alert(9)</script>";
    let url = format!(
        "/mentions?text={}",
        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let page = body(app.get(&url, &cookies).await).await;
    assert!(
        page.contains("value=\"&#34;&#62;&#60;script&#62;alert(9)&#60;/script&#62;\""),
        "{page}"
    );
    assert!(!page.contains("<script>alert(9)"));

    // Post text in the calendar is escaped too.
    app.store
        .posts()
        .put(&crate::helpers::stored_post(
            "outbox",
            "<script>alert('post')</script>",
            at("2026-11-23T04:00:00Z"),
        ))
        .expect("put");
    let page = body(app.get("/calendar?date=2026-11-23", &cookies).await).await;
    assert!(
        page.contains("&#60;script&#62;alert(&#39;post&#39;)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"));
}

#[tokio::test]
async fn accept_language_and_the_switch_choose_chinese_or_english() {
    let app = App::new();
    let get = |lang: &'static str, cookie: &'static str| {
        let mut req = Request::get("/login").header(header::ACCEPT_LANGUAGE, lang);
        if !cookie.is_empty() {
            req = req.header(header::COOKIE, cookie);
        }
        app.send(req.body(Body::empty()).expect("request"))
    };
    let zh = body(get("zh-CN,zh;q=0.9,en;q=0.8", "").await).await;
    assert!(
        zh.contains("<html lang=\"zh-CN\">")
            && zh.contains("用户名")
            && zh.contains(">登录</button>"),
        "{zh}"
    );
    let en = body(get("en-US,en;q=0.9", "").await).await;
    assert!(
        en.contains("<html lang=\"en\">") && en.contains("User name") && !en.contains("用户名"),
        "{en}"
    );
    let fallback = body(get("fr-FR", "").await).await;
    assert!(fallback.contains("<html lang=\"en\">"));
    let chosen = body(get("en-US", "herald_lang=zh").await).await;
    assert!(chosen.contains("用户名"), "the switch beats the header");

    let res = app.get("/lang/zh?next=/mentions", "").await;
    assert_eq!(location(&res), "/mentions");
    let c = set_cookie(&res, "herald_lang").expect("cookie");
    assert!(c.starts_with("herald_lang=zh;"), "{c}");
    assert_eq!(
        location(&app.get("/lang/en?next=//evil.example", "").await),
        "/calendar"
    );

    let cookies = app.login().await;
    let page = body(
        app.get("/calendar", &format!("{cookies}; herald_lang=zh"))
            .await,
    )
    .await;
    assert!(page.contains("发布日历") && page.contains("舆情检索") && page.contains("退出登录"));
    let page = body(
        app.get("/alerts", &format!("{cookies}; herald_lang=zh"))
            .await,
    )
    .await;
    assert!(page.contains("未解决的预警"), "the Alerts page in Chinese");
}

#[tokio::test]
async fn the_calendar_shows_the_week_in_the_plan_timezone_with_held_posts_marked() {
    let app = App::new();
    let cookies = app.login().await;
    // 23:30 UTC on the 22nd is 07:30 on the 23rd in Shanghai: it belongs to the 23rd.
    let mut p = crate::helpers::stored_post("outbox", "冬季保养：检查电瓶和轮胎气压，预约到店享工时八折优惠，名额有限先到先得，详情请咨询门店客服人员或拨打热线电话。本周六还有免费洗车和空调检测，欢迎车主朋友们带家人一起来店里坐坐，喝杯茶聊聊用车心得。", at("2026-11-22T23:30:00Z"));
    p.category = "service".into();
    app.store.posts().put(&p).expect("put");
    let mut q = crate::helpers::stored_post("outbox", "新车品鉴", at("2026-11-25T12:00:00Z"));
    q.category = "product".into();
    app.store.posts().put(&q).expect("put");
    herald::schedule::resume(&app.store).expect("no hold");

    let page = body(
        app.get("/calendar?date=2026-11-23&view=day", &cookies)
            .await,
    )
    .await;
    assert!(page.contains("Mon 2026-11-23"), "{page}");
    assert!(page.contains("<span class=\"time\">07:30</span>"), "{page}");
    assert!(page.contains("冬季保养：检查电瓶"));
    assert!(page.contains("…"), "long text is cut");
    assert!(!page.contains("新车品鉴"), "another day");

    let page = body(app.get("/calendar?date=2026-11-25", &cookies).await).await;
    assert!(
        page.contains("Mon 2026-11-23") && page.contains("Sun 2026-11-29"),
        "the week from Monday"
    );
    assert!(page.contains("新车品鉴") && page.contains("冬季保养"));
    assert!(page.contains("Times in Asia/Shanghai"));

    let csrf = app.csrf(&cookies).await;
    app.post_form(
        "/calendar/pause",
        &cookies,
        &[("csrf", &csrf), ("category", "product")],
    )
    .await;
    let page = body(app.get("/calendar?date=2026-11-25", &cookies).await).await;
    assert_eq!(
        page.matches("is-held").count(),
        1,
        "only the product post is held"
    );
    assert!(page.contains("planned (held)"));
}

#[tokio::test]
async fn mention_search_filters_and_pages() {
    let app = App::new();
    for i in 0..60 {
        let (platform, sentiment, intent) = if i % 3 == 0 {
            ("bluesky", "negative", "complaint")
        } else {
            ("mastodon", "positive", "praise")
        };
        let created = (at("2026-11-20T00:00:00Z") + TimeDelta::minutes(i)).to_rfc3339();
        app.store
            .mentions()
            .insert(&mention(
                &format!("m{i}"),
                &format!("user{}", i % 5),
                &format!("mention number {i} 日产"),
                &created,
                (platform, sentiment, intent),
                None,
            ))
            .expect("insert");
    }
    let cookies = app.login().await;
    let rows = |html: &str| html.matches("<tr class=\"mention\">").count();
    let first = body(app.get("/mentions", &cookies).await).await;
    assert_eq!(rows(&first), 50);
    assert!(first.contains("mention number 59 "), "newest first");
    assert!(first.contains("page=2"));
    let second = body(app.get("/mentions?page=2", &cookies).await).await;
    assert_eq!(rows(&second), 10);
    assert!(second.contains("mention number 0 ") && !second.contains("page=3"));

    let neg = body(
        app.get("/mentions?sentiment=negative&platform=bluesky", &cookies)
            .await,
    )
    .await;
    assert_eq!(rows(&neg), 20);
    assert!(
        !neg.contains("sentiment-positive")
            && neg.contains("<td class=\"sentiment-negative\">negative</td>")
    );
    let praise = body(
        app.get("/mentions?intent=praise&author=user1", &cookies)
            .await,
    )
    .await;
    assert_eq!(rows(&praise), 8, "{praise}");
    let text = body(app.get("/mentions?text=number+42+", &cookies).await).await;
    assert_eq!(rows(&text), 1);
    let topic = body(app.get("/mentions?topic=crisis", &cookies).await).await;
    assert_eq!(rows(&topic), 0);
    assert!(topic.contains("No mentions match."));
    let topic = body(
        app.get(
            "/mentions?topic=brand%2Fnissan&sentiment=negative",
            &cookies,
        )
        .await,
    )
    .await;
    assert_eq!(rows(&topic), 20);
}

#[test]
fn herald_run_serves_the_web_ui_on_the_configured_port_and_stops_gracefully() {
    let ws = Workspace::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    ws.write(
        "herald.toml",
        &format!("[web]\nbind = \"127.0.0.1:{port}\"\n"),
    );
    let add = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["user", "add", "mei"])
        .current_dir(ws.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(b"correct horse battery\n")?;
            c.wait_with_output()
        })
        .expect("user add");
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let list = ws.herald(&["user", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.starts_with("mei  added "), "{}", list.stdout);
    assert!(list.stdout.contains("1 user(s)"));
    let again = ws.herald(&["user", "add", "mei"]);
    assert_eq!(
        again.code, 2,
        "empty password from stdin is refused: {}",
        again.stderr
    );

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("run")
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .env("HERALD_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("herald run");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let served = rt.block_on(async {
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{base}/calendar")).send().await {
                return Some(r);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    });
    let res = served.expect("herald run serves the web UI");
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
    let status: Value = rt.block_on(async {
        client
            .get(format!("{base}/api/status"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("api")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(status["hold"], Value::Null);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("exit");
    assert!(
        out.status.success(),
        "graceful exit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_non_loopback_bind_is_refused_with_file_line_and_key() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "timezone = \"Asia/Shanghai\"\n\n[web]\nbind = \"0.0.0.0:8080\"\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("herald.toml:4:"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("web.bind: 0.0.0.0 is not a loopback address"),
        "{}",
        run.stderr
    );
}

/// A page a later part of herald adds: it sees the logged-in user through `Chrome`.
async fn plugin_page(page: herald::web::Chrome) -> String {
    format!("inbox plugin for {}", page.user)
}

#[tokio::test]
async fn plugin_routes_get_login_csrf_and_token_checks_and_replace_the_placeholder() {
    use axum::routing::{get, post};
    let ws = Workspace::new();
    let config = herald::config::load(&ws.path().join("herald.toml"), false).expect("config");
    let store = ws.store();
    herald::web::auth::add_user(&store, USER, PASSWORD, false, Utc::now()).expect("user");
    let state = AppState::new(
        store.clone(),
        Arc::new(config),
        WebConfig::default(),
        Arc::new(Notify::new()),
        herald::clock::system_clock(),
        Some(TOKEN.into()),
    );
    let plugin = herald::web::Plugin {
        sections: vec!["inbox"],
        pages: Router::new()
            .route("/inbox", get(plugin_page))
            .route("/inbox/approve", post(|| async { "approved" })),
        api: Router::new().route("/api/queue", get(|| async { "[]" })),
    };
    let app = App {
        ws,
        store,
        router: herald::web::router(state.clone(), vec![plugin]),
        state,
        wake: Arc::new(Notify::new()),
        now: Utc::now(),
    };
    let res = app.get("/inbox", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "behind the login");
    let cookies = app.login().await;
    let page = body(app.get("/inbox", &cookies).await).await;
    assert_eq!(
        page, "inbox plugin for mei",
        "the plugin, not the placeholder"
    );
    assert!(body(app.get("/alerts", &cookies).await)
        .await
        .contains("Not yet available"));

    let csrf = app.csrf(&cookies).await;
    let refused = app
        .post_form("/inbox/approve", &cookies, &[("id", "1")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "CSRF-checked");
    let done = app
        .post_form("/inbox/approve", &cookies, &[("id", "1"), ("csrf", &csrf)])
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(body(done).await, "approved");

    let (status, _, _) = app.api("GET", "/api/queue", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "behind the token");
    let (status, v, _) = app.api("GET", "/api/queue", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!([]));
}
