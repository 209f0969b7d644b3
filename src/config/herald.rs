//! `herald.toml`: where the data lives, the timezone, the channels.
//!
//! Later capabilities (web, alerts, listening) add their own sections here, each owned and
//! validated by its module.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use super::error::{ConfigError, Warning};
use super::source::{self, TomlSource};
use crate::publish::config::{
    self as channels, ChannelConfig, PublishSettings, RawChannel, RawPublish,
};

/// The validated `herald.toml`.
#[derive(Debug, Clone)]
pub struct HeraldConfig {
    /// The plan's and the UI's timezone (default Asia/Shanghai).
    pub timezone: Tz,
    pub storage: StorageConfig,
    pub content_plan: PathBuf,
    pub keywords: PathBuf,
    pub channels: Vec<ChannelConfig>,
    pub publish: PublishSettings,
    /// Where herald listens.
    pub sources: Vec<crate::listen::config::SourceConfig>,
    /// The web UI, when `[web]` is present.
    pub web: Option<crate::web::config::WebConfig>,
    /// `[alerts]`: where crisis alerts are sent.
    pub alerts: crate::crisis::notify::config::AlertsConfig,
    /// `[crisis]`: the live detector's switch and knobs.
    pub crisis: crate::crisis::config::CrisisConfig,
    /// `[report]`: the weekly digest.
    pub report: crate::report::config::ReportConfig,
}

/// `[storage]`: where the store lives (sled's folder, or a PostgreSQL database), how much
/// memory sled may cache, how long records are kept.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// sled's folder (also where `herald run` keeps its control socket).
    pub path: PathBuf,
    /// A shared PostgreSQL database instead of sled, when `url` or `url_env` is given.
    pub postgres: Option<PostgresConfig>,
    /// How long a process's hold on shared work lasts unless renewed (`lease_seconds`,
    /// default 30): how soon another process takes over a dead one's work.
    pub lease_ttl: std::time::Duration,
    /// sled's page cache (`cache_mb`, default [`crate::store::DEFAULT_CACHE_MB`]).
    pub options: crate::store::StoreOptions,
    /// `keep_mentions_days` (default 90) and `keep_closed_queue_days` (default 30); 0 keeps
    /// for ever.
    pub retention: crate::store::Retention,
}

/// `[storage] url`/`url_env`, `password_env` and `brand`: how a PostgreSQL store is reached.
/// Secrets stay in the environment: a URL in the file must not hold a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// The URL, or the variable that holds it.
    pub url: DatabaseUrl,
    /// The variable holding the password, if any.
    pub password_env: Option<String>,
    /// The brand this herald's rows belong to (`brand`, default [`DEFAULT_BRAND`]).
    pub brand: String,
    /// `ca_file`: PEM certificates to trust for TLS (`?sslmode=require` in the URL) besides
    /// the Mozilla roots, relative to herald.toml.
    pub ca_file: Option<PathBuf>,
}

/// Where the database URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `url = "postgres://herald@db:5432/herald"` (no password).
    Literal(String),
    /// `url_env = "HERALD_DATABASE_URL"`: the whole URL, secrets and all, from the environment.
    Env(String),
}

/// How long a process's hold on shared work lasts unless renewed, when `[storage]
/// lease_seconds` is not given (see `crate::lease`).
pub const DEFAULT_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// The brand rows are written under when `[storage] brand` is not given.
pub const DEFAULT_BRAND: &str = "default";

impl PostgresConfig {
    /// The options the store opens with, reading the secrets from the environment now (the
    /// error names the variable, never a value).
    pub fn options(&self) -> Result<crate::store::pg::PgOptions, crate::config::env::SecretError> {
        use crate::config::env::secret;
        let url = match &self.url {
            DatabaseUrl::Literal(u) => u.clone(),
            DatabaseUrl::Env(var) => secret(var, "[storage] url_env")?,
        };
        let password = self
            .password_env
            .as_deref()
            .map(|var| secret(var, "[storage] password_env"))
            .transpose()?;
        Ok(crate::store::pg::PgOptions {
            url,
            password,
            brand: self.brand.clone(),
            ca_file: self.ca_file.clone(),
        })
    }
}

