//! The click redirect (`/r/<code>`, issue 19 item 2): a plan made with `[web] public_url` links
//! its posts through the redirect; a visitor without a login is counted and sent to the tagged
//! link; unknown and malformed codes are refused without writing anything or echoing them;
//! nothing about the visitor is kept. On the backend the tests run on (sled or PostgreSQL).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use herald::store::{ClickCount, ClickLink, StoredPost};

use super::{at, body, App};
use crate::helpers::Workspace;

const BASE: &str = "https://go.example.com";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 UniqueAgent-7f3a";

/// `herald.toml` with two channels and the public URL.
fn toml(public_url: bool) -> String {
    let web = if public_url {
        format!("[web]\npublic_url = \"{BASE}/\"\n\n")
    } else {
        "[web]\n\n".to_string()
    };
    format!(
        "{web}[[channels]]\nname = \"outbox\"\nkind = \"outbox\"\n\n[[channels]]\nname = \"sky\"\nkind = \"bluesky\"\npds_url = \"https://bsky.example\"\nidentifier = \"brand.example\"\npassword_env = \"HERALD_TEST_UNUSED_PASSWORD\"\n"
    )
}

/// A request to the redirect as a browser from `peer` (through a proxy that names another
/// address), without any cookie.
fn visit(method: Method, path: &str, user_agent: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::USER_AGENT, user_agent)
        .header("x-forwarded-for", "198.51.100.9")
        .body(Body::empty())
        .expect("request");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            "203.0.113.7".parse().expect("ip"),
            40000,
        )));
    req
}

/// The planned posts whose text carries a redirect.
fn counted(posts: &[StoredPost]) -> Vec<&StoredPost> {
    posts
        .iter()
        .filter(|p| p.text.contains(&format!("{BASE}/r/")))
        .collect()
}

#[tokio::test]
async fn a_planned_link_is_counted_and_redirected_without_a_login_or_a_trace_of_the_visitor() {
    let app = App::with_toml(&toml(true));
    let config = herald::config::load(&app.ws.path().join("herald.toml"), false).expect("config");
    let end = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
    herald::schedule::replan(&config, Some(&app.store), app.now, end, &[], true).expect("plan");
    let posts = app.store.posts().all().expect("posts");
    let counted = counted(&posts);
    assert!(!counted.is_empty(), "some planned draft has a link");
    // Every counted post has its link stored, under its full source code.
    let links = app.store.clicks().links().expect("links");
    for p in &counted {
        assert!(
            p.text.contains(&format!("{BASE}/r/{}", p.source_code)),
            "{}",
            p.text
        );
        assert!(
            links.iter().any(|l| l.code == p.source_code),
            "{} has its link",
            p.source_code
        );
    }
    let post = counted[0];
    let code = post.source_code.as_str();
    let draft = config
        .drafts
        .iter()
        .find(|d| d.id == post.draft)
        .expect("the post's draft");
    let want = herald::plan::track::tag(
        draft.link.clone().expect("a counted draft has a link"),
        &post.channel,
        &draft.category,
        code,
    );
    assert!(want.as_str().contains(&format!("utm_content={code}")));

    // A visitor without any login: counted, sent on with the tags, no cookie set.
    let now = app.now;
    let hour = herald::store::hour_of(now);
    let week = |app: &App| {
        app.store
            .clicks()
            .counts_between(hour, hour + chrono::TimeDelta::hours(1))
            .expect("counts")
    };
    let path = format!("/r/{code}");
    for n in 1..=2u64 {
        let res = app.send(visit(Method::GET, &path, BROWSER)).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(
            res.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some(want.as_str())
        );
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        assert_eq!(week(&app), vec![(code.to_string(), n)]);
    }
    // A link card fetched by a Mastodon server, and a HEAD: sent on, not counted.
    for (method, ua) in [
        (
            Method::GET,
            "Mastodon/4.3.2 (http.rb/5.2.0; +https://social.example/)",
        ),
        (Method::HEAD, BROWSER),
    ] {
        let res = app.send(visit(method.clone(), &path, ua)).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{method} {ua}");
        assert_eq!(week(&app), vec![(code.to_string(), 2)], "{method} {ua}");
    }

    // An unknown code: 404, not repeated, nothing written.
    let before = (
        app.store.clicks().links().expect("links"),
        app.store.clicks().counts().expect("counts"),
    );
    let unknown = "sky.product.nothing-like-it.20261201T0000";
    let res = app
        .send(visit(Method::GET, &format!("/r/{unknown}"), BROWSER))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get(header::LOCATION).is_none());
    assert!(!body(res).await.contains("nothing-like-it"));
    // Malformed codes: refused before the store is asked, never echoed.
    let long = format!("/r/{}", "a".repeat(herald::plan::track::MAX_CLICK_CODE + 1));
    for bad in [
        "/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/r/sky.product%20x",
        "/r/%E7%A0%81",
        "/r/%FF",
        long.as_str(),
    ] {
        let res = app.send(visit(Method::GET, bad, BROWSER)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let page = body(res).await;
        assert!(
            !page.contains("script") && !page.contains("aaaa"),
            "{bad}: {page}"
        );
    }
    let after = (
        app.store.clicks().links().expect("links"),
        app.store.clicks().counts().expect("counts"),
    );
    assert_eq!(after, before, "unknown and malformed codes wrote nothing");

    // What a click left behind: a code, an hour and a count; nothing of the visitor.
    for c in &after.1 {
        let ClickCount {
            code: c_code,
            hour: c_hour,
            clicks,
        } = c;
        assert!(
            links.iter().any(|l| &l.code == c_code),
            "{c_code} is a planned code"
        );
        assert_eq!(*c_hour, hour);
        assert_eq!(*clicks, 2);
    }
    for l in &after.0 {
        let ClickLink {
            code: _,
            target,
            since,
        } = l;
        assert!(target.starts_with("https://"), "{target}");
        assert_eq!(*since, now);
    }
    let kept = format!(
        "{}{}",
        serde_json::to_string(&after.0).expect("json"),
        serde_json::to_string(&after.1).expect("json")
    );
    for trace in [
        "203.0.113.7",
        "198.51.100.9",
        "UniqueAgent",
        "Mozilla",
        "Mastodon/",
    ] {
        assert!(!kept.contains(trace), "{trace} is kept: {kept}");
    }
    assert_eq!(app.now, at("2026-11-23T02:00:00Z"));
}

