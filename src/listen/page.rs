//! Web page sources: forum threads and search result pages, read by CSS selectors configured
//! per source (`item`, and inside it `text`, `author`, `time`, `link`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use scraper::{Html, Selector};
use url::Url;

use super::{Mention, Parsed};

/// The selectors of one page source, compiled.
#[derive(Debug, Clone)]
pub struct Selectors {
    pub item: Selector,
    pub text: Selector,
    pub author: Option<Selector>,
    pub time: Option<Selector>,
    pub link: Option<Selector>,
}

impl Selectors {
    /// Compiles selectors, saying which one is wrong.
    pub fn new(
        item: &str,
        text: &str,
        author: Option<&str>,
        time: Option<&str>,
        link: Option<&str>,
    ) -> Result<Self, String> {
        let one = |name: &str, css: &str| {
            Selector::parse(css).map_err(|e| format!("{name}: {css:?} is not a CSS selector: {e}"))
        };
        Ok(Self {
            item: one("item", item)?,
            text: one("text", text)?,
            author: author.map(|a| one("author", a)).transpose()?,
            time: time.map(|t| one("time", t)).transpose()?,
            link: link.map(|l| one("link", l)).transpose()?,
        })
    }
}

/// Reads a time as forums print it: RFC 3339, `2026-11-22 10:05`, `2026/11/22 10:05`,
/// `2026年11月22日 10:05`, or a date alone; local times are in `tz`.
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
    let s = DATE.find(raw)?.as_str().trim();
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
            return tz
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
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
    for (i, item) in doc.select(&sel.item).enumerate() {
        let text = item
            .select(&sel.text)
            .map(|e| e.text().collect::<Vec<_>>().join(" "))
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
            .and_then(|a| a.value().attr("href"))
            .and_then(|h| base.join(h).ok())
            .map(String::from);
        // A stable id: the item's link if it has one, else its author, time and text.
        let key = url.clone().unwrap_or_else(|| {
            let h = crate::fnv1a(format!("{author}\u{0}{created_at}\u{0}{text}").as_bytes());
            format!("{h:016x}")
        });
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
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_time(raw, tz).map(|t| t.to_rfc3339()),
                want.map(str::to_string),
                "{raw}"
            );
        }
    }
}
