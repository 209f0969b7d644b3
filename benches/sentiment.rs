//! Sentiment throughput on one thread, and where the time goes.
//!
//! Classification throughput on one thread, and where the time goes.
//!
//! `taskset -c 0 cargo bench --bench sentiment` builds 20,000 mentions of 100–300 characters
//! (200 on average) by gluing fragments of the held-out texts (ChnSentiCorp test and the VADER
//! tweets, from `HERALD_SENTIMENT_DATA` (`DATA/sentiment` of docs/data.md); the hand-written fixture
//! when the data is not there): half Chinese, a quarter English, a quarter mixed. It then times
//! each phase over all mentions, `HERALD_BENCH_RUNS` times (default 5), and prints the best and
//! the median run and the rate by CPU time (which a loaded machine disturbs less):
//!
//! - the learned pipeline, `Classifier::classify_learned`, and beside it the cue-list pipeline
//!   `Classifier::classify` that `herald classify` and the listeners call;
//! - sentiment alone, and its parts: the Aho-Corasick cue scan, the feature extractor into a
//!   sink that only sums the hashes, bucketing and summing the weights of features extracted
//!   beforehand, and VADER's rules;
//! - the keyword rules of `keywords/`;
//! - intent and lead grade from one phrase scan.
//!
//! `HERALD_BENCH_PROFILE=SECONDS` runs only the pipeline, for `perf record`
//! (`HERALD_BENCH_PROFILE=3p`: exactly three passes over the mentions, for a deterministic
//! count under `valgrind --tool=cachegrind`; `HERALD_BENCH_LANG=zh|en|mixed`: one language's
//! mentions only). A plain harness,
//! not criterion: the figure wanted is mentions per second over a realistic mix, not a
//! per-call distribution. `HERALD_BENCH_MENTIONS` changes the count.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use herald::classify::sentiment::features::{bucket, Sink};
use herald::classify::sentiment::Sentiment;
use herald::rng::Rng;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Chinese and English fragments to build mentions from.
fn fragments() -> (Vec<String>, Vec<String>, &'static str) {
    // The public data lives outside the repository (docs/data.md); without it, the fixture.
    let dir = std::env::var("HERALD_SENTIMENT_DATA")
        .map(PathBuf::from)
        .unwrap_or_default();
    let zh = std::fs::read_to_string(dir.join("chnsenticorp_test.tsv"));
    let en = std::fs::read_to_string(dir.join("vader_tweets_groundtruth.txt"));
    if let (Ok(zh), Ok(en)) = (zh, en) {
        let zh = zh
            .lines()
            .filter_map(|l| l.split_once('\t').map(|(_, t)| t.trim().to_string()))
            .collect();
        let en = en
            .lines()
            .filter_map(|l| l.splitn(3, '\t').nth(2).map(|t| t.trim().to_string()))
            .collect();
        return (zh, en, "ChnSentiCorp test + VADER tweets");
    }
    let fixture = include_str!("../tests/fixtures/sentiment_mentions.tsv");
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    for line in fixture.lines().filter(|l| !l.starts_with('#')) {
        if let Some((_, text)) = line.split_once('\t') {
            if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
                zh.push(text.to_string());
            } else {
                en.push(text.to_string());
            }
        }
    }
    (zh, en, "the hand-written fixture (data folder not found)")
}

/// The language mix of a built mention.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chinese,
    English,
    Mixed,
}

fn mentions(n: usize) -> (Vec<(String, Kind)>, &'static str) {
    let (zh, en, source) = fragments();
    // A fixed pseudo-random sequence, so every run measures the same mentions.
    let mut rng = Rng::new(0x5E47_1BE7_C0DE_0001);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let target = 100 + rng.below(201);
        let kind = rng.below(4);
        let mut text = String::new();
        let mut chars = 0;
        while chars < target {
            let pool = match kind {
                0 | 1 => &zh,
                2 => &en,
                _ if rng.below(2) == 0 => &zh,
                _ => &en,
            };
            let frag = &pool[rng.below(pool.len())];
            if !text.is_empty() {
                text.push(' ');
                chars += 1;
            }
            for c in frag.chars().take(target - chars) {
                text.push(c);
                chars += 1;
            }
        }
        let kind = match kind {
            0 | 1 => Kind::Chinese,
            2 => Kind::English,
            _ => Kind::Mixed,
        };
        out.push((text, kind));
    }
    (out, source)
}

struct HashSum(u64, u32);

impl Sink for HashSum {
    #[inline]
    fn feature(&mut self, hash: u64, _value: f32) {
        self.0 = self.0.wrapping_add(hash);
        self.1 += 1;
    }
}

struct Collect(Vec<(u64, f32)>);

impl Sink for Collect {
    fn feature(&mut self, hash: u64, value: f32) {
        self.0.push((hash, value));
    }
}

