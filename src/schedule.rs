//! Operations on the stored schedule that the CLI, the web UI and `herald run` share: planning a
//! range around the posts the store keeps, the next free slot for a hand-picked draft, a post
//! by hand, and holding or resuming categories. One implementation each, so the three front
//! ends cannot disagree; the rules themselves are the planner's (`plan`), the records the
//! store's.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::classify::keywords;
use crate::config::Config;
use crate::plan::output::Entry;
use crate::plan::{self, track, Note, PastPost, PlanRequest};
use crate::store::{PostKind, PostState, Replaced, Store, StoreError, StoredPost};

/// A schedule for a range, as planned (and saved, unless a dry run).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Kept posts in the range and newly planned ones, in (time, channel) order.
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
    /// What the store did, when the plan was saved.
    pub saved: Option<Replaced>,
}

/// The instant local midnight of `date` begins in `tz` (the earliest, if a DST change repeats it).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
        // A zone that skips midnight itself: the day starts an hour later.
        .unwrap_or_else(|| {
            let n = date.and_hms_opt(1, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        })
}

/// Plans `channels` (all configured channels when empty) from `start` up to local midnight of
/// `end_date`, around the posts the store keeps; saves the result unless `save` is false.
pub fn replan(
    config: &Config,
    store: Option<&Store>,
    start: DateTime<Utc>,
    end_date: NaiveDate,
    channels: &[String],
    save: bool,
) -> Result<Schedule, StoreError> {
    let tz = config.herald.timezone;
    let channels: Vec<String> = if channels.is_empty() {
        config
            .herald
            .channels
            .iter()
            .map(|c| c.name.clone())
            .collect()
    } else {
        channels.to_vec()
    };
    let kept: Vec<StoredPost> = match store {
        Some(s) => s.posts().kept()?,
        None => Vec::new(),
    };
    // Replies from the inbox are not part of the content plan's mix, gaps or caps.
    let kept: Vec<StoredPost> = kept
        .into_iter()
        .filter(|p| p.kind != PostKind::Reply)
        .collect();
    let history: Vec<PastPost> = kept
        .iter()
        .map(|p| PastPost {
            channel: p.channel.clone(),
            at: p.at,
            category: p.category.clone(),
            draft: p.draft.clone(),
            promo: p.promo,
            series: p.series.as_ref().map(Into::into),
        })
        .collect();
    let req = PlanRequest {
        channels: channels.clone(),
        start,
        end_date,
        timezone: tz,
    };
    let planned = plan::plan(&config.plan, &config.drafts, &history, &req);

    let new: Vec<StoredPost> = planned
        .posts
        .iter()
        .map(|p| {
            draft_post(
                config,
                &config.drafts[p.draft],
                &channels[p.channel],
                p.at,
                &config.plan.categories[p.category].name,
                &config.plan.peaks[p.peak].name,
                PostState::Planned,
            )
        })
        .collect();

    let saved = match store {
        Some(s) if save => Some(s.posts().replace_planned(start, &new)?),
        _ => None,
    };

    let end = local_midnight(tz, end_date);
    let mut posts: Vec<&StoredPost> = kept
        .iter()
        .filter(|p| p.at >= start && p.at < end && channels.contains(&p.channel))
        .chain(new.iter())
        .collect();
    posts.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
    let entries = posts.into_iter().map(|p| entry(p, tz)).collect();
    Ok(Schedule {
        entries,
        notes: planned.notes,
        saved,
    })
}

fn entry(p: &StoredPost, tz: Tz) -> Entry {
    Entry {
        at: p.at.with_timezone(&tz).fixed_offset(),
        channel: p.channel.clone(),
        category: p.category.clone(),
        draft: p.draft.clone(),
        peak: p.peak.clone(),
        text: p.text.clone(),
        promo: p.promo,
        source_code: p.source_code.clone(),
        state: p.state.as_str().to_string(),
        title: p.title.clone(),
    }
}

/// What `herald check` found beyond file syntax: rule-file test failures and what a plan of the
/// next `days` days would run short of.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub keyword_failures: Vec<keywords::TestFailure>,
    /// `keywords/replies.toml` test cases that failed.
    pub reply_failures: Vec<crate::inbox::draft::ReplyTestFailure>,
    pub notes: Vec<Note>,
}

