//! # Lesson l2-21: queue wait against run time
//!
//! Replaces the Node course's performance advice ("tasks should take at least 10-50 ms"),
//! with the first measurement that explains where a parallel program's time goes. A task's
//! latency is its wait in the queue plus its run time. A burst of tasks sent to a
//! `shared::WorkerPool` all at once spends most of its time *waiting*; the same tasks sent one
//! at a time wait for almost nothing. A slow task may be a long queue, not slow code.
//!
//! Shows: 64 tasks (each counts the primes in a block of 40,000 numbers) on a pool with one
//! thread per core, first as a burst, then one at a time; the pool's queue-wait and run-time
//! histograms (p50 / p90 / p99), the median wait / median run time where both are long enough
//! to compare (`shared::timing::compare_text`), and a timeline (`shared::timeline`): a row
//! per pool thread with its runs, and a row `queue` with each task's wait from submit to start.
//!
//! Run: `cargo run --release --example l2-21-queue-wait` (debug builds mostly measure themselves)
//!
//! Pictures: `target/timelines/l2-21-burst.svg` and `l2-21-paced.svg` (open them in a
//! browser), and the same recordings as `.json` (open them in https://ui.perfetto.dev).
//!
//! Expect: two metrics reports and timelines, then `result: 64 tasks both ways, same counts;
//! p50 wait / p50 run time: burst N.NNx, paced not compared (under 1 ms)` (the ratios vary by
//! machine and run; the counts and the two timelines' shapes are asserted, no time is).

use anyhow::{Context, anyhow};
use shared::WorkerPool;
use shared::pool::{LatencySummary, PoolMetrics, TaskHandle};
use shared::timeline::{Recording, Span, ThreadRow, Timeline};
use shared::timing::{compare_text, ratio};
use shared::workload::count_primes;
use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant};

/// How many tasks, and the numbers each one counts primes in.
const BURST: u64 = 64;
const BLOCK: u64 = 40_000;
const START: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!("[main] {BURST} tasks on {cores} pool threads; read ratios, not times");
    let (burst_counts, burst, burst_timeline) = as_a_burst(cores)?;
    let (paced_counts, paced, paced_timeline) = one_at_a_time(cores)?;
    let p50 = |h: &LatencySummary| h.p50().unwrap_or_default();
    let p50_ratio = |m: &PoolMetrics| compare_text(p50(&m.queue_wait), p50(&m.run_time));
    let (burst_ratio, paced_ratio) = (p50_ratio(&burst), p50_ratio(&paced));
    println!("[main] a median task's wait / run time: burst {burst_ratio}, paced {paced_ratio}");
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
    for r in [&burst_timeline, &paced_timeline] {
        let counts = [spans(r, "run").len(), spans(r, "queued").len()];
        assert_eq!(counts, [BURST as usize; 2], "a span per task and wait");
    }
    // Paced, by construction: a task is submitted only once the one before has returned, so
    // no two runs overlap, whatever the OS does: one thread at a time, the others idle.
    let paced_runs = spans(&paced_timeline, "run");
    assert!(paced_runs.windows(2).all(|w| w[0].end <= w[1].start));
    // Burst: the 64 submissions take microseconds, and a task starts only once a thread is
    // done with the tasks ahead of it: the median task waits for about BURST / (2 x threads)
    // runs. The OS can lengthen runs and waits alike, not shorten a wait below the runs it
    // sat behind. Checked with 16 tasks or more per thread (up to 4 cores), for the margin.
    let (waited, ran) = (
        median(&burst_timeline, "queued"),
        median(&burst_timeline, "run"),
    );
    if BURST >= 16 * cores as u64 {
        assert!(
            waited >= ran,
            "burst: the median task waited {waited:?}, ran {ran:?}"
        );
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

fn pool(threads: usize, name: &'static str) -> anyhow::Result<(WorkerPool, Timeline)> {
    let pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .with_context(|| format!("could not start the {name} pool"))?;
    let title = format!("l2-21-{name}: {BURST} tasks on {threads} threads");
    Ok((pool, Timeline::new(&title)))
}

/// A task that counts the primes of block `t`, recording its run on `timeline`; returns the
/// count, and when it was submitted (made) and started, for its span in the `queue` row.
fn task(timeline: &Timeline, t: u64) -> impl FnOnce() -> (u64, [Instant; 2]) + Send + 'static {
    let (timeline, submitted) = (timeline.clone(), Instant::now());
    move || {
        let started = Instant::now();
        let _span = timeline.span(timeline.label("run"));
        (count_primes(block(t)), [submitted, started])
    }
}

