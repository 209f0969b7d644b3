//! Deterministic synthetic mention streams for measuring the detector: per-minute counts with a
//! daily and weekly rhythm and over-dispersed noise, into which known events are injected —
//! sharp crises, slow build-ups, positive launch surges (decoys) and quiet outages. The same
//! seed gives the same stream on every platform (own SplitMix64, no library RNG).

use serde::Serialize;

pub use crate::rng::Rng;

/// Counts of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// All mentions.
    pub total: u32,
    /// Negative mentions (as a classifier would label them).
    pub negative: u32,
    /// Mentions matching crisis terms (a subset of the negatives here).
    pub crisis: u32,
}

/// What was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A sudden incident: negatives jump within minutes and decay over hours.
    Sharp,
    /// A slow build-up: negatives ramp up over hours.
    Slow,
    /// A launch or promotion: a volume surge of mostly positive mentions (must not alarm).
    Decoy,
    /// An outage: volume drops to a tenth (must not alarm, and must not break the baseline).
    Quiet,
}

/// One injected event, in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Event {
    /// What kind.
    pub kind: Kind,
    /// When it starts.
    pub start: i64,
    /// When it has faded.
    pub end: i64,
}

/// A generated stream.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Unix seconds of the first minute (a Monday 00:00 UTC).
    pub start: i64,
    /// Counts per minute.
    pub minutes: Vec<Minute>,
    /// The injected events, by start.
    pub events: Vec<Event>,
    /// Mean mentions per 5 minutes over a day, before injections.
    pub base: f64,
    /// The negative share of the ordinary (not injected) mentions.
    pub share: f64,
}

/// 2026-11-02 00:00 UTC, a Monday.
pub const EPOCH: i64 = 1_793_577_600;

/// Relative volume by hour of day (mean about 1): quiet nights, morning, lunch and evening
/// peaks, as brand mentions in one time zone have.
fn daily(hour: f64) -> f64 {
    let g = |c: f64, w: f64| (-((hour - c) / w).powi(2)).exp();
    (0.15 + 1.0 * g(9.5, 2.0) + 0.6 * g(13.0, 1.5) + 1.4 * g(20.5, 2.2)) / 0.85
}

