//! What a keyword source costs herald itself per poll, apart from the network: reading search
//! answers into mentions, and carrying the Bluesky cursor (its look-back memory of up to 2,000
//! posts is loaded, consulted, pruned and written back to the store on every poll).
//!
//! `cargo bench --bench listen` times, each as the best of five passes:
//!
//! - `bluesky page`: one `searchPosts` answer of 100 new posts read against a full cursor;
//! - `bluesky catch-up`: a poll's worth of ten such pages, plus loading and saving the cursor;
//! - `mastodon page`: one tag-timeline answer of 40 statuses (HTML content) read into mentions.
//!
//! A plain harness: the figures wanted are per poll, to compare with a poll interval of seconds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use herald::listen::search::{read_bluesky_page, read_mastodon_page, BlueskyCursor};
use herald::listen::Parsed;
use serde_json::{json, Value};

fn best<F: FnMut()>(mut f: F) -> Duration {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn bluesky_page(start: DateTime<Utc>, first: usize) -> Value {
    let posts: Vec<Value> = (0..100)
        .map(|i| {
            let n = first + i;
            let at = (start - TimeDelta::seconds(i as i64)).to_rfc3339();
            json!({
                "uri": format!("at://did:plc:author{}/app.bsky.feed.post/3k{n:011}", n % 97),
                "cid": "bafyreiequ3zz4o7ood6xd2toevphbphyktgksrfd4dyqwx7za2vkhbcgyu",
                "author": { "did": format!("did:plc:author{}", n % 97), "handle": format!("user{}.bsky.social", n % 97) },
                "record": { "$type": "app.bsky.feed.post", "text": format!("新车奇骏试驾体验 {n}，刹车有点软，4S店说正常？ X-Trail e-POWER"), "createdAt": at, "langs": ["zh"] },
                "indexedAt": at,
            })
        })
        .collect();
    json!({ "posts": posts, "cursor": "next" })
}

fn main() {
    let now = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    // A cursor as a busy query leaves it: 2,000 posts remembered in the window.
    let mut full = BlueskyCursor::default();
    full.queries.insert("奇骏".into(), now);
    for i in 0..2_000 {
        full.seen.insert(
            format!("at://did:plc:old/app.bsky.feed.post/{i:013}"),
            now - TimeDelta::milliseconds(i * 400),
        );
    }
    let stored = serde_json::to_string(&full).unwrap_or_default();
    let pages: Vec<Value> = (0..10)
        .map(|p| {
            bluesky_page(
                now + TimeDelta::minutes(10) - TimeDelta::seconds(100 * p),
                100 * p as usize,
            )
        })
        .collect();

    let page = best(|| {
        let mut c = full.clone();
        let mut out = Parsed::default();
        black_box(read_bluesky_page("奇骏", &pages[0], &mut c, &mut out));
        black_box(out);
    });
    let catch_up = best(|| {
        let mut c = BlueskyCursor::load(Some(&stored));
        let mut out = Parsed::default();
        for p in &pages {
            read_bluesky_page("奇骏", p, &mut c, &mut out);
        }
        c.prune();
        black_box(serde_json::to_string(&c).unwrap_or_default());
        black_box(out);
    });

    let base = url::Url::parse("https://social.example/").unwrap_or_else(|_| std::process::exit(1));
    let statuses: Value = (0..40)
        .map(|i| json!({
            "id": format!("1134{i:014}"),
            "created_at": "2026-11-22T11:59:00.000Z",
            "content": format!("<p>新车 <a href=\"https://social.example/tags/xtrail\" class=\"mention hashtag\" rel=\"tag\">#<span>xtrail</span></a> 刹车异响 {i}，有人遇到吗？<br>4S店说正常 &amp; 不给修</p>"),
            "url": format!("https://social.example/@alice/1134{i:014}"),
            "language": "zh",
            "account": { "acct": "alice", "followers_count": 12 },
        }))
        .collect();
    let mastodon = best(|| {
        let mut out = Parsed::default();
        black_box(read_mastodon_page(
            &base, "#xtrail", &statuses, None, &mut out,
        ));
        black_box(out);
    });

    println!(
        "cursor: {} posts remembered, {} bytes stored",
        full.seen.len(),
        stored.len()
    );
    println!(
        "bluesky page (100 posts):       {:>9.1} µs",
        page.as_secs_f64() * 1e6
    );
    println!(
        "bluesky catch-up (10 pages):    {:>9.1} µs",
        catch_up.as_secs_f64() * 1e6
    );
    println!(
        "mastodon page (40 statuses):    {:>9.1} µs",
        mastodon.as_secs_f64() * 1e6
    );
}
