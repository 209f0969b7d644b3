//! Alert delivery: every sink against a local capture server (wiremock) that checks the body
//! and recomputes the signature, the retry and give-up paths, the rate limit, redelivery after
//! a crash, and e-mail against the real SMTP server the suite starts (aiosmtpd).
//!
//! Time is an injected clock the tests move by hand, so backoff and rate limits are checked
//! exactly, without sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use herald::clock::Clock;
use herald::crisis::notify::{
    dingtalk, email, feishu, raise, slack, webhook, wecom, AlertsConfig, Deliverer,
    DeliverySettings, Outcome, RateLimit, Sink, SinkConfig, SinkKind, SmtpTls,
};
use herald::store::{AlertChange, AlertEvent, AlertLevel, DeliveryState, Store};

use crate::helpers::{TestDb, Workspace};

/// A clock the test sets.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(t("2026-11-23T01:00:00Z"))))
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock") = at;
    }
    fn advance(&self, d: TimeDelta) {
        let now = self.now();
        self.set(now + d);
    }
    fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || *c.lock().expect("clock"))
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn event(id: &str, level: AlertLevel) -> AlertEvent {
    AlertEvent {
        id: id.into(),
        topic: "brand/刹车".into(),
        level,
        opened_at: t("2026-11-23T00:58:00Z"),
        window_start: t("2026-11-23T00:45:00Z"),
        negative: 37,
        total: 52,
        baseline: 4.0,
        sample: vec![],
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn settings() -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_secs(10),
        max_attempts: 4,
        backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(600),
    }
}

/// A fresh store, with one alert queued for `sink`.
fn store_with_alert(db: &TestDb, id: &str, sink: &str, clock: &TestClock) -> Store {
    let store = db.open();
    store
        .alerts()
        .upsert(
            &event(id, AlertLevel::Crisis),
            &[herald::store::AlertSample {
                id: "m1".into(),
                author: "angry<user>".into(),
                text:
                    "<!channel> brakes failed on the highway\n[scam](http://evil.example) 刹车失灵"
                        .into(),
                url: None,
            }],
            &[sink.to_string()],
            clock.now(),
        )
        .expect("upsert");
    store
}

fn deliverer(store: &Store, name: &str, sink: Sink, clock: &TestClock) -> Deliverer {
    Deliverer::new(
        store.clone(),
        vec![(name.to_string(), sink, RateLimit::new(vec![]))],
        settings(),
        Some(Url::parse("https://herald.example/alerts").expect("url")),
        clock.clock(),
    )
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json body"))
        .collect()
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn wecom_text_carries_the_facts_and_the_mobiles() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/webhook/send"))
        .and(query_param("key", "robot-key-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"errcode":0,"errmsg":"ok"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "wc-1", "wecom", &clock);
    let sink = Sink::WeCom(wecom::WeCom::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "robot-key-1".into(),
        false,
        vec!["13800000000".into()],
    ));
    let d = deliverer(&store, "wecom", sink, &clock);
    let done = d.execute_due().await.expect("execute");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, Outcome::Sent);

    let body = &bodies(&server).await[0];
    assert_eq!(body["msgtype"], "text");
    let content = body["text"]["content"].as_str().expect("content");
    for fact in [
        "[CRISIS 危机] brand/刹车",
        "37 of 52",
        "baseline 基线 4.0",
        "2026-11-23 00:45",
        "https://herald.example/alerts/wc-1",
        "angry<user>: <!channel> brakes failed on the highway [scam](http://evil.example) 刹车失灵",
    ] {
        assert!(content.contains(fact), "{fact:?} missing from {content}");
    }
    assert_eq!(
        body["text"]["mentioned_mobile_list"],
        serde_json::json!(["13800000000"])
    );
    let stored = store.alerts().deliveries("wc-1").expect("deliveries");
    assert_eq!(stored[0].state, DeliveryState::Sent);
    assert_eq!(stored[0].attempts, 1);
    assert_eq!(stored[0].sent_at, Some(clock.now()));
}

