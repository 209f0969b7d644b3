//! Operations on the stored schedule that the CLI, the web UI and `herald run` share: planning a
//! range around the posts the store keeps, the next free slot for a hand-picked draft, a post
//! by hand, holding or resuming categories, and checking drafts' text and pictures against the
//! channels' limits (with a Mastodon instance's limits cached for offline checks). One implementation each, so the three front
//! ends cannot disagree; the rules themselves are the planner's (`plan`), the records the
//! store's.
//!
//! With `[web] public_url` set, a draft's link goes out through the click redirect
//! (`plan::track::render_counted`), and the redirect's target for each post's source code is
//! stored ([`store_click_links`]) before the post itself, so a link that is out always has its
//! target.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::classify::keywords;
use crate::config::Config;
use crate::domain::PostMedia;
use crate::plan::output::Entry;
use crate::plan::{self, track, Note, PastPost, PlanRequest};
use crate::store::{ClickLink, PostKind, PostState, Replaced, Store, StoreError, StoredPost};

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
    let learned = plan::learn::Learned::fit(&outcomes(config, store), config.plan.learn.clone());
    let planned = plan::plan_learned(&config.plan, &config.drafts, &history, &req, Some(&learned));
    let grid = plan::slots::DayGrid::new(&config.plan);
    let why = |p: &StoredPost| {
        let local = p.at.with_timezone(&tz);
        let playbook = grid
            .times()
            .into_iter()
            .filter(|t| {
                config
                    .plan
                    .peaks
                    .iter()
                    .any(|k| k.name == p.peak && *t >= k.start && *t < k.end)
            })
            .min_by_key(|t| (*t - local.time()).num_minutes().abs());
        learned.explain(&p.channel, local.time(), playbook)
    };

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
        Some(s) if save => {
            store_click_links(config, s, &new, start)?;
            Some(s.posts().replace_planned(start, &new)?)
        }
        _ => None,
    };

    let end = local_midnight(tz, end_date);
    let mut posts: Vec<&StoredPost> = kept
        .iter()
        .filter(|p| p.at >= start && p.at < end && channels.contains(&p.channel))
        .chain(new.iter())
        .collect();
    posts.sort_by(|a, b| (a.at, &a.channel).cmp(&(b.at, &b.channel)));
    let entries = posts
        .into_iter()
        .map(|p| {
            let mut e = entry(p, tz);
            if p.state == PostState::Planned && p.kind == PostKind::Planned {
                e.why = Some(why(p));
            }
            e
        })
        .collect();
    Ok(Schedule {
        entries,
        notes: planned.notes,
        saved,
    })
}

/// The results the planner learns posting times from: each published planned post with its
/// engagement a day after it went out (the last reading 18 to 30 hours after the post, so posts
/// of different ages compare alike; posts without such a reading are left out). Engagement is
/// replies + reposts + likes + quotes, as the poller (`crate::engage`) read them. The plan's
/// local time is the post's scheduled time. A store that cannot be read gives no results (the
/// playbook's times), with a warning.
fn outcomes(config: &Config, store: Option<&Store>) -> Vec<plan::learn::Outcome> {
    let Some(store) = store else {
        return Vec::new();
    };
    if !config.plan.learn.enabled {
        return Vec::new();
    }
    let read = || -> Result<Vec<plan::learn::Outcome>, StoreError> {
        let posts: std::collections::HashMap<(String, DateTime<Utc>), StoredPost> = store
            .posts()
            .kept()?
            .into_iter()
            .filter(|p| p.state == PostState::Published && p.kind == PostKind::Planned)
            .map(|p| ((p.channel.clone(), p.at), p))
            .collect();
        let tz = config.herald.timezone;
        let mut out = Vec::new();
        for e in store.engagement().all()? {
            let Some(post) = posts.get(&(e.channel.clone(), e.post_at)) else {
                continue;
            };
            let day = e.samples.iter().rfind(|s| {
                let age = s.at - e.post_at;
                age >= chrono::TimeDelta::hours(18) && age <= chrono::TimeDelta::hours(30)
            });
            let Some(sample) = day else {
                continue;
            };
            let local = post.at.with_timezone(&tz);
            out.push(plan::learn::Outcome {
                channel: post.channel.clone(),
                date: local.date_naive(),
                time: local.time(),
                category: post.category.clone(),
                engagement: (sample.replies + sample.reposts + sample.likes + sample.quotes) as f64,
            });
        }
        Ok(out)
    };
    read().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "Cannot read the results to learn posting times from; planning at the playbook's times");
        Vec::new()
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
        why: None,
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

