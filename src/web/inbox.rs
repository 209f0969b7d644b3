//! The reply inbox in the browser and over the API: the Inbox list, one item's page, and Leads.
//!
//! Every decision is [`QueueStore::apply`](crate::store::QueueStore::apply) with an
//! [`Action`], exactly what `herald queue` does, so the state machine and its audit log have one
//! home ([`crate::inbox::apply`]). Pages record the logged-in user as who decided; the API
//! records the name in the `X-Herald-User` header, else `api` ([`API_USER_HEADER`]).
//! Approve is offered, and accepted, only for items herald can send a reply to
//! ([`crate::inbox::reply_channel`]); for the others the pages say why and link to the mention,
//! to answer there by hand.
//!
//! Pages: `GET /inbox` (filters `priority`, `state`, `platform`, `lang` as GET parameters;
//! `state` empty means the open states, `all` means every state; `page` from 1),
//! `GET /inbox/{id}`, `POST /inbox/{id}/approve` (`text`: approves with that text when it
//! differs from the draft; `media_file`, `media_alt`: the reply's picture from the media
//! library, attached first when it changed), `/edit` (`text`, `media_file`, `media_alt`), `/reject` (`reason`), `/assign` (`to`, empty to
//! unassign), `GET /leads` (`page` from 1), `GET /leads/export.csv`.
//!
//! API: `GET /api/queue` (same filters, `offset`, `limit`), `GET /api/queue/{id}`,
//! `POST /api/queue/{id}/approve` (`{"text": …}` optional), `/edit` (`{"text": …}`),
//! `/reject` (`{"reason": …}` optional), `/assign` (`{"to": …}`, null to unassign),
//! `/attach` (`{"file": …, "alt": …}`, `{"file": null}` to remove the picture),
//! `GET /api/leads`.

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::ApiError;
use super::i18n::{fill, label, t, Lang};
use super::pages::{bad_query, page_number, Folded};
use super::{plain_page, render, AppState, Chrome, Plugin, WebError};
use crate::domain::PostMedia;
use crate::inbox::{
    leads, reply_channel, Action, Priority, QueueItem, ReplyState, TransitionError,
};
use crate::listen::config::SourceConfig;
use crate::store::QueueQuery;

/// Items per Inbox page.
pub const PAGE_SIZE: usize = 50;
/// The header naming who acts through the API (default [`API_DEFAULT_USER`]).
pub const API_USER_HEADER: &str = "x-herald-user";
/// Who the audit log names for an API call without [`API_USER_HEADER`].
pub const API_DEFAULT_USER: &str = "api";
/// How many characters of the mention the Inbox list shows.
const SNIPPET_CHARS: usize = 120;

/// The inbox plugin: the `inbox` and `leads` sections and the `/api/queue` routes.
pub fn plugin() -> Plugin {
    Plugin {
        sections: vec!["inbox", "leads"],
        pages: Router::new()
            .route("/inbox", get(inbox_page))
            .route("/inbox/{id}", get(item_page))
            .route("/inbox/{id}/approve", post(approve_form))
            .route("/inbox/{id}/edit", post(edit_form))
            .route("/inbox/{id}/reject", post(reject_form))
            .route("/inbox/{id}/assign", post(assign_form))
            .route("/leads", get(leads_page))
            .route("/leads/export.csv", get(leads_csv)),
        api: Router::new()
            .route("/api/queue", get(api_queue))
            .route("/api/queue/{id}", get(api_item))
            .route("/api/queue/{id}/approve", post(api_approve))
            .route("/api/queue/{id}/edit", post(api_edit))
            .route("/api/queue/{id}/reject", post(api_reject))
            .route("/api/queue/{id}/assign", post(api_assign))
            .route("/api/queue/{id}/attach", post(api_attach))
            .route("/api/leads", get(api_leads)),
    }
}

/// The Inbox filters, as GET parameters (empty: any).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    #[serde(default)]
    priority: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    lang: String,
    /// Inbox page number, from 1.
    #[serde(default)]
    page: Option<usize>,
    /// API: items to skip.
    #[serde(default)]
    offset: Option<usize>,
    /// API: page size (at most 500).
    #[serde(default)]
    limit: Option<usize>,
    /// A message code set by a redirect after an action.
    #[serde(default)]
    msg: String,
}

/// A filter value the queue does not know: answered 400 with this message (the value quoted
/// with escapes, so it cannot forge the page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// `state=` is not a reply state, `all` or empty.
    #[error("unknown state {0:?}")]
    State(String),
    /// `priority=` is not a priority or empty.
    #[error("unknown priority {0:?}")]
    Priority(String),
}

