//! A lock-free latency histogram: many workers record, a metrics reader snapshots at any time.
//!
//! A thread pool wants to answer "how long do tasks wait in the queue, and how long do they
//! run?" without slowing the workers down. Averages hide the slow tail, and keeping every sample
//! costs memory without bound. A histogram keeps a fixed array of counters instead: recording a
//! duration adds one to the counter of the *bucket* its value falls into, and percentiles are
//! read back from the cumulative counts.
//!
//! [`Histogram::record`] takes `&self` and uses only relaxed atomic operations, so one
//! histogram can be shared by every worker (`Arc<Histogram>` or a field of a shared struct) with
//! no lock, no allocation and no clock read on the hot path. [`Histogram::snapshot`] copies the
//! counters into a plain [`LatencySummary`] that answers [`count`](LatencySummary::count),
//! [`mean`](LatencySummary::mean), [`max`](LatencySummary::max) and
//! [`percentile`](LatencySummary::percentile).
//!
//! ```
//! use shared::pool::histogram::Histogram;
//! use std::thread;
//! use std::time::Duration;
//!
//! let run_time = Histogram::new();
//! thread::scope(|s| {
//!     for worker in 1..=4u64 {
//!         let run_time = &run_time;
//!         s.spawn(move || {
//!             for task in 1..=250u64 {
//!                 // A real pool would time the task with `Instant`; the histogram does not care.
//!                 run_time.record(Duration::from_micros(worker * task));
//!             }
//!         });
//!     }
//! });
//! let summary = run_time.snapshot();
//! assert_eq!(summary.count(), 1_000);
//! assert_eq!(summary.max(), Some(Duration::from_micros(1_000)));
//! println!("{summary}"); // n=1000 mean=313.8µs p50=245.8µs p90=720.9µs p99=983.0µs max=1.0ms
//! ```
//!
//! # Bucket layout ("HDR-lite", log-linear)
//!
//! Values are nanoseconds. Below 16 ns every value has its own bucket. From there on, each
//! power of two `[2^k, 2^(k+1))` is split into 8 equal sub-buckets, so the width of a bucket
//! grows with the values it holds and is never more than 1/8 of them:
//!
//! | values (ns)              | bucket width   | buckets |
//! |--------------------------|----------------|---------|
//! | `0 ..= 15`               | 1 (exact)      | 16      |
//! | `16 ..= 31`              | 2              | 8       |
//! | `2^k ..= 2^(k+1) - 1`    | `2^(k-3)`      | 8       |
//! | `2^41 ..= 2^42 - 1`      | `2^38` (≈ 4.6 min) | 8   |
//!
//! That is 320 buckets (2.5 KiB of counters) covering 0 ns up to
//! [`Histogram::HIGHEST_TRACKED`] = 2^42 − 1 ns ≈ 73.3 minutes. Longer durations are counted in
//! the last bucket; only [`max`](LatencySummary::max) keeps their exact value.
//!
//! # Error bound
//!
//! A percentile reports the **upper bound** of the bucket that holds the value of that rank,
//! capped at the recorded maximum. With `v` the exact value of that rank, the report `r` obeys
//! `v <= r < v * (1 + 1/8)`: it never under-states a latency, and over-states it by less than
//! [`Histogram::MAX_RELATIVE_ERROR`] (12.5 %). Values below 16 ns, and the maximum itself, are
//! exact. Only for values beyond `HIGHEST_TRACKED` is there no bound: their bucket reports the
//! maximum.
//!
//! # Reading while others write
//!
//! A snapshot reads each counter once, one after the other, while workers may be recording. It
//! is therefore not a single atomic instant: a record in flight may be seen in its bucket but
//! not yet in the sum or the maximum, or the other way round. The error is at most the handful
//! of records in flight, and every method of [`LatencySummary`] is written so that such a skew
//! can make a figure slightly stale but never causes a panic or a division by zero: the count is
//! the sum of the copied buckets, so percentiles always agree with the count they rank against.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// log2 of the number of sub-buckets per power of two: 3 bits → 8 sub-buckets → ≤ 12.5 % error.
const SUB_BITS: u32 = 3;
/// Sub-buckets per power of two.
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Values up to `2^TOP_BIT - 1` ns get their own bucket; larger ones share the last.
const TOP_BIT: u32 = 42;
/// The largest value that is bucketed within the error bound: 2^42 − 1 ns ≈ 73.3 minutes.
const HIGHEST_NANOS: u64 = (1 << TOP_BIT) - 1;
/// 16 exact buckets for `0..16`, then 8 per power of two from 2^4 up to 2^41.
const BUCKETS: usize = ((TOP_BIT - SUB_BITS + 1) as usize) * SUB_BUCKETS as usize;
/// The running sum stops growing once it reaches this: 2^63 ns ≈ 292 years of total latency.
///
/// It is half the range of `u64` on purpose. `record` checks the sum *before* adding to it, so a
/// few threads can pass the check together and add after the limit is crossed; each adds at most
/// `HIGHEST_NANOS` (2^42), so the sum would only wrap if 2^21 records were in flight at once.
const SUM_LIMIT: u64 = 1 << 63;

