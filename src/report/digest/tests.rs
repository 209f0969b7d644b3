//! The digest's schedule, its once-a-week promise and its failure paths, with a webhook sink
//! on a local capture server (wiremock) and an injected clock; its words.

use std::sync::{Arc, Mutex};

use chrono::Weekday;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::crisis::notify::webhook::Webhook;
use crate::report::compute::tests::{config, seed, t};
use crate::store::testing::sled;

fn fixed_clock(at: DateTime<Utc>) -> Clock {
    let at = Arc::new(Mutex::new(at));
    Arc::new(move || *at.lock().expect("clock"))
}

fn digester(store: &Store, server: &MockServer, link: Option<&str>) -> Digester {
    let mut c = config();
    c.herald.report.digest = true;
    c.herald.report.link = link.map(|l| Url::parse(l).expect("link"));
    let sink = Sink::Webhook(Webhook::new(
        crate::http::client(std::time::Duration::from_secs(5)).expect("client"),
        Url::parse(&format!("{}/digest", server.uri())).expect("url"),
        None,
    ));
    Digester::new(
        store.clone(),
        Arc::new(c),
        vec![("hook".into(), sink)],
        fixed_clock(t("2026-12-07T00:00:00Z")),
    )
}

async fn bodies(server: &MockServer) -> Vec<serde_json::Value> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect()
}

#[test]
fn the_slot_is_this_local_weeks_digest_time_and_reports_the_week_before() {
    let ts = sled();
    let mut c = config();
    let d = |c: &Config| {
        Digester::new(
            ts.store.clone(),
            Arc::new(c.clone()),
            vec![],
            fixed_clock(Utc::now()),
        )
    };
    // Monday 2026-12-07 08:30 in Shanghai: the digest is at 09:00 local = 01:00Z.
    assert_eq!(
        d(&c).slot(t("2026-12-07T00:30:00Z")),
        (
            t("2026-12-07T01:00:00Z"),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("d")
        )
    );
    // Sunday 23:30 local is still the week of Monday 2026-11-30.
    assert_eq!(
        d(&c).slot(t("2026-12-06T15:30:00Z")),
        (
            t("2026-11-30T01:00:00Z"),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("d")
        )
    );
    c.herald.report.digest_weekday = Weekday::Fri;
    c.herald.report.digest_hour = 17;
    assert_eq!(
        d(&c).slot(t("2026-12-08T00:00:00Z")),
        (
            t("2026-12-11T09:00:00Z"),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("d")
        )
    );
}

#[tokio::test]
async fn the_digest_goes_out_once_a_week_after_its_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let ts = sled();
    seed(&ts.store);
    let d = digester(&ts.store, &server, Some("https://h.example/reports"));

    // Before Monday 09:00 local: nothing, and the next look is at 09:00.
    let r = d.round(t("2026-12-07T00:59:00Z")).await.expect("round");
    assert_eq!(
        (r.week, r.sent.len(), r.next),
        (None, 0, t("2026-12-07T01:00:00Z"))
    );
    assert!(bodies(&server).await.is_empty());

    let r = d.round(t("2026-12-07T01:00:00Z")).await.expect("round");
    assert_eq!(r.week, NaiveDate::from_ymd_opt(2026, 11, 30));
    assert_eq!(r.sent, ["hook"]);
    assert_eq!(r.next, t("2026-12-14T01:00:00Z"));
    assert_eq!(
        ts.store
            .meta()
            .cursor("report-digest:hook")
            .expect("cursor"),
        Some("2026-11-30".into())
    );
    // Later the same week, and after a restart (a new digester on the same store): nothing.
    for now in ["2026-12-07T05:00:00Z", "2026-12-13T15:59:00Z"] {
        let again = digester(&ts.store, &server, None);
        let r = again.round(t(now)).await.expect("round");
        assert!(r.sent.is_empty() && r.failed.is_empty(), "{now}: {r:?}");
    }
    let got = bodies(&server).await;
    assert_eq!(got.len(), 1, "once");
    let b = &got[0];
    assert_eq!(b["event"], "report.digest");
    assert_eq!(b["data"]["week"], "2026-11-30");
    assert_eq!(b["data"]["figures"]["published"], 4);
    assert_eq!(b["data"]["figures"]["planned"], 5);
    assert_eq!(b["data"]["alerts"], 2);
    assert_eq!(b["link"], "https://h.example/reports?week=2026-11-30");
    let text = b["text"].as_str().expect("text");
    for fact in [
        "herald 周报 / Weekly report: 2026-11-30 – 2026-12-06",
        "发帖 / Posts: 4 已发 published / 5 计划 planned",
        // 35 against (8 + 0 + 0 + 0) / 4 = 2.
        "互动 / Engagement: 35 (+1650% 对比前四周均值 / vs 4-week avg)",
        // 35 / 3 against the only earlier week with a reading, 8.
        "每帖互动 / Per post: 11.7 (+46%",
        "回复时效达标 / Reply SLA met: 50% (3 条回复已发 replies sent)",
        "线索 / Leads: 2",
        "负面占比 / Negative share: 50% (4 条提及 mentions)",
        "警报 / Alerts: 2",
        "完整报告 / Full report: https://h.example/reports?week=2026-11-30",
    ] {
        assert!(text.contains(fact), "{fact:?} missing from {text}");
    }

    // The next Monday's digest reports the next week.
    let r = d.round(t("2026-12-14T01:00:00Z")).await.expect("round");
    assert_eq!(r.week, NaiveDate::from_ymd_opt(2026, 12, 7));
    assert_eq!(r.sent, ["hook"]);
    assert_eq!(bodies(&server).await.len(), 2);
}