/// The process's CPU time (user + system) in seconds, from /proc/self/stat (Linux; `None`
/// elsewhere). On a loaded machine the wall clock also counts the time other processes had the
/// core; CPU time does not (at 10 ms resolution, so phases run for a second or more).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Timings of one phase over all mentions: wall-clock seconds of each run, and CPU seconds.
struct Timing {
    wall: Vec<f64>,
    cpu: Option<f64>,
}

impl Timing {
    fn best(&self) -> f64 {
        self.wall.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn median(&self) -> f64 {
        let mut w = self.wall.clone();
        w.sort_by(f64::total_cmp);
        w[w.len() / 2]
    }
}

/// Runs `f` (one pass over all mentions) `runs` times, each run repeated until it lasts
/// 0.2 s, and returns the seconds per pass.
fn time(runs: usize, mut f: impl FnMut()) -> Timing {
    f(); // warm the caches and the lazily built tables
    let cpu0 = cpu_seconds();
    let mut passes_total = 0usize;
    let wall = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let mut passes = 0;
            while passes == 0 || t.elapsed().as_secs_f64() < 0.2 {
                f();
                passes += 1;
            }
            passes_total += passes;
            t.elapsed().as_secs_f64() / passes as f64
        })
        .collect();
    let cpu = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => Some((b - a) / passes_total as f64),
        _ => None,
    };
    Timing { wall, cpu }
}

