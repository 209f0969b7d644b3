//! Retry timing shared by the loops that retry (publishing, alert delivery): exponential
//! backoff with jitter. The bottom layer: it imports nothing of herald's.

use std::time::Duration;

/// The wait before attempt `attempts + 1`: `first` doubled per failed attempt, capped at `max`,
/// with ±20% jitter so that things which failed together do not retry together.
pub fn backoff(first: Duration, max: Duration, attempts: u32) -> Duration {
    let base = first.as_secs_f64() * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
    let capped = base.min(max.as_secs_f64());
    Duration::from_secs_f64(capped * (0.8 + 0.4 * fastrand::f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_attempt_up_to_the_cap_within_the_jitter() {
        let (first, max) = (Duration::from_secs(10), Duration::from_secs(300));
        for (attempts, centre) in [
            (0, 10.0),
            (1, 10.0),
            (2, 20.0),
            (3, 40.0),
            (6, 300.0),
            (99, 300.0),
        ] {
            for _ in 0..50 {
                let d = backoff(first, max, attempts).as_secs_f64();
                assert!(
                    (centre * 0.8..=centre * 1.2).contains(&d),
                    "attempt {attempts}: {d}"
                );
            }
        }
    }
}
