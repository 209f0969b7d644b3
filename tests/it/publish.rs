//! Publishing against the real peers: the AT Protocol dev network and mastodon-mock. A
//! stand-in server (wiremock) only for the one fault a real PDS will not produce on demand: an
//! expired access token.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use herald::publish::bluesky::Bluesky;
use herald::publish::mastodon::Mastodon;
use herald::publish::worker::{system_clock, Outcome, Publisher};
use herald::publish::{Channel, OutPost, PublishError, PublishSettings, ReplyTo, StrongRef};
use herald::store::{PostState, Store, StoredPost};
use serde_json::{json, Value};

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
        reply: None,
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
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let publisher = mastodon_publisher(&store, "brand-token");
    let base = Utc::now() - TimeDelta::minutes(10);
    let nonce = format!("{:x}", fastrand::u64(..));
    let post = |i: i64, text: &str| {
        let post = stored(
            "masto",
            &format!("{text} {nonce}-{i}"),
            base + TimeDelta::seconds(i),
        );
        store.put(&post).expect("put");
        post
    };
    let get = |p: &StoredPost| store.get(&p.channel, p.at).expect("get").expect("post");

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
    store.put(&stale).expect("put");
    assert_eq!(
        publisher.execute(stale.clone()).await.expect("store"),
        Outcome::Missed
    );
    assert_eq!(copies(&stale.text).await, 0);
    p.mastodon_clear_faults().await;
    let _ = client();
}
