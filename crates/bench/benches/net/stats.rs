//! Order statistics over measured samples.

use std::time::Duration;

/// A sorted set of measurements, in one unit (microseconds, MB/s, round trips/s...).
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    sorted: Vec<f64>,
}

impl Samples {
    pub(crate) fn new(mut values: Vec<f64>) -> Self {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        Samples { sorted: values }
    }

    /// Durations in microseconds.
    pub(crate) fn micros(durations: &[Duration]) -> Self {
        Self::new(durations.iter().map(|d| d.as_secs_f64() * 1e6).collect())
    }

    /// Durations in milliseconds.
    pub(crate) fn millis(durations: &[Duration]) -> Self {
        Self::new(durations.iter().map(|d| d.as_secs_f64() * 1e3).collect())
    }

    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The value below which a fraction `q` (0..=1) of samples lie (nearest rank), or NaN if
    /// there are none.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub(crate) fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    pub(crate) fn p99(&self) -> f64 {
        self.quantile(0.99)
    }

    /// The samples in ascending order (for plots).
    pub(crate) fn sorted(&self) -> &[f64] {
        &self.sorted
    }
}
