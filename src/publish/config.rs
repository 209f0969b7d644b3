//! `[[channels]]` in `herald.toml`.
//!
//! `kind` selects one of a closed set of channel kinds. Each kind is its own struct with
//! `deny_unknown_fields`: serde's `deny_unknown_fields` on an internally tagged enum itself is not
//! enforced, so the strictness lives on the variant structs (tested below).

use std::collections::BTreeSet;

use serde::Deserialize;
use url::Url;

use crate::config::error::{is_slug, ConfigError, Warning};
use crate::config::source::TomlSource;

/// One validated channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The name drafts and tracking codes use (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    pub kind: ChannelKind,
}

/// The kinds of channel herald can publish to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// Appends posts to a JSON Lines file under the data directory: no credentials needed.
    Outbox { file: Option<String> },
    /// A Mastodon account, by its instance URL and an access token in the environment.
    Mastodon {
        base_url: Url,
        token_env: String,
        /// `public` (default), `unlisted`, `private` or `direct`.
        visibility: String,
    },
    /// A Bluesky / AT Protocol account on a PDS, by handle and app password in the environment.
    Bluesky {
        pds_url: Url,
        identifier: String,
        password_env: String,
    },
    /// A JSON POST to a URL, signed with HMAC when a secret is named.
    Webhook {
        url: Url,
        secret_env: Option<String>,
    },
}

impl ChannelConfig {
    /// The channel herald uses when none is configured.
    pub fn default_outbox() -> Self {
        Self {
            name: "outbox".to_string(),
            kind: ChannelKind::Outbox { file: None },
        }
    }

    /// The kind's name as written in `herald.toml`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ChannelKind::Outbox { .. } => "outbox",
            ChannelKind::Mastodon { .. } => "mastodon",
            ChannelKind::Bluesky { .. } => "bluesky",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RawChannel {
    Outbox(RawOutbox),
    Mastodon(RawMastodon),
    Bluesky(RawBluesky),
    Webhook(RawWebhook),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutbox {
    name: String,
    file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMastodon {
    name: String,
    base_url: String,
    token_env: String,
    visibility: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBluesky {
    name: String,
    pds_url: String,
    identifier: String,
    password_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    name: String,
    url: String,
    secret_env: Option<String>,
}

impl RawChannel {
    fn name(&self) -> &str {
        match self {
            RawChannel::Outbox(c) => &c.name,
            RawChannel::Mastodon(c) => &c.name,
            RawChannel::Bluesky(c) => &c.name,
            RawChannel::Webhook(c) => &c.name,
        }
    }
}

/// Validates every channel, appending problems to `errors`.
pub(crate) fn validate(
    raw: Vec<RawChannel>,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Vec<ChannelConfig> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, channel) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("channels[{i}].{key}");
        let name = channel.name().to_string();
        if !is_slug(&name) {
            errors.push(src.error(
                &at("name"),
                format!(
                    "{name:?} is not a channel name: use lowercase letters, digits, '-' and '_'"
                ),
            ));
        } else if !seen.insert(name.clone()) {
            errors.push(src.error(&at("name"), format!("channel {name:?} is defined twice")));
        }
        let mut url = |key: &str, value: &str| match Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(_) => {
                errors.push(src.error(&at(key), "must be an http or https URL"));
                None
            }
            Err(e) => {
                errors.push(src.error(&at(key), format!("not a URL: {e}")));
                None
            }
        };
        let mut late = Vec::new();
        let kind = match channel {
            RawChannel::Outbox(c) => Some(ChannelKind::Outbox { file: c.file }),
            RawChannel::Mastodon(c) => {
                let visibility = c.visibility.unwrap_or_else(|| "public".to_string());
                if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
                    late.push((
                        at("visibility"),
                        format!("{visibility:?} is not public, unlisted, private or direct"),
                    ));
                }
                url("base_url", &c.base_url).map(|base_url| ChannelKind::Mastodon {
                    base_url,
                    token_env: c.token_env,
                    visibility,
                })
            }
            RawChannel::Bluesky(c) => {
                url("pds_url", &c.pds_url).map(|pds_url| ChannelKind::Bluesky {
                    pds_url,
                    identifier: c.identifier,
                    password_env: c.password_env,
                })
            }
            RawChannel::Webhook(c) => url("url", &c.url).map(|url| ChannelKind::Webhook {
                url,
                secret_env: c.secret_env,
            }),
        };
        for (key, why) in late {
            errors.push(src.error(&key, why));
        }
        let Some(kind) = kind else { continue };
        for (key, var) in secret_vars(&kind) {
            if let Err(why) = crate::config::env::check_env_name(var) {
                errors.push(src.error(&at(key), why));
            } else if std::env::var_os(var).is_none() {
                warnings.push(Warning {
                    file: src.path.clone(),
                    key: at(key),
                    why: format!("environment variable {var} is not set; channel {name:?} cannot publish until it is"),
                });
            }
        }
        out.push(ChannelConfig { name, kind });
    }
    out
}

