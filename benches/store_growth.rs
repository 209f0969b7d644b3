//! Store growth benchmark: disk per 1,000 mentions and resident memory after 50,000 and
//! 500,000 mentions, ingested through herald's real write path.
//!
//! `cargo bench --bench store_growth` runs two child processes (memory is per process):
//! - `old`: what herald did before issue 14, kept by hand as the baseline: sled's default
//!   1 GiB cache, the mention stored and flushed, then its draft enqueued and flushed (two
//!   writes);
//! - `new`: what herald does: the default `[storage] cache_mb = 64`, every mention handed to
//!   the ingest stage ([`herald::ingest::Ingest`], as the listener does), which classifies it
//!   and writes it with its draft in one transaction.
//!
//! Mentions are real-looking: Chinese and English texts about the brand's cars (complaints,
//! questions, purchase intent, praise, chatter), classified by the checked-in keywords and
//! drafted by the checked-in reply templates, one author in three seen before, spread over
//! 80 days. Disk is the size of the store's folder after each checkpoint; memory is `VmRSS`
//! from `/proc/self/status`, then again after the store is closed and opened and the newest
//! page of mentions read (a restart). `HERALD_BENCH_MENTIONS` sets the checkpoints
//! (default `50000,500000`); the store goes in `TMPDIR` (tmpfs makes the flushes cheap, and
//! the sizes are the same).
//!
//! A third child, `expiry`, times the reply sender's expiry check over 49,000 pending drafts
//! (the case that burned 14.5 % of a core): every pending item decoded, as before, and the
//! index read by creation time, as now.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use herald::classify::Classifier;
use herald::inbox::{Drafter, Verdict};
use herald::ingest::Ingest;
use herald::listen::Mention;
use herald::store::{MentionQuery, Store, StoreOptions, StoredMention};

const TEXTS: [&str; 12] = [
    "刚提的新奇骏，高速上刹车有异响，4S店说正常，太失望了，要投诉！",
    "请问轩逸e-POWER的保养周期是多久？第一次保养多少钱？",
    "想换车，家里两个孩子，艾睿雅和奇骏哪个更适合？周末想去试驾，电话多少",
    "锦程东风日产的服务顾问小王太专业了，点赞！",
    "今天路过春熙路，看到新车展台，人好多",
    "The new X-Trail's infotainment keeps freezing on the highway. Dealer says wait for an update?",
    "How long is the warranty on the Ariya battery? Thinking of buying next month.",
    "Test drove the Sylphy yesterday, really smooth ride. Great staff at the Chengdu store!",
    "车机系统又死机了，导航用不了，这已经是第三次了，客服电话打不通",
    "逍客的油耗实际多少？市区通勤每天40公里，预算15万以内",
    "Anyone else stuck in traffic on the ring road this morning?",
    "空调异味怎么处理？去店里要预约吗？",
];

