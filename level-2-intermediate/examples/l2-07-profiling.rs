//! # Lesson l2-07: profiling parallel work
//!
//! Replaces the Node course's performance advice ("tasks should take at least 10-50 ms", "the
//! ideal speedup is the number of cores"), with the three measurements that explain where the
//! time of a parallel program goes, all taken in the same run:
//!
//! 1. **Queue wait against run time.** A burst of tasks sent to a `shared::WorkerPool` all at
//!    once spends most of its time *waiting* in the queue, not running: the pool's metrics
//!    (histograms with p50 / p90 / p99) show it. The same tasks sent one at a time wait for
//!    almost nothing. A slow task is not always slow code; it may be a long queue.
//! 2. **Task granularity.** The same total work (counting the primes below 2,000,000 with
//!    `shared::workload::count_primes`) cut into chunks of 1 to 2,000,000 numbers. Tiny chunks
//!    pay the pool's per-task overhead millions of times; one huge chunk keeps one core busy
//!    and the other idle; two halves are *imbalanced*, because the upper half holds the larger,
//!    dearer numbers. The middle of the table is the sweet spot.
//! 3. **Amdahl's law, on real numbers.** A job with a serial part (run on one thread) and a
//!    parallel part: the serial fraction `s` is measured, the speedup the law predicts,
//!    `1 / (s + (1 - s) / n)`, is printed next to the one measured.
//!
//! Run: `cargo run --release --example l2-07-profiling` (a debug build is 10-20 times slower
//! and mostly measures the debug build)
//!
//! Expect: two metrics reports, a table of chunk sizes, an Amdahl table, then
//! `result: 148933 primes below 2000000 in every run; burst p50 wait Nx its p50 run time; best
//! chunk ... (times vary by machine)`. Every count is asserted; no time is. On a machine busy
//! with other work the speedups shrink, and the ratios say so.

use anyhow::{Context, anyhow};
use shared::WorkerPool;
use shared::pool::{PoolMetrics, TaskHandle};
use shared::timing::{ratio, timed};
use shared::workload::{count_primes, count_primes_parallel};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// The whole job of parts 2 and 3: count the primes below this.
const LIMIT: u64 = 2_000_000;
/// π(2,000,000): the answer every way of cutting the work must find.
const PRIMES_BELOW_LIMIT: u64 = 148_933;

/// Part 1: how many tasks in the burst, and the numbers each one counts primes in.
const BURST: u64 = 64;
const BURST_BLOCK: u64 = 20_000;
const BURST_START: u64 = 1_000_000;

/// Part 2: the chunk sizes, from absurdly small to the whole range.
const CHUNKS: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 2_000_000];

/// Part 3: the job counts `0..SERIAL_END` on one thread (the serial part, standing for work
/// that cannot be split: reading input, merging results), then `SERIAL_END..LIMIT` in parallel.
const SERIAL_END: u64 = 800_000;
/// Part 3: each measurement is the best of this many runs, to damp noise from other programs.
const REPEATS: usize = 3;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn burst_range(task: u64) -> Range<u64> {
    let low = BURST_START + task * BURST_BLOCK;
    low..low + BURST_BLOCK
}

/// The lines of a pool's report that part 1 is about.
fn print_latencies(label: &str, m: &PoolMetrics) {
    println!(
        "[main]   {label}: {} tasks completed, utilisation {:.0}%",
        m.completed,
        m.utilisation * 100.0
    );
    println!("[main]     queue wait: {}", m.queue_wait);
    println!("[main]     run time:   {}", m.run_time);
}

