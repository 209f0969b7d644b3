//! The live crisis path inside `herald run`, and crisis mode.
//!
//! ```text
//! Listener ──(new mention, bounded mpsc)──► Live::run ──► Detector::observe ─┐
//!                      timer (each bucket) ──► Detector::advance ──────────────┤
//!                                                                             ▼
//!                  notify::raise (persist + wake delivery) ──► sync_crisis_hold ──► wake publisher
//! ```
//!
//! [`Live`] owns one [`Detector`]. On start it is warmed from the stored mentions of the last
//! `history_days`, so a restart keeps the baseline; the detector's alert ids are deterministic,
//! so re-raising an alert the warm-up meets again changes nothing (the store keeps a resolved
//! alert resolved unless the level rises: an escalation reopens it by design).
//!
//! **Crisis mode** is derived state: while any alert at level crisis is not resolved, the
//! plan's `crisis.pause_categories` are held under [`crate::store::MetaStore::crisis_hold`], apart from a hold a
//! person set with `herald pause`. [`sync_crisis_hold`] recomputes it from the alerts and is
//! called after every raise and every resolve (CLI, API, web), so resolving the last open crisis
//! alert lifts exactly the crisis hold. Posts held past the publisher's `missed_after` (2 h by
//! default) are marked missed when the hold lifts, not sent: a product post hours late, right
//! after a crisis, is worse than none.
//!
//! This module does no listening or sending itself; it must not block the listener (the
//! channel is bounded and the listener only `try_send`s).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Alert, Detector, EpisodeState, Observation, Params};
use crate::clock::Clock;
use crate::crisis::notify::{self, AlertsConfig};
use crate::store::{
    AlertChange, AlertEvent, AlertLevel, AlertRecord, AlertState, Hold, MentionQuery, Store,
    StoreError, StoredMention,
};

/// The series every live mention counts in (the same as `herald replay`'s).
pub use super::replay::BRAND_TOPIC;

/// How many observations may wait for the detector before the listener drops new ones (with a
/// warning): the detector handles thousands a second, so this only fills if it is stuck.
pub const CHANNEL_CAPACITY: usize = 4096;

/// How late a mention may arrive and still be observed live (counted at its arrival).
pub const LATE_LIMIT: TimeDelta = TimeDelta::hours(1);

/// One stored mention as the detector needs it (owned, so it can cross the channel).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveMention {
    /// The mention id.
    pub id: String,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// Its platform.
    pub platform: String,
    /// Negative sentiment.
    pub negative: bool,
    /// A match in the `crisis` keyword group.
    pub crisis_term: bool,
    /// `brand` and one `product/<rule>` per product matched, as `herald replay` counts them.
    pub topics: Vec<String>,
}

impl LiveMention {
    /// Reads what the detector needs from a stored mention's classification.
    pub fn from_stored(m: &StoredMention) -> Self {
        let c = &m.classification;
        let mut topics: Vec<String> = c
            .matches
            .iter()
            .filter(|x| x.group == "product")
            .map(|x| format!("product/{}", x.rule))
            .collect();
        topics.sort();
        topics.dedup();
        topics.insert(0, BRAND_TOPIC.to_string());
        Self {
            id: m.mention.id.clone(),
            at: m.mention.created_at,
            platform: m.mention.platform.clone(),
            negative: c.is_negative(),
            crisis_term: c.is_crisis(),
            topics,
        }
    }
}

/// The listener's end of the channel.
pub type LiveSender = mpsc::Sender<LiveMention>;

/// A bounded channel from the listener to [`Live::run`].
pub fn channel() -> (LiveSender, mpsc::Receiver<LiveMention>) {
    mpsc::channel(CHANNEL_CAPACITY)
}

/// The detector's store event for an alert.
pub fn event(a: &Alert) -> AlertEvent {
    a.event.clone()
}