impl Filters {
    /// The store query of these filters; `Err` names a value that is not a priority or state.
    fn query(&self) -> Result<QueueQuery, FilterError> {
        let states = match self.state.as_str() {
            "" => ReplyState::OPEN.to_vec(),
            "all" => Vec::new(),
            s => vec![ReplyState::parse(s).ok_or_else(|| FilterError::State(s.to_string()))?],
        };
        let priorities = match self.priority.as_str() {
            "" => Vec::new(),
            p => vec![Priority::parse(p).ok_or_else(|| FilterError::Priority(p.to_string()))?],
        };
        let one = |s: &str| {
            if s.is_empty() {
                Vec::new()
            } else {
                vec![s.to_string()]
            }
        };
        Ok(QueueQuery {
            states,
            priorities,
            platforms: one(&self.platform),
            langs: one(&self.lang),
            ..Default::default()
        })
    }

    /// The query string of these filters (without the page), for links.
    fn params(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("priority", &self.priority)
            .append_pair("state", &self.state)
            .append_pair("platform", &self.platform)
            .append_pair("lang", &self.lang)
            .finish()
    }
}

/// One Inbox row.
pub struct Row {
    id: u64,
    priority: &'static str,
    state: &'static str,
    platform: String,
    lang: String,
    author: String,
    snippet: String,
    age: String,
    overdue: bool,
    assignee: String,
    pending: bool,
    /// herald can send a reply (else the row offers the mention's link, to answer by hand).
    answerable: bool,
    /// The mention's link, if http(s).
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox.html", config = "src/web/askama.toml")]
struct InboxPage {
    page: Chrome,
    f: Filters,
    rows: Vec<Row>,
    total: usize,
    priorities: Vec<&'static str>,
    states: Vec<&'static str>,
    platforms: Vec<String>,
    langs: Vec<String>,
    page_no: usize,
    prev: Option<String>,
    next: Option<String>,
    message: Option<&'static str>,
    /// Whether a filter is set (the empty state then says to change it).
    filtered: bool,
}

impl InboxPage {
    /// The label of a priority (`prio`) or reply state (`rstate`) in the page's language.
    fn label(&self, group: &str, value: &str) -> String {
        self.page.t(&format!("{group}.{value}")).to_string()
    }
}

/// How long ago `since` was, compactly, in `lang` (`3d 4h`, `2h 5m`, `7m`; `3天4小时`).
pub fn age(lang: Lang, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let mins = (now - since).num_minutes().max(0);
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    let (ud, uh, um) = (t(lang, "age.d"), t(lang, "age.h"), t(lang, "age.m"));
    // English puts a space between the parts, Chinese none.
    let sep = if lang == Lang::Zh { "" } else { " " };
    if d > 0 {
        format!("{d}{ud}{sep}{h}{uh}")
    } else if h > 0 {
        format!("{h}{uh}{sep}{m}{um}")
    } else {
        format!("{m}{um}")
    }
}

fn message(code: &str) -> Option<&'static str> {
    match code {
        "approve" => Some("inbox.msg.approve"),
        "edit" => Some("inbox.msg.edit"),
        "reject" => Some("inbox.msg.reject"),
        "assign" => Some("inbox.msg.assign"),
        _ => None,
    }
}

/// A link from a mention or a platform, only if it is http(s) ([`super::pages::safe_link`]).
fn safe(url: Option<&str>) -> Option<String> {
    url.filter(|u| super::pages::safe_link(u))
        .map(str::to_string)
}

/// The Inbox's platform choices, sorted: the platforms of the configured sources, those of
/// items already queued (their source may have been removed since), and the one asked for, so
/// the filter in force is always shown.
pub fn platform_choices(
    sources: &[SourceConfig],
    queued: &[String],
    selected: &str,
) -> Vec<String> {
    let mut all: BTreeSet<String> = sources
        .iter()
        .map(|s| s.kind.platform().to_string())
        .collect();
    all.extend(queued.iter().cloned());
    if !selected.is_empty() {
        all.insert(selected.to_string());
    }
    all.into_iter().collect()
}

/// The Inbox's language choices, sorted: Chinese and English (the languages herald
/// classifies), those of items already queued, and the one asked for.
pub fn lang_choices(queued: &[String], selected: &str) -> Vec<String> {
    let mut all: BTreeSet<String> = ["en", "zh"].map(String::from).into_iter().collect();
    all.extend(queued.iter().cloned());
    if !selected.is_empty() {
        all.insert(selected.to_string());
    }
    all.into_iter().collect()
}

