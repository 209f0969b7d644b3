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
use herald::publish::worker::{system_clock, Outcome, Publisher};
use herald::store::Store;

mod queue_cli;

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
        /// How many hours back and ahead to show.
        #[arg(long, default_value_t = 24)]
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
        /// Only the last N hours.
        #[arg(long)]
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
    /// Crisis alerts: list, show, acknowledge, resolve. While `herald run` holds the store, this
    /// goes through its JSON API (`[web]` and the API token variable must be set).
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
        /// Classification threads (default: the machine's parallelism).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// The reply inbox: list, show, approve, edit, reject, assign, retry, send, leads.
    Queue(queue_cli::QueueArgs),
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

/// Opens the store, creating its folder; says plainly when another herald holds it.
fn open_store(config: &Config) -> anyhow::Result<Store> {
    let path = &config.herald.storage.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // `Store::open` waits a moment for another herald command finishing with the store.
    Store::open(path).map_err(|e| {
        let text = e.to_string();
        if is_locked(&text) {
            anyhow::anyhow!("{text}\n(is `herald run` using this store? stop it first, or use another --config)")
        } else {
            anyhow::Error::new(e)
        }
    })
}

/// Whether opening the store failed because another process holds it.
fn is_locked(error: &str) -> bool {
    error.contains("lock")
        || error.contains("Resource temporarily unavailable")
        || error.contains("WouldBlock")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
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
            for f in &report.reply_failures {
                println!("{f}");
            }
            for (warning, line) in herald::plan::note_lines(&report.notes) {
                let level = if warning { "warning" } else { "note" };
                println!("{level}: next {days} days: {line}");
            }
            let drafts = config.drafts.len();
            let rules: usize = config.keywords.iter().map(|g| g.rules.len()).sum();
            if report.keyword_failures.is_empty() && report.reply_failures.is_empty() {
                println!(
                    "ok: {} channel(s), {drafts} drafts, {} keyword groups with {rules} rules",
                    config.herald.channels.len(),
                    config.keywords.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
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
                Some(open_store(&config)?)
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
                for (warning, line) in herald::plan::note_lines(&schedule.notes) {
                    let level = if warning { "warning" } else { "note" };
                    eprintln!("{level}: {line}");
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
        Command::Run => {
            let store = open_store(&config)?;
            let rt = runtime()?;
            rt.block_on(async move {
                let shutdown = tokio_util::sync::CancellationToken::new();
                tokio::spawn(signals(shutdown.clone()));
                herald::app::run(config, store, shutdown).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Post {
            draft,
            channel,
            now,
        } => post(config, &draft, &channel, now),
        Command::Status { hours } => status(&config, hours),
        Command::Pause { categories, reason } => {
            let store = open_store(&config)?;
            match app::pause(&config, &store, &categories, &reason, Utc::now()) {
                Ok(hold) => {
                    println!("holding {}: scheduled posts in these categories are not sent until `herald resume`", hold.categories.join(", "));
                    Ok(ExitCode::SUCCESS)
                }
                Err(app::PauseError::UnknownCategory(c)) => {
                    eprintln!("herald: {c:?} is not a category of the plan");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Classify { file } => classify(&config, &file),
        Command::User { action } => user(&config, action),
        Command::Alerts { action } => alerts(&config, action),
        Command::Replay { file, threads } => replay(&config, &file, threads),
        Command::Queue(args) => queue_cli::run(args, &config, open_store),
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
            let store = open_store(&config)?;
            let q = herald::store::MentionQuery {
                since: hours.map(|h| Utc::now() - chrono::TimeDelta::hours(h)),
                author,
                topic,
                text: search,
                platform,
                sentiment,
                intent,
                limit,
            };
            let found = store.mentions(&q)?;
            let tz = config.herald.timezone;
            let mut text = String::new();
            for m in &found {
                if json {
                    text.push_str(&serde_json::to_string(m)?);
                    text.push('\n');
                } else {
                    let c = &m.classification;
                    let one_line = herald::listen::terminal_safe(
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
                        herald::listen::terminal_safe(&m.mention.author),
                        c["intent"].as_str().unwrap_or(""),
                        c["sentiment"]["label"].as_str().unwrap_or(""),
                        one_line
                    ));
                }
            }
            if !json {
                text.push_str(&format!("{} mention(s)\n", found.len()));
            }
            emit(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Resume => {
            let store = open_store(&config)?;
            app::resume(&store)?;
            println!("resumed: held posts go out if they are not yet too late");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `herald user`: adds, lists and removes web UI users.
fn user(config: &Config, action: UserAction) -> anyhow::Result<ExitCode> {
    match action {
        UserAction::Add { name, replace } => {
            if !herald::web::auth::valid_user_name(&name) {
                eprintln!("herald: {}", herald::web::auth::AuthError::BadName);
                return Ok(ExitCode::from(2));
            }
            let password = read_password()?;
            let store = open_store(config)?;
            match herald::web::auth::add_user(&store, &name, &password, replace, Utc::now()) {
                Ok(()) => {
                    println!("user {name} saved; log in at the web UI");
                    Ok(ExitCode::SUCCESS)
                }
                Err(
                    e @ (herald::web::auth::AuthError::BadName
                    | herald::web::auth::AuthError::WeakPassword
                    | herald::web::auth::AuthError::Exists(_)),
                ) => {
                    eprintln!("herald: {e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        UserAction::List => {
            let store = open_store(config)?;
            let users = store.users()?;
            for u in &users {
                println!(
                    "{}  added {}",
                    u.name,
                    u.created_at
                        .with_timezone(&config.herald.timezone)
                        .format("%Y-%m-%d %H:%M")
                );
            }
            println!("{} user(s)", users.len());
            Ok(ExitCode::SUCCESS)
        }
        UserAction::Remove { name } => {
            let store = open_store(config)?;
            if store.remove_user(&name)? {
                println!("user {name} removed");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("herald: no user {name:?}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// A password from the terminal without echo (asked twice), or the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
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

/// `herald classify`: a malformed line is reported on stderr with its number and skipped; the
/// exit status is 1 if any line was skipped.
fn classify(config: &Config, file: &str) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead, Write};
    let classifier =
        herald::classify::Classifier::new(&config.keywords).map_err(anyhow::Error::msg)?;
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {file}"))?,
        ))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut skipped = 0;
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("reading line {n}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut mention = match herald::classify::mention_fields(&line) {
            Ok(m) => m,
            Err(why) => {
                eprintln!("{file}:{n}: skipped: {why}");
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
        eprintln!("herald classify: {skipped} line(s) skipped");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `herald replay`: alerts on stdout as JSON Lines; a malformed line is reported on stderr with
/// its number and skipped, and the exit status is then 1.
fn replay(config: &Config, file: &str, threads: Option<usize>) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead, Write};
    let classifier =
        herald::classify::Classifier::new(&config.keywords).map_err(anyhow::Error::msg)?;
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {file}"))?,
        ))
    };
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = herald::crisis::replay::replay(
        input,
        &classifier,
        herald::crisis::Params::default(),
        threads,
        |alert| {
            serde_json::to_writer(&mut out, alert).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        },
        |n, why| eprintln!("{file}:{n}: skipped: {why}"),
    );
    let summary = match result.and_then(|s| out.flush().map(|()| s)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("replaying"),
    };
    if summary.skipped > 0 {
        eprintln!("herald replay: {} line(s) skipped", summary.skipped);
        return Ok(ExitCode::FAILURE);
    }
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

fn post(config: Config, draft: &str, channel: &str, now: bool) -> anyhow::Result<ExitCode> {
    let Some(d) = config
        .drafts
        .iter()
        .find(|d| d.id == draft || d.stem == draft)
    else {
        eprintln!(
            "herald: no draft {draft:?} in {}",
            config.herald.content_plan.display()
        );
        return Ok(ExitCode::from(2));
    };
    if !config.herald.channels.iter().any(|c| c.name == channel) {
        eprintln!("herald: no channel {channel:?} in the configuration");
        return Ok(ExitCode::from(2));
    }
    if !d.allows(channel) {
        eprintln!("herald: draft {} is not for channel {channel:?}", d.id);
        return Ok(ExitCode::from(2));
    }
    let store = open_store(&config)?;
    let clock = system_clock();
    let (at, peak) = if now {
        let t = clock();
        (
            t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos())),
            "by hand".to_string(),
        )
    } else {
        match herald::app::next_free_slot(&config, &store, channel, clock())? {
            Some(slot) => slot,
            None => {
                eprintln!("herald: no free peak slot within a year on {channel}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    // A channel's posts are keyed by the second: two posts by hand in the same second take the
    // next free one.
    let mut record = herald::app::manual_post(&config, d, channel, at, &peak);
    let mut tries = 0;
    while !store.insert_new(&record)? {
        tries += 1;
        if !now || tries > 60 {
            eprintln!("herald: {channel} already has a post at {}", record.at);
            return Ok(ExitCode::FAILURE);
        }
        record = herald::app::manual_post(
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
        println!(
            "scheduled {} on {channel} at {} ({peak}); `herald run` publishes it",
            d.id,
            local.format("%Y-%m-%d %H:%M %Z")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let channels = herald::app::channels(&config)?;
    let publisher = Publisher::new(store, channels, config.herald.publish.clone(), clock);
    let outcome = runtime()?.block_on(publisher.execute(record))?;
    match outcome {
        Outcome::Published(sent) => {
            println!(
                "published {} on {channel}: {}",
                d.id,
                sent.url.unwrap_or(sent.remote_id)
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Retrying { at, error } => {
            println!(
                "not published yet ({error}); `herald run` retries at {}",
                at.with_timezone(&config.herald.timezone).format("%H:%M:%S")
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Unconfirmed(why) => {
            println!(
                "unconfirmed ({why}); `herald run` looks for it on the platform before any retry"
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Failed(why) => {
            println!("failed: {why}");
            Ok(ExitCode::FAILURE)
        }
        Outcome::Held => {
            println!(
                "held: category {} is paused (`herald resume` to lift)",
                d.category
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Missed | Outcome::Skipped => {
            println!("not sent: {outcome:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn status(config: &Config, hours: i64) -> anyhow::Result<ExitCode> {
    let store = open_store(config)?;
    let tz = config.herald.timezone;
    let now = Utc::now();
    let span = chrono::TimeDelta::hours(hours);
    let posts = store.posts_between(now - span, now + span)?;
    if let Some(hold) = store.hold()? {
        println!(
            "HOLD since {}: {} ({} held)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    if let Some(hold) = store.crisis_hold()? {
        println!(
            "CRISIS HOLD since {}: {} ({} held until the alerts are resolved)\n",
            hold.since.with_timezone(&tz).format("%m-%d %H:%M"),
            hold.reason,
            hold.categories.join(", ")
        );
    }
    let open: Vec<_> = store
        .alerts()?
        .into_iter()
        .filter(|a| a.state != herald::store::AlertState::Resolved)
        .collect();
    if !open.is_empty() {
        println!("OPEN ALERTS");
        for a in &open {
            println!(
                "  {}  {}  {}  negative {} of {} (baseline {:.1})",
                a.id,
                a.level.as_str(),
                a.state.as_str(),
                a.negative,
                a.total,
                a.baseline
            );
        }
        println!();
    }
    let held = store.held_categories()?;
    println!(
        "{:<12}  {:<10}  {:<12}  {:<36}  URL / NOTE",
        "WHEN", "CHANNEL", "STATE", "DRAFT"
    );
    for p in &posts {
        if p.at > now && !p.state.is_kept() && p.state != herald::store::PostState::Planned {
            continue;
        }
        let mut state = p.state.as_str().to_string();
        if held.contains(&p.category)
            && matches!(
                p.state,
                herald::store::PostState::Planned | herald::store::PostState::Approved
            )
        {
            state.push_str(" (held)");
        }
        let note = p
            .delivery
            .remote_url
            .clone()
            .or_else(|| p.delivery.error.clone())
            .unwrap_or_default();
        let marker = if p.at <= now { ' ' } else { '>' };
        println!(
            "{marker}{:<11}  {:<10}  {:<12}  {:<36}  {note}",
            p.at.with_timezone(&tz).format("%m-%d %H:%M"),
            p.channel,
            state,
            p.draft
        );
    }
    let count = |s: herald::store::PostState| posts.iter().filter(|p| p.state == s).count();
    use herald::store::PostState as S;
    println!(
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
fn alerts(config: &Config, action: AlertsAction) -> anyhow::Result<ExitCode> {
    use herald::store::{AlertRecord, AlertState};
    let now = Utc::now();
    let records: Vec<AlertRecord> = match Store::open(&config.herald.storage.path) {
        Ok(store) => match &action {
            AlertsAction::List { all, .. } => store
                .alerts()?
                .into_iter()
                .filter(|a| *all || a.state != AlertState::Resolved)
                .collect(),
            AlertsAction::Show { id } => store.alert(id)?.into_iter().collect(),
            AlertsAction::Ack { id, who } => store.ack_alert(id, who, now)?.into_iter().collect(),
            AlertsAction::Resolve { id, who } => {
                let (record, changed) = herald::crisis::live::resolve(
                    &store,
                    &config.plan.pause_categories,
                    id,
                    who,
                    now,
                )?;
                if changed && store.crisis_hold()?.is_none() {
                    eprintln!(
                        "crisis hold lifted: held posts go out at the next start of `herald run`"
                    );
                }
                record.into_iter().collect()
            }
        },
        Err(e) if is_locked(&e.to_string()) => runtime()?.block_on(alerts_api(config, &action))?,
        Err(e) => return Err(e.into()),
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
                        a.id,
                        a.level.as_str(),
                        a.state.as_str(),
                        a.opened_at
                            .with_timezone(&config.herald.timezone)
                            .format("%m-%d %H:%M"),
                        a.negative,
                        a.total,
                        a.baseline
                    ));
                }
                out.push('\n');
            }
            if records.is_empty() && !*json {
                out.push_str("no alerts\n");
            }
            emit(&out)?;
            return Ok(ExitCode::SUCCESS);
        }
        AlertsAction::Show { id }
        | AlertsAction::Ack { id, .. }
        | AlertsAction::Resolve { id, .. } => id,
    };
    match records.first() {
        Some(a) => {
            emit(&format!("{}\n", serde_json::to_string_pretty(a)?))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no alert {id:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The same through the JSON API of the `herald run` that holds the store.
async fn alerts_api(
    config: &Config,
    action: &AlertsAction,
) -> anyhow::Result<Vec<herald::store::AlertRecord>> {
    let web = config.herald.web.as_ref().filter(|w| w.enabled).context(
        "the store is in use (by `herald run`?) and [web] is off, so its API cannot be asked",
    )?;
    let token = std::env::var(&web.api_token_env)
        .ok()
        .filter(|t| !t.is_empty())
        .with_context(|| {
            format!(
                "the store is in use (by `herald run`?); set {} to go through its API",
                web.api_token_env
            )
        })?;
    let mut addr = web.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let base = format!("http://{addr}/api/alerts");
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let request = match action {
        AlertsAction::List { all, .. } => http.get(format!("{base}?all={all}")),
        AlertsAction::Show { .. } => http.get(format!("{base}?all=true")),
        AlertsAction::Ack { id, who } => http
            .post(format!("{base}/{}/ack", urlencode(id)))
            .json(&serde_json::json!({ "by": who })),
        AlertsAction::Resolve { id, who } => http
            .post(format!("{base}/{}/resolve", urlencode(id)))
            .json(&serde_json::json!({ "by": who })),
    };
    let answer = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("asking herald run at {addr}: {}", e.without_url()))?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !status.is_success() {
        anyhow::bail!(
            "herald run answered {status}: {}",
            body["error"].as_str().unwrap_or("")
        );
    }
    Ok(match action {
        AlertsAction::List { .. } => serde_json::from_value(body["alerts"].clone())?,
        AlertsAction::Show { id } => {
            let all: Vec<herald::store::AlertRecord> =
                serde_json::from_value(body["alerts"].clone())?;
            all.into_iter().filter(|a| &a.id == id).collect()
        }
        _ => vec![serde_json::from_value(body["alert"].clone())?],
    })
}

/// Percent-encodes an alert id for a URL path (ids are `topic-time`; topics may hold `/`).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