/// Recomputes the crisis hold from the stored alerts: held `categories` while any crisis alert
/// is not resolved (keeping the first `since`), no crisis hold otherwise. Returns whether it
/// changed (the caller then wakes the publisher). A person's hold is never touched.
pub fn sync_crisis_hold(
    store: &Store,
    categories: &[String],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut open: Vec<String> = store
        .alerts()
        .list()?
        .into_iter()
        .filter(|a| a.event.level == AlertLevel::Crisis && a.state != AlertState::Resolved)
        .map(|a| a.event.id)
        .collect();
    open.sort();
    let old = store.meta().crisis_hold()?;
    let new = if open.is_empty() || categories.is_empty() {
        None
    } else {
        Some(Hold {
            since: old.as_ref().map_or(now, |h| h.since),
            reason: format!("open crisis alert: {}", open.join(", ")),
            categories: categories.to_vec(),
            alerts: open,
        })
    };
    if old == new {
        return Ok(false);
    }
    store.meta().set_crisis_hold(new.as_ref())?;
    match &new {
        Some(h) => {
            info!(alerts = %h.alerts.join(","), categories = %h.categories.join(","), "Crisis hold on publishing")
        }
        None => info!("Crisis hold lifted"),
    }
    Ok(true)
}

/// A person resolves an alert (`herald alerts resolve`, the API, the web page): recorded, then
/// the crisis hold recomputed. Returns the alert (`None` if unknown) and whether the crisis hold
/// changed, in which case the caller wakes the publisher.
pub fn resolve(
    store: &Store,
    pause_categories: &[String],
    id: &str,
    who: &str,
    now: DateTime<Utc>,
) -> Result<(Option<AlertRecord>, bool), StoreError> {
    let record = store.alerts().resolve(id, who, now)?;
    if record.is_none() {
        return Ok((None, false));
    }
    let changed = sync_crisis_hold(store, pause_categories, now)?;
    Ok((record, changed))
}

/// The live detector: observations in, alerts persisted and delivered, crisis hold kept.
pub struct Live {
    store: Store,
    detector: Detector,
    alerts: AlertsConfig,
    pause_categories: Vec<String>,
    clock: Clock,
    delivery_wake: Arc<Notify>,
    publish_wake: Arc<Notify>,
}

