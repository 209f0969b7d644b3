//! `[report]` in `herald.toml`: the weekly digest's switch, when it goes out (local weekday
//! and hour), to which `[alerts]` sinks, and the link it carries. Parsed and validated like
//! every other section: every problem is reported with its file, line and key.

use chrono::Weekday;
use serde::Deserialize;
use url::Url;

use crate::config::error::ConfigError;
use crate::config::source::TomlSource;

/// `[report]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    digest: Option<bool>,
    digest_weekday: Option<String>,
    digest_hour: Option<i64>,
    sinks: Option<Vec<String>>,
    link: Option<String>,
}

/// `[report]` validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// Whether `herald run` sends the weekly digest (default false).
    pub digest: bool,
    /// The local weekday it goes out on (default Monday).
    pub digest_weekday: Weekday,
    /// The local hour it goes out at or after (0..=23, default 9).
    pub digest_hour: u32,
    /// The `[alerts]` sinks it goes to, in `[alerts]` order (default all of them).
    pub sinks: Vec<String>,
    /// The Reports page the digest links to (`?week=<Monday>` is added); without it, the web
    /// UI's own address when `[web]` is on, else no link.
    pub link: Option<Url>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            digest: false,
            digest_weekday: Weekday::Mon,
            digest_hour: 9,
            sinks: Vec::new(),
            link: None,
        }
    }
}

/// A weekday as `herald.toml` names it: `mon` … `sun` or the full English name, any case.
fn weekday(name: &str) -> Option<Weekday> {
    let n = name.trim().to_ascii_lowercase();
    [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ]
    .into_iter()
    .find(|(short, long, _)| n == *short || n == *long)
    .map(|(_, _, d)| d)
}

/// Validates `[report]`; `alert_sinks` are the names of `[alerts]`'s sinks, in order.
pub fn validate(
    raw: RawReport,
    src: &TomlSource,
    alert_sinks: &[String],
    errors: &mut Vec<ConfigError>,
) -> ReportConfig {
    let d = ReportConfig::default();
    let digest = raw.digest.unwrap_or(d.digest);
    let digest_weekday = match raw.digest_weekday.as_deref() {
        None => d.digest_weekday,
        Some(name) => weekday(name).unwrap_or_else(|| {
            errors.push(src.error(
                "report.digest_weekday",
                format!("{name:?} is not a weekday: use mon, tue, wed, thu, fri, sat or sun"),
            ));
            d.digest_weekday
        }),
    };
    let digest_hour = match raw.digest_hour {
        None => d.digest_hour,
        Some(h) if (0..=23).contains(&h) => h.unsigned_abs() as u32,
        Some(_) => {
            errors.push(src.error(
                "report.digest_hour",
                "must be between 0 and 23 (the local hour the digest goes out)",
            ));
            d.digest_hour
        }
    };
    let sinks = match raw.sinks {
        None => alert_sinks.to_vec(),
        Some(names) => {
            for name in &names {
                if !alert_sinks.contains(name) {
                    errors.push(src.error(
                        "report.sinks",
                        format!("{name:?} is not a sink of [alerts]"),
                    ));
                }
            }
            // In [alerts] order, each once.
            alert_sinks
                .iter()
                .filter(|s| names.contains(s))
                .cloned()
                .collect()
        }
    };
    if digest && sinks.is_empty() {
        errors.push(src.error(
            "report.digest",
            "the digest needs a sink to go to: add one to [alerts] (or name one in report.sinks)",
        ));
    }
    let link = raw.link.and_then(|l| match Url::parse(&l) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        _ => {
            errors.push(src.error(
                "report.link",
                format!("{l:?} is not an http(s) URL (the Reports page, e.g. \"https://herald.example.com/reports\")"),
            ));
            None
        }
    });
    ReportConfig {
        digest,
        digest_weekday,
        digest_hour,
        sinks,
        link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Top {
        report: RawReport,
    }

    fn check(text: &str, sinks: &[&str]) -> (ReportConfig, Vec<ConfigError>) {
        let src = TomlSource::new("herald.toml", text, 1);
        let raw: Top = src.parse().expect("parse");
        let sinks: Vec<String> = sinks.iter().map(|s| s.to_string()).collect();
        let mut errors = Vec::new();
        let c = validate(raw.report, &src, &sinks, &mut errors);
        (c, errors)
    }

    #[test]
    fn defaults_send_nothing_and_name_every_sink() {
        let (c, errors) = check("[report]\n", &["wecom", "mail"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            c,
            ReportConfig {
                sinks: vec!["wecom".into(), "mail".into()],
                ..ReportConfig::default()
            }
        );
        assert!(!c.digest);
        assert_eq!((c.digest_weekday, c.digest_hour), (Weekday::Mon, 9));
    }

    #[test]
    fn every_key_is_read() {
        let (c, errors) = check(
            "[report]\ndigest = true\ndigest_weekday = \"Friday\"\ndigest_hour = 17\nsinks = [\"mail\", \"wecom\"]\nlink = \"https://h.example/reports\"\n",
            &["wecom", "slack", "mail"],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(c.digest);
        assert_eq!((c.digest_weekday, c.digest_hour), (Weekday::Fri, 17));
        assert_eq!(c.sinks, ["wecom", "mail"], "in [alerts] order");
        assert_eq!(
            c.link.map(|u| u.to_string()),
            Some("https://h.example/reports".into())
        );
    }

    #[test]
    fn errors_name_their_line_and_key() {
        let (_, errors) = check(
            "[report]\ndigest = true\ndigest_weekday = \"someday\"\ndigest_hour = 24\nsinks = [\"nope\"]\nlink = \"ftp://x\"\n",
            &["wecom"],
        );
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(
            got,
            [
                (3, "report.digest_weekday"),
                (4, "report.digest_hour"),
                (5, "report.sinks"),
                (2, "report.digest"),
                (6, "report.link"),
            ],
            "{errors:?}"
        );
        assert!(errors[2].why.contains("\"nope\""), "{}", errors[2].why);
    }

    #[test]
    fn a_digest_without_sinks_is_refused() {
        let (_, errors) = check("[report]\ndigest = true\n", &[]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].why.contains("[alerts]"));
        let (c, errors) = check("[report]\ndigest = false\n", &[]);
        assert!(errors.is_empty() && c.sinks.is_empty());
    }

    #[test]
    fn unknown_keys_fail() {
        let src = TomlSource::new("herald.toml", "[report]\ndigest_day = \"mon\"\n", 1);
        assert!(src.parse::<Top>().is_err());
    }
}
