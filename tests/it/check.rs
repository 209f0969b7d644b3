//! `herald check` on the checked-in files and on broken copies of them.

use crate::helpers::Workspace;

#[test]
fn checked_in_configuration_passes() {
    let ws = Workspace::new();
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok: 1 channel(s), "), "{}", run.stdout);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}

/// One kind of mistake: the file to break, the text to replace, its replacement, and what the
/// message must name.
struct Mistake {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    /// Text on the line the message must point at; empty: the replacement's first word.
    at: &'static str,
    key: &'static str,
    why: &'static str,
}

const PLAN: &str = "content-plan/plan.toml";
const DRAFT: &str = "content-plan/drafts/product/x-trail-epower-guide-2.md";
const CRISIS: &str = "keywords/crisis.toml";

fn line_of(ws: &Workspace, file: &str, needle: &str) -> usize {
    ws.read(file)
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{file} has no line with {needle:?}"))
}

#[test]
fn every_kind_of_mistake_is_reported_with_file_line_and_key() {
    let mistakes = [
        Mistake {
            file: PLAN,
            from: "product = 30",
            to: "product = 35",
            at: "[mix]",
            key: "mix",
            why: "add up to 105",
        },
        Mistake {
            file: PLAN,
            from: "[promo]",
            to: "[promos]",
            at: "[promos]",
            key: "promos",
            why: "unknown field",
        },
        Mistake {
            file: PLAN,
            from: "min_gap_minutes = 60",
            to: "min_gap_minutes = \"an hour\"",
            at: "",
            key: "cadence.min_gap_minutes",
            why: "invalid type",
        },
        Mistake {
            file: PLAN,
            from: "per_day = 6",
            to: "per_dya = 6",
            at: "",
            key: "cadence.per_dya",
            why: "unknown field",
        },
        Mistake {
            file: PLAN,
            from: "end = \"10:00\"",
            to: "end = \"25:00\"",
            at: "\"25:00\"",
            key: "peaks[0].end",
            why: "HH:MM",
        },
        Mistake {
            file: PLAN,
            from: "max_share = 20",
            to: "max_share = 200",
            at: "",
            key: "promo.max_share",
            why: "out of range",
        },
        Mistake {
            file: PLAN,
            from: "pause_categories = [\"product\", \"lifestyle\"]",
            to: "pause_categories = [\"product\", \"ads\"]",
            at: "",
            key: "crisis.pause_categories[1]",
            why: "not a category",
        },
        Mistake {
            file: DRAFT,
            from: "part = 2",
            to: "part = 1",
            at: "part = 1",
            key: "part",
            why: "has part 1 twice",
        },
        Mistake {
            file: DRAFT,
            from: "series = ",
            to: "serie = ",
            at: "",
            key: "serie",
            why: "unknown field",
        },
        Mistake {
            file: DRAFT,
            from: "title = ",
            to: "not_before = 2027-13-01\ntitle = ",
            at: "",
            key: "not_before",
            why: "",
        },
        Mistake {
            file: CRISIS,
            from: "name = \"brake-failure\"",
            to: "name = \"Brake Failure\"",
            at: "",
            key: "rules[0].name",
            why: "not a rule name",
        },
    ];
    for m in mistakes {
        let ws = Workspace::new();
        ws.edit(m.file, m.from, m.to);
        let first_word = m.to.split([' ', '=']).next().unwrap_or(m.to);
        let line = line_of(&ws, m.file, if m.at.is_empty() { first_word } else { m.at });
        let run = ws.herald(&["check"]);
        assert_eq!(run.code, 2, "{} → {}: {}", m.from, m.to, run.stderr);
        let hit = run
            .stderr
            .lines()
            .find(|l| l.contains(m.file) && l.contains(&format!(": {}: ", m.key)))
            .unwrap_or_else(|| {
                panic!(
                    "{} → {}: no line names {} and {}:\n{}",
                    m.from, m.to, m.file, m.key, run.stderr
                )
            });
        let position = hit.split(m.file).nth(1).unwrap_or_default();
        assert!(
            position.starts_with(&format!(":{line}:")),
            "{hit} should be at line {line}"
        );
        assert!(hit.contains(m.why), "{hit} should say {:?}", m.why);
    }
}

#[test]
fn problems_in_several_files_are_reported_in_one_run() {
    let ws = Workspace::new();
    ws.edit(PLAN, "region = 10", "region = 11");
    ws.edit(DRAFT, "title = ", "colour = \"red\"\ntitle = ");
    ws.edit(CRISIS, "group = \"crisis\"", "group = \"Crisis\"");
    ws.write(
        "content-plan/drafts/ads/buy-now.md",
        "+++\ntitle = \"x\"\n+++\nBuy!\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2);
    for needle in [
        "plan.toml:",
        "x-trail-epower-guide-2.md:",
        "crisis.toml:",
        "drafts/ads:1:1: category: folder \"ads\" is not a category",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("4 problem(s)"), "{}", run.stderr);
}

#[test]
fn a_failing_keyword_test_case_fails_check() {
    let ws = Workspace::new();
    // Drop the term the first brake test relies on: the file's own test must now fail.
    ws.edit(CRISIS, "\"刹车失灵\", ", "");
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("crisis.toml: tests["), "{}", run.stdout);
}

#[test]
fn broken_herald_toml_names_line_and_key_and_hides_secrets() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "timezone = \"Asia/Shanghai\"\n\n[[channels]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"https://social.example\"\ntoken_env = \"HERALD_MASTO_TOKEN\"\ntoken = \"hunter2-secret\"\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("herald.toml:8:1: channels[0].token: unknown field"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn a_thin_category_is_reported_by_check() {
    let ws = Workspace::new();
    // Keep one region draft, not evergreen: a month of plan cannot fill the region quota.
    let dir = ws.path().join("content-plan/drafts/region");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("e").path())
        .collect();
    files.sort();
    for f in &files[1..] {
        std::fs::remove_file(f).expect("rm");
    }
    let kept = files[0]
        .to_string_lossy()
        .replace(&format!("{}/", ws.path().display()), "");
    let text = ws
        .read(&kept)
        .replace("evergreen = true", "evergreen = false");
    ws.write(&kept, &text);
    let run = ws.herald(&["check", "--days", "14"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("warning: next 14 days: outbox: region has no usable draft"),
        "{}",
        run.stdout
    );
}

