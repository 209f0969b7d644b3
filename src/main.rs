//! The `herald` command line: parses arguments, sets up logging, loads the configuration and
//! calls into the library. Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use herald::app;
use herald::config::{self, Config};
use herald::plan::output;
use herald::store::Store;

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
        /// Also plan this many days ahead (dry run) and report categories that run short.
        #[arg(long, default_value_t = 28)]
        days: u32,
    },
    /// Plan the posting calendar and save it in the store.
    Plan {
        /// How many days to plan.
        #[arg(long, default_value_t = 7)]
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Ics,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

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
    match run(cli.command, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout; a closed pipe (`herald plan | head`) ends the output quietly.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { days } => {
            for w in &config.warnings {
                eprintln!("{w}");
            }
            let report = app::check(&config, Utc::now(), days).map_err(anyhow::Error::msg)?;
            for f in &report.keyword_failures {
                println!("{f}");
            }
            for note in &report.notes {
                let level = if note.is_warning() { "warning" } else { "note" };
                println!("{level}: next {days} days: {note}");
            }
            let drafts = config.drafts.len();
            let rules: usize = config.keywords.iter().map(|g| g.rules.len()).sum();
            if report.keyword_failures.is_empty() {
                println!(
                    "ok: {} channel(s), {drafts} drafts, {} keyword groups with {rules} rules",
                    config.herald.channels.len(),
                    config.keywords.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "{} keyword test case(s) failed",
                    report.keyword_failures.len()
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
                    eprintln!("herald: no channel {c:?} in the configuration");
                    return Ok(ExitCode::from(2));
                }
            }
            let tz = config.herald.timezone;
            let (start, first_day) = match from {
                Some(d) => (app::local_midnight(tz, d), d),
                None => {
                    let now = Utc::now();
                    (now, now.with_timezone(&tz).date_naive())
                }
            };
            let end_date = first_day + chrono::Days::new(u64::from(days));
            let store = if dry_run {
                None
            } else {
                let path = &config.herald.storage.path;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                Some(Store::open(path)?)
            };
            let schedule = app::replan(
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
            emit(&text)?;
            if !matches!(format, Format::Table) {
                for note in &schedule.notes {
                    let level = if note.is_warning() { "warning" } else { "note" };
                    eprintln!("{level}: {note}");
                }
            }
            if let Some(saved) = schedule.saved {
                eprintln!(
                    "saved to {}: {} planned posts written, {} replaced, {} kept posts left as they were",
                    config.herald.storage.path.display(),
                    saved.inserted,
                    saved.removed,
                    saved.skipped
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
