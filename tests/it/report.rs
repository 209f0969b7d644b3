//! The weekly report's figures on the backend the tests run on (sled, or PostgreSQL with
//! `HERALD_TEST_BACKEND=postgres`): a week seeded through the store's own paths (posts,
//! engagement readings, inbox items moved by people's actions, mentions, an alert raised and
//! resolved) with the checked-in `content-plan/` and `keywords/`, every figure asserted
//! exactly; then the weekly digest of that week e-mailed to the real SMTP peer.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use herald::classify::sentiment::{Label, Scored};
use herald::classify::{Classification, MatchOut};
use herald::domain::queue::{
    Action, AuditEntry, LeadInfo, PostRef, Priority, QueueItem, ReplyState,
};
use herald::domain::Mention;
use herald::report::digest::Digester;
use herald::report::PersonRow;
use herald::store::{AlertEvent, AlertLevel, PostKind, PostState, Sample, Store, StoredMention};

use crate::alerts::{decode_header, received};
use crate::helpers::{open_store, stored_post, Workspace};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// A post of the schedule in `state`, with a reading of `engagement` likes when given.
fn post(
    store: &Store,
    channel: &str,
    at: &str,
    category: &str,
    peak: &str,
    state: PostState,
    engagement: Option<u64>,
) {
    let at = t(at);
    let mut p = stored_post(channel, &format!("{category} post"), at);
    p.category = category.into();
    p.peak = peak.into();
    p.state = state;
    store.posts().put(&p).expect("put post");
    if let Some(likes) = engagement {
        // An early reading, then the latest one the report must use.
        let sample = |h: i64, likes: u64, reposts: u64| Sample {
            at: at + TimeDelta::hours(h),
            replies: 0,
            reposts,
            likes,
            quotes: 0,
        };
        store
            .engagement()
            .record(channel, at, sample(1, 1, 0), None)
            .expect("reading");
        store
            .engagement()
            .record(channel, at, sample(24, likes - 1, 1), None)
            .expect("reading");
    }
}

/// An inbox item made at `created` (SLA two hours), enqueued as the inbox does.
fn enqueue(
    store: &Store,
    n: u32,
    created: &str,
    lead: Option<(&str, bool, bool, bool)>,
    source: &str,
) -> u64 {
    let created = t(created);
    let item = QueueItem {
        id: 0,
        mention_id: format!("report-it-{n}"),
        platform: "mastodon".into(),
        source: source.into(),
        author: "alice".into(),
        mention_text: "想试驾".into(),
        mention_url: None,
        mention_at: created,
        lang: "zh".into(),
        intent: "purchase".into(),
        priority: Priority::Lead,
        crisis: false,
        topics: vec![],
        lead: lead.map(|(grade, phone, email, test_drive)| LeadInfo {
            grade: grade.into(),
            phone,
            email,
            test_drive,
            timeframe_months: None,
        }),
        stage: None,
        template: "purchase-zh".into(),
        text: "您好".into(),
        source_code: "masto.reply.purchase-zh.x".into(),
        channel: Some("masto".into()),
        state: ReplyState::Pending,
        created_at: created,
        due_at: created + TimeDelta::hours(2),
        assignee: None,
        reply_to: None,
        post: None,
        remote_id: None,
        remote_url: None,
        error: None,
        audit: vec![AuditEntry {
            at: created,
            who: "herald".into(),
            action: "draft".into(),
            from: None,
            to: ReplyState::Pending,
            text_before: String::new(),
            text_after: "您好".into(),
            note: None,
        }],
        media: None,
    };
    store.queue().enqueue(&item).expect("enqueue").expect("new")
}

fn act(store: &Store, id: u64, action: Action, who: &str, at: &str) {
    store
        .queue()
        .apply(id, &action, who, t(at))
        .expect("store")
        .expect("legal");
}

/// The reply goes out: claimed and sent by herald.
fn send(store: &Store, id: u64, at: &str) {
    act(
        store,
        id,
        Action::Claim {
            post: PostRef {
                channel: "masto".into(),
                at: t(at) - TimeDelta::minutes(1),
            },
            reply_to: None,
        },
        "herald",
        at,
    );
    act(
        store,
        id,
        Action::Sent {
            remote_id: format!("r{id}"),
            url: None,
        },
        "herald",
        at,
    );
}