/// The base of click-counting links: `[web] public_url`, when the web UI (which serves the
/// redirect) runs.
pub fn click_base(config: &Config) -> Option<&url::Url> {
    config.herald.web.as_ref().and_then(|w| w.click_base())
}

/// The redirect targets of `posts` whose link goes through the click redirect: for each post
/// of a draft with a link, its source code and the tagged link, as the planned post rendered it.
/// Empty without `[web] public_url`. Replies are not drafts of the plan and have none.
pub fn click_links(config: &Config, posts: &[StoredPost], since: DateTime<Utc>) -> Vec<ClickLink> {
    let Some(base) = click_base(config) else {
        return Vec::new();
    };
    let drafts: std::collections::HashMap<&str, &crate::plan::Draft> =
        config.drafts.iter().map(|d| (d.id.as_str(), d)).collect();
    posts
        .iter()
        .filter(|p| p.kind != PostKind::Reply)
        .filter_map(|p| {
            let draft = drafts.get(p.draft.as_str())?;
            let platform = platform_of(config, &p.channel);
            let local = p.at.with_timezone(&config.herald.timezone).naive_local();
            let rendered = track::render_counted(
                &p.channel,
                draft,
                draft.body_on(&p.channel, platform),
                local,
                Some(base),
            );
            let (code, target) = rendered.click?;
            // Only for a post whose text carries this very redirect (the draft did not change
            // since the post was made).
            let redirect = track::click_url(base, &code)?;
            (code == p.source_code && p.text.contains(redirect.as_str())).then(|| ClickLink {
                code,
                target: target.to_string(),
                since,
            })
        })
        .collect()
}

/// Stores the redirect targets of `posts` ([`click_links`]); call it before the posts are
/// stored. Nothing is written without `[web] public_url`.
pub fn store_click_links(
    config: &Config,
    store: &Store,
    posts: &[StoredPost],
    since: DateTime<Utc>,
) -> Result<(), StoreError> {
    let links = click_links(config, posts, since);
    if links.is_empty() {
        return Ok(());
    }
    store.clicks().put_links(&links)
}

/// The platform kind (`mastodon`, `bluesky`, …) of a configured channel; `""` for a name the
/// configuration does not have, which then matches only channel-named variants.
pub fn platform_of<'a>(config: &'a Config, channel: &str) -> &'a str {
    config
        .herald
        .channels
        .iter()
        .find(|c| c.name == channel)
        .map_or("", |c| c.kind_name())
}

