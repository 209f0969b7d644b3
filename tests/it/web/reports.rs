//! The Reports page and its downloads, in process and in a real browser: the week's charts and
//! key figures from a store seeded with five weeks of posts, engagement, inbox items, mentions
//! and an alert; week navigation; the login; bad and future weeks; both languages. With
//! `HERALD_SCREENSHOTS=docs` the browser test saves `docs/reports.png`,
//! `docs/reports-replies.png` (further down the page) and `docs/reports-zh.png`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use fantoccini::Locator;
use herald::inbox::{AuditEntry, Priority, QueueItem, ReplyState};
use herald::store::{AlertLevel, ClickLink, Engagement, PostState, Sample, Store};

use super::{body, location, App, PASSWORD, TOKEN, USER};

/// Local (Shanghai) `day` at `hh:mm`, in UTC.
fn local(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    day.and_hms_opt(hh, mm, 0).expect("time").and_utc() - TimeDelta::hours(8)
}

const CATEGORIES: [&str; 5] = ["product", "lifestyle", "service", "region", "industry"];
/// (hour, minute, peak) of the three posts of each day.
const SLOTS: [(u32, u32, &str); 3] = [
    (9, 30, "work-start"),
    (12, 15, "lunch"),
    (20, 30, "evening"),
];

/// Planned and published posts of the reported week as [`seed`] makes them.
pub const PLANNED: u32 = 21;
pub const PUBLISHED: u32 = 19;
/// Clicks of the reported week: three on each of the five product posts, one on the others.
pub const CLICKS: u64 = 3 * 5 + 14;

/// Seeds the week of Monday `week` (Asia/Shanghai) and the four before it on channel
/// `outbox`: three posts a day (one missed each Wednesday lunch, one more failed on the
/// reported Saturday evening), each published one with a reading (product and evenings do
/// best) and clicks through the redirect an hour later (three on product posts, one on the
/// others); inbox items (two leads, one answered late, one still waiting); mentions every day
/// (a spike of negatives on the reported Wednesday); a crisis alert that Wednesday,
/// acknowledged and resolved.
pub fn seed(store: &Store, week: NaiveDate) {
    let mut items = Vec::new();
    for k in 0..5i64 {
        let monday = week - TimeDelta::weeks(k);
        for d in 0..7u32 {
            let day = monday + TimeDelta::days(i64::from(d));
            for (s, (hh, mm, peak)) in SLOTS.iter().enumerate() {
                let category = CATEGORIES[(d as usize * 3 + s) % 5];
                let at = local(day, *hh, *mm);
                let mut p = crate::helpers::stored_post("outbox", "report seed", at);
                p.category = category.into();
                p.draft = format!("{category}/seed");
                p.peak = (*peak).into();
                p.source_code = format!("outbox.{category}.seed.{}", at.format("%Y%m%dT%H%M"));
                p.state = if d == 2 && s == 1 {
                    PostState::Missed
                } else if k == 0 && d == 5 && s == 2 {
                    PostState::Failed
                } else {
                    PostState::Published
                };
                store.posts().put(&p).expect("put post");
                if p.state == PostState::Published {
                    store
                        .clicks()
                        .put_links(&[ClickLink {
                            code: p.source_code.clone(),
                            target: "https://dealer.example/x-trail".into(),
                            since: at - TimeDelta::days(1),
                        }])
                        .expect("put link");
                    for _ in 0..if category == "product" { 3 } else { 1 } {
                        store
                            .clicks()
                            .record_click(&p.source_code, at + TimeDelta::hours(1))
                            .expect("click");
                    }
                    let likes = match category {
                        "product" => 14,
                        "lifestyle" => 9,
                        "service" => 6,
                        _ => 3,
                    } + if *peak == "evening" { 6 } else { 0 }
                        + (4 - k as u64);
                    store
                        .engagement()
                        .put(&Engagement {
                            channel: p.channel.clone(),
                            post_at: at,
                            samples: vec![Sample {
                                at: at + TimeDelta::hours(24),
                                replies: 1,
                                reposts: 2,
                                likes,
                                quotes: 0,
                            }],
                            next_at: None,
                            misses: 0,
                            gone: false,
                        })
                        .expect("put engagement");
                }
            }
            // Mentions: five a day, one negative and two positive; a spike on the reported
            // Wednesday.
            let spike = if k == 0 && d == 2 { 8 } else { 0 };
            for m in 0..(5 + spike) {
                let sentiment = match m {
                    0 => "negative",
                    1 | 2 => "positive",
                    m if m >= 5 => "negative",
                    _ => "neutral",
                };
                store
                    .mentions()
                    .insert(&super::mention(
                        &format!("rep-{k}-{d}-{m}"),
                        &format!("fan{m}"),
                        &format!("report mention {k} {d} {m}"),
                        &local(day, 10 + m, 5).to_rfc3339(),
                        ("mastodon", sentiment, "other"),
                        None,
                    ))
                    .expect("insert mention");
            }
        }
        // Inbox items on Tuesday: answered in 10 minutes (within the 30-minute SLA), one in 50.
        let tuesday = monday + TimeDelta::days(1);
        for n in 0..4i64 {
            let created = local(tuesday, 11, 0) + TimeDelta::hours(n);
            let priority = if n < 2 && k == 0 {
                Priority::Lead
            } else {
                Priority::Question
            };
            let mut it = super::inbox::item(
                &format!("rep-item-{k}-{n}"),
                ("mastodon", "zh", priority),
                "report item",
                created,
            );
            let answer = created + TimeDelta::minutes(if n == 3 { 50 } else { 10 });
            for (who, action, at) in [
                (USER, "approve", answer),
                ("herald", "claim", answer + TimeDelta::minutes(1)),
                ("herald", "sent", answer + TimeDelta::minutes(2)),
            ] {
                it.audit.push(AuditEntry {
                    at,
                    who: who.into(),
                    action: action.into(),
                    from: None,
                    to: ReplyState::Sent,
                    text_before: it.text.clone(),
                    text_after: it.text.clone(),
                    note: None,
                });
            }
            it.state = ReplyState::Sent;
            it.id = 1 + items.len() as u64;
            items.push(it);
        }
    }
    // One still waiting, past its due time.
    let mut waiting: QueueItem = super::inbox::item(
        "rep-item-waiting",
        ("mastodon", "zh", Priority::Complaint),
        "report item",
        local(week + TimeDelta::days(4), 15, 0),
    );
    waiting.id = 1 + items.len() as u64;
    items.push(waiting);
    store.queue().import(&items).expect("import queue");

    // A crisis on the reported Wednesday at 14:00, acknowledged, resolved three hours later.
    let opened = local(week + TimeDelta::days(2), 14, 0);
    let id = format!("brand-{}", opened.format("%Y%m%dT%H%M"));
    let ev = super::alerts::event(&id, AlertLevel::Crisis, opened);
    store
        .alerts()
        .upsert(&ev, &[], &[], opened)
        .expect("raise alert");
    store
        .alerts()
        .ack(&id, USER, opened + TimeDelta::minutes(20))
        .expect("ack");
    store
        .alerts()
        .resolve(&id, USER, opened + TimeDelta::hours(3))
        .expect("resolve");
}