/// `GET /inbox`: the queue, most urgent first, filtered and paginated.
pub async fn inbox_page(
    State(state): State<AppState>,
    page: Chrome,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    let mut q = match f.query() {
        Ok(q) => q,
        Err(e) => return Ok(plain_page(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    let page_no = match page_number(f.page) {
        Ok(n) => n,
        Err(e) => return Ok(bad_query(page.lang, e)),
    };
    q.offset = (page_no - 1) * PAGE_SIZE;
    q.limit = PAGE_SIZE;
    let items = state.store().queue().page(&q)?;
    let total = state.store().queue().count(&q)?;
    let platforms = platform_choices(
        &state.config().herald.sources,
        &state.store().queue().platforms()?,
        &f.platform,
    );
    let langs = lang_choices(&state.store().queue().langs()?, &f.lang);
    let now = state.now();
    let link = |n: usize| format!("/inbox?{}&page={n}", f.params());
    let rows = items
        .iter()
        .map(|i| Row {
            id: i.id,
            priority: i.priority.as_str(),
            state: i.state.as_str(),
            platform: i.platform.clone(),
            lang: i.lang.clone(),
            author: i.author.clone(),
            snippet: super::pages::snippet(&i.mention_text, SNIPPET_CHARS),
            age: age(page.lang, i.created_at, now),
            overdue: i.is_overdue(now),
            assignee: i.assignee.clone().unwrap_or_default(),
            pending: i.state == ReplyState::Pending,
            answerable: reply_channel(i, &state.config().herald.channels).is_ok(),
            link: safe(i.mention_url.as_deref()),
        })
        .collect();
    let tpl = InboxPage {
        rows,
        total,
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        states: ReplyState::ALL.iter().map(|s| s.as_str()).collect(),
        platforms,
        langs,
        page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (q.offset + PAGE_SIZE < total).then(|| link(page_no + 1)),
        message: message(&f.msg),
        filtered: !(f.priority.is_empty()
            && f.state.is_empty()
            && f.platform.is_empty()
            && f.lang.is_empty()),
        f,
        page,
    };
    render(&tpl)
}

/// One audit entry as the item page shows it.
pub struct HistoryRow {
    at: String,
    who: String,
    /// The action's label.
    action: String,
    /// The action as stored, for the row's CSS class.
    action_code: String,
    from: String,
    to: String,
    before: String,
    after: String,
    note: String,
}

#[derive(Template)]
#[template(path = "item.html", config = "src/web/askama.toml")]
struct ItemPage {
    page: Chrome,
    item: QueueItem,
    priority: &'static str,
    state: &'static str,
    received: String,
    age: String,
    due: String,
    overdue: bool,
    pending: bool,
    approvable: bool,
    rejectable: bool,
    topics: String,
    sentiment: String,
    intent: String,
    lead: String,
    /// The mention's text, folded when long.
    mention: Folded,
    /// The mention's link, if http(s).
    link: Option<String>,
    /// The sent reply's link, if http(s).
    sent_link: Option<String>,
    /// The id of the post the mention answers, if it was itself a reply.
    thread: Option<String>,
    history: Vec<HistoryRow>,
    message: Option<&'static str>,
    /// Why herald cannot send a reply itself (no Approve then).
    cannot_answer: Option<String>,
    /// Why the last action was refused (the editor keeps what was sent).
    error: Option<String>,
    /// The editor's text: the draft, or the text of a refused edit.
    draft: String,
    /// The picture attached to the reply, as stored.
    picture: Option<super::media::Thumb>,
    /// The editor's picture choice: the attached one, or what a refused form sent.
    picked: Picked,
    /// The pictures of the media library the editor offers: (file, thumbnail URL).
    library: Vec<(String, String)>,
    /// The longest alt text accepted.
    max_alt: usize,
}

/// The editor's picture fields: a library file (empty: none) and its alt text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picked {
    pub file: String,
    pub alt: String,
}

impl ItemPage {
    /// The label of a priority (`prio`) or reply state (`rstate`) in the page's language.
    fn label(&self, group: &str, value: &str) -> String {
        self.page.t(&format!("{group}.{value}")).to_string()
    }
}

/// `?msg=` of the item page.
#[derive(Debug, Default, Deserialize)]
pub struct ItemQuery {
    #[serde(default)]
    msg: String,
}

/// Why herald cannot answer `item` itself, as the item page says it (`None`: it can).
fn cannot_answer(state: &AppState, lang: Lang, item: &QueueItem) -> Option<String> {
    let why = reply_channel(item, &state.config().herald.channels).err()?;
    tracing::debug!(item = item.id, why = %why, "No reply channel");
    let key = if safe(item.mention_url.as_deref()).is_some() {
        "inbox.cannot_answer"
    } else {
        "inbox.cannot_answer_nolink"
    };
    Some(fill(t(lang, key), &[("platform", &item.platform)]))
}

/// The item page of `item`, with the editor holding `draft` (else the item's text) and
/// `error` shown above it.
fn item_view(
    state: &AppState,
    page: Chrome,
    item: QueueItem,
    message: Option<&'static str>,
    error: Option<String>,
    draft: Option<String>,
    picked: Option<Picked>,
) -> Result<ItemPage, WebError> {
    let tz = state.tz();
    let now = state.now();
    let lang = page.lang;
    let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    // The stored mention: its sentiment, and what it answers (the thread, as far as stored).
    let stored = state
        .store()
        .mentions()
        .list(&crate::store::MentionQuery {
            author: Some(item.author.clone()),
            since: Some(item.mention_at - chrono::TimeDelta::seconds(1)),
            limit: 200,
            ..Default::default()
        })?
        .into_iter()
        .find(|m| m.mention.id == item.mention_id);
    let sentiment = stored
        .as_ref()
        .map(|m| m.classification.sentiment.label.as_str())
        .unwrap_or("")
        .to_string();
    let thread = stored.and_then(|m| m.mention.in_reply_to);
    let history = item
        .audit
        .iter()
        .map(|a| HistoryRow {
            at: fmt(a.at),
            who: a.who.clone(),
            action: label(lang, "action", &a.action),
            action_code: a.action.clone(),
            from: a
                .from
                .map(|s| label(lang, "rstate", s.as_str()))
                .unwrap_or_default(),
            to: label(lang, "rstate", a.to.as_str()),
            before: a.text_before.clone(),
            after: a.text_after.clone(),
            // Unassigning is recorded as "(nobody)" (`inbox::apply`): a word of the UI.
            note: match (a.action.as_str(), a.note.as_deref()) {
                ("assign", Some("(nobody)")) => t(lang, "inbox.nobody").to_string(),
                _ => a.note.clone().unwrap_or_default(),
            },
        })
        .collect();
    let lead = item
        .lead
        .as_ref()
        .map(|l| {
            let mut parts = vec![label(lang, "grade", &l.grade)];
            if l.phone {
                parts.push(t(lang, "lead.phone").to_string());
            }
            if l.email {
                parts.push(t(lang, "lead.email").to_string());
            }
            if l.test_drive {
                parts.push(t(lang, "lead.test_drive").to_string());
            }
            if let Some(m) = l.timeframe_months {
                parts.push(format!("{m} {}", t(lang, "lead.months")));
            }
            parts.join(", ")
        })
        .unwrap_or_default();
    let cannot = cannot_answer(state, lang, &item);
    Ok(ItemPage {
        priority: item.priority.as_str(),
        state: item.state.as_str(),
        received: fmt(item.mention_at),
        age: age(lang, item.created_at, now),
        due: fmt(item.due_at),
        overdue: item.is_overdue(now),
        pending: item.state == ReplyState::Pending,
        approvable: cannot.is_none()
            && matches!(item.state, ReplyState::Pending | ReplyState::Failed),
        rejectable: matches!(
            item.state,
            ReplyState::Pending | ReplyState::Approved | ReplyState::Failed
        ),
        topics: item.topics.join(", "),
        sentiment: label(lang, "sent", &sentiment),
        intent: label(lang, "intent", &item.intent),
        lead,
        mention: Folded::new(&item.mention_text),
        thread,
        link: safe(item.mention_url.as_deref()),
        sent_link: safe(item.remote_url.as_deref()),
        history,
        message,
        cannot_answer: cannot,
        error,
        draft: draft.unwrap_or_else(|| item.text.clone()),
        picture: item.media.as_ref().map(super::media::Thumb::of),
        picked: picked.unwrap_or_else(|| Picked {
            file: item
                .media
                .as_ref()
                .map(|m| m.file.clone())
                .unwrap_or_default(),
            alt: item
                .media
                .as_ref()
                .map(|m| m.alt.clone())
                .unwrap_or_default(),
        }),
        library: {
            // The attached file stays a choice even if it left the library since.
            let mut files = super::media::library(&state.media_dir());
            if let Some(m) = &item.media {
                if !files.contains(&m.file) {
                    files.insert(0, m.file.clone());
                }
            }
            files
                .into_iter()
                .map(|f| {
                    let src = super::media::thumb_url(&f);
                    (f, src)
                })
                .collect()
        },
        max_alt: crate::inbox::MAX_ALT_CHARS,
        item,
        page,
    })
}

/// `GET /inbox/{id}`: the mention, its classification, the draft editor and the history.
pub async fn item_page(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<u64>,
    Query(q): Query<ItemQuery>,
) -> Result<Response, WebError> {
    let Some(item) = state.store().queue().item(id)? else {
        return Ok(plain_page(
            StatusCode::NOT_FOUND,
            page.t("inbox.no_such_item"),
        ));
    };
    render(&item_view(
        &state,
        page,
        item,
        message(&q.msg),
        None,
        None,
        None,
    )?)
}

/// The fields of the item page's forms (each form sends the ones it has).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// Where to go afterwards: `inbox` back to the list, else the item page.
    #[serde(default)]
    back: Option<String>,
    /// The editor's picture: a file of the media library, empty for none. Absent (the list's
    /// quick approve): the picture is left as it is.
    #[serde(default)]
    media_file: Option<String>,
    /// The picture's alt text.
    #[serde(default)]
    media_alt: Option<String>,
}

impl ActionForm {
    /// The editor's picture fields, if the form has them.
    fn picked(&self) -> Option<Picked> {
        let file = self.media_file.as_deref()?.trim().to_string();
        let alt = normalize(self.media_alt.as_deref().unwrap_or(""))
            .trim()
            .to_string();
        Some(Picked { file, alt })
    }
}

/// The picture a form asks the reply to carry (`None`: none), or why it cannot: a file that
/// is not a picture of the library. The alt text is checked by [`crate::inbox::apply`].
fn wanted_media(state: &AppState, lang: Lang, p: &Picked) -> Result<Option<PostMedia>, String> {
    if p.file.is_empty() {
        return Ok(None);
    }
    let is_picture = super::media::resolve(&state.media_dir(), &p.file)
        .is_some_and(|path| crate::media::inspect(&path).is_ok());
    if !is_picture {
        return Err(t(lang, "media.err.no_such_picture").to_string());
    }
    Ok(Some(PostMedia {
        file: p.file.clone(),
        alt: p.alt.clone(),
        focus: None,
    }))
}

/// A textarea's text with the browser's CRLF line ends made LF again.
fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The item page again, with `status`, `error` above the editor and the editor holding the
/// text the person sent (so a refused edit is not lost).
fn refused(
    state: &AppState,
    page: &Chrome,
    id: u64,
    status: StatusCode,
    error: String,
    text: Option<String>,
    picked: Option<Picked>,
) -> Result<Response, WebError> {
    let Some(item) = state.store().queue().item(id)? else {
        return Ok(plain_page(
            StatusCode::NOT_FOUND,
            page.t("inbox.no_such_item"),
        ));
    };
    let mut res = render(&item_view(
        state,
        page.clone(),
        item,
        None,
        Some(error),
        text,
        picked,
    )?)?;
    *res.status_mut() = status;
    Ok(res)
}

/// The page's answer to a refused action: the item page again with why above the editor
/// (which keeps what was sent), or a plain page when there is no item or no such step.
fn refusal(
    state: &AppState,
    page: &Chrome,
    id: u64,
    e: TransitionError,
    sent_text: Option<String>,
    picked: Option<Picked>,
) -> Result<Response, WebError> {
    let bad = |why: String| {
        refused(
            state,
            page,
            id,
            StatusCode::BAD_REQUEST,
            why,
            sent_text.clone(),
            picked.clone(),
        )
    };
    let limit = |key: &str, len: usize, max: usize| {
        fill(
            page.t(key),
            &[("max", &max.to_string()), ("len", &len.to_string())],
        )
    };
    match e {
        TransitionError::TooLong { len, max } => bad(limit("inbox.err.too_long", len, max)),
        TransitionError::EmptyText => bad(page.t("inbox.err.empty").to_string()),
        TransitionError::AltMissing => bad(page.t("media.err.alt_missing").to_string()),
        TransitionError::AltTooLong { len, max } => bad(limit("media.err.alt_too_long", len, max)),
        TransitionError::BadFile(_) => bad(page.t("media.err.no_such_picture").to_string()),
        TransitionError::NotFound(_) => Ok(plain_page(
            StatusCode::NOT_FOUND,
            page.t("inbox.no_such_item"),
        )),
        TransitionError::Illegal { .. } => Ok(plain_page(
            StatusCode::CONFLICT,
            page.t("inbox.err.illegal"),
        )),
    }
}

/// Applies `action` to item `id` as the logged-in person. With `picked` (the editor's picture
/// fields), the picture is attached first when it changed ([`Action::Attach`], audited):
/// both steps are tried on the item before either is stored, so a refused one stores nothing.
async fn act_page(
    state: &AppState,
    page: &Chrome,
    id: u64,
    action: Action,
    back: Option<&str>,
    picked: Option<Picked>,
) -> Result<Response, WebError> {
    let name = action.name();
    let sent_text = match &action {
        Action::Edit { text } | Action::Approve { text: Some(text) } => Some(text.clone()),
        _ => None,
    };
    let Some(item) = state.store().queue().item(id)? else {
        return Ok(plain_page(
            StatusCode::NOT_FOUND,
            page.t("inbox.no_such_item"),
        ));
    };
    if matches!(action, Action::Approve { .. }) {
        if let Some(why) = cannot_answer(state, page.lang, &item) {
            return refused(
                state,
                page,
                id,
                StatusCode::CONFLICT,
                why,
                sent_text,
                picked,
            );
        }
    }
    let now = state.now();
    let attach = match &picked {
        Some(p) => match wanted_media(state, page.lang, p) {
            Ok(media) => (media != item.media).then_some(Action::Attach { media }),
            Err(why) => {
                return refused(
                    state,
                    page,
                    id,
                    StatusCode::BAD_REQUEST,
                    why,
                    sent_text,
                    picked,
                )
            }
        },
        None => None,
    };
    if let Some(attach) = &attach {
        // Both steps on the item as read, so that neither is stored if one is refused.
        let tried = crate::inbox::apply(&item, attach, &page.user, now)
            .and_then(|next| crate::inbox::apply(&next, &action, &page.user, now));
        if let Err(e) = tried {
            return refusal(state, page, id, e, sent_text, picked);
        }
        match state.store().queue().apply(id, attach, &page.user, now)? {
            Ok(item) => {
                tracing::info!(id, action = "attach", who = %page.user, state = item.state.as_str(), "Inbox decision")
            }
            Err(e) => return refusal(state, page, id, e, sent_text, picked),
        }
    }
    match state.store().queue().apply(id, &action, &page.user, now)? {
        Ok(item) => {
            tracing::info!(id, action = name, who = %page.user, state = item.state.as_str(), "Inbox decision");
            if matches!(action, Action::Approve { .. }) {
                state.wake_publisher();
            }
            let to = if back == Some("inbox") {
                format!("/inbox?msg={name}")
            } else {
                format!("/inbox/{id}?msg={name}")
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => refusal(state, page, id, e, sent_text, picked),
    }
}

/// `POST /inbox/{id}/approve`: approve as drafted, or with the editor's text if it changed,
/// with the editor's picture if it has one.
pub async fn approve_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<u64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let text = match f.text.as_deref().map(normalize) {
        Some(t) => {
            let current = state.store().queue().item(id)?.map(|i| i.text);
            (current.as_deref() != Some(t.as_str())).then_some(t)
        }
        None => None,
    };
    act_page(
        &state,
        &page,
        id,
        Action::Approve { text },
        f.back.as_deref(),
        f.picked(),
    )
    .await
}

/// `POST /inbox/{id}/edit`: save the editor's text and picture, staying pending.
pub async fn edit_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<u64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let text = normalize(f.text.as_deref().unwrap_or(""));
    let picked = f.picked();
    act_page(&state, &page, id, Action::Edit { text }, None, picked).await
}

/// `POST /inbox/{id}/reject`: decide not to answer, with an optional reason.
pub async fn reject_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<u64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let reason = non_empty(f.reason.as_deref());
    act_page(
        &state,
        &page,
        id,
        Action::Reject { reason },
        f.back.as_deref(),
        None,
    )
    .await
}

