//! Mentions in the store: one tree of records in time order, and index trees by id (for
//! de-duplication), by author, by topic (keyword group and rule) and by content (the same text
//! from the same author seen through two sources).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use sled::transaction::TransactionError;
use sled::Transactional;

use super::{MentionStore, Mentions, SledStore, StoreError};
use crate::classify::Classification;
use crate::domain::{Mention, QueueItem};

/// A mention as stored: the contract's fields and what classification found, typed (the
/// JSON is the one `herald classify` prints under the same names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMention {
    #[serde(flatten)]
    pub mention: Mention,
    /// Where herald found it (the source's name).
    pub source: String,
    pub classification: Classification,
}

impl StoredMention {
    pub fn new(mention: Mention, source: &str, classification: &Classification) -> Self {
        Self {
            mention,
            source: source.to_string(),
            classification: classification.clone(),
        }
    }

    /// `group/rule` of every keyword match.
    pub fn topics(&self) -> Vec<String> {
        self.classification.topics()
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct MentionQuery {
    pub since: Option<DateTime<Utc>>,
    pub author: Option<String>,
    /// A keyword group (`crisis`) or `group/rule`.
    pub topic: Option<String>,
    /// Text that must occur in the mention (case-insensitive).
    pub text: Option<String>,
    /// The platform (`mastodon`, `bluesky`, …; case-insensitive).
    pub platform: Option<String>,
    /// The sentiment label (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
    /// The intent (`complaint`, `question`, `purchase`, `praise`, `other`).
    pub intent: Option<String>,
    /// At most this many (0: all).
    pub limit: usize,
}

impl MentionQuery {
    /// Whether `m` meets every filter: the one predicate both backends apply (PostgreSQL to what
    /// its SQL found, which compares the same things but keeps microseconds only and cannot do
    /// ASCII-only case folding).
    pub(crate) fn keeps(&self, m: &StoredMention) -> bool {
        self.since.is_none_or(|s| m.mention.created_at >= s)
            && self
                .author
                .as_ref()
                .is_none_or(|a| m.mention.author.eq_ignore_ascii_case(a))
            && self.topic.as_ref().is_none_or(|t| {
                m.topics()
                    .iter()
                    .any(|x| x == t || x.split('/').next() == Some(t.as_str()))
            })
            && self.text.as_ref().is_none_or(|n| {
                m.mention
                    .text
                    .to_lowercase()
                    .contains(n.to_lowercase().as_str())
            })
            && self
                .platform
                .as_ref()
                .is_none_or(|p| m.mention.platform.eq_ignore_ascii_case(p))
            && self
                .sentiment
                .as_ref()
                .is_none_or(|s| m.classification.sentiment.label.as_str() == s)
            && self
                .intent
                .as_ref()
                .is_none_or(|i| m.classification.intent.as_str() == i)
    }
}

pub(super) fn time_key(at: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut k = ((at.timestamp_micros() as u64) ^ (1 << 63))
        .to_be_bytes()
        .to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

pub(super) fn content_key(m: &Mention) -> Vec<u8> {
    let text: String = m
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    crate::fnv1a(format!("{}\u{0}{text}", m.author.to_lowercase()).as_bytes())
        .to_be_bytes()
        .to_vec()
}

/// What [`MentionStore::insert_with_draft`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// The mention was new and is stored.
    pub new: bool,
    /// The id of the queue item stored with it, when a draft was given and enqueued.
    pub queued: Option<u64>,
}

impl MentionStore for Mentions {
    fn pruned_before(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let micros = self
            .0
            .pruned_before
            .load(std::sync::atomic::Ordering::SeqCst);
        Ok((micros != i64::MIN)
            .then(|| DateTime::from_timestamp_micros(micros))
            .flatten())
    }

    fn raise_pruned_before(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.raise_pruned_before(at)
    }

    /// Stores a mention unless it is already there (same id, or the same author and text from
    /// another source). Returns whether it was new.
    fn insert(&self, m: &StoredMention) -> Result<bool, StoreError> {
        Ok(self.insert_with_draft(m, None)?.new)
    }

    /// Stores a mention unless it is already there (as [`MentionStore::insert`]) and, in the
    /// same sled transaction, the reply drafted for it: a crash can leave neither or both,
    /// never a stored mention whose draft was lost. Flushed before it returns. A mention older
    /// than what retention deleted is not new.
    fn insert_with_draft(
        &self,
        m: &StoredMention,
        draft: Option<&QueueItem>,
    ) -> Result<Ingested, StoreError> {
        if self.0.is_pruned_time(m.mention.created_at) {
            return Ok(Ingested::default());
        }
        let trees = [
            "mention_ids",
            "mention_content",
            "mentions",
            "mention_by_author",
            "mention_by_topic",
            "queue",
            "queue_index",
            "queue_dims",
            "queue_by_mention",
        ]
        .map(|name| self.0.db.open_tree(name));
        let [ids, content, records, by_author, by_topic, queue, index, dims, by_mention] = {
            let mut opened = Vec::with_capacity(trees.len());
            for t in trees {
                opened.push(t?);
            }
            <[sled::Tree; 9]>::try_from(opened).map_err(|_| StoreError::Corrupt {
                key: "mentions".into(),
                why: "cannot open its trees".into(),
            })?
        };
        let key = time_key(m.mention.created_at, &m.mention.id);
        let ck = content_key(&m.mention);
        let value = serde_json::to_vec(m).unwrap_or_default();
        let mut ak = m.mention.author.to_lowercase().into_bytes();
        ak.push(0);
        ak.extend_from_slice(&key);
        let topic_keys: Vec<Vec<u8>> = m
            .topics()
            .into_iter()
            .map(|topic| {
                let mut tk = topic.into_bytes();
                tk.push(0);
                tk.extend_from_slice(&key);
                tk
            })
            .collect();
        // The item's id comes from sled's generator outside the transaction (a retried
        // transaction must not burn ids; a gap is harmless).
        let item = match draft {
            Some(d) => {
                let mut item = d.clone();
                item.id = self.0.db.generate_id()? + 1;
                item.mention_id = m.mention.id.clone();
                Some((
                    item.id,
                    serde_json::to_vec(&item).unwrap_or_default(),
                    super::queue::index_key(&item),
                    super::queue::dims_key(&item),
                    super::queue::ts(item.due_at),
                ))
            }
            None => None,
        };
        let result: Result<Ingested, TransactionError<()>> = (
            &ids,
            &content,
            &records,
            &by_author,
            &by_topic,
            &queue,
            &index,
            &dims,
            &by_mention,
        )
            .transaction(
                |(ids, content, records, by_author, by_topic, queue, index, dims, bm)| {
                    // Of two sources racing with the same mention, one wins.
                    if ids.get(m.mention.id.as_bytes())?.is_some() || content.get(&ck)?.is_some() {
                        return Ok(Ingested::default());
                    }
                    ids.insert(m.mention.id.as_bytes(), key.as_slice())?;
                    content.insert(ck.as_slice(), key.as_slice())?;
                    records.insert(key.as_slice(), value.as_slice())?;
                    by_author.insert(ak.as_slice(), &[])?;
                    for tk in &topic_keys {
                        by_topic.insert(tk.as_slice(), &[])?;
                    }
                    let mut queued = None;
                    if let Some((id, value, ik, dk, due)) = &item {
                        if bm.get(m.mention.id.as_bytes())?.is_none() {
                            bm.insert(m.mention.id.as_bytes(), &id.to_be_bytes())?;
                            queue.insert(&id.to_be_bytes(), value.as_slice())?;
                            index.insert(ik.as_slice(), due)?;
                            dims.insert(dk.as_slice(), &[])?;
                            queued = Some(*id);
                        }
                    }
                    Ok(Ingested { new: true, queued })
                },
            );
        let done = result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Corrupt {
                key: "mentions".into(),
                why: "aborted".into(),
            },
            TransactionError::Storage(e) => e.into(),
        })?;
        if done.new {
            self.0.flush()?;
        }
        Ok(done)
    }

