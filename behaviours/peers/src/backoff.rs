//! Redial delays: exponential backoff with jitter, free of I/O and clocks so it can be tested exactly.

use std::time::Duration;

use rand::Rng;

/// Parameters of the redial backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BackoffConfig {
    /// Delay before the first retry.
    pub(crate) initial: Duration,
    /// Largest delay between two attempts.
    pub(crate) max: Duration,
    /// Fraction (0.0..=1.0) by which each delay is randomly shortened or lengthened.
    pub(crate) jitter: f64,
}

/// Backoff state of one address: how many attempts failed in a row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt after one more failure.
    ///
    /// The un-jittered delay is `initial * 2^(failures - 1)`, capped at `max`; jitter then moves it
    /// by up to `jitter * delay` either way, so that peers that lost each other at the same moment
    /// do not redial in lock step. The result never exceeds `max * (1 + jitter)`.
    pub(crate) fn next_delay(&mut self, config: &BackoffConfig, rng: &mut impl Rng) -> Duration {
        let exponent = self.failures.min(31);
        self.failures = self.failures.saturating_add(1);
        let base = config
            .initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(config.max)
            .min(config.max);
        let jitter = config.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let factor = rng.gen_range((1.0 - jitter)..=(1.0 + jitter));
        base.mul_f64(factor)
    }

    /// Forgets past failures: the next failure starts again at the initial delay.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// Number of failures in a row so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    use super::*;

    fn config(jitter: f64) -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            jitter,
        }
    }

    #[test]
    fn delays_double_from_the_initial_value_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<u64> = (0..10)
            .map(|_| backoff.next_delay(&config(0.0), &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
    }

    #[test]
    fn reset_starts_again_at_the_initial_delay() {
        let mut backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..5 {
            backoff.next_delay(&config(0.0), &mut rng);
        }
        backoff.reset();
        assert_eq!(backoff.failures(), 0);
        assert_eq!(
            backoff.next_delay(&config(0.0), &mut rng),
            Duration::from_millis(100)
        );
    }

    proptest! {
        #[test]
        fn every_delay_stays_within_the_jittered_bounds(
            seed: u64,
            failures in 0u32..200,
            jitter in 0.0f64..=1.0,
        ) {
            let config = config(jitter);
            let mut backoff = Backoff { failures };
            let mut rng = StdRng::seed_from_u64(seed);
            let delay = backoff.next_delay(&config, &mut rng);
            let base = config.initial.saturating_mul(1u32 << failures.min(31)).min(config.max);
            prop_assert!(delay >= base.mul_f64(1.0 - jitter) - Duration::from_nanos(1));
            prop_assert!(delay <= base.mul_f64(1.0 + jitter) + Duration::from_nanos(1));
            prop_assert!(delay <= config.max.mul_f64(1.0 + jitter) + Duration::from_nanos(1));
        }
    }
}
