//! The ingest stage: where every mention the sources read goes, whatever source read it.
//!
//! ```text
//! listen (sources, cursors) ──Batch──► ingest: classify ──► store mention + draft (one
//!                                              transaction) ──► live crisis detector
//! ```
//!
//! A draft whose link goes through the click redirect has the redirect's target stored just
//! before it (`inbox::draft::remember_click_link`).
//!
//! As in vector's topology, the sources only emit: `listen` polls, parses and hands each poll's
//! mentions to this stage through its [`MentionSink`] seam, and saves the source's cursor only
//! after this stage has stored them. This stage classifies each mention, stores it once (a
//! mention seen again, by the same source or another, adds nothing) with its reply draft in the
//! same store transaction, logs it with lead contacts masked, and sends what is new (and not a
//! source's history) to the live crisis detector. It owns no loop and no task: it runs inside
//! the listener's poll, so its store writes are done before the cursor moves.

use std::sync::Arc;

use tracing::{debug, info, warn};

use crate::classify::lead::mask;
use crate::classify::Classifier;
use crate::clock::{system_clock, Clock};
use crate::crisis::live::{LiveMention, LiveSender};
use crate::inbox::{Drafter, Verdict};
use crate::listen::sink::{Batch, MentionSink};
use crate::listen::Mention;
use crate::store::{Store, StoreError, StoredMention};

/// The ingest stage, built once by the wiring and shared by every listener.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    classifier: Arc<Classifier>,
    drafter: Option<Arc<Drafter>>,
    /// Where new mentions go for live crisis detection, when it runs.
    live: Option<LiveSender>,
    clock: Clock,
}

impl Ingest {
    /// A stage that classifies with `classifier` and stores into `store`; no drafts, no live
    /// detection until they are added.
    pub fn new(store: Store, classifier: Arc<Classifier>) -> Self {
        Self {
            store,
            classifier,
            drafter: None,
            live: None,
            clock: system_clock(),
        }
    }

    /// Drafts replies to new mentions into the inbox's queue, with the mention.
    pub fn with_drafter(self, drafter: Option<Arc<Drafter>>) -> Self {
        Self { drafter, ..self }
    }

    /// Also sends each new mention (not a source's history) to the live crisis detector.
    pub fn with_live(self, live: LiveSender) -> Self {
        Self {
            live: Some(live),
            ..self
        }
    }

    /// The clock drafts are dated by.
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// One mention from the source named `source`: classified, stored with its draft unless
    /// already stored, and sent to the live detector unless it is `history`. Returns whether
    /// it was new.
    pub fn one(&self, source: &str, m: Mention, history: bool) -> Result<bool, StoreError> {
        let c = self.classifier.classify(&m.text, Some(&m.author));
        let record = StoredMention::new(m, source, &c);
        // The draft is written with the mention, in one transaction: a crash between the two
        // can no longer leave a stored mention that was never drafted.
        let verdict = self
            .drafter
            .as_ref()
            .map(|d| d.draft(&record, (self.clock)()));
        let draft = match &verdict {
            Some(Verdict::Draft(item)) => Some(item.as_ref()),
            _ => None,
        };
        // The click redirect's target before the draft that links to it.
        if let (Some(d), Some(item)) = (&self.drafter, draft) {
            crate::inbox::draft::remember_click_link(d, &self.store, item, (self.clock)())?;
        }
        let ingested = self.store.mentions().insert_with_draft(&record, draft)?;
        if !ingested.new {
            return Ok(false);
        }
        match (&verdict, ingested.queued, draft) {
            (_, Some(id), Some(item)) => info!(
                item = id,
                priority = item.priority.as_str(),
                template = %item.template,
                "Reply drafted"
            ),
            (Some(Verdict::Skip(why)), _, _) => {
                debug!(mention = %record.mention.id, why = %why, "No reply drafted")
            }
            _ => {}
        }
        if let Some(live) = self.live.as_ref().filter(|_| !history) {
            // Never block polling on the detector: a full channel drops, loudly.
            if let Err(e) = live.try_send(LiveMention::from_stored(&record)) {
                warn!(source, error = %e, "Crisis detector is behind; mention not observed live");
            }
        }
        info!(
            source,
            author = %record.mention.author,
            intent = ?c.intent,
            sentiment = c.sentiment.label.as_str(),
            // Phone numbers and the like stay out of the log.
            text = %mask(&record.mention.text),
            "Mention"
        );
        Ok(true)
    }
}

