//! Where in a day posts may go: a grid of candidate times inside the peak windows.
//!
//! Each peak holds as many slots as fit `min_gap` apart, centred in the window (so the evening
//! window 19:30–21:30 gives 20:00 and 21:00, the "晚8点" of the playbook) and rounded to five
//! minutes. Of the grid, `per_day` slots are *primary*: one per peak first, then a second per
//! peak, the peak that gets the extra post rotating with the date so the week does not look
//! machine-made. The rest are *spares*, used only to make up a primary slot that could not be
//! filled.

use chrono::{NaiveTime, TimeDelta, Timelike};

use super::PlanRules;

/// One candidate time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub time: NaiveTime,
    pub peak: usize,
    pub primary: bool,
}

/// The candidate slots of a day, for every rotation.
#[derive(Debug, Clone)]
pub struct DayGrid {
    /// All slots that fit, in time order, without a primary/spare choice.
    grid: Vec<(NaiveTime, usize)>,
    /// `rotations[k]` is the day's slots when the rotation index is `k`.
    rotations: Vec<Vec<Slot>>,
    min_gap: TimeDelta,
}

impl DayGrid {
    pub fn new(rules: &PlanRules) -> Self {
        let gap = rules.min_gap.num_minutes().max(1);
        let mut per_peak: Vec<Vec<NaiveTime>> = Vec::new();
        for peak in &rules.peaks {
            let len = (peak.end - peak.start).num_minutes();
            let mut times = Vec::new();
            if len > 0 {
                let count = (len - 1) / gap + 1;
                let offset = ((len - (count - 1) * gap) / 2) / 5 * 5;
                for k in 0..count {
                    let t = peak.start + TimeDelta::minutes(offset + k * gap);
                    // A window ending at midnight wraps NaiveTime arithmetic; keep only real times.
                    if t >= peak.start && t < peak.end {
                        times.push(t.with_second(0).unwrap_or(t));
                    }
                }
            }
            per_peak.push(times);
        }
        let mut grid: Vec<(NaiveTime, usize)> = per_peak
            .iter()
            .enumerate()
            .flat_map(|(p, ts)| ts.iter().map(move |t| (*t, p)))
            .collect();
        grid.sort();

        let peaks = rules.peaks.len().max(1);
        let rotations = (0..peaks)
            .map(|rot| {
                choose_primary(
                    per_peak.len(),
                    rot,
                    rules.per_day as usize,
                    rules.min_gap,
                    &grid,
                )
            })
            .collect();
        Self {
            grid,
            rotations,
            min_gap: rules.min_gap,
        }
    }

    /// The most posts a day the peaks can hold `min_gap` apart.
    pub fn capacity(&self) -> usize {
        let mut last: Option<NaiveTime> = None;
        let mut n = 0;
        for (t, _) in &self.grid {
            if last.is_none_or(|l| *t - l >= self.min_gap) {
                n += 1;
                last = Some(*t);
            }
        }
        n
    }

    /// Every time of the grid, in order (the playbook's candidate times of a day).
    pub fn times(&self) -> Vec<NaiveTime> {
        self.grid.iter().map(|(t, _)| *t).collect()
    }

    /// The slots of a day with rotation index `rotation` (any number; taken modulo).
    pub fn day(&self, rotation: usize) -> &[Slot] {
        &self.rotations[rotation % self.rotations.len()]
    }
}

