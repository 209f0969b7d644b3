//! Filling a [`WeekReport`] from the store: [`week`] reads each kind of record once over the
//! five local weeks it covers (the reported week and the four before it) and counts. It owns
//! the definitions of the figures (docs/report-figures.md states them); it never writes to the
//! store and never draws anything.
//!
//! - **Weeks** are local: Monday 00:00 to the next Monday 00:00 in `herald.toml`'s timezone. A
//!   week not yet over counts up to `now`.
//! - **Posts** are counted by their time in the schedule; replies from the inbox are not part
//!   of the mix and are left out of every post figure. Engagement is a published post's latest
//!   reading (replies + reposts + likes + quotes).
//! - **Answers**: an inbox item's first answer is the first audit entry by a person (anyone but
//!   `herald`) that approves, edits or rejects it; its SLA is met when that answer comes no
//!   later than its due time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use super::{
    CategoryRow, ClickRow, CrisisRow, DayRow, HourCell, LeadFigures, PersonRow, ReplyFigures,
    SliceRow, VoiceRow, WeekFigures, WeekReport,
};
use crate::config::Config;
use crate::domain::queue::QueueItem;
use crate::store::{AlertRecord, PostKind, PostState, Store, StoreError, StoredMention};

/// The system's name in audit logs: its entries are never a person's answer.
const SYSTEM: &str = "herald";

/// Audit actions that answer an item.
const ANSWERS: [&str; 3] = ["approve", "edit", "reject"];

/// How many weeks a report covers: the reported one and the four before it.
pub const WEEKS: usize = 5;

/// The keyword group of the brand's own names (share of voice).
pub const BRAND_GROUP: &str = "brand";

/// The keyword group of the competitors, one rule each (share of voice).
pub const COMPETITOR_GROUP: &str = "competitor";

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error("the week of {0} is out of the range of dates herald can count")]
    OutOfRange(NaiveDate),
}

/// The Monday (local) of the week holding `date`.
pub fn monday_of(date: NaiveDate) -> NaiveDate {
    date.checked_sub_signed(Duration::days(i64::from(
        date.weekday().num_days_from_monday(),
    )))
    // Only the first days chrono can count have no Monday before them.
    .unwrap_or(NaiveDate::MIN)
}

