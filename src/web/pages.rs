//! The pages that need only what herald has today: the Calendar (the schedule and the hold),
//! Mentions search, and the placeholders of sections other parts of herald will fill.
//!
//! Handlers gather data through the store and the same library calls the CLI makes
//! ([`crate::app::pause`], [`crate::app::resume`]), then render an askama template; every
//! value, mention text above all, goes through askama's HTML escaping.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;

use super::auth::safe_next;
use super::i18n::{Lang, LANG_COOKIE};
use super::{plain_page, render, request_lang, AppState, Chrome, WebError};
use crate::app::{local_midnight, PauseError};
use crate::store::{MentionQuery, PostState, StoredMention, StoredPost};

/// How many characters of a post's text the calendar shows.
const SNIPPET_CHARS: usize = 80;
/// Mentions per page.
pub const PAGE_SIZE: usize = 50;

/// `?view=&date=` of the calendar.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// `week` (default) or `day`.
    view: Option<String>,
    /// A day of the period to show (YYYY-MM-DD, local); default today.
    date: Option<String>,
    /// A message code to show (set by the pause form's redirect).
    msg: Option<String>,
}

/// One post as the calendar shows it.
pub struct CalPost {
    time: String,
    channel: String,
    category: String,
    state: &'static str,
    /// The i18n key of the state's label.
    state_key: String,
    held: bool,
    snippet: String,
}

/// One day of the calendar.
pub struct CalDay {
    label: String,
    today: bool,
    posts: Vec<CalPost>,
}

/// A category in the pause form.
pub struct CategoryBox {
    name: String,
    checked: bool,
}

/// The hold as the calendar shows it.
pub struct HoldView {
    since: String,
    reason: String,
    categories: String,
}

#[derive(Template)]
#[template(path = "calendar.html", config = "src/web/askama.toml")]
struct CalendarPage {
    page: Chrome,
    week: bool,
    days: Vec<CalDay>,
    prev: String,
    next: String,
    today: String,
    other_view: String,
    timezone: String,
    hold: Option<HoldView>,
    /// The hold open crisis alerts set (lifted by resolving them, not by the resume form).
    crisis_hold: Option<HoldView>,
    categories: Vec<CategoryBox>,
    message: Option<&'static str>,
}

/// Cuts `text` to `n` characters on one line, with an ellipsis if it was longer.
pub fn snippet(text: &str, n: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(n).collect();
    if one_line.chars().count() > n {
        out.push('…');
    }
    out
}

/// Whether `post` is kept back by a hold on `held` categories.
pub fn is_held(post: &StoredPost, held: &[String]) -> bool {
    held.contains(&post.category) && matches!(post.state, PostState::Planned | PostState::Approved)
}

/// `GET /calendar`: a week (Monday first) or a day of the schedule in the plan's timezone, and
/// the hold with its pause or resume form.
pub async fn calendar(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    let tz = state.tz();
    let today = state.now().with_timezone(&tz).date_naive();
    let date = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let week = q.view.as_deref() != Some("day");
    let (first, days) = if week {
        (
            date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
            7u64,
        )
    } else {
        (date, 1u64)
    };
    let end = first + chrono::Days::new(days);
    let posts = state
        .store()
        .posts_between(local_midnight(tz, first), local_midnight(tz, end))?;
    let hold = state.store().hold()?;
    let held: Vec<String> = state.store().held_categories()?;
    let mut cal_days: Vec<CalDay> = (0..days)
        .map(|i| {
            let d = first + chrono::Days::new(i);
            CalDay {
                label: day_label(page.lang, d),
                today: d == today,
                posts: Vec::new(),
            }
        })
        .collect();
    for p in &posts {
        let local = p.at.with_timezone(&tz);
        let i = (local.date_naive() - first).num_days();
        if let Some(day) = usize::try_from(i).ok().and_then(|i| cal_days.get_mut(i)) {
            day.posts.push(CalPost {
                time: local.format("%H:%M").to_string(),
                channel: p.channel.clone(),
                category: p.category.clone(),
                state: p.state.as_str(),
                state_key: format!("state.{}", p.state.as_str()),
                held: is_held(p, &held),
                snippet: snippet(&p.text, SNIPPET_CHARS),
            });
        }
    }
    let view = if week { "week" } else { "day" };
    let link = |d: NaiveDate, v: &str| format!("/calendar?view={v}&date={}", d.format("%Y-%m-%d"));
    let defaults = &state.config().plan.pause_categories;
    let page = CalendarPage {
        week,
        days: cal_days,
        prev: link(first - chrono::Days::new(days), view),
        next: link(end, view),
        today: link(today, view),
        other_view: link(date, if week { "day" } else { "week" }),
        timezone: tz.name().to_string(),
        crisis_hold: state.store().crisis_hold()?.map(|h| HoldView {
            since: h
                .since
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            reason: h.reason,
            categories: h.categories.join(", "),
        }),
        hold: hold.map(|h| HoldView {
            since: h
                .since
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            reason: h.reason,
            categories: h.categories.join(", "),
        }),
        categories: state
            .config()
            .plan
            .categories
            .iter()
            .map(|c| CategoryBox {
                name: c.name.clone(),
                checked: defaults.contains(&c.name),
            })
            .collect(),
        message: match q.msg.as_deref() {
            Some("bad_category") => Some("hold.bad_category"),
            _ => None,
        },
        page,
    };
    render(&page)
}

