//! Source codes (playbook §6): every link in a scheduled post carries tracking parameters naming
//! the channel, the category, the draft and the time, so a click traces back to the post.
//!
//! `utm_source=<channel>`, `utm_medium=social`, `utm_campaign=<category>`,
//! `utm_content=<source code>` with the source code `<channel>.<category>.<stem>.<YYYYMMDD>T<HHMM>`
//! in the plan's local time. Channel, category and stem are slugs, so the code splits on `.`.
//!
//! Counted clicks (`[web] public_url`, see `docs/clicks.md`): the draft's own link then goes
//! out as `<public_url>/r/<source code>` ([`click_url`]), and the tagged link becomes the
//! redirect's target ([`Rendered::click`]), which the schedule stores for the code. The path
//! names the full source code, not a short hash of it: the code is made of slugs and a time, so
//! it is URL-safe as it is; the link stays readable (a person sees which post it belongs to);
//! the report reads the code without a second table; the Mastodon publisher still finds a sent
//! post by its code in the text; and `https://go.example.com/r/masto.product.x-trail.20261201T0845`
//! is still shorter than the tagged link it replaces (Mastodon counts any link as 23
//! characters, Bluesky shows links shortened).

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
    tag_all(&text, channel, &draft.category, &code)
}

/// The longest source code the click redirect takes (a longer path is refused before the store
/// is asked, and a longer code keeps its tagged link instead).
pub const MAX_CLICK_CODE: usize = 160;

/// Whether `code` can name a counted link: 1 to [`MAX_CLICK_CODE`] characters of
/// `[A-Za-z0-9._-]` (what source codes are made of: slugs, dots and the time).
pub fn is_click_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CLICK_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The click-counting link of `code` on `base` (`[web] public_url`): `<base>/r/<code>`; `None`
/// for a code [`is_click_code`] refuses.
pub fn click_url(base: &Url, code: &str) -> Option<Url> {
    if !is_click_code(code) {
        return None;
    }
    Url::parse(&format!("{}/r/{code}", base.as_str().trim_end_matches('/'))).ok()
}

/// A post's text and, when its link is counted, the link's code and tagged target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text to publish.
    pub text: String,
    /// `(source code, tagged URL)`: the redirect `<public_url>/r/<code>` in the text sends
    /// visitors to the URL.
    pub click: Option<(String, Url)>,
}

/// [`render_text`], with the draft's link counted through the redirect on `clicks` (the
/// `[web] public_url`) when it is given: the link's place in the text gets
/// `<clicks>/r/<source code>` and [`Rendered::click`] the tagged link it stands for. Other
/// links in the body stay tagged in place (one code has one target). Without `clicks`, a draft
/// without a link, or a code the redirect cannot carry, this is [`render_text`].
pub fn render_counted(
    channel: &str,
    draft: &Draft,
    body: &str,
    local: NaiveDateTime,
    clicks: Option<&Url>,
) -> Rendered {
    let code = source_code(channel, draft, local);
    let counted = clicks
        .zip(draft.link.as_ref())
        .and_then(|(base, link)| Some((click_url(base, &code)?, link)));
    let Some((redirect, link)) = counted else {
        return Rendered {
            text: render_text(channel, draft, body, local),
            click: None,
        };
    };
    // The body's own links are tagged first, so the redirect placed after is left as it is.
    let mut text = tag_all(body, channel, &draft.category, &code);
    if text.contains("{link}") {
        text = text.replace("{link}", redirect.as_str());
    } else {
        text.push('\n');
        text.push_str(redirect.as_str());
    }
    let target = tag(link.clone(), channel, &draft.category, &code);
    Rendered {
        text,
        click: Some((code, target)),
    }
}

/// Tags every link in `text` with the tracking parameters of `code`.
fn tag_all(text: &str, channel: &str, category: &str, code: &str) -> String {
    URL_IN_TEXT
        .replace_all(text, |caps: &regex::Captures| {
            let raw = &caps[0];
            // Sentence punctuation right after a link belongs to the sentence.
            let trimmed = raw.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            let tail = &raw[trimmed.len()..];
            match Url::parse(trimmed) {
                Ok(url) => format!("{}{tail}", tag(url, channel, category, code)),
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

    /// With a public URL, the draft's link goes out as the redirect and the tagged link is its
    /// target; other links stay tagged in place; without a link, a public URL or with a code
    /// the redirect cannot carry, the text is the plain tracked one.
    #[test]
    fn counted_links_go_through_the_redirect() {
        let code = "sky.product.x-trail.20261201T0845";
        let q = format!("utm_source=sky&utm_medium=social&utm_campaign=product&utm_content={code}");
        let base = Url::parse("https://go.example.com/").expect("url");
        let go = format!("https://go.example.com/r/{code}");
        let cases: &[(&str, Option<&str>, String, Option<String>)] = &[
            (
                "试驾 {link}欢迎",
                Some("https://a.example/t"),
                format!("试驾 {go}欢迎"),
                Some(format!("https://a.example/t?{q}")),
            ),
            (
                "New X-Trail! See https://b.example/p.",
                Some("https://a.example/t?ref=1&utm_source=old"),
                format!("New X-Trail! See https://b.example/p?{q}.\n{go}"),
                Some(format!("https://a.example/t?ref=1&{q}")),
            ),
            (
                "详见https://a.example/p，欢迎到店。",
                None,
                format!("详见https://a.example/p?{q}，欢迎到店。"),
                None,
            ),
        ];
        for (body, link, want, target) in cases {
            let d = draft(body, *link);
            let got = render_counted("sky", &d, body, at(), Some(&base));
            assert_eq!(&got.text, want, "{body}");
            assert_eq!(
                got.click.as_ref().map(|(c, u)| (c.as_str(), u.to_string())),
                target.as_ref().map(|t| (code, t.clone())),
                "{body}"
            );
            let plain = render_counted("sky", &d, body, at(), None);
            assert_eq!(plain.text, render("sky", &d, at()), "{body}");
            assert_eq!(plain.click, None);
        }
        // A base with a path prefix keeps it.
        let prefixed = Url::parse("https://example.com/go").expect("url");
        assert_eq!(
            click_url(&prefixed, code).map(|u| u.to_string()),
            Some(format!("https://example.com/go/r/{code}"))
        );
        // A channel name the redirect cannot carry keeps the tagged link.
        let d = draft("x {link}", Some("https://a.example/t"));
        let long = "c".repeat(MAX_CLICK_CODE);
        let got = render_counted(&long, &d, "x {link}", at(), Some(&base));
        assert_eq!(got.click, None);
        assert_eq!(got.text, render(&long, &d, at()));
    }

    #[test]
    fn click_codes_are_short_and_url_safe() {
        for ok in ["a", "masto.product.x-trail.20261201T0845", "A_b-9.z"] {
            assert!(is_click_code(ok), "{ok}");
        }
        let long = "a".repeat(MAX_CLICK_CODE + 1);
        for bad in [
            "",
            "a/b",
            "a b",
            "<script>",
            "a%2e",
            "码",
            "a?b",
            long.as_str(),
        ] {
            assert!(!is_click_code(bad), "{bad}");
        }
    }

    #[test]
    fn source_code_splits_back_into_its_parts() {
        let code = source_code("sky", &draft("x", None), at());
        let parts: Vec<&str> = code.split('.').collect();
        assert_eq!(parts, ["sky", "product", "x-trail", "20261201T0845"]);
    }
}
