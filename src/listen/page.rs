//! Web page sources: forum threads and search result pages, read by CSS selectors configured
//! per source (`item`, and inside it `text`, `author`, `time`, `link`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use scraper::{Html, Selector};

pub use super::config::{SelectorError, Selectors};
use url::Url;

use super::{Mention, Parsed};

/// Reads a time as forums print it: RFC 3339, `2026-11-22 10:05`, `2026/11/22 10:05`,
/// `2026年11月22日 10:05`, English month names as Django, phpBB and others print them
/// (`Nov. 22, 2026, 10:05 a.m.`, `Sat Nov 22, 2026 10:05 pm`, `22 Nov 2026, 22:05`, `noon`,
/// `midnight`), or a date alone; local times are in `tz`.
pub fn parse_time(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    static DATE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\d{4}[-/年]\d{1,2}[-/月]\d{1,2}(?:日|[T ]?)\s*(?:\d{1,2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?")
            .expect("static regex")
    });
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    // Forums wrap the time in words ("发表于 2026-11-21 20:15"): take the date-like part.
    let Some(found) = DATE.find(raw) else {
        return english_time(raw, tz);
    };
    let s = found.as_str().trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s
        .replace(['年', '月', '/'], "-")
        .replace('日', " ")
        .replace("  ", " ");
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return local(n, tz);
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    local(d.and_hms_opt(0, 0, 0)?, tz)
}

fn local(n: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&n)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A date with an English month name, month first (`Nov. 22, 2026`, `November 22 2026`) or day
/// first (`22 Nov 2026`), with an optional time after it: `10:05`, `10:05:30`, `10:05 p.m.`,
/// `10 pm`, `noon`, `midnight`.
fn english_time(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    const MONTH: &str = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?";
    const TIME: &str = r"(?:,?\s*(?:at\s+)?(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*(?P<ap>[ap])\.?\s?m\b\.?|(?P<h24>\d{1,2}):(?P<m24>\d{2})(?::(?P<s24>\d{2}))?|(?P<noon>noon)|(?P<midnight>midnight)))?";
    static FORMS: std::sync::LazyLock<[regex::Regex; 2]> = std::sync::LazyLock::new(|| {
        [
            format!(
                r"(?i)\b{MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}){TIME}"
            ),
            format!(
                r"(?i)\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{MONTH},?\s+(?P<year>\d{{4}}){TIME}"
            ),
        ]
        .map(|r| regex::Regex::new(&r).expect("static regex"))
    });
    let c = FORMS.iter().find_map(|r| r.captures(raw))?;
    let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| c["mon"].eq_ignore_ascii_case(m))? as u32
        + 1;
    let date = NaiveDate::from_ymd_opt(num("year")? as i32, month, num("day")?)?;
    let (h, m, s) = if let Some(h) = num("h") {
        let pm = c["ap"].eq_ignore_ascii_case("p");
        if !(1..=12).contains(&h) {
            return None;
        }
        let h = h % 12 + if pm { 12 } else { 0 };
        (h, num("m").unwrap_or(0), num("s").unwrap_or(0))
    } else if let Some(h) = num("h24") {
        (h, num("m24")?, num("s24").unwrap_or(0))
    } else if c.name("noon").is_some() {
        (12, 0, 0)
    } else {
        (0, 0, 0)
    };
    local(date.and_hms_opt(h, m, s)?, tz)
}

/// The text of an element as a reader sees it: inline elements (`<strong>`, `<a>`) run on
/// without a space, so "减速，<strong>刹车失灵</strong>了" stays one phrase; block elements and
/// `<br>` separate words; scripts and styles are not text. Whitespace is collapsed later.
fn element_text(e: scraper::ElementRef) -> String {
    const BLOCKS: &[&str] = &[
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ];
    // Depth-first with a stack of its own: a hostile page may nest deeper than a thread's stack.
    let mut out = String::new();
    let mut stack = vec![(*e, false)];
    while let Some((node, closing)) = stack.pop() {
        let Some(el) = node.value().as_element() else {
            if let Some(text) = node.value().as_text() {
                out.push_str(text);
            }
            continue;
        };
        let name = el.name();
        if BLOCKS.contains(&name) {
            out.push(' ');
        }
        if closing || matches!(name, "script" | "style" | "template") {
            continue;
        }
        stack.push((node, true));
        stack.extend(node.children().rev().map(|c| (c, false)));
    }
    out
}

