//! Posts with pictures against the real peers: two pictures with alt text on the Bluesky PDS
//! and on mastodon-mock, Mastodon's processing (206) waited through and its failure (422)
//! failing the post, an over-size picture re-encoded under Bluesky's limit, recorded uploads
//! reused on a retry and across a SIGKILL of the `herald` binary between upload and post, and
//! the outbox naming the pictures (a missing file failing the post).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use herald::clock::system_clock;
use herald::domain::{Focus, PostMedia};
use herald::publish::bluesky::Bluesky;
use herald::publish::mastodon::Mastodon;
use herald::publish::outbox::Outbox;
use herald::publish::worker::{Outcome, Publisher};
use herald::publish::{Channel, PublishSettings};
use herald::store::{PostState, Store, StoredPost};
use serde_json::{json, Value};

use crate::helpers::{stored_post, Workspace};
use crate::peers::peers;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A PNG of `w`×`h` pixels, a gradient tinted by `tint`.
fn png(path: &Path, w: u32, h: u32, tint: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, tint])
    });
    img.save(path).expect("write png");
}

/// A PNG of random noise, which compresses so badly it is over 2,000,000 bytes.
fn noisy_png(path: &Path) {
    let mut rng = fastrand::Rng::with_seed(18);
    let img = image::RgbImage::from_fn(1000, 800, |_, _| {
        image::Rgb([rng.u8(..), rng.u8(..), rng.u8(..)])
    });
    img.save(path).expect("write png");
}

/// A media folder and a cache folder with two pictures: `a.png` 64×48 and `b/c.png` 30×40.
struct Pictures {
    dir: tempfile::TempDir,
}

impl Pictures {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("media/b")).expect("mkdir");
        png(&dir.path().join("media/a.png"), 64, 48, 10);
        png(&dir.path().join("media/b/c.png"), 30, 40, 200);
        Self { dir }
    }

    fn media(&self) -> std::path::PathBuf {
        self.dir.path().join("media")
    }

    fn cache(&self) -> std::path::PathBuf {
        self.dir.path().join("media-cache")
    }
}

fn two_pictures(nonce: &str) -> Vec<PostMedia> {
    vec![
        PostMedia {
            file: "a.png".into(),
            alt: format!("奇骏在雪地里 {nonce}"),
            focus: Some(Focus { x: 0.0, y: 0.3 }),
        },
        PostMedia {
            file: "b/c.png".into(),
            alt: format!("The dealer's workshop {nonce}"),
            focus: None,
        },
    ]
}

fn publisher(store: &Store, name: &str, channel: Channel, pictures: &Pictures) -> Publisher {
    let mut channels = BTreeMap::new();
    channels.insert(name.to_string(), channel);
    let settings = PublishSettings {
        backoff: Duration::from_secs(1),
        ..PublishSettings::default()
    };
    Publisher::new(store.clone(), channels, settings, system_clock())
        .with_media(pictures.media(), pictures.cache())
}

fn nonce() -> String {
    format!("{:x}", fastrand::u64(..))
}

/// A post due now on `channel` with `media`, put in `store`.
fn put(store: &Store, channel: &str, text: &str, media: Vec<PostMedia>) -> StoredPost {
    let mut post = stored_post(channel, text, Utc::now() - TimeDelta::seconds(5));
    post.media = media;
    store.posts().put(&post).expect("put");
    post
}

fn get(store: &Store, p: &StoredPost) -> StoredPost {
    store
        .posts()
        .get(&p.channel, p.at)
        .expect("get")
        .expect("post")
}

fn bluesky() -> Channel {
    Channel::Bluesky(Bluesky::new(
        http(),
        peers().pds.parse().expect("url"),
        "brand.test".into(),
        "brand-pass".into(),
    ))
}

fn mastodon(wait: Duration) -> Channel {
    Channel::Mastodon(
        Mastodon::new(
            http(),
            peers().mastodon.parse().expect("url"),
            "brand-token".into(),
        )
        .with_media_wait(wait),
    )
}

/// The ids and descriptions of a status's media attachments.
async fn attachments(status_id: &str) -> Vec<(String, Option<String>)> {
    let status = peers().mastodon_status("brand-token", status_id).await;
    status["media_attachments"]
        .as_array()
        .expect("media_attachments")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().expect("id").to_string(),
                m["description"].as_str().map(str::to_string),
            )
        })
        .collect()
}

async fn statuses_with(needle: &str) -> Vec<Value> {
    peers()
        .mastodon_statuses("brand-token")
        .await
        .into_iter()
        .filter(|s| s["content"].as_str().is_some_and(|c| c.contains(needle)))
        .collect()
}

