//! `herald replay`'s pipeline: reads a mention stream in chunks, parses and classifies each
//! chunk in parallel (classification is the costly part), then feeds the mentions in their
//! order to one [`Detector`] with their own timestamps as the clock. No wall clock, no store.

use std::borrow::Cow;
use std::io::BufRead;

use crate::untrusted::Line as InputLine;

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

/// The fields of a Mention line that replay reads, borrowed from the line where it has no
/// escapes. Unknown fields are skipped; the optional fields are typed as the contract says,
/// so a line this accepts is one [`mention_fields`] accepts.
#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    platform: Cow<'a, str>,
    #[serde(borrow)]
    author: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    url: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    lang: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    in_reply_to: Option<Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code)]
    author_followers: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    verified: Option<bool>,
}

/// Parses and classifies one line of the Mention contract.
///
/// The common case is parsed into borrowed fields without building a JSON map (most of a
/// replay's parsing time otherwise); a line that fails that is parsed again by
/// [`mention_fields`], so what is accepted and every error message stay the contract's.
pub fn classify_line(classifier: &Classifier, line: &str) -> Result<Classified, String> {
    if let Ok(m) = serde_json::from_str::<Line<'_>>(line) {
        if let Ok(at) = DateTime::parse_from_rfc3339(&m.created_at) {
            return Ok(classified(
                classifier,
                &m.id,
                &m.platform,
                &m.author,
                &m.text,
                at.with_timezone(&Utc),
            ));
        }
    }
    let m = mention_fields(line)?;
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let at = DateTime::parse_from_rfc3339(s("created_at"))
        .map_err(|e| format!("`created_at`: {e}"))?
        .with_timezone(&Utc);
    Ok(classified(
        classifier,
        s("id"),
        s("platform"),
        s("author"),
        s("text"),
        at,
    ))
}

fn classified(
    classifier: &Classifier,
    id: &str,
    platform: &str,
    author: &str,
    text: &str,
    at: DateTime<Utc>,
) -> Classified {
    let c = classifier.classify(text, Some(author));
    let mut topics: Vec<String> = c
        .matches
        .iter()
        .filter(|m| m.group == "product")
        .map(|m| format!("product/{}", m.rule))
        .collect();
    topics.sort();
    topics.dedup();
    Classified {
        id: id.to_string(),
        platform: platform.to_string(),
        at,
        negative: c.sentiment.label == Label::Negative,
        crisis_term: c.matches.iter().any(|m| m.group == CRISIS_GROUP),
        topics,
    }
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

/// A chunk of lines and their numbers in the input (from 1).
struct Chunk {
    lines: Vec<InputLine>,
    numbers: Vec<usize>,
}

/// Reads up to `size` non-blank lines; an empty chunk means the input has ended.
fn read_chunk(
    lines: &mut impl Iterator<Item = std::io::Result<InputLine>>,
    n: &mut usize,
    size: usize,
) -> std::io::Result<Chunk> {
    let mut chunk = Chunk {
        lines: Vec::with_capacity(size),
        numbers: Vec::with_capacity(size),
    };
    while chunk.lines.len() < size {
        let Some(line) = lines.next() else { break };
        *n += 1;
        let line = line?;
        if line.as_ref().is_ok_and(|l| l.trim().is_empty()) {
            continue;
        }
        chunk.lines.push(line);
        chunk.numbers.push(*n);
    }
    Ok(chunk)
}

/// A line's classification, or why it is malformed (not text, not a mention).
fn classify_any(classifier: &Classifier, line: &InputLine) -> Result<Classified, String> {
    match line {
        Ok(text) => classify_line(classifier, text),
        Err(why) => Err(why.clone()),
    }
}

/// Feeds one classified chunk to the detector in order, reporting alerts and skipped lines.
struct Feed<'f, A, S> {
    detector: Detector,
    summary: Summary,
    on_alert: &'f mut A,
    on_skip: &'f mut S,
}