type Outcome = (Vec<u64>, PoolMetrics, Recording);

/// Every task queued at once; the workers take them a few at a time.
fn as_a_burst(threads: usize) -> anyhow::Result<Outcome> {
    let (pool, timeline) = pool(threads, "burst")?;
    let handles = (0..BURST)
        .map(|t| pool.submit(task(&timeline, t)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the burst pool refused a task: {e}"))?;
    let joined = handles.into_iter().map(TaskHandle::join);
    let outcomes: Vec<_> = joined.collect::<Result<_, _>>()?;
    pool.join()?;
    let (counts, times) = outcomes.into_iter().unzip();
    print_latencies("burst (all queued at once)", &pool.metrics());
    let recording = show(timeline, times, "l2-21-burst")?;
    Ok((counts, pool.metrics(), recording))
}

/// Submit, wait for the answer, then submit the next.
fn one_at_a_time(threads: usize) -> anyhow::Result<Outcome> {
    let (pool, timeline) = pool(threads, "paced")?;
    let mut outcomes = Vec::new();
    for t in 0..BURST {
        let handle = (pool.submit(task(&timeline, t)))
            .map_err(|e| anyhow!("the paced pool refused a task: {e}"))?;
        outcomes.push(handle.join()?);
    }
    pool.join()?;
    let (counts, times) = outcomes.into_iter().unzip();
    print_latencies("paced (one at a time)", &pool.metrics());
    let recording = show(timeline, times, "l2-21-paced")?;
    Ok((counts, pool.metrics(), recording))
}

/// Records each task's wait on a thread of its own, `queue` (a row of the picture), then
/// writes the timeline as `name`.svg and .json and prints where, and the picture.
fn show(timeline: Timeline, times: Vec<[Instant; 2]>, name: &str) -> anyhow::Result<Recording> {
    let queue = thread::Builder::new().name("queue".into());
    let queued = timeline.label("queued");
    let record = || {
        times
            .iter()
            .for_each(|w| timeline.record(queued, w[0], w[1]))
    };
    thread::scope(|s| queue.spawn_scoped(s, record).map(drop))?; // joined as the scope ends
    let recording = timeline.finish();
    print!("{}", recording.write_and_show(name, 60)?);
    let queue = recording.threads().iter().find(|r| r.name == "queue");
    let busy = queue.map(ThreadRow::busy).unwrap_or_default();
    let waiting = ratio(busy, recording.wall()) * 100.0;
    println!("[main] a task was queued {waiting:.0}% of the time (a q marks any wait)");
    Ok(recording)
}

/// The spans labelled `label` in `recording`, in order of start.
fn spans<'r>(recording: &'r Recording, label: &str) -> Vec<&'r Span> {
    let all = recording.threads().iter().flat_map(|r| &r.spans);
    let mut found: Vec<_> = all.filter(|s| s.label == label).collect();
    found.sort_by_key(|s| (s.start, s.end));
    found
}

/// The median length of the spans labelled `label`.
fn median(recording: &Recording, label: &str) -> Duration {
    let spans = spans(recording, label);
    let mut lengths: Vec<_> = spans.iter().map(|s| s.duration()).collect();
    lengths.sort();
    lengths[lengths.len() / 2]
}

/// The lines of a pool's report that this lesson is about.
fn print_latencies(label: &str, m: &PoolMetrics) {
    let (done, busy) = (m.completed, m.utilisation * 100.0);
    println!("[main] {label}: {done} tasks completed, utilisation {busy:.0}%");
    println!("[main]   queue wait: {}", m.queue_wait);
    println!("[main]   run time:   {}", m.run_time);
}
