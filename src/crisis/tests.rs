//! Tests of the detector's behaviour on hand-built streams: each feeds minute counts with
//! Poisson noise around a daily rhythm, injects one thing, and checks what came out.

use std::collections::HashMap;

use chrono::DateTime;
use proptest::prelude::*;

use super::synth::{Rng, EPOCH};
use super::*;

/// Minute counts: (total, negative, crisis-term).
type Counts = (u32, u32, u32);

/// Normal traffic: about `base` mentions per 5 minutes with a day/night rhythm, 20% negative.
fn normal(rng: &mut Rng, minute: usize, base: f64) -> Counts {
    let hour = (minute % 1440) as f64 / 60.0;
    let rhythm = 0.3 + 1.4 * (-((hour - 15.0) / 5.0).powi(2)).exp();
    let total = rng.poisson(base / 5.0 * rhythm);
    let neg = rng.binomial(total, 0.2);
    (total, neg, 0)
}

/// Feeds `minutes` minutes from EPOCH; `extra(minute)` adds to normal traffic. Returns the
/// alert events with the minute they were raised in.
fn feed(
    d: &mut Detector,
    seed: u64,
    minutes: usize,
    base: f64,
    extra: impl Fn(usize) -> Counts,
) -> Vec<(usize, Alert)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for m in 0..minutes {
        let (t, n, c) = normal(&mut rng, m, base);
        let (et, en, ec) = extra(m);
        let at = DateTime::from_timestamp(EPOCH + m as i64 * 60 + 30, 0).expect("time");
        for a in d.observe_counts(at, "brand", t + et, n + en, c + ec) {
            out.push((m, a));
        }
    }
    out
}

fn opened(alerts: &[(usize, Alert)]) -> Vec<&(usize, Alert)> {
    alerts
        .iter()
        .filter(|(_, a)| a.state == EpisodeState::Open)
        .collect()
}

const DAY: usize = 1440;

/// Minute of day 2 (0-based) at 14:00, when traffic is high.
const SPIKE_AT: usize = 2 * DAY + 14 * 60;

#[test]
fn a_sharp_crisis_alarms_within_fifteen_minutes() {
    let mut d = Detector::new(Params::default());
    let alerts = feed(&mut d, 1, 3 * DAY, 20.0, |m| {
        if (SPIKE_AT..SPIKE_AT + 60).contains(&m) {
            (12, 10, 1)
        } else {
            (0, 0, 0)
        }
    });
    // Only the spike's day: on day two of a stream the seasonal baseline rests on one day of
    // history, and this noise seed gives the share CUSUM one night-time false alarm there.
    let open: Vec<_> = opened(&alerts)
        .into_iter()
        .filter(|(m, _)| m / DAY == SPIKE_AT / DAY)
        .collect();
    assert_eq!(open.len(), 1, "{alerts:#?}");
    let (m, a) = open[0];
    assert!(
        *m >= SPIKE_AT && *m <= SPIKE_AT + 15,
        "raised at minute {m}"
    );
    assert_eq!(a.event.topic, "brand");
    assert!(a.event.negative > a.event.baseline as u64 * 2);
    assert!(a.event.window_start <= a.event.opened_at);
}

#[test]
fn a_positive_surge_does_not_alarm() {
    let mut d = Detector::new(Params::default());
    // A launch: ten times the usual volume for two hours, 5% negative (classifier mistakes),
    // which still more than doubles the negative count.
    let alerts = feed(&mut d, 2, 3 * DAY, 20.0, |m| {
        if (SPIKE_AT..SPIKE_AT + 120).contains(&m) {
            (60, 3, 0)
        } else {
            (0, 0, 0)
        }
    });
    assert!(opened(&alerts).is_empty(), "{alerts:#?}");
    // The same surge with sentiment ignored is a volume spike: the share test is what stops it.
    let mut d = Detector::new(Params {
        share_test: false,
        ..Params::default()
    });
    let alerts = feed(&mut d, 2, 3 * DAY, 20.0, |m| {
        if (SPIKE_AT..SPIKE_AT + 120).contains(&m) {
            (60, 60, 0)
        } else {
            (0, 0, 0)
        }
    });
    assert!(!opened(&alerts).is_empty());
}

