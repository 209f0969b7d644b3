//! Source parsers on saved responses, with golden outputs, and garbage that must never crash
//! them. `HERALD_BLESS=1` rewrites the goldens (read the diff before committing it).

use chrono::{DateTime, Utc};
use herald::listen::{feed, page, Parsed};
use proptest::prelude::*;

use crate::helpers::repo;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures/listen").join(name)).expect("fixture")
}

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
        .expect("t")
        .with_timezone(&Utc)
}

/// Compares parsed mentions (as JSON Lines, plus the skipped count) with the golden file.
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
fn rss_forum_feed() {
    let parsed =
        feed::parse("autohome-xtrail", &fixture("forum-rss.xml"), fetched_at()).expect("a feed");
    golden("forum-rss", &parsed);
    assert_eq!(parsed.mentions.len(), 3);
    assert_eq!(parsed.skipped.len(), 1, "the empty item");
    assert!(
        parsed.mentions[0].text.contains("5.6L"),
        "HTML stripped, text kept"
    );
}

#[test]
fn atom_search_alerts() {
    let parsed = feed::parse("alerts", &fixture("alerts-atom.xml"), fetched_at()).expect("a feed");
    golden("alerts-atom", &parsed);
    assert!(parsed.mentions[1].text.contains("caught fire"));
}

#[test]
fn json_feed_bridge() {
    let parsed = feed::parse(
        "weibo-bridge",
        &fixture("mentions-jsonfeed.json"),
        fetched_at(),
    )
    .expect("a feed");
    golden("mentions-jsonfeed", &parsed);
    assert_eq!(
        parsed.mentions[1].author, "weibo-bridge",
        "the feed's author when an item has none"
    );
}

fn discuz() -> page::Selectors {
    page::Selectors::new(
        "div[id^=post_]",
        "td.t_f",
        Some("a.xw1"),
        Some("em[id^=authorposton]"),
        Some("a[id^=postnum]"),
    )
    .expect("selectors")
}

#[test]
fn discuz_forum_thread() {
    let html = String::from_utf8(fixture("forum-thread.html")).expect("utf-8");
    let base = "https://bbs.example-xcar.cn/thread-3301-1-1.html"
        .parse()
        .expect("url");
    let parsed = page::parse(
        "xcar-teana",
        &base,
        &html,
        &discuz(),
        chrono_tz::Asia::Shanghai,
        fetched_at(),
    );
    golden("forum-thread", &parsed);
    assert_eq!(parsed.mentions.len(), 2);
    assert_eq!(parsed.skipped.len(), 1, "the hidden post");
    assert_eq!(
        parsed.mentions[1].created_at.to_rfc3339(),
        "2026-11-21T13:02:00+00:00",
        "from the span's title, not 昨天"
    );
}

#[test]
fn a_feed_that_is_not_a_feed_is_an_error_not_a_crash() {
    for body in [
        &b""[..],
        b"<html><body>502 Bad Gateway</body></html>",
        b"{\"version\": 1}",
        b"\xff\xfe\x00garbage",
    ] {
        assert!(feed::parse("x", body, fetched_at()).is_err(), "{body:?}");
    }
}