fn secret_vars(kind: &ChannelKind) -> Vec<(&'static str, &str)> {
    match kind {
        ChannelKind::Outbox { .. } => vec![],
        ChannelKind::Mastodon { token_env, .. } => vec![("token_env", token_env)],
        ChannelKind::Bluesky { password_env, .. } => vec![("password_env", password_env)],
        ChannelKind::Webhook { secret_env, .. } => secret_env
            .iter()
            .map(|s| ("secret_env", s.as_str()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        channels: Vec<RawChannel>,
    }

    fn check(text: &str) -> Result<Vec<ChannelConfig>, Vec<ConfigError>> {
        let src = TomlSource::new("herald.toml", text, 1);
        let raw: Doc = src.parse().map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let out = validate(raw.channels, &src, &mut errors, &mut Vec::new());
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn every_kind_parses() {
        let text = r#"
[[channels]]
name = "outbox"
kind = "outbox"
[[channels]]
name = "masto"
kind = "mastodon"
base_url = "https://social.example"
token_env = "HERALD_MASTO_TOKEN"
[[channels]]
name = "sky"
kind = "bluesky"
pds_url = "http://127.0.0.1:2583"
identifier = "brand.test"
password_env = "HERALD_SKY_PASSWORD"
[[channels]]
name = "bridge"
kind = "webhook"
url = "https://hooks.example/post"
"#;
        let out = check(text).expect("valid");
        let kinds: Vec<_> = out.iter().map(|c| c.kind_name()).collect();
        assert_eq!(kinds, ["outbox", "mastodon", "bluesky", "webhook"]);
    }

    #[test]
    fn mistakes_name_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            // An unknown key inside a tagged variant must fail (the serde pitfall).
            (
                "[[channels]]\nname = \"m\"\nkind = \"mastodon\"\nbase_url = \"https://x\"\ntoken_env = \"T\"\ntoken = \"secret\"\n",
                6,
                "channels[0].token",
                "unknown field",
            ),
            (
                "[[channels]]\nname = \"m\"\nkind = \"myspace\"\n",
                3,
                "channels[0].kind",
                "unknown variant",
            ),
            (
                "[[channels]]\nname = \"Main Account\"\nkind = \"outbox\"\n",
                2,
                "channels[0].name",
                "not a channel name",
            ),
            (
                "[[channels]]\nname = \"a\"\nkind = \"outbox\"\n[[channels]]\nname = \"a\"\nkind = \"outbox\"\n",
                5,
                "channels[1].name",
                "defined twice",
            ),
            (
                "[[channels]]\nname = \"m\"\nkind = \"mastodon\"\nbase_url = \"ftp://x\"\ntoken_env = \"T\"\n",
                4,
                "channels[0].base_url",
                "http or https",
            ),
            (
                "[[channels]]\nname = \"m\"\nkind = \"mastodon\"\nbase_url = \"https://x\"\ntoken_env = \"abc-123-secret\"\n",
                5,
                "channels[0].token_env",
                "must name an environment variable",
            ),
        ];
        for (text, line, key, why) in cases {
            let errors = check(text).expect_err(text);
            let e = &errors[0];
            assert!(e.why.contains(why), "{e}");
            assert_eq!(e.key, *key, "{e}");
            assert_eq!(e.line, *line, "{e}");
        }
    }

    #[test]
    fn secret_values_never_echo_in_errors() {
        let errors = check(
            "[[channels]]\nname = \"m\"\nkind = \"mastodon\"\nbase_url = \"https://x\"\ntoken_env = \"T\"\ntoken = \"s3cr3t-value\"\n",
        )
        .expect_err("unknown key");
        assert!(
            !errors[0].to_string().contains("s3cr3t-value"),
            "{}",
            errors[0]
        );
        // The secret pasted where its variable's name belongs is not repeated either.
        for key in ["token_env", "password_env", "secret_env"] {
            let kind = match key {
                "token_env" => "kind = \"mastodon\"\nbase_url = \"https://x\"",
                "password_env" => {
                    "kind = \"bluesky\"\npds_url = \"https://x\"\nidentifier = \"h.example\""
                }
                _ => "kind = \"webhook\"\nurl = \"https://x/hook\"",
            };
            let text =
                format!("[[channels]]\nname = \"m\"\n{kind}\n{key} = \"hunter2-Pasted.Secret\"\n");
            let errors = check(&text).expect_err(&text);
            let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            assert!(
                shown
                    .iter()
                    .any(|e| e.contains(&format!("channels[0].{key}"))),
                "{shown:?}"
            );
            assert!(
                !shown.iter().any(|e| e.contains("hunter2")),
                "{key}: {shown:?}"
            );
        }
    }
}

/// `[publish]` in `herald.toml`: how the publisher treats time and failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSettings {
    /// A post later than this is marked missed, not sent late (default 2 h).
    pub missed_after: chrono::TimeDelta,
    /// How long one platform request may take before its outcome counts as unconfirmed.
    pub timeout: std::time::Duration,
    /// Attempts before a post that keeps failing transiently is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, up to `max_backoff`.
    pub backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
}

