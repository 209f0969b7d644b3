//! `herald replay`'s pipeline: reads a mention stream in chunks, parses and classifies each
//! chunk in parallel (classification is the costly part), then feeds the mentions in their
//! order to one [`Detector`] with their own timestamps as the clock. No wall clock, no store.

use std::io::BufRead;

use chrono::{DateTime, Utc};

use super::{Alert, Detector, EpisodeState, Observation, Params};
use crate::classify::sentiment::Label;
use crate::classify::{mention_fields, Classifier, CRISIS_GROUP};

/// Lines parsed and classified per parallel round: large enough to keep every thread busy,
/// small enough to bound memory on a stream of millions.
const CHUNK: usize = 16_384;

/// The series every replayed mention counts in.
pub const BRAND_TOPIC: &str = "brand";

/// One mention, classified, as the detector needs it.
#[derive(Debug, Clone)]
pub struct Classified {
    /// Its id.
    pub id: String,
    /// Its platform.
    pub platform: String,
    /// `created_at`.
    pub at: DateTime<Utc>,
    /// Negative sentiment.
    pub negative: bool,
    /// A match in the `crisis` keyword group.
    pub crisis_term: bool,
    /// Finer topics from keyword matches: `product/<rule>`.
    pub topics: Vec<String>,
}

/// Parses and classifies one line of the Mention contract.
pub fn classify_line(classifier: &Classifier, line: &str) -> Result<Classified, String> {
    let m = mention_fields(line)?;
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let at = DateTime::parse_from_rfc3339(s("created_at"))
        .map_err(|e| format!("`created_at`: {e}"))?
        .with_timezone(&Utc);
    let c = classifier.classify(s("text"), Some(s("author")));
    let mut topics: Vec<String> = c
        .matches
        .iter()
        .filter(|m| m.group == "product")
        .map(|m| format!("product/{}", m.rule))
        .collect();
    topics.sort();
    topics.dedup();
    Ok(Classified {
        id: s("id").to_string(),
        platform: s("platform").to_string(),
        at,
        negative: c.sentiment.label == Label::Negative,
        crisis_term: c.matches.iter().any(|m| m.group == CRISIS_GROUP),
        topics,
    })
}

/// Classifies `lines` on up to `threads` threads, keeping their order.
pub fn classify_chunk(
    classifier: &Classifier,
    lines: &[String],
    threads: usize,
) -> Vec<Result<Classified, String>> {
    let threads = threads.clamp(1, lines.len().max(1));
    if threads == 1 {
        return lines.iter().map(|l| classify_line(classifier, l)).collect();
    }
    let per = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|l| classify_line(classifier, l))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // A panic in classification is a bug; carry it to the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Mentions fed to the detector.
    pub mentions: usize,
    /// Malformed lines skipped.
    pub skipped: usize,
    /// Alert events printed (openings and escalations).
    pub alerts: usize,
}

/// Replays a stream: `on_alert` gets each opening or escalation event in stream order;
/// `on_skip` gets each malformed line's number (from 1) and why. Reading errors stop it.
pub fn replay<R: BufRead>(
    input: R,
    classifier: &Classifier,
    params: Params,
    threads: usize,
    mut on_alert: impl FnMut(&Alert) -> std::io::Result<()>,
    mut on_skip: impl FnMut(usize, &str),
) -> std::io::Result<Summary> {
    let mut detector = Detector::new(params);
    let mut summary = Summary::default();
    let mut lines = input.lines();
    let mut numbers = Vec::with_capacity(CHUNK);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut n = 0usize;
    let mut done = false;
    let mut emit = |alerts: Vec<Alert>, summary: &mut Summary| -> std::io::Result<()> {
        for a in alerts.iter().filter(|a| a.state != EpisodeState::Closed) {
            summary.alerts += 1;
            on_alert(a)?;
        }
        Ok(())
    };
    while !done {
        chunk.clear();
        numbers.clear();
        while chunk.len() < CHUNK {
            match lines.next() {
                Some(line) => {
                    n += 1;
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    chunk.push(line);
                    numbers.push(n);
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        let classified = classify_chunk(classifier, &chunk, threads);
        for (result, &number) in classified.iter().zip(&numbers) {
            match result {
                Ok(c) => {
                    let mut topics: Vec<&str> = Vec::with_capacity(1 + c.topics.len());
                    topics.push(BRAND_TOPIC);
                    topics.extend(c.topics.iter().map(String::as_str));
                    let alerts = detector.observe(&Observation {
                        at: c.at,
                        id: &c.id,
                        topics: &topics,
                        platform: &c.platform,
                        negative: c.negative,
                        crisis_term: c.crisis_term,
                    });
                    summary.mentions += 1;
                    emit(alerts, &mut summary)?;
                }
                Err(why) => {
                    summary.skipped += 1;
                    on_skip(number, why);
                }
            }
        }
    }
    emit(detector.finish(), &mut summary)?;
    Ok(summary)
}
