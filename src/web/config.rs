//! `[web]` in `herald.toml`: where the web UI listens and how its sessions and API behave.
//!
//! The web UI runs inside `herald run` only when the file has a `[web]` table (and
//! `enabled` is not false), so a bot without a UI opens no port. Secrets are never here: the API
//! token is read from the environment variable this section names.
//!
//! `public_url` turns on click counting: the planner then links posts through
//! `<public_url>/r/<source code>` (see `docs/clicks.md`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::error::{ConfigError, Warning};
use crate::config::source::TomlSource;

/// The default address: loopback only, so a fresh install is not reachable from the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The default environment variable that holds the API token.
pub const DEFAULT_TOKEN_ENV: &str = "HERALD_API_TOKEN";

/// Password checks that run at once unless `[web] login_checks` says otherwise.
pub const DEFAULT_LOGIN_CHECKS: usize = 2;

/// The validated `[web]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// Whether `herald run` serves the UI.
    pub enabled: bool,
    /// The address to listen on.
    pub bind: SocketAddr,
    /// Whether a non-loopback `bind` was allowed on purpose.
    pub allow_remote: bool,
    /// The environment variable that holds the API bearer token; the API answers 503 without it.
    pub api_token_env: String,
    /// Whether session cookies carry `Secure` (set it when a TLS proxy fronts herald).
    pub secure_cookies: bool,
    /// The longest a login lasts, however busy (the absolute maximum).
    pub session_ttl: Duration,
    /// How long a login lasts unused: every request with it starts this period again, up to
    /// `session_ttl` after the login.
    pub session_idle: Duration,
    /// Password checks run at once (each takes about 19 MiB); more logins at once are answered
    /// 503 at once.
    pub login_checks: usize,
    /// Whether a reverse proxy on this machine fronts herald: then the client address of a
    /// login, for its limits, is the last `X-Forwarded-For` entry of a loopback connection.
    pub behind_proxy: bool,
    /// The public address the click redirect is reached at (`https://go.example.com`, maybe
    /// with a path prefix), when clicks are counted: http(s), no query, no fragment, no user.
    pub public_url: Option<url::Url>,
}

impl WebConfig {
    /// The base of click-counting links, when the UI runs and `public_url` is set.
    pub fn click_base(&self) -> Option<&url::Url> {
        self.public_url.as_ref().filter(|_| self.enabled)
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allow_remote: false,
            api_token_env: DEFAULT_TOKEN_ENV.to_string(),
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(2 * 3600),
            login_checks: DEFAULT_LOGIN_CHECKS,
            behind_proxy: false,
            public_url: None,
        }
    }
}

/// `[web]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeb {
    enabled: Option<bool>,
    bind: Option<String>,
    allow_remote: Option<bool>,
    api_token_env: Option<String>,
    secure_cookies: Option<bool>,
    session_hours: Option<i64>,
    session_idle_minutes: Option<i64>,
    login_checks: Option<i64>,
    behind_proxy: Option<bool>,
    public_url: Option<String>,
}

