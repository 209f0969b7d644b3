//! Issue 6's "done when", end to end in a real browser: `herald run` listens to the brand's
//! Bluesky account (on the AT Protocol dev network) and its Mastodon account (on mastodon-mock)
//! and serves the web UI; alice mentions the brand on both; each mention becomes a drafted reply
//! in the Inbox; in Chromium a person approves one with an edit and rejects the other; exactly
//! one reply appears, threaded under its mention on the right peer, with the edited text; the
//! item pages and the API show both decisions, by that person, with the text before and after.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::Value;

use super::browser::{chromium, free_port, log_in, start_driver};
use super::{PASSWORD, USER};
use crate::helpers::Workspace;
use crate::peers::{client, peers, Peers};

const TOKEN: &str = "e2e-api-token-0123456789";

/// `herald run`, stopped with SIGTERM when dropped (also when an assertion fails).
struct Run(std::process::Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The brand's two accounts as listening sources and as reply channels, and the web UI.
fn workspace(p: &Peers, port: u16) -> Workspace {
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

[web]
bind = "127.0.0.1:{port}"
"#,
            pds = p.pds,
            masto = p.mastodon
        ),
    );
    ws
}

/// `herald user add` (before `herald run` takes the store), the password on stdin.
fn add_user(ws: &Workspace) {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["user", "add", USER])
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(format!("{PASSWORD}\n").as_bytes())?;
            c.wait_with_output()
        })
        .expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn log(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.path().join("herald.log")).unwrap_or_default()
}

async fn api(base: &str, path: &str) -> Value {
    let answer = client()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("api");
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.expect("json")
}

/// Every queue item (any state) whose mention contains `needle`, read page by page.
async fn items(base: &str, needle: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = api(
            base,
            &format!("/api/queue?state=all&limit=500&offset={offset}"),
        )
        .await;
        let batch = page["items"].as_array().cloned().unwrap_or_default();
        offset += batch.len();
        out.extend(batch.into_iter().filter(|i| {
            i["mention_text"]
                .as_str()
                .is_some_and(|t| t.contains(needle))
        }));
        if offset as u64 >= page["total"].as_u64().unwrap_or(0) {
            return out;
        }
    }
}

