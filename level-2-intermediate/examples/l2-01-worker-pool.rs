//! # Lesson l2-01: a worker pool
//!
//! Replaces the Node course's hand-built pool (its `01-worker-pool`) and piscina: 3 workers,
//! a FIFO queue, the first idle worker takes the next task, 8 tasks that each sum square
//! roots. Its task ids came from `Date.now()`, so tasks queued in the same millisecond shared
//! an id. `shared::WorkerPool` is the pool, written once for the course: `submit` returns a
//! `TaskHandle`, and `join` on it waits for that task's own result.
//!
//! Shows: the Node example's run on a pool of 3: ids from a counter (unique by construction),
//! each worker saying which task it runs, results joined in submission order (whatever order
//! they finished in) and checked against a sequential run, then the pool's metrics, read
//! after `join` (so its threads have exited), with what their timing sample covers.
//!
//! Run: `cargo run --release --example l2-01-worker-pool` (a debug build takes a few seconds)
//!
//! Expect: `[pool-N]` lines as the workers take the tasks, the results, the pool's metrics,
//! then `result: 8 tasks on 3 workers, 8 unique ids, every sum matched`.

use anyhow::{Context, anyhow, ensure};
use shared::pool::{SAMPLE_ALL_FIRST, SAMPLE_EVERY, TaskHandle, WorkerPool};
use std::collections::HashSet;
use std::thread;

/// The Node example's pool size.
const POOL_SIZE: usize = 3;

/// The Node example's tasks: task `n` sums `n` million square roots.
const SIZES: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn main() -> anyhow::Result<()> {
    let pool = start_pool()?;
    let tasks = submit_all(&pool)?;
    let results = join_in_submission_order(tasks)?;
    let threads_up = pool.metrics().threads; // before join, while the workers are alive
    pool.join()
        .map_err(|e| anyhow!("could not wait for the pool: {e}"))?;
    let metrics = pool.metrics();
    println!("[main] the pool's metrics, after join: its {threads_up} threads have exited");
    println!("{metrics}");
    println!(
        "[main] `wait` and `run` time a sample of tasks, every one of the first {SAMPLE_ALL_FIRST} \
         a thread submits, then one in {SAMPLE_EVERY}: `n` = {} of the {} submitted",
        metrics.run_time.count(),
        metrics.submitted
    );

    // Each sum equals the same work done here, in the same order: identical to the last bit.
    let ids: HashSet<u64> = results.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), SIZES.len(), "every task had its own id");
    for (result, &n) in results.iter().zip(&SIZES) {
        assert_eq!(result.sum, sqrt_sum(n), "task #{} (n = {n})", result.id);
    }
    assert_eq!(
        (metrics.completed, metrics.panicked),
        (SIZES.len() as u64, 0)
    );
    assert_eq!((metrics.queued, metrics.running), (0, 0));
    println!(
        "result: {} tasks on {POOL_SIZE} workers, {} unique ids, every sum matched",
        results.len(),
        ids.len()
    );
    Ok(())
}

/// A pool of `POOL_SIZE` threads named `pool-0`, `pool-1`, ...
fn start_pool() -> anyhow::Result<WorkerPool> {
    let pool = WorkerPool::builder()
        .threads(POOL_SIZE)
        .thread_name(|index| format!("pool-{index}"))
        .build()
        .context("could not start the pool")?;
    println!("[main] a pool of {POOL_SIZE} threads is ready");
    Ok(pool)
}

/// What a task sends back: its own id, so a result can never be matched to the wrong task.
#[derive(Debug)]
struct Done {
    id: u64,
    worker: String,
    sum: f64,
}

/// Submits one task per entry of `SIZES`. Ids come from a counter: unique by construction.
fn submit_all(pool: &WorkerPool) -> anyhow::Result<Vec<(u64, TaskHandle<Done>)>> {
    let mut tasks = Vec::new();
    for (id, &n) in (1..).zip(&SIZES) {
        let handle = pool
            .submit(move || {
                println!("[{}] task #{id}: summing {n} million square roots", me());
                let sum = sqrt_sum(n);
                Done {
                    id,
                    worker: me(),
                    sum,
                }
            })
            .map_err(|e| anyhow!("task #{id} was refused: {e}"))?;
        println!("[main] submitted task #{id} (n = {n})");
        tasks.push((id, handle));
    }
    Ok(tasks)
}

/// Joins each handle in the order the tasks were submitted: `join` waits for that task, so
/// the results come back in submission order even when a later task finished first.
fn join_in_submission_order(tasks: Vec<(u64, TaskHandle<Done>)>) -> anyhow::Result<Vec<Done>> {
    let mut results = Vec::new();
    for (id, handle) in tasks {
        let done = handle.join().with_context(|| format!("task #{id}"))?;
        ensure!(
            done.id == id,
            "task #{id} got the result of task #{}",
            done.id
        );
        println!(
            "[main] task #{id} = {:.1}, computed on {}",
            done.sum, done.worker
        );
        results.push(done);
    }
    Ok(results)
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// The Node example's work: the sum of the square roots of `0..n` million.
fn sqrt_sum(n: u64) -> f64 {
    let mut sum = 0.0;
    for i in 0..n * 1_000_000 {
        sum += (i as f64).sqrt();
    }
    sum
}