#[test]
fn a_slow_build_up_is_caught_by_a_cusum() {
    // Negatives creep up by one more every 10 minutes per minute-slot: no single window
    // jumps, but four hours later the talk is several times more negative.
    let creep = |m: usize| {
        if (SPIKE_AT..SPIKE_AT + 240).contains(&m) {
            let k = ((m - SPIKE_AT) / 40) as u32;
            (k, k, 0)
        } else {
            (0, 0, 0)
        }
    };
    // The CUSUMs on their own (the share-and-count test off).
    let mut d = Detector::new(Params {
        joint_windows: Vec::new(),
        ..Params::default()
    });
    let alerts = feed(&mut d, 3, 3 * DAY, 20.0, creep);
    let open = opened(&alerts);
    assert_eq!(open.len(), 1, "{alerts:#?}");
    let (m, a) = open[0];
    assert!(*m > SPIKE_AT && *m < SPIKE_AT + 240, "minute {m}");
    assert_eq!(a.trigger, Some(Trigger::Cusum), "{a:#?}");
    // With every test on, the same build-up is one episode, raised no later.
    let mut all = Detector::new(Params::default());
    let alerts = feed(&mut all, 3, 3 * DAY, 20.0, creep);
    let open_all = opened(&alerts);
    assert_eq!(open_all.len(), 1, "{alerts:#?}");
    assert!(
        open_all[0].0 > SPIKE_AT && open_all[0].0 <= *m,
        "{alerts:#?}"
    );
}

/// Extra counts of a slow build-up shaped as `synth`'s (`synth::Kind::Slow`): mentions ramping
/// up linearly from nothing at `start` to `plateau` a minute over 252 minutes (0.7 of its
/// 6 hours), then holding; 70% of them negative, a tenth of those with crisis terms. Spread
/// deterministically (cumulative counts rounded down), so the only noise is the traffic's.
fn synth_ramp(start: usize, plateau: f64) -> impl Fn(usize) -> Counts {
    move |m| {
        if m < start || m >= start + 360 {
            return (0, 0, 0);
        }
        let ramp = 252.0;
        let cumulative = |t: f64| {
            if t <= ramp {
                plateau * t * t / (2.0 * ramp)
            } else {
                plateau * (ramp / 2.0 + t - ramp)
            }
        };
        let t = (m - start) as f64;
        let part =
            |f: f64| ((cumulative(t + 1.0) * f).floor() - (cumulative(t) * f).floor()) as u32;
        (part(1.0), part(0.7), part(0.07))
    }
}

/// Slow build-ups of the synthetic kind (magnitude 2: a plateau of twice the base volume a
/// minute) at 14:00, the busiest hour of this traffic, are caught within the bounds below with
/// the default parameters, and earlier than the CUSUMs alone catch them (95, 125 and
/// 125 minutes for these three). 15 minutes is not reachable: a quarter of an hour into such a
/// build-up its extra negatives are about a fifth of the usual ones, inside the noise
/// (`fifteen_minutes_into_a_slow_build_up_the_evidence_is_not_there` below).
#[test]
fn a_synthetic_slow_build_up_is_caught() {
    for (seed, base, within) in [(11, 20.0, 75), (12, 60.0, 65), (13, 8.0, 120)] {
        let plateau = 2.0 * base / 5.0;
        let run = |params: Params| {
            let mut d = Detector::new(params);
            let alerts = feed(&mut d, seed, 3 * DAY, base, synth_ramp(SPIKE_AT, plateau));
            // The first opening from the build-up's start (the base-8 noise has a chance
            // share alarm that morning; the false-alarm rate is measured on the synthetic
            // streams, not here).
            opened(&alerts)
                .into_iter()
                .find(|(m, _)| *m >= SPIKE_AT)
                .map(|(m, a)| (m - SPIKE_AT, a.trigger))
        };
        let (delay, trigger) = run(Params::default()).expect("caught");
        assert!(delay <= within, "base {base}: {delay} min ({trigger:?})");
        let cusums = run(Params {
            joint_windows: Vec::new(),
            ..Params::default()
        })
        .expect("caught by the CUSUMs too");
        assert!(delay < cusums.0, "base {base}: {delay} vs {cusums:?}");
    }
}

