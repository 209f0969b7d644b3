//! Logging in: argon2 password hashes, sessions kept in the store, CSRF tokens, and a brake on
//! password guessing.
//!
//! A session id is 256 random bits, sent only in an `HttpOnly`, `SameSite=Lax` cookie (plus
//! `Secure` when configured); the store keeps the SHA-256 of it, so a copy of the store cannot
//! be replayed as a login. Each session has its own CSRF token that [`require_session`] checks
//! on every non-GET request before a handler sees it. A session ends when it has not been used
//! for `session_idle_minutes` (each use starts that period again: [`slide`]) and in any case
//! `session_hours` after the login. The login form itself is protected by a
//! double-submit token in a short-lived cookie.
//!
//! Password guessing is braked by a [`LoginGuard`]: at most `[web] login_checks` password
//! checks run at once (argon2 takes about 19 MiB each, from buffers kept for reuse), and a login
//! that finds them all busy is answered 503 at once instead of queuing. Before a password is
//! checked, the attempt is counted (failures plus attempts in flight) against three limits, so
//! parallel guesses cannot slip past them: [`MAX_FAILURES`] for one name from one client
//! address, [`MAX_NAME_FAILURES`] for one name from all addresses, [`MAX_ADDRESS_FAILURES`]
//! for one address over all names. Each limit counts for [`LOCKOUT`] from its first failure and
//! then starts afresh, so a refusal never lasts longer than that; and since a name is locked per
//! address first, guesses from elsewhere lock its owner out only when they come from several
//! addresses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::i18n::Lang;
use super::{plain_page, render, request_lang, AppState, WebError};
use crate::store::{Session, Store, StoreError, User};

/// The session cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "herald_login";
/// Wrong passwords for one name from one client address before that pair is refused.
pub const MAX_FAILURES: u32 = 5;
/// Wrong passwords for one name from all addresses together before the name is refused.
pub const MAX_NAME_FAILURES: u32 = 20;
/// Wrong passwords (or impossible names) from one client address, over all names, before the
/// address is refused.
pub const MAX_ADDRESS_FAILURES: u32 = 30;
/// How long a count lasts from its first attempt; a refusal lasts at most this long.
pub const LOCKOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// The largest login form read (a name, a password, two short fields): a flood of logins
/// cannot make herald hold big bodies while it refuses them.
pub const MAX_LOGIN_FORM_BYTES: usize = 8 * 1024;
/// Entries each throttle table keeps at most, so a flood of names or addresses cannot grow it
/// without bound (when one is full within a window, its oldest tenth of idle entries is dropped).
const MAX_TRACKED: usize = 10_000;
/// The most memory (KiB) a stored hash may ask a check for; herald's own use 19 MiB.
const MAX_HASH_MEMORY_KIB: u32 = 64 * 1024;
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
    verify_password_in(hash, password, &mut Vec::new())
}

/// As [`verify_password`], working in `memory` (grown to the hash's cost once, then reused), so
/// repeated checks do not each allocate and free 19 MiB, which the allocator may keep per thread.
/// A hash that asks for more than 64 MiB is refused rather than checked.
pub fn verify_password_in(hash: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(&h))
    else {
        return false;
    };
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    if params.m_cost() > MAX_HASH_MEMORY_KIB {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
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
    if store.users().put(&user, replace)? {
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

/// The client a login is counted against: its address, an IPv6 one cut to its /64 (one machine
/// commonly holds a whole /64, so counting single addresses would be no limit at all).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The address a request came from: the TCP peer, or, with `[web] behind_proxy` and a loopback
/// peer, the last address of `X-Forwarded-For` (the one the proxy itself added). `None` when
/// the server was not started with peer addresses (the router called in process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        };
        Ok(ClientAddr(match peer {
            Some(ip) if ip.is_loopback() && state.web().behind_proxy => forwarded().or(peer),
            _ => peer,
        }))
    }
}

/// Attempts counted in one window: failures so far, and checks still running (which count as
/// failures until they end, so parallel guesses cannot all pass the limit before any fails).
#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    in_flight: u32,
    since: DateTime<Utc>,
}

impl Count {
    fn used(&self) -> u32 {
        self.failures + self.in_flight
    }

    /// Whether the window has passed with nothing running: the count starts afresh.
    fn stale(&self, now: DateTime<Utc>) -> bool {
        self.in_flight == 0 && now - self.since >= LOCKOUT
    }
}

