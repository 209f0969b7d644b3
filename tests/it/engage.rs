//! Engagement read from the real peers: a brand post published to the Bluesky PDS and to
//! mastodon-mock, liked (favourited) and reposted (reblogged) by alice; one round of the
//! poller records the counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use herald::clock::system_clock;
use herald::engage::Poller;
use herald::publish::bluesky::Bluesky;
use herald::publish::mastodon::Mastodon;
use herald::publish::{Channel, OutPost};
use herald::store::{PostState, Store};
use serde_json::{json, Value};

use crate::helpers::{stored_post, TestDb};
use crate::peers::{client, peers};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A unique post, so runs never see each other's.
fn out_post(text: &str) -> OutPost {
    let nonce = format!("{:x}", fastrand::u64(..));
    OutPost {
        id: format!("engage@{nonce}"),
        text: format!("{text} {nonce}"),
        at: Utc::now(),
        lang: Some("zh".into()),
        source_code: format!("test.engage.x.{nonce}"),
        ..OutPost::default()
    }
}

/// A `Published` post of the schedule on `channel`, an hour old (so its first reading is
/// due), carrying the platform's id.
fn published(store: &Store, channel: &str, remote_id: &str) -> chrono::DateTime<Utc> {
    let at = Utc::now() - TimeDelta::hours(1) - TimeDelta::seconds(5);
    let at = at - TimeDelta::nanoseconds(at.timestamp_subsec_nanos().into());
    let mut post = stored_post(channel, "engagement test", at);
    post.state = PostState::Published;
    post.delivery.remote_id = Some(remote_id.to_string());
    store.posts().put(&post).expect("put post");
    at
}

/// A Mastodon test account's token, from `HERALD_TEST_MASTODON_TOKENS` (`name:token,…`).
fn mastodon_token(name: &str) -> String {
    let all = std::env::var("HERALD_TEST_MASTODON_TOKENS").expect("HERALD_TEST_MASTODON_TOKENS");
    all.split(',')
        .find_map(|pair| {
            let (n, t) = pair.split_once(':')?;
            (n == name).then(|| t.to_string())
        })
        .unwrap_or_else(|| panic!("no Mastodon token for {name}"))
}

/// A Bluesky test account's password, from `HERALD_TEST_BSKY_ACCOUNTS` (`handle:pass,…`).
fn bsky_password(handle: &str) -> String {
    let all = std::env::var("HERALD_TEST_BSKY_ACCOUNTS").expect("HERALD_TEST_BSKY_ACCOUNTS");
    all.split(',')
        .find_map(|pair| {
            let (h, p) = pair.split_once(':')?;
            (h == handle).then(|| p.to_string())
        })
        .unwrap_or_else(|| panic!("no Bluesky account {handle}"))
}

