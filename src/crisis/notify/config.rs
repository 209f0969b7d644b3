//! `[alerts]` and `[[alerts.sinks]]` in `herald.toml`: where alert messages go and how
//! delivery retries.
//!
//! `kind` selects one of a closed set of sink kinds. Each kind is its own struct with
//! `deny_unknown_fields` (serde does not enforce it on an internally tagged enum itself; tested
//! below). Secrets — robot keys, access tokens, signing secrets, the Slack webhook URL, the SMTP
//! password — are never in this file: each is named by an environment variable (`*_env`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::config::error::{is_slug, ConfigError, Warning};
use crate::config::source::TomlSource;
use crate::domain::alert::AlertLevel;

/// The validated `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertsConfig {
    /// The web UI's alert page; messages link to `<ui_url>/<alert id>` when it is set.
    pub ui_url: Option<Url>,
    /// How deliveries retry.
    pub delivery: DeliverySettings,
    /// The sinks, in configuration order.
    pub sinks: Vec<SinkConfig>,
}

impl AlertsConfig {
    /// The names of the sinks that want alerts of `level`, in configuration order.
    pub fn sinks_for(&self, level: AlertLevel) -> Vec<String> {
        self.sinks
            .iter()
            .filter(|s| s.levels.contains(&level))
            .map(|s| s.name.clone())
            .collect()
    }
}

/// How the delivery worker treats time and failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// How long one request to a sink may take (default 15 s).
    pub timeout: Duration,
    /// Attempts before a delivery that keeps failing transiently is given up (default 12).
    pub max_attempts: u32,
    /// First retry delay (default 10 s); doubled per attempt up to `max_backoff` (default 10 min).
    pub backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            max_attempts: 12,
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(600),
        }
    }
}

/// One validated sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Its name in logs and in the store (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    /// The levels it is told about (default both).
    pub levels: Vec<AlertLevel>,
    /// Overrides the service's own rate limit: at most this many messages a minute.
    pub per_minute: Option<u32>,
    /// What kind of sink, with its settings.
    pub kind: SinkKind,
}

/// How an e-mail sink secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (default; port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or a test server.
    None,
}

/// The kinds of alert sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// WeCom (企业微信) group robot: `POST <base_url>/cgi-bin/webhook/send?key=<key>`.
    WeCom {
        /// Default `https://qyapi.weixin.qq.com`.
        base_url: Url,
        /// The variable holding the robot's webhook key.
        key_env: String,
        /// `markdown` instead of `text` (markdown cannot @ people by mobile).
        markdown: bool,
        /// Mobile numbers to @ (text messages only).
        mobiles: Vec<String>,
    },
    /// DingTalk (钉钉) robot, signed when `secret_env` is set.
    DingTalk {
        /// Default `https://oapi.dingtalk.com`.
        base_url: Url,
        /// The variable holding the robot's access token.
        token_env: String,
        /// The variable holding the signing secret (加签), if the robot has one.
        secret_env: Option<String>,
        /// Mobile numbers to @.
        mobiles: Vec<String>,
    },
    /// Feishu (飞书) / Lark bot: `POST <base_url>/open-apis/bot/v2/hook/<hook>`, signed when
    /// `secret_env` is set.
    Feishu {
        /// Default `https://open.feishu.cn` (Lark: `https://open.larksuite.com`).
        base_url: Url,
        /// The variable holding the hook id, the last part of the webhook URL.
        hook_env: String,
        /// The variable holding the signing secret, if the bot has one.
        secret_env: Option<String>,
    },
    /// Slack incoming webhook; the webhook URL itself is the secret.
    Slack {
        /// The variable holding the webhook URL.
        url_env: String,
    },
    /// A JSON POST of the alert, signed with HMAC when a secret is named.
    Webhook {
        /// Where to POST.
        url: Url,
        /// The variable holding the HMAC key, if requests are signed.
        secret_env: Option<String>,
    },
    /// E-mail over SMTP.
    Email {
        /// The SMTP server.
        host: String,
        /// Default 587 (STARTTLS), 465 (TLS) or 25 (none).
        port: u16,
        /// How the connection is secured.
        tls: SmtpTls,
        /// The login, if the server wants one.
        username: Option<String>,
        /// The variable holding the password.
        password_env: Option<String>,
        /// The sender (`Name <address>` or an address).
        from: String,
        /// The recipients.
        to: Vec<String>,
        /// A PEM file of extra CA certificates to trust (an internal relay's CA), besides the
        /// public roots.
        ca_file: Option<PathBuf>,
    },
}

