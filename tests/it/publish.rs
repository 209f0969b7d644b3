//! Publishing against the real peers: the AT Protocol dev network and mastodon-mock. Stand-in
//! servers (wiremock, or a bare TCP listener) only for faults the peers will not produce on
//! demand or that the test must hold still: an expired access token, a webhook that hangs or
//! drops the connection, a 503 with `Retry-After`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald::clock::{system_clock, Clock};
use herald::publish::bluesky::Bluesky;
use herald::publish::mastodon::Mastodon;
use herald::publish::outbox::Outbox;
use herald::publish::webhook::Webhook;
use herald::publish::worker::{Outcome, Publisher};
use herald::publish::{Channel, OutPost, PublishError, PublishSettings, ReplyTo, StrongRef};
use herald::store::{Hold, PostState, Store, StoredPost};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::helpers::stored_post as stored;
use crate::peers::{client, peers};

fn http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("client")
}

fn bluesky(pds: &str, handle: &str, password: &str) -> Bluesky {
    Bluesky::new(
        http(Duration::from_secs(20)),
        pds.parse().expect("url"),
        handle.into(),
        password.into(),
    )
}

fn mastodon(base: &str, token: &str, timeout: Duration) -> Mastodon {
    Mastodon::new(http(timeout), base.parse().expect("url"), token.into())
}

/// A unique post: the id and text carry a nonce, so runs never see each other's posts.
fn out_post(text: &str) -> OutPost {
    let nonce = format!("{:x}", fastrand::u64(..));
    OutPost {
        id: format!("test@{nonce}"),
        text: text.replace("{n}", &nonce),
        at: Utc::now(),
        lang: Some("zh".into()),
        source_code: format!("test.product.x.{nonce}"),
        ..OutPost::default()
    }
}

#[tokio::test]
async fn bluesky_post_has_facets_replies_thread_and_a_resend_never_duplicates() {
    let p = peers();
    let brand = bluesky(&p.pds, "brand.test", "brand-pass");
    let (alice_did, _) = p.bsky_login("alice.test", "alice-pass").await;
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    let link = "https://jincheng-nissan.example.com/models/x-trail?utm_source=sky&utm_medium=social&utm_campaign=product&utm_content=sky.product.x.{n}";
    let post = out_post(&format!("试驾奇骏 @alice.test 欢迎 #奇骏# {link} 😀 {{n}}"));
    let sent = brand.send(&post).await.expect("published");
    let record = p.bsky_record(&sent.remote_id).await;
    let text = record["value"]["text"].as_str().expect("text").to_string();
    let facets = record["value"]["facets"]
        .as_array()
        .expect("facets")
        .clone();
    let bytes = text.as_bytes();
    let slice = |f: &Value| {
        let (s, e) = (
            f["index"]["byteStart"].as_u64().expect("s") as usize,
            f["index"]["byteEnd"].as_u64().expect("e") as usize,
        );
        String::from_utf8(bytes[s..e].to_vec()).expect("facet on char boundaries")
    };
    let kinds: Vec<(String, Value)> = facets
        .iter()
        .map(|f| (slice(f), f["features"][0].clone()))
        .collect();
    assert_eq!(kinds[0].0, "@alice.test");
    assert_eq!(
        kinds[0].1["did"],
        alice_did.as_str(),
        "mention resolved on the local PDS"
    );
    assert_eq!(kinds[1].0, "#奇骏#");
    assert_eq!(kinds[1].1["tag"], "奇骏");
    assert!(
        kinds[2].0.starts_with("jincheng-nissan.example.com/"),
        "{}",
        kinds[2].0
    );
    assert_eq!(
        kinds[2].1["uri"],
        post.text
            .split(' ')
            .find(|w| w.starts_with("https://"))
            .expect("link")
    );

    // A reply threads under it.
    let root = StrongRef {
        uri: sent.remote_id.clone(),
        cid: sent.cid.clone().expect("cid"),
    };
    let mut reply = out_post("谢谢关注 {n}");
    reply.reply = Some(ReplyTo::Bluesky {
        root: root.clone(),
        parent: root.clone(),
    });
    let answered = brand.send(&reply).await.expect("reply");
    let r = p.bsky_record(&answered.remote_id).await;
    assert_eq!(r["value"]["reply"]["root"]["uri"], root.uri.as_str());
    assert_eq!(r["value"]["reply"]["parent"]["cid"], root.cid.as_str());

    // Found by its key; sending it again does not make a second record.
    assert_eq!(
        brand.find(&post).await.expect("find").map(|s| s.remote_id),
        Some(sent.remote_id.clone())
    );
    let again = brand
        .send(&post)
        .await
        .expect("resend answers with the existing record");
    assert_eq!(again.remote_id, sent.remote_id);
    let same: Vec<_> = p
        .bsky_posts(&brand_did)
        .await
        .into_iter()
        .filter(|r| r["value"]["text"].as_str() == Some(text.as_str()))
        .collect();
    assert_eq!(same.len(), 1);
}

