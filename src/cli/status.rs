//! `herald status`: holds, open alerts and the posts around now with their state.

use std::process::ExitCode;

use chrono::Utc;

use super::{open_store, outln, Io};
use crate::config::Config;

/// `herald status`: what is held, the open alerts, and the posts `hours` back and ahead.
pub(super) fn status(config: &Config, hours: i64, io: &mut Io) -> anyhow::Result<ExitCode> {
    let store = open_store(config, io)?;
    let tz = config.herald.timezone;
    let now = Utc::now();
    let span = chrono::TimeDelta::hours(hours);
    let posts = store.posts_between(now - span, now + span)?;
    if let Some(hold) = store.hold()? {
        outln!(
            io,
            "HOLD since {}: {} ({} held)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    if let Some(hold) = store.crisis_hold()? {
        outln!(
            io,
            "CRISIS HOLD since {}: {} ({} held until the alerts are resolved)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    let open: Vec<_> = store
        .alerts()?
        .into_iter()
        .filter(|a| a.state != crate::store::AlertState::Resolved)
        .collect();
    if !open.is_empty() {
        outln!(io, "OPEN ALERTS");
        for a in &open {
            outln!(
                io,
                "  {}  {}  {}  negative {} of {} (baseline {:.1})",
                a.id,
                a.level.as_str(),
                a.state.as_str(),
                a.negative,
                a.total,
                a.baseline
            );
        }
        outln!(io);
    }
    let held = store.held_categories()?;
    outln!(
        io,
        "{:<12}  {:<10}  {:<12}  {:<36}  URL / NOTE",
        "WHEN",
        "CHANNEL",
        "STATE",
        "DRAFT"
    );
    for p in &posts {
        if p.at > now && !p.state.is_kept() && p.state != crate::store::PostState::Planned {
            continue;
        }
        let mut state = p.state.as_str().to_string();
        if p.is_held_by(&held) {
            state.push_str(" (held)");
        }
        let note = p
            .delivery
            .remote_url
            .clone()
            .or_else(|| p.delivery.error.clone())
            .unwrap_or_default();
        let marker = if p.at <= now { ' ' } else { '>' };
        outln!(
            io,
            "{marker}{:<11}  {:<10}  {:<12}  {:<36}  {note}",
            p.at.with_timezone(&tz).format("%m-%d %H:%M"),
            p.channel,
            state,
            p.draft
        );
    }
    let count = |s: crate::store::PostState| posts.iter().filter(|p| p.state == s).count();
    use crate::store::PostState as S;
    outln!(io,
        "\n{} published, {} planned or approved, {} failed, {} missed, {} unconfirmed in the {hours} hours around now",
        count(S::Published),
        count(S::Planned) + count(S::Approved),
        count(S::Failed),
        count(S::Missed),
        count(S::Unconfirmed) + count(S::Sending)
    );
    Ok(ExitCode::SUCCESS)
}