/// Why a slow build-up cannot be caught in 15 minutes: a typical one of `synth`'s (magnitude
/// 2.25, base 20 mentions per 5 minutes at an average hour, 20% of them negative), 15 minutes
/// after its start, with the start and the usual share known exactly (no detector knows
/// either), has a negative count and a negative share each at `-log10 p` below 1, against the
/// 8 the detector needs; a sharp crisis of the same base is past 8 on either alone.
#[test]
fn fifteen_minutes_into_a_slow_build_up_the_evidence_is_not_there() {
    let (base, share) = (20.0, 0.2);
    let normal_total = 3.0 * base;
    let normal_neg = normal_total * share;
    // synth: the extra rate a minute is plateau · t / 252 (slow) or plateau · min(t / 10, 1)
    // (sharp, before its decay), 70% and 85% negative.
    let slow_total = 2.25 * base / 5.0 * 15.0 * 15.0 / (2.0 * 252.0);
    let sharp_total = 3.5 * base / 5.0 * (10.0 / 2.0 + 5.0);
    for (extra, negative, at_most) in [(slow_total, 0.7, 1.0), (sharp_total, 0.85, f64::MAX)] {
        let x = normal_neg + negative * extra;
        let n = normal_total + extra;
        let count = stats::nb_upper_score(x, normal_neg, 1e-9);
        let share_score = stats::binom_upper_score(x, n, share);
        if at_most < f64::MAX {
            assert!(
                count < at_most && share_score < at_most,
                "{count} {share_score}"
            );
        } else {
            assert!(count > 8.0 && share_score > 8.0, "{count} {share_score}");
        }
    }
}

#[test]
fn one_incident_is_one_episode_and_it_closes() {
    let mut d = Detector::new(Params::default());
    // Three hours of crisis with a lull in the middle.
    let alerts = feed(&mut d, 4, 3 * DAY, 20.0, |m| {
        let i = m.wrapping_sub(SPIKE_AT);
        if i < 180 && !(60..80).contains(&i) {
            (10, 9, 0)
        } else {
            (0, 0, 0)
        }
    });
    let ids: std::collections::BTreeSet<&str> =
        alerts.iter().map(|(_, a)| a.event.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{alerts:#?}");
    assert_eq!(opened(&alerts).len(), 1);
    let closed: Vec<_> = alerts
        .iter()
        .filter(|(_, a)| a.state == EpisodeState::Closed)
        .collect();
    assert_eq!(closed.len(), 1, "the episode closes after it goes quiet");
    assert!(closed[0].0 >= SPIKE_AT + 180);
}

#[test]
fn a_warning_escalates_to_a_crisis_with_the_same_id() {
    let mut d = Detector::new(Params::default());
    let alerts = feed(&mut d, 5, 3 * DAY, 20.0, |m| {
        let i = m.wrapping_sub(SPIKE_AT);
        if i < 30 {
            (4, 4, 0)
        } else if i < 90 {
            (40, 38, 5)
        } else {
            (0, 0, 0)
        }
    });
    let events: Vec<&Alert> = alerts
        .iter()
        .map(|(_, a)| a)
        .filter(|a| a.state != EpisodeState::Closed)
        .collect();
    assert!(events.len() >= 2, "{events:#?}");
    assert_eq!(events[0].event.level, Level::Warning);
    assert_eq!(events[0].state, EpisodeState::Open);
    assert_eq!(events[1].event.id, events[0].event.id);
    assert_eq!(events[1].event.level, Level::Crisis);
    assert_eq!(events[1].state, EpisodeState::Escalated);
    assert_eq!(events[1].event.opened_at, events[0].event.opened_at);
    assert!(events[1].at > events[0].at);
}

#[test]
fn the_baseline_is_not_polluted_by_alarms() {
    // The same crisis at the same hour two days running: the second still alarms, because
    // the first was kept out of the seasonal baseline.
    let crisis = |m: usize| {
        let slot = m % DAY;
        if m >= DAY && (14 * 60..15 * 60).contains(&slot) {
            (12, 10, 0)
        } else {
            (0, 0, 0)
        }
    };
    let mut d = Detector::new(Params::default());
    let alerts = feed(&mut d, 6, 3 * DAY, 20.0, crisis);
    let days: Vec<usize> = opened(&alerts).iter().map(|(m, _)| m / DAY).collect();
    assert_eq!(days, vec![1, 2], "{alerts:#?}");
}

#[test]
fn cold_start_alarms_on_the_first_day() {
    let mut d = Detector::new(Params::default());
    let start = 11 * 60;
    let alerts = feed(&mut d, 7, DAY, 20.0, |m| {
        if (start..start + 60).contains(&m) {
            (12, 10, 0)
        } else {
            (0, 0, 0)
        }
    });
    let open = opened(&alerts);
    assert_eq!(open.len(), 1, "{alerts:#?}");
    assert!(open[0].0 >= start && open[0].0 <= start + 15);
}

#[test]
fn crisis_terms_lower_the_bar_and_escalate() {
    // A 15-minute burst that triples the negatives: without crisis terms a warning; with
    // one crisis term a minute, a crisis, raised no later.
    let burst = |terms: u32| {
        move |m: usize| {
            if (SPIKE_AT..SPIKE_AT + 15).contains(&m) {
                (10, 10, terms)
            } else {
                (0, 0, 0)
            }
        }
    };
    let mut quiet = Detector::new(Params::default());
    let plain = feed(&mut quiet, 8, 3 * DAY, 60.0, burst(0));
    let mut d = Detector::new(Params::default());
    let with_terms = feed(&mut d, 8, 3 * DAY, 60.0, burst(1));
    assert!(
        plain
            .iter()
            .all(|(_, a)| a.event.level == Level::Warning && a.trigger != Some(Trigger::Terms)),
        "{plain:#?}"
    );
    let open = opened(&with_terms);
    assert_eq!(open.len(), 1, "{with_terms:#?}");
    let crisis = with_terms
        .iter()
        .any(|(_, a)| a.event.id == open[0].1.event.id && a.event.level == Level::Crisis);
    assert!(
        crisis,
        "15 crisis-term mentions make it a crisis: {with_terms:#?}"
    );
    if let Some((m, _)) = opened(&plain).first() {
        assert!(open[0].0 <= *m);
    }
}

#[test]
fn advance_closes_buckets_without_mentions() {
    let mut d = Detector::new(Params::default());
    let _ = feed(&mut d, 9, DAY, 20.0, |_| (0, 0, 0));
    let at = |m: usize| DateTime::from_timestamp(EPOCH + m as i64 * 60, 0).expect("time");
    // A burst in one minute, then silence: only the clock moves.
    assert!(d.observe_counts(at(DAY + 1), "brand", 80, 80, 0).is_empty());
    let alerts = d.advance(at(DAY + 15));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].state, EpisodeState::Open);
}

