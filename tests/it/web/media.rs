//! Pictures in the web UI, in process: thumbnails of the media library behind the login, with
//! every name that would leave the folder refused; a post's thumbnails and alt text in the
//! calendar; a picture attached in the reply editor reaching the reply post.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use axum::http::{header, StatusCode};
use chrono::TimeDelta;
use herald::domain::PostMedia;
use herald::inbox::{Priority, ReplyState};

use super::inbox::{enqueue, item};
use serde_json::json;

use super::{at, body, hidden, location, App, TOKEN, USER};

/// A picture of `w`×`h` pixels in `format` (a gradient, so it is a real image).
pub fn picture(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 120])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// The app's media folder, with `car.png` (800×500), `dealer/wide.jpg` (1000×300) and a text
/// file; `secret.png`, a real picture, lies beside the folder, where no name may reach it.
pub fn library(app: &App) -> PathBuf {
    let media = app.state.media_dir();
    std::fs::create_dir_all(media.join("dealer")).expect("mkdir");
    std::fs::write(
        media.join("car.png"),
        picture(800, 500, image::ImageFormat::Png),
    )
    .expect("write");
    std::fs::write(
        media.join("dealer/wide.jpg"),
        picture(1000, 300, image::ImageFormat::Jpeg),
    )
    .expect("write");
    std::fs::write(media.join("notes.txt"), "not a picture").expect("write");
    std::fs::write(media.join("damaged.png"), b"\x89PNG\r\n\x1a\n\0\0").expect("write");
    let outside = media.parent().expect("parent").join("secret.png");
    std::fs::write(&outside, picture(40, 40, image::ImageFormat::Png)).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, media.join("link.png")).expect("symlink");
    media
}

