//! The pages that need only what herald has today: the Calendar (the schedule and the hold),
//! Mentions search, and the placeholders of sections other parts of herald will fill.
//!
//! A post's pictures show as thumbnails ([`super::media`]) with their alt text as visible text.
//!
//! Handlers gather data through the store and the same library calls the CLI makes
//! ([`crate::schedule::pause`], [`crate::schedule::resume`]), then render an askama template; every
//! value, mention text above all, goes through askama's HTML escaping.
//!
//! It also holds what every page shares: the checks of query values (a date from 1970 to 9999,
//! a page number up to [`MAX_PAGE`]: anything else is a 400 with a plain message, never an
//! overflow), the folding of long texts ([`Folded`]) and the removal of bidi controls from
//! rendered pages ([`strip_bidi_controls`]).

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
use crate::schedule::{local_midnight, PauseError};
use crate::store::{MentionQuery, StoredMention, StoredPost};

/// How many characters of a post's text the calendar shows.
const SNIPPET_CHARS: usize = 80;
/// Mentions per page.
pub const PAGE_SIZE: usize = 50;

/// `?view=&date=` of the calendar.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// `days` (seven days from `date`), `week` (Monday to Sunday around `date`) or `day`.
    /// Without it: `days` from today, or the week of `date` when only a date is given (the
    /// links of earlier versions).
    view: Option<String>,
    /// A day of the period to show (YYYY-MM-DD, local); default today.
    date: Option<String>,
    /// A message code to show (set by the pause form's redirect).
    msg: Option<String>,
}

/// The first and last day a page may show. Far past chrono's limits on both sides, so every
/// day of a period, its neighbours' links and its local midnights exist.
const FIRST_DAY: (i32, u32, u32) = (1970, 1, 1);
const LAST_DAY: (i32, u32, u32) = (9999, 12, 31);

/// A calendar period: its first day and how many days it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalView {
    /// Seven days from the date: the default, so "today" is always the first column.
    Days,
    /// Monday to Sunday of the date's week.
    Week,
    /// The date alone.
    Day,
}

impl CalView {
    /// Parses `view=`; `None` for an unknown value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "days" => Some(Self::Days),
            "week" => Some(Self::Week),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    /// The name in links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Days => "days",
            Self::Week => "week",
            Self::Day => "day",
        }
    }

    /// The first day and the number of days of the period around `date`.
    pub fn period(self, date: NaiveDate) -> (NaiveDate, u64) {
        match self {
            Self::Days => (date, 7),
            Self::Week => {
                let back = u64::from(date.weekday().num_days_from_monday());
                (
                    date.checked_sub_days(chrono::Days::new(back))
                        .unwrap_or(date),
                    7,
                )
            }
            Self::Day => (date, 1),
        }
    }
}

/// A query value a page cannot use: answered 400 with a plain message ([`bad_query`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not a day from 1970 to 9999 (beyond that, date arithmetic would overflow chrono).
    #[error("not a day from 1970-01-01 to 9999-12-31")]
    Date,
    /// A calendar view other than `days`, `week` or `day`.
    #[error("not a calendar view")]
    View,
    /// A page number beyond [`MAX_PAGE`] or not a number.
    #[error("not a page number from 1 to {MAX_PAGE}")]
    Page,
}

impl QueryError {
    /// The i18n key of the message shown.
    pub fn key(self) -> &'static str {
        match self {
            QueryError::Date => "cal.bad_date",
            QueryError::View => "cal.bad_view",
            QueryError::Page => "err.bad_page",
        }
    }
}

/// A `date=` of a page: `Ok(None)` when empty, the day when it is one from 1970 to 9999, else
/// an error (a 400 with a plain message, never a date arithmetic overflow further on).
pub fn parse_day(s: Option<&str>) -> Result<Option<NaiveDate>, QueryError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2);
    let last = NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2);
    match (NaiveDate::parse_from_str(s, "%Y-%m-%d"), first, last) {
        (Ok(d), Some(first), Some(last)) if (first..=last).contains(&d) => Ok(Some(d)),
        _ => Err(QueryError::Date),
    }
}

/// The highest page number a list accepts: far beyond any real list, low enough that offsets
/// and the next page's number cannot overflow.
pub const MAX_PAGE: usize = 100_000;

/// A `page=` of a list, from 1 (0 and none: 1); an error beyond [`MAX_PAGE`].
pub fn page_number(page: Option<usize>) -> Result<usize, QueryError> {
    match page.unwrap_or(1).max(1) {
        n if n <= MAX_PAGE => Ok(n),
        _ => Err(QueryError::Page),
    }
}

/// The plain 400 of a query value a page cannot use, in the page's language.
pub fn bad_query(lang: Lang, e: QueryError) -> Response {
    plain_page(StatusCode::BAD_REQUEST, super::i18n::t(lang, e.key()))
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
    /// The post's pictures: thumbnails with their alt text shown as text.
    media: Vec<super::media::Thumb>,
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
    /// The open crisis alerts behind a crisis hold.
    alerts: String,
}

