//! Logging in: argon2 password hashes, sessions kept in the store, CSRF tokens, and a brake on
//! password guessing.
//!
//! A session id is 256 random bits, sent only in an `HttpOnly`, `SameSite=Lax` cookie (plus
//! `Secure` when configured); the store keeps the SHA-256 of it, so a copy of the store cannot
//! be replayed as a login. Each session has its own CSRF token that [`require_session`] checks
//! on every non-GET request before a handler sees it. A session ends when it has not been used
//! for `session_idle_minutes` (each use starts that period again: [`slide`]) and in any case
//! `session_hours` after the login. The login form itself is protected by a
//! double-submit token in a short-lived cookie. After [`MAX_FAILURES`] wrong passwords for a
//! name within [`LOCKOUT`], that name is refused until the window passes.

use std::collections::HashMap;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use askama::Template;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::i18n::Lang;
use super::{plain_page, render, request_lang, AppState, WebError};
use crate::store::{Session, Store, StoreError, User};

/// The session cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "herald_login";
/// Wrong passwords for one name before it is locked out.
pub const MAX_FAILURES: u32 = 5;
/// How long failures count, and how long a lockout lasts.
pub const LOCKOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// The shortest password `herald user add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a user could not be added or a password checked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The name has characters outside `A-Z a-z 0-9 . _ -` or is not 1 to 64 long.
    #[error("a user name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    BadName,
    /// The password is too short (or absurdly long).
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters (and at most 1024)")]
    WeakPassword,
    /// The name is taken (and replacing was not asked for).
    #[error("user {0:?} exists already (use --replace to set a new password)")]
    Exists(String),
    /// Hashing or the random source failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `name` is acceptable as a login name.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An argon2id hash (PHC string) of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Adds a user (or sets a new password when `replace`), as `herald user add` does.
pub fn add_user(
    store: &Store,
    name: &str,
    password: &str,
    replace: bool,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    if !valid_user_name(name) {
        return Err(AuthError::BadName);
    }
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=1024).contains(&chars) {
        return Err(AuthError::WeakPassword);
    }
    let user = User {
        name: name.to_string(),
        password_hash: hash_password(password)?,
        created_at: now,
    };
    if store.put_user(&user, replace)? {
        Ok(())
    } else {
        Err(AuthError::Exists(name.to_string()))
    }
}

/// 256 random bits as 64 hex digits.
pub fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| WebError::Internal(format!("random source failed: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The store key of a session id: its SHA-256, so the store never holds a usable id.
fn session_key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Compares two secrets in time independent of where they differ (hashing first makes the
/// length not matter either).
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// A `Set-Cookie` value; always `HttpOnly` and `SameSite`, `Secure` when asked.
fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    secure: bool,
    same_site: &str,
) -> HeaderValue {
    let mut c =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}");
    if secure {
        c.push_str("; Secure");
    }
    // Names and values are ours (hex, fixed words), so this is always a valid header.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Failed logins per name, in memory: a restart forgets them, which only shortens a lockout.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<String, (u32, DateTime<Utc>)>,
}

impl Throttle {
    /// Whether `name` may try now.
    pub fn allows(&mut self, name: &str, now: DateTime<Utc>) -> bool {
        let key = name.to_lowercase();
        match self.failures.get(&key) {
            Some((_, first)) if now - *first >= LOCKOUT => {
                self.failures.remove(&key);
                true
            }
            Some((n, _)) => *n < MAX_FAILURES,
            None => true,
        }
    }

    /// Counts a wrong password for `name`.
    pub fn fail(&mut self, name: &str, now: DateTime<Utc>) {
        // Bound the memory a guesser cycling through names can take.
        if self.failures.len() > 10_000 {
            self.failures.retain(|_, (_, first)| now - *first < LOCKOUT);
        }
        let entry = self.failures.entry(name.to_lowercase()).or_insert((0, now));
        entry.0 += 1;
    }

    /// Forgets the failures of `name` after a successful login.
    pub fn clear(&mut self, name: &str) {
        self.failures.remove(&name.to_lowercase());
    }
}

/// The logged-in session of a request (put into its extensions by [`require_session`]).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The store key of the session.
    pub key: String,
    /// The user's name.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The session a request's cookie names, if it exists, has not expired and its user still does.
fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<CurrentSession>, StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|v| v.len() == 64) else {
        return Ok(None);
    };
    let key = session_key(&id);
    let Some(session) = state.store().session(&key)? else {
        return Ok(None);
    };
    let now = state.now();
    let (idle, max) = session_limits(state.web());
    let Some(expires_at) = slide(&session, now, idle, max) else {
        return Ok(None);
    };
    if state.store().user(&session.user)?.is_none() {
        return Ok(None);
    }
    if expires_at - session.expires_at >= TOUCH_EVERY {
        let extended = Session {
            expires_at,
            ..session.clone()
        };
        // Lost to a concurrent logout or extension: either way nothing is to be done.
        state.store().replace_session(&key, &session, &extended)?;
    }
    Ok(Some(CurrentSession {
        key,
        user: session.user,
        csrf: session.csrf,
    }))
}

