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
    let posts = store.posts().between(now - span, now + span)?;
    if let Some(hold) = store.meta().hold()? {
        outln!(
            io,
            "HOLD since {}: {} ({} held)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    if let Some(hold) = store.meta().crisis_hold()? {
        outln!(
            io,
            "CRISIS HOLD since {}: {} ({} held until the alerts are resolved)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    let open: Vec<_> = store
        .alerts()
        .list()?
        .into_iter()
        .filter(|a| a.state != crate::store::AlertState::Resolved)
        .collect();
    if !open.is_empty() {
        outln!(io, "OPEN ALERTS");
        for a in &open {
            outln!(
                io,
                "  {}  {}  {}  negative {} of {} (baseline {:.1})",
                a.event.id,
                a.event.level.as_str(),
                a.state.as_str(),
                a.event.negative,
                a.event.total,
                a.event.baseline
            );
        }
        outln!(io);
    }
    let held = store.meta().held_categories()?;
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
    if let Some(tasks) = &io.tasks {
        let text = tasks_text(&tasks.snapshot(), tz);
        outln!(io, "\n{text}");
    }
    // Who does what when several processes share a database (on sled, one process does all).
    if config.herald.storage.postgres.is_some() {
        let text = leases_text(&store.meta().leases()?, now, tz);
        outln!(io, "\n{text}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The work the processes on the database hold (see `crate::lease`): each lease, its holder
/// and when it lapses; a lapsed one is free for the next process to take.
fn leases_text(
    leases: &[crate::store::Lease],
    now: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let mut text = String::from("WORK HELD BY herald PROCESSES ON THIS DATABASE");
    if leases.is_empty() {
        text.push_str("\n  none (no herald run is running)");
    }
    // A process that died leaves its `node:` lease behind: only live processes are listed.
    for l in leases
        .iter()
        .filter(|l| !(l.name.starts_with("node:") && l.expires_at <= now))
    {
        let until = if l.expires_at > now {
            format!(
                "until {}",
                l.expires_at.with_timezone(&tz).format("%H:%M:%S")
            )
        } else {
            "lapsed: free".to_string()
        };
        text.push_str(&format!(
            "\n  {:<24}  {:<40}  {until}",
            crate::untrusted::escape(&l.name),
            crate::untrusted::escape(&l.holder)
        ));
    }
    text
}

/// The tasks of the running `herald run`: each one's state, restarts and last failure (whose
/// text the supervisor has already escaped and cut).
fn tasks_text(tasks: &[crate::supervise::TaskStatus], tz: chrono_tz::Tz) -> String {
    let mut text = String::from("TASKS OF herald run");
    for t in tasks {
        let state = if t.running { "running" } else { "stopped" };
        let failures = match (&t.last_failure, &t.last_error) {
            (Some(at), Some(why)) => format!(
                "{} restart(s), {} failure(s), last {}: {why}",
                t.restarts,
                t.failures,
                at.with_timezone(&tz).format("%m-%d %H:%M:%S")
            ),
            _ => "no failures".to_string(),
        };
        text.push_str(&format!("\n  {:<32}  {state:<8}  {failures}", t.name));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_show_holder_and_whether_they_lapsed() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("t");
        let lease = |name: &str, secs: i64| crate::store::Lease {
            name: name.into(),
            holder: "host:42:abcd".into(),
            expires_at: now + chrono::TimeDelta::seconds(secs),
        };
        let text = leases_text(
            &[
                lease("channel:masto", 20),
                lease("planner", -5),
                lease("node:host:41:dead", -5),
            ],
            now,
            chrono_tz::UTC,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains("channel:masto")
                && lines[1].contains("host:42:abcd")
                && lines[1].contains("until"),
            "{text}"
        );
        assert!(
            lines[2].contains("planner") && lines[2].ends_with("lapsed: free"),
            "{text}"
        );
        assert!(leases_text(&[], now, chrono_tz::UTC).contains("none"));
    }

    #[test]
    fn tasks_show_state_restarts_and_the_last_failure() {
        let at = chrono::DateTime::from_timestamp(1_796_083_200, 0).expect("t");
        let task = |name: &str, failed: bool| crate::supervise::TaskStatus {
            name: name.into(),
            running: true,
            restarts: u32::from(failed),
            failures: u32::from(failed),
            last_failure: failed.then_some(at),
            last_error: failed.then(|| "it was aborted".to_string()),
        };
        let text = tasks_text(
            &[task("the publisher", true), task("the planner", false)],
            chrono_tz::Asia::Shanghai,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "TASKS OF herald run");
        assert!(lines[1].starts_with("  the publisher "), "{text}");
        assert!(
            lines[1].ends_with(
                "running   1 restart(s), 1 failure(s), last 12-01 08:00:00: it was aborted"
            ),
            "{text}"
        );
        assert!(lines[2].ends_with("running   no failures"), "{text}");
    }
}
