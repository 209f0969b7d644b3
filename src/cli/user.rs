//! `herald user`: the web UI's users (added, listed, removed) and the password prompt.

use std::process::ExitCode;

use chrono::Utc;

use super::{errln, open_store, outln, Io, UserAction};
use crate::config::Config;

/// `herald user`: adds, lists and removes web UI users.
pub(super) fn user(config: &Config, action: UserAction, io: &mut Io) -> anyhow::Result<ExitCode> {
    match action {
        UserAction::Add { name, replace } => {
            if !crate::web::auth::valid_user_name(&name) {
                errln!(io, "herald: {}", crate::web::auth::AuthError::BadName);
                return Ok(ExitCode::from(2));
            }
            let password = read_password(io)?;
            let store = open_store(config, io)?;
            match crate::web::auth::add_user(&store, &name, &password, replace, Utc::now()) {
                Ok(()) => {
                    outln!(io, "user {name} saved; log in at the web UI");
                    Ok(ExitCode::SUCCESS)
                }
                Err(
                    e @ (crate::web::auth::AuthError::BadName
                    | crate::web::auth::AuthError::WeakPassword
                    | crate::web::auth::AuthError::Exists(_)),
                ) => {
                    errln!(io, "herald: {e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        UserAction::List => {
            let store = open_store(config, io)?;
            let users = store.users().list()?;
            for u in &users {
                outln!(
                    io,
                    "{}  added {}",
                    u.name,
                    u.created_at
                        .with_timezone(&config.herald.timezone)
                        .format("%Y-%m-%d %H:%M")
                );
            }
            outln!(io, "{} user(s)", users.len());
            Ok(ExitCode::SUCCESS)
        }
        UserAction::Remove { name } => {
            let store = open_store(config, io)?;
            if store.users().remove(&name)? {
                outln!(io, "user {name} removed");
                Ok(ExitCode::SUCCESS)
            } else {
                errln!(io, "herald: no user {name:?}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// A password from the terminal without echo (asked twice), or the first line of stdin; or the
/// one the asking terminal read, for a forwarded command.
pub(super) fn read_password(io: &Io) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if let Some(given) = &io.input {
        return Ok(given.clone());
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
