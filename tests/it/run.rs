//! The publishing commands as a user runs them: `herald post`, `status`, `pause`, `resume`,
//! graceful shutdown of `herald run`, and the webhook's signed request.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use herald::store::{PostState, StoredPost};
use serde_json::{json, Value};

use crate::helpers::Workspace;
use crate::peers::peers;

#[test]
fn post_by_hand_to_the_outbox_then_status_pause_and_resume() {
    let ws = Workspace::new();
    let run = ws.herald(&[
        "post",
        "service/baoyang-changshi-1",
        "--channel",
        "outbox",
        "--now",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("published service/baoyang-changshi-1 on outbox: file://"),
        "{}",
        run.stdout
    );
    let line: Value =
        serde_json::from_str(ws.read("data/outbox.jsonl").lines().next().expect("a line"))
            .expect("json");
    assert_eq!(line["channel"], "outbox");
    assert!(line["source_code"]
        .as_str()
        .is_some_and(|c| c.starts_with("outbox.service.baoyang-changshi-1.")));
    // The draft's picture goes with it: the checked-in file, its type from its bytes, its alt.
    let media = &line["media"][0];
    assert_eq!(media["file"], "maintenance-checklist.png", "{line}");
    assert_eq!(media["mime"], "image/png", "{line}");
    assert!(
        media["alt"]
            .as_str()
            .is_some_and(|a| a.contains("保养图标")),
        "{line}"
    );
    assert!(media["width"].as_u64().is_some_and(|w| w > 0), "{line}");

    let status = ws.herald(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let row = status
        .stdout
        .lines()
        .find(|l| l.contains("service/baoyang-changshi-1"))
        .expect("listed");
    assert!(
        row.contains("published") && row.contains("file://"),
        "{row}"
    );

    // A hold keeps the paused categories back, visibly, until it is lifted.
    assert_eq!(
        ws.herald(&["pause", "--categories", "product", "--reason", "drill"])
            .code,
        0
    );
    let held = ws.herald(&[
        "post",
        "product/altima-vc-turbo-en",
        "--channel",
        "outbox",
        "--now",
    ]);
    assert_eq!(held.code, 1, "{}", held.stderr);
    assert!(
        held.stdout.contains("held"),
        "{}{}",
        held.stdout,
        held.stderr
    );
    let status = ws.herald(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.starts_with("HOLD since"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.contains("product/altima-vc-turbo-en") && l.contains("(held)")),
        "{}",
        status.stdout
    );
    assert_eq!(ws.herald(&["resume"]).code, 0);
    assert!(!ws.herald(&["status"]).stdout.contains("HOLD"));
    assert_eq!(
        ws.read("data/outbox.jsonl").lines().count(),
        1,
        "nothing sent while held"
    );

    // Unknown names are usage errors.
    assert_eq!(
        ws.herald(&["post", "product/nope", "--channel", "outbox", "--now"])
            .code,
        2
    );
    assert_eq!(
        ws.herald(&["post", "product/altima-vc-turbo-en", "--channel", "nope"])
            .code,
        2
    );
}

#[test]
fn two_posts_by_hand_in_the_same_second_both_go_out() {
    // Regression: the second `post --now` within one second collided with the first's key.
    let ws = Workspace::new();
    for draft in [
        "service/baoyang-changshi-1",
        "service/baoyang-changshi-2",
        "lifestyle/chengdu-food-1",
    ] {
        let run = ws.herald(&["post", draft, "--channel", "outbox", "--now"]);
        assert_eq!(run.code, 0, "{draft}: {}{}", run.stdout, run.stderr);
    }
    assert_eq!(ws.read("data/outbox.jsonl").lines().count(), 3);
}

/// Regression (issue 14): a torn outbox line (a full disk, a crash) had the next post glued to
/// it, unreadable by consumers and by herald's own reconcile.
#[test]
fn a_post_after_a_torn_outbox_line_starts_a_line_of_its_own() {
    let ws = Workspace::new();
    ws.write(
        "data/outbox.jsonl",
        "{\"id\":\"outbox@1\",\"channel\":\"outbox\",\"text\":\"半",
    );
    for draft in ["service/baoyang-changshi-1", "service/baoyang-changshi-2"] {
        let run = ws.herald(&["post", draft, "--channel", "outbox", "--now"]);
        assert_eq!(run.code, 0, "{draft}: {}{}", run.stdout, run.stderr);
    }
    let text = ws.read("data/outbox.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(serde_json::from_str::<Value>(lines[0]).is_err());
    for line in &lines[1..] {
        let v: Value = serde_json::from_str(line).expect("a whole line");
        assert_eq!(v["channel"], "outbox");
    }
}

#[test]
fn post_without_now_takes_the_next_free_peak_slot() {
    let ws = Workspace::new();
    let first = ws.herald(&["post", "lifestyle/chengdu-food-1", "--channel", "outbox"]);
    let second = ws.herald(&["post", "lifestyle/chengdu-food-2", "--channel", "outbox"]);
    assert_eq!(
        (first.code, second.code),
        (0, 0),
        "{}{}",
        first.stderr,
        second.stderr
    );
    let when = |s: &str| {
        s.split(" at ")
            .nth(1)
            .and_then(|r| r.split(" (").next())
            .unwrap_or_default()
            .to_string()
    };
    assert_ne!(
        when(&first.stdout),
        when(&second.stdout),
        "{} / {}",
        first.stdout,
        second.stdout
    );
    let store = ws.store();
    let posts = store.posts().all().expect("posts");
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.state == PostState::Approved));
    assert!((posts[1].at - posts[0].at).abs() >= TimeDelta::minutes(60));
}

#[tokio::test]
async fn a_draft_posted_to_bluesky_carries_its_tracked_link_in_a_facet() {
    let p = peers();
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[channels]]\nname = \"sky\"\nkind = \"bluesky\"\npds_url = \"{}\"\nidentifier = \"brand.test\"\npassword_env = \"HERALD_IT_SKY_PASSWORD\"\n", p.pds),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "post",
            "product/year-end-offer-2026",
            "--channel",
            "sky",
            "--now",
        ])
        .current_dir(ws.path())
        .env("HERALD_IT_SKY_PASSWORD", "brand-pass")
        .output()
        .expect("herald post");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = ws.store();
    let post = store.posts().all().expect("posts").pop().expect("post");
    let uri = post.delivery.remote_id.expect("at uri");
    let record = p.bsky_record(&uri).await;
    let link = record["value"]["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find_map(|f| f["features"][0]["uri"].as_str().map(str::to_string))
        .expect("a link facet");
    assert!(
        link.starts_with("https://jincheng-nissan.example.com/offers/year-end-2026?"),
        "{link}"
    );
    assert!(
        link.contains(&format!(
            "utm_source=sky&utm_medium=social&utm_campaign=product&utm_content={}",
            post.source_code
        )),
        "{link}"
    );
    assert!(
        stdout.contains("https://bsky.app/profile/brand.test/post/"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_send_in_flight_finish_and_loses_nothing() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[channels]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"{}\"\ntoken_env = \"HERALD_IT_MASTO_TOKEN\"\n[publish]\ntimeout_seconds = 20\n", p.mastodon),
    );
    let nonce = format!("{:x}", fastrand::u64(..));
    let base = Utc::now() - TimeDelta::minutes(5);
    {
        let store = ws.store();
        for i in 0..3 {
            store
                .posts()
                .put(&crate::helpers::stored_post(
                    "masto",
                    &format!("graceful {nonce} {i}."),
                    base + TimeDelta::seconds(i),
                ))
                .expect("put");
        }
    }
    // The first send takes 2.5 s on the server: SIGTERM arrives while it is in flight.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "latency", "delay_ms": 2500 }),
        1,
    )
    .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("run")
        .current_dir(ws.path())
        .env("HERALD_IT_MASTO_TOKEN", "brand-token")
        .env("HERALD_LOG", "herald::publish=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald run");
    // SIGTERM once the first send is in flight (its log line says so), not after a fixed
    // sleep: on a busy machine start-up can take longer than any sleep we would pick (this
    // test failed that way).
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Sending") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("herald started sending within a minute");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A guard against a hang, not a timing goal: what it did is checked below.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "herald run did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful exit: {status:?}");
    p.mastodon_clear_faults().await;

    let store = ws.store();
    let mine: Vec<StoredPost> = store
        .posts()
        .all()
        .expect("posts")
        .into_iter()
        .filter(|p| p.text.starts_with("graceful"))
        .collect();
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter()
            .all(|p| matches!(p.state, PostState::Published | PostState::Planned)),
        "{:?}",
        mine.iter().map(|p| p.state).collect::<Vec<_>>()
    );
    assert_eq!(
        mine[0].state,
        PostState::Published,
        "the send in flight finished and was recorded"
    );
    assert!(
        mine[1..].iter().all(|p| p.state == PostState::Planned),
        "stopped after the send in flight, without starting the posts due after it: {:?}",
        mine.iter().map(|p| p.state).collect::<Vec<_>>()
    );
    let on_platform = p.mastodon_statuses("brand-token").await;
    for post in &mine {
        let copies = on_platform
            .iter()
            .filter(|s| {
                s["content"]
                    .as_str()
                    .is_some_and(|c| c.contains(&post.text))
            })
            .count();
        assert_eq!(
            copies,
            usize::from(post.state == PostState::Published),
            "{}",
            post.text
        );
    }
}