#[tokio::test]
async fn bluesky_refuses_over_300_graphemes_and_a_wrong_password() {
    let p = peers();
    let long = out_post(&"长".repeat(301));
    match bluesky(&p.pds, "brand.test", "brand-pass")
        .send(&long)
        .await
    {
        Err(PublishError::TooLong {
            len: 301,
            limit: 300,
            unit: "graphemes",
        }) => {}
        other => panic!("{other:?}"),
    }
    match bluesky(&p.pds, "brand.test", "wrong")
        .send(&out_post("hi {n}"))
        .await
    {
        Err(e @ PublishError::Auth(_)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bluesky_renews_an_expired_access_token() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // A real PDS issues two-hour tokens; only a stand-in can expire one on demand.
    let server = MockServer::start().await;
    let session = |access: &str| json!({ "accessJwt": access, "refreshJwt": "refresh-1", "did": "did:plc:brand", "handle": "brand.test" });
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("old")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer old"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({ "error": "ExpiredToken", "message": "Token has expired" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("new")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "uri": "at://did:plc:brand/app.bsky.feed.post/x", "cid": "bafy" }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let sent = bluesky(&server.uri(), "brand.test", "pw")
        .send(&out_post("hello {n}"))
        .await
        .expect("renewed and sent");
    assert_eq!(sent.remote_id, "at://did:plc:brand/app.bsky.feed.post/x");
}

#[tokio::test]
async fn mastodon_post_reply_and_idempotency_key() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let brand = mastodon(&p.mastodon, "brand-token", Duration::from_secs(20));
    let post = out_post("锦程东风日产冬季检测 https://jincheng-nissan.example.com/s?utm_content=test.product.x.{n} {n}");
    let sent = brand.send(&post).await.expect("published");
    // The same post again: the Idempotency-Key makes it the same status.
    let again = brand.send(&post).await.expect("replayed");
    assert_eq!(again.remote_id, sent.remote_id);
    assert_eq!(
        brand.find(&post).await.expect("find").map(|s| s.remote_id),
        Some(sent.remote_id.clone())
    );
    let mut reply = out_post("@alice 谢谢 {n}");
    reply.reply = Some(ReplyTo::Mastodon {
        status_id: sent.remote_id.clone(),
    });
    let answered = brand.send(&reply).await.expect("reply");
    let status = p.mastodon_status("brand-token", &answered.remote_id).await;
    assert_eq!(status["in_reply_to_id"], sent.remote_id.as_str());
    let statuses = p.mastodon_statuses("brand-token").await;
    let copies = statuses
        .iter()
        .filter(|s| {
            s["content"]
                .as_str()
                .is_some_and(|c| c.contains(&post.source_code))
        })
        .count();
    assert_eq!(copies, 1);
}

/// Two stores' posts with the same id (channel name and second) on one account are two
/// statuses: the instance does not answer the second with the first as if it were sent.
#[tokio::test]
async fn posts_of_two_stores_with_the_same_id_are_two_statuses() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let brand = mastodon(&p.mastodon, "brand-token", Duration::from_secs(20));
    let first = out_post("staging {n}");
    let second = OutPost {
        text: format!("production {}", first.source_code),
        ..first.clone()
    };
    let a = brand.send(&first).await.expect("first");
    let b = brand.send(&second).await.expect("second");
    assert_ne!(a.remote_id, b.remote_id);
    let status = p.mastodon_status("brand-token", &b.remote_id).await;
    assert!(
        status["content"]
            .as_str()
            .is_some_and(|c| c.contains("production")),
        "{status}"
    );
}