impl MentionSink for Ingest {
    /// Every mention of the batch in order; the first store failure stops the batch (the
    /// listener then keeps the cursor, so the rest is read again).
    fn ingest(&self, batch: Batch<'_>) -> Result<usize, StoreError> {
        let mut new = 0;
        for m in batch.mentions {
            if self.one(batch.source, m, batch.history)? {
                new += 1;
            }
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::run::{Listener, Source};
    use crate::listen::social::MastodonMentions;
    use chrono::Utc;

    /// A listener keeping its cursors in `store` and handing what it reads to `ingest`.
    fn listener_for(store: &Store, ingest: Ingest) -> Listener {
        Listener::new(store.clone(), Arc::new(ingest))
    }

    /// The checked-in keywords' classifier.
    fn keyword_classifier() -> Arc<Classifier> {
        let keywords = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&keywords).expect("keywords");
        Arc::new(Classifier::new(&groups).expect("classifier"))
    }

    /// The checked-in reply templates' drafter, for Mastodon.
    fn drafter() -> Drafter {
        let keywords = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let replies = crate::inbox::templates::load(&keywords.join("replies.toml"))
            .expect("replies.toml")
            .expect("replies.toml exists");
        Drafter::new(
            replies,
            chrono_tz::Asia::Shanghai,
            Default::default(),
            [("mastodon".to_string(), "masto".to_string())]
                .into_iter()
                .collect(),
        )
    }

    fn mention(id: &str, text: &str) -> Mention {
        Mention {
            id: id.to_string(),
            platform: "mastodon".to_string(),
            author: "alice".to_string(),
            text: text.to_string(),
            created_at: Utc::now(),
            url: None,
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        }
    }

    fn batch(mentions: Vec<Mention>, history: bool) -> Batch<'static> {
        Batch {
            source: "m",
            mentions,
            history,
        }
    }

    /// With clicks counted, a drafted reply's redirect target is stored with the draft, on
    /// every backend; the same mention again writes nothing new.
    #[test]
    fn a_drafted_replys_click_link_is_stored_with_it() {
        for t in crate::store::testing::each() {
            let base = url::Url::parse("https://go.example.com").expect("url");
            let ingest = Ingest::new(t.store.clone(), keyword_classifier())
                .with_drafter(Some(Arc::new(drafter().with_clicks(Some(base)))));
            let m = vec![mention("m:lead", "下周想试驾奇骏，电话13812345678")];
            assert_eq!(ingest.ingest(batch(m.clone(), false)).expect("ingest"), 1);
            let ids = t
                .store
                .queue()
                .ids(crate::domain::ReplyState::Pending)
                .expect("ids");
            let item = t
                .store
                .queue()
                .item(ids[0])
                .expect("item")
                .expect("drafted");
            assert!(
                item.text
                    .contains(&format!("https://go.example.com/r/{}", item.source_code)),
                "{}: {}",
                t.backend,
                item.text
            );
            let links = t.store.clicks().links().expect("links");
            assert_eq!(links.len(), 1, "{}", t.backend);
            assert_eq!(links[0].code, item.source_code, "{}", t.backend);
            assert!(
                links[0].target.starts_with("https://"),
                "{}",
                links[0].target
            );
            assert_eq!(ingest.ingest(batch(m, false)).expect("again"), 0);
            assert_eq!(t.store.clicks().links().expect("links"), links);
        }
    }

