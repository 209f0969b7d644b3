//! The spike detector: per series (a topic, optionally per platform) it counts all, negative and
//! crisis-term mentions in short buckets of stream time, keeps a seasonal baseline cleaned of
//! earlier alarms, and at each bucket close runs a negative-binomial test on rolling sums, a
//! CUSUM for slow build-ups and a negative-share test, then merges alarms into episodes. Pure:
//! no IO and no wall clock; the caller passes each mention's time, or the current time to
//! [`Detector::advance`].

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stats::{binom_upper_score, median, nb_upper_score, share_z};
use super::{Alert, AlertEvent, EpisodeState, Level, Trigger};

/// Every knob of the detector. One set serves every series; the defaults are the ones measured
/// in docs/crisis.md (NAB realTweets and the synthetic streams).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Bucket width in seconds; NAB's series are 5-minute counts, and 5 minutes keeps the
    /// detection delay within the 15-minute goal.
    pub bucket_secs: i64,
    /// Days of buckets kept for the seasonal baseline (same slot on each previous day).
    pub history_days: usize,
    /// Buckets either side of the slot averaged on each previous day, so one noisy bucket
    /// yesterday does not set today's baseline.
    pub smooth_buckets: usize,
    /// Trailing buckets whose median is the recent level; the spike baseline is the larger of
    /// this and the seasonal one, so a busy evening is not compared with a quiet yesterday.
    pub level_buckets: usize,
    /// Trailing buckets for the CUSUM's baseline before a full day of history exists.
    pub cold_level_buckets: usize,
    /// Rolling windows (in buckets) tested at each bucket close.
    pub windows: Vec<usize>,
    /// `-log10 p` of the negative count a window needs for a warning.
    pub warn_score: f64,
    /// `-log10 p` that makes it a crisis.
    pub crisis_score: f64,
    /// How many times the series' typical daily largest burst a window must be: a brand whose
    /// mentions burst every day (retweet storms) must burst harder than usual to alarm. A
    /// burst is a window's `(negatives + 1) / (baseline + 1)`; the typical one is the median
    /// over the history's days of each day's largest.
    pub ceiling_ratio: f64,
    /// Floors against alarms on tiny numbers: negatives in the window...
    pub min_negative: f64,
    /// ...negatives above the baseline...
    pub min_excess: f64,
    /// ...and negatives as a multiple of the baseline.
    pub min_ratio: f64,
    /// Lowest baseline per bucket, so a series that is usually silent is not infinitely
    /// surprised by one mention.
    pub mu_floor: f64,
    /// Over-dispersion (variance = mean + phi · mean²) before it is learnt, its bounds, and the
    /// learning rate of its running estimate.
    pub phi_init: f64,
    /// Lower bound of the learnt over-dispersion.
    pub phi_min: f64,
    /// Upper bound of the learnt over-dispersion.
    pub phi_max: f64,
    /// Weight of each new bucket in the running over-dispersion estimate.
    pub phi_alpha: f64,
    /// CUSUM allowance (in standard deviations per bucket) and decision threshold.
    pub cusum_k: f64,
    /// CUSUM decision threshold (in standard deviations).
    pub cusum_h: f64,
    /// Largest single-bucket z the CUSUM adds, so that one spike is left to the spike test.
    pub cusum_z_cap: f64,
    /// CUSUM on log ratios `ln((x + 1) / (baseline + 1))` instead of standardised counts:
    /// mention noise is multiplicative (a busy hour is busier in every way), so a ratio does
    /// not drift upwards on busy series whose dispersion the standardised form underrates.
    /// `cusum_k`, `cusum_h` and `cusum_z_cap` are then in natural-log units.
    pub cusum_log: bool,
    /// The CUSUM's build-up must also be this multiple of its baseline.
    pub cusum_min_ratio: f64,
    /// A second CUSUM, on the negative share's z per bucket (only with `share_test`): a
    /// build-up that makes the talk more negative is evidence even while its volume is still
    /// small. Its allowance, threshold and per-bucket cap (standard errors); it alarms only
    /// when the negative volume over its run also passes the CUSUM floors.
    pub share_cusum_k: f64,
    /// Decision threshold of the share CUSUM.
    pub share_cusum_h: f64,
    /// Whether an alarm also needs the negative share to be above usual. Off only when the
    /// input has no sentiment (NAB counts).
    pub share_test: bool,
    /// How many standard errors the negative share must be above its usual value...
    pub share_z: f64,
    /// ...and by how much at least (absolute).
    pub share_lift: f64,
    /// The usual negative share before there is history, and its weight in mentions.
    pub share_prior: f64,
    /// Weight (in mentions) of `share_prior` in the running share.
    pub share_prior_weight: f64,
    /// Windows (in buckets) of the share-and-count test (only with `share_test`), for incidents
    /// that make the talk more negative before its volume is far above usual: a window alarms
    /// when its negative share (binomial given the window's volume, so the volume's own
    /// wandering does not move it) and its negative count (negative binomial on the seasonal
    /// baseline) are both up and their `-log10 p` add up to `joint_score`. Every window is
    /// tested at every bucket close; `joint_score` is set for all of them together.
    pub joint_windows: Vec<usize>,
    /// `-log10 p` the share and the count must reach together (less `crisis_bonus` when crisis
    /// terms are up, as in the spike test).
    pub joint_score: f64,
    /// `-log10 p` the share must reach on its own, so a volume burst of ordinary talk cannot
    /// carry the test.
    pub joint_min: f64,
    /// How far (absolute) the window's negative share must be above the usual share.
    pub joint_lift: f64,
    /// The window's negatives as a multiple of their seasonal baseline, at least (besides the
    /// `min_negative` and `min_excess` floors).
    pub joint_ratio: f64,
    /// The negative share's over-dispersion ρ is learnt per series (see `share_rho`): the
    /// weight of each bucket in its running estimate...
    pub rho_alpha: f64,
    /// ...a prior pulling it towards 0, in units of a bucket's `n − 1` (so a series of a few
    /// mentions per bucket, whose bucket shares say little, keeps ρ near 0)...
    pub rho_prior: f64,
    /// ...the largest share z one bucket adds (so one incident the alarms missed does not set
    /// it)...
    pub rho_z_cap: f64,
    /// ...and its upper bound.
    pub rho_max: f64,
    /// Crisis-term mentions in a window that lower the warning threshold by `crisis_bonus`.
    pub crisis_min_terms: f64,
    /// How much crisis terms lower the warning threshold (in `-log10 p`).
    pub crisis_bonus: f64,
    /// Crisis-term mentions in a window that make an alarm a crisis.
    pub crisis_escalate_terms: f64,
    /// An episode closes after this long without an alarm.
    pub close_after_secs: i64,
    /// Mention ids kept as the alert's sample.
    pub sample_size: usize,
    /// Also keep a series per `topic@platform`.
    pub per_platform: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            bucket_secs: 300,
            history_days: 7,
            smooth_buckets: 2,
            level_buckets: 12,
            cold_level_buckets: 72,
            windows: vec![3, 12],
            warn_score: 7.0,
            crisis_score: 12.0,
            ceiling_ratio: 2.5,
            min_negative: 6.0,
            min_excess: 5.0,
            min_ratio: 2.0,
            mu_floor: 0.3,
            phi_init: 0.1,
            phi_min: 0.02,
            phi_max: 2.0,
            phi_alpha: 0.02,
            cusum_k: 1.3,
            cusum_h: 10.0,
            cusum_z_cap: 2.5,
            cusum_min_ratio: 2.0,
            cusum_log: true,
            share_cusum_k: 1.0,
            share_cusum_h: 4.0,
            share_test: true,
            share_z: 3.0,
            share_lift: 0.1,
            share_prior: 0.25,
            share_prior_weight: 40.0,
            joint_windows: vec![3, 6, 12],
            joint_score: 8.0,
            joint_min: 2.5,
            joint_lift: 0.05,
            joint_ratio: 1.3,
            rho_alpha: 0.002,
            rho_prior: 50.0,
            rho_z_cap: 4.0,
            rho_max: 0.5,
            crisis_min_terms: 3.0,
            crisis_bonus: 2.0,
            crisis_escalate_terms: 10.0,
            close_after_secs: 2 * 3600,
            sample_size: 5,
            per_platform: false,
        }
    }
}

