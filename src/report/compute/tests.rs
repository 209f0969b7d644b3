//! The report's figures on a seeded sled store, each asserted exactly; the pure helpers on
//! their edge cases.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::classify::keywords::{KeywordGroup, Rule};
use crate::classify::sentiment::{Label, Scored};
use crate::classify::{Classification, MatchOut};
use crate::config::HeraldConfig;
use crate::domain::queue::{AuditEntry, LeadInfo, ReplyState};
use crate::domain::Mention;
use crate::plan::PlanRules;
use crate::store::testing::sled;
use crate::store::{
    AlertEvent, AlertLevel, AlertState, Delivery, Engagement, LevelChange, Sample, StoredPost,
};

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub(crate) fn config() -> Config {
    let rule = |name: &str| Rule {
        name: name.into(),
        terms: vec![name.into()],
        patterns: vec![],
        accounts: vec![],
    };
    Config {
        herald: HeraldConfig::defaults(Path::new("/nonexistent")),
        plan: PlanRules::default(),
        drafts: vec![],
        keywords: vec![KeywordGroup {
            group: COMPETITOR_GROUP.into(),
            description: None,
            rules: vec![rule("toyota"), rule("honda"), rule("byd")],
            tests: vec![],
            path: "competitors.toml".into(),
        }],
        replies: None,
        warnings: vec![],
    }
}

fn post(at: &str, category: &str, state: PostState) -> StoredPost {
    let at = t(at);
    StoredPost {
        channel: "masto".into(),
        at,
        kind: PostKind::Planned,
        category: category.into(),
        draft: format!("{category}/a"),
        peak: "lunch".into(),
        text: "hello".into(),
        promo: false,
        series: None,
        source_code: format!("masto.{category}.a.x"),
        state,
        title: None,
        reply: None,
        media: vec![],
        delivery: Delivery::default(),
    }
}

fn reading(store: &Store, p: &StoredPost, likes: u64, reposts: u64, replies: u64, quotes: u64) {
    store
        .engagement()
        .put(&Engagement {
            channel: p.channel.clone(),
            post_at: p.at,
            samples: vec![
                Sample {
                    at: p.at + Duration::hours(1),
                    replies: 0,
                    reposts: 0,
                    likes: 1,
                    quotes: 0,
                },
                Sample {
                    at: p.at + Duration::hours(2),
                    replies,
                    reposts,
                    likes,
                    quotes,
                },
            ],
            next_at: None,
            misses: 0,
            gone: false,
        })
        .expect("put engagement");
}

fn entry(at: &str, who: &str, action: &str, before: &str, after: &str) -> AuditEntry {
    AuditEntry {
        at: t(at),
        who: who.into(),
        action: action.into(),
        from: None,
        to: ReplyState::Pending,
        text_before: before.into(),
        text_after: after.into(),
        note: None,
    }
}

fn item(
    id: u64,
    created: &str,
    audit: Vec<AuditEntry>,
    lead: Option<(&str, bool, bool, bool)>,
) -> QueueItem {
    let mut it = crate::domain::queue::tests::item(ReplyState::Pending);
    it.id = id;
    it.mention_id = format!("m{id}");
    it.created_at = t(created);
    it.due_at = it.created_at + Duration::hours(2);
    it.state = if audit.iter().any(|a| a.action == "sent") {
        ReplyState::Sent
    } else if audit.iter().any(|a| a.action == "reject") {
        ReplyState::Rejected
    } else {
        ReplyState::Pending
    };
    it.lead = lead.map(|(grade, phone, email, test_drive)| LeadInfo {
        grade: grade.into(),
        phone,
        email,
        test_drive,
        timeframe_months: None,
    });
    it.source = if id == 2 {
        "bsky".into()
    } else {
        "weibo-search".into()
    };
    let mut log = vec![entry(created, "herald", "draft", "", "d")];
    log.extend(audit);
    it.audit = log;
    it
}