/// `POST /inbox/{id}/assign`: give the item to someone (empty: unassign).
pub async fn assign_form(
    State(state): State<AppState>,
    page: Chrome,
    Path(id): Path<u64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let to = non_empty(f.to.as_deref());
    act_page(&state, &page, id, Action::Assign { to }, None, None).await
}

/// One lead row.
pub struct LeadRow {
    id: u64,
    received: String,
    platform: String,
    author: String,
    /// The stored grade (for the row's CSS class) and its label.
    grade: String,
    grade_label: String,
    contact: String,
    test_drive: bool,
    timeframe: String,
    snippet: String,
    url: Option<String>,
}

#[derive(Template)]
#[template(path = "leads.html", config = "src/web/askama.toml")]
struct LeadsPage {
    page: Chrome,
    rows: Vec<LeadRow>,
    total: usize,
    page_no: usize,
    prev: Option<String>,
    next: Option<String>,
}

/// `?page=` of the Leads page, from 1.
#[derive(Debug, Default, Deserialize)]
pub struct LeadsQuery {
    #[serde(default)]
    page: Option<usize>,
}

/// Every queue item that carries a lead, newest first.
fn lead_items(state: &AppState) -> Result<Vec<QueueItem>, crate::store::StoreError> {
    crate::inbox::leads::leads(state.store(), None)
}

