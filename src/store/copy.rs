//! `herald store copy`: moves a whole store from one backend to another (sled → PostgreSQL,
//! PostgreSQL → sled, sled → sled), through the record-kind traits only, with every id kept.
//!
//! What is copied: posts (every state, delivery fields included), both holds, the sources'
//! cursors, users, mentions (with their classification; imported raw, so two of the same
//! author and text both arrive), queue items (ids, states and audit logs; the destination's id
//! generator continues above them), alerts (history and samples) and their deliveries, and the
//! engagement records of published posts (every reading, the next poll), and the tracked links
//! with their click counts. What is not: login sessions (people log in again) and leases (they belong to running processes).
//!
//! This module only reads the source. It refuses a destination that holds any post, mention,
//! queue item, alert or user, and once done re-reads the destination and compares every count
//! with the source's: a mismatch is an error, never a silent partial copy.

use std::fmt;

use super::{Store, StoreError};
use crate::store::{MentionQuery, QueueQuery};

/// Records written per import call: each call is one transaction, so a large store is not
/// one huge transaction (sled keeps a transaction's writes in memory).
const CHUNK: usize = 1000;

/// How many records of each kind a copy wrote (and found again in the destination).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Scheduled posts, every state.
    pub posts: usize,
    /// A person's hold and the crisis hold: 0, 1 or 2.
    pub holds: usize,
    /// Sources' cursors.
    pub cursors: usize,
    /// Web UI users (their sessions are not copied).
    pub users: usize,
    /// Stored mentions.
    pub mentions: usize,
    /// Reply queue items.
    pub queue_items: usize,
    /// Crisis alerts.
    pub alerts: usize,
    /// The alerts' deliveries to their sinks.
    pub alert_deliveries: usize,
    /// Published posts' engagement records (each with all its readings).
    pub engagement: usize,
    /// Tracked links (source code → target) of the click redirect.
    pub click_links: usize,
    /// Click counts (one per source code and UTC hour).
    pub click_counts: usize,
}

impl Copied {
    /// (name, count) of every kind, in the order the output lists them.
    pub fn kinds(&self) -> [(&'static str, usize); 11] {
        [
            ("posts", self.posts),
            ("holds", self.holds),
            ("cursors", self.cursors),
            ("users", self.users),
            ("mentions", self.mentions),
            ("queue items", self.queue_items),
            ("alerts", self.alerts),
            ("alert deliveries", self.alert_deliveries),
            ("engagement", self.engagement),
            ("click links", self.click_links),
            ("click counts", self.click_counts),
        ]
    }
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, n) in self.kinds() {
            writeln!(f, "  {name:<17} {n:>8}")?;
        }
        Ok(())
    }
}

/// Copies every record of `from` into `to` (see the module docs), then checks that `to`
/// holds as many of each kind as `from`. `to` must be empty ([`StoreError::NotEmpty`]).
pub fn copy(from: &Store, to: &Store) -> Result<Copied, StoreError> {
    let held = holdings(to)?;
    if !held.is_empty() {
        return Err(StoreError::NotEmpty {
            location: to.location(),
            holds: held.join(", "),
        });
    }
    let mut done = Copied::default();

    for user in from.users().list()? {
        if to.users().put(&user, false)? {
            done.users += 1;
        }
    }
    for (source, cursor) in from.meta().cursors()? {
        to.meta().set_cursor(&source, &cursor)?;
        done.cursors += 1;
    }
    if let Some(h) = from.meta().hold()? {
        to.meta().set_hold(Some(&h))?;
        done.holds += 1;
    }
    if let Some(h) = from.meta().crisis_hold()? {
        to.meta().set_crisis_hold(Some(&h))?;
        done.holds += 1;
    }
    for chunk in from.posts().all()?.chunks(CHUNK) {
        done.posts += to.posts().import(chunk)?;
    }
    // Oldest first, as they arrived: of two with the same author and text, the older keeps
    // the content key that de-duplicates later arrivals.
    let mut mentions = from.mentions().list(&MentionQuery::default())?;
    mentions.reverse();
    for chunk in mentions.chunks(CHUNK) {
        done.mentions += to.mentions().import(chunk)?;
    }
    // What the source's retention deleted stays old news in the copy.
    if let Some(cutoff) = from.mentions().pruned_before()? {
        to.mentions().raise_pruned_before(cutoff)?;
    }
    drop(mentions);
    for chunk in from.queue().export_all()?.chunks(CHUNK) {
        done.queue_items += to.queue().import(chunk)?;
    }
    for alert in from.alerts().list()? {
        let deliveries = from.alerts().deliveries(&alert.event.id)?;
        to.alerts().import(&alert, &deliveries)?;
        done.alerts += 1;
        done.alert_deliveries += deliveries.len();
    }
    for e in from.engagement().all()? {
        to.engagement().put(&e)?;
        done.engagement += 1;
    }
    for chunk in from.clicks().links()?.chunks(CHUNK) {
        to.clicks().import(chunk, &[])?;
        done.click_links += chunk.len();
    }
    for chunk in from.clicks().counts()?.chunks(CHUNK) {
        to.clicks().import(&[], chunk)?;
        done.click_counts += chunk.len();
    }

    let expected = count(from)?;
    let found = count(to)?;
    for ((kind, e), (_, f)) in expected.kinds().into_iter().zip(found.kinds()) {
        if e != f {
            return Err(StoreError::CopyMismatch {
                kind,
                expected: e,
                found: f,
            });
        }
    }
    // The source was read as it was at each step: a store changed during the copy (a herald
    // still running on a PostgreSQL source) is caught by the counts above or here.
    for ((kind, d), (_, e)) in done.kinds().into_iter().zip(expected.kinds()) {
        if d != e {
            return Err(StoreError::CopyMismatch {
                kind,
                expected: e,
                found: d,
            });
        }
    }
    Ok(done)
}