#[tokio::test]
async fn wecom_markdown_escapes_the_sample() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"errcode":0})))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "wc-md", "wecom", &clock);
    let sink = Sink::WeCom(wecom::WeCom::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "k".into(),
        true,
        vec![],
    ));
    let done = deliverer(&store, "wecom", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);
    let body = &bodies(&server).await[0];
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().expect("content");
    assert!(content.contains("37 of 52"), "{content}");
    assert!(
        !content.contains("[scam](http://evil.example)"),
        "a sample must not make a link: {content}"
    );
    assert!(content.contains("\\[scam\\]"), "{content}");
    assert!(content.contains("angry&lt;user&gt;"), "{content}");
}

#[tokio::test]
async fn wecom_errcodes_decide_between_retry_and_giving_up() {
    // 45009: over the robot's rate; retried a minute later. 93000: bad key; given up.
    for (code, want_retry) in [(45009, true), (93000, false)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"errcode": code, "errmsg": "nope"})),
            )
            .mount(&server)
            .await;
        let clock = TestClock::new();
        let db = TestDb::new();
        let store = store_with_alert(&db, "wc-err", "wecom", &clock);
        let sink = Sink::WeCom(wecom::WeCom::new(
            http(),
            Url::parse(&server.uri()).expect("url"),
            "k".into(),
            false,
            vec![],
        ));
        let done = deliverer(&store, "wecom", sink, &clock)
            .execute_due()
            .await
            .expect("execute");
        let stored = &store.alerts().deliveries("wc-err").expect("d")[0];
        if want_retry {
            assert!(
                matches!(&done[0].1, Outcome::Retrying { at, .. } if *at == clock.now() + TimeDelta::seconds(60)),
                "{:?}",
                done[0].1
            );
            assert_eq!(stored.state, DeliveryState::Pending);
        } else {
            assert!(
                matches!(&done[0].1, Outcome::Failed(w) if w.contains("93000")),
                "{:?}",
                done[0].1
            );
            assert_eq!(stored.state, DeliveryState::Failed);
            assert!(stored.last_error.as_deref().unwrap_or("").contains("93000"));
        }
    }
}

#[tokio::test]
async fn dingtalk_request_is_signed_as_dingtalk_checks_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/robot/send"))
        .and(query_param("access_token", "ding-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"errcode":0,"errmsg":"ok"})),
        )
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "dt-1", "ding", &clock);
    let secret = "SEC0123456789abcdef";
    let sink = Sink::DingTalk(dingtalk::DingTalk::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "ding-token".into(),
        Some(secret.into()),
        vec!["13900000000".into()],
    ));
    let done = deliverer(&store, "ding", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);

    let requests = server.received_requests().await.expect("recording");
    let req = &requests[0];
    let query: std::collections::HashMap<String, String> =
        req.url.query_pairs().into_owned().collect();
    let ts = &query["timestamp"];
    assert_eq!(ts, &clock.now().timestamp_millis().to_string());
    // What DingTalk does: HMAC-SHA256 over "timestamp\nsecret" keyed by the secret, base64;
    // query_pairs has already URL-decoded the sign.
    let want = hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
    assert_eq!(query["sign"], want);
    // And on the wire it is URL-encoded (base64's '+', '/' and '=' must not appear raw).
    let raw_sign = req
        .url
        .query()
        .expect("query")
        .split('&')
        .find_map(|kv| kv.strip_prefix("sign="))
        .expect("sign");
    assert!(!raw_sign.contains(['+', '/', '=']), "{raw_sign}");

    let body: Value = serde_json::from_slice(&req.body).expect("json");
    assert_eq!(body["msgtype"], "text");
    assert_eq!(body["at"]["atMobiles"], serde_json::json!(["13900000000"]));
    assert_eq!(body["at"]["isAtAll"], false);
    let content = body["text"]["content"].as_str().expect("content");
    assert!(
        content.contains("37 of 52") && content.contains("@13900000000"),
        "{content}"
    );
}

