//! Posting times learned from the brand's own results (pure).
//!
//! The playbook's slots are a guess. Once posts have engagement, each channel gets a score for
//! every five-minute time of day inside the peak windows: the engagement of the posts made near
//! it (a triangular kernel, ±`kernel_minutes`), relative to the channel's average, shrunk toward
//! the playbook's prior by the weight `n / (n + k)` so a time with little data stays close to
//! "as good as any", and sampled (Thompson sampling) so a time with few posts is still tried now
//! and then instead of being written off by a bad evening.
//!
//! The planner keeps everything else: [`day`] only moves the day's slots inside their own peak
//! windows (the same number per peak, the same primaries, `min_gap` apart), and the planner then
//! applies the mix, the caps, the gaps to kept posts, series and holds exactly as it does for the
//! playbook's grid. With no model for a channel, or too little data, the playbook's grid is
//! used unchanged.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime, TimeDelta, Timelike};

use super::slots::Slot;
use super::PlanRules;
use crate::rng::Rng;

/// Five-minute times in a day.
pub const SLOTS: usize = 24 * 12;

/// How learning is set (`[learn]` in `plan.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct LearnSettings {
    /// Off by default: the playbook's slots until a person turns learning on.
    pub enabled: bool,
    /// Weeks of results a channel needs before its times are learned.
    pub min_weeks: u32,
    /// `k` of the shrinkage weight `n / (n + k)`: how many posts' worth of belief the prior has.
    pub prior_posts: f64,
    /// Half-width of the kernel that lets a post inform the times near it.
    pub kernel_minutes: u32,
    /// How boldly to explore: the sampled spread is the belief's standard deviation times this
    /// (1.0 is plain Thompson sampling; 0 always takes the best estimate).
    pub exploration: f64,
    /// The playbook's own belief, as the prior: a time at one of its slots is expected to do
    /// this much better than average, fading to nothing 30 minutes away. With thin data the
    /// planner stays at the playbook's times; it leaves them when results say so.
    pub playbook_bonus: f64,
}

// Every value is a finite number read from integers in `plan.toml`, so equality is total.
impl Eq for LearnSettings {}

impl Default for LearnSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            min_weeks: 4,
            prior_posts: 6.0,
            kernel_minutes: 10,
            exploration: 0.3,
            playbook_bonus: 0.15,
        }
    }
}

/// One published post's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub channel: String,
    /// When it was posted, as a local date and time of the plan's timezone.
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub category: String,
    /// Engagement (replies, reposts, likes, quotes, clicks: however the caller weighs them).
    pub engagement: f64,
}

/// What the model believes of one five-minute time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Kernel-weighted number of posts near this time.
    pub posts: f64,
    /// Their mean engagement relative to the channel's average (1.0 = average), or 1.0 without.
    pub observed: f64,
    /// The weight of the observations: `posts / (posts + k)`.
    pub weight: f64,
    /// The shrunk estimate: `weight × observed + (1 − weight) × 1.0`.
    pub expected: f64,
    /// The standard deviation of the belief, for sampling.
    pub spread: f64,
}

/// A channel's learned scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelModel {
    /// Posts it learned from.
    pub posts: usize,
    /// Distinct ISO weeks those posts span.
    pub weeks: usize,
    /// The channel's mean engagement per post.
    pub average: f64,
    /// [`LearnSettings::exploration`].
    pub exploration: f64,
    /// [`LearnSettings::playbook_bonus`].
    pub playbook_bonus: f64,
    /// [`LearnSettings::prior_posts`].
    pub prior_posts: f64,
    estimates: Vec<Estimate>,
}

impl ChannelModel {
    /// The belief about the five-minute time starting at `time`.
    pub fn estimate(&self, time: NaiveTime) -> Estimate {
        self.estimates[slot_of(time)]
    }
}

/// The learned scores of every channel with results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Learned {
    pub settings: LearnSettings,
    channels: BTreeMap<String, ChannelModel>,
}

fn slot_of(t: NaiveTime) -> usize {
    ((t.hour() * 60 + t.minute()) / 5) as usize % SLOTS
}

fn time_of(slot: usize) -> NaiveTime {
    NaiveTime::from_hms_opt((slot / 12) as u32, (slot % 12) as u32 * 5, 0).unwrap_or_default()
}

