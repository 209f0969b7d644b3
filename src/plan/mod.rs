//! The content planner: turns the plan, the draft library and the posting history into a
//! schedule. Pure: no IO, no clock; the start instant is an argument, so the same inputs always
//! give the same plan.
//!
//! The rules it enforces, per channel (see docs/contracts.md, "The rules the planner enforces"):
//! - **mix**: after every post each category's count is within one post of its exact share
//!   (`|count − share·n| < 1`), by earliest-deadline-first quota apportionment ([`mix`]);
//! - **cadence**: `per_day` posts a day (never more than `max_per_day`), at least `min_gap`
//!   apart, every one inside a peak window ([`slots`]);
//! - **promo cap**: after every post, promotional posts are at most `promo_max_pct`% of all posts;
//! - **series** parts in order and `series_min_gap` apart; a non-evergreen draft once per
//!   channel; an evergreen draft again only after its cooldown; no post on a blackout date or
//!   outside a draft's `not_before..=not_after`.
//!
//! When a category runs out of fresh drafts the planner reuses its evergreen drafts past their
//! cooldown and says so in [`Plan::notes`]; when even those are in cooldown the slot stays empty
//! and the note says that too. It never fills a slot from another category in a way that could
//! break the mix.

pub mod config;
pub mod learn;
pub mod mix;
pub mod output;
mod planner;
#[cfg(test)]
mod proptests;
pub mod slots;
pub mod track;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use url::Url;

pub use planner::{plan, plan_learned};

/// A content category and its share of posts, in percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    pub share: u32,
}

