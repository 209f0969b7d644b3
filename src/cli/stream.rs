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

/// Input bytes handed to one round of classification: whole lines, about this many bytes.
const CHUNK_BYTES: usize = 1 << 18;

/// `herald classify`: a malformed line is reported on stderr with its number and skipped; the
/// exit status is 1 if any line was skipped.
///
/// The input is read in chunks of whole lines; with more than one core (`taskset` limits it)
/// the chunks are classified by one worker per core and written back in input order.
pub(super) fn classify(config: &Config, file: &str, io: &mut Io) -> anyhow::Result<ExitCode> {
    let (classifier, input) = stream(config, file)?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut skipped = 0usize;
    let mut write = |done: Done, first: usize| -> std::io::Result<()> {
        out.write_all(&done.out)?;
        for (at, why) in &done.errors {
            skipped += 1;
            writeln!(io.err, "{file}:{}: skipped: {why}", first + at)?;
        }
        Ok(())
    };
    let result = if threads <= 1 {
        classify_serial(input, &classifier, &mut write)
    } else {
        classify_parallel(input, &classifier, threads, &mut write)
    };
    let result = result.and_then(|()| out.flush().map_err(Failure::Io));
    match result {
        Err(Failure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Io(e)) => return Err(e.into()),
        Err(Failure::Read(n, e)) => return Err(e).with_context(|| format!("reading line {n}")),
        Ok(()) => {}
    }
    if skipped > 0 {
        errln!(io, "herald classify: {skipped} line(s) skipped");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a classification stream stopped: reading line N failed, or writing did.
#[derive(Debug)]
enum Failure {
    Read(usize, std::io::Error),
    Io(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// One classified chunk: its output lines, and its malformed lines (numbered from 0 within the
/// chunk) with why.
#[derive(Debug, Default)]
struct Done {
    out: Vec<u8>,
    errors: Vec<(usize, String)>,
}

/// Reads whole lines into `buf` until it holds about [`CHUNK_BYTES`]; `n` counts the lines read.
/// An empty `buf` means the input has ended.
fn read_chunk(
    input: &mut dyn std::io::BufRead,
    buf: &mut Vec<u8>,
    n: &mut usize,
) -> Result<(), Failure> {
    buf.clear();
    while buf.len() < CHUNK_BYTES {
        match input.read_until(b'\n', buf) {
            Ok(0) => break,
            Ok(_) => *n += 1,
            Err(e) => return Err(Failure::Read(*n + 1, e)),
        }
    }
    Ok(())
}

/// Classifies every line of `chunk` (whole lines, as [`crate::untrusted::lines`] splits them).
fn classify_chunk(classifier: &crate::classify::Classifier, chunk: &[u8]) -> Done {
    let mut done = Done {
        out: Vec::with_capacity(chunk.len() * 2 + 4096),
        ..Done::default()
    };
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    if chunk.is_empty() {
        return done;
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line,
            Err(e) => {
                let why = format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1);
                done.errors.push((i, why));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Err(why) = classify_line(classifier, line, &mut done.out) {
            done.errors.push((i, why));
        }
    }
    done
}

fn classify_serial(
    mut input: Box<dyn std::io::BufRead>,
    classifier: &crate::classify::Classifier,
    write: &mut dyn FnMut(Done, usize) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let (mut buf, mut n) = (Vec::with_capacity(CHUNK_BYTES + 4096), 0usize);
    loop {
        let first = n + 1;
        read_chunk(&mut *input, &mut buf, &mut n)?;
        if buf.is_empty() {
            return Ok(());
        }
        write(classify_chunk(classifier, &buf), first)?;
    }
}

/// What a worker sends back: a chunk's sequence number and its result, or the panic that
/// stopped it (a bug, carried to the caller's thread).
type Sent = (usize, std::thread::Result<Done>);

/// The caller's thread reads chunks and writes results in input order; `threads` workers
/// classify; at most `2 × threads` chunks are in flight, so memory stays bounded.
fn classify_parallel(
    mut input: Box<dyn std::io::BufRead>,
    classifier: &crate::classify::Classifier,
    threads: usize,
    write: &mut dyn FnMut(Done, usize) -> std::io::Result<()>,
) -> Result<(), Failure> {
    use std::collections::BTreeMap;
    use std::sync::{mpsc, Mutex};

    let (work_tx, work_rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<Sent>();
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
                let Ok((seq, chunk)) = job else { return };
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    classify_chunk(classifier, &chunk)
                }));
                let stop = done.is_err();
                if done_tx.send((seq, done)).is_err() || stop {
                    return;
                }
            });
        }
        drop(done_tx);
        // Dropping `work_tx` (on return, also on an error) lets the workers finish.
        let work_tx = work_tx;
        let mut firsts: BTreeMap<usize, usize> = BTreeMap::new();
        let mut ready: BTreeMap<usize, Done> = BTreeMap::new();
        let (mut sent, mut next, mut ended, mut n) = (0usize, 0usize, false, 0usize);
        loop {
            if !ended && sent - next < 2 * threads {
                let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
                let first = n + 1;
                read_chunk(&mut *input, &mut chunk, &mut n)?;
                if chunk.is_empty() {
                    ended = true;
                } else {
                    firsts.insert(sent, first);
                    if work_tx.send((sent, chunk)).is_err() {
                        return Err(stopped(&done_rx));
                    }
                    sent += 1;
                }
                continue;
            }
            if next == sent {
                return Ok(());
            }
            let Ok((seq, done)) = done_rx.recv() else {
                return Err(stopped(&done_rx));
            };
            match done {
                Ok(done) => {
                    ready.insert(seq, done);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
            while let Some(done) = ready.remove(&next) {
                let first = firsts.remove(&next).unwrap_or_default();
                write(done, first)?;
                next += 1;
            }
        }
    })
}