fn mention(store: &Store, id: &str, at: &str, label: Label, matches: &[(&str, &str)]) {
    let m = StoredMention::new(
        Mention {
            id: format!("report-it-m{id}"),
            platform: "mastodon".into(),
            author: format!("user{id}"),
            text: format!("mention {id}"),
            created_at: t(at),
            url: None,
            lang: Some("zh".into()),
            in_reply_to: None,
            author_followers: None,
            verified: None,
        },
        "masto",
        &Classification {
            sentiment: Scored { label, score: 0.0 },
            matches: matches
                .iter()
                .map(|(g, r)| MatchOut {
                    group: (*g).into(),
                    rule: (*r).into(),
                    term: (*r).into(),
                })
                .collect(),
            intent: Default::default(),
            lead: None,
        },
    );
    assert!(store.mentions().insert(&m).expect("insert"), "new mention");
}

fn alert_event(id: &str, level: AlertLevel, at: &str, negative: u64) -> AlertEvent {
    AlertEvent {
        id: id.into(),
        topic: "brand".into(),
        level,
        opened_at: t(at),
        window_start: t(at) - TimeDelta::hours(1),
        negative,
        total: 30,
        baseline: 2.0,
        sample: vec![],
    }
}

/// The week of Monday 2026-11-30 in Asia/Shanghai: 2026-11-29T16:00Z to 2026-12-06T16:00Z.
fn seed(store: &Store) {
    use PostState::*;
    // Service: two published (12 and 6 likes → 9 a post), one missed.
    post(
        store,
        "masto",
        "2026-11-30T01:00:00Z",
        "service",
        "work-start",
        Published,
        Some(12),
    );
    post(
        store,
        "bsky",
        "2026-12-01T04:00:00Z",
        "service",
        "lunch",
        Published,
        Some(6),
    );
    post(
        store,
        "masto",
        "2026-12-02T04:00:00Z",
        "service",
        "lunch",
        Missed,
        None,
    );
    // Lifestyle: one published at Sunday 23:30 local (3 likes), still this week.
    post(
        store,
        "masto",
        "2026-12-06T15:30:00Z",
        "lifestyle",
        "",
        Published,
        Some(3),
    );
    // Monday 00:30 local: the next week, left out.
    post(
        store,
        "masto",
        "2026-12-06T16:30:00Z",
        "lifestyle",
        "",
        Published,
        Some(50),
    );
    // A reply post is not part of the mix.
    let mut reply = stored_post("masto", "reply", t("2026-12-01T05:00:00Z"));
    reply.kind = PostKind::Reply;
    reply.state = Published;
    store.posts().put(&reply).expect("reply post");
    // The week before: one product post, 4 likes.
    post(
        store,
        "masto",
        "2026-11-24T04:00:00Z",
        "product",
        "lunch",
        Published,
        Some(4),
    );

    // Inbox: answered in 20 min (li, approved, sent), 150 min (wang edits then approves,
    // sent: late), 45 min (li rejects), one never answered (overdue).
    let a = enqueue(
        store,
        1,
        "2026-11-30T02:00:00Z",
        Some(("hot", true, false, true)),
        "masto-search",
    );
    act(
        store,
        a,
        Action::Approve { text: None },
        "li",
        "2026-11-30T02:20:00Z",
    );
    send(store, a, "2026-11-30T02:30:00Z");
    let b = enqueue(
        store,
        2,
        "2026-12-01T02:00:00Z",
        Some(("warm", false, true, false)),
        "bsky-search",
    );
    act(
        store,
        b,
        Action::Edit {
            text: "您好，欢迎到店".into(),
        },
        "wang",
        "2026-12-01T04:30:00Z",
    );
    act(
        store,
        b,
        Action::Approve { text: None },
        "wang",
        "2026-12-01T04:40:00Z",
    );
    send(store, b, "2026-12-01T04:50:00Z");
    let c = enqueue(
        store,
        3,
        "2026-12-02T02:00:00Z",
        Some(("cold", false, false, false)),
        "masto-search",
    );
    act(
        store,
        c,
        Action::Reject { reason: None },
        "li",
        "2026-12-02T02:45:00Z",
    );
    enqueue(store, 4, "2026-12-03T02:00:00Z", None, "masto-search");
    // Sunday 23:30 local, answered in 10 min on Monday: this week's item.
    let e = enqueue(
        store,
        5,
        "2026-12-06T15:30:00Z",
        Some(("unvalued", false, false, false)),
        "masto-search",
    );
    act(
        store,
        e,
        Action::Reject { reason: None },
        "wang",
        "2026-12-06T15:40:00Z",
    );

    // Mentions: Monday (local) 1 negative with the brand and toyota, 1 positive with the
    // brand; Tuesday 1 negative naming byd twice; Sunday 23:30 1 neutral with toyota.
    mention(
        store,
        "1",
        "2026-11-30T03:00:00Z",
        Label::Negative,
        &[("brand", "dealer"), ("competitor", "toyota")],
    );
    mention(
        store,
        "2",
        "2026-11-30T05:00:00Z",
        Label::Positive,
        &[("brand", "nissan")],
    );
    mention(
        store,
        "3",
        "2026-12-01T03:00:00Z",
        Label::Negative,
        &[("competitor", "byd"), ("competitor", "byd")],
    );
    mention(
        store,
        "4",
        "2026-12-06T15:30:00Z",
        Label::Neutral,
        &[("competitor", "toyota")],
    );
    mention(
        store,
        "5",
        "2026-12-06T16:30:00Z",
        Label::Negative,
        &[("brand", "dealer")],
    );

    // An alert opened Tuesday, escalated, acknowledged and resolved Wednesday.
    let alerts = store.alerts();
    let now = t("2026-12-01T06:00:00Z");
    alerts
        .upsert(
            &alert_event(
                "report-it-a",
                AlertLevel::Warning,
                "2026-12-01T06:00:00Z",
                5,
            ),
            &[],
            &[],
            now,
        )
        .expect("open");
    alerts
        .upsert(
            &alert_event(
                "report-it-a",
                AlertLevel::Crisis,
                "2026-12-01T06:30:00Z",
                11,
            ),
            &[],
            &[],
            now,
        )
        .expect("escalate");
    alerts
        .ack("report-it-a", "li", t("2026-12-01T07:00:00Z"))
        .expect("ack");
    alerts
        .resolve("report-it-a", "li", t("2026-12-02T01:00:00Z"))
        .expect("resolve");
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_seeded_week_gives_exact_figures_on_the_test_backend() {
    let ws = Workspace::new();
    let config = herald::config::load(&ws.path().join("herald.toml"), false).expect("config");
    let store = open_store(&config);
    seed(&store);
    let r = herald::report::week(
        &store,
        &config,
        date("2026-12-03"),
        t("2026-12-07T12:00:00Z"),
    )
    .expect("report");

    assert_eq!(r.week, date("2026-11-30"));
    let w = &r.weeks[0];
    assert_eq!(
        (w.planned, w.published),
        (4, 3),
        "replies and next week's post left out"
    );
    assert_eq!(w.engagement, 21);
    assert!(close(w.per_post, 7.0));
    assert_eq!((r.weeks[1].published, r.weeks[1].engagement), (1, 4));

    let cat = |name: &str| {
        r.categories
            .iter()
            .find(|c| c.category == name)
            .expect("category")
    };
    let service = cat("service");
    assert_eq!(
        (service.target_pct, service.planned, service.published),
        (20, 3, 2)
    );
    assert!(close(service.per_post, 9.0));
    // 9 a post against lifestyle's 3: +200 %; lifestyle against service: −66.7 %.
    assert!(close(service.lift, 2.0), "{:?}", service.lift);
    let lifestyle = cat("lifestyle");
    assert_eq!((lifestyle.planned, lifestyle.published), (1, 1));
    assert!(
        close(lifestyle.lift, 3.0 / 9.0 - 1.0),
        "{:?}",
        lifestyle.lift
    );
    assert!(lifestyle.lift.is_some_and(|l| l < 0.0));
    assert!(close(Some(lifestyle.share_pct), 100.0 / 3.0));
    let product = cat("product");
    assert_eq!((product.planned, product.lift), (0, None));
    let peak = |name: &str| r.peaks.iter().find(|p| p.name == name).expect("peak");
    assert_eq!((peak("lunch").planned, peak("lunch").published), (2, 1));
    assert_eq!(peak("work-start").engagement, 12);
    let channel = |name: &str| r.channels.iter().find(|c| c.name == name).expect("channel");
    assert_eq!(
        (channel("masto").planned, channel("bsky").published),
        (3, 1)
    );

    let rp = &r.replies;
    assert_eq!(
        (rp.items, rp.answered, rp.within_sla, rp.overdue),
        (5, 4, 3, 1)
    );
    assert!(close(w.sla_met, 3.0 / 5.0));
    // 10, 20, 45, 150 minutes.
    assert!(close(rp.median_minutes, 32.5), "{:?}", rp.median_minutes);
    assert!(close(rp.p90_minutes, 150.0));
    assert_eq!(rp.sent, 2);
    let person = |name: &str, approved, edited, rejected, sent, median| PersonRow {
        name: name.into(),
        approved,
        edited,
        rejected,
        sent,
        median_minutes: Some(median),
    };
    assert_eq!(
        rp.people,
        [
            person("li", 1, 0, 1, 1, 32.5),
            person("wang", 1, 1, 1, 1, 80.0)
        ]
    );

    let l = &r.leads;
    assert_eq!(
        l.by_grade,
        [("hot".into(), 1), ("warm".into(), 1), ("cold".into(), 1)]
    );
    assert_eq!(
        l.by_source,
        [("masto-search".into(), 2), ("bsky-search".into(), 1)]
    );
    assert_eq!((l.found, l.replied, l.contact, l.test_drive), (3, 2, 2, 1));

    let days: Vec<(NaiveDate, u32, u32)> = r
        .sentiment
        .iter()
        .map(|d| (d.date, d.mentions, d.negative))
        .collect();
    assert_eq!(days[0], (date("2026-11-30"), 2, 1));
    assert_eq!(days[1], (date("2026-12-01"), 1, 1));
    assert_eq!(
        days[6],
        (date("2026-12-06"), 1, 0),
        "Sunday 23:30 local is Sunday"
    );
    assert!(close(w.negative_share, 0.5));

    let voice: Vec<(&str, bool, u32)> = r
        .share_of_voice
        .iter()
        .map(|v| (v.name.as_str(), v.own, v.mentions))
        .collect();
    assert_eq!(
        voice,
        [
            ("brand", true, 2),
            ("toyota", false, 2),
            ("byd", false, 1),
            ("geely", false, 0),
            ("honda", false, 0),
            ("tesla", false, 0),
            ("volkswagen", false, 0),
        ],
        "every rule of keywords/competitors.toml"
    );
    assert!((r.share_of_voice[2].share - 0.2).abs() < 1e-9);

    assert_eq!(r.crises.len(), 1, "{:?}", r.crises);
    let crisis = &r.crises[0];
    assert_eq!(
        (
            crisis.id.as_str(),
            crisis.level.as_str(),
            crisis.peak_negative
        ),
        ("report-it-a", "crisis", 11)
    );
    assert_eq!(crisis.opened_at, t("2026-12-01T06:00:00Z"));
    assert_eq!(crisis.acked_at, Some(t("2026-12-01T07:00:00Z")));
    assert_eq!(crisis.resolved_at, Some(t("2026-12-02T01:00:00Z")));
}

/// The digest of the seeded week reaches the real SMTP server (aiosmtpd), once.
#[tokio::test]
async fn the_weekly_digest_is_mailed_to_the_real_smtp_server_once() {
    let addr = std::env::var("HERALD_TEST_SMTP_ADDR").unwrap_or_else(|_| {
        panic!("HERALD_TEST_SMTP_ADDR is not set: run the tests with the peers up: bash tests/peers/with-peers.sh cargo test")
    });
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    // A link no other run uses: the test finds its own message by it.
    let marker = format!(
        "digest-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos()
    );
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!(
            r#"[report]
digest = true
link = "https://herald.example/{marker}/reports"

[[alerts.sinks]]
name = "mail"
kind = "email"
host = "{host}"
port = {port}
tls = "none"
from = "herald <herald@brand.test>"
to = ["gm@brand.test"]
"#
        ),
    );
    let config = herald::config::load(&ws.path().join("herald.toml"), true).expect("config");
    assert_eq!(config.herald.report.sinks, ["mail"]);
    let store = open_store(&config);
    seed(&store);
    let now = t("2026-12-07T01:05:00Z");
    let clock: herald::clock::Clock = Arc::new(move || now);
    let (digester, problems) = Digester::from_config(store.clone(), Arc::new(config), clock);
    assert!(problems.is_empty(), "{problems:?}");
    let round = digester.round(now).await.expect("round");
    assert_eq!(round.sent, ["mail"]);
    let again = digester
        .round(now + TimeDelta::hours(3))
        .await
        .expect("round");
    assert!(again.sent.is_empty(), "{again:?}");

    let (headers, body) = received(&marker);
    // The Subject header with its folded continuation lines.
    let mut subject_raw = String::new();
    let mut on = false;
    for line in headers.lines() {
        if on && line.starts_with([' ', '\t']) {
            subject_raw.push_str(line);
            continue;
        }
        on = line.to_ascii_lowercase().starts_with("subject:");
        if on {
            subject_raw = line["subject:".len()..].to_string();
        }
    }
    // decode_header does not keep the spaces between encoded words: compare without any.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let subject = decode_header(subject_raw.trim());
    assert_eq!(
        squeeze(&subject),
        squeeze("herald 周报 / Weekly report: 2026-11-30 – 2026-12-06"),
        "{subject:?}"
    );
    for fact in [
        "发帖 / Posts: 3 已发 published / 4 计划 planned",
        "每帖互动 / Per post: 7.0 (+75%",
        "回复时效达标 / Reply SLA met: 60% (2 条回复已发 replies sent)",
        "线索 / Leads: 3",
        "负面占比 / Negative share: 50% (4 条提及 mentions)",
        "警报 / Alerts: 1",
        "/reports?week=2026-11-30",
    ] {
        assert!(body.contains(fact), "{fact:?} missing from {body}");
    }
}

