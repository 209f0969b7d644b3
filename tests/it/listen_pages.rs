//! The page source on real forum pages: threads, a topic list and search results saved from
//! Spirit and django-machina running on 127.0.0.1 (`tests/fixtures/pages/`, see its README and
//! `regen.sh`), read with the selectors of `tests/fixtures/pages/herald.toml` as herald's own
//! configuration loader reads them, and compared with golden outputs reviewed by hand
//! (`HERALD_BLESS=1` rewrites them: read the diff before committing it). Then the same pages
//! served by a local static server and polled through the real source, listener and store.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use herald::ingest::Ingest;
use herald::listen::config::{SourceConfig, SourceKind};
use herald::listen::run::{Listener, Source};
use herald::listen::{page, Mention, Parsed};

use crate::helpers::{repo, Workspace};

fn dir() -> std::path::PathBuf {
    repo().join("tests/fixtures/pages")
}

fn page_html(name: &str) -> String {
    std::fs::read_to_string(dir().join(format!("{name}.html"))).expect("saved page")
}

/// The sources of `tests/fixtures/pages/herald.toml`, loaded as `herald run` loads them.
fn sources() -> Vec<SourceConfig> {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &std::fs::read_to_string(dir().join("herald.toml")).expect("herald.toml"),
    );
    let config = herald::config::load(&ws.path().join("herald.toml"), true)
        .unwrap_or_else(|e| panic!("tests/fixtures/pages/herald.toml: {e:?}"));
    assert_eq!(config.herald.timezone, chrono_tz::Asia::Shanghai);
    config.herald.sources
}

fn source(name: &str) -> SourceConfig {
    sources()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no source {name} in tests/fixtures/pages/herald.toml"))
}

/// Each saved page, the source that reads it, and the query string it was fetched with.
const PAGES: [(&str, &str, &str); 7] = [
    ("spirit-thread-1", "spirit-thread", ""),
    ("spirit-thread-2", "spirit-thread", "?page=2"),
    ("spirit-category", "spirit-category", ""),
    ("spirit-search", "spirit-search", ""),
    ("machina-thread-1", "machina-thread", ""),
    ("machina-thread-2", "machina-thread", "?page=2"),
    ("machina-search", "machina-search", ""),
];

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T04:50:00Z")
        .expect("t")
        .with_timezone(&Utc)
}

/// Parses a saved page as its source would, at the URL it was fetched from.
fn parse_saved(file: &str) -> Parsed {
    let (_, name, query) = PAGES
        .iter()
        .find(|(f, _, _)| *f == file)
        .expect("a saved page");
    let cfg = source(name);
    let SourceKind::Page {
        url,
        selectors,
        timezone,
    } = cfg.kind
    else {
        panic!("{name} is not a page source");
    };
    let url = if query.is_empty() {
        url
    } else {
        url.join(query).expect("url")
    };
    let tz: Tz = timezone.unwrap_or(chrono_tz::Asia::Shanghai);
    page::parse(name, &url, &page_html(file), &selectors, tz, fetched_at())
}

/// Compares parsed mentions (as JSON Lines, plus the skipped count) with the golden file.
fn golden(name: &str, parsed: &Parsed) {
    let mut text: String = parsed
        .mentions
        .iter()
        .map(|m| serde_json::to_string(m).expect("json") + "\n")
        .collect();
    text.push_str(&format!("# skipped: {}\n", parsed.skipped.len()));
    let path = dir().join(format!("{name}.golden.jsonl"));
    if std::env::var_os("HERALD_BLESS").is_some() {
        std::fs::write(&path, &text).expect("bless");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no golden {}: run with HERALD_BLESS=1", path.display()));
    assert_eq!(text, want, "{name} differs from its golden output");
}

fn authors(parsed: &Parsed) -> Vec<&str> {
    parsed.mentions.iter().map(|m| m.author.as_str()).collect()
}

fn times(parsed: &Parsed) -> Vec<String> {
    parsed
        .mentions
        .iter()
        .map(|m| m.created_at.to_rfc3339())
        .collect()
}

fn by<'a>(parsed: &'a Parsed, author: &str) -> &'a Mention {
    parsed
        .mentions
        .iter()
        .find(|m| m.author == author)
        .unwrap_or_else(|| panic!("no mention by {author}"))
}

