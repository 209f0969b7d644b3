//! The Bluesky firehose, `com.atproto.sync.subscribeRepos`, for keyword watching: every post
//! written on the network (from a relay such as `wss://bsky.network`) or on one PDS, matched
//! against the source's queries as it is written, not when a search index has it.
//!
//! ```text
//! WebSocket frame ──► header (DAG-CBOR: op, t) + body (DAG-CBOR: seq, repo, ops, blocks)
//!   #commit ──► ops "create app.bsky.feed.post/…" ──► CID ──► record in `blocks` (a CAR slice)
//!           ──► text matches a query? ──► Mention (author's handle from the PLC directory)
//! ```
//!
//! The connection stays open between polls: a poll drains what has arrived (until the stream
//! has been idle for a moment, or a time or frame budget is spent) and returns it with the last
//! `seq` read as the cursor, so a reconnection (after an error or a restart) resumes from
//! there and nothing in between is lost. A frame that cannot be read is skipped and counted;
//! an error frame from the server fails the poll (the loop backs off and reconnects).
//!
//! The frames are decoded with `ciborium`; the CAR slice is read here (a header, then
//! length-prefixed blocks of a CID and its bytes), because a record's block is all herald
//! needs from it and the CAR crates want a whole async reader for that.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aho_corasick::AhoCorasick;
use chrono::{DateTime, Utc};
use ciborium::Value as Cbor;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::error::PollError;
use super::{Mention, Parsed};

/// How long a poll waits for the connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A poll returns once no frame has come for this long.
const IDLE: Duration = Duration::from_millis(500);
/// A poll returns after this long even if frames keep coming (the full network's firehose is
/// never idle).
const WINDOW: Duration = Duration::from_secs(10);
/// A poll returns after this many frames.
const MAX_FRAMES: usize = 50_000;
/// Handles remembered per source (the PLC directory is asked once per author).
const MAX_HANDLES: usize = 100_000;

/// The path of the firehose on a relay or PDS.
pub const ENDPOINT: &str = "xrpc/com.atproto.sync.subscribeRepos";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What is wrong with a frame, or with a firehose source's setup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirehoseError {
    #[error("bad varint in the CAR slice")]
    Varint,
    #[error("truncated CID")]
    TruncatedCid,
    #[error("CID too long")]
    CidTooLong,
    #[error("truncated CAR header")]
    TruncatedCarHeader,
    #[error("truncated CAR block")]
    TruncatedCarBlock,
    #[error("frame header is not CBOR: {0}")]
    Header(String),
    #[error("frame body is not CBOR: {0}")]
    Body(String),
    #[error("frame header has no op 1 or -1")]
    NoOp,
    /// A commit without one of the fields every commit has.
    #[error("commit without {0}")]
    Missing(&'static str),
    #[error("record {path} is not CBOR: {why}")]
    Record { path: String, why: String },
    /// The service URL cannot take the endpoint's path.
    #[error("the firehose URL: {0}")]
    Endpoint(#[from] url::ParseError),
    /// The queries cannot be compiled into one matcher.
    #[error("the firehose queries: {0}")]
    Queries(String),
    /// The TLS settings for `wss://` could not be built.
    #[error("TLS for the firehose: {0}")]
    Tls(String),
}

impl From<FirehoseError> for PollError {
    fn from(e: FirehoseError) -> Self {
        PollError::new(e)
    }
}

/// A firehose source.
pub struct Firehose {
    endpoint: Url,
    matcher: AhoCorasick,
    plc: Option<Url>,
    http: reqwest::Client,
    socket: tokio::sync::Mutex<Option<Socket>>,
    handles: std::sync::Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Firehose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firehose")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// One frame, as far as herald reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A commit: its sequence number, the repository (a DID) and the posts it creates, each as
    /// (record path, record).
    Commit {
        seq: i64,
        repo: String,
        posts: Vec<(String, Post)>,
    },
    /// Another kind of event (identity, account, sync, info): only its sequence number counts.
    Other { seq: Option<i64> },
    /// The server's error frame (`op = -1`): `error` and `message`.
    Error(String),
}

/// The fields of an `app.bsky.feed.post` record herald uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub text: String,
    pub created_at: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub reply_parent: Option<String>,
}

