//! Wiring: the operations the CLI offers, built from the pure cores and the store.
//!
//! Nothing here decides policy; it gathers inputs (configuration, stored history, the clock
//! value it is given), calls the core, and records the result.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::classify::keywords;
use crate::config::Config;
use crate::plan::output::Entry;
use crate::plan::{self, track, Note, PastPost, PlanRequest};
use crate::store::{PostState, Replaced, Store, StoreError, StoredPost};

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
        Some(s) => s.kept_posts()?,
        None => Vec::new(),
    };
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
            let draft = &config.drafts[p.draft];
            let channel = &channels[p.channel];
            let local = p.at.with_timezone(&tz).naive_local();
            StoredPost {
                channel: channel.clone(),
                at: p.at,
                category: config.plan.categories[p.category].name.clone(),
                draft: draft.id.clone(),
                peak: config.plan.peaks[p.peak].name.clone(),
                text: track::render(channel, draft, local),
                promo: draft.promo,
                series: draft.series.as_ref().map(Into::into),
                source_code: track::source_code(channel, draft, local),
                state: PostState::Planned,
                title: draft.title.clone(),
            }
        })
        .collect();

    let saved = match store {
        Some(s) if save => Some(s.replace_planned(start, &new)?),
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
    pub notes: Vec<Note>,
}

/// Runs the keyword files' own tests and a dry-run plan from `start` for `days` days.
pub fn check(config: &Config, start: DateTime<Utc>, days: u32) -> Result<CheckReport, String> {
    let keyword_failures = keywords::run_file_tests(&config.keywords)?;
    let tz = config.herald.timezone;
    let end_date = start.with_timezone(&tz).date_naive() + chrono::Days::new(u64::from(days));
    let schedule = replan(config, None, start, end_date, &[], false).map_err(|e| e.to_string())?;
    Ok(CheckReport {
        keyword_failures,
        notes: schedule.notes,
    })
}
