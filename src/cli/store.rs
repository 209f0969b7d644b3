//! `herald store check` (reads the store and says whether it is sound) and `herald store
//! migrate` (brings a PostgreSQL schema up to date).

use std::process::ExitCode;

use super::{control, errln, Io};
use crate::config::Config;

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
