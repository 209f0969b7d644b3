//! The `herald` command line: parses arguments, sets up logging, loads the configuration and
//! calls into the library. Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.
//!
//! Every command writes through an [`Io`] (its standard output, error and any input read
//! beforehand), so the same code serves the terminal and a request that came through the
//! control socket of a running `herald run` (see the `control` module): while `herald run` holds the store,
//! the commands that need it are forwarded there and print the same output, with the same exit
//! code. A closed standard output (`herald status | head`) ends the output quietly.
//!
//! This file holds the clap types and the dispatch; each command group has its own file:
//! `schedule` (check, plan, post, pause, resume), `run`, `status`, `mentions`, `stream`
//! (classify, replay), `alerts`, `user`, `queue`, `store`, `report` (the weekly report);
//! `control` is the control socket, `summary` the startup summary of `herald run`, `log` the
//! logging set-up.

mod alerts;
mod control;
pub mod log;
mod mentions;
mod queue;
mod report;
mod run;
mod schedule;
mod status;
mod store;
mod stream;
mod summary;
mod user;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::store::Store;

/// Writes a line to the command's standard output.
macro_rules! outln {
    ($io:expr) => { writeln!($io.out)? };
    ($io:expr, $($arg:tt)*) => { writeln!($io.out, $($arg)*)? };
}
/// Writes a line to the command's standard error.
macro_rules! errln {
    ($io:expr, $($arg:tt)*) => { writeln!($io.err, $($arg)*)? };
}
pub(crate) use {errln, outln};

/// Where a command writes, and the input it was given ahead (a password, a reply text) when it
/// runs on behalf of another process.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Input read by the terminal that asked, in place of this process's stdin and terminal.
    pub input: Option<String>,
    /// The store of the running `herald run`, when the command runs on its behalf.
    pub store: Option<Store>,
    /// The record of the running `herald run`'s tasks, when the command runs on its behalf.
    pub tasks: Option<crate::supervise::Tasks>,
}