#[tokio::test]
async fn two_pictures_reach_bluesky_with_alt_and_aspect_ratio() {
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    let post = put(&store, "sky", &format!("雪地试驾 {n}"), two_pictures(&n));
    let publisher = publisher(&store, "sky", bluesky(), &pictures);
    let Outcome::Published(sent) = publisher.execute(post.clone()).await.expect("execute") else {
        panic!("not published: {:?}", get(&store, &post).delivery);
    };
    let got = get(&store, &post);
    assert_eq!(got.state, PostState::Published);
    assert_eq!(got.delivery.uploads.len(), 2, "both uploads recorded");
    let record = peers().bsky_record(&sent.remote_id).await;
    let embed = &record["value"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    let images = embed["images"].as_array().expect("images");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["alt"], format!("奇骏在雪地里 {n}"));
    assert_eq!(images[1]["alt"], format!("The dealer's workshop {n}"));
    assert_eq!(
        images[0]["aspectRatio"],
        json!({ "width": 64, "height": 48 })
    );
    assert_eq!(
        images[1]["aspectRatio"],
        json!({ "width": 30, "height": 40 })
    );
    for (image, upload) in images.iter().zip(&got.delivery.uploads) {
        assert_eq!(image["image"]["ref"]["$link"], upload.id.as_str());
        assert_eq!(image["image"]["mimeType"], "image/png");
    }
    // Nothing was re-encoded: both fit.
    assert!(
        !pictures.cache().exists() || std::fs::read_dir(pictures.cache()).expect("ls").count() == 0
    );
}

#[tokio::test]
async fn a_link_post_without_pictures_gets_a_card_on_bluesky_and_a_reply_keeps_its_thread() {
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    let mut post = stored_post(
        "sky",
        &format!("保养小贴士 {n}\nhttps://dealer.example/care?utm_source=herald"),
        Utc::now() - TimeDelta::seconds(5),
    );
    post.title = Some("Winter care".into());
    store.posts().put(&post).expect("put");
    let publisher = publisher(&store, "sky", bluesky(), &pictures);
    let Outcome::Published(sent) = publisher.execute(post.clone()).await.expect("execute") else {
        panic!("not published: {:?}", get(&store, &post).delivery);
    };
    let record = peers().bsky_record(&sent.remote_id).await;
    assert_eq!(
        record["value"]["embed"],
        json!({
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": "https://dealer.example/care?utm_source=herald",
                "title": "Winter care",
                "description": format!("保养小贴士 {n}"),
            }
        })
    );
    // A reply with a picture keeps its thread beside the embed.
    let parent = herald::publish::StrongRef {
        uri: sent.remote_id.clone(),
        cid: sent.cid.clone().expect("cid"),
    };
    let mut reply = put(
        &store,
        "sky",
        &format!("回复 {n}"),
        vec![two_pictures(&n).remove(1)],
    );
    reply.at += TimeDelta::seconds(1);
    reply.reply = Some(herald::publish::ReplyTo::Bluesky {
        root: parent.clone(),
        parent,
    });
    store.posts().put(&reply).expect("put");
    let Outcome::Published(answered) = publisher.execute(reply.clone()).await.expect("execute")
    else {
        panic!("reply not published: {:?}", get(&store, &reply).delivery);
    };
    let record = peers().bsky_record(&answered.remote_id).await;
    assert_eq!(record["value"]["reply"]["parent"]["uri"], sent.remote_id);
    assert_eq!(
        record["value"]["embed"]["images"][0]["alt"],
        format!("The dealer's workshop {n}")
    );
}

#[tokio::test]
async fn an_oversize_picture_is_reencoded_under_2_000_000_bytes_and_accepted() {
    let pictures = Pictures::new();
    noisy_png(&pictures.media().join("noise.png"));
    let original = std::fs::metadata(pictures.media().join("noise.png"))
        .expect("stat")
        .len();
    assert!(original > 2_000_000, "the test picture is {original} bytes");
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    let media = vec![PostMedia {
        file: "noise.png".into(),
        alt: "Static on an old television".into(),
        focus: None,
    }];
    let post = put(&store, "sky", &format!("噪点 {n}"), media);
    let publisher = publisher(&store, "sky", bluesky(), &pictures);
    let started = Instant::now();
    let Outcome::Published(sent) = publisher.execute(post.clone()).await.expect("execute") else {
        panic!("not published: {:?}", get(&store, &post).delivery);
    };
    let took = started.elapsed();
    let record = peers().bsky_record(&sent.remote_id).await;
    let blob = &record["value"]["embed"]["images"][0]["image"];
    let size = blob["size"].as_u64().expect("size");
    assert!(size <= 2_000_000, "{size}");
    assert_eq!(blob["mimeType"], "image/jpeg");
    let cached: Vec<_> = std::fs::read_dir(pictures.cache())
        .expect("cache")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(std::fs::metadata(&cached[0]).expect("stat").len(), size);
    let ratio = &record["value"]["embed"]["images"][0]["aspectRatio"];
    assert_eq!(
        ratio["width"].as_u64().expect("w") * 800,
        ratio["height"].as_u64().expect("h") * 1000,
        "aspect ratio kept: {ratio}"
    );
    eprintln!("over-size picture: {original} → {size} bytes, published in {took:?}");
}

