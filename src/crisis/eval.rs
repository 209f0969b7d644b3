//! Measuring the detector: running it over synthetic streams ([`super::synth`]) and over the
//! NAB realTweets count series, and scoring the alerts exactly as `docs/data.md`
//! describes (a window is caught by any alert inside it; false alerts are 6-hour episodes of
//! alerts outside every window after the first 15% of each series). Parsing takes text, so
//! the file reading stays in the evaluation binary.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::synth::{Kind, Stream};
use super::{Alert, Detector, EpisodeState, Params};

/// Alerts that count as alarms when scoring: openings and escalations, not closings.
fn alarm_times(alerts: &[Alert]) -> impl Iterator<Item = i64> + '_ {
    alerts
        .iter()
        .filter(|a| a.state != EpisodeState::Closed)
        .map(|a| a.at.timestamp())
}

/// Feeds a synthetic stream to a detector minute by minute (each minute's counts at its middle)
/// and returns the alert events.
pub fn run_stream(params: &Params, stream: &Stream) -> Vec<Alert> {
    let mut d = Detector::new(params.clone());
    let mut alerts = Vec::new();
    for (i, m) in stream.minutes.iter().enumerate() {
        let at = stream.start + i as i64 * 60 + 30;
        let Some(at) = DateTime::from_timestamp(at, 0) else {
            continue;
        };
        alerts.extend(d.observe_counts(at, "brand", m.total, m.negative, m.crisis));
    }
    alerts.extend(d.finish());
    alerts
}

/// Scores of a set of synthetic streams.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynthScore {
    /// Streams run.
    pub streams: usize,
    /// Stream-weeks run.
    pub weeks: f64,
    /// Crises injected (sharp and slow).
    pub crises: usize,
    /// Crises with an alarm between their start and their end.
    pub caught: usize,
    /// Sharp crises caught / injected.
    pub sharp: (usize, usize),
    /// Slow build-ups caught / injected.
    pub slow: (usize, usize),
    /// Detection delays in seconds of the caught crises.
    pub delays: Vec<i64>,
    /// Delays of the caught sharp crises.
    pub sharp_delays: Vec<i64>,
    /// Delays of the caught slow build-ups.
    pub slow_delays: Vec<i64>,
    /// Positive decoys injected.
    pub decoys: usize,
    /// Alarms during a decoy or the two hours after it.
    pub decoy_alarms: usize,
    /// Alarms during a quiet period or the six hours after it.
    pub quiet_alarms: usize,
    /// Episodes opened away from every injected event.
    pub false_alarms: usize,
}

/// The median of delays in seconds (upper median), if any.
pub fn median_delay(delays: &[i64]) -> Option<i64> {
    let mut d = delays.to_vec();
    d.sort_unstable();
    d.get(d.len() / 2).copied()
}

impl SynthScore {
    /// Fraction of crises caught.
    pub fn recall(&self) -> f64 {
        self.caught as f64 / self.crises.max(1) as f64
    }

    /// False alarms per stream-week.
    pub fn false_per_week(&self) -> f64 {
        self.false_alarms as f64 / self.weeks.max(1e-9)
    }

    /// Adds one stream's alerts to the score.
    pub fn add(&mut self, stream: &Stream, alerts: &[Alert]) {
        self.streams += 1;
        self.weeks += stream.minutes.len() as f64 / (7.0 * 1440.0);
        let times: Vec<i64> = alarm_times(alerts).collect();
        for e in &stream.events {
            match e.kind {
                Kind::Sharp | Kind::Slow => {
                    self.crises += 1;
                    let first = times.iter().find(|&&t| t >= e.start && t <= e.end);
                    let sharp = e.kind == Kind::Sharp;
                    if sharp {
                        self.sharp.1 += 1;
                    } else {
                        self.slow.1 += 1;
                    }
                    if let Some(t) = first {
                        self.caught += 1;
                        self.delays.push(t - e.start);
                        if sharp {
                            self.sharp.0 += 1;
                            self.sharp_delays.push(t - e.start);
                        } else {
                            self.slow.0 += 1;
                            self.slow_delays.push(t - e.start);
                        }
                    }
                }
                Kind::Decoy => {
                    self.decoys += 1;
                    self.decoy_alarms += times
                        .iter()
                        .filter(|&&t| t >= e.start && t <= e.end + 2 * 3600)
                        .count();
                }
                Kind::Quiet => {
                    self.quiet_alarms += times
                        .iter()
                        .filter(|&&t| t >= e.start && t <= e.end + 6 * 3600)
                        .count();
                }
            }
        }
        // Openings away from every event: a crisis's window runs to its end plus the time an
        // episode takes to close, so a re-opening while it fades is not called false.
        self.false_alarms += alerts
            .iter()
            .filter(|a| a.state == EpisodeState::Open)
            .filter(|a| {
                let t = a.at.timestamp();
                !stream.events.iter().any(|e| {
                    let tail = match e.kind {
                        Kind::Sharp | Kind::Slow | Kind::Decoy => 3 * 3600,
                        Kind::Quiet => 6 * 3600,
                    };
                    t >= e.start && t <= e.end + tail
                })
            })
            .count();
    }
}

