//! Learned posting times, measured on a simulated audience.
//!
//! `cargo bench --bench learn_sim` runs, for several audience shapes and seeds, N simulated
//! weeks of one channel planned two ways side by side: the playbook's fixed slots, and the
//! learned planner (`[learn]` on, learning from the results of every week before). An
//! "oracle" planner that knows the audience's true rates gives the most there is to gain.
//! It prints, per shape, the engagement gained against the playbook over all weeks and in the
//! last four, the share of the oracle's gain reached, and the first week from which a rolling
//! four-week gain stays at 50% of the oracle's or more; then the worst of every shape and seed.
//!
//! Assumptions, stated because the figures mean nothing without them:
//! - One channel, the playbook's default rules (6 posts a day in four peaks, 60 minutes apart),
//!   an ample library of evergreen drafts, timezone UTC.
//! - A post's engagement is drawn from a negative binomial (a Poisson whose mean is scaled by a
//!   gamma factor of shape 2, so results are noisy as real ones are) with mean
//!   `base × audience(time of day) × category factor`; the audience's curve is hidden from
//!   the planner, which sees only the results.
//! - The audience does not change over the weeks and does not react to the posting itself.
//! - Plans are compared by the expected engagement of the times they chose (the true means);
//!   the learned planner only ever sees the noisy draws.
//!
//! Set `HERALD_SIM_WEEKS` (16) and `HERALD_SIM_SEEDS` (5) to change the size.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc};
use herald::plan::learn::{LearnSettings, Learned, Outcome};
use herald::plan::{plan_learned, Draft, Plan, PlanRequest, PlanRules};
use herald::rng::Rng;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A hidden audience: relative engagement by minute of the day.
#[derive(Clone)]
struct Audience {
    name: &'static str,
    bumps: Vec<(f64, f64, f64)>, // (centre minute, width minutes, height)
}

impl Audience {
    fn rate(&self, minute: f64) -> f64 {
        1.0 + self
            .bumps
            .iter()
            .map(|(c, w, h)| h * (-((minute - c) / w).powi(2) / 2.0).exp())
            .sum::<f64>()
    }
}

fn audiences(seed: u64) -> Vec<Audience> {
    let m = |h: f64, min: f64| h * 60.0 + min;
    let mut rng = Rng::new(seed ^ 0xA11CE);
    // A random smooth audience: three bumps somewhere inside the peak windows.
    let peaks = [(8.5, 10.0), (11.5, 13.5), (16.0, 18.0), (19.5, 21.5)];
    let random = (0..3)
        .map(|_| {
            let (a, b) = peaks[rng.below(peaks.len())];
            (
                rng.range(a * 60.0, b * 60.0),
                rng.range(8.0, 30.0),
                rng.range(0.3, 2.0),
            )
        })
        .collect();
    vec![
        Audience {
            name: "late evening",
            bumps: vec![(m(20.0, 50.0), 12.0, 1.6), (m(13.0, 10.0), 15.0, 0.6)],
        },
        Audience {
            name: "early bird",
            bumps: vec![(m(8.0, 35.0), 10.0, 1.2), (m(17.0, 45.0), 10.0, 0.8)],
        },
        Audience {
            name: "flat",
            bumps: vec![],
        },
        Audience {
            // The playbook was right: peaks at its own slots, so learning can only lose.
            name: "playbook right",
            bumps: vec![
                (m(8.0, 45.0), 10.0, 0.8),
                (m(12.0, 0.0), 10.0, 0.8),
                (m(16.0, 30.0), 10.0, 0.8),
                (m(20.0, 0.0), 10.0, 0.8),
                (m(21.0, 0.0), 10.0, 0.8),
            ],
        },
        Audience {
            name: "random smooth",
            bumps: random,
        },
    ]
}

fn drafts(rules: &PlanRules) -> Vec<Draft> {
    let mut out = Vec::new();
    for c in &rules.categories {
        for i in 0..60 {
            out.push(Draft {
                id: format!("{}/sim{i}", c.name),
                category: c.name.clone(),
                stem: format!("sim{i}"),
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
                cooldown_days: Some(7),
                body: format!("simulated {} post {i}", c.name),
                media: Vec::new(),
                variants: Default::default(),
                path: "sim".into(),
            });
        }
    }
    out
}