impl Learned {
    /// Fits every channel's scores to `outcomes`.
    pub fn fit(outcomes: &[Outcome], settings: LearnSettings) -> Self {
        let mut by_channel: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
        for o in outcomes {
            if o.engagement.is_finite() && o.engagement >= 0.0 {
                by_channel.entry(&o.channel).or_default().push(o);
            }
        }
        let channels = by_channel
            .into_iter()
            .map(|(c, list)| (c.to_string(), fit_channel(&list, &settings)))
            .collect();
        Self { settings, channels }
    }

    /// The model of `channel`, if learning is on and it has enough weeks of results.
    pub fn model(&self, channel: &str) -> Option<&ChannelModel> {
        if !self.settings.enabled {
            return None;
        }
        self.channels
            .get(channel)
            .filter(|m| m.weeks >= self.settings.min_weeks as usize && m.posts > 0)
    }

    /// Every channel's model, learning on or off (for reports and `--explain`).
    pub fn channels(&self) -> &BTreeMap<String, ChannelModel> {
        &self.channels
    }

    /// Why a post of `channel` is at `time`, in one line.
    pub fn explain(&self, channel: &str, time: NaiveTime, playbook: Option<NaiveTime>) -> String {
        let Some(m) = self.model(channel) else {
            let why = match self.channels.get(channel) {
                _ if !self.settings.enabled => "learning is off: [learn] enabled = false".into(),
                None => "no results yet".to_string(),
                Some(m) => format!(
                    "{} week(s) of results, {} needed",
                    m.weeks, self.settings.min_weeks
                ),
            };
            return format!("playbook slot ({why})");
        };
        let e = m.estimate(time);
        let from = match playbook {
            Some(p) if p != time => format!("; the playbook's slot was {}", p.format("%H:%M")),
            _ => String::new(),
        };
        format!(
            "learned: {:.2}× the channel's average engagement expected (observed {:.2}× over {:.1} nearby posts, weight {:.2}){from}",
            e.expected, e.observed, e.posts, e.weight
        )
    }
}

fn fit_channel(list: &[&Outcome], settings: &LearnSettings) -> ChannelModel {
    let total: f64 = list.iter().map(|o| o.engagement).sum();
    let average = total / list.len().max(1) as f64;
    // Each post is compared with its own category's average on the channel: the planner tends
    // to put the same categories at the same times, and a category that does well must not
    // make its usual time look good.
    let mut by_category: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for o in list {
        let e = by_category.entry(&o.category).or_default();
        e.0 += o.engagement;
        e.1 += 1.0;
    }
    let mut weeks: Vec<(i32, u32)> = list
        .iter()
        .map(|o| {
            use chrono::Datelike;
            let w = o.date.iso_week();
            (w.year(), w.week())
        })
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    let half = (settings.kernel_minutes / 5).max(1) as usize;
    let mut n = vec![0.0; SLOTS];
    let mut sum = vec![0.0; SLOTS];
    let mut sum_sq = vec![0.0; SLOTS];
    let mut all_sq = 0.0;
    for o in list {
        let (total, count) = by_category
            .get(o.category.as_str())
            .copied()
            .unwrap_or((0.0, 1.0));
        let category_average = total / count;
        let r = if category_average > 0.0 {
            o.engagement / category_average
        } else {
            1.0
        };
        all_sq += (r - 1.0) * (r - 1.0);
        let s = slot_of(o.time);
        for d in 0..=half {
            let w = 1.0 / ((1 + d) * (1 + d)) as f64;
            let mut put = |i: usize| {
                n[i] += w;
                sum[i] += w * r;
                sum_sq[i] += w * r * r;
            };
            put((s + d) % SLOTS);
            if d > 0 {
                put((s + SLOTS - d) % SLOTS);
            }
        }
    }
    // The spread of one post's relative engagement, over the whole channel (at least 0.1 so a
    // channel of identical results still explores a little).
    let sigma = (all_sq / list.len().max(1) as f64).sqrt().max(0.1);
    let k = settings.prior_posts.max(0.1);
    let estimates = (0..SLOTS)
        .map(|i| {
            let observed = if n[i] > 0.0 { sum[i] / n[i] } else { 1.0 };
            let weight = n[i] / (n[i] + k);
            Estimate {
                posts: n[i],
                observed,
                weight,
                expected: weight * observed + (1.0 - weight),
                spread: sigma / (n[i] + k).sqrt(),
            }
        })
        .collect();
    ChannelModel {
        posts: list.len(),
        weeks: weeks.len(),
        average,
        exploration: settings.exploration.max(0.0),
        playbook_bonus: settings.playbook_bonus.max(0.0),
        prior_posts: k,
        estimates,
    }
}

