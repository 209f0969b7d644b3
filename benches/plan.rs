//! Planning benchmark: 365 days for 1,000 channels with 100 drafts each.
//!
//! `cargo bench --bench plan` prints the wall time of `plan()` and the process's peak resident
//! memory (VmHWM). A plain harness, not criterion: one run takes seconds and its peak memory is
//! the figure that matters, which a sampling harness would blur. Set `HERALD_BENCH_CHANNELS`,
//! `HERALD_BENCH_DRAFTS` or `HERALD_BENCH_DAYS` to change the size.

use std::time::Instant;

use chrono::{NaiveDate, TimeZone, Utc};
use herald::plan::{plan, Draft, PlanRequest, PlanRules, SeriesPart};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak and current resident set size in MiB, from /proc (Linux).
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn drafts_for(channel: &str, rules: &PlanRules, per_channel: usize) -> Vec<Draft> {
    let mut out = Vec::with_capacity(per_channel);
    for i in 0..per_channel {
        // Categories in proportion to the mix, so no category starves.
        let slot = (i * 100 / per_channel) as u32;
        let mut acc = 0;
        let category = rules
            .categories
            .iter()
            .find(|c| {
                acc += c.share;
                slot < acc
            })
            .unwrap_or(&rules.categories[0])
            .name
            .clone();
        let series = (i % 25 < 3).then(|| SeriesPart {
            name: format!("{channel}-s{}", i / 25),
            part: (i % 25) as u32 + 1,
        });
        out.push(Draft {
            id: format!("{category}/{channel}-d{i}"),
            stem: format!("{channel}-d{i}"),
            category,
            title: None,
            lang: "zh".into(),
            channels: Some(vec![channel.to_string()]),
            tags: vec![],
            promo: i % 10 == 7,
            evergreen: series.is_none() && i % 10 != 7 && i % 3 != 0,
            series,
            not_before: None,
            not_after: None,
            link: None,
            cooldown_days: None,
            body: format!("draft {i} for {channel}"),
            media: Vec::new(),
            variants: Default::default(),
            path: "bench".into(),
        });
    }
    out
}

fn main() {
    let channels = env("HERALD_BENCH_CHANNELS", 1000);
    let per_channel = env("HERALD_BENCH_DRAFTS", 100);
    let days = env("HERALD_BENCH_DAYS", 365) as u64;
    let rules = PlanRules::default();
    let names: Vec<String> = (0..channels).map(|i| format!("ch{i}")).collect();
    let drafts: Vec<Draft> = names
        .iter()
        .flat_map(|c| drafts_for(c, &rules, per_channel))
        .collect();
    let tz = chrono_tz::Asia::Shanghai;
    let first = NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
    let start = tz
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("time"))
        .earliest()
        .expect("midnight")
        .with_timezone(&Utc);
    let req = PlanRequest {
        channels: names,
        start,
        end_date: first + chrono::Days::new(days),
        timezone: tz,
    };
    let (_, before) = memory();

    let t = Instant::now();
    let result = plan(&rules, &drafts, &[], &req);
    let elapsed = t.elapsed();

    let (peak, _) = memory();
    let posts = result.posts.len();
    let warnings = result.notes.iter().filter(|n| n.is_warning()).count();
    println!(
        "plan: {channels} channels x {per_channel} drafts x {days} days -> {posts} posts in {:.2} s ({:.0} posts/s); \
         {warnings} warnings; RSS before planning {before:.0} MiB, peak {peak:.0} MiB",
        elapsed.as_secs_f64(),
        posts as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(
        posts as u64,
        channels as u64 * days * u64::from(rules.per_day),
        "every slot filled"
    );
}