async fn bytes(res: axum::http::Response<axum::body::Body>) -> Vec<u8> {
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

fn header_of(res: &axum::http::Response<axum::body::Body>, name: header::HeaderName) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The data folder's thumbnail cache of the app.
fn thumbs(app: &App) -> PathBuf {
    app.state.thumb_dir()
}

fn cached(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn thumbnails_need_a_login_refuse_names_outside_the_library_and_fit_320_px() {
    let app = App::new();
    let media = library(&app);
    assert!(media.starts_with(app.ws.path()), "{media:?}");
    assert!(
        !thumbs(&app).starts_with(app.ws.path().join("content-plan")),
        "the cache is not in the content plan"
    );

    // Without a session: the login, as for every page.
    let res = app.get("/media/thumb/car.png", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/login?next="),
        "{}",
        location(&res)
    );

    let cookies = app.login().await;
    for (name, (w, h)) in [("car.png", (320, 200)), ("dealer/wide.jpg", (320, 96))] {
        let res = app.get(&format!("/media/thumb/{name}"), &cookies).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(header_of(&res, header::CONTENT_TYPE), "image/jpeg");
        assert_eq!(header_of(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(
            header_of(&res, header::CACHE_CONTROL),
            "private, max-age=3600"
        );
        assert!(header_of(&res, header::CONTENT_SECURITY_POLICY).contains("img-src 'self'"));
        let etag = header_of(&res, header::ETAG);
        let jpeg = bytes(res).await;
        assert_eq!(
            image::guess_format(&jpeg).expect("a format"),
            image::ImageFormat::Jpeg
        );
        let thumb = image::load_from_memory(&jpeg).expect("decodes");
        assert_eq!((thumb.width(), thumb.height()), (w, h), "{name}");

        // Cached by the original's content hash, and revalidated by it.
        let original = std::fs::read(media.join(name)).expect("read");
        let hash = herald::media::content_hash(&original);
        assert_eq!(etag, format!("\"{hash}\""));
        assert!(
            cached(&thumbs(&app)).contains(&format!("{hash}-320.jpg")),
            "{:?}",
            cached(&thumbs(&app))
        );
        let req = axum::http::Request::get(format!("/media/thumb/{name}"))
            .header(header::COOKIE, &cookies)
            .header(header::IF_NONE_MATCH, &etag)
            .body(axum::body::Body::empty())
            .expect("request");
        assert_eq!(app.send(req).await.status(), StatusCode::NOT_MODIFIED);
    }

    // A picture already small is not enlarged.
    std::fs::write(
        media.join("small.png"),
        picture(100, 60, image::ImageFormat::Png),
    )
    .expect("write");
    let small = bytes(app.get("/media/thumb/small.png", &cookies).await).await;
    let small = image::load_from_memory(&small).expect("decodes");
    assert_eq!((small.width(), small.height()), (100, 60));

    let before = cached(&thumbs(&app));
    for bad in [
        "../secret.png",
        "..%2Fsecret.png",
        "dealer/../../secret.png",
        "dealer/..%2F..%2Fsecret.png",
        "%2E%2E/secret.png",
        "..%5Csecret.png",
        "dealer%5C..%5C..%5Csecret.png",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "link.png",
        "missing.png",
        "notes.txt",
        "damaged.png",
        "dealer",
        "dealer/",
        "car.png%00.jpg",
        "",
    ] {
        let res = app.get(&format!("/media/thumb/{bad}"), &cookies).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad:?}");
        assert_eq!(
            header_of(&res, header::CACHE_CONTROL),
            "no-store",
            "{bad:?}"
        );
        let page = body(res).await;
        assert!(page.contains("No such page."), "{bad:?}: {page}");
    }
    assert_eq!(cached(&thumbs(&app)), before, "nothing made for a bad name");
}

#[tokio::test]
async fn the_calendar_shows_a_posts_thumbnails_with_the_alt_text_escaped() {
    let app = App::new();
    library(&app);
    let cookies = app.login().await;
    let mut p = crate::helpers::stored_post(
        "outbox",
        "雪地试驾 webmedia-cal",
        at("2026-11-23T04:00:00Z"),
    );
    p.media = vec![
        PostMedia {
            file: "car.png".into(),
            alt: "<script>alert('alt')</script> 雪地里的奇骏".into(),
            focus: None,
        },
        PostMedia {
            file: "dealer/wide.jpg".into(),
            alt: "\"><img src=x onerror=alert(1)> dealer".into(),
            focus: None,
        },
    ];
    app.store.posts().put(&p).expect("put");

    let page = body(
        app.get("/calendar?date=2026-11-23&view=day", &cookies)
            .await,
    )
    .await;
    assert!(page.contains("webmedia-cal"), "{page}");
    assert!(
        page.contains(
            "<img src=\"/media/thumb/car.png\" alt=\"&#60;script&#62;alert(&#39;alt&#39;)&#60;/script&#62; 雪地里的奇骏\""
        ),
        "{page}"
    );
    assert!(page.contains("<img src=\"/media/thumb/dealer/wide.jpg\" alt=\"&#34;&#62;&#60;img src=x onerror=alert(1)&#62; dealer\""));
    // The alt text is visible text too, escaped.
    assert!(page.contains(
        "<bdi class=\"alt\">&#60;script&#62;alert(&#39;alt&#39;)&#60;/script&#62; 雪地里的奇骏</bdi>"
    ));
    assert!(page.contains("Alt text:"));
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<img src=x"));
    assert_eq!(page.matches("<figure class=\"thumb\">").count(), 2);

    // In Chinese, as the rest of the page.
    let req = axum::http::Request::get("/calendar?date=2026-11-23&view=day")
        .header(header::COOKIE, format!("{cookies}; herald_lang=zh"))
        .body(axum::body::Body::empty())
        .expect("request");
    let page = body(app.send(req).await).await;
    assert!(page.contains("图片说明:"), "{page}");
    assert!(page.contains("雪地里的奇骏"));
}

#[tokio::test]
async fn a_reply_approved_with_a_picture_becomes_a_reply_post_carrying_it() {
    let app = App::new();
    library(&app);
    let id = enqueue(
        &app,
        &item(
            "m-webmedia-pic",
            ("mastodon", "zh", Priority::Question),
            "雪地能开吗？",
            app.now - TimeDelta::minutes(5),
        ),
    );
    let cookies = app.login().await;
    let page = body(app.get(&format!("/inbox/{id}"), &cookies).await).await;
    let csrf = hidden(&page, "csrf");
    assert!(
        page.contains("<select name=\"media_file\" id=\"media-file\">"),
        "{page}"
    );
    assert!(page.contains(
        "<option value=\"car.png\" data-thumb=\"/media/thumb/car.png\">car.png</option>"
    ));
    assert!(page.contains("<option value=\"dealer/wide.jpg\""));
    for absent in ["notes.txt", "secret.png"] {
        assert!(!page.contains(&format!("value=\"{absent}\"")), "{absent}");
    }

    let approve = |file: &str, alt: String| {
        let csrf = csrf.clone();
        let file = file.to_string();
        let cookies = cookies.clone();
        let app = &app;
        async move {
            app.post_form(
                &format!("/inbox/{id}/approve"),
                &cookies,
                &[
                    ("csrf", csrf.as_str()),
                    ("text", "可以，来店里看看 webmedia"),
                    ("media_file", file.as_str()),
                    ("media_alt", alt.as_str()),
                ],
            )
            .await
        }
    };
    // Refused, with a clear message, the editor keeping what was sent, nothing stored.
    let cases: [(&str, String, &str); 4] = [
        ("car.png", "  ".into(), "The picture needs an alt text"),
        (
            "car.png",
            "长".repeat(1501),
            "The alt text is too long: the limit is 1500 characters and it has 1501",
        ),
        (
            "../secret.png",
            "alt".into(),
            "That picture is not in the media library",
        ),
        (
            "notes.txt",
            "alt".into(),
            "That picture is not in the media library",
        ),
    ];
    for (file, alt, says) in cases {
        let res = approve(file, alt).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{file}");
        let page = body(res).await;
        assert!(page.contains(says), "{file}: {page}");
        assert!(
            page.contains(">可以，来店里看看 webmedia</textarea>"),
            "the edit is kept"
        );
        let now = app.store.queue().item(id).expect("get").expect("item");
        assert_eq!((now.state, &now.media), (ReplyState::Pending, &None));
        assert_eq!(now.audit.len(), 1, "nothing recorded");
    }

    let alt = "雪地里的奇骏 X-Trail <in snow>";
    let res = approve("car.png", alt.into()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let done = app.store.queue().item(id).expect("get").expect("item");
    assert_eq!(done.state, ReplyState::Approved);
    let want = PostMedia {
        file: "car.png".into(),
        alt: alt.into(),
        focus: None,
    };
    assert_eq!(done.media.as_ref(), Some(&want));
    let tail: Vec<(&str, &str, Option<&str>)> = done.audit[1..]
        .iter()
        .map(|a| (a.who.as_str(), a.action.as_str(), a.note.as_deref()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (
                USER,
                "attach",
                Some("car.png: 雪地里的奇骏 X-Trail <in snow>")
            ),
            (USER, "approve", None),
        ]
    );
    // The item page shows the picture with its alt text, escaped.
    let page = body(app.get(&format!("/inbox/{id}"), &cookies).await).await;
    assert!(page.contains("<figure class=\"thumb\" id=\"picture\"><img src=\"/media/thumb/car.png\" alt=\"雪地里的奇骏 X-Trail &#60;in snow&#62;\""), "{page}");

    // The reply sender makes the reply post with the picture; the publisher uploads it.
    let channels = herald::app::channels(app.state.config()).expect("channels");
    let now = app.now;
    let sender = herald::inbox::send::ReplySender::new(
        app.store.clone(),
        channels,
        std::sync::Arc::new(move || now),
        app.wake.clone(),
        None,
    );
    let round = sender.round().await.expect("round");
    assert_eq!(round.claimed, 1);
    let post = app
        .store
        .posts()
        .all()
        .expect("posts")
        .into_iter()
        .find(|p| p.text == "可以，来店里看看 webmedia")
        .expect("the reply post");
    assert_eq!(post.kind, herald::store::PostKind::Reply);
    assert_eq!(post.media, vec![want]);
}

#[tokio::test]
async fn saving_a_picture_keeps_it_pending_and_choosing_none_removes_it() {
    let app = App::new();
    library(&app);
    let id = enqueue(
        &app,
        &item(
            "m-webmedia-save",
            ("mastodon", "en", Priority::Question),
            "snow?",
            app.now,
        ),
    );
    let cookies = app.login().await;
    let csrf = hidden(
        &body(app.get(&format!("/inbox/{id}"), &cookies).await).await,
        "csrf",
    );
    let save = |file: &'static str, alt: &'static str| {
        let (csrf, cookies, app) = (csrf.clone(), cookies.clone(), &app);
        async move {
            app.post_form(
                &format!("/inbox/{id}/edit"),
                &cookies,
                &[
                    ("csrf", csrf.as_str()),
                    ("text", "yes"),
                    ("media_file", file),
                    ("media_alt", alt),
                ],
            )
            .await
        }
    };
    assert_eq!(
        save("dealer/wide.jpg", "the dealer\r\nat dusk")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let saved = app.store.queue().item(id).expect("get").expect("item");
    assert_eq!(saved.state, ReplyState::Pending);
    assert_eq!(
        saved
            .media
            .as_ref()
            .map(|m| (m.file.as_str(), m.alt.as_str())),
        Some(("dealer/wide.jpg", "the dealer\nat dusk"))
    );
    let page = body(app.get(&format!("/inbox/{id}"), &cookies).await).await;
    assert!(page.contains("<option value=\"dealer/wide.jpg\" data-thumb=\"/media/thumb/dealer/wide.jpg\" selected>"), "{page}");
    assert!(page.contains(">the dealer\nat dusk</textarea>"));

    // Saving again unchanged records no second attach; choosing none removes it.
    assert_eq!(
        save("dealer/wide.jpg", "the dealer\r\nat dusk")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(save("", "").await.status(), StatusCode::SEE_OTHER);
    let done = app.store.queue().item(id).expect("get").expect("item");
    assert_eq!(done.media, None);
    let actions: Vec<&str> = done.audit[1..].iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["attach", "edit", "edit", "attach", "edit"]);

    // Without the CSRF token nothing is attached.
    let res = app
        .post_form(
            &format!("/inbox/{id}/edit"),
            &cookies,
            &[
                ("text", "yes"),
                ("media_file", "car.png"),
                ("media_alt", "a car"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store
            .queue()
            .item(id)
            .expect("get")
            .expect("item")
            .media,
        None
    );
}

#[tokio::test]
async fn the_api_attaches_and_removes_a_picture_with_the_same_checks() {
    let app = App::new();
    library(&app);
    let id = enqueue(
        &app,
        &item(
            "m-webmedia-api",
            ("mastodon", "en", Priority::Question),
            "snow?",
            app.now,
        ),
    );
    let path = format!("/api/queue/{id}/attach");
    let (status, _, _) = app
        .api(
            "POST",
            &path,
            None,
            Some(json!({"file": "car.png", "alt": "a car"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (body, says) in [
        (
            json!({"file": "car.png"}),
            "the picture needs an alt text that says what it shows",
        ),
        (
            json!({"file": "car.png", "alt": " "}),
            "the picture needs an alt text that says what it shows",
        ),
        (
            json!({"file": "car.png", "alt": "长".repeat(1501)}),
            "the alt text has 1501 characters, over the limit of 1500",
        ),
        (
            json!({"file": "../secret.png", "alt": "x"}),
            "\"../secret.png\" is not a JPEG, PNG, WebP or GIF picture in the media library",
        ),
        (
            json!({"file": "notes.txt", "alt": "x"}),
            "\"notes.txt\" is not a JPEG, PNG, WebP or GIF picture in the media library",
        ),
    ] {
        let (status, v, _) = app
            .api("POST", &path, Some(TOKEN), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(v["error"].as_str(), Some(says), "{body}: {v}");
    }
    let (status, v, _) = app
        .api(
            "POST",
            &path,
            Some(TOKEN),
            Some(json!({"file": "dealer/wide.jpg", "alt": "the dealer"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["media"],
        json!({"file": "dealer/wide.jpg", "alt": "the dealer"})
    );
    assert_eq!(v["state"], json!("pending"));
    let (status, v, _) = app
        .api("POST", &path, Some(TOKEN), Some(json!({"file": null})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v.get("media"), None, "{v}");
    let done = app.store.queue().item(id).expect("get").expect("item");
    let notes: Vec<(&str, Option<&str>)> = done.audit[1..]
        .iter()
        .map(|a| (a.who.as_str(), a.note.as_deref()))
        .collect();
    assert_eq!(
        notes,
        [
            ("api", Some("dealer/wide.jpg: the dealer")),
            ("api", Some("(none)"))
        ]
    );
}
