//! `[[sources]]` in `herald.toml`: where herald listens.

use serde::Deserialize;
use url::Url;

use super::page::Selectors;
use crate::config::source::TomlSource;
use crate::config::{is_slug, ConfigError};

/// One validated source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub interval: std::time::Duration,
    pub kind: SourceKind,
}

/// The kinds of source herald reads.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// Mention notifications of a Mastodon account.
    Mastodon { base_url: Url, token_env: String },
    /// Notifications (mentions, replies, quotes) of a Bluesky account.
    Bluesky {
        pds_url: Url,
        identifier: String,
        password_env: String,
    },
    /// An RSS, Atom or JSON feed.
    Feed { url: Url },
    /// A web page read by CSS selectors.
    Page { url: Url, selectors: Selectors },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RawSource {
    Mastodon(RawMastodon),
    Bluesky(RawBluesky),
    Feed(RawFeed),
    Page(RawPage),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMastodon {
    name: String,
    base_url: String,
    token_env: String,
    interval_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBluesky {
    name: String,
    pds_url: String,
    identifier: String,
    password_env: String,
    interval_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    name: String,
    url: String,
    interval_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPage {
    name: String,
    url: String,
    item: String,
    text: String,
    author: Option<String>,
    time: Option<String>,
    link: Option<String>,
    interval_seconds: Option<i64>,
}

/// Validates every source, appending problems to `errors`.
pub(crate) fn validate(
    raw: Vec<RawSource>,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
) -> Vec<SourceConfig> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, s) in raw.into_iter().enumerate() {
        let at = |k: &str| format!("sources[{i}].{k}");
        let mut problems: Vec<(String, String)> = Vec::new();
        let url = |k: &str, v: &str, problems: &mut Vec<(String, String)>| match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => {
                problems.push((at(k), format!("{v:?} is not an http or https URL")));
                None
            }
        };
        let (name, interval, kind) = match s {
            RawSource::Mastodon(r) => {
                let kind = url("base_url", &r.base_url, &mut problems).map(|base_url| {
                    SourceKind::Mastodon {
                        base_url,
                        token_env: r.token_env,
                    }
                });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::Bluesky(r) => {
                let kind =
                    url("pds_url", &r.pds_url, &mut problems).map(|pds_url| SourceKind::Bluesky {
                        pds_url,
                        identifier: r.identifier,
                        password_env: r.password_env,
                    });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::Feed(r) => {
                let kind = url("url", &r.url, &mut problems).map(|url| SourceKind::Feed { url });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::Page(r) => {
                let sel = Selectors::new(
                    &r.item,
                    &r.text,
                    r.author.as_deref(),
                    r.time.as_deref(),
                    r.link.as_deref(),
                );
                let sel = match sel {
                    Ok(s) => Some(s),
                    Err(why) => {
                        let key = why.split(':').next().unwrap_or("item").to_string();
                        problems.push((at(&key), why));
                        None
                    }
                };
                let kind = url("url", &r.url, &mut problems)
                    .zip(sel)
                    .map(|(url, selectors)| SourceKind::Page { url, selectors });
                (r.name, r.interval_seconds, kind)
            }
        };
        if !is_slug(&name) {
            problems.push((
                at("name"),
                format!(
                    "{name:?} is not a source name: use lowercase letters, digits, '-' and '_'"
                ),
            ));
        } else if !names.insert(name.clone()) {
            problems.push((at("name"), format!("source {name:?} is defined twice")));
        }
        let interval = match interval {
            None => 60,
            Some(v) if (1..=86_400).contains(&v) => v as u64,
            Some(v) => {
                problems.push((
                    at("interval_seconds"),
                    format!("{v} is out of range 1..=86400"),
                ));
                60
            }
        };
        for (key, why) in &problems {
            errors.push(src.error(key, why.clone()));
        }
        if let (true, Some(kind)) = (problems.is_empty(), kind) {
            out.push(SourceConfig {
                name,
                interval: std::time::Duration::from_secs(interval),
                kind,
            });
        }
    }
    out
}
