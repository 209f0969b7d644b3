//! The outbox channel: appends each post as one JSON line to a file under the data folder.
//!
//! The default channel, needing no credentials, so a new user sees `herald run` publishing.
//! Each line carries the post's id; `find` scans for it, so a crash between writing the line
//! and recording it in the store is reconciled, never written twice.
//!
//! The file stays readable line by line whatever happens to an append: a write that fails
//! midway (a full disk) is cut back to the file's length before it, and an append after a
//! fragment that could not be cut back (or that a crash left) starts on a new line. Readers,
//! `find` included, skip a line that does not parse; `find` also reads a whole line glued to an
//! older fragment, as files from before this rule may hold.

use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{OutPost, PublishError, ReplyTo, Sent};

/// Appends to outbox files one at a time: two channels may share a file, and cutting back a
/// failed append must not cut another's line.
static APPENDS: Mutex<()> = Mutex::new(());

/// An outbox file.
#[derive(Debug)]
pub struct Outbox {
    channel: String,
    path: PathBuf,
}

/// One line of the outbox.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    id: String,
    channel: String,
    scheduled_at: chrono::DateTime<Utc>,
    sent_at: chrono::DateTime<Utc>,
    text: String,
    source_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<ReplyTo>,
    /// The post's pictures: `{file, path, alt, mime, width, height}` each
    /// ([`super::OutMedia::json`]); absent when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    media: Vec<serde_json::Value>,
}

/// What reading an outbox file found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Ids of the posts on whole lines, in file order.
    pub ids: Vec<String>,
    /// Fragments that are not a whole line (a torn append), skipped.
    pub skipped: usize,
}

/// The file operations an append needs, apart so a test can make a write fail midway.
trait AppendFile: Write {
    /// Cuts the file back to `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Makes the written data durable.
    fn sync(&mut self) -> std::io::Result<()>;
}

impl AppendFile for File {
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// Why an append failed, and whether the file is as it was.
#[derive(Debug)]
struct AppendError {
    error: std::io::Error,
    /// The file was cut back to its length before the append (or nothing was written).
    restored: bool,
}

/// Appends `line` (ending in a newline) to a file of `len` bytes whose last byte is
/// `last_byte`: on a new line of its own, durable when this returns `Ok`; on failure, the file
/// is cut back to `len` bytes where possible.
fn append(
    file: &mut impl AppendFile,
    len: u64,
    last_byte: Option<u8>,
    line: &[u8],
) -> Result<(), AppendError> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    // A fragment (a torn append that could not be cut back) ends the file: start after it,
    // so the new line is whole and readers skip only the fragment.
    if last_byte.is_some_and(|b| b != b'\n') {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(line);
    match file.write_all(&bytes).and_then(|()| file.sync()) {
        Ok(()) => Ok(()),
        Err(error) => {
            let restored = file.truncate(len).and_then(|()| file.sync()).is_ok();
            Err(AppendError { error, restored })
        }
    }
}

/// The length of `file` and its last byte.
fn tail(file: &mut File) -> std::io::Result<(u64, Option<u8>)> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok((0, None));
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok((len, Some(last[0])))
}

/// Parses one line: a whole line, or a whole line glued after a fragment (written before
/// appends started after fragments). The second value says a fragment was skipped.
fn parse(line: &[u8]) -> (Option<Line>, bool) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return (None, false);
    }
    if let Ok(entry) = serde_json::from_slice::<Line>(line) {
        return (Some(entry), false);
    }
    // Every line starts with its id; a whole line glued to a fragment starts at the last one.
    let start = memchr::memmem::rfind(line, b"{\"id\":").filter(|i| *i > 0);
    let glued = start.and_then(|i| serde_json::from_slice::<Line>(&line[i..]).ok());
    (glued, true)
}

impl Outbox {
    pub fn new(channel: &str, path: PathBuf) -> Self {
        Self {
            channel: channel.to_string(),
            path,
        }
    }

    fn io(path: &Path, e: &std::io::Error) -> String {
        format!("outbox {}: {e}", path.display())
    }