#[tokio::test]
async fn feishu_request_is_signed_as_feishu_checks_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/bot/v2/hook/hook-id-42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"code":0,"msg":"success","data":{}})),
        )
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "fs-1", "lark", &clock);
    let secret = "feishu-secret";
    let sink = Sink::Feishu(feishu::Feishu::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "hook-id-42".into(),
        Some(secret.into()),
    ));
    let done = deliverer(&store, "lark", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);
    let body = &bodies(&server).await[0];
    let ts = body["timestamp"].as_str().expect("timestamp is a string");
    assert_eq!(ts, clock.now().timestamp().to_string());
    // Feishu's check: HMAC-SHA256 keyed by "timestamp\nsecret" over nothing, base64.
    assert_eq!(
        body["sign"],
        hmac_b64(format!("{ts}\n{secret}").as_bytes(), b"")
    );
    assert_eq!(body["msg_type"], "text");
    assert!(body["content"]["text"]
        .as_str()
        .expect("text")
        .contains("37 of 52"));
}

#[tokio::test]
async fn feishu_bad_signature_answer_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}),
        ))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "fs-bad", "lark", &clock);
    let sink = Sink::Feishu(feishu::Feishu::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "h".into(),
        Some("wrong".into()),
    ));
    let done = deliverer(&store, "lark", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert!(
        matches!(&done[0].1, Outcome::Failed(w) if w.contains("19021")),
        "{:?}",
        done[0].1
    );
    assert!(store
        .alerts()
        .due_deliveries(clock.now() + TimeDelta::days(1))
        .expect("due")
        .is_empty());
}

#[tokio::test]
async fn slack_gets_text_and_blocks_with_escaped_samples() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/XYZ"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "sl-1", "slack", &clock);
    let url = Url::parse(&format!("{}/services/T0/B0/XYZ", server.uri())).expect("url");
    let sink = Sink::Slack(slack::Slack::new(http(), url));
    let done = deliverer(&store, "slack", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);
    let body = &bodies(&server).await[0];
    let text = body["text"].as_str().expect("text");
    assert!(text.contains("37 of 52"), "{text}");
    assert!(
        !text.contains("<!channel>"),
        "a sample must not ping the channel: {text}"
    );
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    assert!(
        text.contains("<https://herald.example/alerts/sl-1|Details 详情>"),
        "{text}"
    );
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
    assert_eq!(body["blocks"][1]["text"]["text"], text);
}

#[tokio::test]
async fn slack_429_waits_for_retry_after_then_delivers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_string("rate_limited"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "sl-429", "slack", &clock);
    let sink = Sink::Slack(slack::Slack::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
    ));
    let d = deliverer(&store, "slack", sink, &clock);
    let first = d.execute_due().await.expect("execute");
    let retry_at = clock.now() + TimeDelta::seconds(7);
    assert!(
        matches!(&first[0].1, Outcome::Retrying { at, .. } if *at == retry_at),
        "{:?}",
        first[0].1
    );
    // Not due a second early.
    clock.set(retry_at - TimeDelta::seconds(1));
    assert!(d.execute_due().await.expect("execute").is_empty());
    clock.set(retry_at);
    let second = d.execute_due().await.expect("execute");
    assert_eq!(second[0].1, Outcome::Sent);
    assert_eq!(server.received_requests().await.expect("rec").len(), 2);
    assert_eq!(
        store.alerts().deliveries("sl-429").expect("d")[0].attempts,
        2
    );
}

