//! The Alerts pages: login and CSRF on them, acknowledge and resolve recorded with the logged-in
//! user through the same calls as the CLI and the API (so resolving the last crisis lifts the
//! crisis hold and wakes the publisher), the hold banner on every page, the chart, the
//! resolved-alerts pages, and hostile sample text rendered inert.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use herald::store::{AlertEvent, AlertLevel, AlertSample, AlertState, DeliveryState};

use super::{body, location, mention, App, USER, XSS};

pub const CRISIS_A: &str = "brand-20261123T0130";
pub const CRISIS_B: &str = "product/leaf-20261123T0140";
pub const WARNING: &str = "brand@bluesky-20261123T0100";

pub fn event(id: &str, level: AlertLevel, opened_at: DateTime<Utc>) -> AlertEvent {
    let topic = id.rsplit_once('-').map(|(t, _)| t).unwrap_or(id);
    AlertEvent {
        id: id.into(),
        topic: topic.into(),
        level,
        opened_at,
        window_start: opened_at - TimeDelta::minutes(15),
        negative: 37,
        total: 52,
        baseline: 4.0,
        sample: vec!["s1".into(), "gone".into()],
    }
}

pub fn sample(text: &str) -> AlertSample {
    AlertSample {
        id: "s1".into(),
        author: "车主小王".into(),
        text: text.into(),
        url: Some("https://example.org/s1".into()),
    }
}

/// Raises an alert as the live path does: recorded with deliveries to `sinks`, then the crisis
/// hold recomputed.
pub fn raise(app: &App, ev: &AlertEvent, samples: &[AlertSample], sinks: &[&str]) {
    let sinks: Vec<String> = sinks.iter().map(|s| s.to_string()).collect();
    app.store
        .alerts()
        .upsert(ev, samples, &sinks, ev.opened_at)
        .expect("upsert");
    herald::crisis::live::sync_crisis_hold(
        &app.store,
        &["product".to_string(), "lifestyle".to_string()],
        ev.opened_at,
    )
    .expect("sync hold");
}

/// Two open crisis alerts (so a crisis hold) and one warning.
fn seed(app: &App) {
    let now = app.now;
    raise(
        app,
        &event(CRISIS_A, AlertLevel::Crisis, now - TimeDelta::minutes(30)),
        &[sample("刹车失灵了，4S店不管")],
        &["wecom", "slack"],
    );
    raise(
        app,
        &event(CRISIS_B, AlertLevel::Crisis, now - TimeDelta::minutes(20)),
        &[],
        &["wecom"],
    );
    raise(
        app,
        &event(WARNING, AlertLevel::Warning, now - TimeDelta::minutes(60)),
        &[],
        &[],
    );
}

fn enc(id: &str) -> String {
    herald::web::alerts::path_segment(id)
}

#[tokio::test]
async fn the_alerts_pages_need_a_login() {
    let app = App::new();
    seed(&app);
    for path in ["/alerts".to_string(), format!("/alerts/{}", enc(CRISIS_A))] {
        let res = app.get(&path, "").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login?next="), "{path}");
    }
    for action in ["ack", "resolve"] {
        let res = app
            .post_form(&format!("/alerts/{}/{action}", enc(CRISIS_A)), "", &[])
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{action}");
    }
    let a = app
        .store
        .alerts()
        .get(CRISIS_A)
        .expect("get")
        .expect("alert");
    assert_eq!(a.state, AlertState::Open);
}

#[tokio::test]
async fn every_alert_form_needs_the_csrf_token() {
    let app = App::new();
    seed(&app);
    let cookies = app.login().await;
    let other = app.login().await;
    let other_csrf = app.csrf(&other).await;
    for action in ["ack", "resolve"] {
        let path = format!("/alerts/{}/{action}", enc(CRISIS_A));
        for form in [
            vec![],
            vec![("csrf", "forged")],
            vec![("csrf", other_csrf.as_str())],
        ] {
            let res = app.post_form(&path, &cookies, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action} {form:?}");
        }
    }
    let a = app
        .store
        .alerts()
        .get(CRISIS_A)
        .expect("get")
        .expect("alert");
    assert_eq!(a.state, AlertState::Open);
    assert_eq!(a.acked_by, None);
    assert!(app.store.meta().crisis_hold().expect("hold").is_some());
}

