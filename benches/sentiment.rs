//! Sentiment throughput on one thread, and where the time goes.
//!
//! `taskset -c 0 cargo bench --bench sentiment` builds 20,000 mentions of 100–300 characters
//! (200 on average) by gluing fragments of the held-out texts (ChnSentiCorp test and the VADER
//! tweets, from `HERALD_SENTIMENT_DATA` or `../shared/data/sentiment`; the hand-written fixture
//! when the data is not there): half Chinese, a quarter English, a quarter mixed. It then times,
//! each as the best of three passes over all mentions:
//!
//! - `classify`: the whole thing, as the bot calls it;
//! - `cues`: the Aho-Corasick scan for emoji, emoticons and sarcasm markers alone;
//! - `features`: the extractor alone, into a sink that only sums the hashes;
//! - `dot`: bucketing and summing the weights of features extracted beforehand.
//!
//! A plain harness, not criterion: the figure wanted is mentions per second over a realistic
//! mix, not a per-call distribution. `HERALD_BENCH_MENTIONS` changes the count.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use herald::classify::sentiment::features::{bucket, Sink};
use herald::classify::sentiment::Sentiment;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fixed pseudo-random sequence (SplitMix64), so every run measures the same mentions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Chinese and English fragments to build mentions from.
fn fragments() -> (Vec<String>, Vec<String>, &'static str) {
    let dir = std::env::var("HERALD_SENTIMENT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sentiment")
        });
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

fn mentions(n: usize) -> (Vec<String>, &'static str) {
    let (zh, en, source) = fragments();
    let mut rng = Rng(0x5E47_1BE7_C0DE_0001);
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
        out.push(text);
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

/// Best of three timings of `f` over all mentions, in seconds.
fn best_of_three(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n = env("HERALD_BENCH_MENTIONS", 20_000);
    let s = match Sentiment::embedded() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the embedded sentiment model: {e}");
            std::process::exit(1);
        }
    };
    let (texts, source) = mentions(n);
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let bytes: usize = texts.iter().map(String::len).sum();

    let classify = best_of_three(|| {
        for t in &texts {
            black_box(s.classify(black_box(t)));
        }
    });
    let cues = best_of_three(|| {
        for t in &texts {
            black_box(s.cues().scan(black_box(t)));
        }
    });
    let mut features_total = 0u64;
    let features = best_of_three(|| {
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
    let dot = best_of_three(|| {
        for f in &extracted {
            let acc: f32 = f
                .iter()
                .map(|&(h, v)| f32::from(weights[bucket(h, bits)]) * v)
                .sum();
            black_box(acc);
        }
    });

    let per_feature = features_total as f64 / n as f64;
    println!("sentiment benchmark: {n} mentions built from {source}");
    println!(
        "  average {:.0} characters ({:.0} bytes), {per_feature:.0} hashed features per mention; \
         model 2^{bits} i16 weights ({} KiB)",
        chars as f64 / n as f64,
        bytes as f64 / n as f64,
        weights.len() * 2 / 1024
    );
    println!("| phase | mentions/s | ns/mention | share of classify |");
    println!("|---|---|---|---|");
    for (name, secs) in [
        ("classify (all)", classify),
        ("  cue scan (Aho-Corasick)", cues),
        ("  feature extraction", features),
        ("  bucket + dot product", dot),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.0}% |",
            n as f64 / secs,
            secs * 1e9 / n as f64,
            100.0 * secs / classify
        );
    }
    println!(
        "classify: {:.1} MB/s of text, {:.1} ns per feature",
        bytes as f64 / classify / 1e6,
        classify * 1e9 / features_total as f64
    );

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
    let full = best_of_three(|| {
        for t in &texts {
            black_box(pipeline.classify(black_box(t), Some("someone.example")));
        }
    });
    let keywords = best_of_three(|| {
        for t in &texts {
            black_box(matcher.matches(black_box(t), Some("someone.example")));
        }
    });
    let intent_lead = best_of_three(|| {
        for t in &texts {
            black_box(herald::classify::intent::intent(black_box(t), 0.0, false));
            black_box(herald::classify::lead::grade(black_box(t)));
        }
    });
    println!(
        "| full pipeline (keywords + sentiment + intent + lead) | {:.0} | {:.0} | {:.0}% |",
        n as f64 / full,
        full * 1e9 / n as f64,
        100.0 * full / classify
    );
    println!(
        "|   keyword rules ({} rules) | {:.0} | {:.0} | {:.0}% |",
        groups.iter().map(|g| g.rules.len()).sum::<usize>(),
        n as f64 / keywords,
        keywords * 1e9 / n as f64,
        100.0 * keywords / classify
    );
    println!(
        "|   intent + lead regexes | {:.0} | {:.0} | {:.0}% |",
        n as f64 / intent_lead,
        intent_lead * 1e9 / n as f64,
        100.0 * intent_lead / classify
    );
}