fn day_label(lang: Lang, d: NaiveDate) -> String {
    let wd = d.weekday().num_days_from_monday() as usize;
    match lang {
        Lang::En => d.format("%a %Y-%m-%d").to_string(),
        Lang::Zh => {
            const DAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
            format!("{} {}", d.format("%Y-%m-%d"), DAYS[wd])
        }
    }
}

/// `POST /calendar/pause` (form: `category` repeated, `reason`; CSRF checked before).
pub async fn pause(
    State(state): State<AppState>,
    page: Chrome,
    body: Bytes,
) -> Result<Response, WebError> {
    let mut categories = Vec::new();
    let mut reason = String::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "category" => categories.push(v.into_owned()),
            "reason" => reason = v.trim().chars().take(200).collect(),
            _ => {}
        }
    }
    if categories.is_empty() {
        return Ok(Redirect::to("/calendar?msg=bad_category").into_response());
    }
    if reason.is_empty() {
        reason = page.t("hold.default_reason").to_string();
    }
    match crate::app::pause(
        state.config(),
        state.store(),
        &categories,
        &reason,
        state.now(),
    ) {
        Ok(hold) => {
            tracing::info!(user = %page.user, categories = %hold.categories.join(","), "Publishing paused in the web UI");
            state.wake_publisher();
            Ok(Redirect::to("/calendar").into_response())
        }
        Err(PauseError::UnknownCategory(_)) => {
            Ok(Redirect::to("/calendar?msg=bad_category").into_response())
        }
        Err(PauseError::Store(e)) => Err(e.into()),
    }
}

/// `POST /calendar/resume` (CSRF checked before).
pub async fn resume(State(state): State<AppState>, page: Chrome) -> Result<Response, WebError> {
    crate::app::resume(state.store())?;
    tracing::info!(user = %page.user, "Publishing resumed in the web UI");
    state.wake_publisher();
    Ok(Redirect::to("/calendar").into_response())
}

/// Mention filters shared by the page and the API; empty strings mean "any".
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MentionFilter {
    /// Text the mention contains.
    #[serde(default)]
    pub text: String,
    /// The author (exact, case-insensitive).
    #[serde(default)]
    pub author: String,
    /// A keyword group or `group/rule`.
    #[serde(default)]
    pub topic: String,
    /// The platform (`mastodon`, `bluesky`, `feed`, …).
    #[serde(default)]
    pub platform: String,
    /// `negative`, `neutral` or `positive`.
    #[serde(default)]
    pub sentiment: String,
    /// `complaint`, `question`, `praise`, `purchase` or `other`.
    #[serde(default)]
    pub intent: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Mentions matching `f`, newest first, skipping `offset`; the bool says whether more follow.
pub fn search_mentions(
    store: &crate::store::Store,
    f: &MentionFilter,
    offset: usize,
    limit: usize,
) -> Result<(Vec<StoredMention>, bool), crate::store::StoreError> {
    let q = MentionQuery {
        since: None,
        author: some(&f.author),
        topic: some(&f.topic),
        text: some(&f.text),
        platform: some(&f.platform),
        sentiment: some(&f.sentiment),
        intent: some(&f.intent),
        // One more than the page, to know whether another follows.
        limit: offset + limit + 1,
    };
    let mut found: Vec<StoredMention> = store.mentions(&q)?.into_iter().skip(offset).collect();
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

/// `?…&page=` of the mentions page.
#[derive(Debug, Default, Deserialize)]
pub struct MentionsQuery {
    #[serde(flatten)]
    filter: MentionFilter,
    page: Option<String>,
}

/// One mention as the page shows it.
pub struct MentionRow {
    when: String,
    platform: String,
    author: String,
    sentiment: String,
    intent: String,
    topics: String,
    text: String,
    /// Only an http(s) link; anything else (`javascript:`) is not linked.
    url: Option<String>,
}

#[derive(Template)]
#[template(path = "mentions.html", config = "src/web/askama.toml")]
struct MentionsPage {
    page: Chrome,
    f: MentionFilter,
    rows: Vec<MentionRow>,
    page_no: usize,
    prev: Option<String>,
    next: Option<String>,
    sentiments: &'static [&'static str],
    intents: &'static [&'static str],
}

