//! The weekly report's charts, drawn on the server as inline SVG: the five-week trend, the
//! categories against the mix, the weekday × hour heatmap, sentiment per day, the crisis
//! timeline and the leads funnel.
//!
//! Each chart is a pure function of rows of the [`WeekReport`](super::WeekReport) and the words
//! of the page's language (`words(key)`, from [`super::html`]). The SVG needs no script and no
//! fetch and carries no `style` attribute (the web UI's Content-Security-Policy forbids inline
//! style): colours are SVG presentation attributes (`fill=`), so the same SVG reads the same in
//! the web page and in an e-mailed file. Its classes (`report-chart`, `chart-legend`, …) are
//! its own, so the web UI's rules for the Alerts chart (`svg.chart`) leave it alone. Every piece
//! of text goes through [`escape`]; every number drawn is finite (no data draws nothing, never
//! `NaN`). A chart with nothing to show is the empty string: the caller says so in words.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};

use super::{CategoryRow, CrisisRow, DayRow, HourCell, LeadFigures, WeekFigures};

/// The words of a chart, by key, in the page's language.
pub type Words<'a> = &'a dyn Fn(&str) -> String;

const WIDTH: f64 = 760.0;
const MUTED: &str = "#66717c";
const LINE: &str = "#d9dee3";
const PLANNED: &str = "#cfd8e3";
const PUBLISHED: &str = "#0b62c4";
const PER_POST: &str = "#e65100";
const NEGATIVE: &str = "#b3261e";
const POSITIVE: &str = "#2e7d32";
const NEUTRAL: &str = "#cfd8e3";
const EMPTY_CELL: &str = "#f4f6f8";
const INK: &str = "#1d2329";

pub use crate::untrusted::html as escape;

/// A coordinate or size for SVG: one decimal, and 0 for anything not finite.
fn n(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "0.0".into()
    }
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `v` (at least 1).
pub fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let mut p = 1.0f64;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * p >= v {
                return m * p;
            }
        }
        p *= 10.0;
        if !p.is_finite() {
            return v;
        }
    }
}