/// `Sink::send_text` in each chat service's format, on a local capture server: the digest's
/// words arrive whole, signed where the service signs, and nobody is @-mentioned.
#[tokio::test]
async fn a_text_message_reaches_each_chat_sink_in_its_format() {
    use herald::crisis::notify::{dingtalk, feishu, slack, wecom, Sink, TextMessage};
    use url::Url;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let ok = |body: &str| ResponseTemplate::new(200).set_body_string(body.to_string());
    for (p, answer) in [
        ("/cgi-bin/webhook/send", r#"{"errcode":0,"errmsg":"ok"}"#),
        ("/robot/send", r#"{"errcode":0,"errmsg":"ok"}"#),
        (
            "/open-apis/bot/v2/hook/lark-hook",
            r#"{"code":0,"msg":"success"}"#,
        ),
        ("/slack/hook", "ok"),
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }
    let http = || {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client")
    };
    let base = Url::parse(&server.uri()).expect("url");
    let mobiles = vec!["13800000000".to_string()];
    let sinks = [
        Sink::WeCom(wecom::WeCom::new(
            http(),
            base.clone(),
            "k".into(),
            true,
            mobiles.clone(),
        )),
        Sink::WeCom(wecom::WeCom::new(
            http(),
            base.clone(),
            "k".into(),
            false,
            mobiles.clone(),
        )),
        Sink::DingTalk(dingtalk::DingTalk::new(
            http(),
            base.clone(),
            "tok".into(),
            Some("SECx".into()),
            mobiles.clone(),
        )),
        Sink::Feishu(feishu::Feishu::new(
            http(),
            base.clone(),
            "lark-hook".into(),
            Some("fs".into()),
        )),
        Sink::Slack(slack::Slack::new(
            http(),
            base.join("slack/hook").expect("url"),
        )),
    ];
    let msg = TextMessage {
        event: "report.digest".into(),
        title: "herald 周报 / Weekly report".into(),
        plain: "发帖 / Posts: 3\n".into(),
        markdown: "**herald 周报**\n> 发帖 / Posts: **3**\n".into(),
        slack: "• *发帖 / Posts*: 3\n".into(),
        data: serde_json::json!({}),
        link: None,
    };
    let now = t("2026-12-07T01:00:00Z");
    for sink in &sinks {
        sink.send_text(&msg, "key", now).await.expect("sent");
    }
    let requests = server.received_requests().await.expect("recorded");
    let bodies: Vec<(String, serde_json::Value)> = requests
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).expect("json"),
            )
        })
        .collect();
    assert_eq!(bodies.len(), 5);
    assert_eq!(requests[0].url.query(), Some("key=k"));
    assert_eq!(bodies[0].1["msgtype"], "markdown");
    assert_eq!(bodies[0].1["markdown"]["content"], msg.markdown.as_str());
    assert_eq!(bodies[1].1["msgtype"], "text");
    assert_eq!(bodies[1].1["text"]["content"], msg.plain.as_str());
    assert!(
        bodies[1].1["text"].get("mentioned_mobile_list").is_none(),
        "nobody is @-mentioned"
    );
    assert_eq!(bodies[2].1["text"]["content"], msg.plain.as_str());
    assert_eq!(bodies[2].1["at"]["atMobiles"], serde_json::json!([]));
    let ding = &requests[2].url;
    assert!(ding
        .query_pairs()
        .any(|(k, v)| k == "sign" && v == dingtalk::sign("SECx", now.timestamp_millis())));
    assert_eq!(bodies[3].1["content"]["text"], msg.plain.as_str());
    assert_eq!(
        bodies[3].1["sign"],
        feishu::sign("fs", now.timestamp()).as_str()
    );
    assert_eq!(bodies[4].1["text"], msg.slack.as_str());
    assert_eq!(bodies[4].1["blocks"][0]["text"]["text"], msg.title.as_str());
}