#[test]
fn stale_selectors_give_an_empty_page_not_a_crash() {
    let parsed = page::parse(
        "x",
        &"https://a.example".parse().expect("url"),
        "<html><p>redesigned</p></html>",
        &discuz(),
        chrono_tz::UTC,
        fetched_at(),
    );
    assert!(parsed.mentions.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn garbage_feeds_never_crash(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = feed::parse("fuzz", &bytes, fetched_at());
    }

    #[test]
    fn mangled_feeds_never_crash(name in prop_oneof![Just("forum-rss.xml"), Just("alerts-atom.xml"), Just("mentions-jsonfeed.json")], cut in 0usize..4000, flips in proptest::collection::vec((0usize..4000, any::<u8>()), 0..20)) {
        let mut bytes = fixture(name);
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        bytes.truncate(cut.min(bytes.len()));
        if let Ok(parsed) = feed::parse("fuzz", &bytes, fetched_at()) {
            for m in parsed.mentions {
                prop_assert!(!m.text.is_empty());
            }
        }
    }

    #[test]
    fn mangled_pages_never_crash(cut in 0usize..6000, flips in proptest::collection::vec((0usize..6000, any::<char>()), 0..30)) {
        let mut chars: Vec<char> = String::from_utf8(fixture("forum-thread.html")).expect("utf-8").chars().collect();
        for (i, c) in flips {
            let n = chars.len();
            chars[i % n] = c;
        }
        chars.truncate(cut.min(chars.len()));
        let html: String = chars.into_iter().collect();
        let parsed = page::parse("fuzz", &"https://a.example".parse().expect("url"), &html, &discuz(), chrono_tz::UTC, fetched_at());
        for m in parsed.mentions {
            prop_assert!(!m.text.is_empty());
        }
    }
}

/// The log filter under which a run's log names every mention a poll read, new or not.
const READ_LOG: (&str, &str) = ("HERALD_LOG", "warn,herald=info,herald::listen::run=debug");

/// `herald run` with one listening source on a peer, for `secs` seconds; returns its log.
fn run_for(ws: &crate::helpers::Workspace, env: &[(&str, &str)], secs: u64) -> String {
    let log = ws.path().join("herald-run.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("run")
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("herald run");
    std::thread::sleep(std::time::Duration::from_secs(secs));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(&log).expect("log")
}

/// Asserts that a run from the stored cursor polled (its log says so) and read `id` not once:
/// the cursor, not the store's de-duplication, kept it out.
fn not_read_again(log: &str, id: &str) {
    assert!(
        log.contains("Polled"),
        "the source was never polled:\n{log}"
    );
    assert!(!log.contains(id), "{id} was read again:\n{log}");
}

fn stored_mentions(ws: &crate::helpers::Workspace, needle: &str) -> Vec<serde_json::Value> {
    let run = ws.herald(&["mentions", "--json", "--search", needle]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mastodon_mention_is_picked_up_stored_once_and_classified() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = crate::peers::peers();
    let ws = crate::helpers::Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[sources]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"{}\"\ntoken_env = \"HERALD_IT_TOKEN\"\ninterval_seconds = 1\n", p.mastodon),
    );
    let nonce = format!("{:x}", fastrand::u64(..));
    // alice mentions the brand after herald has started listening.
    let poster = tokio::spawn({
        let base = p.mastodon.clone();
        let nonce = nonce.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let answer = crate::peers::client()
                .post(format!("{base}/api/v1/statuses"))
                .bearer_auth("alice-token")
                .json(&serde_json::json!({ "status": format!("@brand 新车刹车失灵了，要投诉！{nonce}") }))
                .send()
                .await
                .expect("alice posts");
            assert!(answer.status().is_success());
        }
    });
    let env = [("HERALD_IT_TOKEN", "brand-token")];
    run_for(&ws, &env, 6);
    poster.await.expect("poster");
    let found = stored_mentions(&ws, &nonce);
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!(
        (m["platform"].as_str(), m["author"].as_str()),
        (Some("mastodon"), Some("alice"))
    );
    assert_eq!(m["classification"]["intent"], "complaint");
    assert_eq!(m["classification"]["sentiment"]["label"], "negative");
    let rules: Vec<&str> = m["classification"]["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .filter_map(|x| x["rule"].as_str())
        .collect();
    assert!(rules.contains(&"brake-failure"), "{rules:?}");
    // Another run reads from the stored cursor: still once, and not even read again.
    let id = m["id"].as_str().expect("id").to_string();
    let log = run_for(&ws, &[env[0], READ_LOG], 3);
    assert_eq!(stored_mentions(&ws, &nonce).len(), 1);
    not_read_again(&log, &id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bluesky_mention_is_picked_up_stored_once_and_classified() {
    let p = crate::peers::peers();
    let ws = crate::helpers::Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[sources]]\nname = \"sky\"\nkind = \"bluesky\"\npds_url = \"{}\"\nidentifier = \"brand.test\"\npassword_env = \"HERALD_IT_PW\"\ninterval_seconds = 1\n", p.pds),
    );
    let nonce = format!("{:x}", fastrand::u64(..));
    let (alice_did, alice_jwt) = p.bsky_login("alice.test", "alice-pass").await;
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    let text = format!("@brand.test 想下个月试驾艾睿泽，电话13812345678 {nonce}");
    let end = "@brand.test".len();
    let poster = tokio::spawn({
        let pds = p.pds.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let answer = crate::peers::client()
                .post(format!("{pds}/xrpc/com.atproto.repo.createRecord"))
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
        }
    });
    run_for(&ws, &[("HERALD_IT_PW", "brand-pass")], 8);
    poster.await.expect("poster");
    let found = stored_mentions(&ws, &nonce);
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!(
        (m["platform"].as_str(), m["author"].as_str()),
        (Some("bluesky"), Some("alice.test"))
    );
    assert_eq!(m["classification"]["intent"], "purchase");
    assert_eq!(m["classification"]["lead"]["grade"], "hot");
    let id = m["id"].as_str().expect("id").to_string();
    let log = run_for(&ws, &[("HERALD_IT_PW", "brand-pass"), READ_LOG], 3);
    assert_eq!(stored_mentions(&ws, &nonce).len(), 1);
    not_read_again(&log, &id);
}