/// Why `herald check` could not run its checks (a failing test case is not this: it is in the
/// [`CheckReport`]).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The keyword rules do not compile.
    #[error(transparent)]
    Keywords(#[from] keywords::CompileError),
    /// The reply templates' test cases could not be run.
    #[error("{0}")]
    Replies(String),
    /// The dry-run plan failed.
    #[error(transparent)]
    Plan(#[from] StoreError),
}

/// Runs the keyword files' own tests and a dry-run plan from `start` for `days` days.
pub fn check(config: &Config, start: DateTime<Utc>, days: u32) -> Result<CheckReport, CheckError> {
    let keyword_failures = keywords::run_file_tests(&config.keywords)?;
    let reply_failures = match &config.replies {
        Some(r) => {
            crate::inbox::draft::run_file_tests(r, &config.keywords).map_err(CheckError::Replies)?
        }
        None => Vec::new(),
    };
    let tz = config.herald.timezone;
    let end_date = start.with_timezone(&tz).date_naive() + chrono::Days::new(u64::from(days));
    let schedule = replan(config, None, start, end_date, &[], false)?;
    Ok(CheckReport {
        keyword_failures,
        reply_failures,
        notes: schedule.notes,
    })
}

/// How far ahead `herald run` keeps the schedule planned.
pub const PLAN_AHEAD_DAYS: u64 = 7;

/// Plans from `now` to `PLAN_AHEAD_DAYS` ahead and saves it; logs what a person should know.
pub fn replan_ahead(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Schedule, StoreError> {
    let tz = config.herald.timezone;
    let end = now.with_timezone(&tz).date_naive() + chrono::Days::new(PLAN_AHEAD_DAYS);
    let schedule = replan(config, Some(store), now, end, &[], true)?;
    for note in &schedule.notes {
        if note.is_warning() {
            tracing::warn!(note = %note, "Plan falls short");
        } else {
            tracing::info!(note = %note, "Plan note");
        }
    }
    if let Some(saved) = schedule.saved {
        tracing::info!(planned = saved.inserted, replaced = saved.removed, until = %end, "Schedule planned");
    }
    Ok(schedule)
}

/// The next slot for a hand-picked draft on `channel`: the first peak slot from `now` that keeps
/// `min_gap` from the channel's other posts and is not on a blackout date.
pub fn next_free_slot(
    config: &Config,
    store: &Store,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
    let tz = config.herald.timezone;
    let rules = &config.plan;
    let grid = crate::plan::slots::DayGrid::new(rules);
    let taken: Vec<DateTime<Utc>> = store
        .posts()
        .all()?
        .into_iter()
        .filter(|p| {
            p.channel == channel
                && !matches!(p.state, PostState::Failed | PostState::Missed)
                && p.kind != PostKind::Reply
        })
        .map(|p| p.at)
        .collect();
    let mut date = now.with_timezone(&tz).date_naive();
    for _ in 0..366 {
        if !rules.blackout.contains(&date) {
            use chrono::Datelike;
            for slot in grid.day(date.num_days_from_ce().unsigned_abs() as usize) {
                let Some(at) = tz.from_local_datetime(&date.and_time(slot.time)).earliest() else {
                    continue;
                };
                let at = at.with_timezone(&Utc);
                if at >= now && taken.iter().all(|t| (*t - at).abs() >= rules.min_gap) {
                    return Ok(Some((at, rules.peaks[slot.peak].name.clone())));
                }
            }
        }
        date = date.succ_opt().unwrap_or(date);
    }
    Ok(None)
}

/// A post for one draft, by hand: approved (a person chose it), with tracked links.
pub fn manual_post(
    config: &Config,
    draft: &crate::plan::Draft,
    channel: &str,
    at: DateTime<Utc>,
    peak: &str,
) -> StoredPost {
    let mut post = draft_post(
        config,
        draft,
        channel,
        at,
        &draft.category,
        peak,
        PostState::Approved,
    );
    post.kind = PostKind::Manual;
    post
}

/// The stored post of `draft` on `channel` at `at`: its text with links tracked by the post's
/// source code (rendered in the plan's local time).
fn draft_post(
    config: &Config,
    draft: &crate::plan::Draft,
    channel: &str,
    at: DateTime<Utc>,
    category: &str,
    peak: &str,
    state: PostState,
) -> StoredPost {
    let local = at.with_timezone(&config.herald.timezone).naive_local();
    StoredPost {
        media: Vec::new(),
        channel: channel.to_string(),
        at,
        category: category.to_string(),
        kind: PostKind::Planned,
        draft: draft.id.clone(),
        peak: peak.to_string(),
        text: track::render(channel, draft, local),
        promo: draft.promo,
        series: draft.series.as_ref().map(Into::into),
        source_code: track::source_code(channel, draft, local),
        state,
        title: draft.title.clone(),
        reply: None,
        delivery: Default::default(),
    }
}

/// Why [`pause`] refused.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    /// A category the plan does not have.
    #[error("{0:?} is not a category of the plan")]
    UnknownCategory(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Holds scheduled posts of `categories` (the plan's `crisis.pause_categories` when empty), as
/// `herald pause` and the web UI do; the publisher should be woken afterwards.
pub fn pause(
    config: &Config,
    store: &Store,
    categories: &[String],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<crate::store::Hold, PauseError> {
    let categories = if categories.is_empty() {
        config.plan.pause_categories.clone()
    } else {
        categories.to_vec()
    };
    if let Some(c) = categories
        .iter()
        .find(|c| config.plan.category_index(c).is_none())
    {
        return Err(PauseError::UnknownCategory(c.clone()));
    }
    let hold = crate::store::Hold {
        since: now,
        reason: reason.to_string(),
        categories,
        alerts: Vec::new(),
    };
    store.meta().set_hold(Some(&hold))?;
    Ok(hold)
}

/// Lifts the hold, as `herald resume` and the web UI do.
pub fn resume(store: &Store) -> Result<(), StoreError> {
    store.meta().set_hold(None)
}
