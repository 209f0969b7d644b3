//! Keyword sources (Bluesky search, Mastodon hashtags and search): parsers on answers saved from
//! the real peers, with golden outputs and garbage that must never crash them; configuration
//! errors located by file, line and key; and polls against the running peers (the AT Protocol
//! dev network and mastodon-mock), including faults. mastodon-mock injects its own faults; the
//! PDS cannot, so Bluesky's faults come from a stand-in server.
//!
//! The `*-search.json` and `mastodon-tag.json` fixtures are answers of the real peers to the
//! requests herald makes, saved with `curl` (posts by the test accounts, written for them).

use std::sync::Arc;
use std::time::Duration;

use herald::classify::Classifier;
use herald::ingest::Ingest;
use herald::listen::run::{Listener, Source};
use herald::listen::search::{self, BlueskySearch, MastodonKeywords};
use herald::listen::social::{BlueskyMentions, MastodonMentions};
use herald::listen::Parsed;
use herald::store::{MentionQuery, Store, StoredMention};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{repo, TestDb, Workspace};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures/listen").join(name)).expect("fixture")
}

/// Compares parsed mentions (as JSON Lines, plus the skipped count) with the golden file;
/// `HERALD_BLESS=1` rewrites it.
fn golden(name: &str, parsed: &Parsed) {
    let mut text: String = parsed
        .mentions
        .iter()
        .map(|m| serde_json::to_string(m).expect("json") + "\n")
        .collect();
    text.push_str(&format!("# skipped: {}\n", parsed.skipped.len()));
    let path = repo()
        .join("tests/fixtures/listen")
        .join(format!("{name}.golden.jsonl"));
    if std::env::var_os("HERALD_BLESS").is_some() {
        std::fs::write(&path, &text).expect("bless");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no golden {}: run with HERALD_BLESS=1", path.display()));
    assert_eq!(text, want, "{name} differs from its golden output");
}

#[test]
fn bluesky_search_answer() {
    let parsed =
        search::parse_answer("bluesky", &fixture("bluesky-search.json")).expect("json answer");
    golden("bluesky-search", &parsed);
    assert_eq!(parsed.mentions.len(), 2);
    assert!(parsed
        .mentions
        .iter()
        .all(|m| m.id.starts_with("at://") && m.author == "alice.test" && m.platform == "bluesky"));
    assert!(parsed
        .mentions
        .iter()
        .any(|m| m.lang.as_deref() == Some("zh")));
}

#[test]
fn mastodon_tag_and_search_answers() {
    for (kind, file) in [
        ("mastodon-hashtag", "mastodon-tag"),
        ("mastodon-search", "mastodon-search"),
    ] {
        let parsed =
            search::parse_answer(kind, &fixture(&format!("{file}.json"))).expect("json answer");
        golden(file, &parsed);
        assert_eq!(parsed.mentions.len(), 2, "{file}");
        let zh = parsed
            .mentions
            .iter()
            .find(|m| m.lang.as_deref() == Some("zh"))
            .expect("the Chinese status");
        // HTML is converted to text: the escaped script is text now, never markup.
        assert!(
            zh.text.contains("<script>alert(1)</script> & more"),
            "{}",
            zh.text
        );
        assert!(!zh.text.contains("<p>"));
    }
}

#[test]
fn answers_that_are_not_json_are_errors_not_crashes() {
    for kind in ["bluesky", "mastodon-hashtag", "mastodon-search"] {
        for body in [
            &b""[..],
            b"<html>502</html>",
            b"\xff\xfe",
            b"{\"error\": \"trunc",
        ] {
            assert!(search::parse_answer(kind, body).is_err(), "{kind} {body:?}");
        }
        // JSON of the wrong shape is read as nothing, with the reason counted.
        let parsed = search::parse_answer(kind, b"{\"unexpected\": 1}").expect("json");
        assert!(parsed.mentions.is_empty());
        assert_eq!(parsed.skipped.len(), 1, "{kind}: {:?}", parsed.skipped);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn garbage_search_answers_never_crash(kind in prop_oneof![Just("bluesky"), Just("mastodon-hashtag"), Just("mastodon-search")], bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = search::parse_answer(kind, &bytes);
    }

    #[test]
    fn mangled_search_answers_never_crash(pick in 0usize..3, cut in 0usize..5000, flips in proptest::collection::vec((0usize..5000, any::<u8>()), 0..20)) {
        let (kind, file) = [("bluesky", "bluesky-search.json"), ("mastodon-hashtag", "mastodon-tag.json"), ("mastodon-search", "mastodon-search.json")][pick];
        let mut bytes = fixture(file);
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        bytes.truncate(cut.min(bytes.len()));
        if let Ok(parsed) = search::parse_answer(kind, &bytes) {
            for m in parsed.mentions {
                prop_assert!(!m.id.is_empty() && !m.author.is_empty());
            }
        }
    }

    /// Valid JSON of any shape inside the expected envelope: items are read or skipped, never
    /// a crash, and every item is accounted for exactly once.
    #[test]
    fn odd_items_are_read_or_skipped(items in proptest::collection::vec(odd_json(), 0..20)) {
        let n = items.len();
        let parsed = search::parse_answer("mastodon-hashtag", Value::Array(items.clone()).to_string().as_bytes()).expect("json");
        prop_assert_eq!(parsed.mentions.len() + parsed.skipped.len(), n);
        // On Bluesky a post repeated on a page is emitted once and not counted again.
        let uris: Vec<&str> = items.iter().filter_map(|i| i["uri"].as_str()).filter(|u| !u.is_empty()).collect();
        let repeats = uris.iter().filter(|u| uris.iter().filter(|v| v == u).count() > 1).count();
        let parsed = search::parse_answer("bluesky", json!({ "posts": items }).to_string().as_bytes()).expect("json");
        let accounted = parsed.mentions.len() + parsed.skipped.len();
        prop_assert!(accounted <= n && accounted + repeats >= n, "{accounted} of {n}, {repeats} repeats");
    }
}

/// JSON values that look a little like posts and statuses.
fn odd_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-z0-9:/.@ <>&-]{0,20}".prop_map(Value::String),
        Just(json!("2026-11-22T10:00:00Z")),
        Just(json!("12345")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        proptest::collection::btree_map(
            prop_oneof![
                Just("id".to_string()),
                Just("uri".to_string()),
                Just("content".to_string()),
                Just("created_at".to_string()),
                Just("indexedAt".to_string()),
                Just("record".to_string()),
                Just("text".to_string()),
                Just("createdAt".to_string()),
                Just("author".to_string()),
                Just("account".to_string()),
                Just("handle".to_string()),
                Just("acct".to_string()),
                Just("reblog".to_string()),
            ],
            inner,
            0..6,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

#[test]
fn keyword_source_errors_name_line_and_key() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"sky\"\nkind = \"bluesky-search\"\npds_url = \"https://pds.example\"\nidentifier = \"brand.example\"\npassword_env = \"PW\"\nqueries = [\"奇骏\", \"  \", \"奇骏\"]\n\n[[sources]]\nname = \"tags\"\nkind = \"mastodon-hashtag\"\nbase_url = \"https://m.example\"\nhashtags = [\"#XTrail\", \"bad tag\", \"xtrail\"]\n\n[[sources]]\nname = \"find\"\nkind = \"mastodon-search\"\nbase_url = \"https://m.example\"\ntoken_env = \"T\"\nqueries = []\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for want in [
        "herald.toml:7:18: sources[0].queries[1]: a query cannot be blank",
        "herald.toml:7:24: sources[0].queries[2]: \"奇骏\" is listed twice",
        "herald.toml:13:24: sources[1].hashtags[1]: \"bad tag\" is not a hashtag",
        "herald.toml:13:35: sources[1].hashtags[2]: \"xtrail\" is listed twice",
        "herald.toml:20:1: sources[2].queries: give at least one query",
    ] {
        assert!(
            run.stderr.contains(want),
            "missing {want:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn an_unknown_key_in_a_keyword_source_is_named_with_its_line() {
    for (kind, extra, line) in [
        ("bluesky-search", "pds_url = \"https://p.example\"\nidentifier = \"b\"\npassword_env = \"P\"\nqueries = [\"x\"]\nquery = \"x\"\n", 8),
        ("mastodon-hashtag", "base_url = \"https://m.example\"\nhashtags = [\"x\"]\nhashtag = \"x\"\n", 6),
        ("mastodon-search", "base_url = \"https://m.example\"\ntoken_env = \"T\"\nqueries = [\"x\"]\nterms = [\"x\"]\n", 7),
        ("bluesky-firehose", "url = \"wss://bsky.network\"\nqueries = [\"x\"]\nquery = \"x\"\n", 6),
    ] {
        let ws = Workspace::new();
        ws.write(
            "herald.toml",
            &format!("[[sources]]\nname = \"s\"\nkind = \"{kind}\"\n{extra}"),
        );
        let run = ws.herald(&["check"]);
        assert_eq!(run.code, 2, "{kind}: {}", run.stderr);
        let key = extra.lines().last().and_then(|l| l.split(' ').next()).expect("key");
        let want = format!("herald.toml:{line}:1: sources[0].{key}: unknown field");
        assert!(run.stderr.contains(&want), "{kind}: missing {want:?} in:\n{}", run.stderr);
    }
}

#[test]
fn a_secret_pasted_where_its_variable_name_belongs_is_refused_and_not_repeated() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"find\"\nkind = \"mastodon-search\"\nbase_url = \"https://m.example\"\ntoken_env = \"zQ9-secret-token-value\"\nqueries = [\"x\"]\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("herald.toml:5:1: sources[0].token_env: must name an environment variable"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("zQ9-secret"),
        "the secret is never echoed:\n{}",
        run.stderr
    );
    // A well-formed name that is not set is a warning: herald can be checked before the
    // secrets are in place.
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"sky\"\nkind = \"bluesky-search\"\npds_url = \"https://p.example\"\nidentifier = \"b\"\npassword_env = \"HERALD_IT_SURELY_UNSET_VAR\"\nqueries = [\"x\"]\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("sources[0].password_env: warning: environment variable HERALD_IT_SURELY_UNSET_VAR is not set"),
        "{}",
        run.stderr
    );
}