/// One channel named `masto` on mastodon-mock, behind a publisher with a 1 s request timeout.
fn mastodon_publisher(store: &Store, token: &str) -> Publisher {
    let p = peers();
    let mut channels = BTreeMap::new();
    channels.insert(
        "masto".to_string(),
        Channel::Mastodon(mastodon(&p.mastodon, token, Duration::from_secs(1))),
    );
    let settings = PublishSettings {
        backoff: Duration::from_secs(1),
        ..PublishSettings::default()
    };
    Publisher::new(store.clone(), channels, settings, system_clock())
}

/// Statuses of the brand account whose text contains `needle`.
async fn copies(needle: &str) -> usize {
    peers()
        .mastodon_statuses("brand-token")
        .await
        .iter()
        .filter(|s| s["content"].as_str().is_some_and(|c| c.contains(needle)))
        .count()
}

#[tokio::test]
async fn the_fault_matrix_ends_each_post_in_the_right_state() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    p.mastodon_clear_faults().await;
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let publisher = mastodon_publisher(&store, "brand-token");
    let base = Utc::now() - TimeDelta::minutes(10);
    let nonce = format!("{:x}", fastrand::u64(..));
    let post = |i: i64, text: &str| {
        let post = stored(
            "masto",
            &format!("{text} {nonce}-{i}"),
            base + TimeDelta::seconds(i),
        );
        store.posts().put(&post).expect("put");
        post
    };
    let get = |p: &StoredPost| {
        store
            .posts()
            .get(&p.channel, p.at)
            .expect("get")
            .expect("post")
    };

    // 429 with Retry-After: back to planned, not before the delay.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "ratelimit" }),
        1,
    )
    .await;
    let limited = post(1, "rate limited");
    let before = Utc::now();
    match publisher.execute(limited.clone()).await.expect("store") {
        Outcome::Retrying { at, error } => {
            assert!(
                at >= before + TimeDelta::seconds(299),
                "Retry-After 300 honoured: {at}"
            );
            assert!(error.contains("rate limited"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&limited).state, PostState::Planned);

    // 500: retried with backoff, then published on the next attempt.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "status", "status": 500 }),
        1,
    )
    .await;
    let flaky = post(2, "server error");
    assert!(matches!(
        publisher.execute(flaky.clone()).await.expect("store"),
        Outcome::Retrying { .. }
    ));
    assert!(matches!(
        publisher.execute(get(&flaky)).await.expect("store"),
        Outcome::Published(_)
    ));
    assert_eq!(copies(&flaky.text).await, 1);

    // No answer in time (the server is slow but does post): unconfirmed, then found, not resent.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "latency", "delay_ms": 3000 }),
        1,
    )
    .await;
    let slow = post(3, "slow server");
    assert!(matches!(
        publisher.execute(slow.clone()).await.expect("store"),
        Outcome::Unconfirmed(_)
    ));
    assert_eq!(get(&slow).state, PostState::Unconfirmed);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(matches!(
        publisher.execute(get(&slow)).await.expect("store"),
        Outcome::Published(_)
    ));
    assert_eq!(
        copies(&slow.text).await,
        1,
        "found on the platform, not sent twice"
    );

    // A 200 with a malformed body: unconfirmed; the lookup finds nothing, so it is sent once.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "malformed" }),
        1,
    )
    .await;
    let garbled = post(4, "malformed answer");
    match publisher.execute(garbled.clone()).await.expect("store") {
        Outcome::Unconfirmed(why) => assert!(why.contains("unreadable"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        publisher.execute(get(&garbled)).await.expect("store"),
        Outcome::Published(_)
    ));
    assert_eq!(copies(&garbled.text).await, 1);

    // Over the instance's limit: failed before any request.
    let long = post(5, &"长".repeat(600));
    match publisher.execute(long.clone()).await.expect("store") {
        Outcome::Failed(why) => assert!(
            why.contains("too long: 6") && why.contains("limit is 500"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&long).state, PostState::Failed);

    // A revoked token: failed with the platform's message.
    let revoked = mastodon_publisher(&store, "revoked-token");
    let denied = post(6, "bad token");
    match revoked.execute(denied.clone()).await.expect("store") {
        Outcome::Failed(why) => assert!(why.contains("401"), "{why}"),
        other => panic!("{other:?}"),
    }

    // More than two hours late: missed, never sent.
    let stale = stored(
        "masto",
        &format!("stale {nonce}"),
        Utc::now() - TimeDelta::hours(3),
    );
    store.posts().put(&stale).expect("put");
    assert_eq!(
        publisher.execute(stale.clone()).await.expect("store"),
        Outcome::Missed
    );
    assert_eq!(copies(&stale.text).await, 0);
    p.mastodon_clear_faults().await;
    let _ = client();
}

// Stand-ins: the loop's scheduling, unclear answers and `Retry-After`, under an injected clock.

/// A clock the test sets by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn at(t: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }

    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock") = t;
    }

    fn clock(&self) -> Clock {
        let t = self.0.clone();
        Arc::new(move || *t.lock().expect("clock"))
    }
}

