//! The reply inbox end to end, against the real peers: mentions picked up by the listener in
//! `herald run` become drafted replies; a person approves one with an edit and rejects the other
//! through `herald queue`; exactly one reply appears, threaded under its mention, and the audit
//! log shows both decisions. And crash safety: an approved reply survives a kill at a random
//! moment and is sent once.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::Workspace;

/// Both accounts of the brand, as listening sources and as reply channels.
fn workspace(p: &crate::peers::Peers) -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!(
            r#"[[channels]]
name = "sky"
kind = "bluesky"
pds_url = "{pds}"
identifier = "brand.test"
password_env = "HERALD_IT_PW"

[[channels]]
name = "masto"
kind = "mastodon"
base_url = "{masto}"
token_env = "HERALD_IT_TOKEN"

[publish]
timeout_seconds = 20

[[sources]]
name = "sky-mentions"
kind = "bluesky"
pds_url = "{pds}"
identifier = "brand.test"
password_env = "HERALD_IT_PW"
interval_seconds = 1

[[sources]]
name = "masto-mentions"
kind = "mastodon"
base_url = "{masto}"
token_env = "HERALD_IT_TOKEN"
interval_seconds = 1
"#,
            pds = p.pds,
            masto = p.mastodon
        ),
    );
    ws
}

const ENV: [(&str, &str); 2] = [
    ("HERALD_IT_PW", "brand-pass"),
    ("HERALD_IT_TOKEN", "brand-token"),
];

/// Starts `herald run` in the workspace.
fn spawn_run(ws: &Workspace) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("run")
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in ENV {
        cmd.env(k, v);
    }
    cmd.spawn().expect("herald run")
}