/// The day's slots for a channel with a model: each peak keeps as many slots as the playbook's
/// grid gives it (`fixed`), and as many primaries, but at the five-minute times whose sampled
/// scores sum highest (the best-sampled of a peak's times are its primaries), every two
/// consecutive slots at least `min_gap` apart. The sample is
/// seeded by `seed` (the channel and the date), so planning the same day again on the same
/// results gives the same times. Falls back to `fixed` if no such placement exists.
pub fn day(fixed: &[Slot], rules: &PlanRules, model: &ChannelModel, seed: u64) -> Vec<Slot> {
    if fixed.is_empty() {
        return Vec::new();
    }
    let mut rng = Rng::new(seed);
    // The prior of a time is its peak window's own result so far (shrunk to the channel's
    // average), not the average: a window where the tried times did poorly is not expected to
    // do well at its untried times. Plus the playbook's bonus near its own slots.
    let window_prior: Vec<f64> = rules
        .peaks
        .iter()
        .map(|p| {
            let (mut n, mut sum) = (0.0, 0.0);
            for e in model.estimates.iter().enumerate().filter_map(|(t, e)| {
                let time = time_of(t);
                (time >= p.start && time < p.end).then_some(e)
            }) {
                n += e.posts;
                sum += e.posts * e.observed;
            }
            let w = n / (n + model.prior_posts);
            if n > 0.0 {
                w * (sum / n) + (1.0 - w)
            } else {
                1.0
            }
        })
        .collect();
    let peak_of = |t: usize| {
        let time = time_of(t);
        rules
            .peaks
            .iter()
            .position(|p| time >= p.start && time < p.end)
    };
    let sampled: Vec<f64> = model
        .estimates
        .iter()
        .enumerate()
        .map(|(t, e)| {
            let base = peak_of(t).map_or(1.0, |p| window_prior[p]);
            let prior = base + model.playbook_bonus * closeness(t, fixed);
            let expected = e.weight * e.observed + (1.0 - e.weight) * prior;
            expected + e.spread * model.exploration * rng.normal()
        })
        .collect();
    // The slots to place, in time order, each with its peak window's five-minute times.
    let windows: Vec<Vec<usize>> = fixed
        .iter()
        .map(|s| {
            let p = &rules.peaks[s.peak];
            (slot_of(p.start)..SLOTS)
                .take_while(|i| time_of(*i) < p.end)
                .filter(|i| time_of(*i) >= p.start)
                .collect()
        })
        .collect();
    let gap = (rules.min_gap.num_minutes().max(0) as usize).div_ceil(5);
    // best[j][x]: the best sum for slots 0..=j with slot j at windows[j][x]; from[j][x] the
    // position of slot j-1.
    let mut best: Vec<Vec<f64>> = Vec::with_capacity(fixed.len());
    let mut from: Vec<Vec<usize>> = Vec::with_capacity(fixed.len());
    for (j, w) in windows.iter().enumerate() {
        let mut b = vec![f64::NEG_INFINITY; w.len()];
        let mut f = vec![0; w.len()];
        for (x, &t) in w.iter().enumerate() {
            if j == 0 {
                b[x] = sampled[t];
                continue;
            }
            let mut top = f64::NEG_INFINITY;
            for (y, &u) in windows[j - 1].iter().enumerate() {
                if u + gap <= t && best[j - 1][y] > top {
                    top = best[j - 1][y];
                    f[x] = y;
                }
            }
            b[x] = top + sampled[t];
        }
        best.push(b);
        from.push(f);
    }
    let last = fixed.len() - 1;
    let Some((mut x, score)) = best[last]
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return fixed.to_vec();
    };
    if !score.is_finite() {
        return fixed.to_vec();
    }
    let mut chosen = vec![0; fixed.len()];
    for j in (0..=last).rev() {
        chosen[j] = windows[j][x];
        x = from[j][x];
    }
    // Primaries: per peak, as many as the playbook's grid had, given to the best-sampled times.
    let mut out: Vec<Slot> = fixed
        .iter()
        .zip(&chosen)
        .map(|(s, &t)| Slot {
            time: time_of(t),
            peak: s.peak,
            primary: false,
        })
        .collect();
    let mut peaks: BTreeMap<usize, (usize, Vec<usize>)> = BTreeMap::new();
    for (j, s) in fixed.iter().enumerate() {
        let e = peaks.entry(s.peak).or_default();
        e.0 += usize::from(s.primary);
        e.1.push(j);
    }
    for (primaries, mut members) in peaks.into_values() {
        members.sort_by(|a, b| sampled[chosen[*b]].total_cmp(&sampled[chosen[*a]]));
        for j in members.into_iter().take(primaries) {
            out[j].primary = true;
        }
    }
    out
}