#[test]
fn a_restored_snapshot_carries_on_exactly() {
    let run = |split: Option<usize>| {
        let mut d = Detector::new(Params::default());
        let mut rng = Rng::new(10);
        let mut out = Vec::new();
        for m in 0..2 * DAY {
            if Some(m) == split {
                let json = serde_json::to_string(&d).expect("snapshot");
                d = serde_json::from_str(&json).expect("restore");
            }
            let (t, n, _) = normal(&mut rng, m, 20.0);
            let (t, n) = if (DAY + 600..DAY + 660).contains(&m) {
                (t + 12, n + 10)
            } else {
                (t, n)
            };
            let at = DateTime::from_timestamp(EPOCH + m as i64 * 60, 0).expect("time");
            out.extend(d.observe_counts(at, "brand", t, n, 0));
        }
        out
    };
    let straight = run(None);
    assert!(!straight.is_empty());
    assert_eq!(run(Some(DAY + 620)), straight);
}

#[test]
fn observe_counts_each_topic_and_keeps_a_sample() {
    let mut d = Detector::new(Params::default());
    let at = |m: usize| DateTime::from_timestamp(EPOCH + m as i64 * 60, 0).expect("time");
    let mut alerts = Vec::new();
    let mut n = 0;
    for m in 0..DAY + 30 {
        let burst = m >= DAY;
        for k in 0..if burst { 8 } else { 2 } {
            n += 1;
            let id = format!("m{n}");
            let topics: &[&str] = if k % 2 == 0 {
                &["brand", "product/x"]
            } else {
                &["brand"]
            };
            alerts.extend(d.observe(&Observation {
                at: at(m),
                id: &id,
                topics,
                platform: "bluesky",
                negative: burst || k == 0 && m % 3 == 0,
                crisis_term: false,
            }));
        }
    }
    let topics: std::collections::BTreeSet<&str> =
        alerts.iter().map(|a| a.event.topic.as_str()).collect();
    assert!(topics.contains("brand"), "{alerts:#?}");
    let a = alerts
        .iter()
        .find(|a| a.event.topic == "brand")
        .expect("brand");
    assert!(!a.event.sample.is_empty() && a.event.sample.len() <= Params::default().sample_size);
    assert!(a.event.sample.iter().all(|id| id.starts_with('m')));
    assert_eq!(d.episodes().count(), topics.len());
}