/// A used session is written back with its later expiry at most this often, so a page full of
/// requests costs one store write, not one each.
pub const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The idle timeout and the absolute maximum of a login, from `[web]` (the idle timeout never
/// exceeds the maximum).
pub fn session_limits(web: &super::WebConfig) -> (chrono::TimeDelta, chrono::TimeDelta) {
    let max = chrono::TimeDelta::from_std(web.session_ttl).unwrap_or(chrono::TimeDelta::hours(12));
    let idle = chrono::TimeDelta::from_std(web.session_idle).unwrap_or(max);
    (idle.min(max), max)
}

/// Sliding expiry: `None` if `session` has ended at `now` (unused for `idle`, or `max` after
/// its login), else the expiry a use at `now` gives it: `idle` from now, never past `max`
/// after the login. The absolute limit is taken from the configuration, not the record, so
/// shortening `session_hours` shortens logins already made.
pub fn slide(
    session: &Session,
    now: DateTime<Utc>,
    idle: chrono::TimeDelta,
    max: chrono::TimeDelta,
) -> Option<DateTime<Utc>> {
    let end = session.created_at + max;
    if session.expires_at <= now || end <= now {
        return None;
    }
    Some((now + idle).max(session.expires_at).min(end))
}

/// Largest form body the CSRF check reads.
const MAX_FORM_BYTES: usize = 1 << 20;

/// Middleware for page routes: no session → redirect to the login (GET) or 401; a non-GET
/// request without the session's CSRF token in its form → 403.
pub async fn require_session(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, WebError> {
    let Some(session) = current_session(&state, req.headers())? else {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!(
                "/login?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", next_path)
                    .finish()
            );
            return Ok(Redirect::to(&target).into_response());
        }
        return Ok(plain_page(
            StatusCode::UNAUTHORIZED,
            "Log in first. / 请先登录。",
        ));
    };
    let (parts, body) = req.into_parts();
    let req = if parts.method == Method::GET || parts.method == Method::HEAD {
        Request::from_parts(parts, body)
    } else {
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return Ok(plain_page(StatusCode::PAYLOAD_TOO_LARGE, "Form too large.")),
        };
        let sent = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !sent.is_some_and(|t| same_secret(&t, &session.csrf)) {
            tracing::warn!(user = %session.user, path = %parts.uri.path(), "Form refused: CSRF token missing or wrong");
            let lang = request_lang(&parts.headers);
            return Ok(plain_page(
                StatusCode::FORBIDDEN,
                super::i18n::t(lang, "err.csrf"),
            ));
        }
        Request::from_parts(parts, Body::from(bytes))
    };
    let mut req = req;
    req.extensions_mut().insert(session);
    Ok(next.run(req).await)
}

#[derive(Template)]
#[template(path = "login.html", config = "src/web/askama.toml")]
struct LoginPage {
    lang: Lang,
    csrf: String,
    next: String,
    user: String,
    message: Option<&'static str>,
}

impl LoginPage {
    fn t<'a>(&self, key: &'a str) -> &'a str {
        super::i18n::t(self.lang, key)
    }
}

/// `?next=` of the login form.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a local path may be a redirect target (no `//host` or `/\host` tricks).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_string()
        }
        _ => "/calendar".to_string(),
    }
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    user: &str,
    message: Option<&'static str>,
) -> Result<Response, WebError> {
    let token = random_token()?;
    let page = LoginPage {
        lang: request_lang(headers),
        csrf: token.clone(),
        next: next.to_string(),
        user: user.to_string(),
        message,
    };
    let mut res = render(&page)?;
    *res.status_mut() = status;
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &token,
            "/login",
            3600,
            state.web().secure_cookies,
            "Strict",
        ),
    );
    Ok(res)
}

/// `GET /login`: the form (or straight on, when already logged in).
pub async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let next = safe_next(q.next.as_deref());
    if current_session(&state, &headers)?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    login_page(&state, &headers, StatusCode::OK, &next, "", None)
}

