//! The weekly report as one CSV table in long form, for a spreadsheet to filter and pivot:
//! every figure is one row `week,section,key,metric,value`.
//!
//! `week` is the reported week's Monday (so the files of several weeks can be stacked),
//! `section` the part of the report (`week`, `category`, `peak`, `channel`, `hour`, `click`,
//! `replies`, `person`, `lead_grade`, `lead_source`, `lead_funnel`, `day`, `voice`, `crisis`),
//! `key` what the row is about (a week's Monday, a category, a channel, `mon 09`, a source
//! code, a date, an alert id…), `metric` the figure's name (the record's field name) and
//! `value` the figure: a number, a date or time (RFC 3339, UTC), a word, or empty when there is
//! none (no reading, no answer). Shares are fractions (0..=1), except `share_pct` and
//! `target_pct`, which are percent as in the record. The `csv` crate quotes; a cell a
//! spreadsheet would run as a formula (`= + - @` first) gets a leading `'`, except numbers.

use chrono::{DateTime, Utc};

use super::WeekReport;

/// The header row.
pub const HEADER: [&str; 5] = ["week", "section", "key", "metric", "value"];

/// A value of one row.
enum V {
    Int(u64),
    Float(Option<f64>),
    Text(String),
}

impl V {
    fn cell(&self) -> String {
        match self {
            V::Int(v) => v.to_string(),
            // Four decimals, trailing zeros dropped; nothing for no figure.
            V::Float(v) => v.filter(|v| v.is_finite()).map_or(String::new(), |v| {
                let s = format!("{v:.4}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                if s == "-0" {
                    "0".into()
                } else {
                    s.to_string()
                }
            }),
            V::Text(s) => defuse(s),
        }
    }
}

/// A text cell a spreadsheet will not run as a formula.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn time(t: Option<DateTime<Utc>>) -> V {
    V::Text(t.map_or(String::new(), |t| t.to_rfc3339()))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Every row of the report (without the header), in the report's order.
fn rows(r: &WeekReport) -> Vec<(&'static str, String, &'static str, V)> {
    let mut out = Vec::new();
    let mut push = |section: &'static str, key: &str, metric: &'static str, v: V| {
        out.push((section, key.to_string(), metric, v));
    };
    for w in &r.weeks {
        let k = w.week.format("%Y-%m-%d").to_string();
        push("week", &k, "planned", V::Int(w.planned.into()));
        push("week", &k, "published", V::Int(w.published.into()));
        push("week", &k, "engagement", V::Int(w.engagement));
        push("week", &k, "per_post", V::Float(w.per_post));
        push("week", &k, "clicks", V::Int(w.clicks));
        push("week", &k, "mentions", V::Int(w.mentions.into()));
        push("week", &k, "negative_share", V::Float(w.negative_share));
        push("week", &k, "replies_sent", V::Int(w.replies_sent.into()));
        push("week", &k, "sla_met", V::Float(w.sla_met));
        push(
            "week",
            &k,
            "median_response_minutes",
            V::Float(w.median_response_minutes),
        );
        push("week", &k, "leads", V::Int(w.leads.into()));
    }
    for c in &r.categories {
        let k = &c.category;
        push("category", k, "target_pct", V::Int(c.target_pct.into()));
        push("category", k, "planned", V::Int(c.planned.into()));
        push("category", k, "published", V::Int(c.published.into()));
        push("category", k, "share_pct", V::Float(Some(c.share_pct)));
        push("category", k, "engagement", V::Int(c.engagement));
        push("category", k, "per_post", V::Float(c.per_post));
        push("category", k, "lift", V::Float(c.lift));
        push("category", k, "clicks", V::Int(c.clicks));
    }
    for (section, slices) in [("peak", &r.peaks), ("channel", &r.channels)] {
        for s in slices {
            let k = &s.name;
            push(section, k, "planned", V::Int(s.planned.into()));
            push(section, k, "published", V::Int(s.published.into()));
            push(section, k, "engagement", V::Int(s.engagement));
            push(section, k, "per_post", V::Float(s.per_post));
            push(section, k, "clicks", V::Int(s.clicks));
        }
    }
    for h in &r.hours {
        let day = DAYS.get(usize::from(h.weekday)).copied().unwrap_or("?");
        let k = format!("{day} {:02}", h.hour);
        push("hour", &k, "posts", V::Int(h.posts.into()));
        push("hour", &k, "engagement", V::Int(h.engagement));
        push("hour", &k, "per_post", V::Float(h.per_post));
    }
    for c in &r.clicks {
        push("click", &c.code, "channel", V::Text(c.channel.clone()));
        push("click", &c.code, "category", V::Text(c.category.clone()));
        push("click", &c.code, "clicks", V::Int(c.clicks));
    }
    let rp = &r.replies;
    push("replies", "week", "items", V::Int(rp.items.into()));
    push("replies", "week", "answered", V::Int(rp.answered.into()));
    push(
        "replies",
        "week",
        "within_sla",
        V::Int(rp.within_sla.into()),
    );
    push("replies", "week", "overdue", V::Int(rp.overdue.into()));
    push(
        "replies",
        "week",
        "median_minutes",
        V::Float(rp.median_minutes),
    );
    push("replies", "week", "p90_minutes", V::Float(rp.p90_minutes));
    push("replies", "week", "sent", V::Int(rp.sent.into()));
    for p in &rp.people {
        let k = &p.name;
        push("person", k, "approved", V::Int(p.approved.into()));
        push("person", k, "edited", V::Int(p.edited.into()));
        push("person", k, "rejected", V::Int(p.rejected.into()));
        push("person", k, "sent", V::Int(p.sent.into()));
        push("person", k, "median_minutes", V::Float(p.median_minutes));
    }
    let l = &r.leads;
    for (g, n) in &l.by_grade {
        push("lead_grade", g, "leads", V::Int((*n).into()));
    }
    for (s, n) in &l.by_source {
        push("lead_source", s, "leads", V::Int((*n).into()));
    }
    for (k, n) in [
        ("found", l.found),
        ("replied", l.replied),
        ("contact", l.contact),
        ("test_drive", l.test_drive),
    ] {
        push("lead_funnel", k, "leads", V::Int(n.into()));
    }
    for d in &r.sentiment {
        let k = d.date.format("%Y-%m-%d").to_string();
        push("day", &k, "mentions", V::Int(d.mentions.into()));
        push("day", &k, "negative", V::Int(d.negative.into()));
        push("day", &k, "positive", V::Int(d.positive.into()));
    }
    for v in &r.share_of_voice {
        let k = &v.name;
        push("voice", k, "own", V::Text(v.own.to_string()));
        push("voice", k, "mentions", V::Int(v.mentions.into()));
        push("voice", k, "share", V::Float(Some(v.share)));
        push("voice", k, "negative", V::Int(v.negative.into()));
    }
    for c in &r.crises {
        let k = &c.id;
        push("crisis", k, "level", V::Text(c.level.clone()));
        push("crisis", k, "opened_at", time(Some(c.opened_at)));
        push("crisis", k, "acked_at", time(c.acked_at));
        push("crisis", k, "resolved_at", time(c.resolved_at));
        push("crisis", k, "peak_negative", V::Int(c.peak_negative));
    }
    out
}