/// Every worker has gone: only a panic does that, and it is waiting in `done_rx`.
fn stopped(done_rx: &std::sync::mpsc::Receiver<Sent>) -> Failure {
    for (_, done) in done_rx.try_iter() {
        if let Err(panic) = done {
            std::panic::resume_unwind(panic);
        }
    }
    Failure::Io(std::io::Error::other("the classification threads stopped"))
}

/// Classifies one non-blank line of the Mention contract and appends the output line to `out`,
/// or says why the line is malformed.
///
/// The common case (a plain object with none of the added keys) is parsed into borrowed fields
/// only and written as the line's own text with the added fields spliced in before its closing
/// brace; anything else takes the full path (a JSON map, re-serialised), so what is accepted,
/// every error message and every output value stay the contract's. The spliced line keeps the
/// input's own spelling (spacing, escapes, numbers as written, an unknown key given twice),
/// which a JSON reader takes as the full path's value.
fn classify_line(
    classifier: &crate::classify::Classifier,
    line: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if let Some(fast) = fast::parse(line) {
        let c = classifier.classify(&fast.text, Some(&fast.author));
        let body = line.trim_end_matches([' ', '\t', '\n', '\r']);
        if let Some(open) = body.strip_suffix('}') {
            out.extend_from_slice(open.as_bytes());
            added(out, &c).map_err(|e| format!("writing: {e}"))?;
            out.extend_from_slice(b"}\n");
            return Ok(());
        }
    }
    full_line(classifier, line, out)
}

/// Appends `,"sentiment":…,"matches":…,"intent":…,"lead":…` (the added fields, in the order
/// the full path writes them).
fn added(out: &mut Vec<u8>, c: &crate::classify::Classification) -> serde_json::Result<()> {
    out.extend_from_slice(b",\"sentiment\":");
    // Through a `Value`, as the full path writes it: the f32 score widened to f64.
    serde_json::to_writer(&mut *out, &serde_json::to_value(c.sentiment)?)?;
    out.extend_from_slice(b",\"matches\":");
    serde_json::to_writer(&mut *out, &c.matches)?;
    out.extend_from_slice(b",\"intent\":");
    serde_json::to_writer(&mut *out, &c.intent)?;
    out.extend_from_slice(b",\"lead\":");
    serde_json::to_writer(&mut *out, &c.lead)
}

