//! Several `herald run` processes on one PostgreSQL database: posts claimed and published per
//! second with 1, 2 and 4 processes, against outbox channels (no network: what is measured is
//! herald and the database), and mentions stored per second.
//!
//! `HERALD_BENCH_PG_URL=postgresql://user@127.0.0.1:5432/db cargo bench --bench multiprocess`
//! (a database the bench may create schemas in; each run makes its own and drops it).
//! `HERALD_BENCH_POSTS` (default 1200) posts due at once over `HERALD_BENCH_CHANNELS` (8)
//! outbox channels; the time is from the processes' start until every post is published, so it
//! includes their start-up (about a second); the rate from the first to the last publication is
//! printed beside it. Every outbox line is counted: a post written twice fails the bench.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use herald::store::pg::PgOptions;
use herald::store::{PostKind, PostState, Store, StoredPost};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs SQL from a thread of its own.
fn sql(url: &str, text: &str) {
    let (url, text) = (url.to_string(), text.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        c.batch_execute(&text).expect("sql");
    })
    .join()
    .expect("sql thread");
}

fn post(channel: &str, i: usize, at: chrono::DateTime<Utc>) -> StoredPost {
    StoredPost {
        channel: channel.into(),
        at,
        kind: PostKind::Planned,
        category: "service".into(),
        draft: "service/bench".into(),
        peak: "lunch".into(),
        text: format!("bench post {i} on {channel}"),
        promo: false,
        series: None,
        source_code: format!("{channel}.bench.{i}"),
        state: PostState::Planned,
        title: None,
        reply: None,
        media: Vec::new(),
        delivery: Default::default(),
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

struct Round {
    processes: usize,
    total: Duration,
    steady: f64,
}

fn round(url: &str, processes: usize, posts: usize, channels: usize) -> Round {
    let schema = format!("bench_{:016x}", fastrand::u64(..));
    sql(url, &format!("CREATE SCHEMA {schema}"));
    let herald_url = format!("{url}?options=-csearch_path%3D{schema}");
    let store = Store::open_postgres(&PgOptions {
        url: herald_url.clone(),
        password: None,
        brand: "default".into(),
        ca_file: None,
    })
    .expect("open");
    let names: Vec<String> = (0..channels).map(|c| format!("o{c}")).collect();
    // Due a few minutes ago, a second apart per channel: nothing is missed, all is due.
    let base = Utc::now() - TimeDelta::minutes(5);
    for i in 0..posts {
        let channel = &names[i % channels];
        let at = base + TimeDelta::seconds((i / channels) as i64);
        store.posts().put(&post(channel, i, at)).expect("seed");
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut toml = format!(
        "[storage]\nurl = \"{herald_url}\"\nlease_seconds = 3\n\n[crisis]\nenabled = false\n\n"
    );
    for n in &names {
        toml.push_str(&format!(
            "[[channels]]\nname = \"{n}\"\nkind = \"outbox\"\n\n"
        ));
    }
    let dirs: Vec<tempfile::TempDir> = (0..processes)
        .map(|_| {
            let d = tempfile::tempdir().expect("tmp");
            copy_dir(&repo.join("content-plan"), &d.path().join("content-plan"));
            copy_dir(&repo.join("keywords"), &d.path().join("keywords"));
            std::fs::write(d.path().join("herald.toml"), &toml).expect("toml");
            d
        })
        .collect();
    let start = Instant::now();
    let children: Vec<Child> = dirs
        .iter()
        .map(|d| {
            Command::new(env!("CARGO_BIN_EXE_herald"))
                .arg("run")
                .current_dir(d.path())
                .env("HERALD_LOG", "warn")
                .env_remove("HERALD_CONFIG")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("herald run")
        })
        .collect();
    let count = |state: PostState| {
        store
            .posts()
            .all()
            .expect("posts")
            .iter()
            .filter(|p| p.state == state && p.draft == "service/bench")
            .count()
    };
    while count(PostState::Published) < posts {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "not every post was published in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let total = start.elapsed();
    for mut c in children {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    let published: Vec<chrono::DateTime<Utc>> = store
        .posts()
        .all()
        .expect("posts")
        .iter()
        .filter(|p| p.draft == "service/bench")
        .filter_map(|p| p.delivery.published_at.or(p.delivery.claimed_at))
        .collect();
    let (first, last) = (
        published.iter().min().copied().unwrap_or_default(),
        published.iter().max().copied().unwrap_or_default(),
    );
    let span = (last - first).num_milliseconds().max(1) as f64 / 1000.0;
    // Every outbox line once: no post written twice by two processes.
    let mut lines = std::collections::HashMap::<String, usize>::new();
    for d in &dirs {
        if let Ok(text) = std::fs::read_to_string(d.path().join("data/outbox.jsonl")) {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("outbox line");
                if let Some(t) = v["text"].as_str() {
                    *lines.entry(t.to_string()).or_default() += 1;
                }
            }
        }
    }
    let bench_lines: Vec<usize> = lines
        .iter()
        .filter(|(t, _)| t.starts_with("bench post "))
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(bench_lines.len(), posts, "every post in an outbox");
    assert!(bench_lines.iter().all(|n| *n == 1), "a post written twice");
    drop(store);
    sql(url, &format!("DROP SCHEMA {schema} CASCADE"));
    Round {
        processes,
        total,
        steady: posts as f64 / span,
    }
}

fn mentions_per_second(url: &str, n: usize) -> f64 {
    use herald::listen::Mention;
    use herald::store::StoredMention;
    let schema = format!("bench_{:016x}", fastrand::u64(..));
    sql(url, &format!("CREATE SCHEMA {schema}"));
    let store = Store::open_postgres(&PgOptions {
        url: format!("{url}?options=-csearch_path%3D{schema}"),
        password: None,
        brand: "default".into(),
        ca_file: None,
    })
    .expect("open");
    let keywords = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
    let groups = herald::classify::keywords::load_dir(&keywords).expect("keywords");
    let classifier = herald::classify::Classifier::new(&groups).expect("classifier");
    let now = Utc::now();
    let start = Instant::now();
    for i in 0..n {
        let m = Mention {
            id: format!("bench:{i}"),
            platform: "mastodon".into(),
            author: format!("fan{}", i % 97),
            text: format!("bench mention {i}: 刹车有异响，要投诉"),
            url: None,
            created_at: now - TimeDelta::seconds(i as i64),
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        };
        let c = classifier.classify(&m.text, Some(&m.author));
        let stored = StoredMention::new(m, "bench", &c);
        store.mentions().insert(&stored).expect("insert");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(store);
    sql(url, &format!("DROP SCHEMA {schema} CASCADE"));
    rate
}

fn main() {
    let Ok(url) = std::env::var("HERALD_BENCH_PG_URL") else {
        eprintln!(
            "set HERALD_BENCH_PG_URL to a PostgreSQL database this bench may create schemas in"
        );
        std::process::exit(2);
    };
    let posts = env_num("HERALD_BENCH_POSTS", 1200);
    let channels = env_num("HERALD_BENCH_CHANNELS", 8);
    println!("posts claimed and published, {posts} posts due over {channels} outbox channels:");
    println!(
        "{:>9} {:>12} {:>14} {:>16}",
        "processes", "total (s)", "posts/s total", "posts/s steady"
    );
    for processes in [1, 2, 4] {
        let r = round(&url, processes, posts, channels);
        println!(
            "{:>9} {:>12.2} {:>14.1} {:>16.1}",
            r.processes,
            r.total.as_secs_f64(),
            posts as f64 / r.total.as_secs_f64(),
            r.steady
        );
    }
    let n = env_num("HERALD_BENCH_MENTIONS", 5000);
    println!(
        "mentions stored (one insert each, one process): {:.0} per second over {n}",
        mentions_per_second(&url, n)
    );
}
