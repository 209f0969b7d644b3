//! The PostgreSQL backend: the same record-kind traits as sled, on a database several herald
//! processes (and machines) share.
//!
//! - **Connections**: the `postgres` driver (pure Rust, the synchronous face of
//!   `tokio-postgres`). The store's API is synchronous, like sled's; the driver runs its own
//!   small runtime per connection, which must not be entered from a thread that already runs
//!   tokio, so each call runs on a short-lived scoped thread with a pooled connection
//!   (`Pool::with`). A connection found closed (the database restarted) is dropped and a new
//!   one made on the next call.
//! - **Schema**: versioned migrations under `migrations/`, embedded in the binary, applied in
//!   order by `PgStore::migrate` (`herald store migrate`, and at start) under an advisory
//!   lock, so two processes starting together do not apply one twice. A database whose schema
//!   is ahead of this herald is refused with [`StoreError::Schema`].
//! - **Records**: each table keeps the record as JSON (`record jsonb`, the same serde shape as
//!   sled's values) beside the columns its queries filter and sort on; rows carry a `brand`
//!   column (the configured brand), so several brands can share a database later without a
//!   data migration.
//! - **Several processes**: claims are single statements with `FOR UPDATE SKIP LOCKED`; work
//!   that one process must do at a time (the planner, each source, each channel's sending) is
//!   held under a lease ([`super::MetaStore::try_lease`]) that lapses when its holder stops
//!   renewing it; writes that make a post due `NOTIFY herald_posts` (see `PgStore::listen`).
//!
//! Secrets: the URL is never shown whole; [`PgOptions::shown`] drops any password.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::StoreError;

mod alerts;
mod check;
mod clicks;
mod engagement;
mod mentions;
mod meta;
mod posts;
mod queue;
mod retention;
mod users;

pub(crate) use alerts::PgAlerts;
pub(crate) use clicks::PgClicks;
pub(crate) use engagement::PgEngagement;
pub(crate) use mentions::PgMentions;
pub(crate) use meta::PgMeta;
pub(crate) use posts::PgPosts;
pub(crate) use queue::PgQueue;
pub(crate) use users::PgUsers;

/// The migrations, in order: (version, name, SQL). A version is never edited once released;
/// a change is a new file.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "core: posts, meta, cursors, leases",
        include_str!("migrations/0001_core.sql"),
    ),
    (
        2,
        "mentions and the reply queue",
        include_str!("migrations/0002_mentions_queue.sql"),
    ),
    (
        3,
        "alerts, deliveries, users and sessions",
        include_str!("migrations/0003_alerts_users.sql"),
    ),
    (
        4,
        "engagement of published posts",
        include_str!("migrations/0004_engagement.sql"),
    ),
    (
        5,
        "tracked links and their clicks",
        include_str!("migrations/0005_clicks.sql"),
    ),
];

/// The newest schema version this herald knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock key migrations are applied under ("herald" in ASCII).
const MIGRATION_LOCK: i64 = 0x6865_7261_6c64;

/// The notification channel writes that make posts due are announced on.
pub const POSTS_CHANNEL: &str = "herald_posts";

/// How a PostgreSQL store is reached.
#[derive(Clone)]
pub struct PgOptions {
    /// The connection URL (`postgres://user@host:port/db`), possibly with a password.
    pub url: String,
    /// A password to use instead of one in the URL (from the variable `password_env` names).
    pub password: Option<String>,
    /// The brand rows are written under and read for.
    pub brand: String,
    /// PEM certificates to trust besides the Mozilla roots, for `sslmode=require`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.shown())
            .field("brand", &self.brand)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// The URL without any password, for messages.
    pub fn shown(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(None);
                }
                u.to_string()
            }
            Err(_) => "(an unreadable PostgreSQL URL)".into(),
        }
    }

    fn config(&self) -> Result<postgres::Config, StoreError> {
        let mut config: postgres::Config = self.url.parse().map_err(|e| StoreError::Postgres {
            why: format!("the PostgreSQL URL {} is not valid: {e}", self.shown()),
        })?;
        if let Some(pw) = &self.password {
            config.password(pw);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("herald");
        Ok(config)
    }
}