#[tokio::test]
async fn two_pictures_reach_mastodon_with_their_descriptions() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    peers().mastodon_clear_faults().await;
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    let post = put(
        &store,
        "masto",
        &format!("雪地试驾 masto {n}"),
        two_pictures(&n),
    );
    let publisher = publisher(
        &store,
        "masto",
        mastodon(Duration::from_secs(60)),
        &pictures,
    );
    let Outcome::Published(sent) = publisher.execute(post.clone()).await.expect("execute") else {
        panic!("not published: {:?}", get(&store, &post).delivery);
    };
    let got = get(&store, &post);
    let recorded: Vec<String> = got.delivery.uploads.iter().map(|u| u.id.clone()).collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        attachments(&sent.remote_id).await,
        vec![
            (recorded[0].clone(), Some(format!("奇骏在雪地里 {n}"))),
            (
                recorded[1].clone(),
                Some(format!("The dealer's workshop {n}"))
            ),
        ]
    );
    assert_eq!(statuses_with(&n).await.len(), 1);
}

#[tokio::test]
async fn mastodon_processing_is_waited_through_and_a_processing_failure_fails_the_post() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    p.mastodon_clear_faults().await;
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    let publisher = publisher(
        &store,
        "masto",
        mastodon(Duration::from_secs(60)),
        &pictures,
    );

    // Still processing twice (206), then ready.
    p.mastodon_fault(
        "GET",
        "/api/v1/media/*",
        json!({ "type": "status", "status": 206, "body": { "id": "0", "url": null } }),
        2,
    )
    .await;
    let post = put(&store, "masto", &format!("处理中 {n}"), two_pictures(&n));
    let started = Instant::now();
    let outcome = publisher.execute(post.clone()).await.expect("execute");
    let waited = started.elapsed();
    let Outcome::Published(sent) = outcome else {
        panic!("not published: {outcome:?}");
    };
    assert!(waited >= Duration::from_millis(1500), "waited {waited:?}");
    assert_eq!(attachments(&sent.remote_id).await.len(), 2);

    // Processing failed (422): the post fails with the instance's message, without a status.
    p.mastodon_fault(
        "GET",
        "/api/v1/media/*",
        json!({ "type": "status", "status": 422, "body": { "error": "Could not process the image" } }),
        1,
    )
    .await;
    let mut broken = put(&store, "masto", &format!("坏图 {n}"), two_pictures(&n));
    broken.at += TimeDelta::seconds(1);
    store.posts().put(&broken).expect("put");
    let outcome = publisher.execute(broken.clone()).await.expect("execute");
    let Outcome::Failed(why) = outcome else {
        panic!("not failed: {outcome:?}");
    };
    assert!(why.contains("Could not process the image"), "{why}");
    assert_eq!(get(&store, &broken).state, PostState::Failed);
    assert!(statuses_with(&format!("坏图 {n}")).await.is_empty());
    p.mastodon_clear_faults().await;
}