/// Polls `probe` every 300 ms until it gives a value, failing with `what` and the log after
/// `secs` seconds.
async fn until<T, F, Fut>(ws: &Workspace, secs: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {secs} s; herald's log:\n{}",
            log(ws)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// (who, action) of each audit entry.
fn actions(item: &Value) -> Vec<(String, String)> {
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
}

/// The brand's Bluesky posts answering `uri`.
async fn bluesky_replies_to(p: &Peers, brand_did: &str, uri: &str) -> Vec<Value> {
    p.bsky_posts(brand_did)
        .await
        .into_iter()
        .filter(|r| r["value"]["reply"]["parent"]["uri"].as_str() == Some(uri))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_on_both_peers_are_drafted_and_decided_in_the_browser_and_one_reply_is_threaded() {
    let started = Instant::now();
    // mastodon-mock's injected faults hit whichever request comes next: no other test's.
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let ws = workspace(&p, port);
    add_user(&ws);
    let _run = Run(Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("run")
        .current_dir(ws.path())
        .env_remove("HERALD_CONFIG")
        .env("HERALD_IT_PW", "brand-pass")
        .env("HERALD_IT_TOKEN", "brand-token")
        .env("HERALD_API_TOKEN", TOKEN)
        .env("HERALD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(ws.path().join("herald.log")).expect("log"))
        .spawn()
        .expect("herald run"));
    let http = client();
    until(&ws, 60, "the web UI answers", || {
        let http = http.clone();
        let url = format!("{base}/login");
        async move {
            http.get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;

    // alice mentions the brand on each peer while herald runs: a test drive request on
    // Bluesky (a lead), an opening-hours question on Mastodon.
    let nonce = format!("{:x}", fastrand::u64(..));
    let sky_uri = crate::inbox::bluesky_mention(
        &p,
        &format!("@brand.test 想下个月试驾艾睿雅，怎么预约？{nonce}"),
    )
    .await;
    let masto_status =
        crate::inbox::mastodon_mention(&p, &format!("@brand 请问周末店里几点开门？{nonce}")).await;

    // Both become drafts, each answered through the channel of the account it mentioned.
    let found = until(&ws, 60, "a draft for each mention", || {
        let (base, nonce) = (base.clone(), nonce.clone());
        async move {
            let found = items(&base, &nonce).await;
            (found.len() >= 2).then_some(found)
        }
    })
    .await;
    assert_eq!(found.len(), 2, "one draft per mention: {found:#?}");
    let by_platform = |pl: &str| {
        found
            .iter()
            .find(|i| i["platform"] == pl)
            .unwrap_or_else(|| panic!("no {pl} draft: {found:#?}"))
            .clone()
    };
    let (sky, masto) = (by_platform("bluesky"), by_platform("mastodon"));
    for (item, channel) in [(&sky, "sky"), (&masto, "masto")] {
        assert_eq!(item["state"], "pending", "{item:#?}");
        assert_eq!(item["channel"], channel, "{item:#?}");
        assert_eq!(actions(item), [("herald".to_string(), "draft".to_string())]);
    }
    assert_eq!(sky["priority"], "lead");
    assert_eq!(masto["priority"], "question");
    assert!(
        masto["mention_id"]
            .as_str()
            .is_some_and(|m| m.ends_with(&format!(":{masto_status}"))),
        "{masto:#?}"
    );
    let sky_id = sky["id"].as_u64().expect("id");
    let masto_id = masto["id"].as_u64().expect("id");
    let draft = masto["text"].as_str().expect("draft text").to_string();
    println!("e2e: drafts after {:?}", started.elapsed());

    // The browser: log in, the Inbox lists both.
    let driver = start_driver().await;
    let browser = chromium(&driver, "1440,1000").await;
    let wait = || browser.wait().at_most(Duration::from_secs(20));
    let key = |k: String| {
        let browser = &browser;
        async move {
            browser
                .active_element()
                .await
                .expect("focus")
                .send_keys(&k)
                .await
                .expect("key");
        }
    };
    // The Inbox pages 50 items, most urgent first: the brand accounts on the shared peers have
    // older mentions too (each source's first poll drafts the newest page of them), so the test
    // pages through the filtered Inbox as a person would, until the item shows.
    let find = |query: &'static str, id: u64| {
        let browser = &browser;
        let base = &base;
        async move {
            for page in 1..=20 {
                browser
                    .goto(&format!("{base}/inbox?{query}&page={page}"))
                    .await
                    .expect("goto");
                browser
                    .wait()
                    .at_most(Duration::from_secs(20))
                    .for_element(Locator::Id("queue"))
                    .await
                    .expect("the inbox");
                if browser
                    .find(Locator::Id(&format!("item-{id}")))
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            panic!("item {id} is not listed in /inbox?{query}");
        }
    };
    browser
        .goto(&format!("{base}/inbox?state=pending"))
        .await
        .expect("goto");
    log_in(&browser, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox");
    assert_eq!(browser.current_url().await.expect("url").path(), "/inbox");
    find("state=pending&platform=bluesky", sky_id).await;
    find("state=pending&platform=mastodon", masto_id).await;

    // The Mastodon question: open it, edit the draft from the keyboard (e, type, Esc) and
    // approve with the edit (a).
    browser
        .find(Locator::Css(&format!("#item-{masto_id} a.open")))
        .await
        .expect("the question's link")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("editor"))
        .await
        .expect("item page");
    assert_eq!(
        browser.current_url().await.expect("url").path(),
        format!("/inbox/{masto_id}")
    );
    let addition = format!(" Saturday and Sunday 9:00-18:00. {nonce}-reply");
    key("e".into()).await;
    key(addition.clone()).await;
    key(char::from(Key::Escape).to_string()).await;
    key("a".into()).await;
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("approved notice");
    let edited = format!("{draft}{addition}");

    // The Bluesky lead: open it from the Inbox, give a reason, reject.
    find("state=pending&platform=bluesky", sky_id).await;
    browser
        .find(Locator::Css(&format!("#item-{sky_id} a.open")))
        .await
        .expect("the lead is listed")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("reason"))
        .await
        .expect("item page")
        .send_keys("called back by the dealer")
        .await
        .expect("type");
    browser
        .find(Locator::Id("reject"))
        .await
        .expect("reject button")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("rejected notice");
    println!("e2e: decided after {:?}", started.elapsed());

    // herald run sends the approved reply by itself.
    let sent = until(&ws, 60, "the approved reply is sent", || {
        let base = base.clone();
        async move {
            let item = api(&base, &format!("/api/queue/{masto_id}")).await;
            assert_ne!(item["state"], "failed", "{item:#?}");
            (item["state"] == "sent").then_some(item)
        }
    })
    .await;
    println!("e2e: sent after {:?}", started.elapsed());

    // Exactly one reply, on Mastodon, threaded under the mention, with the edited text.
    let replies = crate::inbox::mastodon_replies_to(&p, &masto_status).await;
    assert_eq!(replies.len(), 1, "{replies:#?}");
    let reply = &replies[0];
    assert_eq!(sent["remote_id"], reply["id"]);
    assert_eq!(reply["in_reply_to_id"], masto_status.as_str());
    let content = reply["content"].as_str().unwrap_or_default();
    assert!(
        content.contains(&format!("{nonce}-reply")) && content.contains("9:00-18:00"),
        "the edited text went out: {content}"
    );
    assert_eq!(sent["text"], edited.as_str());
    // Nothing on Bluesky for the rejected lead, nothing anywhere else with the nonce.
    let (brand_did, _) = p.bsky_login("brand.test", "brand-pass").await;
    assert!(
        bluesky_replies_to(&p, &brand_did, &sky_uri)
            .await
            .is_empty(),
        "the rejected reply was sent"
    );
    let stray = p
        .bsky_posts(&brand_did)
        .await
        .into_iter()
        .filter(|r| {
            r["value"]["text"]
                .as_str()
                .is_some_and(|t| t.contains(&nonce))
        })
        .count();
    assert_eq!(stray, 0, "no Bluesky post carries the nonce");

    // The audit log through the API: both decisions by the logged-in user, the edit with its
    // text before and after, the reason of the rejection.
    let pair = |w: &str, a: &str| (w.to_string(), a.to_string());
    assert_eq!(
        actions(&sent),
        [
            pair("herald", "draft"),
            pair(USER, "approve"),
            pair("herald", "claim"),
            pair("herald", "sent")
        ]
    );
    let approve = &sent["audit"][1];
    assert_eq!(approve["text_before"], draft.as_str());
    assert_eq!(approve["text_after"], edited.as_str());
    assert_eq!(
        (approve["from"].as_str(), approve["to"].as_str()),
        (Some("pending"), Some("approved"))
    );
    let rejected = api(&base, &format!("/api/queue/{sky_id}")).await;
    assert_eq!(rejected["state"], "rejected", "{rejected:#?}");
    assert_eq!(
        actions(&rejected),
        [pair("herald", "draft"), pair(USER, "reject")]
    );
    assert_eq!(rejected["audit"][1]["note"], "called back by the dealer");

    // And in the browser: each item page's history.
    let history = |id: u64| {
        let (browser, base) = (&browser, &base);
        async move {
            browser
                .goto(&format!("{base}/inbox/{id}"))
                .await
                .expect("goto");
            browser
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::Id("history"))
                .await
                .expect("history")
                .text()
                .await
                .expect("text")
        }
    };
    let shown = history(masto_id).await;
    let approve_line = shown
        .lines()
        .find(|l| l.contains("approve"))
        .unwrap_or_else(|| panic!("no approve line: {shown}"));
    assert!(approve_line.contains(USER), "{approve_line}");
    assert!(
        approve_line.contains(&format!("{nonce}-reply")),
        "the text after: {approve_line}"
    );
    let first_words: String = draft.chars().take(12).collect();
    assert!(
        approve_line.matches(first_words.as_str()).count() >= 2,
        "the text before and after: {approve_line}"
    );
    assert!(shown.contains("sent"), "{shown}");
    let state = browser
        .find(Locator::Id("state"))
        .await
        .expect("state")
        .text()
        .await
        .expect("text");
    assert_eq!(state, "sent");
    let shown = history(sky_id).await;
    let reject_line = shown
        .lines()
        .find(|l| l.contains("reject"))
        .unwrap_or_else(|| panic!("no reject line: {shown}"));
    assert!(
        reject_line.contains(USER) && reject_line.contains("called back by the dealer"),
        "{reject_line}"
    );

    // Still exactly one reply: nothing was sent twice meanwhile.
    assert_eq!(
        crate::inbox::mastodon_replies_to(&p, &masto_status)
            .await
            .len(),
        1
    );
    browser.close().await.expect("close browser");
    println!("e2e: done after {:?}", started.elapsed());
}
