//! `herald alerts`: list, show, acknowledge and resolve crisis alerts.

use std::process::ExitCode;

use chrono::Utc;

use super::{errln, open_store, outln, AlertsAction, Io};
use crate::config::Config;

/// Alert records from the store, or through the running instance's API when it holds the store.
pub(super) fn alerts(
    config: &Config,
    action: AlertsAction,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    use crate::store::{AlertRecord, AlertState};
    let now = Utc::now();
    let store = open_store(config, io)?;
    let records: Vec<AlertRecord> = match &action {
        AlertsAction::List { all, .. } => store
            .alerts()
            .list()?
            .into_iter()
            .filter(|a| *all || a.state != AlertState::Resolved)
            .collect(),
        AlertsAction::Show { id } => store.alerts().get(id)?.into_iter().collect(),
        AlertsAction::Ack { id, who } => store.alerts().ack(id, who, now)?.into_iter().collect(),
        AlertsAction::Resolve { id, who } => {
            let (record, changed) =
                crate::crisis::live::resolve(&store, &config.plan.pause_categories, id, who, now)?;
            if changed && store.meta().crisis_hold()?.is_none() {
                if io.store.is_some() {
                    errln!(io, "crisis hold lifted: held posts go out as they fall due");
                } else {
                    errln!(
                        io,
                        "crisis hold lifted: held posts go out at the next start of `herald run`"
                    );
                }
            }
            record.into_iter().collect()
        }
    };
    let id = match &action {
        AlertsAction::List { json, .. } => {
            let mut out = String::new();
            for a in &records {
                if *json {
                    out.push_str(&serde_json::to_string(a)?);
                } else {
                    out.push_str(&format!(
                        "{:<40}  {:<8}  {:<12}  {}  negative {} of {} (baseline {:.1})",
                        a.event.id,
                        a.event.level.as_str(),
                        a.state.as_str(),
                        a.event
                            .opened_at
                            .with_timezone(&config.herald.timezone)
                            .format("%m-%d %H:%M"),
                        a.event.negative,
                        a.event.total,
                        a.event.baseline
                    ));
                }
                out.push('\n');
            }
            if records.is_empty() && !*json {
                out.push_str("no alerts\n");
            }
            io.out.write_all(out.as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
        AlertsAction::Show { id }
        | AlertsAction::Ack { id, .. }
        | AlertsAction::Resolve { id, .. } => id,
    };
    match records.first() {
        Some(a) => {
            outln!(io, "{}", serde_json::to_string_pretty(a)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            errln!(io, "no alert {id:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}
