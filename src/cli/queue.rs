//! `herald queue`: the reply inbox in the terminal: list, show, approve, edit, reject, assign,
//! retry, attach a picture, send, and export leads. Mention text is untrusted and shown with control characters
//! escaped. Who acts is `--as NAME` or `HERALD_USER`; every decision is in the item's audit log.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};

use super::{errln, open_store, outln, Io};
use crate::config::Config;
use crate::inbox::{self, Action, Priority, QueueItem, ReplyState};
use crate::listen::terminal_safe;
use crate::store::{QueueQuery, Store};

/// `herald queue …`
#[derive(Args)]
pub struct QueueArgs {
    /// Who is acting (recorded in the audit log).
    #[arg(long = "as", global = true, env = "HERALD_USER")]
    who: Option<String>,
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// A page of the inbox, most urgent first, then oldest first.
    List {
        /// States to show (repeatable); default: pending, approved, sending, failed.
        #[arg(long = "state")]
        states: Vec<String>,
        #[arg(long = "priority")]
        priorities: Vec<String>,
        #[arg(long = "platform")]
        platforms: Vec<String>,
        #[arg(long = "lang")]
        langs: Vec<String>,
        /// Only items past their SLA.
        #[arg(long)]
        overdue: bool,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: usize,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One item: the mention, the draft, and its audit log.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending reply as drafted (or with `--text`).
    Approve {
        id: u64,
        #[arg(long)]
        text: Option<String>,
    },
    /// Change a pending reply's text: TEXT, `-` for stdin, or nothing to open $EDITOR.
    Edit {
        id: u64,
        text: Option<String>,
        /// Approve it with the new text at once.
        #[arg(long)]
        approve: bool,
    },
    /// Decide not to answer.
    Reject {
        id: u64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Give an item to a person (no NAME: unassign).
    Assign { id: u64, name: Option<String> },
    /// Send a failed reply again.
    Retry { id: u64 },
    /// Attach a picture of `content-plan/media/` to a pending or failed reply (no FILE: remove
    /// it). The alt text is required with a picture.
    Attach {
        id: u64,
        /// The file, relative to the media folder (`dealer/snow.jpg`).
        file: Option<String>,
        /// What the picture shows, for people who cannot see it.
        #[arg(long)]
        alt: Option<String>,
    },
    /// Send approved replies now (when `herald run` is not running; it does this itself).
    Send,
    /// Purchase leads for the dealer's CRM: CSV on stdout, or POSTed to the webhook in
    /// HERALD_LEADS_WEBHOOK_URL.
    Leads {
        /// Only leads received in the last N hours (at most ten years, 87600).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=87600))]
        hours: Option<i64>,
        #[arg(long)]
        webhook: bool,
    },
}

fn parse_all<T>(
    names: &[String],
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    names
        .iter()
        .map(|n| parse(n).ok_or_else(|| anyhow::anyhow!("{n:?} is not a {what}")))
        .collect()
}

/// `s` on one line, cut to `max` characters, control characters escaped.
fn one_line(s: &str, max: usize) -> String {
    terminal_safe(&crate::untrusted::one_line(s, max))
}

fn show(item: &QueueItem, config: &Config) -> String {
    let tz = config.herald.timezone;
    let t = |d: chrono::DateTime<Utc>| d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let mut s = format!(
        "#{} {} {} ({}){}\nfrom {} on {} at {}{}\nmention: {}\nintent {}, template {}, lang {}{}{}\ndue {}{}\nreply ({}):\n{}\n",
        item.id,
        item.priority.as_str(),
        item.state.as_str(),
        if item.crisis { "CRISIS" } else { "-" },
        if item.is_overdue(Utc::now()) { " OVERDUE" } else { "" },
        terminal_safe(&item.author),
        item.platform,
        t(item.mention_at),
        item.mention_url.as_deref().map(|u| format!(" {}", terminal_safe(u))).unwrap_or_default(),
        terminal_safe(&item.mention_text),
        item.intent,
        item.template,
        item.lang,
        item.stage.as_deref().map(|s| format!(", stage {s}")).unwrap_or_default(),
        item.lead.as_ref().map(|l| format!(", lead {}", l.grade)).unwrap_or_default(),
        t(item.due_at),
        item.assignee.as_deref().map(|a| format!(", assigned to {a}")).unwrap_or_default(),
        item.channel.as_deref().unwrap_or("no channel"),
        item.text,
    );
    if let Some(m) = &item.media {
        s.push_str(&format!(
            "picture: {} (alt: {})\n",
            terminal_safe(&m.file),
            terminal_safe(&m.alt)
        ));
    }
    if let Some(url) = &item.remote_url {
        s.push_str(&format!("sent: {url}\n"));
    }
    if let Some(e) = &item.error {
        s.push_str(&format!("error: {e}\n"));
    }
    s.push_str("audit:\n");
    for e in &item.audit {
        s.push_str(&format!(
            "  {} {:<8} {:<8} {} → {}{}{}\n",
            t(e.at),
            terminal_safe(&e.who),
            e.action,
            e.from.map(ReplyState::as_str).unwrap_or("-"),
            e.to.as_str(),
            e.note
                .as_deref()
                .map(|n| format!("  ({})", terminal_safe(n)))
                .unwrap_or_default(),
            if e.text_before != e.text_after && !e.text_before.is_empty() {
                format!(
                    "\n      before: {}\n      after:  {}",
                    one_line(&e.text_before, 200),
                    one_line(&e.text_after, 200)
                )
            } else {
                String::new()
            }
        ));
    }
    s
}

impl QueueArgs {
    /// Sets who is acting (a forwarded command: the asker's `HERALD_USER`).
    pub(super) fn set_who(&mut self, who: Option<String>) {
        self.who = who;
    }
}

/// The input a forwarded `queue` command needs from the asker's terminal, read there before
/// the command goes to the running herald: `edit`'s text from stdin (`-`) or from `$EDITOR` on
/// the current text, which `ask` fetches (`queue show ID --json` through the same socket).
pub(super) fn input_ahead(
    args: &QueueArgs,
    ask: impl Fn(&[String]) -> anyhow::Result<String>,
) -> anyhow::Result<Option<String>> {
    let QueueCommand::Edit { id, text, .. } = &args.command else {
        return Ok(None);
    };
    match text.as_deref() {
        Some("-") => new_text(text.clone(), "", None).map(Some),
        Some(_) => Ok(None),
        None => {
            let shown = ask(&[
                "queue".into(),
                "show".into(),
                id.to_string(),
                "--json".into(),
            ])?;
            let item: QueueItem = serde_json::from_str(&shown)
                .with_context(|| format!("reading queue item #{id} from herald run"))?;
            new_text(None, &item.text, None).map(Some)
        }
    }
}

/// New text for `edit`: the argument, stdin for `-`, or the editor on the current text; or the
/// text the asking terminal read, for a forwarded command.
fn new_text(arg: Option<String>, current: &str, given: Option<&str>) -> anyhow::Result<String> {
    if let (Some(given), None | Some("-")) = (given, arg.as_deref()) {
        return Ok(given.to_string());
    }
    match arg.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Ok(s.trim_end().to_string())
        }
        Some(t) => Ok(t.to_string()),
        None => {
            let editor = std::env::var("VISUAL")
                .or_else(|_| std::env::var("EDITOR"))
                .context("give the text as an argument or `-` for stdin, or set $EDITOR")?;
            let file = tempfile_path()?;
            std::fs::write(&file, current)?;
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(&file)
                .status()
                .context("running $EDITOR")?;
            let text = std::fs::read_to_string(&file)?;
            let _ = std::fs::remove_file(&file);
            anyhow::ensure!(status.success(), "the editor failed; nothing changed");
            Ok(text.trim_end().to_string())
        }
    }
}

