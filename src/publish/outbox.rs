//! The outbox channel: appends each post as one JSON line to a file under the data folder.
//!
//! The default channel, needing no credentials, so a new user sees `herald run` publishing.
//! Each line carries the post's id; `find` scans for it, so a crash between writing the line
//! and recording it in the store is reconciled, never written twice.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{OutPost, PublishError, ReplyTo, Sent};

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
}

impl Outbox {
    pub fn new(channel: &str, path: PathBuf) -> Self {
        Self {
            channel: channel.to_string(),
            path,
        }
    }

    fn io(&self, e: std::io::Error) -> PublishError {
        PublishError::Transient(format!("outbox {}: {e}", self.path.display()))
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
        };
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| PublishError::Setup(e.to_string()))?;
        bytes.push(b'\n');
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        // One write of a whole line with O_APPEND, then fsync: a crash leaves the line whole or
        // absent (a torn last line is skipped by `find`).
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        file.write_all(&bytes).map_err(|e| self.io(e))?;
        file.sync_data().map_err(|e| self.io(e))?;
        Ok(Sent {
            remote_id: post.id.clone(),
            url: Some(format!("file://{}#{}", self.path.display(), post.id)),
            published_at: Some(sent_at),
            cid: None,
        })
    }

    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|e| self.io(e))?;
            let Ok(entry) = serde_json::from_str::<Line>(&line) else {
                continue;
            };
            if entry.id == post.id {
                return Ok(Some(Sent {
                    remote_id: entry.id,
                    url: Some(format!("file://{}#{}", self.path.display(), post.id)),
                    published_at: Some(entry.sent_at),
                    cid: None,
                }));
            }
        }
        Ok(None)
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
            reply: None,
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
}
