//! The negative-volume chart of the Alerts pages: mentions counted per time bucket (pure), drawn
//! as an inline SVG of bars, with axis labels and a marker where alerts opened or escalated.
//!
//! It owns no data access: the caller passes `(time, negative)` points read from the store. The
//! SVG needs no script and no fetch, and carries no `style` attribute (the Content-Security-
//! Policy allows neither inline script nor inline style): `app.css` colours it through classes.
//! The template inserts the SVG unescaped, so every piece of text in it goes through
//! [`super::escape`] here.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::escape;

/// The most buckets a chart has; a longer span gets wider buckets ([`bucket_for`]).
pub const MAX_BUCKETS: i64 = 144;

/// Mentions counted in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's start (it covers `[start, start + width)`).
    pub start: DateTime<Utc>,
    /// Negative mentions in it.
    pub negative: u64,
    /// All mentions in it.
    pub total: u64,
}

/// A moment marked on the chart (an alert opening, an escalation, a resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// When.
    pub at: DateTime<Utc>,
    /// The short text above the line (a level).
    pub label: String,
    /// The tooltip (an alert id and time).
    pub title: String,
    /// A CSS class: `crisis`, `warning` or `resolved`.
    pub class: &'static str,
}

/// The chart's words, in the page's language.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// What the whole chart shows (for screen readers).
    pub title: &'a str,
    /// "negative".
    pub negative: &'a str,
    /// "total".
    pub total: &'a str,
}

/// The smallest multiple of `base` that covers `span` in at most [`MAX_BUCKETS`] buckets.
pub fn bucket_for(span: TimeDelta, base: TimeDelta) -> TimeDelta {
    let base_s = base.num_seconds().max(60);
    let needed = (span.num_seconds().max(1) + MAX_BUCKETS - 1) / MAX_BUCKETS;
    let k = ((needed + base_s - 1) / base_s).max(1);
    TimeDelta::seconds(k * base_s)
}

/// The start of the bucket of width `width` holding `at` (buckets are aligned to the Unix
/// epoch, as the spike detector's are).
pub fn floor(at: DateTime<Utc>, width: TimeDelta) -> DateTime<Utc> {
    let w = width.num_seconds().max(1);
    let s = at.timestamp().div_euclid(w) * w;
    DateTime::from_timestamp(s, 0).unwrap_or(at)
}