impl Default for PublishSettings {
    fn default() -> Self {
        Self {
            missed_after: chrono::TimeDelta::hours(2),
            timeout: std::time::Duration::from_secs(30),
            max_attempts: 8,
            backoff: std::time::Duration::from_secs(30),
            max_backoff: std::time::Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPublish {
    missed_after_minutes: Option<i64>,
    timeout_seconds: Option<i64>,
    max_attempts: Option<i64>,
    backoff_seconds: Option<i64>,
    max_backoff_seconds: Option<i64>,
}

/// Validates `[publish]`, appending problems to `errors`.
pub(crate) fn validate_settings(
    raw: RawPublish,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
) -> PublishSettings {
    let d = PublishSettings::default();
    let mut int =
        |key: &str, v: Option<i64>, range: std::ops::RangeInclusive<i64>| -> Option<i64> {
            let v = v?;
            if range.contains(&v) {
                Some(v)
            } else {
                errors.push(src.error(
                    &format!("publish.{key}"),
                    format!("{v} is out of range {}..={}", range.start(), range.end()),
                ));
                None
            }
        };
    let secs = std::time::Duration::from_secs;
    PublishSettings {
        missed_after: int(
            "missed_after_minutes",
            raw.missed_after_minutes,
            1..=7 * 24 * 60,
        )
        .map_or(d.missed_after, chrono::TimeDelta::minutes),
        timeout: int("timeout_seconds", raw.timeout_seconds, 1..=600)
            .map_or(d.timeout, |v| secs(v as u64)),
        max_attempts: int("max_attempts", raw.max_attempts, 1..=100)
            .map_or(d.max_attempts, |v| v as u32),
        backoff: int("backoff_seconds", raw.backoff_seconds, 0..=3600)
            .map_or(d.backoff, |v| secs(v as u64)),
        max_backoff: int("max_backoff_seconds", raw.max_backoff_seconds, 0..=86_400)
            .map_or(d.max_backoff, |v| secs(v as u64)),
    }
}
