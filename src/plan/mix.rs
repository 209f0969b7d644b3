//! Keeping the content mix after every post: quota apportionment by earliest deadline.
//!
//! With shares `s_c` (percent, summing to 100) and `n` posts so far, the plan must keep
//! `|count_c − s_c·n/100| < 1` for every category after every post. Seen as a scheduling problem
//! (Tijdeman's "chairman assignment"), the `k`-th post of category `c` has a release time (it
//! may not come before step `t` with `s_c·t > 100·(k−1)`, or `c` would be more than one post
//! ahead) and a deadline (it must come by the first step `t` with `s_c·t ≥ 100·k`, or `c` falls
//! a whole post behind). Picking, at each step, the released category with the earliest
//! deadline (EDF) is optimal for unit jobs, and Tijdeman showed a schedule within the bound
//! always exists, so EDF never breaks it. The greedy "largest deficit" rule can: two
//! categories can both reach a full post behind at once.
//!
//! When the EDF category has no usable draft at a slot, another released category may go
//! instead only if a look-ahead of pure EDF from the resulting counts stays within the bound;
//! otherwise the slot stays empty. All arithmetic is on integers.

/// Counts so far, per category, and the shares they are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    shares: Vec<u32>,
    counts: Vec<u64>,
    total: u64,
}

/// How far ahead [`Mix::is_safe`] looks: one full period of percent shares, twice.
const LOOKAHEAD: u64 = 200;

impl Mix {
    pub fn new(shares: Vec<u32>) -> Self {
        let counts = vec![0; shares.len()];
        Self {
            shares,
            counts,
            total: 0,
        }
    }

    /// Posts so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Posts so far in category `c`.
    pub fn count(&self, c: usize) -> u64 {
        self.counts[c]
    }

    /// Records a post of category `c`.
    pub fn add(&mut self, c: usize) {
        self.counts[c] += 1;
        self.total += 1;
    }

    /// Categories that may take the next post without going a post ahead of their share, in the
    /// order to try them: earliest deadline first, ties in `[mix]` order.
    pub fn candidates(&self) -> Vec<usize> {
        let t = self.total + 1;
        let mut released: Vec<(u64, usize)> = (0..self.shares.len())
            .filter(|&c| self.released(c, t))
            .map(|c| (self.deadline(c), c))
            .collect();
        released.sort_unstable();
        released.into_iter().map(|(_, c)| c).collect()
    }

    /// The EDF choice alone (what [`Mix::candidates`] would try first).
    fn edf(&self) -> Option<usize> {
        let t = self.total + 1;
        (0..self.shares.len())
            .filter(|&c| self.released(c, t))
            .min_by_key(|&c| (self.deadline(c), c))
    }

    fn released(&self, c: usize, t: u64) -> bool {
        u64::from(self.shares[c]) * t > 100 * self.counts[c]
    }

    /// The step by which category `c`'s next post must have happened.
    fn deadline(&self, c: usize) -> u64 {
        let s = u64::from(self.shares[c]);
        (100 * (self.counts[c] + 1)).div_ceil(s)
    }

    /// Whether every category is within one post of its share now.
    pub fn within_quota(&self) -> bool {
        let n = self.total as i128;
        self.shares.iter().zip(&self.counts).all(|(&s, &k)| {
            let diff = 100 * k as i128 - i128::from(s) * n;
            diff.abs() < 100
        })
    }

    /// Whether posting category `c` next keeps the mix within quota now and for a full
    /// look-ahead of EDF choices afterwards.
    pub fn is_safe(&self, c: usize) -> bool {
        let mut next = self.clone();
        next.add(c);
        if !next.within_quota() {
            return false;
        }
        for _ in 0..LOOKAHEAD {
            match next.edf() {
                Some(e) => next.add(e),
                None => return false,
            }
            if !next.within_quota() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(shares: &[u32], steps: usize) -> Vec<usize> {
        let mut m = Mix::new(shares.to_vec());
        let mut seq = Vec::new();
        for _ in 0..steps {
            let c = m.candidates()[0];
            m.add(c);
            assert!(m.within_quota(), "{shares:?} broke quota at {}", m.total());
            seq.push(c);
        }
        seq
    }

    #[test]
    fn seeds_mix_over_ten_posts_is_exact() {
        let seq = run(&[30, 10, 10, 20, 30], 10);
        let mut counts = [0; 5];
        for c in seq {
            counts[c] += 1;
        }
        assert_eq!(counts, [3, 1, 1, 2, 3]);
    }

    /// The naive rule: the category furthest behind its share goes next.
    fn largest_deficit_breaks_quota(shares: &[u32], steps: u64) -> bool {
        let mut counts = vec![0i64; shares.len()];
        for t in 1..=steps as i64 {
            let c = (0..shares.len())
                .max_by_key(|&i| {
                    (
                        i64::from(shares[i]) * t - 100 * counts[i],
                        std::cmp::Reverse(i),
                    )
                })
                .unwrap_or(0);
            counts[c] += 1;
            if shares
                .iter()
                .zip(&counts)
                .any(|(&s, &k)| (100 * k - i64::from(s) * t).abs() >= 100)
            {
                return true;
            }
        }
        false
    }

    #[test]
    fn edf_holds_where_largest_deficit_fails() {
        for shares in [[22, 1, 54, 3, 20].as_slice(), &[7, 31, 51, 9, 1, 1]] {
            assert!(largest_deficit_breaks_quota(shares, 300), "{shares:?}");
            run(shares, 1000);
        }
    }

    proptest! {
        #[test]
        fn edf_keeps_quota_for_any_shares(raw in proptest::collection::vec(0u32..100, 1..8), steps in 1usize..400) {
            // Turn random weights into integer percentages that sum to exactly 100.
            let sum: u32 = raw.iter().sum::<u32>().max(1);
            let mut shares: Vec<u32> = raw.iter().map(|w| w * 100 / sum).collect();
            let missing = 100 - shares.iter().sum::<u32>();
            shares[0] += missing;
            run(&shares, steps);
        }

        #[test]
        fn a_safe_detour_never_breaks_quota(shares_idx in 0usize..3, picks in proptest::collection::vec(0usize..5, 1..300)) {
            let table = [[30, 10, 10, 20, 30], [20, 20, 20, 20, 20], [50, 5, 5, 10, 30]];
            let mut m = Mix::new(table[shares_idx].to_vec());
            for p in picks {
                // Prefer a random category when it is safe, else the EDF one.
                let cands = m.candidates();
                let c = if cands.contains(&p) && m.is_safe(p) { p } else { cands[0] };
                m.add(c);
                prop_assert!(m.within_quota());
            }
        }
    }
}