/// A fixed-size, lock-free histogram of durations, shared by reference between threads.
///
/// Recording is a few relaxed atomic operations (see [`record`](Self::record)); reading is
/// [`snapshot`](Self::snapshot). `new` is `const`, so a histogram can also live in a `static`.
///
/// ```
/// use shared::pool::histogram::Histogram;
/// use std::time::Duration;
///
/// static QUEUE_WAIT: Histogram = Histogram::new();
///
/// QUEUE_WAIT.record(Duration::from_micros(40));
/// QUEUE_WAIT.record(Duration::from_micros(60));
/// let summary = QUEUE_WAIT.snapshot();
/// assert_eq!(summary.count(), 2);
/// assert_eq!(summary.mean(), Some(Duration::from_micros(50)));
/// ```
pub struct Histogram {
    /// One counter per bucket; see the module documentation for the layout.
    buckets: [AtomicU64; BUCKETS],
    /// Sum of the recorded nanoseconds (each clamped to `HIGHEST_NANOS`), saturating near
    /// `SUM_LIMIT`. There is deliberately no separate count: the snapshot sums the buckets,
    /// which saves `record` one contended atomic and keeps count and percentiles consistent.
    sum: AtomicU64,
    /// Largest recorded value in nanoseconds, not clamped, so outliers keep their true size.
    max: AtomicU64,
}

impl Histogram {
    /// Percentiles over-state the exact value by less than this fraction (1/8 = 12.5 %), and
    /// never under-state it. See the module documentation for the derivation.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// h.record(Duration::from_nanos(1_000));
    /// h.record(Duration::from_nanos(2_000));
    /// let exact = 1_000.0;
    /// let p50 = h.snapshot().p50().unwrap().as_nanos() as f64;
    /// assert!(exact <= p50 && p50 < exact * (1.0 + Histogram::MAX_RELATIVE_ERROR));
    /// ```
    pub const MAX_RELATIVE_ERROR: f64 = 1.0 / SUB_BUCKETS as f64;

    /// The largest duration bucketed within [`MAX_RELATIVE_ERROR`](Self::MAX_RELATIVE_ERROR):
    /// 2^42 − 1 ns, about 73.3 minutes. Longer durations are counted in the last bucket and
    /// enter the mean as this value; [`LatencySummary::max`] still reports them exactly.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// assert!(Histogram::HIGHEST_TRACKED > Duration::from_secs(3600));
    /// ```
    pub const HIGHEST_TRACKED: Duration = Duration::from_nanos(HIGHEST_NANOS);

