//! `herald classify` and `herald replay`: mention streams (JSON Lines) read from a file or stdin,
//! classified, and for `replay` run through crisis detection.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::{errln, Io};
use crate::config::Config;

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
pub(super) fn classify(config: &Config, file: &str, io: &mut Io) -> anyhow::Result<ExitCode> {
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
pub(super) fn replay(
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