#[tokio::test]
async fn webhook_posts_signed_json_with_an_idempotency_key() {
    use herald::platform::http::signature;
    use herald::publish::webhook::Webhook;
    use herald::publish::{OutPost, PublishError};
    use wiremock::matchers::{header_exists, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // The receiver of a webhook is whatever the user runs; a capture server plays it.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header_exists("x-herald-signature"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "wx-1", "url": "https://weibo.example/1" })),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let hook = Webhook::new(
        reqwest::Client::new(),
        "bridge",
        format!("{}/hook", server.uri()).parse().expect("url"),
        Some("s3cret".into()),
    );
    let post = OutPost {
        id: "bridge@1".into(),
        text: "你好".into(),
        at: Utc::now(),
        lang: Some("zh".into()),
        source_code: "bridge.x.y.z".into(),
        ..OutPost::default()
    };
    let sent = hook.send(&post).await.expect("sent");
    assert_eq!(
        (sent.remote_id.as_str(), sent.url.as_deref()),
        ("wx-1", Some("https://weibo.example/1"))
    );
    let requests = server.received_requests().await.expect("recorded");
    let r = &requests[0];
    let ts: i64 = r
        .headers
        .get("x-herald-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("timestamp");
    assert_eq!(
        r.headers
            .get("x-herald-signature")
            .and_then(|v| v.to_str().ok()),
        Some(signature("s3cret", ts, &r.body).as_str())
    );
    assert_eq!(
        r.headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok()),
        Some("bridge@1")
    );
    let body: Value = serde_json::from_slice(&r.body).expect("json body");
    assert_eq!(
        (body["text"].as_str(), body["channel"].as_str()),
        (Some("你好"), Some("bridge"))
    );
    // A 503 is unavailable for now: retried (after its `Retry-After`, when it gives one).
    assert!(matches!(
        hook.send(&post).await,
        Err(e @ PublishError::Unavailable { retry_after: None, .. })
            if e.to_string().contains("503") && !e.is_permanent()
    ));
}
