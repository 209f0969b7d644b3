//! The `herald` command line: parses arguments, sets up logging, loads the configuration and
//! calls into the library. Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.
//!
//! Every command writes through an [`Io`] (its standard output, error and any input read
//! beforehand), so the same code serves the terminal and a request that came through the
//! control socket of a running `herald run` (see the `control` module): while `herald run` holds the store,
//! the commands that need it are forwarded there and print the same output, with the same exit
//! code. A closed standard output (`herald status | head`) ends the output quietly.

mod control;
pub mod log;
mod queue;
mod summary;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::app;
use crate::clock::system_clock;
use crate::config::{self, Config};
use crate::plan::output;
use crate::publish::worker::{Outcome, Publisher};
use crate::schedule;
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
    let path = &config.herald.storage.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
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
        Command::Check { days } => {
            for w in &config.warnings {
                errln!(io, "{w}");
            }
            let report = schedule::check(&config, Utc::now(), days).map_err(anyhow::Error::msg)?;
            for f in &report.keyword_failures {
                outln!(io, "{f}");
            }
            for f in &report.reply_failures {
                outln!(io, "{f}");
            }
            for (warning, line) in crate::plan::note_lines(&report.notes) {
                let level = if warning { "warning" } else { "note" };
                outln!(io, "{level}: next {days} days: {line}");
            }
            let drafts = config.drafts.len();
            let rules: usize = config.keywords.iter().map(|g| g.rules.len()).sum();
            if report.keyword_failures.is_empty() && report.reply_failures.is_empty() {
                outln!(
                    io,
                    "ok: {} channel(s), {drafts} drafts, {} keyword groups with {rules} rules",
                    config.herald.channels.len(),
                    config.keywords.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                outln!(
                    io,
                    "{} keyword and {} reply test case(s) failed",
                    report.keyword_failures.len(),
                    report.reply_failures.len()
                );
                Ok(ExitCode::from(2))
            }
        }
        Command::Plan {
            days,
            from,
            format,
            channels,
            dry_run,
        } => {
            for c in &channels {
                if !config.herald.channels.iter().any(|k| &k.name == c) {
                    errln!(io, "herald: no channel {c:?} in the configuration");
                    return Ok(ExitCode::from(2));
                }
            }
            let tz = config.herald.timezone;
            let (start, first_day) = match from {
                Some(d) => (schedule::local_midnight(tz, d), d),
                None => {
                    let now = Utc::now();
                    (now, now.with_timezone(&tz).date_naive())
                }
            };
            let end_date = first_day + chrono::Days::new(u64::from(days));
            let store = if dry_run {
                None
            } else {
                Some(open_store(&config, io)?)
            };
            let schedule = schedule::replan(
                &config,
                store.as_ref(),
                start,
                end_date,
                &channels,
                !dry_run,
            )?;
            let text = match format {
                Format::Json => output::json(&schedule.entries) + "\n",
                Format::Table => output::table(&schedule.entries, &config.plan, &schedule.notes),
                Format::Ics => output::ics(&schedule.entries, tz, start),
            };
            io.out.write_all(text.as_bytes())?;
            if !matches!(format, Format::Table) {
                for (warning, line) in crate::plan::note_lines(&schedule.notes) {
                    let level = if warning { "warning" } else { "note" };
                    errln!(io, "{level}: {line}");
                }
            }
            if let Some(saved) = schedule.saved {
                errln!(io,
                    "saved to {}: {} planned posts written, {} replaced, {} kept posts left as they were",
                    config.herald.storage.path.display(),
                    saved.inserted,
                    saved.removed,
                    saved.skipped
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => run_bot(config, file, explicit, io),
        Command::Post {
            draft,
            channel,
            now,
        } => post(config, &draft, &channel, now, io),
        Command::Status { hours } => status(&config, hours, io),
        Command::Pause { categories, reason } => {
            let store = open_store(&config, io)?;
            match schedule::pause(&config, &store, &categories, &reason, Utc::now()) {
                Ok(hold) => {
                    outln!(io, "holding {}: scheduled posts in these categories are not sent until `herald resume`", hold.categories.join(", "));
                    Ok(ExitCode::SUCCESS)
                }
                Err(schedule::PauseError::UnknownCategory(c)) => {
                    errln!(io, "herald: {c:?} is not a category of the plan");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Classify { file } => classify(&config, &file, io),
        Command::User { action } => user(&config, action, io),
        Command::Alerts { action } => alerts(&config, action, io),
        Command::Replay { file, threads } => replay(&config, &file, threads, io),
        Command::Queue(args) => queue::run(args, &config, io),
        Command::Store {
            action: StoreAction::Check,
        } => store_check(&config, io),
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
            let store = open_store(&config, io)?;
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
        Command::Resume => {
            let store = open_store(&config, io)?;
            schedule::resume(&store)?;
            outln!(
                io,
                "resumed: held posts go out if they are not yet too late"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `herald user`: adds, lists and removes web UI users.
fn user(config: &Config, action: UserAction, io: &mut Io) -> anyhow::Result<ExitCode> {
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
fn read_password(io: &Io) -> anyhow::Result<String> {
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

/// The classifier and the input of `classify` and `replay`: FILE, or stdin for `-`.
fn stream(
    config: &Config,
    file: &str,
) -> anyhow::Result<(crate::classify::Classifier, Box<dyn std::io::BufRead>)> {
    let classifier =
        crate::classify::Classifier::new(&config.keywords).map_err(anyhow::Error::msg)?;
    let input: Box<dyn std::io::BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {file}"))?,
        ))
    };
    Ok((classifier, input))
}

/// `herald classify`: a malformed line is reported on stderr with its number and skipped; the
/// exit status is 1 if any line was skipped.
fn classify(config: &Config, file: &str, io: &mut Io) -> anyhow::Result<ExitCode> {
    let (classifier, input) = stream(config, file)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut skipped = 0;
    for (i, line) in crate::untrusted::lines(input).enumerate() {
        let n = i + 1;
        let line = match line.with_context(|| format!("reading line {n}"))? {
            Ok(line) => line,
            Err(why) => {
                errln!(io, "{file}:{n}: skipped: {why}");
                skipped += 1;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let mut mention = match crate::classify::mention_fields(&line) {
            Ok(m) => m,
            Err(why) => {
                errln!(io, "{file}:{n}: skipped: {why}");
                skipped += 1;
                continue;
            }
        };
        let text = mention["text"].as_str().unwrap_or_default().to_string();
        let author = mention["author"].as_str().map(str::to_string);
        let c = classifier.classify(&text, author.as_deref());
        mention.insert("sentiment".into(), serde_json::to_value(c.sentiment)?);
        mention.insert("matches".into(), serde_json::to_value(c.matches)?);
        mention.insert("intent".into(), serde_json::to_value(c.intent)?);
        mention.insert("lead".into(), serde_json::to_value(c.lead)?);
        let written = serde_json::to_writer(&mut out, &mention)
            .map_err(std::io::Error::other)
            .and_then(|()| out.write_all(b"\n"));
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            other => other?,
        }
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    if skipped > 0 {
        errln!(io, "herald classify: {skipped} line(s) skipped");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `herald replay`: alerts on stdout as JSON Lines; a malformed line is reported on stderr with
/// its number and skipped, and the exit status is then 1.
fn replay(
    config: &Config,
    file: &str,
    threads: Option<u16>,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let (classifier, input) = stream(config, file)?;
    let threads = threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        usize::from,
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = crate::crisis::replay::replay(
        input,
        &classifier,
        crate::crisis::Params::default(),
        threads,
        |alert| {
            serde_json::to_writer(&mut out, alert).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        },
        |n, why| {
            let _ = writeln!(io.err, "{file}:{n}: skipped: {why}");
        },
    );
    let summary = match result.and_then(|s| out.flush().map(|()| s)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("replaying"),
    };
    if summary.skipped > 0 {
        errln!(io, "herald replay: {} line(s) skipped", summary.skipped);
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `herald store check`: every tree read and decoded; exit 1 if anything is unreadable.
fn store_check(config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
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

/// `herald run`: opens the store, binds the control socket, starts everything, prints the
/// startup summary, and runs until a signal.
fn run_bot(
    config: Config,
    file: &std::path::Path,
    explicit: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    if io.store.is_some() || control::is_served(&config) {
        errln!(
            io,
            "herald: a `herald run` is already running on the store {} (its control socket {} answers)",
            config.herald.storage.path.display(),
            control::socket_path(&config).display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = open_store(&config, io)?;
    let free_disk = crate::store::available_space(&config.herald.storage.path).ok();
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
                tokio::spawn(server.serve(config.clone(), store.clone(), ready.wake, shutdown.clone()));
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

fn post(
    config: Config,
    draft: &str,
    channel: &str,
    now: bool,
    io: &mut Io,
) -> anyhow::Result<ExitCode> {
    let Some(d) = config
        .drafts
        .iter()
        .find(|d| d.id == draft || d.stem == draft)
    else {
        errln!(
            io,
            "herald: no draft {draft:?} in {}",
            config.herald.content_plan.display()
        );
        return Ok(ExitCode::from(2));
    };
    if !config.herald.channels.iter().any(|c| c.name == channel) {
        errln!(io, "herald: no channel {channel:?} in the configuration");
        return Ok(ExitCode::from(2));
    }
    if !d.allows(channel) {
        errln!(io, "herald: draft {} is not for channel {channel:?}", d.id);
        return Ok(ExitCode::from(2));
    }
    let store = open_store(&config, io)?;
    let clock = system_clock();
    let (at, peak) = if now {
        let t = clock();
        (
            t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos())),
            "by hand".to_string(),
        )
    } else {
        match crate::schedule::next_free_slot(&config, &store, channel, clock())? {
            Some(slot) => slot,
            None => {
                errln!(io, "herald: no free peak slot within a year on {channel}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    // A channel's posts are keyed by the second: two posts by hand in the same second take the
    // next free one.
    let mut record = crate::schedule::manual_post(&config, d, channel, at, &peak);
    let mut tries = 0;
    while !store.posts().insert_new(&record)? {
        tries += 1;
        if !now || tries > 60 {
            errln!(io, "herald: {channel} already has a post at {}", record.at);
            return Ok(ExitCode::FAILURE);
        }
        record = crate::schedule::manual_post(
            &config,
            d,
            channel,
            at + chrono::TimeDelta::seconds(tries),
            &peak,
        );
    }
    let at = record.at;
    let local = at.with_timezone(&config.herald.timezone);
    if !now {
        outln!(
            io,
            "scheduled {} on {channel} at {} ({peak}); `herald run` publishes it",
            d.id,
            local.format("%Y-%m-%d %H:%M %Z")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let channels = crate::app::channels(&config)?;
    let publisher = Publisher::new(store, channels, config.herald.publish.clone(), clock);
    let outcome = runtime()?.block_on(publisher.execute(record))?;
    match outcome {
        Outcome::Published(sent) => {
            outln!(
                io,
                "published {} on {channel}: {}",
                d.id,
                sent.url.unwrap_or(sent.remote_id)
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Retrying { at, error } => {
            outln!(
                io,
                "not published yet ({error}); `herald run` retries at {}",
                at.with_timezone(&config.herald.timezone).format("%H:%M:%S")
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Unconfirmed(why) => {
            outln!(
                io,
                "unconfirmed ({why}); `herald run` looks for it on the platform before any retry"
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Failed(why) => {
            outln!(io, "failed: {why}");
            Ok(ExitCode::FAILURE)
        }
        Outcome::Held => {
            outln!(
                io,
                "held: category {} is paused (`herald resume` to lift)",
                d.category
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Missed | Outcome::Skipped => {
            outln!(io, "not sent: {outcome:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn status(config: &Config, hours: i64, io: &mut Io) -> anyhow::Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}

/// Alert records from the store, or through the running instance's API when it holds the store.
fn alerts(config: &Config, action: AlertsAction, io: &mut Io) -> anyhow::Result<ExitCode> {
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
