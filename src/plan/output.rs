//! Showing a schedule: JSON (the contract other tools read), a table for people, iCalendar for
//! calendar programs. Formatting only; the caller collects the entries.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeDelta, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use serde::Serialize;

use super::{Note, PlanRules};

/// One post of a schedule, as shown to people and tools.
///
/// The JSON fields `at, channel, category, draft, peak, text` are the contract of docs/contracts.md; `promo`,
/// `source_code` and `state` are additions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub at: DateTime<FixedOffset>,
    pub channel: String,
    pub category: String,
    pub draft: String,
    pub peak: String,
    pub text: String,
    pub promo: bool,
    pub source_code: String,
    /// `planned` for what this run placed; the stored state for kept posts.
    pub state: String,
    #[serde(skip)]
    pub title: Option<String>,
    /// Why a newly planned post got its time (`herald plan --explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The JSON array of `herald plan --format json`.
pub fn json(entries: &[Entry]) -> String {
    serde_json::to_string_pretty(entries).unwrap_or_else(|_| "[]".to_string())
}

/// A table for a terminal, with a per-channel summary of the mix and the planner's notes.
pub fn table(entries: &[Entry], rules: &PlanRules, notes: &[Note]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16}  {:<10}  {:<9}  {:<10}  {:<36}  TEXT",
        "WHEN", "CHANNEL", "CATEGORY", "PEAK", "DRAFT"
    );
    for e in entries {
        let mut draft = e.draft.clone();
        if e.promo {
            draft.push_str(" [promo]");
        }
        if e.state != "planned" {
            draft.push_str(&format!(" [{}]", e.state));
        }
        let preview = truncate_columns(e.text.split('\n').next().unwrap_or(""), 48);
        let _ = writeln!(
            out,
            "{:<16}  {:<10}  {:<9}  {:<10}  {:<36}  {}",
            e.at.format("%a %m-%d %H:%M"),
            e.channel,
            e.category,
            e.peak,
            draft,
            preview
        );
        if let Some(why) = &e.why {
            let _ = writeln!(out, "{:<16}  why: {why}", "");
        }
    }
    let mut per_channel: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for e in entries {
        *per_channel
            .entry(&e.channel)
            .or_default()
            .entry(&e.category)
            .or_default() += 1;
    }
    for (channel, counts) in per_channel {
        let n: usize = counts.values().sum();
        let mix: Vec<String> = rules
            .categories
            .iter()
            .map(|c| {
                let k = counts.get(c.name.as_str()).copied().unwrap_or(0);
                format!(
                    "{} {k} ({:.0}%/{}%)",
                    c.name,
                    100.0 * k as f64 / n.max(1) as f64,
                    c.share
                )
            })
            .collect();
        let _ = writeln!(out, "\n{channel}: {n} posts: {}", mix.join(", "));
    }
    for (warning, line) in super::note_lines(notes) {
        let _ = writeln!(out, "{}: {line}", if warning { "warning" } else { "note" });
    }
    out
}

/// Cuts text to `width` terminal columns (CJK characters take two), marking a cut with `…`.
fn truncate_columns(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            out.push('…');
            return out;
        }
        out.push(ch);
        used += w;
    }
    out
}

/// An iCalendar file: one VEVENT per post, in the plan's timezone (with its VTIMEZONE), lines
/// folded and CRLF-terminated as RFC 5545 requires.
pub fn ics(entries: &[Entry], tz: Tz, stamp: DateTime<Utc>) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//herald//content plan//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        format!("X-WR-TIMEZONE:{}", tz.name()),
    ];
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        lines.extend(vtimezone(
            tz,
            first.at.with_timezone(&Utc),
            last.at.with_timezone(&Utc),
        ));
    }
    for e in entries {
        let local = e.at.with_timezone(&tz).naive_local();
        let title = e.title.clone().unwrap_or_else(|| e.draft.clone());
        lines.push("BEGIN:VEVENT".to_string());
        lines.push(format!("UID:{}@herald", e.source_code));
        lines.push(format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")));
        lines.push(format!(
            "DTSTART;TZID={}:{}",
            tz.name(),
            local.format("%Y%m%dT%H%M%S")
        ));
        lines.push("DURATION:PT15M".to_string());
        lines.push(format!(
            "SUMMARY:{}",
            escape(&format!("[{}] {} · {}", e.category, title, e.channel))
        ));
        lines.push(format!("DESCRIPTION:{}", escape(&e.text)));
        lines.push(format!("CATEGORIES:{}", escape(&e.category)));
        lines.push("END:VEVENT".to_string());
    }
    lines.push("END:VCALENDAR".to_string());
    let mut out = String::new();
    for l in lines {
        fold(&l, &mut out);
    }
    out
}

