//! What a keyword source costs herald itself per poll, apart from the network: reading search
//! answers into mentions, and carrying the Bluesky cursor (its look-back memory of up to 2,000
//! posts is loaded, consulted, pruned and written back to the store on every poll).
//!
//! `cargo bench --bench listen` times, each as the best of five passes:
//!
//! - `bluesky page`: one `searchPosts` answer of 100 new posts read against a full cursor;
//! - `bluesky catch-up`: a poll's worth of ten such pages, plus loading and saving the cursor;
//! - `mastodon page`: one tag-timeline answer of 40 statuses (HTML content) read into mentions;
//! - `firehose`: 20,000 `subscribeRepos` commit frames (DAG-CBOR header and body, a CAR slice
//!   with the commit, two tree nodes and the post record, about 1 KB each, as the network's
//!   are), each decoded and its post's text matched against a query, as a firehose source
//!   does between the socket and the store: events a second, against the whole network's
//!   firehose of about 2,000.
//!
//! A plain harness: the figures wanted are per poll, to compare with a poll interval of seconds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use herald::listen::search::{read_bluesky_page, read_mastodon_page, BlueskyCursor};
use herald::listen::Parsed;
use serde_json::{json, Value};

use ciborium::Value as Cbor;

fn cbor(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    if ciborium::into_writer(v, &mut out).is_err() {
        std::process::exit(1);
    }
    out
}

fn cbor_map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Cbor::Text(k.into()), v))
            .collect(),
    )
}

fn varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A commit frame as the network sends one: a post created, its record block beside the
/// commit block and two tree nodes (filler of their usual size) in the CAR slice.
fn commit_frame(i: usize) -> Vec<u8> {
    let cid = |n: usize| {
        let mut c = vec![0x01, 0x71, 0x12, 0x20];
        c.extend((0..32).map(|k| (n * 31 + k) as u8));
        c
    };
    let text = if i % 50 == 0 {
        format!("新买的奇骏刹车有异响，4S店说正常，有人遇到过吗？ {i}")
    } else {
        format!("Lovely morning walk by the river, the light was perfect today. Post number {i}")
    };
    let record = cbor(&cbor_map(vec![
        ("$type", Cbor::Text("app.bsky.feed.post".into())),
        ("text", Cbor::Text(text)),
        ("createdAt", Cbor::Text("2026-12-02T10:00:00.000Z".into())),
        ("langs", Cbor::Array(vec![Cbor::Text("en".into())])),
    ]));
    let blocks: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (cid(1), vec![0xA0; 180]),
        (cid(2), vec![0xA0; 260]),
        (cid(3), vec![0xA0; 220]),
        (cid(4), record),
    ];
    let header = cbor(&cbor_map(vec![("version", Cbor::Integer(1.into()))]));
    let mut car = Vec::new();
    varint(&mut car, header.len());
    car.extend(header);
    for (c, data) in &blocks {
        varint(&mut car, c.len() + data.len());
        car.extend(c);
        car.extend(data);
    }
    let mut link = vec![0];
    link.extend(cid(4));
    let body = cbor_map(vec![
        ("seq", Cbor::Integer((i as i64 + 1).into())),
        ("repo", Cbor::Text(format!("did:plc:author{:020}", i % 997))),
        ("rev", Cbor::Text("3kabcdefghijk".into())),
        (
            "ops",
            Cbor::Array(vec![cbor_map(vec![
                ("action", Cbor::Text("create".into())),
                ("path", Cbor::Text(format!("app.bsky.feed.post/3k{i:011}"))),
                ("cid", Cbor::Tag(42, Box::new(Cbor::Bytes(link)))),
            ])]),
        ),
        ("blocks", Cbor::Bytes(car)),
        ("time", Cbor::Text("2026-12-02T10:00:00.123Z".into())),
    ]);
    let mut frame = cbor(&cbor_map(vec![
        ("op", Cbor::Integer(1.into())),
        ("t", Cbor::Text("#commit".into())),
    ]));
    frame.extend(cbor(&body));
    frame
}

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

    let frames: Vec<Vec<u8>> = (0..20_000).map(commit_frame).collect();
    let frame_bytes: usize = frames.iter().map(Vec::len).sum();
    let query = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(["奇骏"])
        .unwrap_or_else(|_| std::process::exit(1));
    let mut matched = 0;
    let firehose = best(|| {
        matched = 0;
        for f in &frames {
            if let Ok(herald::listen::firehose::Frame::Commit { posts, .. }) =
                herald::listen::firehose::decode_frame(black_box(f))
            {
                matched += posts
                    .iter()
                    .filter(|(_, p)| query.is_match(&p.text))
                    .count();
            }
        }
    });
    if matched != 400 {
        eprintln!("error: {matched} of 20,000 frames matched, 400 expected");
        std::process::exit(1);
    }

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
    println!(
        "firehose (20,000 commit frames, {:.0} bytes each): {:.1} ms, {:.0} events/s",
        frame_bytes as f64 / frames.len() as f64,
        firehose.as_secs_f64() * 1e3,
        frames.len() as f64 / firehose.as_secs_f64()
    );
}
