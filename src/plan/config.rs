//! `content-plan/plan.toml` and the draft library `content-plan/drafts/<category>/*.md`.
//!
//! Raw serde structs first, then a pure validation that collects every problem (see
//! `crate::config`). Defaults are those of playbook §1 so a short `plan.toml` is a valid one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use indexmap::IndexMap;
use serde::Deserialize;
use url::Url;

use super::{Category, Draft, DraftMedia, Peak, PlanRules, SeriesPart, Variant};
use crate::config::error::{is_slug, ConfigError, Warning};
use crate::config::source::{self, TomlSource};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    mix: Option<IndexMap<String, i64>>,
    #[serde(default)]
    cadence: RawCadence,
    peaks: Option<Vec<RawPeak>>,
    #[serde(default)]
    promo: RawPromo,
    #[serde(default)]
    cooldown: RawCooldown,
    #[serde(default)]
    series: RawSeries,
    #[serde(default)]
    blackout: RawBlackout,
    #[serde(default)]
    crisis: RawCrisis,
    #[serde(default)]
    learn: RawLearn,
}

/// `[learn]`: posting times learned from results (integers, so every value is exact).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLearn {
    enabled: Option<bool>,
    min_weeks: Option<i64>,
    prior_posts: Option<i64>,
    kernel_minutes: Option<i64>,
    exploration_percent: Option<i64>,
    playbook_bonus_percent: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadence {
    min_per_day: Option<i64>,
    max_per_day: Option<i64>,
    per_day: Option<i64>,
    min_gap_minutes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeak {
    name: String,
    start: String,
    end: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromo {
    max_share: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCooldown {
    days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    min_gap_hours: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlackout {
    #[serde(default)]
    dates: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrisis {
    pause_categories: Option<Vec<String>>,
}

/// Draft front matter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDraft {
    category: Option<String>,
    title: Option<String>,
    lang: Option<String>,
    channels: Option<Vec<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    promo: bool,
    #[serde(default)]
    evergreen: bool,
    series: Option<String>,
    part: Option<i64>,
    not_before: Option<toml::value::Datetime>,
    not_after: Option<toml::value::Datetime>,
    link: Option<String>,
    cooldown_days: Option<i64>,
    #[serde(default)]
    media: Vec<RawMedia>,
    #[serde(default)]
    variants: BTreeMap<String, RawVariant>,
}

/// One `[[media]]` picture of a draft or of a variant.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    file: Option<String>,
    alt: Option<String>,
    focus: Option<Vec<f64>>,
    #[serde(default)]
    alt_for: BTreeMap<String, String>,
}

/// `[variants.<platform or channel>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    text: Option<String>,
    media: Option<Vec<RawMedia>>,
}

/// The platform kinds a variant or a per-platform alt text may name (the kinds of
/// `[[channels]]` in herald.toml; kept here as names so the planner's layer needs no channel
/// types).
pub const PLATFORMS: [&str; 4] = ["mastodon", "bluesky", "webhook", "outbox"];

/// Pictures a post may carry on any platform herald posts to (Bluesky's and Mastodon's default
/// limit; a draft with more could not be posted everywhere).
pub const MAX_MEDIA: usize = 4;

/// Loads and validates `plan.toml` and every draft under `drafts/`.
pub fn load(
    dir: &Path,
    channels: &[String],
    warnings: &mut Vec<Warning>,
) -> Result<(PlanRules, Vec<Draft>), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let plan_path = dir.join("plan.toml");
    let rules = match source::read(&plan_path) {
        Ok(src) => match src.parse::<RawPlan>() {
            Ok(raw) => validate_plan(raw, &src)
                .map_err(|mut e| errors.append(&mut e))
                .ok(),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    // Drafts are checked even when plan.toml is broken, against the default categories, so one
    // run shows every problem.
    let rules_for_drafts = rules.clone().unwrap_or_default();
    let drafts = load_drafts(dir, &rules_for_drafts, channels, &mut errors, warnings);
    match rules {
        Some(rules) if errors.is_empty() => Ok((rules, drafts)),
        _ => Err(errors),
    }
}

fn validate_plan(raw: RawPlan, src: &TomlSource) -> Result<PlanRules, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let defaults = PlanRules::default();
    let mut err = |key: &str, why: String| errors.push(src.error(key, why));

    let categories = match raw.mix {
        None => defaults.categories.clone(),
        Some(mix) => {
            let mut categories = Vec::new();
            for (name, share) in &mix {
                let key = format!("mix.{name}");
                if !is_slug(name) {
                    err(&key, format!("{name:?} is not a category name: use lowercase letters, digits, '-' and '_'"));
                }
                if !(0..=100).contains(share) {
                    err(
                        &key,
                        format!("share {share} must be a percentage from 0 to 100"),
                    );
                }
                categories.push(Category {
                    name: name.clone(),
                    share: (*share).clamp(0, 100) as u32,
                });
            }
            let total: i64 = mix.values().sum();
            if mix.is_empty() {
                err("mix", "needs at least one category".into());
            } else if total != 100 {
                err("mix", format!("shares add up to {total}, not 100"));
            }
            categories
        }
    };

    let mut int =
        |key: &str, value: Option<i64>, default: u32, range: std::ops::RangeInclusive<i64>| {
            match value {
                None => default,
                Some(v) if range.contains(&v) => v as u32,
                Some(v) => {
                    err(
                        key,
                        format!("{v} is out of range {}..={}", range.start(), range.end()),
                    );
                    default
                }
            }
        };
    let min_per_day = int(
        "cadence.min_per_day",
        raw.cadence.min_per_day,
        defaults.min_per_day,
        0..=48,
    );
    let max_per_day = int(
        "cadence.max_per_day",
        raw.cadence.max_per_day,
        defaults.max_per_day,
        1..=48,
    );
    let per_day = int(
        "cadence.per_day",
        raw.cadence.per_day,
        defaults.per_day,
        1..=48,
    );
    let gap = int(
        "cadence.min_gap_minutes",
        raw.cadence.min_gap_minutes,
        60,
        1..=720,
    );
    let promo_max_pct = int(
        "promo.max_share",
        raw.promo.max_share,
        defaults.promo_max_pct,
        0..=100,
    );
    let cooldown_days = int(
        "cooldown.days",
        raw.cooldown.days,
        defaults.cooldown_days,
        1..=3650,
    );
    let series_gap = int(
        "series.min_gap_hours",
        raw.series.min_gap_hours,
        20,
        0..=24 * 365,
    );
    let learn_defaults = super::learn::LearnSettings::default();
    let kernel_minutes = int(
        "learn.kernel_minutes",
        raw.learn.kernel_minutes,
        learn_defaults.kernel_minutes,
        5..=60,
    );
    let learn = super::learn::LearnSettings {
        enabled: raw.learn.enabled.unwrap_or(learn_defaults.enabled),
        min_weeks: int(
            "learn.min_weeks",
            raw.learn.min_weeks,
            learn_defaults.min_weeks,
            1..=52,
        ),
        prior_posts: f64::from(int(
            "learn.prior_posts",
            raw.learn.prior_posts,
            learn_defaults.prior_posts as u32,
            1..=100,
        )),
        kernel_minutes,
        exploration: f64::from(int(
            "learn.exploration_percent",
            raw.learn.exploration_percent,
            (learn_defaults.exploration * 100.0).round() as u32,
            0..=200,
        )) / 100.0,
        playbook_bonus: f64::from(int(
            "learn.playbook_bonus_percent",
            raw.learn.playbook_bonus_percent,
            (learn_defaults.playbook_bonus * 100.0).round() as u32,
            0..=100,
        )) / 100.0,
    };

    if min_per_day > max_per_day {
        err(
            "cadence.min_per_day",
            format!("{min_per_day} is more than max_per_day = {max_per_day}"),
        );
    }
    if !(min_per_day..=max_per_day).contains(&per_day) {
        err(
            "cadence.per_day",
            format!(
                "{per_day} is outside min_per_day..=max_per_day ({min_per_day}..={max_per_day})"
            ),
        );
    }

    let peaks = match raw.peaks {
        None => defaults.peaks.clone(),
        Some(raw_peaks) => {
            if raw_peaks.is_empty() {
                err("peaks", "needs at least one [[peaks]] window".into());
            }
            let mut peaks = Vec::new();
            let mut names = BTreeSet::new();
            for (i, p) in raw_peaks.iter().enumerate() {
                if p.name.trim().is_empty() {
                    err(&format!("peaks[{i}].name"), "must not be empty".into());
                } else if !names.insert(p.name.clone()) {
                    err(
                        &format!("peaks[{i}].name"),
                        format!("peak {:?} is defined twice", p.name),
                    );
                }
                let start =
                    parse_time(&p.start).map_err(|why| err(&format!("peaks[{i}].start"), why));
                let end = parse_time(&p.end).map_err(|why| err(&format!("peaks[{i}].end"), why));
                if let (Ok(start), Ok(end)) = (start, end) {
                    if start >= end {
                        err(
                            &format!("peaks[{i}].end"),
                            format!("{} is not after start {}", p.end, p.start),
                        );
                    } else {
                        peaks.push(Peak {
                            name: p.name.clone(),
                            start,
                            end,
                        });
                    }
                }
            }
            peaks.sort_by_key(|p| p.start);
            for w in peaks.windows(2) {
                if w[1].start < w[0].end {
                    let i = raw_peaks
                        .iter()
                        .position(|p| p.name == w[1].name)
                        .unwrap_or(0);
                    err(
                        &format!("peaks[{i}].start"),
                        format!("peak {:?} overlaps peak {:?}", w[1].name, w[0].name),
                    );
                }
            }
            peaks
        }
    };

    let mut blackout = BTreeSet::new();
    for (i, d) in raw.blackout.dates.iter().enumerate() {
        match parse_date_range(d) {
            Ok((a, b)) => {
                let mut day = a;
                loop {
                    blackout.insert(day);
                    match day.succ_opt() {
                        Some(next) if day < b => day = next,
                        _ => break,
                    }
                }
            }
            Err(why) => err(&format!("blackout.dates[{i}]"), why),
        }
    }

    let pause_categories = match raw.crisis.pause_categories {
        None => defaults
            .pause_categories
            .iter()
            .filter(|c| categories.iter().any(|k| &k.name == *c))
            .cloned()
            .collect(),
        Some(list) => {
            for (i, c) in list.iter().enumerate() {
                if !categories.iter().any(|k| &k.name == c) {
                    err(
                        &format!("crisis.pause_categories[{i}]"),
                        format!("{c:?} is not a category of [mix]"),
                    );
                }
            }
            list
        }
    };

    if kernel_minutes % 5 != 0 {
        err(
            "learn.kernel_minutes",
            format!(
                "{kernel_minutes} is not a multiple of 5 (times are learned in five-minute steps)"
            ),
        );
    }
    let rules = PlanRules {
        categories,
        min_per_day,
        max_per_day,
        per_day,
        min_gap: TimeDelta::minutes(i64::from(gap)),
        peaks,
        promo_max_pct,
        cooldown_days,
        series_min_gap: TimeDelta::hours(i64::from(series_gap)),
        blackout,
        pause_categories,
        learn,
    };
    // Only meaningful once the windows themselves are valid.
    if errors.is_empty() {
        let capacity = super::slots::DayGrid::new(&rules).capacity();
        if capacity < rules.per_day as usize {
            errors.push(src.error(
                "cadence.per_day",
                format!(
                    "the peak windows fit only {capacity} posts a day {gap} minutes apart, fewer than per_day = {}",
                    rules.per_day
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| format!("{s:?} is not a time of day as HH:MM (00:00 to 23:59)"))
}

fn parse_date_range(s: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let date = |d: &str| {
        NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
            format!("{s:?} is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")
        })
    };
    match s.split_once("..") {
        None => date(s).map(|d| (d, d)),
        Some((a, b)) => {
            let (a, b) = (date(a)?, date(b)?);
            if a > b {
                Err(format!("range {s:?} ends before it starts"))
            } else if (b - a).num_days() > 366 {
                Err(format!("range {s:?} is longer than a year"))
            } else {
                Ok((a, b))
            }
        }
    }
}

fn load_drafts(
    dir: &Path,
    rules: &PlanRules,
    channels: &[String],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Vec<Draft> {
    let drafts_dir = dir.join("drafts");
    let media_dir = dir.join("media");
    let folders = match sorted_entries(&drafts_dir) {
        Ok(f) => f,
        Err(why) => {
            errors.push(ConfigError::whole_file(&drafts_dir, "drafts", why));
            return Vec::new();
        }
    };
    let mut drafts = Vec::new();
    let mut seen_categories = BTreeSet::new();
    for folder in folders.into_iter().filter(|p| p.is_dir()) {
        let category = folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !rules.categories.iter().any(|c| c.name == category) {
            errors.push(ConfigError::whole_file(
                &folder,
                "category",
                format!("folder {category:?} is not a category of [mix] in plan.toml"),
            ));
            continue;
        }
        seen_categories.insert(category.clone());
        let files = match sorted_entries(&folder) {
            Ok(f) => f,
            Err(why) => {
                errors.push(ConfigError::whole_file(&folder, "drafts", why));
                continue;
            }
        };
        for path in files {
            if path.extension().and_then(|e| e.to_str()) != Some("md") {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let ctx = DraftContext {
                        channels,
                        media_dir: &media_dir,
                    };
                    if let Some(d) = parse_draft(&path, &category, &text, &ctx, errors) {
                        drafts.push(d);
                    }
                }
                Err(e) => errors.push(ConfigError::whole_file(
                    &path,
                    "file",
                    format!("cannot read: {e}"),
                )),
            }
        }
    }
    for c in &rules.categories {
        if c.share > 0 && !drafts.iter().any(|d| d.category == c.name) {
            let why = if seen_categories.contains(&c.name) {
                "the folder has no drafts"
            } else {
                "there is no drafts folder for it"
            };
            warnings.push(Warning {
                file: drafts_dir.join(&c.name),
                key: format!("mix.{}", c.name),
                why: format!(
                    "category {:?} has a {}% share but {why}: its posts cannot be planned",
                    c.name, c.share
                ),
            });
        }
    }
    // A draft that failed to load would make its series look broken too; report it alone.
    if errors.is_empty() {
        check_series(&drafts, errors);
    }
    drafts
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read folder: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

/// Splits `+++\n<toml>\n+++\n<body>`; returns the front matter, the body and the body's line.
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "+++" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body_line = 2 + front.matches('\n').count() + 1;
            return Some((front, body, body_line));
        }
        offset += line.len();
    }
    None
}

/// What a draft is checked against besides its own text.
struct DraftContext<'a> {
    /// The channel names of herald.toml.
    channels: &'a [String],
    /// `content-plan/media/`: the pictures' folder.
    media_dir: &'a Path,
}

fn parse_draft(
    path: &Path,
    category: &str,
    text: &str,
    ctx: &DraftContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Draft> {
    let channels = ctx.channels;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let Some((front, body, body_line)) = split_front_matter(text) else {
        errors.push(ConfigError::whole_file(
            path,
            "front matter",
            "a draft starts with a line `+++`, TOML front matter, and another line `+++` before the text",
        ));
        return None;
    };
    let src = TomlSource::new(path, front, 2);
    let raw: RawDraft = match src.parse() {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let before = errors.len();
    let mut err = |key: &str, why: String| errors.push(src.error(key, why));
    if !is_slug(&stem) {
        err(
            "file name",
            format!("{stem:?} is not a draft name: use lowercase ASCII letters, digits and '-'"),
        );
    }
    if let Some(c) = &raw.category {
        if c != category {
            err(
                "category",
                format!("says {c:?} but the draft is in the {category:?} folder"),
            );
        }
    }
    let lang = raw.lang.clone().unwrap_or_else(|| "zh".to_string());
    if !regex_lite_lang(&lang) {
        err(
            "lang",
            format!("{lang:?} is not a language code such as \"zh\" or \"en\""),
        );
    }
    if let Some(list) = &raw.channels {
        if list.is_empty() {
            err(
                "channels",
                "an empty list would never be posted; leave it out to post on every channel".into(),
            );
        }
        for (i, c) in list.iter().enumerate() {
            if !channels.contains(c) {
                err(
                    &format!("channels[{i}]"),
                    format!(
                        "{c:?} is not a channel in herald.toml (channels: {})",
                        channels.join(", ")
                    ),
                );
            }
        }
    }
    let series = match (&raw.series, raw.part) {
        (None, None) => None,
        (Some(_), None) => {
            err("series", "a series draft needs `part = N`".into());
            None
        }
        (None, Some(_)) => {
            err("part", "`part` needs `series = \"name\"`".into());
            None
        }
        (Some(s), Some(p)) => {
            if p < 1 {
                err("part", format!("{p} must be 1 or more"));
            }
            if s.trim().is_empty() {
                err("series", "must not be empty".into());
            }
            if raw.evergreen {
                err(
                    "evergreen",
                    "a series part is posted once, in order; it cannot be evergreen".into(),
                );
            }
            Some(SeriesPart {
                name: s.clone(),
                part: p.max(1) as u32,
            })
        }
    };
    let date = |key: &str, v: &Option<toml::value::Datetime>, err: &mut dyn FnMut(&str, String)| {
        v.as_ref()
            .and_then(|dt| match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                }
                _ => {
                    err(key, format!("{dt} must be a plain date such as 2026-12-01"));
                    None
                }
            })
    };
    let not_before = date("not_before", &raw.not_before, &mut err);
    let not_after = date("not_after", &raw.not_after, &mut err);
    if let (Some(a), Some(b)) = (not_before, not_after) {
        if a > b {
            err("not_after", format!("{b} is before not_before = {a}"));
        }
    }
    let link = raw.link.as_deref().and_then(|l| match Url::parse(l) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            err("link", "must be an http or https URL".into());
            None
        }
        Err(e) => {
            err("link", format!("{l:?} is not a URL: {e}"));
            None
        }
    });
    let cooldown_days = raw.cooldown_days.and_then(|d| {
        if (1..=3650).contains(&d) {
            Some(d as u32)
        } else {
            err("cooldown_days", format!("{d} is out of range 1..=3650"));
            None
        }
    });
    let media = media_list("media", &raw.media, ctx, &mut err);
    let mut variants = BTreeMap::new();
    for (name, v) in &raw.variants {
        let key = format!("variants.{name}");
        if !PLATFORMS.contains(&name.as_str()) && !channels.contains(name) {
            err(
                &key,
                format!(
                    "{name:?} is neither a platform ({}) nor a channel in herald.toml ({})",
                    PLATFORMS.join(", "),
                    channels.join(", ")
                ),
            );
            continue;
        }
        let text = v.text.as_ref().map(|t| t.trim().to_string());
        if let Some(t) = &text {
            if t.is_empty() {
                err(
                    &format!("{key}.text"),
                    "must not be empty; leave it out to post the draft's text".into(),
                );
            } else if t.contains("{link}") && link.is_none() {
                err(
                    &format!("{key}.text"),
                    "the text uses {link} but the draft has no `link`".into(),
                );
            }
        }
        let media = v
            .media
            .as_ref()
            .map(|list| media_list(&format!("{key}.media"), list, ctx, &mut err));
        variants.insert(name.clone(), Variant { text, media });
    }
    let body = body.trim().to_string();
    if body.contains("{link}") && link.is_none() {
        err(
            "link",
            "the text uses {link} but the draft has no `link`".into(),
        );
    }
    if body.is_empty() {
        errors.push(src.error_at(
            0,
            "text".into(),
            "the draft has no text after the front matter".into(),
        ));
        if let Some(e) = errors.last_mut() {
            e.line = body_line;
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Draft {
        media,
        variants,
        id: format!("{category}/{stem}"),
        category: category.to_string(),
        stem,
        title: raw.title,
        lang,
        channels: raw.channels,
        tags: raw.tags,
        promo: raw.promo,
        evergreen: raw.evergreen,
        series,
        not_before,
        not_after,
        link,
        cooldown_days,
        body,
        path: path.to_path_buf(),
    })
}