/// A daily peak window, in the plan's local time: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peak {
    pub name: String,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The validated `plan.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRules {
    /// In the order of `[mix]`; the order breaks ties, so it is part of the plan's determinism.
    pub categories: Vec<Category>,
    pub min_per_day: u32,
    pub max_per_day: u32,
    /// How many posts a day the planner aims for, per channel.
    pub per_day: u32,
    pub min_gap: TimeDelta,
    /// Sorted by start; never overlapping.
    pub peaks: Vec<Peak>,
    /// Promotional posts as a percentage of all posts, at most.
    pub promo_max_pct: u32,
    /// Days before an evergreen draft may be posted again on the same channel.
    pub cooldown_days: u32,
    /// Least time between two consecutive parts of a series.
    pub series_min_gap: TimeDelta,
    /// Local dates with no posts.
    pub blackout: BTreeSet<NaiveDate>,
    /// Categories held while a crisis alert is open.
    pub pause_categories: Vec<String>,
    /// Posting times learned from results (`[learn]`; off by default).
    pub learn: learn::LearnSettings,
}

impl Default for PlanRules {
    /// The playbook's §1 (docs/playbook.md).
    fn default() -> Self {
        let cat = |name: &str, share| Category {
            name: name.to_string(),
            share,
        };
        let peak = |name: &str, (h1, m1), (h2, m2)| Peak {
            name: name.to_string(),
            start: NaiveTime::from_hms_opt(h1, m1, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(h2, m2, 0).unwrap_or_default(),
        };
        Self {
            categories: vec![
                cat("product", 30),
                cat("region", 10),
                cat("industry", 10),
                cat("service", 20),
                cat("lifestyle", 30),
            ],
            min_per_day: 5,
            max_per_day: 10,
            per_day: 6,
            min_gap: TimeDelta::minutes(60),
            peaks: vec![
                peak("work-start", (8, 30), (10, 0)),
                peak("lunch", (11, 30), (13, 30)),
                peak("afternoon", (16, 0), (18, 0)),
                peak("evening", (19, 30), (21, 30)),
            ],
            promo_max_pct: 20,
            cooldown_days: 7,
            series_min_gap: TimeDelta::hours(20),
            blackout: BTreeSet::new(),
            pause_categories: vec!["product".to_string(), "lifestyle".to_string()],
            learn: learn::LearnSettings::default(),
        }
    }
}

impl PlanRules {
    /// The index of a category by name.
    pub fn category_index(&self, name: &str) -> Option<usize> {
        self.categories.iter().position(|c| c.name == name)
    }
}

/// One part of a serialised draft series (连载).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesPart {
    pub name: String,
    pub part: u32,
}

/// A post waiting in the draft library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `<category>/<stem>`: stable, used in the schedule and in tracking codes.
    pub id: String,
    pub category: String,
    pub stem: String,
    pub title: Option<String>,
    pub lang: String,
    /// The channels it may go to; `None` is every channel.
    pub channels: Option<Vec<String>>,
    pub tags: Vec<String>,
    pub promo: bool,
    pub evergreen: bool,
    pub series: Option<SeriesPart>,
    pub not_before: Option<NaiveDate>,
    pub not_after: Option<NaiveDate>,
    pub link: Option<Url>,
    pub cooldown_days: Option<u32>,
    /// The post text; `{link}` marks where the tracked link goes.
    pub body: String,
    /// Pictures, in order (`[[media]]` in the front matter).
    pub media: Vec<DraftMedia>,
    /// Per-platform or per-channel versions (`[variants.<platform or channel>]`), by that name.
    pub variants: BTreeMap<String, Variant>,
    pub path: PathBuf,
}

/// A picture named by a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftMedia {
    /// Path relative to `content-plan/media/`, with `/` separators.
    pub file: String,
    /// Alt text in the draft's language.
    pub alt: String,
    /// Alt text for a platform (`mastodon`, `bluesky`, …) or a channel, by that name.
    pub alt_for: BTreeMap<String, String>,
    pub focus: Option<crate::domain::Focus>,
}

impl DraftMedia {
    /// The alt text for `channel` of platform kind `platform`: the channel's own, else the
    /// platform's, else the draft's.
    pub fn alt_on(&self, channel: &str, platform: &str) -> &str {
        self.alt_for
            .get(channel)
            .or_else(|| self.alt_for.get(platform))
            .unwrap_or(&self.alt)
    }
}

/// A draft's version for one platform or channel: what it replaces of the main draft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    /// Replaces the draft's text (`{link}` works as in the text).
    pub text: Option<String>,
    /// Replaces the draft's pictures (an empty list posts none).
    pub media: Option<Vec<DraftMedia>>,
}

impl Draft {
    /// Whether this draft may be posted on `channel`.
    pub fn allows(&self, channel: &str) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c == channel))
    }

    /// The version for `channel` of platform kind `platform`: the channel's variant, else the
    /// platform's, else none (the main draft).
    pub fn variant(&self, channel: &str, platform: &str) -> Option<&Variant> {
        self.variants
            .get(channel)
            .or_else(|| self.variants.get(platform))
    }

    /// The text for `channel`: its variant's, else the main text.
    pub fn body_on(&self, channel: &str, platform: &str) -> &str {
        self.variant(channel, platform)
            .and_then(|v| v.text.as_deref())
            .unwrap_or(&self.body)
    }

    /// The pictures for `channel`: its variant's list, else the main list.
    pub fn media_on(&self, channel: &str, platform: &str) -> &[DraftMedia] {
        self.variant(channel, platform)
            .and_then(|v| v.media.as_deref())
            .unwrap_or(&self.media)
    }
}

/// A post that already happened or is promised (published, sending, approved): the planner keeps
/// it where it is and plans around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastPost {
    pub channel: String,
    pub at: DateTime<Utc>,
    pub category: String,
    pub draft: String,
    pub promo: bool,
    pub series: Option<SeriesPart>,
}

/// What to plan: which channels, from when, for how long, in which timezone.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub channels: Vec<String>,
    /// The first instant a post may be planned at.
    pub start: DateTime<Utc>,
    /// Posts are planned on local dates `start`'s date ..= this date's eve, i.e. before local
    /// midnight at the start of `end_date`.
    pub end_date: NaiveDate,
    pub timezone: Tz,
}

/// One post the planner placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPost {
    /// Index into [`PlanRequest::channels`].
    pub channel: usize,
    pub at: DateTime<Utc>,
    /// Index into [`PlanRules::categories`].
    pub category: usize,
    /// Index into the draft slice given to [`plan`].
    pub draft: usize,
    /// Index into [`PlanRules::peaks`].
    pub peak: usize,
    /// An evergreen draft posted again after its cooldown.
    pub reused: bool,
}

/// The planner's output: posts in (time, channel) order, and what a person should know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub posts: Vec<PlannedPost>,
    pub notes: Vec<Note>,
}

/// Something the planner could not do as the plan asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A category ran out of fresh drafts and reused evergreen drafts past their cooldown.
    Reused {
        channel: String,
        category: String,
        from: NaiveDate,
        posts: usize,
    },
    /// Slots left empty because no draft of the category furthest behind its quota was usable.
    Unfilled {
        channel: String,
        category: String,
        from: NaiveDate,
        slots: usize,
    },
    /// Days with fewer posts than `min_per_day` (not counting blackout dates).
    BelowMinimum {
        channel: String,
        days: Vec<NaiveDate>,
        min_per_day: u32,
    },
}

/// Notes as lines for people: a note that several channels share is said once, naming them all.
/// Each line comes with whether it is a warning.
pub fn note_lines(notes: &[Note]) -> Vec<(bool, String)> {
    let mut lines: Vec<(bool, Vec<String>, String)> = Vec::new();
    for note in notes {
        let text = note.to_string();
        let (channel, rest) = text.split_once(": ").unwrap_or(("", &text));
        match lines.iter_mut().find(|(_, _, r)| r == rest) {
            Some((_, channels, _)) => channels.push(channel.to_string()),
            None => lines.push((
                note.is_warning(),
                vec![channel.to_string()],
                rest.to_string(),
            )),
        }
    }
    lines
        .into_iter()
        .map(|(warning, channels, rest)| (warning, format!("{}: {rest}", channels.join(", "))))
        .collect()
}

impl Note {
    /// Whether the plan breaks a cadence rule because of it (as opposed to only telling).
    pub fn is_warning(&self) -> bool {
        !matches!(self, Note::Reused { .. })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Reused { channel, category, from, posts } => write!(
                f,
                "{channel}: {category} ran out of fresh drafts on {from}; {posts} posts reuse evergreen drafts past their cooldown (add drafts to content-plan/drafts/{category}/)"
            ),
            Note::Unfilled { channel, category, from, slots } => write!(
                f,
                "{channel}: {category} has no usable draft from {from}; {slots} slots left empty to keep the mix (add drafts to content-plan/drafts/{category}/, or mark some evergreen)"
            ),
            Note::BelowMinimum { channel, days, min_per_day } => {
                let shown: Vec<String> = days.iter().take(5).map(|d| d.to_string()).collect();
                let more = if days.len() > 5 { format!(" and {} more", days.len() - 5) } else { String::new() };
                write!(
                    f,
                    "{channel}: {} days below min_per_day = {min_per_day}: {}{more}",
                    days.len(),
                    shown.join(", ")
                )
            }
        }
    }
}
