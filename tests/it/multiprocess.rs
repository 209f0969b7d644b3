//! Several `herald run` processes on one PostgreSQL database (the peers' `pg`), against the real
//! Mastodon and Bluesky peers: killed at random (and the database restarted under them), they
//! still publish every post exactly once; a live process takes a dead one's work over within a
//! minute.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use herald::store::pg::PgOptions;
use herald::store::{PostState, Store, StoredPost};

use crate::crash::{copies_on_peers, spawn_run, stop};
use crate::helpers::{stored_post, Workspace};
use crate::peers::peers;

/// A schema of its own on the test database, dropped at the end.
struct Db {
    url: String,
    schema: String,
}

impl Db {
    fn new() -> Self {
        let url = std::env::var("HERALD_TEST_PG_URL")
            .expect("HERALD_TEST_PG_URL: run the tests with tests/peers/with-peers.sh");
        let schema = format!("mp_{:016x}", fastrand::u64(..));
        sql(&url, &format!("CREATE SCHEMA {schema}"));
        Self { url, schema }
    }

    /// The URL herald is given: the test database, with this schema as its search path.
    fn herald_url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", self.url, self.schema)
    }

    fn store(&self) -> Store {
        Store::open_postgres(&PgOptions {
            url: self.herald_url(),
            password: None,
            brand: "default".into(),
            ca_file: None,
        })
        .expect("open the shared store")
    }

    /// Restarts the database server under the running processes.
    fn restart_server(&self) {
        let (Ok(bin), Ok(data), Ok(log)) = (
            std::env::var("HERALD_TEST_PG_BIN"),
            std::env::var("HERALD_TEST_PG_DATA"),
            std::env::var("HERALD_TEST_PG_LOG"),
        ) else {
            panic!("HERALD_TEST_PG_BIN, _DATA and _LOG name the test database's cluster");
        };
        let pg_ctl = format!("{bin}/pg_ctl");
        let args = [
            "-D", &data, "-l", &log, "-m", "fast", "-w", "-t", "60", "restart",
        ];
        let status = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--", &pg_ctl])
                .args(args)
                .stdout(Stdio::null())
                .status()
        } else {
            Command::new(&pg_ctl)
                .args(args)
                .stdout(Stdio::null())
                .status()
        }
        .expect("pg_ctl");
        assert!(status.success(), "pg_ctl restart failed");
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
            }
        })
        .join();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs SQL on its own thread (the driver must not run inside the tests' runtime).
fn sql(url: &str, text: &str) {
    let (url, text) = (url.to_string(), text.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        c.batch_execute(&text).expect("sql");
    })
    .join()
    .expect("sql thread");
}

/// A process's folder: the same channels and the shared database; `lease` seconds.
fn workspace(db: &Db, lease: Option<u64>) -> Workspace {
    let p = peers();
    let ws = Workspace::new();
    let lease = lease
        .map(|s| format!("lease_seconds = {s}\n"))
        .unwrap_or_default();
    ws.write(
        "herald.toml",
        &format!(
            r#"[storage]
url = "{}"
{lease}
[[channels]]
name = "sky"
kind = "bluesky"
pds_url = "{}"
identifier = "brand.test"
password_env = "HERALD_IT_SKY_PASSWORD"

[[channels]]
name = "masto"
kind = "mastodon"
base_url = "{}"
token_env = "HERALD_IT_MASTO_TOKEN"

[publish]
timeout_seconds = 10
backoff_seconds = 1
"#,
            db.herald_url(),
            p.pds,
            p.mastodon
        ),
    );
    ws
}