#[test]
fn params_set_by_name() {
    let mut p = Params::default();
    p.set("warn_score=9.5").expect("number");
    p.set("windows=[2,4]").expect("list");
    assert_eq!(p.warn_score, 9.5);
    assert_eq!(p.windows, vec![2, 4]);
    assert!(p.set("nonsense=1").is_err());
    assert!(p.set("warn_score").is_err());
    assert!(p.set("warn_score=\"x\"").is_err());
}

/// The synthetic targets on a small seeded set (docs/crisis.md's table runs 24 streams of 21 days
/// with `herald-eval-crisis`).
#[test]
fn synthetic_streams_meet_the_targets() {
    let params = Params::default();
    let mut score = eval::SynthScore::default();
    for (i, base) in [8.0, 20.0, 60.0, 20.0].into_iter().enumerate() {
        let stream = synth::generate(99, i as u64, 10, base);
        let alerts = eval::run_stream(&params, &stream);
        score.add(&stream, &alerts);
    }
    // The targets are read on the injected (sharp) crises; the slow build-ups must be caught
    // as well, later (see the reading of the issue in docs/crisis.md).
    assert!(score.sharp.0 * 10 >= score.sharp.1 * 9, "{score:#?}");
    assert!(score.slow.0 * 10 >= score.slow.1 * 9, "{score:#?}");
    assert!(score.recall() >= 0.9, "{score:#?}");
    assert_eq!(score.decoy_alarms, 0, "{score:#?}");
    assert!(score.false_per_week() <= 0.5, "{score:#?}");
    let sharp = eval::median_delay(&score.sharp_delays).expect("sharp crises caught");
    assert!(sharp <= 15 * 60, "{score:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the counts: an id opens once, then may escalate once and close once, in that
    /// order; levels never go down; a topic has at most one episode open at a time. Random
    /// minutes alone seldom raise an alert (86 of 192 cases raised none), which would leave the
    /// checks with nothing to check: so each stream also has bursts of complaints, from a few
    /// minutes to hours long and of any size, and the test asserts that alerts were raised.
    #[test]
    fn episodes_are_well_formed(
        counts in prop::collection::vec((0u32..40, 0u32..40, 0u32..3), 200..1200),
        bursts in prop::collection::vec((0usize..1200, 3usize..240, 40u32..400, 0u32..20), 1..4),
        share_test in any::<bool>(),
    ) {
        let mut minutes = counts.clone();
        for (at, len, negative, crisis) in &bursts {
            let at = (*at).min(minutes.len());
            let burst = std::iter::repeat_n((5u32, *negative, *crisis), *len);
            minutes.splice(at..at, burst);
        }
        // Quiet hours first, so the burst stands out from a baseline.
        let warm_up = std::iter::repeat_n((10u32, 1u32, 0u32), 720);
        let minutes: Vec<_> = warm_up.chain(minutes).collect();
        let mut d = Detector::new(Params { share_test, ..Params::default() });
        let mut alerts = Vec::new();
        for (i, (t, n, c)) in minutes.iter().enumerate() {
            let at = DateTime::from_timestamp(EPOCH + i as i64 * 60, 0).expect("time");
            alerts.extend(d.observe_counts(at, "brand", t + n, *n, (*c).min(*n)));
        }
        alerts.extend(d.finish());
        prop_assert!(
            alerts.iter().any(|a| a.state == EpisodeState::Open),
            "bursts of {:?} (start, minutes, negative a minute, crisis) raised no alert",
            bursts
        );
        let mut seen: HashMap<String, Vec<&Alert>> = HashMap::new();
        let mut open: Option<String> = None;
        for a in &alerts {
            prop_assert!(a.event.window_start <= a.at);
            prop_assert!(a.event.opened_at <= a.at);
            match a.state {
                EpisodeState::Open => {
                    prop_assert!(open.is_none(), "two episodes open at once");
                    prop_assert!(!seen.contains_key(&a.event.id), "id reused");
                    open = Some(a.event.id.clone());
                }
                EpisodeState::Escalated => {
                    prop_assert_eq!(open.as_deref(), Some(a.event.id.as_str()));
                    prop_assert_eq!(a.event.level, Level::Crisis);
                }
                EpisodeState::Closed => {
                    prop_assert_eq!(open.as_deref(), Some(a.event.id.as_str()));
                    open = None;
                }
            }
            let history = seen.entry(a.event.id.clone()).or_default();
            if let Some(last) = history.last() {
                prop_assert!(a.event.level >= last.event.level);
            }
            history.push(a);
        }
    }
}