/// The full path: the line as a JSON map, the added fields inserted, the map written.
fn full_line(
    classifier: &crate::classify::Classifier,
    line: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut mention = crate::classify::mention_fields(line)?;
    let text = mention["text"].as_str().unwrap_or_default().to_string();
    let author = mention["author"].as_str().map(str::to_string);
    let c = classifier.classify(&text, author.as_deref());
    let value = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| format!("writing: {e}"));
    mention.insert(
        "sentiment".into(),
        value(serde_json::to_value(c.sentiment))?,
    );
    mention.insert("matches".into(), value(serde_json::to_value(c.matches))?);
    mention.insert("intent".into(), value(serde_json::to_value(c.intent))?);
    mention.insert("lead".into(), value(serde_json::to_value(c.lead))?);
    serde_json::to_writer(&mut *out, &mention).map_err(|e| format!("writing: {e}"))?;
    out.push(b'\n');
    Ok(())
}

/// The borrowed-field parse of the fast path: it accepts only lines
/// [`crate::classify::mention_fields`] accepts, and leaves some of those to the full path (an
/// added key already present, a required field given twice). Every value, unknown fields'
/// included, is checked as `serde_json::Value` checks it (strings unescaped, numbers in range),
/// so a lone surrogate escape or `1e400` is refused here as there.
mod fast {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