/// The report as CSV: the header, then one row per figure (lines end in `\r\n`).
pub fn to_csv(r: &WeekReport) -> String {
    let week = r.week.format("%Y-%m-%d").to_string();
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing records to memory cannot fail; a failure would only lose rows, so it is ignored
    // rather than unwrapped.
    let _ = w.write_record(HEADER);
    for (section, key, metric, v) in rows(r) {
        let _ = w.write_record([week.as_str(), section, &defuse(&key), metric, &v.cell()]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::tests::{empty, sample};

    fn read(text: &str) -> Vec<Vec<String>> {
        let mut r = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        r.records()
            .map(|rec| {
                rec.map(|r| r.iter().map(str::to_string).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn every_figure_is_one_row_and_reads_back() {
        let r = sample();
        let text = to_csv(&r);
        let rows = read(&text);
        assert_eq!(rows[0], HEADER);
        // 5 weeks × 11, 2 categories × 8, 1 peak and 1 channel × 5, 1 hour × 3, 1 click × 3,
        // replies 7, 1 person × 5, 2 grades, 1 source, funnel 4, 7 days × 3, 1 voice × 4,
        // 1 crisis × 5.
        let want = 55 + 16 + 10 + 3 + 3 + 7 + 5 + 2 + 1 + 4 + 21 + 4 + 5;
        assert_eq!(rows.len(), 1 + want, "{text}");
        assert!(rows.iter().all(|row| row.len() == 5));
        assert!(rows[1..].iter().all(|row| row[0] == "2026-11-30"));
        let find = |section: &str, key: &str, metric: &str| {
            rows.iter()
                .find(|row| row[1] == section && row[2] == key && row[3] == metric)
                .map(|row| row[4].clone())
        };
        assert_eq!(
            find("week", "2026-11-23", "published").as_deref(),
            Some("10")
        );
        assert_eq!(
            find("category", "community", "lift").as_deref(),
            Some("-0.33")
        );
        assert_eq!(find("hour", "tue 20", "per_post").as_deref(), Some("13.3"));
        assert_eq!(
            find("lead_funnel", "contact", "leads").as_deref(),
            Some("1")
        );
        assert_eq!(
            find("crisis", "brand-20261201T0200", "resolved_at").as_deref(),
            Some("")
        );
        assert_eq!(
            find("crisis", "brand-20261201T0200", "opened_at").as_deref(),
            Some("2026-12-01T02:00:00+00:00")
        );
        // The channel named like an attack comes back as it was: quoting, not mangling.
        assert_eq!(
            find("channel", "<script>alert('x')</script>", "planned").as_deref(),
            Some("10")
        );
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn quotes_and_formulas_are_safe() {
        let mut r = empty();
        r.channels.push(crate::report::SliceRow {
            name: "=HYPERLINK(\"x\"),\n2".into(),
            planned: 1,
            published: 0,
            engagement: 0,
            per_post: None,
            clicks: 0,
        });
        let text = to_csv(&r);
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\"),\n2\""), "{text}");
        let rows = read(&text);
        let row = rows
            .iter()
            .find(|row| row[1] == "channel" && row[3] == "per_post")
            .cloned()
            .unwrap_or_default();
        assert_eq!(row[2], "'=HYPERLINK(\"x\"),\n2");
        assert_eq!(row[4], "", "no reading: an empty cell");
        // An empty week: the weeks, the replies and the funnel, all zero, no NaN.
        let rows = read(&to_csv(&empty()));
        assert_eq!(rows.len(), 1 + 55 + 7 + 4);
        assert!(!to_csv(&empty()).contains("NaN"));
        assert_eq!(V::Float(Some(-0.00001)).cell(), "0");
        assert_eq!(V::Float(Some(f64::NAN)).cell(), "");
        assert_eq!(V::Float(Some(2.5)).cell(), "2.5");
    }
}