/// The stored post of `draft` on `channel` at `at`: the text of its version for the channel
/// (its variant's, else the draft's) with links tracked by the post's source code (rendered in
/// the plan's local time; the draft's link through the click redirect when `[web] public_url`
/// is set), and that version's pictures with the alt text for the channel.
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
    let platform = platform_of(config, channel);
    let media = draft
        .media_on(channel, platform)
        .iter()
        .map(|m| PostMedia {
            file: m.file.clone(),
            alt: m.alt_on(channel, platform).to_string(),
            focus: m.focus,
        })
        .collect();
    StoredPost {
        media,
        channel: channel.to_string(),
        at,
        category: category.to_string(),
        kind: PostKind::Planned,
        draft: draft.id.clone(),
        peak: peak.to_string(),
        text: track::render_counted(
            channel,
            draft,
            draft.body_on(channel, platform),
            local,
            click_base(config),
        )
        .text,
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

/// What `herald check` found about the drafts on their channels: pictures and text against
/// each channel's limits.
#[derive(Debug, Clone, Default)]
pub struct DraftCheck {
    /// Problems that would make a post fail: each names the draft's file, the channel and why.
    pub errors: Vec<String>,
    /// What herald does about a draft that is not a problem (a picture re-encoded to fit).
    pub notes: Vec<String>,
}

/// Checks every draft on every channel it may go to: its text (after links are rendered)
/// against the channel's length limit, and its pictures against the channel's limits. `limits`
/// has the limits of each channel that has some (Bluesky's, a Mastodon instance's); a channel
/// not in it (webhook, outbox) takes any. A picture over Bluesky's byte limit is re-encoded into
/// `cache_dir` (never beside the original) and said so in a note.
pub fn check_drafts(
    config: &Config,
    limits: &std::collections::BTreeMap<String, crate::platform::limits::Limits>,
    cache_dir: &std::path::Path,
    at: DateTime<Utc>,
) -> DraftCheck {
    use crate::platform::limits::BLUESKY_IMAGE_BYTES;
    use unicode_segmentation::UnicodeSegmentation;

    let mut out = DraftCheck::default();
    let media_dir = config.herald.content_plan.join("media");
    let local = at.with_timezone(&config.herald.timezone).naive_local();
    // One re-encoding per picture, whichever drafts and channels share it: whether it fits.
    let mut fitted: std::collections::BTreeMap<String, bool> = Default::default();
    for draft in &config.drafts {
        let shown = draft.path.display();
        for channel in &config.herald.channels {
            if !draft.allows(&channel.name) {
                continue;
            }
            let platform = channel.kind_name();
            let Some(l) = limits.get(&channel.name) else {
                continue;
            };
            // The text as it will go out: with the click redirect when it is configured.
            let text = track::render_counted(
                &channel.name,
                draft,
                draft.body_on(&channel.name, platform),
                local,
                click_base(config),
            )
            .text;
            let (len, unit) = if platform == "bluesky" {
                let shown_text = crate::platform::bluesky::RichText::parse(&text).text;
                (shown_text.graphemes(true).count(), "graphemes")
            } else {
                (
                    crate::platform::mastodon::weighted_length(&text),
                    "characters",
                )
            };
            if len > l.text {
                out.errors.push(format!(
                    "{shown}: {} on {}: the text is {len} {unit} with its links, over the limit of {} on {platform}; add a shorter `[variants.{platform}] text = \"…\"` (or `[variants.{}]`) to the draft",
                    draft.id, channel.name, l.text, channel.name
                ));
            }
            let media = draft.media_on(&channel.name, platform);
            if media.len() > l.max_images {
                out.errors.push(format!(
                    "{shown}: {} on {}: {} pictures, over its limit of {}",
                    draft.id,
                    channel.name,
                    media.len(),
                    l.max_images
                ));
            }
            for m in media {
                let path = media_dir.join(&m.file);
                let info = crate::media::inspect(&path).map_err(|e| e.to_string());
                // Over Bluesky's byte limit, the re-encoded copy is what goes to Bluesky: the
                // original is judged with its size forgiven once a copy fits.
                let mut fits = false;
                if let (Ok(original), "bluesky") = (&info, platform) {
                    if original.bytes > BLUESKY_IMAGE_BYTES
                        && original.kind != crate::media::Kind::Gif
                    {
                        fits = *fitted.entry(m.file.clone()).or_insert_with(|| {
                            match crate::media::fit(&path, BLUESKY_IMAGE_BYTES, cache_dir) {
                                Ok(f) => {
                                    out.notes.push(format!(
                                        "{} is over Bluesky's {BLUESKY_IMAGE_BYTES} bytes: re-encoded from {} to {} bytes ({}×{}), cached as {}",
                                        m.file,
                                        original.bytes,
                                        f.info.bytes,
                                        f.info.width,
                                        f.info.height,
                                        f.path.display()
                                    ));
                                    true
                                }
                                Err(e) => {
                                    out.errors.push(format!("{shown}: {} on {}: {}: {e}", draft.id, channel.name, m.file));
                                    false
                                }
                            }
                        });
                    }
                }
                match info {
                    Ok(info) => {
                        for p in l.problems(&info, m.alt_on(&channel.name, platform), fits) {
                            out.errors.push(format!(
                                "{shown}: {} on {}: {}: {p}",
                                draft.id, channel.name, m.file
                            ));
                        }
                    }
                    Err(e) => out.errors.push(format!(
                        "{shown}: {} on {}: {}: {e}",
                        draft.id, channel.name, m.file
                    )),
                }
            }
        }
    }
    out
}

/// A Mastodon instance's limits as kept in `<data_dir>/media-cache/mastodon-limits-<host>.json`,
/// so `herald check` can check pictures when the instance cannot be reached.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CachedLimits {
    instance: String,
    read_at: DateTime<Utc>,
    text: usize,
    max_images: usize,
    image_bytes: u64,
    image_pixels: Option<u64>,
    alt_chars: usize,
    types: Vec<String>,
}

/// The file that keeps the limits of the instance at `base`.
pub fn mastodon_limits_cache(cache_dir: &std::path::Path, base: &url::Url) -> std::path::PathBuf {
    let host: String = format!(
        "{}{}",
        base.host_str().unwrap_or("instance"),
        base.port().map(|p| format!("_{p}")).unwrap_or_default()
    )
    .chars()
    .map(|c| {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '_'
        }
    })
    .collect();
    cache_dir.join(format!("mastodon-limits-{host}.json"))
}