/// A few connections, reused; a call runs on its own scoped thread (see the module docs).
pub(crate) struct Pool {
    config: postgres::Config,
    /// rustls, when the URL asks for TLS (`sslmode=require`).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    shown: String,
    idle: Mutex<Vec<Client>>,
}

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 8;

impl Pool {
    fn new(options: &PgOptions) -> Result<Self, StoreError> {
        let config = options.config()?;
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls(options)?),
            _ => None,
        };
        Ok(Self {
            config,
            tls,
            shown: options.shown(),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        connected.map_err(|e| StoreError::Postgres {
            why: format!("cannot connect to {}: {}", self.shown, why_chain(&e)),
        })
    }

    /// A connection, and whether it came from the pool (it may have died while idle).
    fn checkout(&self) -> Result<(Client, bool), StoreError> {
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        match idle {
            Some(c) if !c.is_closed() => Ok((c, true)),
            _ => Ok((self.connect()?, false)),
        }
    }

    fn checkin(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(client);
            }
        }
    }

    /// Runs `f` with a connection, on a thread of its own (the driver must not run on a
    /// thread inside a tokio runtime). The connection goes back to the pool unless it closed.
    ///
    /// A pooled connection the server closed meanwhile (it restarted) fails on first use: then
    /// every idle connection is dropped and `f` runs once more on a new one. `f` never
    /// committed on the dead connection unless the server died between receiving a COMMIT and
    /// answering it; every write herald makes checks the state it expects (a claim, a
    /// transition) or is keyed (a mention, a post), so the repeat then finds the work done.
    pub(crate) fn with<T: Send>(
        &self,
        mut f: impl FnMut(&mut Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        std::thread::scope(|s| {
            s.spawn(move || {
                let (mut client, pooled) = self.checkout()?;
                let out = f(&mut client);
                if out.is_err() && pooled && client.is_closed() {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.clear();
                    }
                    let mut fresh = self.connect()?;
                    let again = f(&mut fresh);
                    self.checkin(fresh);
                    return again;
                }
                self.checkin(client);
                out
            })
            .join()
            .unwrap_or_else(|_| {
                Err(StoreError::Postgres {
                    why: "a database call panicked".into(),
                })
            })
        })
    }
}