fn field<'a>(map: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn text_field(map: &Cbor, key: &str) -> Option<String> {
    field(map, key)?.as_text().map(str::to_string)
}

fn int_field(map: &Cbor, key: &str) -> Option<i64> {
    i64::try_from(field(map, key)?.as_integer()?).ok()
}

/// Reads one unsigned LEB128 varint from the front of `bytes`: (value, bytes used).
fn varint(bytes: &[u8]) -> Result<(u64, usize), FirehoseError> {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(FirehoseError::Varint)
}

/// The length of the binary CID at the front of `bytes` (v0: a bare sha2-256 multihash; v1:
/// version, codec, then a multihash).
fn cid_len(bytes: &[u8]) -> Result<usize, FirehoseError> {
    if bytes.starts_with(&[0x12, 0x20]) {
        return if bytes.len() >= 34 {
            Ok(34)
        } else {
            Err(FirehoseError::TruncatedCid)
        };
    }
    let mut at = 0;
    for _ in 0..3 {
        // version, codec, hash function
        at += varint(bytes.get(at..).unwrap_or_default())?.1;
    }
    let (size, n) = varint(bytes.get(at..).unwrap_or_default())?;
    at += n;
    let end = at
        .checked_add(usize::try_from(size).map_err(|_| FirehoseError::CidTooLong)?)
        .filter(|&e| e <= bytes.len())
        .ok_or(FirehoseError::TruncatedCid)?;
    Ok(end)
}

/// One block of a CAR slice: its CID's bytes and its own.
pub type Block<'a> = (&'a [u8], &'a [u8]);

/// The blocks of a CAR v1 slice.
pub fn car_blocks(car: &[u8]) -> Result<Vec<Block<'_>>, FirehoseError> {
    let (header, n) = varint(car)?;
    let mut rest = usize::try_from(header)
        .ok()
        .and_then(|h| car.get(n.checked_add(h)?..))
        .ok_or(FirehoseError::TruncatedCarHeader)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, n) = varint(rest)?;
        let block = usize::try_from(len)
            .ok()
            .and_then(|l| rest.get(n..n.checked_add(l)?))
            .ok_or(FirehoseError::TruncatedCarBlock)?;
        let c = cid_len(block)?;
        out.push((&block[..c], &block[c..]));
        rest = &rest[n + block.len()..];
    }
    Ok(out)
}

/// A CID as DAG-CBOR links it (tag 42, with a leading 0x00 for the identity multibase), as
/// binary CID bytes.
fn link_bytes(v: &Cbor) -> Option<&[u8]> {
    match v {
        Cbor::Tag(42, inner) => inner.as_bytes().map(|b| b.strip_prefix(&[0]).unwrap_or(b)),
        _ => None,
    }
}

fn post_from(record: &Cbor) -> Option<Post> {
    if text_field(record, "$type").as_deref() != Some("app.bsky.feed.post") {
        return None;
    }
    Some(Post {
        text: text_field(record, "text")?,
        created_at: text_field(record, "createdAt")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        lang: field(record, "langs")
            .and_then(Cbor::as_array)
            .and_then(|l| l.first())
            .and_then(Cbor::as_text)
            .map(str::to_string),
        reply_parent: field(record, "reply")
            .and_then(|r| field(r, "parent"))
            .and_then(|p| text_field(p, "uri")),
    })
}