    fn sent(&self, id: &str, sent_at: chrono::DateTime<Utc>) -> Sent {
        Sent {
            remote_id: id.to_string(),
            url: Some(format!("file://{}#{}", self.path.display(), id)),
            published_at: Some(sent_at),
            cid: None,
        }
    }

    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let sent_at = Utc::now();
        let line = Line {
            id: post.id.clone(),
            channel: self.channel.clone(),
            scheduled_at: post.at,
            sent_at,
            text: post.text.clone(),
            source_code: post.source_code.clone(),
            reply: post.reply.clone(),
            media: post.media.iter().map(super::OutMedia::json).collect(),
        };
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| PublishError::Setup(e.to_string()))?;
        bytes.push(b'\n');
        let path = self.path.clone();
        // File IO blocks: keep it off the async workers, which other channels' sends share.
        tokio::task::spawn_blocking(move || Self::append_to(&path, &bytes))
            .await
            .map_err(|e| PublishError::Unconfirmed(format!("outbox append stopped: {e}")))??;
        Ok(self.sent(&post.id, sent_at))
    }

    /// Appends `bytes` (one line) to the file at `path`, creating it and its folder.
    fn append_to(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
        let transient = |e: std::io::Error| PublishError::Transient(Self::io(path, &e));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(transient)?;
        }
        // A poisoned lock only means another append panicked; the file is checked anew.
        let _one_at_a_time = APPENDS.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(transient)?;
        let (len, last_byte) = tail(&mut file).map_err(transient)?;
        append(&mut file, len, last_byte, bytes).map_err(|e| {
            let why = Self::io(path, &e.error);
            if e.restored {
                PublishError::Transient(why)
            } else {
                // Part of the line, maybe all of it, is still there: `find` decides.
                PublishError::Unconfirmed(format!("{why}; the file could not be cut back"))
            }
        })
    }

    /// Reads the whole file: the ids of its lines, and how many fragments were skipped.
    pub async fn scan(&self) -> Result<Scan, PublishError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || Self::scan_file(&path, |_| false).map(|(s, _)| s))
            .await
            .map_err(|e| PublishError::Transient(format!("outbox read stopped: {e}")))?
    }

    /// Reads the file until `stop` holds for a line; returns what was read and that line.
    fn scan_file(
        path: &Path,
        stop: impl Fn(&Line) -> bool,
    ) -> Result<(Scan, Option<Line>), PublishError> {
        let mut scan = Scan::default();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((scan, None)),
            Err(e) => return Err(PublishError::Transient(Self::io(path, &e))),
        };
        // Bytes, not text: a torn multi-byte character must not stop the reading.
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(|e| PublishError::Transient(Self::io(path, &e)))?;
            let (entry, fragment) = parse(&line);
            scan.skipped += usize::from(fragment);
            if let Some(entry) = entry {
                if stop(&entry) {
                    return Ok((scan, Some(entry)));
                }
                scan.ids.push(entry.id);
            }
        }
        Ok((scan, None))
    }

    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        let path = self.path.clone();
        let id = post.id.clone();
        let (scan, found) =
            tokio::task::spawn_blocking(move || Self::scan_file(&path, |l| l.id == id))
                .await
                .map_err(|e| PublishError::Transient(format!("outbox read stopped: {e}")))??;
        if scan.skipped > 0 {
            warn!(file = %self.path.display(), fragments = scan.skipped, "Outbox holds torn lines; skipped them");
        }
        Ok(found.map(|entry| self.sent(&entry.id, entry.sent_at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str) -> OutPost {
        OutPost {
            id: id.into(),
            text: "你好 herald".into(),
            at: Utc::now(),
            lang: None,
            source_code: "outbox.x.y.z".into(),
            ..OutPost::default()
        }
    }

    #[tokio::test]
    async fn send_then_find_and_skip_a_torn_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("out/outbox.jsonl");
        let outbox = Outbox::new("outbox", path.clone());
        assert_eq!(outbox.find(&post("a")).await, Ok(None));
        outbox.send(&post("a")).await.expect("send");
        // A crash mid-write leaves a torn line; it must not hide later lines or break find.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open")
            .write_all(b"{\"id\":\"to")
            .expect("w");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open")
            .write_all(b"\n")
            .expect("w");
        outbox.send(&post("b")).await.expect("send");
        assert_eq!(
            outbox
                .find(&post("a"))
                .await
                .expect("find")
                .map(|s| s.remote_id),
            Some("a".into())
        );
        assert_eq!(
            outbox
                .find(&post("b"))
                .await
                .expect("find")
                .map(|s| s.remote_id),
            Some("b".into())
        );
        assert_eq!(outbox.find(&post("c")).await, Ok(None));
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 3);
    }

    fn append_raw(path: &Path, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open")
            .write_all(bytes)
            .expect("write");
    }

    /// Regression (issue 14): a torn append on a full disk was followed by a whole line glued
    /// to the fragment, which neither consumers nor `find` could read.
    #[tokio::test]
    async fn an_append_after_a_fragment_starts_on_a_new_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.jsonl");
        let outbox = Outbox::new("outbox", path.clone());
        outbox.send(&post("a")).await.expect("send");
        // Half a line, cut inside a multi-byte character: not even valid UTF-8.
        let torn = "{\"id\":\"x\",\"text\":\"你".as_bytes();
        append_raw(&path, &torn[..torn.len() - 1]);
        outbox.send(&post("b")).await.expect("send");
        outbox.send(&post("c")).await.expect("send");

        let bytes = std::fs::read(&path).expect("read");
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        assert_eq!(lines.len(), 5, "a, fragment, b, c and the empty tail");
        assert!(serde_json::from_slice::<Line>(lines[1]).is_err());
        for line in [lines[0], lines[2], lines[3]] {
            serde_json::from_slice::<Line>(line).expect("every whole line parses");
        }
        for id in ["a", "b", "c"] {
            assert_eq!(
                outbox
                    .find(&post(id))
                    .await
                    .expect("find")
                    .map(|s| s.remote_id),
                Some(id.to_string())
            );
        }
        assert_eq!(outbox.find(&post("x")).await, Ok(None));
        let scan = outbox.scan().await.expect("scan");
        assert_eq!(scan.ids, ["a", "b", "c"]);
        assert_eq!(scan.skipped, 1);
    }

    #[tokio::test]
    async fn find_reads_a_line_glued_to_an_old_fragment() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.jsonl");
        let outbox = Outbox::new("outbox", path.clone());
        outbox.send(&post("a")).await.expect("send");
        let whole = std::fs::read(&path).expect("read");
        // What an older herald wrote: a fragment, then a whole line glued to it.
        std::fs::write(
            &path,
            [b"{\"id\":\"to".as_slice(), whole.as_slice()].concat(),
        )
        .expect("write");
        assert_eq!(
            outbox
                .find(&post("a"))
                .await
                .expect("find")
                .map(|s| s.remote_id),
            Some("a".into())
        );
        let scan = outbox.scan().await.expect("scan");
        assert_eq!((scan.ids.len(), scan.skipped), (1, 1));
    }

    /// `path` opened for appending as a disk with 20 bytes left, with its length and last byte.
    fn full_after_20_bytes(path: &Path, truncate_fails: bool) -> (FullAfter, u64, Option<u8>) {
        let mut file = open_append(path);
        let (len, last) = tail(&mut file).expect("tail");
        let full = FullAfter {
            file,
            budget: 20,
            truncate_fails,
        };
        (full, len, last)
    }

    /// A file that takes `budget` more bytes, then fails as a full disk does.
    struct FullAfter {
        file: File,
        budget: usize,
        truncate_fails: bool,
    }

    impl Write for FullAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.budget == 0 {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.file.write(&buf[..n])
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.file.flush()
        }
    }

    impl AppendFile for FullAfter {
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if self.truncate_fails {
                return Err(std::io::Error::other("cannot truncate"));
            }
            self.file.set_len(len)
        }

        fn sync(&mut self) -> std::io::Result<()> {
            self.file.sync_data()
        }
    }

    fn line(id: &str) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(&Line {
            id: id.into(),
            channel: "outbox".into(),
            scheduled_at: Utc::now(),
            sent_at: Utc::now(),
            text: "你好".into(),
            source_code: "x".into(),
            reply: None,
            media: Vec::new(),
        })
        .expect("json");
        bytes.push(b'\n');
        bytes
    }

    fn open_append(path: &Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .expect("open")
    }

    #[test]
    fn a_write_failing_midway_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.jsonl");
        std::fs::write(&path, line("a")).expect("seed");
        let before = std::fs::read(&path).expect("read");
        let (mut full, len, last) = full_after_20_bytes(&path, false);
        let e = append(&mut full, len, last, &line("b")).expect_err("disk full");
        assert!(e.restored);
        assert_eq!(e.error.raw_os_error(), Some(28));
        assert_eq!(std::fs::read(&path).expect("read"), before);
    }

    #[test]
    fn a_fragment_that_cannot_be_cut_back_is_skipped_and_the_next_line_is_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.jsonl");
        std::fs::write(&path, line("a")).expect("seed");
        let (mut full, len, last) = full_after_20_bytes(&path, true);
        let e = append(&mut full, len, last, &line("b")).expect_err("disk full");
        assert!(!e.restored, "the fragment stays");
        // Space again: the next append starts after the fragment.
        let mut file = open_append(&path);
        let (len, last) = tail(&mut file).expect("tail");
        assert_ne!(last, Some(b'\n'));
        append(&mut file, len, last, &line("c")).expect("append");
        let bytes = std::fs::read(&path).expect("read");
        let parsed: Vec<(Option<Line>, bool)> = bytes.split(|b| *b == b'\n').map(parse).collect();
        let ids: Vec<&str> = parsed
            .iter()
            .filter_map(|(l, _)| l.as_ref().map(|l| l.id.as_str()))
            .collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(parsed.iter().filter(|(_, torn)| *torn).count(), 1);
    }

    #[tokio::test]
    async fn a_send_on_a_full_disk_fails_and_is_left_for_find() {
        // /dev/full fails every write; it cannot be cut back either (it is not a file), so the
        // outcome is left for `find` to decide.
        let path = PathBuf::from("/dev/full");
        match Outbox::new("outbox", path).send(&post("a")).await {
            Err(PublishError::Unconfirmed(why)) => {
                assert!(why.contains("No space left"), "{why}");
                assert!(why.contains("could not be cut back"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
}