impl<A, S> Feed<'_, A, S>
where
    A: FnMut(&Alert) -> std::io::Result<()>,
    S: FnMut(usize, &str),
{
    fn emit(&mut self, alerts: Vec<Alert>) -> std::io::Result<()> {
        for a in alerts.iter().filter(|a| a.state != EpisodeState::Closed) {
            self.summary.alerts += 1;
            (self.on_alert)(a)?;
        }
        Ok(())
    }

    fn chunk(
        &mut self,
        numbers: &[usize],
        classified: &[Result<Classified, String>],
    ) -> std::io::Result<()> {
        for (result, &number) in classified.iter().zip(numbers) {
            match result {
                Ok(c) => {
                    let mut topics: Vec<&str> = Vec::with_capacity(1 + c.topics.len());
                    topics.push(BRAND_TOPIC);
                    topics.extend(c.topics.iter().map(String::as_str));
                    let alerts = self.detector.observe(&Observation {
                        at: c.at,
                        id: &c.id,
                        topics: &topics,
                        platform: &c.platform,
                        negative: c.negative,
                        crisis_term: c.crisis_term,
                    });
                    self.summary.mentions += 1;
                    self.emit(alerts)?;
                }
                Err(why) => {
                    self.summary.skipped += 1;
                    (self.on_skip)(number, why);
                }
            }
        }
        Ok(())
    }
}

/// What a worker sends back: a chunk's sequence number and its results, or the panic that
/// stopped it (a bug, carried to the caller's thread).
type Done = (usize, std::thread::Result<Vec<Result<Classified, String>>>);

/// Replays a stream: `on_alert` gets each opening or escalation event in stream order;
/// `on_skip` gets each malformed line's number (from 1) and why. Reading errors stop it.
///
/// With `threads` above 1 it is a pipeline: the caller's thread reads chunks of lines and
/// feeds the detector in stream order, while `threads` workers parse and classify chunks
/// (the costly part) as they come; at most `2 × threads` chunks are in flight, so memory stays
/// bounded on a stream of millions.
pub fn replay<R: BufRead>(
    input: R,
    classifier: &Classifier,
    params: Params,
    threads: usize,
    on_alert: impl FnMut(&Alert) -> std::io::Result<()>,
    on_skip: impl FnMut(usize, &str),
) -> std::io::Result<Summary> {
    replay_in_chunks(input, classifier, params, threads, CHUNK, on_alert, on_skip)
}

/// [`replay`] with chunks of `size` lines (the tests use small ones).
fn replay_in_chunks<R: BufRead>(
    input: R,
    classifier: &Classifier,
    params: Params,
    threads: usize,
    size: usize,
    mut on_alert: impl FnMut(&Alert) -> std::io::Result<()>,
    mut on_skip: impl FnMut(usize, &str),
) -> std::io::Result<Summary> {
    let mut feed = Feed {
        detector: Detector::new(params),
        summary: Summary::default(),
        on_alert: &mut on_alert,
        on_skip: &mut on_skip,
    };
    let mut lines = crate::untrusted::lines(input);
    let mut n = 0usize;
    if threads <= 1 {
        loop {
            let chunk = read_chunk(&mut lines, &mut n, size)?;
            if chunk.lines.is_empty() {
                break;
            }
            let classified: Vec<_> = chunk
                .lines
                .iter()
                .map(|l| classify_any(classifier, l))
                .collect();
            feed.chunk(&chunk.numbers, &classified)?;
        }
    } else {
        pipeline(&mut lines, &mut n, classifier, threads, size, &mut feed)?;
    }
    let alerts = feed.detector.finish();
    feed.emit(alerts)?;
    Ok(feed.summary)
}