#[tokio::test]
async fn bluesky_likes_and_reposts_show_in_the_first_reading() {
    let p = peers();
    let brand = Bluesky::new(
        http(),
        p.pds.parse().expect("url"),
        "brand.test".into(),
        bsky_password("brand.test"),
    );
    let sent = brand
        .send(&out_post("锦程东风日产 冬季检测 engagement"))
        .await
        .expect("published");
    let uri = sent.remote_id.clone();
    let record = p.bsky_record(&uri).await;
    let cid = record["cid"].as_str().expect("cid").to_string();
    // alice likes and reposts it.
    let (alice, jwt) = p
        .bsky_login("alice.test", &bsky_password("alice.test"))
        .await;
    for collection in ["app.bsky.feed.like", "app.bsky.feed.repost"] {
        let answer = client()
            .post(format!("{}/xrpc/com.atproto.repo.createRecord", p.pds))
            .bearer_auth(&jwt)
            .json(&json!({
                "repo": alice,
                "collection": collection,
                "record": {
                    "$type": collection,
                    "subject": { "uri": uri, "cid": cid },
                    "createdAt": Utc::now().to_rfc3339(),
                },
            }))
            .send()
            .await
            .expect("createRecord");
        assert!(
            answer.status().is_success(),
            "{collection}: {}",
            answer.status()
        );
    }
    // The AppView indexes from the firehose: wait (bounded) until it counts both.
    let mut indexed = false;
    for _ in 0..60 {
        let v: Value = client()
            .get(format!("{}/xrpc/app.bsky.feed.getPosts", p.pds))
            .query(&[("uris", uri.as_str())])
            .bearer_auth(&jwt)
            .send()
            .await
            .expect("getPosts")
            .json()
            .await
            .expect("json");
        let post = &v["posts"][0];
        if post["likeCount"].as_u64() >= Some(1) && post["repostCount"].as_u64() >= Some(1) {
            indexed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(indexed, "the AppView never counted alice's like and repost");

    let db = TestDb::new();
    let store = db.open();
    let post_at = published(&store, "bsky", &uri);
    let mut channels = BTreeMap::new();
    channels.insert("bsky".to_string(), Channel::Bluesky(brand));
    let poller = Poller::new(store.clone(), Arc::new(channels), system_clock());
    let now = Utc::now();
    let round = poller.round(now).await.expect("round");
    assert_eq!(
        (round.due, round.recorded, round.failed),
        (1, 1, 0),
        "{round:?}"
    );
    let series = store.engagement().series("bsky", post_at).expect("series");
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(series[0].likes >= 1 && series[0].reposts >= 1, "{series:?}");
    assert_eq!(series[0].replies, 0, "{series:?}");
    // An hour old: read again in an hour.
    let kept = store
        .engagement()
        .get("bsky", post_at)
        .expect("get")
        .expect("kept");
    assert_eq!(kept.next_at, Some(now + TimeDelta::hours(1)));
    // Nothing more is due right now.
    let again = poller.round(now).await.expect("round");
    assert_eq!(again.due, 0, "{again:?}");
    assert_eq!(again.next, Some(now + TimeDelta::hours(1)));
}

#[tokio::test]
async fn mastodon_favourites_and_reblogs_show_and_a_deleted_status_is_missing() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let brand_token = mastodon_token("brand");
    let alice_token = mastodon_token("alice");
    let brand = Mastodon::new(
        http(),
        p.mastodon.parse().expect("url"),
        brand_token.clone(),
    );
    let sent = brand
        .send(&out_post("锦程东风日产 冬季检测 engagement"))
        .await
        .expect("published");
    let id = sent.remote_id.clone();
    for action in ["favourite", "reblog"] {
        let answer = client()
            .post(format!("{}/api/v1/statuses/{id}/{action}", p.mastodon))
            .bearer_auth(&alice_token)
            .send()
            .await
            .expect(action);
        assert!(
            answer.status().is_success(),
            "{action}: {}",
            answer.status()
        );
    }
    // A second status, deleted: the instance no longer has it.
    let deleted = brand
        .send(&out_post("锦程东风日产 deleted engagement"))
        .await
        .expect("published");
    let answer = client()
        .delete(format!(
            "{}/api/v1/statuses/{}",
            p.mastodon, deleted.remote_id
        ))
        .bearer_auth(&brand_token)
        .send()
        .await
        .expect("delete");
    assert!(answer.status().is_success(), "delete: {}", answer.status());

    let db = TestDb::new();
    let store = db.open();
    let post_at = published(&store, "masto", &id);
    let gone_at = post_at - TimeDelta::hours(2);
    let mut gone_post = stored_post("masto", "deleted", gone_at);
    gone_post.state = PostState::Published;
    gone_post.delivery.remote_id = Some(deleted.remote_id.clone());
    store.posts().put(&gone_post).expect("put");
    let mut channels = BTreeMap::new();
    channels.insert("masto".to_string(), Channel::Mastodon(brand));
    let poller = Poller::new(store.clone(), Arc::new(channels), system_clock());
    let now = Utc::now();
    let round = poller.round(now).await.expect("round");
    assert_eq!(
        (round.due, round.recorded, round.missing, round.failed),
        (2, 1, 1, 0),
        "{round:?}"
    );
    let series = store.engagement().series("masto", post_at).expect("series");
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(
        (
            series[0].likes,
            series[0].reposts,
            series[0].replies,
            series[0].quotes
        ),
        (1, 1, 0, 0),
        "{series:?}"
    );
    // The deleted one: no reading, one miss, still read again (gone only after three).
    let missing = store
        .engagement()
        .get("masto", gone_at)
        .expect("get")
        .expect("kept");
    assert!(missing.samples.is_empty(), "{missing:?}");
    assert_eq!((missing.misses, missing.gone), (1, false), "{missing:?}");
    assert!(missing.next_at.is_some(), "{missing:?}");
    assert_eq!(poller.failures(), 0);

    // An hour later the instance fails once (503): logged and counted, nothing recorded, the
    // posts still due; the next round reads them. The same counts again stretch the interval.
    let later = now + TimeDelta::hours(1);
    p.mastodon_fault(
        "GET",
        "/api/v1/statuses",
        json!({ "type": "status", "status": 503, "body": { "error": "down for a moment" } }),
        1,
    )
    .await;
    let failed = poller.round(later).await;
    p.mastodon_clear_faults().await;
    let failed = failed.expect("a platform failure is not a store error");
    // Both posts are due (hourly under 6 h); both reads failed.
    assert_eq!(
        (failed.due, failed.failed, failed.recorded),
        (2, 2, 0),
        "{failed:?}"
    );
    assert_eq!(poller.failures(), 2);
    assert_eq!(
        store
            .engagement()
            .series("masto", post_at)
            .expect("series")
            .len(),
        1
    );
    let retried = poller.round(later).await.expect("round");
    assert_eq!(
        (
            retried.due,
            retried.recorded,
            retried.missing,
            retried.failed
        ),
        (2, 1, 1, 0),
        "{retried:?}"
    );
    let missing = store
        .engagement()
        .get("masto", gone_at)
        .expect("get")
        .expect("kept");
    assert_eq!((missing.misses, missing.gone), (2, false), "{missing:?}");
    let kept = store
        .engagement()
        .get("masto", post_at)
        .expect("get")
        .expect("kept");
    assert_eq!(kept.samples.len(), 2, "{kept:?}");
    // Two hours old, unchanged once: the hourly interval doubled.
    assert_eq!(kept.next_at, Some(later + TimeDelta::hours(2)), "{kept:?}");

    // The third miss in a row: the deleted status is gone, and no longer read.
    let third = poller
        .round(later + TimeDelta::hours(1))
        .await
        .expect("round");
    assert_eq!((third.due, third.missing), (1, 1), "{third:?}");
    let gone = store
        .engagement()
        .get("masto", gone_at)
        .expect("get")
        .expect("kept");
    assert_eq!(
        (gone.misses, gone.gone, gone.next_at),
        (3, true, None),
        "{gone:?}"
    );
    let after = poller
        .round(later + TimeDelta::hours(1))
        .await
        .expect("round");
    assert_eq!(after.due, 0, "{after:?}");
    assert_eq!(after.next, Some(later + TimeDelta::hours(2)), "{after:?}");

    // More ids than one read takes (20): the status after 20 unknown ids is still read.
    let mut ids: Vec<String> = (0..20).map(|i| format!("99999999999{i:02}")).collect();
    ids.push(id.clone());
    let reader = Mastodon::new(http(), p.mastodon.parse().expect("url"), brand_token);
    let counts = reader.account().status_counts(&ids).await.expect("read");
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts[&id].favourites, 1, "{counts:?}");
}
