//! `herald replay` throughput on a generated 3-week stream of exactly two million mentions.
//!
//! `cargo bench --bench crisis_replay` builds the stream from a seeded synthetic series
//! (`herald::crisis::synth`, about 330 mentions per 5 minutes with a daily and weekly rhythm, a
//! sharp crisis, a slow build-up, a launch decoy and an outage), writing each minute's
//! mentions as Mention JSON lines with texts that the classifier reads as negative, crisis,
//! positive or neutral. It then times, once each:
//!
//! - `detect`: the detector alone, fed the already-known labels mention by mention;
//! - `replay`: the whole `herald replay` pipeline from JSON lines in memory: parsing and
//!   classification on all cores in chunks, detection in order.
//!
//! A plain harness, not criterion: the figure wanted is seconds for the whole stream.
//! `HERALD_BENCH_MENTIONS` scales the stream (default exactly 2,000,000),
//! `HERALD_BENCH_THREADS` sets replay's threads (default: every core), and
//! `HERALD_BENCH_EXPORT=FILE` also writes the stream's JSON lines to FILE, to time the
//! `herald replay FILE` command on it.

use std::path::Path;
use std::time::Instant;

use chrono::DateTime;
use herald::crisis::replay::replay;
use herald::crisis::{synth, Detector, Observation, Params};

const NEGATIVE: [&str; 3] = [
    "等了好久，很失望，太差了",
    "Terrible service at the dealer, waited two hours and nobody called back",
    "保养以后异响更严重了，很失望",
];
const CRISIS: [&str; 2] = [
    "刹车失灵了，太危险了，我要投诉",
    "My brakes failed on the highway, this is a safety recall issue",
];
const OTHER: [&str; 4] = [
    "很满意，服务很好",
    "Love the new X-Trail, great drive",
    "周末去店里看了新款奇骏，空间很大",
    "Picked up my car after service today, smooth and quick",
];

fn main() {
    let wanted: usize = std::env::var("HERALD_BENCH_MENTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let days = 21;
    // synth's rhythm averages `base` mentions per 5 minutes on weekdays, 0.75 of it at weekends.
    let base = wanted as f64 / (days as f64 * 288.0 * (5.0 + 2.0 * 0.75) / 7.0);
    let first = synth::generate(2026, 0, days, base);
    // The rhythm's noise makes the count drift from the estimate: scale once to overshoot it
    // a little, then thin the stream evenly to exactly `wanted` mentions.
    let got: u64 = first.minutes.iter().map(|m| u64::from(m.total)).sum();
    let stream = synth::generate(
        2026,
        0,
        days,
        1.05 * base * wanted as f64 / got.max(1) as f64,
    );
    let generated: u64 = stream.minutes.iter().map(|m| u64::from(m.total)).sum();
    let generated = generated.max(wanted as u64);
    let wanted_u = wanted as u64;
    // Mention `g` of the generated ones is kept when the running quota moves past it.
    let kept = |g: u64| (g + 1) * wanted_u / generated != g * wanted_u / generated;
    let mut g = 0u64;

    let t = Instant::now();
    let mut lines = Vec::with_capacity(wanted + wanted / 10);
    let mut labels = Vec::with_capacity(lines.capacity());
    let mut n = 0u64;
    for (i, m) in stream.minutes.iter().enumerate() {
        let minute = stream.start + i as i64 * 60;
        for k in 0..m.total {
            g += 1;
            if !kept(g - 1) {
                continue;
            }
            n += 1;
            let (text, negative, crisis) = if k < m.crisis {
                (CRISIS[(n % 2) as usize], true, true)
            } else if k < m.negative {
                (NEGATIVE[(n % 3) as usize], true, false)
            } else {
                (OTHER[(n % 4) as usize], false, false)
            };
            let at = DateTime::from_timestamp(minute + i64::from(k * 60 / m.total.max(1)), 0)
                .unwrap_or_default();
            lines.push(format!(
                r#"{{"id":"{n}","platform":"{}","author":"user{}.test","text":"{text}","created_at":"{}"}}"#,
                if n % 3 == 0 { "mastodon" } else { "bluesky" },
                n % 50_000,
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            labels.push((at, n.to_string(), negative, crisis));
        }
    }
    let text = lines.join("\n");
    drop(lines);
    println!(
        "stream: {} mentions over {days} days, {:.0} MB of JSON lines (built in {:.1} s)",
        labels.len(),
        text.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut d = Detector::new(Params::default());
    let mut alerts = 0;
    for (at, id, negative, crisis) in &labels {
        alerts += d
            .observe(&Observation {
                at: *at,
                id,
                topics: &["brand"],
                platform: "bluesky",
                negative: *negative,
                crisis_term: *crisis,
            })
            .len();
    }
    alerts += d.finish().len();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "detect: {secs:.2} s ({:.2} µs a mention), {alerts} alert events",
        secs * 1e6 / labels.len() as f64
    );

    let config = match herald::config::load(Path::new("herald.toml"), false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let classifier = match herald::classify::Classifier::new(&config.keywords) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Ok(path) = std::env::var("HERALD_BENCH_EXPORT") {
        if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
        println!("wrote the stream to {path} (time `herald replay {path}` on it)");
    }
    let threads = std::env::var("HERALD_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
    let t = Instant::now();
    let mut printed = 0;
    let summary = replay(
        text.as_bytes(),
        &classifier,
        Params::default(),
        threads,
        |_| {
            printed += 1;
            Ok(())
        },
        |_, _| {},
    );
    let secs = t.elapsed().as_secs_f64();
    match summary {
        Ok(s) => println!(
            "replay: {secs:.1} s on {threads} threads ({:.1} µs a mention), {} mentions, {} skipped, {printed} alert lines",
            secs * 1e6 / s.mentions.max(1) as f64,
            s.mentions,
            s.skipped
        ),
        Err(e) => eprintln!("replay failed: {e}"),
    }
}