/// The posts' states; the database may be restarting: asked again for up to a minute.
fn states(store: &Store, posts: &[StoredPost]) -> Vec<PostState> {
    let start = Instant::now();
    loop {
        let read: Result<Vec<PostState>, _> = posts
            .iter()
            .map(|p| store.posts().get(&p.channel, p.at))
            .filter_map(Result::transpose)
            .map(|r| r.map(|p| p.state))
            .collect();
        match read {
            Ok(states) => return states,
            Err(e) if start.elapsed() < Duration::from_secs(60) => {
                eprintln!("reading the posts: {e}; again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the database did not come back: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_killed_at_random_publish_every_post_exactly_once() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    const ROUNDS: usize = 20;
    const PER_CHANNEL: i64 = 12;
    let db = Db::new();
    let wss: Vec<Workspace> = (0..3).map(|_| workspace(&db, Some(3))).collect();
    let store = db.store();
    let nonce = format!("{:x}", fastrand::u64(..));
    let base = Utc::now() - TimeDelta::minutes(30);
    let mut posts = Vec::new();
    for i in 0..PER_CHANNEL {
        for channel in ["sky", "masto"] {
            posts.push(stored_post(
                channel,
                &format!("multi kill {nonce} {channel} {i}."),
                base + TimeDelta::seconds(i),
            ));
        }
    }
    for p in &posts {
        store.posts().put(p).expect("seed");
    }
    let texts: Vec<String> = posts.iter().map(|p| p.text.clone()).collect();
    let seed_value = fastrand::u64(..);
    fastrand::seed(seed_value);
    // Sends to the peers take milliseconds: the Mastodon peer answers each post 300 ms late,
    // so kills land while posts are being sent.
    peers()
        .mastodon_fault(
            "POST",
            "/api/v1/statuses",
            serde_json::json!({ "type": "latency", "delay_ms": 300 }),
            1000,
        )
        .await;
    let mut running: Vec<Option<Child>> = (0..3).map(|_| None).collect();
    let (mut kills, mut mid_send) = (0, 0);
    for round in 0..ROUNDS {
        for (i, slot) in running.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(spawn_run(&wss[i]));
            }
        }
        // The posts' states are watched all through the round, not only after its kill: the
        // sends of the first rounds are over in seconds, and one look a round can miss them.
        let pause = Duration::from_millis(fastrand::u64(300..3000));
        let began = Instant::now();
        let mut saw_send = false;
        while began.elapsed() < pause {
            tokio::time::sleep(Duration::from_millis(100)).await;
            saw_send |= states(&store, &posts).contains(&PostState::Sending);
        }
        if round == ROUNDS / 2 {
            // The database goes away and comes back under the three processes.
            db.restart_server();
        }
        let victim = fastrand::usize(..3);
        if let Some(mut child) = running[victim].take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
            kills += 1;
        }
        let counts = copies_on_peers(&texts).await;
        assert!(
            counts.iter().all(|c| *c <= 1),
            "round {round} (seed {seed_value}): duplicates {counts:?}"
        );
        if saw_send || states(&store, &posts).contains(&PostState::Sending) {
            mid_send += 1;
        }
    }
    peers().mastodon_clear_faults().await;
    // The survivors, and the killed ones restarted, finish the rest.
    for (i, slot) in running.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(spawn_run(&wss[i]));
        }
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(180) {
        if states(&store, &posts)
            .iter()
            .all(|s| *s == PostState::Published)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for child in running.into_iter().flatten() {
        stop(child);
    }
    let counts = copies_on_peers(&texts).await;
    let odd = crate::crash::not_once(&store, &posts, &counts);
    assert_eq!(
        counts,
        vec![1; texts.len()],
        "seed {seed_value}: every post exactly once; waited {:?}; {odd:#?}",
        start.elapsed()
    );
    for p in &posts {
        let got = store
            .posts()
            .get(&p.channel, p.at)
            .expect("get")
            .expect("post");
        assert_eq!(
            got.state,
            PostState::Published,
            "seed {seed_value}: {} stuck as {:?}",
            got.text,
            got.state
        );
    }
    assert!(
        mid_send >= 1,
        "seed {seed_value}: no round of {ROUNDS} saw a post being sent, during it or after its kill"
    );
    eprintln!(
        "multi-process kill test: 3 processes, {ROUNDS} rounds, {kills} SIGKILLs ({mid_send} rounds saw a send in flight), database restarted once, {} posts: 0 duplicates, 0 lost, 0 stuck (seed {seed_value})",
        posts.len()
    );
}

/// The pid part of a lease holder (`host:pid:random`).
fn holder_pid(holder: &str) -> Option<u32> {
    holder.split(':').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_takes_over_a_dead_ones_work_within_a_minute() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let db = Db::new();
    // The default lease time: what a real deployment gets.
    let (a_ws, b_ws) = (workspace(&db, None), workspace(&db, None));
    let store = db.store();
    let mut a = spawn_run(&a_ws);
    let a_pid = a.id();
    // A holds the work once it has started (first there, it takes every lease).
    let held_by = |pid: u32, names: &[&str]| {
        let leases = store.meta().leases().expect("leases");
        names.iter().all(|n| {
            leases.iter().any(|l| {
                l.name == *n && holder_pid(&l.holder) == Some(pid) && l.expires_at > Utc::now()
            })
        })
    };
    let work = [
        "planner",
        "listen",
        "channel:masto",
        "channel:sky",
        "replies",
        "alerts",
    ];
    let start = Instant::now();
    while !held_by(a_pid, &work) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "A never took its work: {:?}",
            store.meta().leases()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut b = spawn_run(&b_ws);
    let b_pid = b.id();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(held_by(a_pid, &work), "B took work from a live A");
    a.kill().expect("SIGKILL A");
    let _ = a.wait();
    let killed = Instant::now();
    // A post due right after A died goes out through B.
    let text = format!("takeover {:x}.", fastrand::u64(..));
    let post = stored_post("masto", &text, Utc::now());
    store.posts().put(&post).expect("seed");
    let mut published_after = None;
    let mut taken_after = None;
    while killed.elapsed() < Duration::from_secs(60) {
        if taken_after.is_none() && held_by(b_pid, &work) {
            taken_after = Some(killed.elapsed());
        }
        if published_after.is_none()
            && store
                .posts()
                .get("masto", post.at)
                .expect("get")
                .is_some_and(|p| p.state == PostState::Published)
        {
            published_after = Some(killed.elapsed());
        }
        if taken_after.is_some() && published_after.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = b.kill();
    let _ = b.wait();
    let taken = taken_after.unwrap_or_else(|| {
        panic!(
            "B did not take A's work within a minute: {:?}",
            store.meta().leases()
        )
    });
    let published =
        published_after.expect("the post due after A died was not published by B within a minute");
    let copies = copies_on_peers(std::slice::from_ref(&text)).await;
    assert_eq!(copies, vec![1], "published once");
    let sent = store
        .posts()
        .get("masto", post.at)
        .expect("get")
        .expect("post");
    assert_eq!(
        sent.delivery.claimed_by.as_deref().and_then(holder_pid),
        Some(b_pid),
        "B sent it"
    );
    eprintln!(
        "takeover: B held A's work {:.1} s after A's SIGKILL and published a post due then after {:.1} s",
        taken.as_secs_f64(),
        published.as_secs_f64()
    );
}