#[test]
fn broken_sources_name_line_and_key() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"forum\"\nkind = \"page\"\nurl = \"https://bbs.example/t\"\nitem = \"div[[\"\ntext = \"td.t_f\"\n\n[[sources]]\nname = \"news\"\nkind = \"feed\"\nurl = \"ftp://x\"\ninterval_seconds = 0\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for needle in [
        "herald.toml:5:1: sources[0].item: item: \"div[[\" is not a CSS selector",
        "herald.toml:11:1: sources[1].url: \"ftp://x\" is not an http or https URL",
        "herald.toml:12:1: sources[1].interval_seconds: 0 is out of range",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            run.stderr
        );
    }
    // A misspelt key inside the third source is pointed at, not at the first.
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"a\"\nkind = \"feed\"\nurl = \"https://x.example/a\"\n\n[[sources]]\nname = \"b\"\nkind = \"feed\"\nurl = \"https://x.example/b\"\n\n[[sources]]\nname = \"rss\"\nkind = \"feed\"\nurl = \"https://x.example/rss\"\nevery = 5\n",
    );
    let run = ws.herald(&["check"]);
    assert!(
        run.stderr
            .contains("herald.toml:15:1: sources[2].every: unknown field"),
        "{}",
        run.stderr
    );
    // A page source's own timezone must be one.
    ws.write(
        "herald.toml",
        "[[sources]]\nname = \"forum\"\nkind = \"page\"\nurl = \"https://bbs.example/t\"\nitem = \"div\"\ntext = \"p\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("herald.toml:7:1: sources[0].timezone: unknown timezone \"Mars/Olympus\""),
        "{}",
        run.stderr
    );
}

/// A secret that looks like one: a person pasted the token where its variable's name belongs.
const PASTED: &str = "sk-live-7Hq2Zp9XwL4vB8nR";

