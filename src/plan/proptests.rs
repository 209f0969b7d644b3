//! Property tests: for random plans, draft pools, histories, timezones and start dates, no rule
//! of the planner is ever broken. The checker below re-derives every rule from the inputs and
//! the output alone; it shares no code with the planner but the input types.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

const ZONES: [Tz; 5] = [
    chrono_tz::Asia::Shanghai,
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::UTC,
];

#[derive(Debug, Clone)]
struct Case {
    rules: PlanRules,
    drafts: Vec<Draft>,
    channels: Vec<String>,
    tz: Tz,
    start: DateTime<Utc>,
    days: u32,
}

fn shares(weights: Vec<u32>) -> Vec<u32> {
    let sum = weights.iter().sum::<u32>().max(1);
    let mut s: Vec<u32> = weights.iter().map(|w| w * 100 / sum).collect();
    let missing = 100 - s.iter().sum::<u32>();
    s[0] += missing;
    s
}

fn arb_rules() -> impl Strategy<Value = PlanRules> {
    (
        proptest::collection::vec(0u32..10, 1..6),
        1u32..6,
        0u32..6,
        0u32..6,
        prop_oneof![Just(60i64), 30i64..150],
        proptest::collection::vec((5u32..23, 0u32..4, 30i64..240), 1..5),
        0u32..60,
        1u32..10,
        0i64..48,
        proptest::collection::vec(0u64..30, 0..4),
    )
        .prop_map(
            |(
                weights,
                min,
                extra_target,
                extra_max,
                gap,
                windows,
                promo,
                cooldown,
                series_gap,
                blackout,
            )| {
                let shares = shares(weights);
                let categories = shares
                    .iter()
                    .enumerate()
                    .map(|(i, &share)| Category {
                        name: format!("c{i}"),
                        share,
                    })
                    .collect();
                // Non-overlapping windows: sort by start hour, clip each before the next.
                let mut starts: Vec<(u32, u32, i64)> = windows;
                starts.sort();
                starts.dedup_by_key(|w| w.0);
                let mut peaks = Vec::new();
                for (i, (h, q, len)) in starts.iter().enumerate() {
                    let start = NaiveTime::from_hms_opt(*h, q * 15, 0).unwrap_or_default();
                    let next = starts
                        .get(i + 1)
                        .map(|n| NaiveTime::from_hms_opt(n.0, n.1 * 15, 0).unwrap_or_default());
                    let mut end = start + TimeDelta::minutes(*len);
                    if end <= start {
                        end = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default();
                    }
                    if let Some(n) = next {
                        end = end.min(n);
                    }
                    if end > start {
                        peaks.push(Peak {
                            name: format!("p{i}"),
                            start,
                            end,
                        });
                    }
                }
                let base = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
                let mut rules = PlanRules {
                    categories,
                    min_per_day: min,
                    max_per_day: min + extra_target + extra_max,
                    per_day: min + extra_target,
                    min_gap: TimeDelta::minutes(gap),
                    peaks,
                    promo_max_pct: promo,
                    cooldown_days: cooldown,
                    series_min_gap: TimeDelta::hours(series_gap),
                    blackout: blackout
                        .into_iter()
                        .map(|d| base + chrono::Days::new(d))
                        .collect(),
                    pause_categories: vec![],
                    learn: Default::default(),
                };
                // Validation refuses a per_day the peaks cannot hold; fit the random cadence to
                // the random peaks instead of rejecting most cases.
                let capacity = super::slots::DayGrid::new(&rules).capacity() as u32;
                rules.per_day = rules.per_day.min(capacity);
                rules.min_per_day = rules.min_per_day.min(rules.per_day);
                rules
            },
        )
}

/// A random draft: category, promo, evergreen, series (which, part), date window (start,
/// length in days), channel restriction, cooldown override.
type RawDraft = (
    usize,
    bool,
    bool,
    Option<(u8, u32)>,
    Option<(u64, u64)>,
    Option<u8>,
    Option<u32>,
);