/// The login form as posted.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: checks the form token, the lockout and the password; starts a session.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let cookie_token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || !same_secret(&cookie_token, &form.csrf) {
        tracing::warn!("Login refused: form token missing or wrong");
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            &form.user,
            Some("login.expired"),
        );
    }
    let now = state.now();
    let allowed = state
        .inner
        .throttle
        .lock()
        .map(|mut t| t.allows(&form.user, now))
        .unwrap_or(false);
    if !allowed {
        tracing::warn!("Login refused: too many failures for this name");
        return login_page(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &form.user,
            Some("login.throttled"),
        );
    }
    let user = state.store().user(&form.user)?;
    // Verify against a real hash even for an unknown name, so timing does not tell names apart.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = form.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|e| WebError::Internal(format!("password check failed: {e}")))?;
    let known = user.as_ref().map(|u| u.name.clone());
    let Some(user) = user.filter(|_| ok) else {
        if let Ok(mut t) = state.inner.throttle.lock() {
            t.fail(&form.user, now);
        }
        // Name only known users: an unknown "name" may be a password typed in the wrong box.
        let known = known.as_deref().unwrap_or("(unknown)");
        tracing::warn!(user = %known, "Login failed");
        return login_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            &form.user,
            Some("login.failed"),
        );
    };
    if let Ok(mut t) = state.inner.throttle.lock() {
        t.clear(&form.user);
    }
    let id = random_token()?;
    let (idle, ttl) = session_limits(state.web());
    let session = Session {
        user: user.name.clone(),
        csrf: random_token()?,
        created_at: now,
        expires_at: now + idle,
    };
    state.store().purge_sessions(now)?;
    state.store().put_session(&session_key(&id), &session)?;
    tracing::info!(user = %user.name, "Logged in");
    let secure = state.web().secure_cookies;
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, "/", ttl.num_seconds(), secure, "Lax"),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/login", 0, secure, "Strict"),
    );
    Ok(res)
}

/// A valid argon2id hash of a random string, verified against for unknown names.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3ZL5DUbmTR5gsgKM20+5OLUVr2VNdZu/xBOx4vvXQM4";

/// `POST /logout`: ends the session (the CSRF check has already run).
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(session): axum::Extension<CurrentSession>,
) -> Result<Response, WebError> {
    state.store().remove_session(&session.key)?;
    tracing::info!(user = %session.user, "Logged out");
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            "/",
            0,
            state.web().secure_cookies,
            "Lax",
        ),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + chrono::TimeDelta::minutes(minutes)
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(h, hash_password("correct horse").expect("hash"), "salted");
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn throttle_locks_a_name_after_repeated_failures_then_forgives() {
        let mut t = Throttle::default();
        for i in 0..MAX_FAILURES {
            assert!(t.allows("Mei", at(i64::from(i))), "attempt {i}");
            t.fail("mei", at(i64::from(i)));
        }
        assert!(!t.allows("MEI", at(6)));
        assert!(t.allows("other", at(6)), "other names are not affected");
        assert!(t.allows("mei", at(LOCKOUT.num_minutes() + 1)));
    }

    #[test]
    fn use_slides_the_expiry_up_to_the_absolute_maximum() {
        let (idle, max) = (chrono::TimeDelta::minutes(30), chrono::TimeDelta::hours(2));
        let session = |expires: i64| Session {
            user: "mei".into(),
            csrf: "c".into(),
            created_at: at(0),
            expires_at: at(expires),
        };
        // (expires_at, now) → the new expiry, or None: ended.
        let cases: &[(i64, i64, Option<i64>)] = &[
            (30, 10, Some(40)),    // used: 30 minutes from now
            (40, 35, Some(65)),    // past the first idle deadline, still alive because used
            (30, 30, None),        // unused for the idle time: ended
            (30, 31, None),        // and stays ended
            (115, 100, Some(120)), // never past the maximum
            (120, 120, None),      // the maximum ends it however busy
            (150, 100, Some(120)), // a maximum shortened since the login applies
            (60, 10, Some(60)),    // an idle time shortened since then does not shorten it
        ];
        for &(expires, now, want) in cases {
            assert_eq!(
                slide(&session(expires), at(now), idle, max),
                want.map(at),
                "expires {expires}, now {now}"
            );
        }
        let web = crate::web::WebConfig {
            session_idle: std::time::Duration::from_secs(24 * 3600),
            ..Default::default()
        };
        assert_eq!(
            session_limits(&web),
            (chrono::TimeDelta::hours(12), chrono::TimeDelta::hours(12)),
            "the idle time never exceeds the maximum"
        );
    }

    #[test]
    fn redirect_targets_stay_local() {
        assert_eq!(safe_next(Some("/mentions?q=x")), "/mentions?q=x");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "calendar",
        ] {
            assert_eq!(safe_next(Some(bad)), "/calendar", "{bad}");
        }
        assert_eq!(safe_next(None), "/calendar");
    }

    #[test]
    fn user_names_and_passwords_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        assert!(matches!(
            add_user(&store, "a b", "long enough", false, at(0)),
            Err(AuthError::BadName)
        ));
        assert!(matches!(
            add_user(&store, "mei", "short", false, at(0)),
            Err(AuthError::WeakPassword)
        ));
        add_user(&store, "mei", "long enough", false, at(0)).expect("add");
        assert!(matches!(
            add_user(&store, "Mei", "another one", false, at(0)),
            Err(AuthError::Exists(_))
        ));
        let u = store.user("mei").expect("get").expect("user");
        assert!(verify_password(&u.password_hash, "long enough"));
        assert!(!u.password_hash.contains("long enough"));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; herald_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("herald_lang=zh"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "herald_lang").as_deref(), Some("zh"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