/// Part 1: the same tasks as a burst and one at a time. Returns each run's counts and metrics.
fn queue_wait_against_run_time(threads: usize) -> anyhow::Result<[(Vec<u64>, PoolMetrics); 2]> {
    // A burst: every task is queued at once; the workers take them two at a time.
    let burst_pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(|i| format!("burst-{i}"))
        .build()
        .context("could not start the burst pool")?;
    let handles = (0..BURST)
        .map(|task| burst_pool.submit(move || count_primes(burst_range(task))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the burst pool refused a task: {e}"))?;
    let burst_counts = handles
        .into_iter()
        .map(TaskHandle::join)
        .collect::<Result<Vec<_>, _>>()?;
    burst_pool.join()?;
    let burst_metrics = burst_pool.metrics();

    // One at a time: submit, wait for the answer, then submit the next.
    let paced_pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(|i| format!("paced-{i}"))
        .build()
        .context("could not start the paced pool")?;
    let mut paced_counts = Vec::new();
    for task in 0..BURST {
        let handle = paced_pool
            .submit(move || count_primes(burst_range(task)))
            .map_err(|e| anyhow!("the paced pool refused a task: {e}"))?;
        paced_counts.push(handle.join()?);
    }
    paced_pool.join()?;
    let paced_metrics = paced_pool.metrics();

    Ok([(burst_counts, burst_metrics), (paced_counts, paced_metrics)])
}

/// One row of part 2's table.
#[derive(Debug)]
struct ChunkRun {
    chunk: u64,
    tasks: u64,
    count: u64,
    time: Duration,
}

/// Part 2: counts the primes below `LIMIT` on `pool`, as tasks of `chunk` numbers each.
fn count_in_chunks(pool: &WorkerPool, chunk: u64) -> ChunkRun {
    let total = AtomicU64::new(0);
    let mut tasks = 0;
    let ((), time) = timed(|| {
        // `scope` lets the tasks borrow `total`, and returns when every task has run.
        pool.scope(|s| {
            let mut low = 0;
            while low < LIMIT {
                let high = (low + chunk).min(LIMIT);
                let total = &total;
                s.spawn(move || {
                    // Relaxed: the count is read only after `scope` has returned, and the
                    // scope's end makes every task's writes visible.
                    total.fetch_add(count_primes(low..high), Ordering::Relaxed);
                });
                tasks += 1;
                low = high;
            }
        });
    });
    ChunkRun {
        chunk,
        tasks,
        count: total.into_inner(),
        time,
    }
}

/// Part 3: the job, with its parallel part on `threads` threads. Returns the count and the
/// time of the serial part and of the parallel part, each the best of `REPEATS` runs.
fn amdahl_job(threads: usize) -> (u64, Duration, Duration) {
    let mut best_serial = Duration::MAX;
    let mut best_parallel = Duration::MAX;
    let mut count = 0;
    for _ in 0..REPEATS {
        let (serial_count, serial) = timed(|| count_primes(0..SERIAL_END));
        let (parallel_count, parallel) =
            timed(|| count_primes_parallel(SERIAL_END..LIMIT, threads));
        best_serial = best_serial.min(serial);
        best_parallel = best_parallel.min(parallel);
        count = serial_count + parallel_count;
    }
    (count, best_serial, best_parallel)
}

/// Amdahl's law: the speedup on `n` processors of a job whose serial fraction is `s`.
fn amdahl(s: f64, n: f64) -> f64 {
    1.0 / (s + (1.0 - s) / n)
}

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!("[main] {cores} threads can run in parallel here; every time below depends on the");
    println!("[main] machine, the build and whatever else is running: read ratios, not times");

    // 1. Where a task's time goes: waiting in the queue, or running.
    println!("\n[main] 1. queue wait against run time: {BURST} tasks on {cores} pool threads");
    let [(burst_counts, burst), (paced_counts, paced)] = queue_wait_against_run_time(cores)?;
    print_latencies("burst (all queued at once)", &burst);
    print_latencies("paced (one at a time)", &paced);
    let p50 = |m: &PoolMetrics, wait: bool| {
        let summary = if wait { &m.queue_wait } else { &m.run_time };
        summary.p50().unwrap_or_default()
    };
    let burst_wait_ratio = ratio(p50(&burst, true), p50(&burst, false));
    println!(
        "[main]   in the burst the median task waited {burst_wait_ratio:.1}x as long as it ran; \
         paced, {:.3}x",
        ratio(p50(&paced, true), p50(&paced, false))
    );
    println!("[main]   a task's latency is wait + run: more threads shorten the wait only while");
    println!("[main]   there are idle cores; past that, only less work or a shorter queue helps");

    // 2. Task granularity: the same work, cut finer and finer.
    println!(
        "\n[main] 2. task granularity: the primes below {LIMIT}, in chunks, on {cores} pool threads"
    );
    let (sequential_count, sequential) = timed(|| count_primes(0..LIMIT));
    println!(
        "[main]   sequential (main thread): {:>8.1} ms",
        ms(sequential)
    );
    let pool = WorkerPool::builder()
        .threads(cores)
        .thread_name(|i| format!("chunk-{i}"))
        .build()
        .context("could not start the chunk pool")?;
    println!(
        "[main]   {:>10} {:>10} {:>10} {:>8}",
        "chunk", "tasks", "time ms", "speedup"
    );
    let mut runs = Vec::new();
    for chunk in CHUNKS {
        let run = count_in_chunks(&pool, chunk);
        println!(
            "[main]   {:>10} {:>10} {:>10.1} {:>7.2}x",
            run.chunk,
            run.tasks,
            ms(run.time),
            ratio(sequential, run.time)
        );
        runs.push(run);
    }
    let best = runs
        .iter()
        .min_by_key(|run| run.time)
        .context("the table has rows")?;
    // The overhead of one task: what chunk 1 took beyond the best run, shared by the threads,
    // per task; against the work of one number, the sequential time per number.
    let overhead_ns = runs[0].time.saturating_sub(best.time).as_secs_f64() * 1e9
        / runs[0].tasks as f64
        * cores as f64;
    let work_ns = sequential.as_secs_f64() * 1e9 / LIMIT as f64;
    println!(
        "[main]   chunk 1: each task costs about {overhead_ns:.0} ns of queueing for {work_ns:.0} ns \
         of work"
    );
    // Why two halves do not balance: time each half on its own.
    let half = LIMIT / 2;
    let (lower_count, lower) = timed(|| count_primes(0..half));
    let (upper_count, upper) = timed(|| count_primes(half..LIMIT));
    let halves_ceiling = ratio(lower + upper, lower.max(upper));
    println!(
        "[main]   chunk {half}: the upper half took {:.1}x as long as the lower (bigger numbers, \
         more divisors to try),",
        ratio(upper, lower)
    );
    println!(
        "[main]   so two halves can reach at most {halves_ceiling:.2}x: one thread idles while \
         the other finishes"
    );
    println!("[main]   chunk {LIMIT}: one task, one busy core, the other idle");
    println!(
        "[main]   fastest in this run: chunk {}, {:.2}x (on an idle machine, expect a middle row)",
        best.chunk,
        ratio(sequential, best.time)
    );
    drop(pool);

    // 3. Amdahl's law: what a serial part costs.
    println!(
        "\n[main] 3. Amdahl's law: primes in 0..{SERIAL_END} on one thread (the serial part), then"
    );
    println!(
        "[main]    {SERIAL_END}..{LIMIT} on n threads (the parallel part); best of {REPEATS} runs"
    );
    let (one_count, serial, parallel_on_one) = amdahl_job(1);
    let total_on_one = serial + parallel_on_one;
    let s = ratio(serial, total_on_one);
    println!(
        "[main]    on 1 thread: serial {:.1} ms + parallel {:.1} ms, so s = {s:.2}",
        ms(serial),
        ms(parallel_on_one)
    );
    println!(
        "[main]    {:>9} {:>10} {:>10} {:>10}",
        "threads", "time ms", "measured", "predicted"
    );
    let mut amdahl_counts = vec![one_count];
    let mut measured_at_cores = 1.0;
    for n in 1..=cores.max(2) {
        let (count, serial, parallel) = if n == 1 {
            (one_count, serial, parallel_on_one)
        } else {
            amdahl_job(n)
        };
        amdahl_counts.push(count);
        let total = serial + parallel;
        let measured = ratio(total_on_one, total);
        if n == cores {
            measured_at_cores = measured;
        }
        println!(
            "[main]    {n:>9} {:>10.1} {measured:>9.2}x {:>9.2}x",
            ms(total),
            amdahl(s, n as f64)
        );
    }
    println!("[main]    what the law promises with more cores, for this s (not measured here):");
    for n in [4.0, 8.0, 64.0] {
        println!(
            "[main]    {n:>9} {:>10} {:>10} {:>9.2}x",
            "",
            "",
            amdahl(s, n)
        );
    }
    println!(
        "[main]    and never more than 1/s = {:.2}x, however many cores: shrink the serial part first",
        1.0 / s
    );

    assert_eq!(burst_counts, paced_counts);
    let burst_expected: Vec<u64> = (0..BURST).map(|t| count_primes(burst_range(t))).collect();
    assert_eq!(burst_counts, burst_expected);
    for m in [&burst, &paced] {
        assert_eq!((m.submitted, m.completed, m.panicked), (BURST, BURST, 0));
        // The first tasks a thread submits are all timed (SAMPLE_ALL_FIRST), so every task of
        // this example is in both histograms.
        assert_eq!(m.queue_wait.count(), BURST);
        assert_eq!(m.run_time.count(), BURST);
    }
    assert_eq!(sequential_count, PRIMES_BELOW_LIMIT);
    for run in &runs {
        assert_eq!(run.count, PRIMES_BELOW_LIMIT, "chunk {}", run.chunk);
        assert_eq!(run.tasks, LIMIT.div_ceil(run.chunk), "chunk {}", run.chunk);
    }
    assert_eq!(lower_count + upper_count, PRIMES_BELOW_LIMIT);
    assert!(amdahl_counts.iter().all(|&c| c == PRIMES_BELOW_LIMIT));
    println!(
        "\nresult: {PRIMES_BELOW_LIMIT} primes below {LIMIT} in every run; burst p50 wait \
         {burst_wait_ratio:.1}x its p50 run time; best chunk {} ({:.2}x); Amdahl s = {s:.2}, \
         predicted {:.2}x on {cores} threads, measured {measured_at_cores:.2}x (times vary by machine)",
        best.chunk,
        ratio(sequential, best.time),
        amdahl(s, cores as f64),
    );
    Ok(())
}