/// `herald check` on a `herald.toml` whose `key` holds the secret itself: exit 2, the error
/// names file, line and key, and the secret is printed nowhere.
fn refuses_pasted_secret(section: &str, text: &str, key: &str) {
    let ws = Workspace::new();
    ws.write("herald.toml", text);
    let line = line_of(
        &ws,
        "herald.toml",
        &format!("{} = ", key.rsplit('.').next().unwrap_or(key)),
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{section}: {}{}", run.stdout, run.stderr);
    let (at, named) = (format!("herald.toml:{line}:"), format!(": {key}: "));
    let hit = run
        .stderr
        .lines()
        .find(|l| l.contains(&at) && l.contains(&named) && l.contains("environment variable"))
        .unwrap_or_else(|| panic!("{section}: no {at:?} … {named:?} in\n{}", run.stderr));
    assert!(hit.contains("environment variable"), "{section}: {hit}");
    assert!(hit.contains("not shown"), "{section}: {hit}");
    for (name, out) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        // Neither the whole secret nor a telling piece of it.
        assert!(
            !out.contains("7Hq2Zp9XwL4vB8nR") && !out.contains("77777777"),
            "{section}: the secret is in {name}:\n{out}"
        );
    }
}

#[test]
fn a_secret_pasted_into_a_channel_is_not_printed_back() {
    for (kind, key) in [
        (
            "kind = \"mastodon\"\nbase_url = \"https://social.example\"",
            "token_env",
        ),
        (
            "kind = \"bluesky\"\npds_url = \"https://bsky.social\"\nidentifier = \"brand.example\"",
            "password_env",
        ),
        (
            "kind = \"webhook\"\nurl = \"https://hooks.example/h\"",
            "secret_env",
        ),
    ] {
        refuses_pasted_secret(
            "channels",
            &format!("[[channels]]\nname = \"c\"\n{kind}\n{key} = \"{PASTED}\"\n"),
            &format!("channels[0].{key}"),
        );
    }
    // Unquoted, the value is a syntax error: that is not printed back either.
    refuses_pasted_secret(
        "channels, unquoted",
        &format!("[[channels]]\nname = \"c\"\nkind = \"mastodon\"\nbase_url = \"https://social.example\"\ntoken_env = {PASTED}\n"),
        "channels[0].token_env",
    );
}

#[test]
fn a_secret_pasted_into_a_source_is_not_printed_back() {
    for (kind, key) in [
        (
            "kind = \"mastodon\"\nbase_url = \"https://social.example\"",
            "token_env",
        ),
        (
            "kind = \"mastodon-search\"\nbase_url = \"https://social.example\"\nqueries = [\"x\"]",
            "token_env",
        ),
        (
            "kind = \"mastodon-hashtag\"\nbase_url = \"https://social.example\"\nhashtags = [\"x\"]",
            "token_env",
        ),
        (
            "kind = \"bluesky\"\npds_url = \"https://bsky.social\"\nidentifier = \"brand.example\"",
            "password_env",
        ),
        (
            "kind = \"bluesky-search\"\npds_url = \"https://bsky.social\"\nidentifier = \"brand.example\"\nqueries = [\"x\"]",
            "password_env",
        ),
    ] {
        refuses_pasted_secret(
            "sources",
            &format!("[[sources]]\nname = \"s\"\n{kind}\n{key} = \"{PASTED}\"\n"),
            &format!("sources[0].{key}"),
        );
    }
}

#[test]
fn a_secret_pasted_into_an_alert_sink_is_not_printed_back() {
    for (kind, key) in [
        ("kind = \"wecom\"", "key_env"),
        ("kind = \"dingtalk\"", "token_env"),
        ("kind = \"dingtalk\"\ntoken_env = \"HERALD_DING\"", "secret_env"),
        ("kind = \"feishu\"", "hook_env"),
        ("kind = \"feishu\"\nhook_env = \"HERALD_FEISHU\"", "secret_env"),
        ("kind = \"slack\"", "url_env"),
        (
            "kind = \"webhook\"\nurl = \"https://hooks.example/h\"",
            "secret_env",
        ),
        (
            "kind = \"email\"\nhost = \"smtp.example\"\nusername = \"a\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]",
            "password_env",
        ),
    ] {
        refuses_pasted_secret(
            "alerts.sinks",
            &format!("[[alerts.sinks]]\nname = \"a\"\n{kind}\n{key} = \"{PASTED}\"\n"),
            &format!("alerts.sinks[0].{key}"),
        );
    }
}