/// The week the tests report: Monday 2026-11-30; the app's clock is the Monday after, 10:00.
fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("date")
}

fn app() -> App {
    let now = super::at("2026-12-07T02:00:00Z");
    let app = App::with_clock(
        herald::web::WebConfig::default(),
        Some(TOKEN),
        now,
        Arc::new(move || now),
    );
    seed(&app.store, week());
    app
}

/// The text of the `n`th figure (from 0, after the head) of the row of `id`'s table whose first cell is `head`.
fn cell(html: &str, id: &str, head: &str, n: usize) -> String {
    let table = html
        .split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no table {id}"));
    let row = table
        .split("<tr>")
        .find(|r| r.contains(&format!("<bdi>{head}</bdi>")))
        .unwrap_or_else(|| panic!("no row {head} in {id}"));
    let cells: Vec<&str> = row.split("<td").skip(1).collect();
    // Cell 0 is the row's head.
    let c = cells
        .get(n + 1)
        .unwrap_or_else(|| panic!("no cell {n} in {row}"));
    let text = c.split_once('>').map(|(_, t)| t).unwrap_or("");
    let text = text.split("</td>").next().unwrap_or("");
    text.replace("<bdi>", "").replace("</bdi>", "")
}

#[tokio::test]
async fn the_reports_page_shows_the_week_with_its_charts_and_figures() {
    let app = app();
    // Behind the login, the downloads too.
    for path in ["/reports", "/reports/week.csv", "/reports/report.css"] {
        let res = app.get(path, "").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login?next="), "{path}");
    }
    let cookies = app.login().await;
    // Without a week: the last full week.
    let res = app.get("/reports", &cookies).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = body(res).await;
    assert!(page.contains("id=\"report-week\">2026-11-30<"), "{page}");
    assert!(
        page.contains("<a href=\"/reports\" class=\"active\""),
        "nav entry marked"
    );
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/reports/report.css\">"));
    for class in [
        "trend",
        "categories",
        "heatmap",
        "sentiment",
        "crises",
        "funnel",
    ] {
        assert_eq!(
            page.matches(&format!("<svg class=\"report-chart {class}\""))
                .count(),
            1,
            "{class}"
        );
    }
    assert!(!page.contains("report-empty"));
    // The key figures, as seeded.
    assert_eq!(
        cell(&page, "summary-table", "planned", 0),
        PLANNED.to_string()
    );
    assert_eq!(
        cell(&page, "summary-table", "published", 0),
        PUBLISHED.to_string()
    );
    assert_eq!(
        cell(&page, "summary-table", "clicks", 0),
        CLICKS.to_string()
    );
    assert!(page.contains("id=\"clicks-table\""));
    // The four weeks before: 21 planned, 20 published each.
    assert_eq!(cell(&page, "summary-table", "published", 1), "20");
    assert_eq!(cell(&page, "summary-table", "published", 3), "20");
    assert_eq!(
        cell(&page, "crises-table", "brand-20261202T0600", 0),
        "crisis"
    );
    let product_planned = cell(&page, "categories-table", "product", 1);
    // The page shows what the record holds.
    let json = body(
        app.get("/reports/week.json?week=2026-12-02", &cookies)
            .await,
    )
    .await;
    let record: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(record["week"], "2026-11-30");
    assert_eq!(record["weeks"].as_array().map(Vec::len), Some(5));
    assert_eq!(record["weeks"][0]["planned"], PLANNED);
    assert_eq!(record["weeks"][0]["published"], PUBLISHED);
    let product = record["categories"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["category"] == "product"))
        .expect("product row");
    assert_eq!(product["planned"].to_string(), product_planned);
    assert_eq!(
        cell(&page, "summary-table", "engagement", 0),
        record["weeks"][0]["engagement"].to_string()
    );
    assert_eq!(record["crises"].as_array().map(Vec::len), Some(1));
    assert_eq!(record["leads"]["found"], 2);
    assert_eq!(
        cell(&page, "funnel-table", "found", 0),
        "2 (100 %)",
        "the funnel's first stage"
    );
    // Week navigation: the week before, the current week after; none after the current week.
    assert!(page.contains("href=\"/reports?week=2026-11-23\" id=\"prev-week\""));
    assert!(page.contains("href=\"/reports?week=2026-12-07\" id=\"next-week\""));
    let current = body(app.get("/reports?week=2026-12-08", &cookies).await).await;
    assert!(current.contains("id=\"report-week\">2026-12-07<"));
    assert!(!current.contains("id=\"next-week\""));
    assert!(
        current.contains("id=\"report-partial\""),
        "a week not over says so"
    );
    // Any day picks its week; an explicit language is kept in the links and the downloads.
    let zh = body(app.get("/reports?week=2026-12-03&lang=zh", &cookies).await).await;
    assert!(zh.contains("id=\"report-week\">2026-11-30<"));
    assert!(zh.contains("<article class=\"report\" lang=\"zh-CN\">"));
    assert!(zh.contains("本周与前四周对比"));
    assert!(zh.contains("href=\"/reports?week=2026-11-23&#38;lang=zh\" id=\"prev-week\""));
    assert!(zh.contains("/reports/week.html?week=2026-11-30&#38;lang=zh"));
    assert!(zh.contains("<input type=\"hidden\" name=\"lang\" value=\"zh\">"));
    // Bad and future weeks: a plain 400.
    for q in ["2026-13-01", "yesterday", "2026-12-14"] {
        let res = app.get(&format!("/reports?week={q}"), &cookies).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{q}");
    }
    // An empty week long ago says so; the first day a page accepts works too.
    let old = body(app.get("/reports?week=2020-01-06", &cookies).await).await;
    assert!(old.contains("id=\"report-empty\""));
    assert!(!old.contains("NaN"));
    let first = app.get("/reports?week=1970-01-01", &cookies).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(body(first).await.contains("id=\"report-week\">1969-12-29<"));
}