#[tokio::test]
async fn media_still_processing_after_the_bound_is_retried_with_the_same_media() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    p.mastodon_clear_faults().await;
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let n = nonce();
    // A 2 s bound: three 206 answers (0.5 s + 1 s of pauses, then the next pause is over it).
    let publisher = publisher(&store, "masto", mastodon(Duration::from_secs(2)), &pictures);
    p.mastodon_fault(
        "GET",
        "/api/v1/media/*",
        json!({ "type": "status", "status": 206, "body": { "id": "0", "url": null } }),
        3,
    )
    .await;
    let post = put(&store, "masto", &format!("慢处理 {n}"), two_pictures(&n));
    let outcome = publisher.execute(post.clone()).await.expect("execute");
    let Outcome::Retrying { error, .. } = outcome else {
        panic!("not retrying: {outcome:?}");
    };
    assert!(error.contains("still processing"), "{error}");
    let first = get(&store, &post).delivery.uploads;
    assert_eq!(first.len(), 2, "the uploads stay recorded");
    assert!(statuses_with(&n).await.is_empty());
    p.mastodon_clear_faults().await;
    // The retry (taken up now, without waiting for the backoff) reuses both media ids.
    let again = get(&store, &post);
    let Outcome::Published(sent) = publisher.execute(again).await.expect("execute") else {
        panic!("not published: {:?}", get(&store, &post).delivery);
    };
    let ids: Vec<String> = attachments(&sent.remote_id)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, first.iter().map(|u| u.id.clone()).collect::<Vec<_>>());
    assert_eq!(
        get(&store, &post).delivery.uploads,
        first,
        "no second upload"
    );
}

#[tokio::test]
async fn the_outbox_names_the_pictures_and_a_missing_file_fails_the_post() {
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let out = pictures.dir.path().join("outbox.jsonl");
    let channel = Channel::Outbox(Outbox::new("out", out.clone()));
    let publisher = publisher(&store, "out", channel, &pictures);
    let n = nonce();
    let post = put(&store, "out", &format!("outbox {n}"), two_pictures(&n));
    let outcome = publisher.execute(post.clone()).await.expect("execute");
    assert!(matches!(outcome, Outcome::Published(_)), "{outcome:?}");
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .expect("outbox")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    assert_eq!(
        line["media"],
        json!([
            { "file": "a.png", "path": pictures.media().join("a.png"), "alt": format!("奇骏在雪地里 {n}"), "mime": "image/png", "width": 64, "height": 48 },
            { "file": "b/c.png", "path": pictures.media().join("b/c.png"), "alt": format!("The dealer's workshop {n}"), "mime": "image/png", "width": 30, "height": 40 },
        ])
    );
    assert!(
        get(&store, &post).delivery.uploads.is_empty(),
        "the outbox uploads nothing"
    );

    let mut missing = two_pictures(&n);
    missing[1].file = "gone.jpg".into();
    let mut lost = put(&store, "out", &format!("missing {n}"), missing);
    lost.at += TimeDelta::seconds(1);
    store.posts().put(&lost).expect("put");
    let outcome = publisher.execute(lost.clone()).await.expect("execute");
    let Outcome::Failed(why) = outcome else {
        panic!("not failed: {outcome:?}");
    };
    assert!(why.contains("gone.jpg"), "{why}");
    assert_eq!(get(&store, &lost).state, PostState::Failed);
    assert_eq!(
        std::fs::read_to_string(&out)
            .expect("outbox")
            .lines()
            .count(),
        1,
        "nothing written for the failed post"
    );

    let mut escape = two_pictures(&n);
    escape[0].file = "../outbox.jsonl".into();
    let mut outside = put(&store, "out", &format!("escape {n}"), escape);
    outside.at += TimeDelta::seconds(2);
    store.posts().put(&outside).expect("put");
    let outcome = publisher.execute(outside.clone()).await.expect("execute");
    assert!(
        matches!(&outcome, Outcome::Failed(why) if why.contains("not a plain path")),
        "{outcome:?}"
    );
}