/// The limits of every channel that has some: Bluesky's, and each Mastodon instance's, read
/// once per instance through [`crate::platform::mastodon::Mastodon::limits`] and kept in
/// `cache_dir`. When an instance cannot be read, its cached copy is used (or Mastodon's defaults
/// without one), and a note says so.
pub async fn channel_limits(
    config: &Config,
    cache_dir: &std::path::Path,
    now: DateTime<Utc>,
) -> (
    std::collections::BTreeMap<String, crate::platform::limits::Limits>,
    Vec<String>,
) {
    use crate::platform::limits::Limits;
    use crate::publish::config::ChannelKind;

    let mut out = std::collections::BTreeMap::new();
    let mut notes = Vec::new();
    let mut instances: std::collections::BTreeMap<String, Limits> = Default::default();
    for channel in &config.herald.channels {
        let base = match &channel.kind {
            ChannelKind::Bluesky { .. } => {
                out.insert(channel.name.clone(), Limits::bluesky());
                continue;
            }
            ChannelKind::Mastodon { base_url, .. } => base_url,
            _ => continue,
        };
        if let Some(l) = instances.get(base.as_str()) {
            out.insert(channel.name.clone(), l.clone());
            continue;
        }
        let cache = mastodon_limits_cache(cache_dir, base);
        let read = match crate::http::client(std::time::Duration::from_secs(10)) {
            Ok(http) => {
                let m = crate::platform::mastodon::Mastodon::with_token(http, base.clone(), None);
                Some(m.limits().await.clone())
            }
            Err(_) => None,
        };
        // `limits()` gives the defaults when the instance cannot be read; an instance that
        // says exactly the defaults is then taken from the cache too, which holds the same.
        let limits = match read.filter(|l| *l != Limits::mastodon_default()) {
            Some(l) => {
                let cached = CachedLimits {
                    instance: base.to_string(),
                    read_at: now,
                    text: l.text,
                    max_images: l.max_images,
                    image_bytes: l.image_bytes,
                    image_pixels: l.image_pixels,
                    alt_chars: l.alt_chars,
                    types: l.types.clone(),
                };
                if let Err(e) = write_cache(&cache, &cached) {
                    notes.push(format!(
                        "{base}: cannot keep its limits in {}: {e}",
                        cache.display()
                    ));
                }
                l
            }
            None => match std::fs::read(&cache)
                .ok()
                .and_then(|b| serde_json::from_slice::<CachedLimits>(&b).ok())
            {
                Some(c) => {
                    notes.push(format!(
                        "{base}: the instance cannot be read; using its limits cached on {} ({})",
                        c.read_at.format("%Y-%m-%d %H:%M UTC"),
                        cache.display()
                    ));
                    Limits {
                        text: c.text,
                        max_images: c.max_images,
                        image_bytes: c.image_bytes,
                        image_pixels: c.image_pixels,
                        alt_chars: c.alt_chars,
                        types: c.types,
                    }
                }
                None => {
                    notes.push(format!(
                        "{base}: the instance cannot be read and no limits are cached; checking against Mastodon's defaults"
                    ));
                    Limits::mastodon_default()
                }
            },
        };
        instances.insert(base.to_string(), limits.clone());
        out.insert(channel.name.clone(), limits);
    }
    (out, notes)
}

/// Writes the cache file whole or not at all.
fn write_cache(path: &std::path::Path, limits: &CachedLimits) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(limits).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mastodon_instance_has_its_own_limits_file() {
        let dir = std::path::Path::new("data/media-cache");
        let name = |u: &str| {
            let url = url::Url::parse(u).expect("url");
            mastodon_limits_cache(dir, &url)
                .file_name()
                .and_then(|n| n.to_str())
                .map(String::from)
                .unwrap_or_default()
        };
        assert_eq!(
            name("https://social.example/"),
            "mastodon-limits-social.example.json"
        );
        assert_eq!(
            name("http://127.0.0.1:50847/"),
            "mastodon-limits-127.0.0.1_50847.json"
        );
        assert_eq!(
            name("http://[::1]:3000/"),
            "mastodon-limits-___1__3000.json",
            "nothing but a file name"
        );
        assert_ne!(name("https://a.example/"), name("https://b.example/"));
    }
}