/// Counts `points` (`(posted at, negative)`) into buckets of `width` from the bucket holding
/// `from` up to the one holding the instant before `to`, at most [`MAX_BUCKETS`] (later ones are
/// dropped). Points outside the buckets are ignored. Empty when `to <= from`.
pub fn buckets(
    points: impl IntoIterator<Item = (DateTime<Utc>, bool)>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    width: TimeDelta,
) -> Vec<Bucket> {
    if to <= from || width <= TimeDelta::zero() {
        return Vec::new();
    }
    let start = floor(from, width);
    let w = width.num_seconds().max(1);
    let n = ((to - start).num_seconds() + w - 1) / w;
    let n = n.clamp(1, MAX_BUCKETS);
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: start + TimeDelta::seconds(i * w),
            negative: 0,
            total: 0,
        })
        .collect();
    for (at, negative) in points {
        let offset = (at - start).num_seconds();
        if offset < 0 {
            continue;
        }
        if let Some(b) = usize::try_from(offset / w)
            .ok()
            .and_then(|i| out.get_mut(i))
        {
            b.total += 1;
            b.negative += u64::from(negative);
        }
    }
    out
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `n` (at least 1).
pub fn nice_ceiling(n: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= n {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
        if p == u64::MAX {
            return n;
        }
    }
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 26.0;
/// At most this many time labels under the x axis.
const X_LABELS: usize = 8;

/// Draws `series` (buckets of `width`, from [`buckets`]) as an SVG: one `<g class="bucket">` per
/// bucket with a total bar and a negative bar over it, a y axis from 0 to a round maximum, time
/// labels in `tz`, and a dashed line per marker inside the span. Empty for an empty series.
pub fn svg<Tz: TimeZone>(
    series: &[Bucket],
    width: TimeDelta,
    markers: &[Marker],
    tz: &Tz,
    labels: Labels<'_>,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let Some(first) = series.first() else {
        return String::new();
    };
    let n = series.len();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.8).max(1.0);
    let ymax = nice_ceiling(series.iter().map(|b| b.total).max().unwrap_or(0).max(1));
    let height = |v: u64| plot_h * v as f64 / ymax as f64;
    let local = |t: DateTime<Utc>| t.with_timezone(tz);
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = escape(labels.title)
    );
    // The y axis: gridlines and their counts.
    let mut ticks = vec![0, ymax];
    if ymax >= 2 && ymax % 2 == 0 {
        ticks.insert(1, ymax / 2);
    }
    for v in ticks {
        let y = base - height(v);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis y\" x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
            x2 = WIDTH - RIGHT,
            x = LEFT - 6.0,
            ty = y + 4.0,
        );
    }
    // The bars.
    for (i, b) in series.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let (ht, hn) = (height(b.total), height(b.negative));
        let _ = write!(
            s,
            "<g class=\"bucket\"><title>{when} · {neg_l} {neg} / {tot_l} {tot}</title>\
             <rect class=\"total\" x=\"{x:.1}\" y=\"{yt:.1}\" width=\"{bar:.1}\" height=\"{ht:.1}\"/>\
             <rect class=\"neg\" x=\"{x:.1}\" y=\"{yn:.1}\" width=\"{bar:.1}\" height=\"{hn:.1}\"/></g>",
            when = escape(&local(b.start).format("%m-%d %H:%M").to_string()),
            neg_l = escape(labels.negative),
            neg = b.negative,
            tot_l = escape(labels.total),
            tot = b.total,
            yt = base - ht,
            yn = base - hn,
        );
    }
    // The x axis: a line and up to X_LABELS times, with the date where the day changes.
    let _ = write!(
        s,
        "<line class=\"axis-line\" x1=\"{LEFT}\" x2=\"{x2:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\"/>",
        x2 = WIDTH - RIGHT
    );
    let step = n.div_ceil(X_LABELS).max(1);
    let mut last_day = None;
    for (i, b) in series.iter().enumerate().step_by(step) {
        let t = local(b.start);
        let day = t.date_naive();
        let text = if last_day == Some(day) {
            t.format("%H:%M").to_string()
        } else {
            t.format("%m-%d %H:%M").to_string()
        };
        last_day = Some(day);
        let x = LEFT + i as f64 * slot;
        let _ = write!(
            s,
            "<text class=\"axis x\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"start\">{}</text>",
            escape(&text),
            y = base + 16.0,
        );
    }
    // Markers inside the span; a label too close to the previous one goes a line higher.
    let span_end = first.start + width * n as i32;
    let mut last_x = f64::NEG_INFINITY;
    let mut raised = false;
    let mut inside: Vec<&Marker> = markers.iter().collect();
    inside.sort_by_key(|m| m.at);
    for m in inside {
        if m.at < first.start || m.at >= span_end {
            continue;
        }
        let offset = (m.at - first.start).num_seconds() as f64 / width.num_seconds().max(1) as f64;
        let x = LEFT + offset * slot;
        raised = x - last_x < 56.0 && !raised;
        last_x = x;
        let ty = if raised { TOP - 17.0 } else { TOP - 6.0 };
        let _ = write!(
            s,
            "<g class=\"marker {class}\"><title>{title}</title>\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{base:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{label}</text></g>",
            class = escape(m.class),
            title = escape(&m.title),
            label = escape(&m.label),
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn points_fall_into_epoch_aligned_buckets() {
        let hour = TimeDelta::hours(1);
        let points = [
            (t("2026-11-23T07:59:59Z"), true),  // before the first bucket
            (t("2026-11-23T08:00:00Z"), true),  // first bucket, its first instant
            (t("2026-11-23T08:59:59Z"), false), // still the first
            (t("2026-11-23T09:30:00Z"), true),
            (t("2026-11-23T09:45:00Z"), true),
            (t("2026-11-23T11:15:00Z"), false), // the last bucket
            (t("2026-11-23T12:00:00Z"), true),  // after the last
        ];
        // `from` inside a bucket: the series starts at that bucket's start.
        let b = buckets(
            points,
            t("2026-11-23T08:20:00Z"),
            t("2026-11-23T11:30:00Z"),
            hour,
        );
        let got: Vec<(String, u64, u64)> = b
            .iter()
            .map(|b| (b.start.format("%H:%M").to_string(), b.negative, b.total))
            .collect();
        assert_eq!(
            got,
            [
                ("08:00".to_string(), 1, 2),
                ("09:00".to_string(), 2, 2),
                ("10:00".to_string(), 0, 0),
                ("11:00".to_string(), 0, 1),
            ]
        );
        assert!(buckets(
            [],
            t("2026-11-23T08:00:00Z"),
            t("2026-11-23T08:00:00Z"),
            hour
        )
        .is_empty());
        assert_eq!(
            buckets(
                [],
                t("2026-11-20T00:00:00Z"),
                t("2026-11-23T00:00:00Z"),
                TimeDelta::minutes(5)
            )
            .len(),
            MAX_BUCKETS as usize,
            "capped"
        );
    }

    #[test]
    fn wide_spans_get_wider_buckets_in_multiples_of_the_base() {
        let five = TimeDelta::minutes(5);
        assert_eq!(
            bucket_for(TimeDelta::hours(6), five),
            five,
            "72 buckets fit"
        );
        assert_eq!(bucket_for(TimeDelta::hours(12), five), five, "144 fit");
        assert_eq!(
            bucket_for(TimeDelta::hours(13), five),
            TimeDelta::minutes(10)
        );
        assert_eq!(bucket_for(TimeDelta::days(3), five), TimeDelta::minutes(30));
        for span in [
            TimeDelta::hours(13),
            TimeDelta::days(3),
            TimeDelta::days(40),
        ] {
            let w = bucket_for(span, five);
            assert_eq!(w.num_seconds() % 300, 0);
            assert!(span.num_seconds() / w.num_seconds() <= MAX_BUCKETS);
        }
    }

    #[test]
    fn round_maxima() {
        let cases = [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 5),
            (7, 10),
            (11, 20),
            (20, 20),
            (51, 100),
        ];
        for (n, want) in cases {
            assert_eq!(nice_ceiling(n), want, "{n}");
        }
    }

    #[test]
    fn the_svg_has_a_bar_pair_per_bucket_labels_and_markers_in_the_span() {
        let hour = TimeDelta::hours(1);
        let from = t("2026-11-22T02:00:00Z");
        let points = (0..30).map(|i| (from + TimeDelta::minutes(i * 40), i % 3 == 0));
        let series = buckets(points, from, from + TimeDelta::hours(24), hour);
        assert_eq!(series.len(), 24);
        let markers = [
            Marker {
                at: from + TimeDelta::minutes(150),
                label: "crisis".into(),
                title: "brand-20261122T0430 <opened>".into(),
                class: "crisis",
            },
            Marker {
                at: from + TimeDelta::minutes(170), // close to the first: its label goes higher
                label: "resolved".into(),
                title: "resolved".into(),
                class: "resolved",
            },
            Marker {
                at: from + TimeDelta::hours(30), // after the span: not drawn
                label: "warning".into(),
                title: "later".into(),
                class: "warning",
            },
        ];
        let labels = Labels {
            title: "Negative & total <per hour>",
            negative: "negative",
            total: "total",
        };
        let out = svg(&series, hour, &markers, &chrono_tz::Asia::Shanghai, labels);
        assert!(out.starts_with("<svg class=\"chart\"") && out.ends_with("</svg>"));
        assert_eq!(out.matches("<g class=\"bucket\">").count(), 24);
        assert_eq!(out.matches("<rect class=\"total\"").count(), 24);
        assert_eq!(out.matches("<rect class=\"neg\"").count(), 24);
        assert_eq!(out.matches("<g class=\"marker ").count(), 2);
        assert_eq!(out.matches("text-anchor=\"middle\">").count(), 2);
        assert!(
            out.contains("y=\"24.0\" text-anchor=\"middle\">crisis</text>"),
            "{out}"
        );
        assert!(
            out.contains("y=\"13.0\" text-anchor=\"middle\">resolved</text>"),
            "{out}"
        );
        assert!(out.contains(
            "<g class=\"marker crisis\"><title>brand-20261122T0430 &lt;opened&gt;</title>"
        ));
        assert_eq!(
            out.matches("class=\"axis x\"").count(),
            8,
            "24 buckets, every third labelled"
        );
        // Local time: 02:00 UTC is 10:00 in Shanghai; the date shows where the day changes.
        assert!(out.contains(">11-22 10:00</text>"), "{out}");
        assert!(out.contains(">11-23 01:00</text>"), "{out}");
        assert!(out.contains("Negative &amp; total &lt;per hour&gt;"));
        assert!(
            out.contains("<title>11-22 10:00 · negative 1 / total 2</title>"),
            "{out}"
        );
        assert!(
            !out.contains("style="),
            "no inline style: the CSP forbids it"
        );
        assert!(!out.contains("<script"));
        assert!(
            out.contains(">2</text>"),
            "the y axis tops out at a round count"
        );
        assert!(svg(&[], hour, &markers, &Utc, labels).is_empty());
    }
}
