//! `herald mentions`: stored mentions, newest first, as a table or JSON Lines.

use std::process::ExitCode;

use super::{open_store, Io};
use crate::config::Config;
use crate::store::MentionQuery;

/// `herald mentions`: the mentions `q` selects, one
/// line each (untrusted text made terminal-safe), or JSON Lines with `json`.
pub(super) fn mentions(
    config: &Config,
    q: MentionQuery,
    json: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let store = open_store(config, io)?;
    let found = store.mentions().list(&q)?;
    let tz = config.herald.timezone;
    let mut text = String::new();
    for m in &found {
        if json {
            text.push_str(&serde_json::to_string(m)?);
            text.push('\n');
        } else {
            let c = &m.classification;
            let one_line = crate::listen::terminal_safe(
                &m.mention
                    .text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            text.push_str(&format!(
                "{}  {:<9} {:<20} {:<9} {:<9} {}\n",
                m.mention
                    .created_at
                    .with_timezone(&tz)
                    .format("%m-%d %H:%M"),
                m.mention.platform,
                crate::listen::terminal_safe(&m.mention.author),
                c.intent.as_str(),
                c.sentiment.label.as_str(),
                one_line
            ));
        }
    }
    if !json {
        text.push_str(&format!("{} mention(s)\n", found.len()));
    }
    io.out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