/// The instant local midnight starts `date` in `tz` (the first instant of the day when a
/// clock change skips midnight).
fn local_start(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    // A day whose midnight does not exist (a spring-forward gap) starts at the first local
    // instant that does; gaps are at most a few hours.
    (0..=4).find_map(|h| {
        tz.from_local_datetime(&(midnight + Duration::hours(h)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The five weeks' bounds, newest first: `[start, end)` each, the newest cut at `now`.
struct Weeks {
    tz: Tz,
    mondays: Vec<NaiveDate>,
    bounds: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Weeks {
    fn new(tz: Tz, week: NaiveDate, now: DateTime<Utc>) -> Result<Self, ReportError> {
        let monday = monday_of(week);
        let mut mondays = Vec::with_capacity(WEEKS);
        let mut bounds = Vec::with_capacity(WEEKS);
        for i in 0..WEEKS {
            let m = monday
                .checked_sub_signed(Duration::weeks(i as i64))
                .ok_or(ReportError::OutOfRange(week))?;
            let next = m
                .checked_add_signed(Duration::weeks(1))
                .ok_or(ReportError::OutOfRange(week))?;
            let start = local_start(tz, m).ok_or(ReportError::OutOfRange(week))?;
            let end = local_start(tz, next).ok_or(ReportError::OutOfRange(week))?;
            // A week not over counts up to now; a week in the future counts nothing.
            let end = end.min(now).max(start);
            mondays.push(m);
            bounds.push((start, end));
        }
        Ok(Self {
            tz,
            mondays,
            bounds,
        })
    }

    /// The whole range read from the store.
    fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.bounds[WEEKS - 1].0, self.bounds[0].1)
    }

    /// Which week (0 = the reported one) holds `t`.
    fn of(&self, t: DateTime<Utc>) -> Option<usize> {
        self.bounds
            .iter()
            .position(|(start, end)| *start <= t && t < *end)
    }
}

/// Engagement sum and posts with a reading.
#[derive(Debug, Default, Clone, Copy)]
struct Eng {
    total: u64,
    read: u32,
}

impl Eng {
    fn add(&mut self, e: Option<u64>) {
        if let Some(e) = e {
            self.total += e;
            self.read += 1;
        }
    }

    fn per_post(self) -> Option<f64> {
        (self.read > 0).then(|| self.total as f64 / f64::from(self.read))
    }
}

/// Planned, published and engagement of one slice of the reported week.
#[derive(Debug, Default, Clone, Copy)]
struct Slice {
    planned: u32,
    published: u32,
    eng: Eng,
}

impl Slice {
    fn add(&mut self, published: bool, eng: Option<u64>) {
        self.planned += 1;
        if published {
            self.published += 1;
            self.eng.add(eng);
        }
    }
}

/// Makes the weekly report of the local week holding `week` (any day of it), as of `now`:
/// the week against the four before it. Reads the schedule, the engagement readings, the
/// clicks, the inbox, the mentions and the alerts once each.
pub fn week(
    store: &Store,
    config: &Config,
    week: NaiveDate,
    now: DateTime<Utc>,
) -> Result<WeekReport, ReportError> {
    let tz = config.herald.timezone;
    let weeks = Weeks::new(tz, week, now)?;
    let (from, to) = weeks.range();
    let mut figures: Vec<WeekFigures> = weeks
        .mondays
        .iter()
        .map(|m| WeekFigures {
            week: *m,
            ..WeekFigures::default()
        })
        .collect();

    // Clicks first: per week, and per code for the reported week.
    let mut clicks = Vec::new();
    for (i, (start, end)) in weeks.bounds.iter().enumerate() {
        let counts = clicks_between(store, *start, *end)?;
        figures[i].clicks = counts.iter().map(|(_, n)| n).sum();
        if i == 0 {
            clicks = click_rows(counts);
        }
    }
    let posts = posts_part(store, config, &weeks, &mut figures, from, to)?;
    let mut clicks_by_category: HashMap<&str, u64> = HashMap::new();
    let mut clicks_by_channel: HashMap<&str, u64> = HashMap::new();
    let mut clicks_by_peak: HashMap<&str, u64> = HashMap::new();
    for c in &clicks {
        *clicks_by_category.entry(&c.category).or_default() += c.clicks;
        *clicks_by_channel.entry(&c.channel).or_default() += c.clicks;
        if let Some(peak) = posts.peak_of_code.get(&c.code) {
            *clicks_by_peak.entry(peak).or_default() += c.clicks;
        }
    }
    let replies = queue_part(store, &weeks, &mut figures, now)?;
    let (sentiment, share_of_voice) = mentions_part(store, config, &weeks, &mut figures)?;
    let crises = crises(store.alerts().list()?, &weeks);

    let categories = posts
        .categories
        .into_iter()
        .map(|mut row| {
            row.clicks = clicks_by_category
                .get(row.category.as_str())
                .copied()
                .unwrap_or(0);
            row
        })
        .collect();
    let peaks = posts
        .peaks
        .into_iter()
        .map(|mut row| {
            row.clicks = clicks_by_peak.get(row.name.as_str()).copied().unwrap_or(0);
            row
        })
        .collect();
    let channels = posts
        .channels
        .into_iter()
        .map(|mut row| {
            row.clicks = clicks_by_channel
                .get(row.name.as_str())
                .copied()
                .unwrap_or(0);
            row
        })
        .collect();

    Ok(WeekReport {
        week: weeks.mondays[0],
        timezone: tz.name().to_string(),
        generated_at: now,
        weeks: figures,
        categories,
        peaks,
        channels,
        hours: posts.hours,
        clicks,
        replies: replies.0,
        leads: replies.1,
        sentiment,
        share_of_voice,
        crises,
    })
}

/// The clicks counted through the redirect in `[from, to)`, per source code.
fn clicks_between(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, u64)>, ReportError> {
    Ok(store.clicks().counts_between(from, to)?)
}

/// A source code's channel and category: `<channel>.<category>.<stem>.<time>` (see
/// `plan::track`); anything else (a reply's code, a code typed by hand) has neither.
fn split_code(code: &str) -> (String, String) {
    let mut parts = code.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(channel), Some(category), Some(_), Some(_))
            if !channel.is_empty() && !category.is_empty() =>
        {
            (channel.to_string(), category.to_string())
        }
        _ => (String::new(), String::new()),
    }
}

fn click_rows(counts: Vec<(String, u64)>) -> Vec<ClickRow> {
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in counts {
        *merged.entry(code).or_default() += n;
    }
    let mut rows: Vec<ClickRow> = merged
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(code, clicks)| {
            let (channel, category) = split_code(&code);
            ClickRow {
                code,
                channel,
                category,
                clicks,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.clicks.cmp(&a.clicks).then_with(|| a.code.cmp(&b.code)));
    rows
}

/// What the schedule gives the report (clicks are added after).
struct PostsPart {
    categories: Vec<CategoryRow>,
    peaks: Vec<SliceRow>,
    channels: Vec<SliceRow>,
    hours: Vec<HourCell>,
    /// The peak window of each source code the five weeks' posts carry (a click's code names
    /// its channel and category but not its peak).
    peak_of_code: HashMap<String, String>,
}

fn posts_part(
    store: &Store,
    config: &Config,
    weeks: &Weeks,
    figures: &mut [WeekFigures],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<PostsPart, ReportError> {
    let engagement: HashMap<(String, DateTime<Utc>), u64> = store
        .engagement()
        .posted_between(from, to)?
        .into_iter()
        .filter_map(|e| {
            let s = e.latest()?;
            let total = s.replies + s.reposts + s.likes + s.quotes;
            Some(((e.channel, e.post_at), total))
        })
        .collect();

    let mut week_eng = [Eng::default(); WEEKS];
    let mut categories: BTreeMap<String, Slice> = BTreeMap::new();
    let mut peaks: BTreeMap<String, Slice> = BTreeMap::new();
    let mut channels: BTreeMap<String, Slice> = BTreeMap::new();
    let mut hours: BTreeMap<(u8, u8), (u32, Eng)> = BTreeMap::new();
    let mut peak_of_code = HashMap::new();
    for post in store.posts().between(from, to)? {
        if post.kind == PostKind::Reply {
            continue;
        }
        if !post.source_code.is_empty() && !post.peak.is_empty() {
            peak_of_code.insert(post.source_code.clone(), post.peak.clone());
        }
        let Some(w) = weeks.of(post.at) else {
            continue;
        };
        let published = post.state == PostState::Published;
        let eng = published
            .then(|| engagement.get(&(post.channel.clone(), post.at)).copied())
            .flatten();
        figures[w].planned += 1;
        if published {
            figures[w].published += 1;
            week_eng[w].add(eng);
            let local = post.at.with_timezone(&weeks.tz);
            let cell = hours
                .entry((
                    local.weekday().num_days_from_monday() as u8,
                    local.hour() as u8,
                ))
                .or_default();
            cell.0 += 1;
            cell.1.add(eng);
        }
        if w == 0 {
            categories
                .entry(post.category.clone())
                .or_default()
                .add(published, eng);
            if !post.peak.is_empty() {
                peaks
                    .entry(post.peak.clone())
                    .or_default()
                    .add(published, eng);
            }
            channels
                .entry(post.channel.clone())
                .or_default()
                .add(published, eng);
        }
    }
    for (f, e) in figures.iter_mut().zip(week_eng) {
        f.engagement = e.total;
        f.per_post = e.per_post();
    }

    // Categories in [mix] order, then any other category posts had (manual posts).
    let mut order: Vec<(String, u32)> = config
        .plan
        .categories
        .iter()
        .map(|c| (c.name.clone(), c.share))
        .collect();
    for name in categories.keys() {
        if !order.iter().any(|(n, _)| n == name) {
            order.push((name.clone(), 0));
        }
    }
    let published_total: u32 = categories.values().map(|s| s.published).sum();
    let all = categories.values().fold(Eng::default(), |mut acc, s| {
        acc.total += s.eng.total;
        acc.read += s.eng.read;
        acc
    });
    let category_rows = order
        .into_iter()
        .map(|(name, target_pct)| {
            let s = categories.get(&name).copied().unwrap_or_default();
            let others = Eng {
                total: all.total - s.eng.total,
                read: all.read - s.eng.read,
            };
            CategoryRow {
                target_pct,
                planned: s.planned,
                published: s.published,
                share_pct: if published_total == 0 {
                    0.0
                } else {
                    f64::from(s.published) * 100.0 / f64::from(published_total)
                },
                engagement: s.eng.total,
                per_post: s.eng.per_post(),
                lift: lift(s.eng.per_post(), others.per_post()),
                clicks: 0,
                category: name,
            }
        })
        .collect();

    // Peaks in plan order, then any other peak name posts had.
    let mut peak_order: Vec<String> = config.plan.peaks.iter().map(|p| p.name.clone()).collect();
    for name in peaks.keys() {
        if !peak_order.contains(name) {
            peak_order.push(name.clone());
        }
    }
    let slice_row = |name: String, s: Slice| SliceRow {
        name,
        planned: s.planned,
        published: s.published,
        engagement: s.eng.total,
        per_post: s.eng.per_post(),
        clicks: 0,
    };
    let peak_rows = peak_order
        .into_iter()
        .map(|name| {
            let s = peaks.get(&name).copied().unwrap_or_default();
            slice_row(name, s)
        })
        .collect();

    // Every configured channel, and any other channel posts had, by name.
    let mut channel_names: BTreeSet<String> = config
        .herald
        .channels
        .iter()
        .map(|c| c.name.clone())
        .collect();
    channel_names.extend(channels.keys().cloned());
    let channel_rows = channel_names
        .into_iter()
        .map(|name| {
            let s = channels.get(&name).copied().unwrap_or_default();
            slice_row(name, s)
        })
        .collect();

    let hour_cells = hours
        .into_iter()
        .map(|((weekday, hour), (posts, eng))| HourCell {
            weekday,
            hour,
            posts,
            engagement: eng.total,
            per_post: eng.per_post(),
        })
        .collect();

    Ok(PostsPart {
        categories: category_rows,
        peaks: peak_rows,
        channels: channel_rows,
        hours: hour_cells,
        peak_of_code,
    })
}

/// `mine / others − 1`; `None` when either side has no reading or the others had none at all.
fn lift(mine: Option<f64>, others: Option<f64>) -> Option<f64> {
    match (mine, others) {
        (Some(m), Some(o)) if o > 0.0 => Some(m / o - 1.0),
        _ => None,
    }
}

/// The `q` quantile (0..=1) of `values` by the nearest-rank method; the median of an even
/// count is the mean of the two middle values.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if (q - 0.5).abs() < f64::EPSILON {
        return Some(if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        });
    }
    let rank = (q * n as f64).ceil().max(1.0) as usize;
    Some(values[rank.min(n) - 1])
}

fn minutes(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 60.0
}

/// Per person, while counting.
#[derive(Default)]
struct Person {
    row: PersonRow,
    minutes: Vec<f64>,
}

fn queue_part(
    store: &Store,
    weeks: &Weeks,
    figures: &mut [WeekFigures],
    now: DateTime<Utc>,
) -> Result<(ReplyFigures, LeadFigures), ReportError> {
    let mut replies = ReplyFigures::default();
    let mut leads = LeadFigures::default();
    let mut week_minutes: Vec<Vec<f64>> = vec![Vec::new(); WEEKS];
    let mut week_items = [0u32; WEEKS];
    let mut week_within = [0u32; WEEKS];
    let mut week_decided = [0u32; WEEKS];
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    let mut grades: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut sources: BTreeMap<String, u32> = BTreeMap::new();

    let (from, _) = weeks.range();
    for item in store.queue().export_all()? {
        // An item made before the range can still have been answered or sent in it, so only
        // items whose whole log is older are skipped.
        if item.audit.last().map_or(item.created_at, |a| a.at) < from {
            continue;
        }
        count_audit(&item, weeks, figures, &mut people);
        let Some(w) = weeks.of(item.created_at) else {
            continue;
        };
        week_items[w] += 1;
        let first = first_answer(&item);
        if let Some(at) = first {
            week_minutes[w].push(minutes(item.created_at, at));
            if at <= item.due_at {
                week_within[w] += 1;
            }
        }
        // Whether the SLA is decided yet: answered, or its due time has passed.
        if first.is_some() || item.due_at <= now {
            week_decided[w] += 1;
        }
        if let Some(lead) = item.lead.as_ref().filter(|l| l.grade != "unvalued") {
            figures[w].leads += 1;
            if w == 0 {
                leads.found += 1;
                if let Some(g) = ["hot", "warm", "cold"]
                    .into_iter()
                    .find(|g| *g == lead.grade)
                {
                    *grades.entry(g).or_default() += 1;
                }
                *sources.entry(item.source.clone()).or_default() += 1;
                if item.audit.iter().any(|a| a.action == "sent") {
                    leads.replied += 1;
                }
                if lead.phone || lead.email {
                    leads.contact += 1;
                }
                if lead.test_drive {
                    leads.test_drive += 1;
                }
            }
        }
        if w == 0 {
            replies.items += 1;
            if first.is_some() {
                replies.answered += 1;
                if first.is_some_and(|at| at <= item.due_at) {
                    replies.within_sla += 1;
                }
            }
            if item.is_overdue(now) {
                replies.overdue += 1;
            }
        }
    }

    for (w, f) in figures.iter_mut().enumerate() {
        f.sla_met =
            (week_decided[w] > 0).then(|| f64::from(week_within[w]) / f64::from(week_decided[w]));
        f.median_response_minutes = quantile(&mut week_minutes[w], 0.5);
    }
    replies.sent = figures[0].replies_sent;
    replies.median_minutes = figures[0].median_response_minutes;
    replies.p90_minutes = quantile(&mut week_minutes[0], 0.9);
    replies.people = people
        .into_values()
        .map(|mut p| {
            p.row.median_minutes = quantile(&mut p.minutes, 0.5);
            p.row
        })
        .collect();

    leads.by_grade = ["hot", "warm", "cold"]
        .into_iter()
        .map(|g| (g.to_string(), grades.get(g).copied().unwrap_or(0)))
        .collect();
    let mut by_source: Vec<(String, u32)> = sources.into_iter().collect();
    by_source.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    leads.by_source = by_source;
    Ok((replies, leads))
}

/// When a person first answered the item (approved, edited or rejected it).
fn first_answer(item: &QueueItem) -> Option<DateTime<Utc>> {
    item.audit
        .iter()
        .find(|a| a.who != SYSTEM && ANSWERS.contains(&a.action.as_str()))
        .map(|a| a.at)
}

/// The audit log's share of the figures: replies sent per week, and what each person did in
/// the reported week.
fn count_audit(
    item: &QueueItem,
    weeks: &Weeks,
    figures: &mut [WeekFigures],
    people: &mut BTreeMap<String, Person>,
) {
    let mut answered_by: BTreeSet<&str> = BTreeSet::new();
    let mut edited_by: BTreeSet<&str> = BTreeSet::new();
    for (i, a) in item.audit.iter().enumerate() {
        let week = weeks.of(a.at);
        if a.action == "sent" {
            if let Some(w) = week {
                figures[w].replies_sent += 1;
            }
            continue;
        }
        if a.who == SYSTEM || !ANSWERS.contains(&a.action.as_str()) {
            continue;
        }
        let first_by_them = answered_by.insert(a.who.as_str());
        if a.action == "edit" {
            edited_by.insert(a.who.as_str());
        }
        if week != Some(0) {
            continue;
        }
        let person = people.entry(a.who.clone()).or_insert_with(|| Person {
            row: PersonRow {
                name: a.who.clone(),
                ..PersonRow::default()
            },
            minutes: Vec::new(),
        });
        if first_by_them {
            person.minutes.push(minutes(item.created_at, a.at));
        }
        match a.action.as_str() {
            "approve" => {
                person.row.approved += 1;
                if edited_by.contains(a.who.as_str()) || a.text_before != a.text_after {
                    person.row.edited += 1;
                }
                // The approval that sent the reply: no other approval between it and `sent`.
                let went_out = item.audit[i + 1..]
                    .iter()
                    .take_while(|b| b.action != "approve")
                    .any(|b| b.action == "sent");
                if went_out {
                    person.row.sent += 1;
                }
            }
            "reject" => person.row.rejected += 1,
            _ => {}
        }
    }
}

fn mentions_part(
    store: &Store,
    config: &Config,
    weeks: &Weeks,
    figures: &mut [WeekFigures],
) -> Result<(Vec<DayRow>, Vec<VoiceRow>), ReportError> {
    let (from, to) = weeks.range();
    let mut negatives = [0u32; WEEKS];
    let end = weeks.bounds[0].1;
    // The reported week's days up to now.
    let mut days: Vec<DayRow> = (0..7)
        .map(|d| weeks.mondays[0] + Duration::days(d))
        .filter(|d| local_start(weeks.tz, *d).is_some_and(|t| t < end))
        .map(|date| DayRow {
            date,
            mentions: 0,
            negative: 0,
            positive: 0,
        })
        .collect();
    let mut brand = (0u32, 0u32);
    let mut competitors: BTreeMap<String, (u32, u32)> = config
        .keywords
        .iter()
        .filter(|g| g.group == COMPETITOR_GROUP)
        .flat_map(|g| g.rules.iter().map(|r| (r.name.clone(), (0, 0))))
        .collect();

    for m in store.mentions().between(from, to)? {
        let Some(w) = weeks.of(m.mention.created_at) else {
            continue;
        };
        let negative = m.classification.is_negative();
        figures[w].mentions += 1;
        if negative {
            negatives[w] += 1;
        }
        if w != 0 {
            continue;
        }
        count_day(&mut days, &m, weeks.tz, negative);
        let neg = u32::from(negative);
        if m.classification
            .matches
            .iter()
            .any(|x| x.group == BRAND_GROUP)
        {
            brand.0 += 1;
            brand.1 += neg;
        }
        let rules: BTreeSet<&str> = m
            .classification
            .matches
            .iter()
            .filter(|x| x.group == COMPETITOR_GROUP)
            .map(|x| x.rule.as_str())
            .collect();
        for rule in rules {
            let c = competitors.entry(rule.to_string()).or_default();
            c.0 += 1;
            c.1 += neg;
        }
    }
    for (f, neg) in figures.iter_mut().zip(negatives) {
        f.negative_share = (f.mentions > 0).then(|| f64::from(neg) / f64::from(f.mentions));
    }

    let mut rows = vec![VoiceRow {
        name: BRAND_GROUP.to_string(),
        own: true,
        mentions: brand.0,
        share: 0.0,
        negative: brand.1,
    }];
    let mut others: Vec<VoiceRow> = competitors
        .into_iter()
        .map(|(name, (mentions, negative))| VoiceRow {
            name,
            own: false,
            mentions,
            share: 0.0,
            negative,
        })
        .collect();
    others.sort_by(|a, b| {
        b.mentions
            .cmp(&a.mentions)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows.extend(others);
    let total: u32 = rows.iter().map(|r| r.mentions).sum();
    for r in &mut rows {
        r.share = if total == 0 {
            0.0
        } else {
            f64::from(r.mentions) / f64::from(total)
        };
    }
    Ok((days, rows))
}

fn count_day(days: &mut [DayRow], m: &StoredMention, tz: Tz, negative: bool) {
    let date = m.mention.created_at.with_timezone(&tz).date_naive();
    if let Some(day) = days.iter_mut().find(|d| d.date == date) {
        day.mentions += 1;
        if negative {
            day.negative += 1;
        }
        if m.classification.sentiment.label == crate::classify::sentiment::Label::Positive {
            day.positive += 1;
        }
    }
}

/// Alerts open at any moment of the reported week (opened before its end, not resolved
/// before its start), oldest first.
fn crises(alerts: Vec<AlertRecord>, weeks: &Weeks) -> Vec<CrisisRow> {
    let (start, end) = weeks.bounds[0];
    let mut rows: Vec<CrisisRow> = alerts
        .into_iter()
        .filter(|a| a.event.opened_at < end && a.resolved_at.is_none_or(|r| r >= start))
        .map(|a| CrisisRow {
            peak_negative: a
                .history
                .iter()
                .map(|h| h.negative)
                .chain([a.event.negative])
                .max()
                .unwrap_or(0),
            id: a.event.id,
            level: a.event.level.as_str().to_string(),
            opened_at: a.event.opened_at,
            acked_at: a.acked_at,
            resolved_at: a.resolved_at,
        })
        .collect();
    rows.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then_with(|| a.id.cmp(&b.id)));
    rows
}

#[cfg(test)]
pub(crate) mod tests;