/// How many records of each kind `store` holds.
fn count(store: &Store) -> Result<Copied, StoreError> {
    let mut deliveries = 0;
    let alerts = store.alerts().list()?;
    for a in &alerts {
        deliveries += store.alerts().deliveries(&a.event.id)?.len();
    }
    Ok(Copied {
        posts: store.posts().all()?.len(),
        holds: store.meta().hold()?.iter().count() + store.meta().crisis_hold()?.iter().count(),
        cursors: store.meta().cursors()?.len(),
        users: store.users().list()?.len(),
        mentions: store.mentions().list(&MentionQuery::default())?.len(),
        queue_items: store.queue().count(&QueueQuery::default())?,
        alerts: alerts.len(),
        alert_deliveries: deliveries,
        engagement: store.engagement().all()?.len(),
        click_links: store.clicks().links()?.len(),
        click_counts: store.clicks().counts()?.len(),
    })
}

/// What `store` holds that makes it no copy destination ("3 posts", "1 user"), empty when it
/// is empty.
fn holdings(store: &Store) -> Result<Vec<String>, StoreError> {
    let first = MentionQuery {
        limit: 1,
        ..MentionQuery::default()
    };
    let found = [
        ("post", store.posts().all()?.len()),
        ("mention", store.mentions().list(&first)?.len()),
        ("queue item", store.queue().count(&QueueQuery::default())?),
        ("alert", store.alerts().list()?.len()),
        ("user", store.users().list()?.len()),
        ("engagement record", store.engagement().all()?.len()),
        ("click link", store.clicks().links()?.len()),
    ];
    Ok(found
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| match (what, n) {
            ("mention", _) => "mentions".to_string(),
            (what, 1) => format!("1 {what}"),
            (what, n) => format!("{n} {what}s"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::domain::queue::{Action, ReplyState};
    use crate::store::testing::{postgres, sled, TestStore};
    use crate::store::{
        AlertEvent, AlertLevel, AlertSample, DeliveryState, Hold, PostState, StoredPost, User,
    };

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn post(channel: &str, at: &str, state: PostState) -> StoredPost {
        let mut p = StoredPost {
            media: Vec::new(),
            channel: channel.into(),
            at: t(at),
            kind: crate::store::PostKind::Manual,
            category: "product".into(),
            draft: "product/a".into(),
            peak: "lunch".into(),
            text: format!("{channel} at {at}"),
            promo: false,
            series: None,
            source_code: "c".into(),
            state,
            title: Some("a title".into()),
            reply: None,
            delivery: Default::default(),
        };
        if state == PostState::Published {
            p.delivery.attempts = 2;
            p.delivery.claimed_at = Some(t(at));
            p.delivery.claimed_by = Some("host:1:abc".into());
            p.delivery.remote_id = Some("r-1".into());
            p.delivery.remote_url = Some("https://example.org/r-1".into());
            p.delivery.published_at = Some(t(at) + TimeDelta::nanoseconds(1_500));
        }
        if state == PostState::Failed {
            p.delivery.attempts = 3;
            p.delivery.next_attempt = Some(t(at) + TimeDelta::minutes(5));
            p.delivery.error = Some("refused".into());
        }
        p
    }

    /// A store with every kind of record; returns the highest queue item id.
    fn fill(store: &Store) -> u64 {
        // Retention ran once: mentions before this are old news in the copies too.
        store
            .mentions()
            .raise_pruned_before(t("2026-10-01T00:00:00Z"))
            .expect("cutoff");
        // Two readings of the published post, and its next poll.
        for (at, likes, next) in [
            ("2026-12-01T12:00:00Z", 1, Some(t("2026-12-01T13:00:00Z"))),
            ("2026-12-01T13:00:00Z", 4, None),
        ] {
            let sample = crate::store::Sample {
                at: t(at),
                replies: 1,
                reposts: 2,
                likes,
                quotes: 0,
            };
            store
                .engagement()
                .record("masto", t("2026-12-01T11:00:00Z"), sample, next)
                .expect("engagement");
        }
        // Two tracked links, one clicked in two hours.
        let link = |code: &str| crate::store::ClickLink {
            code: code.into(),
            target: format!("https://a.example/t?utm_content={code}"),
            since: t("2026-11-30T00:00:00Z"),
        };
        let code = "masto.product.a.20261201T1900";
        store
            .clicks()
            .put_links(&[link(code), link("bsky.product.a.20261201T2000")])
            .expect("links");
        for at in [
            "2026-12-01T12:10:00Z",
            "2026-12-01T12:20:00Z",
            "2026-12-01T14:00:00Z",
        ] {
            store.clicks().record_click(code, t(at)).expect("click");
        }
        let posts = [
            post("masto", "2026-12-01T09:00:00Z", PostState::Planned),
            post("masto", "2026-12-01T10:00:00Z", PostState::Approved),
            post("masto", "2026-12-01T11:00:00Z", PostState::Published),
            post("bsky", "2026-12-01T09:00:00Z", PostState::Failed),
            post("bsky", "2026-12-01T12:00:00Z", PostState::Unconfirmed),
            post("outbox", "1969-12-31T23:00:00Z", PostState::Missed),
        ];
        for p in &posts {
            store.posts().put(p).expect("put post");
        }
        store
            .meta()
            .set_hold(Some(&Hold {
                since: t("2026-12-01T08:00:00Z"),
                reason: "launch".into(),
                categories: vec!["product".into()],
                alerts: vec![],
            }))
            .expect("hold");
        store
            .meta()
            .set_crisis_hold(Some(&Hold {
                since: t("2026-12-01T08:30:00Z"),
                reason: "crisis".into(),
                categories: vec!["promo".into()],
                alerts: vec!["a1".into()],
            }))
            .expect("crisis hold");
        store.meta().set_cursor("masto", "114").expect("cursor");
        store
            .meta()
            .set_cursor("bsky", "2026-12-01T09:00:00Z")
            .expect("cursor");
        for name in ["Alice", "bob"] {
            let user = User {
                name: name.into(),
                password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"),
                created_at: t("2026-11-01T00:00:00Z"),
            };
            assert!(store.users().put(&user, false).expect("user"));
        }
        let session = crate::store::Session {
            user: "Alice".into(),
            csrf: "x".into(),
            created_at: t("2026-12-01T00:00:00Z"),
            expires_at: t("2099-12-01T00:00:00Z"),
        };
        store
            .users()
            .put_session("hash", &session)
            .expect("session");
        let m = crate::store::mentions::tests::mention;
        for (i, (author, text)) in [
            ("carol", "刹车失灵 again"),
            ("dave", "love it"),
            ("erin", "where to buy?"),
        ]
        .iter()
        .enumerate()
        {
            let at = format!("2026-12-01T0{}:00:00Z", i + 1);
            assert!(store
                .mentions()
                .insert(&m(
                    &format!("m{i}"),
                    author,
                    text,
                    &at,
                    &[("crisis", "brakes")]
                ))
                .expect("mention"));
        }
        // Two of the same author and text (stored before the content key existed): `insert`
        // would drop the second, the raw import keeps both.
        let twin = m("m9", "carol", "刹车失灵 again", "2026-12-01T05:00:00Z", &[]);
        assert!(!store.mentions().insert(&twin).expect("insert"));
        store.mentions().import(&[twin]).expect("import twin");

        let base = crate::domain::queue::tests::item(ReplyState::Pending);
        let now = t("2026-12-01T12:00:00Z");
        let mut ids = Vec::new();
        for i in 0..4 {
            let mut item = base.clone();
            item.mention_id = format!("m{i}");
            item.created_at += TimeDelta::minutes(i);
            ids.push(store.queue().enqueue(&item).expect("enqueue").expect("new"));
        }
        let q = store.queue();
        let ok = |r: Result<Result<_, _>, StoreError>| r.expect("store").expect("legal");
        ok(q.apply(ids[1], &Action::Approve { text: None }, "alice", now));
        ok(q.apply(
            ids[2],
            &Action::Reject {
                reason: Some("spam".into()),
            },
            "bob",
            now,
        ));
        ok(q.apply(
            ids[3],
            &Action::Assign {
                to: Some("bob".into()),
            },
            "alice",
            now,
        ));
        ok(q.apply(ids[3], &Action::Expire, "herald", now));

        let event = AlertEvent {
            id: "a1".into(),
            topic: "brand".into(),
            level: AlertLevel::Warning,
            opened_at: t("2026-12-01T03:00:00Z"),
            window_start: t("2026-12-01T02:50:00Z"),
            negative: 12,
            total: 30,
            baseline: 2.5,
            sample: vec!["m0".into()],
        };
        let samples = store.alerts().samples(&["m0".into()], 5).expect("samples");
        assert_eq!(samples.len(), 1);
        let sinks = vec!["slack".to_string(), "mail".to_string()];
        store
            .alerts()
            .upsert(&event, &samples, &sinks, now)
            .expect("open");
        let crisis = AlertEvent {
            level: AlertLevel::Crisis,
            negative: 25,
            ..event
        };
        store
            .alerts()
            .upsert(
                &crisis,
                &[AlertSample {
                    id: "m1".into(),
                    author: "dave".into(),
                    text: "x".into(),
                    url: None,
                }],
                &sinks[..1],
                now,
            )
            .expect("escalate");
        store.alerts().ack("a1", "alice", now).expect("ack");
        let mut d = store.alerts().deliveries("a1").expect("deliveries")[0].clone();
        d.state = DeliveryState::Sent;
        d.attempts = 1;
        d.sent_at = Some(now);
        store.alerts().put_delivery(&d).expect("sent");
        ids.into_iter().max().unwrap_or(0)
    }

    /// Every record a copy carries, as the traits list them.
    #[derive(Debug, PartialEq)]
    struct Everything {
        posts: Vec<StoredPost>,
        holds: (Option<Hold>, Option<Hold>),
        cursors: Vec<(String, String)>,
        users: Vec<User>,
        mentions: Vec<crate::store::StoredMention>,
        queue: Vec<crate::domain::QueueItem>,
        queued: Vec<bool>,
        alerts: Vec<crate::store::AlertRecord>,
        deliveries: Vec<crate::store::AlertDelivery>,
        pruned_before: Option<DateTime<Utc>>,
        engagement: Vec<crate::store::Engagement>,
        click_links: Vec<crate::store::ClickLink>,
        click_counts: Vec<crate::store::ClickCount>,
    }

    fn everything(store: &Store) -> Everything {
        let alerts = store.alerts().list().expect("alerts");
        let queue = store.queue().export_all().expect("queue");
        Everything {
            posts: store.posts().all().expect("posts"),
            holds: (
                store.meta().hold().expect("hold"),
                store.meta().crisis_hold().expect("crisis hold"),
            ),
            cursors: store.meta().cursors().expect("cursors"),
            users: store.users().list().expect("users"),
            mentions: store
                .mentions()
                .list(&MentionQuery::default())
                .expect("mentions"),
            queued: queue
                .iter()
                .map(|i| store.queue().is_queued(&i.mention_id).expect("queued"))
                .collect(),
            queue,
            deliveries: alerts
                .iter()
                .flat_map(|a| store.alerts().deliveries(&a.event.id).expect("deliveries"))
                .collect(),
            alerts,
            pruned_before: store.mentions().pruned_before().expect("cutoff"),
            engagement: store.engagement().all().expect("engagement"),
            click_links: store.clicks().links().expect("click links"),
            click_counts: store.clicks().counts().expect("click counts"),
        }
    }

    #[test]
    fn a_full_store_goes_sled_to_postgres_to_sled_unchanged() {
        let source = sled();
        let max_id = fill(&source.store);
        let original = everything(&source.store);
        assert_eq!(original.mentions.len(), 4, "the twin is there");
        assert_eq!(original.queue.len(), 4);
        assert!(original.queue.iter().any(|i| i.audit.len() == 2));
        assert_eq!(original.deliveries.len(), 3);

        // sled → PostgreSQL (when a test database is given) → sled; sled → sled without one.
        let middle: Option<TestStore> = postgres();
        let hops: Vec<&Store> = match &middle {
            Some(pg) => vec![&pg.store],
            None => vec![],
        };
        let last = sled();
        let mut at = &source.store;
        for to in hops.into_iter().chain([&last.store]) {
            let copied = copy(at, to).expect("copy");
            assert_eq!(
                copied,
                Copied {
                    posts: 6,
                    holds: 2,
                    cursors: 2,
                    users: 2,
                    mentions: 4,
                    queue_items: 4,
                    alerts: 1,
                    alert_deliveries: 3,
                    engagement: 1,
                    click_links: 2,
                    click_counts: 2,
                },
                "into {}",
                to.backend()
            );
            assert_eq!(everything(to), original, "into {}", to.backend());
            // Sessions stay behind: people log in again.
            assert_eq!(to.users().session("hash").expect("session"), None);
            at = to;
        }
        // The source was only read.
        assert_eq!(everything(&source.store), original);
        assert!(source.store.users().session("hash").expect("s").is_some());

        // A new item after the copy gets an id above every copied one, on each backend; and
        // the content key still de-duplicates a repeat of the twin's text.
        let stores = std::iter::once(&last).chain(middle.as_ref());
        for t in stores {
            let mut item = crate::domain::queue::tests::item(ReplyState::Pending);
            item.mention_id = "fresh".into();
            let id = t
                .store
                .queue()
                .enqueue(&item)
                .expect("enqueue")
                .expect("new");
            assert!(id > max_id, "{}: new id {id} <= {max_id}", t.backend);
            let again = crate::store::mentions::tests::mention(
                "m10",
                "Carol",
                "刹车失灵   again",
                "2026-12-02T00:00:00Z",
                &[],
            );
            assert!(
                !t.store.mentions().insert(&again).expect("insert"),
                "{}",
                t.backend
            );
        }
    }

    #[test]
    fn a_store_that_holds_records_is_no_destination() {
        let source = sled();
        fill(&source.store);
        for t in crate::store::testing::each() {
            let user = User {
                name: "zoe".into(),
                password_hash: "h".into(),
                created_at: Utc::now(),
            };
            t.store.users().put(&user, false).expect("user");
            t.store
                .posts()
                .put(&post("masto", "2026-12-03T09:00:00Z", PostState::Planned))
                .expect("post");
            let before = everything(&t.store);
            match copy(&source.store, &t.store) {
                Err(StoreError::NotEmpty { holds, location }) => {
                    assert_eq!(holds, "1 post, 1 user", "{}", t.backend);
                    assert_eq!(location, t.store.location());
                }
                other => panic!("{}: {other:?}", t.backend),
            }
            assert_eq!(
                everything(&t.store),
                before,
                "{}: nothing written",
                t.backend
            );
        }
    }

    #[test]
    fn the_empty_store_copies_as_nothing() {
        for t in crate::store::testing::each() {
            let empty = sled();
            assert_eq!(
                copy(&empty.store, &t.store).expect("copy"),
                Copied::default()
            );
        }
    }

    /// sled's id generator is advanced past the imported ids durably: a store copied by
    /// `herald store copy` (which then exits) still hands out fresh ids when herald reopens it.
    #[test]
    fn imported_ids_stay_taken_after_a_sled_store_is_reopened() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        let base = crate::domain::queue::tests::item(ReplyState::Pending);
        {
            let store = Store::open(&path).expect("open");
            let items: Vec<_> = (1..=50u64)
                .map(|id| {
                    let mut item = base.clone();
                    item.id = id;
                    item.mention_id = format!("m{id}");
                    item
                })
                .collect();
            assert_eq!(store.queue().import(&items).expect("import"), 50);
        }
        let store = Store::open(&path).expect("reopen");
        let mut item = base;
        item.mention_id = "new".into();
        let id = store.queue().enqueue(&item).expect("enqueue").expect("new");
        assert!(id > 50, "new id {id}");
        assert_eq!(store.queue().item(7).expect("item").map(|i| i.id), Some(7));
    }
}