    /// Mentions matching `q`, newest first.
    fn list(&self, q: &MentionQuery) -> Result<Vec<StoredMention>, StoreError> {
        let tree = self.0.db.open_tree("mentions")?;
        let decode = |k: &[u8], v: &[u8]| {
            serde_json::from_slice::<StoredMention>(v).map_err(|e| StoreError::Corrupt {
                key: format!("mentions/{}", String::from_utf8_lossy(&k[8.min(k.len())..])),
                why: e.to_string(),
            })
        };
        // Narrow by an index when the query names an author or a topic.
        let keys: Option<Vec<Vec<u8>>> = match (&q.author, &q.topic) {
            (Some(a), _) => Some(self.0.index_keys(
                "mention_by_author",
                &a.to_lowercase(),
                false,
            )?),
            (None, Some(t)) => Some(self.0.index_keys("mention_by_topic", t, !t.contains('/'))?),
            _ => None,
        };
        let keep = |m: &StoredMention| q.keeps(m);
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut out = Vec::new();
        match keys {
            Some(mut keys) => {
                keys.sort_unstable_by(|a, b| b.cmp(a));
                keys.dedup();
                for k in keys {
                    if let Some(v) = tree.get(&k)? {
                        let m = decode(&k, &v)?;
                        if keep(&m) {
                            out.push(m);
                            if out.len() >= limit {
                                break;
                            }
                        }
                    }
                }
            }
            None => {
                for kv in tree.iter().rev() {
                    let (k, v) = kv?;
                    let m = decode(&k, &v)?;
                    if q.since.is_some_and(|s| m.mention.created_at < s) {
                        break; // time order: nothing older can match
                    }
                    if keep(&m) {
                        out.push(m);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Mentions posted in `[from, to)`, oldest first (a range scan of the time-ordered tree, so
    /// an old window costs no more than a recent one).
    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredMention>, StoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let tree = self.0.db.open_tree("mentions")?;
        tree.range(time_key(from, "")..time_key(to, ""))
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice::<StoredMention>(&v).map_err(|e| StoreError::Corrupt {
                    key: format!("mentions/{}", String::from_utf8_lossy(&k[8.min(k.len())..])),
                    why: e.to_string(),
                })
            })
            .collect()
    }

    fn import(&self, mentions: &[StoredMention]) -> Result<usize, StoreError> {
        let trees = [
            "mention_ids",
            "mention_content",
            "mentions",
            "mention_by_author",
            "mention_by_topic",
        ]
        .map(|name| self.0.db.open_tree(name));
        let mut opened = Vec::with_capacity(trees.len());
        for t in trees {
            opened.push(t?);
        }
        let [ids, content, records, by_author, by_topic] = <[sled::Tree; 5]>::try_from(opened)
            .map_err(|_| StoreError::Corrupt {
                key: "mentions".into(),
                why: "cannot open its trees".into(),
            })?;
        let rows: Vec<_> = mentions
            .iter()
            .map(|m| {
                let key = time_key(m.mention.created_at, &m.mention.id);
                let mut ak = m.mention.author.to_lowercase().into_bytes();
                ak.push(0);
                ak.extend_from_slice(&key);
                let topic_keys: Vec<Vec<u8>> = m
                    .topics()
                    .into_iter()
                    .map(|topic| {
                        let mut tk = topic.into_bytes();
                        tk.push(0);
                        tk.extend_from_slice(&key);
                        tk
                    })
                    .collect();
                (
                    m.mention.id.as_bytes(),
                    content_key(&m.mention),
                    serde_json::to_vec(m).unwrap_or_default(),
                    key,
                    ak,
                    topic_keys,
                )
            })
            .collect();
        let result: Result<(), TransactionError<()>> = (
            &ids, &content, &records, &by_author, &by_topic,
        )
            .transaction(|(ids, content, records, by_author, by_topic)| {
                for (id, ck, value, key, ak, topic_keys) in &rows {
                    ids.insert(*id, key.as_slice())?;
                    // Two mentions with the same author and text (stored before the
                    // content index existed) are both kept; the index keeps the first.
                    if content.get(ck)?.is_none() {
                        content.insert(ck.as_slice(), key.as_slice())?;
                    }
                    records.insert(key.as_slice(), value.as_slice())?;
                    by_author.insert(ak.as_slice(), &[])?;
                    for tk in topic_keys {
                        by_topic.insert(tk.as_slice(), &[])?;
                    }
                }
                Ok(())
            });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Corrupt {
                key: "mentions".into(),
                why: "aborted".into(),
            },
            TransactionError::Storage(e) => e.into(),
        })?;
        self.0.flush()?;
        Ok(mentions.len())
    }
}

impl SledStore {
    /// Record keys under an index prefix (`prefix\0…`, or `prefix/…` for a whole group).
    fn index_keys(
        &self,
        tree: &str,
        prefix: &str,
        group: bool,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let index = self.db.open_tree(tree)?;
        let mut p = prefix.as_bytes().to_vec();
        p.push(if group { b'/' } else { 0 });
        let mut keys = Vec::new();
        for kv in index.scan_prefix(&p) {
            let (k, _) = kv?;
            if let Some(pos) = k.iter().position(|b| *b == 0) {
                keys.push(k[pos + 1..].to_vec());
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::classify::intent::Intent;
    use crate::classify::sentiment::{Label, Scored};
    use crate::classify::MatchOut;
    #[allow(unused_imports)]
    use crate::store::Store;

    pub(in crate::store) fn mention(
        id: &str,
        author: &str,
        text: &str,
        at: &str,
        topics: &[(&str, &str)],
    ) -> StoredMention {
        let c = Classification {
            sentiment: Scored {
                label: Label::Neutral,
                score: 0.0,
            },
            matches: topics
                .iter()
                .map(|(g, r)| MatchOut {
                    group: g.to_string(),
                    rule: r.to_string(),
                    term: "t".into(),
                })
                .collect(),
            intent: Intent::Other,
            lead: None,
        };
        let m = Mention {
            id: id.into(),
            platform: "mastodon".into(),
            author: author.into(),
            text: text.into(),
            created_at: DateTime::parse_from_rfc3339(at)
                .expect("t")
                .with_timezone(&Utc),
            url: None,
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        };
        StoredMention::new(m, "src", &c)
    }

    #[test]
    fn stored_once_and_found_by_each_index() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let a = mention(
                "m1",
                "Alice",
                "刹车失灵了",
                "2026-11-22T10:00:00Z",
                &[("crisis", "brake-failure")],
            );
            let b = mention(
                "m2",
                "bob",
                "想试驾",
                "2026-11-22T11:00:00Z",
                &[("product", "ariya")],
            );
            let c = mention("m3", "alice", "thanks!", "2026-11-22T12:00:00Z", &[]);
            for m in [&a, &b, &c] {
                assert!(store.mentions().insert(m).expect("insert"));
            }
            assert!(!store.mentions().insert(&a).expect("again"), "same id");
            let mut copy = a.clone();
            copy.mention.id = "feed:other:1".into();
            copy.mention.text = " 刹车失灵了 ".into();
            assert!(
                !store.mentions().insert(&copy).expect("copy"),
                "same author and text via another source"
            );

            let ids = |q: MentionQuery| -> Vec<String> {
                store
                    .mentions()
                    .list(&q)
                    .expect("query")
                    .into_iter()
                    .map(|m| m.mention.id)
                    .collect()
            };
            assert_eq!(ids(MentionQuery::default()), ["m3", "m2", "m1"]);
            assert_eq!(
                ids(MentionQuery {
                    author: Some("ALICE".into()),
                    ..Default::default()
                }),
                ["m3", "m1"]
            );
            assert_eq!(
                ids(MentionQuery {
                    topic: Some("crisis".into()),
                    ..Default::default()
                }),
                ["m1"]
            );
            assert_eq!(
                ids(MentionQuery {
                    topic: Some("product/ariya".into()),
                    ..Default::default()
                }),
                ["m2"]
            );
            assert_eq!(
                ids(MentionQuery {
                    text: Some("THANKS".into()),
                    ..Default::default()
                }),
                ["m3"]
            );
            let since = DateTime::parse_from_rfc3339("2026-11-22T10:30:00Z")
                .expect("t")
                .with_timezone(&Utc);
            assert_eq!(
                ids(MentionQuery {
                    since: Some(since),
                    ..Default::default()
                }),
                ["m3", "m2"]
            );
            assert_eq!(
                ids(MentionQuery {
                    limit: 1,
                    ..Default::default()
                }),
                ["m3"]
            );
            // Classification and platform filters, with a limit that only counts what matches.
            let mut d = mention("m4", "carol", "投诉", "2026-11-22T13:00:00Z", &[]);
            d.classification.intent = Intent::Complaint;
            d.classification.sentiment.label = Label::Negative;
            d.mention.platform = "bluesky".into();
            assert!(store.mentions().insert(&d).expect("insert"));
            for (q, want) in [
                (
                    MentionQuery {
                        intent: Some("complaint".into()),
                        limit: 1,
                        ..Default::default()
                    },
                    vec!["m4"],
                ),
                (
                    MentionQuery {
                        intent: Some("other".into()),
                        limit: 2,
                        ..Default::default()
                    },
                    vec!["m3", "m2"],
                ),
                (
                    MentionQuery {
                        sentiment: Some("negative".into()),
                        ..Default::default()
                    },
                    vec!["m4"],
                ),
                (
                    MentionQuery {
                        platform: Some("MASTODON".into()),
                        author: Some("alice".into()),
                        ..Default::default()
                    },
                    vec!["m3", "m1"],
                ),
                (
                    MentionQuery {
                        platform: Some("bluesky".into()),
                        intent: Some("other".into()),
                        ..Default::default()
                    },
                    vec![],
                ),
            ] {
                assert_eq!(ids(q.clone()), want, "{q:?}");
            }
        }
    }

    /// A mention as today's (and earlier) herald wrote it, raw JSON with the classification
    /// as an untyped object, reads as a typed record, filters as before, and writes back the
    /// same JSON; a lead written before `test_drive` existed reads as no test drive.
    #[test]
    fn a_mention_in_the_stored_json_shape_reads_typed_and_round_trips() {
        use crate::classify::lead::Grade;
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let today = serde_json::json!({
            "id": "m1", "platform": "mastodon", "author": "alice", "text": "刹车失灵，电话13812345678",
            "created_at": "2026-11-22T10:00:00Z", "source": "masto",
            "classification": {
                "sentiment": {"label": "negative", "score": -0.75},
                "matches": [{"group": "crisis", "rule": "brake-failure", "term": "刹车失灵"}],
                "intent": "complaint",
                "lead": {"grade": "cold", "phone": true, "email": false, "test_drive": false}
            }
        });
        let older = serde_json::json!({
            "id": "m2", "platform": "bluesky", "author": "bob", "text": "想买，a@b.cn",
            "created_at": "2026-11-22T11:00:00Z", "source": "sky",
            "classification": {
                "sentiment": {"label": "neutral", "score": 0.0},
                "matches": [],
                "intent": "purchase",
                "lead": {"grade": "warm", "phone": false, "email": true}
            }
        });
        let tree = store.as_sled().db.open_tree("mentions").expect("tree");
        for (v, id, at) in [
            (&today, "m1", "2026-11-22T10:00:00Z"),
            (&older, "m2", "2026-11-22T11:00:00Z"),
        ] {
            let at = DateTime::parse_from_rfc3339(at)
                .expect("t")
                .with_timezone(&Utc);
            tree.insert(time_key(at, id), serde_json::to_vec(v).expect("json"))
                .expect("raw insert");
        }
        let found = store
            .mentions()
            .list(&MentionQuery::default())
            .expect("read");
        let (m2, m1) = (&found[0], &found[1]);
        let c = &m1.classification;
        assert_eq!(
            (c.sentiment.label, c.intent, c.is_crisis(), c.is_negative()),
            (Label::Negative, Intent::Complaint, true, true)
        );
        assert_eq!(m1.topics(), ["crisis/brake-failure"]);
        assert_eq!(
            c.lead.as_ref().map(|l| (l.grade, l.phone, l.email)),
            Some((Grade::Cold, true, false))
        );
        let lead = m2.classification.lead.as_ref().expect("lead");
        assert_eq!(
            (
                lead.grade,
                lead.email,
                lead.test_drive,
                lead.timeframe_months
            ),
            (Grade::Warm, true, false, None)
        );
        assert_eq!(serde_json::to_value(m1).expect("json"), today);
        let ids = |q: MentionQuery| -> Vec<String> {
            let found = store.mentions().list(&q).expect("query");
            found.into_iter().map(|m| m.mention.id).collect()
        };
        let by_intent = MentionQuery {
            intent: Some("purchase".into()),
            ..Default::default()
        };
        let by_sentiment = MentionQuery {
            sentiment: Some("negative".into()),
            ..Default::default()
        };
        assert_eq!(ids(by_intent), ["m2"]);
        assert_eq!(ids(by_sentiment), ["m1"]);
    }

    #[test]
    fn mentions_between_is_a_half_open_time_range_oldest_first() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            for (id, at) in [
                ("a", "2026-11-22T09:59:59Z"),
                ("b", "2026-11-22T10:00:00Z"),
                ("c", "2026-11-22T10:30:00Z"),
                ("d", "2026-11-22T11:00:00Z"),
            ] {
                store
                    .mentions()
                    .insert(&mention(id, id, id, at, &[]))
                    .expect("insert");
            }
            let t = |s: &str| {
                DateTime::parse_from_rfc3339(s)
                    .expect("t")
                    .with_timezone(&Utc)
            };
            let ids: Vec<String> = store
                .mentions()
                .between(t("2026-11-22T10:00:00Z"), t("2026-11-22T11:00:00Z"))
                .expect("range")
                .into_iter()
                .map(|m| m.mention.id)
                .collect();
            assert_eq!(ids, ["b", "c"]);
            assert!(store
                .mentions()
                .between(t("2026-11-22T11:00:00Z"), t("2026-11-22T10:00:00Z"))
                .expect("empty")
                .is_empty());
        }
    }