/// Now, to the second: post ids carry whole seconds.
fn now_secs() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now")
}

/// How a [`Receiver`] treats each request once it has read it.
#[derive(Clone, Copy)]
enum Answer {
    /// Holds the connection open, answering 200 only when released.
    WhenReleased,
    /// Closes the connection without a word: the request may have been taken.
    Hangs,
    /// Holds the connection open, then closes it without a word when released.
    HangsUntilReleased,
}

/// A webhook receiver on a local port that counts the requests it reads.
struct Receiver {
    url: url::Url,
    requests: Arc<AtomicUsize>,
    got: Arc<Notify>,
    release: CancellationToken,
}

impl Receiver {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"))
            .parse()
            .expect("url");
        let requests = Arc::new(AtomicUsize::new(0));
        let got = Arc::new(Notify::new());
        let release = CancellationToken::new();
        let (r, g, rel) = (requests.clone(), got.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (requests, got, release) = (r.clone(), g.clone(), rel.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    got.notify_one();
                    match answer {
                        Answer::WhenReleased => {
                            release.cancelled().await;
                            let _ = socket
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                                .await;
                        }
                        Answer::HangsUntilReleased => release.cancelled().await,
                        Answer::Hangs => {}
                    }
                });
            }
        });
        Self {
            url,
            requests,
            got,
            release,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// An HTTP client that opens a new connection per request, as a receiver that drops
/// connections needs.
fn fresh_http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// Waits until `done` holds; a bound on a hang, not a timing assertion.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state_of(store: &Store, p: &StoredPost) -> PostState {
    store
        .posts()
        .get(&p.channel, p.at)
        .expect("get")
        .expect("post")
        .state
}