    /// An empty histogram. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// let h = shared::pool::histogram::Histogram::new();
    /// assert_eq!(h.snapshot().count(), 0);
    /// ```
    pub const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one duration. Safe to call from any number of threads at once.
    ///
    /// Cost: one relaxed `fetch_add` on the bucket, one relaxed load and `fetch_add` on the sum,
    /// one relaxed load of the maximum, plus a `fetch_max` only when the value is a new maximum.
    /// No lock, no allocation, no clock read, no loop: every thread finishes in a bounded
    /// number of steps whatever the others do (on targets where `fetch_max` is a compare-and-swap
    /// loop, that loop runs only for new maxima, which are rare).
    ///
    /// Durations beyond [`HIGHEST_TRACKED`](Self::HIGHEST_TRACKED) go to the last bucket and
    /// count as `HIGHEST_TRACKED` in the mean; the maximum saturates at `u64::MAX` ns
    /// (≈ 584 years). The sum behind the mean saturates at 2^63 ns (≈ 292 years in total).
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// h.record(Duration::ZERO);
    /// h.record(Duration::from_secs(5 * 3600)); // beyond the tracked range: still counted
    /// let summary = h.snapshot();
    /// assert_eq!(summary.count(), 2);
    /// assert_eq!(summary.max(), Some(Duration::from_secs(5 * 3600)));
    /// ```
    pub fn record(&self, d: Duration) {
        let nanos = saturating_nanos(d);
        let tracked = nanos.min(HIGHEST_NANOS);
        // Relaxed everywhere: these are independent counters that publish no other data, and a
        // reader that needs to see every record of a finished run gets that from `join`.
        self.buckets[bucket_index(tracked)].fetch_add(1, Relaxed);
        // Check before adding instead of a compare-and-swap loop, which would not be
        // wait-free; `SUM_LIMIT` explains why the overshoot cannot wrap.
        if self.sum.load(Relaxed) < SUM_LIMIT {
            self.sum.fetch_add(tracked, Relaxed);
        }
        // Most values are not a new maximum; a plain load lets them skip the read-modify-write,
        // which would otherwise pull the cache line into exclusive state on every record.
        if nanos > self.max.load(Relaxed) {
            self.max.fetch_max(nanos, Relaxed);
        }
    }

    /// Copies the counters into a [`LatencySummary`]. Allocates one small buffer; meant for a
    /// metrics reader, not the hot path. It may run while other threads record: see the module
    /// documentation for what that means for the figures.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// h.record(Duration::from_millis(3));
    /// let before = h.snapshot();
    /// h.record(Duration::from_millis(4));
    /// assert_eq!(before.count(), 1); // a snapshot is a copy: later records do not change it
    /// assert_eq!(h.snapshot().count(), 2);
    /// ```
    pub fn snapshot(&self) -> LatencySummary {
        // Buckets first, maximum last: a record bumps its bucket before the maximum, so this
        // order makes it likely (not certain: relaxed loads promise no order) that the maximum
        // covers every value the buckets show.
        let buckets: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let sum_nanos = self.sum.load(Relaxed);
        let max_nanos = self.max.load(Relaxed);
        LatencySummary {
            // Counted from the copy itself, so ranks can never point past the last bucket.
            count: buckets.iter().sum(),
            buckets,
            sum_nanos,
            max_nanos,
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 320 raw counters would drown the output; the summary is what a reader wants.
        f.debug_tuple("Histogram").field(&self.snapshot()).finish()
    }
}

/// A copy of a [`Histogram`]'s counters at one moment, with the statistics computed from it.
///
/// Every statistic is `None` (or a count of 0) when nothing was recorded. `Display` gives a
/// one-line summary for logs: `n=1000 mean=1.2µs p50=1.0µs p90=2.0µs p99=5.1µs max=7.3µs`,
/// or `n=0` when empty. `Default` is the empty summary.
///
/// ```
/// use shared::pool::histogram::Histogram;
/// use std::time::Duration;
///
/// let h = Histogram::new();
/// for micros in 1..=100 {
///     h.record(Duration::from_micros(micros));
/// }
/// let summary = h.snapshot();
/// let p90 = summary.p90().unwrap();
/// // The exact 90th percentile is 90µs; the report is at most 12.5 % above it.
/// assert!(p90 >= Duration::from_micros(90) && p90 < Duration::from_micros(90) * 9 / 8);
/// assert!(summary.to_string().starts_with("n=100 mean=50.5µs p50="));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LatencySummary {
    /// Bucket counts, same layout as `Histogram::buckets` (empty for `Default`).
    buckets: Vec<u64>,
    /// Sum of `buckets`: the number of records this snapshot saw.
    count: u64,
    /// See `Histogram::sum`.
    sum_nanos: u64,
    /// See `Histogram::max`.
    max_nanos: u64,
}

impl LatencySummary {
    /// How many durations were recorded.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// h.record(Duration::from_nanos(1));
    /// h.record(Duration::from_nanos(1));
    /// assert_eq!(h.snapshot().count(), 2);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The arithmetic mean, exact to the nanosecond (rounded down), or `None` when empty.
    ///
    /// Durations beyond [`Histogram::HIGHEST_TRACKED`] enter the mean as that value, and once
    /// the total passes 2^63 ns (≈ 292 years) the sum stops growing: in both cases the mean is
    /// an under-estimate.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// assert_eq!(h.snapshot().mean(), None);
    /// h.record(Duration::from_nanos(10));
    /// h.record(Duration::from_nanos(21));
    /// assert_eq!(h.snapshot().mean(), Some(Duration::from_nanos(15)));
    /// ```
    pub fn mean(&self) -> Option<Duration> {
        // `checked_div` is the "empty" check; the `min` hides the overshoot past the limit.
        let mean = self.sum_nanos.min(SUM_LIMIT).checked_div(self.count)?;
        Some(Duration::from_nanos(mean))
    }