fn mention(id: &str, at: &str, label: Label, matches: &[(&str, &str)]) -> StoredMention {
    StoredMention::new(
        Mention {
            id: id.into(),
            platform: "mastodon".into(),
            author: format!("a{id}"),
            text: format!("text {id}"),
            created_at: t(at),
            url: None,
            lang: None,
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
    )
}

fn alert(id: &str, opened: &str, negatives: &[u64], resolved: Option<&str>) -> AlertRecord {
    let opened_at = t(opened);
    AlertRecord {
        event: AlertEvent {
            id: id.into(),
            topic: "brand".into(),
            level: if negatives.len() > 1 {
                AlertLevel::Crisis
            } else {
                AlertLevel::Warning
            },
            opened_at,
            window_start: opened_at - Duration::hours(1),
            negative: negatives.last().copied().unwrap_or(0),
            total: 20,
            baseline: 1.0,
            sample: vec![],
        },
        samples: vec![],
        state: if resolved.is_some() {
            AlertState::Resolved
        } else {
            AlertState::Open
        },
        acked_by: None,
        acked_at: None,
        resolved_by: resolved.map(|_| "li".into()),
        resolved_at: resolved.map(t),
        history: negatives
            .iter()
            .enumerate()
            .map(|(i, n)| LevelChange {
                level: if i == 0 {
                    AlertLevel::Warning
                } else {
                    AlertLevel::Crisis
                },
                at: opened_at + Duration::minutes(i as i64 * 10),
                recorded_at: opened_at + Duration::minutes(i as i64 * 10),
                negative: *n,
                total: 20,
            })
            .collect(),
    }
}

/// Seeds the week of Monday 2026-11-30 (Asia/Shanghai: 2026-11-29T16:00Z to
/// 2026-12-06T16:00Z) and the week before.
pub(crate) fn seed(store: &Store) {
    let posts = store.posts();
    let p1 = post("2026-11-30T04:00:00Z", "product", PostState::Published);
    let p2 = post("2026-12-01T04:00:00Z", "product", PostState::Published);
    let p3 = post("2026-12-02T12:00:00Z", "region", PostState::Published);
    let p4 = post("2026-12-03T12:00:00Z", "region", PostState::Missed);
    // Sunday 23:30 in Shanghai: still the reported week.
    let mut p5 = post("2026-12-06T15:30:00Z", "industry", PostState::Published);
    p5.peak = "evening".into();
    // Monday 00:30 in Shanghai: the next week.
    let p6 = post("2026-12-06T16:30:00Z", "product", PostState::Published);
    let mut reply = post("2026-12-01T05:00:00Z", "reply", PostState::Published);
    reply.kind = PostKind::Reply;
    let before = post("2026-11-24T04:00:00Z", "product", PostState::Published);
    for p in [&p1, &p2, &p3, &p4, &p5, &p6, &reply, &before] {
        posts.put(p).expect("put post");
    }
    reading(store, &p1, 6, 2, 1, 1);
    reading(store, &p2, 20, 0, 0, 0);
    reading(store, &p3, 5, 0, 0, 0);
    reading(store, &p6, 100, 0, 0, 0);
    reading(store, &reply, 50, 0, 0, 0);
    reading(store, &before, 8, 0, 0, 0);

    let items = vec![
        item(
            1,
            "2026-11-30T02:00:00Z",
            vec![
                entry("2026-11-30T02:30:00Z", "li", "approve", "d", "d"),
                entry("2026-11-30T02:31:00Z", "herald", "claim", "d", "d"),
                entry("2026-11-30T03:00:00Z", "herald", "sent", "d", "d"),
            ],
            Some(("hot", true, false, true)),
        ),
        item(
            2,
            "2026-12-01T02:00:00Z",
            vec![
                entry("2026-12-01T05:00:00Z", "wang", "edit", "d", "e"),
                entry("2026-12-01T05:10:00Z", "wang", "approve", "e", "e"),
                entry("2026-12-01T05:11:00Z", "herald", "claim", "e", "e"),
                entry("2026-12-01T05:20:00Z", "herald", "sent", "e", "e"),
            ],
            Some(("warm", false, true, false)),
        ),
        item(
            3,
            "2026-12-02T02:00:00Z",
            vec![entry("2026-12-02T03:00:00Z", "li", "reject", "d", "d")],
            None,
        ),
        item(
            4,
            "2026-12-03T02:00:00Z",
            vec![],
            Some(("unvalued", false, false, false)),
        ),
        // Made and approved the week before, sent in the reported week.
        item(
            5,
            "2026-11-24T02:00:00Z",
            vec![
                entry("2026-11-24T02:10:00Z", "li", "approve", "d", "d"),
                entry("2026-11-30T01:00:00Z", "herald", "sent", "d", "d"),
            ],
            None,
        ),
    ];
    store.queue().import(&items).expect("import queue");

    let mentions = vec![
        mention(
            "1",
            "2026-11-30T03:00:00Z",
            Label::Negative,
            &[("brand", "dealer"), ("competitor", "toyota")],
        ),
        mention(
            "2",
            "2026-11-30T05:00:00Z",
            Label::Positive,
            &[("brand", "dealer"), ("brand", "nissan")],
        ),
        mention(
            "3",
            "2026-12-01T03:00:00Z",
            Label::Negative,
            &[("competitor", "toyota"), ("competitor", "honda")],
        ),
        // Sunday 23:30 local.
        mention(
            "4",
            "2026-12-06T15:30:00Z",
            Label::Neutral,
            &[("competitor", "honda"), ("competitor", "honda")],
        ),
        mention("5", "2026-11-25T03:00:00Z", Label::Negative, &[]),
        // Monday 00:30 local: next week.
        mention("6", "2026-12-06T16:30:00Z", Label::Negative, &[]),
    ];
    store.mentions().import(&mentions).expect("import mentions");

    let alerts = store.alerts();
    for a in [
        alert(
            "a-old",
            "2026-11-20T03:00:00Z",
            &[3],
            Some("2026-11-21T03:00:00Z"),
        ),
        alert(
            "a-over",
            "2026-11-25T03:00:00Z",
            &[4],
            Some("2026-12-01T03:00:00Z"),
        ),
        alert("a-new", "2026-12-02T03:00:00Z", &[4, 9], None),
    ] {
        alerts.import(&a, &[]).expect("import alert");
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Every figure of the seeded week, exactly.
pub(crate) fn assert_seeded(r: &WeekReport) {
    assert_eq!(r.week, date("2026-11-30"));
    assert_eq!(r.timezone, "Asia/Shanghai");
    assert_eq!(r.weeks.len(), 5);
    let w = &r.weeks[0];
    assert_eq!(
        (w.planned, w.published),
        (5, 4),
        "replies and next week's post left out"
    );
    assert_eq!(w.engagement, 35);
    assert!(close(w.per_post, 35.0 / 3.0), "{:?}", w.per_post);
    assert_eq!(w.mentions, 4);
    assert!(close(w.negative_share, 0.5));
    assert_eq!(w.replies_sent, 3);
    assert!(close(w.sla_met, 0.5), "{:?}", w.sla_met);
    assert!(close(w.median_response_minutes, 60.0));
    assert_eq!(w.leads, 2);
    let prev = &r.weeks[1];
    assert_eq!(prev.week, date("2026-11-23"));
    assert_eq!((prev.planned, prev.published, prev.engagement), (1, 1, 8));
    assert_eq!(prev.mentions, 1);
    assert!(close(prev.negative_share, 1.0));
    assert!(close(prev.sla_met, 1.0));
    assert!(close(prev.median_response_minutes, 10.0));
    assert_eq!(prev.replies_sent, 0);
    assert_eq!(r.weeks[4].week, date("2026-11-02"));
    assert_eq!(r.weeks[4].per_post, None);

    let cat = |name: &str| {
        r.categories
            .iter()
            .find(|c| c.category == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        r.categories
            .iter()
            .map(|c| c.category.as_str())
            .take(3)
            .collect::<Vec<_>>(),
        ["product", "region", "industry"],
        "[mix] order"
    );
    let product = cat("product");
    assert_eq!(
        (product.target_pct, product.planned, product.published),
        (30, 2, 2)
    );
    assert_eq!(product.engagement, 30);
    assert!(close(product.per_post, 15.0));
    assert!(close(Some(product.share_pct), 50.0));
    assert!(close(product.lift, 2.0), "15 against 5: {:?}", product.lift);
    let region = cat("region");
    assert_eq!((region.planned, region.published), (2, 1));
    assert!(close(region.lift, 5.0 / 15.0 - 1.0));
    let industry = cat("industry");
    assert_eq!((industry.planned, industry.published), (1, 1));
    assert_eq!(industry.per_post, None);
    assert_eq!(industry.lift, None, "no reading: no lift");
    assert!(!r.categories.iter().any(|c| c.category == "reply"));

    let lunch = r.peaks.iter().find(|p| p.name == "lunch").expect("lunch");
    assert_eq!(
        (lunch.planned, lunch.published, lunch.engagement),
        (4, 3, 35)
    );
    let evening = r
        .peaks
        .iter()
        .find(|p| p.name == "evening")
        .expect("evening");
    assert_eq!((evening.planned, evening.published), (1, 1));
    let masto = r
        .channels
        .iter()
        .find(|c| c.name == "masto")
        .expect("masto");
    assert_eq!(
        (masto.planned, masto.published, masto.engagement),
        (5, 4, 35)
    );
    // Monday 12:00 local (p1), over the five weeks: p1 only; Tuesday 12:00: p2 and `before`.
    let cell = |d: u8, h: u8| r.hours.iter().find(|c| c.weekday == d && c.hour == h);
    assert_eq!(cell(0, 12).map(|c| (c.posts, c.engagement)), Some((1, 10)));
    assert_eq!(cell(1, 12).map(|c| (c.posts, c.engagement)), Some((2, 28)));
    assert_eq!(cell(6, 23).map(|c| (c.posts, c.per_post)), Some((1, None)));

    let rp = &r.replies;
    assert_eq!(
        (rp.items, rp.answered, rp.within_sla, rp.overdue),
        (4, 3, 2, 1)
    );
    assert!(close(rp.median_minutes, 60.0));
    assert!(close(rp.p90_minutes, 180.0));
    assert_eq!(rp.sent, 3);
    let li = PersonRow {
        name: "li".into(),
        approved: 1,
        edited: 0,
        rejected: 1,
        sent: 1,
        median_minutes: Some(45.0),
    };
    let wang = PersonRow {
        name: "wang".into(),
        approved: 1,
        edited: 1,
        rejected: 0,
        sent: 1,
        median_minutes: Some(180.0),
    };
    assert_eq!(rp.people, vec![li, wang]);

    let l = &r.leads;
    assert_eq!(
        l.by_grade,
        vec![("hot".into(), 1), ("warm".into(), 1), ("cold".into(), 0)]
    );
    assert_eq!(
        l.by_source,
        vec![("bsky".into(), 1), ("weibo-search".into(), 1)]
    );
    assert_eq!((l.found, l.replied, l.contact, l.test_drive), (2, 2, 2, 1));

    let days: Vec<(NaiveDate, u32, u32, u32)> = r
        .sentiment
        .iter()
        .map(|d| (d.date, d.mentions, d.negative, d.positive))
        .collect();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0], (date("2026-11-30"), 2, 1, 1));
    assert_eq!(days[1], (date("2026-12-01"), 1, 1, 0));
    assert_eq!(
        days[6],
        (date("2026-12-06"), 1, 0, 0),
        "Sunday 23:30 is Sunday"
    );

    let voice: Vec<(&str, bool, u32, u32)> = r
        .share_of_voice
        .iter()
        .map(|v| (v.name.as_str(), v.own, v.mentions, v.negative))
        .collect();
    assert_eq!(
        voice,
        [
            ("brand", true, 2, 1),
            ("honda", false, 2, 1),
            ("toyota", false, 2, 2),
            ("byd", false, 0, 0),
        ]
    );
    assert!((r.share_of_voice[0].share - 1.0 / 3.0).abs() < 1e-9);

    let crises: Vec<(&str, &str, u64)> = r
        .crises
        .iter()
        .map(|c| (c.id.as_str(), c.level.as_str(), c.peak_negative))
        .collect();
    assert_eq!(crises, [("a-over", "warning", 4), ("a-new", "crisis", 9)]);
    assert_eq!(r.crises[0].resolved_at, Some(t("2026-12-01T03:00:00Z")));
}

#[test]
fn a_seeded_week_gives_exact_figures() {
    let ts = sled();
    seed(&ts.store);
    let now = t("2026-12-07T12:00:00Z");
    // Any day of the week gives the same report, Sunday included.
    for day in ["2026-11-30", "2026-12-03", "2026-12-06"] {
        let r = week(&ts.store, &config(), date(day), now).expect("report");
        assert_seeded(&r);
    }
}

#[test]
fn a_week_not_over_counts_up_to_now() {
    let ts = sled();
    seed(&ts.store);
    // Wednesday 2026-12-02 12:00 local: p3 (20:00 local) is not yet due.
    let now = t("2026-12-02T04:00:00Z");
    let r = week(&ts.store, &config(), date("2026-12-02"), now).expect("report");
    assert_eq!((r.weeks[0].planned, r.weeks[0].published), (2, 2));
    assert_eq!(r.sentiment.len(), 3, "Monday to Wednesday");
    // Item 3 (due 04:00Z, answered 03:00Z) counts; nothing is overdue yet.
    assert_eq!(r.replies.items, 3);
    assert_eq!(r.replies.overdue, 0);
    // An alert opened an hour before now is in the timeline.
    let ids: Vec<&str> = r.crises.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a-over", "a-new"]);
}

#[test]
fn an_empty_store_gives_an_empty_report() {
    let ts = sled();
    let r = week(
        &ts.store,
        &config(),
        date("2026-12-02"),
        t("2026-12-10T00:00:00Z"),
    )
    .expect("report");
    assert_eq!(
        r.weeks[0],
        WeekFigures {
            week: date("2026-11-30"),
            ..WeekFigures::default()
        }
    );
    assert!(r
        .categories
        .iter()
        .all(|c| c.planned == 0 && c.lift.is_none()));
    assert_eq!(r.replies, ReplyFigures::default());
    assert!(r.share_of_voice.iter().all(|v| v.share == 0.0));
    assert!(r.crises.is_empty() && r.hours.is_empty() && r.clicks.is_empty());
    // A week entirely in the future counts nothing either.
    let r = week(
        &ts.store,
        &config(),
        date("2027-01-04"),
        t("2026-12-10T00:00:00Z"),
    )
    .expect("report");
    assert!(r.sentiment.is_empty());
}

#[test]
fn weeks_start_at_local_midnight_even_across_a_clock_change() {
    assert_eq!(monday_of(date("2026-12-06")), date("2026-11-30"));
    assert_eq!(monday_of(date("2026-11-30")), date("2026-11-30"));
    let tz: Tz = "Asia/Shanghai".parse().expect("tz");
    assert_eq!(
        local_start(tz, date("2026-11-30")),
        Some(t("2026-11-29T16:00:00Z"))
    );
    // Santiago skips midnight to 01:00 on 2026-09-06: the day starts at 01:00 local (-03).
    let tz: Tz = "America/Santiago".parse().expect("tz");
    assert_eq!(
        local_start(tz, date("2026-09-06")),
        Some(t("2026-09-06T04:00:00Z"))
    );
    let w = Weeks::new(tz, date("2026-09-09"), t("2027-01-01T00:00:00Z")).expect("weeks");
    assert_eq!(w.bounds[0].0, t("2026-09-07T03:00:00Z"));
    assert_eq!(w.bounds[1].1, w.bounds[0].0, "weeks touch");
    assert!(Weeks::new(tz, NaiveDate::MIN, Utc::now()).is_err());
    assert!(Weeks::new(tz, NaiveDate::MAX, Utc::now()).is_err());
}

#[test]
fn source_codes_split_into_channel_and_category() {
    let cases = [
        ("masto.product.x-trail.20261201T1230", ("masto", "product")),
        ("masto.reply.crisis-zh.20261201T1000", ("masto", "reply")),
        ("handmade", ("", "")),
        ("a.b", ("", "")),
        ("..x.y", ("", "")),
    ];
    for (code, (channel, category)) in cases {
        assert_eq!(
            split_code(code),
            (channel.to_string(), category.to_string()),
            "{code}"
        );
    }
    let rows = click_rows(vec![
        ("b.x.s.t".into(), 3),
        ("a.y.s.t".into(), 3),
        ("b.x.s.t".into(), 2),
        ("z".into(), 0),
    ]);
    let got: Vec<(&str, u64)> = rows.iter().map(|r| (r.code.as_str(), r.clicks)).collect();
    assert_eq!(got, [("b.x.s.t", 5), ("a.y.s.t", 3)]);
}

#[test]
fn lift_and_quantiles() {
    assert_eq!(lift(Some(15.0), Some(5.0)), Some(2.0));
    assert_eq!(lift(Some(2.5), Some(5.0)), Some(-0.5));
    assert_eq!(lift(Some(1.0), Some(0.0)), None);
    assert_eq!(lift(None, Some(1.0)), None);
    assert_eq!(lift(Some(1.0), None), None);
    assert_eq!(quantile(&mut [], 0.5), None);
    assert_eq!(quantile(&mut [3.0, 1.0, 2.0], 0.5), Some(2.0));
    assert_eq!(quantile(&mut [4.0, 1.0, 2.0, 3.0], 0.5), Some(2.5));
    let mut ten: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(quantile(&mut ten, 0.9), Some(9.0));
    assert_eq!(quantile(&mut [7.0], 0.9), Some(7.0));
}

#[test]
fn clicks_recorded_through_the_redirect_count_in_their_local_week() {
    use crate::store::ClickLink;
    let ts = sled();
    let code = "masto.product.a.20261201T1200";
    let other = "sky.lifestyle.b.20261202T2000";
    ts.store
        .clicks()
        .put_links(&[
            ClickLink {
                code: code.into(),
                target: "https://example.com/a?utm_content=x".into(),
                since: t("2026-11-30T00:00:00Z"),
            },
            ClickLink {
                code: other.into(),
                target: "https://example.com/b".into(),
                since: t("2026-11-30T00:00:00Z"),
            },
        ])
        .expect("links");
    // Shanghai's week of 2026-11-30 runs from 2026-11-29T16:00Z to 2026-12-06T16:00Z.
    for at in [
        "2026-11-29T15:59:00Z", // Sunday 23:59 local: the week before
        "2026-11-29T16:00:00Z",
        "2026-12-01T04:10:00Z",
        "2026-12-01T04:20:00Z",
        "2026-12-06T15:30:00Z",
    ] {
        assert!(ts
            .store
            .clicks()
            .record_click(code, t(at))
            .expect("click")
            .is_some());
    }
    assert!(ts
        .store
        .clicks()
        .record_click(other, t("2026-12-02T12:00:00Z"))
        .expect("click")
        .is_some());
    assert!(ts
        .store
        .clicks()
        .record_click("not.a.link.x", t("2026-12-02T12:00:00Z"))
        .expect("click")
        .is_none());
    let r = week(
        &ts.store,
        &config(),
        date("2026-12-02"),
        t("2026-12-07T00:00:00Z"),
    )
    .expect("report");
    assert_eq!(r.weeks[0].clicks, 5);
    assert_eq!(r.weeks[1].clicks, 1);
    let rows: Vec<(&str, &str, &str, u64)> = r
        .clicks
        .iter()
        .map(|c| {
            (
                c.code.as_str(),
                c.channel.as_str(),
                c.category.as_str(),
                c.clicks,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (code, "masto", "product", 4),
            (other, "sky", "lifestyle", 1)
        ]
    );
    let product = r.categories.iter().find(|c| c.category == "product");
    assert_eq!(product.map(|c| c.clicks), Some(4));
}