/// Picks `want` primary slots. First the largest set of grid slots `gap` apart (earliest first,
/// which is optimal for points on a line), so close or adjacent peaks never cost a post; then,
/// from that set, round `r` takes the `r`-th slot of every peak, starting (from the second round
/// on) at peak `rot`.
fn choose_primary(
    per_peak_count: usize,
    rot: usize,
    want: usize,
    gap: TimeDelta,
    grid: &[(NaiveTime, usize)],
) -> Vec<Slot> {
    let mut fitting: Vec<(NaiveTime, usize)> = Vec::new();
    for &(t, p) in grid {
        if fitting.last().is_none_or(|(u, _)| t - *u >= gap) {
            fitting.push((t, p));
        }
    }
    let mut per_peak: Vec<Vec<(NaiveTime, usize)>> = vec![Vec::new(); per_peak_count];
    for &(t, p) in &fitting {
        per_peak[p].push((t, p));
    }
    let rounds = per_peak.iter().map(Vec::len).max().unwrap_or(0);
    let n = per_peak.len();
    let mut taken: Vec<(NaiveTime, usize)> = Vec::new();
    'rounds: for r in 0..rounds {
        for i in 0..n {
            if taken.len() >= want {
                break 'rounds;
            }
            let p = if r == 0 { i } else { (i + rot) % n };
            if let Some(slot) = per_peak[p].get(r) {
                taken.push(*slot);
            }
        }
    }
    grid.iter()
        .map(|(t, p)| Slot {
            time: *t,
            peak: *p,
            primary: taken.contains(&(*t, *p)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").expect("time")
    }

    #[test]
    fn default_peaks_give_centred_slots() {
        let rules = PlanRules::default();
        let grid = DayGrid::new(&rules);
        let times: Vec<String> = grid
            .day(0)
            .iter()
            .map(|s| s.time.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            times,
            ["08:45", "09:45", "12:00", "13:00", "16:30", "17:30", "20:00", "21:00"]
        );
        assert_eq!(grid.capacity(), 8);
    }

    #[test]
    fn primaries_spread_over_peaks_and_rotate() {
        let rules = PlanRules::default();
        let grid = DayGrid::new(&rules);
        for rot in 0..4 {
            let day = grid.day(rot);
            let primary: Vec<&Slot> = day.iter().filter(|s| s.primary).collect();
            assert_eq!(primary.len(), rules.per_day as usize);
            for p in 0..4 {
                assert!(
                    primary.iter().any(|s| s.peak == p),
                    "rotation {rot} misses peak {p}"
                );
            }
        }
        let second = |rot| {
            grid.day(rot)
                .iter()
                .filter(|s| s.primary)
                .map(|s| s.time)
                .collect::<Vec<_>>()
        };
        assert_ne!(second(0), second(1));
    }

    #[test]
    fn adjacent_peaks_do_not_cost_a_post() {
        // Regression: a round-robin pick of 16:45 (the short middle peak) blocked both 16:00 and
        // 17:15 and left five posts where six fit.
        let peak = |name: &str, a: &str, b: &str| super::super::Peak {
            name: name.into(),
            start: hm(a),
            end: hm(b),
        };
        let rules = PlanRules {
            peaks: vec![
                peak("a", "14:30", "16:30"),
                peak("b", "16:30", "17:00"),
                peak("c", "17:00", "20:35"),
            ],
            min_per_day: 1,
            per_day: 6,
            max_per_day: 6,
            ..PlanRules::default()
        };
        let grid = DayGrid::new(&rules);
        assert_eq!(grid.capacity(), 6);
        for rot in 0..3 {
            assert_eq!(
                grid.day(rot).iter().filter(|s| s.primary).count(),
                6,
                "rotation {rot}"
            );
        }
    }

    #[test]
    fn table_of_windows() {
        // (window, gap, expected slots)
        let cases: &[(&str, &str, i64, &[&str])] = &[
            ("08:30", "10:00", 60, &["08:45", "09:45"]),
            ("11:30", "13:30", 60, &["12:00", "13:00"]),
            ("16:00", "16:30", 60, &["16:15"]),
            ("20:00", "20:05", 60, &["20:00"]),
            ("09:00", "12:00", 45, &["09:20", "10:05", "10:50", "11:35"]),
            ("23:00", "23:59", 30, &["23:10", "23:40"]),
        ];
        for (start, end, gap, want) in cases {
            let rules = PlanRules {
                peaks: vec![super::super::Peak {
                    name: "p".into(),
                    start: hm(start),
                    end: hm(end),
                }],
                min_gap: TimeDelta::minutes(*gap),
                per_day: 1,
                ..PlanRules::default()
            };
            let grid = DayGrid::new(&rules);
            let got: Vec<String> = grid
                .day(0)
                .iter()
                .map(|s| s.time.format("%H:%M").to_string())
                .collect();
            assert_eq!(&got, want, "{start}-{end} every {gap}");
            for s in grid.day(0) {
                assert!(s.time >= hm(start) && s.time < hm(end));
            }
        }
    }
}
