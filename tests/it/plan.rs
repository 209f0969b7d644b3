//! `herald plan`: the JSON contract checked by the independent script, ICS, persistence.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use herald::plan::output::{self, Entry};
use herald::store::PostState;

use crate::helpers::{repo, Run, Workspace};

/// Runs `tests/plan_rules.py` (the independent checker) over a JSON plan.
fn check_rules(ws: &Workspace, json: &str, from: &str, days: u32, extra: &[&str]) -> Run {
    let mut child = Command::new("python3")
        .arg(repo().join("tests/plan_rules.py"))
        .args([
            "--plan-dir",
            &ws.path().join("content-plan").to_string_lossy(),
        ])
        .args(["--json", "-", "--from", from, "--days", &days.to_string()])
        .args(extra)
        .current_dir(ws.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs the checker");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json.as_bytes())
        .expect("write");
    Run::from(child.wait_with_output().expect("checker"))
}

fn posts(json: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<Vec<serde_json::Value>>(json).expect("a JSON array")
}

#[test]
fn plan_of_28_days_obeys_every_rule_and_is_the_same_every_run() {
    let ws = Workspace::new();
    let args = [
        "plan",
        "--days",
        "28",
        "--from",
        "2026-12-01",
        "--format",
        "json",
        "--dry-run",
    ];
    let first = ws.herald(&args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = ws.herald(&args);
    assert_eq!(
        first.stdout, second.stdout,
        "the same inputs must give the same plan"
    );
    let list = posts(&first.stdout);
    // 6 a day for 28 days on the one default channel.
    assert_eq!(list.len(), 6 * 28);
    for field in ["at", "channel", "category", "draft", "peak", "text"] {
        assert!(list.iter().all(|p| p[field].is_string()), "{field}");
    }
    assert!(
        list[0]["at"]
            .as_str()
            .is_some_and(|a| a.ends_with("+08:00")),
        "{}",
        list[0]["at"]
    );
    let run = check_rules(&ws, &first.stdout, "2026-12-01", 28, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("168 posts, 1 channels, 0 violations"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_checker_catches_a_broken_plan() {
    // The independent script is only worth its verdict if it can say no.
    let ws = Workspace::new();
    let run = ws.herald(&[
        "plan",
        "--days",
        "7",
        "--from",
        "2026-12-01",
        "--format",
        "json",
        "--dry-run",
    ]);
    let mut list = posts(&run.stdout);
    list.swap(0, 1);
    let broken = serde_json::to_string(&list).expect("json");
    let verdict = check_rules(&ws, &broken, "2026-12-01", 7, &[]);
    assert_eq!(verdict.code, 1, "{}", verdict.stdout);
    assert!(verdict.stdout.contains("ORDER"), "{}", verdict.stdout);
}

#[test]
fn several_channels_at_once_with_a_channel_only_draft() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        r#"timezone = "Asia/Shanghai"
[[channels]]
name = "outbox"
kind = "outbox"
[[channels]]
name = "masto"
kind = "mastodon"
base_url = "https://social.example"
token_env = "HERALD_TEST_UNSET_TOKEN"
[[channels]]
name = "sky"
kind = "bluesky"
pds_url = "https://pds.example"
identifier = "brand.example"
password_env = "HERALD_TEST_UNSET_PASSWORD"
"#,
    );
    ws.write(
        "content-plan/drafts/product/sky-only-launch.md",
        "+++\ntitle = \"Bluesky only\"\nchannels = [\"sky\"]\nnot_after = 2026-12-01\nlink = \"https://jincheng-nissan.example.com/sky?ref=bsky\"\n+++\nOnly on Bluesky: {link}\n",
    );
    let run = ws.herald(&[
        "plan",
        "--days",
        "14",
        "--from",
        "2026-12-01",
        "--format",
        "json",
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = posts(&run.stdout);
    for channel in ["outbox", "masto", "sky"] {
        assert_eq!(
            list.iter().filter(|p| p["channel"] == channel).count(),
            6 * 14,
            "{channel}"
        );
    }
    let only: Vec<_> = list
        .iter()
        .filter(|p| p["draft"] == "product/sky-only-launch")
        .collect();
    assert_eq!(
        only.len(),
        1,
        "expiring channel-only draft goes out once, first"
    );
    assert_eq!(only[0]["channel"], "sky");
    let text = only[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("ref=bsky&utm_source=sky&utm_medium=social&utm_campaign=product&utm_content=sky.product.sky-only-launch.20261201T"), "{text}");
    let verdict = check_rules(
        &ws,
        &run.stdout,
        "2026-12-01",
        14,
        &["--channels", "outbox,masto,sky"],
    );
    assert_eq!(verdict.code, 0, "{}{}", verdict.stdout, verdict.stderr);
}

#[test]
fn ics_has_one_event_per_post_in_the_plan_timezone() {
    let ws = Workspace::new();
    let json = ws.herald(&[
        "plan",
        "--days",
        "7",
        "--from",
        "2026-12-01",
        "--format",
        "json",
        "--dry-run",
    ]);
    let ics = ws.herald(&[
        "plan",
        "--days",
        "7",
        "--from",
        "2026-12-01",
        "--format",
        "ics",
        "--dry-run",
    ]);
    assert_eq!(ics.code, 0, "{}", ics.stderr);
    let text = &ics.stdout;
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(
        text.matches("BEGIN:VEVENT").count(),
        posts(&json.stdout).len()
    );
    assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Asia/Shanghai\r\n"));
    assert!(text.contains("TZOFFSETTO:+0800"));
    assert!(
        text.contains("DTSTART;TZID=Asia/Shanghai:20261201T084500"),
        "first slot of the day"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "line of {} octets: {line}", line.len());
        assert!(!line.contains('\n'), "bare LF in {line:?}");
    }
    let uids: std::collections::BTreeSet<&str> =
        text.lines().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), posts(&json.stdout).len(), "UIDs are unique");
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn replanning_keeps_published_and_approved_posts_and_fills_forward() {
    let ws = Workspace::new();
    let run = ws.herald(&[
        "plan",
        "--days",
        "28",
        "--from",
        "2026-12-01",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("168 planned posts written"),
        "{}",
        run.stderr
    );
    // Days one and two went out; a person approved a post on 12-05 with an edit.
    let approved_at = {
        let store = ws.store();
        let all = store.posts().all().expect("posts");
        for mut p in all
            .iter()
            .filter(|p| p.at < at("2026-12-02T16:00:00Z"))
            .cloned()
        {
            p.state = PostState::Published;
            store.posts().put(&p).expect("put");
        }
        let mut chosen = all
            .iter()
            .find(|p| p.at >= at("2026-12-05T00:00:00Z"))
            .cloned()
            .expect("a post on 12-05");
        chosen.state = PostState::Approved;
        chosen.text = format!("{} (edited by a person)", chosen.text);
        store.posts().put(&chosen).expect("put");
        chosen.at
    };

    let args = [
        "plan",
        "--days",
        "26",
        "--from",
        "2026-12-03",
        "--format",
        "json",
    ];
    let replan = ws.herald(&args);
    assert_eq!(replan.code, 0, "{}", replan.stderr);
    let list = posts(&replan.stdout);
    let approved: Vec<_> = list.iter().filter(|p| p["state"] == "approved").collect();
    assert_eq!(approved.len(), 1);
    assert!(approved[0]["text"]
        .as_str()
        .is_some_and(|t| t.ends_with("(edited by a person)")));
    assert_eq!(
        at(approved[0]["at"].as_str().unwrap_or_default()),
        approved_at
    );
    // Re-planning again changes nothing.
    assert_eq!(ws.herald(&args).stdout, replan.stdout);

    // The whole schedule, published history included, still obeys every rule.
    let store = ws.store();
    let whole = store
        .posts()
        .between(at("2026-11-30T16:00:00Z"), at("2026-12-28T16:00:00Z"))
        .expect("posts");
    assert_eq!(
        whole
            .iter()
            .filter(|p| p.state == PostState::Published)
            .count(),
        12
    );
    let tz = chrono_tz::Asia::Shanghai;
    let entries: Vec<Entry> = whole
        .iter()
        .map(|p| Entry {
            at: p.at.with_timezone(&tz).fixed_offset(),
            channel: p.channel.clone(),
            category: p.category.clone(),
            draft: p.draft.clone(),
            peak: p.peak.clone(),
            text: p.text.replace(" (edited by a person)", ""),
            promo: p.promo,
            source_code: p.source_code.clone(),
            state: p.state.as_str().to_string(),
            title: None,
            why: None,
        })
        .collect();
    assert_eq!(entries.len(), 168);
    let verdict = check_rules(&ws, &output::json(&entries), "2026-12-01", 28, &[]);
    assert_eq!(verdict.code, 0, "{}{}", verdict.stdout, verdict.stderr);
}

#[test]
fn a_planned_post_carries_its_channels_version_and_pictures() {
    let ws = Workspace::new();
    ws.write(
        "herald.toml",
        "[[channels]]\nname = \"outbox\"\nkind = \"outbox\"\n\n[[channels]]\nname = \"sky\"\nkind = \"bluesky\"\npds_url = \"https://bsky.example\"\nidentifier = \"brand.example\"\npassword_env = \"HERALD_TEST_UNUSED_PASSWORD\"\n\n[[channels]]\nname = \"masto\"\nkind = \"mastodon\"\nbase_url = \"https://social.example\"\ntoken_env = \"HERALD_TEST_UNUSED_TOKEN\"\n",
    );
    let run = ws.herald(&["plan", "--days", "28", "--from", "2026-12-01"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let all = ws.store().posts().all().expect("posts");
    let post = |draft: &str, channel: &str| {
        all.iter()
            .find(|p| p.draft == draft && p.channel == channel)
            .unwrap_or_else(|| panic!("{draft} is not planned on {channel}"))
            .clone()
    };

    // lifestyle/chengdu-food-1 has a shorter `[variants.bluesky] text`.
    let sky = post("lifestyle/chengdu-food-1", "sky");
    assert!(
        sky.text
            .starts_with("【吃在成都①早餐】甜水面、钟水饺、蛋烘糕"),
        "{}",
        sky.text
    );
    assert!(
        sky.text.contains("utm_source=sky"),
        "the link is tracked: {}",
        sky.text
    );
    for channel in ["outbox", "masto"] {
        let p = post("lifestyle/chengdu-food-1", channel);
        assert!(p.text.contains("甜水面粗得像筷子"), "{}", p.text);
        assert!(
            p.text.contains(&format!("utm_source={channel}")),
            "{}",
            p.text
        );
    }
    assert_eq!(sky.media.len(), 1);
    assert_eq!(sky.media[0].file, "chengdu-noodles.jpg");
    assert!(sky.media[0].alt.contains("一碗面"), "{}", sky.media[0].alt);

    // product/x-trail-epower-guide-1 has two pictures, the first with a Mastodon alt text.
    let m = post("product/x-trail-epower-guide-1", "masto").media;
    let s = post("product/x-trail-epower-guide-1", "sky").media;
    let files: Vec<&str> = m.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files, ["x-trail-snow.jpg", "mountain-road.jpg"]);
    assert_eq!(m[0].alt, "插画：白色SUV停在雪地上，松树、远山、飘雪");
    assert_eq!(
        s[0].alt,
        "插画：一辆白色SUV停在雪地上，背后是松树和远山，天上飘着雪花"
    );
    assert_eq!(m[1].alt, s[1].alt);
    assert_eq!(s[0].focus, Some(herald::domain::Focus { x: 0.0, y: 0.2 }));
    assert!(post("product/x-trail-heritage", "sky").media.is_empty());
}

#[test]
fn explain_says_why_each_post_got_its_time_and_json_has_it_only_when_asked() {
    let ws = Workspace::new();
    let args = [
        "plan",
        "--dry-run",
        "--from",
        "2026-12-01",
        "--days",
        "2",
        "--format",
        "json",
    ];
    let plain = ws.herald(&args);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(posts(&plain.stdout).iter().all(|p| p.get("why").is_none()));

    let explained = ws.herald(&[&args[..], &["--explain"]].concat());
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    let list = posts(&explained.stdout);
    assert!(!list.is_empty());
    for p in &list {
        let why = p["why"].as_str().expect("a reason");
        assert!(why.contains("learning is off"), "{why}");
    }
    // Learning on but no results yet: still the playbook's times, and said so.
    ws.edit(
        "content-plan/plan.toml",
        "enabled = false",
        "enabled = true",
    );
    let on = ws.herald(&[&args[..], &["--explain"]].concat());
    assert_eq!(on.code, 0, "{}", on.stderr);
    let learned = posts(&on.stdout);
    assert!(learned.iter().all(|p| p["why"]
        .as_str()
        .is_some_and(|w| w.contains("no results yet"))));
    let times = |v: &[serde_json::Value]| v.iter().map(|p| p["at"].clone()).collect::<Vec<_>>();
    assert_eq!(
        times(&learned),
        times(&list),
        "no results: the playbook's slots"
    );

    let table = ws.herald(&[
        "plan",
        "--dry-run",
        "--from",
        "2026-12-01",
        "--days",
        "1",
        "--explain",
    ]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains("why: playbook slot (no results yet)"),
        "{}",
        table.stdout
    );
}

#[test]
fn with_learning_on_the_plan_moves_to_the_time_that_did_best_and_says_so() {
    use chrono::{NaiveDate, TimeZone};
    use herald::store::{Engagement, PostKind, Sample};

    let ws = Workspace::new();
    let tz = chrono_tz::Asia::Shanghai;
    {
        let store = ws.store();
        // Five weeks of evening posts on the outbox: 20:00 (the playbook's slot) does poorly,
        // 20:35 four times as well, a day after posting.
        let first = NaiveDate::from_ymd_opt(2026, 10, 20).expect("date");
        // A history in the plan's mix, as a real one would be.
        let mix = [
            "product",
            "product",
            "product",
            "region",
            "industry",
            "service",
            "service",
            "lifestyle",
            "lifestyle",
            "lifestyle",
        ];
        let mut n = 0;
        let mut past = Vec::new();
        for d in 0..35 {
            let date = first + chrono::Days::new(d);
            for (hh, mm, engagement) in [(20, 0, 10), (20, 35, 40)] {
                let at = tz
                    .from_local_datetime(&date.and_hms_opt(hh, mm, 0).expect("time"))
                    .single()
                    .expect("local")
                    .with_timezone(&Utc);
                let mut post =
                    crate::helpers::stored_post("outbox", &format!("old {d} {hh}:{mm}"), at);
                post.kind = PostKind::Planned;
                post.state = PostState::Published;
                post.category = mix[n % mix.len()].into();
                post.promo = n % 10 == 4;
                n += 1;
                post.delivery.remote_id = Some(format!("line-{d}-{hh}{mm}"));
                store.posts().put(&post).expect("put");
                past.push(serde_json::json!({
                    "at": at.with_timezone(&tz).to_rfc3339(),
                    "channel": post.channel,
                    "category": post.category,
                    "draft": post.draft,
                    "peak": "evening",
                    "text": post.text,
                    "promo": post.promo,
                }));
                store
                    .engagement()
                    .put(&Engagement {
                        channel: "outbox".into(),
                        post_at: at,
                        samples: vec![Sample {
                            at: at + chrono::TimeDelta::hours(24),
                            replies: 0,
                            reposts: 0,
                            likes: engagement,
                            quotes: 0,
                        }],
                        next_at: None,
                        misses: 0,
                        gone: false,
                    })
                    .expect("engagement");
            }
        }
        ws.write(
            "history.json",
            &serde_json::to_string(&past).expect("history json"),
        );
    }
    let args = [
        "plan",
        "--from",
        "2026-12-01",
        "--days",
        "7",
        "--format",
        "json",
        "--explain",
    ];
    let off = ws.herald(&args);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let evening = |json: &str| -> Vec<(String, String)> {
        posts(json)
            .iter()
            .filter(|p| p["peak"] == "evening" && p["state"] == "planned")
            .map(|p| {
                let at = DateTime::parse_from_rfc3339(p["at"].as_str().expect("at")).expect("time");
                (
                    at.format("%H:%M").to_string(),
                    p["why"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let before = evening(&off.stdout);
    assert!(!before.is_empty());
    assert!(
        before.iter().all(|(t, _)| t == "20:00" || t == "21:00"),
        "{before:?}"
    );

    ws.edit(
        "content-plan/plan.toml",
        "enabled = false",
        "enabled = true",
    );
    let on = ws.herald(&args);
    assert_eq!(on.code, 0, "{}", on.stderr);
    let after = evening(&on.stdout);
    let near = after
        .iter()
        .filter(|(t, _)| ("20:25".."20:50").contains(&t.as_str()))
        .count();
    assert!(
        near * 2 >= after.len(),
        "most evening posts move near 20:35: {after:?}"
    );
    assert!(
        after.iter().all(|(_, why)| why.starts_with("learned")),
        "{after:?}"
    );
    // The independent checker agrees that the learned plan keeps every rule, the mix and the
    // promo share going on from the five weeks before it.
    let history = ws.path().join("history.json");
    let run = check_rules(
        &ws,
        &on.stdout,
        "2026-12-01",
        7,
        &["--history", &history.to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(", 0 violations"), "{}", run.stdout);
    // And it can say no: the same plan without the history breaks the promo share at once.
    let blind = check_rules(&ws, &on.stdout, "2026-12-01", 7, &[]);
    assert_eq!(blind.code, 1, "{}", blind.stdout);
}