fn week(rules: &PlanRules, drafts: &[Draft], monday: NaiveDate, learned: Option<&Learned>) -> Plan {
    let start = Utc
        .from_local_datetime(&monday.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("utc");
    let req = PlanRequest {
        channels: vec!["sim".into()],
        start,
        end_date: monday + chrono::Days::new(7),
        timezone: chrono_tz::UTC,
    };
    plan_learned(rules, drafts, &[], &req, learned)
}

const BASE: f64 = 20.0;

/// Draws each post's engagement; returns the outcomes (what the planner learns from) and the
/// sum of their expected engagement (what the comparison counts: the noise of the draws would
/// otherwise drown the difference between two plans).
fn realise(
    plan: &Plan,
    rules: &PlanRules,
    drafts: &[Draft],
    audience: &Audience,
    rng: &mut Rng,
) -> (Vec<Outcome>, f64) {
    let mut out = Vec::new();
    let mut sum = 0.0;
    for p in &plan.posts {
        let minute = f64::from(p.at.hour() * 60 + p.at.minute());
        let category = &drafts[p.draft].category;
        let factor = 0.8 + 0.1 * rules.category_index(category).unwrap_or(0) as f64;
        let mean = BASE * audience.rate(minute) * factor;
        let spread = rng.gamma_mean1(2.0);
        let e = f64::from(rng.poisson(mean * spread));
        sum += mean;
        out.push(Outcome {
            channel: "sim".into(),
            date: p.at.date_naive(),
            time: p.at.time(),
            category: category.clone(),
            engagement: e,
        });
    }
    (out, sum)
}

/// The learned model of an observer who knows the true rates: every five-minute time seen a
/// thousand times at its expected engagement.
fn oracle(audience: &Audience, settings: &LearnSettings) -> Learned {
    let day = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    let mut v = Vec::new();
    for w in 0..settings.min_weeks.max(1) {
        for slot in 0..288u32 {
            let time = chrono::NaiveTime::from_hms_opt(slot / 12, slot % 12 * 5, 0).expect("t");
            let minute = f64::from(slot * 5);
            for _ in 0..(1000 / settings.min_weeks.max(1)) {
                v.push(Outcome {
                    channel: "sim".into(),
                    date: day + chrono::Days::new(u64::from(w) * 7),
                    time,
                    category: "product".into(),
                    engagement: BASE * audience.rate(minute),
                });
            }
        }
    }
    Learned::fit(
        &v,
        LearnSettings {
            prior_posts: 0.01,
            kernel_minutes: 5,
            ..settings.clone()
        },
    )
}

struct Run {
    gain_all: f64,
    gain_last4: f64,
    oracle_last4: f64,
    learned_by: Option<usize>,
}

fn simulate(audience: &Audience, seed: u64, weeks: usize) -> Run {
    let rules = PlanRules::default();
    let drafts = drafts(&rules);
    let settings = LearnSettings {
        enabled: true,
        min_weeks: 2,
        prior_posts: env_f64(
            "HERALD_SIM_PRIOR_POSTS",
            LearnSettings::default().prior_posts,
        ),
        kernel_minutes: env(
            "HERALD_SIM_KERNEL",
            LearnSettings::default().kernel_minutes as usize,
        ) as u32,
        exploration: env_f64("HERALD_SIM_EXPLORE", LearnSettings::default().exploration),
        playbook_bonus: env_f64("HERALD_SIM_BONUS", LearnSettings::default().playbook_bonus),
    };
    let truth = oracle(audience, &settings);
    let mut results: Vec<Outcome> = Vec::new();
    let monday0 = NaiveDate::from_ymd_opt(2027, 1, 4).expect("monday");
    assert_eq!(monday0.weekday(), chrono::Weekday::Mon);
    // Separate noise streams, so one way's draws never shift the other's.
    let mut noise_fixed = Rng::new(seed.wrapping_mul(3) + 1);
    let mut noise_learned = Rng::new(seed.wrapping_mul(3) + 2);
    let mut noise_oracle = Rng::new(seed.wrapping_mul(3) + 3);
    let mut per_week = Vec::new();
    for w in 0..weeks {
        let monday = monday0 + chrono::Days::new(7 * w as u64);
        let learned = Learned::fit(&results, settings.clone());
        let fixed = week(&rules, &drafts, monday, None);
        let learning = week(&rules, &drafts, monday, Some(&learned));
        let best = week(&rules, &drafts, monday, Some(&truth));
        let (_, f) = realise(&fixed, &rules, &drafts, audience, &mut noise_fixed);
        let (seen, l) = realise(&learning, &rules, &drafts, audience, &mut noise_learned);
        let (_, o) = realise(&best, &rules, &drafts, audience, &mut noise_oracle);
        if std::env::var("HERALD_SIM_DEBUG").is_ok() && w + 1 == weeks {
            let times = |p: &Plan| {
                p.posts
                    .iter()
                    .take(12)
                    .map(|p| p.at.format("%a %H:%M").to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            eprintln!("{}: fixed   {}", audience.name, times(&fixed));
            eprintln!("{}: learned {}", audience.name, times(&learning));
            eprintln!("{}: oracle  {}", audience.name, times(&best));
        }
        results.extend(seen);
        per_week.push((f, l, o));
    }
    let sum = |r: &[(f64, f64, f64)], k: usize| r.iter().map(|x| [x.0, x.1, x.2][k]).sum::<f64>();
    let last4 = &per_week[weeks.saturating_sub(4)..];
    let rolling = |from: usize| {
        let r = &per_week[from..(from + 4).min(weeks)];
        let (f, l, o) = (sum(r, 0), sum(r, 1), sum(r, 2));
        (l - f) >= 0.5 * (o - f)
    };
    let learned_by =
        (0..weeks.saturating_sub(3)).find(|&w| (w..weeks.saturating_sub(3)).all(rolling));
    Run {
        gain_all: sum(&per_week, 1) / sum(&per_week, 0) - 1.0,
        gain_last4: sum(last4, 1) / sum(last4, 0) - 1.0,
        oracle_last4: sum(last4, 2) / sum(last4, 0) - 1.0,
        learned_by: learned_by.map(|w| w + 1),
    }
}

fn main() {
    let weeks = env("HERALD_SIM_WEEKS", 16).max(5);
    let seeds = env("HERALD_SIM_SEEDS", 5).max(1) as u64;
    // The defaults of LearnSettings were chosen on seeds 0..5; report others too (100..).
    let first = env("HERALD_SIM_FIRST_SEED", 0) as u64;
    println!("learn_sim: {weeks} weeks, seeds {first}..{} per audience; gains are engagement against the playbook's fixed slots", first + seeds);
    let mut worst: Vec<(String, f64, f64, String)> = Vec::new();
    for shape in 0..audiences(0).len() {
        let mut runs = Vec::new();
        for seed in first..first + seeds {
            let audience = audiences(seed)[shape].clone();
            runs.push((audience.name, simulate(&audience, seed, weeks)));
        }
        let name = runs[0].0;
        for (_, r) in &runs {
            println!(
                "  {name:<14} all weeks {:+6.1}%  last 4 {:+6.1}% (oracle {:+6.1}%)  50% of the oracle's gain from week {}",
                r.gain_all * 100.0,
                r.gain_last4 * 100.0,
                r.oracle_last4 * 100.0,
                r.learned_by.map_or("never".to_string(), |w| w.to_string())
            );
        }
        let min = |f: fn(&Run) -> f64| runs.iter().map(|(_, r)| f(r)).fold(f64::INFINITY, f64::min);
        let slowest = runs
            .iter()
            .map(|(_, r)| r.learned_by)
            .max_by_key(|w| w.unwrap_or(usize::MAX))
            .flatten()
            .map_or("never".to_string(), |w| w.to_string());
        worst.push((
            name.to_string(),
            min(|r| r.gain_all),
            min(|r| r.gain_last4),
            slowest,
        ));
    }
    println!("worst over seeds:");
    for (name, all, last4, by) in worst {
        println!(
            "  {name:<14} all weeks {:+6.1}%  last 4 {:+6.1}%  learned (50% of the oracle's gain) by week {by}",
            all * 100.0,
            last4 * 100.0
        );
    }
}