#[tokio::test]
async fn a_temporary_failure_is_retried_and_a_refusal_is_not() {
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
    let ts = sled();
    let d = digester(&ts.store, &server, None);
    let now = t("2026-12-07T02:00:00Z");
    let r = d.round(now).await.expect("round");
    assert_eq!(r.failed, ["hook"]);
    assert_eq!(r.next, now + Duration::minutes(5));
    assert_eq!(
        ts.store
            .meta()
            .cursor("report-digest:hook")
            .expect("cursor"),
        None
    );
    let r = d.round(r.next).await.expect("round");
    assert_eq!(r.sent, ["hook"]);
    // The same idempotency key on both attempts.
    let requests = server.received_requests().await.expect("recorded");
    let keys: Vec<&str> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .expect("key")
        })
        .collect();
    assert_eq!(
        keys,
        [
            "report-digest:2026-11-30:hook",
            "report-digest:2026-11-30:hook"
        ]
    );
    // No link is configured and [web] is off: none is sent.
    assert_eq!(bodies(&server).await[1]["link"], serde_json::Value::Null);

    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&refusing)
        .await;
    let ts = sled();
    let d = digester(&ts.store, &refusing, None);
    let r = d.round(now).await.expect("round");
    assert_eq!(r.given_up, ["hook"]);
    let r = d.round(now + Duration::hours(1)).await.expect("round");
    assert!(r.given_up.is_empty() && r.sent.is_empty(), "{r:?}");
    assert_eq!(
        refusing.received_requests().await.expect("recorded").len(),
        1
    );
}

#[test]
fn the_link_defaults_to_the_web_ui() {
    let ts = sled();
    let mut c = config();
    c.herald.web = Some(crate::web::config::WebConfig::default());
    let d = Digester::new(
        ts.store.clone(),
        Arc::new(c),
        vec![],
        fixed_clock(Utc::now()),
    );
    let week = NaiveDate::from_ymd_opt(2026, 11, 30).expect("d");
    assert_eq!(
        d.link(week).map(|u| u.to_string()),
        Some("http://127.0.0.1:8080/reports?week=2026-11-30".into())
    );
}

#[test]
fn changes_are_against_the_average_of_the_weeks_that_have_the_figure() {
    assert_eq!(
        change(Some(12.0), &[Some(10.0), None, Some(10.0)]),
        Some("+20%".into())
    );
    assert_eq!(change(Some(5.0), &[Some(10.0)]), Some("-50%".into()));
    assert_eq!(change(Some(5.0), &[None, None]), None);
    assert_eq!(change(None, &[Some(1.0)]), None);
    assert_eq!(change(Some(5.0), &[Some(0.0)]), None);
}

#[test]
fn every_format_carries_the_figures_and_the_link() {
    let ts = sled();
    seed(&ts.store);
    let report = compute::week(
        &ts.store,
        &config(),
        NaiveDate::from_ymd_opt(2026, 11, 30).expect("d"),
        t("2026-12-07T01:00:00Z"),
    )
    .expect("report");
    let link = Url::parse("https://h.example/reports?week=2026-11-30").expect("url");
    let m = message(&report, Some(&link));
    assert!(m
        .markdown
        .starts_with("**herald 周报 / Weekly report: 2026-11-30 – 2026-12-06**\n"));
    assert!(
        m.markdown.contains("> 线索 / Leads: **2**"),
        "{}",
        m.markdown
    );
    assert!(m
        .markdown
        .contains("[完整报告 / Full report](https://h.example/reports?week=2026-11-30)"));
    assert!(m.slack.contains("• *警报 / Alerts*: 2"), "{}", m.slack);
    assert!(m
        .slack
        .contains("<https://h.example/reports?week=2026-11-30|完整报告 / Full report>"));
    assert_eq!(m.plain.lines().count(), 10, "{}", m.plain);
}