/// A yardstick for the delays: for each crisis of a synthetic stream (`(kind, delay in
/// seconds)`, in event order), the first minute's end at which the negatives counted from the
/// crisis's own start reach `-log10 p ≥ score` against the stream's true usual share
/// (binomial, given the mentions counted). It knows what a detector cannot — when the crisis
/// started and the exact usual share — and tests once, where a detector must scan every time
/// and window; it ignores the count's own evidence, so it is not a strict bound, but a
/// detector with a false-alarm rate in the goals does not get far ahead of it. None when the
/// crisis never reaches it.
pub fn oracle_delays(stream: &Stream, score: f64) -> Vec<(Kind, Option<i64>)> {
    stream
        .events
        .iter()
        .filter(|e| matches!(e.kind, Kind::Sharp | Kind::Slow))
        .map(|e| {
            let first = ((e.start - stream.start).max(0) / 60) as usize;
            let last = (((e.end - stream.start) / 60) as usize).min(stream.minutes.len());
            let (mut k, mut n) = (0.0, 0.0);
            let mut found = None;
            for (i, m) in stream.minutes[first..last].iter().enumerate() {
                k += f64::from(m.negative);
                n += f64::from(m.total);
                if super::stats::binom_upper_score(k, n, stream.share) >= score {
                    // The minute's end, in seconds from the crisis's start.
                    found = Some(stream.start + (first + i + 1) as i64 * 60 - e.start);
                    break;
                }
            }
            (e.kind, found)
        })
        .collect()
}

/// One NAB series: timestamps (unix seconds) and counts, with its labelled windows.
#[derive(Debug, Clone)]
pub struct NabSeries {
    /// The file name, e.g. `Twitter_volume_AAPL.csv`.
    pub name: String,
    /// (unix seconds, count) per row, in file order.
    pub rows: Vec<(i64, u32)>,
    /// Labelled anomaly windows (unix seconds, inclusive).
    pub windows: Vec<(i64, i64)>,
}

fn nab_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    // combined_windows.json has fractional seconds; the CSVs do not.
    let text = text.split('.').next().unwrap_or(text);
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// Parses a NAB CSV (`timestamp,value` with a header).
pub fn parse_nab_csv(text: &str) -> Result<Vec<(i64, u32)>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (t, v) = line
            .split_once(',')
            .ok_or_else(|| format!("line {}: no comma", i + 1))?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|e| format!("line {}: {v:?}: {e}", i + 1))?;
        rows.push((
            nab_time(t).map_err(|e| format!("line {}: {e}", i + 1))?,
            v.max(0.0).round() as u32,
        ));
    }
    Ok(rows)
}

/// Parses `combined_windows.json` and returns the windows of the file whose key ends with
/// `/name` (keys are like `realTweets/Twitter_volume_AAPL.csv`).
pub fn parse_nab_windows(json: &str, name: &str) -> Result<Vec<(i64, i64)>, String> {
    let all: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("combined_windows.json: {e}"))?;
    let suffix = format!("/{name}");
    let Some((_, list)) = all.iter().find(|(k, _)| k.ends_with(&suffix)) else {
        return Err(format!("no windows for {name}"));
    };
    let list = list.as_array().ok_or("windows are not an array")?;
    let mut out = Vec::new();
    for w in list {
        let pair = w.as_array().ok_or("a window is not a pair")?;
        let (Some(a), Some(b)) = (
            pair.first().and_then(|v| v.as_str()),
            pair.get(1).and_then(|v| v.as_str()),
        ) else {
            return Err("a window is not a pair of strings".into());
        };
        out.push((nab_time(a)?, nab_time(b)?));
    }
    Ok(out)
}

/// Runs the detector over a NAB series, the count as total and as negative volume (NAB has no
/// sentiment), and returns the alarm times, each put at the row whose count raised it.
pub fn run_nab(params: &Params, series: &NabSeries) -> Vec<i64> {
    let mut d = Detector::new(params.clone());
    let mut out = Vec::new();
    let mut previous: Option<i64> = None;
    for &(t, v) in &series.rows {
        let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) else {
            continue;
        };
        // Closing the previous bucket judges the previous row: date the alarm there.
        let alerts = d.observe_counts(at, "brand", v, v, 0);
        if let Some(p) = previous {
            out.extend(alarm_times(&alerts).map(|_| p));
        }
        previous = Some(t);
    }
    let last = d.finish();
    if let Some(p) = previous {
        out.extend(alarm_times(&last).map(|_| p));
    }
    out
}

