//! The commands about the posting schedule: `herald check` (rule tests, a dry-run plan, and
//! drafts' text and pictures against each channel's limits),
//! `herald plan`, `herald post`, `herald pause` and `herald resume`.

use std::process::ExitCode;

use chrono::{NaiveDate, Utc};

use super::{errln, open_store, outln, runtime, Format, Io};
use crate::clock::system_clock;
use crate::config::Config;
use crate::plan::output;
use crate::publish::worker::{Outcome, Publisher};

/// `herald check`: the configuration's warnings, the rule files' test cases, what a plan of the
/// next `days` days runs short of, and every draft's text and pictures against the limits of
/// each channel it may go to; exit 2 when a test case fails or a draft would not fit.
pub(super) fn check(config: &Config, days: u32, io: &mut Io) -> anyhow::Result<ExitCode> {
    for w in &config.warnings {
        errln!(io, "{w}");
    }
    let report = crate::schedule::check(config, Utc::now(), days).map_err(anyhow::Error::msg)?;
    for f in &report.keyword_failures {
        outln!(io, "{f}");
    }
    for f in &report.reply_failures {
        outln!(io, "{f}");
    }
    for (warning, line) in crate::plan::note_lines(&report.notes) {
        let level = if warning { "warning" } else { "note" };
        outln!(io, "{level}: next {days} days: {line}");
    }
    // Pictures and text against each channel's limits; re-encoded copies go to the data folder,
    // never into content-plan/.
    let cache_dir = crate::app::media_cache_dir(config);
    let now = Utc::now();
    let (limits, limit_notes) =
        runtime()?.block_on(crate::schedule::channel_limits(config, &cache_dir, now));
    for n in &limit_notes {
        outln!(io, "note: {n}");
    }
    let drafts_found = crate::schedule::check_drafts(config, &limits, &cache_dir, now);
    for n in &drafts_found.notes {
        outln!(io, "note: {n}");
    }
    for e in &drafts_found.errors {
        outln!(io, "error: {e}");
    }
    let drafts = config.drafts.len();
    let rules: usize = config.keywords.iter().map(|g| g.rules.len()).sum();
    if !drafts_found.errors.is_empty() {
        outln!(
            io,
            "{} draft problem(s) on their channels, {} keyword and {} reply test case(s) failed",
            drafts_found.errors.len(),
            report.keyword_failures.len(),
            report.reply_failures.len()
        );
        Ok(ExitCode::from(2))
    } else if report.keyword_failures.is_empty() && report.reply_failures.is_empty() {
        outln!(
            io,
            "ok: {} channel(s), {drafts} drafts, {} keyword groups with {rules} rules",
            config.herald.channels.len(),
            config.keywords.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            io,
            "{} keyword and {} reply test case(s) failed",
            report.keyword_failures.len(),
            report.reply_failures.len()
        );
        Ok(ExitCode::from(2))
    }
}

/// What `herald plan` was asked (its command-line options).
pub(super) struct PlanOptions<'a> {
    pub days: u32,
    pub from: Option<NaiveDate>,
    pub format: Format,
    pub channels: &'a [String],
    pub dry_run: bool,
    pub explain: bool,
}

