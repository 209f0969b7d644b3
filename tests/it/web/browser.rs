//! A real browser (Debian's Chromium, driven through chromedriver with fantoccini) logs in,
//! reads the Calendar, pauses and resumes publishing. With `HERALD_SCREENSHOTS=docs` it saves the
//! Calendar as `docs/calendar.png`; the Alerts test saves `docs/alerts.png` and `docs/alert.png`.
//! Two more check the Chinese Inbox's layout: on a 390 px phone (`docs/inbox-phone.png`,
//! `docs/item-phone.png`) and beside long mentions on a narrow desktop window. The Calendar's
//! thumbnails are checked loaded (`docs/calendar-media.png`), and a picture attached to a reply.
//!
//! Chromium and chromedriver come from `tests/peers/install.sh`; the test fails, with that
//! hint, if they are missing rather than skipping silently.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
// chromedriver listens on 127.0.0.1: plain HTTP, so no TLS stack (and no aws-lc build) for it.
use hyper_util::client::legacy::connect::HttpConnector;

use super::{App, PASSWORD, USER};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
pub(super) struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// The app's router served on a free loopback port.
pub(super) struct Served {
    pub(super) base: String,
    pub(super) shutdown: tokio_util::sync::CancellationToken,
    pub(super) server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(super) async fn serve(app: &super::App) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(herald::web::serve(
        listener,
        app.router.clone(),
        shutdown.clone(),
    ));
    Served {
        base,
        shutdown,
        server,
    }
}

async fn stop(
    shutdown: tokio_util::sync::CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
) {
    shutdown.cancel();
    server.await.expect("join").expect("served");
}

pub(super) async fn start_driver() -> Driver {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: run `bash tests/peers/install.sh` (it installs chromium and chromium-driver)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().expect("profile dir"),
    };
    let client = reqwest::Client::new();
    // Generous: CI shares two cores among many compiling jobs.
    for _ in 0..300 {
        if client
            .get(format!("{}/status", driver.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

/// A headless Chromium session through `driver`, in English, with a window of `size`
/// ("width,height": screenshots are taken at that size).
pub(super) async fn chromium(driver: &Driver, size: &str) -> fantoccini::Client {
    chromium_with(driver, size, None).await
}

/// As [`chromium`], the page laid out as on a phone of `width` × `height` CSS pixels (headless
/// Chromium's windows are at least 500 px wide, so the phone is emulated, as its developer
/// tools do: the viewport, a device pixel ratio of 1 and touch).
pub(super) async fn phone(driver: &Driver, width: u32, height: u32) -> fantoccini::Client {
    let metrics = serde_json::json!({
        "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true },
    });
    chromium_with(driver, &format!("{width},{height}"), Some(metrics)).await
}

async fn chromium_with(
    driver: &Driver,
    size: &str,
    mobile_emulation: Option<serde_json::Value>,
) -> fantoccini::Client {
    let profile = driver._profile.path().display().to_string();
    let mut caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--lang=en-US", format!("--window-size={size}"),
                format!("--user-data-dir={profile}"),
            ],
        },
    });
    if let Some(m) = mobile_emulation {
        caps["goog:chromeOptions"]["mobileEmulation"] = m;
    }
    let caps = caps.as_object().expect("object").clone();
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

/// With `HERALD_SCREENSHOTS=<dir>` (relative to the repository), saves what the browser shows
/// as `<dir>/<name>`; otherwise does nothing.
pub(super) async fn screenshot(client: &fantoccini::Client, name: &str) {
    if let Ok(dir) = std::env::var("HERALD_SCREENSHOTS") {
        let dir = crate::helpers::repo().join(dir);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(dir.join(name), png).expect("save screenshot");
    }
}