/// Standard output that stops writing, quietly, once the reader has gone (`herald status |
/// head`): no panic, no error.
#[derive(Default)]
struct Stdout {
    closed: bool,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match std::io::stdout().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stdout().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Standard error that never fails a command (a closed stderr loses the message, nothing more).
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Plans and publishes brand posts, listens, drafts replies for approval"
)]
struct Cli {
    /// herald.toml; without one, herald uses the defaults (content-plan/ and keywords/ beside it,
    /// one outbox channel, Asia/Shanghai).
    #[arg(
        long,
        short,
        global = true,
        default_value = "herald.toml",
        env = "HERALD_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate herald.toml, content-plan/ and keywords/; print every problem as
    /// file:line:column: key: why and exit 2 if there is any.
    Check {
        /// Also plan this many days ahead (dry run, at most 366) and report categories that run
        /// short.
        #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
    },
    /// Plan the posting calendar and save it in the store.
    Plan {
        /// How many days to plan (at most 366).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// First day (YYYY-MM-DD, plan-local); planned from its midnight. Default: from now.
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Only these channels (repeatable). Default: every channel.
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Print the plan without saving it.
        #[arg(long)]
        dry_run: bool,
        /// Say why each newly planned post got its time (the playbook's slot, or what was
        /// learned from results: see `[learn]` in plan.toml).
        #[arg(long)]
        explain: bool,
    },
    /// Run the bot: keep the schedule planned a week ahead and publish posts as they fall due,
    /// until SIGINT or SIGTERM.
    Run,
    /// Publish one draft by hand, through the same path as scheduled posts.
    Post {
        /// The draft: its id (`product/x-trail-epower-guide-1`) or its file name without `.md`.
        draft: String,
        #[arg(long)]
        channel: String,
        /// Publish now; otherwise it takes the channel's next free peak slot.
        #[arg(long)]
        now: bool,
    },
    /// Recent and upcoming posts with their state, and the hold if one is in force.
    Status {
        /// How many hours back and ahead to show (at most a year, 8784).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=8784))]
        hours: i64,
    },
    /// Hold scheduled posts of some categories (default: the plan's crisis.pause_categories).
    Pause {
        #[arg(long, value_delimiter = ',')]
        categories: Vec<String>,
        #[arg(long, default_value = "paused by hand")]
        reason: String,
    },
    /// Lift the hold.
    Resume,
    /// List and search stored mentions, newest first.
    Mentions {
        /// Only the last N hours (at most ten years, 87600).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=87600))]
        hours: Option<i64>,
        #[arg(long)]
        author: Option<String>,
        /// A keyword group (`crisis`) or `group/rule`.
        #[arg(long)]
        topic: Option<String>,
        /// Text the mention contains.
        #[arg(long)]
        search: Option<String>,
        /// The platform the mention came from (mastodon, bluesky, feed, page, …).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long, value_parser = ["negative", "neutral", "positive"])]
        sentiment: Option<String>,
        #[arg(long, value_parser = ["complaint", "question", "purchase", "praise", "other"])]
        intent: Option<String>,
        /// At most this many (0: all).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON Lines (the Mention contract plus `source` and `classification`).
        #[arg(long)]
        json: bool,
    },
    /// Crisis alerts: list, show, acknowledge, resolve.
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// Manage the web UI's users (stored in the store, passwords as argon2 hashes).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Classify mentions (JSON Lines, one Mention a line) from FILE or stdin: prints each with
    /// sentiment, keyword matches, intent and lead grade added, in input order.
    Classify {
        /// A file of JSON Lines, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Replay a mention stream (JSON Lines sorted by created_at) through classification and
    /// crisis detection, with the mentions' timestamps as the clock; prints alerts as JSON Lines.
    Replay {
        /// A file of JSON Lines, or `-` for standard input.
        file: String,
        /// Classification threads (default: the machine's parallelism; at most 64).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: Option<u16>,
    },
    /// The reply inbox: list, show, approve, edit, reject, assign, retry, send, leads.
    Queue(queue::QueueArgs),
    /// The weekly report: a local week (Monday to Sunday) against the four before it, as one
    /// self-contained HTML file with charts (to e-mail), CSV or JSON.
    Report(report::ReportArgs),
    /// The store itself.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Read every record of the store and say whether it is sound (exit 0) or damaged (exit 1),
    /// tree by tree. Writes nothing; stop `herald run` first (it holds the store).
    Check,
    /// Bring a PostgreSQL store's schema up to this herald's version (`herald run` and every
    /// command do this too; this says what it did). A schema newer than this herald is refused.
    Migrate,
    /// Copy a whole store into an empty one, between sled and PostgreSQL (either way) or sled
    /// and sled, ids kept, then check every count. Login sessions and leases are not copied
    /// (people log in again). Stop every herald on the source first.
    Copy(store::CopyArgs),
}

#[derive(Subcommand)]
enum AlertsAction {
    /// Alerts not yet resolved, open first.
    List {
        /// Resolved alerts too.
        #[arg(long)]
        all: bool,
        /// JSON, one alert record a line.
        #[arg(long)]
        json: bool,
    },
    /// One alert as stored, as JSON.
    Show { id: String },
    /// Acknowledge an alert: someone is on it.
    Ack {
        id: String,
        #[arg(long = "as", default_value = "cli")]
        who: String,
    },
    /// Resolve an alert; resolving the last open crisis alert lifts the crisis hold.
    Resolve {
        id: String,
        #[arg(long = "as", default_value = "cli")]
        who: String,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user; the password is read from the terminal (asked twice) or the first line of
    /// standard input, never from the command line.
    Add {
        name: String,
        /// Set a new password if the user exists.
        #[arg(long)]
        replace: bool,
    },
    /// List the users.
    List,
    /// Remove a user (their sessions end at once).
    Remove { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Ics,
}

impl Command {
    /// Whether the command reads or writes the store (and so goes through a running `herald
    /// run` that holds it). `run` holds it itself and is never forwarded.
    fn needs_store(&self) -> bool {
        match self {
            Command::Check { .. }
            | Command::Classify { .. }
            | Command::Replay { .. }
            | Command::Run => false,
            Command::Plan { dry_run, .. } => !dry_run,
            // It reads the store's files itself, so only while no herald holds them.
            Command::Store { .. } => false,
            _ => true,
        }
    }
}

/// The `herald` program: parses the arguments, sets up logging, loads the configuration, runs
/// the command here or through the running `herald run`, and maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(matches!(cli.command, Command::Run));
    // A copy names both stores on its command line: it needs no herald.toml (it may run
    // anywhere, on a machine that only moves the data).
    if let Command::Store {
        action: StoreAction::Copy(args),
    } = &cli.command
    {
        let (mut out, mut err) = (Stdout::default(), Stderr);
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            input: None,
            store: None,
            tasks: None,
        };
        let code = store::copy(args, &mut io).unwrap_or_else(|e| {
            let _ = writeln!(io.err, "herald: {e:#}");
            ExitCode::FAILURE
        });
        let _ = io.out.flush();
        return code;
    }