/// Generates stream number `index` of a set (the seed and the index pick everything): `days`
/// days at `base` mentions per 5 minutes on average, with one sharp crisis, one slow
/// build-up, one positive decoy and one quiet period on distinct days (every fourth stream has
/// its first crisis on day one, for cold start).
pub fn generate(seed: u64, index: u64, days: usize, base: f64) -> Stream {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let start = EPOCH;
    let n = days * 1440;
    let share = rng.range(0.12, 0.28);
    let phi = rng.range(0.02, 0.12);

    // Pick the days: distinct, day 0 only for the cold-start crisis.
    let mut free: Vec<usize> = (1..days).collect();
    let mut take = |rng: &mut Rng| -> usize {
        if free.is_empty() {
            return 0;
        }
        let i = (rng.next_u64() % free.len() as u64) as usize;
        free.remove(i)
    };
    let mut kinds = vec![Kind::Sharp, Kind::Slow, Kind::Decoy, Kind::Quiet];
    if rng.uniform() < 0.5 {
        kinds.swap(0, 1);
    }
    let mut events = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let day = if i == 0 && index % 4 == 0 {
            0
        } else {
            take(&mut rng)
        };
        // Day one's event comes after a few hours, so some history exists.
        let hour = if day == 0 {
            rng.range(10.0, 20.0)
        } else {
            rng.range(8.0, 21.0)
        };
        let at = start + (day as i64) * 86_400 + (hour * 3600.0) as i64;
        let hours = match kind {
            Kind::Sharp => 3.0,
            Kind::Slow => 6.0,
            Kind::Decoy => 4.0,
            Kind::Quiet => rng.range(2.0, 6.0),
        };
        events.push(Event {
            kind,
            start: at,
            end: at + (hours * 3600.0) as i64,
        });
    }
    events.sort_by_key(|e| e.start);
    let magnitude: Vec<f64> = events
        .iter()
        .map(|e| match e.kind {
            Kind::Sharp => rng.range(2.0, 5.0),
            Kind::Slow => rng.range(1.5, 3.0),
            Kind::Decoy => rng.range(3.0, 10.0),
            Kind::Quiet => 0.1,
        })
        .collect();

    let mut minutes = Vec::with_capacity(n);
    let mut noise = 1.0;
    let mut drift = 0.0f64;
    for m in 0..n {
        let t = start + (m as i64) * 60;
        if m % 5 == 0 {
            // Over-dispersion: a gamma multiplier per 5 minutes, on a slowly wandering level.
            noise = rng.gamma_mean1(1.0 / phi);
        }
        if m % 60 == 0 {
            drift = 0.9 * drift + 0.08 * rng.normal();
        }
        let hour = ((t - start) % 86_400) as f64 / 3600.0;
        let weekday = ((t - start) / 86_400) % 7;
        let weekly = if weekday >= 5 { 0.75 } else { 1.0 };
        let mut rate = base / 5.0 * daily(hour) * weekly * noise * drift.exp();
        let mut extra = (0.0, 0.0, 0.0); // (rate, negative share, crisis share of negatives)
        for (e, &mag) in events.iter().zip(&magnitude) {
            if t < e.start || t >= e.end {
                continue;
            }
            let since = (t - e.start) as f64 / 60.0;
            let span = (e.end - e.start) as f64 / 60.0;
            let floor = base.max(3.0) / 5.0;
            match e.kind {
                Kind::Quiet => rate *= mag,
                Kind::Sharp => {
                    let shape = (since / 10.0).min(1.0) * (-since / 90.0).exp();
                    extra = ((mag * base / 5.0).max(3.0 * floor) * shape, 0.85, 0.25);
                }
                Kind::Slow => {
                    let shape = (since / (span * 0.7)).min(1.0);
                    extra = ((mag * base / 5.0).max(2.0 * floor) * shape, 0.7, 0.1);
                }
                Kind::Decoy => {
                    let shape = (since / 15.0).min(1.0) * (-since / 120.0).exp();
                    extra = ((mag * base / 5.0).max(4.0 * floor) * shape, 0.06, 0.02);
                }
            }
        }
        let normal = rng.poisson(rate);
        let normal_neg = rng.binomial(normal, share);
        let normal_crisis = rng.binomial(normal_neg, 0.03);
        let injected = rng.poisson(extra.0);
        let injected_neg = rng.binomial(injected, extra.1);
        let injected_crisis = rng.binomial(injected_neg, extra.2);
        minutes.push(Minute {
            total: normal + injected,
            negative: normal_neg + injected_neg,
            crisis: normal_crisis + injected_crisis,
        });
    }
    Stream {
        start,
        minutes,
        events,
        base,
        share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_rhythm_present() {
        let a = generate(7, 1, 8, 20.0);
        let b = generate(7, 1, 8, 20.0);
        assert_eq!(a.minutes, b.minutes);
        assert_eq!(a.events, b.events);
        let c = generate(8, 1, 8, 20.0);
        assert_ne!(a.minutes, c.minutes);
        // Nights (02:00-05:00) are much quieter than evenings (19:00-22:00) across the days.
        let sum = |from: usize, to: usize| -> u32 {
            a.minutes
                .iter()
                .enumerate()
                .filter(|(i, _)| (from..to).contains(&((i % 1440) / 60)))
                .map(|(_, m)| m.total)
                .sum()
        };
        assert!(
            sum(19, 22) > 4 * sum(2, 5),
            "{} vs {}",
            sum(19, 22),
            sum(2, 5)
        );
        assert_eq!(a.events.len(), 4);
    }

    #[test]
    fn decoys_are_mostly_positive_and_crises_mostly_negative() {
        let s = generate(3, 2, 8, 20.0);
        for e in &s.events {
            let (mut tot, mut neg) = (0u32, 0u32);
            for m in ((e.start - s.start) / 60) as usize..((e.end - s.start) / 60) as usize {
                tot += s.minutes[m].total;
                neg += s.minutes[m].negative;
            }
            let share = f64::from(neg) / f64::from(tot.max(1));
            match e.kind {
                Kind::Decoy => assert!(share < 0.2, "decoy share {share}"),
                Kind::Sharp => assert!(share > 0.4, "sharp share {share}"),
                _ => {}
            }
        }
    }
}