/// One table of counts, bounded to [`MAX_TRACKED`] entries.
#[derive(Debug)]
struct Counts<K> {
    map: HashMap<K, Count>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Counts<K> {
    /// The count of `key` if `max` is reached: the time it ends.
    fn refusal(&mut self, key: &K, max: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let c = *self.map.get(key)?;
        if c.stale(now) {
            self.map.remove(key);
            return None;
        }
        (c.used() >= max).then_some(c.since + LOCKOUT)
    }

    /// The count of `key`, created (making room if the table is full) or started afresh.
    fn entry(&mut self, key: &K, now: DateTime<Utc>) -> &mut Count {
        if !self.map.contains_key(key) && self.map.len() >= MAX_TRACKED {
            self.map.retain(|_, c| !c.stale(now));
            if self.map.len() >= MAX_TRACKED {
                // Still full within one window: a flood. Drop the oldest tenth of the idle
                // entries at once, so the next thousand new keys cost no scan.
                let mut idle: Vec<(DateTime<Utc>, K)> = self
                    .map
                    .iter()
                    .filter(|(_, c)| c.in_flight == 0)
                    .map(|(k, c)| (c.since, k.clone()))
                    .collect();
                let drop = (MAX_TRACKED / 10).min(idle.len());
                if drop > 0 {
                    idle.select_nth_unstable_by_key(drop - 1, |(since, _)| *since);
                    for (_, k) in &idle[..drop] {
                        self.map.remove(k);
                    }
                }
            }
        }
        let fresh = Count {
            failures: 0,
            in_flight: 0,
            since: now,
        };
        let c = self.map.entry(key.clone()).or_insert(fresh);
        if c.stale(now) {
            *c = fresh;
        }
        c
    }

    /// Ends a running check of `key`, as a failure or not.
    fn end(&mut self, key: &K, failed: bool) {
        if let Some(c) = self.map.get_mut(key) {
            c.in_flight = c.in_flight.saturating_sub(1);
            if failed {
                c.failures += 1;
            }
        }
    }
}

/// A login refused by the throttle, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// When the limit that refused it starts afresh.
    pub until: DateTime<Utc>,
}

/// Login attempts per (name, client), per name and per client, in memory: a restart forgets
/// them, which only shortens a lockout. Names are counted case-insensitively, as they log in.
#[derive(Debug, Default)]
pub struct Throttle {
    pairs: Counts<(String, IpAddr)>,
    names: Counts<String>,
    clients: Counts<IpAddr>,
}