    let explicit = std::env::args()
        .any(|a| a == "--config" || a == "-c" || a.starts_with("--config="))
        || std::env::var_os("HERALD_CONFIG").is_some();
    let config = match config::load(&cli.config, explicit) {
        Ok(c) => c,
        Err(errors) => {
            eprint!("{errors}");
            eprintln!("herald: {} problem(s) in the configuration", errors.0.len());
            return ExitCode::from(2);
        }
    };
    let (mut out, mut err) = (Stdout::default(), Stderr);
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        input: None,
        store: None,
        tasks: None,
    };
    let result = if cli.command.needs_store() && control::is_served(&config) {
        control::forward(&config, &cli, &mut io)
    } else {
        let file = cli.config.clone();
        run(cli.command, config, &file, explicit, &mut io)
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io.err, "herald: {e:#}");
            ExitCode::FAILURE
        }
    };
    let _ = io.out.flush();
    code
}

/// Opens the store, creating its folder, or hands out the running herald's; says plainly when
/// another herald holds it.
fn open_store(config: &Config, io: &Io) -> anyhow::Result<Store> {
    if let Some(store) = &io.store {
        return Ok(store.clone());
    }
    // The data folder holds sled's files, or beside a database the control socket and the
    // outbox.
    let path = &config.herald.storage.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    if let Some(pg) = &config.herald.storage.postgres {
        return Ok(Store::open_postgres(&pg.options()?)?);
    }
    // `Store::open_with` waits a moment for another herald command finishing with the store.
    Store::open_with(path, &config.herald.storage.options).map_err(|e| match e {
        crate::store::StoreError::Locked { .. } => anyhow::anyhow!(
            "{e}\n(another herald process holds this store, and no `herald run` answers on its \
             control socket {})",
            control::socket_path(config).display()
        ),
        e => anyhow::Error::new(e),
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(
    command: Command,
    config: Config,
    file: &std::path::Path,
    explicit: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { days } => schedule::check(&config, days, io),
        Command::Plan {
            days,
            from,
            format,
            channels,
            dry_run,
            explain,
        } => schedule::plan(
            &config,
            schedule::PlanOptions {
                days,
                from,
                format,
                channels: &channels,
                dry_run,
                explain,
            },
            io,
        ),
        Command::Run => run::run_bot(config, file, explicit, io),
        Command::Post {
            draft,
            channel,
            now,
        } => schedule::post(config, &draft, &channel, now, io),
        Command::Status { hours } => status::status(&config, hours, io),
        Command::Pause { categories, reason } => schedule::pause(&config, &categories, &reason, io),
        Command::Classify { file } => stream::classify(&config, &file, io),
        Command::User { action } => user::user(&config, action, io),
        Command::Alerts { action } => alerts::alerts(&config, action, io),
        Command::Replay { file, threads } => stream::replay(&config, &file, threads, io),
        Command::Queue(args) => queue::run(args, &config, io),
        Command::Report(args) => report::report(&config, &args, io),
        Command::Store {
            action: StoreAction::Check,
        } => store::check(&config, io),
        Command::Store {
            action: StoreAction::Migrate,
        } => store::migrate(&config, io),
        Command::Store {
            action: StoreAction::Copy(args),
        } => store::copy(&args, io),
        Command::Mentions {
            hours,
            author,
            topic,
            search,
            platform,
            sentiment,
            intent,
            limit,
            json,
        } => {
            let q = crate::store::MentionQuery {
                since: hours.map(|h| Utc::now() - chrono::TimeDelta::hours(h)),
                author,
                topic,
                text: search,
                platform,
                sentiment,
                intent,
                limit,
            };
            mentions::mentions(&config, q, json, io)
        }
        Command::Resume => schedule::resume(&config, io),
    }
}