/// Checks a `[[media]]` list (the draft's, or a variant's under `prefix`): at most
/// [`MAX_MEDIA`] pictures, each an image file under the media folder with alt text.
fn media_list(
    prefix: &str,
    list: &[RawMedia],
    ctx: &DraftContext<'_>,
    err: &mut dyn FnMut(&str, String),
) -> Vec<DraftMedia> {
    if list.len() > MAX_MEDIA {
        err(
            &format!("{prefix}[{MAX_MEDIA}]"),
            format!(
                "a post carries at most {MAX_MEDIA} pictures (Bluesky and Mastodon take no more); this draft has {}",
                list.len()
            ),
        );
    }
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let key = |k: &str| format!("{prefix}[{i}].{k}");
        let file = match m.file.as_deref().map(str::trim) {
            None | Some("") => {
                err(
                    &format!("{prefix}[{i}]"),
                    "needs `file`, a picture under content-plan/media/".into(),
                );
                None
            }
            Some(f) => match media_path(f) {
                Err(why) => {
                    err(&key("file"), why);
                    None
                }
                Ok(()) => {
                    let path = ctx.media_dir.join(f);
                    match crate::media::inspect(&path) {
                        Ok(_) => Some(f.to_string()),
                        Err(crate::media::MediaError::Read { source, .. })
                            if source.kind() == std::io::ErrorKind::NotFound =>
                        {
                            err(&key("file"), format!("there is no file {}", path.display()));
                            None
                        }
                        Err(e) => {
                            err(&key("file"), e.to_string());
                            None
                        }
                    }
                }
            },
        };
        let alt = m.alt.as_deref().map(str::trim).unwrap_or_default();
        if alt.is_empty() {
            err(
                &format!("{prefix}[{i}].alt"),
                "every picture needs alt text (`alt = \"…\"`, in the draft's language): it is what a screen reader says and what shows when the picture does not load".into(),
            );
        }
        let mut alt_for = BTreeMap::new();
        for (name, text) in &m.alt_for {
            let k = format!("{prefix}[{i}].alt_for.{name}");
            if !PLATFORMS.contains(&name.as_str()) && !ctx.channels.contains(name) {
                err(
                    &k,
                    format!(
                        "{name:?} is neither a platform ({}) nor a channel in herald.toml ({})",
                        PLATFORMS.join(", "),
                        ctx.channels.join(", ")
                    ),
                );
            } else if text.trim().is_empty() {
                err(&k, "must not be empty".into());
            } else {
                alt_for.insert(name.clone(), text.trim().to_string());
            }
        }
        let focus = match m.focus.as_deref() {
            None => None,
            Some([x, y]) if (-1.0..=1.0).contains(x) && (-1.0..=1.0).contains(y) => {
                Some(crate::domain::Focus {
                    x: *x as f32,
                    y: *y as f32,
                })
            }
            Some(v) => {
                err(
                    &key("focus"),
                    format!(
                        "{v:?} is not a focus point [x, y] with each from -1.0 to 1.0 (0, 0 is the centre)"
                    ),
                );
                None
            }
        };
        if let Some(file) = file {
            out.push(DraftMedia {
                file,
                alt: alt.to_string(),
                alt_for,
                focus,
            });
        }
    }
    out
}