    /// The largest recorded duration, exact (saturating at `u64::MAX` ns), or `None` when
    /// empty.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// assert_eq!(h.snapshot().max(), None);
    /// h.record(Duration::from_nanos(123_456_789));
    /// assert_eq!(h.snapshot().max(), Some(Duration::from_nanos(123_456_789)));
    /// ```
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.max_nanos))
    }

    /// The `p`-th percentile (`p` in `0.0..=100.0`), or `None` when empty.
    ///
    /// The percentile is the value of rank `ceil(p / 100 * count)` (at least 1) in sorted
    /// order, the "nearest rank" definition: `percentile(0.0)` is about the minimum and
    /// `percentile(100.0)` is exactly the maximum. The histogram does not keep that value, so
    /// this returns the upper bound of its bucket, capped at [`max`](Self::max): never below the
    /// exact value, and less than [`Histogram::MAX_RELATIVE_ERROR`] above it.
    ///
    /// # Panics
    ///
    /// If `p` is NaN or outside `0.0..=100.0`. Such a `p` is a bug in the caller (a fraction
    /// passed instead of a percentage, say), and silently clamping it would hide that.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// assert_eq!(h.snapshot().percentile(50.0), None);
    /// for nanos in [5, 7, 9, 11] {
    ///     h.record(Duration::from_nanos(nanos)); // below 16 ns: exact buckets
    /// }
    /// let summary = h.snapshot();
    /// assert_eq!(summary.percentile(0.0), Some(Duration::from_nanos(5)));
    /// assert_eq!(summary.percentile(50.0), Some(Duration::from_nanos(7)));
    /// assert_eq!(summary.percentile(100.0), Some(Duration::from_nanos(11)));
    /// ```
    ///
    /// ```should_panic
    /// use shared::pool::histogram::Histogram;
    ///
    /// let summary = Histogram::new().snapshot();
    /// summary.percentile(150.0); // panics: not a percentage
    /// ```
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        assert!(
            (0.0..=100.0).contains(&p),
            "percentile must be within 0.0..=100.0, got {p}"
        );
        if self.count == 0 {
            return None;
        }
        // Multiply before dividing: `p * count` is exact for ordinary sizes, so a percentile
        // that lands on a whole rank (90 % of 10) is not pushed to the next one by rounding.
        // The `as` cast saturates, and the clamp keeps the rank within 1..=count.
        let rank = ((p * self.count as f64 / 100.0).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                // The last bucket also holds everything beyond the tracked range, so it has no
                // upper bound of its own: the maximum is the only honest report.
                let upper = if index == BUCKETS - 1 {
                    u64::MAX
                } else {
                    bucket_upper_bound(index)
                };
                return Some(Duration::from_nanos(upper.min(self.max_nanos)));
            }
        }
        // Unreachable while `count` is the sum of `buckets`; kept total rather than panicking.
        self.max()
    }

    /// The median: `percentile(50.0)`.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// h.record(Duration::from_nanos(3));
    /// assert_eq!(h.snapshot().p50(), Some(Duration::from_nanos(3)));
    /// ```
    pub fn p50(&self) -> Option<Duration> {
        self.percentile(50.0)
    }

    /// The 90th percentile: `percentile(90.0)`.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// for nanos in 1..=10 {
    ///     h.record(Duration::from_nanos(nanos));
    /// }
    /// assert_eq!(h.snapshot().p90(), Some(Duration::from_nanos(9)));
    /// ```
    pub fn p90(&self) -> Option<Duration> {
        self.percentile(90.0)
    }

    /// The 99th percentile: `percentile(99.0)`.
    ///
    /// ```
    /// use shared::pool::histogram::Histogram;
    /// use std::time::Duration;
    ///
    /// let h = Histogram::new();
    /// for _ in 0..99 {
    ///     h.record(Duration::from_nanos(1));
    /// }
    /// h.record(Duration::from_secs(1)); // one outlier in a hundred is the 100th percentile
    /// assert_eq!(h.snapshot().p99(), Some(Duration::from_nanos(1)));
    /// ```
    pub fn p99(&self) -> Option<Duration> {
        self.percentile(99.0)
    }
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n={}", self.count)?;
        // All five are `Some` together or `None` together, so an empty summary is just `n=0`.
        if let (Some(mean), Some(p50), Some(p90), Some(p99), Some(max)) =
            (self.mean(), self.p50(), self.p90(), self.p99(), self.max())
        {
            // `Duration`'s Debug picks the unit (ns, µs, ms, s); `.1` fixes one decimal.
            write!(
                f,
                " mean={mean:.1?} p50={p50:.1?} p90={p90:.1?} p99={p99:.1?} max={max:.1?}"
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The statistics, not 320 bucket counts.
        f.debug_struct("LatencySummary")
            .field("count", &self.count)
            .field("mean", &self.mean())
            .field("p50", &self.p50())
            .field("p90", &self.p90())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .finish()
    }
}