#[test]
fn every_saved_page_matches_its_golden_output() {
    for (file, _, _) in PAGES {
        let parsed = parse_saved(file);
        assert!(!parsed.mentions.is_empty(), "{file}: no mention");
        golden(file, &parsed);
        let ids: BTreeSet<&str> = parsed.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), parsed.mentions.len(), "{file}: ids not unique");
        for m in &parsed.mentions {
            let url = m.url.as_deref().unwrap_or_default();
            assert!(url.starts_with("http://127.0.0.1:874"), "{file}: {url:?}");
            assert!(m.created_at != fetched_at(), "{file}: a time was not read");
            assert!(
                !m.text.contains("&amp;") && !m.text.contains("&lt;"),
                "{file}"
            );
        }
    }
}

#[test]
fn spirit_thread_pages() {
    let one = parse_saved("spirit-thread-1");
    assert_eq!(
        authors(&one),
        [
            "老王开奇骏",
            "Mike Chen",
            "小鹿爱开车",
            "锦程东风日产客服",
            "奇骏e粉"
        ]
    );
    // The title attribute, in China's time; the text beside it is relative ("20 十一月").
    assert_eq!(
        times(&one),
        [
            "2026-11-20T13:05:00+00:00",
            "2026-11-20T14:17:00+00:00",
            "2026-11-21T01:30:00+00:00",
            "2026-11-21T02:12:00+00:00",
            "2026-11-21T04:40:00+00:00",
        ]
    );
    let first = &one.mentions[0].text;
    // <strong> runs on; the list items are words; escaped markup is text, entities decoded.
    assert!(
        first.contains("车几乎没有减速，刹车失灵了两三秒"),
        "{first}"
    );
    assert!(
        first.contains(" 有没有人遇到过同样的情况？ 能量回收"),
        "{first}"
    );
    assert!(first.ends_with("写的是 <b>无异常</b> & “客户操作不当”，这我不能接受。"));
    // The dealer's reply quotes the whole first post: only the reply is its text.
    let dealer = by(&one, "锦程东风日产客服");
    assert!(dealer.text.starts_with("老王您好"), "{}", dealer.text);
    assert!(!dealer.text.contains("绕城高速"), "{}", dealer.text);
    assert_eq!(
        dealer.url.as_deref(),
        Some("http://127.0.0.1:8741/comment/4/find/")
    );
    assert!(by(&one, "小鹿爱开车").text.contains("🙋"));

    // Page 2: an edited comment (its edit count sits beside the date), a removed one (not an
    // item), and the owner's update with a mention.
    let two = parse_saved("spirit-thread-2");
    assert_eq!(authors(&two), ["Mike Chen", "老王开奇骏"]);
    assert_eq!(
        times(&two),
        ["2026-11-21T05:05:00+00:00", "2026-11-22T11:48:00+00:00"]
    );
    assert!(two.mentions[0]
        .text
        .starts_with("@小鹿爱开车 ask for the trade-in bonus & the free 5-year warranty"));
    assert!(two.mentions[0]
        .text
        .contains("try a hard stop from 100 km/h"));
    assert!(!two.mentions.iter().any(|m| m.text.contains("car888")));
}

#[test]
fn spirit_topic_list_and_search_agree_once_the_search_is_read_in_utc() {
    let list = parse_saved("spirit-category");
    let search = parse_saved("spirit-search");
    assert_eq!(list.mentions.len(), 2);
    assert_eq!(search.mentions.len(), 2);
    for m in &search.mentions {
        let same = list
            .mentions
            .iter()
            .find(|l| l.url == m.url)
            .expect("the topic is in the list");
        assert_eq!(same.text, m.text);
        // 19:48 in the list, 11:48 in the search: one instant.
        assert_eq!(same.created_at, m.created_at, "{}", m.text);
    }
    assert_eq!(
        list.mentions[0].text,
        "新奇骏 X-Trail e-POWER 高速上刹车失灵，4S店说正常？"
    );
    assert_eq!(list.mentions[0].author, "unknown");
}