/// Whether `f` names a file inside the media folder: relative, no `..`, `/` separators.
fn media_path(f: &str) -> Result<(), String> {
    let p = Path::new(f);
    if p.is_absolute() || f.starts_with('/') || f.contains('\\') || f.contains(':') {
        return Err(format!(
            "{f:?} must be a path relative to content-plan/media/, with `/` between folders"
        ));
    }
    if p.components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "{f:?} must stay inside content-plan/media/ (no `..` or `.`)"
        ));
    }
    Ok(())
}

fn regex_lite_lang(s: &str) -> bool {
    let (primary, rest) = s.split_once('-').unwrap_or((s, ""));
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A series is parts 1..=n, each once.
fn check_series(drafts: &[Draft], errors: &mut Vec<ConfigError>) {
    let mut by_series: BTreeMap<&str, Vec<&Draft>> = BTreeMap::new();
    for d in drafts {
        if let Some(s) = &d.series {
            by_series.entry(&s.name).or_default().push(d);
        }
    }
    for (name, mut parts) in by_series {
        parts.sort_by_key(|d| d.series.as_ref().map(|s| s.part));
        for (i, d) in parts.iter().enumerate() {
            let part = d.series.as_ref().map(|s| s.part).unwrap_or(0);
            let want = i as u32 + 1;
            if part != want {
                let text = std::fs::read_to_string(&d.path).unwrap_or_default();
                let front = split_front_matter(&text).map_or("", |(f, _, _)| f);
                let src = TomlSource::new(&d.path, front, 2);
                let why = if part < want {
                    format!(
                        "series {name:?} has part {part} twice (also {})",
                        parts[i - 1].id
                    )
                } else {
                    format!("series {name:?} has no part {want} before part {part}")
                };
                errors.push(src.error("part", why));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<PlanRules, Vec<ConfigError>> {
        let src = TomlSource::new("plan.toml", text, 1);
        let raw: RawPlan = src.parse().map_err(|e| vec![e])?;
        validate_plan(raw, &src)
    }

    #[test]
    fn empty_plan_is_the_seeds_default() {
        let p = plan("").expect("valid");
        let mix: Vec<_> = p
            .categories
            .iter()
            .map(|c| (c.name.as_str(), c.share))
            .collect();
        assert_eq!(
            mix,
            [
                ("product", 30),
                ("region", 10),
                ("industry", 10),
                ("service", 20),
                ("lifestyle", 30)
            ]
        );
        assert_eq!((p.min_per_day, p.max_per_day), (5, 10));
        assert_eq!(p.min_gap, TimeDelta::minutes(60));
        assert_eq!(p.peaks.len(), 4);
    }

    #[test]
    fn learn_settings_are_read_and_default_to_off() {
        let dir = tempfile::tempdir().expect("tmp");
        let rules = |text: &str| {
            let path = dir.path().join("plan.toml");
            std::fs::write(&path, text).expect("write");
            let src = TomlSource::new(&path, text, 1);
            let raw: RawPlan = src.parse().expect("parses");
            validate_plan(raw, &src).expect("valid")
        };
        assert_eq!(
            rules("").learn,
            crate::plan::learn::LearnSettings::default()
        );
        assert!(!rules("").learn.enabled);
        let l = rules(
            "[learn]\nenabled = true\nmin_weeks = 2\nprior_posts = 3\nkernel_minutes = 20\nexploration_percent = 100\nplaybook_bonus_percent = 0\n",
        )
        .learn;
        assert!(l.enabled);
        assert_eq!((l.min_weeks, l.kernel_minutes), (2, 20));
        assert_eq!(
            (l.prior_posts, l.exploration, l.playbook_bonus),
            (3.0, 1.0, 0.0)
        );
    }

    #[test]
    fn every_kind_of_mistake_names_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("[mix]\nproduct = 50\nregion = 40\n", 1, "mix", "add up to 90"),
            ("[mix]\nproduct = 150\nregion = -50\n", 2, "mix.product", "0 to 100"),
            ("[mix]\nProduct = 100\n", 2, "mix.Product", "not a category name"),
            ("[cadence]\nmin_per_day = 8\nmax_per_day = 6\nper_day = 7\n", 2, "cadence.min_per_day", "more than max_per_day"),
            ("[cadence]\nper_day = 12\n", 2, "cadence.per_day", "outside"),
            ("[cadence]\nmin_gap_minutes = 0\n", 2, "cadence.min_gap_minutes", "out of range"),
            ("[cadence]\nper_dya = 6\n", 2, "cadence.per_dya", "unknown field"),
            ("[[peaks]]\nname = \"a\"\nstart = \"8:30am\"\nend = \"10:00\"\n", 3, "peaks[0].start", "HH:MM"),
            ("[[peaks]]\nname = \"a\"\nstart = \"10:00\"\nend = \"09:00\"\n", 4, "peaks[0].end", "not after start"),
            (
                "[cadence]\nmin_per_day=1\nper_day=2\n[[peaks]]\nname = \"a\"\nstart = \"08:00\"\nend = \"10:00\"\n[[peaks]]\nname = \"b\"\nstart = \"09:00\"\nend = \"11:00\"\n",
                10,
                "peaks[1].start",
                "overlaps",
            ),
            (
                "[cadence]\nmin_per_day = 5\nper_day = 6\n[[peaks]]\nname = \"only\"\nstart = \"08:00\"\nend = \"10:00\"\n",
                3,
                "cadence.per_day",
                "fit only 2 posts",
            ),
            ("[[peaks]]\nname = \"a\"\nstart = 8\nend = \"10:00\"\n", 3, "peaks[0].start", "invalid type"),
            ("[promo]\nmax_share = 120\n", 2, "promo.max_share", "out of range"),
            ("[blackout]\ndates = [\"2026-12-31\", \"Christmas\"]\n", 2, "blackout.dates[1]", "not a date"),
            ("[blackout]\ndates = [\"2027-01-05..2027-01-01\"]\n", 2, "blackout.dates[0]", "ends before"),
            ("[crisis]\npause_categories = [\"promo\"]\n", 2, "crisis.pause_categories[0]", "not a category"),
            ("[learn]\nenabled = true\nmin_weeks = 0\n", 3, "learn.min_weeks", "out of range 1..=52"),
            ("[learn]\nkernel_minutes = 12\n", 2, "learn.kernel_minutes", "not a multiple of 5"),
            ("[learn]\nexploration_percent = 500\n", 2, "learn.exploration_percent", "out of range 0..=200"),
            ("mood = \"sunny\"\n", 1, "mood", "unknown field"),
            ("[mix\nproduct = 30\n", 1, "syntax", "unclosed table"),
        ];
        for (text, line, key, why) in cases {
            let errors = plan(text).expect_err(text);
            let e = &errors[0];
            assert_eq!((e.key.as_str(), e.line), (*key, *line), "{text:?} gave {e}");
            assert!(e.why.contains(why), "{text:?} gave {e}");
            assert_eq!(e.file, Path::new("plan.toml"));
        }
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let errors =
            plan("[mix]\nproduct = 50\n[cadence]\nper_day = 40\n[promo]\nmax_share = 101\n")
                .expect_err("bad");
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["mix", "promo.max_share", "cadence.per_day"]);
    }

    #[test]
    fn blackout_ranges_expand() {
        let p = plan("[blackout]\ndates = [\"2027-02-16..2027-02-18\", \"2026-12-31\"]\n")
            .expect("valid");
        assert_eq!(p.blackout.len(), 4);
    }

    fn draft(text: &str) -> (Option<Draft>, Vec<ConfigError>) {
        let media = media_folder();
        draft_in(text, media.path())
    }

    fn draft_in(text: &str, media_dir: &Path) -> (Option<Draft>, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let channels = ["outbox".to_string(), "weibo-bridge".to_string()];
        let ctx = DraftContext {
            channels: &channels,
            media_dir,
        };
        let d = parse_draft(
            Path::new("drafts/product/x-trail.md"),
            "product",
            text,
            &ctx,
            &mut errors,
        );
        (d, errors)
    }

    /// A media folder with `a.png`, `b.jpg` (real images) and `notes.jpg` (text named .jpg).
    fn media_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        image::RgbImage::from_pixel(8, 6, image::Rgb([200, 30, 30]))
            .save(dir.path().join("a.png"))
            .expect("png");
        image::RgbImage::from_pixel(8, 6, image::Rgb([30, 30, 200]))
            .save(dir.path().join("b.jpg"))
            .expect("jpg");
        std::fs::write(dir.path().join("notes.jpg"), "not a picture").expect("write");
        dir
    }

    #[test]
    fn a_draft_with_media_and_variants_parses() {
        let (d, errors) = draft(concat!(
            "+++\n",
            "link = \"https://a.example/x\"\n",
            "[[media]]\n",
            "file = \"a.png\"\n",
            "alt = \"一辆白色奇骏停在雪地里\"\n",
            "focus = [0.0, 0.3]\n",
            "[media.alt_for]\n",
            "bluesky = \"A white X-Trail in the snow\"\n",
            "weibo-bridge = \"白色奇骏，雪地\"\n",
            "[[media]]\n",
            "file = \"b.jpg\"\n",
            "alt = \"仪表盘\"\n",
            "[variants.bluesky]\n",
            "text = \"短版 {link}\"\n",
            "[variants.outbox]\n",
            "media = []\n",
            "+++\n",
            "长版正文 {link}\n",
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let d = d.expect("draft");
        assert_eq!(d.media.len(), 2);
        assert_eq!(d.media[0].file, "a.png");
        assert_eq!(
            d.media[0].focus,
            Some(crate::domain::Focus { x: 0.0, y: 0.3 })
        );
        assert_eq!(d.media[1].focus, None);
        // Per-channel alt beats per-platform alt beats the draft's.
        assert_eq!(
            d.media[0].alt_on("weibo-bridge", "webhook"),
            "白色奇骏，雪地"
        );
        assert_eq!(
            d.media[0].alt_on("brand-sky", "bluesky"),
            "A white X-Trail in the snow"
        );
        assert_eq!(
            d.media[0].alt_on("brand-masto", "mastodon"),
            "一辆白色奇骏停在雪地里"
        );
        assert_eq!(d.media[1].alt_on("brand-sky", "bluesky"), "仪表盘");
        // Variant selection: the platform's text, the main text elsewhere; `media = []` posts none.
        assert_eq!(d.body_on("brand-sky", "bluesky"), "短版 {link}");
        assert_eq!(d.body_on("brand-masto", "mastodon"), "长版正文 {link}");
        assert_eq!(d.media_on("brand-sky", "bluesky").len(), 2);
        assert!(d.media_on("outbox", "outbox").is_empty());
        assert_eq!(d.body_on("outbox", "outbox"), "长版正文 {link}");
    }

    #[test]
    fn a_channel_variant_beats_a_platform_variant() {
        let (d, errors) = draft(concat!(
            "+++\n",
            "[variants.webhook]\ntext = \"platform\"\n",
            "[variants.weibo-bridge]\ntext = \"channel\"\n",
            "[[variants.weibo-bridge.media]]\nfile = \"b.jpg\"\nalt = \"蓝\"\n",
            "+++\nmain\n",
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let d = d.expect("draft");
        assert_eq!(d.body_on("weibo-bridge", "webhook"), "channel");
        assert_eq!(d.body_on("other-hook", "webhook"), "platform");
        assert_eq!(d.media_on("weibo-bridge", "webhook")[0].alt, "蓝");
        assert!(d.media_on("other-hook", "webhook").is_empty());

        // Whole numbers are a focus too.
        let (d, errors) =
            draft("+++\n[[media]]\nfile = \"a.png\"\nalt = \"红\"\nfocus = [-1, 1]\n+++\nhi\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            d.expect("draft").media[0].focus,
            Some(crate::domain::Focus { x: -1.0, y: 1.0 })
        );
    }

    #[test]
    fn media_mistakes_name_line_and_key() {
        let five = "[[media]]\nfile = \"a.png\"\nalt = \"红\"\n".repeat(5);
        let five = format!("+++\n{five}+++\nhi\n");
        let cases: Vec<(&str, usize, &str, &str)> = vec![
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"红\"\n[[media]]\nfile = \"gone.jpg\"\nalt = \"x\"\n+++\nhi\n",
                6,
                "media[1].file",
                "there is no file",
            ),
            (
                "+++\n[[media]]\nfile = \"notes.jpg\"\nalt = \"x\"\n+++\nhi\n",
                3,
                "media[0].file",
                "not a JPEG, PNG, WebP or GIF",
            ),
            (
                "+++\n[[media]]\nfile = \"a.png\"\n+++\nhi\n",
                2,
                "media[0].alt",
                "needs alt text",
            ),
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"  \"\n+++\nhi\n",
                4,
                "media[0].alt",
                "needs alt text",
            ),
            (&five, 14, "media[4]", "at most 4 pictures"),
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"x\"\nfocus = [0.0, 1.5]\n+++\nhi\n",
                5,
                "media[0].focus",
                "from -1.0 to 1.0",
            ),
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"x\"\nfocus = [0.5]\n+++\nhi\n",
                5,
                "media[0].focus",
                "focus point",
            ),
            (
                "+++\n[[media]]\nfile = \"../secret.png\"\nalt = \"x\"\n+++\nhi\n",
                3,
                "media[0].file",
                "inside content-plan/media/",
            ),
            (
                "+++\n[[media]]\nfile = \"/etc/passwd\"\nalt = \"x\"\n+++\nhi\n",
                3,
                "media[0].file",
                "relative to content-plan/media/",
            ),
            (
                "+++\n[[media]]\nalt = \"x\"\n+++\nhi\n",
                2,
                "media[0]",
                "needs `file`",
            ),
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"x\"\ncaption = \"y\"\n+++\nhi\n",
                5,
                "media[0].caption",
                "unknown field",
            ),
            (
                "+++\n[[media]]\nfile = \"a.png\"\nalt = \"x\"\n[media.alt_for]\nweibo = \"y\"\n+++\nhi\n",
                6,
                "media[0].alt_for.weibo",
                "neither a platform",
            ),
            (
                "+++\n[variants.weibo]\ntext = \"short\"\n+++\nhi\n",
                2,
                "variants.weibo",
                "neither a platform",
            ),
            (
                "+++\n[variants.bluesky]\ntext = \"see {link}\"\n+++\nhi\n",
                3,
                "variants.bluesky.text",
                "no `link`",
            ),
            (
                "+++\n[variants.bluesky]\ntext = \"\"\n+++\nhi\n",
                3,
                "variants.bluesky.text",
                "must not be empty",
            ),
            (
                "+++\n[[variants.bluesky.media]]\nfile = \"a.png\"\n+++\nhi\n",
                2,
                "variants.bluesky.media[0].alt",
                "needs alt text",
            ),
        ];
        for (text, line, key, why) in cases {
            let (d, errors) = draft(text);
            assert!(d.is_none(), "{text:?}");
            let e = errors
                .first()
                .unwrap_or_else(|| panic!("no error for {text:?}"));
            assert_eq!((e.key.as_str(), e.line), (key, line), "{text:?} gave {e}");
            assert!(e.why.contains(why), "{text:?} gave {e}");
            assert!(
                e.to_string().starts_with("drafts/product/x-trail.md:"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_good_draft_parses() {
        let (d, errors) = draft("+++\ntitle = \"X\"\nseries = \"s\"\npart = 2\nnot_before = 2026-12-01\nlink = \"https://a.example/x\"\n+++\nHello {link}\n");
        assert!(errors.is_empty(), "{errors:?}");
        let d = d.expect("draft");
        assert_eq!(d.id, "product/x-trail");
        assert_eq!(
            d.series,
            Some(SeriesPart {
                name: "s".into(),
                part: 2
            })
        );
        assert_eq!(d.body, "Hello {link}");
    }

    #[test]
    fn draft_mistakes_name_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "title = \"x\"\n",
                1,
                "front matter",
                "starts with a line `+++`",
            ),
            (
                "+++\ncategory = \"service\"\n+++\nhi\n",
                2,
                "category",
                "folder",
            ),
            (
                "+++\ntitle = \"a\"\nchanels = [\"x\"]\n+++\nhi\n",
                3,
                "chanels",
                "unknown field",
            ),
            (
                "+++\nchannels = [\"outbox\", \"weibo\"]\n+++\nhi\n",
                2,
                "channels[1]",
                "not a channel",
            ),
            ("+++\nseries = \"s\"\n+++\nhi\n", 2, "series", "needs `part"),
            (
                "+++\nseries = \"s\"\npart = 1\nevergreen = true\n+++\nhi\n",
                4,
                "evergreen",
                "cannot be evergreen",
            ),
            (
                "+++\nnot_before = 2026-12-05\nnot_after = 2026-12-01\n+++\nhi\n",
                3,
                "not_after",
                "before not_before",
            ),
            (
                "+++\nnot_before = 2026-12-05T10:00:00\n+++\nhi\n",
                2,
                "not_before",
                "plain date",
            ),
            (
                "+++\nlink = \"javascript:alert(1)\"\n+++\nhi\n",
                2,
                "link",
                "http or https",
            ),
            (
                "+++\ntitle = \"a\"\n+++\nsee {link}\n",
                2,
                "link",
                "no `link`",
            ),
            ("+++\ntitle = \"a\"\n+++\n\n", 4, "text", "no text"),
            (
                "+++\npromo = \"yes\"\n+++\nhi\n",
                2,
                "promo",
                "invalid type",
            ),
            (
                "+++\ncooldown_days = 0\n+++\nhi\n",
                2,
                "cooldown_days",
                "out of range",
            ),
        ];
        for (text, line, key, why) in cases {
            let (d, errors) = draft(text);
            assert!(d.is_none(), "{text:?}");
            let e = errors
                .first()
                .unwrap_or_else(|| panic!("no error for {text:?}"));
            assert_eq!((e.key.as_str(), e.line), (*key, *line), "{text:?} gave {e}");
            assert!(e.why.contains(why), "{text:?} gave {e}");
            assert!(
                e.to_string().starts_with("drafts/product/x-trail.md:"),
                "{e}"
            );
        }
    }
}