fn pipeline<A, S>(
    lines: &mut impl Iterator<Item = std::io::Result<InputLine>>,
    n: &mut usize,
    classifier: &Classifier,
    threads: usize,
    size: usize,
    feed: &mut Feed<'_, A, S>,
) -> std::io::Result<()>
where
    A: FnMut(&Alert) -> std::io::Result<()>,
    S: FnMut(usize, &str),
{
    use std::collections::BTreeMap;
    use std::sync::{mpsc, Mutex};

    let (work_tx, work_rx) = mpsc::channel::<(usize, Vec<InputLine>)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || loop {
                // The lock is held only to take a job; a poisoned lock means another worker
                // panicked, and that panic reaches the caller through its own message.
                let job = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, lines)) = job else { return };
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    lines
                        .iter()
                        .map(|l| classify_any(classifier, l))
                        .collect::<Vec<_>>()
                }));
                let stop = out.is_err();
                if done_tx.send((seq, out)).is_err() || stop {
                    return;
                }
            });
        }
        drop(done_tx);
        // Dropping `work_tx` (on return, also on an error) lets the workers finish.
        let work_tx = work_tx;
        let mut numbers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut ready: BTreeMap<usize, Vec<Result<Classified, String>>> = BTreeMap::new();
        let (mut sent, mut next, mut ended) = (0usize, 0usize, false);
        loop {
            if !ended && sent - next < 2 * threads {
                let chunk = read_chunk(lines, n, size)?;
                if chunk.lines.is_empty() {
                    ended = true;
                } else {
                    numbers.insert(sent, chunk.numbers);
                    if work_tx.send((sent, chunk.lines)).is_err() {
                        // Every worker has gone: only a panic does that, and it is waiting
                        // in `done_rx`.
                        for (_, out) in done_rx.try_iter() {
                            if let Err(panic) = out {
                                std::panic::resume_unwind(panic);
                            }
                        }
                        return Err(std::io::Error::other("the classification threads stopped"));
                    }
                    sent += 1;
                }
                continue;
            }
            if next == sent {
                return Ok(());
            }
            let Ok((seq, out)) = done_rx.recv() else {
                return Err(std::io::Error::other("the classification threads stopped"));
            };
            match out {
                Ok(out) => {
                    ready.insert(seq, out);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
            while let Some(out) = ready.remove(&next) {
                let nums = numbers.remove(&next).unwrap_or_default();
                feed.chunk(&nums, &out)?;
                next += 1;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Classifier {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&dir).expect("keywords/");
        Classifier::new(&groups).expect("classifier")
    }

    /// What `classify_line` gave before its borrowed fast path: always through the JSON map.
    fn through_the_map(c: &Classifier, line: &str) -> Result<Classified, String> {
        let m = mention_fields(line)?;
        let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let at = DateTime::parse_from_rfc3339(s("created_at"))
            .map_err(|e| format!("`created_at`: {e}"))?
            .with_timezone(&Utc);
        Ok(classified(
            c,
            s("id"),
            s("platform"),
            s("author"),
            s("text"),
            at,
        ))
    }

    /// The fast path accepts exactly the lines the contract accepts, reads the same fields
    /// (escapes included) and gives the same error for every bad line.
    #[test]
    fn the_fast_path_agrees_with_the_contract_parser() {
        let c = classifier();
        let ok = r#""id":"1","platform":"bluesky","author":"a.test","created_at":"2026-11-22T10:00:00+08:00""#;
        let lines = [
            format!(r#"{{{ok},"text":"刹车失灵了，太危险了"}}"#),
            format!(r#"{{{ok},"text":"escaped \"quote\" \u5239\u8f66\u5931\u7075 and \n newline"}}"#),
            format!(r#"{{{ok},"text":"x","extra":{{"k":[1,2,{{"z":null}}]}},"url":null,"lang":"zh"}}"#),
            format!(r#"{{{ok},"text":"x","author_followers":12,"verified":true,"in_reply_to":"9"}}"#),
            format!(r#"{{{ok},"text":"x","author_followers":-1}}"#),
            format!(r#"{{{ok},"text":"x","author_followers":1.5}}"#),
            format!(r#"{{{ok},"text":"x","verified":"yes"}}"#),
            format!(r#"{{{ok},"text":"x","url":7}}"#),
            format!(r#"{{{ok},"text":"x","text":"duplicate key: the map keeps the last"}}"#),
            format!(r#"{{{ok},"text":42}}"#),
            format!(r#"{{{ok}}}"#),
            r#"{"id":"1","platform":"bluesky","author":"a.test","text":"x","created_at":"yesterday"}"#.to_string(),
            r#"{"id":1,"platform":"bluesky","author":"a.test","text":"x","created_at":"2026-11-22T10:00:00Z"}"#.to_string(),
            "[1,2]".to_string(),
            "{not json".to_string(),
        ];
        let mut fast_ok = 0;
        for line in &lines {
            let got = classify_line(&c, line);
            let want = through_the_map(&c, line);
            match (&got, &want) {
                (Ok(g), Ok(w)) => {
                    fast_ok += 1;
                    assert_eq!(
                        (
                            &g.id,
                            &g.platform,
                            g.at,
                            g.negative,
                            g.crisis_term,
                            &g.topics
                        ),
                        (
                            &w.id,
                            &w.platform,
                            w.at,
                            w.negative,
                            w.crisis_term,
                            &w.topics
                        ),
                        "{line}"
                    );
                }
                (Err(g), Err(w)) => assert_eq!(g, w, "{line}"),
                _ => panic!("{line}: fast path {got:?}, contract {want:?}"),
            }
        }
        assert_eq!(fast_ok, 5, "the five good lines are accepted");
        let first = classify_line(&c, &lines[0]).expect("good line");
        assert!(first.negative && first.crisis_term, "{first:?}");
        assert_eq!(first.at.to_rfc3339(), "2026-11-22T02:00:00+00:00");
    }

    /// The pipeline (several workers, chunks finishing out of order) gives exactly what one
    /// thread gives: the same alerts in the same order, the same skipped line numbers.
    #[test]
    fn the_pipeline_gives_what_one_thread_gives() {
        let c = classifier();
        let stream = crate::crisis::synth::generate(5, 0, 3, 6.0);
        let mut text = String::new();
        let mut n = 0u64;
        for (i, m) in stream.minutes.iter().enumerate() {
            let minute = stream.start + i as i64 * 60;
            for k in 0..m.total {
                n += 1;
                let words = if k < m.crisis {
                    "刹车失灵了，太危险了，我要投诉"
                } else if k < m.negative {
                    "等了好久，很失望，太差了"
                } else {
                    "很满意，服务很好"
                };
                let at = DateTime::from_timestamp(minute + i64::from(k), 0).expect("time");
                text.push_str(&format!(
                    r#"{{"id":"{n}","platform":"bluesky","author":"u.test","text":"{words}","created_at":"{}"}}"#,
                    at.to_rfc3339()
                ));
                text.push('\n');
                if n % 997 == 0 {
                    text.push_str("{broken\n\n");
                }
            }
        }
        // A line that is not UTF-8 is skipped with its number, and the lines after it are read.
        let mut bytes = b"\xff\xfe not text\n".to_vec();
        bytes.extend_from_slice(text.as_bytes());
        let run = |threads: usize| {
            let mut alerts = Vec::new();
            let mut skipped = Vec::new();
            let summary = replay_in_chunks(
                bytes.as_slice(),
                &c,
                Params::default(),
                threads,
                97,
                |a| {
                    alerts.push(serde_json::to_string(a).expect("json"));
                    Ok(())
                },
                |line, why| skipped.push((line, why.to_string())),
            )
            .expect("replay");
            (summary, alerts, skipped)
        };
        let one = run(1);
        assert!(one.0.mentions > 2_000, "{:?}", one.0);
        assert!(!one.1.is_empty(), "the stream's crisis raises alerts");
        assert_eq!(one.2.len() as u64, n / 997 + 1);
        assert_eq!(
            one.2[0],
            (1, "not valid UTF-8 (byte 1 of the line)".to_string())
        );
        assert_eq!(one.2[1].0, 999, "line numbers count every line");
        for threads in [2, 3] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }
}