fn stop(child: &mut std::process::Child, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `herald run` until `done` holds (asked with `herald queue`, which reaches the running herald
/// through its control socket), then SIGTERM; fails after a minute.
fn run_until(ws: &Workspace, what: &str, done: impl Fn() -> bool) {
    let mut child = spawn_run(ws);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > deadline {
            stop(&mut child, "-TERM");
            panic!("herald run did not {what} within a minute");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    stop(&mut child, "-TERM");
}

/// `herald queue ARGS`, with the peers' secrets.
fn queue(ws: &Workspace, args: &[&str]) -> crate::helpers::Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("queue")
        .args(args)
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_USER")
        .envs(ENV)
        .output()
        .expect("herald queue");
    crate::helpers::Run::from(out)
}

/// Queue items (any state) whose mention contains `needle`.
fn items(ws: &Workspace, needle: &str) -> Vec<Value> {
    try_items(ws, needle).expect("herald queue list")
}

/// As [`items`], or `None` when `herald queue` fails (herald run still starting).
fn try_items(ws: &Workspace, needle: &str) -> Option<Vec<Value>> {
    let run = queue(
        ws,
        &[
            "list", "--json", "--limit", "100000", "--state", "pending", "--state", "approved",
            "--state", "sending", "--state", "sent", "--state", "failed", "--state", "rejected",
            "--state", "expired",
        ],
    );
    if run.code != 0 {
        return None;
    }
    let found = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .filter(|i| {
            i["mention_text"]
                .as_str()
                .is_some_and(|t| t.contains(needle))
        })
        .collect();
    Some(found)
}

fn show(ws: &Workspace, id: u64) -> Value {
    let run = queue(ws, &["show", &id.to_string(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("json")
}

pub async fn mastodon_mention(p: &crate::peers::Peers, text: &str) -> String {
    let answer = crate::peers::client()
        .post(format!("{}/api/v1/statuses", p.mastodon))
        .bearer_auth("alice-token")
        .json(&serde_json::json!({ "status": text }))
        .send()
        .await
        .expect("alice posts");
    assert!(answer.status().is_success(), "{}", answer.status());
    let v: Value = answer.json().await.expect("json");
    v["id"].as_str().expect("status id").to_string()
}

/// alice.test mentions brand.test (with a mention facet); the post's at:// URI.
pub async fn bluesky_mention(p: &crate::peers::Peers, text: &str) -> String {
    let (alice_did, alice_jwt) = p.bsky_login("alice.test", "alice-pass").await;
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    let end = "@brand.test".len();
    assert!(text.starts_with("@brand.test"));
    let answer = crate::peers::client()
        .post(format!("{}/xrpc/com.atproto.repo.createRecord", p.pds))
        .bearer_auth(alice_jwt)
        .json(&serde_json::json!({
            "repo": alice_did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": chrono::Utc::now().to_rfc3339(),
                "facets": [{ "index": { "byteStart": 0, "byteEnd": end }, "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": brand_did }] }]
            }
        }))
        .send()
        .await
        .expect("alice posts");
    assert!(answer.status().is_success(), "{}", answer.status());
    let v: Value = answer.json().await.expect("json");
    v["uri"].as_str().expect("uri").to_string()
}

/// The brand's Mastodon statuses answering `status_id`.
pub async fn mastodon_replies_to(p: &crate::peers::Peers, status_id: &str) -> Vec<Value> {
    p.mastodon_statuses("brand-token")
        .await
        .into_iter()
        .filter(|s| s["in_reply_to_id"].as_str() == Some(status_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_become_drafts_one_is_approved_edited_one_rejected_and_one_reply_is_threaded() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let ws = workspace(&p);
    let nonce = format!("{:x}", fastrand::u64(..));
    let sky_uri = bluesky_mention(
        &p,
        &format!("@brand.test 想下个月试驾艾睿雅，怎么预约？{nonce}"),
    )
    .await;
    let masto_id = mastodon_mention(&p, &format!("@brand 请问周末店里几点开门？{nonce}")).await;
    run_until(&ws, "draft both mentions", || {
        try_items(&ws, &nonce).is_some_and(|f| f.len() == 2)
    });

    let found = items(&ws, &nonce);
    assert_eq!(found.len(), 2, "one draft per mention: {found:#?}");
    let by_platform = |pl: &str| {
        found
            .iter()
            .find(|i| i["platform"] == pl)
            .unwrap_or_else(|| panic!("no {pl} draft: {found:#?}"))
            .clone()
    };
    let (sky, masto) = (by_platform("bluesky"), by_platform("mastodon"));
    assert_eq!(sky["state"], "pending");
    assert_eq!(sky["priority"], "lead");
    assert_eq!(sky["template"], "lead-zh");
    assert_eq!(sky["channel"], "sky");
    assert!(
        sky["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("@alice.test ") && t.contains("艾睿雅")),
        "{sky:#?}"
    );
    assert_eq!(masto["priority"], "question");
    assert_eq!(masto["channel"], "masto");
    assert_eq!(
        masto["mention_id"]
            .as_str()
            .map(|m| m.ends_with(&format!(":{masto_id}"))),
        Some(true)
    );

    let sky_id = sky["id"].as_u64().expect("id");
    let masto_item = masto["id"].as_u64().expect("id");
    // Deciding needs a name for the audit log.
    let anonymous = queue(&ws, &["approve", &sky_id.to_string()]);
    assert_eq!(anonymous.code, 1, "{}", anonymous.stdout);
    assert!(anonymous.stderr.contains("--as"), "{}", anonymous.stderr);

    let edited =
        format!("@alice.test 您好，感谢关注艾睿雅！销售顾问今天会联系您安排试驾。{nonce}-reply");
    let run = queue(
        &ws,
        &[
            "edit",
            &sky_id.to_string(),
            &edited,
            "--approve",
            "--as",
            "mei",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = queue(
        &ws,
        &[
            "reject",
            &masto_item.to_string(),
            "--reason",
            "answered by phone",
            "--as",
            "mei",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A rejected reply cannot be approved afterwards.
    let late = queue(&ws, &["approve", &masto_item.to_string(), "--as", "mei"]);
    assert_eq!(late.code, 1);

    let run = queue(&ws, &["send"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Sending again changes nothing: once.
    let run = queue(&ws, &["send"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let sky_after = show(&ws, sky_id);
    assert_eq!(sky_after["state"], "sent", "{sky_after:#?}");
    assert_eq!(sky_after["text"], edited.as_str());
    // Exactly one reply on Bluesky, with the edited text, threaded under the mention.
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    let replies: Vec<Value> = p
        .bsky_posts(&brand_did)
        .await
        .into_iter()
        .filter(|r| {
            r["value"]["text"]
                .as_str()
                .is_some_and(|t| t.contains(&format!("{nonce}-reply")))
        })
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    let mention = p.bsky_record(&sky_uri).await;
    let reply = &replies[0]["value"]["reply"];
    assert_eq!(reply["parent"]["uri"], sky_uri.as_str());
    assert_eq!(reply["parent"]["cid"], mention["cid"]);
    assert_eq!(
        reply["root"]["uri"],
        sky_uri.as_str(),
        "the mention starts its thread"
    );
    assert_eq!(reply["root"]["cid"], mention["cid"]);
    assert_eq!(sky_after["remote_id"], replies[0]["uri"]);
    // Nothing on Mastodon for the rejected one.
    assert!(mastodon_replies_to(&p, &masto_id).await.is_empty());

    // The audit log: drafted by herald, approved with the edit by mei (text before and after),
    // then claimed and sent by herald; the other drafted, then rejected by mei.
    let actions = |item: &Value| -> Vec<(String, String)> {
        item["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .map(|e| {
                (
                    e["who"].as_str().unwrap_or("").to_string(),
                    e["action"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let pair = |w: &str, a: &str| (w.to_string(), a.to_string());
    assert_eq!(
        actions(&sky_after),
        [
            pair("herald", "draft"),
            pair("mei", "approve"),
            pair("herald", "claim"),
            pair("herald", "sent")
        ]
    );
    let approve = &sky_after["audit"][1];
    assert_eq!(approve["text_before"], sky["text"]);
    assert_eq!(approve["text_after"], edited.as_str());
    assert_eq!(
        (approve["from"].as_str(), approve["to"].as_str()),
        (Some("pending"), Some("approved"))
    );
    let masto_after = show(&ws, masto_item);
    assert_eq!(masto_after["state"], "rejected");
    assert_eq!(
        actions(&masto_after),
        [pair("herald", "draft"), pair("mei", "reject")]
    );
    assert_eq!(masto_after["audit"][1]["note"], "answered by phone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_reply_survives_a_kill_at_a_random_moment_and_is_sent_once() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let ws = workspace(&p);
    let nonce = format!("{:x}", fastrand::u64(..));
    let masto_id = mastodon_mention(&p, &format!("@brand 请问首保是多少公里做？{nonce}")).await;
    run_until(&ws, "draft the mention", || {
        try_items(&ws, &nonce).is_some_and(|f| !f.is_empty())
    });
    let found = items(&ws, &nonce);
    assert_eq!(found.len(), 1, "{found:#?}");
    let id = found[0]["id"].as_u64().expect("id").to_string();
    let run = queue(&ws, &["approve", &id, "--as", "mei"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // Killed (no chance to clean up) somewhere between start-up and well after the send.
    let mut child = spawn_run(&ws);
    let after = fastrand::u64(300..4000);
    std::thread::sleep(Duration::from_millis(after));
    stop(&mut child, "-KILL");
    // Restarted: it reconciles and finishes.
    run_until(&ws, "send the approved reply", || {
        let run = queue(&ws, &["show", &id, "--json"]);
        run.code == 0
            && serde_json::from_str::<Value>(&run.stdout).is_ok_and(|i| i["state"] == "sent")
    });

    let item = show(&ws, id.parse().expect("id"));
    assert_eq!(item["state"], "sent", "killed after {after} ms: {item:#?}");
    let replies = mastodon_replies_to(&p, &masto_id).await;
    assert_eq!(replies.len(), 1, "killed after {after} ms: {replies:#?}");
    assert_eq!(item["remote_id"], replies[0]["id"]);
}

#[test]
fn check_names_file_line_key_and_why_for_a_bad_replies_file() {
    let ws = Workspace::new();
    let good = ws.read("keywords/replies.toml");
    let line = good
        .lines()
        .position(|l| l.starts_with("name = \"complaint-zh\""))
        .expect("complaint-zh")
        + 1;
    ws.edit(
        "keywords/replies.toml",
        "name = \"complaint-zh\"\nintents = [\"complaint\"]",
        "name = \"complaint-zh\"\nintents = [\"complain\"]",
    );
    let run = ws.herald(&["check", "--days", "1"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    let want = format!("replies.toml:{}:", line + 1);
    let hit = all
        .lines()
        .find(|l| l.contains(&want))
        .unwrap_or_else(|| panic!("no {want} in {all}"));
    assert!(hit.contains("templates["), "{hit}");
    assert!(
        hit.contains("intents[0]: \"complain\" is not an intent"),
        "{hit}"
    );

    // A template test case that no longer holds fails `herald check` too.
    let ws = Workspace::new();
    ws.edit(
        "keywords/replies.toml",
        "expect = \"praise-en\"\ncontains = [\"kind words\"]",
        "expect = \"praise-en\"\ncontains = [\"a phrase the template lacks\"]",
    );
    let run = ws.herald(&["check", "--days", "1"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("the reply lacks [\"a phrase the template lacks\"]"),
        "{}",
        run.stdout
    );
}

/// `herald queue attach`: a picture of the media library goes on a pending reply with its alt
/// text (audited with who), the same checks as the web UI refuse the rest, and no FILE
/// removes it.
#[test]
fn queue_attach_puts_a_library_picture_on_a_reply_with_its_alt_text() {
    let ws = Workspace::new();
    let media = ws.path().join("content-plan/media");
    std::fs::create_dir_all(&media).expect("mkdir");
    std::fs::write(
        media.join("snow.png"),
        crate::web::media::picture(64, 48, image::ImageFormat::Png),
    )
    .expect("write");
    std::fs::write(media.join("notes.txt"), "words").expect("write");
    let id = {
        let store = ws.store();
        let item = crate::web::inbox::item(
            "m-cli-attach",
            ("mastodon", "zh", herald::inbox::Priority::Question),
            "雪地能开吗？",
            chrono::Utc::now(),
        );
        store.queue().enqueue(&item).expect("enqueue").expect("new")
    };
    let id = id.to_string();
    let attach = |args: &[&str]| {
        let mut all = vec!["queue", "--as", "mei", "attach", id.as_str()];
        all.extend_from_slice(args);
        ws.herald(&all)
    };
    for (args, says) in [
        (&["snow.png"][..], "the picture needs an alt text"),
        (
            &["snow.png", "--alt", "  "][..],
            "the picture needs an alt text",
        ),
        (
            &["../herald.toml", "--alt", "x"][..],
            "is not a JPEG, PNG, WebP or GIF picture",
        ),
        (
            &["notes.txt", "--alt", "x"][..],
            "is not a JPEG, PNG, WebP or GIF picture",
        ),
    ] {
        let run = attach(args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let run = attach(&["snow.png", "--alt", "雪地里的奇骏"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("pending (attach by mei)"),
        "{}",
        run.stdout
    );
    let shown = ws.herald(&["queue", "show", &id]);
    assert!(
        shown
            .stdout
            .contains("picture: snow.png (alt: 雪地里的奇骏)"),
        "{}",
        shown.stdout
    );
    let json: Value =
        serde_json::from_str(&ws.herald(&["queue", "show", &id, "--json"]).stdout).expect("json");
    assert_eq!(
        json["media"],
        serde_json::json!({"file": "snow.png", "alt": "雪地里的奇骏"})
    );
    assert_eq!(json["audit"][1]["who"], "mei");
    assert_eq!(json["audit"][1]["note"], "snow.png: 雪地里的奇骏");

    assert_eq!(attach(&[]).code, 0);
    let json: Value =
        serde_json::from_str(&ws.herald(&["queue", "show", &id, "--json"]).stdout).expect("json");
    assert_eq!(json.get("media"), None);
}