#[tokio::test]
async fn acknowledge_and_resolve_from_the_pages_record_the_user_and_the_last_crisis_lifts_the_hold()
{
    let app = App::new();
    seed(&app);
    let hold = app
        .store
        .meta()
        .crisis_hold()
        .expect("hold")
        .expect("a crisis hold");
    assert_eq!(hold.alerts, [CRISIS_A, CRISIS_B]);
    let cookies = app.login().await;
    let csrf = app.csrf(&cookies).await;

    // The banner is on every page, the Alerts page lists open alerts first.
    for path in ["/alerts", "/inbox", "/mentions", "/calendar"] {
        let page = body(app.get(path, &cookies).await).await;
        assert!(
            page.contains("id=\"crisis-hold-banner\""),
            "{path}: crisis banner"
        );
        assert!(
            page.contains("Crisis hold: publishing is paused")
                && page.contains("product, lifestyle")
                && page.contains("2026-11-23 09:30")
                && page.contains("<a href=\"/alerts\">See the alerts</a>"),
            "{path}: which categories, since when, a link to the alerts"
        );
        assert!(
            !page.contains("id=\"pause-banner\""),
            "{path}: no manual pause"
        );
    }
    let page = body(app.get("/alerts", &cookies).await).await;
    let open = page.find("id=\"open-alerts\"").expect("open table");
    let resolved_section = page.find("id=\"resolved\"").expect("resolved section");
    for id in [CRISIS_A, CRISIS_B, WARNING] {
        let at = page
            .find(&format!("id=\"alert-{}\"", enc(id)))
            .expect("listed");
        assert!(open < at && at < resolved_section, "{id} among the open");
    }
    assert_eq!(
        page.matches("action=\"/alerts/").count(),
        6,
        "ack + resolve each"
    );

    // Acknowledge A from the list.
    let res = app
        .post_form(
            &format!("/alerts/{}/ack", enc(CRISIS_A)),
            &cookies,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/alerts?msg=ack");
    let a = app
        .store
        .alerts()
        .get(CRISIS_A)
        .expect("get")
        .expect("alert");
    assert_eq!(a.state, AlertState::Acknowledged);
    assert_eq!(a.acked_by.as_deref(), Some(USER));
    assert_eq!(a.acked_at, Some(app.now));
    let page = body(app.get("/alerts?msg=ack", &cookies).await).await;
    assert!(page.contains("Acknowledged: you are on it."));
    assert_eq!(
        page.matches("action=\"/alerts/").count(),
        5,
        "an acknowledged alert can only be resolved"
    );

    // Resolve A: B is still an open crisis, so the hold stays (its alert list shrinks).
    let res = app
        .post_form(
            &format!("/alerts/{}/resolve", enc(CRISIS_A)),
            &cookies,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&res), "/alerts?msg=resolve");
    let a = app
        .store
        .alerts()
        .get(CRISIS_A)
        .expect("get")
        .expect("alert");
    assert_eq!(a.state, AlertState::Resolved);
    assert_eq!(a.resolved_by.as_deref(), Some(USER));
    let hold = app
        .store
        .meta()
        .crisis_hold()
        .expect("hold")
        .expect("still held");
    assert_eq!(hold.alerts, [CRISIS_B]);
    tokio::time::timeout(Duration::from_secs(1), app.wake.notified())
        .await
        .expect("the hold changed: the publisher was woken");

    // Resolve B from its own page (an id with a slash): the hold lifts, the publisher wakes.
    let detail = format!("/alerts/{}", enc(CRISIS_B));
    assert_eq!(detail, "/alerts/product%2Fleaf-20261123T0140");
    let page = body(app.get(&detail, &cookies).await).await;
    assert!(page.contains("id=\"resolve-form\"") && page.contains("id=\"ack-form\""));
    let res = app
        .post_form(
            &format!("{detail}/resolve"),
            &cookies,
            &[("csrf", &csrf), ("back", "alert")],
        )
        .await;
    assert_eq!(location(&res), format!("{detail}?msg=lifted"));
    assert_eq!(
        app.store.meta().crisis_hold().expect("hold"),
        None,
        "lifted"
    );
    tokio::time::timeout(Duration::from_secs(1), app.wake.notified())
        .await
        .expect("the publisher was woken");
    let page = body(app.get(&format!("{detail}?msg=lifted"), &cookies).await).await;
    assert!(page.contains("the crisis hold is lifted"));
    assert!(page.contains("id=\"resolved-by\"") && page.contains(USER));
    assert!(
        !page.contains("id=\"resolve-form\""),
        "no forms on a resolved alert"
    );
    for path in ["/alerts", "/inbox", "/mentions"] {
        let page = body(app.get(path, &cookies).await).await;
        assert!(!page.contains("hold-banner"), "{path}: the banner is gone");
    }
    // The warning is still open; resolving it changes no hold and wakes nobody.
    let res = app
        .post_form(
            &format!("/alerts/{}/resolve", enc(WARNING)),
            &cookies,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&res), "/alerts?msg=resolve");
    assert!(
        tokio::time::timeout(Duration::from_millis(100), app.wake.notified())
            .await
            .is_err(),
        "no hold changed"
    );
    // Unknown alerts are 404s.
    for res in [
        app.get("/alerts/nope", &cookies).await,
        app.post_form("/alerts/nope/ack", &cookies, &[("csrf", &csrf)])
            .await,
        app.post_form("/alerts/nope/resolve", &cookies, &[("csrf", &csrf)])
            .await,
    ] {
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_manual_pause_shows_its_own_banner_that_resolving_alerts_does_not_lift() {
    let app = App::new();
    let now = app.now;
    raise(
        &app,
        &event(CRISIS_A, AlertLevel::Crisis, now - TimeDelta::minutes(30)),
        &[],
        &[],
    );
    herald::schedule::pause(
        &herald::config::load(&app.ws.path().join("herald.toml"), false).expect("config"),
        &app.store,
        &["service".to_string()],
        "<b>recall</b> rumour",
        now - TimeDelta::hours(2),
    )
    .expect("pause");
    let cookies = app.login().await;
    let csrf = app.csrf(&cookies).await;
    for path in ["/alerts", "/leads"] {
        let page = body(app.get(path, &cookies).await).await;
        let pause = page.find("id=\"pause-banner\"").expect("pause banner");
        let crisis = page
            .find("id=\"crisis-hold-banner\"")
            .expect("crisis banner");
        assert!(pause < crisis, "{path}: a person's hold first");
        assert!(page.contains("Publishing is paused by hand"));
        assert!(page.contains("2026-11-23 08:00"), "since, local time");
        assert!(
            page.contains("&#60;b&#62;recall&#60;/b&#62; rumour") && !page.contains("<b>recall"),
            "the reason is escaped"
        );
        assert!(page.contains("<a href=\"/calendar\">Resume in the Calendar</a>"));
    }
    app.post_form(
        &format!("/alerts/{}/resolve", enc(CRISIS_A)),
        &cookies,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(app.store.meta().crisis_hold().expect("hold"), None);
    assert!(
        app.store.meta().hold().expect("hold").is_some(),
        "a person's hold stays"
    );
    let page = body(app.get("/inbox", &cookies).await).await;
    assert!(page.contains("id=\"pause-banner\"") && !page.contains("crisis-hold-banner"));
}

#[tokio::test]
async fn the_list_pages_resolved_alerts_and_charts_the_last_day() {
    let app = App::new();
    let now = app.now; // 2026-11-23 02:00 UTC
                       // Mentions in the last 24 hours: every 30 minutes, every third negative; one too old.
    for i in 0..40 {
        let at = now - TimeDelta::minutes(30 * i + 1);
        let sentiment = if i % 3 == 0 { "negative" } else { "neutral" };
        app.store
            .mentions()
            .insert(&mention(
                &format!("m{i}"),
                &format!("a{i}"),
                &format!("text {i}"),
                &at.to_rfc3339(),
                ("mastodon", sentiment, "other"),
                None,
            ))
            .expect("insert");
    }
    // 25 resolved alerts, newest first in the list; one open crisis.
    for i in 0..25 {
        let id = format!("brand-r{i:02}");
        raise(
            &app,
            &event(&id, AlertLevel::Warning, now - TimeDelta::hours(i + 2)),
            &[],
            &[],
        );
        app.store
            .alerts()
            .resolve(&id, "lei", now - TimeDelta::hours(i + 1))
            .expect("resolve");
    }
    raise(
        &app,
        &event(CRISIS_A, AlertLevel::Crisis, now - TimeDelta::minutes(30)),
        &[],
        &[],
    );
    let cookies = app.login().await;
    let page = body(app.get("/alerts", &cookies).await).await;
    let resolved = |page: &str| -> Vec<String> {
        page.match_indices("id=\"alert-brand-r")
            .map(|(i, _)| page[i + 10..i + 19].to_string())
            .collect()
    };
    let first = resolved(&page);
    assert_eq!(first.len(), 20);
    assert_eq!(first[0], "brand-r00", "newest first");
    assert!(page.contains("(25)"), "the count of resolved alerts");
    assert!(page.contains("href=\"/alerts?page=2#resolved\" id=\"more\""));
    let page2 = body(app.get("/alerts?page=2", &cookies).await).await;
    assert_eq!(resolved(&page2).len(), 5);
    assert!(!page2.contains("id=\"more\"") && page2.contains("id=\"prev\""));

    // The chart: 24 hourly buckets ending with the current hour; markers for the alerts that
    // opened inside it.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 1);
    assert_eq!(page.matches("<g class=\"bucket\">").count(), 24);
    assert_eq!(page.matches("<rect class=\"neg\"").count(), 24);
    // Opened 2 to 23 hours ago, plus the crisis half an hour ago, are inside the 24 hours
    // from 03:00 yesterday (UTC) to 03:00 today.
    let markers = page.matches("<g class=\"marker ").count();
    assert_eq!(markers, 23, "r00..r21 and the crisis");
    // 01:00–02:00 UTC (09:00 in Shanghai) holds m0 (01:59, negative) and m1 (01:29).
    assert!(
        page.contains("<title>11-23 09:00 · negative 1 / total 2</title>"),
        "{page}"
    );
    assert!(!page.contains("style="), "no inline style (CSP)");
}

#[tokio::test]
async fn the_detail_page_shows_facts_samples_deliveries_and_the_chart() {
    let app = App::new();
    seed(&app);
    // One delivery sent, one failed with what the sink said.
    let mut ds = app.store.alerts().deliveries(CRISIS_A).expect("deliveries");
    assert_eq!(ds.len(), 2);
    ds[0].state = DeliveryState::Failed;
    ds[0].attempts = 12;
    ds[0].last_error = Some("HTTP 400 <bad token>".into());
    ds[1].state = DeliveryState::Sent;
    ds[1].attempts = 1;
    ds[1].sent_at = Some(app.now - TimeDelta::minutes(29));
    for d in &ds {
        app.store.alerts().put_delivery(d).expect("put");
    }
    let cookies = app.login().await;
    let page = body(
        app.get(&format!("/alerts/{}", enc(CRISIS_A)), &cookies)
            .await,
    )
    .await;
    assert!(page.contains("<code>brand-20261123T0130</code>"));
    assert!(page.contains("刹车失灵了，4S店不管"), "the sample text");
    assert!(page.contains("车主小王"));
    assert!(
        page.contains("<code>gone</code>"),
        "a sample id not in the store"
    );
    let deliveries = &page[page.find("id=\"deliveries\"").expect("table")..];
    assert!(deliveries.contains("<td>slack</td>") && deliveries.contains("<td>wecom</td>"));
    assert!(deliveries.contains("HTTP 400 &#60;bad token&#62;"));
    assert_eq!(deliveries.matches("class=\"delivery dstate-").count(), 2);
    assert!(deliveries.contains("dstate-failed") && deliveries.contains("dstate-sent"));
    // The chart: from 3 h before the window (01:15 UTC) to now (02:00), in the detector's
    // 5-minute buckets.
    assert!(page.contains("(5 minutes per bar)"));
    let bars = page.matches("<g class=\"bucket\">").count();
    assert_eq!(bars, 45, "22:15 to 02:00 UTC in 5-minute buckets");
    assert_eq!(page.matches("<g class=\"marker crisis\">").count(), 1);
    // In Chinese.
    let page = body(
        app.get(
            &format!("/alerts/{}", enc(CRISIS_A)),
            &format!("{cookies}; herald_lang=zh"),
        )
        .await,
    )
    .await;
    assert!(page.contains("样本提及") && page.contains("通知发送") && page.contains("发送失败"));
    assert!(page.contains("危机暂停"), "the banner in Chinese");
    let page = body(
        app.get("/alerts", &format!("{cookies}; herald_lang=zh"))
            .await,
    )
    .await;
    assert!(
        page.contains("未解决的预警") && page.contains("确认跟进") && page.contains("标记解决")
    );
}

#[tokio::test]
async fn hostile_sample_text_renders_inert_on_the_alert_page() {
    let app = App::new();
    let samples: Vec<AlertSample> = XSS
        .iter()
        .enumerate()
        .map(|(i, (text, _))| AlertSample {
            id: format!("x{i}"),
            author: if i == 1 {
                "<img src=x onerror=alert(2)>".into()
            } else {
                "troll".into()
            },
            text: text.to_string(),
            url: Some(
                match i {
                    0 => "javascript:alert(document.cookie)",
                    1 => " JaVaScRiPt:alert(1)",
                    2 => "data:text/html,<script>alert(1)</script>",
                    _ => "https://example.org/ok?a=1&b=\"2\"",
                }
                .into(),
            ),
        })
        .collect();
    let mut ev = event(
        CRISIS_A,
        AlertLevel::Crisis,
        app.now - TimeDelta::minutes(10),
    );
    ev.topic = "brand\"><script>alert(3)</script>".into();
    raise(&app, &ev, &samples, &["<i>sink</i>"]);
    let cookies = app.login().await;
    for path in ["/alerts".to_string(), format!("/alerts/{}", enc(CRISIS_A))] {
        let page = body(app.get(&path, &cookies).await).await;
        assert!(
            page.contains("brand&#34;&#62;&#60;script&#62;alert(3)&#60;/script&#62;"),
            "{path}: topic escaped"
        );
        assert!(!page.contains("<script>alert"), "{path}");
    }
    let page = body(
        app.get(&format!("/alerts/{}", enc(CRISIS_A)), &cookies)
            .await,
    )
    .await;
    for (text, escaped) in XSS {
        assert!(
            page.contains(escaped),
            "{text:?} should appear as {escaped:?}"
        );
    }
    assert!(
        page.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "author escaped"
    );
    assert!(
        page.contains("&#60;i&#62;sink&#60;/i&#62;"),
        "sink name escaped"
    );
    for live in [
        "<script>alert",
        "<img",
        "<svg/",
        "<b>bold",
        "<i>sink",
        "onerror=alert(1)>",
        "href=\"javascript:",
        "href=\" JaVaScRiPt",
        "href=\"data:",
    ] {
        assert!(!page.contains(live), "live markup {live:?} in the page");
    }
    assert_eq!(
        page.matches("rel=\"noopener noreferrer nofollow\"").count(),
        XSS.len() - 3,
        "only http(s) links are linked"
    );
}