#[test]
fn machina_thread_pages() {
    let one = parse_saved("machina-thread-1");
    assert_eq!(
        authors(&one),
        [
            "Mike_Chen",
            "老王开奇骏",
            "guest_li",
            "JinchengNissan",
            "ePOWER_fan"
        ]
    );
    // "Nov. 20, 2026, 9:05 p.m." and the like, in China's time.
    assert_eq!(
        times(&one),
        [
            "2026-11-20T13:05:00+00:00",
            "2026-11-20T14:17:00+00:00",
            "2026-11-21T01:30:00+00:00",
            "2026-11-21T02:12:00+00:00",
            "2026-11-21T04:40:00+00:00",
        ]
    );
    let first = &one.mentions[0].text;
    // machina's Markdown drops raw HTML and says so; the text is what the page shows.
    assert!(
        first.ends_with(
            "says [HTML_REMOVED]no issue found[HTML_REMOVED] & \"driver error\". Not OK."
        ),
        "{first}"
    );
    assert!(first.contains("call it 刹车失灵"));
    let dealer = by(&one, "JinchengNissan");
    assert!(
        dealer.text.starts_with("Mr. Chen, we are sorry"),
        "{}",
        dealer.text
    );
    assert!(!dealer.text.contains("scanner"), "the quote is left out");
    assert!(
        !dealer.text.contains("hotline"),
        "the signature is left out"
    );
    assert!(
        !by(&one, "ePOWER_fan").text.contains("两万公里"),
        "signature"
    );
    assert_eq!(
        one.mentions[2].url.as_deref(),
        Some("http://127.0.0.1:8742/forum/forum/x-trail-e-power-1/topic/brake-pedal-went-soft-on-the-highway-x-trail-e-power-1/?post=3#3")
    );

    let two = parse_saved("machina-thread-2");
    assert_eq!(authors(&two), ["Mike_Chen", "Mike_Chen"]);
    // The post's time, not the time of its edit (1:20 p.m.) printed below it.
    assert_eq!(
        times(&two),
        ["2026-11-21T05:05:00+00:00", "2026-11-22T11:48:00+00:00"]
    );
    assert!(!two.mentions[0].text.contains("Reason"));
}

#[test]
fn machina_search_rows_share_their_thread_link_but_not_their_ids() {
    let found = parse_saved("machina-search");
    assert_eq!(found.mentions.len(), 7);
    assert_eq!(found.skipped.len(), 0);
    let urls: BTreeSet<_> = found.mentions.iter().map(|m| m.url.clone()).collect();
    assert_eq!(urls.len(), 1, "every row links to the thread");
    assert_eq!(
        found
            .mentions
            .iter()
            .filter(|m| m.author == "unknown")
            .count(),
        1,
        "the guest"
    );
    let fan = by(&found, "ePOWER_fan");
    assert_eq!(fan.created_at.to_rfc3339(), "2026-11-21T04:40:00+00:00");
    assert!(fan.text.contains("no brake issue at all"), "{}", fan.text);
}

