//! Bluesky as a publishing channel, on the account client of [`crate::platform::bluesky`]
//! (sessions, rich text, the 300-grapheme limit, error classification live there).
//!
//! Exactly once: the record key is a TID derived from the post's id and time, so a resend can
//! never create a second record, and reconciling is one `getRecord`.

use chrono::Utc;
use reqwest::Client;
use url::Url;

use super::{OutPost, PublishError, ReplyTo, Sent};
use crate::platform::bluesky::{NewPost, Record, Ref, Thread};

/// A Bluesky account on a PDS, as a channel.
#[derive(Debug)]
pub struct Bluesky {
    account: crate::platform::bluesky::Bluesky,
}

impl Bluesky {
    /// The channel of account `identifier` on the PDS at `pds`, logging in with `password`.
    pub fn new(http: Client, pds: Url, identifier: String, password: String) -> Self {
        Self {
            account: crate::platform::bluesky::Bluesky::new(http, pds, identifier, password),
        }
    }

    /// The account behind the channel, for reads (a reply looks up the thread it joins).
    pub fn account(&self) -> &crate::platform::bluesky::Bluesky {
        &self.account
    }

    /// Posts under the post's record key; a key already taken returns the post already there.
    pub async fn send(&self, post: &OutPost) -> Result<Sent, PublishError> {
        let record = self
            .account
            .create_post(&record_key(post), &new_post(post), Utc::now())
            .await?;
        Ok(sent(record))
    }

    /// Looks the post up under its record key.
    pub async fn find(&self, post: &OutPost) -> Result<Option<Sent>, PublishError> {
        Ok(self.account.get_post(&record_key(post)).await?.map(sent))
    }
}

fn new_post(post: &OutPost) -> NewPost<'_> {
    fn strong(r: &super::StrongRef) -> Ref<'_> {
        Ref {
            uri: &r.uri,
            cid: &r.cid,
        }
    }
    NewPost {
        text: &post.text,
        lang: post.lang.as_deref(),
        reply: match &post.reply {
            Some(ReplyTo::Bluesky { root, parent }) => Some(Thread {
                root: strong(root),
                parent: strong(parent),
            }),
            _ => None,
        },
    }
}

fn sent(r: Record) -> Sent {
    Sent {
        remote_id: r.uri,
        url: Some(r.url),
        published_at: r.created_at,
        cid: r.cid,
    }
}

/// The record key of a post: a TID (13 base32-sortable characters) from the post's scheduled
/// time in microseconds and a 10-bit clock id hashed from its id. Stable for the post, unique
/// per channel and minute.
pub fn record_key(post: &OutPost) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let h = crate::fnv1a(post.id.as_bytes());
    let micros = post.at.timestamp_micros().max(0) as u64 & ((1 << 53) - 1);
    let mut v = (micros << 10) | (h & 0x3ff);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::publish::StrongRef;

    fn post(id: &str, at: &str) -> OutPost {
        OutPost {
            id: id.into(),
            text: String::new(),
            at: DateTime::parse_from_rfc3339(at)
                .expect("t")
                .with_timezone(&Utc),
            lang: None,
            source_code: String::new(),
            reply: None,
        }
    }

    #[test]
    fn record_keys_are_valid_stable_tids() {
        let a = record_key(&post("sky@1", "2026-12-01T00:45:00Z"));
        assert_eq!(a, record_key(&post("sky@1", "2026-12-01T00:45:00Z")));
        assert_ne!(a, record_key(&post("sky@2", "2026-12-01T00:45:00Z")));
        assert_eq!(a.len(), 13);
        assert!("234567abcdefghij".contains(&a[..1]), "{a}");
        let later = record_key(&post("sky@1", "2026-12-01T01:45:00Z"));
        assert!(later > a, "TIDs sort by time");
    }

    #[test]
    fn replies_carry_both_strong_refs_and_others_none() {
        let r = |n: &str| StrongRef {
            uri: format!("at://did:plc:a/app.bsky.feed.post/{n}"),
            cid: format!("cid{n}"),
        };
        let mut p = post("sky@1", "2026-12-01T00:45:00Z");
        p.reply = Some(ReplyTo::Bluesky {
            root: r("1"),
            parent: r("2"),
        });
        let thread = new_post(&p).reply.expect("a thread");
        assert_eq!(
            (thread.root.uri, thread.root.cid),
            ("at://did:plc:a/app.bsky.feed.post/1", "cid1")
        );
        assert_eq!(
            (thread.parent.uri, thread.parent.cid),
            ("at://did:plc:a/app.bsky.feed.post/2", "cid2")
        );
        p.reply = Some(ReplyTo::Mastodon {
            status_id: "9".into(),
        });
        assert!(new_post(&p).reply.is_none());
    }
}
