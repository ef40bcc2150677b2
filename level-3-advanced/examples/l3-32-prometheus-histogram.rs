//! # Lesson l3-32: a Prometheus histogram, cumulative and consistent
//!
//! Replaces the Node course's metrics collector and histogram, which is malformed: its buckets
//! are not cumulative and its `+Inf` bucket is never counted. Shows: a histogram that worker
//! threads update with atomics (no lock), exposed in Prometheus's text format. Each bucket
//! counts only its own values; the exposition adds them up, so every `le` ("less or equal")
//! line is cumulative, and the `+Inf` line and `_count` are the same sum of one snapshot, so
//! they cannot disagree. The exposition is then parsed back and checked, as a scraper would.
//!
//! Run: `cargo run --release --example l3-32-prometheus-histogram`
//!
//! Expect: the exposition text, then `result: 4000 observations from 4 threads; buckets
//! cumulative, +Inf = _count = 4000; sum 4855 s`.

use anyhow::{Context, ensure};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// The bucket bounds, in seconds.
const BUCKETS: [f64; 5] = [0.01, 0.1, 0.5, 1.0, 2.5];
/// Each thread observes these durations, in milliseconds, `ROUNDS` times: one per bucket and
/// one past the last bound.
const OBSERVED_MS: [u64; 4] = [5, 100, 750, 4_000];
const THREADS: u64 = 4;
const ROUNDS: u64 = 250;

fn main() -> anyhow::Result<()> {
    let histogram = Histogram::new();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    for ms in OBSERVED_MS {
                        histogram.observe(Duration::from_millis(ms));
                    }
                }
            });
        }
    });
    let mut text = String::new();
    let observed = THREADS * ROUNDS * OBSERVED_MS.len() as u64;
    counter(
        &mut text,
        "app_observations_total",
        "Durations observed.",
        observed,
    );
    histogram.expose(&mut text, "app_job_duration_seconds", "Time a job ran.");
    print!("{text}");

    let checked = parse_histogram(&text, "app_job_duration_seconds")?;
    let n = THREADS * ROUNDS;
    // 5 ms <= 0.01; 100 ms <= 0.1 (a bound is inclusive); 750 ms <= 1.0; 4 s only in +Inf.
    let expected = [n, 2 * n, 2 * n, 3 * n, 3 * n, 4 * n];
    assert_eq!(
        checked.buckets, expected,
        "cumulative counts per `le`, +Inf last"
    );
    assert_eq!(checked.count, 4 * n);
    assert!(
        (checked.sum - 4_855.0 * n as f64 / 1e3).abs() < 1e-6,
        "{}",
        checked.sum
    );
    println!(
        "result: {} observations from {THREADS} threads; buckets cumulative, +Inf = _count = {}; \
         sum {:.0} s",
        checked.count, checked.count, checked.sum
    );
    Ok(())
}

/// A histogram with fixed bucket bounds, in Prometheus's shape. Each count is an atomic, so any
/// thread can observe without a lock; `Relaxed`, because these are independent statistics
/// that publish no other data.
#[derive(Debug)]
struct Histogram {
    /// One per bound (the values above the previous bound, up to and including its own), and
    /// one more for the values above the last bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        let counts = std::array::from_fn(|_| AtomicU64::new(0));
        Self {
            counts,
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        // The first bound with `seconds <= bound`; past the last, the overflow bucket.
        let index = BUCKETS.partition_point(|&bound| bound < d.as_secs_f64());
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Appends the histogram's lines to `out`: one snapshot, added up as it goes.
    fn expose(&self, out: &mut String, name: &str, help: &str) {
        let snapshot: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&snapshot) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count: u64 = snapshot.iter().sum();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Appends a counter: its help, its type, its value.
fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// What a scraper reads back from a histogram.
#[derive(Debug)]
struct Checked {
    /// The `le` buckets' values in order, `+Inf` last.
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

/// Finds histogram `name` in an exposition and checks its shape: declared by a `# TYPE` line,
/// buckets that never decrease, and a last bucket `+Inf` equal to `_count`.
fn parse_histogram(text: &str, name: &str) -> anyhow::Result<Checked> {
    ensure!(
        text.contains(&format!("# TYPE {name} histogram\n")),
        "{name} is not declared"
    );
    let value = |line: &str| line.rsplit_once(' ').map(|(_, v)| v.to_owned());
    let mut buckets = Vec::new();
    let (mut count, mut sum, mut last_le) = (None, None, String::new());
    for line in text.lines().filter(|l| l.starts_with(name)) {
        let v = value(line).with_context(|| format!("a sample without a value: {line:?}"))?;
        if let Some(le) = line.strip_prefix(&format!("{name}_bucket{{le=\"")) {
            last_le = le.split('"').next().unwrap_or_default().to_owned();
            buckets.push(v.parse::<u64>().with_context(|| format!("in {line:?}"))?);
        } else if line.starts_with(&format!("{name}_count ")) {
            count = Some(v.parse::<u64>().with_context(|| format!("in {line:?}"))?);
        } else if line.starts_with(&format!("{name}_sum ")) {
            sum = Some(v.parse::<f64>().with_context(|| format!("in {line:?}"))?);
        }
    }
    let (count, sum) = (count.context("no _count")?, sum.context("no _sum")?);
    ensure!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "not cumulative: {buckets:?}"
    );
    ensure!(
        last_le == "+Inf",
        "the last bucket is le={last_le:?}, not +Inf"
    );
    ensure!(
        buckets.last() == Some(&count),
        "+Inf is {:?} but _count is {count}",
        buckets.last()
    );
    Ok(Checked {
        buckets,
        count,
        sum,
    })
}