fn main() {
    let n = env("HERALD_BENCH_MENTIONS", 20_000);
    let runs = env("HERALD_BENCH_RUNS", 5).max(1);
    let s = match Sentiment::embedded() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the embedded sentiment model: {e}");
            std::process::exit(1);
        }
    };
    let (built, source) = mentions(n);
    let texts: Vec<String> = built.iter().map(|(t, _)| t.clone()).collect();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let bytes: usize = texts.iter().map(String::len).sum();

    // The whole mention pipeline as `herald classify` and the listeners run it: keyword rules
    // from keywords/, sentiment, intent and lead grade.
    let groups = match herald::classify::keywords::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keywords"),
    ) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: keywords/: {e:?}");
            std::process::exit(1);
        }
    };
    let pipeline = match herald::classify::Classifier::new(&groups) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let matcher = herald::classify::keywords::Matcher::new(&groups).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });

    // `HERALD_BENCH_PROFILE=SECONDS`: only run the pipeline that long, for `perf record`.
    // `HERALD_BENCH_LANG=zh|en|mixed` profiles one language's mentions only.
    if let Ok(secs) = std::env::var("HERALD_BENCH_PROFILE") {
        let lang = std::env::var("HERALD_BENCH_LANG").ok();
        let want = |k: Kind| match lang.as_deref() {
            Some("zh") => k == Kind::Chinese,
            Some("en") => k == Kind::English,
            Some("mixed") => k == Kind::Mixed,
            _ => true,
        };
        let texts: Vec<&str> = built
            .iter()
            .filter(|(_, k)| want(*k))
            .map(|(t, _)| t.as_str())
            .collect();
        if let Some(passes) = secs.strip_suffix('p').and_then(|p| p.parse::<usize>().ok()) {
            for _ in 0..passes {
                for m in &texts {
                    black_box(pipeline.classify_learned(black_box(*m), Some("someone.example")));
                }
            }
            return;
        }
        let secs: f64 = secs.parse().unwrap_or(10.0);
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < secs {
            for m in &texts {
                black_box(pipeline.classify_learned(black_box(*m), Some("someone.example")));
            }
        }
        return;
    }

    let full = time(runs, || {
        for t in &texts {
            black_box(pipeline.classify_learned(black_box(t), Some("someone.example")));
        }
    });
    // The cue-list pipeline herald shipped before the learned heads, in the same run, so the
    // heads' cost is read side by side.
    let baseline = time(runs, || {
        for t in &texts {
            black_box(pipeline.classify_cues(black_box(t), Some("someone.example")));
        }
    });
    let classify = time(runs, || {
        for t in &texts {
            black_box(s.classify(black_box(t)));
        }
    });
    let cues = time(runs, || {
        for t in &texts {
            black_box(s.cues().scan(black_box(t)));
        }
    });
    let mut features_total = 0u64;
    let features = time(runs, || {
        let mut sink = HashSum(0, 0);
        for t in &texts {
            black_box(s.extractor().extract(black_box(t), &mut sink));
        }
        features_total = u64::from(sink.1);
        black_box(sink.0);
    });
    let extracted: Vec<Vec<(u64, f32)>> = texts
        .iter()
        .map(|t| {
            let mut c = Collect(Vec::new());
            s.extractor().extract(t, &mut c);
            c.0
        })
        .collect();
    let (weights, bits) = (&s.model().weights, s.model().bits);
    let dot = time(runs, || {
        for f in &extracted {
            let acc: f32 = f
                .iter()
                .map(|&(h, v)| f32::from(weights[bucket(h, bits)]) * v)
                .sum();
            black_box(acc);
        }
    });
    let vader = time(runs, || {
        for t in &texts {
            black_box(s.vader().score(black_box(t)));
        }
    });
    let keywords = time(runs, || {
        for t in &texts {
            black_box(matcher.matches(black_box(t), Some("someone.example")));
        }
    });
    let intent_lead = time(runs, || {
        for t in &texts {
            let cues = herald::classify::phrases::scan(black_box(t));
            black_box(herald::classify::intent::from_cues(cues, 0.0, false));
            black_box(herald::classify::lead::from_cues(black_box(t), cues));
        }
    });

    // The pipeline on each language's mentions alone, in µs a mention.
    let by_kind: Vec<(&str, usize, f64)> = [
        ("Chinese", Kind::Chinese),
        ("English", Kind::English),
        ("mixed", Kind::Mixed),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let these: Vec<&str> = built
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(t, _)| t.as_str())
            .collect();
        let t = time(runs, || {
            for t in &these {
                black_box(pipeline.classify_learned(black_box(t), Some("someone.example")));
            }
        });
        (
            name,
            these.len(),
            t.best() * 1e6 / these.len().max(1) as f64,
        )
    })
    .collect();

    let per_feature = features_total as f64 / n as f64;
    println!("classification benchmark: {n} mentions built from {source}");
    println!(
        "  average {:.0} characters ({:.0} bytes), {per_feature:.0} hashed features per mention; \
         model 2^{bits} i16 weights ({} KiB); {runs} runs of each phase",
        chars as f64 / n as f64,
        bytes as f64 / n as f64,
        weights.len() * 2 / 1024
    );
    println!(
        "| phase | mentions/s (best run) | mentions/s (median run) | mentions/s (CPU time) | \
         µs/mention (best) | share of the pipeline |"
    );
    println!("|---|---|---|---|---|---|");
    let whole = full.best();
    for (name, t) in [
        (
            "learned pipeline (keywords + learned heads + intent + lead)",
            &full,
        ),
        (
            "  cue-list pipeline herald used before (Classifier::classify_cues)",
            &baseline,
        ),
        ("  sentiment (Sentiment::classify)", &classify),
        ("    cue scan (Aho-Corasick)", &cues),
        ("    feature extraction", &features),
        ("    bucket + dot product", &dot),
        ("    VADER rules", &vader),
        ("  keyword rules", &keywords),
        ("  intent + lead (one phrase scan)", &intent_lead),
    ] {
        let cpu = t
            .cpu
            .map_or("–".to_string(), |c| format!("{:.0}", n as f64 / c));
        println!(
            "| {name} | {:.0} | {:.0} | {cpu} | {:.2} | {:.0}% |",
            n as f64 / t.best(),
            n as f64 / t.median(),
            t.best() * 1e6 / n as f64,
            100.0 * t.best() / whole
        );
    }
    println!(
        "pipeline: {:.1} MB/s of text; sentiment {:.1} ns per hashed feature",
        bytes as f64 / whole / 1e6,
        classify.best() * 1e9 / features_total as f64
    );
    let parts: Vec<String> = by_kind
        .iter()
        .map(|(name, count, us)| format!("{name} ({count}) {us:.2} µs ({:.0}/s)", 1e6 / us))
        .collect();
    println!("pipeline by language, µs a mention: {}", parts.join(", "));

    // `HERALD_BENCH_EXPORT=FILE`: the mentions and the rates, for benches/compare_sentiment.py
    // to run Python's VADER and SnowNLP on the same texts.
    if let Ok(path) = std::env::var("HERALD_BENCH_EXPORT") {
        if let Err(e) = export(&path, &texts, &full, &classify, n) {
            eprintln!("error: writing {path}: {e}");
            std::process::exit(1);
        }
    }
}

fn export(
    path: &str,
    texts: &[String],
    full: &Timing,
    sentiment: &Timing,
    n: usize,
) -> std::io::Result<()> {
    use std::io::Write;
    let rate = |secs: f64| n as f64 / secs;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let timing = serde_json::json!({
        "_timing": "herald",
        "pipeline_best": rate(full.best()),
        "pipeline_median": rate(full.median()),
        "pipeline_cpu": full.cpu.map(rate),
        "sentiment_best": rate(sentiment.best()),
        "sentiment_median": rate(sentiment.median()),
        "sentiment_cpu": sentiment.cpu.map(rate),
    });
    writeln!(out, "{timing}")?;
    for t in texts {
        writeln!(out, "{}", serde_json::json!({ "text": t }))?;
    }
    out.flush()
}