/// `herald plan`: plans `days` days from `from` (or now), prints the plan in `format` and saves
/// it unless `dry_run`; with `explain`, each new post says why it got its time.
pub(super) fn plan(
    config: &Config,
    options: PlanOptions<'_>,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let PlanOptions {
        days,
        from,
        format,
        channels,
        dry_run,
        explain,
    } = options;
    for c in channels {
        if !config.herald.channels.iter().any(|k| &k.name == c) {
            errln!(io, "herald: no channel {c:?} in the configuration");
            return Ok(ExitCode::from(2));
        }
    }
    let tz = config.herald.timezone;
    let (start, first_day) = match from {
        Some(d) => (crate::schedule::local_midnight(tz, d), d),
        None => {
            let now = Utc::now();
            (now, now.with_timezone(&tz).date_naive())
        }
    };
    let end_date = first_day + chrono::Days::new(u64::from(days));
    let store = if dry_run {
        None
    } else {
        Some(open_store(config, io)?)
    };
    let mut schedule =
        crate::schedule::replan(config, store.as_ref(), start, end_date, channels, !dry_run)?;
    if !explain {
        for e in &mut schedule.entries {
            e.why = None;
        }
    }
    let text = match format {
        Format::Json => output::json(&schedule.entries) + "\n",
        Format::Table => output::table(&schedule.entries, &config.plan, &schedule.notes),
        Format::Ics => output::ics(&schedule.entries, tz, start),
    };
    io.out.write_all(text.as_bytes())?;
    if !matches!(format, Format::Table) {
        for (warning, line) in crate::plan::note_lines(&schedule.notes) {
            let level = if warning { "warning" } else { "note" };
            errln!(io, "{level}: {line}");
        }
    }
    if let Some(saved) = schedule.saved {
        errln!(
            io,
            "saved to {}: {} planned posts written, {} replaced, {} kept posts left as they were",
            config.herald.storage.shown(),
            saved.inserted,
            saved.removed,
            saved.skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `herald pause`: holds scheduled posts of `categories`; exit 2 for a category the plan lacks.
pub(super) fn pause(
    config: &Config,
    categories: &[String],
    reason: &str,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let store = open_store(config, io)?;
    match crate::schedule::pause(config, &store, categories, reason, Utc::now()) {
        Ok(hold) => {
            outln!(io, "holding {}: scheduled posts in these categories are not sent until `herald resume`", hold.categories.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::schedule::PauseError::UnknownCategory(c)) => {
            errln!(io, "herald: {c:?} is not a category of the plan");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// `herald resume`: lifts the hold.
pub(super) fn resume(config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
    let store = open_store(config, io)?;
    crate::schedule::resume(&store)?;
    outln!(
        io,
        "resumed: held posts go out if they are not yet too late"
    );
    Ok(ExitCode::SUCCESS)
}

/// `herald post`: schedules a draft in the channel's next free peak slot, or publishes it `now`
/// through the publisher's path.
pub(super) fn post(
    config: Config,
    draft: &str,
    channel: &str,
    now: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let Some(d) = config
        .drafts
        .iter()
        .find(|d| d.id == draft || d.stem == draft)
    else {
        errln!(
            io,
            "herald: no draft {draft:?} in {}",
            config.herald.content_plan.display()
        );
        return Ok(ExitCode::from(2));
    };
    if !config.herald.channels.iter().any(|c| c.name == channel) {
        errln!(io, "herald: no channel {channel:?} in the configuration");
        return Ok(ExitCode::from(2));
    }
    if !d.allows(channel) {
        errln!(io, "herald: draft {} is not for channel {channel:?}", d.id);
        return Ok(ExitCode::from(2));
    }
    let store = open_store(&config, io)?;
    let clock = system_clock();
    let (at, peak) = if now {
        let t = clock();
        (
            t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos())),
            "by hand".to_string(),
        )
    } else {
        match crate::schedule::next_free_slot(&config, &store, channel, clock())? {
            Some(slot) => slot,
            None => {
                errln!(io, "herald: no free peak slot within a year on {channel}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    // A channel's posts are keyed by the second: two posts by hand in the same second take the
    // next free one.
    let mut record = crate::schedule::manual_post(&config, d, channel, at, &peak);
    let mut tries = 0;
    loop {
        // The click redirect's target first, so the post never goes out with a link unknown
        // to it.
        crate::schedule::store_click_links(
            &config,
            &store,
            std::slice::from_ref(&record),
            clock(),
        )?;
        if store.posts().insert_new(&record)? {
            break;
        }
        tries += 1;
        if !now || tries > 60 {
            errln!(io, "herald: {channel} already has a post at {}", record.at);
            return Ok(ExitCode::FAILURE);
        }
        record = crate::schedule::manual_post(
            &config,
            d,
            channel,
            at + chrono::TimeDelta::seconds(tries),
            &peak,
        );
    }
    let at = record.at;
    let local = at.with_timezone(&config.herald.timezone);
    if !now {
        outln!(
            io,
            "scheduled {} on {channel} at {} ({peak}); `herald run` publishes it",
            d.id,
            local.format("%Y-%m-%d %H:%M %Z")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let channels = crate::app::channels(&config)?;
    let publisher = Publisher::new(store, channels, config.herald.publish.clone(), clock)
        .with_media(
            crate::app::media_dir(&config),
            crate::app::media_cache_dir(&config),
        );
    let outcome = runtime()?.block_on(publisher.execute(record))?;
    match outcome {
        Outcome::Published(sent) => {
            outln!(
                io,
                "published {} on {channel}: {}",
                d.id,
                sent.url.unwrap_or(sent.remote_id)
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Retrying { at, error } => {
            outln!(
                io,
                "not published yet ({error}); `herald run` retries at {}",
                at.with_timezone(&config.herald.timezone).format("%H:%M:%S")
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Unconfirmed(why) => {
            outln!(
                io,
                "unconfirmed ({why}); `herald run` looks for it on the platform before any retry"
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Failed(why) => {
            outln!(io, "failed: {why}");
            Ok(ExitCode::FAILURE)
        }
        Outcome::Held => {
            outln!(
                io,
                "held: category {} is paused (`herald resume` to lift)",
                d.category
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Missed | Outcome::Skipped => {
            outln!(io, "not sent: {outcome:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}