/// Regression (issue 14): with a webhook hanging to its timeout, outbox posts went out 30, 60,
/// 90 s late, one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_delays_only_its_own_posts() {
    let hook = Receiver::start(Answer::WhenReleased).await;
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let outbox_path = db.dir().join("outbox.jsonl");
    let t0 = now_secs();
    let clock = TestClock::at(t0);
    let mut channels = BTreeMap::new();
    channels.insert(
        "hook".to_string(),
        Channel::Webhook(Webhook::new(
            http(Duration::from_secs(600)),
            "hook",
            hook.url.clone(),
            None,
        )),
    );
    channels.insert(
        "outbox".to_string(),
        Channel::Outbox(Outbox::new("outbox", outbox_path.clone())),
    );
    // The webhook's post is due first (and sorts first at the same minute).
    let hooked = stored("hook", "to the hanging webhook", t0 - TimeDelta::minutes(1));
    store.posts().put(&hooked).expect("put");
    let outbox: Vec<StoredPost> = (0..4)
        .map(|i| {
            let p = stored(
                "outbox",
                &format!("outbox {i}"),
                t0 + TimeDelta::minutes(i - 1),
            );
            store.posts().put(&p).expect("put");
            p
        })
        .collect();
    let publisher = Arc::new(Publisher::new(
        store.clone(),
        channels,
        PublishSettings::default(),
        clock.clock(),
    ));
    let (shutdown, wake) = (CancellationToken::new(), Arc::new(Notify::new()));
    let run = tokio::spawn(publisher.run(shutdown.clone(), wake.clone()));

    tokio::time::timeout(Duration::from_secs(30), hook.got.notified())
        .await
        .expect("the webhook got its request");
    until("the due outbox posts are published", || {
        outbox[..2]
            .iter()
            .all(|p| state_of(&store, p) == PostState::Published)
    })
    .await;
    assert_eq!(
        state_of(&store, &hooked),
        PostState::Sending,
        "still in flight"
    );
    // Two minutes on: the later outbox posts go out as they fall due, the webhook still hangs.
    clock.set(t0 + TimeDelta::minutes(2));
    wake.notify_one();
    until("the later outbox posts are published", || {
        outbox
            .iter()
            .all(|p| state_of(&store, p) == PostState::Published)
    })
    .await;
    assert_eq!(state_of(&store, &hooked), PostState::Sending);
    assert_eq!(hook.requests(), 1, "one post in flight per channel");

    // Shutdown: nothing new starts; the send in flight finishes and is recorded first.
    let after = stored("outbox", "due after shutdown", t0 + TimeDelta::minutes(3));
    store.posts().put(&after).expect("put");
    shutdown.cancel();
    clock.set(t0 + TimeDelta::minutes(4));
    wake.notify_one();
    hook.release.cancel();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run stops once the send in flight is done")
        .expect("no panic");
    assert_eq!(state_of(&store, &hooked), PostState::Published);
    assert_eq!(state_of(&store, &after), PostState::Planned);
    assert_eq!(hook.requests(), 1);
    let scan = Outbox::new("outbox", outbox_path)
        .scan()
        .await
        .expect("scan");
    let ids: Vec<String> = outbox.iter().map(StoredPost::id).collect();
    assert_eq!(scan.ids, ids, "in their order, each once");
}

/// One webhook channel, "hook", to `url`, its requests timing out after `timeout`.
fn hook_channel(url: &url::Url, timeout: Duration) -> BTreeMap<String, Channel> {
    BTreeMap::from([(
        "hook".to_string(),
        Channel::Webhook(Webhook::new(fresh_http(timeout), "hook", url.clone(), None)),
    )])
}