#[test]
fn firehose_source_errors_name_line_and_key() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"hose\"\nkind = \"bluesky-firehose\"\nurl = \"https://bsky.network\"\nqueries = []\nplc_url = \"ftp://plc.example\"\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for want in [
        "herald.toml:4:1: sources[0].url: \"https://bsky.network\" is not a ws or wss URL",
        "herald.toml:5:1: sources[0].queries: give at least one query",
        "herald.toml:6:1: sources[0].plc_url: \"ftp://plc.example\" is not an http or https URL",
    ] {
        assert!(
            run.stderr.contains(want),
            "missing {want:?} in:\n{}",
            run.stderr
        );
    }
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"hose\"\nkind = \"bluesky-firehose\"\nurl = \"wss://bsky.network\"\nqueries = [\"奇骏\", \"X-Trail\"]\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_valid_keyword_configuration_passes_check() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"sky\"\nkind = \"bluesky-search\"\npds_url = \"https://pds.example\"\nidentifier = \"brand.example\"\npassword_env = \"PW\"\nqueries = [\"奇骏\", \"X-Trail\"]\n\n[[sources]]\nname = \"tags\"\nkind = \"mastodon-hashtag\"\nbase_url = \"https://m.example\"\nhashtags = [\"#奇骏\", \"xtrail\"]\ninterval_seconds = 120\n\n[[sources]]\nname = \"find\"\nkind = \"mastodon-search\"\nbase_url = \"https://m.example\"\ntoken_env = \"T\"\nqueries = [\"X-Trail\"]\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