/// `GET /leads`: purchase leads, [`PAGE_SIZE`] a page, with a CSV download of them all.
pub async fn leads_page(
    State(state): State<AppState>,
    page: Chrome,
    Query(q): Query<LeadsQuery>,
) -> Result<Response, WebError> {
    let tz = state.tz();
    let page_no = match page_number(q.page) {
        Ok(n) => n,
        Err(e) => return Ok(bad_query(page.lang, e)),
    };
    let offset = (page_no - 1) * PAGE_SIZE;
    let items = lead_items(&state)?;
    let total = items.len();
    let rows = items
        .into_iter()
        .skip(offset)
        .take(PAGE_SIZE)
        .filter_map(|i| {
            let lead = i.lead.as_ref()?;
            let mut contact = Vec::new();
            if lead.phone {
                contact.push(page.t("lead.phone"));
            }
            if lead.email {
                contact.push(page.t("lead.email"));
            }
            Some(LeadRow {
                id: i.id,
                received: i
                    .created_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                platform: i.platform.clone(),
                author: i.author.clone(),
                grade: lead.grade.clone(),
                grade_label: label(page.lang, "grade", &lead.grade),
                contact: contact.join(", "),
                test_drive: lead.test_drive,
                timeframe: lead
                    .timeframe_months
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
                snippet: super::pages::snippet(&i.mention_text, SNIPPET_CHARS),
                url: safe(i.mention_url.as_deref()),
            })
        })
        .collect();
    let link = |n: usize| format!("/leads?page={n}");
    render(&LeadsPage {
        page,
        rows,
        total,
        page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (offset + PAGE_SIZE < total).then(|| link(page_no + 1)),
    })
}