/// Regression (issue 14): an unconfirmed send was resent every 30 s without backoff and beyond
/// `max_attempts` (4 requests in 90 s with `max_attempts = 2`).
#[tokio::test]
async fn an_unconfirmed_send_backs_off_and_stops_at_max_attempts() {
    let hook = Receiver::start(Answer::Hangs).await;
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let t0 = now_secs();
    let clock = TestClock::at(t0);
    let channels = hook_channel(&hook.url, Duration::from_secs(60));
    let settings = PublishSettings {
        max_attempts: 3,
        backoff: Duration::from_secs(10),
        ..PublishSettings::default()
    };
    let publisher = Publisher::new(store.clone(), channels, settings, clock.clock());
    let post = stored("hook", "to a receiver that never answers", t0);
    store.posts().put(&post).expect("put");
    let get = || {
        store
            .posts()
            .get(&post.channel, post.at)
            .expect("get")
            .expect("post")
    };

    let mut now = t0;
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let due = store.posts().due(now).expect("due");
        assert_eq!(due.len(), 1, "due at attempt {attempt}");
        match publisher.execute(due[0].clone()).await.expect("store") {
            Outcome::Unconfirmed(_) => {}
            other => panic!("attempt {attempt}: {other:?}"),
        }
        let stored = get();
        assert_eq!(stored.state, PostState::Unconfirmed);
        assert_eq!(stored.delivery.attempts, attempt);
        assert!(stored.delivery.error.is_some());
        let next = stored.delivery.next_attempt.expect("a time to look again");
        assert!(
            store
                .posts()
                .due(next - TimeDelta::seconds(1))
                .expect("due")
                .is_empty(),
            "not looked at before its backoff"
        );
        delays.push((next - now).num_milliseconds());
        now = next;
        clock.set(now);
    }
    assert_eq!(hook.requests(), 3);
    // The backoff with ±20% jitter: 10 s, 20 s, 40 s.
    for (delay, base) in delays.iter().zip([10_000, 20_000, 40_000]) {
        assert!(
            (base * 8 / 10..=base * 12 / 10).contains(delay),
            "{delays:?}"
        );
    }
    assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
    // Out of attempts: looked for once more (a webhook cannot be searched), never resent.
    let due = store.posts().due(now).expect("due");
    match publisher.execute(due[0].clone()).await.expect("store") {
        Outcome::Failed(why) => assert!(
            why.contains("gave up after 3 attempts without a clear answer")
                && why.contains("look there before sending it again by hand"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    let failed = get();
    assert_eq!(failed.state, PostState::Failed);
    assert!(store
        .posts()
        .due(now + TimeDelta::hours(1))
        .expect("due")
        .is_empty());
    assert_eq!(hook.requests(), 3, "max_attempts requests, no more");
}

/// The backoff after an unclear send counts from its answer: a send that hung until its
/// timeout (30 s by default, as long as the first backoff) must not be looked at again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backoff_after_a_hung_send_counts_from_its_end() {
    let hook = Receiver::start(Answer::HangsUntilReleased).await;
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let t0 = now_secs();
    let clock = TestClock::at(t0);
    let channels = hook_channel(&hook.url, Duration::from_secs(600));
    let settings = PublishSettings {
        backoff: Duration::from_secs(30),
        ..PublishSettings::default()
    };
    let publisher = Arc::new(Publisher::new(
        store.clone(),
        channels,
        settings,
        clock.clock(),
    ));
    let post = stored("hook", "to a receiver that hangs", t0);
    store.posts().put(&post).expect("put");
    let send = tokio::spawn({
        let (publisher, post) = (publisher.clone(), post.clone());
        async move { publisher.execute(post).await }
    });
    tokio::time::timeout(Duration::from_secs(30), hook.got.notified())
        .await
        .expect("the webhook got its request");
    // The send hangs for a minute, then the connection drops.
    let end = t0 + TimeDelta::minutes(1);
    clock.set(end);
    hook.release.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(30), send)
        .await
        .expect("the send ends")
        .expect("no panic")
        .expect("store");
    assert!(matches!(outcome, Outcome::Unconfirmed(_)), "{outcome:?}");
    let got = store.posts().get("hook", t0).expect("get").expect("post");
    let wait = (got.delivery.next_attempt.expect("next") - end).num_milliseconds();
    assert!((24_000..=36_000).contains(&wait), "{wait} ms after the end");
}

