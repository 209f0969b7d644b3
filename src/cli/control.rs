//! The control socket: how a `herald` command reaches the running `herald run` that holds the
//! store.
//!
//! sled lets one process open a store at a time. While `herald run` has it, it listens on a Unix
//! socket beside the store (`<store>.control/socket`, in a folder only its owner may enter, mode
//! 0700: the file system is the access control, as for a database's local socket). A command that
//! needs the store and finds that socket answering sends its arguments, the name of the person
//! acting (`HERALD_USER`) and any input it read at its own terminal (a password, a reply text);
//! the command runs inside `herald run` on its open store and configuration, and the asker prints
//! what comes back and exits with the same code.
//!
//! Protocol: one JSON line each way. The request is `{"args": [...], "input": null | "...",
//! "user": null | "..."}`, the answer `{"code": 0, "out": "...", "err": "..."}`. A request over
//! 1 MiB, or one not sent within 10 seconds, is refused.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Cli, Command, Io, UserAction};
use crate::config::Config;
use crate::store::Store;
use crate::supervise::Tasks;

/// The largest request accepted (a reply text, a password and the arguments fit many times).
const MAX_REQUEST: u64 = 1 << 20;

/// How long a forwarded command may take before the asker gives up (a post sent by hand to a
/// slow platform takes a while).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// What a command sends to the running herald.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    /// The arguments after the program name, as typed.
    args: Vec<String>,
    /// Input read at the asker's terminal (a password, a reply text), in place of stdin.
    input: Option<String>,
    /// `HERALD_USER` of the asker: who is deciding, when `--as` is not given.
    user: Option<String>,
}

/// What comes back.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Answer {
    code: u8,
    out: String,
    err: String,
}

/// The socket of the store `config` names: `<store>.control/socket`.
pub fn socket_path(config: &Config) -> PathBuf {
    let mut path = config.herald.storage.path.clone().into_os_string();
    path.push(".control");
    PathBuf::from(path).join("socket")
}

/// Whether a `herald run` answers on the store's control socket.
pub fn is_served(config: &Config) -> bool {
    std::os::unix::net::UnixStream::connect(socket_path(config)).is_ok()
}

/// Runs the command through the running herald and prints what it printed.
pub fn forward(config: &Config, cli: &Cli, io: &mut Io) -> anyhow::Result<ExitCode> {
    let args = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|_| anyhow::anyhow!("an argument is not valid UTF-8"))
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let user = std::env::var("HERALD_USER").ok();
    // The report file is written here, where the asker's folder is: the running herald makes
    // the report and sends it back.
    if let Command::Report(report) = &cli.command {
        if let Some(path) = &report.out {
            let answer = ask(config, &report.forwarded(), None, user)?;
            if answer.code == 0 {
                super::report::write_atomic(path, answer.out.as_bytes())?;
                writeln!(io.err, "report written to {}", path.display())?;
            }
            io.err.write_all(answer.err.as_bytes())?;
            return Ok(ExitCode::from(answer.code));
        }
    }
    let input = match &cli.command {
        Command::User {
            action: UserAction::Add { .. },
        } => Some(super::user::read_password(io)?),
        Command::Queue(q) => super::queue::input_ahead(q, |args| {
            let answer = ask(config, args, None, user.clone())?;
            anyhow::ensure!(answer.code == 0, "{}", answer.err.trim_end());
            Ok(answer.out)
        })?,
        _ => None,
    };
    let answer = ask(config, &args, input, user)?;
    io.out.write_all(answer.out.as_bytes())?;
    io.err.write_all(answer.err.as_bytes())?;
    Ok(ExitCode::from(answer.code))
}

/// Sends one request and reads the answer.
fn ask(
    config: &Config,
    args: &[String],
    input: Option<String>,
    user: Option<String>,
) -> anyhow::Result<Answer> {
    let path = socket_path(config);
    let talk = || -> std::io::Result<String> {
        let mut stream = std::os::unix::net::UnixStream::connect(&path)?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let request = Request {
            args: args.to_vec(),
            input,
            user,
        };
        let mut line = serde_json::to_vec(&request).map_err(std::io::Error::other)?;
        line.push(b'\n');
        stream.write_all(&line)?;
        let mut answer = String::new();
        std::io::BufReader::new(stream).read_line(&mut answer)?;
        Ok(answer)
    };
    let line = talk()
        .with_context(|| format!("asking the running `herald run` through {}", path.display()))?;
    serde_json::from_str(&line).with_context(|| {
        format!(
            "the running `herald run` gave no answer on {} (did it stop?)",
            path.display()
        )
    })
}