fn mention(n: usize, t0: DateTime<Utc>) -> Mention {
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let platform = ["bluesky", "mastodon"][(x % 2) as usize];
    // One author in three has written before.
    let author = if x % 3 == 0 {
        format!("fan{}.bsky.social", x % 997)
    } else {
        format!("user{n}.example.social")
    };
    let text = format!(
        "{} #{} {}",
        TEXTS[((x >> 8) % TEXTS.len() as u64) as usize],
        n,
        ["", "@brand", "#日产 #成都车展"][((x >> 20) % 3) as usize]
    );
    let created_at = t0 + TimeDelta::seconds((n as i64 * 13) % (80 * 86_400));
    Mention {
        id: format!("{platform}:{n}"),
        platform: platform.into(),
        author,
        url: Some(format!("https://{platform}.example/post/{n}")),
        text,
        created_at,
        lang: None,
        in_reply_to: None,
        author_followers: Some(x % 5000),
        verified: Some(false),
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn run(mode: &str, checkpoints: &[usize]) {
    let keywords = Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
    let groups = herald::classify::keywords::load_dir(&keywords).expect("keywords");
    let classifier = std::sync::Arc::new(Classifier::new(&groups).expect("classifier"));
    let replies = herald::inbox::templates::load(&keywords.join("replies.toml"))
        .expect("replies.toml")
        .expect("replies.toml exists");
    let routes: BTreeMap<String, String> = [("bluesky", "sky"), ("mastodon", "masto")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let drafter = std::sync::Arc::new(Drafter::new(
        replies,
        chrono_tz::Asia::Shanghai,
        BTreeMap::new(),
        routes,
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("herald.db");
    let options = match mode {
        "old" => StoreOptions {
            cache_bytes: 1 << 30,
        },
        _ => StoreOptions::default(),
    };
    let mut store = Store::open_with(&path, &options).expect("store");
    let t0 = DateTime::from_timestamp(1_796_083_200, 0).expect("t0");
    // Each mention is drafted at its own time, as a listener polling live would: the clock the
    // ingest stage dates drafts by reads the mention being ingested.
    let at = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(t0.timestamp()));
    let clock: herald::clock::Clock = {
        let at = at.clone();
        std::sync::Arc::new(move || {
            DateTime::from_timestamp(at.load(std::sync::atomic::Ordering::Relaxed), 0)
                .unwrap_or_default()
        })
    };
    let ingest = |store: &Store| {
        Ingest::new(store.clone(), classifier.clone())
            .with_drafter(Some(drafter.clone()))
            .with_clock(clock.clone())
    };
    let mut stage = ingest(&store);
    let (mut n, mut drafts) = (0, 0);
    let start = Instant::now();
    for &goal in checkpoints {
        while n < goal {
            let m = mention(n, t0);
            if mode == "old" {
                let c = classifier.classify(&m.text, Some(&m.author));
                let record = StoredMention::new(m, "bench", &c);
                let now = record.mention.created_at;
                let draft = match drafter.draft(&record, now) {
                    Verdict::Draft(item) => Some(item),
                    Verdict::Skip(_) => None,
                };
                if store.mentions().insert(&record).expect("insert") {
                    if let Some(item) = &draft {
                        drafts +=
                            usize::from(store.queue().enqueue(item).expect("enqueue").is_some());
                    }
                }
            } else {
                at.store(
                    m.created_at.timestamp(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                stage.one("bench", m, false).expect("ingest");
            }
            n += 1;
        }
        if mode != "old" {
            // The stage reports only whether a mention was new; the drafts are in the queue.
            drafts = store.queue().count(&Default::default()).expect("count");
        }
        let disk = dir_bytes(&path);
        let rss = rss_kb();
        drop(stage);
        drop(store);
        store = Store::open_with(&path, &options).expect("reopen");
        stage = ingest(&store);
        let page = store
            .mentions()
            .list(&MentionQuery {
                limit: 50,
                ..Default::default()
            })
            .expect("page")
            .len();
        println!(
            "{mode}: {n} mentions ({drafts} drafts) in {:.0} s: disk {:.1} MB ({:.2} MB per 1,000 mentions), RSS {:.0} MB, after a restart and a page of {page} {:.0} MB",
            start.elapsed().as_secs_f64(),
            disk as f64 / 1e6,
            disk as f64 / 1e6 / (n as f64 / 1000.0),
            rss as f64 / 1024.0,
            rss_kb() as f64 / 1024.0,
        );
    }
}

/// The reply sender's expiry check over `pending` pending drafts, none due: the old way (every
/// pending id from the index, every item decoded) and the new (the index read by creation time).
fn expiry(pending: usize) {
    use herald::inbox::{Priority, QueueItem, ReplyState};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("herald.db")).expect("store");
    let t0 = DateTime::from_timestamp(1_796_083_200, 0).expect("t0");
    let items: Vec<QueueItem> = (0..pending)
        .map(|n| {
            let m = mention(n, t0);
            QueueItem {
                id: 0,
                mention_id: m.id.clone(),
                platform: m.platform.clone(),
                source: "bench".into(),
                author: m.author.clone(),
                mention_text: m.text.clone(),
                mention_url: m.url.clone(),
                mention_at: m.created_at,
                lang: "zh".into(),
                intent: "question".into(),
                priority: Priority::ALL[n % Priority::ALL.len()],
                crisis: false,
                topics: vec!["product/x-trail".into()],
                lead: None,
                stage: None,
                template: "question-zh".into(),
                text: "@user 您好，感谢提问！服务顾问会为您详细解答。".into(),
                source_code: format!("sky.reply.question-zh.{n}"),
                channel: Some("sky".into()),
                state: ReplyState::Pending,
                created_at: t0 + TimeDelta::seconds(n as i64),
                due_at: t0 + TimeDelta::hours(4),
                assignee: None,
                reply_to: None,
                post: None,
                remote_id: None,
                remote_url: None,
                media: None,
                error: None,
                audit: vec![],
            }
        })
        .collect();
    store.queue().enqueue_many(&items).expect("fill");
    let cutoff = t0 - TimeDelta::hours(1);
    let median = |f: &dyn Fn() -> usize| {
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(f(), 0, "nothing is due");
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[3]
    };
    let old = median(&|| {
        let mut due = 0;
        for id in store.queue().ids(ReplyState::Pending).expect("ids") {
            if let Some(item) = store.queue().item(id).expect("item") {
                due += usize::from(item.created_at < cutoff);
            }
        }
        due
    });
    let new = median(&|| {
        store
            .queue()
            .pending_created_before(cutoff)
            .expect("due")
            .len()
    });
    println!(
        "expiry check over {pending} pending drafts, none due: every item decoded {:.1} ms ({:.1} % of a core every 2 s), index by creation time {:.3} ms",
        old * 1e3,
        old / 2.0 * 100.0,
        new * 1e3
    );
}

fn main() {
    let checkpoints: Vec<usize> = std::env::var("HERALD_BENCH_MENTIONS")
        .unwrap_or_else(|_| "50000,500000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    if let Ok(mode) = std::env::var("HERALD_BENCH_CHILD") {
        match mode.as_str() {
            "expiry" => expiry(49_000),
            _ => run(&mode, &checkpoints),
        }
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let modes = std::env::var("HERALD_BENCH_MODES").unwrap_or_else(|_| "new,old,expiry".into());
    for mode in modes.split(',') {
        let status = std::process::Command::new(&me)
            .env("HERALD_BENCH_CHILD", mode)
            .status()
            .expect("child");
        assert!(status.success(), "{mode}: {status}");
    }
}