// ---- against the running peers ------------------------------------------------------------

/// A listener over a fresh store, classifying with the checked-in keywords.
struct Bench {
    db: TestDb,
    listener: Listener,
    store: Store,
}

fn classifier() -> Arc<Classifier> {
    let groups = herald::classify::keywords::load_dir(&repo().join("keywords")).expect("keywords");
    Arc::new(Classifier::new(&groups).expect("classifier"))
}

impl Bench {
    fn new() -> Self {
        Self::open(TestDb::new())
    }

    fn open(db: TestDb) -> Self {
        let store = db.open();
        let listener = Listener::new(
            store.clone(),
            Arc::new(Ingest::new(store.clone(), classifier())),
        );
        Self {
            db,
            listener,
            store,
        }
    }

    /// The same store opened again by a new listener, as after a restart.
    fn restart(self) -> Self {
        let Bench {
            db,
            listener,
            store,
        } = self;
        drop(listener);
        drop(store);
        Self::open(db)
    }

    fn stored(&self, needle: &str) -> Vec<StoredMention> {
        self.store
            .mentions()
            .list(&MentionQuery {
                text: Some(needle.to_string()),
                ..MentionQuery::default()
            })
            .expect("mentions")
    }
}

fn nonce() -> String {
    format!("{:x}", fastrand::u64(..))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn bluesky_account(pds: &str) -> herald::platform::bluesky::Bluesky {
    herald::platform::bluesky::Bluesky::new(
        http(),
        pds.parse().expect("pds url"),
        "brand.test".into(),
        "brand-pass".into(),
    )
}

/// Waits until `check` is true, polling the peer; peers index asynchronously (the AppView about
/// a second after the post). Panics with `what` after 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..80 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the peer never showed {what}");
}

/// Posts as alice on the Bluesky dev network, mentioning brand.test; returns the post's URI.
async fn alice_posts_on_bluesky(p: &crate::peers::Peers, text: &str) -> String {
    alice_posts_on_bluesky_at(p, text, chrono::Utc::now()).await
}