/// `GET /leads/export.csv`: the leads as CSV ([`leads::to_csv`]).
pub async fn leads_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let csv = leads::to_csv(&lead_items(&state)?);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"herald-leads.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

// ---- The JSON API ----

/// An item as the API returns it: the stored item plus `overdue`.
fn item_json(item: &QueueItem, now: DateTime<Utc>) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("overdue".into(), json!(item.is_overdue(now)));
    }
    v
}

/// `GET /api/queue`: `{"total": n, "items": [...]}` with the Inbox's filters.
pub async fn api_queue(
    State(state): State<AppState>,
    Query(f): Query<Filters>,
) -> Result<Json<Value>, ApiError> {
    let mut q = f
        .query()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    q.offset = f.offset.unwrap_or(0);
    q.limit = f.limit.unwrap_or(PAGE_SIZE).clamp(1, 500);
    let now = state.now();
    let items: Vec<Value> = state
        .store()
        .queue()
        .page(&q)?
        .iter()
        .map(|i| item_json(i, now))
        .collect();
    let total = state.store().queue().count(&q)?;
    Ok(Json(json!({ "total": total, "items": items })))
}

/// `GET /api/queue/{id}`.
pub async fn api_item(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    match state.store().queue().item(id)? {
        Some(item) => Ok(Json(item_json(&item, state.now()))),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no queue item {id}"),
        }),
    }
}

