//! The first hour, as a new user and an attacker meet it: `herald run` says what it does, every
//! command works while it runs (through its control socket), and input that used to panic or
//! run without bound gets a clear answer instead.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use herald::inbox::Priority;

use crate::helpers::{Run, Workspace};
use crate::pg::Backend;

/// `herald run` in `ws`, its stderr in `run.log`; killed if the test fails.
struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(ws: &Workspace) -> Bot {
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("run")
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_LOG")
        .env_remove("HERALD_USER")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(ws.path().join("run.log")).expect("log"))
        .spawn()
        .expect("herald run");
    let bot = Bot(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ws.path().join("run.log").exists() || !ws.read("run.log").contains("  stop ") {
        assert!(
            Instant::now() < deadline,
            "no startup summary: {}",
            ws.read("run.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    bot
}

/// Runs `herald` with `args`, `stdin` as its input and `env` set.
fn herald_with(ws: &Workspace, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(args)
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_LOG")
        .env_remove("HERALD_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("herald");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    Run::from(child.wait_with_output().expect("wait"))
}

fn sigterm(bot: &mut Bot) -> i32 {
    let _ = Command::new("kill")
        .args(["-TERM", &bot.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = bot.0.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "herald run did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// On sled whatever the backend the tests run on: its subject is a new user's first run with no
/// `herald.toml` (built-in defaults, that is sled at `data/herald.db`), and the lock sled's
/// files take (commands forwarded through the control socket, `store check` and a second bot
/// refused while the store is held).
#[test]
fn herald_run_says_what_it_does_and_every_command_works_while_it_runs() {
    let ws = Workspace::new_sled();
    // One pending reply for the queue commands to decide on.
    {
        let store = ws.store();
        let item = crate::web::inbox::item(
            "m-1",
            ("mastodon", "zh", Priority::Complaint),
            "等了三周还没到货",
            Utc::now(),
        );
        assert_eq!(store.queue().enqueue(&item).expect("enqueue"), Some(1));
    }
    let mut bot = start(&ws);
    let summary = ws.read("run.log");
    for expected in [
        "herald 0.1.0 running",
        "config    herald.toml not found: built-in defaults",
        "store     data/herald.db (",
        "channels  outbox (outbox)",
        "listening nothing",
        "next      ",
        "web UI    off",
        "commands  other herald commands reach this process through data/herald.db.control/socket",
        "stop      Ctrl-C or SIGTERM",
    ] {
        assert!(summary.contains(expected), "{expected:?} in\n{summary}");
    }
    assert!(!summary.contains('\u{1b}'), "no colour off a terminal");

    // The store is held by `herald run`: each command goes through it, output and codes intact.
    let status = ws.herald(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains(" planned "), "{}", status.stdout);
    assert_eq!(
        ws.herald(&["pause", "--categories", "product"]).code,
        0,
        "pause"
    );
    assert!(ws.herald(&["status"]).stdout.contains("HOLD since"));
    let bad = ws.herald(&["pause", "--categories", "gossip"]);
    assert_eq!(bad.code, 2, "usage errors keep their code");
    assert!(
        bad.stderr.contains("\"gossip\" is not a category"),
        "{}",
        bad.stderr
    );
    assert_eq!(ws.herald(&["resume"]).code, 0);
    assert!(!ws.herald(&["status"]).stdout.contains("HOLD since"));

    let list = ws.herald(&["queue", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("#1"), "{}", list.stdout);
    let anonymous = ws.herald(&["queue", "approve", "1"]);
    assert_eq!(anonymous.code, 1);
    assert!(
        anonymous.stderr.contains("say who is deciding"),
        "{}",
        anonymous.stderr
    );
    // The decision keeps the person's name: HERALD_USER of the one asking.
    let edit = herald_with(
        &ws,
        &["queue", "edit", "1", "-", "--approve"],
        "您好，已为您催单。\n",
        &[("HERALD_USER", "li.na")],
    );
    assert_eq!(edit.code, 0, "{}{}", edit.stdout, edit.stderr);
    assert!(edit.stdout.contains("by li.na"), "{}", edit.stdout);
    let shown = ws.herald(&["queue", "show", "1", "--json"]);
    let item: serde_json::Value = serde_json::from_str(&shown.stdout).expect("json");
    assert_eq!(item["text"], "您好，已为您催单。");
    // The entry that approved it (the running herald's reply sender may already have added
    // its own entries after it, as it tries to send).
    let audit = item["audit"].as_array().expect("audit");
    let approved = audit
        .iter()
        .find(|e| e["to"] == "approved")
        .unwrap_or_else(|| panic!("no approval in {audit:#?}"));
    assert_eq!(approved["who"], "li.na", "{audit:#?}");

    let added = herald_with(
        &ws,
        &["user", "add", "wang"],
        "a long enough passphrase\n",
        &[],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(ws.herald(&["user", "list"]).stdout.contains("wang"));
    assert_eq!(ws.herald(&["alerts", "list"]).stdout, "no alerts\n");
    let mentions = ws.herald(&["mentions"]);
    assert_eq!(mentions.code, 0, "{}", mentions.stderr);

    let check = ws.herald(&["store", "check"]);
    assert_eq!(check.code, 1);
    assert!(check.stderr.contains("stop it first"), "{}", check.stderr);

    // A second bot on the same store is refused plainly.
    let second = ws.herald(&["run"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("already running"),
        "{}",
        second.stderr
    );

    assert_eq!(sigterm(&mut bot), 0, "{}", ws.read("run.log"));
    // Stopped, the same commands open the store themselves.
    assert!(ws.herald(&["user", "list"]).stdout.contains("wang"));
    let check = ws.herald(&["store", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("the store is sound"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("queue"), "{}", check.stdout);
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let ws = Workspace::new();
    assert_eq!(ws.herald(&["plan", "--days", "200"]).code, 0);
    // Far more than a pipe holds, so herald is still writing when `head` has gone.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; {} status --hours 5000 | head -1",
            env!("CARGO_BIN_EXE_herald")
        ))
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .output()
        .expect("bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn work_without_bound_is_refused_with_a_clear_message() {
    let ws = Workspace::new();
    let plan = ws.herald(&["plan", "--days", "100000"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stderr.contains("100000 is not in 1..=366"),
        "{}",
        plan.stderr
    );
    // Nothing planned: on sled its folder was not even made; on PostgreSQL no post is stored.
    match ws.backend() {
        Backend::Sled => assert!(
            !ws.path().join("data/herald.db").exists(),
            "nothing planned"
        ),
        Backend::Postgres => assert!(
            ws.store().posts().all().expect("posts").is_empty(),
            "nothing planned"
        ),
    }
    let replay = ws.herald(&["replay", "-", "--threads", "100000"]);
    assert_eq!(replay.code, 2);
    assert!(replay.stderr.contains("--threads"), "{}", replay.stderr);
    let status = ws.herald(&["status", "--hours", "9223372036854775807"]);
    assert_eq!(status.code, 2, "{}", status.stderr);
    let mentions = ws.herald(&["mentions", "--hours", "-5"]);
    assert_eq!(mentions.code, 2, "{}", mentions.stderr);
}

#[test]
fn a_line_that_is_not_utf8_is_skipped_with_its_number_and_the_rest_is_read() {
    let ws = Workspace::new();
    let line = |id: &str| {
        format!(
            r#"{{"id":"{id}","platform":"weibo","author":"a","text":"刹车失灵了","created_at":"2026-12-01T10:00:00Z"}}"#
        )
    };
    let mut input = line("1").into_bytes();
    input.extend_from_slice(b"\n{\"id\":\"2\",\"text\":\"\xff\xfe\"}\n");
    input.extend_from_slice(line("3").as_bytes());
    input.push(b'\n');
    std::fs::write(ws.path().join("in.jsonl"), &input).expect("write");
    let classify = ws.herald(&["classify", "in.jsonl"]);
    assert_eq!(classify.code, 1);
    let ids: Vec<serde_json::Value> = classify
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].clone())
        .collect();
    assert_eq!(ids, ["1", "3"]);
    assert!(
        classify
            .stderr
            .contains("in.jsonl:2: skipped: not valid UTF-8 (byte 19 of the line)"),
        "{}",
        classify.stderr
    );
    let replay = ws.herald(&["replay", "in.jsonl"]);
    assert_eq!(replay.code, 1);
    assert!(
        replay
            .stderr
            .contains("in.jsonl:2: skipped: not valid UTF-8"),
        "{}",
        replay.stderr
    );
}