/// As [`alice_posts_on_bluesky`], with the post claiming to be written at `at`.
async fn alice_posts_on_bluesky_at(
    p: &crate::peers::Peers,
    text: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let (alice_did, alice_jwt) = p.bsky_login("alice.test", "alice-pass").await;
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    let end = "@brand.test".len();
    assert!(text.starts_with("@brand.test"));
    let answer: Value = crate::peers::client()
        .post(format!("{}/xrpc/com.atproto.repo.createRecord", p.pds))
        .bearer_auth(alice_jwt)
        .json(&json!({
            "repo": alice_did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "langs": ["zh"],
                "createdAt": at.to_rfc3339(),
                "facets": [{ "index": { "byteStart": 0, "byteEnd": end }, "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": brand_did }] }]
            }
        }))
        .send()
        .await
        .expect("alice posts")
        .json()
        .await
        .expect("createRecord json");
    answer["uri"].as_str().expect("uri").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bluesky_keyword_post_is_found_in_one_poll_stored_once_and_classified() {
    let p = crate::peers::peers();
    let n = nonce();
    // The dev AppView's search is a case-sensitive substring match: a unique word finds only
    // this test's post, whatever other tests write.
    let keyword = format!("Kw{n}");
    let uri = alice_posts_on_bluesky(
        &p,
        &format!("@brand.test 想下个月试驾艾睿泽，电话13812345678 {keyword}"),
    )
    .await;
    let account = bluesky_account(&p.pds);
    eventually("the post in search", || async {
        account
            .query("app.bsky.feed.searchPosts", &[("q", keyword.as_str())])
            .await
            .is_ok_and(|v| v["posts"].as_array().is_some_and(|a| !a.is_empty()))
    })
    .await;

    let bench = Bench::new();
    let source = Source::BlueskySearch(BlueskySearch::new(
        bluesky_account(&p.pds),
        vec![keyword.clone()],
    ));
    let new = bench
        .listener
        .poll_once("sky-search", &source)
        .await
        .expect("poll");
    assert_eq!(new, 1, "found in one poll");
    let found = bench.stored(&keyword);
    assert_eq!(found.len(), 1);
    let m = &found[0];
    assert_eq!(m.mention.id, uri);
    assert_eq!(
        (
            m.mention.platform.as_str(),
            m.mention.author.as_str(),
            m.source.as_str()
        ),
        ("bluesky", "alice.test", "sky-search")
    );
    assert_eq!(m.classification.intent.as_str(), "purchase");
    assert_eq!(
        m.classification.lead.as_ref().map(|l| l.grade.as_str()),
        Some("hot")
    );
    let stats = bench.listener.stats("sky-search");
    assert_eq!((stats.polls, stats.failures, stats.new), (1, 0, 1));

    // The cursor is stored, and a poll from it emits nothing at all (not merely nothing new to
    // the store: paging itself does not repeat the post).
    let cursor = bench
        .store
        .meta()
        .cursor("sky-search")
        .expect("cursor")
        .expect("a cursor");
    let state: search::BlueskyCursor = serde_json::from_str(&cursor).expect("cursor json");
    assert!(state.queries.contains_key(&keyword), "{cursor}");
    assert!(state.seen.contains_key(&uri), "{cursor}");
    let (again, _) = source.poll(Some(&cursor)).await.expect("poll again");
    assert!(again.mentions.is_empty(), "{:?}", search::ids(&again));

    // The same post through the account's notifications is the same mention: stored once.
    let notifications = Source::Bluesky(BlueskyMentions::new(bluesky_account(&p.pds)));
    eventually("the mention notification", || async {
        notifications
            .poll(None)
            .await
            .is_ok_and(|(parsed, _)| search::ids(&parsed).contains(&uri.as_str()))
    })
    .await;
    bench
        .listener
        .poll_once("sky-notifications", &notifications)
        .await
        .expect("notifications poll");
    assert_eq!(
        bench.stored(&keyword).len(),
        1,
        "seen by two sources, stored once"
    );

    // After a restart, the stored cursor holds: nothing new.
    let bench = bench.restart();
    let source = Source::BlueskySearch(BlueskySearch::new(
        bluesky_account(&p.pds),
        vec![keyword.clone()],
    ));
    assert_eq!(bench.listener.poll_once("sky-search", &source).await, Ok(0));
    assert_eq!(bench.stored(&keyword).len(), 1);
    // Not even read again: nothing reached the ingest stage, so the store had nothing to
    // de-duplicate.
    assert_eq!(bench.listener.stats("sky-search").read, 0);

    // Later posts with the keyword are the only things the next poll finds, including one that
    // search sorts below the posts already seen: it claims to be written five minutes ago, so
    // its sortAt (the earlier of its own time and its indexing) is older than the cursor's
    // newest, as with a post the AppView indexed late.
    let later = alice_posts_on_bluesky(&p, &format!("@brand.test 再问一下 {keyword} 的价格")).await;
    let backdated = alice_posts_on_bluesky_at(
        &p,
        &format!("@brand.test 补发 {keyword} 昨天的试驾"),
        chrono::Utc::now() - chrono::TimeDelta::minutes(5),
    )
    .await;
    eventually("the new posts in search", || async {
        account
            .query("app.bsky.feed.searchPosts", &[("q", keyword.as_str())])
            .await
            .is_ok_and(|v| v["posts"].as_array().is_some_and(|a| a.len() == 3))
    })
    .await;
    let cursor = bench.store.meta().cursor("sky-search").expect("cursor");
    let (parsed, next) = source.poll(cursor.as_deref()).await.expect("poll");
    assert_eq!(search::ids(&parsed), [backdated.as_str(), later.as_str()]);
    let (parsed, _) = source.poll(next.as_deref()).await.expect("poll");
    assert!(parsed.mentions.is_empty(), "{:?}", search::ids(&parsed));
}