impl HoldView {
    fn new(h: crate::store::Hold, tz: chrono_tz::Tz) -> Self {
        Self {
            since: h
                .since
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            reason: h.reason,
            categories: h.categories.join(", "),
            alerts: h.alerts.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "calendar.html", config = "src/web/askama.toml")]
struct CalendarPage {
    page: Chrome,
    week: bool,
    days: Vec<CalDay>,
    /// No post at all in the period.
    empty: bool,
    prev: String,
    next: String,
    today: String,
    /// (i18n key, link, current) of each view of the date.
    views: Vec<(&'static str, String, bool)>,
    timezone: String,
    hold: Option<HoldView>,
    /// The hold open crisis alerts set (lifted by resolving them, not by the resume form).
    crisis_hold: Option<HoldView>,
    categories: Vec<CategoryBox>,
    message: Option<&'static str>,
}

/// Cuts `text` to `n` characters on one line, with an ellipsis if it was longer.
pub fn snippet(text: &str, n: usize) -> String {
    crate::untrusted::one_line(text, n)
}

/// `html` without bidi controls. Every page goes through this ([`super::render`]): herald's own
/// templates hold none, so what it removes came from untrusted text (an author
/// `\u{202E}admin\u{202C}` would otherwise show as "nimda"). Right-to-left scripts still show
/// right to left: the Unicode algorithm needs no controls for that, and `<bdi>` around
/// untrusted values keeps them from reordering the text around them.
pub fn strip_bidi_controls(html: String) -> String {
    match crate::untrusted::strip_bidi(&html) {
        std::borrow::Cow::Borrowed(_) => html,
        std::borrow::Cow::Owned(stripped) => stripped,
    }
}

/// Whether `post` is kept back by a hold on `held` categories.
pub fn is_held(post: &StoredPost, held: &[String]) -> bool {
    post.is_held_by(held)
}

/// `GET /calendar`: seven days from today (or from `date`), a Monday-to-Sunday week or a day
/// of the schedule in the plan's timezone, and the hold with its pause or resume form. A date
/// or view it cannot show is a 400 with a plain message.
pub async fn calendar(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    let tz = state.tz();
    let today = state.now().with_timezone(&tz).date_naive();
    let date = match parse_day(q.date.as_deref()) {
        Ok(d) => d,
        Err(e) => return Ok(bad_query(page.lang, e)),
    };
    let view = match (q.view.as_deref().filter(|v| !v.is_empty()), date) {
        (Some(v), _) => match CalView::parse(v) {
            Some(v) => v,
            None => return Ok(bad_query(page.lang, QueryError::View)),
        },
        (None, Some(_)) => CalView::Week,
        (None, None) => CalView::Days,
    };
    let date = date.unwrap_or(today);
    let (first, days) = view.period(date);
    // parse_day keeps dates years away from chrono's limits: these cannot fail.
    let end = first + chrono::Days::new(days);
    let posts = state
        .store()
        .posts()
        .between(local_midnight(tz, first), local_midnight(tz, end))?;
    let hold = state.store().meta().hold()?;
    let held: Vec<String> = state.store().meta().held_categories()?;
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
                media: p.media.iter().map(super::media::Thumb::of).collect(),
            });
        }
    }
    let link = |d: NaiveDate, v: CalView| {
        format!(
            "/calendar?view={}&date={}",
            v.as_str(),
            d.format("%Y-%m-%d")
        )
    };
    let defaults = &state.config().plan.pause_categories;
    let page = CalendarPage {
        week: days > 1,
        empty: cal_days.iter().all(|d| d.posts.is_empty()),
        days: cal_days,
        prev: link(first - chrono::Days::new(days), view),
        next: link(end, view),
        today: link(today, view),
        views: [
            (CalView::Days, "cal.days"),
            (CalView::Week, "cal.week_mon"),
            (CalView::Day, "cal.day"),
        ]
        .into_iter()
        .map(|(v, key)| (key, link(date, v), v == view))
        .collect(),
        timezone: tz.name().to_string(),
        crisis_hold: state
            .store()
            .meta()
            .crisis_hold()?
            .map(|h| HoldView::new(h, tz)),
        hold: hold.map(|h| HoldView::new(h, tz)),
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
    match crate::schedule::pause(
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
    crate::schedule::resume(state.store())?;
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
        // One more than the page, to know whether another follows (saturating: the API passes
        // any offset it is given).
        limit: offset.saturating_add(limit).saturating_add(1),
    };
    let mut found: Vec<StoredMention> = store
        .mentions()
        .list(&q)?
        .into_iter()
        .skip(offset)
        .collect();
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

/// How many characters of a long text a list shows before "Show all".
pub const FOLD_CHARS: usize = 280;

/// A text that may be too long to show whole in a list: its first [`FOLD_CHARS`] characters,
/// and the whole text behind a `<details>` when it is longer.
pub struct Folded {
    /// The text up to [`FOLD_CHARS`] characters.
    pub head: String,
    /// The whole text.
    pub full: String,
    /// Its length in characters.
    pub chars: usize,
}

impl Folded {
    /// Folds `text` (kept as it is: line breaks too).
    pub fn new(text: &str) -> Self {
        let chars = text.chars().count();
        Self {
            head: text.chars().take(FOLD_CHARS).collect(),
            full: text.to_string(),
            chars,
        }
    }

    /// Whether the text is longer than its head.
    pub fn is_long(&self) -> bool {
        self.chars > FOLD_CHARS
    }
}

/// One mention as the page shows it.
pub struct MentionRow {
    when: String,
    platform: String,
    author: String,
    /// The stored sentiment (for the CSS class) and its label.
    sentiment: String,
    sentiment_label: String,
    intent: String,
    topics: String,
    text: Folded,
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
    /// Whether any filter is set (the empty state says to clear them, not to add sources).
    filtered: bool,
}

impl MentionsPage {
    /// The label of a stored value (`sent`, `intent`) in the page's language.
    fn label(&self, group: &str, value: &str) -> String {
        super::i18n::label(self.page.lang, group, value)
    }
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
    let asked = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => match p.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return Ok(bad_query(page.lang, QueryError::Page)),
        },
    };
    let page_no = match page_number(asked) {
        Ok(n) => n,
        Err(e) => return Ok(bad_query(page.lang, e)),
    };
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
            let sentiment = c.sentiment.label.as_str().to_string();
            MentionRow {
                when: m
                    .mention
                    .created_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                sentiment_label: super::i18n::label(page.lang, "sent", &sentiment),
                sentiment,
                intent: super::i18n::label(page.lang, "intent", c.intent.as_str()),
                topics: m.topics().join(", "),
                url: m.mention.url.clone().filter(|u| safe_link(u)),
                platform: m.mention.platform,
                author: m.mention.author,
                text: Folded::new(&m.mention.text),
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
    let f = &q.filter;
    let filtered = [
        &f.text,
        &f.author,
        &f.topic,
        &f.platform,
        &f.sentiment,
        &f.intent,
    ]
    .iter()
    .any(|v| !v.trim().is_empty());
    let page = MentionsPage {
        filtered,
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
    fn bidi_controls_are_stripped_and_other_text_kept() {
        let cases: &[(&str, &str)] = &[
            ("\u{202E}admin\u{202C}", "admin"),
            ("a\u{202A}b\u{202B}c\u{202D}d", "abcd"),
            ("\u{2066}x\u{2067}y\u{2068}z\u{2069}", "xyz"),
            ("\u{200E}l\u{200F}r\u{061C}", "lr"),
            ("שלום مرحبا 日产 <b>", "שלום مرحبا 日产 <b>"),
            // Zero-width joiners and spaces are not bidi controls.
            ("a\u{200D}b\u{200B}c", "a\u{200D}b\u{200B}c"),
        ];
        for (input, want) in cases {
            assert_eq!(strip_bidi_controls(input.to_string()), *want, "{input:?}");
        }
    }

    #[test]
    fn days_outside_1970_to_9999_are_refused_not_computed() {
        assert_eq!(parse_day(None), Ok(None));
        assert_eq!(parse_day(Some("  ")), Ok(None));
        assert_eq!(
            parse_day(Some("2026-11-29")),
            Ok(NaiveDate::from_ymd_opt(2026, 11, 29))
        );
        for bad in [
            "-262143-01-01",
            "+262142-12-31",
            "262143-12-31",
            "1969-12-31",
            "10000-01-01",
            "2026-02-30",
            "tomorrow",
        ] {
            assert_eq!(parse_day(Some(bad)), Err(QueryError::Date), "{bad}");
        }
        // The edges: every view's period and its neighbours' links exist.
        for d in ["1970-01-01", "9999-12-31"] {
            let day = parse_day(Some(d)).ok().flatten().expect("a day");
            for v in [CalView::Days, CalView::Week, CalView::Day] {
                let (first, n) = v.period(day);
                assert!(first.checked_sub_days(chrono::Days::new(n)).is_some());
                assert!(first.checked_add_days(chrono::Days::new(2 * n)).is_some());
            }
        }
    }

    #[test]
    fn the_default_view_starts_today_the_week_view_on_monday() {
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 29).expect("day");
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).expect("day");
        assert_eq!(CalView::Days.period(sunday), (sunday, 7));
        assert_eq!(CalView::Week.period(sunday), (monday, 7));
        assert_eq!(CalView::Day.period(sunday), (sunday, 1));
    }

    #[test]
    fn page_numbers_are_bounded() {
        assert_eq!(page_number(None), Ok(1));
        assert_eq!(page_number(Some(0)), Ok(1));
        assert_eq!(page_number(Some(MAX_PAGE)), Ok(MAX_PAGE));
        assert_eq!(page_number(Some(MAX_PAGE + 1)), Err(QueryError::Page));
        assert_eq!(page_number(Some(usize::MAX)), Err(QueryError::Page));
    }

    #[test]
    fn long_texts_fold_at_280_characters() {
        let long = "长".repeat(15_000);
        let f = Folded::new(&long);
        assert!(f.is_long());
        assert_eq!((f.head.chars().count(), f.chars), (FOLD_CHARS, 15_000));
        let short = Folded::new(&"x".repeat(FOLD_CHARS));
        assert!(!short.is_long());
        assert_eq!(short.head, short.full);
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
