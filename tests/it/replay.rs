//! `herald replay`: the alert lines' fields, an escalation on the same id, and malformed lines
//! reported with their numbers while the rest is replayed.

use crate::helpers::Workspace;

const POSITIVE: [&str; 2] = ["很满意，服务很好", "Love the new X-Trail, great drive"];
const NEGATIVE: &str = "等了好久，很失望，太差了";
const CRISIS: &str = "刹车失灵了，太危险了，我要投诉";

fn line(id: &str, minute: u32, second: u32, text: &str) -> String {
    let day = 22 + minute / 1440;
    let (h, m) = ((minute % 1440) / 60, minute % 60);
    format!(
        r#"{{"id":"{id}","platform":"bluesky","author":"a{id}.test","text":"{text}","created_at":"2026-11-{day:02}T{h:02}:{m:02}:{second:02}Z"}}"#
    )
}

/// A day and a half of calm (two mentions a minute, one in five negative), then from 10:00 on
/// the second day one extra complaint a minute, and from 10:20 twenty brake-failure
/// complaints a minute (crisis terms) for half an hour.
fn stream() -> Vec<String> {
    let start = 1440 + 600;
    let mut lines = Vec::new();
    for minute in 0..1440 + 720 {
        for k in 0..2u32 {
            let n = minute * 2 + k;
            let text = if n % 5 == 0 {
                NEGATIVE
            } else {
                POSITIVE[(n % 2) as usize]
            };
            lines.push(line(&format!("m{minute}-{k}"), minute, k * 20, text));
        }
        if (start..start + 50).contains(&minute) {
            lines.push(line(&format!("w{minute}"), minute, 40, NEGATIVE));
        }
        if (start + 20..start + 50).contains(&minute) {
            for k in 0..20 {
                lines.push(line(&format!("c{minute}-{k}"), minute, 45 + k / 2, CRISIS));
            }
        }
    }
    lines
}

fn alerts(stdout: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn replay_prints_an_alert_and_its_escalation() {
    let ws = Workspace::new();
    ws.write("stream.jsonl", &(stream().join("\n") + "\n"));
    let run = ws.herald(&["replay", "stream.jsonl"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let alerts = alerts(&run.stdout);
    assert!(!alerts.is_empty(), "no alerts; stderr: {}", run.stderr);
    for a in &alerts {
        let keys: Vec<&str> = a.keys().map(String::as_str).collect();
        assert_eq!(
            &keys[..9],
            [
                "id",
                "topic",
                "level",
                "opened_at",
                "window_start",
                "negative",
                "total",
                "baseline",
                "sample"
            ],
            "{a:?}"
        );
        assert!(a["negative"].as_u64().expect("count") > 0);
        assert!(a["baseline"].is_number());
        assert!(
            chrono::DateTime::parse_from_rfc3339(a["opened_at"].as_str().expect("time")).is_ok()
        );
    }
    let brand: Vec<_> = alerts.iter().filter(|a| a["topic"] == "brand").collect();
    assert_eq!(brand.len(), 2, "{}", run.stdout);
    assert_eq!(brand[0]["level"], "warning", "{}", run.stdout);
    assert_eq!(brand[1]["level"], "crisis");
    assert_eq!(
        brand[1]["id"], brand[0]["id"],
        "the escalation keeps the id"
    );
    assert_eq!(brand[1]["opened_at"], brand[0]["opened_at"]);
    // Raised in stream time, within 15 minutes of the first complaints (10:00 on the 23rd).
    let opened = brand[0]["opened_at"].as_str().expect("time");
    assert!(
        ("2026-11-23T10:00:00Z".."2026-11-23T10:15:01Z").contains(&opened),
        "{opened}"
    );
    let sample = brand[1]["sample"].as_array().expect("sample");
    assert!(!sample.is_empty());
    assert!(sample.iter().all(|id| id
        .as_str()
        .is_some_and(|s| s.starts_with('c') || s.starts_with('w'))));
    // The positive product topic never alarms.
    assert!(
        alerts.iter().all(|a| a["topic"] != "product/x-trail"),
        "{}",
        run.stdout
    );
}

#[test]
fn replay_skips_malformed_lines_with_their_numbers() {
    let ws = Workspace::new();
    let mut lines = stream();
    lines.insert(2, "{not json".into());
    lines.insert(
        4,
        r#"{"id":"x","platform":"p","author":"a","created_at":"2026-11-22T00:01:00Z"}"#.into(),
    );
    ws.write("stream.jsonl", &(lines.join("\n") + "\n"));
    let run = ws.herald(&["replay", "stream.jsonl"]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains("stream.jsonl:3: skipped: not JSON"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("stream.jsonl:5: skipped: `text` is missing"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2 line(s) skipped"), "{}", run.stderr);
    // The rest was replayed: the incident is still found.
    assert!(
        alerts(&run.stdout).iter().any(|a| a["level"] == "crisis"),
        "{}",
        run.stdout
    );
}