#[test]
fn a_secret_pasted_into_web_is_not_printed_back() {
    refuses_pasted_secret(
        "web",
        &format!("[web]\napi_token_env = \"{PASTED}\"\n"),
        "web.api_token_env",
    );
    refuses_pasted_secret(
        "web, a number",
        "[web]\napi_token_env = 77777777\n",
        "web.api_token_env",
    );
}

/// A draft with pictures, written into the workspace as `content-plan/drafts/product/<stem>.md`:
/// `front` is extra front matter (after `title`), `body` the text.
fn write_draft(ws: &Workspace, stem: &str, front: &str, body: &str) -> String {
    let rel = format!("content-plan/drafts/product/{stem}.md");
    ws.write(
        &rel,
        &format!("+++\ntitle = \"pictures\"\n{front}+++\n{body}\n"),
    );
    rel
}

/// A small real picture in the workspace's media folder.
fn write_picture(ws: &Workspace, name: &str) {
    let dir = ws.path().join("content-plan/media");
    std::fs::create_dir_all(&dir).expect("mkdir");
    image::RgbImage::from_pixel(40, 30, image::Rgb([10, 120, 200]))
        .save(dir.join(name))
        .expect("save picture");
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("under").display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_missing_picture_a_missing_alt_or_a_fifth_picture_fails_check_with_file_line_and_key() {
    let ws = Workspace::new();
    write_picture(&ws, "blue.png");
    let one = "[[media]]\nfile = \"blue.png\"\nalt = \"蓝色\"\n";
    let cases = [
        (
            format!("{one}[[media]]\nfile = \"gone.jpg\"\nalt = \"没有这张\"\n"),
            "file = \"gone.jpg\"",
            "media[1].file",
            "there is no file",
        ),
        (
            "[[media]]\nfile = \"blue.png\"\n".to_string(),
            "[[media]]",
            "media[0].alt",
            "needs alt text",
        ),
        (one.repeat(5), "", "media[4]", "at most 4 pictures"),
    ];
    for (front, at, key, why) in cases {
        let rel = write_draft(&ws, "pictures", &front, "有图");
        // The fifth `[[media]]` header is the line to name.
        let line = if at.is_empty() {
            ws.read(&rel)
                .lines()
                .enumerate()
                .filter(|(_, l)| *l == "[[media]]")
                .nth(4)
                .map(|(i, _)| i + 1)
                .expect("five headers")
        } else {
            line_of(&ws, &rel, at)
        };
        let run = ws.herald(&["check"]);
        assert_eq!(run.code, 2, "{front}: {}{}", run.stdout, run.stderr);
        let want = format!("{rel}:{line}:1: {key}: ");
        let found = run.stderr.lines().find(|l| l.contains(&want));
        let found = found.unwrap_or_else(|| panic!("no {want:?} in {}", run.stderr));
        assert!(found.contains(why), "{found}");
    }
}

const SKY: &str = "[[channels]]\nname = \"sky\"\nkind = \"bluesky\"\npds_url = \"https://bsky.example\"\nidentifier = \"brand.example\"\npassword_env = \"HERALD_TEST_UNUSED_PASSWORD\"\n";

#[test]
fn an_oversize_picture_is_reencoded_for_bluesky_into_the_data_folder_only() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[channels]]\nname = \"outbox\"\nkind = \"outbox\"\n\n{SKY}"),
    );
    // Noise does not compress: 1000×1000 RGB as PNG is about 3 MB, over Bluesky's 2,000,000.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let noisy = image::RgbImage::from_fn(1000, 1000, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        image::Rgb([seed as u8, (seed >> 8) as u8, (seed >> 16) as u8])
    });
    let media = ws.path().join("content-plan/media");
    std::fs::create_dir_all(&media).expect("mkdir");
    noisy.save(media.join("noise.png")).expect("save");
    let original = std::fs::metadata(media.join("noise.png"))
        .expect("stat")
        .len();
    assert!(original > 2_000_000, "{original}");
    write_draft(
        &ws,
        "big-picture",
        "[[media]]\nfile = \"noise.png\"\nalt = \"彩色噪点\"\n",
        "一张很大的图",
    );
    let plan_before = files_under(&ws.path().join("content-plan"));

    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let note = run
        .stdout
        .lines()
        .find(|l| l.contains("noise.png is over Bluesky's 2000000 bytes"))
        .unwrap_or_else(|| panic!("no re-encoding note in {}", run.stdout));
    assert!(
        note.contains(&format!("re-encoded from {original} to ")),
        "{note}"
    );

    let cache = ws.path().join("data/media-cache");
    let copies: Vec<_> = files_under(&cache)
        .into_iter()
        .filter(|f| f.ends_with("-2000000.jpg"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let bytes = std::fs::metadata(cache.join(&copies[0]))
        .expect("stat")
        .len();
    assert!(bytes < 2_000_000, "{bytes}");
    assert!(note.contains(&format!("to {bytes} bytes")), "{note}");
    assert_eq!(
        herald::media::inspect(&cache.join(&copies[0]))
            .expect("a picture")
            .kind,
        herald::media::Kind::Jpeg
    );
    assert_eq!(files_under(&ws.path().join("content-plan")), plan_before);

    // A second check finds the copy and leaves the folders as they are.
    let again = ws.herald(&["check"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(files_under(&cache).len(), 1);
    assert_eq!(files_under(&ws.path().join("content-plan")), plan_before);
}

#[test]
fn a_text_too_long_for_bluesky_is_reported_until_a_bluesky_variant_is_given() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        &format!("[[channels]]\nname = \"outbox\"\nkind = \"outbox\"\n\n{SKY}"),
    );
    let long = "长".repeat(320);
    let rel = write_draft(
        &ws,
        "long-text",
        "channels = [\"sky\", \"outbox\"]\n",
        &long,
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("product/long-text on sky"))
        .unwrap_or_else(|| panic!("no error for the long draft in {}", run.stdout));
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains(&rel), "{line}");
    assert!(
        line.contains("320 graphemes") && line.contains("limit of 300 on bluesky"),
        "{line}"
    );
    assert!(line.contains("[variants.bluesky] text"), "{line}");
    assert!(
        !run.stdout.contains("product/long-text on outbox"),
        "the outbox has no limit: {}",
        run.stdout
    );

    write_draft(
        &ws,
        "long-text",
        "channels = [\"sky\", \"outbox\"]\n[variants.bluesky]\ntext = \"短版\"\n",
        &long,
    );
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn mastodon_limits_are_read_from_the_instance_and_cached_for_offline_checks() {
    let _guard = crate::peers::MASTODON.blocking_lock();
    let peers = crate::peers::peers();
    let ws = Workspace::new();
    let masto = |url: &str| {
        format!("[[channels]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"{url}\"\ntoken_env = \"HERALD_TEST_UNUSED_TOKEN\"\n")
    };
    ws.write("herald.toml", &masto(&peers.mastodon));
    // mastodon-mock says 500 characters.
    write_draft(&ws, "long-toot", "", &"长".repeat(520));
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("product/long-toot on masto: the text is 520 characters with its links, over the limit of 500 on mastodon"),
        "{}",
        run.stdout
    );
    let url = url::Url::parse(&peers.mastodon).expect("url");
    let cache_dir = ws.path().join("data/media-cache");
    let cached = herald::schedule::mastodon_limits_cache(&cache_dir, &url);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cached).expect("limits cached")).expect("json");
    assert_eq!(json["text"], 500);
    assert_eq!(json["max_images"], 4);
    assert_eq!(json["image_bytes"], 10_485_760);

    // Offline: an instance that does not answer is checked against its cached limits.
    let dead = url::Url::parse("http://127.0.0.1:9/").expect("url");
    std::fs::copy(
        &cached,
        herald::schedule::mastodon_limits_cache(&cache_dir, &dead),
    )
    .expect("copy");
    ws.write("herald.toml", &masto(dead.as_str()));
    let run = ws.herald(&["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("the instance cannot be read; using its limits cached on"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("over the limit of 500 on mastodon"),
        "{}",
        run.stdout
    );
}