#[tokio::test]
async fn webhook_is_signed_and_keeps_its_idempotency_key_across_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "wh-1", "hook", &clock);
    let sink = Sink::Webhook(webhook::Webhook::new(
        http(),
        Url::parse(&format!("{}/alerts", server.uri())).expect("url"),
        Some("hook-secret".into()),
    ));
    let d = deliverer(&store, "hook", sink, &clock);
    let first = d.execute_due().await.expect("execute");
    let Outcome::Retrying { at, .. } = first[0].1.clone() else {
        panic!("{:?}", first[0].1)
    };
    // First backoff: 10 s ± 20 %.
    let wait = (at - clock.now()).num_milliseconds();
    assert!((8_000..=12_000).contains(&wait), "{wait} ms");
    clock.set(at);
    assert_eq!(d.execute_due().await.expect("execute")[0].1, Outcome::Sent);

    let requests = server.received_requests().await.expect("rec");
    assert_eq!(requests.len(), 2);
    let keys: Vec<_> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .expect("key")
                .to_str()
                .expect("ascii")
                .to_string()
        })
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], "wh-1/0/hook");
    for r in &requests {
        let ts = r
            .headers
            .get("x-herald-timestamp")
            .expect("ts")
            .to_str()
            .expect("ascii");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"hook-secret").expect("key");
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&r.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            r.headers
                .get("x-herald-signature")
                .expect("sig")
                .to_str()
                .expect("ascii"),
            want
        );
    }
    let body: Value = serde_json::from_slice(&requests[1].body).expect("json");
    assert_eq!(body["event"], "alert.opened");
    assert_eq!(body["level"], "crisis");
    assert_eq!(body["alert"]["id"], "wh-1");
    assert_eq!(body["alert"]["negative"], 37);
}

#[tokio::test]
async fn server_errors_back_off_exponentially_then_give_up() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "wh-500", "hook", &clock);
    let sink = Sink::Webhook(webhook::Webhook::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        None,
    ));
    let d = deliverer(&store, "hook", sink, &clock);
    // max_attempts = 4: three retries with 10, 20, 40 s (±20 %), then failed.
    for base in [10_000i64, 20_000, 40_000] {
        let done = d.execute_due().await.expect("execute");
        let Outcome::Retrying { at, error } = done[0].1.clone() else {
            panic!("{:?}", done[0].1)
        };
        assert!(error.contains("500"), "{error}");
        let wait = (at - clock.now()).num_milliseconds();
        assert!(
            (base * 8 / 10..=base * 12 / 10).contains(&wait),
            "wait {wait} ms for base {base}"
        );
        clock.set(at);
    }
    let done = d.execute_due().await.expect("execute");
    assert!(
        matches!(&done[0].1, Outcome::Failed(w) if w.contains("gave up after 4 attempts")),
        "{:?}",
        done[0].1
    );
    assert_eq!(server.received_requests().await.expect("rec").len(), 4);
    assert!(d.execute_due().await.expect("execute").is_empty());
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "sl-404", "slack", &clock);
    let sink = Sink::Slack(slack::Slack::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
    ));
    let done = deliverer(&store, "slack", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert!(
        matches!(&done[0].1, Outcome::Failed(w) if w.contains("no_service")),
        "{:?}",
        done[0].1
    );
    let stored = &store.alerts().deliveries("sl-404").expect("d")[0];
    assert_eq!((stored.state, stored.attempts), (DeliveryState::Failed, 1));
}

#[tokio::test]
async fn the_wecom_rate_limit_holds_the_21st_message_for_a_minute() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"errcode":0})))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = db.open();
    for i in 0..21 {
        store
            .alerts()
            .upsert(
                &event(&format!("rl-{i:02}"), AlertLevel::Warning),
                &[],
                &["wecom".to_string()],
                clock.now(),
            )
            .expect("upsert");
    }
    let sink = Sink::WeCom(wecom::WeCom::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
        "k".into(),
        false,
        vec![],
    ));
    // The service's own limit, as the configured sink gets it.
    let limit = sink.rate_limit(None);
    let d = Deliverer::new(
        store.clone(),
        vec![("wecom".into(), sink, limit)],
        settings(),
        None,
        clock.clock(),
    );
    let start = clock.now();
    let done = d.execute_due().await.expect("execute");
    let sent = done.iter().filter(|(_, o)| *o == Outcome::Sent).count();
    let deferred: Vec<_> = done
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Deferred { until } => Some(*until),
            _ => None,
        })
        .collect();
    assert_eq!((sent, deferred.len()), (20, 1));
    assert_eq!(deferred[0], start + TimeDelta::minutes(1));
    assert_eq!(server.received_requests().await.expect("rec").len(), 20);
    // A deferral is not an attempt.
    let held = store
        .alerts()
        .deliveries("rl-20")
        .expect("d")
        .pop()
        .expect("one");
    assert_eq!((held.attempts, held.state), (0, DeliveryState::Pending));

    clock.advance(TimeDelta::seconds(59));
    assert!(d.execute_due().await.expect("execute").is_empty());
    clock.advance(TimeDelta::seconds(1));
    let done = d.execute_due().await.expect("execute");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, Outcome::Sent);
    assert_eq!(server.received_requests().await.expect("rec").len(), 21);
}