/// 1 at one of the playbook's times of the day, fading linearly to 0 at 30 minutes from all.
fn closeness(slot: usize, fixed: &[Slot]) -> f64 {
    fixed
        .iter()
        .map(|s| {
            let d = slot.abs_diff(slot_of(s.time)) as f64 * 5.0;
            (1.0 - d / 30.0).max(0.0)
        })
        .fold(0.0, f64::max)
}

/// The seed of a channel's day: stable for the pair, different between them.
pub fn seed(channel: &str, date: NaiveDate) -> u64 {
    use chrono::Datelike;
    crate::fnv1a(channel.as_bytes())
        ^ (date.num_days_from_ce() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The least gap between two slots of a day, for tests and checks.
pub fn least_gap(slots: &[Slot]) -> Option<TimeDelta> {
    slots.windows(2).map(|w| w[1].time - w[0].time).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::slots::DayGrid;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    fn on() -> LearnSettings {
        LearnSettings {
            enabled: true,
            min_weeks: 2,
            ..LearnSettings::default()
        }
    }

    /// Weeks of daily posts at every playbook slot, plus 20:35 doing three times as well.
    fn outcomes(weeks: i64) -> Vec<Outcome> {
        let start = NaiveDate::from_ymd_opt(2026, 9, 7).expect("date");
        let mut v = Vec::new();
        for d in 0..weeks * 7 {
            let date = start + TimeDelta::days(d);
            for (t, e) in [
                (hm(8, 45), 10.0),
                (hm(12, 0), 10.0),
                (hm(16, 30), 10.0),
                (hm(20, 0), 10.0),
                (hm(20, 35), 30.0),
            ] {
                v.push(Outcome {
                    channel: "weibo".into(),
                    date,
                    time: t,
                    category: "product".into(),
                    engagement: e,
                });
            }
        }
        v
    }

    #[test]
    fn a_better_time_is_learned_and_thin_data_stays_near_the_prior() {
        let learned = Learned::fit(&outcomes(4), on());
        let m = learned.model("weibo").expect("a model");
        assert_eq!((m.posts, m.weeks), (140, 4));
        let good = m.estimate(hm(20, 35));
        let plain = m.estimate(hm(20, 0));
        assert!(
            good.expected > 1.5 && plain.expected < 1.0,
            "{good:?} {plain:?}"
        );
        assert!(good.weight > 0.8, "{good:?}");
        let unseen = m.estimate(hm(3, 0));
        assert_eq!((unseen.posts, unseen.expected), (0.0, 1.0));

        let one = Learned::fit(&outcomes(4)[..5], on());
        assert!(one.model("weibo").is_none(), "one week is under min_weeks");
        let off = Learned::fit(&outcomes(4), LearnSettings::default());
        assert!(off.model("weibo").is_none(), "learning is off by default");
        assert!(off
            .explain("weibo", hm(20, 0), None)
            .contains("learning is off"));
    }

    #[test]
    fn learned_days_keep_peaks_counts_primaries_and_gaps() {
        let rules = PlanRules::default();
        let grid = DayGrid::new(&rules);
        let learned = Learned::fit(&outcomes(4), on());
        let m = learned.model("weibo").expect("a model");
        let mut evening_moved = 0;
        for d in 0..60 {
            let date = NaiveDate::from_ymd_opt(2026, 10, 1).expect("d") + TimeDelta::days(d);
            let fixed = grid.day(d as usize);
            let slots = day(fixed, &rules, m, seed("weibo", date));
            assert_eq!(slots.len(), fixed.len());
            assert!(
                least_gap(&slots).expect("slots") >= rules.min_gap,
                "{slots:?}"
            );
            for (s, f) in slots.iter().zip(fixed) {
                assert_eq!(s.peak, f.peak);
                let p = &rules.peaks[s.peak];
                assert!(s.time >= p.start && s.time < p.end, "{s:?} outside {p:?}");
            }
            for p in 0..rules.peaks.len() {
                let count = |v: &[Slot]| v.iter().filter(|s| s.peak == p && s.primary).count();
                assert_eq!(count(&slots), count(fixed));
            }
            if slots
                .iter()
                .any(|s| s.time >= hm(20, 25) && s.time <= hm(20, 45))
            {
                evening_moved += 1;
            }
            assert_eq!(slots, day(fixed, &rules, m, seed("weibo", date)), "stable");
        }
        assert!(
            evening_moved >= 50,
            "20:35 is chosen most days: {evening_moved}/60"
        );
    }
}
