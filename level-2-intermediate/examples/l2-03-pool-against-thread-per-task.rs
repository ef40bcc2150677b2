//! # Lesson l2-03: why pools exist, measured
//!
//! Replaces the Node course's reason for a pool ("starting a worker is expensive, reuse
//! them"). Starting an OS thread is far cheaper than starting a Node worker (no new V8
//! isolate), but it still costs far more than a small task: a pool starts its threads once
//! and each takes task after task.
//!
//! Shows: 10,000 small tasks (a few hundred multiply-adds each), first on a thread spawned for
//! each task, then on a `shared::WorkerPool` with one thread per logical CPU; the same answer both
//! ways, and the ratio of the two times, measured in this run.
//!
//! Run: `cargo run --release --example l2-03-pool-against-thread-per-task`
//!
//! Expect: the two timings and the small-task pool's metrics, then `result: 10000 small tasks,
//! the same sum both ways; the pool was ...x faster than one thread each` (the ratio varies by
//! machine and run).

use anyhow::{Context, anyhow};
use shared::WorkerPool;
use shared::pool::{PoolMetrics, SAMPLE_ALL_FIRST, SAMPLE_EVERY};
use shared::timing::{compare_text, timed};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

/// How many small tasks, and how many threads the spawning run starts at a time: all 10,000
/// at once could run into the operating system's limit on threads per process.
const SMALL_TASKS: u64 = 10_000;
const SPAWN_WAVE: usize = 100;

fn main() -> anyhow::Result<()> {
    let threads = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    let expected = (0..SMALL_TASKS).fold(0u64, |sum, seed| sum.wrapping_add(small_task(seed)));

    let (spawned_sum, spawned) = timed(a_thread_per_task);
    let (pooled_sum, pooled) = timed(|| on_a_pool(threads));
    let (spawned_sum, (pooled_sum, metrics)) = (spawned_sum?, pooled_sum?);
    println!("[main] the small-task pool's metrics, after join: its {threads} threads have exited");
    println!("{metrics}");
    println!(
        "[main] `wait` and `run` time a sample of tasks, every one of the first {SAMPLE_ALL_FIRST} \
         a thread submits, then one in {SAMPLE_EVERY}: `n` = {} of the {} submitted",
        metrics.run_time.count(),
        metrics.submitted
    );
    println!("[main] (compare `wait` with `run`: tasks this small, queued all at once, usually");
    println!("[main] wait far longer than they run; lesson l2-21 measures queue wait)");

    let per_task = |d: Duration| d.as_nanos() as f64 / SMALL_TASKS as f64 / 1_000.0;
    println!(
        "[main] a thread per task:   {:>8.1} ms ({:>6.2} µs per task)",
        spawned.as_secs_f64() * 1e3,
        per_task(spawned)
    );
    println!(
        "[main] a pool of {threads} threads: {:>8.1} ms ({:>6.2} µs per task)",
        pooled.as_secs_f64() * 1e3,
        per_task(pooled)
    );
    let faster = compare_text(spawned, pooled);
    println!("[main] the pool was {faster} faster (this ratio varies by machine and run)");

    assert_eq!(spawned_sum, expected);
    assert_eq!(pooled_sum, expected);
    assert_eq!(metrics.completed, SMALL_TASKS);
    println!(
        "result: {SMALL_TASKS} small tasks, the same sum both ways; the pool was {faster} faster \
         than one thread each"
    );
    Ok(())
}

/// A small task: a few hundred multiply-adds, far less work than starting a thread.
fn small_task(seed: u64) -> u64 {
    (0..300).fold(black_box(seed), |acc, k| {
        acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(k)
    })
}

/// A thread per task, started in waves of `SPAWN_WAVE`.
fn a_thread_per_task() -> anyhow::Result<u64> {
    let seeds: Vec<u64> = (0..SMALL_TASKS).collect();
    let mut sum = 0u64;
    for wave in seeds.chunks(SPAWN_WAVE) {
        let handles = wave
            .iter()
            .map(|&seed| {
                thread::Builder::new()
                    .spawn(move || small_task(seed))
                    .context("could not spawn a thread")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for handle in handles {
            let value = handle
                .join()
                .map_err(|_| anyhow!("a small task panicked"))?;
            sum = sum.wrapping_add(value);
        }
    }
    Ok(sum)
}

/// The same tasks on a pool: its threads start once and take task after task.
fn on_a_pool(threads: usize) -> anyhow::Result<(u64, PoolMetrics)> {
    let pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(|index| format!("small-{index}"))
        .build()
        .context("could not start the pool")?;
    let handles = (0..SMALL_TASKS)
        .map(|seed| pool.submit(move || small_task(seed)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("a small task was refused: {e}"))?;
    let mut sum = 0u64;
    for handle in handles {
        sum = sum.wrapping_add(handle.join()?);
    }
    pool.join()
        .map_err(|e| anyhow!("could not wait for the pool: {e}"))?;
    Ok((sum, pool.metrics()))
}