/// The listening side, bound before `herald run` says it is running.
pub struct Server {
    listener: tokio::net::UnixListener,
    path: PathBuf,
}

impl Server {
    /// Binds the store's control socket in a folder only this user may enter, replacing the
    /// socket a killed herald left (this process holds the store, so no other herald serves it).
    pub fn bind(config: &Config) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(config);
        let dir = path.parent().context("the socket path has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the old {}", path.display()))
            }
            _ => {}
        }
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("listening on {}", path.display()))?;
        Ok(Self { listener, path })
    }

    /// Where it listens.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Answers requests until `shutdown`, each command on a thread of its own (a command may
    /// run a runtime of its own, as `herald post --now` does); wakes the publisher after each,
    /// as it may have changed the schedule or a hold. Removes the socket at the end.
    pub async fn serve(
        self,
        config: Config,
        store: Store,
        wake: Arc<Notify>,
        tasks: Tasks,
        shutdown: CancellationToken,
    ) {
        let config = Arc::new(config);
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "Control socket: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (config, store, wake) = (config.clone(), store.clone(), wake.clone());
            let tasks = tasks.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, config, store, tasks, &wake).await {
                    tracing::debug!(error = %e, "Control socket: a request failed");
                }
            });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request, runs it, writes the answer.
async fn answer(
    stream: tokio::net::UnixStream,
    config: Arc<Config>,
    store: Store,
    tasks: Tasks,
    wake: &Notify,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST + 1));
    let mut line = String::new();
    match tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await {
        Ok(Ok(0)) => return Ok(()), // a probe: `is_served` connects and leaves
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Ok(()),
    }
    let answer = if line.len() as u64 > MAX_REQUEST || !line.ends_with('\n') {
        refusal("the request is too large")
    } else {
        match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(execute(request, &config, store, tasks));
                });
                let answer = rx
                    .await
                    .unwrap_or_else(|_| refusal("the command stopped inside herald run"));
                wake.notify_one();
                answer
            }
            Err(e) => refusal(&format!("not a request: {e}")),
        }
    };
    let mut bytes = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await
}

fn refusal(why: &str) -> Answer {
    Answer {
        code: 2,
        out: String::new(),
        err: format!("herald: {why}\n"),
    }
}

/// Runs one forwarded command on the running herald's store and configuration.
fn execute(request: Request, config: &Config, store: Store, tasks: Tasks) -> Answer {
    let argv = std::iter::once("herald".to_string()).chain(request.args.iter().cloned());
    let mut cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            return Answer {
                code: u8::try_from(e.exit_code()).unwrap_or(2),
                out: String::new(),
                err: e.render().to_string(),
            }
        }
    };
    if !cli.command.needs_store() {
        return refusal("this command does not go through `herald run`; run it by itself");
    }
    // Who decides is the asker: `--as`, else the asker's HERALD_USER, never this process's.
    let explicit_as = request
        .args
        .iter()
        .any(|a| a == "--as" || a.starts_with("--as="));
    if let Command::Queue(q) = &mut cli.command {
        if !explicit_as {
            q.set_who(request.user.clone());
        }
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            input: request.input,
            store: Some(store),
            tasks: Some(tasks),
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::run(
                cli.command,
                config.clone(),
                std::path::Path::new(""),
                false,
                &mut io,
            )
        }));
        match run {
            Ok(Ok(code)) => code_of(code),
            Ok(Err(e)) => {
                let _ = writeln!(io.err, "herald: {e:#}");
                1
            }
            Err(_) => {
                let _ = writeln!(io.err, "herald: the command failed inside herald run");
                1
            }
        }
    };
    Answer {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// The number behind an exit code (the codes herald uses are 0, 1 and 2).
fn code_of(code: ExitCode) -> u8 {
    (0..=u8::MAX)
        .find(|n| ExitCode::from(*n) == code)
        .unwrap_or(1)
}