/// `herald run` with a feed source on a local server, no peers needed: every entry the feed
/// holds goes through the one ingest stage (classified, stored, the lead drafted, its phone
/// number masked in the log); a second run, from the stored cursor (the feed's `ETag`), reads
/// none of them again: not merely nothing new to the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_ingests_a_feed_once_and_a_second_run_reads_nothing_again() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/forum.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/forum.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_bytes(fixture("forum-rss.xml")),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let ws = crate::helpers::Workspace::new();
    ws.write(
        "herald.toml",
        &format!(
            "[[sources]]\nname = \"forum\"\nkind = \"feed\"\nurl = \"{}/forum.xml\"\ninterval_seconds = 1\n",
            server.uri()
        ),
    );
    let all = |ws: &crate::helpers::Workspace| {
        let run = ws.herald(&["mentions", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut ids: Vec<String> = run
            .stdout
            .lines()
            .map(|l| {
                let m: serde_json::Value = serde_json::from_str(l).expect("json line");
                assert!(m["classification"]["intent"].is_string(), "{m}");
                m["id"].as_str().expect("id").to_string()
            })
            .collect();
        ids.sort();
        ids
    };
    let want: Vec<String> = ["1001", "1002", "1004"]
        .iter()
        .map(|n| format!("feed:127.0.0.1:thread-{n}"))
        .collect();

    let log = run_for(&ws, &[READ_LOG], 3);
    assert_eq!(all(&ws), want, "{log}");
    for id in &want {
        assert!(log.contains(id.as_str()), "{id} was not read:\n{log}");
    }
    assert!(log.contains("Reply drafted"), "{log}");
    assert!(
        !log.contains("13800001234"),
        "a lead's phone number in the log:\n{log}"
    );

    let log = run_for(&ws, &[READ_LOG], 3);
    assert_eq!(all(&ws), want);
    assert!(
        log.contains("Polled"),
        "the source was never polled:\n{log}"
    );
    assert!(
        !log.contains("Read a mention"),
        "read again from the stored cursor:\n{log}"
    );
    let revalidated = server
        .received_requests()
        .await
        .expect("requests")
        .iter()
        .filter(|r| r.headers.get("if-none-match").is_some())
        .count();
    assert!(revalidated > 0, "the second run never sent the stored ETag");
}
