//! The web UI as a person meets it (issue 14): the Calendar opens on today, no contradictory
//! hold line, every value of the Chinese UI translated, long mentions folded, a too-long reply
//! that names the limit and keeps the edit, no Approve where herald cannot answer, empty states
//! that say what to do, bidi controls never reaching a page, and query values that would
//! overflow chrono or a page offset answered 400 instead of a panic. In process, no peers.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::TimeDelta;
use herald::inbox::{Priority, ReplyState};
use herald::store::{AlertLevel, AlertState};
use herald::web::WebConfig;

use super::alerts::{event, raise, sample};
use super::inbox::{enqueue, item};
use super::{at, body, mention, App, TOKEN};

/// The app on Sunday 2026-11-29, 10:00 in Shanghai.
fn on_a_sunday() -> App {
    let now = at("2026-11-29T02:00:00Z");
    App::with_clock(
        WebConfig::default(),
        Some(TOKEN),
        now,
        Arc::new(move || now),
    )
}

/// What a person reads on a page: the text outside tags, scripts and styles.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        out.push(' ');
        let after = &rest[i..];
        let skip_to = ["script", "style"]
            .iter()
            .find(|t| after.starts_with(&format!("<{t}")))
            .and_then(|t| after.find(&format!("</{t}>")));
        let from = skip_to.unwrap_or(0);
        rest = match after[from..].find('>') {
            Some(j) => &after[from + j + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The lowercase ASCII words of `text`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[tokio::test]
async fn the_calendar_opens_on_today_even_on_a_sunday() {
    let app = on_a_sunday();
    let cookies = app.login().await;
    // Monday 2026-11-30, 12:00 in Shanghai: tomorrow.
    app.store
        .posts()
        .put(&crate::helpers::stored_post(
            "outbox",
            "明天的帖子",
            at("2026-11-30T04:00:00Z"),
        ))
        .expect("put");
    let page = body(app.get("/calendar", &cookies).await).await;
    let days: Vec<&str> = page
        .match_indices("<section class=\"day")
        .map(|(i, _)| &page[i..i + 120])
        .collect();
    assert_eq!(days.len(), 7, "seven days");
    assert!(
        days[0].contains("today") && days[0].contains("Sun 2026-11-29"),
        "today first: {}",
        days[0]
    );
    assert!(days[6].contains("Sat 2026-12-05"), "{}", days[6]);
    assert!(!page.contains("Mon 2026-11-23"), "not the week behind");
    assert!(page.contains("明天的帖子"), "tomorrow's post is shown");
    assert!(page.contains("href=\"/calendar?view=days&#38;date=2026-12-06\""));

    // The Monday-to-Sunday week is one click away, and old `?date=` links keep their meaning.
    for path in [
        "/calendar?view=week&date=2026-11-29",
        "/calendar?date=2026-11-29",
    ] {
        let page = body(app.get(path, &cookies).await).await;
        assert!(
            page.contains("Mon 2026-11-23") && page.contains("Sun 2026-11-29"),
            "{path}"
        );
        assert!(!page.contains("明天的帖子"), "{path}: next week's post");
    }
    let page = body(app.get("/calendar?view=day", &cookies).await).await;
    assert_eq!(page.matches("<section class=\"day").count(), 1);
    assert!(page.contains("Sun 2026-11-29"));
}

#[tokio::test]
async fn a_crisis_hold_is_not_followed_by_publishing_runs_normally() {
    let app = App::new();
    raise(
        &app,
        &event(
            "brand-20261123T0130",
            AlertLevel::Crisis,
            app.now - TimeDelta::minutes(30),
        ),
        &[sample("刹车失灵了")],
        &[],
    );
    let cookies = app.login().await;
    let page = body(app.get("/calendar", &cookies).await).await;
    assert!(page.contains("id=\"crisis-hold-state\""), "the red box");
    assert!(
        !page.contains("Publishing runs normally."),
        "no contradiction under the crisis hold"
    );
    assert!(page.contains("No pause by hand: the crisis hold above"));
    assert!(page.contains("Open crisis alerts: <a href=\"/alerts\"><bdi>brand-20261123T0130"));
    // Without the crisis, the plain line is back.
    herald::crisis::live::resolve(
        &app.store,
        &["product".into(), "lifestyle".into()],
        "brand-20261123T0130",
        "mei",
        app.now,
    )
    .expect("resolve");
    let page = body(app.get("/calendar", &cookies).await).await;
    assert!(page.contains("Publishing runs normally."));
}

#[tokio::test]
async fn query_values_that_would_overflow_answer_400_not_a_panic() {
    let app = App::new();
    let cookies = app.login().await;
    let huge = usize::MAX.to_string();
    let bad = [
        "/calendar?date=-262143-01-01".to_string(),
        "/calendar?date=%2B262142-12-31".to_string(),
        "/calendar?date=262142-12-31&view=week".to_string(),
        "/calendar?date=-0001-01-01&view=day".to_string(),
        "/calendar?date=10000-01-01".to_string(),
        "/calendar?date=2026-13-01".to_string(),
        "/calendar?view=month".to_string(),
        format!("/mentions?page={huge}"),
        "/mentions?page=100001".to_string(),
        "/mentions?page=99999999999999999999999999".to_string(),
        "/mentions?page=-1".to_string(),
        format!("/inbox?page={huge}"),
        format!("/inbox?page={}", usize::MAX / 50 + 2),
        format!("/leads?page={huge}"),
        format!("/alerts?page={huge}"),
    ];
    for path in &bad {
        let res = app.get(path, &cookies).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let page = body(res).await;
        assert!(!page.contains("Something went wrong"), "{path}: {page}");
    }
    let page = body(app.get("/calendar?date=-262143-01-01", &cookies).await).await;
    assert!(
        page.contains("The date must be a day from 1970-01-01 to 9999-12-31"),
        "{page}"
    );
    let page = body(app.get(&format!("/inbox?page={huge}"), &cookies).await).await;
    assert!(page.contains("The page number must be a whole number from 1 to 100000."));

    // The edges themselves are shown, with links on both sides.
    for path in [
        "/calendar?date=1970-01-01",
        "/calendar?date=9999-12-31&view=days",
        "/calendar?date=9999-12-31&view=week",
        "/mentions?page=100000",
        "/inbox?page=100000",
        "/leads?page=100000",
        "/alerts?page=100000",
    ] {
        assert_eq!(
            app.get(path, &cookies).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // The API's mention search and queue take any offset without overflowing.
    enqueue(
        &app,
        &item(
            "o-1",
            ("mastodon", "en", Priority::Question),
            "offsets",
            app.now - TimeDelta::minutes(5),
        ),
    );
    for path in [
        format!("/api/mentions?offset={huge}&limit=500"),
        format!("/api/queue?offset={huge}&limit=500"),
    ] {
        let (status, v, _) = app.api("GET", &path, Some(TOKEN), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
    }
    // The schedule's dates: the end of a range past the calendar's last day used to panic.
    for path in [
        "/api/schedule?from=%2B262142-12-31&days=62",
        "/api/schedule?from=-262143-01-01",
        "/api/schedule?from=10000-01-01",
    ] {
        let (status, v, _) = app.api("GET", path, Some(TOKEN), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("1970-01-01 to 9999-12-31")),
            "{v}"
        );
    }
    let (status, _, _) = app
        .api(
            "GET",
            "/api/schedule?from=9999-12-25&days=62",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// One of everything the Chinese UI shows a label for.
fn seed_everything(app: &App) -> (u64, u64) {
    let now = app.now;
    for (i, (sentiment, intent)) in [
        ("negative", "complaint"),
        ("neutral", "question"),
        ("positive", "praise"),
        ("neutral", "purchase"),
        ("neutral", "other"),
    ]
    .iter()
    .enumerate()
    {
        app.store
            .mentions()
            .insert(&mention(
                &format!("zh{i}"),
                "车主小李",
                "日产的车怎么样",
                &(now - TimeDelta::minutes(10 + i as i64)).to_rfc3339(),
                ("mastodon", sentiment, intent),
                Some("https://example.org/zh"),
            ))
            .expect("insert");
    }
    let mut first = 0;
    for (i, p) in Priority::ALL.iter().enumerate() {
        let mut it = item(
            &format!("q{i}"),
            ("mastodon", "zh", *p),
            "刹车有问题，想试驾新车",
            now - TimeDelta::minutes(40 + i as i64),
        );
        it.author = "车主小李".into();
        it.text = "您好，我们已收到".into();
        it.audit[0].text_after = it.text.clone();
        let id = enqueue(app, &it);
        if i == 0 {
            first = id;
        }
    }
    let mut lead_id = 0;
    for grade in ["hot", "warm", "cold", "unvalued"] {
        let mut it = item(
            &format!("lead-{grade}"),
            ("bluesky", "zh", Priority::Lead),
            "想买车，电话 13800000000",
            now - TimeDelta::minutes(5),
        );
        it.author = "买车的人".into();
        it.text = "您好，稍后联系您".into();
        it.audit[0].text_after = it.text.clone();
        it.lead = Some(herald::inbox::LeadInfo {
            grade: grade.into(),
            phone: true,
            email: true,
            test_drive: true,
            timeframe_months: Some(3),
        });
        lead_id = enqueue(app, &it);
    }
    for to in [Some("小王".to_string()), None] {
        app.store
            .queue()
            .apply(lead_id, &herald::inbox::Action::Assign { to }, "小王", now)
            .expect("store")
            .expect("assign");
    }
    app.store
        .queue()
        .apply(
            first,
            &herald::inbox::Action::Reject { reason: None },
            "小王",
            now,
        )
        .expect("store")
        .expect("reject");
    // Alerts: a crisis (so the hold and its banner), a warning acknowledged, one resolved.
    raise(
        app,
        &event(
            "brand-20261123T0130",
            AlertLevel::Crisis,
            now - TimeDelta::minutes(30),
        ),
        &[sample("刹车失灵了")],
        &["wecom"],
    );
    raise(
        app,
        &event(
            "brand@bluesky-20261123T0100",
            AlertLevel::Warning,
            now - TimeDelta::minutes(60),
        ),
        &[],
        &[],
    );
    app.store
        .alerts()
        .ack("brand@bluesky-20261123T0100", "小王", now)
        .expect("ack");
    raise(
        app,
        &event(
            "brand-20261122T0100",
            AlertLevel::Warning,
            now - TimeDelta::hours(25),
        ),
        &[],
        &[],
    );
    app.store
        .alerts()
        .resolve("brand-20261122T0100", "小王", now - TimeDelta::hours(24))
        .expect("resolve");
    assert_eq!(
        app.store
            .alerts()
            .get("brand-20261122T0100")
            .expect("get")
            .expect("alert")
            .state,
        AlertState::Resolved
    );
    (first, lead_id)
}

#[tokio::test]
async fn the_chinese_ui_leaves_no_english_value_or_label() {
    let app = App::new();
    let (rejected, lead) = seed_everything(&app);
    let cookies = format!("{}; herald_lang=zh", app.login().await);
    let english: &[&str] = &[
        "negative",
        "neutral",
        "positive",
        "complaint",
        "question",
        "purchase",
        "praise",
        "other",
        "lead",
        "hot",
        "warm",
        "cold",
        "unvalued",
        "warning",
        "crisis",
        "open",
        "acknowledged",
        "resolved",
        "pending",
        "approved",
        "rejected",
        "reject",
        "draft",
        "phone",
        "email",
        "test",
        "drive",
        "months",
        "nobody",
        "assign",
        "alert",
        "hold",
        "publishing",
        "paused",
        "see",
        "the",
        "d",
        "h",
        "m",
    ];
    let pages = [
        "/calendar".to_string(),
        "/inbox".to_string(),
        "/inbox?state=all".to_string(),
        format!("/inbox/{rejected}"),
        format!("/inbox/{lead}"),
        "/mentions".to_string(),
        "/leads".to_string(),
        "/alerts".to_string(),
        format!(
            "/alerts/{}",
            herald::web::alerts::path_segment("brand-20261123T0130")
        ),
        format!(
            "/alerts/{}",
            herald::web::alerts::path_segment("brand@bluesky-20261123T0100")
        ),
    ];
    for path in &pages {
        let res = app.get(path, &cookies).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let html = body(res).await;
        assert!(html.contains("<html lang=\"zh-CN\">"), "{path}");
        let text = visible(&html);
        let left: Vec<String> = words(&text)
            .into_iter()
            .filter(|w| english.contains(&w.as_str()))
            .collect();
        assert!(left.is_empty(), "{path}: English left {left:?} in {text}");
    }
    // The values are there, in Chinese.
    let mentions = visible(&body(app.get("/mentions", &cookies).await).await);
    for zh in [
        "负面",
        "中性",
        "正面",
        "投诉",
        "咨询",
        "好评",
        "购买意向",
        "其他",
    ] {
        assert!(mentions.contains(zh), "/mentions lacks {zh}");
    }
    let item = visible(&body(app.get(&format!("/inbox/{lead}"), &cookies).await).await);
    assert!(
        item.contains("未评级") && item.contains("电话") && item.contains("3 个月内购车"),
        "{item}"
    );
    let leads = visible(&body(app.get("/leads", &cookies).await).await);
    for zh in ["高意向", "中意向", "低意向", "未评级"] {
        assert!(leads.contains(zh), "/leads lacks {zh}");
    }
    let banner = body(app.get("/inbox", &cookies).await).await;
    assert!(
        banner.contains("危机暂停：发布已暂停") && banner.contains("未解决的危机预警"),
        "the crisis banner in Chinese"
    );
}

/// A mention of 15,000 characters, in the store and in the queue.
fn long_mention(app: &App) -> (String, u64) {
    let text: String = (0..15_000)
        .map(|i| if i % 50 == 49 { ' ' } else { '长' })
        .collect();
    app.store
        .mentions()
        .insert(&mention(
            "long",
            "长文作者",
            &text,
            "2026-11-23T01:00:00Z",
            ("mastodon", "negative", "complaint"),
            None,
        ))
        .expect("insert");
    let id = enqueue(
        app,
        &item(
            "long",
            ("mastodon", "zh", Priority::Complaint),
            &text,
            app.now - TimeDelta::minutes(5),
        ),
    );
    (text, id)
}

#[tokio::test]
async fn long_mentions_are_cut_with_a_way_to_expand() {
    let app = App::new();
    let (text, id) = long_mention(&app);
    let cookies = app.login().await;
    let head: String = text.chars().take(280).collect();
    for path in ["/mentions".to_string(), format!("/inbox/{id}")] {
        let page = body(app.get(&path, &cookies).await).await;
        let fold = page.find("<details class=\"fold\"").expect("a fold");
        let summary = &page[fold..fold + page[fold..].find("</summary>").expect("summary")];
        assert!(
            summary.contains(&format!("<bdi class=\"head\">{head}…</bdi>")),
            "{path}: the first 280 characters"
        );
        assert!(
            summary.contains("Show all (15000 characters)"),
            "{path}: {summary}"
        );
        // The whole text is there once, inside the fold (shown when opened).
        assert_eq!(page.matches(text.as_str()).count(), 1, "{path}");
        assert!(page[fold..].contains(text.as_str()), "{path}");
    }
    // The Inbox list shows a one-line snippet.
    let page = body(app.get("/inbox", &cookies).await).await;
    assert!(!page.contains(&head), "the list has only a snippet");
}

#[tokio::test]
async fn a_reply_over_the_limit_names_it_and_keeps_the_edit() {
    let app = App::new();
    let id = enqueue(
        &app,
        &item(
            "lim",
            ("mastodon", "zh", Priority::Question),
            "续航多少？",
            app.now - TimeDelta::minutes(5),
        ),
    );
    let cookies = app.login().await;
    let csrf = app.csrf(&cookies).await;
    let long = format!("{}END", "很长的回复".repeat(1000));
    assert_eq!(long.chars().count(), 5003);
    for action in ["approve", "edit"] {
        let res = app
            .post_form(
                &format!("/inbox/{id}/{action}"),
                &cookies,
                &[("csrf", &csrf), ("text", &long)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{action}");
        let page = body(res).await;
        assert!(
            page.contains("the limit is 5000 characters and it has 5003"),
            "{action}: {}",
            &page[page.find("<main").unwrap_or(0)..][..2000]
        );
        assert!(!page.contains("empty"), "{action}: not called empty");
        assert!(
            page.contains(&format!(
                "<textarea name=\"text\" id=\"editor\" rows=\"6\" cols=\"80\">{long}</textarea>"
            )),
            "{action}: the edit is kept in the editor"
        );
        let kept = app.store.queue().item(id).expect("get").expect("item");
        assert_eq!(kept.state, ReplyState::Pending, "{action}");
        assert_eq!(kept.text, "draft for lim", "{action}");
    }
    // Empty stays "empty", in Chinese too.
    let res = app
        .post_form(
            &format!("/inbox/{id}/edit"),
            &format!("{cookies}; herald_lang=zh"),
            &[("csrf", &csrf), ("text", "  ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body(res).await.contains("回复内容为空"));
    // The API names the numbers too.
    let (status, v, _) = app
        .api(
            "POST",
            &format!("/api/queue/{id}/approve"),
            Some(TOKEN),
            Some(serde_json::json!({ "text": long })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v.to_string()
            .contains("5003 characters, over the limit of 5000"),
        "{v}"
    );
}

#[tokio::test]
async fn mentions_herald_cannot_answer_offer_no_approve_but_the_link() {
    let app = App::new();
    let mut feed = item(
        "feed-1",
        ("feed", "zh", Priority::Complaint),
        "论坛帖子：保养太贵",
        app.now - TimeDelta::minutes(5),
    );
    feed.channel = None;
    feed.mention_url = Some("https://forum.example/t/1".into());
    let feed = enqueue(&app, &feed);
    let mut gone = item(
        "gone-1",
        ("bluesky", "en", Priority::Question),
        "no channel any more",
        app.now - TimeDelta::minutes(6),
    );
    gone.channel = Some("removed".into());
    gone.mention_url = None;
    let gone = enqueue(&app, &gone);
    let fine = enqueue(
        &app,
        &item(
            "ok-1",
            ("mastodon", "en", Priority::Question),
            "answerable",
            app.now - TimeDelta::minutes(7),
        ),
    );
    let cookies = app.login().await;
    let csrf = app.csrf(&cookies).await;

    let list = body(app.get("/inbox", &cookies).await).await;
    let row = |id: u64| {
        let start = list.find(&format!("id=\"item-{id}\"")).expect("row");
        let end = list[start..].find("</tr>").expect("end") + start;
        list[start..end].to_string()
    };
    assert!(!row(feed).contains("/approve"), "{}", row(feed));
    assert!(row(feed).contains("href=\"https://forum.example/t/1\""));
    assert!(row(feed).contains("/reject"), "rejecting stays possible");
    assert!(!row(gone).contains("/approve"));
    assert!(row(fine).contains("/approve"));

    let page = body(app.get(&format!("/inbox/{feed}"), &cookies).await).await;
    assert!(!page.contains("id=\"approve\""));
    assert!(
        page.contains("herald cannot answer here: no configured channel can reply on feed. Answer there by hand:")
            && page.contains("id=\"answer-there\""),
        "says why, with the link"
    );
    assert!(page.contains("id=\"reject\""));
    let page = body(app.get(&format!("/inbox/{gone}"), &cookies).await).await;
    assert!(!page.contains("id=\"approve\"") && page.contains("the mention has no link"));

    // A forged approve is refused before the item moves; the API refuses it too.
    let res = app
        .post_form(
            &format!("/inbox/{feed}/approve"),
            &cookies,
            &[("csrf", &csrf), ("text", "edited by hand")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        body(res).await.contains("edited by hand"),
        "the edit is kept"
    );
    let (status, v, _) = app
        .api(
            "POST",
            &format!("/api/queue/{feed}/approve"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(v
        .to_string()
        .contains("no configured channel can reply on feed"));
    let still = app.store.queue().item(feed).expect("get").expect("item");
    assert_eq!(still.state, ReplyState::Pending);
    // The answerable one approves as before.
    let res = app
        .post_form(
            &format!("/inbox/{fine}/approve"),
            &cookies,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn empty_pages_say_what_to_do() {
    let app = App::new();
    let cookies = app.login().await;
    let page = body(app.get("/inbox", &cookies).await).await;
    assert!(
        page.contains(
            "Nothing waits for a reply. herald drafts a reply here when a source finds a mention"
        ) && page.contains("href=\"/inbox?state=all\""),
        "{page}"
    );
    let page = body(app.get("/inbox?priority=crisis", &cookies).await).await;
    assert!(page.contains("Nothing in the queue matches.") && page.contains("Clear the filters"));
    let page = body(app.get("/mentions", &cookies).await).await;
    assert!(
        page.contains("No mentions are stored yet.")
            && page.contains("add a source under [[sources]]"),
        "{page}"
    );
    let page = body(app.get("/mentions?text=x", &cookies).await).await;
    assert!(page.contains("No mentions match.") && page.contains("Clear the filters"));
    let page = body(app.get("/calendar", &cookies).await).await;
    assert!(
        page.contains("id=\"cal-empty\"") && page.contains("run “herald plan”"),
        "{page}"
    );
    let page = body(app.get("/alerts", &cookies).await).await;
    assert!(page.contains("herald raises an alert when negative mentions of a topic spike"));
    let page = body(app.get("/leads", &cookies).await).await;
    assert!(page.contains("Mentions that show purchase interest become leads here."));
}

#[tokio::test]
async fn bidi_controls_never_reach_a_page() {
    let app = App::new();
    let author = "\u{202E}admin\u{202C}";
    let text = "refund \u{2067}now\u{2069} \u{200F}please\u{200E}\u{061C} \u{202A}\u{202B}\u{202D}";
    app.store
        .mentions()
        .insert(&mention(
            "bidi",
            author,
            text,
            "2026-11-23T01:00:00Z",
            ("mastodon", "negative", "complaint"),
            None,
        ))
        .expect("insert");
    let mut it = item(
        "bidi",
        ("mastodon", "en", Priority::Complaint),
        text,
        app.now - TimeDelta::minutes(5),
    );
    it.author = author.into();
    it.text = format!("@{author} sorry");
    let id = enqueue(&app, &it);
    let cookies = app.login().await;
    for path in [
        "/mentions".to_string(),
        "/inbox".to_string(),
        format!("/inbox/{id}"),
        "/mentions?author=%E2%80%AEadmin".to_string(),
    ] {
        let page = body(app.get(&path, &cookies).await).await;
        let controls: Vec<char> = page
            .chars()
            .filter(|c| herald::untrusted::is_bidi_control(*c))
            .collect();
        assert!(controls.is_empty(), "{path}: {controls:?}");
        if !path.contains("author=") {
            assert!(
                page.contains("<bdi>admin</bdi>")
                    || page.contains("<bdi class=\"author\">admin</bdi>"),
                "{path}"
            );
        }
    }
}
