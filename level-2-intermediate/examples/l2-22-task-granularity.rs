//! # Lesson l2-22: task granularity: how big a chunk of work per task
//!
//! Replaces the Node course's rule of thumb "tasks should take at least 10-50 ms" with a
//! measurement. The same total work (counting the primes below 2,000,000 with
//! `shared::workload::count_primes`) is cut into chunks of 1 to 2,000,000 numbers and run on
//! a `shared::WorkerPool`. Tiny chunks pay the pool's per-task overhead millions of times; one
//! huge chunk keeps one core busy and the others idle; two halves are *imbalanced*, because
//! the upper half holds the larger, dearer numbers. The middle of the table is the sweet spot.
//!
//! Shows: the table of chunk sizes with the time and the speedup over a sequential run, the
//! overhead of one task estimated from it, and why two halves do not balance, measured. When
//! even the fastest row gains less than 1.5x on 2 or more cores, the lesson says how busy the
//! rest of the machine was (`shared::timing::CpuWatch`).
//!
//! Run: `cargo run --release --example l2-22-task-granularity` (a debug build is 10-20 times
//! slower and mostly measures the debug build)
//!
//! Expect: the table, then `result: 148933 primes below 2000000 at every chunk size; fastest
//! chunk ... (...x)` (times vary by machine; every count is asserted, no time is).

use anyhow::Context;
use shared::WorkerPool;
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::count_primes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// The whole job: count the primes below this; π(2,000,000), the answer every cut must find.
const LIMIT: u64 = 2_000_000;
const PRIMES_BELOW_LIMIT: u64 = 148_933;
/// The chunk sizes, from absurdly small to the whole range.
const CHUNKS: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 2_000_000];

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    let watch = CpuWatch::start();
    let (sequential_count, sequential) = timed(|| count_primes(0..LIMIT));
    println!(
        "[main] sequential (main thread): {:>8.1} ms; read ratios, not times",
        ms(sequential)
    );
    let pool = WorkerPool::builder()
        .threads(cores)
        .thread_name(|i| format!("chunk-{i}"))
        .build()
        .context("could not start the chunk pool")?;
    println!(
        "[main] {:>10} {:>10} {:>10} {:>8}",
        "chunk", "tasks", "time ms", "speedup"
    );
    let mut runs = Vec::new();
    for chunk in CHUNKS {
        let run = count_in_chunks(&pool, chunk);
        println!(
            "[main] {:>10} {:>10} {:>10.1} {:>7.2}x",
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
    explain_the_overhead(&runs[0], best, sequential, cores);
    let expected = 1.5_f64.min(cores as f64); // the middle rows, on cores free for this run
    if let Some(note) = watch.shortfall_note(ratio(sequential, best.time), expected) {
        println!("[main] {note}");
    }
    let (halves_count, imbalance) = time_the_two_halves();
    println!("[main] chunk {LIMIT}: one task, one busy core, the others idle");

    assert_eq!(sequential_count, PRIMES_BELOW_LIMIT);
    for run in &runs {
        assert_eq!(run.count, PRIMES_BELOW_LIMIT, "chunk {}", run.chunk);
        assert_eq!(run.tasks, LIMIT.div_ceil(run.chunk), "chunk {}", run.chunk);
    }
    assert_eq!(halves_count, PRIMES_BELOW_LIMIT);
    println!(
        "result: {PRIMES_BELOW_LIMIT} primes below {LIMIT} at every chunk size; fastest chunk {} \
         ({:.2}x); the upper half took {imbalance:.1}x the lower (times vary by machine)",
        best.chunk,
        ratio(sequential, best.time)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One row of the table.
#[derive(Debug)]
struct ChunkRun {
    chunk: u64,
    tasks: u64,
    count: u64,
    time: Duration,
}

/// Counts the primes below `LIMIT` on `pool`, as tasks of `chunk` numbers each.
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
                    // Relaxed: a plain counter, read only after `scope` has returned.
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

/// The overhead of one task: what chunk 1 took beyond the best run, shared by the threads,
/// per task; against the work of one number, the sequential time per number.
fn explain_the_overhead(finest: &ChunkRun, best: &ChunkRun, sequential: Duration, cores: usize) {
    let overhead_ns = finest.time.saturating_sub(best.time).as_secs_f64() * 1e9
        / finest.tasks as f64
        * cores as f64;
    let work_ns = sequential.as_secs_f64() * 1e9 / LIMIT as f64;
    println!(
        "[main] chunk 1: each task costs about {overhead_ns:.0} ns of queueing for {work_ns:.0} ns of work"
    );
    println!(
        "[main] fastest in this run: chunk {}, {:.2}x (on an idle machine, expect a middle row)",
        best.chunk,
        ratio(sequential, best.time)
    );
}

/// Why two halves do not balance: each half timed on its own. Returns the total count and
/// how many times the lower half's time the upper half took.
fn time_the_two_halves() -> (u64, f64) {
    let half = LIMIT / 2;
    let (lower_count, lower) = timed(|| count_primes(0..half));
    let (upper_count, upper) = timed(|| count_primes(half..LIMIT));
    let imbalance = ratio(upper, lower);
    println!(
        "[main] chunk {half}: the upper half took {imbalance:.1}x as long as the lower (bigger \
         numbers, more divisors to try),"
    );
    println!(
        "[main] so two halves can reach at most {:.2}x: one thread idles while the other finishes",
        ratio(lower + upper, lower.max(upper))
    );
    (lower_count + upper_count, imbalance)
}