/// Posts a status as alice on mastodon-mock.
async fn alice_posts_on_mastodon(base: &str, text: &str) -> String {
    let answer: Value = crate::peers::client()
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth("alice-token")
        .json(&json!({ "status": text, "language": "zh" }))
        .send()
        .await
        .expect("alice posts")
        .json()
        .await
        .expect("status json");
    answer["id"].as_str().expect("status id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mastodon_hashtag_and_search_find_a_status_once_and_classify_it() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let base: url::Url = p.mastodon.parse().expect("url");
    let n = nonce();
    let tag = format!("xtrail{n}");
    let id = alice_posts_on_mastodon(
        &p.mastodon,
        &format!("@brand 新车刹车失灵了，要投诉！ #{tag}"),
    )
    .await;
    let bench = Bench::new();
    let hashtag = Source::MastodonKeywords(MastodonKeywords::hashtags(
        http(),
        base.clone(),
        None,
        std::slice::from_ref(&tag),
    ));
    // Two queries that find the same status: one mention.
    let found_by_search = Source::MastodonKeywords(MastodonKeywords::searches(
        http(),
        base.clone(),
        "brand-token".into(),
        &[tag.clone(), format!("#{tag}")],
    ));
    let mentions = Source::Mastodon(MastodonMentions::new(
        http(),
        base.clone(),
        "brand-token".into(),
    ));
    assert_eq!(bench.listener.poll_once("tags", &hashtag).await, Ok(1));
    let stored = bench.stored(&tag);
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert_eq!(
        m.mention.id,
        format!("mastodon:{}:{id}", base.host_str().expect("host"))
    );
    assert_eq!(
        (m.mention.author.as_str(), m.source.as_str()),
        ("alice", "tags")
    );
    assert_eq!(m.classification.intent.as_str(), "complaint");
    assert_eq!(m.classification.sentiment.label.as_str(), "negative");

    // Search and the mention notifications see the same status: still stored once.
    let (by_search, _) = found_by_search.poll(None).await.expect("search");
    assert_eq!(search::ids(&by_search), [m.mention.id.as_str()]);
    assert_eq!(
        bench.listener.poll_once("search", &found_by_search).await,
        Ok(0)
    );
    let (by_mention, _) = mentions.poll(None).await.expect("notifications");
    assert!(search::ids(&by_mention).contains(&m.mention.id.as_str()));
    bench
        .listener
        .poll_once("mentions", &mentions)
        .await
        .expect("mentions poll");
    assert_eq!(bench.stored(&tag).len(), 1, "three sources, one mention");

    // Cursors are stored; polls from them repeat nothing, before and after a restart.
    let cursor = bench
        .store
        .meta()
        .cursor("tags")
        .expect("cursor")
        .expect("a cursor");
    let state: search::MastodonCursor = serde_json::from_str(&cursor).expect("cursor json");
    assert_eq!(state.get(&format!("#{tag}")), Some(&id), "{cursor}");
    let (again, _) = hashtag.poll(Some(&cursor)).await.expect("poll");
    assert!(again.mentions.is_empty());
    let cursor = bench.store.meta().cursor("search").expect("cursor");
    let (again, _) = found_by_search.poll(cursor.as_deref()).await.expect("poll");
    assert!(
        again.mentions.is_empty(),
        "mastodon-mock ignores min_id on search: filtered here"
    );
    let bench = bench.restart();
    assert_eq!(bench.listener.poll_once("tags", &hashtag).await, Ok(0));
    assert_eq!(
        bench.listener.poll_once("search", &found_by_search).await,
        Ok(0)
    );
    assert_eq!(bench.stored(&tag).len(), 1);
    // Not even read again: nothing reached the ingest stage.
    assert_eq!(
        (
            bench.listener.stats("tags").read,
            bench.listener.stats("search").read
        ),
        (0, 0)
    );

    // More new statuses than one page: the hashtag source follows the Link header to read them
    // all, each once, in one poll.
    let mut posted = Vec::new();
    for i in 0..45 {
        posted.push(alice_posts_on_mastodon(&p.mastodon, &format!("第{i}条 #{tag}")).await);
    }
    let cursor = bench.store.meta().cursor("tags").expect("cursor");
    let (parsed, next) = hashtag.poll(cursor.as_deref()).await.expect("poll");
    let mut got: Vec<String> = parsed
        .mentions
        .iter()
        .map(|m| m.id.rsplit(':').next().expect("id").to_string())
        .collect();
    got.sort_by_key(|s| (s.len(), s.clone()));
    assert_eq!(got, posted, "every new status once, none of the old");
    let next: search::MastodonCursor = serde_json::from_str(&next.expect("cursor")).expect("json");
    assert_eq!(next.get(&format!("#{tag}")), posted.last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_faults_are_counted_and_skipped_and_the_cursor_holds() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let base: url::Url = p.mastodon.parse().expect("url");
    let tag = format!("fault{}", nonce());
    alice_posts_on_mastodon(&p.mastodon, &format!("一条 #{tag}")).await;
    let bench = Bench::new();
    let hashtag = Source::MastodonKeywords(MastodonKeywords::hashtags(
        http(),
        base,
        Some("brand-token".into()),
        std::slice::from_ref(&tag),
    ));
    let path = format!("/api/v1/timelines/tag/{tag}");
    p.mastodon_clear_faults().await;
    for effect in [
        json!({ "type": "ratelimit" }),
        json!({ "type": "status", "status": 500 }),
        json!({ "type": "malformed" }),
        json!({ "type": "status", "status": 200, "body": { "not": "a list" } }),
    ] {
        p.mastodon_fault("GET", &path, effect.clone(), 1).await;
        let result = bench.listener.poll_once("tags", &hashtag).await;
        if effect["status"] == 200 {
            // Readable JSON of the wrong shape: a poll with nothing in it, the reason counted.
            assert_eq!(result, Ok(0));
        } else {
            let e = result.expect_err("a failed poll");
            assert!(!e.why.contains("brand-token"), "no secret in errors: {e}");
            // mastodon-mock's rate limit says Retry-After: 300; the loop waits at least that.
            let asked = (effect["type"] == "ratelimit").then(|| Duration::from_secs(300));
            assert_eq!(e.retry_after, asked, "{e}");
        }
    }
    p.mastodon_clear_faults().await;
    let stats = bench.listener.stats("tags");
    assert_eq!(
        (stats.polls, stats.failures, stats.skipped, stats.new),
        (4, 3, 1, 0)
    );
    // The failures moved no cursor for the tag, so the next good poll reads the newest page.
    assert_eq!(bench.listener.poll_once("tags", &hashtag).await, Ok(1));
    assert_eq!(bench.stored(&tag).len(), 1);
}

// ---- faults the PDS will not produce, from a stand-in ---------------------------------------

async fn stand_in_pds() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "a", "refreshJwt": "r", "did": "did:plc:brand", "handle": "brand.test"
        })))
        .mount(&server)
        .await;
    server
}