#[tokio::test]
async fn the_downloads_are_attachments_in_three_formats() {
    let app = app();
    let cookies = app.login().await;
    for (path, mime, name) in [
        (
            "/reports/week.html?week=2026-11-30&lang=zh",
            "text/html; charset=utf-8",
            "herald-report-2026-11-30.html",
        ),
        (
            "/reports/week.csv?week=2026-12-06",
            "text/csv; charset=utf-8",
            "herald-report-2026-11-30.csv",
        ),
        (
            "/reports/week.json",
            "application/json",
            "herald-report-2026-11-30.json",
        ),
    ] {
        let res = app.get(path, &cookies).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = |k| {
            res.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(h(header::CONTENT_TYPE), mime);
        assert_eq!(
            h(header::CONTENT_DISPOSITION),
            format!("attachment; filename=\"{name}\"")
        );
        let text = body(res).await;
        match name.rsplit('.').next() {
            Some("html") => {
                assert!(text.starts_with("<!DOCTYPE html>"));
                assert!(text.contains("<style>") && !text.contains("<link"));
                assert!(text.contains("周报"));
                assert_eq!(text.matches("<svg").count(), 6);
            }
            Some("csv") => {
                assert!(text.starts_with("week,section,key,metric,value\r\n"));
                assert!(text.contains(&format!(
                    "2026-11-30,week,2026-11-30,published,{PUBLISHED}\r\n"
                )));
                assert!(text.contains("2026-11-30,lead_funnel,found,leads,2\r\n"));
            }
            _ => assert!(text.contains("\"timezone\": \"Asia/Shanghai\"")),
        }
    }
    let css = app.get("/reports/report.css", &cookies).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(body(css).await.contains(".report th"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_reads_the_weekly_report_in_both_languages() {
    use super::browser::{chromium, log_in, screenshot, serve, start_driver, Served};
    let app = app();
    let Served {
        base,
        shutdown,
        server,
    } = serve(&app).await;
    let driver = start_driver().await;
    let client = chromium(&driver, "1280,2200").await;
    client.goto(&format!("{base}/reports")).await.expect("open");
    log_in(&client, USER, PASSWORD).await;
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#summary svg.trend"))
        .await
        .expect("the report after the login");
    assert!(client
        .current_url()
        .await
        .expect("url")
        .as_str()
        .ends_with("/reports"));
    let charts = client
        .find_all(Locator::Css("svg.report-chart"))
        .await
        .expect("charts");
    assert_eq!(charts.len(), 6);
    // Drawn, not blocked: the trend has its bars and a width on screen; the stylesheet (served,
    // not inline) applies to the tables.
    let bars = client
        .find_all(Locator::Css("svg.trend rect.published"))
        .await
        .expect("bars");
    assert_eq!(bars.len(), 5);
    let width = client
        .execute(
            "return document.querySelector('svg.trend').getBoundingClientRect().width",
            vec![],
        )
        .await
        .expect("width")
        .as_f64()
        .unwrap_or(0.0);
    assert!(width > 500.0, "{width}");
    let th = client
        .execute(
            "return getComputedStyle(document.querySelector('.report th')).backgroundColor",
            vec![],
        )
        .await
        .expect("style");
    assert_eq!(
        th.as_str(),
        Some("rgb(244, 246, 248)"),
        "report.css applied"
    );
    let published = client
        .find(Locator::Css(
            "#summary-table tbody tr:nth-child(2) td:nth-child(2)",
        ))
        .await
        .expect("cell")
        .text()
        .await
        .expect("text");
    assert_eq!(published, PUBLISHED.to_string());
    let heat = client
        .find_all(Locator::Css("svg.heatmap g.cell"))
        .await
        .expect("cells");
    // Seven days × three posting hours, but Wednesday lunch never published (missed each week).
    assert_eq!(heat.len(), 20);
    screenshot(&client, "reports.png").await;
    // The reply side further down: the leads funnel, sentiment per day, the crisis timeline.
    client
        .execute(
            "document.getElementById('replies').scrollIntoView()",
            vec![],
        )
        .await
        .expect("scroll");
    for chart in ["funnel", "sentiment", "crises"] {
        client
            .find(Locator::Css(&format!("svg.report-chart.{chart}")))
            .await
            .expect(chart);
    }
    let lanes = client
        .find_all(Locator::Css("svg.crises g.alert.level-crisis"))
        .await
        .expect("lanes");
    assert_eq!(lanes.len(), 1);
    screenshot(&client, "reports-replies.png").await;

    // The UI's language switch turns the page and the report Chinese.
    client
        .find(Locator::Id("lang-switch"))
        .await
        .expect("switch")
        .click()
        .await
        .expect("click");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("article.report[lang='zh-CN']"))
        .await
        .expect("the Chinese report");
    let heading = client
        .find(Locator::Css("#summary h2"))
        .await
        .expect("h2")
        .text()
        .await
        .expect("text");
    assert_eq!(heading, "本周与前四周对比");
    let nav = client
        .find(Locator::Css("header.top nav a.active"))
        .await
        .expect("nav")
        .text()
        .await
        .expect("text");
    assert_eq!(nav, "数据周报");
    assert_eq!(
        client
            .find_all(Locator::Css("svg.report-chart"))
            .await
            .expect("charts")
            .len(),
        6
    );
    screenshot(&client, "reports-zh.png").await;

    // The week before, by its link.
    client
        .find(Locator::Id("prev-week"))
        .await
        .expect("prev")
        .click()
        .await
        .expect("click");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//b[@id='report-week' and text()='2026-11-23']",
        ))
        .await
        .expect("the week before");
    client.close().await.expect("close");
    shutdown.cancel();
    server.await.expect("join").expect("served");
}
