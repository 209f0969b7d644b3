//! The few statistics the spike detector needs: the negative-binomial upper tail (counts of
//! mentions are over-dispersed, so a Poisson tail would call ordinary bursts "impossible"), a
//! one-sided binomial z for the negative share, and a median. Pure functions, no state.

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; relative error below 1e-13), because
/// `f64::ln_gamma` is not stable Rust.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `-log10 P(X ≥ x)` for a negative binomial `X` with mean `mean` and variance
/// `mean + phi · mean²` (`phi` near 0 is Poisson). 0 when `x` is not above the mean, so callers
/// can compare the result with a threshold directly.
pub fn nb_upper_score(x: f64, mean: f64, phi: f64) -> f64 {
    let mean = mean.max(1e-9);
    let x = x.floor();
    if x <= mean {
        return 0.0;
    }
    // r successes, success probability p: the usual parametrisation; a tiny phi makes r huge,
    // which is the Poisson limit and still numerically fine through ln_gamma.
    let r = 1.0 / phi.max(1e-6);
    let p = r / (r + mean);
    let q = 1.0 - p;
    let log_pmf_x = ln_gamma(x + r) - ln_gamma(r) - ln_gamma(x + 1.0) + r * p.ln() + x * q.ln();
    // Sum the tail from x upwards through the pmf ratio (k + r) / (k + 1) · q, which is below 1
    // past the mode, so the terms fall geometrically; stop when they stop mattering.
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut k = x;
    for _ in 0..100_000 {
        term *= (k + r) / (k + 1.0) * q;
        sum += term;
        k += 1.0;
        if term < sum * 1e-12 {
            break;
        }
    }
    let log_tail = log_pmf_x + sum.ln();
    (-log_tail / std::f64::consts::LN_10).max(0.0)
}

/// One-sided z of `k` negatives out of `n` against an expected share `p0`: how far the share
/// is above what is usual, in standard errors.
pub fn share_z(k: f64, n: f64, p0: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p0 = p0.clamp(1e-3, 1.0 - 1e-3);
    (k - n * p0) / (n * p0 * (1.0 - p0)).sqrt()
}

/// `-log10 P(X ≥ k)` for a binomial `X` of `n` trials with success probability `p0`: how
/// surprising `k` negatives out of `n` mentions are when the usual share is `p0`. 0 when `k`
/// is not above the expected count.
pub fn binom_upper_score(k: f64, n: f64, p0: f64) -> f64 {
    let (k, n) = (k.floor(), n.floor());
    if n <= 0.0 || k > n || k <= n * p0 {
        return 0.0;
    }
    let p0 = p0.clamp(1e-6, 1.0 - 1e-6);
    let log_pmf_k = ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
        + k * p0.ln()
        + (n - k) * (1.0 - p0).ln();
    // Past the mean the pmf ratio (n - j) / (j + 1) · p / (1 - p) is below 1: the terms fall.
    let odds = p0 / (1.0 - p0);
    let (mut sum, mut term, mut j) = (1.0, 1.0, k);
    while j < n {
        term *= (n - j) / (j + 1.0) * odds;
        sum += term;
        j += 1.0;
        if term < sum * 1e-12 {
            break;
        }
    }
    (-(log_pmf_k + sum.ln()) / std::f64::consts::LN_10).max(0.0)
}

/// The median of `values` (reordered in place); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut fact = 1.0f64;
        for n in 1..30u32 {
            // Γ(n + 1) = n!
            fact *= f64::from(n);
            let got = ln_gamma(f64::from(n) + 1.0);
            assert!(
                (got - fact.ln()).abs() < 1e-9,
                "n={n}: {got} vs {}",
                fact.ln()
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn nb_tail_is_poisson_in_the_limit() {
        // P(X >= 10 | Poisson(3)) = 0.0011025...
        let s = nb_upper_score(10.0, 3.0, 1e-9);
        let expected = -(0.001_102_488_f64).log10();
        assert!((s - expected).abs() < 1e-3, "{s} vs {expected}");
    }

    #[test]
    fn nb_tail_matches_a_direct_sum() {
        // Mean 4, phi 0.5 (r = 2, p = 1/3): P(X >= 12) by summing the pmf below 12.
        let (r, p) = (2.0f64, 1.0f64 / 3.0);
        let mut below = 0.0;
        for k in 0..12 {
            let kf = f64::from(k);
            below += (ln_gamma(kf + r) - ln_gamma(r) - ln_gamma(kf + 1.0)
                + r * p.ln()
                + kf * (1.0 - p).ln())
            .exp();
        }
        let expected = -(1.0 - below).log10();
        let got = nb_upper_score(12.0, 4.0, 0.5);
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
    }

    #[test]
    fn over_dispersion_makes_the_same_count_less_surprising() {
        let poisson = nb_upper_score(40.0, 10.0, 1e-6);
        let dispersed = nb_upper_score(40.0, 10.0, 0.3);
        assert!(poisson > dispersed + 3.0, "{poisson} vs {dispersed}");
        assert_eq!(nb_upper_score(5.0, 10.0, 0.1), 0.0, "below the mean");
    }

    #[test]
    fn binomial_tail_matches_a_direct_sum() {
        // P(X >= 9 | Bin(20, 0.2)) = 0.00998...
        let mut tail = 0.0;
        let mut choose = 1.0f64;
        for j in 0..=20u32 {
            if j > 0 {
                choose *= f64::from(21 - j) / f64::from(j);
            }
            if j >= 9 {
                tail += choose * 0.2f64.powi(j as i32) * 0.8f64.powi(20 - j as i32);
            }
        }
        let got = binom_upper_score(9.0, 20.0, 0.2);
        assert!(
            (got + tail.log10()).abs() < 1e-9,
            "{got} vs {}",
            -tail.log10()
        );
        assert_eq!(binom_upper_score(3.0, 20.0, 0.2), 0.0, "not above the mean");
        assert_eq!(binom_upper_score(0.0, 0.0, 0.2), 0.0);
        assert!(binom_upper_score(20.0, 20.0, 0.2) > 13.0);
    }

    #[test]
    fn share_z_and_median() {
        assert!(share_z(80.0, 100.0, 0.2) > 10.0);
        assert!(share_z(10.0, 100.0, 0.2) < 0.0);
        assert_eq!(share_z(0.0, 0.0, 0.2), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