#[tokio::test]
async fn an_alert_persisted_before_a_crash_is_delivered_after_restart() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let config = AlertsConfig {
        sinks: vec![SinkConfig {
            name: "slack".into(),
            levels: vec![AlertLevel::Crisis],
            per_minute: None,
            kind: SinkKind::Slack {
                url_env: "UNUSED".into(),
            },
        }],
        ..AlertsConfig::default()
    };
    {
        // The process that raised the alerts dies before any delivery worker ran.
        let store = db.open();
        let wake = tokio::sync::Notify::new();
        let warning = raise(
            &store,
            &config,
            &event("crash-1", AlertLevel::Warning),
            clock.now(),
            &wake,
        )
        .expect("raise");
        assert!(matches!(warning, AlertChange::Opened(_)));
        assert!(
            store.alerts().deliveries("crash-1").expect("d").is_empty(),
            "this sink only wants crises"
        );
        let crisis = raise(
            &store,
            &config,
            &event("crash-1", AlertLevel::Crisis),
            clock.now(),
            &wake,
        )
        .expect("raise");
        assert!(matches!(crisis, AlertChange::Escalated(_)));
        assert_eq!(store.alerts().deliveries("crash-1").expect("d").len(), 1);
    }
    let store = db.open();
    assert_eq!(
        store
            .alerts()
            .get("crash-1")
            .expect("get")
            .expect("kept")
            .history
            .len(),
        2
    );
    let sink = Sink::Slack(slack::Slack::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
    ));
    let done = deliverer(&store, "slack", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, Outcome::Sent);
    let body = &bodies(&server).await[0];
    assert!(
        body["text"].as_str().expect("text").contains("escalated"),
        "{body}"
    );
}

#[tokio::test]
async fn the_worker_wakes_on_raise_and_stops_on_shutdown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let db = TestDb::new();
    let store = db.open();
    let config = AlertsConfig {
        sinks: vec![SinkConfig {
            name: "slack".into(),
            levels: vec![AlertLevel::Warning, AlertLevel::Crisis],
            per_minute: None,
            kind: SinkKind::Slack {
                url_env: "UNUSED".into(),
            },
        }],
        ..AlertsConfig::default()
    };
    let sink = Sink::Slack(slack::Slack::new(
        http(),
        Url::parse(&server.uri()).expect("url"),
    ));
    let deliverer = Deliverer::new(
        store.clone(),
        vec![("slack".into(), sink, RateLimit::new(vec![]))],
        settings(),
        None,
        herald::clock::system_clock(),
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn({
        let (wake, shutdown) = (wake.clone(), shutdown.clone());
        async move { deliverer.run(wake, shutdown).await }
    });
    // Nothing queued yet: the worker sleeps (for an hour) until woken.
    raise(
        &store,
        &config,
        &event("run-1", AlertLevel::Warning),
        Utc::now(),
        &wake,
    )
    .expect("raise");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = store.alerts().deliveries("run-1").expect("d");
        if d[0].state == DeliveryState::Sent {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the worker stops on shutdown")
        .expect("no panic");
    assert_eq!(server.received_requests().await.expect("rec").len(), 1);
}

#[tokio::test]
async fn a_sink_without_its_secret_fails_its_deliveries_without_leaking_anything() {
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "nosecret", "wecom", &clock);
    let config = AlertsConfig {
        sinks: vec![SinkConfig {
            name: "wecom".into(),
            levels: vec![AlertLevel::Crisis],
            per_minute: None,
            kind: SinkKind::WeCom {
                base_url: Url::parse("http://127.0.0.1:9").expect("url"),
                key_env: "HERALD_TEST_ALERTS_NEVER_SET_KEY".into(),
                markdown: false,
                mobiles: vec![],
            },
        }],
        ..AlertsConfig::default()
    };
    let (d, problems) = Deliverer::from_config(store.clone(), &config, clock.clock());
    assert_eq!(problems.len(), 1);
    assert!(problems[0]
        .1
        .to_string()
        .contains("HERALD_TEST_ALERTS_NEVER_SET_KEY"));
    let done = d.execute_due().await.expect("execute");
    assert!(
        matches!(&done[0].1, Outcome::Failed(w) if w.contains("HERALD_TEST_ALERTS_NEVER_SET_KEY")),
        "{:?}",
        done[0].1
    );
}