/// A static file server on 127.0.0.1 for the saved pages: `/NAME` serves `NAME.html`, with an
/// `ETag` (answering a matching `If-None-Match` with 304) unless `etag` is false. Records the
/// status of every answer.
async fn static_server(etag: bool) -> (String, Arc<Mutex<Vec<(String, u16)>>>) {
    use axum::extract::{Path, State};
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    type Log = Arc<Mutex<Vec<(String, u16)>>>;
    async fn serve(
        State((etag, log)): State<(bool, Log)>,
        Path(name): Path<String>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let answer = |status: StatusCode| {
            log.lock()
                .expect("log")
                .push((name.clone(), status.as_u16()));
        };
        let Ok(body) = std::fs::read(dir().join(format!("{name}.html"))) else {
            answer(StatusCode::NOT_FOUND);
            return StatusCode::NOT_FOUND.into_response();
        };
        let tag = format!("\"{:016x}\"", herald::fnv1a(&body));
        if etag
            && headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == tag.as_bytes())
        {
            answer(StatusCode::NOT_MODIFIED);
            return StatusCode::NOT_MODIFIED.into_response();
        }
        answer(StatusCode::OK);
        let mut response =
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        if etag {
            response
                .headers_mut()
                .insert(header::ETAG, tag.parse().expect("etag"));
        }
        response
    }

    let log: Log = Arc::default();
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(serve))
        .with_state((etag, log.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

/// Every saved page polled twice through its configured source from a local server: the first
/// poll stores what the golden output lists, the second stores nothing, whether the server
/// answers 304 to the stored `ETag` or serves the page again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_twice_from_a_local_server_each_page_is_stored_once() {
    let configs = sources();
    let groups = herald::classify::keywords::load_dir(&repo().join("keywords")).expect("keywords");
    let classifier = Arc::new(herald::classify::Classifier::new(&groups).expect("classifier"));
    for etag in [true, false] {
        let (base, log) = static_server(etag).await;
        for (file, name, _) in PAGES {
            let mut cfg = configs
                .iter()
                .find(|s| s.name == name)
                .expect("source")
                .clone();
            let SourceKind::Page { url, .. } = &mut cfg.kind else {
                panic!("{name} is not a page source");
            };
            *url = format!("{base}/{file}").parse().expect("url");
            let source = Source::from_config(&cfg, chrono_tz::Asia::Shanghai).expect("source");
            let db = crate::helpers::TestDb::new();
            let store = db.open();
            let ingest = Ingest::new(store.clone(), classifier.clone());
            let listener = Listener::new(store.clone(), Arc::new(ingest));
            let want = parse_saved(file).mentions.len();
            assert_eq!(
                listener.poll_once(name, &source).await,
                Ok(want),
                "{file}: first poll"
            );
            let cursor = store
                .meta()
                .cursor(name)
                .expect("cursor")
                .expect("a cursor");
            assert_eq!(cursor.contains("\"etag\":\"\\\""), etag, "{file}: {cursor}");
            assert_eq!(
                listener.poll_once(name, &source).await,
                Ok(0),
                "{file}: second poll"
            );
            let stats = listener.stats(name);
            assert_eq!(
                (stats.polls, stats.failures, stats.new),
                (2, 0, want as u64)
            );
            // What reached the ingest stage: with an ETag the second poll read nothing (a 304);
            // without one it read the page again and only the store kept it from counting twice.
            let read = if etag { want } else { 2 * want };
            assert_eq!(stats.read, read as u64, "{file}: mentions read");
            let stored = store
                .mentions()
                .list(&herald::store::MentionQuery {
                    limit: 100,
                    ..Default::default()
                })
                .expect("mentions");
            assert_eq!(stored.len(), want, "{file}");
        }
        let statuses: Vec<u16> = log.lock().expect("log").iter().map(|(_, s)| *s).collect();
        let expected: Vec<u16> = PAGES
            .iter()
            .flat_map(|_| [200, if etag { 304 } else { 200 }])
            .collect();
        assert_eq!(statuses, expected, "etag {etag}");
    }
}

#[test]
fn the_documented_sources_example_passes_herald_check() {
    let doc = std::fs::read_to_string(repo().join("docs/listening.md")).expect("docs/listening.md");
    let section = doc
        .split("## Listening and classification")
        .nth(1)
        .expect("docs/listening.md has a listening section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml example");
    assert!(example.contains("kind = \"page\""), "{example}");
    let ws = Workspace::new();
    ws.write("herald.toml", example);
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}
