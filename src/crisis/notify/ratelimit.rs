//! Per-sink rate limits: at most N messages in any window of W, for each (N, W) a service sets.
//!
//! A sliding log of recent send times rather than a token bucket: a bucket holding N tokens and
//! refilling N per minute lets through up to 2N in some minute (a full bucket, then the
//! refill), which WeCom and DingTalk answer by muting the robot for ten minutes. The log never
//! exceeds N in any window. Time is passed in (the delivery worker's injectable clock), so the
//! limiter is deterministic under test.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

/// A set of (count, window) limits, all of which must hold.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limits: Vec<(usize, TimeDelta)>,
    /// Send times within the longest window, oldest first.
    sent: VecDeque<DateTime<Utc>>,
}

impl RateLimit {
    /// A limiter with the given (count, window) pairs; no pairs means no limit.
    pub fn new(limits: Vec<(usize, TimeDelta)>) -> Self {
        Self {
            limits: limits.into_iter().filter(|(n, _)| *n > 0).collect(),
            sent: VecDeque::new(),
        }
    }

    /// At most `n` a minute.
    pub fn per_minute(n: u32) -> Self {
        Self::new(vec![(n as usize, TimeDelta::minutes(1))])
    }

    /// Takes a slot at `now` if every limit allows it; otherwise says when one will be free.
    pub fn try_acquire(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let longest = self.limits.iter().map(|(_, w)| *w).max();
        if let Some(longest) = longest {
            while self.sent.front().is_some_and(|t| *t <= now - longest) {
                self.sent.pop_front();
            }
        }
        let mut free_at: Option<DateTime<Utc>> = None;
        for (n, window) in &self.limits {
            let in_window: Vec<&DateTime<Utc>> =
                self.sent.iter().filter(|t| **t > now - *window).collect();
            if in_window.len() >= *n {
                // The slot frees when the n-th most recent send leaves the window.
                let oldest_counted = in_window[in_window.len() - n];
                let at = *oldest_counted + *window;
                free_at = Some(free_at.map_or(at, |f| f.max(at)));
            }
        }
        match free_at {
            Some(at) => Err(at),
            None => {
                // Without limits there is nothing to remember (and the log must not grow).
                if !self.limits.is_empty() {
                    self.sent.push_back(now);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T01:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    #[test]
    fn never_more_than_n_in_any_window() {
        let mut rl = RateLimit::per_minute(20);
        let mut sent = Vec::new();
        // Offer a message every second for five minutes.
        for s in 0..300 {
            let now = t0() + TimeDelta::seconds(s);
            if rl.try_acquire(now).is_ok() {
                sent.push(now);
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let in_minute = sent[i..]
                .iter()
                .take_while(|t| **t < *start + TimeDelta::minutes(1))
                .count();
            assert!(
                in_minute <= 20,
                "{in_minute} sends in the minute from {start}"
            );
        }
        // And it is not overly strict: 20 in each of the five minutes.
        assert_eq!(sent.len(), 100);
    }

    #[test]
    fn says_when_the_next_slot_frees() {
        let mut rl = RateLimit::per_minute(2);
        assert_eq!(rl.try_acquire(t0()), Ok(()));
        assert_eq!(rl.try_acquire(t0() + TimeDelta::seconds(10)), Ok(()));
        assert_eq!(
            rl.try_acquire(t0() + TimeDelta::seconds(20)),
            Err(t0() + TimeDelta::seconds(60))
        );
        assert_eq!(rl.try_acquire(t0() + TimeDelta::seconds(60)), Ok(()));
    }

    #[test]
    fn all_limits_must_hold() {
        // Feishu: 5 a second and 100 a minute.
        let mut rl = RateLimit::new(vec![
            (5, TimeDelta::seconds(1)),
            (100, TimeDelta::minutes(1)),
        ]);
        let now = t0();
        for _ in 0..5 {
            assert_eq!(rl.try_acquire(now), Ok(()));
        }
        assert_eq!(rl.try_acquire(now), Err(now + TimeDelta::seconds(1)));
    }

    #[test]
    fn no_limits_means_no_limit() {
        let mut rl = RateLimit::new(vec![]);
        for _ in 0..1000 {
            assert_eq!(rl.try_acquire(t0()), Ok(()));
        }
    }
}