impl Drop for Pool {
    /// Closes the idle connections on a thread of their own: the driver closes a connection
    /// by running its runtime, which must not happen on a thread already running tokio (the
    /// last `Store` is often dropped there).
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// TLS for `sslmode=require`: rustls (ring), the server's certificate verified against the
/// Mozilla roots and the PEM certificates of `ca_file` (a private or a cloud provider's CA), and
/// the host name checked. There is no mode that skips verification.
fn tls(options: &PgOptions) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let fail = |why: String| StoreError::Postgres { why };
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &options.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| fail(format!("cannot read the CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(fail(format!(
                "the CA file {} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                fail(format!(
                    "a certificate in {} is unusable: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A connection failure with its causes (a TLS failure says why the certificate was refused).
fn why_chain(e: &postgres::Error) -> String {
    let mut text = why(e);
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The database's words for a failure: its message, without the driver's prefix.
pub(crate) fn why(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres { why: why(&e) }
    }
}

/// A JSON record column that does not read as its record.
pub(crate) fn corrupt(key: impl std::fmt::Display, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        why: e.to_string(),
    }
}

/// Reads a `record jsonb` value as `T`.
pub(crate) fn from_record<T: serde::de::DeserializeOwned>(
    key: impl std::fmt::Display,
    value: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| corrupt(key, e))
}

/// Writes `T` as a `record jsonb` value.
pub(crate) fn to_record<T: serde::Serialize>(value: &T) -> serde_json::Value {
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Connects and applies the migrations the database lacks (`herald store migrate`).
pub fn migrate(options: &PgOptions) -> Result<Migrated, StoreError> {
    let store = PgStore {
        pool: Arc::new(Pool::new(options)?),
        brand: options.brand.as_str().into(),
        options: Arc::new(options.clone()),
    };
    store.migrate()
}

/// Connects and reads every record of this brand (`herald store check`): counts, and what does
/// not decode. Applies no migration: a check writes nothing.
pub fn check(options: &PgOptions) -> Result<crate::store::CheckReport, StoreError> {
    let store = PgStore {
        pool: Arc::new(Pool::new(options)?),
        brand: options.brand.as_str().into(),
        options: Arc::new(options.clone()),
    };
    store.check()
}

/// The PostgreSQL store: a pool and the brand its rows belong to.
#[derive(Clone)]
pub(crate) struct PgStore {
    pub(crate) pool: Arc<Pool>,
    pub(crate) brand: Arc<str>,
    options: Arc<PgOptions>,
}

/// What `PgStore::migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version found before.
    pub from: i32,
    /// The version now.
    pub to: i32,
    /// The migrations applied, by name.
    pub applied: Vec<String>,
}

impl PgStore {
    /// Connects, and applies the migrations the database lacks (`herald run` and every
    /// command); a schema ahead of this herald is refused.
    pub(crate) fn open(options: &PgOptions) -> Result<Self, StoreError> {
        let store = Self {
            pool: Arc::new(Pool::new(options)?),
            brand: options.brand.as_str().into(),
            options: Arc::new(options.clone()),
        };
        let done = store.migrate()?;
        if !done.applied.is_empty() {
            tracing::info!(from = done.from, to = done.to, applied = ?done.applied, "Database schema migrated");
        }
        Ok(store)
    }

    /// Where the store is, for messages (no password).
    pub(crate) fn shown(&self) -> String {
        self.options.shown()
    }