impl StorageConfig {
    /// Where the store is, for messages: sled's folder, or the database's URL as written
    /// (`url`; never a password) or the variable that holds it (`url_env`).
    pub fn shown(&self) -> String {
        match &self.postgres {
            None => self.path.display().to_string(),
            Some(PostgresConfig {
                url: DatabaseUrl::Literal(u),
                brand,
                ..
            }) => format!("{u} (brand {brand})"),
            Some(PostgresConfig {
                url: DatabaseUrl::Env(var),
                brand,
                ..
            }) => format!("the PostgreSQL database ${var} names (brand {brand})"),
        }
    }

    /// The defaults, with the store at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self {
            path,
            postgres: None,
            lease_ttl: DEFAULT_LEASE_TTL,
            options: Default::default(),
            retention: Default::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHerald {
    timezone: Option<String>,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    paths: RawPaths,
    #[serde(default)]
    channels: Vec<RawChannel>,
    #[serde(default)]
    publish: RawPublish,
    #[serde(default)]
    sources: Vec<crate::listen::config::RawSource>,
    web: Option<crate::web::config::RawWeb>,
    #[serde(default)]
    alerts: crate::crisis::notify::config::RawAlerts,
    #[serde(default)]
    crisis: crate::crisis::config::RawCrisis,
    #[serde(default)]
    report: crate::report::config::RawReport,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<String>,
    url: Option<String>,
    url_env: Option<String>,
    password_env: Option<String>,
    brand: Option<String>,
    ca_file: Option<String>,
    lease_seconds: Option<i64>,
    cache_mb: Option<i64>,
    keep_mentions_days: Option<i64>,
    keep_closed_queue_days: Option<i64>,
}

/// The largest `cache_mb` accepted (64 GiB): beyond, a typo rather than a choice.
const MAX_CACHE_MB: i64 = 64 * 1024;

/// The longest retention accepted, in days (about 100 years).
const MAX_KEEP_DAYS: i64 = 36_500;

/// Validates `[storage]`'s numbers: cache size and retention.
fn validate_storage(
    raw: &RawStorage,
    src: &TomlSource,
    errors: &mut Vec<ConfigError>,
) -> (crate::store::StoreOptions, crate::store::Retention) {
    let mut options = crate::store::StoreOptions::default();
    if let Some(mb) = raw.cache_mb {
        if (1..=MAX_CACHE_MB).contains(&mb) {
            options.cache_bytes = mb.unsigned_abs() * 1024 * 1024;
        } else {
            errors.push(src.error(
                "storage.cache_mb",
                format!("must be between 1 and {MAX_CACHE_MB} (megabytes of memory for the store's cache)"),
            ));
        }
    }
    let mut retention = crate::store::Retention::default();
    let mut days = |key: &str, value: Option<i64>, slot: &mut Option<chrono::TimeDelta>| match value
    {
        None => {}
        Some(0) => *slot = None,
        Some(d) if (1..=MAX_KEEP_DAYS).contains(&d) => *slot = Some(chrono::TimeDelta::days(d)),
        Some(_) => errors.push(src.error(
            key,
            format!(
                "must be a number of days between 1 and {MAX_KEEP_DAYS}, or 0 to keep for ever"
            ),
        )),
    };
    days(
        "storage.keep_mentions_days",
        raw.keep_mentions_days,
        &mut retention.mentions,
    );
    days(
        "storage.keep_closed_queue_days",
        raw.keep_closed_queue_days,
        &mut retention.closed_queue,
    );
    (options, retention)
}

/// Validates `[storage]`'s PostgreSQL keys: one of `url` (without a password) or `url_env`,
/// variable names for the secrets, a plain brand name.
fn validate_postgres(
    raw: &RawStorage,
    src: &TomlSource,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<PostgresConfig> {
    let env_name = |key: &str, value: &Option<String>, errors: &mut Vec<ConfigError>| {
        let v = value.as_ref()?;
        match crate::config::env::check_env_name(v) {
            Ok(()) => Some(v.clone()),
            Err(why) => {
                errors.push(src.error(key, why));
                None
            }
        }
    };
    let url_env = env_name("storage.url_env", &raw.url_env, errors);
    let password_env = env_name("storage.password_env", &raw.password_env, errors);
    let url = match (&raw.url, &raw.url_env) {
        (Some(_), Some(_)) => {
            errors.push(src.error("storage.url", "give `url` or `url_env`, not both"));
            return None;
        }
        (None, Some(_)) => DatabaseUrl::Env(url_env?),
        (Some(u), None) => match url::Url::parse(u) {
            Ok(parsed) if !matches!(parsed.scheme(), "postgres" | "postgresql") => {
                errors.push(src.error(
                    "storage.url",
                    "must be a postgres:// URL (leave it out to keep the embedded sled store)",
                ));
                return None;
            }
            Ok(parsed) if parsed.password().is_some() => {
                // Never repeat the value: it holds a secret.
                errors.push(src.error(
                    "storage.url",
                    "must not hold a password (the value is not shown): put the password in an \
                     environment variable named by `password_env`, or the whole URL in one named \
                     by `url_env`",
                ));
                return None;
            }
            Ok(_) => DatabaseUrl::Literal(u.clone()),
            Err(e) => {
                errors.push(src.error("storage.url", format!("is not a valid URL: {e}")));
                return None;
            }
        },
        (None, None) => {
            if raw.password_env.is_some() || raw.brand.is_some() || raw.ca_file.is_some() {
                let key = if raw.brand.is_some() {
                    "storage.brand"
                } else if raw.ca_file.is_some() {
                    "storage.ca_file"
                } else {
                    "storage.password_env"
                };
                errors.push(src.error(
                    key,
                    "only means something with a PostgreSQL store: add `url` or `url_env`",
                ));
            }
            return None;
        }
    };
    let brand = match raw.brand.as_deref() {
        None => DEFAULT_BRAND.to_string(),
        Some(b)
            if (1..=64).contains(&b.len())
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
        {
            b.to_string()
        }
        Some(_) => {
            errors.push(src.error(
                "storage.brand",
                "must be 1 to 64 letters, digits, `-` or `_`",
            ));
            DEFAULT_BRAND.to_string()
        }
    };
    let ca_file = match raw.ca_file.as_deref() {
        None => None,
        Some(f) if f.trim().is_empty() => {
            errors.push(src.error("storage.ca_file", "must not be empty"));
            None
        }
        Some(f) => Some(base.join(f)),
    };
    Some(PostgresConfig {
        url,
        password_env,
        brand,
        ca_file,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    content_plan: Option<String>,
    keywords: Option<String>,
}

const DEFAULT_TZ: Tz = chrono_tz::Asia::Shanghai;

impl HeraldConfig {
    /// herald's data folder: the sled store's parent folder (the outbox file, caches).
    pub fn data_dir(&self) -> PathBuf {
        self.storage
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The folder of the drafts' pictures: `<content_plan>/media`.
    pub fn media_dir(&self) -> PathBuf {
        self.content_plan.join("media")
    }

    /// The folder of re-encoded copies and thumbnails of pictures: `<data_dir>/media-cache`,
    /// never under the content plan.
    pub fn media_cache_dir(&self) -> PathBuf {
        self.data_dir().join("media-cache")
    }

    /// What herald uses when there is no `herald.toml`: everything beside it, one outbox channel.
    pub fn defaults(base: &Path) -> Self {
        Self {
            timezone: DEFAULT_TZ,
            storage: StorageConfig::at(base.join("data/herald.db")),
            content_plan: base.join("content-plan"),
            keywords: base.join("keywords"),
            channels: vec![ChannelConfig::default_outbox()],
            publish: PublishSettings::default(),
            sources: Vec::new(),
            web: None,
            alerts: Default::default(),
            crisis: Default::default(),
            report: Default::default(),
        }
    }
}

pub(super) fn load(
    path: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<HeraldConfig, Vec<ConfigError>> {
    let src = source::read(path).map_err(|e| vec![e])?;
    let raw: RawHerald = src.parse().map_err(|e| vec![e])?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new(""));
    validate(raw, &src, base, warnings)
}

fn validate(
    raw: RawHerald,
    src: &TomlSource,
    base: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<HeraldConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let defaults = HeraldConfig::defaults(base);

    let timezone = match raw.timezone.as_deref() {
        None => DEFAULT_TZ,
        Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
            errors.push(src.error(
                "timezone",
                format!("unknown timezone {name:?}: use an IANA name such as \"Asia/Shanghai\""),
            ));
            DEFAULT_TZ
        }),
    };

    let (store_options, retention) = validate_storage(&raw.storage, src, &mut errors);
    let postgres = validate_postgres(&raw.storage, src, base, &mut errors);
    let lease_ttl = match raw.storage.lease_seconds {
        None => DEFAULT_LEASE_TTL,
        Some(s) if (3..=300).contains(&s) => std::time::Duration::from_secs(s.unsigned_abs()),
        Some(_) => {
            errors.push(src.error(
                "storage.lease_seconds",
                "must be between 3 and 300 (seconds before another process takes over a dead one's work)",
            ));
            DEFAULT_LEASE_TTL
        }
    };
    let mut resolve = |key: &str, value: Option<String>, default: PathBuf| match value {
        None => default,
        Some(v) if v.trim().is_empty() => {
            errors.push(src.error(key, "must not be empty"));
            default
        }
        Some(v) => base.join(v),
    };
    let storage_path = resolve("storage.path", raw.storage.path, defaults.storage.path);
    let content_plan = resolve(
        "paths.content_plan",
        raw.paths.content_plan,
        defaults.content_plan,
    );
    let keywords = resolve("paths.keywords", raw.paths.keywords, defaults.keywords);

    let channels = if raw.channels.is_empty() {
        defaults.channels
    } else {
        channels::validate(raw.channels, src, &mut errors, warnings)
    };

    let publish = channels::validate_settings(raw.publish, src, &mut errors);
    let sources = crate::listen::config::validate(raw.sources, src, &mut errors, warnings);
    let web = raw
        .web
        .map(|w| crate::web::config::validate(w, src, &mut errors, warnings));
    let alerts =
        crate::crisis::notify::config::validate(raw.alerts, src, base, &mut errors, warnings);
    let crisis = crate::crisis::config::validate(raw.crisis, src, &mut errors);
    let sink_names: Vec<String> = alerts.sinks.iter().map(|s| s.name.clone()).collect();
    let report = crate::report::config::validate(raw.report, src, &sink_names, &mut errors);

    if errors.is_empty() {
        Ok(HeraldConfig {
            timezone,
            storage: StorageConfig {
                path: storage_path,
                postgres,
                lease_ttl,
                options: store_options,
                retention,
            },
            content_plan,
            keywords,
            channels,
            publish,
            sources,
            web,
            alerts,
            crisis,
            report,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<HeraldConfig, Vec<ConfigError>> {
        let src = TomlSource::new("herald.toml", text, 1);
        let raw: RawHerald = src.parse().map_err(|e| vec![e])?;
        validate(raw, &src, Path::new("/srv/herald"), &mut Vec::new())
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = check("").expect("valid");
        assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(c.storage.path, Path::new("/srv/herald/data/herald.db"));
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.channels[0].name, "outbox");
        assert_eq!(c.storage.options.cache_bytes, 64 << 20);
        assert_eq!(
            c.storage.retention.mentions,
            Some(chrono::TimeDelta::days(90))
        );
        assert_eq!(
            c.storage.retention.closed_queue,
            Some(chrono::TimeDelta::days(30))
        );
    }

    /// `[report]` is read with `[alerts]`'s sinks: by default the digest goes to all of them;
    /// a sink it names must be one of them, reported at its line.
    #[test]
    fn report_names_alert_sinks() {
        let sinks = "[[alerts.sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/a\"\n";
        let c = check(&format!("[report]\ndigest = true\n\n{sinks}")).expect("valid");
        assert!(c.report.digest);
        assert_eq!(c.report.sinks, ["hook"]);
        assert!(!check("").expect("valid").report.digest, "off by default");
        let errors = check(&format!(
            "[report]\ndigest = true\nsinks = [\"wecom\"]\n\n{sinks}"
        ))
        .expect_err("unknown sink");
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(
            got,
            [(3, "report.sinks"), (2, "report.digest")],
            "{errors:?}"
        );
        assert_eq!(errors[0].file, std::path::PathBuf::from("herald.toml"));
    }

    #[test]
    fn storage_cache_and_retention_are_read_and_checked() {
        let c =
            check("[storage]\ncache_mb = 16\nkeep_mentions_days = 7\nkeep_closed_queue_days = 0\n")
                .expect("valid");
        assert_eq!(c.storage.options.cache_bytes, 16 << 20);
        assert_eq!(
            c.storage.retention.mentions,
            Some(chrono::TimeDelta::days(7))
        );
        assert_eq!(c.storage.retention.closed_queue, None, "0 keeps for ever");
        for (text, key) in [
            ("[storage]\ncache_mb = 0\n", "storage.cache_mb"),
            ("[storage]\ncache_mb = -5\n", "storage.cache_mb"),
            (
                "[storage]\nkeep_mentions_days = -1\n",
                "storage.keep_mentions_days",
            ),
            (
                "[storage]\nkeep_closed_queue_days = 99999999\n",
                "storage.keep_closed_queue_days",
            ),
        ] {
            let errors = check(text).expect_err(text);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, key, "{text}");
            assert_eq!(errors[0].line, 2, "{text}");
        }
    }

    #[test]
    fn postgres_is_chosen_by_url_or_url_env_with_secrets_from_the_environment() {
        let c = check("").expect("valid");
        assert_eq!(c.storage.postgres, None, "no URL keeps sled");
        let c = check(
            "[storage]\nurl = \"postgres://herald@db:5432/herald?sslmode=require\"\npassword_env = \"HERALD_DB_PW\"\nbrand = \"acme-cars\"\nca_file = \"certs/db-ca.pem\"\n",
        )
        .expect("valid");
        assert_eq!(
            c.storage.postgres,
            Some(PostgresConfig {
                url: DatabaseUrl::Literal(
                    "postgres://herald@db:5432/herald?sslmode=require".into()
                ),
                password_env: Some("HERALD_DB_PW".into()),
                brand: "acme-cars".into(),
                ca_file: Some(PathBuf::from("/srv/herald/certs/db-ca.pem")),
            })
        );
        assert_eq!(c.storage.lease_ttl, DEFAULT_LEASE_TTL);
        let c = check("[storage]\nurl_env = \"HERALD_DATABASE_URL\"\nlease_seconds = 5\n")
            .expect("valid");
        assert_eq!(c.storage.lease_ttl, std::time::Duration::from_secs(5));
        let pg = c.storage.postgres.expect("postgres");
        assert_eq!(pg.url, DatabaseUrl::Env("HERALD_DATABASE_URL".into()));
        assert_eq!(pg.brand, DEFAULT_BRAND);
        // The variable is read when the store opens; unset, the error names it.
        let e = PostgresConfig {
            url: DatabaseUrl::Env("HERALD_TEST_SURELY_UNSET_URL".into()),
            password_env: None,
            brand: "b".into(),
            ca_file: None,
        }
        .options()
        .expect_err("unset");
        assert!(
            e.to_string().contains("HERALD_TEST_SURELY_UNSET_URL"),
            "{e}"
        );
    }

    #[test]
    fn postgres_mistakes_are_located_and_never_repeat_a_password() {
        for (text, key, says) in [
            (
                "[storage]\nurl = \"postgres://herald:hunter2@db/herald\"\n",
                "storage.url",
                "must not hold a password",
            ),
            (
                "[storage]\nurl = \"mysql://db/herald\"\n",
                "storage.url",
                "postgres:// URL",
            ),
            (
                "[storage]\nurl = \"postgres://db/h\"\nurl_env = \"X\"\n",
                "storage.url",
                "not both",
            ),
            (
                "[storage]\nurl_env = \"postgres://herald:hunter2@db\"\n",
                "storage.url_env",
                "environment variable",
            ),
            (
                "[storage]\nurl = \"postgres://db/h\"\nbrand = \"a b\"\n",
                "storage.brand",
                "letters, digits",
            ),
            (
                "[storage]\nbrand = \"acme\"\n",
                "storage.brand",
                "add `url` or `url_env`",
            ),
            (
                "[storage]\nlease_seconds = 1\n",
                "storage.lease_seconds",
                "between 3 and 300",
            ),
        ] {
            let errors = check(text).expect_err(text);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, key, "{text}");
            let shown = errors[0].to_string();
            assert!(shown.contains(says), "{shown}");
            assert!(
                !shown.contains("hunter2"),
                "a password was repeated: {shown}"
            );
        }
    }

    #[test]
    fn mistakes_are_located() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "timezone = \"Mars/Olympus\"\n",
                "timezone",
                1,
                "unknown timezone",
            ),
            (
                "[storage]\npath = \"\"\n",
                "storage.path",
                2,
                "must not be empty",
            ),
            (
                "[storage]\npaht = \"x\"\n",
                "storage.paht",
                2,
                "unknown field",
            ),
            ("colour = \"red\"\n", "colour", 1, "unknown field"),
        ];
        for (text, key, line, why) in cases {
            let errors = check(text).expect_err(text);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, *key, "{text}");
            assert_eq!(errors[0].line, *line, "{text}");
            assert!(errors[0].why.contains(why), "{}", errors[0]);
        }
    }
}
