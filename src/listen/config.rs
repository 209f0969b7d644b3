//! `[[sources]]` in `herald.toml`: where herald listens.

use scraper::Selector;
use serde::Deserialize;
use url::Url;

use crate::config::error::{is_slug, ConfigError, Warning};
use crate::config::source::TomlSource;

/// A selector of a page source that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {css:?} is not a CSS selector: {why}")]
pub struct SelectorError {
    /// Which selector: `item`, `text`, `author`, `time` or `link` (the configuration key).
    pub key: &'static str,
    /// The selector as written.
    pub css: String,
    /// What the CSS parser said.
    pub why: String,
}

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
    ) -> Result<Self, SelectorError> {
        let one = |key: &'static str, css: &str| {
            Selector::parse(css).map_err(|e| SelectorError {
                key,
                css: css.to_string(),
                why: e.to_string(),
            })
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
    /// A web page read by CSS selectors; its times are local to `timezone` when it has one,
    /// else to herald's.
    Page {
        url: Url,
        selectors: Selectors,
        timezone: Option<chrono_tz::Tz>,
    },
    /// Posts matching search queries on Bluesky, through the account's PDS.
    BlueskySearch {
        pds_url: Url,
        identifier: String,
        password_env: String,
        queries: Vec<String>,
    },
    /// Posts matching keywords on the Bluesky firehose (`subscribeRepos`) of a relay or PDS;
    /// authors named by the PLC directory `plc_url` (none: by their DID).
    BlueskyFirehose {
        url: Url,
        queries: Vec<String>,
        plc_url: Option<Url>,
    },
    /// Public Mastodon statuses with some hashtags (stored without `#`).
    MastodonHashtag {
        base_url: Url,
        token_env: Option<String>,
        hashtags: Vec<String>,
    },
    /// Mastodon statuses found by full-text search (`/api/v2/search`).
    MastodonSearch {
        base_url: Url,
        token_env: String,
        queries: Vec<String>,
    },
}