#[tokio::test]
async fn a_key_in_the_url_never_reaches_errors_or_debug_output() {
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused.
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "leak", "wecom", &clock);
    let key = "wecom-robot-key-5ecret";
    let sink = Sink::WeCom(wecom::WeCom::new(
        http(),
        Url::parse("http://127.0.0.1:9").expect("url"),
        key.into(),
        false,
        vec![],
    ));
    assert!(!format!("{sink:?}").contains(key));
    let done = deliverer(&store, "wecom", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    let Outcome::Retrying { error, .. } = &done[0].1 else {
        panic!("{:?}", done[0].1)
    };
    assert!(error.contains("connect"), "{error}");
    assert!(!error.contains(key), "{error}");
    let stored = &store.alerts().deliveries("leak").expect("d")[0];
    assert!(!stored.last_error.as_deref().unwrap_or("").contains(key));

    let smtp = email::SmtpSettings {
        host: "127.0.0.1".into(),
        port: 9,
        tls: SmtpTls::None,
        username: Some("bot".into()),
        password: Some("smtp-pa55word".into()),
        timeout: Duration::from_secs(5),
        ca_file: None,
    };
    let mail =
        email::Email::new(smtp, "bot@example.com", &["ops@example.com".into()]).expect("email");
    assert!(!format!("{mail:?}").contains("smtp-pa55word"));
}