/// Decodes one binary frame of `subscribeRepos`: two DAG-CBOR values, a header and a body.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FirehoseError> {
    let mut r = bytes;
    let header: Cbor =
        ciborium::from_reader(&mut r).map_err(|e| FirehoseError::Header(e.to_string()))?;
    let body: Cbor =
        ciborium::from_reader(&mut r).map_err(|e| FirehoseError::Body(e.to_string()))?;
    match int_field(&header, "op") {
        Some(1) => {}
        Some(-1) => {
            let error = text_field(&body, "error").unwrap_or_else(|| "unknown".into());
            let message = text_field(&body, "message").unwrap_or_default();
            return Ok(Frame::Error(format!("{error}: {message}")));
        }
        _ => return Err(FirehoseError::NoOp),
    }
    let seq = int_field(&body, "seq");
    if text_field(&header, "t").as_deref() != Some("#commit") {
        return Ok(Frame::Other { seq });
    }
    let seq = seq.ok_or(FirehoseError::Missing("seq"))?;
    let repo = text_field(&body, "repo").ok_or(FirehoseError::Missing("repo"))?;
    let ops = field(&body, "ops")
        .and_then(Cbor::as_array)
        .ok_or(FirehoseError::Missing("ops"))?;
    let creates: Vec<(String, &[u8])> = ops
        .iter()
        .filter(|op| text_field(op, "action").as_deref() == Some("create"))
        .filter_map(|op| {
            let path = text_field(op, "path")?;
            let cid = link_bytes(field(op, "cid")?)?;
            path.starts_with("app.bsky.feed.post/")
                .then_some((path, cid))
        })
        .collect();
    let mut posts = Vec::new();
    if !creates.is_empty() {
        let car = field(&body, "blocks")
            .and_then(Cbor::as_bytes)
            .ok_or(FirehoseError::Missing("blocks"))?;
        let blocks = car_blocks(car)?;
        for (path, cid) in creates {
            let Some((_, data)) = blocks.iter().find(|(c, _)| *c == cid) else {
                continue;
            };
            let record: Cbor = ciborium::from_reader(*data).map_err(|e| FirehoseError::Record {
                path: path.clone(),
                why: e.to_string(),
            })?;
            if let Some(post) = post_from(&record) {
                posts.push((path, post));
            }
        }
    }
    Ok(Frame::Commit { seq, repo, posts })
}

/// The TLS settings for `wss://`: rustls with ring and the webpki roots, as reqwest uses.
fn tls() -> Result<tokio_tungstenite::Connector, FirehoseError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FirehoseError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_tungstenite::Connector::Rustls(Arc::new(config)))
}

