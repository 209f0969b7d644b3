//! Source codes (playbook §6): every link in a scheduled post carries tracking parameters naming
//! the channel, the category, the draft and the time, so a click traces back to the post.
//!
//! `utm_source=<channel>`, `utm_medium=social`, `utm_campaign=<category>`,
//! `utm_content=<source code>` with the source code `<channel>.<category>.<stem>.<YYYYMMDD>T<HHMM>`
//! in the plan's local time. Channel, category and stem are slugs, so the code splits on `.`.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use regex::Regex;
use url::Url;

use super::Draft;

/// The source code of a post.
pub fn source_code(channel: &str, draft: &Draft, local: NaiveDateTime) -> String {
    format!(
        "{channel}.{}.{}.{}",
        draft.category,
        draft.stem,
        local.format("%Y%m%dT%H%M")
    )
}

/// URLs in free text: stop at whitespace, quotes, angle brackets and CJK punctuation or text,
/// which Chinese posts put right after a link.
static URL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"https?://[^\s<>"'\p{Han}，。！？、；：）（【】《》「」]+"#).expect("static regex")
});

/// The text to publish: the draft's body with its link placed (at `{link}`, or on its own last
/// line) and every link tagged with the post's tracking parameters.
pub fn render(channel: &str, draft: &Draft, local: NaiveDateTime) -> String {
    render_text(channel, draft, &draft.body, local)
}

/// [`render`] of `body` instead of the draft's own text: a variant's text for one platform or
/// channel ([`Draft::body_on`]), tracked the same way.
pub fn render_text(channel: &str, draft: &Draft, body: &str, local: NaiveDateTime) -> String {
    let code = source_code(channel, draft, local);
    let mut text = body.to_string();
    if let Some(link) = &draft.link {
        if text.contains("{link}") {
            text = text.replace("{link}", link.as_str());
        } else {
            text.push('\n');
            text.push_str(link.as_str());
        }
    }
    URL_IN_TEXT
        .replace_all(&text, |caps: &regex::Captures| {
            let raw = &caps[0];
            // Sentence punctuation right after a link belongs to the sentence.
            let trimmed = raw.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            let tail = &raw[trimmed.len()..];
            match Url::parse(trimmed) {
                Ok(url) => format!("{}{tail}", tag(url, channel, &draft.category, &code)),
                Err(_) => raw.to_string(),
            }
        })
        .into_owned()
}

/// Adds the tracking parameters to one URL, keeping its other parameters and replacing any
/// `utm_*` it already had.
pub fn tag(mut url: Url, channel: &str, category: &str, code: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("utm_"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("utm_source", channel)
        .append_pair("utm_medium", "social")
        .append_pair("utm_campaign", category)
        .append_pair("utm_content", code);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn draft(body: &str, link: Option<&str>) -> Draft {
        Draft {
            media: Vec::new(),
            variants: Default::default(),
            id: "product/x-trail".into(),
            category: "product".into(),
            stem: "x-trail".into(),
            title: None,
            lang: "zh".into(),
            channels: None,
            tags: vec![],
            promo: false,
            evergreen: false,
            series: None,
            not_before: None,
            not_after: None,
            link: link.map(|l| Url::parse(l).expect("url")),
            cooldown_days: None,
            body: body.into(),
            path: "x".into(),
        }
    }

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(8, 45, 0))
            .expect("time")
    }

    #[test]
    fn table_of_texts() {
        let q = "utm_source=sky&utm_medium=social&utm_campaign=product&utm_content=sky.product.x-trail.20261201T0845";
        let cases: &[(&str, Option<&str>, String)] = &[
            (
                "试驾 {link} 欢迎",
                Some("https://a.example/t"),
                format!("试驾 https://a.example/t?{q} 欢迎"),
            ),
            (
                "New X-Trail!",
                Some("https://a.example/t?ref=1&utm_source=old"),
                format!("New X-Trail!\nhttps://a.example/t?ref=1&{q}"),
            ),
            (
                "详见https://a.example/p，欢迎到店。",
                None,
                format!("详见https://a.example/p?{q}，欢迎到店。"),
            ),
            (
                "See https://a.example/p.",
                None,
                format!("See https://a.example/p?{q}."),
            ),
            ("no links here", None, "no links here".to_string()),
        ];
        for (body, link, want) in cases {
            assert_eq!(&render("sky", &draft(body, *link), at()), want, "{body}");
        }
    }

    #[test]
    fn source_code_splits_back_into_its_parts() {
        let code = source_code("sky", &draft("x", None), at());
        let parts: Vec<&str> = code.split('.').collect();
        assert_eq!(parts, ["sky", "product", "x-trail", "20261201T0845"]);
    }
}