impl Params {
    /// Sets one knob from `name=value` text (the evaluation tool's `--set`).
    pub fn set(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("{assignment:?}: expected name=value"))?;
        let mut map = match serde_json::to_value(&*self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err("parameters do not serialise to an object".into()),
        };
        if !map.contains_key(name) {
            return Err(format!("unknown parameter {name:?}"));
        }
        let parsed: serde_json::Value = serde_json::from_str(value)
            .map_err(|e| format!("{name}: {value:?} is not a JSON value: {e}"))?;
        map.insert(name.to_string(), parsed);
        *self = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(())
    }

    fn slots_per_day(&self) -> usize {
        (86_400 / self.bucket_secs.max(1)) as usize
    }
}

/// One mention as the detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// When it was posted: the detector's clock.
    pub at: DateTime<Utc>,
    /// Its id (kept for the alert's sample).
    pub id: &'a str,
    /// The series it counts in: the monitored brand and any finer keyword topics.
    pub topics: &'a [&'a str],
    /// Where it was posted.
    pub platform: &'a str,
    /// Negative sentiment.
    pub negative: bool,
    /// A match in the `crisis` keyword group.
    pub crisis_term: bool,
}

/// Counts of one bucket, raw and cleaned of alarms, and the baselines computed when it closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Bucket {
    total: u32,
    /// Negative or crisis-term mentions: the crisis signal.
    neg: u32,
    crisis: u32,
    /// The counts the baseline learns from: alarmed buckets are capped near their baseline.
    clean_total: f32,
    clean_neg: f32,
    clean_crisis: f32,
    /// Spike baseline (expected negatives).
    mu: f32,
    /// CUSUM baseline (seasonal, without the recent level that a build-up would drag along).
    muc: f32,
    cleaned: bool,
    /// This bucket's weight in the usual negative share (negatives, total): its cleaned counts,
    /// scaled down when its volume is far above the average, so a launch surge of positive
    /// mentions does not make the usual share look low for the next week.
    share_neg: f32,
    share_total: f32,
}