    #[test]
    fn cursors_persist() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            assert_eq!(store.meta().cursor("masto").expect("get"), None);
            store.meta().set_cursor("masto", "1234").expect("set");
            assert_eq!(
                store.meta().cursor("masto").expect("get").as_deref(),
                Some("1234")
            );
        }
    }

    #[test]
    fn a_mention_and_its_draft_are_written_together_once() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let m = mention("m1", "alice", "刹车失灵了", "2026-11-22T10:00:00Z", &[]);
            let draft = crate::domain::queue::tests::item(crate::domain::ReplyState::Pending);
            let done = store
                .mentions()
                .insert_with_draft(&m, Some(&draft))
                .expect("insert");
            assert!(done.new);
            let id = done.queued.expect("queued");
            let item = store
                .queue()
                .item_for_mention("m1")
                .expect("get")
                .expect("the draft is there with the mention");
            assert_eq!((item.id, item.mention_id.as_str()), (id, "m1"));
            assert_eq!(
                store
                    .mentions()
                    .list(&MentionQuery::default())
                    .expect("q")
                    .len(),
                1
            );
            // Seen again (same id, or same text from another source): neither is written again.
            assert_eq!(
                store
                    .mentions()
                    .insert_with_draft(&m, Some(&draft))
                    .expect("again"),
                Ingested::default()
            );
            let mut copy = m.clone();
            copy.mention.id = "feed:other:1".into();
            assert_eq!(
                store
                    .mentions()
                    .insert_with_draft(&copy, Some(&draft))
                    .expect("copy"),
                Ingested::default()
            );
            assert!(!store.queue().is_queued("feed:other:1").expect("queued?"));
            assert_eq!(
                store
                    .queue()
                    .count(&crate::store::QueueQuery::default())
                    .expect("count"),
                1
            );
            // Without a draft, only the mention.
            let n = mention("m2", "bob", "hello", "2026-11-22T11:00:00Z", &[]);
            let done = store
                .mentions()
                .insert_with_draft(&n, None)
                .expect("insert");
            assert_eq!((done.new, done.queued), (true, None));
            assert!(!store.queue().is_queued("m2").expect("queued?"));
        }
    }

    /// Two processes (four threads) ingest the same mention at once, two by its id and two
    /// as the same text from another source: it is stored once, with one draft.
    #[test]
    fn two_processes_racing_on_one_mention_store_it_once() {
        use crate::store::queue::tests::{race, two_processes};
        let Some((a, b, _schema)) = two_processes() else {
            return;
        };
        let draft = crate::domain::queue::tests::item(crate::domain::ReplyState::Pending);
        for round in 0..8 {
            let m = mention(
                &format!("m{round}"),
                "alice",
                &format!("刹车失灵了 {round}"),
                "2026-11-22T10:00:00Z",
                &[("crisis", "brake-failure")],
            );
            let got = race(&a, &b, |n, s| {
                let mut m = m.clone();
                if n >= 2 {
                    m.mention.id = format!("feed:other:{round}");
                }
                s.mentions()
                    .insert_with_draft(&m, Some(&draft))
                    .expect("insert")
            });
            let won: Vec<&Ingested> = got.iter().filter(|i| i.new).collect();
            assert_eq!(won.len(), 1, "round {round}: {got:?}");
            assert!(won[0].queued.is_some(), "the winner's draft is queued");
            assert!(
                got.iter().filter(|i| !i.new).all(|i| i.queued.is_none()),
                "{got:?}"
            );
        }
        assert_eq!(
            a.mentions()
                .list(&MentionQuery::default())
                .expect("list")
                .len(),
            8
        );
        assert_eq!(
            b.queue()
                .count(&crate::store::QueueQuery::default())
                .expect("count"),
            8,
            "one draft per mention"
        );
    }

    /// On PostgreSQL the filters compare what sled compares (Rust's lowercasing, ASCII-only
    /// case folding for the author and platform, microseconds and more for `since`), so
    /// unusual text lists the same on both backends.
    #[test]
    fn filters_on_unusual_text_match_on_both_backends() {
        let mut found: Vec<Vec<Vec<String>>> = Vec::new();
        for t in crate::store::testing::each() {
            let store = &t.store;
            let mut at_nanos = mention("n", "Ærø", "İstanbul ΣΊΣΥΦΟΣ", "2026-11-22T10:00:00Z", &[]);
            at_nanos.mention.created_at += chrono::TimeDelta::nanoseconds(1500);
            at_nanos.mention.platform = "MastoDon".into();
            for m in [
                at_nanos,
                mention("a", "ærø", "plain", "2026-11-22T10:00:00Z", &[("g/x", "r")]),
                mention(
                    "b",
                    "AERO",
                    "σίσυφος",
                    "2026-11-22T11:00:00Z",
                    &[("g", "r")],
                ),
            ] {
                assert!(
                    store.mentions().insert(&m).expect("insert"),
                    "{}",
                    t.backend
                );
            }
            let since = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.0000016Z")
                .expect("t")
                .with_timezone(&Utc);
            let queries = [
                MentionQuery::default(),
                MentionQuery {
                    author: Some("ÆRø".into()),
                    ..Default::default()
                },
                MentionQuery {
                    author: Some("ærø".into()),
                    ..Default::default()
                },
                MentionQuery {
                    author: Some("ærø".into()),
                    limit: 1,
                    ..Default::default()
                },
                MentionQuery {
                    text: Some("σίσυφος".into()),
                    ..Default::default()
                },
                MentionQuery {
                    text: Some("i̇stanbul".into()),
                    ..Default::default()
                },
                MentionQuery {
                    platform: Some("MASTODON".into()),
                    ..Default::default()
                },
                MentionQuery {
                    since: Some(since),
                    ..Default::default()
                },
                MentionQuery {
                    topic: Some("g".into()),
                    ..Default::default()
                },
                MentionQuery {
                    topic: Some("g/x/r".into()),
                    ..Default::default()
                },
            ];
            found.push(
                queries
                    .iter()
                    .map(|q| {
                        store
                            .mentions()
                            .list(q)
                            .expect("list")
                            .into_iter()
                            .map(|m| m.mention.id)
                            .collect()
                    })
                    .collect(),
            );
        }
        assert_eq!(found[0][0], ["b", "n", "a"], "newest first, then by id");
        assert_eq!(found[0][1], ["n"], "ASCII-only case folding");
        assert_eq!(
            found[0][3],
            ["a"],
            "the limit counts what matches, past rows the database let through"
        );
        assert_eq!(found[0][7], ["b"], "within one microsecond, still earlier");
        if let [sled, pg] = &found[..] {
            assert_eq!(pg, sled);
        }
    }

    /// More mentions than one batch of the PostgreSQL listing, most of them sharing a time:
    /// both backends list them in the same order (time, then the id's bytes), all of them,
    /// and `since` and `between` agree.
    #[test]
    fn many_mentions_sharing_times_list_alike_on_both_backends() {
        let mut rng = fastrand::Rng::with_seed(5);
        let ids: Vec<String> = (0..2300)
            .map(|n| {
                let head = ["a", "B", "z", "é", "Z", "_", "a b"][rng.usize(..7)];
                format!("{head}{}", n * 7919 % 2300)
            })
            .collect();
        let hours: Vec<usize> = (0..ids.len()).map(|_| rng.usize(10..14)).collect();
        let mut found = Vec::new();
        for t in crate::store::testing::each() {
            let store = &t.store;
            for (n, (id, h)) in ids.iter().zip(&hours).enumerate() {
                let at = format!("2026-11-22T{h}:00:00Z");
                let m = mention(id, &format!("u{}", n % 3), &format!("text {n}"), &at, &[]);
                assert!(
                    store.mentions().insert(&m).expect("insert"),
                    "{}",
                    t.backend
                );
            }
            let since = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
                .expect("t")
                .with_timezone(&Utc);
            let list = |q: MentionQuery| -> Vec<String> {
                let found = store.mentions().list(&q).expect("list");
                found.into_iter().map(|m| m.mention.id).collect()
            };
            let between: Vec<String> = store
                .mentions()
                .between(since - chrono::TimeDelta::hours(1), since)
                .expect("between")
                .into_iter()
                .map(|m| m.mention.id)
                .collect();
            found.push((
                list(MentionQuery::default()),
                list(MentionQuery {
                    author: Some("U1".into()),
                    since: Some(since),
                    ..Default::default()
                }),
                list(MentionQuery {
                    limit: 1500,
                    ..Default::default()
                }),
                between,
            ));
        }
        let (all, by_author, first, between) = &found[0];
        assert_eq!(all.len(), ids.len());
        assert!(!by_author.is_empty() && !between.is_empty());
        assert_eq!(first[..], all[..1500]);
        if let [sled, pg] = &found[..] {
            assert!(pg == sled, "PostgreSQL lists differently from sled");
        }
    }
}
