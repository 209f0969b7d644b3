//! `herald store check`: reads the store's files and says whether they are sound.

use std::process::ExitCode;

use super::{control, errln, Io};
use crate::config::Config;

/// `herald store check`: every tree read and decoded; exit 1 if anything is unreadable.
pub(super) fn check(config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
    if control::is_served(config) {
        errln!(
            io,
            "herald: `herald run` holds the store {}; stop it first to check the store",
            config.herald.storage.path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    match crate::store::check(&config.herald.storage.path) {
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