/// Who an API call acts as: [`API_USER_HEADER`] if it is a sane name, else [`API_DEFAULT_USER`].
pub fn api_user(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(API_USER_HEADER) {
        None => Ok(API_DEFAULT_USER.into()),
        Some(v) => {
            let name = v.to_str().map(str::trim).unwrap_or("");
            if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                Err(ApiError::bad_request(format!(
                    "{API_USER_HEADER} must be a name of 1 to 64 printable characters"
                )))
            } else {
                Ok(name.to_string())
            }
        }
    }
}

/// The JSON body of an action (empty body: `{}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// `attach`: a file of the media library (null or empty: remove the picture).
    #[serde(default)]
    file: Option<String>,
    /// `attach`: the picture's alt text.
    #[serde(default)]
    alt: Option<String>,
}

fn parse_body(body: &Bytes) -> Result<ActionBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn act_api(
    state: &AppState,
    headers: &HeaderMap,
    id: u64,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    let who = api_user(headers)?;
    let now = state.now();
    if matches!(action, Action::Approve { .. }) {
        if let Some(item) = state.store().queue().item(id)? {
            if let Err(why) = reply_channel(&item, &state.config().herald.channels) {
                return Err(ApiError {
                    status: StatusCode::CONFLICT,
                    message: why.to_string(),
                });
            }
        }
    }
    match state.store().queue().apply(id, &action, &who, now)? {
        Ok(item) => {
            tracing::info!(id, action = action.name(), who = %who, state = item.state.as_str(), "Inbox decision (API)");
            if matches!(action, Action::Approve { .. }) {
                state.wake_publisher();
            }
            Ok(Json(item_json(&item, now)))
        }
        Err(e) => Err(ApiError {
            status: match e {
                TransitionError::NotFound(_) => StatusCode::NOT_FOUND,
                TransitionError::EmptyText
                | TransitionError::TooLong { .. }
                | TransitionError::AltMissing
                | TransitionError::AltTooLong { .. }
                | TransitionError::BadFile(_) => StatusCode::BAD_REQUEST,
                TransitionError::Illegal { .. } => StatusCode::CONFLICT,
            },
            message: e.to_string(),
        }),
    }
}

/// `POST /api/queue/{id}/approve`: `{"text": "…"}` to approve with an edit, or no body.
pub async fn api_approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse_body(&body)?;
    act_api(&state, &headers, id, Action::Approve { text: b.text })
}

/// `POST /api/queue/{id}/edit`: `{"text": "…"}`.
pub async fn api_edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse_body(&body)?;
    let text = b
        .text
        .ok_or_else(|| ApiError::bad_request("edit needs {\"text\": …}"))?;
    act_api(&state, &headers, id, Action::Edit { text })
}

/// `POST /api/queue/{id}/reject`: `{"reason": "…"}` optional.
pub async fn api_reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse_body(&body)?;
    let reason = non_empty(b.reason.as_deref());
    act_api(&state, &headers, id, Action::Reject { reason })
}

/// `POST /api/queue/{id}/assign`: `{"to": "name"}`, or `{"to": null}` to unassign.
pub async fn api_assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse_body(&body)?;
    let to = non_empty(b.to.as_deref());
    act_api(&state, &headers, id, Action::Assign { to })
}