fn search_page() -> Value {
    json!({ "posts": [
        { "uri": "at://did:plc:alice/app.bsky.feed.post/1", "author": { "handle": "alice.test" },
          "record": { "text": "奇骏 abc", "createdAt": "2026-11-22T10:00:00Z" }, "indexedAt": "2026-11-22T10:00:01Z" },
        { "uri": "at://did:plc:alice/app.bsky.feed.post/2", "author": { "handle": "alice.test" },
          "record": { "createdAt": "2026-11-22T10:00:00Z" }, "indexedAt": "2026-11-22T10:00:01Z" },
        "garbage"
    ]})
}

#[tokio::test]
async fn bluesky_search_faults_are_logged_counted_and_skipped() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = stand_in_pds().await;
    let search = || Mock::given(method("GET")).and(path("/xrpc/app.bsky.feed.searchPosts"));
    search()
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "30")
                .set_body_json(json!({ "error": "RateLimitExceeded", "message": "slow down" })),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    search()
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    search()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string("{\"posts\": [tru"),
        )
        .up_to_n_times(1)
        .with_priority(3)
        .mount(&server)
        .await;
    search()
        .respond_with(ResponseTemplate::new(200).set_body_json(search_page()))
        .with_priority(4)
        .mount(&server)
        .await;
    let bench = Bench::new();
    let source = Source::BlueskySearch(BlueskySearch::new(
        bluesky_account(&server.uri()),
        vec!["奇骏".into()],
    ));
    for i in 0..3 {
        let e = bench
            .listener
            .poll_once("sky", &source)
            .await
            .expect_err("a failed poll");
        let asked = (i == 0).then(|| Duration::from_secs(30));
        assert_eq!(e.retry_after, asked, "{e}");
        assert_eq!(
            bench.store.meta().cursor("sky").expect("cursor"),
            None,
            "a failed poll moves nothing"
        );
    }
    assert_eq!(bench.listener.poll_once("sky", &source).await, Ok(1));
    let stats = bench.listener.stats("sky");
    assert_eq!(
        (stats.polls, stats.failures, stats.skipped, stats.new),
        (4, 3, 2, 1)
    );
    assert_eq!(bench.stored("奇骏 abc").len(), 1);
    // The query went out as given, asking for the newest first.
    let requests = server.received_requests().await.expect("recorded");
    let last = requests.last().expect("a request");
    let q: Vec<(String, String)> = last
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert!(
        q.contains(&("q".into(), "奇骏".into())) && q.contains(&("sort".into(), "latest".into())),
        "{q:?}"
    );
}