/// Whether a link from a mention may be rendered as a link.
pub fn safe_link(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// `GET /mentions`: search stored mentions.
pub async fn mentions(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<MentionsQuery>,
) -> Result<Response, WebError> {
    let page_no = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (found, more) = search_mentions(
        state.store(),
        &q.filter,
        (page_no - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )?;
    let tz = state.tz();
    let rows = found
        .into_iter()
        .map(|m| {
            let c = &m.classification;
            MentionRow {
                when: m
                    .mention
                    .created_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                sentiment: c["sentiment"]["label"].as_str().unwrap_or("").to_string(),
                intent: c["intent"].as_str().unwrap_or("").to_string(),
                topics: m.topics().join(", "),
                url: m.mention.url.clone().filter(|u| safe_link(u)),
                platform: m.mention.platform,
                author: m.mention.author,
                text: m.mention.text,
            }
        })
        .collect();
    let link = |n: usize| {
        let f = &q.filter;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("text", &f.text)
            .append_pair("author", &f.author)
            .append_pair("topic", &f.topic)
            .append_pair("platform", &f.platform)
            .append_pair("sentiment", &f.sentiment)
            .append_pair("intent", &f.intent)
            .append_pair("page", &n.to_string())
            .finish();
        format!("/mentions?{query}")
    };
    let page = MentionsPage {
        page,
        rows,
        page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: more.then(|| link(page_no + 1)),
        f: q.filter,
        sentiments: &["negative", "neutral", "positive"],
        intents: &["complaint", "question", "praise", "purchase", "other"],
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "soon.html", config = "src/web/askama.toml")]
struct SoonPage {
    page: Chrome,
}

/// A section another part of herald will provide: "not yet available".
pub async fn soon(page: Chrome) -> Result<Response, WebError> {
    render(&SoonPage { page })
}

/// `?next=` of the language switch.
#[derive(Debug, Deserialize)]
pub struct SwitchQuery {
    next: Option<String>,
}

/// `GET /lang/{en|zh}`: remembers the language in a cookie and goes back. A GET because it only
/// sets a display preference and must work on the login page too.
pub async fn switch_lang(Path(code): Path<String>, Query(q): Query<SwitchQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let Some(lang) = Lang::parse(&code) else {
        return plain_page(StatusCode::NOT_FOUND, "No such language.");
    };
    let mut res = Redirect::to(&next).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The stylesheet and script, embedded in the binary.
const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    ),
    (
        "inbox.js",
        "text/javascript; charset=utf-8",
        include_str!("static/inbox.js"),
    ),
];

/// `GET /static/{file}`.
pub async fn static_file(Path(file): Path<String>) -> Response {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => plain_page(StatusCode::NOT_FOUND, "No such file."),
    }
}

/// Anything else: 404.
pub async fn not_found(headers: HeaderMap) -> Response {
    plain_page(
        StatusCode::NOT_FOUND,
        super::i18n::t(request_lang(&headers), "err.not_found"),
    )
}

/// The time of a post in the calendar's zone (shared with the API).
pub fn local_rfc3339(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_line_and_cut_by_characters() {
        assert_eq!(snippet("a\n b  c", 10), "a b c");
        assert_eq!(snippet("一二三四五", 3), "一二三…");
    }

    #[test]
    fn only_web_links_are_linked() {
        assert!(safe_link("https://example.org/post/1"));
        assert!(safe_link("http://example.org"));
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>",
            "  javascript:x",
            "vbscript:x",
            "/relative",
        ] {
            assert!(!safe_link(bad), "{bad}");
        }
    }
}