/// Decodes what an e-mail's body may be sent as: 7bit, base64 or quoted-printable.
fn decode_body(headers: &str, body: &str) -> String {
    let h = headers.to_ascii_lowercase();
    if h.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .expect("base64"),
        )
        .expect("utf-8")
    } else if h.contains("content-transfer-encoding: quoted-printable") {
        let soft = body.replace("=\r\n", "").replace("=\n", "");
        let mut out = Vec::new();
        let bytes = soft.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    } else {
        body.to_string()
    }
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`) in a header value.
pub(crate) fn decode_header(value: &str) -> String {
    value
        .split_whitespace()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if lower.starts_with("=?utf-8?b?") && w.ends_with("?=") {
                let b = &w[10..w.len() - 2];
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .expect("b64 word"),
                )
                .expect("utf-8")
            } else {
                format!("{w} ")
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server() {
    let addr = std::env::var("HERALD_TEST_SMTP_ADDR").unwrap_or_else(|_| {
        panic!("HERALD_TEST_SMTP_ADDR is not set: run the tests with the peers up: bash tests/peers/with-peers.sh cargo test")
    });
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let clock = TestClock::new();
    let db = TestDb::new();
    // A unique id, so this test finds its own message among others in the Maildir.
    let id = unique("mail");
    let store = store_with_alert(&db, &id, "mail", &clock);
    let config = SinkConfig {
        name: "mail".into(),
        levels: vec![AlertLevel::Crisis],
        per_minute: None,
        kind: SinkKind::Email {
            host: host.into(),
            port: port.parse().expect("port"),
            tls: SmtpTls::None,
            username: None,
            password_env: None,
            from: "herald alerts <herald@brand.test>".into(),
            to: vec!["ops@brand.test".into(), "pr@brand.test".into()],
            ca_file: None,
        },
    };
    let sink = Sink::from_config(&config, Duration::from_secs(10)).expect("sink");
    let done = deliverer(&store, "mail", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);

    let (headers, body) = received(&id);
    let header = |name: &str| {
        let mut value = String::new();
        let mut on = false;
        for line in headers.lines() {
            if on && line.starts_with([' ', '\t']) {
                value.push_str(line);
                continue;
            }
            on = line
                .to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()));
            if on {
                value = line[name.len() + 1..].trim().to_string();
            }
        }
        value
    };
    assert_eq!(header("X-MailFrom"), "herald@brand.test");
    assert_eq!(header("X-RcptTo"), "ops@brand.test, pr@brand.test");
    assert!(header("From").contains("<herald@brand.test>"), "{headers}");
    assert!(header("To").contains("ops@brand.test"), "{headers}");
    assert_eq!(
        decode_header(&header("Subject")),
        "[CRISIS 危机] brand/刹车"
    );
    assert!(
        header("Content-Type").starts_with("text/plain"),
        "{headers}"
    );
    for fact in [
        "37 of 52",
        "baseline 基线 4.0",
        "刹车失灵",
        "https://herald.example/alerts/",
    ] {
        assert!(body.contains(fact), "{fact:?} missing from {body}");
    }
}

#[test]
fn herald_check_names_line_and_key_of_a_bad_alert_sink() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[alerts]\nui_url = \"https://herald.example/alerts\"\n\n[[alerts.sinks]]\nname = \"ops\"\nkind = \"dingtalk\"\ntoken_env = \"HERALD_DING_TOKEN\"\nsecret_env = \"SECabc123-the-secret-itself\"\nlevels = [\"crisis\", \"meltdown\"]\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(
            "herald.toml:8:1: alerts.sinks[0].secret_env: must name an environment variable"
        ),
        "{out}"
    );
    assert!(
        out.contains("herald.toml:9:1: alerts.sinks[0].levels: \"meltdown\" is not a level"),
        "{out}"
    );
    assert!(!out.contains("SECabc123-the-secret-itself"), "{out}");
}

#[test]
fn the_documented_alerts_example_passes_herald_check() {
    let doc = std::fs::read_to_string(crate::helpers::repo().join("docs/crisis.md"))
        .expect("docs/crisis.md");
    let section = doc
        .split("## Crisis alerts")
        .nth(1)
        .expect("docs/crisis.md has a crisis alerts section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml example");
    let ws = Workspace::new();
    ws.write("herald.toml", example);
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The secrets are not set here: check says so, by variable name.
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(out.contains("HERALD_DINGTALK_SECRET"), "{out}");
}

#[tokio::test]
async fn a_timeout_is_retried_not_dropped() {
    // The server answers after 5 s; the client gives up after 1 s. Whether or not the service
    // got the message, an alert is retried: a duplicate costs less than a lost alert.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("ok")
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "slow", "slack", &clock);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    let sink = Sink::Slack(slack::Slack::new(
        impatient,
        Url::parse(&server.uri()).expect("url"),
    ));
    let done = deliverer(&store, "slack", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    assert!(
        matches!(&done[0].1, Outcome::Retrying { error, .. } if error.contains("timed out")),
        "{:?}",
        done[0].1
    );
    let stored = &store.alerts().deliveries("slow").expect("d")[0];
    assert_eq!((stored.state, stored.attempts), (DeliveryState::Pending, 1));
}

/// The message in the SMTP peer's Maildir whose body mentions `id`: (headers, decoded body).
/// aiosmtpd has stored it by the time the SMTP transaction finished.
pub(crate) fn received(id: &str) -> (String, String) {
    let maildir = std::path::PathBuf::from(
        std::env::var("HERALD_TEST_SMTP_MAILDIR").expect("HERALD_TEST_SMTP_MAILDIR"),
    );
    let mut found = None;
    for entry in std::fs::read_dir(maildir.join("new")).expect("maildir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        let (headers, body) = text
            .split_once("\n\n")
            .or_else(|| text.split_once("\r\n\r\n"))
            .expect("headers and body");
        let body = decode_body(headers, body);
        if body.contains(id) {
            assert!(found.is_none(), "two messages for {id}");
            found = Some((headers.to_string(), body));
        }
    }
    found.unwrap_or_else(|| panic!("no message for {id} in the Maildir"))
}

fn starttls_sink(password: String) -> Sink {
    let addr = std::env::var("HERALD_TEST_SMTP_STARTTLS_ADDR").unwrap_or_else(|_| {
        panic!("HERALD_TEST_SMTP_STARTTLS_ADDR is not set: run the tests with the peers up: bash tests/peers/with-peers.sh cargo test")
    });
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let settings = email::SmtpSettings {
        host: host.into(),
        port: port.parse().expect("port"),
        tls: SmtpTls::Starttls,
        username: Some(std::env::var("HERALD_TEST_SMTP_USER").expect("HERALD_TEST_SMTP_USER")),
        password: Some(password),
        timeout: Duration::from_secs(10),
        ca_file: Some(
            std::env::var("HERALD_TEST_SMTP_CA")
                .expect("HERALD_TEST_SMTP_CA")
                .into(),
        ),
    };
    Sink::Email(Box::new(
        email::Email::new(settings, "herald@brand.test", &["duty@brand.test".into()])
            .expect("email"),
    ))
}

#[tokio::test]
async fn email_over_starttls_with_login_reaches_a_real_smtp_server() {
    // The password comes from the environment variable the peer's env file sets, as
    // password_env would read it.
    let password = std::env::var("HERALD_TEST_SMTP_PASSWORD").expect("HERALD_TEST_SMTP_PASSWORD");
    let clock = TestClock::new();
    let db = TestDb::new();
    let id = unique("mail-tls");
    let store = store_with_alert(&db, &id, "mail", &clock);
    let done = deliverer(&store, "mail", starttls_sink(password), &clock)
        .execute_due()
        .await
        .expect("execute");
    assert_eq!(done[0].1, Outcome::Sent);
    let (headers, body) = received(&id);
    assert!(headers.contains("X-RcptTo: duty@brand.test"), "{headers}");
    assert!(body.contains("37 of 52"), "{body}");
}

#[tokio::test]
async fn a_wrong_smtp_password_is_a_permanent_failure_that_does_not_show_it() {
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "mail-badpass", "mail", &clock);
    let wrong = "n0t-the-passw0rd".to_string();
    let done = deliverer(&store, "mail", starttls_sink(wrong.clone()), &clock)
        .execute_due()
        .await
        .expect("execute");
    let Outcome::Failed(why) = &done[0].1 else {
        panic!("{:?}", done[0].1)
    };
    assert!(why.contains("535"), "{why}");
    assert!(!why.contains(&wrong), "{why}");
}

#[tokio::test]
async fn starttls_refuses_a_server_whose_certificate_is_not_trusted() {
    // Without ca_file the test CA is unknown: the message must not go out unencrypted.
    let addr =
        std::env::var("HERALD_TEST_SMTP_STARTTLS_ADDR").expect("HERALD_TEST_SMTP_STARTTLS_ADDR");
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let settings = email::SmtpSettings {
        host: host.into(),
        port: port.parse().expect("port"),
        tls: SmtpTls::Starttls,
        username: None,
        password: None,
        timeout: Duration::from_secs(10),
        ca_file: None,
    };
    let sink = Sink::Email(Box::new(
        email::Email::new(settings, "herald@brand.test", &["duty@brand.test".into()])
            .expect("email"),
    ));
    let clock = TestClock::new();
    let db = TestDb::new();
    let store = store_with_alert(&db, "mail-untrusted", "mail", &clock);
    let done = deliverer(&store, "mail", sink, &clock)
        .execute_due()
        .await
        .expect("execute");
    // The handshake is what fails (not, say, the missing login the server also demands).
    let why = match &done[0].1 {
        Outcome::Retrying { error, .. } => error.clone(),
        Outcome::Failed(why) => why.clone(),
        other => panic!("{other:?}"),
    };
    assert!(why.to_lowercase().contains("certificate"), "{why}");
}

/// An alert id no earlier run against the same SMTP peer has used.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}
