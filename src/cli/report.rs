//! `herald report`: the weekly report of one local week ([`crate::report::week`]) as a
//! self-contained HTML file, CSV or JSON, on standard output or written to a file.
//!
//! Without `--week`, the last full week (Monday to Sunday before this one, in `herald.toml`'s
//! timezone); `--week` takes any day of the week wanted. `--out FILE` replaces FILE whole or
//! not at all (a temporary file beside it, then a rename). While `herald run` holds the store the
//! report is made there and this process writes the file (the running herald may not share our
//! folder), so `--out` is never sent through the control socket.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use clap::{Args, ValueEnum};

use super::{open_store, Io};
use crate::config::Config;
use crate::report::html::Lang;
use crate::report::WeekReport;

/// The arguments of `herald report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Any day of the week to report (YYYY-MM-DD, local). Default: the last full week.
    #[arg(long)]
    pub week: Option<NaiveDate>,
    /// html: one self-contained file (charts and tables, to e-mail); csv: one row per figure
    /// (`week,section,key,metric,value`); json: the report record.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// The language of the HTML report.
    #[arg(long, value_parser = ["en", "zh"], default_value = "en")]
    pub lang: String,
    /// Write the report to FILE (replaced whole) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The report's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
}

impl ReportFormat {
    fn name(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
        }
    }
}

impl ReportArgs {
    /// The arguments to send to the running herald: the same report, to standard output.
    pub(super) fn forwarded(&self) -> Vec<String> {
        let mut args = vec![
            "report".to_string(),
            "--format".into(),
            self.format.name().into(),
            "--lang".into(),
            self.lang.clone(),
        ];
        if let Some(w) = self.week {
            args.extend(["--week".to_string(), w.format("%Y-%m-%d").to_string()]);
        }
        args
    }
}

/// The Monday of the last full local week before `now`.
pub fn last_full_week(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    crate::report::compute::monday_of(today) - TimeDelta::days(7)
}

/// The report in one format and language, as bytes.
pub fn render(report: &WeekReport, format: ReportFormat, lang: Lang) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        ReportFormat::Html => crate::report::html::document(report, lang).into_bytes(),
        ReportFormat::Csv => crate::report::csv::to_csv(report).into_bytes(),
        ReportFormat::Json => {
            let mut v = serde_json::to_vec_pretty(report)?;
            v.push(b'\n');
            v
        }
    })
}

/// Replaces `path` with `bytes` whole or not at all: a temporary file in the same folder,
/// flushed to disk, then renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("writing {}", path.display()))
    })
}

/// `herald report`.
pub(super) fn report(config: &Config, args: &ReportArgs, io: &mut Io) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let tz = config.herald.timezone;
    let week = args.week.unwrap_or_else(|| last_full_week(now, tz));
    let this_monday = crate::report::compute::monday_of(now.with_timezone(&tz).date_naive());
    if crate::report::compute::monday_of(week) > this_monday {
        super::errln!(
            io,
            "herald: the week of {week} has not begun yet (this week began on {this_monday})"
        );
        return Ok(ExitCode::from(2));
    }
    let lang = Lang::parse(&args.lang).unwrap_or_default();
    let store = open_store(config, io)?;
    let report = crate::report::week(&store, config, week, now)?;
    let bytes = render(&report, args.format, lang)?;
    match &args.out {
        Some(path) => {
            write_atomic(path, &bytes)?;
            super::errln!(
                io,
                "report of the week of {} ({}) written to {}",
                report.week,
                args.format.name(),
                path.display()
            );
        }
        None => io.out.write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_full_week_is_the_one_before_this_local_week() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        // Monday 2026-12-07 00:30 in Shanghai is still Sunday in UTC.
        assert_eq!(
            last_full_week(at("2026-12-06T16:30:00Z"), tz),
            d("2026-11-30")
        );
        assert_eq!(
            last_full_week(at("2026-12-06T15:30:00Z"), tz),
            d("2026-11-23")
        );
        assert_eq!(
            last_full_week(at("2026-12-13T15:59:00Z"), tz),
            d("2026-11-30")
        );
    }

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("week.html");
        std::fs::write(&path, "old").unwrap_or_else(|e| panic!("{e}"));
        write_atomic(&path, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 1, "{names:?}");
        // A folder that does not exist: an error naming the file, nothing written.
        let bad = dir.path().join("missing").join("week.html");
        let err = write_atomic(&bad, b"x").err().map(|e| format!("{e:#}"));
        assert!(
            err.as_deref().is_some_and(|e| e.contains("week.html")),
            "{err:?}"
        );
    }

    #[test]
    fn forwarded_arguments_keep_everything_but_the_file() {
        let args = ReportArgs {
            week: NaiveDate::from_ymd_opt(2026, 12, 2),
            format: ReportFormat::Csv,
            lang: "zh".into(),
            out: Some("/tmp/x.csv".into()),
        };
        assert_eq!(
            args.forwarded(),
            [
                "report",
                "--format",
                "csv",
                "--lang",
                "zh",
                "--week",
                "2026-12-02"
            ]
        );
    }
}
