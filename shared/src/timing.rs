//! Timing helpers for the lessons' speed demos: time one call, and compare two times as a
//! ratio. Lessons print ratios measured in the same run, never absolute times as facts: a
//! 2-core virtual machine's speed moves by several times within minutes, while the ratio of
//! two interleaved measurements moves far less.

use std::time::{Duration, Instant};

/// Runs `f` and returns its result with the wall time it took.
///
/// ```
/// use shared::timing::timed;
///
/// let (sum, took) = timed(|| (1..=100u64).sum::<u64>());
/// assert_eq!(sum, 5_050);
/// assert!(took.as_secs() < 60);
/// ```
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// How many times `a` is `b`: `sequential / parallel` is the speedup. Safe when `b`
/// measured as 0 ns (a call too quick for the clock): it counts as 1 ns, never a division by
/// zero.
///
/// ```
/// use shared::timing::ratio;
/// use std::time::Duration;
///
/// assert_eq!(ratio(Duration::from_millis(30), Duration::from_millis(15)), 2.0);
/// assert!(ratio(Duration::from_millis(1), Duration::ZERO).is_finite());
/// ```
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_returns_the_value_and_a_time_at_least_as_long_as_the_call() {
        let (value, took) = timed(|| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(2) {}
            7
        });
        assert_eq!(value, 7);
        assert!(took >= Duration::from_millis(2));
    }

    #[test]
    fn ratio_divides_and_survives_a_zero_denominator() {
        assert_eq!(ratio(Duration::from_secs(3), Duration::from_secs(2)), 1.5);
        assert_eq!(ratio(Duration::ZERO, Duration::from_secs(1)), 0.0);
        assert_eq!(ratio(Duration::from_nanos(5), Duration::ZERO), 5.0);
    }
}