/// Fills in and sends the login form the browser is on.
pub(super) async fn log_in(client: &fantoccini::Client, user: &str, password: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("password"))
        .await
        .expect("login form");
    for (id, text) in [("user", user), ("password", password)] {
        client
            .find(Locator::Id(id))
            .await
            .expect(id)
            .send_keys(text)
            .await
            .expect("type");
    }
    client
        .find(Locator::Id("login"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_reads_the_calendar_pauses_and_resumes() {
    let app = App::new();
    // A realistic week: the real content plan, planned from Monday 2026-11-23 (the app's clock).
    let config = herald::config::load(&app.ws.path().join("herald.toml"), false).expect("config");
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let start = herald::schedule::local_midnight(config.herald.timezone, monday);
    let planned = herald::schedule::replan(
        &config,
        Some(&app.store),
        start,
        monday + chrono::Days::new(7),
        &[],
        true,
    )
    .expect("plan");
    assert!(planned.entries.len() >= 35, "a week of posts");
    let first_text: String = planned.entries[0]
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(20)
        .collect();

    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;

    let driver = start_driver().await;
    let client = chromium(&driver, "1440,1100").await;
    let wait = || client.wait().at_most(Duration::from_secs(20));

    // Not logged in: the calendar sends the browser to the login form.
    client
        .goto(&format!("{base}/calendar"))
        .await
        .expect("goto");
    wait()
        .for_element(Locator::Id("password"))
        .await
        .expect("login form");
    assert_eq!(client.current_url().await.expect("url").path(), "/login");
    client
        .find(Locator::Id("user"))
        .await
        .expect("user")
        .send_keys(USER)
        .await
        .expect("type");
    client
        .find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    client
        .find(Locator::Id("login"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");

    // The Calendar: the week's posts and no hold.
    let state = wait()
        .for_element(Locator::Id("hold-state"))
        .await
        .expect("calendar");
    assert_eq!(client.current_url().await.expect("url").path(), "/calendar");
    assert_eq!(
        state.text().await.expect("text"),
        "Publishing runs normally."
    );
    let html = client.source().await.expect("source");
    assert!(
        html.contains("Mon 2026-11-23") && html.contains("Sun 2026-11-29"),
        "the week"
    );
    assert!(
        html.contains(&first_text),
        "the first planned post ({first_text}) is shown"
    );
    let posts = client
        .find_all(Locator::Css("li.post"))
        .await
        .expect("posts");
    assert_eq!(
        posts.len(),
        planned.entries.len(),
        "every post of the week is listed"
    );
    screenshot(&client, "calendar.png").await;

    // Pause with the plan's default crisis categories, then resume.
    client
        .find(Locator::Id("reason"))
        .await
        .expect("reason")
        .send_keys("browser drill")
        .await
        .expect("type");
    client
        .find(Locator::Id("pause"))
        .await
        .expect("pause")
        .click()
        .await
        .expect("click");
    let resume = wait()
        .for_element(Locator::Id("resume"))
        .await
        .expect("resume form");
    let hold = app.store.meta().hold().expect("hold").expect("paused");
    assert_eq!(hold.categories, ["product", "lifestyle"]);
    assert_eq!(hold.reason, "browser drill");
    let banner = client
        .find(Locator::Id("hold-state"))
        .await
        .expect("banner")
        .text()
        .await
        .expect("text");
    assert!(
        banner.contains("Publishing is on hold") && banner.contains("browser drill"),
        "{banner}"
    );
    let held = client
        .find_all(Locator::Css("li.post.is-held"))
        .await
        .expect("held posts");
    assert!(!held.is_empty(), "held posts are marked");

    resume.click().await.expect("click");
    wait()
        .for_element(Locator::Id("pause"))
        .await
        .expect("pause form again");
    assert_eq!(app.store.meta().hold().expect("hold"), None);
    assert!(client
        .find_all(Locator::Css("li.post.is-held"))
        .await
        .expect("posts")
        .is_empty());

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}

/// The Inbox in a real browser, in process (no peers): log in, triage with the keyboard
/// (j, o, e, Escape, a on one item; r on the other), and the audit log names the user. With
/// `HERALD_SCREENSHOTS=docs` it saves `docs/inbox.png` and `docs/item.png`.
#[tokio::test]
async fn a_browser_triages_the_inbox_with_the_keyboard() {
    use fantoccini::key::Key;
    use herald::inbox::{Priority, ReplyState};
    let app = App::new();
    let now = app.now;
    let first = super::inbox::enqueue(
        &app,
        &super::inbox::item(
            "kb-1",
            ("bluesky", "en", Priority::Complaint),
            "my leaf's charger <b>broke</b> again",
            now - chrono::TimeDelta::hours(1),
        ),
    );
    let second = super::inbox::enqueue(
        &app,
        &super::inbox::item(
            "kb-2",
            ("mastodon", "zh", Priority::Question),
            "续航多少公里？",
            now - chrono::TimeDelta::minutes(3),
        ),
    );
    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = chromium(&driver, "1440,1000").await;
    let wait = || client.wait().at_most(Duration::from_secs(20));
    let key = |k: &str| {
        let k = k.to_string();
        let client = &client;
        async move {
            client
                .active_element()
                .await
                .expect("focus")
                .send_keys(&k)
                .await
                .expect("key");
        }
    };
    let shot = |name: &'static str| screenshot(&client, name);

    client.goto(&format!("{base}/inbox")).await.expect("goto");
    log_in(&client, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox");
    assert_eq!(client.current_url().await.expect("url").path(), "/inbox");
    let selected = || async {
        client
            .find(Locator::Css("tr.item.selected"))
            .await
            .expect("a selected row")
            .attr("id")
            .await
            .expect("attr")
            .unwrap_or_default()
    };
    // Most urgent first: the complaint, then the question.
    assert_eq!(selected().await, format!("item-{first}"));
    key("j").await;
    assert_eq!(selected().await, format!("item-{second}"));
    key("k").await;
    assert_eq!(selected().await, format!("item-{first}"));
    shot("inbox.png").await;

    // Open the complaint, edit it from the keyboard, approve with the edit.
    key("o").await;
    wait()
        .for_element(Locator::Id("editor"))
        .await
        .expect("item page");
    assert_eq!(
        client.current_url().await.expect("url").path(),
        format!("/inbox/{first}")
    );
    key("e").await;
    key(" Sorry — a technician will call you today.").await;
    key(&char::from(Key::Escape).to_string()).await;
    shot("item.png").await;
    key("a").await;
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("approved notice");
    let done = app.store.queue().item(first).expect("get").expect("item");
    assert_eq!(done.state, ReplyState::Approved);
    assert_eq!(
        done.text,
        "draft for kb-1 Sorry — a technician will call you today."
    );
    let last = done.audit.last().expect("audit");
    assert_eq!((last.who.as_str(), last.action.as_str()), (USER, "approve"));
    assert_eq!(last.text_before, "draft for kb-1");

    // Back to the inbox: the question is the only pending row; open it and reject it.
    client
        .goto(&format!("{base}/inbox?state=pending"))
        .await
        .expect("goto");
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox");
    assert_eq!(selected().await, format!("item-{second}"));
    key("o").await;
    wait()
        .for_element(Locator::Id("reject-form"))
        .await
        .expect("item page");
    key("r").await;
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("rejected notice");
    let gone = app.store.queue().item(second).expect("get").expect("item");
    assert_eq!(gone.state, ReplyState::Rejected);
    let last = gone.audit.last().expect("audit");
    assert_eq!((last.who.as_str(), last.action.as_str()), (USER, "reject"));
    let history = client
        .find(Locator::Id("history"))
        .await
        .expect("history")
        .text()
        .await
        .expect("text");
    assert!(
        history.contains("reject") && history.contains(USER),
        "{history}"
    );

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}

/// The Alerts page in a real browser, in process: the crisis banner, the chart, acknowledging
/// from the list and resolving from the alert's page (which lifts the hold and the banner).
/// With `HERALD_SCREENSHOTS=docs` it saves `docs/alerts.png` and `docs/alert.png`.
#[tokio::test]
async fn a_browser_acknowledges_and_resolves_a_crisis_alert() {
    use herald::store::{AlertLevel, AlertSample, AlertState};
    let app = App::new();
    let now = app.now;
    // A day of mentions, quiet, then a spike of complaints over the last hour and a half.
    let mut n = 0;
    for hour in 0..24i64 {
        let spike = hour < 2;
        let count = if spike {
            18 + 6 * (2 - hour)
        } else {
            4 + (hour * 7) % 5
        };
        for k in 0..count {
            n += 1;
            let at = now - chrono::TimeDelta::minutes(hour * 60 + k * 60 / count + 1);
            let negative = if spike { k % 5 != 0 } else { k % 4 == 0 };
            app.store
                .mentions()
                .insert(&super::mention(
                    &format!("b{n}"),
                    &format!("user{n}"),
                    &format!("mention {n}"),
                    &at.to_rfc3339(),
                    (
                        "mastodon",
                        if negative { "negative" } else { "neutral" },
                        "other",
                    ),
                    None,
                ))
                .expect("insert");
        }
    }
    let crisis = "brand-20261123T0120";
    let mut ev = super::alerts::event(
        crisis,
        AlertLevel::Warning,
        now - chrono::TimeDelta::minutes(50),
    );
    super::alerts::raise(&app, &ev, &[], &["wecom"]);
    ev.level = AlertLevel::Crisis;
    ev.opened_at = now - chrono::TimeDelta::minutes(35);
    super::alerts::raise(
        &app,
        &ev,
        &[
            AlertSample {
                id: "s1".into(),
                author: "车主小王".into(),
                text: "刹车失灵了，4S店不管，大家千万别买".into(),
                url: Some("https://mastodon.example/@wang/1".into()),
            },
            AlertSample {
                id: "s2".into(),
                author: "leaf_owner".into(),
                text: "Brakes failed on the highway <b>twice</b>. Dealer won't answer.".into(),
                url: None,
            },
        ],
        &["wecom", "slack"],
    );
    let old = "brand@bluesky-20261122T1400";
    super::alerts::raise(
        &app,
        &super::alerts::event(old, AlertLevel::Warning, now - chrono::TimeDelta::hours(12)),
        &[],
        &["wecom"],
    );
    app.store
        .alerts()
        .resolve(old, "lei", now - chrono::TimeDelta::hours(11))
        .expect("resolve");
    assert!(app.store.meta().crisis_hold().expect("hold").is_some());

    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = chromium(&driver, "1280,1000").await;
    let wait = || client.wait().at_most(Duration::from_secs(20));
    let shot = |name: &'static str| screenshot(&client, name);

    client.goto(&format!("{base}/alerts")).await.expect("goto");
    log_in(&client, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Id("open-alerts"))
        .await
        .expect("the alerts page");
    assert_eq!(client.current_url().await.expect("url").path(), "/alerts");
    let banner = client
        .find(Locator::Id("crisis-hold-banner"))
        .await
        .expect("crisis banner")
        .text()
        .await
        .expect("text");
    assert!(
        banner.contains("Crisis hold") && banner.contains("product, lifestyle"),
        "{banner}"
    );
    let bars = client
        .find_all(Locator::Css("svg.chart g.bucket"))
        .await
        .expect("bars");
    assert_eq!(bars.len(), 24, "a bar pair per hour");
    // The SVG is laid out: the chart has a real size in the page.
    let (_, _, w, h) = client
        .find(Locator::Css("svg.chart"))
        .await
        .expect("chart")
        .rectangle()
        .await
        .expect("size");
    assert!(w > 400.0 && h > 100.0, "{w}x{h}");

    // Acknowledge the crisis from the list.
    let row = format!("tr#alert-{crisis}");
    client
        .find(Locator::Css(&format!("{row} form.ack button")))
        .await
        .expect("ack button")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("acknowledged notice");
    let a = app.store.alerts().get(crisis).expect("get").expect("alert");
    assert_eq!(a.state, AlertState::Acknowledged);
    assert_eq!(a.acked_by.as_deref(), Some(USER));
    shot("alerts.png").await;

    // Its page: samples, deliveries, the chart; resolve it there.
    client
        .find(Locator::Css(&format!("{row} a.open-alert")))
        .await
        .expect("link")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("resolve"))
        .await
        .expect("alert page");
    let samples = client
        .find(Locator::Id("samples"))
        .await
        .expect("samples")
        .text()
        .await
        .expect("text");
    assert!(
        samples.contains("<b>twice</b>"),
        "markup in a sample is shown as text: {samples}"
    );
    assert_eq!(
        client
            .find_all(Locator::Css("#deliveries tr.delivery"))
            .await
            .expect("rows")
            .len(),
        3,
        "wecom for the open, wecom and slack for the escalation"
    );
    shot("alert.png").await;
    client
        .find(Locator::Id("resolve"))
        .await
        .expect("resolve")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("resolved-by"))
        .await
        .expect("resolved");
    let a = app.store.alerts().get(crisis).expect("get").expect("alert");
    assert_eq!(a.state, AlertState::Resolved);
    assert_eq!(a.resolved_by.as_deref(), Some(USER));
    assert_eq!(app.store.meta().crisis_hold().expect("hold"), None);
    assert!(client
        .find_all(Locator::Css(".hold-banner"))
        .await
        .expect("banners")
        .is_empty());

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}

/// `[document scrollWidth, window innerWidth]` of the page the browser shows.
async fn widths(client: &fantoccini::Client) -> (f64, f64) {
    let v = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("script");
    (
        v[0].as_f64().expect("scrollWidth"),
        v[1].as_f64().expect("innerWidth"),
    )
}

/// The badges and buttons of the page (under `scope`) whose words broke over lines: each as
/// `text width×height`. A word kept whole is wider than high; 待审核 one character a line is
/// three times higher than wide.
async fn wrapped(client: &fantoccini::Client, scope: &str) -> Vec<String> {
    let v = client
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0])).map(function (e) { \
               var r = e.getBoundingClientRect(); \
               return [e.textContent.trim(), r.width, r.height]; });",
            vec![serde_json::json!(format!("{scope} .badge, {scope} button"))],
        )
        .await
        .expect("script");
    v.as_array()
        .expect("array")
        .iter()
        .filter(|e| e[0].as_str().is_some_and(|t| t.chars().count() >= 2))
        .filter(|e| e[2].as_f64() >= e[1].as_f64())
        .map(|e| format!("{} {}x{}", e[0], e[1], e[2]))
        .collect()
}