    /// Each mention is classified and stored, with the source's name; the same batch again
    /// (a source re-reading, or another source finding the same posts) stores nothing more.
    #[test]
    fn a_batch_is_classified_and_stored_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let ingest = Ingest::new(store.clone(), keyword_classifier());
        let mentions = vec![
            mention("m:1", "刹车失灵了，太危险，投诉！"),
            mention("m:2", "今天路过春熙路"),
        ];
        assert_eq!(
            ingest
                .ingest(batch(mentions.clone(), false))
                .expect("ingest"),
            2
        );
        let stored = store
            .mentions()
            .list(&Default::default())
            .expect("mentions");
        assert_eq!(stored.len(), 2);
        let complaint = stored
            .iter()
            .find(|m| m.mention.id == "m:1")
            .expect("m:1 stored");
        assert_eq!(complaint.source, "m");
        assert_eq!(complaint.classification.intent.as_str(), "complaint");
        assert_eq!(
            complaint.classification.sentiment.label.as_str(),
            "negative"
        );
        assert_eq!(ingest.ingest(batch(mentions, false)).expect("again"), 0);
        assert_eq!(
            store
                .mentions()
                .list(&Default::default())
                .expect("mentions")
                .len(),
            2
        );
    }

    /// A mention that wants an answer is stored with its draft; one that wants none is stored
    /// alone; seen again, neither adds a draft.
    #[test]
    fn a_new_mention_is_drafted_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let ingest = Ingest::new(store.clone(), keyword_classifier())
            .with_drafter(Some(Arc::new(drafter())));
        let mentions = vec![
            mention("m:1", "刹车失灵了，太危险，投诉！"),
            mention("m:2", "今天路过春熙路"),
        ];
        ingest
            .ingest(batch(mentions.clone(), false))
            .expect("ingest");
        assert!(store.queue().is_queued("m:1").expect("queued?"));
        assert!(!store.queue().is_queued("m:2").expect("queued?"));
        ingest.ingest(batch(mentions, false)).expect("again");
        assert_eq!(
            store
                .queue()
                .count(&crate::store::QueueQuery::default())
                .expect("count"),
            1
        );
    }

    /// The live detector gets each new mention once: not a source's history, not a repeat.
    #[test]
    fn new_mentions_feed_the_detector_history_and_repeats_do_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let (tx, mut rx) = crate::crisis::live::channel();
        let ingest = Ingest::new(store.clone(), keyword_classifier()).with_live(tx);
        let old = mention("m:old", "刹车失灵了");
        assert_eq!(
            ingest
                .ingest(batch(vec![old.clone()], true))
                .expect("history"),
            1
        );
        assert!(rx.try_recv().is_err(), "history reached the live detector");
        let news = mention("m:new", "刹车又失灵了");
        assert_eq!(
            ingest
                .ingest(batch(vec![old, news.clone()], false))
                .expect("news"),
            1
        );
        assert_eq!(rx.try_recv().expect("the new mention").id, "m:new");
        assert_eq!(ingest.ingest(batch(vec![news], false)).expect("again"), 0);
        assert!(rx.try_recv().is_err(), "a repeat reached the live detector");
    }

    /// Through a listener: the cursor a poll returns is saved only once the stage has stored
    /// that poll's mentions (the stage sees the old cursor; the store then has both).
    #[tokio::test]
    async fn the_cursor_moves_after_the_stage_stored_the_mentions() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        /// The ingest stage, noting the cursor the store held when it was called.
        struct Watching {
            inner: Ingest,
            store: Store,
            seen: std::sync::Mutex<Vec<Option<String>>>,
        }
        impl MentionSink for Watching {
            fn ingest(&self, batch: Batch<'_>) -> Result<usize, StoreError> {
                let cursor = self.store.meta().cursor(batch.source)?;
                self.seen.lock().expect("lock").push(cursor);
                self.inner.ingest(batch)
            }
        }

        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let sink = Arc::new(Watching {
            inner: Ingest::new(store.clone(), keyword_classifier()),
            store: store.clone(),
            seen: Default::default(),
        });
        let listener = Listener::new(store.clone(), sink.clone());
        let server = MockServer::start().await;
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            url::Url::parse(&server.uri()).expect("url"),
            "token".into(),
        ));
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .respond_with(ResponseTemplate::new(200).set_body_json(notification("5", "刹车失灵了")))
            .mount(&server)
            .await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        assert_eq!(*sink.seen.lock().expect("lock"), vec![None]);
        assert_eq!(
            store.meta().cursor("m").expect("cursor").as_deref(),
            Some("5")
        );
        assert_eq!(
            store
                .mentions()
                .list(&Default::default())
                .expect("mentions")
                .len(),
            1
        );
    }

    /// A notification as mastodon-mock answers it.
    fn notification(id: &str, text: &str) -> serde_json::Value {
        serde_json::json!([{
            "id": id,
            "type": "mention",
            "account": {"acct": "alice"},
            "status": {
                "id": format!("s{id}"),
                "content": format!("<p>{text}</p>"),
                "created_at": Utc::now().to_rfc3339(),
                "account": {"acct": "alice"},
            },
        }])
    }

    /// The live detector gets what is news: not a first poll's history, but everything after a
    /// first poll, even one that found nothing and so left no cursor (an account never mentioned
    /// before: the bug that made the end-to-end crisis test miss its first mention).
    #[tokio::test]
    async fn only_a_first_polls_history_is_kept_from_the_live_detector() {
        use wiremock::matchers::{method, path, query_param};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(crate::classify::Classifier::new(&[]).expect("classifier"));
        let server = MockServer::start().await;
        let base = url::Url::parse(&server.uri()).expect("url");
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            base,
            "token".into(),
        ));
        let (tx, mut rx) = crate::crisis::live::channel();
        let listener = listener_for(&store, Ingest::new(store.clone(), classifier).with_live(tx));
        let poll = |answer: serde_json::Value| {
            Mock::given(method("GET"))
                .and(path("/api/v1/notifications"))
                .respond_with(ResponseTemplate::new(200).set_body_json(answer))
                .up_to_n_times(1)
        };

        // Nothing yet: no cursor is kept.
        poll(serde_json::json!([])).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 0);
        // The first mention after that is news, though the source still had no cursor.
        poll(notification("1", "first")).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        let live = rx
            .try_recv()
            .expect("the first mention reached the detector");
        assert!(live.id.ends_with(":s1"), "{}", live.id);
        // And so is the next one, read after the cursor.
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .and(query_param("min_id", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(notification("2", "next")))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        assert!(rx.try_recv().expect("next").id.ends_with(":s2"));
        assert_eq!(listener.stats("m").ok, 3);

        // A listener starting on a source with history and no cursor keeps that history away.
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(crate::classify::Classifier::new(&[]).expect("classifier"));
        let (tx, mut rx) = crate::crisis::live::channel();
        let listener = listener_for(&store, Ingest::new(store.clone(), classifier).with_live(tx));
        poll(notification("7", "old news")).mount(&server).await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 1);
        assert!(rx.try_recv().is_err(), "history reached the live detector");
    }

    /// A new mention that wants an answer is stored with its draft (one transaction); one
    /// that wants none is stored alone; a mention seen again adds nothing.
    #[tokio::test]
    async fn a_new_mention_is_stored_with_its_draft() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let keywords = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&keywords).expect("keywords");
        let replies = crate::inbox::templates::load(&keywords.join("replies.toml"))
            .expect("replies.toml")
            .expect("replies.toml exists");
        let drafter = crate::inbox::Drafter::new(
            replies,
            chrono_tz::Asia::Shanghai,
            Default::default(),
            [("mastodon".to_string(), "masto".to_string())]
                .into_iter()
                .collect(),
        );
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let classifier = Arc::new(Classifier::new(&groups).expect("classifier"));
        let listener = listener_for(
            &store,
            Ingest::new(store.clone(), classifier).with_drafter(Some(Arc::new(drafter))),
        );
        let server = MockServer::start().await;
        let source = Source::Mastodon(MastodonMentions::new(
            reqwest::Client::new(),
            url::Url::parse(&server.uri()).expect("url"),
            "token".into(),
        ));
        let mut answer = notification("1", "刹车失灵了，太危险，投诉！");
        answer.as_array_mut().expect("array").extend(
            notification("2", "今天路过春熙路")
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        answer[1]["status"]["id"] = "s2".into();
        Mock::given(method("GET"))
            .and(path("/api/v1/notifications"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&server)
            .await;
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 2);
        let ids: Vec<String> = store
            .mentions()
            .list(&Default::default())
            .expect("mentions")
            .into_iter()
            .map(|m| m.mention.id)
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        let drafted: Vec<bool> = ids
            .iter()
            .map(|id| store.queue().is_queued(id).expect("queued?"))
            .collect();
        assert_eq!(drafted.iter().filter(|d| **d).count(), 1, "{ids:?}");
        // The same answer again (no cursor moves a mock): nothing new, no second draft.
        store.meta().set_cursor("m", "0").expect("cursor");
        assert_eq!(listener.poll_once("m", &source).await.expect("poll"), 0);
        assert_eq!(
            store
                .queue()
                .count(&crate::store::QueueQuery::default())
                .expect("count"),
            1
        );
    }
}
