//! `herald store check` (reads the store and says whether it is sound), `herald store
//! migrate` (brings a PostgreSQL schema up to date) and `herald store copy` (moves a whole
//! store between sled and PostgreSQL; the copying itself is `crate::store::copy`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{control, errln, outln, Io};
use crate::config::Config;
use crate::store::pg::PgOptions;
use crate::store::{Store, StoreError};

/// `herald store check`: every tree (or table) read and decoded; exit 1 if anything is
/// unreadable.
pub(super) fn check(config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
    let report = match &config.herald.storage.postgres {
        // A database is read while herald runs: no lock to wait for.
        Some(pg) => crate::store::pg::check(&pg.options()?),
        None if control::is_served(config) => {
            errln!(
                io,
                "herald: `herald run` holds the store {}; stop it first to check the store",
                config.herald.storage.path.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        None => crate::store::check(&config.herald.storage.path),
    };
    match report {
        Ok(report) => {
            write!(io.out, "{report}")?;
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(e) => {
            errln!(io, "herald: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `herald store migrate`: applies the PostgreSQL migrations the database lacks.
pub(super) fn migrate(config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
    let Some(pg) = &config.herald.storage.postgres else {
        errln!(
            io,
            "herald: the store is sled at {} (no `[storage] url`): its schema needs no migration",
            config.herald.storage.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    match crate::store::pg::migrate(&pg.options()?) {
        Ok(m) if m.applied.is_empty() => {
            writeln!(io.out, "schema version {}: up to date", m.to)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(m) => {
            for name in &m.applied {
                writeln!(io.out, "applied migration {name}")?;
            }
            writeln!(io.out, "schema version {} (was {})", m.to, m.from)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!(io, "herald: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `herald store copy`'s arguments. A store is `sled:PATH` (a sled folder) or a
/// `postgres://` URL without a password (the password comes from `--password-env`, or the
/// whole URL from `--from-env`/`--to-env`: secrets never on the command line).
#[derive(clap::Args)]
pub(super) struct CopyArgs {
    /// The store to copy: `sled:PATH` or `postgres://user@host/db`. Only read.
    #[arg(
        long,
        required_unless_present = "from_env",
        conflicts_with = "from_env"
    )]
    from: Option<String>,
    /// The store to fill: `sled:PATH` or `postgres://user@host/db`. Must be empty.
    #[arg(long, required_unless_present = "to_env", conflicts_with = "to_env")]
    to: Option<String>,
    /// The environment variable holding the source's whole PostgreSQL URL (password and all).
    #[arg(long, value_name = "VAR")]
    from_env: Option<String>,
    /// The environment variable holding the destination's whole PostgreSQL URL.
    #[arg(long, value_name = "VAR")]
    to_env: Option<String>,
    /// The environment variable holding the password of a PostgreSQL `--from` or `--to`.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The brand whose rows are read from, and written to, a PostgreSQL store.
    #[arg(long, default_value = crate::config::DEFAULT_BRAND)]
    brand: String,
}

/// One end of a copy.
enum Endpoint {
    Sled(PathBuf),
    Postgres {
        options: PgOptions,
        /// For messages: the URL without a password, or the variable that holds it.
        shown: String,
    },
}

impl Endpoint {
    fn shown(&self) -> String {
        match self {
            Endpoint::Sled(path) => format!("sled:{}", path.display()),
            Endpoint::Postgres { shown, .. } => shown.clone(),
        }
    }
}

/// Reads one end from `--from`/`--to` (`literal`) or `--from-env`/`--to-env` (`env`). The
/// error never repeats a value that may hold a secret.
fn endpoint(
    flag: &str,
    literal: Option<&str>,
    env: Option<&str>,
    args: &CopyArgs,
) -> Result<Endpoint, String> {
    use crate::config::env::{check_env_name, secret};
    let env_flag = format!("{flag}-env");
    let (value, from_env) = match (literal, env) {
        (Some(v), None) => (v.to_string(), false),
        (None, Some(var)) => {
            check_env_name(var).map_err(|why| format!("{env_flag}: {why}"))?;
            (secret(var, &env_flag).map_err(|e| e.to_string())?, true)
        }
        _ => return Err(format!("give {flag} or {env_flag}, one of them")),
    };
    if let Some(path) = value.strip_prefix("sled:") {
        if path.is_empty() {
            return Err(format!(
                "{flag} sled: needs the store's folder, as sled:PATH"
            ));
        }
        return Ok(Endpoint::Sled(PathBuf::from(path)));
    }
    let url = match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => u,
        // Not repeated: it may be a URL with a password that did not parse.
        _ => {
            return Err(format!(
                "{flag} must be sled:PATH or a postgres:// URL (the value given is not shown)"
            ))
        }
    };
    if url.password().is_some() && !from_env {
        return Err(format!(
            "the URL given to {flag} holds a password (not shown, but now in your shell's \
             history: change it): put the password in an environment variable named by \
             --password-env, or the whole URL in one named by {env_flag}"
        ));
    }
    let password = match &args.password_env {
        Some(var) if !from_env => {
            check_env_name(var).map_err(|why| format!("--password-env: {why}"))?;
            Some(secret(var, "--password-env").map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let options = PgOptions {
        url: value,
        password,
        brand: args.brand.clone(),
        ca_file: None,
    };
    let shown = match env {
        Some(var) => format!(
            "the PostgreSQL database ${var} names (brand {})",
            args.brand
        ),
        None => format!("{} (brand {})", options.shown(), args.brand),
    };
    Ok(Endpoint::Postgres { options, shown })
}

/// Opens one end. A sled source must exist (opening a missing one would create it).
fn open(end: &Endpoint, source: bool) -> Result<Store, String> {
    match end {
        Endpoint::Sled(path) => {
            if source
                && !(path.join(crate::store::MARKER_FILE).exists() || path.join("conf").exists())
            {
                return Err(format!("there is no sled store at {}", path.display()));
            }
            Store::open(path).map_err(|e| match e {
                StoreError::Locked { .. } => {
                    format!("{e}: stop the herald that holds it (`herald run`) before copying")
                }
                e => e.to_string(),
            })
        }
        Endpoint::Postgres { options, .. } => {
            Store::open_postgres(options).map_err(|e| e.to_string())
        }
    }
}

/// `herald store copy`: copies every record of the source into the empty destination and
/// checks the counts (exit 1 on any failure, 2 on bad arguments). It reads no herald.toml:
/// both stores are on its command line (sled opens with the default cache).
pub(super) fn copy(args: &CopyArgs, io: &mut Io) -> anyhow::Result<ExitCode> {
    let brand_ok = (1..=64).contains(&args.brand.len())
        && args
            .brand
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if !brand_ok {
        errln!(
            io,
            "herald: --brand must be 1 to 64 letters, digits, `-` or `_`"
        );
        return Ok(ExitCode::from(2));
    }
    let ends = endpoint(
        "--from",
        args.from.as_deref(),
        args.from_env.as_deref(),
        args,
    )
    .and_then(|from| {
        endpoint("--to", args.to.as_deref(), args.to_env.as_deref(), args).map(|to| (from, to))
    });
    let (from, to) = match ends {
        Ok(ends) => ends,
        Err(why) => {
            errln!(io, "herald: {why}");
            return Ok(ExitCode::from(2));
        }
    };
    if let (Endpoint::Sled(a), Endpoint::Sled(b)) = (&from, &to) {
        if a == b {
            errln!(io, "herald: --from and --to are the same store");
            return Ok(ExitCode::from(2));
        }
    }
    let stores = open(&from, true).and_then(|f| open(&to, false).map(|t| (f, t)));
    let (source, dest) = match stores {
        Ok(s) => s,
        Err(why) => {
            errln!(io, "herald: {why}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match crate::store::copy(&source, &dest) {
        Ok(copied) => {
            outln!(io, "copied {} → {}", from.shown(), to.shown());
            write!(io.out, "{copied}")?;
            outln!(
                io,
                "checked: the destination holds as many records of each kind as the source"
            );
            outln!(
                io,
                "not copied: login sessions (people log in again) and leases (taken anew by \
                 the next herald run)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!(io, "herald: copying {} → {}: {e}", from.shown(), to.shown());
            if !matches!(e, StoreError::NotEmpty { .. }) {
                errln!(
                    io,
                    "herald: the destination may hold part of the copy: empty it (or make a new \
                     one) before copying again; the source is unchanged"
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
