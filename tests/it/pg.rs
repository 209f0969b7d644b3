//! Which store backend the integration tests run on, and a PostgreSQL schema per test.
//!
//! `HERALD_TEST_BACKEND=postgres` (read once) puts every test's store in a fresh schema
//! `t_<random>` of the database `HERALD_TEST_PG_URL` names; unset (or `sled`), every store is
//! sled as always. Tests about sled's own files ask for sled explicitly
//! ([`crate::helpers::Workspace::new_sled`], [`crate::helpers::TestDb::sled`]).

use std::sync::OnceLock;

/// Chooses the backend: `sled` (the default) or `postgres`.
pub const BACKEND_VAR: &str = "HERALD_TEST_BACKEND";
/// The PostgreSQL database the schemas are made in (required when the backend is `postgres`).
pub const URL_VAR: &str = "HERALD_TEST_PG_URL";

/// The store backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sled,
    Postgres,
}

/// The backend `HERALD_TEST_BACKEND` asks for; any other value than `sled` or `postgres`
/// stops the test, so that a typo never runs the suite on the wrong backend.
pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| match std::env::var(BACKEND_VAR).as_deref() {
        Err(_) | Ok("") | Ok("sled") => Backend::Sled,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("{BACKEND_VAR}={other:?}: give `sled` or `postgres`"),
    })
}

/// The test database's URL; a failure when it is missing (PostgreSQL mode needs it), or when
/// it holds a password (herald.toml refuses one, and the tests write the URL there).
fn database_url() -> String {
    let url = std::env::var(URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{BACKEND_VAR}=postgres but {URL_VAR} is not set: give the test database, \
                 e.g. {URL_VAR}=postgresql://herald@127.0.0.1:55432/postgres"
            )
        });
    let parsed = url::Url::parse(&url)
        .unwrap_or_else(|e| panic!("{URL_VAR} is not a URL ({e}); it must be postgresql://…"));
    assert!(
        parsed.password().is_none(),
        "{URL_VAR} holds a password; the tests write this URL into herald.toml, which refuses \
         one: let the test database trust the test user instead"
    );
    url
}

/// A schema made for one test on the test database, dropped (with everything in it) when this
/// is dropped.
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    /// A new empty schema `t_<random>`; fails loudly when the database is missing or unreachable.
    pub fn new() -> Self {
        let base = database_url();
        let name = format!("t_{:016x}", fastrand::u64(..));
        run_sql(&base, &format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("cannot create a test schema on {URL_VAR}: {e}"));
        Self { base, name }
    }

    /// The URL that reaches this schema (as the connection's search path), as herald.toml's
    /// `[storage] url` holds it.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }

    /// Options that open this schema's store under `brand`.
    pub fn options(&self, brand: &str) -> herald::store::pg::PgOptions {
        herald::store::pg::PgOptions {
            url: self.url(),
            password: None,
            brand: brand.into(),
            ca_file: None,
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // A store left open by a killed process must not hang the test: give up after a while
        // (the schema is then left behind, harmless, rather than the test stuck).
        let _ = run_sql(
            &self.base,
            &format!(
                "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            ),
        );
    }
}

/// Runs `sql` on a connection of its own, on a thread of its own (a test may be inside a
/// Tokio runtime, where the sync client must not block).
fn run_sql(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&sql).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_string())?
}