#[tokio::test]
async fn a_failing_search_source_is_retried_with_backoff_until_it_answers() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = stand_in_pds().await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.searchPosts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_page()))
        .with_priority(2)
        .mount(&server)
        .await;
    let bench = Bench::new();
    let source = Arc::new(Source::BlueskySearch(BlueskySearch::new(
        bluesky_account(&server.uri()),
        vec!["奇骏".into()],
    )));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(bench.listener.clone().run_source(
        "sky".into(),
        source,
        Duration::from_millis(20),
        shutdown.clone(),
    ));
    for _ in 0..400 {
        if bench.listener.stats("sky").new > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    shutdown.cancel();
    task.await.expect("the loop ends on shutdown");
    let stats = bench.listener.stats("sky");
    assert_eq!((stats.failures, stats.new), (3, 1), "{stats:?}");
    assert_eq!(bench.stored("奇骏 abc").len(), 1);
}

// ---- `herald run` with keyword sources from herald.toml -------------------------------------

/// `herald run` in `ws` for `secs` seconds, then SIGTERM; returns its log.
fn run_for(ws: &Workspace, env: &[(&str, &str)], secs: u64) -> String {
    let log = ws.path().join("herald-run.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("run")
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("herald run");
    std::thread::sleep(Duration::from_secs(secs));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(&log).expect("log")
}

fn stored_by_cli(ws: &Workspace, needle: &str) -> Vec<Value> {
    let run = ws.herald(&["mentions", "--json", "--search", needle]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_listens_to_keyword_sources_from_its_configuration() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let n = nonce();
    let keyword = format!("Run{n}");
    let bsky_uri =
        alice_posts_on_bluesky(&p, &format!("@brand.test 奇骏 {keyword} 真不错，推荐")).await;
    let masto_id = alice_posts_on_mastodon(
        &p.mastodon,
        &format!("奇骏 #{} 真不错", keyword.to_lowercase()),
    )
    .await;
    let account = bluesky_account(&p.pds);
    eventually("the post in search", || async {
        account
            .query("app.bsky.feed.searchPosts", &[("q", keyword.as_str())])
            .await
            .is_ok_and(|v| v["posts"].as_array().is_some_and(|a| !a.is_empty()))
    })
    .await;
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!(
            "[[sources]]\nname = \"sky\"\nkind = \"bluesky-search\"\npds_url = \"{}\"\nidentifier = \"brand.test\"\npassword_env = \"HERALD_IT_PW\"\nqueries = [\"{keyword}\"]\ninterval_seconds = 1\n\n[[sources]]\nname = \"tags\"\nkind = \"mastodon-hashtag\"\nbase_url = \"{}\"\nhashtags = [\"#{keyword}\"]\ninterval_seconds = 1\n",
            p.pds, p.mastodon
        ),
    );
    let env = [("HERALD_IT_PW", "brand-pass")];
    run_for(&ws, &env, 5);
    let found = stored_by_cli(&ws, &keyword);
    let mut ids: Vec<&str> = found.iter().filter_map(|m| m["id"].as_str()).collect();
    ids.sort_unstable();
    let host = url::Url::parse(&p.mastodon).expect("url");
    let masto = format!("mastodon:{}:{masto_id}", host.host_str().expect("host"));
    let mut want = vec![bsky_uri.as_str(), masto.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{found:?}");
    assert!(found
        .iter()
        .all(|m| m["classification"]["sentiment"]["label"].is_string()));
    // Again from the stored cursors: nothing twice, and nothing even read again (the log of
    // the listening loop names every mention a poll read, new or not).
    let log = run_for(
        &ws,
        &[
            env[0],
            ("HERALD_LOG", "warn,herald=info,herald::listen::run=debug"),
        ],
        3,
    );
    assert_eq!(stored_by_cli(&ws, &keyword).len(), 2);
    assert!(log.contains("Polled"), "no source was polled:\n{log}");
    for id in [bsky_uri.as_str(), masto.as_str()] {
        assert!(!log.contains(id), "{id} was read again:\n{log}");
    }
}

/// The firehose of the dev network's PDS (`com.atproto.sync.subscribeRepos`): a post with a
/// watched keyword, written after the source connected, is found by its next poll, named by
/// its handle through the dev PLC directory, stored once and classified; a post without the
/// keyword is not emitted; the cursor is the last `seq` read, a reconnection from an earlier
/// one replays the post, and the store keeps it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bluesky_firehose_finds_a_keyword_post_as_it_is_written() {
    use herald::listen::firehose::Firehose;
    let p = crate::peers::peers();
    let plc: url::Url = std::env::var("HERALD_TEST_PLC_URL")
        .expect("HERALD_TEST_PLC_URL")
        .parse()
        .expect("plc url");
    let ws: url::Url = p.pds.replacen("http", "ws", 1).parse().expect("ws url");
    let n = nonce();
    let keyword = format!("Fh{n}");
    let firehose = || {
        Source::BlueskyFirehose(Box::new(
            Firehose::new(http(), &ws, &[keyword.to_lowercase()], Some(plc.clone()))
                .expect("firehose"),
        ))
    };
    let bench = Bench::new();
    let source = firehose();
    // The first poll connects: from now on, everything the PDS sequences reaches the source.
    bench
        .listener
        .poll_once("sky-firehose", &source)
        .await
        .expect("first poll");
    let uri = alice_posts_on_bluesky(
        &p,
        &format!("@brand.test 奇骏刹车失灵了，要投诉！{keyword}"),
    )
    .await;
    alice_posts_on_bluesky(&p, &format!("@brand.test nothing to see here {n}")).await;
    let mut new = 0;
    for _ in 0..20 {
        new += bench
            .listener
            .poll_once("sky-firehose", &source)
            .await
            .expect("poll");
        if new > 0 {
            break;
        }
    }
    assert_eq!(new, 1, "the post, once");
    let found = bench.stored(&keyword);
    assert_eq!(found.len(), 1);
    let m = &found[0];
    assert_eq!(
        m.mention.id, uri,
        "the same id as search and notifications give"
    );
    assert_eq!(
        (m.mention.platform.as_str(), m.mention.author.as_str()),
        ("bluesky", "alice.test")
    );
    assert_eq!(m.classification.intent.as_str(), "complaint");
    assert_eq!(m.classification.sentiment.label.as_str(), "negative");
    assert!(
        bench.stored(&format!("nothing to see here {n}")).is_empty(),
        "a post without the keyword is not emitted"
    );
    let cursor = bench
        .store
        .meta()
        .cursor("sky-firehose")
        .expect("cursor")
        .expect("a cursor");
    let seq: i64 = cursor.parse().expect("the cursor is a seq");
    assert!(seq > 0);

    // A new connection from an earlier cursor (the very start of the PDS's history) replays
    // the post; after a restart, the listener's poll from the stored cursor stores nothing
    // twice.
    let (replayed, next) = firehose().poll(Some("0")).await.expect("replay");
    assert!(
        replayed.mentions.iter().any(|m| m.id == uri),
        "{:?}",
        search::ids(&replayed)
    );
    assert!(next.and_then(|s| s.parse::<i64>().ok()) >= Some(seq));
    let bench = bench.restart();
    let source = firehose();
    let again = bench
        .listener
        .poll_once("sky-firehose", &source)
        .await
        .expect("poll after restart");
    assert_eq!(again, 0);
    assert_eq!(bench.stored(&keyword).len(), 1);
    // Not even read again: the cursor resumes after the post's frame.
    assert_eq!(bench.listener.stats("sky-firehose").read, 0);
}