/// Parses a page. Items without text are skipped and counted; a page with no item at all is
/// returned empty (the selectors may have gone stale: the caller logs it).
pub fn parse(
    source: &str,
    base: &Url,
    html: &str,
    sel: &Selectors,
    tz: Tz,
    fetched_at: DateTime<Utc>,
) -> Parsed {
    let doc = Html::parse_document(html);
    let mut out = Parsed::default();
    let mut hashes = Vec::new();
    for (i, item) in doc.select(&sel.item).enumerate() {
        let text = item
            .select(&sel.text)
            .map(element_text)
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() {
            out.skipped.push(format!("item {i} has no text"));
            continue;
        }
        let first_text = |s: &Option<Selector>| {
            s.as_ref()
                .and_then(|s| item.select(s).next())
                .map(|e| e.text().collect::<String>().trim().to_string())
                .filter(|t| !t.is_empty())
        };
        let author = first_text(&sel.author).unwrap_or_else(|| "unknown".to_string());
        let time_el = sel.time.as_ref().and_then(|s| item.select(s).next());
        // Machine-readable attributes first (`datetime`, a `title` holding the full time behind
        // a relative "昨天 21:02"), on the element or inside it; then its text.
        let created_at = time_el
            .and_then(|e| {
                let attrs = std::iter::once(e)
                    .chain(e.descendants().filter_map(scraper::ElementRef::wrap))
                    .flat_map(|el| {
                        ["datetime", "title"]
                            .into_iter()
                            .filter_map(move |a| el.value().attr(a))
                    })
                    .map(str::to_string);
                attrs
                    .chain(std::iter::once(e.text().collect::<String>()))
                    .find_map(|t| parse_time(&t, tz))
            })
            .unwrap_or(fetched_at);
        let url = sel
            .link
            .as_ref()
            .and_then(|s| item.select(s).next())
            // A link's `href`, or the `value` of an input holding a share link (Spirit).
            .and_then(|a| a.value().attr("href").or_else(|| a.value().attr("value")))
            .and_then(|h| base.join(h).ok())
            .map(String::from);
        let h = crate::fnv1a(format!("{author}\u{0}{created_at}\u{0}{text}").as_bytes());
        // A stable id: the item's link if it has one, else its author, time and text.
        let key = url.clone().unwrap_or_else(|| format!("{h:016x}"));
        out.mentions.push(Mention {
            id: format!("page:{source}:{key}"),
            platform: "forum".to_string(),
            author,
            text,
            created_at,
            url,
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        });
        hashes.push(h);
    }
    // Items that share a link (a search page lists every matching post of a thread under the
    // thread's link) are told apart by their author, time and text, or all but one would be
    // taken for duplicates. Should a later poll find one such item alone, its id is the bare
    // link again: the store's dedup by author and text keeps it from being stored twice.
    let mut seen = std::collections::HashMap::new();
    for m in &out.mentions {
        if let Some(u) = &m.url {
            *seen.entry(u.clone()).or_insert(0usize) += 1;
        }
    }
    for (m, h) in out.mentions.iter_mut().zip(hashes) {
        if m.url.as_ref().is_some_and(|u| seen[u] > 1) {
            m.id = format!("{}#{h:016x}", m.id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forum_times_table() {
        let tz = chrono_tz::Asia::Shanghai;
        let cases = [
            ("2026-11-21T12:15:00Z", Some("2026-11-21T12:15:00+00:00")),
            ("发表于 2026-11-21 20:15", Some("2026-11-21T12:15:00+00:00")),
            ("2026/11/21 20:15:30", Some("2026-11-21T12:15:30+00:00")),
            ("2026年11月21日 20:15", Some("2026-11-21T12:15:00+00:00")),
            ("2026-11-21", Some("2026-11-20T16:00:00+00:00")),
            ("昨天 21:02", None),
            ("", None),
            // Django's English DATETIME_FORMAT ("N j, Y, P"), as machina and Spirit print it.
            (
                "By: Mike on Nov. 20, 2026, 9:05 p.m.",
                Some("2026-11-20T13:05:00+00:00"),
            ),
            (
                "Nov. 21, 2026, 10:12 a.m.",
                Some("2026-11-21T02:12:00+00:00"),
            ),
            ("March 3, 2026, 9 a.m.", Some("2026-03-03T01:00:00+00:00")),
            ("Sept. 30, 2026, noon", Some("2026-09-30T04:00:00+00:00")),
            ("Dec. 1, 2026, midnight", Some("2026-11-30T16:00:00+00:00")),
            (
                "Jan. 5, 2026, 12:30 a.m.",
                Some("2026-01-04T16:30:00+00:00"),
            ),
            (
                "Jan. 5, 2026, 12:30 p.m.",
                Some("2026-01-05T04:30:00+00:00"),
            ),
            // phpBB's default ("D M d, Y g:i a") and a day-first form.
            (
                "Sat Nov 21, 2026 8:15 pm",
                Some("2026-11-21T12:15:00+00:00"),
            ),
            ("21 Nov 2026, 20:15", Some("2026-11-21T12:15:00+00:00")),
            ("21st November 2026", Some("2026-11-20T16:00:00+00:00")),
            ("Nov. 31, 2026", None),
            ("Nov. 21, 2026, 13 p.m.", None),
            ("remember 12 May", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_time(raw, tz).map(|t| t.to_rfc3339()),
                want.map(str::to_string),
                "{raw}"
            );
        }
    }

    fn parse_one(html: &str, sel: &Selectors) -> Parsed {
        let fetched = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let base = "https://bbs.example/t/1?page=2".parse().expect("url");
        parse("s", &base, html, sel, chrono_tz::UTC, fetched)
    }

    #[test]
    fn inline_markup_runs_on_and_blocks_separate() {
        let sel = Selectors::new("div.post", ".body", None, None, None).expect("selectors");
        let parsed = parse_one(
            "<div class=post><div class=body><p>车几乎没有减速，<strong>刹车失灵</strong>了<a href=/u/1>@老王</a>。</p>\
             <ul><li>one</li><li>two</li></ul>line<br>break<script>var x = 1;</script>\
             <style>p {}</style> &lt;b&gt; &amp; 😅</div></div>",
            &sel,
        );
        assert_eq!(
            parsed.mentions[0].text,
            "车几乎没有减速，刹车失灵了@老王。 one two line break <b> & 😅"
        );
    }

    #[test]
    fn a_share_input_is_a_link_and_shared_links_get_distinct_ids() {
        let sel = Selectors::new("div.post", "p", None, None, Some("a.l, input.share"))
            .expect("selectors");
        let parsed = parse_one(
            "<div class=post><p>one</p><input class=share value=\"/comment/1/find/\"></div>\
             <div class=post><p>two</p><a class=l href=\"/topic/9/\">t</a></div>\
             <div class=post><p>three</p><a class=l href=\"/topic/9/\">t</a></div>",
            &sel,
        );
        let urls: Vec<_> = parsed.mentions.iter().map(|m| m.url.as_deref()).collect();
        assert_eq!(
            urls,
            [
                Some("https://bbs.example/comment/1/find/"),
                Some("https://bbs.example/topic/9/"),
                Some("https://bbs.example/topic/9/"),
            ]
        );
        let ids: Vec<_> = parsed.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids[0], "page:s:https://bbs.example/comment/1/find/");
        assert!(
            ids[1].starts_with("page:s:https://bbs.example/topic/9/#"),
            "{ids:?}"
        );
        assert!(
            ids[2].starts_with("page:s:https://bbs.example/topic/9/#"),
            "{ids:?}"
        );
        assert_ne!(ids[1], ids[2]);
        // The same page read again gives the same ids.
        let again = parse_one(
            "<div class=post><p>one</p><input class=share value=\"/comment/1/find/\"></div>\
             <div class=post><p>two</p><a class=l href=\"/topic/9/\">t</a></div>\
             <div class=post><p>three</p><a class=l href=\"/topic/9/\">t</a></div>",
            &sel,
        );
        let again: Vec<_> = again.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, again);
    }
}