fn tempfile_path() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir();
    Ok(dir.join(format!(
        "herald-reply-{}-{}.txt",
        std::process::id(),
        Utc::now().timestamp_micros()
    )))
}

fn who(args: &QueueArgs) -> anyhow::Result<String> {
    match args.who.as_deref().map(str::trim) {
        Some(w) if !w.is_empty() => Ok(w.to_string()),
        _ => Err(anyhow::anyhow!(
            "say who is deciding: --as NAME or HERALD_USER (it goes into the audit log)"
        )),
    }
}

fn act(store: &Store, id: u64, action: Action, who: &str, io: &mut Io) -> anyhow::Result<ExitCode> {
    match store.queue().apply(id, &action, who, Utc::now())? {
        Ok(item) => {
            outln!(
                io,
                "#{} is {} ({} by {})",
                item.id,
                item.state.as_str(),
                action.name(),
                who
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!(io, "#{id}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Runs `herald queue …`.
pub fn run(args: QueueArgs, config: &Config, io: &mut Io) -> anyhow::Result<ExitCode> {
    let store = open_store(config, io)?;
    match &args.command {
        QueueCommand::List {
            states,
            priorities,
            platforms,
            langs,
            overdue,
            page,
            limit,
            json,
        } => {
            let mut states = parse_all(states, ReplyState::parse, "state")?;
            if states.is_empty() {
                states = ReplyState::OPEN.to_vec();
            }
            let now = Utc::now();
            let q = QueueQuery {
                states,
                priorities: parse_all(priorities, Priority::parse, "priority")?,
                platforms: platforms.clone(),
                langs: langs.clone(),
                overdue_at: overdue.then_some(now),
                offset: page.saturating_sub(1).saturating_mul(*limit),
                limit: *limit,
            };
            let items = store.queue().page(&q)?;
            let mut out = String::new();
            for i in &items {
                if *json {
                    out.push_str(&serde_json::to_string(i)?);
                    out.push('\n');
                } else {
                    let age = (now - i.created_at).num_minutes();
                    out.push_str(&format!(
                        "{:>6} {:<9} {:<9} {:>5}m{} {:<9} {:<3} {:<20} {:<8} {}\n",
                        format!("#{}", i.id),
                        i.priority.as_str(),
                        i.state.as_str(),
                        age,
                        if i.is_overdue(now) { "!" } else { " " },
                        i.platform,
                        i.lang,
                        one_line(&i.author, 20),
                        i.assignee
                            .as_deref()
                            .map(|a| one_line(a, 8))
                            .unwrap_or_else(|| "-".into()),
                        one_line(&i.mention_text, 60),
                    ));
                }
            }
            if !json {
                let total = store.queue().count(&q)?;
                out.push_str(&format!(
                    "{} of {total} item(s), page {page}; `!` = past its SLA\n",
                    items.len()
                ));
            }
            io.out.write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Show { id, json } => match store.queue().item(*id)? {
            Some(item) if *json => {
                outln!(io, "{}", serde_json::to_string_pretty(&item)?);
                Ok(ExitCode::SUCCESS)
            }
            Some(item) => {
                io.out.write_all(show(&item, config).as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            None => {
                errln!(io, "no queue item #{id}");
                Ok(ExitCode::FAILURE)
            }
        },
        QueueCommand::Approve { id, text } => act(
            &store,
            *id,
            Action::Approve { text: text.clone() },
            &who(&args)?,
            io,
        ),
        QueueCommand::Edit { id, text, approve } => {
            let who = who(&args)?;
            let Some(item) = store.queue().item(*id)? else {
                errln!(io, "no queue item #{id}");
                return Ok(ExitCode::FAILURE);
            };
            let text = new_text(text.clone(), &item.text, io.input.as_deref())?;
            let action = if *approve {
                Action::Approve { text: Some(text) }
            } else {
                Action::Edit { text }
            };
            act(&store, *id, action, &who, io)
        }
        QueueCommand::Reject { id, reason } => act(
            &store,
            *id,
            Action::Reject {
                reason: reason.clone(),
            },
            &who(&args)?,
            io,
        ),
        QueueCommand::Assign { id, name } => act(
            &store,
            *id,
            Action::Assign { to: name.clone() },
            &who(&args)?,
            io,
        ),
        QueueCommand::Retry { id } => act(&store, *id, Action::Retry, &who(&args)?, io),
        QueueCommand::Attach { id, file, alt } => {
            let who = who(&args)?;
            let media = match file.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                None => None,
                Some(file) => {
                    let media_dir = config.herald.content_plan.join("media");
                    let is_picture = crate::web::media::resolve(&media_dir, file)
                        .is_some_and(|p| crate::media::inspect(&p).is_ok());
                    if !is_picture {
                        errln!(
                            io,
                            "#{id}: {} is not a JPEG, PNG, WebP or GIF picture in {}",
                            terminal_safe(file),
                            media_dir.display()
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                    Some(crate::domain::PostMedia {
                        file: file.to_string(),
                        alt: alt.as_deref().unwrap_or("").trim().to_string(),
                        focus: None,
                    })
                }
            };
            act(&store, *id, Action::Attach { media }, &who, io)
        }
        QueueCommand::Send => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let done = rt.block_on(async {
                let clock = crate::clock::system_clock();
                let wake = std::sync::Arc::new(tokio::sync::Notify::new());
                let channels = std::sync::Arc::new(crate::app::channels(config)?);
                let sender = inbox::send::ReplySender::new(
                    store.clone(),
                    channels.clone(),
                    clock.clone(),
                    wake,
                    config.replies.as_ref().map(|r| r.expire_after),
                );
                let publisher = crate::publish::worker::Publisher::new(
                    store.clone(),
                    channels,
                    config.herald.publish.clone(),
                    clock,
                )
                .with_media(
                    crate::app::media_dir(config),
                    crate::app::media_cache_dir(config),
                );
                anyhow::Ok(inbox::send::deliver_once(&sender, &publisher, &store).await?)
            })?;
            outln!(
                io,
                "{} handed to the publisher, {} sent, {} failed, {} expired",
                done.claimed,
                done.sent,
                done.failed,
                done.expired
            );
            Ok(if done.failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        QueueCommand::Leads { hours, webhook } => {
            let since = hours.map(|h| Utc::now() - chrono::TimeDelta::hours(h));
            // Oldest first, the order a CRM imports them in.
            let mut leads = inbox::leads::leads(&store, since)?;
            leads.reverse();
            if *webhook {
                let url = std::env::var("HERALD_LEADS_WEBHOOK_URL")
                    .context("set HERALD_LEADS_WEBHOOK_URL to the CRM's webhook")?;
                let url = url::Url::parse(&url).context("HERALD_LEADS_WEBHOOK_URL is not a URL")?;
                let http = crate::http::client(std::time::Duration::from_secs(30))?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let n = rt
                    .block_on(inbox::leads::post_webhook(&http, &url, &leads, Utc::now()))
                    .map_err(anyhow::Error::msg)?;
                outln!(io, "{n} lead(s) sent to the CRM webhook");
            } else {
                io.out.write_all(inbox::leads::to_csv(&leads).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