/// `herald plan` links through the redirect with `public_url`, and stores the links;
/// without it nothing changes. `herald check` passes either way.
#[test]
fn herald_plan_links_through_the_redirect_only_when_a_public_url_is_set() {
    for with_url in [true, false] {
        let ws = Workspace::new();
        ws.write("herald.toml", &toml(with_url));
        let run = ws.herald(&[
            "plan",
            "--days",
            "7",
            "--from",
            "2026-12-01",
            "--format",
            "json",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout.contains(&format!("{BASE}/r/")),
            with_url,
            "{}",
            run.stdout
        );
        let check = ws.herald(&["check"]);
        assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
        let store = ws.store();
        let posts = store.posts().all().expect("posts");
        let links = store.clicks().links().expect("links");
        let counted = counted(&posts);
        assert_eq!(links.len(), counted.len(), "with_url {with_url}");
        assert_eq!(counted.is_empty(), !with_url);
        for l in &links {
            let post = posts
                .iter()
                .find(|p| p.source_code == l.code)
                .expect("a link belongs to a planned post");
            assert!(
                l.target.contains(&format!("utm_source={}", post.channel)),
                "{}",
                l.target
            );
            // The tagged URL is the redirect's target, not in the text.
            assert!(!post.text.contains(&l.target), "{}", post.text);
        }
    }
}

/// `herald post` (a post by hand) stores its link's target before the post goes out: the text
/// published to the outbox carries the redirect, and the redirect knows where to send it.
#[test]
fn a_post_by_hand_goes_out_with_a_redirect_the_store_knows() {
    let ws = Workspace::new();
    // The default channel only (outbox): the post goes out for real.
    ws.write("herald.toml", &format!("[web]\npublic_url = \"{BASE}\"\n"));
    let run = ws.herald(&[
        "post",
        "product/x-trail-epower-guide-1",
        "--channel",
        "outbox",
        "--now",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let store = ws.store();
    let post = store
        .posts()
        .all()
        .expect("posts")
        .into_iter()
        .find(|p| p.draft == "product/x-trail-epower-guide-1")
        .expect("the post by hand is stored");
    let redirect = format!("{BASE}/r/{}", post.source_code);
    assert!(post.text.contains(&redirect), "{}", post.text);
    let outbox = ws.read("data/outbox.jsonl");
    assert!(outbox.contains(&redirect), "{outbox}");
    let link = store
        .clicks()
        .link(&post.source_code)
        .expect("link")
        .expect("the post's link is stored");
    assert!(
        link.target
            .starts_with("https://jincheng-nissan.example.com/models/x-trail?")
            && link
                .target
                .ends_with(&format!("utm_content={}", post.source_code)),
        "{}",
        link.target
    );
}
