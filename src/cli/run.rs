//! `herald run`: opens the store, binds the control socket, starts the bot (see
//! [`crate::app::run_with`]), prints the startup summary and stops on a signal.

use std::process::ExitCode;

use chrono::Utc;

use super::{control, errln, open_store, runtime, summary, Io};
use crate::app;
use crate::config::Config;

/// `herald run`: opens the store, binds the control socket, starts everything, prints the
/// startup summary, and runs until a signal.
pub(super) fn run_bot(
    config: Config,
    file: &std::path::Path,
    explicit: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    if io.store.is_some() || control::is_served(&config) {
        errln!(
            io,
            "herald: a `herald run` is already running on the store {} (its control socket {} answers)",
            config.herald.storage.shown(),
            control::socket_path(&config).display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = open_store(&config, io)?;
    // sled's disk; a database's space is its operator's to watch.
    let free_disk = config
        .herald
        .storage
        .postgres
        .is_none()
        .then(|| crate::store::available_space(&config.herald.storage.path).ok())
        .flatten();
    let rt = runtime()?;
    let summary_source = summary::Source { file, explicit };
    let err = &mut *io.err;
    rt.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(signals(shutdown.clone()));
        let control = match control::Server::bind(&config) {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "Control socket off: other herald commands cannot reach this process");
                None
            }
        };
        let (bot_config, bot_store) = (config.clone(), store.clone());
        app::run_with(bot_config, bot_store, shutdown.clone(), |ready| {
            let text = summary::render(
                &config,
                &summary_source,
                &ready,
                control.as_ref().map(control::Server::path),
                free_disk,
                Utc::now(),
            );
            let _ = err.write_all(text.as_bytes());
            if let Some(server) = control {
                // Supervised like the bot's tasks: a restart binds the socket again.
                let first = std::sync::Mutex::new(Some(server));
                let (config, store, wake, stop) =
                    (config.clone(), store.clone(), ready.wake, shutdown.clone());
                let tasks = ready.supervisor.tasks();
                ready.supervisor.spawn("the control socket", move || {
                    let bound = first.lock().ok().and_then(|mut f| f.take());
                    let (config, store, wake, tasks, stop) =
                        (config.clone(), store.clone(), wake.clone(), tasks.clone(), stop.clone());
                    async move {
                        let server = match bound {
                            Some(server) => server,
                            None => control::Server::bind(&config)?,
                        };
                        server.serve(config, store, wake, tasks, stop).await;
                        anyhow::Ok(())
                    }
                });
            }
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM asks for a graceful stop; a second one stops at once.
async fn signals(shutdown: tokio_util::sync::CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("Signal received: stopping after the send in flight (again to stop at once)");
    shutdown.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    std::process::exit(130);
}
