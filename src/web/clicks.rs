//! The click redirect, `GET /r/{code}`: the one route meant for the public. It counts one visit
//! of a source code (`store.clicks().record_click`) and answers `302 Found` to the tagged link
//! the schedule stored for the code (see `docs/clicks.md`).
//!
//! What it keeps of a visitor: nothing. No address, cookie or user agent is stored or logged;
//! no cookie is set; a count of the code's UTC hour goes up by one. The user agent is read for
//! one test only, never kept: link-preview fetchers (a Mastodon server making a link card,
//! Bluesky's card service, chat apps, crawlers) are sent on but not counted, and neither is a
//! `HEAD`, so a card is not a click.
//!
//! What an unauthenticated client can make it do, bounded: a code is checked
//! (`plan::track::is_click_code`: at most `MAX_CLICK_CODE` characters of `[A-Za-z0-9._-]`)
//! before the store is asked; an unknown code writes nothing; a known one adds to a fixed-size
//! counter; at most [`MAX_AT_ONCE`] redirects run at once (more are answered 503 at once, so a
//! flood cannot queue up store work). Error pages never repeat the code.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tokio::sync::Semaphore;

use super::{AppState, WebError};
use crate::plan::track::is_click_code;

/// Redirects served at once; more are refused with 503 until one finishes.
pub const MAX_AT_ONCE: usize = 64;

/// Parts of a user agent that mark a link-preview fetcher or a crawler (lower case).
const FETCHERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "preview",
    "facebookexternalhit",
    "mastodon/",
    "pleroma",
    "akkoma",
    "misskey",
    "cardyb",
    "http.rb",
    "embedly",
    "whatsapp",
];

/// The redirect's route, with its own limit on redirects at once. Not behind the login.
pub fn routes() -> Router<AppState> {
    let gate = Arc::new(Semaphore::new(MAX_AT_ONCE));
    Router::new()
        .route("/r/{code}", get(redirect))
        .layer(Extension(Gate(gate)))
}

/// The limit on redirects at once.
#[derive(Clone)]
struct Gate(Arc<Semaphore>);

/// Whether a request with this user agent is a link preview or a crawler, not a person.
pub fn is_fetcher(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else {
        return false;
    };
    let ua = ua.to_ascii_lowercase();
    FETCHERS.iter().any(|f| ua.contains(f))
}

/// A minimal public page (the visitor may reach nothing else of herald: no stylesheet, no link
/// to the UI).
fn public_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{status}</title></head>\
         <body><p>{}</p></body></html>",
        super::escape(message)
    );
    (status, Html(body)).into_response()
}

async fn redirect(
    State(state): State<AppState>,
    Extension(Gate(gate)): Extension<Gate>,
    method: Method,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, WebError> {
    // The rejection's own text would repeat what was sent: answer plainly instead.
    let Ok(Path(code)) = code else {
        return Ok(not_ours());
    };
    if !is_click_code(&code) {
        return Ok(not_ours());
    }
    let Ok(_permit) = gate.try_acquire_owned() else {
        let mut res = public_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy, please try again. / 繁忙，请稍后再试。",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(res);
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let count = method == Method::GET && !is_fetcher(user_agent);
    let now = state.now();
    let store = state.store().clone();
    // The store is synchronous (and PostgreSQL's calls run on a thread of their own).
    let target = tokio::task::spawn_blocking(move || {
        if count {
            store.clicks().record_click(&code, now)
        } else {
            store.clicks().link(&code).map(|l| l.map(|l| l.target))
        }
    })
    .await
    .map_err(|e| WebError::Internal(format!("the click task failed: {e}")))??;
    let Some(target) = target else {
        return Ok(public_page(
            StatusCode::NOT_FOUND,
            "This link is not known. / 此链接不存在。",
        ));
    };
    // Only a web address is ever a target (a damaged record must not send a visitor to a
    // `javascript:` URL).
    let web = url::Url::parse(&target)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let location = web
        .and_then(|u| HeaderValue::from_str(u.as_str()).ok())
        .ok_or_else(|| WebError::Internal("a stored click target is not a web address".into()))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

fn not_ours() -> Response {
    public_page(
        StatusCode::BAD_REQUEST,
        "This is not a link of ours. / 这不是我们的链接。",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_and_crawlers_are_told_apart_from_browsers() {
        let fetchers = [
            "Mastodon/4.3.2 (http.rb/5.2.0; +https://social.example/)",
            "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
            "facebookexternalhit/1.1",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Akkoma 3.10; https://fedi.example",
        ];
        for ua in fetchers {
            assert!(is_fetcher(Some(ua)), "{ua}");
        }
        let people = [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50",
        ];
        for ua in people {
            assert!(!is_fetcher(Some(ua)), "{ua}");
        }
        assert!(!is_fetcher(None));
    }
}
