//! The live crisis path end to end: complaints posted on a real Mastodon peer → `herald run`
//! picks them up → an alert reaches a capture server → a scheduled product post is held →
//! `herald alerts resolve` (through the running instance's API) → the post goes out.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use herald::store::PostState;
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::Workspace;
use crate::peers::{client, peers};

const TOKEN: &str = "crisis-live-api-token";

async fn api(port: u16, path: &str) -> Value {
    client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json")
}

async fn mention(base: &str, text: &str) {
    let answer = client()
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth("alice-token")
        .json(&serde_json::json!({ "status": text }))
        .send()
        .await
        .expect("alice posts");
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// Kills the child on drop, so a failed assertion does not leave `herald run` behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaints_on_a_peer_raise_a_crisis_hold_a_product_post_until_resolved() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let capture = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&capture)
        .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let ws = Workspace::new();
    // Detector settings small enough that a dozen crisis-term complaints on a cold start are a
    // crisis (the unit test `a_cold_start_burst_is_a_crisis_with_the_end_to_end_settings` uses
    // the same): 10-second buckets so the test takes about a minute and a half, low floors
    // because there is no history to learn from. The defaults stay the measured ones.
    ws.write(
        "herald.toml",
        &format!(
            "[[sources]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"{}\"\ntoken_env = \"HERALD_IT_TOKEN\"\ninterval_seconds = 1\n\n\
             [web]\nbind = \"127.0.0.1:{port}\"\n\n\
             [[alerts.sinks]]\nname = \"capture\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n\n\
             [crisis.detector]\nbucket_secs = 10\nwindows = [1, 3]\nmin_negative = 3\nmin_excess = 2\nwarn_score = 3\ncrisis_min_terms = 2\ncrisis_escalate_terms = 5\n",
            p.mastodon,
            capture.uri()
        ),
    );
    let check = ws.herald(&["check"]);
    assert_ne!(check.code, 2, "{}{}", check.stdout, check.stderr);

    let nonce = format!("{:x}", fastrand::u64(..));
    let start = Utc::now();
    let post_at = start + TimeDelta::seconds(100);
    {
        let store = ws.store();
        let mut post =
            crate::helpers::stored_post("outbox", &format!("product news {nonce}"), post_at);
        post.category = "product".into();
        post.draft = "product/test".into();
        post.state = PostState::Approved; // kept by the re-plan on start
        store.posts().put(&post).expect("put");
    }
    let child = Child(
        Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("run")
            .current_dir(ws.path())
            .env("HERALD_IT_TOKEN", "brand-token")
            .env("HERALD_API_TOKEN", TOKEN)
            .env_remove("HERALD_CONFIG")
            .env("HERALD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(ws.path().join("herald.log")).expect("log"))
            .spawn()
            .expect("herald run"),
    );

    // Once herald answers (its sources start polling with it), a few polls pass: a first poll
    // brings back history, which is not news for the detector. Then one ordinary mention starts
    // the series, and three quiet buckets later, the complaints.
    let deadline = Instant::now() + Duration::from_secs(60);
    while client()
        .get(format!("http://127.0.0.1:{port}/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "herald run did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    mention(&p.mastodon, &format!("@brand 周末去试驾了 {nonce}")).await;
    tokio::time::sleep(Duration::from_secs(37)).await;
    for i in 0..12 {
        mention(
            &p.mastodon,
            &format!("@brand 新车刹车失灵了，还有自燃，要投诉！召回 {nonce}-{i}"),
        )
        .await;
    }

    // The alert reaches the capture server, at level crisis.
    let deadline = Instant::now() + Duration::from_secs(40);
    let alert = loop {
        let got = capture.received_requests().await.unwrap_or_default();
        let found = got.iter().find_map(|r| {
            let v: Value = serde_json::from_slice(&r.body).ok()?;
            (v["level"] == "crisis").then_some(v)
        });
        if let Some(v) = found {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no crisis alert delivered; {} requests; log:\n{}",
            got.len(),
            std::fs::read_to_string(ws.path().join("herald.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(alert["level"], "crisis", "{alert}");

    // The product post is held: the status shows the crisis hold, and it does not go out at
    // its time.
    let status = api(port, "/api/status").await;
    let hold = &status["crisis_hold"];
    assert!(
        hold["categories"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "product")),
        "{status}"
    );
    assert!(
        status["open_alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["level"] == "crisis")),
        "{status}"
    );
    let wait = (post_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(4);
    tokio::time::sleep(wait).await;
    let outbox = ws.path().join("data/outbox.jsonl");
    let sent = |needle: &str| {
        std::fs::read_to_string(&outbox)
            .unwrap_or_default()
            .contains(needle)
    };
    assert!(!sent(&nonce), "the held post went out during the crisis");

    // Resolve every open alert from the terminal: the store is held by `herald run`, so the CLI
    // goes through its control socket.
    let open = api(port, "/api/alerts").await;
    let ids: Vec<String> = open["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect();
    assert!(!ids.is_empty(), "{open}");
    let list = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["alerts", "list"])
        .current_dir(ws.path())
        .env("HERALD_API_TOKEN", TOKEN)
        .env_remove("HERALD_CONFIG")
        .output()
        .expect("alerts list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{listed}");
    assert!(
        ids.iter().all(|id| listed.contains(id.as_str())),
        "{listed}"
    );
    for id in &ids {
        let out = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["alerts", "resolve", id, "--as", "mei"])
            .current_dir(ws.path())
            .env("HERALD_API_TOKEN", TOKEN)
            .env_remove("HERALD_CONFIG")
            .output()
            .expect("alerts resolve");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let record: Value = serde_json::from_slice(&out.stdout).expect("record json");
        assert_eq!(record["state"], "resolved");
        assert_eq!(record["resolved_by"], "mei");
    }
    let status = api(port, "/api/status").await;
    assert!(status["crisis_hold"].is_null(), "{status}");

    // Lifted: the post, a few seconds late, goes out.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sent(&nonce) {
        assert!(
            Instant::now() < deadline,
            "the post did not go out after resolve"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(child);
    let store = ws.store();
    let post = store
        .posts()
        .all()
        .expect("posts")
        .into_iter()
        .find(|p| p.text.contains(&nonce))
        .expect("the post");
    assert_eq!(post.state, PostState::Published);
}

fn alert_event(id: &str, level: herald::store::AlertLevel) -> herald::store::AlertEvent {
    let at = crate::web::at("2026-11-23T01:50:00Z");
    herald::store::AlertEvent {
        id: id.into(),
        topic: "brand".into(),
        level,
        opened_at: at,
        window_start: at,
        negative: 14,
        total: 15,
        baseline: 0.9,
        sample: vec![],
    }
}

#[tokio::test]
async fn the_alerts_api_lists_acks_and_resolves_and_resolve_lifts_only_the_crisis_hold() {
    use herald::store::{AlertLevel, Hold};
    let app = crate::web::App::new();
    let token = Some(crate::web::TOKEN);
    for (id, level) in [
        ("brand-20261123T0150", AlertLevel::Crisis),
        ("brand-20261123T0130", AlertLevel::Warning),
    ] {
        app.store
            .alerts()
            .upsert(&alert_event(id, level), &[], &[], app.now)
            .expect("alert");
    }
    let categories = vec!["product".to_string(), "lifestyle".to_string()];
    assert!(
        herald::crisis::live::sync_crisis_hold(&app.store, &categories, app.now).expect("sync")
    );
    let person = Hold {
        since: app.now,
        reason: "by hand".into(),
        categories: vec!["region".into()],
        alerts: vec![],
    };
    app.store.meta().set_hold(Some(&person)).expect("hold");

    let (status, _, _) = app.api("GET", "/api/alerts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v, _) = app.api("GET", "/api/alerts", token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["crisis_hold"]["alerts"][0], "brand-20261123T0150");

    let (status, v, _) = app.api("POST", "/api/alerts/nope/ack", token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

    let (status, v, _) = app
        .api(
            "POST",
            "/api/alerts/brand-20261123T0150/ack",
            token,
            Some(serde_json::json!({ "by": "mei" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["alert"]["state"], "acknowledged");
    assert_eq!(v["alert"]["acked_by"], "mei");
    let (_, v, _) = app.api("GET", "/api/status", token, None).await;
    assert!(v["crisis_hold"].is_object(), "ack keeps the hold: {v}");
    assert_eq!(v["open_alerts"].as_array().map(Vec::len), Some(2));

    let cookies = app.login().await;
    let page = crate::web::body(app.get("/calendar", &cookies).await).await;
    assert!(
        page.contains("crisis-hold-state"),
        "the calendar shows the crisis hold"
    );

    // Resolving the warning changes nothing about the hold; resolving the crisis lifts it.
    let (status, v, _) = app
        .api(
            "POST",
            "/api/alerts/brand-20261123T0130/resolve",
            token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["crisis_hold"].is_object(), "{v}");
    let (status, v, _) = app
        .api(
            "POST",
            "/api/alerts/brand-20261123T0150/resolve",
            token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["alert"]["state"], "resolved");
    assert_eq!(v["alert"]["resolved_by"], "api");
    assert!(v["crisis_hold"].is_null(), "{v}");
    assert_eq!(app.store.meta().crisis_hold().expect("hold"), None);
    assert_eq!(app.store.meta().hold().expect("hold"), Some(person));

    let page = crate::web::body(app.get("/calendar", &cookies).await).await;
    assert!(!page.contains("crisis-hold-state"));
    let (_, v, _) = app.api("GET", "/api/alerts", token, None).await;
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    let (_, v, _) = app.api("GET", "/api/alerts?all=true", token, None).await;
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(2), "{v}");
}