/// Regression (issue 14): `Retry-After` was honoured on 429 only. A 503 on each HTTP channel
/// kind now holds the retry until the time the platform gave.
#[tokio::test]
async fn a_503_with_retry_after_holds_the_retry_until_then() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let unavailable = |after: &str| ResponseTemplate::new(503).insert_header("Retry-After", after);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(unavailable("120"))
        .mount(&server)
        .await;
    let soon = std::time::SystemTime::now() + Duration::from_secs(300);
    Mock::given(method("POST"))
        .and(path("/hook-date"))
        .respond_with(unavailable(&httpdate::fmt_http_date(soon)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(unavailable("120"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "a", "refreshJwt": "r", "did": "did:plc:brand", "handle": "brand.test"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .respond_with(unavailable("120"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({ "error": "RecordNotFound", "message": "Could not locate record" }),
        ))
        .mount(&server)
        .await;
    let base: url::Url = server.uri().parse().expect("url");
    let hook = |p: &str| {
        Channel::Webhook(Webhook::new(
            http(Duration::from_secs(10)),
            "hook",
            base.join(p).expect("url"),
            None,
        ))
    };
    let mut channels = BTreeMap::new();
    channels.insert("hook".to_string(), hook("hook"));
    channels.insert("hook-date".to_string(), hook("hook-date"));
    channels.insert(
        "masto".to_string(),
        Channel::Mastodon(mastodon(&server.uri(), "t", Duration::from_secs(10))),
    );
    channels.insert(
        "sky".to_string(),
        Channel::Bluesky(bluesky(&server.uri(), "brand.test", "pw")),
    );
    let t0 = now_secs();
    let settings = PublishSettings {
        backoff: Duration::from_secs(1),
        ..PublishSettings::default()
    };
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let publisher = Publisher::new(store.clone(), channels, settings, TestClock::at(t0).clock());
    let unix = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    };
    // The HTTP date has whole seconds.
    let date = unix(soon).floor();
    for (channel, asked) in [
        ("hook", Some(120)),
        ("masto", Some(120)),
        ("sky", Some(120)),
        ("hook-date", None),
    ] {
        let post = stored(channel, "while the platform is down", t0);
        store.posts().put(&post).expect("put");
        let before = unix(std::time::SystemTime::now());
        let outcome = publisher.execute(post.clone()).await.expect("store");
        let after = unix(std::time::SystemTime::now());
        let at = match outcome {
            Outcome::Retrying { at, error } => {
                assert!(error.contains("503"), "{channel}: {error}");
                at
            }
            other => panic!("{channel}: {other:?}"),
        };
        // A date is counted from the moment the answer came, somewhere in this call.
        let (earliest, latest) = match asked {
            Some(secs) => (secs, secs),
            None => (
                (date - after).floor() as i64 - 1,
                (date - before).ceil() as i64,
            ),
        };
        let wait = (at - t0).num_seconds();
        assert!((earliest..=latest).contains(&wait), "{channel}: {wait} s");
        let got = store.posts().get(channel, t0).expect("get").expect("post");
        assert_eq!(got.state, PostState::Planned, "{channel}");
        assert_eq!(got.delivery.next_attempt, Some(at), "{channel}");
        let due = |t| {
            store
                .posts()
                .due(t)
                .expect("due")
                .iter()
                .any(|p| p.channel == channel)
        };
        assert!(!due(at - TimeDelta::seconds(1)), "{channel}: not before");
        assert!(due(at), "{channel}: due then");
    }
}

/// The loop keeps a hold: held posts wait (and are not sent ahead of their turn by a busy
/// loop), the others on the same channel go out, and the held ones follow when it lifts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_keeps_held_posts_back_until_the_hold_lifts() {
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let outbox_path = db.dir().join("outbox.jsonl");
    let t0 = now_secs();
    let mut channels = BTreeMap::new();
    channels.insert(
        "outbox".to_string(),
        Channel::Outbox(Outbox::new("outbox", outbox_path.clone())),
    );
    let mut held = stored("outbox", "a promotion", t0 - TimeDelta::minutes(2));
    held.category = "product".into();
    store.posts().put(&held).expect("put");
    let free = stored("outbox", "a service tip", t0 - TimeDelta::minutes(1));
    store.posts().put(&free).expect("put");
    store
        .meta()
        .set_hold(Some(&Hold {
            since: t0,
            reason: "crisis drill".into(),
            categories: vec!["product".into()],
            alerts: Vec::new(),
        }))
        .expect("hold");
    let publisher = Arc::new(Publisher::new(
        store.clone(),
        channels,
        PublishSettings::default(),
        TestClock::at(t0).clock(),
    ));
    let (shutdown, wake) = (CancellationToken::new(), Arc::new(Notify::new()));
    let run = tokio::spawn(publisher.run(shutdown.clone(), wake.clone()));
    until("the post that is not held is published", || {
        state_of(&store, &free) == PostState::Published
    })
    .await;
    assert_eq!(state_of(&store, &held), PostState::Planned);
    store.meta().set_hold(None).expect("lift");
    wake.notify_one();
    until("the held post follows when the hold lifts", || {
        state_of(&store, &held) == PostState::Published
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run stops")
        .expect("no panic");
    let scan = Outbox::new("outbox", outbox_path)
        .scan()
        .await
        .expect("scan");
    assert_eq!(scan.ids, [free.id(), held.id()]);
}
