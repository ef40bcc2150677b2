//! # Lesson l2-21: queue wait against run time
//!
//! Replaces the Node course's performance advice ("tasks should take at least 10-50 ms"),
//! with the first measurement that explains where a parallel program's time goes. A task's
//! latency is its wait in the queue plus its run time. A burst of tasks sent to a
//! `shared::WorkerPool` all at once spends most of its time *waiting*, not running; the same
//! tasks sent one at a time wait for almost nothing. A slow task is not always slow code; it
//! may be a long queue. The pool's metrics (histograms with p50 / p90 / p99) show both.
//!
//! Shows: 64 tasks (each counts the primes in a block of 40,000 numbers) on a pool with one
//! thread per core, first as a burst, then one at a time; the queue-wait and run-time
//! histograms of each, and the ratio of the median wait to the median run time where both are
//! long enough to compare (a paced task's wait is usually far under a millisecond, and the
//! lesson says so instead of dividing by it: `shared::timing::compare_text`).
//!
//! Run: `cargo run --release --example l2-21-queue-wait` (a debug build mostly measures the
//! debug build)
//!
//! Expect: two metrics reports, then `result: 64 tasks both ways, same counts; p50 wait / p50
//! run time: burst N.NNx, paced not compared (under 1 ms)` (the ratios vary by machine and run;
//! every count is asserted, no time is).

use anyhow::{Context, anyhow};
use shared::WorkerPool;
use shared::pool::{LatencySummary, PoolMetrics, TaskHandle};
use shared::timing::compare_text;
use shared::workload::count_primes;
use std::ops::Range;
use std::thread;

/// How many tasks, and the numbers each one counts primes in.
const BURST: u64 = 64;
const BLOCK: u64 = 40_000;
const START: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!("[main] {BURST} tasks on {cores} pool threads; read ratios, not times");
    let (burst_counts, burst) = as_a_burst(cores)?;
    print_latencies("burst (all queued at once)", &burst);
    let (paced_counts, paced) = one_at_a_time(cores)?;
    print_latencies("paced (one at a time)", &paced);

    let p50 = |h: &LatencySummary| h.p50().unwrap_or_default();
    let p50_ratio = |m: &PoolMetrics| compare_text(p50(&m.queue_wait), p50(&m.run_time));
    let (burst_ratio, paced_ratio) = (p50_ratio(&burst), p50_ratio(&paced));
    println!(
        "[main] the median task's wait / its run time: burst {burst_ratio}, paced {paced_ratio}"
    );
    println!(
        "[main] paced, the median task waited {:.1?} for a run of {:.1?}",
        p50(&paced.queue_wait),
        p50(&paced.run_time)
    );
    println!("[main] more threads shorten the wait only while there are idle cores; past that,");
    println!("[main] only less work or a shorter queue helps");

    let expected: Vec<u64> = (0..BURST).map(|t| count_primes(block(t))).collect();
    assert_eq!(burst_counts, expected);
    assert_eq!(paced_counts, expected);
    for m in [&burst, &paced] {
        assert_eq!((m.submitted, m.completed, m.panicked), (BURST, BURST, 0));
        // The first tasks a thread submits are all timed (SAMPLE_ALL_FIRST), so every task of
        // this example is in both histograms.
        assert_eq!(m.queue_wait.count(), BURST);
        assert_eq!(m.run_time.count(), BURST);
    }
    println!(
        "result: {BURST} tasks both ways, same counts; p50 wait / p50 run time: burst \
         {burst_ratio}, paced {paced_ratio}"
    );
    Ok(())
}

fn block(task: u64) -> Range<u64> {
    let low = START + task * BLOCK;
    low..low + BLOCK
}

fn pool(threads: usize, name: &'static str) -> anyhow::Result<WorkerPool> {
    WorkerPool::builder()
        .threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .with_context(|| format!("could not start the {name} pool"))
}

/// Every task queued at once; the workers take them a few at a time.
fn as_a_burst(threads: usize) -> anyhow::Result<(Vec<u64>, PoolMetrics)> {
    let pool = pool(threads, "burst")?;
    let handles = (0..BURST)
        .map(|task| pool.submit(move || count_primes(block(task))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the burst pool refused a task: {e}"))?;
    let counts = handles
        .into_iter()
        .map(TaskHandle::join)
        .collect::<Result<Vec<_>, _>>()?;
    pool.join()?;
    Ok((counts, pool.metrics()))
}

/// Submit, wait for the answer, then submit the next.
fn one_at_a_time(threads: usize) -> anyhow::Result<(Vec<u64>, PoolMetrics)> {
    let pool = pool(threads, "paced")?;
    let mut counts = Vec::new();
    for task in 0..BURST {
        let handle = pool
            .submit(move || count_primes(block(task)))
            .map_err(|e| anyhow!("the paced pool refused a task: {e}"))?;
        counts.push(handle.join()?);
    }
    pool.join()?;
    Ok((counts, pool.metrics()))
}

/// The lines of a pool's report that this lesson is about.
fn print_latencies(label: &str, m: &PoolMetrics) {
    println!(
        "[main] {label}: {} tasks completed, utilisation {:.0}%",
        m.completed,
        m.utilisation * 100.0
    );
    println!("[main]   queue wait: {}", m.queue_wait);
    println!("[main]   run time:   {}", m.run_time);
}