impl SinkKind {
    /// The kind's name as written in `herald.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::WeCom { .. } => "wecom",
            SinkKind::DingTalk { .. } => "dingtalk",
            SinkKind::Feishu { .. } => "feishu",
            SinkKind::Slack { .. } => "slack",
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Email { .. } => "email",
        }
    }

    /// The environment variables holding this sink's secrets, with the key naming each.
    pub fn secret_vars(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        match self {
            SinkKind::WeCom { key_env, .. } => out.push(("key_env", key_env.as_str())),
            SinkKind::DingTalk {
                token_env,
                secret_env,
                ..
            } => {
                out.push(("token_env", token_env.as_str()));
                out.extend(secret_env.iter().map(|s| ("secret_env", s.as_str())));
            }
            SinkKind::Feishu {
                hook_env,
                secret_env,
                ..
            } => {
                out.push(("hook_env", hook_env.as_str()));
                out.extend(secret_env.iter().map(|s| ("secret_env", s.as_str())));
            }
            SinkKind::Slack { url_env } => out.push(("url_env", url_env.as_str())),
            SinkKind::Webhook { secret_env, .. } => {
                out.extend(secret_env.iter().map(|s| ("secret_env", s.as_str())))
            }
            SinkKind::Email { password_env, .. } => {
                out.extend(password_env.iter().map(|s| ("password_env", s.as_str())))
            }
        }
        out
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    ui_url: Option<String>,
    timeout_seconds: Option<i64>,
    max_attempts: Option<i64>,
    backoff_seconds: Option<i64>,
    max_backoff_seconds: Option<i64>,
    #[serde(default)]
    sinks: Vec<RawSink>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RawSink {
    Wecom(RawWeCom),
    Dingtalk(RawDingTalk),
    Feishu(RawFeishu),
    Slack(RawSlack),
    Webhook(RawWebhook),
    Email(RawEmail),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeCom {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    base_url: Option<String>,
    key_env: String,
    format: Option<String>,
    #[serde(default)]
    mobiles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDingTalk {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    base_url: Option<String>,
    token_env: String,
    secret_env: Option<String>,
    #[serde(default)]
    mobiles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeishu {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    base_url: Option<String>,
    hook_env: String,
    secret_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlack {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    url_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    url: String,
    secret_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    name: String,
    levels: Option<Vec<String>>,
    per_minute: Option<i64>,
    host: String,
    port: Option<i64>,
    tls: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    from: String,
    to: Vec<String>,
    ca_file: Option<String>,
}

impl RawSink {
    fn common(&self) -> (&str, Option<&Vec<String>>, Option<i64>) {
        match self {
            RawSink::Wecom(s) => (&s.name, s.levels.as_ref(), s.per_minute),
            RawSink::Dingtalk(s) => (&s.name, s.levels.as_ref(), s.per_minute),
            RawSink::Feishu(s) => (&s.name, s.levels.as_ref(), s.per_minute),
            RawSink::Slack(s) => (&s.name, s.levels.as_ref(), s.per_minute),
            RawSink::Webhook(s) => (&s.name, s.levels.as_ref(), s.per_minute),
            RawSink::Email(s) => (&s.name, s.levels.as_ref(), s.per_minute),
        }
    }
}

/// Validates `[alerts]`, appending every problem to `errors`.
pub(crate) fn validate(
    raw: RawAlerts,
    src: &TomlSource,
    base: &Path,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> AlertsConfig {
    let d = DeliverySettings::default();
    let mut int =
        |key: &str, v: Option<i64>, range: std::ops::RangeInclusive<i64>| -> Option<i64> {
            let v = v?;
            if range.contains(&v) {
                Some(v)
            } else {
                errors.push(src.error(
                    &format!("alerts.{key}"),
                    format!("{v} is out of range {}..={}", range.start(), range.end()),
                ));
                None
            }
        };
    let secs = |v: i64| Duration::from_secs(v as u64);
    let delivery = DeliverySettings {
        timeout: int("timeout_seconds", raw.timeout_seconds, 1..=300).map_or(d.timeout, secs),
        max_attempts: int("max_attempts", raw.max_attempts, 1..=1000)
            .map_or(d.max_attempts, |v| v as u32),
        backoff: int("backoff_seconds", raw.backoff_seconds, 0..=3600).map_or(d.backoff, secs),
        max_backoff: int("max_backoff_seconds", raw.max_backoff_seconds, 0..=86_400)
            .map_or(d.max_backoff, secs),
    };
    let ui_url = raw
        .ui_url
        .and_then(|u| http_url(&u, "alerts.ui_url", src, errors));

    let mut seen = BTreeSet::new();
    let mut sinks = Vec::new();
    for (i, sink) in raw.sinks.into_iter().enumerate() {
        let at = |key: &str| format!("alerts.sinks[{i}].{key}");
        let (name, levels, per_minute) = sink.common();
        let name = name.to_string();
        if !is_slug(&name) {
            errors.push(src.error(
                &at("name"),
                format!("{name:?} is not a sink name: use lowercase letters, digits, '-' and '_'"),
            ));
        } else if !seen.insert(name.clone()) {
            errors.push(src.error(&at("name"), format!("sink {name:?} is defined twice")));
        }
        let levels = match levels {
            None => vec![AlertLevel::Warning, AlertLevel::Crisis],
            Some(ls) => {
                let mut out = Vec::new();
                for l in ls {
                    match AlertLevel::parse(l) {
                        Some(level) if !out.contains(&level) => out.push(level),
                        Some(_) => {}
                        None => errors.push(src.error(
                            &at("levels"),
                            format!("{l:?} is not a level: use \"warning\" and/or \"crisis\""),
                        )),
                    }
                }
                if out.is_empty() && ls.is_empty() {
                    errors.push(src.error(
                        &at("levels"),
                        "is empty: the sink would never be told anything (remove the sink instead)",
                    ));
                }
                out
            }
        };
        let per_minute = match per_minute {
            None => None,
            Some(v) if (1..=6000).contains(&v) => Some(v as u32),
            Some(v) => {
                errors.push(src.error(&at("per_minute"), format!("{v} is out of range 1..=6000")));
                None
            }
        };
        let url =
            |key: &str, v: &str, errors: &mut Vec<ConfigError>| http_url(v, &at(key), src, errors);
        let kind = match sink {
            RawSink::Wecom(s) => {
                let markdown = match s.format.as_deref() {
                    None | Some("text") => Some(false),
                    Some("markdown") => Some(true),
                    Some(other) => {
                        errors.push(src.error(
                            &at("format"),
                            format!("{other:?} is not a format: use \"text\" or \"markdown\""),
                        ));
                        None
                    }
                };
                let base_url = url(
                    "base_url",
                    s.base_url
                        .as_deref()
                        .unwrap_or("https://qyapi.weixin.qq.com"),
                    errors,
                );
                match (base_url, markdown) {
                    (Some(base_url), Some(markdown)) => Some(SinkKind::WeCom {
                        base_url,
                        key_env: s.key_env,
                        markdown,
                        mobiles: s.mobiles,
                    }),
                    _ => None,
                }
            }
            RawSink::Dingtalk(s) => url(
                "base_url",
                s.base_url.as_deref().unwrap_or("https://oapi.dingtalk.com"),
                errors,
            )
            .map(|base_url| SinkKind::DingTalk {
                base_url,
                token_env: s.token_env,
                secret_env: s.secret_env,
                mobiles: s.mobiles,
            }),
            RawSink::Feishu(s) => url(
                "base_url",
                s.base_url.as_deref().unwrap_or("https://open.feishu.cn"),
                errors,
            )
            .map(|base_url| SinkKind::Feishu {
                base_url,
                hook_env: s.hook_env,
                secret_env: s.secret_env,
            }),
            RawSink::Slack(s) => Some(SinkKind::Slack { url_env: s.url_env }),
            RawSink::Webhook(s) => url("url", &s.url, errors).map(|url| SinkKind::Webhook {
                url,
                secret_env: s.secret_env,
            }),
            RawSink::Email(s) => validate_email(s, &at, src, base, errors),
        };
        let Some(kind) = kind else { continue };
        let mut bad_env = false;
        for (key, var) in kind.secret_vars() {
            if let Err(why) = crate::config::env::check_env_name(var) {
                bad_env = true;
                errors.push(src.error(&at(key), why));
            } else if std::env::var_os(var).is_none() {
                warnings.push(Warning {
                    file: src.path.clone(),
                    key: at(key),
                    why: format!(
                        "environment variable {var} is not set; sink {name:?} cannot send until it is"
                    ),
                });
            }
        }
        if bad_env {
            continue;
        }
        sinks.push(SinkConfig {
            name,
            levels,
            per_minute,
            kind,
        });
    }
    AlertsConfig {
        ui_url,
        delivery,
        sinks,
    }
}

fn validate_email(
    s: RawEmail,
    at: &dyn Fn(&str) -> String,
    src: &TomlSource,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<SinkKind> {
    let before = errors.len();
    let tls = match s.tls.as_deref() {
        None | Some("starttls") => SmtpTls::Starttls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            errors.push(src.error(
                &at("tls"),
                format!("{other:?} is not a TLS mode: use \"starttls\", \"tls\" or \"none\""),
            ));
            SmtpTls::Starttls
        }
    };
    let port = match s.port {
        None => match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        },
        Some(p) if (1..=65535).contains(&p) => p as u16,
        Some(p) => {
            errors.push(src.error(&at("port"), format!("{p} is not a TCP port (1..=65535)")));
            0
        }
    };
    if s.host.trim().is_empty() {
        errors.push(src.error(&at("host"), "must not be empty"));
    }
    if s.password_env.is_some() && s.username.is_none() {
        errors.push(src.error(
            &at("password_env"),
            "needs `username` as well: SMTP logs in with both",
        ));
    }
    if s.from.parse::<lettre::message::Mailbox>().is_err() {
        errors.push(src.error(
            &at("from"),
            format!("{:?} is not an e-mail address", s.from),
        ));
    }
    if s.to.is_empty() {
        errors.push(src.error(&at("to"), "needs at least one address"));
    }
    for (j, addr) in s.to.iter().enumerate() {
        if addr.parse::<lettre::message::Mailbox>().is_err() {
            errors.push(src.error(
                &format!("{}[{j}]", at("to")),
                format!("{addr:?} is not an e-mail address"),
            ));
        }
    }
    if s.ca_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
        errors.push(src.error(&at("ca_file"), "must not be empty"));
    }
    if s.ca_file.is_some() && tls == SmtpTls::None {
        errors.push(src.error(&at("ca_file"), "has no use with tls = \"none\""));
    }
    (errors.len() == before).then_some(SinkKind::Email {
        host: s.host,
        port,
        tls,
        username: s.username,
        password_env: s.password_env,
        from: s.from,
        to: s.to,
        // Relative to herald.toml, like every other path in it.
        ca_file: s.ca_file.map(|f| base.join(f)),
    })
}

fn http_url(v: &str, key: &str, src: &TomlSource, errors: &mut Vec<ConfigError>) -> Option<Url> {
    match Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            errors.push(src.error(key, "must be an http or https URL"));
            None
        }
        Err(e) => {
            errors.push(src.error(key, format!("not a URL: {e}")));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        alerts: RawAlerts,
    }

    fn check(text: &str) -> Result<AlertsConfig, Vec<ConfigError>> {
        let src = TomlSource::new("herald.toml", text, 1);
        let raw: Doc = src.parse().map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let out = validate(
            raw.alerts,
            &src,
            Path::new("/srv/herald"),
            &mut errors,
            &mut Vec::new(),
        );
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn every_kind_parses_with_defaults() {
        let text = r#"
[alerts]
ui_url = "https://herald.example/alerts"
max_attempts = 5

[[alerts.sinks]]
name = "wecom"
kind = "wecom"
key_env = "HERALD_WECOM_KEY"
format = "markdown"
levels = ["crisis"]

[[alerts.sinks]]
name = "ding"
kind = "dingtalk"
token_env = "HERALD_DING_TOKEN"
secret_env = "HERALD_DING_SECRET"
mobiles = ["13800000000"]

[[alerts.sinks]]
name = "lark"
kind = "feishu"
base_url = "https://open.larksuite.com"
hook_env = "HERALD_LARK_HOOK"

[[alerts.sinks]]
name = "slack"
kind = "slack"
url_env = "HERALD_SLACK_URL"
per_minute = 30

[[alerts.sinks]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/alerts"

[[alerts.sinks]]
name = "mail"
kind = "email"
host = "smtp.example.com"
username = "bot"
password_env = "HERALD_SMTP_PASSWORD"
from = "herald <bot@example.com>"
to = ["ops@example.com"]
ca_file = "certs/relay-ca.pem"
"#;
        let c = check(text).expect("valid");
        let kinds: Vec<_> = c.sinks.iter().map(|s| s.kind.name()).collect();
        assert_eq!(
            kinds,
            ["wecom", "dingtalk", "feishu", "slack", "webhook", "email"]
        );
        assert_eq!(c.delivery.max_attempts, 5);
        assert_eq!(c.sinks[0].levels, [AlertLevel::Crisis]);
        assert_eq!(c.sinks[1].levels, [AlertLevel::Warning, AlertLevel::Crisis]);
        assert_eq!(c.sinks[3].per_minute, Some(30));
        assert_eq!(c.sinks_for(AlertLevel::Warning).len(), 5);
        assert_eq!(c.sinks_for(AlertLevel::Crisis).len(), 6);
        match &c.sinks[5].kind {
            SinkKind::Email { port, tls, .. } => {
                assert_eq!((*port, *tls), (587, SmtpTls::Starttls))
            }
            other => panic!("{other:?}"),
        }
        match &c.sinks[1].kind {
            SinkKind::DingTalk { base_url, .. } => {
                assert_eq!(base_url.as_str(), "https://oapi.dingtalk.com/")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mistakes_name_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "[[alerts.sinks]]\nname = \"w\"\nkind = \"wecom\"\nkey_env = \"K\"\nkey = \"abc\"\n",
                5,
                "alerts.sinks[0].key",
                "unknown field",
            ),
            (
                "[[alerts.sinks]]\nname = \"w\"\nkind = \"pager\"\n",
                3,
                "alerts.sinks[0].kind",
                "unknown variant",
            ),
            (
                "[[alerts.sinks]]\nname = \"w\"\nkind = \"wecom\"\nkey_env = \"K\"\nlevels = [\"panic\"]\n",
                5,
                "alerts.sinks[0].levels",
                "not a level",
            ),
            (
                "[[alerts.sinks]]\nname = \"w\"\nkind = \"wecom\"\nkey_env = \"K\"\nformat = \"html\"\n",
                5,
                "alerts.sinks[0].format",
                "not a format",
            ),
            (
                "[[alerts.sinks]]\nname = \"a\"\nkind = \"slack\"\nurl_env = \"U\"\n[[alerts.sinks]]\nname = \"a\"\nkind = \"slack\"\nurl_env = \"U\"\n",
                6,
                "alerts.sinks[1].name",
                "defined twice",
            ),
            (
                "[[alerts.sinks]]\nname = \"d\"\nkind = \"dingtalk\"\ntoken_env = \"T\"\nbase_url = \"ftp://x\"\n",
                5,
                "alerts.sinks[0].base_url",
                "http or https",
            ),
            (
                "[[alerts.sinks]]\nname = \"m\"\nkind = \"email\"\nhost = \"h\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\", \"not an address\"]\n",
                6,
                "alerts.sinks[0].to[1]",
                "not an e-mail address",
            ),
            (
                "[[alerts.sinks]]\nname = \"m\"\nkind = \"email\"\nhost = \"h\"\nport = 70000\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\n",
                5,
                "alerts.sinks[0].port",
                "not a TCP port",
            ),
            (
                "[alerts]\nmax_attempts = 0\n",
                2,
                "alerts.max_attempts",
                "out of range",
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
    fn a_secret_pasted_instead_of_a_variable_name_is_not_echoed() {
        let secret = "SEC1a2b3c-d4e5-secret-value";
        let text = format!(
            "[[alerts.sinks]]\nname = \"d\"\nkind = \"dingtalk\"\ntoken_env = \"T\"\nsecret_env = \"{secret}\"\n"
        );
        let errors = check(&text).expect_err("bad env name");
        assert_eq!(errors[0].key, "alerts.sinks[0].secret_env");
        assert_eq!(errors[0].line, 5);
        assert!(!errors[0].to_string().contains(secret), "{}", errors[0]);
    }
}