impl Firehose {
    /// A firehose source on `service` (`ws://`, `wss://`; the endpoint path is added) watching
    /// for `queries` (ASCII letters without case), naming authors by the PLC directory `plc`.
    pub fn new(
        http: reqwest::Client,
        service: &Url,
        queries: &[String],
        plc: Option<Url>,
    ) -> Result<Self, FirehoseError> {
        let mut endpoint = service.clone();
        if !endpoint.path().ends_with('/') {
            endpoint.set_path(&format!("{}/", endpoint.path()));
        }
        let endpoint = endpoint.join(ENDPOINT)?;
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(queries)
            .map_err(|e| FirehoseError::Queries(e.to_string()))?;
        Ok(Self {
            endpoint,
            matcher,
            plc,
            http,
            socket: tokio::sync::Mutex::new(None),
            handles: std::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn connect(&self, cursor: Option<&str>) -> Result<Socket, PollError> {
        let mut url = self.endpoint.clone();
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let connector = if url.scheme() == "wss" {
            Some(tls()?)
        } else {
            None
        };
        let connect =
            tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, false, connector);
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Err(_) => Err(PollError::new(format!(
                "timed out connecting to {}",
                self.endpoint
            ))),
            Ok(Err(e)) => Err(PollError::new(format!(
                "connecting to {}: {e}",
                self.endpoint
            ))),
            Ok(Ok((socket, _))) => Ok(socket),
        }
    }

    /// Drains the frames that have come since the last poll (connecting from `cursor`, the last
    /// `seq` read, when there is no connection): the posts that match, and the new cursor.
    pub async fn poll(&self, cursor: Option<&str>) -> Result<(Parsed, Option<String>), PollError> {
        let mut guard = self.socket.lock().await;
        let mut socket = match guard.take() {
            Some(s) => s,
            None => self.connect(cursor).await?,
        };
        let mut out = Parsed::default();
        let mut last = cursor.map(str::to_string);
        let mut found: Vec<(String, String, Post)> = Vec::new();
        let started = tokio::time::Instant::now();
        let mut frames = 0;
        let mut open = true;
        while frames < MAX_FRAMES && started.elapsed() < WINDOW {
            let next = match tokio::time::timeout(IDLE, socket.next()).await {
                Err(_) => break, // idle: everything that came is read
                Ok(n) => n,
            };
            let message = match next {
                None | Some(Ok(Message::Close(_))) => {
                    open = false;
                    break;
                }
                Some(Err(e)) if frames == 0 => {
                    return Err(PollError::new(format!("reading the firehose: {e}")));
                }
                Some(Err(e)) => {
                    // What was read stands; the next poll reconnects from it.
                    tracing::warn!(error = %e, "Firehose connection broke; reconnecting on the next poll");
                    open = false;
                    break;
                }
                Some(Ok(m)) => m,
            };
            let Message::Binary(bytes) = message else {
                continue;
            };
            frames += 1;
            match decode_frame(&bytes) {
                Ok(Frame::Commit { seq, repo, posts }) => {
                    last = Some(seq.to_string());
                    for (path, post) in posts {
                        if self.matcher.is_match(&post.text) {
                            found.push((repo.clone(), path, post));
                        }
                    }
                }
                Ok(Frame::Other { seq }) => {
                    if let Some(seq) = seq {
                        last = Some(seq.to_string());
                    }
                }
                Ok(Frame::Error(why)) => {
                    return Err(PollError::new(format!("the firehose answered {why}")));
                }
                Err(why) => out.skipped.push(why.to_string()),
            }
        }
        if open {
            *guard = Some(socket);
        } else {
            let _ = socket.close(None).await;
        }
        drop(guard);
        for (repo, path, post) in found {
            let handle = self.handle(&repo).await;
            out.mentions.push(mention(&repo, &handle, &path, post));
        }
        Ok((out, last))
    }

    /// The handle of `did` from the PLC directory (`alsoKnownAs`), or the DID itself when
    /// there is no directory, the DID is not a `did:plc`, or the directory does not answer.
    async fn handle(&self, did: &str) -> String {
        if let Some(h) = self.handles.lock().ok().and_then(|m| m.get(did).cloned()) {
            return h;
        }
        let Some(plc) = self.plc.as_ref().filter(|_| did.starts_with("did:plc:")) else {
            return did.to_string();
        };
        // Not `Url::join`: "did:plc:…" would parse as an absolute URL of scheme "did".
        let url = format!("{}/{did}", plc.as_str().trim_end_matches('/'));
        let answer = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let doc: Option<serde_json::Value> = match answer {
            Ok(a) if a.status().is_success() => a.json().await.ok(),
            _ => None,
        };
        let Some(handle) = doc.as_ref().and_then(|d| {
            d["alsoKnownAs"]
                .as_array()?
                .iter()
                .find_map(|a| a.as_str()?.strip_prefix("at://"))
                .map(str::to_string)
        }) else {
            return did.to_string();
        };
        if let Ok(mut m) = self.handles.lock() {
            if m.len() >= MAX_HANDLES {
                m.clear();
            }
            m.insert(did.to_string(), handle.clone());
        }
        handle
    }
}

/// The Mention of a post: the same id (`at://` URI) as the notification and search sources
/// give it, so a post found by several is stored once.
fn mention(repo: &str, handle: &str, path: &str, post: Post) -> Mention {
    let rkey = path.rsplit('/').next().unwrap_or(path);
    Mention {
        id: format!("at://{repo}/{path}"),
        platform: "bluesky".to_string(),
        author: handle.to_string(),
        text: post.text,
        created_at: post.created_at.unwrap_or_else(Utc::now),
        url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
        lang: post.lang,
        in_reply_to: post.reply_parent,
        author_followers: None,
        verified: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(v: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).expect("cbor");
        out
    }

    fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
        Cbor::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Cbor::Text(k.into()), v))
                .collect(),
        )
    }

    /// A CIDv1 (dag-cbor, sha2-256) with a made-up digest.
    fn cid(n: u8) -> Vec<u8> {
        let mut c = vec![0x01, 0x71, 0x12, 0x20];
        c.extend([n; 32]);
        c
    }

    fn push_varint(out: &mut Vec<u8>, mut v: usize) {
        while v >= 0x80 {
            out.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn car(blocks: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let header = cbor(&map(vec![("version", Cbor::Integer(1.into()))]));
        let mut out = Vec::new();
        push_varint(&mut out, header.len());
        out.extend(header);
        for (c, data) in blocks {
            push_varint(&mut out, c.len() + data.len());
            out.extend(c);
            out.extend(data);
        }
        out
    }

    fn frame(t: &str, body: Cbor) -> Vec<u8> {
        let mut out = cbor(&map(vec![
            ("op", Cbor::Integer(1.into())),
            ("t", Cbor::Text(t.into())),
        ]));
        out.extend(cbor(&body));
        out
    }

    fn link(c: &[u8]) -> Cbor {
        let mut b = vec![0];
        b.extend(c);
        Cbor::Tag(42, Box::new(Cbor::Bytes(b)))
    }

    #[test]
    fn a_commit_gives_its_created_posts() {
        let post = cbor(&map(vec![
            ("$type", Cbor::Text("app.bsky.feed.post".into())),
            ("text", Cbor::Text("奇骏的刹车失灵了".into())),
            ("createdAt", Cbor::Text("2026-12-02T10:00:00.000Z".into())),
            ("langs", Cbor::Array(vec![Cbor::Text("zh".into())])),
        ]));
        let like = cbor(&map(vec![(
            "$type",
            Cbor::Text("app.bsky.feed.like".into()),
        )]));
        let blocks = car(&[(cid(1), post), (cid(2), like)]);
        let op = |action: &str, path: &str, c: &[u8]| {
            map(vec![
                ("action", Cbor::Text(action.into())),
                ("path", Cbor::Text(path.into())),
                ("cid", link(c)),
            ])
        };
        let body = map(vec![
            ("seq", Cbor::Integer(42.into())),
            ("repo", Cbor::Text("did:plc:alice".into())),
            (
                "ops",
                Cbor::Array(vec![
                    op("create", "app.bsky.feed.post/3kabc", &cid(1)),
                    op("create", "app.bsky.feed.like/3kdef", &cid(2)),
                    op("delete", "app.bsky.feed.post/3kold", &cid(3)),
                ]),
            ),
            ("blocks", Cbor::Bytes(blocks)),
        ]);
        let got = decode_frame(&frame("#commit", body)).expect("frame");
        let Frame::Commit { seq, repo, posts } = got else {
            panic!("not a commit: {got:?}");
        };
        assert_eq!((seq, repo.as_str()), (42, "did:plc:alice"));
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0].0, "app.bsky.feed.post/3kabc");
        assert_eq!(posts[0].1.text, "奇骏的刹车失灵了");
        assert_eq!(posts[0].1.lang.as_deref(), Some("zh"));
        let m = mention(
            "did:plc:alice",
            "alice.test",
            &posts[0].0,
            posts[0].1.clone(),
        );
        assert_eq!(m.id, "at://did:plc:alice/app.bsky.feed.post/3kabc");
        assert_eq!(
            m.url.as_deref(),
            Some("https://bsky.app/profile/alice.test/post/3kabc")
        );
    }

    #[test]
    fn other_events_and_errors() {
        let body = map(vec![("seq", Cbor::Integer(7.into()))]);
        assert_eq!(
            decode_frame(&frame("#identity", body)),
            Ok(Frame::Other { seq: Some(7) })
        );
        let mut err = cbor(&map(vec![("op", Cbor::Integer((-1).into()))]));
        err.extend(cbor(&map(vec![
            ("error", Cbor::Text("FutureCursor".into())),
            ("message", Cbor::Text("Cursor in the future.".into())),
        ])));
        assert_eq!(
            decode_frame(&err),
            Ok(Frame::Error("FutureCursor: Cursor in the future.".into()))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut rng = crate::rng::Rng::new(11);
        let good = frame(
            "#commit",
            map(vec![
                ("seq", Cbor::Integer(1.into())),
                ("repo", Cbor::Text("did:plc:x".into())),
                (
                    "ops",
                    Cbor::Array(vec![map(vec![
                        ("action", Cbor::Text("create".into())),
                        ("path", Cbor::Text("app.bsky.feed.post/1".into())),
                        ("cid", link(&cid(1))),
                    ])]),
                ),
                ("blocks", Cbor::Bytes(car(&[(cid(1), vec![0xA0])]))),
            ]),
        );
        assert!(decode_frame(&good).is_ok());
        for _ in 0..5_000 {
            let mut bytes = good.clone();
            bytes.truncate(rng.below(bytes.len() + 1));
            for _ in 0..rng.below(4) {
                if !bytes.is_empty() {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.below(256) as u8;
                }
            }
            let _ = decode_frame(&bytes);
        }
        assert!(decode_frame(b"").is_err());
        assert!(car_blocks(&[0xFF; 12]).is_err());
    }
}