/// A VTIMEZONE for the span of the plan: one observance per offset period, found by stepping
/// through the span hour by hour, so any IANA zone (with or without daylight time) is exact
/// for the dates the calendar shows.
fn vtimezone(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut lines = vec!["BEGIN:VTIMEZONE".to_string(), format!("TZID:{}", tz.name())];
    let offset_at = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc();
    let mut observance = |onset_utc: DateTime<Utc>, before: i32, after: i32| {
        let off = *onset_utc.with_timezone(&tz).offset();
        let kind = if off.dst_offset().is_zero() {
            "STANDARD"
        } else {
            "DAYLIGHT"
        };
        // DTSTART of an observance is the local time of the onset in the offset in force before it.
        let onset: NaiveDateTime = onset_utc.naive_utc() + TimeDelta::seconds(i64::from(before));
        lines.push(format!("BEGIN:{kind}"));
        lines.push(format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")));
        lines.push(format!("TZOFFSETFROM:{}", ics_offset(before)));
        lines.push(format!("TZOFFSETTO:{}", ics_offset(after)));
        if let Some(abbr) = off.abbreviation() {
            lines.push(format!("TZNAME:{abbr}"));
        }
        lines.push(format!("END:{kind}"));
    };
    let start = from - TimeDelta::days(1);
    let first = offset_at(start);
    observance(start, first, first);
    let mut t = start;
    let mut current = first;
    while t < to {
        let next = t + TimeDelta::hours(1);
        let o = offset_at(next);
        if o != current {
            observance(next, current, o);
            current = o;
        }
        t = next;
    }
    lines.push("END:VTIMEZONE".to_string());
    lines
}

fn ics_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
}

/// RFC 5545 TEXT escaping.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\r', "")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets without splitting a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for ch in line.chars() {
        let len = ch.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_utf8_and_octet_limit() {
        let mut out = String::new();
        let line = format!("DESCRIPTION:{}", "锦程东风日产".repeat(20));
        fold(&line, &mut out);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let unfolded = out.replace("\r\n ", "").trim_end().to_string();
        assert_eq!(unfolded, line);
    }

    #[test]
    fn previews_fit_terminal_columns() {
        use unicode_width::UnicodeWidthStr;
        for text in [
            "锦程东风日产".repeat(10),
            "English text ".repeat(10),
            "短".into(),
        ] {
            let cut = truncate_columns(&text, 48);
            assert!(cut.width() <= 48, "{cut}");
            assert_eq!(cut.ends_with('…'), text.width() > 47, "{cut}");
        }
    }

    #[test]
    fn escaping_table() {
        for (raw, want) in [
            ("a,b", "a\\,b"),
            ("a;b", "a\\;b"),
            ("a\nb", "a\\nb"),
            ("a\\b", "a\\\\b"),
        ] {
            assert_eq!(escape(raw), want);
        }
    }

    #[test]
    fn vtimezone_covers_daylight_changes() {
        let from = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2026-04-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let lines = vtimezone(chrono_tz::America::New_York, from, to);
        assert!(lines.contains(&"BEGIN:DAYLIGHT".to_string()), "{lines:?}");
        assert!(lines.contains(&"TZOFFSETTO:-0400".to_string()), "{lines:?}");
        let shanghai = vtimezone(chrono_tz::Asia::Shanghai, from, to);
        assert!(!shanghai.contains(&"BEGIN:DAYLIGHT".to_string()));
        assert!(shanghai.contains(&"TZOFFSETTO:+0800".to_string()));
    }
}
