//! Exponential backoff between attempts, deterministic.
//!
//! After attempt `k` fails, the job waits `base × factor^(k−1)`, at most `cap`, before attempt
//! `k + 1` may start. There is no random jitter, so a test can say exactly when the next
//! attempt is due. (A real system adds jitter so that many jobs failing together do not all
//! retry together; it would take it from a hash of the job id, seeded, to stay reproducible.)

use std::time::Duration;

/// How long a job waits after a failed attempt: `base × factor^(attempt − 1)`, capped at `cap`.
///
/// ```
/// use level_3_advanced::projects::jobs::Backoff;
/// use std::time::Duration;
///
/// let backoff = Backoff::new(Duration::from_millis(100), 2, Duration::from_millis(500));
/// let waits: Vec<u128> = (1..=5).map(|attempt| backoff.delay(attempt).as_millis()).collect();
/// assert_eq!(waits, [100, 200, 400, 500, 500]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub base: Duration,
    /// Each later wait is this many times the one before. At least 1 (1: a constant wait).
    pub factor: u32,
    /// No wait is longer than this. At least `base`.
    pub cap: Duration,
}

impl Backoff {
    /// A backoff from its three settings. [`validate`](Self::validate) checks them.
    pub const fn new(base: Duration, factor: u32, cap: Duration) -> Self {
        Self { base, factor, cap }
    }

    /// The wait after failed attempt `attempt` (counted from 1) before the next one.
    ///
    /// Overflow is impossible: a product too large for a `Duration` is the cap.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1);
        self.factor
            .checked_pow(exponent)
            .and_then(|multiplier| self.base.checked_mul(multiplier))
            .map_or(self.cap, |wait| wait.min(self.cap))
    }

    /// Why these settings cannot work, if they cannot.
    ///
    /// # Errors
    /// A factor of 0 (every wait after the first would be 0), or a cap below the base.
    pub fn validate(&self) -> Result<(), String> {
        if self.factor == 0 {
            return Err("the backoff factor must be at least 1".to_owned());
        }
        if self.cap < self.base {
            return Err(format!(
                "the backoff cap ({:?}) is below its base ({:?})",
                self.cap, self.base
            ));
        }
        Ok(())
    }
}

impl Default for Backoff {
    /// 100 ms, doubling, at most 10 s.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), 2, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_factor_and_stop_at_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(10), 3, Duration::from_millis(200));
        let waits: Vec<u128> = (1..=6).map(|a| backoff.delay(a).as_millis()).collect();
        assert_eq!(waits, [10, 30, 90, 200, 200, 200]);
    }

    #[test]
    fn a_factor_of_one_is_a_constant_wait_and_huge_attempts_do_not_overflow() {
        let constant = Backoff::new(Duration::from_millis(50), 1, Duration::from_secs(1));
        assert_eq!(constant.delay(1), Duration::from_millis(50));
        assert_eq!(constant.delay(1_000), Duration::from_millis(50));
        let doubling = Backoff::default();
        assert_eq!(doubling.delay(u32::MAX), Duration::from_secs(10));
        assert_eq!(doubling.delay(0), Duration::from_millis(100));
    }

    #[test]
    fn bad_settings_are_refused() {
        let zero = Backoff::new(Duration::from_millis(1), 0, Duration::from_secs(1));
        assert!(zero.validate().unwrap_err().contains("factor"));
        let low_cap = Backoff::new(Duration::from_secs(2), 2, Duration::from_secs(1));
        assert!(low_cap.validate().unwrap_err().contains("cap"));
        assert_eq!(Backoff::default().validate(), Ok(()));
    }
}