impl Live {
    /// A cold detector; call [`Live::warm_up`] before feeding it.
    pub fn new(
        store: Store,
        params: Params,
        alerts: AlertsConfig,
        pause_categories: Vec<String>,
        clock: Clock,
        delivery_wake: Arc<Notify>,
        publish_wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            detector: Detector::new(params),
            alerts,
            pause_categories,
            clock,
            delivery_wake,
            publish_wake,
        }
    }

    /// Feeds the stored mentions of the last `history_days` in time order, so a restart keeps
    /// the baseline. Alerts met on the way are raised again only while their episode could still
    /// be going (its event is within `close_after_secs` of now): re-raising is idempotent, and an
    /// old episode that was never raised is history, not news. Returns the mentions fed.
    pub fn warm_up(&mut self) -> Result<usize, StoreError> {
        let now = (self.clock)();
        let params = self.detector.params().clone();
        let since = now - TimeDelta::days(params.history_days as i64);
        let mut mentions = self.store.mentions().list(&MentionQuery {
            since: Some(since),
            ..Default::default()
        })?;
        mentions.reverse(); // the store gives newest first
        let recent = now - TimeDelta::seconds(params.close_after_secs);
        for m in &mentions {
            let m = LiveMention::from_stored(m);
            let alerts = self.observe_only(&m);
            let alerts = alerts.into_iter().filter(|a| a.at >= recent).collect();
            self.handle(alerts, now)?;
        }
        let alerts = self.detector.advance(now);
        self.handle(alerts, now)?;
        // Alerts resolved while herald was down, or a crisis hold left from before.
        if sync_crisis_hold(&self.store, &self.pause_categories, now)? {
            self.publish_wake.notify_one();
        }
        Ok(mentions.len())
    }

    fn observe_only(&mut self, m: &LiveMention) -> Vec<Alert> {
        let topics: Vec<&str> = m.topics.iter().map(String::as_str).collect();
        self.detector.observe(&Observation {
            at: m.at,
            id: &m.id,
            topics: &topics,
            platform: &m.platform,
            negative: m.negative,
            crisis_term: m.crisis_term,
        })
    }

    /// One new mention: observed at once; any alert it raises is persisted, queued for delivery
    /// and may hold publishing before this returns.
    ///
    /// The detector counts in time order, so a mention that arrives late (a feed or forum page
    /// polled every few minutes, a search that indexes late) is counted in the bucket of its
    /// arrival: late news is still news, and dropping it would blind the detector to slow
    /// sources. A mention more than [`LATE_LIMIT`] old is history, not news (a backlog), and
    /// is not observed live; it is stored, so the next start's warm-up counts it in order.
    /// (The listener also keeps a source's first poll, which brings back its history, away
    /// from the live path.)
    pub fn observe(&mut self, m: &LiveMention) -> Result<Vec<AlertChange>, StoreError> {
        let now = (self.clock)();
        let bucket = TimeDelta::seconds(self.detector.params().bucket_secs.max(1));
        if m.at < now - bucket.max(LATE_LIMIT) {
            tracing::debug!(mention = %m.id, at = %m.at, "Old mention not observed live");
            return Ok(Vec::new());
        }
        let alerts = if m.at < now - bucket {
            let arrived = LiveMention {
                at: now,
                ..m.clone()
            };
            self.observe_only(&arrived)
        } else {
            self.observe_only(m)
        };
        self.handle(alerts, now)
    }

    /// Closes the buckets that ended by now (quiet periods still count as zeros).
    pub fn tick(&mut self) -> Result<Vec<AlertChange>, StoreError> {
        let now = (self.clock)();
        let alerts = self.detector.advance(now);
        self.handle(alerts, now)
    }

    fn handle(
        &mut self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertChange>, StoreError> {
        let mut changes = Vec::new();
        let mut crisis = false;
        for a in alerts.iter().filter(|a| a.state != EpisodeState::Closed) {
            let change = notify::raise(
                &self.store,
                &self.alerts,
                &event(a),
                now,
                &self.delivery_wake,
            )?;
            if change.queued() {
                let r = change.record();
                warn!(alert = %r.event.id, topic = %r.event.topic, level = r.event.level.as_str(), negative = r.event.negative, total = r.event.total, baseline = r.event.baseline, "Crisis alert raised");
                crisis |= r.event.level == AlertLevel::Crisis;
            }
            changes.push(change);
        }
        if crisis && sync_crisis_hold(&self.store, &self.pause_categories, now)? {
            self.publish_wake.notify_one();
        }
        Ok(changes)
    }

    /// Runs until `shutdown`: each observation from `rx` at once, and a bucket close on each
    /// bucket boundary. A store failure is logged and the loop goes on (the next event retries).
    pub async fn run(mut self, mut rx: mpsc::Receiver<LiveMention>, shutdown: CancellationToken) {
        let bucket = self.detector.params().bucket_secs.max(1);
        loop {
            let now = (self.clock)();
            let into = now.timestamp().rem_euclid(bucket);
            // A second past the boundary, so the bucket that just ended is complete.
            let wait = std::time::Duration::from_secs((bucket - into + 1) as u64);
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                m = rx.recv() => match m {
                    Some(m) => self.observe(&m),
                    None => return,
                },
                _ = tokio::time::sleep(wait) => self.tick(),
            };
            if let Err(e) = result {
                error!(error = %e, "Store failed in the crisis detector");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::Mention;
    use std::sync::Mutex;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        (dir, store)
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    /// Small floors so a dozen complaints on a cold start are an alarm; the crisis comes from
    /// crisis terms (`crisis_escalate_terms`).
    fn params() -> Params {
        let mut p = Params::default();
        for s in [
            "bucket_secs=60",
            "min_negative=3",
            "min_excess=2",
            "warn_score=3",
            "crisis_min_terms=2",
            "crisis_escalate_terms=5",
            "windows=[1,3]",
        ] {
            p.set(s).expect("param");
        }
        p
    }

    struct Rig {
        _dir: tempfile::TempDir,
        store: Store,
        now: Arc<Mutex<DateTime<Utc>>>,
        publish_wake: Arc<Notify>,
    }

    impl Rig {
        fn new() -> Self {
            let (dir, store) = store();
            Self {
                _dir: dir,
                store,
                now: Arc::new(Mutex::new(t0())),
                publish_wake: Arc::new(Notify::new()),
            }
        }
        fn live(&self) -> Live {
            let now = self.now.clone();
            let clock: Clock = Arc::new(move || *now.lock().expect("clock"));
            Live::new(
                self.store.clone(),
                params(),
                AlertsConfig::default(),
                vec!["product".into(), "lifestyle".into()],
                clock,
                Arc::new(Notify::new()),
                self.publish_wake.clone(),
            )
        }
        fn set(&self, t: DateTime<Utc>) {
            *self.now.lock().expect("clock") = t;
        }
        /// Stores a mention as the listener would and returns it as the detector sees it.
        fn mention(
            &self,
            n: usize,
            at: DateTime<Utc>,
            negative: bool,
            crisis: bool,
        ) -> LiveMention {
            use crate::classify::sentiment::{Label, Scored};
            use crate::classify::{intent::Intent, Classification, MatchOut};
            let mut matches = vec![];
            if crisis {
                matches.push(MatchOut {
                    group: "crisis".into(),
                    rule: "fire".into(),
                    term: "自燃".into(),
                });
            }
            let (label, score) = if negative {
                (Label::Negative, -0.8)
            } else {
                (Label::Neutral, 0.0)
            };
            let classification = Classification {
                sentiment: Scored { label, score },
                matches,
                intent: Intent::Complaint,
                lead: None,
            };
            let stored = StoredMention {
                mention: Mention {
                    id: format!("m{n}"),
                    platform: "mastodon".into(),
                    author: format!("user{n}"),
                    text: format!("complaint number {n}"),
                    created_at: at,
                    url: None,
                    lang: None,
                    in_reply_to: None,
                    author_followers: None,
                    verified: None,
                },
                source: "src".into(),
                classification,
            };
            assert!(self.store.mentions().insert(&stored).expect("insert"));
            LiveMention::from_stored(&stored)
        }
    }

    /// Quiet neutral traffic for an hour, then `n` negative mentions in two minutes.
    fn burst(rig: &Rig, live: &mut Live, n: usize, crisis: bool) -> Vec<AlertChange> {
        burst_at(rig, live, n, crisis, TimeDelta::zero())
    }

    /// An hour of ordinary mentions, then `n` negative ones ten seconds apart that each
    /// arrive `late` after they were posted.
    fn burst_at(
        rig: &Rig,
        live: &mut Live,
        n: usize,
        crisis: bool,
        late: TimeDelta,
    ) -> Vec<AlertChange> {
        let mut changes = vec![];
        let mut k = 0;
        for i in 0..60 {
            let at = t0() + TimeDelta::minutes(i);
            rig.set(at);
            let m = rig.mention(k, at, false, false);
            k += 1;
            changes.extend(live.observe(&m).expect("observe"));
        }
        for i in 0..n {
            let at = t0() + TimeDelta::minutes(60) + TimeDelta::seconds(10 * i as i64);
            rig.set(at);
            let m = rig.mention(k, at - late, true, crisis);
            k += 1;
            changes.extend(live.observe(&m).expect("observe"));
        }
        rig.set(t0() + TimeDelta::minutes(64));
        changes.extend(live.tick().expect("tick"));
        changes
    }

    /// The end-to-end test's settings (tests/it/crisis_live.rs): on a cold start, a dozen
    /// crisis-term complaints within seconds (after one ordinary mention 40 s before) are a crisis
    /// once their 10-second bucket closes.
    #[test]
    fn a_cold_start_burst_is_a_crisis_with_the_end_to_end_settings() {
        let rig = Rig::new();
        let now = rig.now.clone();
        let clock: Clock = Arc::new(move || *now.lock().expect("clock"));
        let mut p = Params::default();
        for s in E2E_PARAMS {
            p.set(s).expect("param");
        }
        let mut live = Live::new(
            rig.store.clone(),
            p,
            AlertsConfig::default(),
            vec!["product".into()],
            clock,
            Arc::new(Notify::new()),
            rig.publish_wake.clone(),
        );
        assert_eq!(live.warm_up().expect("warm up"), 0);
        // One ordinary mention starts the series; the detector tests a window once three
        // buckets have closed, so the burst comes 40 s later.
        let first = rig.mention(100, t0(), false, false);
        let mut changes = live.observe(&first).expect("observe");
        for s in [11, 21, 31] {
            rig.set(t0() + TimeDelta::seconds(s));
            changes.extend(live.tick().expect("tick"));
        }
        assert!(changes.is_empty(), "{changes:?}");
        let burst = t0() + TimeDelta::seconds(40);
        for i in 0..12 {
            let at = burst + TimeDelta::milliseconds(400 * i);
            rig.set(at);
            let m = rig.mention(i as usize, at, true, true);
            changes.extend(live.observe(&m).expect("observe"));
        }
        rig.set(burst + TimeDelta::seconds(11));
        changes.extend(live.tick().expect("tick"));
        assert!(
            changes
                .iter()
                .any(|c| c.queued() && c.record().event.level == AlertLevel::Crisis),
            "{changes:?}"
        );
        assert!(rig.store.meta().is_held("product").expect("held"));
    }

    /// What tests/it/crisis_live.rs writes under `[crisis.detector]`.
    const E2E_PARAMS: [&str; 7] = [
        "bucket_secs=10",
        "windows=[1,3]",
        "min_negative=3",
        "min_excess=2",
        "warn_score=3",
        "crisis_min_terms=2",
        "crisis_escalate_terms=5",
    ];

    #[test]
    fn old_mentions_from_a_first_poll_are_not_observed_live() {
        let rig = Rig::new();
        let mut live = rig.live();
        let now = t0() + TimeDelta::hours(3);
        rig.set(now);
        let first = rig.mention(100, now, false, false);
        assert!(live.observe(&first).expect("observe").is_empty());
        rig.set(now + TimeDelta::minutes(4));
        assert!(live.tick().expect("tick").is_empty());
        // Thirty old complaints would be a burst in the current bucket if counted now.
        for i in 0..30 {
            let m = rig.mention(i, t0() + TimeDelta::seconds(i as i64), true, true);
            assert!(live.observe(&m).expect("observe").is_empty());
        }
        rig.set(now + TimeDelta::minutes(6));
        assert!(live.tick().expect("tick").is_empty());
        assert!(rig.store.alerts().list().expect("alerts").is_empty());
    }

    #[test]
    fn a_late_mention_is_counted_at_its_arrival_not_dropped() {
        // A forum feed polled every ten minutes brings mentions up to ten minutes old: with
        // five-minute buckets they are older than one bucket, and must still count.
        let rig = Rig::new();
        let mut live = rig.live();
        let late = TimeDelta::minutes(8);
        let changes = burst_at(&rig, &mut live, 15, true, late);
        assert!(
            changes
                .iter()
                .any(|c| c.queued() && c.record().event.level == AlertLevel::Crisis),
            "{changes:?}"
        );
    }

    #[test]
    fn from_stored_reads_sentiment_terms_and_topics() {
        let rig = Rig::new();
        let m = rig.mention(1, t0(), true, true);
        assert!(m.negative && m.crisis_term);
        assert_eq!(m.topics, vec!["brand".to_string()]);
        let q = rig.mention(2, t0(), false, false);
        assert!(!q.negative && !q.crisis_term);
    }

    #[test]
    fn a_crisis_holds_the_pause_categories() {
        let rig = Rig::new();
        let mut live = rig.live();
        let changes = burst(&rig, &mut live, 15, true);
        assert!(
            changes
                .iter()
                .any(|c| c.queued() && c.record().event.level == AlertLevel::Crisis),
            "{changes:?}"
        );
        let hold = rig
            .store
            .meta()
            .crisis_hold()
            .expect("hold")
            .expect("a crisis hold");
        assert_eq!(hold.categories, vec!["product", "lifestyle"]);
        assert!(!hold.alerts.is_empty());
        assert!(rig.store.meta().is_held("product").expect("held"));
        assert!(!rig.store.meta().is_held("service").expect("held"));
        assert_eq!(
            rig.store.meta().hold().expect("hold"),
            None,
            "a person's hold is untouched"
        );
    }

    #[test]
    fn a_warning_does_not_hold() {
        let rig = Rig::new();
        let mut live = rig.live();
        let changes = burst(&rig, &mut live, 15, false);
        assert!(changes.iter().any(|c| c.queued()), "{changes:?}");
        assert!(changes
            .iter()
            .all(|c| c.record().event.level == AlertLevel::Warning));
        assert_eq!(rig.store.meta().crisis_hold().expect("hold"), None);
        assert!(!rig.store.meta().is_held("product").expect("held"));
    }

    #[test]
    fn resolving_lifts_only_the_crisis_hold() {
        let rig = Rig::new();
        let person = Hold {
            since: t0(),
            reason: "launch review".into(),
            categories: vec!["region".into()],
            alerts: vec![],
        };
        rig.store.meta().set_hold(Some(&person)).expect("hold");
        let mut live = rig.live();
        burst(&rig, &mut live, 15, true);
        let hold = rig
            .store
            .meta()
            .crisis_hold()
            .expect("hold")
            .expect("crisis hold");
        let now = t0() + TimeDelta::minutes(70);
        for id in &hold.alerts {
            rig.store.alerts().ack(id, "ann", now).expect("ack");
        }
        assert!(!sync_crisis_hold(&rig.store, &hold.categories, now).expect("sync"));
        assert!(
            rig.store.meta().crisis_hold().expect("hold").is_some(),
            "ack keeps the hold"
        );
        for id in &hold.alerts {
            rig.store.alerts().resolve(id, "ann", now).expect("resolve");
        }
        assert!(sync_crisis_hold(&rig.store, &hold.categories, now).expect("sync"));
        assert_eq!(rig.store.meta().crisis_hold().expect("hold"), None);
        assert_eq!(rig.store.meta().hold().expect("hold"), Some(person));
        assert!(!rig.store.meta().is_held("product").expect("held"));
        assert!(rig.store.meta().is_held("region").expect("held"));
    }

    #[test]
    fn warm_up_is_idempotent_and_keeps_resolved_alerts_resolved() {
        let rig = Rig::new();
        let mut live = rig.live();
        burst(&rig, &mut live, 15, true);
        let before = rig.store.alerts().list().expect("alerts");
        assert!(!before.is_empty());
        let now = t0() + TimeDelta::minutes(70);
        for a in &before {
            rig.store
                .alerts()
                .resolve(&a.event.id, "ann", now)
                .expect("resolve");
        }
        sync_crisis_hold(&rig.store, &["product".to_string()], now).expect("sync");
        let deliveries: usize = before
            .iter()
            .map(|a| rig.store.alerts().deliveries(&a.event.id).expect("d").len())
            .sum();
        // A restart a few minutes later: a new detector warmed from the store.
        rig.set(now + TimeDelta::minutes(5));
        let mut again = rig.live();
        let fed = again.warm_up().expect("warm up");
        assert_eq!(fed, 75);
        let after = rig.store.alerts().list().expect("alerts");
        assert_eq!(
            after.len(),
            before.len(),
            "no new alerts from the same mentions"
        );
        assert!(after.iter().all(|a| a.state == AlertState::Resolved));
        assert_eq!(
            rig.store.meta().crisis_hold().expect("hold"),
            None,
            "not re-held"
        );
        let deliveries_after: usize = after
            .iter()
            .map(|a| rig.store.alerts().deliveries(&a.event.id).expect("d").len())
            .sum();
        assert_eq!(deliveries, deliveries_after, "nothing sent again");
    }
}