/// `POST /api/queue/{id}/attach`: `{"file": "dealer/snow.jpg", "alt": "…"}` attaches a
/// picture of the media library to a pending or failed reply; `{"file": null}` removes it. A
/// file that is not a picture of the library, or a missing or too long alt text, is a 400.
pub async fn api_attach(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse_body(&body)?;
    let picked = Picked {
        file: b.file.as_deref().unwrap_or("").trim().to_string(),
        alt: b.alt.as_deref().unwrap_or("").trim().to_string(),
    };
    let media = wanted_media(&state, Lang::En, &picked).map_err(|_| {
        ApiError::bad_request(format!(
            "{:?} is not a JPEG, PNG, WebP or GIF picture in the media library",
            picked.file
        ))
    })?;
    act_api(&state, &headers, id, Action::Attach { media })
}

/// `GET /api/leads`: `{"leads": [...]}` as the CRM webhook receives them.
pub async fn api_leads(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(leads::to_json(&lead_items(&state)?, state.now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_compact() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let en = |d: chrono::TimeDelta| age(Lang::En, now - d, now);
        let zh = |d: chrono::TimeDelta| age(Lang::Zh, now - d, now);
        assert_eq!(en(chrono::TimeDelta::minutes(7)), "7m");
        assert_eq!(en(chrono::TimeDelta::minutes(125)), "2h 5m");
        assert_eq!(en(chrono::TimeDelta::hours(76)), "3d 4h");
        assert_eq!(en(chrono::TimeDelta::hours(-1)), "0m");
        assert_eq!(zh(chrono::TimeDelta::minutes(7)), "7分钟");
        assert_eq!(zh(chrono::TimeDelta::minutes(125)), "2小时5分钟");
        assert_eq!(zh(chrono::TimeDelta::hours(76)), "3天4小时");
    }

    #[test]
    fn platform_choices_come_from_the_sources_the_queue_and_the_filter_in_force() {
        use crate::listen::config::SourceKind;
        let url = |u: &str| url::Url::parse(u).unwrap_or_else(|_| panic!("{u}"));
        let source = |name: &str, kind: SourceKind| SourceConfig {
            name: name.into(),
            interval: std::time::Duration::from_secs(60),
            kind,
        };
        let sources = [
            source(
                "tags",
                SourceKind::MastodonHashtag {
                    base_url: url("https://m.example"),
                    token_env: None,
                    hashtags: vec!["nissan".into()],
                },
            ),
            source(
                "news",
                SourceKind::Feed {
                    url: url("https://news.example/feed"),
                },
            ),
        ];
        // (sources, platforms queued, the filter in force) → the choices.
        type Case<'a> = (&'a [SourceConfig], &'a [&'a str], &'a str, &'a [&'a str]);
        let cases: &[Case] = &[
            (&[], &[], "", &[]),
            (&sources, &[], "", &["feed", "mastodon"]),
            (
                &sources,
                &["bluesky", "mastodon"],
                "",
                &["bluesky", "feed", "mastodon"],
            ),
            (&[], &["bluesky"], "forum", &["bluesky", "forum"]),
        ];
        for (sources, queued, selected, want) in cases {
            let queued: Vec<String> = queued.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                platform_choices(sources, &queued, selected),
                *want,
                "{queued:?} {selected:?}"
            );
        }
    }

    #[test]
    fn language_choices_add_queued_and_selected_languages() {
        let queued = vec!["ja".to_string(), "zh".to_string()];
        assert_eq!(lang_choices(&[], ""), ["en", "zh"]);
        assert_eq!(lang_choices(&queued, ""), ["en", "ja", "zh"]);
        assert_eq!(lang_choices(&queued, "ko"), ["en", "ja", "ko", "zh"]);
    }

    #[test]
    fn filters_map_to_the_store_query() {
        let f = Filters {
            priority: "crisis".into(),
            state: "".into(),
            platform: "bluesky".into(),
            ..Default::default()
        };
        let q = f.query().unwrap_or_default();
        assert_eq!(q.priorities, vec![Priority::Crisis]);
        assert_eq!(q.states, ReplyState::OPEN.to_vec());
        assert_eq!(q.platforms, vec!["bluesky".to_string()]);
        assert!(q.langs.is_empty());
        let all = Filters {
            state: "all".into(),
            ..Default::default()
        };
        assert!(all.query().map(|q| q.states.is_empty()).unwrap_or(false));
        let bad = Filters {
            state: "<x>".into(),
            ..Default::default()
        };
        assert!(bad.query().is_err());
    }

    #[test]
    fn an_unknown_filter_value_is_named_escaped() {
        let bad = Filters {
            state: "sent\u{1b}[2J".into(),
            ..Default::default()
        };
        let e = bad.query().expect_err("not a state");
        assert_eq!(e, FilterError::State("sent\u{1b}[2J".into()));
        assert_eq!(e.to_string(), r#"unknown state "sent\u{1b}[2J""#);
        let bad = Filters {
            priority: "urgent".into(),
            ..Default::default()
        };
        assert_eq!(
            bad.query().expect_err("not a priority").to_string(),
            r#"unknown priority "urgent""#
        );
    }
}