impl Throttle {
    /// Reserves a password check of `name` from `client` (see [`client_key`]), or says why
    /// not. A reserved check counts against every limit until [`Throttle::finish`] ends it.
    pub fn begin(&mut self, name: &str, client: IpAddr, now: DateTime<Utc>) -> Result<(), Refused> {
        let name = name.to_lowercase();
        let pair = (name.clone(), client);
        let until = [
            self.pairs.refusal(&pair, MAX_FAILURES, now),
            self.names.refusal(&name, MAX_NAME_FAILURES, now),
            self.clients.refusal(&client, MAX_ADDRESS_FAILURES, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = until {
            return Err(Refused { until });
        }
        self.pairs.entry(&pair, now).in_flight += 1;
        self.names.entry(&name, now).in_flight += 1;
        self.clients.entry(&client, now).in_flight += 1;
        Ok(())
    }

    /// Ends a check [`Throttle::begin`] reserved: a success forgets the name's failures (its
    /// owner is in); a failure counts against all three limits.
    pub fn finish(&mut self, name: &str, client: IpAddr, ok: bool) {
        let name = name.to_lowercase();
        let pair = (name.clone(), client);
        self.clients.end(&client, !ok);
        if ok {
            self.pairs.map.remove(&pair);
            self.names.map.remove(&name);
        } else {
            self.pairs.end(&pair, true);
            self.names.end(&name, true);
        }
    }

    /// Counts a failure that needed no password check (a name that cannot exist) against
    /// `client`, or says it is refused already.
    pub fn fail_client(&mut self, client: IpAddr, now: DateTime<Utc>) -> Result<(), Refused> {
        if let Some(until) = self.clients.refusal(&client, MAX_ADDRESS_FAILURES, now) {
            return Err(Refused { until });
        }
        self.clients.entry(&client, now).failures += 1;
        Ok(())
    }

    /// Entries held, over the three tables (to show they stay bounded).
    pub fn tracked(&self) -> usize {
        self.pairs.map.len() + self.names.map.len() + self.clients.map.len()
    }
}

/// What brakes password guessing: the throttle, the pool of password checks and their
/// reusable memory, and a count of the checks made.
#[derive(Debug)]
pub struct LoginGuard {
    throttle: Arc<Mutex<Throttle>>,
    checks: Arc<Semaphore>,
    memory: Mutex<Vec<Vec<Block>>>,
    checked: AtomicU64,
}

impl LoginGuard {
    /// A guard running at most `checks` password checks at once (at least one).
    pub fn new(checks: usize) -> Self {
        Self {
            throttle: Arc::default(),
            checks: Arc::new(Semaphore::new(checks.max(1))),
            memory: Mutex::default(),
            checked: AtomicU64::new(0),
        }
    }

    /// Password checks made since the server started.
    pub fn password_checks(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// The throttle. A poisoned lock is taken over: its counters are valid after any panic.
    pub fn throttle(&self) -> MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_memory(&self) -> Vec<Block> {
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give_memory(&self, memory: Vec<Block>) {
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
    }
}

/// A reserved password check; counted as a failure if dropped undecided (a client that hangs
/// up mid-check gains nothing).
struct Attempt {
    throttle: Arc<Mutex<Throttle>>,
    name: String,
    client: IpAddr,
    ok: bool,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(&self.name, self.client, self.ok);
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
    let Some(session) = state.store().users().session(&key)? else {
        return Ok(None);
    };
    let now = state.now();
    let (idle, max) = session_limits(state.web());
    let Some(expires_at) = slide(&session, now, idle, max) else {
        return Ok(None);
    };
    if state.store().users().get(&session.user)?.is_none() {
        return Ok(None);
    }
    if expires_at - session.expires_at >= TOUCH_EVERY {
        let extended = Session {
            expires_at,
            ..session.clone()
        };
        // Lost to a concurrent logout or extension: either way nothing is to be done.
        state
            .store()
            .users()
            .replace_session(&key, &session, &extended)?;
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

/// `POST /login`: checks the form token, the limits and the password; starts a session.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
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
    let client = client_key(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    let guard = state.login_guard();
    if !valid_user_name(&form.user) {
        // No such user can exist: no check is needed, but it counts against the address.
        let counted = guard.throttle().fail_client(client, now);
        return match counted {
            Ok(()) => login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &next,
                "",
                Some("login.failed"),
            ),
            Err(refused) => throttled(&state, &headers, &next, "", refused, now),
        };
    }
    // A permit first: when every check is busy the answer is immediate and costs nothing.
    let Ok(permit) = guard.checks.clone().try_acquire_owned() else {
        tracing::warn!("Login refused: every password check is busy");
        let mut res = plain_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins at once. Try again in a moment. / 登录请求过多，请稍后再试。",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(res);
    };
    let begun = guard.throttle().begin(&form.user, client, now);
    if let Err(refused) = begun {
        tracing::warn!("Login refused: too many failures for this name or address");
        return throttled(&state, &headers, &next, &form.user, refused, now);
    }
    let mut attempt = Attempt {
        throttle: guard.throttle.clone(),
        name: form.user.clone(),
        client,
        ok: false,
    };
    let user = state.store().users().get(&form.user)?;
    // Verify against a real hash even for an unknown name, so timing does not tell names apart.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = form.password;
    let mut memory = guard.take_memory();
    let checked = tokio::task::spawn_blocking(move || {
        let ok = verify_password_in(&hash, &password, &mut memory);
        (ok, memory)
    })
    .await;
    drop(permit);
    let (ok, memory) =
        checked.map_err(|e| WebError::Internal(format!("password check failed: {e}")))?;
    guard.give_memory(memory);
    guard.checked.fetch_add(1, Ordering::Relaxed);
    let known = user.as_ref().map(|u| u.name.clone());
    let Some(user) = user.filter(|_| ok) else {
        drop(attempt);
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
    attempt.ok = true;
    drop(attempt);
    let id = random_token()?;
    let (idle, ttl) = session_limits(state.web());
    let session = Session {
        user: user.name.clone(),
        csrf: random_token()?,
        created_at: now,
        expires_at: now + idle,
    };
    state.store().users().purge_sessions(now)?;
    state
        .store()
        .users()
        .put_session(&session_key(&id), &session)?;
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

/// The login form again, 429 with `Retry-After`: a limit refused the attempt.
fn throttled(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    user: &str,
    refused: Refused,
    now: DateTime<Utc>,
) -> Result<Response, WebError> {
    let mut res = login_page(
        state,
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        next,
        user,
        Some("login.throttled"),
    )?;
    let secs = (refused.until - now).num_seconds().max(1);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
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
    state.store().users().remove_session(&session.key)?;
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

    fn ip(s: &str) -> IpAddr {
        client_key(s.parse().expect("ip"))
    }

    #[test]
    fn throttle_locks_a_name_after_repeated_failures_then_forgives() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        for i in 0..MAX_FAILURES {
            assert_eq!(t.begin("Mei", a, at(i64::from(i))), Ok(()), "attempt {i}");
            t.finish("mei", a, false);
        }
        assert_eq!(
            t.begin("MEI", a, at(6)),
            Err(Refused {
                until: at(0) + LOCKOUT
            })
        );
        assert_eq!(
            t.begin("other", a, at(6)),
            Ok(()),
            "other names are not affected"
        );
        t.finish("other", a, true);
        assert_eq!(
            t.begin("mei", ip("198.51.100.7"), at(6)),
            Ok(()),
            "nor other addresses"
        );
        t.finish("mei", ip("198.51.100.7"), true);
        assert_eq!(
            t.begin("mei", a, at(LOCKOUT.num_minutes())),
            Ok(()),
            "the window ends"
        );
    }

    #[test]
    fn checks_in_flight_count_before_any_of_them_fails() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        let admitted = (0..40).filter(|_| t.begin("mei", a, at(0)).is_ok()).count();
        assert_eq!(admitted, MAX_FAILURES as usize);
        // A success among them frees the name again.
        t.finish("mei", a, true);
        assert_eq!(t.begin("mei", a, at(0)), Ok(()));
    }

    #[test]
    fn a_name_is_capped_over_all_addresses_and_an_address_over_all_names() {
        let mut t = Throttle::default();
        let mut failed = 0;
        'outer: for host in 1..=10u8 {
            let a = ip(&format!("192.0.2.{host}"));
            for _ in 0..MAX_FAILURES {
                if t.begin("mei", a, at(1)).is_err() {
                    break 'outer;
                }
                t.finish("mei", a, false);
                failed += 1;
            }
        }
        assert_eq!(failed, MAX_NAME_FAILURES);
        assert!(t.begin("mei", ip("203.0.113.9"), at(2)).is_err());
        assert_eq!(
            t.begin("mei", ip("203.0.113.9"), at(16)),
            Ok(()),
            "for the window only"
        );

        let mut t = Throttle::default();
        let a = ip("2001:db8::1");
        let mut failed = 0;
        for n in 0..100 {
            // Another address in the same /64 is the same client.
            let who = if n % 2 == 0 {
                a
            } else {
                ip("2001:db8::ffff:2")
            };
            if t.begin(&format!("user{n}"), who, at(1)).is_err() {
                break;
            }
            t.finish(&format!("user{n}"), who, false);
            failed += 1;
        }
        assert_eq!(failed, MAX_ADDRESS_FAILURES);
        assert!(t.fail_client(a, at(2)).is_err());
        assert_eq!(
            t.begin("mei", ip("2001:db8:1::1"), at(2)),
            Ok(()),
            "another /64"
        );
    }

    #[test]
    fn the_throttle_stays_bounded_under_a_flood_of_addresses() {
        let mut t = Throttle::default();
        for n in 0..(2 * MAX_TRACKED as u32) {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            let name = format!("u{n}");
            assert_eq!(t.begin(&name, a, at(1)), Ok(()), "{n}");
            t.finish(&name, a, false);
            assert!(t.fail_client(a, at(1)).is_ok());
        }
        assert!(t.tracked() <= 3 * MAX_TRACKED, "{}", t.tracked());
        assert!(t.tracked() > 2 * MAX_TRACKED, "all three tables filled");
    }

    #[test]
    fn reused_memory_gives_the_same_answers() {
        let h = hash_password("correct horse").expect("hash");
        let mut memory = Vec::new();
        assert!(verify_password_in(&h, "correct horse", &mut memory));
        let size = memory.len();
        assert_eq!(size, 19 * 1024, "herald's hashes take 19 MiB");
        assert!(!verify_password_in(&h, "correct horsE", &mut memory));
        assert!(verify_password_in(&h, "correct horse", &mut memory));
        assert_eq!(memory.len(), size, "allocated once");
        assert!(!verify_password_in(
            DUMMY_HASH,
            "correct horse",
            &mut memory
        ));
        let greedy = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3ZL5DUbmTR5gsgKM20+5OLUVr2VNdZu/xBOx4vvXQM4";
        assert!(
            !verify_password_in(greedy, "x", &mut memory),
            "1 GiB is refused"
        );
        assert_eq!(memory.len(), size);
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
        let u = store.users().get("mei").expect("get").expect("user");
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