    /// Applies the migrations not yet applied, in order, each in its own transaction, under an
    /// advisory lock.
    pub(crate) fn migrate(&self) -> Result<Migrated, StoreError> {
        let shown = self.shown();
        self.pool.with(|c| {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS herald_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .or_else(|e| {
                // Two processes creating the table at once: one wins, the other sees it.
                if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
            let result = (|| {
                let found: i32 = c
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM herald_migrations",
                        &[],
                    )?
                    .get(0);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: shown.clone(),
                        found: format!(
                            "{found} (this herald knows up to {SCHEMA_VERSION}: it is older than the herald that migrated the database; upgrade it)"
                        ),
                    });
                }
                let mut applied = Vec::new();
                for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
                    let mut tx = c.transaction()?;
                    tx.batch_execute(sql).map_err(|e| StoreError::Postgres {
                        why: format!("migration {version} ({name}) failed: {}", why(&e)),
                    })?;
                    tx.execute(
                        "INSERT INTO herald_migrations (version, name) VALUES ($1, $2)",
                        &[version, name],
                    )?;
                    tx.commit()?;
                    applied.push(format!("{version}: {name}"));
                }
                Ok(Migrated {
                    from: found,
                    to: SCHEMA_VERSION.max(found),
                    applied,
                })
            })();
            let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
            result
        })
    }

    /// Writes a probe row and reads it back: `Ok` while the database takes writes.
    pub(crate) fn probe_write(&self) -> Result<(), StoreError> {
        self.pool.with(|c| {
            c.execute(
                "INSERT INTO meta (brand, key, value) VALUES ($1, 'probe', to_jsonb(now()::text))
                 ON CONFLICT (brand, key) DO UPDATE SET value = excluded.value",
                &[&&*self.brand],
            )?;
            Ok(())
        })
    }

    /// Starts a thread that listens on `channel` and notifies `wake` on every notification
    /// (and once after each reconnection, as something may have been missed meanwhile). It
    /// stops when `wake` has no other owner left.
    pub(crate) fn listen(&self, channel: &'static str, wake: Arc<tokio::sync::Notify>) {
        let pool = Arc::clone(&self.pool);
        let weak = Arc::downgrade(&wake);
        drop(wake);
        std::thread::spawn(move || {
            let mut backoff = Duration::from_millis(200);
            loop {
                let Some(wake) = weak.upgrade() else { return };
                match pool.connect().and_then(|mut c| {
                    c.batch_execute(&format!("LISTEN {channel}"))?;
                    wake.notify_one();
                    Ok(c)
                }) {
                    Ok(mut c) => {
                        backoff = Duration::from_millis(200);
                        drop(wake);
                        loop {
                            let got = c
                                .notifications()
                                .timeout_iter(Duration::from_secs(2))
                                .next();
                            let Some(wake) = weak.upgrade() else { return };
                            match got {
                                Ok(Some(_)) => wake.notify_one(),
                                Ok(None) if c.is_closed() => break,
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::warn!(error = %why(&e), "Lost the database's notifications; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        drop(wake);
                        tracing::warn!(error = %e, "Cannot listen for the database's notifications; retrying");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fresh schema per test on the PostgreSQL named by `HERALD_TEST_PG_URL`.

    use super::*;

    /// The variable naming the test database.
    pub const URL_VAR: &str = "HERALD_TEST_PG_URL";

    /// A schema made for one test, dropped when this is dropped.
    pub struct Schema {
        url: String,
        pub name: String,
    }

    impl Schema {
        /// A new empty schema, or `None` without a test database.
        pub fn new() -> Option<Self> {
            let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
                assert!(
                    std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
                    "{} is set but {URL_VAR} names no database",
                    crate::store::testing::REQUIRED_VAR
                );
                return None;
            };
            let name = format!("t_{:016x}", fastrand::u64(..));
            let (u, n) = (url.clone(), name.clone());
            // On a thread of its own: a test may run this inside a runtime.
            std::thread::spawn(move || {
                let mut c = Client::connect(&u, NoTls).expect("connect to the test database");
                c.batch_execute(&format!("CREATE SCHEMA {n}"))
                    .expect("create a test schema");
            })
            .join()
            .expect("the test database answers");
            Some(Self { url, name })
        }

        /// Options that reach the schema (as the connection's search path).
        pub fn options(&self, brand: &str) -> PgOptions {
            let sep = if self.url.contains('?') { '&' } else { '?' };
            PgOptions {
                url: format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name),
                password: None,
                brand: brand.into(),
                ca_file: None,
            }
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            let url = self.url.clone();
            let name = self.name.clone();
            // On a thread of its own: a test may drop this inside a runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = Client::connect(&url, NoTls) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA {name} CASCADE"));
                }
            })
            .join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Runs SQL on the test schema from a thread of its own.
    fn sql(options: &PgOptions, text: &str) {
        let pool = Pool::new(options).expect("pool");
        pool.with(|c| Ok(c.batch_execute(text)?)).expect(text);
    }

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let Some(schema) = testing::Schema::new() else {
            return;
        };
        let options = schema.options("b");
        let first = migrate(&options).expect("migrate");
        assert_eq!((first.from, first.to), (0, SCHEMA_VERSION));
        assert_eq!(first.applied.len(), MIGRATIONS.len());
        let again = migrate(&options).expect("migrate again");
        assert!(again.applied.is_empty(), "{again:?}");
        // Several processes starting at once: each migrates or finds it done, none fails.
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let o = options.clone();
                std::thread::spawn(move || Store::open_postgres(&o).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().expect("thread").expect("open while others open");
        }
        sql(
            &options,
            "INSERT INTO herald_migrations (version, name) VALUES (99, 'from the future')",
        );
        match Store::open_postgres(&options) {
            Err(StoreError::Schema { found, .. }) => assert!(found.starts_with("99"), "{found}"),
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a newer schema was opened"),
        }
    }

    #[test]
    fn a_password_never_shows_and_an_unreachable_database_is_a_clear_error() {
        let options = PgOptions {
            url: "postgres://herald:hunter2@127.0.0.1:1/herald".into(),
            password: Some("s3cret".into()),
            brand: "b".into(),
            ca_file: None,
        };
        assert!(!options.shown().contains("hunter2"), "{}", options.shown());
        assert!(!format!("{options:?}").contains("s3cret"));
        let e = Store::open_postgres(&options)
            .err()
            .expect("nothing listens on port 1");
        let shown = e.to_string();
        assert!(
            shown.contains("cannot connect to postgres://herald@127.0.0.1:1/herald"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    /// `sslmode=require`: the connection is encrypted and the server's certificate verified,
    /// against `ca_file` (the suite's throwaway CA); without it the same server is refused.
    #[test]
    fn tls_is_used_and_verified_when_the_url_asks_for_it() {
        let Some(schema) = testing::Schema::new() else {
            return;
        };
        let ca = std::env::var("HERALD_TEST_PG_CA")
            .ok()
            .filter(|v| !v.is_empty());
        let Some(ca) = ca else {
            assert!(
                std::env::var(crate::store::testing::REQUIRED_VAR).is_err(),
                "HERALD_TEST_PG_CA names the test database's CA certificate"
            );
            return;
        };
        let mut options = schema.options("b");
        options.url.push_str("&sslmode=require");
        options.ca_file = Some(ca.into());
        let store = Store::open_postgres(&options).expect("TLS with the test CA");
        let pg = store.as_postgres().expect("postgres");
        let encrypted: bool = pg
            .pool
            .with(|c| {
                Ok(c.query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )?
                .get(0))
            })
            .expect("ssl status");
        assert!(encrypted, "the connection is not encrypted");
        assert!(store.posts().all().expect("read over TLS").is_empty());
        // The Mozilla roots alone do not vouch for the test CA.
        options.ca_file = None;
        let e = Store::open_postgres(&options)
            .err()
            .expect("an unknown issuer must be refused");
        assert!(e.to_string().contains("certificate"), "{e}");
        // A CA file that is not one is a clear error.
        let dir = tempfile::tempdir().expect("tmp");
        let bad = dir.path().join("ca.pem");
        std::fs::write(&bad, "not a certificate").expect("write");
        options.ca_file = Some(bad);
        let e = Store::open_postgres(&options).err().expect("refused");
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
    }

    #[test]
    fn leases_go_to_one_holder_until_they_lapse_or_are_released() {
        for t in crate::store::testing::each() {
            let meta = t.store.meta();
            let long = Duration::from_secs(60);
            assert!(
                meta.try_lease("planner", "a", long).expect("lease"),
                "{}",
                t.backend
            );
            assert!(
                !meta.try_lease("planner", "b", long).expect("lease"),
                "{}",
                t.backend
            );
            assert!(
                meta.try_lease("planner", "a", long).expect("renew"),
                "{}",
                t.backend
            );
            meta.release_lease("planner", "b")
                .expect("not b's to release");
            assert!(
                !meta.try_lease("planner", "b", long).expect("lease"),
                "{}",
                t.backend
            );
            meta.release_lease("planner", "a").expect("release");
            assert!(
                meta.try_lease("planner", "b", Duration::ZERO)
                    .expect("free"),
                "{}",
                t.backend
            );
            // b's lease lapsed at once: a takes it over.
            std::thread::sleep(Duration::from_millis(20));
            assert!(
                meta.try_lease("planner", "a", long).expect("lapsed"),
                "{}",
                t.backend
            );
            let leases = meta.leases().expect("leases");
            assert_eq!(leases.len(), 1, "{}", t.backend);
            assert_eq!(
                (leases[0].name.as_str(), leases[0].holder.as_str()),
                ("planner", "a")
            );
        }
    }
}