/// Runs the detector over a NAB series as [`run_nab`] does and returns the alert events
/// themselves (for looking at what alarmed).
pub fn run_nab_alerts(params: &Params, series: &NabSeries) -> Vec<Alert> {
    let mut d = Detector::new(params.clone());
    let mut out = Vec::new();
    for &(t, v) in &series.rows {
        if let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) {
            out.extend(d.observe_counts(at, "brand", v, v, 0));
        }
    }
    out.extend(d.finish());
    out
}

/// One series' score.
#[derive(Debug, Clone, Serialize)]
pub struct NabScore {
    /// The file name.
    pub name: String,
    /// Windows with at least one alarm inside.
    pub caught: usize,
    /// Labelled windows.
    pub windows: usize,
    /// 6-hour alarm episodes outside every window after the probation period.
    pub false_alerts: usize,
    /// Weeks after the probation period.
    pub weeks: f64,
}

/// Scores alarm times against a series' windows as docs/data.md describes.
pub fn score_nab(series: &NabSeries, alarms: &[i64]) -> NabScore {
    let caught = series
        .windows
        .iter()
        .filter(|(a, b)| alarms.iter().any(|t| t >= a && t <= b))
        .count();
    let n = series.rows.len();
    let probation_end = series
        .rows
        .get((n as f64 * 0.15) as usize)
        .map_or(i64::MAX, |r| r.0);
    let last = series.rows.last().map_or(0, |r| r.0);
    let mut outside: Vec<i64> = alarms
        .iter()
        .copied()
        .filter(|&t| t >= probation_end)
        .filter(|t| !series.windows.iter().any(|(a, b)| t >= a && t <= b))
        .collect();
    outside.sort_unstable();
    // Episodes of 6 hours from their first alarm.
    let mut false_alerts = 0;
    let mut episode_start: Option<i64> = None;
    for t in outside {
        if episode_start.is_none_or(|s| t - s >= 6 * 3600) {
            false_alerts += 1;
            episode_start = Some(t);
        }
    }
    NabScore {
        name: series.name.clone(),
        caught,
        windows: series.windows.len(),
        false_alerts,
        weeks: (last - probation_end).max(0) as f64 / (7.0 * 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> NabSeries {
        // 100 rows of 5 minutes from t = 0; window over rows 50..=60.
        NabSeries {
            name: "x.csv".into(),
            rows: (0..100).map(|i| (i * 300, 10)).collect(),
            windows: vec![(50 * 300, 60 * 300)],
        }
    }

    #[test]
    fn nab_scoring_counts_windows_episodes_and_probation() {
        let s = series();
        // Row 5 is in the probation period (first 15 rows): not false. Rows 55 and 58: one
        // window caught. Rows 70, 71 (same 6 h episode) and nothing else: one false alert.
        let score = score_nab(&s, &[5 * 300, 55 * 300, 58 * 300, 70 * 300, 71 * 300]);
        assert_eq!(score.caught, 1);
        assert_eq!(score.false_alerts, 1);
        let expected_weeks = (99.0 - 15.0) * 300.0 / (7.0 * 86_400.0);
        assert!((score.weeks - expected_weeks).abs() < 1e-9);
        let none = score_nab(&s, &[]);
        assert_eq!((none.caught, none.false_alerts), (0, 0));
    }

    #[test]
    fn false_alerts_six_hours_apart_are_two_episodes() {
        let mut s = series();
        s.rows = (0..1000).map(|i| (i * 300, 10)).collect();
        let t0 = 500 * 300;
        let score = score_nab(&s, &[t0, t0 + 6 * 3600, t0 + 6 * 3600 + 60]);
        assert_eq!(score.false_alerts, 2);
    }

    #[test]
    fn nab_files_parse() {
        let rows =
            parse_nab_csv("timestamp,value\n2015-02-26 21:42:53,104\n2015-02-26 21:47:53,3\n")
                .expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0 - rows[0].0, 300);
        assert_eq!(rows[0].1, 104);
        assert!(parse_nab_csv("timestamp,value\nyesterday,3\n").is_err());
        let json = r#"{"realTweets/a.csv": [["2015-03-03 04:37:53.000000", "2015-03-04 13:37:53.000000"]], "b/c.csv": []}"#;
        let w = parse_nab_windows(json, "a.csv").expect("windows");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].1 - w[0].0, 33 * 3600);
        assert!(parse_nab_windows(json, "zzz.csv").is_err());
    }
}