/// Checks `[web]`, adding every problem to `errors`.
pub(crate) fn validate(
    raw: RawWeb,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> WebConfig {
    let mut web = WebConfig {
        enabled: raw.enabled.unwrap_or(true),
        allow_remote: raw.allow_remote.unwrap_or(false),
        secure_cookies: raw.secure_cookies.unwrap_or(false),
        behind_proxy: raw.behind_proxy.unwrap_or(false),
        ..WebConfig::default()
    };
    if let Some(bind) = raw.bind {
        match bind.parse::<SocketAddr>() {
            Ok(addr) => web.bind = addr,
            Err(_) => errors.push(src.error(
                "web.bind",
                format!("{bind:?} is not an address and port such as \"127.0.0.1:8080\""),
            )),
        }
    }
    if !web.bind.ip().is_loopback() {
        if web.allow_remote {
            warnings.push(Warning {
                file: src.path.clone(),
                key: "web.bind".into(),
                why: format!(
                    "the web UI listens on {}, reachable from other machines; put it behind TLS and set secure_cookies = true",
                    web.bind
                ),
            });
        } else {
            errors.push(src.error(
                "web.bind",
                format!(
                    "{} is not a loopback address: the web UI would be reachable from other machines; set allow_remote = true if that is meant",
                    web.bind.ip()
                ),
            ));
        }
    }
    if let Some(name) = raw.api_token_env {
        match crate::config::env::check_env_name(&name) {
            Ok(()) => web.api_token_env = name,
            Err(why) => errors.push(src.error("web.api_token_env", why)),
        }
    }
    if let Some(h) = raw.session_hours {
        if (1..=24 * 30).contains(&h) {
            web.session_ttl = Duration::from_secs(h.unsigned_abs() * 3600);
        } else {
            errors.push(src.error(
                "web.session_hours",
                format!("{h} is out of range: a login lasts 1 to 720 hours"),
            ));
        }
    }
    if let Some(m) = raw.session_idle_minutes {
        if (5..=24 * 30 * 60).contains(&m) {
            web.session_idle = Duration::from_secs(m.unsigned_abs() * 60);
        } else {
            errors.push(src.error(
                "web.session_idle_minutes",
                format!("{m} is out of range: an unused login lasts 5 to 43200 minutes"),
            ));
        }
    }
    if let Some(n) = raw.login_checks {
        if (1..=16).contains(&n) {
            web.login_checks = n.unsigned_abs() as usize;
        } else {
            errors.push(src.error(
                "web.login_checks",
                format!("{n} is out of range: 1 to 16 password checks at once (about 19 MiB each)"),
            ));
        }
    }
    if let Some(text) = raw.public_url {
        match public_url(&text) {
            Ok(url) => web.public_url = Some(url),
            Err(why) => errors.push(src.error("web.public_url", why)),
        }
    }
    web
}

/// Checks `[web] public_url`: an absolute http(s) URL with a host, and nothing a link built on
/// it could not carry (a query, a fragment, a user or password). A trailing `/` is dropped, so
/// links are `<public_url>/r/<code>` either way.
fn public_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("{text:?} is not a URL such as \"https://go.example.com\" ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?} must start with https:// (or http://): visitors open it in a browser"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host name"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} has a query or fragment (after ? or #); give the address only, herald adds /r/<code>"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the public URL must not carry a user name or password".to_string());
    }
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (WebConfig, Vec<ConfigError>, Vec<Warning>) {
        #[derive(Deserialize)]
        struct Top {
            web: RawWeb,
        }
        let src = TomlSource::new("herald.toml", text, 1);
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let top: Top = match src.parse() {
            Ok(t) => t,
            Err(e) => return (WebConfig::default(), vec![e], warnings),
        };
        let web = validate(top.web, &src, &mut errors, &mut warnings);
        (web, errors, warnings)
    }

    #[test]
    fn defaults_are_loopback_and_enabled() {
        let (web, errors, warnings) = check("[web]\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(warnings.is_empty());
        assert!(web.enabled);
        assert_eq!(web.bind.to_string(), DEFAULT_BIND);
        assert_eq!(web.api_token_env, DEFAULT_TOKEN_ENV);
        assert!(!web.secure_cookies);
    }

    #[test]
    fn mistakes_name_line_and_key() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "[web]\nbind = \"localhost\"\n",
                "web.bind",
                2,
                "not an address",
            ),
            (
                "[web]\n\nbind = \"0.0.0.0:8080\"\n",
                "web.bind",
                3,
                "not a loopback address",
            ),
            (
                "[web]\napi_token_env = \"s3cr3t-token-value\"\n",
                "web.api_token_env",
                2,
                "must name an environment variable",
            ),
            (
                "[web]\nsession_hours = 0\n",
                "web.session_hours",
                2,
                "out of range",
            ),
            (
                "[web]\nsession_idle_minutes = 1\n",
                "web.session_idle_minutes",
                2,
                "out of range",
            ),
            ("[web]\nport = 80\n", "web.port", 2, "unknown field"),
            (
                "[web]\nlogin_checks = 0\n",
                "web.login_checks",
                2,
                "out of range",
            ),
            (
                "[web]\npublic_url = \"go.example.com\"\n",
                "web.public_url",
                2,
                "not a URL",
            ),
            (
                "[web]\n\npublic_url = \"ftp://go.example.com\"\n",
                "web.public_url",
                3,
                "must start with https://",
            ),
            (
                "[web]\npublic_url = \"https://go.example.com/?a=1\"\n",
                "web.public_url",
                2,
                "query or fragment",
            ),
            (
                "[web]\npublic_url = \"https://go.example.com/#top\"\n",
                "web.public_url",
                2,
                "query or fragment",
            ),
            (
                "[web]\npublic_url = \"https://me:s3cr3t@go.example.com\"\n",
                "web.public_url",
                2,
                "user name or password",
            ),
            (
                "[web]\npublic_url = 5\n",
                "web.public_url",
                2,
                "invalid type",
            ),
        ];
        for (text, key, line, why) in cases {
            let (_, errors, _) = check(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert_eq!(errors[0].key, *key, "{text}");
            assert_eq!(errors[0].line, *line, "{text}");
            assert!(errors[0].why.contains(why), "{}", errors[0]);
            assert!(
                !errors[0].to_string().contains("s3cr3t"),
                "a pasted secret is never echoed: {}",
                errors[0]
            );
        }
    }

    #[test]
    fn the_ui_can_be_switched_off() {
        let (web, errors, _) =
            check("[web]\nenabled = false\nsession_hours = 48\nsession_idle_minutes = 30\nlogin_checks = 4\nbehind_proxy = true\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(web.login_checks, 4);
        assert!(web.behind_proxy);
        assert!(!web.enabled);
        assert_eq!(web.session_ttl, Duration::from_secs(48 * 3600));
        assert_eq!(web.session_idle, Duration::from_secs(30 * 60));
    }

    #[test]
    fn public_url_is_optional_and_kept_without_a_trailing_slash() {
        let (web, errors, _) = check("[web]\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(web.public_url, None);
        assert_eq!(web.click_base(), None);
        for (text, want) in [
            ("https://go.example.com", "https://go.example.com/"),
            ("https://go.example.com/", "https://go.example.com/"),
            ("http://example.com/go/", "http://example.com/go"),
        ] {
            let (web, errors, _) = check(&format!("[web]\npublic_url = \"{text}\"\n"));
            assert!(errors.is_empty(), "{text}: {errors:?}");
            assert_eq!(web.click_base().map(url::Url::as_str), Some(want), "{text}");
        }
        // A UI that is off serves no redirect: the planner must not link to it.
        let (web, errors, _) =
            check("[web]\nenabled = false\npublic_url = \"https://go.example.com\"\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(web.public_url.is_some());
        assert_eq!(web.click_base(), None);
    }

    #[test]
    fn remote_bind_needs_allow_remote_and_then_warns() {
        let (web, errors, warnings) =
            check("[web]\nbind = \"0.0.0.0:9000\"\nallow_remote = true\nsecure_cookies = true\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(web.bind.port(), 9000);
        assert!(web.secure_cookies);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].key, "web.bind");
    }
}
