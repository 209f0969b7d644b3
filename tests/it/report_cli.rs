//! `herald report` as a person runs it: the week of a seeded store as JSON, CSV and a
//! self-contained HTML file written with `--out`; the last full week by default; a week not
//! begun refused with exit 2.

use chrono::{NaiveDate, TimeDelta, Utc};

use crate::helpers::Workspace;
use crate::web::reports::{seed, CLICKS, PLANNED, PUBLISHED};

/// A week long past, so the test does not depend on the day it runs.
const WEEK: &str = "2026-11-02";

fn workspace() -> Workspace {
    let ws = Workspace::new();
    let store = ws.store();
    seed(
        &store,
        NaiveDate::parse_from_str(WEEK, "%Y-%m-%d").expect("date"),
    );
    // sled allows one process: herald opens the store itself.
    drop(store);
    ws
}

#[test]
fn herald_report_writes_the_week_as_json_csv_and_html() {
    let ws = workspace();
    // Any day of the week.
    let json = ws.herald(&["report", "--week", "2026-11-05", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let record: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(record["week"], WEEK);
    assert_eq!(record["weeks"][0]["planned"], PLANNED);
    assert_eq!(record["weeks"][0]["published"], PUBLISHED);
    assert_eq!(record["weeks"][1]["published"], 20);
    assert_eq!(record["weeks"][0]["clicks"], CLICKS);
    assert_eq!(record["crises"].as_array().map(Vec::len), Some(1));

    let csv = ws.herald(&["report", "--week", WEEK, "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("week,section,key,metric,value"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().all(|r| r.starts_with("2026-11-02,")));
    assert!(rows.contains(&format!("2026-11-02,week,2026-11-02,planned,{PLANNED}").as_str()));
    assert!(rows.contains(&"2026-11-02,week,2026-10-26,published,20"));
    // Every week, category, channel… figure of the record is one row.
    let weeks = record["weeks"].as_array().map(Vec::len).unwrap_or(0);
    assert!(rows.len() > weeks * 11, "{}", rows.len());

    // HTML in Chinese to a file: whole, self-contained, nothing on standard output.
    let out = ws.path().join("reports/week.html");
    std::fs::create_dir_all(out.parent().expect("folder")).expect("mkdir");
    std::fs::write(&out, "an older report").expect("write");
    let html = ws.herald(&[
        "report",
        "--week",
        WEEK,
        "--lang",
        "zh",
        "--out",
        "reports/week.html",
    ]);
    assert_eq!(html.code, 0, "{}", html.stderr);
    assert!(html.stdout.is_empty());
    assert!(html.stderr.contains("reports/week.html"), "{}", html.stderr);
    let doc = std::fs::read_to_string(&out).expect("the report");
    assert!(doc.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"));
    assert!(doc.contains("周报 · 2026-11-02 – 2026-11-08"));
    assert_eq!(doc.matches("<svg").count(), 6);
    assert!(!doc.contains("<link") && !doc.contains("<script") && !doc.contains("src="));
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().expect("folder"))
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn herald_report_defaults_to_the_last_full_week_and_refuses_one_not_begun() {
    let ws = workspace();
    let html = ws.herald(&["report"]);
    assert_eq!(html.code, 0, "{}", html.stderr);
    // The default timezone is Asia/Shanghai.
    let today = (Utc::now() + TimeDelta::hours(8)).date_naive();
    let monday = today
        - TimeDelta::days(i64::from(
            chrono::Datelike::weekday(&today).num_days_from_monday(),
        ));
    let last = monday - TimeDelta::days(7);
    assert!(
        html.stdout
            .contains(&format!("<h1>Weekly report · {}", last.format("%Y-%m-%d"))),
        "{}",
        &html.stdout[..html.stdout.len().min(600)]
    );
    let next = monday + TimeDelta::days(7);
    let future = ws.herald(&["report", "--week", &next.format("%Y-%m-%d").to_string()]);
    assert_eq!(future.code, 2);
    assert!(future.stderr.contains("has not begun"), "{}", future.stderr);
    assert!(future.stdout.is_empty());
    let bad = ws.herald(&["report", "--format", "pdf"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// While `herald run` holds the store, `herald report --out` is made by the running herald and
/// written by the command that asked: the same file as without a running herald.
#[test]
fn herald_report_out_goes_through_a_running_herald_and_is_written_here() {
    use std::process::Command;
    let ws = workspace();
    let mut child = ws.start_run();
    let forwarded = ws.herald(&[
        "report",
        "--week",
        WEEK,
        "--format",
        "csv",
        "--out",
        "through.csv",
    ]);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stopped = child.wait().expect("wait");
    assert_eq!(forwarded.code, 0, "{}", forwarded.stderr);
    assert_eq!(
        forwarded.stderr.trim(),
        "report written to through.csv",
        "the asking command wrote the file"
    );
    assert!(stopped.success(), "a graceful stop: {stopped:?}");
    let alone = ws.herald(&["report", "--week", WEEK, "--format", "csv"]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    let through = std::fs::read_to_string(ws.path().join("through.csv")).expect("the file");
    assert!(through.contains(&format!("2026-11-02,week,2026-11-02,published,{PUBLISHED}")));
    assert_eq!(through, alone.stdout, "the same report either way");
}