/// `herald run` in `ws`, its log (info) written to `log`.
fn spawn_logged(ws: &Workspace, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("run")
        .current_dir(ws.path())
        .env("HERALD_IT_MASTO_TOKEN", "brand-token")
        .env("HERALD_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("HERALD_CONFIG")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("herald run")
}

/// The media ids herald logged as uploaded and recorded.
fn logged_uploads(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("Picture uploaded"))
        .filter_map(|l| {
            let at = l.find("upload=")? + "upload=".len();
            Some(
                l[at..]
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .next()?
                    .trim_matches('"')
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_upload_and_post_neither_uploads_nor_posts_twice() {
    let _mastodon = crate::peers::MASTODON.lock().await;
    let p = peers();
    p.mastodon_clear_faults().await;
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!(
            r#"[[channels]]
name = "masto"
kind = "mastodon"
base_url = "{}"
token_env = "HERALD_IT_MASTO_TOKEN"

[publish]
timeout_seconds = 30
backoff_seconds = 1
"#,
            p.mastodon
        ),
    );
    let media = ws.path().join("content-plan/media");
    std::fs::create_dir_all(media.join("b")).expect("mkdir");
    png(&media.join("a.png"), 64, 48, 10);
    png(&media.join("b/c.png"), 30, 40, 200);
    let n = nonce();
    let mut post = stored_post(
        "masto",
        &format!("kill between upload and post {n}"),
        Utc::now() - TimeDelta::minutes(1),
    );
    post.state = PostState::Approved;
    post.media = two_pictures(&n);
    ws.store().posts().put(&post).expect("put");

    // The status is held 20 s by the instance, so the kill lands while it is being posted.
    p.mastodon_fault(
        "POST",
        "/api/v1/statuses",
        json!({ "type": "latency", "delay_ms": 20_000 }),
        1,
    )
    .await;
    let log = ws.path().join("first.log");
    let mut child = spawn_logged(&ws, &log);
    let started = Instant::now();
    while logged_uploads(&log).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no uploads logged: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the status request time to leave, then kill herald mid-post.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let before = logged_uploads(&log);
    let got = get(&ws.store(), &post);
    assert_eq!(
        got.state,
        PostState::Sending,
        "killed mid-post: {:?}\nfirst run:\n{}",
        got.delivery,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(
        got.delivery
            .uploads
            .iter()
            .map(|u| u.id.clone())
            .collect::<Vec<_>>(),
        before,
        "both uploads recorded before the post"
    );
    p.mastodon_clear_faults().await;

    // Restarted without the fault: the post goes out once, with the uploads of the first run.
    // The first run's held request may still reach the instance after its 20 s, with the same
    // Idempotency-Key, and make the status itself; then the restarted herald, once it takes
    // the work over, finds it there instead of sending. Either way it records the post as
    // published, and that record, not the status alone, is what is waited for.
    let log2 = ws.path().join("second.log");
    let child = spawn_logged(&ws, &log2);
    let started = Instant::now();
    let published = format!("Published  channel=masto post={}", post.id());
    loop {
        if std::fs::read_to_string(&log2)
            .unwrap_or_default()
            .contains(&published)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not published after the restart: {}",
            std::fs::read_to_string(&log2).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Past the held request's 20 s before counting, in case it lands after the restart's send.
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(started.elapsed())).await;
    crate::crash::stop(child);
    let statuses = statuses_with(&n).await;
    if statuses.len() != 1 {
        // What the status herald recorded says of itself, to tell a status missing from the
        // account's list from another post's status answered for this one.
        let recorded = match get(&ws.store(), &post).delivery.remote_id {
            Some(id) => p.mastodon_status("brand-token", &id).await.to_string(),
            None => "no remote id".to_string(),
        };
        panic!(
            "{} statuses with the nonce, not 1; the recorded status: {recorded}\nfirst run:\n{}\nsecond run:\n{}",
            statuses.len(),
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(&log2).unwrap_or_default()
        );
    }
    let ids: Vec<String> = statuses[0]["media_attachments"]
        .as_array()
        .expect("media")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids, before, "the status carries the first run's uploads");
    assert!(
        logged_uploads(&log2).is_empty(),
        "nothing uploaded again: {:?}",
        logged_uploads(&log2)
    );
    let got = get(&ws.store(), &post);
    assert_eq!(
        got.state,
        PostState::Published,
        "{:?}\nsecond run:\n{}",
        got.delivery,
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
    assert_eq!(got.delivery.uploads.len(), 2);
}

#[tokio::test]
async fn the_webhook_body_names_the_pictures_and_uploads_nothing() {
    use herald::publish::webhook::Webhook;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // The receiver of a webhook is whatever the user runs; a capture server plays it.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "wx-2" })))
        .mount(&server)
        .await;
    let pictures = Pictures::new();
    let db = crate::helpers::TestDb::new();
    let store = db.open();
    let hook = Webhook::new(
        http(),
        "bridge",
        format!("{}/hook", server.uri()).parse().expect("url"),
        None,
    );
    let publisher = publisher(&store, "bridge", Channel::Webhook(hook), &pictures);
    let n = nonce();
    let post = put(&store, "bridge", &format!("微博 {n}"), two_pictures(&n));
    let outcome = publisher.execute(post.clone()).await.expect("execute");
    assert!(matches!(outcome, Outcome::Published(_)), "{outcome:?}");
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "one request: nothing uploaded");
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(
        body["media"],
        json!([
            { "file": "a.png", "path": pictures.media().join("a.png"), "alt": format!("奇骏在雪地里 {n}"), "mime": "image/png", "width": 64, "height": 48 },
            { "file": "b/c.png", "path": pictures.media().join("b/c.png"), "alt": format!("The dealer's workshop {n}"), "mime": "image/png", "width": 30, "height": 40 },
        ])
    );
    assert!(get(&store, &post).delivery.uploads.is_empty());
}
