//! The startup summary `herald run` writes on stderr: what it runs with and what it will do next,
//! so a person sees at once that it works, where the web UI is and how to stop it.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::Ready;
use crate::config::Config;

/// What the summary says about the configuration file.
pub struct Source<'a> {
    pub file: &'a Path,
    /// Whether the file was named (`--config`, `HERALD_CONFIG`) rather than the default.
    pub explicit: bool,
}

/// The summary's text, one `label  value` line each.
pub fn render(
    config: &Config,
    source: &Source<'_>,
    ready: &Ready,
    control: Option<&Path>,
    free_disk: Option<u64>,
    now: DateTime<Utc>,
) -> String {
    let tz = config.herald.timezone;
    let mut s = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(s, "  {label:<9} {value}");
    };
    let head = format!("herald {} running", env!("CARGO_PKG_VERSION"));
    let config_line = if source.file.exists() {
        source.file.display().to_string()
    } else if source.explicit {
        format!("{} (missing)", source.file.display())
    } else {
        format!(
            "{} not found: built-in defaults (one outbox channel, {})",
            source.file.display(),
            tz.name()
        )
    };
    line("config", &config_line);
    let rules: usize = config.keywords.iter().map(|g| g.rules.len()).sum();
    line(
        "content",
        &format!(
            "{} drafts in {}, {} keyword groups ({rules} rules) in {}",
            config.drafts.len(),
            config.herald.content_plan.display(),
            config.keywords.len(),
            config.herald.keywords.display()
        ),
    );
    let store = config.herald.storage.shown();
    line(
        "store",
        &match free_disk {
            Some(free) if free < crate::store::health::LOW_DISK_SPACE => format!(
                "{store} (WARNING: only {} free; herald stops when the store cannot write)",
                bytes(free)
            ),
            Some(free) => format!("{store} ({} free)", bytes(free)),
            None => store.to_string(),
        },
    );
    let channels: Vec<String> = config
        .herald
        .channels
        .iter()
        .map(|c| format!("{} ({})", c.name, c.kind_name()))
        .collect();
    line("channels", &channels.join(", "));
    let sources: Vec<String> = config
        .herald
        .sources
        .iter()
        .map(|s| format!("{} ({})", s.name, s.kind.platform()))
        .collect();
    if sources.is_empty() {
        line(
            "listening",
            "nothing ([[sources]] in herald.toml adds accounts, searches, feeds, pages)",
        );
    } else {
        line("listening", &sources.join(", "));
    }
    let next: Vec<_> = ready
        .schedule
        .entries
        .iter()
        .filter(|e| e.at >= now && (e.state == "planned" || e.state == "approved"))
        .collect();
    if next.is_empty() {
        line(
            "next",
            "no post planned in the next week (see `herald check`)",
        );
    }
    for (i, e) in next.iter().take(5).enumerate() {
        let text = format!(
            "{}  {}  {}",
            e.at.with_timezone(&tz).format("%a %m-%d %H:%M"),
            e.channel,
            e.draft
        );
        line(if i == 0 { "next" } else { "" }, &text);
    }
    if next.len() > 5 {
        line(
            "",
            &format!(
                "… {} more planned this week (`herald plan`, `herald status`)",
                next.len() - 5
            ),
        );
    }
    line(
        "web UI",
        &match ready.web {
            Some(addr) => format!("http://{addr}/ (`herald user add NAME` to log in)"),
            None => "off ([web] enabled = true in herald.toml turns it on)".to_string(),
        },
    );
    line(
        "commands",
        &match control {
            Some(path) => format!(
                "other herald commands reach this process through {}",
                path.display()
            ),
            None => "the control socket is off: other herald commands cannot reach this process"
                .to_string(),
        },
    );
    line(
        "stop",
        "Ctrl-C or SIGTERM (the send in flight finishes first)",
    );
    format!("{head}\n{s}")
}

/// `n` bytes for people.
fn bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let f = n as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else {
        format!("{:.0} MiB", f / MIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(bytes(200 << 20), "200 MiB");
    }
}
