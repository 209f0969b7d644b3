//! The Inbox, item and Leads pages and the `/api/queue` routes, in process: filters, CSRF on
//! every form, hostile mention text rendered inert, decisions recorded in the audit log with the
//! logged-in user (pages) or the API caller.

use axum::http::{header, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use herald::inbox::{AuditEntry, LeadInfo, Priority, QueueItem, ReplyState};
use serde_json::json;

use super::{body, hidden, location, App, TOKEN, USER, XSS};

/// A pending item drafted at `created` (its SLA 30 minutes later).
pub fn item(
    mention_id: &str,
    (platform, lang, priority): (&str, &str, Priority),
    mention_text: &str,
    created: DateTime<Utc>,
) -> QueueItem {
    QueueItem {
        id: 0,
        mention_id: mention_id.into(),
        platform: platform.into(),
        source: "it".into(),
        author: format!("author-{mention_id}"),
        mention_text: mention_text.into(),
        mention_url: Some(format!("https://example.org/{mention_id}")),
        mention_at: created,
        lang: lang.into(),
        intent: "complaint".into(),
        priority,
        crisis: priority == Priority::Crisis,
        topics: vec!["brand/nissan".into()],
        lead: (priority == Priority::Lead).then(|| LeadInfo {
            grade: "hot".into(),
            phone: true,
            email: false,
            test_drive: true,
            timeframe_months: Some(1),
        }),
        stage: None,
        template: "t".into(),
        text: format!("draft for {mention_id}"),
        source_code: "code".into(),
        channel: Some("outbox".into()),
        state: ReplyState::Pending,
        created_at: created,
        due_at: created + TimeDelta::minutes(30),
        assignee: None,
        reply_to: None,
        post: None,
        remote_id: None,
        remote_url: None,
        media: None,
        error: None,
        audit: vec![AuditEntry {
            at: created,
            who: "herald".into(),
            action: "draft".into(),
            from: None,
            to: ReplyState::Pending,
            text_before: String::new(),
            text_after: format!("draft for {mention_id}"),
            note: None,
        }],
    }
}

pub fn enqueue(app: &App, i: &QueueItem) -> u64 {
    app.store
        .queue()
        .enqueue(i)
        .expect("enqueue")
        .expect("new item")
}

/// Three open items and one rejected: (crisis zh mastodon overdue, lead en bluesky, question
/// en mastodon, rejected).
fn seed(app: &App) -> [u64; 4] {
    let crisis = enqueue(
        app,
        &item(
            "m-crisis",
            ("mastodon", "zh", Priority::Crisis),
            "刹车失灵 crisis text",
            app.now - TimeDelta::hours(2),
        ),
    );
    let lead = enqueue(
        app,
        &item(
            "m-lead",
            ("bluesky", "en", Priority::Lead),
            "want a test drive, call 13800000000",
            app.now - TimeDelta::minutes(5),
        ),
    );
    let question = enqueue(
        app,
        &item(
            "m-question",
            ("mastodon", "en", Priority::Question),
            "what is the range?",
            app.now - TimeDelta::minutes(10),
        ),
    );
    let gone = enqueue(
        app,
        &item(
            "m-gone",
            ("bluesky", "zh", Priority::Other),
            "already rejected one",
            app.now - TimeDelta::minutes(20),
        ),
    );
    app.store
        .queue()
        .apply(
            gone,
            &herald::inbox::Action::Reject { reason: None },
            "someone",
            app.now,
        )
        .expect("store")
        .expect("reject");
    [crisis, lead, question, gone]
}

fn rows(page: &str) -> Vec<u64> {
    page.match_indices("id=\"item-")
        .filter_map(|(i, m)| {
            let rest = &page[i + m.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn the_inbox_lists_open_items_most_urgent_first_and_filters() {
    let app = App::new();
    let [crisis, lead, question, gone] = seed(&app);
    let cookies = app.login().await;
    let res = app.get("/inbox", &cookies).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = body(res).await;
    assert_eq!(
        rows(&page),
        vec![crisis, question, lead],
        "open items by priority"
    );
    assert!(page.contains(&format!("class=\"item overdue\" id=\"item-{crisis}\"")));
    assert!(
        page.contains(&format!("class=\"item\" id=\"item-{lead}\"")),
        "not overdue"
    );
    assert!(page.contains("2h 0m"), "the crisis item's age");
    assert!(page.contains("prio-crisis") && page.contains("rstate-pending"));
    assert!(page.contains("/static/inbox.js"), "the shortcuts script");
    assert!(page.contains("j / k move"), "shortcuts documented");

    for (query, want) in [
        ("priority=lead", vec![lead]),
        ("platform=mastodon", vec![crisis, question]),
        ("lang=en", vec![question, lead]),
        ("lang=zh&platform=mastodon", vec![crisis]),
        ("state=all", vec![crisis, question, lead, gone]),
        ("state=rejected", vec![gone]),
        ("state=all&platform=bluesky&lang=zh", vec![gone]),
        ("platform=rss", vec![]),
    ] {
        let page = body(app.get(&format!("/inbox?{query}"), &cookies).await).await;
        assert_eq!(rows(&page), want, "{query}");
    }
    let bad = app.get("/inbox?state=nonsense", &cookies).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Chinese labels.
    let page = body(
        app.get("/inbox", &format!("{cookies}; herald_lang=zh"))
            .await,
    )
    .await;
    assert!(page.contains("危机") && page.contains("待审核") && page.contains("快捷键"));
}

/// The values of the Inbox's platform `<select>`, "any" left out.
fn platform_options(page: &str) -> Vec<String> {
    let start = page
        .find("<select name=\"platform\">")
        .expect("platform filter");
    let select = &page[start..start + page[start..].find("</select>").expect("end")];
    select
        .match_indices("<option value=\"")
        .filter_map(|(i, m)| {
            let rest = &select[i + m.len()..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

#[tokio::test]
async fn the_platform_filter_offers_the_configured_sources_and_the_queued_platforms() {
    // No sources: the platforms of the queue, and nothing made up ("rss").
    let app = App::new();
    let cookies = app.login().await;
    let page = body(app.get("/inbox", &cookies).await).await;
    assert_eq!(platform_options(&page), Vec::<String>::new(), "empty queue");
    seed(&app);
    let page = body(app.get("/inbox", &cookies).await).await;
    assert_eq!(platform_options(&page), ["bluesky", "mastodon"]);
    // The filter in force is offered, selected, and escaped, even if nothing has it.
    let page = body(app.get("/inbox?platform=%3Cb%3Ex", &cookies).await).await;
    assert_eq!(
        platform_options(&page),
        ["&#60;b&#62;x", "bluesky", "mastodon"]
    );
    assert!(page.contains("<option value=\"&#60;b&#62;x\" selected>"));

    // Sources configured: their platforms before anything is queued.
    let app = App::with_toml(
        "[[sources]]\nname = \"news\"\nkind = \"feed\"\nurl = \"https://news.example/feed.xml\"\n\n\
         [[sources]]\nname = \"tags\"\nkind = \"mastodon-hashtag\"\nbase_url = \"https://m.example\"\nhashtags = [\"nissan\"]\n",
    );
    let cookies = app.login().await;
    let page = body(app.get("/inbox?platform=feed", &cookies).await).await;
    assert_eq!(platform_options(&page), ["feed", "mastodon"]);
    assert!(page.contains("<option value=\"feed\" selected>"));
    seed(&app);
    let page = body(app.get("/inbox", &cookies).await).await;
    assert_eq!(platform_options(&page), ["bluesky", "feed", "mastodon"]);
}

#[tokio::test]
async fn every_inbox_form_needs_the_csrf_token() {
    let app = App::new();
    let [crisis, ..] = seed(&app);
    let cookies = app.login().await;
    let before = app.store.queue().item(crisis).expect("get");
    for (action, field, value) in [
        ("approve", "text", "sneaky"),
        ("edit", "text", "sneaky"),
        ("reject", "reason", "sneaky"),
        ("assign", "to", "sneaky"),
    ] {
        let path = format!("/inbox/{crisis}/{action}");
        let res = app.post_form(&path, &cookies, &[(field, value)]).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{action} without a token"
        );
        let res = app
            .post_form(&path, &cookies, &[(field, value), ("csrf", "forged")])
            .await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{action} with a forged token"
        );
    }
    assert_eq!(
        app.store.queue().item(crisis).expect("get"),
        before,
        "untouched"
    );
}

#[tokio::test]
async fn decisions_in_the_pages_are_recorded_with_the_logged_in_user() {
    let app = App::new();
    let [crisis, lead, question, _] = seed(&app);
    let cookies = app.login().await;

    // The item page: mention, classification, editor, forms with the token, history.
    let res = app.get(&format!("/inbox/{crisis}"), &cookies).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = body(res).await;
    let csrf = hidden(&page, "csrf");
    assert!(page.contains("刹车失灵 crisis text"));
    assert!(page.contains("author-m-crisis"));
    assert!(page.contains("href=\"https://example.org/m-crisis\""));
    assert!(page.contains("brand/nissan"));
    assert!(page.contains(">draft for m-crisis</textarea>"));
    assert!(page.contains("e edit, a approve"), "shortcuts documented");
    assert_eq!(
        page.matches(&format!("name=\"csrf\" value=\"{csrf}\""))
            .count(),
        4,
        "logout, draft, reject and assign forms carry the token"
    );
    assert!(page.contains("audit-draft"));

    // Save an edit, then approve with a further edit.
    let res = app
        .post_form(
            &format!("/inbox/{crisis}/edit"),
            &cookies,
            &[("csrf", &csrf), ("text", "first edit\r\nline two")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/inbox/{crisis}?msg=edit"));
    let res = app
        .post_form(
            &format!("/inbox/{crisis}/approve"),
            &cookies,
            &[("csrf", &csrf), ("text", "final text")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let done = app.store.queue().item(crisis).expect("get").expect("item");
    assert_eq!(done.state, ReplyState::Approved);
    assert_eq!(done.text, "final text");
    let tail: Vec<(&str, &str, &str, &str)> = done.audit[1..]
        .iter()
        .map(|a| {
            (
                a.who.as_str(),
                a.action.as_str(),
                a.text_before.as_str(),
                a.text_after.as_str(),
            )
        })
        .collect();
    assert_eq!(
        tail,
        vec![
            (USER, "edit", "draft for m-crisis", "first edit\nline two"),
            (USER, "approve", "first edit\nline two", "final text"),
        ]
    );
    let page = body(
        app.get(&format!("/inbox/{crisis}?msg=approve"), &cookies)
            .await,
    )
    .await;
    assert!(page.contains("Approved: the reply will be sent."));
    assert!(page.contains("audit-approve") && page.contains(&format!("<bdi>{USER}</bdi>")));
    assert!(
        !page.contains("id=\"approve\""),
        "no approve button once approved"
    );

    // Approving unchanged text approves as drafted (text_before == text_after).
    let res = app
        .post_form(
            &format!("/inbox/{question}/approve"),
            &cookies,
            &[("csrf", &csrf), ("back", "inbox")],
        )
        .await;
    assert_eq!(location(&res), "/inbox?msg=approve");
    let q = app
        .store
        .queue()
        .item(question)
        .expect("get")
        .expect("item");
    assert_eq!(q.state, ReplyState::Approved);
    assert_eq!(q.text, "draft for m-question");

    // Assign, then reject with a reason.
    app.post_form(
        &format!("/inbox/{lead}/assign"),
        &cookies,
        &[("csrf", &csrf), ("to", "wang")],
    )
    .await;
    let res = app
        .post_form(
            &format!("/inbox/{lead}/reject"),
            &cookies,
            &[("csrf", &csrf), ("reason", "spam")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let l = app.store.queue().item(lead).expect("get").expect("item");
    assert_eq!(l.state, ReplyState::Rejected);
    assert_eq!(l.assignee.as_deref(), Some("wang"));
    let last: Vec<(&str, &str, Option<&str>)> = l.audit[1..]
        .iter()
        .map(|a| (a.who.as_str(), a.action.as_str(), a.note.as_deref()))
        .collect();
    assert_eq!(
        last,
        vec![
            (USER, "assign", Some("wang")),
            (USER, "reject", Some("spam"))
        ]
    );

    // What is no longer possible is refused, and changes nothing.
    let res = app
        .post_form(
            &format!("/inbox/{lead}/approve"),
            &cookies,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .post_form(
            &format!("/inbox/{crisis}/edit"),
            &cookies,
            &[("csrf", &csrf), ("text", "   ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "approved: no edits");
    assert_eq!(
        app.store
            .queue()
            .item(lead)
            .expect("get")
            .expect("item")
            .audit
            .len(),
        3
    );
    assert_eq!(
        app.get("/inbox/999999", &cookies).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn hostile_mention_text_renders_inert_in_the_inbox_and_item_pages() {
    let app = App::new();
    let mut ids = Vec::new();
    for (i, (text, _)) in XSS.iter().enumerate() {
        let mut it = item(
            &format!("x{i}"),
            ("mastodon", "en", Priority::Complaint),
            text,
            app.now - TimeDelta::minutes(i as i64),
        );
        it.author = "<img src=x onerror=alert(2)>".into();
        it.mention_url = Some("javascript:alert(document.cookie)".into());
        it.text = format!("reply {i} </textarea><script>alert(3)</script>");
        ids.push(enqueue(&app, &it));
    }
    let cookies = app.login().await;
    let mut pages = vec![body(app.get("/inbox", &cookies).await).await];
    for id in &ids {
        pages.push(body(app.get(&format!("/inbox/{id}"), &cookies).await).await);
    }
    pages.push(body(app.get("/leads", &cookies).await).await);
    for (n, page) in pages.iter().enumerate() {
        for live in [
            "<script>alert",
            "<img",
            "<svg",
            "<b>bold",
            "onerror=alert(1)>",
            "href=\"javascript:",
            "</textarea><script>",
        ] {
            assert!(!page.contains(live), "page {n}: live markup {live:?}");
        }
    }
    // The inbox shows snippets (whitespace folded); the item page the whole text.
    for (i, (text, escaped)) in XSS.iter().enumerate() {
        let item_page = &pages[i + 1];
        assert!(
            item_page.contains(escaped),
            "{text:?} should appear as {escaped:?} on its item page"
        );
        assert!(item_page.contains("&#60;img src=x onerror=alert(2)&#62;"));
        assert!(item_page.contains("&#60;/textarea&#62;&#60;script&#62;alert(3)"));
    }
    assert!(pages[0].contains("&#60;img src=x onerror=alert(2)&#62;"));
}

#[tokio::test]
async fn leads_page_and_csv() {
    let app = App::new();
    let [_, lead, ..] = seed(&app);
    let cookies = app.login().await;
    let page = body(app.get("/leads", &cookies).await).await;
    assert!(page.contains(&format!("href=\"/inbox/{lead}\"")));
    assert!(page.contains("want a test drive") && page.contains("hot"));
    assert_eq!(
        page.matches("class=\"lead grade-").count(),
        1,
        "only the lead"
    );
    let res = app.get("/leads/export.csv", &cookies).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let csv = body(res).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,received_at"));
    assert!(lines[1].contains("13800000000"));
    assert_eq!(
        app.get("/leads/export.csv", "").await.status(),
        StatusCode::SEE_OTHER,
        "behind the login"
    );
}

#[tokio::test]
async fn the_leads_page_pages_newest_first() {
    let app = App::new();
    let ids: Vec<u64> = (0..53)
        .map(|n| {
            enqueue(
                &app,
                &item(
                    &format!("lead-{n}"),
                    ("bluesky", "en", Priority::Lead),
                    &format!("lead number {n}, call 13800000000"),
                    app.now - TimeDelta::minutes(60 - n),
                ),
            )
        })
        .collect();
    // A non-lead in between does not take a row.
    enqueue(
        &app,
        &item(
            "not-a-lead",
            ("bluesky", "en", Priority::Question),
            "what is the range?",
            app.now - TimeDelta::minutes(30),
        ),
    );
    let cookies = app.login().await;
    let lead_rows = |page: &str| -> Vec<u64> {
        page.match_indices("class=\"lead grade-hot\"><td><a href=\"/inbox/")
            .filter_map(|(i, m)| {
                let rest = &page[i + m.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect()
    };
    let newest_first: Vec<u64> = ids.iter().rev().copied().collect();

    let first = body(app.get("/leads", &cookies).await).await;
    assert_eq!(lead_rows(&first), newest_first[..50]);
    assert!(first.contains("(53)"), "the total");
    assert!(first.contains("href=\"/leads?page=2\" id=\"next\""));
    assert!(!first.contains("id=\"prev\""));

    let second = body(app.get("/leads?page=2", &cookies).await).await;
    assert_eq!(lead_rows(&second), newest_first[50..]);
    assert!(second.contains("href=\"/leads?page=1\" id=\"prev\""));
    assert!(!second.contains("id=\"next\""));

    let beyond = body(app.get("/leads?page=9", &cookies).await).await;
    assert!(lead_rows(&beyond).is_empty());
    assert!(beyond.contains("href=\"/leads?page=8\" id=\"prev\""));
    assert_eq!(
        app.get("/leads?page=x", &cookies).await.status(),
        StatusCode::BAD_REQUEST
    );
    // The CSV still has every lead.
    let csv = body(app.get("/leads/export.csv", &cookies).await).await;
    assert_eq!(csv.lines().count(), 54, "a header and 53 leads");
}

#[tokio::test]
async fn the_queue_api_offers_the_same_actions() {
    let app = App::new();
    let [crisis, lead, question, gone] = seed(&app);
    let (status, _, _) = app.api("GET", "/api/queue", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, v, _) = app.api("GET", "/api/queue", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["total"], json!(3));
    let ids: Vec<u64> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_u64())
        .collect();
    assert_eq!(ids, vec![crisis, question, lead]);
    assert_eq!(v["items"][0]["overdue"], json!(true));
    assert_eq!(v["items"][1]["overdue"], json!(false));
    let (_, v, _) = app
        .api(
            "GET",
            "/api/queue?state=all&platform=bluesky",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(v["total"], json!(2));
    let (status, _, _) = app
        .api("GET", "/api/queue?priority=bogus", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, v, _) = app
        .api("GET", &format!("/api/queue/{gone}"), Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["state"], json!("rejected"));
    let (status, _, _) = app.api("GET", "/api/queue/424242", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Edit, then approve with an edit, as a named caller.
    let send = |method: &'static str,
                path: String,
                who: Option<&'static str>,
                b: Option<serde_json::Value>| {
        let app = &app;
        async move {
            let mut req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(w) = who {
                req = req.header("X-Herald-User", w);
            }
            let res = app
                .send(
                    req.body(axum::body::Body::from(
                        b.map(|b| b.to_string()).unwrap_or_default(),
                    ))
                    .expect("req"),
                )
                .await;
            let status = res.status();
            let v: serde_json::Value =
                serde_json::from_str(&body(res).await).unwrap_or(serde_json::Value::Null);
            (status, v)
        }
    };
    let (status, v) = send(
        "POST",
        format!("/api/queue/{crisis}/edit"),
        Some("li"),
        Some(json!({"text": "api edit"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["text"], json!("api edit"));
    let (status, v) = send(
        "POST",
        format!("/api/queue/{crisis}/approve"),
        Some("li"),
        Some(json!({"text": "api final"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["state"], json!("approved"));
    // Approve with no body, reject and assign without a name: `api`.
    let (status, v) = send("POST", format!("/api/queue/{question}/approve"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = send(
        "POST",
        format!("/api/queue/{lead}/assign"),
        None,
        Some(json!({"to": "wang"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        "POST",
        format!("/api/queue/{lead}/reject"),
        None,
        Some(json!({"reason": "duplicate"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let c = app.store.queue().item(crisis).expect("get").expect("item");
    let who: Vec<(&str, &str, &str)> = c.audit[1..]
        .iter()
        .map(|a| (a.who.as_str(), a.action.as_str(), a.text_after.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![("li", "edit", "api edit"), ("li", "approve", "api final")]
    );
    let q = app
        .store
        .queue()
        .item(question)
        .expect("get")
        .expect("item");
    assert_eq!(q.state, ReplyState::Approved);
    assert_eq!(q.text, "draft for m-question");
    assert_eq!(q.audit.last().map(|a| a.who.as_str()), Some("api"));
    let l = app.store.queue().item(lead).expect("get").expect("item");
    assert_eq!(l.state, ReplyState::Rejected);
    assert_eq!(l.assignee.as_deref(), Some("wang"));
    assert_eq!(
        l.audit.last().and_then(|a| a.note.as_deref()),
        Some("duplicate")
    );

    // Refusals.
    let (status, v) = send("POST", format!("/api/queue/{lead}/approve"), None, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, _) = send(
        "POST",
        format!("/api/queue/{crisis}/edit"),
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "edit without text");
    let (status, _) = send(
        "POST",
        format!("/api/queue/{crisis}/reject"),
        Some("   "),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a blank caller name");
    let (status, _) = send("POST", "/api/queue/424242/reject".into(), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v, _) = app.api("GET", "/api/leads", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["leads"].as_array().map(Vec::len), Some(1));
}