/// `d` in whole nanoseconds, saturating at `u64::MAX` (≈ 584 years) instead of going through
/// `u128` like `Duration::as_nanos`.
fn saturating_nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// The bucket of a value of at most `HIGHEST_NANOS` nanoseconds.
fn bucket_index(nanos: u64) -> usize {
    debug_assert!(nanos <= HIGHEST_NANOS);
    // Position of the highest set bit, but at least SUB_BITS: OR-ing in bit 3 folds the exact
    // range 0..16 into the same formula as everything else, without a branch.
    let msb = u64::BITS - 1 - (nanos | SUB_BUCKETS).leading_zeros();
    // Drop all but the top SUB_BITS + 1 bits: what is left, `nanos >> shift`, is in 8..16
    // (or 0..16 when shift is 0), and picks the sub-bucket within this power of two.
    let shift = msb - SUB_BITS;
    // Each power of two above 2^3 adds 8 buckets; `shift * 8 + (8..16)` makes them contiguous.
    (shift as usize) * SUB_BUCKETS as usize + (nanos >> shift) as usize
}

/// The largest value that `bucket_index` maps to `index`: the inverse of the formula above.
fn bucket_upper_bound(index: usize) -> u64 {
    let index = index as u64;
    // Buckets 0..16 have shift 0; after that every 8 buckets add one to the shift.
    let shift = (index / SUB_BUCKETS).saturating_sub(1);
    let mantissa = index - shift * SUB_BUCKETS;
    ((mantissa + 1) << shift) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// Marsaglia's xorshift64: deterministic, dependency-free, good enough for test data.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Log-uniform nanoseconds from 1 ns up to about 2^40 ns (18 minutes), so that every
        /// power of two, and so every bucket width, is exercised about equally.
        fn duration(&mut self) -> Duration {
            let bits = self.next() % 41;
            let nanos = (1u64 << bits) | (self.next() & ((1u64 << bits) - 1));
            Duration::from_nanos(nanos)
        }
    }

    /// The nearest-rank percentile of sorted data: the definition `percentile` approximates.
    fn exact_percentile(sorted: &[Duration], p: f64) -> Duration {
        let n = sorted.len() as u64;
        let rank = ((p * n as f64 / 100.0).ceil() as u64).clamp(1, n);
        sorted[(rank - 1) as usize]
    }

    #[test]
    fn bucket_layout_is_contiguous_and_within_the_error_bound() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(HIGHEST_NANOS), BUCKETS - 1);
        assert_eq!(bucket_upper_bound(BUCKETS - 1), HIGHEST_NANOS);
        for index in 0..BUCKETS {
            let upper = bucket_upper_bound(index);
            assert_eq!(bucket_index(upper), index, "upper bound of bucket {index}");
            let lower = if index == 0 {
                0
            } else {
                bucket_upper_bound(index - 1) + 1
            };
            assert_eq!(bucket_index(lower), index, "lower bound of bucket {index}");
            // The widest gap between a value and the reported upper bound is from the lower
            // bound; it must stay below 1/8 of the value (and be zero for the exact buckets).
            assert!(
                (upper - lower) as f64 <= lower as f64 * Histogram::MAX_RELATIVE_ERROR,
                "bucket {index} = {lower}..={upper} is too wide"
            );
        }
    }

    #[test]
    fn an_empty_histogram_reports_nothing() {
        let summary = Histogram::new().snapshot();
        assert_eq!(summary.count(), 0);
        assert_eq!(summary.mean(), None);
        assert_eq!(summary.max(), None);
        assert_eq!(summary.percentile(0.0), None);
        assert_eq!(summary.p50(), None);
        assert_eq!(summary.p99(), None);
        assert_eq!(summary.to_string(), "n=0");
        // The `Default` summary has no buckets at all and must behave the same.
        let default = LatencySummary::default();
        assert_eq!(default.percentile(100.0), None);
        assert_eq!(default.to_string(), "n=0");
    }

    #[test]
    fn a_single_value_is_reported_exactly() {
        let h = Histogram::default();
        let value = Duration::from_nanos(123_456_789);
        h.record(value);
        let summary = h.snapshot();
        assert_eq!(summary.count(), 1);
        assert_eq!(summary.mean(), Some(value));
        assert_eq!(summary.max(), Some(value));
        // Capping at the maximum makes every percentile of a single value exact.
        for p in [0.0, 50.0, 90.0, 99.0, 100.0] {
            assert_eq!(summary.percentile(p), Some(value), "p{p}");
        }
    }

    #[test]
    fn zero_durations_are_recorded() {
        let h = Histogram::new();
        h.record(Duration::ZERO);
        h.record(Duration::ZERO);
        let summary = h.snapshot();
        assert_eq!(summary.count(), 2);
        assert_eq!(summary.mean(), Some(Duration::ZERO));
        assert_eq!(summary.p99(), Some(Duration::ZERO));
        assert_eq!(summary.max(), Some(Duration::ZERO));
    }

    #[test]
    fn percentiles_are_within_the_error_bound_of_the_exact_ones() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let mut values: Vec<Duration> = (0..5_000).map(|_| rng.duration()).collect();
        let h = Histogram::new();
        for &v in &values {
            h.record(v);
        }
        values.sort_unstable();
        let summary = h.snapshot();
        assert_eq!(summary.count(), values.len() as u64);
        assert_eq!(summary.max(), values.last().copied());
        let exact_sum: u64 = values.iter().map(|&v| saturating_nanos(v)).sum();
        assert_eq!(
            summary.mean(),
            Some(Duration::from_nanos(exact_sum / values.len() as u64))
        );
        for p in [
            0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 100.0,
        ] {
            let exact = exact_percentile(&values, p);
            let reported = summary.percentile(p).unwrap();
            let limit = exact.as_nanos() as f64 * (1.0 + Histogram::MAX_RELATIVE_ERROR);
            assert!(
                exact <= reported && (reported.as_nanos() as f64) < limit,
                "p{p}: exact {exact:?}, reported {reported:?}"
            );
        }
        assert_eq!(summary.percentile(100.0), values.last().copied());
    }

    #[test]
    fn percentiles_are_monotonic() {
        let mut rng = XorShift(42);
        let h = Histogram::new();
        for _ in 0..3_000 {
            h.record(rng.duration());
        }
        let s = h.snapshot();
        let (p50, p90, p99, max) = (s.p50(), s.p90(), s.p99(), s.max());
        assert!(p50 <= p90 && p90 <= p99 && p99 <= max, "{s}");
        let mut previous = Duration::ZERO;
        for tenth in 0..=1_000 {
            let current = s.percentile(f64::from(tenth) / 10.0).unwrap();
            assert!(
                current >= previous,
                "p{} went down",
                f64::from(tenth) / 10.0
            );
            previous = current;
        }
    }

    #[test]
    fn values_at_and_beyond_the_top_land_in_the_last_bucket() {
        let h = Histogram::new();
        h.record(Histogram::HIGHEST_TRACKED);
        h.record(Histogram::HIGHEST_TRACKED + Duration::from_nanos(1));
        h.record(Duration::from_secs(24 * 3600));
        h.record(Duration::MAX);
        let summary = h.snapshot();
        assert_eq!(summary.buckets[BUCKETS - 1], 4);
        assert_eq!(summary.count(), 4);
        // `Duration::MAX` does not fit in u64 nanoseconds: the maximum saturates.
        assert_eq!(summary.max(), Some(Duration::from_nanos(u64::MAX)));
        // The last bucket has no upper bound of its own, so it reports the maximum...
        assert_eq!(summary.p50(), summary.max());
        // ...and the mean counts every value as the highest tracked one.
        assert_eq!(summary.mean(), Some(Histogram::HIGHEST_TRACKED));

        // A value in the last bucket with nothing beyond it is capped by the exact maximum.
        let h = Histogram::new();
        h.record(Histogram::HIGHEST_TRACKED - Duration::from_secs(60));
        assert_eq!(
            h.snapshot().p50(),
            Some(Histogram::HIGHEST_TRACKED - Duration::from_secs(60))
        );
    }

    #[test]
    fn the_sum_saturates_instead_of_wrapping() {
        let h = Histogram::new();
        // Reaching 2^63 ns honestly would take two million records of 73 minutes each.
        h.sum.store(SUM_LIMIT - 1, Relaxed);
        h.record(Histogram::HIGHEST_TRACKED); // passes the check, overshoots the limit
        h.record(Histogram::HIGHEST_TRACKED); // sees the limit, adds nothing
        assert_eq!(h.sum.load(Relaxed), SUM_LIMIT - 1 + HIGHEST_NANOS);
        let summary = h.snapshot();
        assert_eq!(summary.count(), 2);
        assert_eq!(summary.mean(), Some(Duration::from_nanos(SUM_LIMIT / 2)));
    }

    #[test]
    fn a_torn_snapshot_does_not_panic() {
        // What a snapshot can look like when records were in flight: buckets counted, but the
        // sum and maximum not yet updated.
        let mut buckets = vec![0; BUCKETS];
        buckets[bucket_index(1_000)] = 3;
        let torn = LatencySummary {
            buckets,
            count: 3,
            sum_nanos: 0,
            max_nanos: 0,
        };
        assert_eq!(torn.mean(), Some(Duration::ZERO));
        assert_eq!(torn.p99(), Some(Duration::ZERO));
        assert_eq!(
            torn.to_string(),
            "n=3 mean=0.0ns p50=0.0ns p90=0.0ns p99=0.0ns max=0.0ns"
        );
    }

    #[test]
    #[should_panic(expected = "percentile must be within 0.0..=100.0, got 101")]
    fn a_percentile_above_100_panics() {
        let h = Histogram::new();
        h.record(Duration::from_nanos(1));
        h.snapshot().percentile(101.0);
    }

    #[test]
    #[should_panic(expected = "got NaN")]
    fn a_nan_percentile_panics_even_when_empty() {
        Histogram::new().snapshot().percentile(f64::NAN);
    }

    #[test]
    fn display_and_debug_show_the_statistics() {
        let h = Histogram::new();
        for micros in [1, 1, 2, 5, 7] {
            h.record(Duration::from_micros(micros));
        }
        let summary = h.snapshot();
        // p50 is rank 3, 2000 ns, in the bucket 1920..=2047: reported as 2047 ns, printed as
        // 2.0µs. p90 and p99 are rank 5, the maximum, which caps its bucket's upper bound.
        assert_eq!(
            summary.to_string(),
            "n=5 mean=3.2µs p50=2.0µs p90=7.0µs p99=7.0µs max=7.0µs"
        );
        let debug = format!("{h:?}");
        assert!(debug.starts_with("Histogram(LatencySummary { count: 5, mean: Some(3.2µs)"));
    }

    #[test]
    fn four_threads_recording_at_once_lose_nothing() {
        const THREADS: u64 = 4;
        const PER_THREAD: u64 = 100_000;
        let h = Histogram::new();
        thread::scope(|s| {
            for t in 0..THREADS {
                let h = &h;
                s.spawn(move || {
                    let mut rng = XorShift(t + 1);
                    for _ in 0..PER_THREAD {
                        h.record(rng.duration());
                    }
                });
            }
        });
        // Replay the same deterministic streams to know the exact sum and maximum.
        let (mut sum, mut max) = (0u64, 0u64);
        for t in 0..THREADS {
            let mut rng = XorShift(t + 1);
            for _ in 0..PER_THREAD {
                let nanos = saturating_nanos(rng.duration());
                sum += nanos;
                max = max.max(nanos);
            }
        }
        let summary = h.snapshot();
        assert_eq!(summary.count(), THREADS * PER_THREAD);
        let bucket_total: u64 = h.buckets.iter().map(|b| b.load(Relaxed)).sum();
        assert_eq!(bucket_total, summary.count());
        assert_eq!(h.sum.load(Relaxed), sum);
        assert_eq!(summary.max(), Some(Duration::from_nanos(max)));
    }
}