    /// The two fields classification reads, borrowed where the line has no escapes.
    pub(super) struct Fast<'a> {
        pub(super) text: Cow<'a, str>,
        pub(super) author: Cow<'a, str>,
    }

    /// The line's fields, or `None` when the full path must decide.
    pub(super) fn parse(line: &str) -> Option<Fast<'_>> {
        let mut de = serde_json::Deserializer::from_str(line);
        let fast = de.deserialize_map(Top).ok()?;
        de.end().ok()?;
        Some(fast)
    }

    /// A top-level key, without allocating.
    enum Key {
        Id,
        Platform,
        Author,
        Text,
        CreatedAt,
        OptStr,
        Followers,
        Verified,
        Added,
        Other,
    }

    impl<'de> de::Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
                    Ok(match k {
                        "id" => Key::Id,
                        "platform" => Key::Platform,
                        "author" => Key::Author,
                        "text" => Key::Text,
                        "created_at" => Key::CreatedAt,
                        "url" | "lang" | "in_reply_to" => Key::OptStr,
                        "author_followers" => Key::Followers,
                        "verified" => Key::Verified,
                        "sentiment" | "matches" | "intent" | "lead" => Key::Added,
                        _ => Key::Other,
                    })
                }
            }
            d.deserialize_str(V)
        }
    }

    /// A string, borrowed when it has no escapes.
    struct Str<'a>(Cow<'a, str>);

    impl<'de> de::Deserialize<'de> for Str<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Str<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'de>, E> {
                    Ok(Str(Cow::Borrowed(s)))
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'de>, E> {
                    Ok(Str(Cow::Owned(s.to_owned())))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// What kind of JSON value was read; nested values are checked as `serde_json::Value`
    /// checks them (strings unescaped, numbers in range) and dropped.
    #[derive(PartialEq)]
    enum Kind {
        Str,
        Null,
        U64,
        Bool,
        Other,
    }

    impl<'de> de::Deserialize<'de> for Kind {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(KindVisitor)
        }
    }

    struct KindVisitor;

    impl<'de> Visitor<'de> for KindVisitor {
        type Value = Kind;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
            Ok(Kind::Bool)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
            Ok(if v >= 0 { Kind::U64 } else { Kind::Other })
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
            Ok(Kind::U64)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
            Ok(Kind::Other)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
            Ok(Kind::Str)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
            Ok(Kind::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
            Ok(Kind::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
            while seq.next_element::<Kind>()?.is_some() {}
            Ok(Kind::Other)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
            while map.next_entry::<Kind, Kind>()?.is_some() {}
            Ok(Kind::Other)
        }
    }

    /// The top-level object.
    struct Top;

    impl<'de> Visitor<'de> for Top {
        type Value = Fast<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mention")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fast<'de>, A::Error> {
            let (mut id, mut platform, mut at) = (false, false, false);
            let (mut text, mut author) = (None, None);
            let once = |seen: bool| -> Result<bool, A::Error> {
                if seen {
                    Err(de::Error::custom("twice"))
                } else {
                    Ok(true)
                }
            };
            let want = |kind: Kind, ok: &[Kind]| -> Result<(), A::Error> {
                if ok.contains(&kind) {
                    Ok(())
                } else {
                    Err(de::Error::custom("type"))
                }
            };
            while let Some(key) = map.next_key::<Key>()? {
                match key {
                    Key::Id => {
                        id = once(id)?;
                        want(map.next_value::<Kind>()?, &[Kind::Str])?;
                    }
                    Key::Platform => {
                        platform = once(platform)?;
                        want(map.next_value::<Kind>()?, &[Kind::Str])?;
                    }
                    Key::CreatedAt => {
                        at = once(at)?;
                        let Str(t) = map.next_value()?;
                        chrono::DateTime::parse_from_rfc3339(&t).map_err(de::Error::custom)?;
                    }
                    Key::Text => {
                        once(text.is_some())?;
                        text = Some(map.next_value::<Str<'de>>()?.0);
                    }
                    Key::Author => {
                        once(author.is_some())?;
                        author = Some(map.next_value::<Str<'de>>()?.0);
                    }
                    Key::OptStr => want(map.next_value::<Kind>()?, &[Kind::Str, Kind::Null])?,
                    Key::Followers => want(map.next_value::<Kind>()?, &[Kind::U64, Kind::Null])?,
                    Key::Verified => want(map.next_value::<Kind>()?, &[Kind::Bool, Kind::Null])?,
                    Key::Added => return Err(de::Error::custom("added key present")),
                    Key::Other => {
                        map.next_value::<Kind>()?;
                    }
                }
            }
            match (id && platform && at, text, author) {
                (true, Some(text), Some(author)) => Ok(Fast { text, author }),
                _ => Err(de::Error::custom("a field is missing")),
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;

    fn classifier() -> Classifier {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&dir).expect("keywords/");
        Classifier::new(&groups).expect("classifier")
    }

    const BASE: &str =
        r#""id":"1","platform":"mastodon","author":"ann@x","created_at":"2026-12-07T03:00:00Z""#;

    /// Lines the fast path takes: unknown fields, escapes, nested objects, odd spacing.
    fn fast_lines() -> Vec<String> {
        vec![
            format!(
                r#"{{{BASE},"text":"My car caught fire on the highway, brakes failed. Call me 186 1234 5678"}}"#
            ),
            format!(
                r#"{{{BASE},"text":"\u6211\u7684E5\u6628\u665a\u8d77\u706b\u4e86 \ud83d\ude21 \"quoted\" \\ back","extra":{{"a":[1,2.5,-3,{{"b":null}}],"c":"\u00e9"}}}}"#
            ),
            format!(
                r#"  {{ "text" : "Love it, ordering one this month!" , {BASE} , "url":null, "lang":"en", "in_reply_to":"9", "author_followers":12, "verified":true, "zz":1e10 }}  "#
            ),
            format!(
                r#"{{"text":"试驾完太喜欢了！本月就订","tags":["a","b"],{BASE},"n":-0,"big":18446744073709551616}}"#
            ),
        ]
    }

    /// Lines the fast path leaves to the full path, each still valid for the full path.
    fn full_lines() -> Vec<String> {
        vec![
            format!(r#"{{{BASE},"text":"great car","sentiment":"mine"}}"#),
            format!(r#"{{{BASE},"text":"great car","lead":null,"matches":[1]}}"#),
            format!(r#"{{{BASE},"text":"first","text":"great car"}}"#),
        ]
    }

    /// Malformed lines, each with the full path's message.
    fn bad_lines() -> Vec<String> {
        vec![
            "not json".into(),
            "[1,2]".into(),
            format!(r#"{{{BASE}}}"#),
            format!(r#"{{{BASE},"text":5}}"#),
            format!(r#"{{{BASE},"text":"x","url":3}}"#),
            format!(r#"{{{BASE},"text":"x","author_followers":-1}}"#),
            format!(r#"{{{BASE},"text":"x","verified":"yes"}}"#),
            format!(r#"{{{BASE},"text":"x","other":"\ud800"}}"#),
            format!(r#"{{{BASE},"text":"x","other":1e400}}"#),
            format!(r#"{{{BASE},"text":"x"}} trailing"#),
            r#"{"id":"1","platform":"m","author":"a","text":"t","created_at":"yesterday"}"#.into(),
        ]
    }

    fn parsed(bytes: &[u8]) -> Vec<serde_json::Value> {
        std::str::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("output line is JSON"))
            .collect()
    }

    #[test]
    fn the_fast_path_writes_what_the_full_path_writes() {
        let c = classifier();
        for line in fast_lines() {
            assert!(fast::parse(&line).is_some(), "fast path not taken: {line}");
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            classify_line(&c, &line, &mut fast).expect("fast");
            full_line(&c, &line, &mut full).expect("full");
            assert_eq!(parsed(&fast), parsed(&full), "{line}");
            let v = &parsed(&fast)[0];
            for key in ["sentiment", "matches", "intent", "lead", "text", "id"] {
                assert!(v.get(key).is_some(), "{key} missing in {line}");
            }
        }
        let mut out = Vec::new();
        classify_line(&c, &fast_lines()[0], &mut out).expect("fast");
        let v = &parsed(&out)[0];
        assert_eq!(v["sentiment"]["label"], "negative", "{v}");
        assert!(!v["matches"].as_array().expect("array").is_empty(), "{v}");
    }

    #[test]
    fn lines_with_an_added_key_or_a_repeated_field_take_the_full_path() {
        let c = classifier();
        for line in full_lines() {
            assert!(fast::parse(&line).is_none(), "fast path taken: {line}");
            let (mut got, mut full) = (Vec::new(), Vec::new());
            classify_line(&c, &line, &mut got).expect("classified");
            full_line(&c, &line, &mut full).expect("full");
            assert_eq!(got, full, "{line}");
            let v = &parsed(&got)[0];
            assert!(v["sentiment"].is_object(), "{v}");
            assert_eq!(v["text"], "great car");
        }
    }

    #[test]
    fn malformed_lines_get_the_full_paths_message() {
        let c = classifier();
        for line in bad_lines() {
            assert!(fast::parse(&line).is_none(), "fast path took {line}");
            let mut out = Vec::new();
            let got = classify_line(&c, &line, &mut out).expect_err(&line);
            let want = crate::classify::mention_fields(&line).expect_err(&line);
            assert_eq!(got, want);
            assert!(out.is_empty(), "{line}");
        }
    }

    /// A chunk with CRLF, blank, non-UTF-8 and malformed lines: outputs in order, errors
    /// numbered within the chunk, the same bytes with one worker or several.
    #[test]
    fn a_chunk_keeps_order_and_numbers_and_threads_change_nothing() {
        let c = classifier();
        let mut input = Vec::new();
        for (i, line) in fast_lines().iter().enumerate() {
            input.extend_from_slice(line.as_bytes());
            input.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
        }
        input.extend_from_slice(b"\n \r\n\xff\xfe bad\nnot json\n");
        input.extend_from_slice(full_lines()[0].as_bytes());
        let done = classify_chunk(&c, &input);
        assert_eq!(parsed(&done.out).len(), 5);
        let errors: Vec<usize> = done.errors.iter().map(|(at, _)| *at).collect();
        assert_eq!(errors, [6, 7]);
        assert_eq!(done.errors[0].1, "not valid UTF-8 (byte 1 of the line)");
        let texts: Vec<String> = parsed(&done.out)
            .iter()
            .map(|v| v["text"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(texts[4], "great car");
        assert!(texts[0].starts_with("My car caught fire"));

        // Many chunks: the parallel pipeline writes the serial bytes and line numbers.
        let mut big = Vec::new();
        for _ in 0..(2 * CHUNK_BYTES / input.len() + 3) {
            big.extend_from_slice(&input);
            big.push(b'\n');
        }
        let run = |threads: usize| {
            let mut out = Vec::new();
            let mut errors = Vec::new();
            let mut write = |d: Done, first: usize| {
                out.extend_from_slice(&d.out);
                errors.extend(d.errors.into_iter().map(|(at, why)| (first + at, why)));
                Ok(())
            };
            let input: Box<dyn std::io::BufRead> = Box::new(std::io::Cursor::new(big.clone()));
            if threads == 1 {
                classify_serial(input, &c, &mut write).expect("serial");
            } else {
                classify_parallel(input, &c, threads, &mut write).expect("parallel");
            }
            (out, errors)
        };
        let (serial, serial_errors) = run(1);
        let (parallel, parallel_errors) = run(3);
        assert!(serial.len() > 2 * CHUNK_BYTES);
        assert_eq!(serial, parallel);
        assert_eq!(serial_errors, parallel_errors);
        let lines_per_copy = 9;
        assert_eq!(serial_errors[0].0, 7);
        assert_eq!(serial_errors[2].0, 7 + lines_per_copy);
    }
}