/// Whether every element matching `css` lies within the screen's width.
async fn within(client: &fantoccini::Client, css: &str, width: f64) {
    for e in client.find_all(Locator::Css(css)).await.expect("find") {
        let (x, _, w, _) = e.rectangle().await.expect("rect");
        assert!(
            x >= 0.0 && x + w <= width + 0.5,
            "{css} at {x}+{w} is off a {width} px screen"
        );
    }
}

/// The Inbox, an item and its approve / edit / reject on a phone (390 px wide), in Chinese:
/// nothing scrolls sideways, badges and buttons keep their words whole, and the decisions
/// work with a tap. With `HERALD_SCREENSHOTS=docs` it saves `docs/inbox-phone.png` and
/// `docs/item-phone.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_and_an_item_are_usable_on_a_390_px_phone() {
    use herald::inbox::{Priority, ReplyState};
    const PHONE: f64 = 390.0;
    let app = App::new();
    let now = app.now;
    let mut crisis = super::inbox::item(
        "p-1",
        ("mastodon", "zh", Priority::Crisis),
        "刹车失灵了，高速上差点出事，4S店一直不回电话，大家千万小心！",
        now - chrono::TimeDelta::minutes(50),
    );
    crisis.author = "车主小王".into();
    crisis.text = "您好，非常抱歉给您带来困扰，我们的客服会在今天内联系您。".into();
    let crisis = super::inbox::enqueue(&app, &crisis);
    let mut question = super::inbox::item(
        "p-2",
        ("bluesky", "zh", Priority::Question),
        "请问新款奇骏的续航是多少公里？https://example.org/a/very/long/link/that/does/not/break/anywhere/at/all/0123456789",
        now - chrono::TimeDelta::minutes(12),
    );
    question.author = "leaf_owner_with_a_rather_long_handle.bsky.social".into();
    let question = super::inbox::enqueue(&app, &question);
    let mut feed = super::inbox::item(
        "p-3",
        ("feed", "zh", Priority::Complaint),
        &"论坛长帖：保养价格太贵了。".repeat(400),
        now - chrono::TimeDelta::minutes(3),
    );
    feed.channel = None;
    feed.mention_url = Some("https://forum.example/t/3".into());
    let feed = super::inbox::enqueue(&app, &feed);

    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = phone(&driver, 390, 844).await;
    let wait = || client.wait().at_most(Duration::from_secs(20));

    client.goto(&format!("{base}/inbox")).await.expect("goto");
    log_in(&client, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox");
    client
        .goto(&format!("{base}/lang/zh?next=/inbox"))
        .await
        .expect("switch to Chinese");
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox in Chinese");
    let html = client.source().await.expect("source");
    assert!(
        html.contains("待审核") && html.contains("批准发送"),
        "Chinese"
    );

    // A page wider than the phone also zooms the phone's viewport out (innerWidth grows).
    let (scroll, inner) = widths(&client).await;
    assert!(scroll <= PHONE, "the Inbox is {scroll} px wide on a phone");
    assert!(
        inner <= PHONE,
        "the phone's viewport is zoomed out to {inner} px"
    );
    assert_eq!(wrapped(&client, "#queue").await, Vec::<String>::new());
    within(&client, "#queue button", PHONE).await;
    // herald cannot answer the forum post: no Approve, the link to answer there instead.
    let row = client
        .find(Locator::Css(&format!("#item-{feed}")))
        .await
        .expect("the forum row");
    assert!(row
        .find_all(Locator::Css("form.approve"))
        .await
        .expect("forms")
        .is_empty());
    row.find(Locator::Css("a.answer-there"))
        .await
        .expect("the link to answer by hand");
    screenshot(&client, "inbox-phone.png").await;

    // The crisis item: edit, save, approve, all within the screen.
    client
        .find(Locator::Css(&format!("#item-{crisis} a.open")))
        .await
        .expect("link")
        .click()
        .await
        .expect("tap");
    let editor = wait()
        .for_element(Locator::Id("editor"))
        .await
        .expect("item page");
    let (scroll, _) = widths(&client).await;
    assert!(
        scroll <= PHONE,
        "the item page is {scroll} px wide on a phone"
    );
    assert_eq!(wrapped(&client, "main").await, Vec::<String>::new());
    for id in ["#editor", "#approve", "#save", "#reject", "#reason"] {
        within(&client, id, PHONE).await;
    }
    editor.click().await.expect("tap the editor");
    editor.send_keys("（客服：小李）").await.expect("type");
    client
        .find(Locator::Id("save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("tap");
    wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("saved");
    screenshot(&client, "item-phone.png").await;
    client
        .find(Locator::Id("approve"))
        .await
        .expect("approve")
        .click()
        .await
        .expect("tap");
    wait()
        .for_element(Locator::Css("#state.rstate-approved"))
        .await
        .expect("approved");
    let done = app.store.queue().item(crisis).expect("get").expect("item");
    assert_eq!(done.state, ReplyState::Approved);
    // Typed where the tap put the cursor.
    assert!(
        done.text.contains("（客服：小李）") && done.text.contains("我们的客服会在今天内联系您。"),
        "{}",
        done.text
    );

    // The question: rejected from the phone with a reason.
    client
        .goto(&format!("{base}/inbox/{question}"))
        .await
        .expect("goto");
    let reason = wait()
        .for_element(Locator::Id("reason"))
        .await
        .expect("item page");
    let (scroll, _) = widths(&client).await;
    assert!(scroll <= PHONE, "{scroll}");
    reason.send_keys("重复提问").await.expect("type");
    client
        .find(Locator::Id("reject"))
        .await
        .expect("reject")
        .click()
        .await
        .expect("tap");
    wait()
        .for_element(Locator::Css("#state.rstate-rejected"))
        .await
        .expect("rejected");
    assert_eq!(
        app.store
            .queue()
            .item(question)
            .expect("get")
            .expect("item")
            .state,
        ReplyState::Rejected
    );

    // The forum post: folded, says why there is no Approve, links to answer by hand.
    client
        .goto(&format!("{base}/inbox/{feed}"))
        .await
        .expect("goto");
    wait()
        .for_element(Locator::Id("cannot-answer"))
        .await
        .expect("why not");
    assert!(client
        .find_all(Locator::Id("approve"))
        .await
        .expect("find")
        .is_empty());
    let (scroll, _) = widths(&client).await;
    assert!(scroll <= PHONE, "{scroll}");
    let folded = client
        .find(Locator::Css("details.fold"))
        .await
        .expect("folded");
    let (_, _, _, closed) = folded.rectangle().await.expect("rect");
    folded
        .find(Locator::Css("summary"))
        .await
        .expect("summary")
        .click()
        .await
        .expect("expand");
    let (_, _, _, open) = folded.rectangle().await.expect("rect");
    assert!(closed < 400.0 && open > 3.0 * closed, "{closed} → {open}");

    // The other pages fit the phone too (their wide tables scroll inside themselves).
    for path in ["/calendar", "/mentions", "/alerts", "/leads"] {
        client.goto(&format!("{base}{path}")).await.expect("goto");
        wait()
            .for_element(Locator::Css("main h1"))
            .await
            .expect("the page");
        let (scroll, _) = widths(&client).await;
        assert!(scroll <= PHONE, "{path} is {scroll} px wide on a phone");
        assert_eq!(
            wrapped(&client, "main").await,
            Vec::<String>::new(),
            "{path}"
        );
    }

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}

/// The Chinese Inbox on a narrow desktop window, with mentions long enough to squeeze every
/// other column: 危机, 待审核 and 批准发送 stay on one line each (they wrapped one character a
/// line before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_badges_and_buttons_keep_their_words_whole_beside_long_mentions() {
    use herald::inbox::Priority;
    let app = App::new();
    for (i, p) in [Priority::Crisis, Priority::Complaint, Priority::Question]
        .into_iter()
        .enumerate()
    {
        super::inbox::enqueue(
            &app,
            &super::inbox::item(
                &format!("w-{i}"),
                ("mastodon", "zh", p),
                &"刹车失灵了，高速上差点出事，4S店一直不回电话，大家千万小心！".repeat(20),
                app.now - chrono::TimeDelta::minutes(10 * i as i64 + 1),
            ),
        );
    }
    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = chromium(&driver, "900,800").await;
    let wait = || client.wait().at_most(Duration::from_secs(20));
    client
        .goto(&format!("{base}/lang/zh?next=/inbox"))
        .await
        .expect("goto");
    log_in(&client, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Id("queue"))
        .await
        .expect("the inbox");
    let html = client.source().await.expect("source");
    assert!(
        html.contains("危机") && html.contains("批准发送"),
        "Chinese"
    );
    assert_eq!(wrapped(&client, "#queue").await, Vec::<String>::new());
    let headers = client
        .execute(
            "return Array.from(document.querySelectorAll('#queue th')).filter(function (e) { \
               var r = e.getBoundingClientRect(); return r.height > 2 * parseFloat(getComputedStyle(e).fontSize) * 1.45; \
             }).map(function (e) { return e.textContent; });",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        headers,
        serde_json::json!([]),
        "no header breaks over lines"
    );
    let (scroll, inner) = widths(&client).await;
    assert!(scroll <= inner, "{scroll} > {inner}");

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}

/// A small drawn scene (sky, snow, a car), so the screenshot shows a picture, not noise.
fn scene(w: u32, h: u32, body: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let wheel =
            |cx: f32| ((fx - cx) * w as f32).hypot((fy - 0.78) * h as f32) < h as f32 * 0.07;
        if wheel(0.33) || wheel(0.67) {
            image::Rgb([30, 30, 30])
        } else if (0.22..0.78).contains(&fx) && (0.55..0.75).contains(&fy)
            || (0.35..0.62).contains(&fx) && (0.42..0.56).contains(&fy)
        {
            image::Rgb(body)
        } else if fy > 0.7 {
            image::Rgb([236, 240, 245])
        } else {
            image::Rgb([(90.0 + 100.0 * fy) as u8, (150.0 + 80.0 * fy) as u8, 230])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// The Calendar shows a post's pictures as thumbnails that load (served by the login-protected
/// thumbnail route) with their alt text as text; the reply editor offers the library with a
/// preview and sends the chosen picture with its alt text. With `HERALD_SCREENSHOTS=docs` it
/// saves `docs/calendar-media.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sees_the_calendars_thumbnails_and_attaches_a_picture_to_a_reply() {
    use herald::domain::PostMedia;
    use herald::inbox::{Priority, ReplyState};
    let app = App::new();
    let media = super::media::library(&app);
    std::fs::write(
        media.join("x-trail-snow.png"),
        scene(900, 600, [176, 32, 40]),
    )
    .expect("write");
    std::fs::write(
        media.join("leaf-dealer.png"),
        scene(600, 600, [40, 90, 170]),
    )
    .expect("write");
    let mut post = crate::helpers::stored_post(
        "outbox",
        "雪地试驾：奇骏 e-POWER 四驱，本周末到店体验。",
        super::at("2026-11-23T04:00:00Z"),
    );
    post.media = vec![
        PostMedia {
            file: "x-trail-snow.png".into(),
            alt: "红色奇骏停在雪地上，背后是蓝天 <雪地>".into(),
            focus: None,
        },
        PostMedia {
            file: "leaf-dealer.png".into(),
            alt: "蓝色聆风在门店前".into(),
            focus: None,
        },
    ];
    app.store.posts().put(&post).expect("put");
    let mut plain = crate::helpers::stored_post(
        "outbox",
        "冬季保养提醒：检查电瓶和轮胎气压。",
        super::at("2026-11-24T02:00:00Z"),
    );
    plain.category = "service".into();
    app.store.posts().put(&plain).expect("put");
    let id = super::inbox::enqueue(
        &app,
        &super::inbox::item(
            "media-1",
            ("mastodon", "zh", Priority::Question),
            "雪地里奇骏好开吗？",
            app.now - chrono::TimeDelta::minutes(5),
        ),
    );

    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = chromium(&driver, "1440,1000").await;
    let wait = || client.wait().at_most(Duration::from_secs(20));

    client
        .goto(&format!("{base}/calendar"))
        .await
        .expect("goto");
    log_in(&client, USER, PASSWORD).await;
    wait()
        .for_element(Locator::Css("figure.thumb img"))
        .await
        .expect("thumbnails");
    // Every thumbnail loaded: decoded by the browser, at the thumbnail's size.
    let loaded = r#"return Array.from(document.querySelectorAll("figure.thumb img"))
        .map(i => [i.getAttribute("src"), i.complete, i.naturalWidth, i.naturalHeight]);"#;
    let mut sizes = Vec::new();
    for _ in 0..100 {
        let v = client.execute(loaded, vec![]).await.expect("script");
        sizes = v.as_array().cloned().unwrap_or_default();
        if sizes.len() == 2
            && sizes
                .iter()
                .all(|s| s[1] == true && s[2].as_u64() > Some(0))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        sizes,
        vec![
            serde_json::json!(["/media/thumb/x-trail-snow.png", true, 320, 213]),
            serde_json::json!(["/media/thumb/leaf-dealer.png", true, 320, 320]),
        ]
    );
    let captions = client
        .find_all(Locator::Css("figure.thumb figcaption"))
        .await
        .expect("captions");
    assert_eq!(
        captions[0].text().await.expect("text"),
        "Alt text: 红色奇骏停在雪地上，背后是蓝天 <雪地>"
    );
    screenshot(&client, "calendar-media.png").await;

    // The reply editor: choose a picture, see its preview, give its alt text, approve.
    client
        .goto(&format!("{base}/inbox/{id}"))
        .await
        .expect("goto");
    let pick = wait()
        .for_element(Locator::Id("media-file"))
        .await
        .expect("the picture choice");
    pick.select_by_value("x-trail-snow.png")
        .await
        .expect("choose");
    let preview = r#"const p = document.getElementById("media-preview");
        return [p.hidden, p.getAttribute("src"), p.complete, p.naturalWidth];"#;
    let mut shown = serde_json::Value::Null;
    for _ in 0..100 {
        shown = client.execute(preview, vec![]).await.expect("script");
        if shown[3].as_u64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        shown,
        serde_json::json!([false, "/media/thumb/x-trail-snow.png", true, 320])
    );
    client
        .find(Locator::Id("media-alt"))
        .await
        .expect("alt")
        .send_keys("红色奇骏停在雪地上")
        .await
        .expect("type");
    client
        .find(Locator::Id("approve"))
        .await
        .expect("approve")
        .click()
        .await
        .expect("click");
    wait()
        .for_element(Locator::Id("picture"))
        .await
        .expect("the attached picture");
    let done = app.store.queue().item(id).expect("get").expect("item");
    assert_eq!(done.state, ReplyState::Approved);
    assert_eq!(
        done.media.map(|m| (m.file, m.alt)),
        Some(("x-trail-snow.png".into(), "红色奇骏停在雪地上".into()))
    );

    client.close().await.expect("close browser");
    stop(shutdown, server).await;
}