/// An episode: one incident, from its first alarm until it has been quiet for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// The alert id (topic and opening time).
    pub id: String,
    /// Warning or crisis.
    pub level: Level,
    /// Open or escalated (closed episodes are dropped after their closing event).
    pub state: EpisodeState,
    /// Unix seconds when it opened.
    pub opened_at: i64,
    /// Unix seconds of its last alarm.
    pub last_alarm: i64,
}

/// Everything about one series.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Series {
    topic: String,
    /// Closed buckets, oldest first; the last one has index `index - 1`.
    buckets: VecDeque<Bucket>,
    current: Bucket,
    phi: f64,
    cusum: f64,
    /// The bucket where the running CUSUM last rose from zero.
    cusum_start: u64,
    /// The share CUSUM and where it last rose from zero.
    share_cusum: f64,
    share_start: u64,
    share_neg: f64,
    share_total: f64,
    crisis_sum: f64,
    episode: Option<Episode>,
    /// The latest negative mentions (time, id), for the sample.
    recent: VecDeque<(i64, String)>,
    /// Largest burst of each past day, per window (in `windows` order), oldest day first.
    day_max: VecDeque<Vec<f64>>,
    /// The same for the day in progress.
    today_max: Vec<f64>,
    /// Running sums of the negative share's excess variance, `z² − 1` and `n − 1` per bucket:
    /// their ratio is the share's over-dispersion (see [`share_rho`]).
    #[serde(default)]
    rho_num: f64,
    #[serde(default)]
    rho_den: f64,
}

/// What one bucket close found.
struct Finding {
    level: Level,
    trigger: Trigger,
    /// Oldest bucket index of the window that alarmed.
    start: u64,
    negative: f64,
    total: f64,
    baseline: f64,
    score: f64,
}

/// The detector for every series. Serialisable, so the live loop can snapshot it and restore
/// it after a restart instead of replaying stored mentions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detector {
    params: Params,
    /// Index of the open bucket (`unix seconds / bucket_secs`); None before the first mention.
    index: Option<u64>,
    series: BTreeMap<String, Series>,
}