impl SourceKind {
    /// The `platform` of the mentions this kind of source produces.
    pub fn platform(&self) -> &'static str {
        match self {
            Self::Mastodon { .. } | Self::MastodonHashtag { .. } | Self::MastodonSearch { .. } => {
                "mastodon"
            }
            Self::Bluesky { .. } | Self::BlueskySearch { .. } | Self::BlueskyFirehose { .. } => {
                "bluesky"
            }
            Self::Feed { .. } => "feed",
            Self::Page { .. } => "forum",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RawSource {
    Mastodon(RawMastodon),
    Bluesky(RawBluesky),
    Feed(RawFeed),
    Page(RawPage),
    #[serde(rename = "bluesky-search")]
    BlueskySearch(RawBlueskySearch),
    #[serde(rename = "bluesky-firehose")]
    BlueskyFirehose(RawBlueskyFirehose),
    #[serde(rename = "mastodon-hashtag")]
    MastodonHashtag(RawMastodonHashtag),
    #[serde(rename = "mastodon-search")]
    MastodonSearch(RawMastodonSearch),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBlueskySearch {
    name: String,
    pds_url: String,
    identifier: String,
    password_env: String,
    queries: Vec<String>,
    interval_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBlueskyFirehose {
    name: String,
    url: String,
    queries: Vec<String>,
    plc_url: Option<String>,
    interval_seconds: Option<i64>,
}

/// Where the firehose's authors are named unless `plc_url` says otherwise.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";

/// How often a firehose source drains its connection unless `interval_seconds` says otherwise
/// (the frames wait in the connection meanwhile).
const FIREHOSE_INTERVAL: i64 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMastodonHashtag {
    name: String,
    base_url: String,
    hashtags: Vec<String>,
    token_env: Option<String>,
    interval_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMastodonSearch {
    name: String,
    base_url: String,
    token_env: String,
    queries: Vec<String>,
    interval_seconds: Option<i64>,
}

/// Most queries or hashtags one source may watch: each costs a request per poll.
const MAX_TERMS: usize = 50;

/// Checks a list of search queries: present, not blank, not too long, not repeated.
fn check_queries(
    queries: &[String],
    problems: &mut Vec<(String, String)>,
    at: &dyn Fn(&str) -> String,
) {
    if queries.is_empty() {
        problems.push((at("queries"), "give at least one query".into()));
    }
    if queries.len() > MAX_TERMS {
        problems.push((
            at("queries"),
            format!("{} queries; at most {MAX_TERMS}", queries.len()),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (j, q) in queries.iter().enumerate() {
        if q.trim().is_empty() {
            problems.push((
                at(&format!("queries[{j}]")),
                "a query cannot be blank".into(),
            ));
        } else if q.chars().count() > 300 {
            problems.push((
                at(&format!("queries[{j}]")),
                "longer than 300 characters".into(),
            ));
        } else if !seen.insert(q.as_str()) {
            problems.push((
                at(&format!("queries[{j}]")),
                format!("{q:?} is listed twice"),
            ));
        }
    }
}

/// Checks hashtags and returns them without their `#`, lowercased as servers compare them.
fn check_hashtags(
    tags: &[String],
    problems: &mut Vec<(String, String)>,
    at: &dyn Fn(&str) -> String,
) -> Vec<String> {
    if tags.is_empty() {
        problems.push((at("hashtags"), "give at least one hashtag".into()));
    }
    if tags.len() > MAX_TERMS {
        problems.push((
            at("hashtags"),
            format!("{} hashtags; at most {MAX_TERMS}", tags.len()),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (j, t) in tags.iter().enumerate() {
        let tag = t.strip_prefix('#').unwrap_or(t).to_lowercase();
        // Mastodon's hashtags are letters, digits, `_` and the middle dot.
        if tag.is_empty()
            || !tag
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '·')
        {
            problems.push((
                at(&format!("hashtags[{j}]")),
                format!("{t:?} is not a hashtag: use letters, digits and '_'"),
            ));
        } else if out.contains(&tag) {
            problems.push((
                at(&format!("hashtags[{j}]")),
                format!("{t:?} is listed twice"),
            ));
        } else {
            out.push(tag);
        }
    }
    out
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
    timezone: Option<String>,
    interval_seconds: Option<i64>,
}

/// The keys naming a secret's environment variable in a source, with the names.
fn secret_vars(kind: &SourceKind) -> Vec<(&'static str, &str)> {
    match kind {
        SourceKind::Mastodon { token_env, .. } | SourceKind::MastodonSearch { token_env, .. } => {
            vec![("token_env", token_env)]
        }
        SourceKind::MastodonHashtag { token_env, .. } => token_env
            .iter()
            .map(|t| ("token_env", t.as_str()))
            .collect(),
        SourceKind::Bluesky { password_env, .. }
        | SourceKind::BlueskySearch { password_env, .. } => vec![("password_env", password_env)],
        SourceKind::Feed { .. } | SourceKind::Page { .. } | SourceKind::BlueskyFirehose { .. } => {
            vec![]
        }
    }
}

/// Validates every source, appending problems to `errors` and unset secrets to `warnings`.
pub(crate) fn validate(
    raw: Vec<RawSource>,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
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
                    Err(e) => {
                        problems.push((at(e.key), e.to_string()));
                        None
                    }
                };
                let timezone = match r.timezone.as_deref().map(str::parse::<chrono_tz::Tz>) {
                    Some(Err(_)) => {
                        problems.push((
                            at("timezone"),
                            format!(
                                "unknown timezone {:?}: use an IANA name such as \"UTC\" or \"Asia/Shanghai\"",
                                r.timezone.as_deref().unwrap_or_default()
                            ),
                        ));
                        None
                    }
                    Some(Ok(tz)) => Some(Some(tz)),
                    None => Some(None),
                };
                let kind = url("url", &r.url, &mut problems)
                    .zip(sel)
                    .zip(timezone)
                    .map(|((url, selectors), timezone)| SourceKind::Page {
                        url,
                        selectors,
                        timezone,
                    });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::BlueskySearch(r) => {
                check_queries(&r.queries, &mut problems, &at);
                let kind = url("pds_url", &r.pds_url, &mut problems).map(|pds_url| {
                    SourceKind::BlueskySearch {
                        pds_url,
                        identifier: r.identifier,
                        password_env: r.password_env,
                        queries: r.queries,
                    }
                });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::BlueskyFirehose(r) => {
                check_queries(&r.queries, &mut problems, &at);
                let ws = match Url::parse(&r.url) {
                    Ok(u) if matches!(u.scheme(), "ws" | "wss") => Some(u),
                    _ => {
                        problems.push((
                            at("url"),
                            format!("{:?} is not a ws or wss URL (a relay such as \"wss://bsky.network\", or a PDS)", r.url),
                        ));
                        None
                    }
                };
                let plc = match r.plc_url.as_deref() {
                    Some("") => Some(None),
                    Some(p) => url("plc_url", p, &mut problems).map(Some),
                    None => Url::parse(DEFAULT_PLC_URL).ok().map(Some),
                };
                let kind = ws
                    .zip(plc)
                    .map(|(url, plc_url)| SourceKind::BlueskyFirehose {
                        url,
                        queries: r.queries,
                        plc_url,
                    });
                (
                    r.name,
                    Some(r.interval_seconds.unwrap_or(FIREHOSE_INTERVAL)),
                    kind,
                )
            }
            RawSource::MastodonHashtag(r) => {
                let hashtags = check_hashtags(&r.hashtags, &mut problems, &at);
                let kind = url("base_url", &r.base_url, &mut problems).map(|base_url| {
                    SourceKind::MastodonHashtag {
                        base_url,
                        token_env: r.token_env,
                        hashtags,
                    }
                });
                (r.name, r.interval_seconds, kind)
            }
            RawSource::MastodonSearch(r) => {
                check_queries(&r.queries, &mut problems, &at);
                let kind = url("base_url", &r.base_url, &mut problems).map(|base_url| {
                    SourceKind::MastodonSearch {
                        base_url,
                        token_env: r.token_env,
                        queries: r.queries,
                    }
                });
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
        for (key, var) in kind.as_ref().map(secret_vars).unwrap_or_default() {
            if let Err(why) = crate::config::env::check_env_name(var) {
                problems.push((at(key), why.into()));
            } else if std::env::var_os(var).is_none() {
                warnings.push(Warning {
                    file: src.path.clone(),
                    key: at(key),
                    why: format!(
                        "environment variable {var} is not set; source {name:?} cannot listen until it is"
                    ),
                });
            }
        }
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
