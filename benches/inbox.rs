//! Inbox benchmark: a page of the reply queue over 100,000 items, on sled and (when
//! `HERALD_BENCH_PG_URL` names a database it may make a schema in) on PostgreSQL.
//!
//! `cargo bench --bench inbox` fills a fresh store with `HERALD_BENCH_ITEMS` (default 100,000)
//! queue items spread over 7 states, 6 priorities, 3 platforms and 2 languages, then times
//! page queries (50 items) with and without filters: the median and the worst of 50 runs each,
//! plus the fill rate. A plain harness: the figures are wall times of whole queries on a real
//! sled store, which is what the inbox's "well under 100 ms" goal is about. With
//! `HERALD_BENCH_PG_URL=postgresql://…` the same items and queries run again on PostgreSQL, in a
//! schema of the bench's own (dropped at the end), round trips to the database included.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use herald::inbox::{Priority, QueueItem, ReplyState};
use herald::store::{QueueQuery, Store};

fn item(n: usize, t0: DateTime<Utc>) -> QueueItem {
    // A cheap deterministic spread (xorshift of n) so filters select realistic fractions.
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let state = ReplyState::ALL[(x % 7) as usize];
    let priority = Priority::ALL[((x >> 8) % 6) as usize];
    let platform = ["bluesky", "mastodon", "forum"][((x >> 16) % 3) as usize];
    let lang = ["zh", "en"][((x >> 24) % 2) as usize];
    let created_at = t0 + TimeDelta::seconds(n as i64);
    QueueItem {
        id: 0,
        mention_id: format!("bench:{n}"),
        platform: platform.into(),
        source: platform.into(),
        author: format!("user{n}.test"),
        mention_text: format!("请问奇骏的保养周期是多久？#{n}"),
        mention_url: None,
        mention_at: created_at,
        lang: lang.into(),
        intent: "question".into(),
        priority,
        crisis: priority == Priority::Crisis,
        topics: vec!["product/x-trail".into()],
        lead: None,
        stage: None,
        template: "question-zh".into(),
        text: "@user 您好，感谢提问！锦程东风日产服务顾问会为您详细解答，也欢迎拨打400-000-0000。"
            .into(),
        source_code: format!("bluesky.reply.question-zh.{n}"),
        channel: Some(platform.into()),
        state,
        created_at,
        due_at: created_at + TimeDelta::hours(4),
        assignee: None,
        reply_to: None,
        post: None,
        remote_id: None,
        remote_url: None,
        media: None,
        error: None,
        audit: vec![],
    }
}

fn time(store: &Store, q: &QueueQuery, runs: usize) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut n = 0;
    for _ in 0..runs {
        let start = Instant::now();
        n = store.queue().page(q).map(|p| p.len()).unwrap_or(0);
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], times[runs - 1], n)
}

/// Runs SQL outside the store (making and dropping the bench's schema), on a thread of its own.
fn admin(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        c.batch_execute(&sql).expect("admin SQL");
    })
    .join()
    .expect("admin thread");
}

fn main() {
    let items: usize = std::env::var("HERALD_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("== sled");
    let dir = tempfile::tempdir().expect("temp dir");
    bench(
        &Store::open(&dir.path().join("db")).expect("store"),
        items,
        &|| {},
    );
    let Some(url) = std::env::var("HERALD_BENCH_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("(HERALD_BENCH_PG_URL is not set: PostgreSQL not measured)");
        return;
    };
    println!("== PostgreSQL");
    let schema = format!("bench_{:016x}", fastrand::u64(..));
    admin(&url, &format!("CREATE SCHEMA {schema}"));
    let sep = if url.contains('?') { '&' } else { '?' };
    let options = herald::store::pg::PgOptions {
        url: format!("{url}{sep}options=-csearch_path%3D{schema}"),
        password: None,
        brand: "bench".into(),
        ca_file: None,
    };
    // Fresh statistics, as autovacuum would have them by the time a queue is this big.
    let analyze = || admin(&options.url, "ANALYZE queue_items");
    bench(
        &Store::open_postgres(&options).expect("store"),
        items,
        &analyze,
    );
    admin(&url, &format!("DROP SCHEMA {schema} CASCADE"));
}

/// Fills `store` with `items` queue items, calls `filled`, and times the inbox's queries.
fn bench(store: &Store, items: usize, filled: &dyn Fn()) {
    let t0 = DateTime::from_timestamp(1_796_083_200, 0).expect("t0");
    let start = Instant::now();
    for chunk in (0..items).collect::<Vec<_>>().chunks(10_000) {
        let batch: Vec<QueueItem> = chunk.iter().map(|n| item(*n, t0)).collect();
        store.queue().enqueue_many(&batch).expect("fill");
    }
    let fill = start.elapsed();
    println!(
        "filled {items} items in {:.1} s ({:.0} items/s)",
        fill.as_secs_f64(),
        items as f64 / fill.as_secs_f64()
    );
    filled();
    let now = t0 + TimeDelta::seconds(items as i64);
    let cases: Vec<(&str, QueueQuery)> = vec![
        (
            "open states, no filter, page 1",
            QueueQuery {
                states: ReplyState::OPEN.to_vec(),
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "pending, complaint, bluesky, en",
            QueueQuery {
                states: vec![ReplyState::Pending],
                priorities: vec![Priority::Complaint],
                platforms: vec!["bluesky".into()],
                langs: vec!["en".into()],
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "pending, zh, overdue",
            QueueQuery {
                states: vec![ReplyState::Pending],
                langs: vec!["zh".into()],
                overdue_at: Some(now),
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "all states, mastodon, page 100",
            QueueQuery {
                platforms: vec!["mastodon".into()],
                offset: 99 * 50,
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "praise+other, en, page 20",
            QueueQuery {
                states: ReplyState::OPEN.to_vec(),
                priorities: vec![Priority::Praise, Priority::Other],
                langs: vec!["en".into()],
                offset: 19 * 50,
                limit: 50,
                ..Default::default()
            },
        ),
    ];
    for (name, q) in &cases {
        let (median, worst, n) = time(store, q, 50);
        println!(
            "{name:<36} {n:>3} items  median {:>7.2} ms  worst {:>7.2} ms",
            median.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3
        );
    }
    let start = Instant::now();
    let count = store
        .queue()
        .count(&QueueQuery {
            states: vec![ReplyState::Pending],
            ..Default::default()
        })
        .expect("count");
    println!(
        "count of pending ({count}) in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
}