impl Detector {
    /// A detector with no history: it works from the first bucket (on the recent level)
    /// and adds the seasonal baseline as days accumulate.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            index: None,
            series: BTreeMap::new(),
        }
    }

    /// The parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Open episodes per series topic.
    pub fn episodes(&self) -> impl Iterator<Item = (&str, &Episode)> {
        self.series
            .iter()
            .filter_map(|(k, s)| s.episode.as_ref().map(|e| (k.as_str(), e)))
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> u64 {
        (at.timestamp().max(0) / self.params.bucket_secs.max(1)) as u64
    }

    /// Counts one mention; returns the alert events that closing earlier buckets raised. A
    /// mention older than the open bucket (late or out of order) counts in the open bucket,
    /// because closed buckets have already been judged.
    pub fn observe(&mut self, m: &Observation<'_>) -> Vec<Alert> {
        let alerts = self.advance(m.at);
        let at = m.at.timestamp();
        let neg = u32::from(m.negative || m.crisis_term);
        let crisis = u32::from(m.crisis_term);
        for topic in m.topics {
            self.add(topic, 1, neg, crisis, at, m.id);
            if self.params.per_platform {
                let key = format!("{topic}@{}", m.platform);
                self.add(&key, 1, neg, crisis, at, m.id);
            }
        }
        alerts
    }

    /// Counts `total` mentions of which `negative` are negative, in one go, without ids (for
    /// count series such as NAB's).
    pub fn observe_counts(
        &mut self,
        at: DateTime<Utc>,
        topic: &str,
        total: u32,
        negative: u32,
        crisis: u32,
    ) -> Vec<Alert> {
        let alerts = self.advance(at);
        self.add(topic, total, negative, crisis, at.timestamp(), "");
        alerts
    }

    fn add(&mut self, key: &str, total: u32, neg: u32, crisis: u32, at: i64, id: &str) {
        let sample_size = self.params.sample_size;
        let s = match self.series.get_mut(key) {
            Some(s) => s,
            None => {
                let s = Series {
                    topic: key.to_string(),
                    buckets: VecDeque::new(),
                    current: Bucket::default(),
                    phi: self.params.phi_init,
                    cusum: 0.0,
                    cusum_start: 0,
                    share_cusum: 0.0,
                    share_start: 0,
                    share_neg: 0.0,
                    share_total: 0.0,
                    crisis_sum: 0.0,
                    episode: None,
                    recent: VecDeque::new(),
                    day_max: VecDeque::new(),
                    today_max: Vec::new(),
                    rho_num: 0.0,
                    rho_den: 0.0,
                };
                self.series.entry(key.to_string()).or_insert(s)
            }
        };
        s.current.total += total;
        s.current.neg += neg;
        s.current.crisis += crisis;
        if neg > 0 && !id.is_empty() && sample_size > 0 {
            if s.recent.len() == sample_size {
                s.recent.pop_front();
            }
            s.recent.push_back((at, id.to_string()));
        }
    }

    /// Closes every bucket that ends at or before `now` and returns the alert events (opened,
    /// escalated, closed episodes) in time order, series by series within a bucket.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Alert> {
        let target = self.bucket_of(now);
        let mut alerts = Vec::new();
        let Some(mut index) = self.index else {
            self.index = Some(target);
            return alerts;
        };
        while index < target {
            for s in self.series.values_mut() {
                close_bucket(&self.params, s, index, &mut alerts);
            }
            index += 1;
        }
        self.index = Some(index);
        alerts
    }

    /// Closes the open bucket at the end of a stream, so that a spike in its last minutes is
    /// still judged.
    pub fn finish(&mut self) -> Vec<Alert> {
        match self.index {
            Some(i) => {
                let end = ((i + 1) as i64) * self.params.bucket_secs;
                match DateTime::from_timestamp(end, 0) {
                    Some(t) => self.advance(t),
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        }
    }
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The seasonal baseline of bucket `index` for one field: on each previous day in the history,
/// the mean over the slot ± `smooth_buckets`; the median across days.
fn seasonal(p: &Params, s: &Series, index: u64, field: fn(&Bucket) -> f32) -> Option<f64> {
    let day = p.slots_per_day() as u64;
    let len = s.buckets.len() as u64;
    // buckets[j] has index first + j.
    let first = index.checked_sub(len)?;
    let mut days = Vec::with_capacity(p.history_days);
    for d in 1..=p.history_days as u64 {
        let Some(centre) = index.checked_sub(d * day) else {
            break;
        };
        let lo = centre.saturating_sub(p.smooth_buckets as u64);
        let hi = centre + p.smooth_buckets as u64;
        if lo < first || hi >= index {
            break;
        }
        let mut sum = 0.0;
        for i in lo..=hi {
            sum += f64::from(field(&s.buckets[(i - first) as usize]));
        }
        days.push(sum / (hi - lo + 1) as f64);
    }
    if days.is_empty() {
        None
    } else {
        Some(median(&mut days))
    }
}

/// Median of the last `n` closed buckets' cleaned negatives, if there are at least 3.
fn level(s: &Series, n: usize) -> Option<f64> {
    let take = n.min(s.buckets.len());
    if take < 3 {
        return None;
    }
    let mut v: Vec<f64> = s
        .buckets
        .iter()
        .rev()
        .take(take)
        .map(|b| f64::from(b.clean_neg))
        .collect();
    Some(median(&mut v))
}

fn close_bucket(p: &Params, s: &mut Series, index: u64, alerts: &mut Vec<Alert>) {
    let mut b = s.current;
    s.current = Bucket::default();
    let seasonal_neg = seasonal(p, s, index, |b| b.clean_neg);
    let recent = level(s, p.level_buckets);
    let testable = seasonal_neg.is_some() || recent.is_some();
    let mu = seasonal_neg
        .unwrap_or(0.0)
        .max(recent.unwrap_or(0.0))
        .max(p.mu_floor);
    let muc = seasonal_neg
        .or_else(|| level(s, p.cold_level_buckets))
        .unwrap_or(mu)
        .max(p.mu_floor);
    b.mu = mu as f32;
    b.muc = muc as f32;
    b.clean_total = b.total as f32;
    b.clean_neg = b.neg as f32;
    b.clean_crisis = b.crisis as f32;
    push(p, s, b);

    let end = ((index + 1) as i64) * p.bucket_secs;
    let (finding, bursts) = if testable {
        judge(p, s, index)
    } else {
        (None, Vec::new())
    };
    // Every bucket counts towards the day's burst, alarmed or not: the median over days keeps
    // a day or three of incidents from raising the bar, and excluding alarmed buckets would
    // cap the history at the threshold itself.
    s.today_max.resize(p.windows.len(), 0.0);
    for (t, b) in s.today_max.iter_mut().zip(bursts) {
        *t = t.max(b);
    }
    let in_episode = s.episode.is_some();
    match finding {
        Some(f) => {
            clean_from(s, f.start, index);
            raise(p, s, f, end, alerts);
            s.cusum = 0.0;
            s.share_cusum = 0.0;
        }
        None => {
            if in_episode {
                // Inside an incident the counts are not normal either: keep them out of the
                // baseline even in buckets that did not alarm on their own.
                clean_from(s, index, index);
            } else if testable {
                learn_phi(p, s);
            }
            if let Some(e) = &s.episode {
                if end - e.last_alarm >= p.close_after_secs {
                    let mut closed = e.clone();
                    closed.state = EpisodeState::Closed;
                    alerts.push(alert_of(p, s, &closed, None, end));
                    s.episode = None;
                }
            }
        }
    }
    roll_day(p, s, index);
}

/// Closes a day of burst history when its last bucket has been judged.
fn roll_day(p: &Params, s: &mut Series, index: u64) {
    if (index + 1) % p.slots_per_day() as u64 == 0 {
        s.day_max.push_back(std::mem::take(&mut s.today_max));
        while s.day_max.len() > p.history_days.max(1) {
            s.day_max.pop_front();
        }
    }
}

/// Sets a bucket's weight in the usual share from its cleaned counts (see `Bucket::share_neg`).
fn share_weight(s: &Series, b: &mut Bucket) {
    let n = s.buckets.len().max(1) as f32;
    let mean = (s.share_total.max(0.0) as f32 / n).max(1.0);
    let scale = if b.clean_total > 3.0 * mean {
        3.0 * mean / b.clean_total
    } else {
        1.0
    };
    b.share_neg = b.clean_neg * scale;
    b.share_total = b.clean_total * scale;
}

fn push(p: &Params, s: &mut Series, mut b: Bucket) {
    let cap = p.history_days.max(1) * p.slots_per_day() + p.smooth_buckets + 1;
    share_weight(s, &mut b);
    s.share_neg += f64::from(b.share_neg);
    s.share_total += f64::from(b.share_total);
    s.crisis_sum += f64::from(b.clean_crisis);
    s.buckets.push_back(b);
    while s.buckets.len() > cap {
        if let Some(old) = s.buckets.pop_front() {
            s.share_neg -= f64::from(old.share_neg);
            s.share_total -= f64::from(old.share_total);
            s.crisis_sum -= f64::from(old.clean_crisis);
        }
    }
}

/// The usual negative share, from the cleaned history and a prior.
fn usual_share(p: &Params, s: &Series) -> f64 {
    (s.share_neg.max(0.0) + p.share_prior * p.share_prior_weight)
        / (s.share_total.max(0.0) + p.share_prior_weight)
}

fn share_ok(p: &Params, s: &Series, neg: f64, total: f64) -> bool {
    if !p.share_test {
        return true;
    }
    let p0 = usual_share(p, s);
    let e = effective(share_rho(p, s), total);
    total > 0.0 && neg / total >= p0 + p.share_lift && share_z(neg * e, total * e, p0) >= p.share_z
}

/// Runs the window tests and the CUSUM on the bucket just pushed; returns what alarmed, if
/// anything, and each window's burst (for the burst history).
fn judge(p: &Params, s: &mut Series, index: u64) -> (Option<Finding>, Vec<f64>) {
    let n = s.buckets.len();
    let crisis_rate = s.crisis_sum.max(0.0) / n as f64;
    let mut best: Option<(f64, Finding)> = None;
    let mut bursts = vec![0.0; p.windows.len()];
    for (wi, &w) in p.windows.iter().enumerate() {
        let mut days: Vec<f64> = s
            .day_max
            .iter()
            .filter_map(|d| d.get(wi).copied())
            .collect();
        let ceiling = median(&mut days) * p.ceiling_ratio;
        if w == 0 || w > n {
            continue;
        }
        let (mut x, mut total, mut m, mut c) = (0.0, 0.0, 0.0, 0.0);
        for b in s.buckets.iter().skip(n - w) {
            x += f64::from(b.neg);
            total += f64::from(b.total);
            m += f64::from(b.mu);
            c += f64::from(b.crisis);
        }
        let burst = (x + 1.0) / (m + 1.0);
        bursts[wi] = burst;
        // Crisis terms well above their usual rate are evidence of their own: they lower the
        // score needed and lift the burst ceiling.
        let terms = c >= p.crisis_min_terms && c >= 3.0 * crisis_rate * w as f64;
        if x < p.min_negative
            || x - m < p.min_excess
            || x < p.min_ratio * m
            || (burst < ceiling && !terms)
        {
            continue;
        }
        let score = nb_upper_score(x, m, s.phi);
        let threshold = p.warn_score - if terms { p.crisis_bonus } else { 0.0 };
        if score < threshold || !share_ok(p, s, x, total) {
            continue;
        }
        let level = if score >= p.crisis_score || c >= p.crisis_escalate_terms {
            Level::Crisis
        } else {
            Level::Warning
        };
        let margin = score - threshold;
        let better = best
            .as_ref()
            .is_none_or(|(bm, bf)| level > bf.level || (level == bf.level && margin > *bm));
        if better {
            let trigger = if terms {
                Trigger::Terms
            } else {
                Trigger::Spike
            };
            best = Some((
                margin,
                Finding {
                    level,
                    trigger,
                    start: index + 1 - w as u64,
                    negative: x,
                    total,
                    baseline: m,
                    score,
                },
            ));
        }
    }

    if p.share_test && best.is_none() {
        best = joint(p, s, index, crisis_rate);
    }

    // CUSUM on the seasonal baseline: small excesses that persist add up.
    let last = s.buckets[n - 1];
    let muc = f64::from(last.muc);
    let sd = (muc + s.phi * muc * muc).sqrt().max(1e-9);
    let z = if p.cusum_log {
        ((f64::from(last.neg) + 1.0) / (muc + 1.0)).ln()
    } else {
        (f64::from(last.neg) - muc) / sd
    }
    .min(p.cusum_z_cap);
    if s.cusum <= 0.0 {
        s.cusum_start = index;
    }
    s.cusum = (s.cusum + z - p.cusum_k).max(0.0);
    if best.is_none() && s.cusum >= p.cusum_h {
        if let Some(f) = build_up(p, s, index, s.cusum_start, s.cusum) {
            return (Some(f), bursts);
        }
        // Not a build-up worth a person's time (too small, or not more negative than
        // usual): hold the statistic at the threshold rather than let it grow without bound.
        s.cusum = p.cusum_h;
    }
    if p.share_test {
        let p0 = usual_share(p, s);
        let e = effective(share_rho(p, s), f64::from(last.total));
        let (k, total) = (f64::from(last.neg) * e, f64::from(last.total) * e);
        let zs = share_z(k, total, p0).min(p.cusum_z_cap);
        if s.share_cusum <= 0.0 {
            s.share_start = index;
        }
        s.share_cusum = (s.share_cusum + zs - p.share_cusum_k).max(0.0);
        if best.is_none() && s.share_cusum >= p.share_cusum_h {
            if let Some(f) = build_up(p, s, index, s.share_start, s.share_cusum) {
                return (Some(f), bursts);
            }
            s.share_cusum = p.share_cusum_h;
        }
    }
    (best.map(|(_, f)| f), bursts)
}

/// The share-and-count test over `joint_windows`: the window that passes with the largest
/// margin over its threshold, if any.
fn joint(p: &Params, s: &Series, index: u64, crisis_rate: f64) -> Option<(f64, Finding)> {
    let n = s.buckets.len();
    let p0 = usual_share(p, s);
    let rho = share_rho(p, s);
    let mut best: Option<(f64, Finding)> = None;
    for &w in &p.joint_windows {
        if w == 0 || w > n {
            continue;
        }
        let (mut x, mut total, mut m, mut c) = (0.0, 0.0, 0.0, 0.0);
        for b in s.buckets.iter().skip(n - w) {
            x += f64::from(b.neg);
            total += f64::from(b.total);
            m += f64::from(b.muc);
            c += f64::from(b.crisis);
        }
        if x < p.min_negative || x - m < p.min_excess || x < p.joint_ratio * m || total <= 0.0 {
            continue;
        }
        if x / total < p0 + p.joint_lift {
            continue;
        }
        let volume = nb_upper_score(x, m, s.phi);
        let e = effective(rho, total);
        let share = binom_upper_score(x * e, total * e, p0);
        let terms = c >= p.crisis_min_terms && c >= 3.0 * crisis_rate * w as f64;
        let threshold = p.joint_score - if terms { p.crisis_bonus } else { 0.0 };
        if share < p.joint_min || volume + share < threshold {
            continue;
        }
        let margin = volume + share - threshold;
        if best.as_ref().is_some_and(|(bm, _)| *bm >= margin) {
            continue;
        }
        let level = if c >= p.crisis_escalate_terms {
            Level::Crisis
        } else {
            Level::Warning
        };
        best = Some((
            margin,
            Finding {
                level,
                trigger: Trigger::Share,
                start: index + 1 - w as u64,
                negative: x,
                total,
                baseline: m,
                score: volume + share,
            },
        ));
    }
    best
}

/// Checks a CUSUM's run from bucket `start` to `index` against the volume floors and the share
/// test; a finding if it passes.
fn build_up(p: &Params, s: &Series, index: u64, start: u64, stat: f64) -> Option<Finding> {
    let n = s.buckets.len();
    let w = ((index - start.min(index) + 1) as usize).min(n);
    let (mut x, mut total, mut m) = (0.0, 0.0, 0.0);
    for b in s.buckets.iter().skip(n - w) {
        x += f64::from(b.neg);
        total += f64::from(b.total);
        m += f64::from(b.muc);
    }
    let ok = x - m >= p.min_excess
        && x >= p.min_negative
        && x >= p.cusum_min_ratio * m
        && share_ok(p, s, x, total);
    ok.then(|| Finding {
        level: Level::Warning,
        trigger: Trigger::Cusum,
        start: index + 1 - w as u64,
        negative: x,
        total,
        baseline: m,
        score: stat,
    })
}

/// Caps the buckets `from..=to` near their baseline, so the alarm does not become tomorrow's
/// normal.
fn clean_from(s: &mut Series, from: u64, to: u64) {
    let n = s.buckets.len() as u64;
    let first = (to + 1).saturating_sub(n);
    let phi = s.phi;
    for i in from.max(first)..=to {
        let mut b = s.buckets[(i - first) as usize];
        let mu = f64::from(b.mu.min(b.muc.max(b.mu)));
        let cap = (mu + 2.0 * (mu + phi * mu * mu).sqrt()) as f32;
        if b.cleaned || (b.clean_neg <= cap) {
            s.buckets[(i - first) as usize].cleaned = true;
            continue;
        }
        let removed = b.clean_neg - cap;
        let ratio = if b.neg > 0 {
            b.clean_crisis / b.neg as f32
        } else {
            0.0
        };
        s.share_neg -= f64::from(b.share_neg);
        s.share_total -= f64::from(b.share_total);
        s.crisis_sum -= f64::from(removed * ratio);
        b.clean_neg = cap;
        b.clean_total -= removed;
        b.clean_crisis -= removed * ratio;
        b.cleaned = true;
        share_weight(s, &mut b);
        s.share_neg += f64::from(b.share_neg);
        s.share_total += f64::from(b.share_total);
        s.buckets[(i - first) as usize] = b;
    }
}

/// Updates the over-dispersion estimate (a moment estimate, winsorised so one burst does not
/// inflate it) from the bucket that closed an hour of windows ago, if no alarm cleaned it
/// since: learning from the newest bucket would let the first minutes of an incident raise
/// the dispersion and so hide the incident.
fn learn_phi(p: &Params, s: &mut Series) {
    let lag = p.windows.iter().copied().max().unwrap_or(1).max(1);
    let n = s.buckets.len();
    if n <= lag {
        return;
    }
    let b = s.buckets[n - 1 - lag];
    let mu = f64::from(b.mu);
    if mu < 1.0 || b.cleaned {
        return;
    }
    let sd = (mu + s.phi * mu * mu).sqrt();
    let x = f64::from(b.neg).min(mu + 3.0 * sd);
    let est = (((x - mu).powi(2) - mu) / (mu * mu)).clamp(p.phi_min, p.phi_max);
    s.phi = ((1.0 - p.phi_alpha) * s.phi + p.phi_alpha * est).clamp(p.phi_min, p.phi_max);
    // Launch surges (buckets whose weight in the usual share was scaled down) are not the
    // share's ordinary wandering either.
    if p.share_test && b.total >= 2 && b.share_total >= b.clean_total {
        // The share's z of a bucket of n mentions has E[z²] = 1 + (n − 1)ρ when the mentions
        // are correlated (one angry thread, a retweeted complaint, the hour's mix of topics).
        let z = share_z(f64::from(b.neg), f64::from(b.total), usual_share(p, s))
            .clamp(-p.rho_z_cap, p.rho_z_cap);
        let a = p.rho_alpha;
        s.rho_num = (1.0 - a) * s.rho_num + a * (z * z - 1.0);
        s.rho_den = (1.0 - a) * s.rho_den + a * (f64::from(b.total) - 1.0);
    }
}

/// The negative share's over-dispersion ρ (intra-class correlation): a window of `n` mentions
/// carries the information of `n / (1 + (n − 1)ρ)` independent ones. Learnt from the same
/// lagged, uncleaned buckets as `phi` (running means of `z² − 1` and `n − 1`), shrunk towards 0
/// by `rho_prior`. Every share test uses it, so a series whose share wanders more than chance
/// (real talk does; the synthetic streams' does not) needs a larger lift to alarm.
fn share_rho(p: &Params, s: &Series) -> f64 {
    (s.rho_num / (s.rho_den + p.rho_prior)).clamp(0.0, p.rho_max)
}

/// The fraction of `n` mentions that count as independent when the share's over-dispersion is
/// `rho` (the design effect `1 + (n − 1)ρ`): share tests run on `n · effective` mentions.
fn effective(rho: f64, n: f64) -> f64 {
    1.0 / (1.0 + (n - 1.0).max(0.0) * rho)
}

fn raise(p: &Params, s: &mut Series, f: Finding, end: i64, alerts: &mut Vec<Alert>) {
    match &mut s.episode {
        Some(e) => {
            e.last_alarm = end;
            if f.level > e.level {
                e.level = f.level;
                e.state = EpisodeState::Escalated;
                let e = e.clone();
                alerts.push(alert_of(p, s, &e, Some(&f), end));
            }
        }
        None => {
            let id = format!("{}-{}", s.topic, time(end).format("%Y%m%dT%H%M"));
            let e = Episode {
                id,
                level: f.level,
                state: EpisodeState::Open,
                opened_at: end,
                last_alarm: end,
            };
            alerts.push(alert_of(p, s, &e, Some(&f), end));
            s.episode = Some(e);
        }
    }
}

fn alert_of(p: &Params, s: &Series, e: &Episode, f: Option<&Finding>, at: i64) -> Alert {
    let start = f.map_or(e.opened_at, |f| f.start as i64 * p.bucket_secs);
    Alert {
        event: AlertEvent {
            id: e.id.clone(),
            topic: s.topic.clone(),
            level: e.level,
            opened_at: time(e.opened_at),
            window_start: time(start),
            negative: f.map_or(0, |f| f.negative as u64),
            total: f.map_or(0, |f| f.total as u64),
            baseline: f.map_or(0.0, |f| (f.baseline * 100.0).round() / 100.0),
            sample: if f.is_some() {
                s.recent
                    .iter()
                    .filter(|(t, _)| *t >= start)
                    .map(|(_, id)| id.clone())
                    .collect()
            } else {
                Vec::new()
            },
        },
        score: f.map_or(0.0, |f| (f.score * 10.0).round() / 10.0),
        state: e.state,
        at: time(at),
        trigger: f.map(|f| f.trigger),
    }
}