/// A figure for a label: whole numbers plain, others with one decimal.
pub fn figure(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A signed percentage (`+25 %`, `-10 %`) of a fraction.
pub fn signed_pct(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let p = (v * 100.0).round();
    if p > 0.0 {
        format!("+{p:.0} %")
    } else {
        format!("{p:.0} %")
    }
}

fn open(s: &mut String, class: &str, height: f64, title: &str) {
    let _ = write!(
        s,
        "<svg class=\"report-chart {class}\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" font-family=\"sans-serif\" \
         font-size=\"11\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        h = n(height),
        t = escape(title)
    );
}

fn text(s: &mut String, class: &str, x: f64, y: f64, anchor: &str, body: &str) {
    let _ = write!(
        s,
        "<text class=\"{class}\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"{MUTED}\">{}</text>",
        n(x),
        n(y),
        escape(body)
    );
}

fn rect(s: &mut String, class: &str, x: f64, y: f64, w: f64, h: f64, fill: &str) {
    let _ = write!(
        s,
        "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"/>",
        n(x),
        n(y),
        n(w.max(0.0)),
        n(h.max(0.0))
    );
}

fn hline(s: &mut String, class: &str, x1: f64, x2: f64, y: f64, stroke: &str) {
    let _ = write!(
        s,
        "<line class=\"{class}\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{stroke}\"/>",
        n(x1),
        n(x2),
        n(y),
        n(y)
    );
}

/// A row of legend keys at the top left: `(colour, words)`.
fn legend(s: &mut String, x0: f64, y: f64, keys: &[(&str, String)]) {
    let mut x = x0;
    for (fill, word) in keys {
        rect(s, "legend-key", x, y - 9.0, 10.0, 10.0, fill);
        text(s, "chart-legend", x + 14.0, y, "start", word);
        // Wide (CJK) characters take about twice the room of Latin ones.
        x += 24.0 + 6.5 * unicode_width::UnicodeWidthStr::width(word.as_str()) as f64;
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

/// The five-week trend, oldest week left: planned and published posts as bars on the left
/// axis, engagement per post as a line on the right axis; the reported week (the first of
/// `weeks`) is marked. Empty without weeks.
pub fn trend(weeks: &[WeekFigures], words: Words<'_>) -> String {
    if weeks.is_empty() {
        return String::new();
    }
    let (height, top, bottom, left, right) = (240.0, 34.0, 26.0, 44.0, 48.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let base = top + plot_h;
    let ordered: Vec<&WeekFigures> = weeks.iter().rev().collect();
    let count_max = nice_ceiling(
        ordered
            .iter()
            .map(|w| f64::from(w.planned.max(w.published)))
            .fold(0.0, f64::max),
    );
    let pp_max = nice_ceiling(
        ordered
            .iter()
            .filter_map(|w| finite(w.per_post))
            .fold(0.0, f64::max),
    );
    let slot = plot_w / ordered.len() as f64;
    let mut s = String::new();
    open(&mut s, "trend", height, &words("chart.trend"));
    legend(
        &mut s,
        left,
        14.0,
        &[
            (PLANNED, words("fig.planned")),
            (PUBLISHED, words("fig.published")),
            (PER_POST, words("fig.per_post")),
        ],
    );
    for (v, y) in [
        (0.0, base),
        (count_max / 2.0, base - plot_h / 2.0),
        (count_max, top),
    ] {
        // Counts are whole: no half-post gridline under a maximum of 1.
        if v.fract() != 0.0 {
            continue;
        }
        hline(&mut s, "grid", left, WIDTH - right, y, LINE);
        text(&mut s, "axis y", left - 6.0, y + 4.0, "end", &figure(v));
    }
    for (v, y) in [
        (0.0, base),
        (pp_max / 2.0, base - plot_h / 2.0),
        (pp_max, top),
    ] {
        text(
            &mut s,
            "axis y2",
            WIDTH - right + 6.0,
            y + 4.0,
            "start",
            &figure(v),
        );
    }
    let mut points = Vec::new();
    for (i, w) in ordered.iter().enumerate() {
        let current = i + 1 == ordered.len();
        let x0 = left + i as f64 * slot;
        let bar = slot * 0.5;
        let hp = plot_h * f64::from(w.planned) / count_max;
        let hq = plot_h * f64::from(w.published) / count_max;
        let _ = write!(
            s,
            "<g class=\"week{cur}\"><title>{wk} · {pl} {p} · {pu} {q} · {pp} {v}</title>",
            cur = if current { " current" } else { "" },
            wk = escape(&w.week.format("%Y-%m-%d").to_string()),
            pl = escape(&words("fig.planned")),
            p = w.planned,
            pu = escape(&words("fig.published")),
            q = w.published,
            pp = escape(&words("fig.per_post")),
            v = finite(w.per_post).map_or("–".into(), figure),
        );
        rect(
            &mut s,
            "planned",
            x0 + (slot - bar) / 2.0,
            base - hp,
            bar,
            hp,
            PLANNED,
        );
        rect(
            &mut s,
            "published",
            x0 + (slot - bar * 0.6) / 2.0,
            base - hq,
            bar * 0.6,
            hq,
            PUBLISHED,
        );
        s.push_str("</g>");
        let label = w.week.format("%m-%d").to_string();
        let label = if current {
            format!("{label} ({})", words("chart.this_week"))
        } else {
            label
        };
        text(
            &mut s,
            if current { "axis x current" } else { "axis x" },
            x0 + slot / 2.0,
            base + 16.0,
            "middle",
            &label,
        );
        if let Some(v) = finite(w.per_post) {
            points.push((x0 + slot / 2.0, base - plot_h * v / pp_max));
        }
    }
    hline(&mut s, "axis-line", left, WIDTH - right, base, MUTED);
    if points.len() > 1 {
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"per-post\" fill=\"none\" stroke=\"{PER_POST}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
    }
    for (x, y) in points {
        let _ = write!(
            s,
            "<circle class=\"per-post\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{PER_POST}\"/>",
            n(x),
            n(y)
        );
    }
    s.push_str("</svg>");
    s
}

/// The categories of the week: planned and published posts as bars, the count the `[mix]`
/// target asks for (its share of the week's published posts, or of the planned ones when none
/// was published) as a dark tick, and each category's lift as a bar either side of zero.
/// Empty without categories.
pub fn categories(rows: &[CategoryRow], words: Words<'_>) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let (top, row_h, label_w) = (30.0, 30.0, 130.0);
    let height = top + row_h * rows.len() as f64 + 24.0;
    let (mix_x, mix_w) = (label_w, 380.0);
    let (lift_x, lift_w) = (mix_x + mix_w + 50.0, WIDTH - (mix_x + mix_w + 50.0) - 20.0);
    let published: u32 = rows.iter().map(|r| r.published).sum();
    let planned: u32 = rows.iter().map(|r| r.planned).sum();
    let base_total = if published > 0 { published } else { planned };
    let target = |r: &CategoryRow| f64::from(r.target_pct) * f64::from(base_total) / 100.0;
    let count_max = nice_ceiling(
        rows.iter()
            .map(|r| f64::from(r.planned.max(r.published)).max(target(r)))
            .fold(0.0, f64::max),
    );
    let lift_max = rows
        .iter()
        .filter_map(|r| finite(r.lift))
        .map(f64::abs)
        .fold(0.1, f64::max);
    let scale = |v: f64| mix_w * v / count_max;
    let mut s = String::new();
    open(&mut s, "categories", height, &words("chart.categories"));
    legend(
        &mut s,
        mix_x,
        14.0,
        &[
            (PLANNED, words("fig.planned")),
            (PUBLISHED, words("fig.published")),
            (INK, words("fig.target")),
        ],
    );
    text(
        &mut s,
        "chart-legend",
        lift_x + lift_w / 2.0,
        14.0,
        "middle",
        &words("fig.lift"),
    );
    let zero = lift_x + lift_w / 2.0;
    let bottom = top + row_h * rows.len() as f64;
    let _ = write!(
        s,
        "<line class=\"zero\" x1=\"{z}\" x2=\"{z}\" y1=\"{}\" y2=\"{}\" stroke=\"{MUTED}\"/>",
        n(top - 4.0),
        n(bottom),
        z = n(zero)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = write!(
            s,
            "<g class=\"category\"><title>{c} · {pl} {p} · {pu} {q} · {tg} {t} % · {lf} {l}</title>",
            c = escape(&r.category),
            pl = escape(&words("fig.planned")),
            p = r.planned,
            pu = escape(&words("fig.published")),
            q = r.published,
            tg = escape(&words("fig.target")),
            t = r.target_pct,
            lf = escape(&words("fig.lift")),
            l = escape(&finite(r.lift).map_or("–".into(), signed_pct)),
        );
        text(&mut s, "name", label_w - 8.0, y + 18.0, "end", &r.category);
        rect(
            &mut s,
            "planned",
            mix_x,
            y + 4.0,
            scale(f64::from(r.planned)),
            10.0,
            PLANNED,
        );
        rect(
            &mut s,
            "published",
            mix_x,
            y + 14.0,
            scale(f64::from(r.published)),
            10.0,
            PUBLISHED,
        );
        let tx = mix_x + scale(target(r));
        let _ = write!(
            s,
            "<line class=\"target\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"{INK}\" stroke-width=\"2\"/>",
            n(y + 1.0),
            n(y + 27.0),
            x = n(tx)
        );
        text(
            &mut s,
            "count",
            mix_x + scale(f64::from(r.planned.max(r.published))).max(scale(target(r))) + 6.0,
            y + 18.0,
            "start",
            &format!("{}/{}", r.published, r.planned),
        );
        match finite(r.lift) {
            Some(l) => {
                let w = (lift_w / 2.0 - 30.0) * l.abs() / lift_max;
                let (x, fill) = if l >= 0.0 {
                    (zero, POSITIVE)
                } else {
                    (zero - w, NEGATIVE)
                };
                rect(&mut s, "lift", x, y + 6.0, w, 16.0, fill);
                let (tx, anchor) = if l >= 0.0 {
                    (zero + w + 4.0, "start")
                } else {
                    (zero - w - 4.0, "end")
                };
                text(&mut s, "lift-value", tx, y + 18.0, anchor, &signed_pct(l));
            }
            None => text(&mut s, "lift-value", zero + 4.0, y + 18.0, "start", "–"),
        }
        s.push_str("</g>");
    }
    hline(&mut s, "axis-line", mix_x, mix_x + mix_w, bottom, MUTED);
    for v in [0.0, count_max / 2.0, count_max] {
        text(
            &mut s,
            "axis x",
            mix_x + scale(v),
            bottom + 14.0,
            "middle",
            &figure(v),
        );
    }
    s.push_str("</svg>");
    s
}

/// A blue of `0..=1` strength, from near white to the published blue.
fn heat(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(0xe3, 0x0b),
        mix(0xee, 0x62),
        mix(0xfa, 0xc4)
    )
}

/// Engagement per post by local weekday (rows, Monday first) and hour (columns): the darker,
/// the more; a cell with posts but no reading is grey, one without posts pale. `words("day.0")`
/// … `words("day.6")` name the weekdays. Empty without cells.
pub fn heatmap(cells: &[HourCell], words: Words<'_>) -> String {
    if cells.is_empty() {
        return String::new();
    }
    let (left, top, cell_h) = (44.0, 28.0, 24.0);
    let cell_w = (WIDTH - left - 8.0) / 24.0;
    let height = top + 7.0 * cell_h + 8.0;
    let max = cells
        .iter()
        .filter_map(|c| finite(c.per_post))
        .fold(0.0, f64::max);
    let mut s = String::new();
    open(&mut s, "heatmap", height, &words("chart.heatmap"));
    for h in (0..24).step_by(3) {
        text(
            &mut s,
            "axis x",
            left + (f64::from(h) + 0.5) * cell_w,
            top - 8.0,
            "middle",
            &format!("{h:02}"),
        );
    }
    for d in 0..7u8 {
        let y = top + f64::from(d) * cell_h;
        text(
            &mut s,
            "axis y",
            left - 6.0,
            y + cell_h / 2.0 + 4.0,
            "end",
            &words(&format!("day.{d}")),
        );
        for h in 0..24u8 {
            let x = left + f64::from(h) * cell_w;
            match cells.iter().find(|c| c.weekday == d && c.hour == h) {
                None => rect(
                    &mut s,
                    "cell empty",
                    x + 1.0,
                    y + 1.0,
                    cell_w - 2.0,
                    cell_h - 2.0,
                    EMPTY_CELL,
                ),
                Some(c) => {
                    let v = finite(c.per_post);
                    let fill = match v {
                        Some(v) if max > 0.0 => heat(v / max),
                        Some(_) => heat(0.0),
                        None => NEUTRAL.to_string(),
                    };
                    let _ = write!(
                        s,
                        "<g class=\"cell\"><title>{day} {h:02}:00 · {posts} {pl} · {pp} {v}</title>",
                        day = escape(&words(&format!("day.{d}"))),
                        posts = c.posts,
                        pl = escape(&words("fig.posts")),
                        pp = escape(&words("fig.per_post")),
                        v = v.map_or("–".into(), figure),
                    );
                    rect(
                        &mut s,
                        "cell",
                        x + 1.0,
                        y + 1.0,
                        cell_w - 2.0,
                        cell_h - 2.0,
                        &fill,
                    );
                    if let Some(v) = v {
                        let ink = if max > 0.0 && v / max > 0.55 {
                            "#ffffff"
                        } else {
                            INK
                        };
                        let _ = write!(
                            s,
                            "<text class=\"value\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"{ink}\">{}</text>",
                            n(x + cell_w / 2.0),
                            n(y + cell_h / 2.0 + 3.0),
                            escape(&figure(v))
                        );
                    }
                    s.push_str("</g>");
                }
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// Mentions per day, stacked: negative at the bottom, then positive, then the rest. `words`
/// names the weekdays as in [`heatmap`]. Empty without days.
pub fn sentiment(days: &[DayRow], words: Words<'_>) -> String {
    if days.is_empty() {
        return String::new();
    }
    let (height, top, bottom, left, right) = (220.0, 30.0, 26.0, 44.0, 12.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let base = top + plot_h;
    let max = nice_ceiling(
        days.iter()
            .map(|d| f64::from(d.mentions.max(d.negative.saturating_add(d.positive))))
            .fold(0.0, f64::max),
    );
    let slot = plot_w / days.len() as f64;
    let bar = slot * 0.6;
    let mut s = String::new();
    open(&mut s, "sentiment", height, &words("chart.sentiment"));
    legend(
        &mut s,
        left,
        14.0,
        &[
            (NEGATIVE, words("fig.negative")),
            (POSITIVE, words("fig.positive")),
            (NEUTRAL, words("fig.other")),
        ],
    );
    for (v, y) in [(0.0, base), (max / 2.0, base - plot_h / 2.0), (max, top)] {
        if v.fract() != 0.0 {
            continue;
        }
        hline(&mut s, "grid", left, WIDTH - right, y, LINE);
        text(&mut s, "axis y", left - 6.0, y + 4.0, "end", &figure(v));
    }
    for (i, d) in days.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar) / 2.0;
        let other = d
            .mentions
            .saturating_sub(d.negative.saturating_add(d.positive));
        let h = |v: u32| plot_h * f64::from(v) / max;
        let weekday = chrono::Datelike::weekday(&d.date).num_days_from_monday();
        let day = words(&format!("day.{weekday}"));
        let _ = write!(
            s,
            "<g class=\"day-bar\"><title>{day} {date} · {m} {ml} · {neg} {nl} · {pos} {pl}</title>",
            day = escape(&day),
            date = d.date.format("%m-%d"),
            m = d.mentions,
            ml = escape(&words("fig.mentions")),
            neg = d.negative,
            nl = escape(&words("fig.negative")),
            pos = d.positive,
            pl = escape(&words("fig.positive")),
        );
        let mut y = base;
        for (class, v, fill) in [
            ("neg", d.negative, NEGATIVE),
            ("pos", d.positive, POSITIVE),
            ("other", other, NEUTRAL),
        ] {
            y -= h(v);
            rect(&mut s, class, x, y, bar, h(v), fill);
        }
        s.push_str("</g>");
        text(
            &mut s,
            "axis x",
            x + bar / 2.0,
            base + 16.0,
            "middle",
            &format!("{day} {}", d.date.format("%m-%d")),
        );
    }
    hline(&mut s, "axis-line", left, WIDTH - right, base, MUTED);
    s.push_str("</svg>");
    s
}

/// The alerts of the week on a timeline of its seven local days: one lane per alert, a bar
/// from its opening to its resolve (or to `until`, the report's making, or the week's end), a
/// dot where it was acknowledged; crisis red, warning orange. `week` is the local Monday in
/// `tz`. Empty without alerts.
pub fn crises<Tz: TimeZone>(
    rows: &[CrisisRow],
    week: NaiveDate,
    tz: &Tz,
    until: DateTime<Utc>,
    words: Words<'_>,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    if rows.is_empty() {
        return String::new();
    }
    let day_start = |d: NaiveDate| -> DateTime<Utc> {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    };
    let start = day_start(week);
    let end = day_start(week + TimeDelta::days(7));
    let span = (end - start).num_seconds().max(1) as f64;
    let (left, right, top, lane) = (150.0, 12.0, 30.0, 24.0);
    let plot_w = WIDTH - left - right;
    let height = top + lane * rows.len() as f64 + 10.0;
    let x_of = |t: DateTime<Utc>| {
        let off = (t - start).num_seconds() as f64 / span;
        left + plot_w * off.clamp(0.0, 1.0)
    };
    let mut s = String::new();
    open(&mut s, "crises", height, &words("chart.crises"));
    for d in 0..7 {
        let day = week + TimeDelta::days(d);
        let x = x_of(day_start(day));
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"{LINE}\"/>",
            n(top - 4.0),
            n(height - 10.0),
            x = n(x)
        );
        text(
            &mut s,
            "axis x",
            x + 4.0,
            top - 10.0,
            "start",
            &format!("{} {}", words(&format!("day.{d}")), day.format("%m-%d")),
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as f64 * lane;
        let stop = r.resolved_at.unwrap_or(until.min(end));
        let x1 = x_of(r.opened_at);
        let x2 = x_of(stop).max(x1 + 3.0);
        let fill = if r.level == "crisis" {
            "#b00020"
        } else {
            PER_POST
        };
        let local = |t: DateTime<Utc>| t.with_timezone(tz).format("%m-%d %H:%M").to_string();
        let _ = write!(
            s,
            "<g class=\"alert level-{lv}\"><title>{id} · {lvl} · {o} {ot} · {rl} {rt} · {pk} {p}</title>",
            lv = escape(&r.level),
            id = escape(&r.id),
            lvl = escape(&words(&format!("level.{}", r.level))),
            o = escape(&words("fig.opened")),
            ot = escape(&local(r.opened_at)),
            rl = escape(&words("fig.resolved")),
            rt = escape(&r.resolved_at.map_or("–".into(), local)),
            pk = escape(&words("fig.peak_negative")),
            p = r.peak_negative,
        );
        let label: String = r.id.chars().take(22).collect();
        text(&mut s, "name", left - 6.0, y + 16.0, "end", &label);
        rect(&mut s, "span", x1, y + 6.0, x2 - x1, 14.0, fill);
        if let Some(a) = r.acked_at {
            let _ = write!(
                s,
                "<circle class=\"ack\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#ffffff\" stroke=\"{INK}\"/>",
                n(x_of(a)),
                n(y + 13.0)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

/// The leads funnel: found → replied to → with contact details → asked for a test drive, each
/// a bar as long as its share of the largest stage, with its count and its share of the found.
/// Empty when every stage is zero.
pub fn funnel(leads: &LeadFigures, words: Words<'_>) -> String {
    let stages = [
        ("found", leads.found),
        ("replied", leads.replied),
        ("contact", leads.contact),
        ("test_drive", leads.test_drive),
    ];
    let max = stages.iter().map(|(_, v)| *v).max().unwrap_or(0);
    if max == 0 {
        return String::new();
    }
    let (left, top, row_h) = (150.0, 10.0, 30.0);
    let plot_w = WIDTH - left - 120.0;
    let height = top + row_h * stages.len() as f64 + 6.0;
    let mut s = String::new();
    open(&mut s, "funnel", height, &words("chart.funnel"));
    for (i, (key, v)) in stages.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let w = plot_w * f64::from(*v) / f64::from(max);
        let word = words(&format!("funnel.{key}"));
        let share = if leads.found > 0 {
            format!(" ({:.0} %)", 100.0 * f64::from(*v) / f64::from(leads.found))
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "<g class=\"stage {key}\"><title>{} {v}{}</title>",
            escape(&word),
            escape(&share)
        );
        text(&mut s, "name", left - 8.0, y + 18.0, "end", &word);
        rect(
            &mut s,
            "bar",
            left + (plot_w - w) / 2.0,
            y + 4.0,
            w,
            20.0,
            PUBLISHED,
        );
        text(
            &mut s,
            "value",
            left + plot_w + 8.0,
            y + 18.0,
            "start",
            &format!("{v}{share}"),
        );
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(key: &str) -> String {
        format!("<{key}>")
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// Every chart's common promises: one svg, no script, no inline style, no NaN, every
    /// bracket of the words escaped.
    fn sound(svg: &str) {
        assert!(svg.starts_with("<svg class=\"report-chart "), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(!svg.contains("<script"));
        assert!(
            !svg.contains("style="),
            "no inline style: the CSP forbids it"
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(!svg.contains("<fig.") && !svg.contains("<chart."), "{svg}");
    }

    fn week(day: &str, planned: u32, published: u32, per_post: Option<f64>) -> WeekFigures {
        WeekFigures {
            week: d(day),
            planned,
            published,
            per_post,
            ..WeekFigures::default()
        }
    }

    #[test]
    fn the_trend_has_a_bar_pair_per_week_oldest_first_and_a_line_through_the_readings() {
        let weeks = [
            week("2026-11-30", 10, 8, Some(12.5)),
            week("2026-11-23", 10, 10, None),
            week("2026-11-16", 9, 9, Some(7.0)),
            week("2026-11-09", 0, 0, None),
            week("2026-11-02", 12, 11, Some(20.0)),
        ];
        let svg = trend(&weeks, &words);
        sound(&svg);
        assert_eq!(svg.matches("<g class=\"week").count(), 5);
        assert_eq!(svg.matches("<g class=\"week current\">").count(), 1);
        assert_eq!(svg.matches("<circle class=\"per-post\"").count(), 3);
        let first = svg.find(">11-02<").unwrap_or(usize::MAX);
        let last = svg.find(">11-30 (&lt;chart.this_week&gt;)<").unwrap_or(0);
        assert!(first < last, "oldest week left: {svg}");
        // Counts top out at a round 20 (from 12), per post at 20.
        assert!(svg.contains("text-anchor=\"end\" fill=\"#66717c\">20</text>"));
        assert!(svg.contains("text-anchor=\"start\" fill=\"#66717c\">20</text>"));
        assert!(trend(&[], &words).is_empty());
        // A single week with nothing: drawn, no line, no division by zero.
        let svg = trend(&[week("2026-11-30", 0, 0, None)], &words);
        sound(&svg);
        assert!(!svg.contains("polyline") && !svg.contains("<circle"));
    }

    fn cat(
        name: &str,
        target: u32,
        planned: u32,
        published: u32,
        lift: Option<f64>,
    ) -> CategoryRow {
        CategoryRow {
            category: name.into(),
            target_pct: target,
            planned,
            published,
            share_pct: 0.0,
            engagement: 0,
            per_post: None,
            lift,
            clicks: 0,
        }
    }

    #[test]
    fn categories_draw_counts_the_target_tick_and_lift_either_side() {
        let rows = [
            cat("product", 50, 6, 4, Some(0.25)),
            cat("<script>alert(1)</script>", 30, 3, 3, Some(-0.5)),
            cat("events", 20, 1, 1, None),
        ];
        let svg = categories(&rows, &words);
        sound(&svg);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(svg.matches("<g class=\"category\">").count(), 3);
        assert_eq!(svg.matches("<line class=\"target\"").count(), 3);
        assert!(svg.contains(">+25 %</text>") && svg.contains(">-50 %</text>"));
        assert_eq!(svg.matches("<rect class=\"lift\"").count(), 2);
        // The target of product: 50 % of 8 published = 4 posts, on a scale of 10 over 380 px.
        assert!(svg.contains("class=\"target\" x1=\"282.0\""), "{svg}");
        assert!(categories(&[], &words).is_empty());
        let none = [cat("product", 100, 0, 0, None)];
        sound(&categories(&none, &words));
    }

    #[test]
    fn the_heatmap_has_168_cells_and_shades_by_engagement_per_post() {
        let cells = [
            HourCell {
                weekday: 0,
                hour: 9,
                posts: 3,
                engagement: 30,
                per_post: Some(10.0),
            },
            HourCell {
                weekday: 6,
                hour: 23,
                posts: 1,
                engagement: 5,
                per_post: Some(5.0),
            },
            HourCell {
                weekday: 2,
                hour: 12,
                posts: 2,
                engagement: 0,
                per_post: None,
            },
            // Out of range: never drawn, never a panic.
            HourCell {
                weekday: 9,
                hour: 30,
                posts: 1,
                engagement: 1,
                per_post: Some(1.0),
            },
        ];
        let svg = heatmap(&cells, &words);
        sound(&svg);
        assert_eq!(svg.matches("<rect class=\"cell").count(), 168);
        assert_eq!(svg.matches("<g class=\"cell\">").count(), 3);
        assert!(svg.contains(&format!("fill=\"{}\"", heat(1.0))));
        assert!(svg.contains(&format!("fill=\"{}\"", heat(0.5))));
        assert!(svg.contains("<title>&lt;day.0&gt; 09:00 · 3 &lt;fig.posts&gt;"));
        assert_eq!(heat(1.0), "#0b62c4");
        assert_eq!(heat(f64::NAN), heat(0.0));
        assert!(heatmap(&[], &words).is_empty());
        // Posts but no readings anywhere: grey cells, no division by zero.
        sound(&heatmap(&cells[2..3], &words));
    }

    #[test]
    fn sentiment_stacks_negative_positive_and_the_rest_per_day() {
        let days: Vec<DayRow> = (0..7)
            .map(|i| DayRow {
                date: d("2026-11-30") + TimeDelta::days(i),
                mentions: 10,
                negative: u32::try_from(i).unwrap_or(0),
                positive: 2,
            })
            .collect();
        let svg = sentiment(&days, &words);
        sound(&svg);
        assert_eq!(svg.matches("<g class=\"day-bar\">").count(), 7);
        assert_eq!(svg.matches("<rect class=\"neg\"").count(), 7);
        assert!(svg.contains("&lt;day.0&gt; 11-30"));
        assert!(svg.contains("&lt;day.6&gt; 12-06"));
        // More classified than counted (bad input) still draws, with no negative heights.
        let odd = [DayRow {
            date: d("2026-11-30"),
            mentions: 1,
            negative: 3,
            positive: 3,
        }];
        let svg = sentiment(&odd, &words);
        sound(&svg);
        assert!(!svg.contains("height=\"-"));
        assert!(sentiment(&[], &words).is_empty());
    }

    #[test]
    fn crises_lie_on_the_local_week_with_a_lane_each() {
        let rows = [
            CrisisRow {
                id: "brand-<1>".into(),
                level: "crisis".into(),
                opened_at: t("2026-12-01T02:00:00Z"),
                acked_at: Some(t("2026-12-01T03:00:00Z")),
                resolved_at: Some(t("2026-12-01T10:00:00Z")),
                peak_negative: 14,
            },
            CrisisRow {
                id: "product/leaf".into(),
                level: "warning".into(),
                // Opened the week before: drawn from the week's start.
                opened_at: t("2026-11-25T00:00:00Z"),
                acked_at: None,
                resolved_at: None,
                peak_negative: 4,
            },
        ];
        let tz = chrono_tz::Asia::Shanghai;
        let svg = crises(
            &rows,
            d("2026-11-30"),
            &tz,
            t("2026-12-03T00:00:00Z"),
            &words,
        );
        sound(&svg);
        assert_eq!(svg.matches("<g class=\"alert level-").count(), 2);
        assert_eq!(svg.matches("<circle class=\"ack\"").count(), 1);
        assert!(svg.contains("brand-&lt;1&gt;"));
        // Local Monday 00:00 is 2026-11-29T16:00Z; the old alert starts at the left edge.
        assert!(svg.contains("<rect class=\"span\" x=\"150.0\""), "{svg}");
        // Opened 10:00 local on Tuesday: 1 day 10 h into 7 days of 598 px.
        let x = 150.0 + 598.0 * (34.0 / 168.0);
        assert!(
            svg.contains(&format!("<rect class=\"span\" x=\"{x:.1}\"")),
            "{svg}"
        );
        assert!(svg.contains(">&lt;day.0&gt; 11-30</text>"));
        assert!(crises(&[], d("2026-11-30"), &tz, t("2026-12-03T00:00:00Z"), &words).is_empty());
    }

    #[test]
    fn the_funnel_narrows_with_shares_of_the_found() {
        let leads = LeadFigures {
            found: 9,
            replied: 6,
            contact: 2,
            test_drive: 1,
            ..LeadFigures::default()
        };
        let svg = funnel(&leads, &words);
        sound(&svg);
        assert_eq!(svg.matches("<g class=\"stage ").count(), 4);
        assert!(svg.contains(">6 (67 %)</text>"), "{svg}");
        assert!(svg.contains(">1 (11 %)</text>"), "{svg}");
        assert!(funnel(&LeadFigures::default(), &words).is_empty());
        // Later stages larger than the found (bad input): still finite.
        let odd = LeadFigures {
            found: 0,
            replied: 2,
            ..LeadFigures::default()
        };
        sound(&funnel(&odd, &words));
    }

    #[test]
    fn figures_and_ceilings() {
        assert_eq!(figure(3.0), "3");
        assert_eq!(figure(3.26), "3.3");
        assert_eq!(figure(f64::NAN), "–");
        assert_eq!(signed_pct(0.254), "+25 %");
        assert_eq!(signed_pct(-0.1), "-10 %");
        assert_eq!(signed_pct(0.0), "0 %");
        for (v, want) in [
            (0.0, 1.0),
            (0.4, 1.0),
            (3.0, 5.0),
            (12.5, 20.0),
            (51.0, 100.0),
        ] {
            assert_eq!(nice_ceiling(v), want, "{v}");
        }
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(n(f64::INFINITY), "0.0");
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