fn arb_draft(categories: usize, channels: usize) -> impl Strategy<Value = RawDraft> {
    (
        0..categories,
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.6),
        proptest::option::weighted(0.2, (0u8..2, 1u32..5)),
        proptest::option::weighted(0.2, (0u64..30, 0u64..20)),
        proptest::option::weighted(0.2, 0u8..(channels as u8)),
        proptest::option::weighted(0.2, 1u32..5),
    )
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        arb_rules(),
        1usize..4,
        0usize..5,
        0u64..60,
        0u32..24,
        1u32..21,
    )
        .prop_flat_map(|(rules, channels, zone, day, hour, days)| {
            let n = rules.categories.len();
            let drafts = proptest::collection::vec(arb_draft(n, channels), 0..40);
            (
                Just(rules),
                Just(channels),
                Just(zone),
                Just(day),
                Just(hour),
                Just(days),
                drafts,
            )
        })
        .prop_map(|(rules, channels, zone, day, hour, days, raw)| {
            let channels: Vec<String> = (0..channels).map(|i| format!("ch{i}")).collect();
            let base = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
            let mut drafts = Vec::new();
            let mut series_parts: BTreeMap<u8, u32> = BTreeMap::new();
            for (i, (cat, promo, evergreen, series, window, channel, cooldown)) in
                raw.into_iter().enumerate()
            {
                let category = rules.categories[cat].name.clone();
                // Series parts are numbered as they come so every series is 1..=n.
                let series = series.map(|(s, _)| {
                    let part = series_parts.entry(s).or_insert(0);
                    *part += 1;
                    SeriesPart {
                        name: format!("s{s}"),
                        part: *part,
                    }
                });
                let (not_before, not_after) = match window {
                    Some((a, len)) => (
                        Some(base + chrono::Days::new(a)),
                        Some(base + chrono::Days::new(a + len)),
                    ),
                    None => (None, None),
                };
                drafts.push(Draft {
                    media: Vec::new(),
                    variants: Default::default(),
                    id: format!("{category}/d{i}"),
                    category,
                    stem: format!("d{i}"),
                    title: None,
                    lang: "zh".into(),
                    channels: channel.map(|c| vec![channels[c as usize].clone()]),
                    tags: vec![],
                    promo,
                    evergreen: evergreen && series.is_none(),
                    series,
                    not_before,
                    not_after,
                    link: None,
                    cooldown_days: cooldown,
                    body: format!("draft {i}"),
                    path: "x".into(),
                });
            }
            let tz = ZONES[zone];
            let date = base + chrono::Days::new(day);
            let start = tz
                .from_local_datetime(&date.and_hms_opt(hour, 7, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default();
            Case {
                rules,
                drafts,
                channels,
                tz,
                start,
                days,
            }
        })
}

fn request(case: &Case, start: DateTime<Utc>) -> PlanRequest {
    PlanRequest {
        channels: case.channels.clone(),
        start,
        end_date: case.start.with_timezone(&case.tz).date_naive()
            + chrono::Days::new(u64::from(case.days)),
        timezone: case.tz,
    }
}

/// A post as the checker sees it: where, when, which draft.
#[derive(Debug, Clone)]
struct Seen {
    at: DateTime<Utc>,
    draft: usize,
    peak: Option<usize>,
    new: bool,
}

/// Every broken rule, as text.
fn violations(case: &Case, history: &[PastPost], plan: &Plan, start: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let rules = &case.rules;
    let by_id: HashMap<&str, usize> = case
        .drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    let end_date = request(case, start).end_date;
    for (ci, channel) in case.channels.iter().enumerate() {
        let mut seen: Vec<Seen> = history
            .iter()
            .filter(|p| &p.channel == channel)
            .map(|p| Seen {
                at: p.at,
                draft: by_id[p.draft.as_str()],
                peak: None,
                new: false,
            })
            .collect();
        for p in plan.posts.iter().filter(|p| p.channel == ci) {
            seen.push(Seen {
                at: p.at,
                draft: p.draft,
                peak: Some(p.peak),
                new: true,
            });
            if p.at < start {
                out.push(format!(
                    "{channel}: post at {} before the start {start}",
                    p.at
                ));
            }
            let d = &case.drafts[p.draft];
            if rules.categories[p.category].name != d.category {
                out.push(format!(
                    "{channel}: post category differs from draft {}",
                    d.id
                ));
            }
            if !d.allows(channel) {
                out.push(format!("{channel}: draft {} not allowed here", d.id));
            }
        }
        seen.sort_by_key(|s| s.at);
        let mut counts = vec![0i64; rules.categories.len()];
        let (mut n, mut promos) = (0i64, 0i64);
        let mut last: Option<DateTime<Utc>> = None;
        let mut used: HashMap<usize, DateTime<Utc>> = HashMap::new();
        let mut series: HashMap<String, (u32, DateTime<Utc>)> = HashMap::new();
        let mut per_day: BTreeMap<NaiveDate, u32> = BTreeMap::new();
        for s in &seen {
            let d = &case.drafts[s.draft];
            let local = s.at.with_timezone(&case.tz);
            let date = local.date_naive();
            *per_day.entry(date).or_default() += 1;
            let c = rules.category_index(&d.category).unwrap_or(0);
            counts[c] += 1;
            n += 1;
            promos += i64::from(d.promo);
            for (k, cat) in rules.categories.iter().enumerate() {
                if (100 * counts[k] - i64::from(cat.share) * n).abs() >= 100 {
                    out.push(format!(
                        "{channel}: mix off for {} after {n} posts at {}",
                        cat.name, s.at
                    ));
                }
            }
            if s.new {
                if 100 * promos > i64::from(rules.promo_max_pct) * n {
                    out.push(format!("{channel}: promo share {promos}/{n} at {}", s.at));
                }
                if let Some(l) = last {
                    if s.at - l < rules.min_gap {
                        out.push(format!(
                            "{channel}: {} only {} min after the previous post",
                            s.at,
                            (s.at - l).num_minutes()
                        ));
                    }
                }
                let peak = &rules.peaks[s.peak.unwrap_or(0)];
                let t = local.time();
                if !(t >= peak.start && t < peak.end) {
                    out.push(format!("{channel}: {local} outside peak {}", peak.name));
                }
                if rules.blackout.contains(&date) {
                    out.push(format!("{channel}: post on blackout date {date}"));
                }
                if d.not_before.is_some_and(|x| date < x) || d.not_after.is_some_and(|x| date > x) {
                    out.push(format!("{channel}: {} outside its dates on {date}", d.id));
                }
                if let Some(prev) = used.get(&s.draft) {
                    let cooldown =
                        TimeDelta::days(i64::from(d.cooldown_days.unwrap_or(rules.cooldown_days)));
                    if !d.evergreen {
                        out.push(format!("{channel}: non-evergreen {} used twice", d.id));
                    } else if s.at - *prev < cooldown {
                        out.push(format!("{channel}: {} reused within its cooldown", d.id));
                    }
                }
                if let Some(sp) = &d.series {
                    let parts: Vec<u32> = {
                        let mut v: Vec<u32> = case
                            .drafts
                            .iter()
                            .filter(|x| x.allows(channel))
                            .filter_map(|x| {
                                x.series
                                    .as_ref()
                                    .filter(|y| y.name == sp.name)
                                    .map(|y| y.part)
                            })
                            .collect();
                        v.sort_unstable();
                        v
                    };
                    match series.get(&sp.name) {
                        None if parts.first() != Some(&sp.part) => {
                            out.push(format!("{channel}: {} starts series out of order", d.id))
                        }
                        Some((lp, when)) => {
                            if parts.iter().find(|p| **p > *lp) != Some(&sp.part) {
                                out.push(format!("{channel}: {} after part {lp}", d.id));
                            }
                            if s.at - *when < rules.series_min_gap {
                                out.push(format!("{channel}: {} too soon after part {lp}", d.id));
                            }
                        }
                        None => {}
                    }
                }
            }
            if let Some(sp) = &d.series {
                series.insert(sp.name.clone(), (sp.part, s.at));
            }
            used.insert(s.draft, s.at);
            last = Some(s.at);
        }
        let below: Vec<NaiveDate> = plan
            .notes
            .iter()
            .filter_map(|n| match n {
                Note::BelowMinimum {
                    channel: c, days, ..
                } if c == channel => Some(days.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for (date, count) in &per_day {
            if *count > rules.max_per_day
                && seen
                    .iter()
                    .any(|s| s.new && s.at.with_timezone(&case.tz).date_naive() == *date)
            {
                out.push(format!(
                    "{channel}: {count} posts on {date}, over max_per_day"
                ));
            }
        }
        // Whole days strictly inside the range must reach min_per_day or be reported.
        let first_whole = start
            .with_timezone(&case.tz)
            .date_naive()
            .succ_opt()
            .unwrap_or_default();
        let mut date = first_whole;
        while date < end_date {
            let count = per_day.get(&date).copied().unwrap_or(0);
            if !rules.blackout.contains(&date)
                && count < rules.min_per_day
                && !below.contains(&date)
            {
                out.push(format!(
                    "{channel}: {count} posts on {date}, below min_per_day and not reported"
                ));
            }
            date = date.succ_opt().unwrap_or(end_date);
        }
    }
    out
}

/// The first `cut` posts of `plan`, as posts that happened.
fn happened(case: &Case, plan: &Plan, cut: usize) -> Vec<PastPost> {
    plan.posts
        .iter()
        .take(cut)
        .map(|p| {
            let d = &case.drafts[p.draft];
            PastPost {
                channel: case.channels[p.channel].clone(),
                at: p.at,
                category: d.category.clone(),
                draft: d.id.clone(),
                promo: d.promo,
                series: d.series.clone(),
            }
        })
        .collect()
}

fn capacity_ok(rules: &PlanRules) -> bool {
    !rules.peaks.is_empty()
        && super::slots::DayGrid::new(rules).capacity() >= rules.per_day as usize
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Failures are kept beside this file, not in a folder at the top of the repository.
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_rule_is_ever_broken(case in arb_case()) {
        prop_assume!(capacity_ok(&case.rules));
        let plan = plan(&case.rules, &case.drafts, &[], &request(&case, case.start));
        let v = violations(&case, &[], &plan, case.start);
        prop_assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn replanning_keeps_history_and_still_obeys(case in arb_case(), cut in 0usize..60, hours in 0i64..200) {
        prop_assume!(capacity_ok(&case.rules));
        let first = plan(&case.rules, &case.drafts, &[], &request(&case, case.start));
        // The first `cut` posts happened; re-plan from a later instant.
        let history = happened(&case, &first, cut);
        let restart = case.start + TimeDelta::hours(hours);
        let restart = history.iter().map(|p| p.at + TimeDelta::seconds(1)).max().map_or(restart, |h| h.max(restart));
        let second = plan(&case.rules, &case.drafts, &history, &request(&case, restart));
        let v = violations(&case, &history, &second, restart);
        prop_assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn same_inputs_same_plan(case in arb_case()) {
        let req = request(&case, case.start);
        prop_assert_eq!(plan(&case.rules, &case.drafts, &[], &req), plan(&case.rules, &case.drafts, &[], &req));
    }

    #[test]
    fn an_ample_library_fills_every_day(case in arb_case()) {
        prop_assume!(capacity_ok(&case.rules));
        // Plenty of undated evergreen drafts in every category, no promos or series: every whole
        // non-blackout day gets exactly per_day posts and nothing is reported.
        let mut drafts = Vec::new();
        for c in &case.rules.categories {
            for i in 0..40 {
                drafts.push(Draft {
                    media: Vec::new(),
                    variants: Default::default(),
                    id: format!("{}/e{i}", c.name),
                    category: c.name.clone(),
                    stem: format!("e{i}"),
                    title: None,
                    lang: "en".into(),
                    channels: None,
                    tags: vec![],
                    promo: false,
                    evergreen: true,
                    series: None,
                    not_before: None,
                    not_after: None,
                    link: None,
                    cooldown_days: Some(1),
                    body: "x".into(),
                    path: "x".into(),
                });
            }
        }
        let case = Case { drafts, ..case };
        let plan = plan(&case.rules, &case.drafts, &[], &request(&case, case.start));
        prop_assert!(violations(&case, &[], &plan, case.start).is_empty());
        prop_assert!(plan.notes.iter().all(|n| !n.is_warning()), "{:?}", plan.notes);
        let mut per_day: BTreeMap<(usize, NaiveDate), u32> = BTreeMap::new();
        for p in &plan.posts {
            *per_day.entry((p.channel, p.at.with_timezone(&case.tz).date_naive())).or_default() += 1;
        }
        let first_whole = case.start.with_timezone(&case.tz).date_naive().succ_opt().unwrap_or_default();
        let end_date = request(&case, case.start).end_date;
        for ch in 0..case.channels.len() {
            let mut date = first_whole;
            while date < end_date {
                // Peaks start at 05:00 or later and these zones change the clock at night, so a
                // DST day keeps every slot.
                if !case.rules.blackout.contains(&date) {
                    let n = per_day.get(&(ch, date)).copied().unwrap_or(0);
                    prop_assert_eq!(n, case.rules.per_day, "channel {} on {}", ch, date);
                }
                date = date.succ_opt().unwrap_or(end_date);
            }
        }
    }
}

/// Results for a learned model: posts of each channel at random times over several weeks, with
/// random engagement, so learned times land anywhere in the peak windows.
fn arb_results() -> impl Strategy<Value = Vec<(usize, u32, u32, u32)>> {
    // (channel, day offset, five-minute slot of the day, engagement)
    proptest::collection::vec((0usize..4, 0u32..70, 0u32..288, 0u32..500), 0..120)
}

fn learned(case: &Case, results: &[(usize, u32, u32, u32)]) -> learn::Learned {
    let base = case.start.with_timezone(&case.tz).date_naive();
    let outcomes: Vec<learn::Outcome> = results
        .iter()
        .filter(|(c, ..)| *c < case.channels.len())
        .map(|&(c, day, slot, e)| learn::Outcome {
            channel: case.channels[c].clone(),
            date: base - chrono::Days::new(u64::from(day)),
            time: NaiveTime::from_hms_opt(slot / 12, slot % 12 * 5, 0).unwrap_or_default(),
            category: case.rules.categories[0].name.clone(),
            engagement: f64::from(e),
        })
        .collect();
    learn::Learned::fit(
        &outcomes,
        learn::LearnSettings {
            enabled: true,
            min_weeks: 1,
            prior_posts: 2.0,
            kernel_minutes: 10,
            exploration: 1.0,
            playbook_bonus: 0.15,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_learned_planner_breaks_no_rule_either(case in arb_case(), results in arb_results()) {
        prop_assume!(capacity_ok(&case.rules));
        let learned = learned(&case, &results);
        let req = request(&case, case.start);
        let plan = plan_learned(&case.rules, &case.drafts, &[], &req, Some(&learned));
        let v = violations(&case, &[], &plan, case.start);
        prop_assert!(v.is_empty(), "{v:#?}");
        prop_assert_eq!(&plan, &plan_learned(&case.rules, &case.drafts, &[], &req, Some(&learned)));
    }

    #[test]
    fn the_learned_planner_replans_around_history(case in arb_case(), results in arb_results(), cut in 0usize..60, hours in 0i64..200) {
        prop_assume!(capacity_ok(&case.rules));
        let learned = learned(&case, &results);
        let first = plan_learned(&case.rules, &case.drafts, &[], &request(&case, case.start), Some(&learned));
        let history = happened(&case, &first, cut);
        let restart = case.start + TimeDelta::hours(hours);
        let restart = history.iter().map(|p| p.at + TimeDelta::seconds(1)).max().map_or(restart, |h| h.max(restart));
        let second = plan_learned(&case.rules, &case.drafts, &history, &request(&case, restart), Some(&learned));
        let v = violations(&case, &history, &second, restart);
        prop_assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn without_a_model_the_learned_planner_is_the_playbook(case in arb_case()) {
        let req = request(&case, case.start);
        let off = learn::Learned::fit(&[], learn::LearnSettings::default());
        prop_assert_eq!(plan(&case.rules, &case.drafts, &[], &req), plan_learned(&case.rules, &case.drafts, &[], &req, Some(&off)));
    }
}
