//! # Lesson l2-02: a panicking task costs only itself
//!
//! Replaces the Node course's pool, where a worker that throws leaves its task's promise
//! pending forever and the pool marks the crashed worker idle. In `shared::WorkerPool` every
//! `TaskHandle` settles: a task that panics settles as `Err(TaskError::Panicked(message))`,
//! the worker that ran it catches the panic and stays alive, and the pool keeps working.
//!
//! Shows: a pool of 3, five good tasks with a bad one (it panics) in the middle; every handle
//! settles, the panic is that task's `Err`, and a task submitted after the panic was seen
//! still runs; the metrics count 1 panicked.
//!
//! Run: `cargo run --release --example l2-02-pool-survives-a-panic`
//!
//! Expect: one `[panic hook] thread 'pool-N' panicked at ...` line on stderr from the task that
//! panics on purpose (`shared::panics::quiet_hook` reports it without a backtrace),
//! the results, then `result: 5 sums matched, 1 panic caught, the pool kept working`.

use anyhow::{Context, anyhow, bail};
use shared::pool::{SAMPLE_ALL_FIRST, SAMPLE_EVERY, TaskError, TaskHandle, WorkerPool};

/// The good tasks: task `n` sums `n` million square roots. 0 is the bad input.
const SIZES: [u64; 5] = [1, 2, 3, 4, 5];
const BAD: u64 = 0;

fn main() -> anyhow::Result<()> {
    // One line per panic, from the thread that panicked, instead of the default report and
    // its backtrace: this panic is on purpose. Lesson l1-13 covers panic hooks.
    let quiet = shared::panics::quiet_hook();
    let pool = WorkerPool::builder()
        .threads(3)
        .thread_name(|index| format!("pool-{index}"))
        .build()
        .context("could not start the pool")?;

    let handles = submit_with_a_bad_task(&pool)?;
    let (sums, panics) = settle_every_handle(handles)?;
    let after = submit_after_the_panic(&pool)?;
    let threads_up = pool.metrics().threads; // before join, while the workers are alive
    pool.join()
        .map_err(|e| anyhow!("could not wait for the pool: {e}"))?;
    drop(quiet); // back to the default report
    let metrics = pool.metrics();
    println!("[main] the pool's metrics, after join: its {threads_up} threads have exited");
    println!("{metrics}");
    println!(
        "[main] `wait` and `run` time a sample of tasks, every one of the first {SAMPLE_ALL_FIRST} \
         a thread submits, then one in {SAMPLE_EVERY}: `n` = {} of the {} submitted",
        metrics.run_time.count(),
        metrics.submitted
    );

    assert_eq!(sums.len(), SIZES.len());
    for &(n, sum) in &sums {
        assert_eq!(sum, sqrt_sum(n), "task with n = {n}");
    }
    assert_eq!(panics.len(), 1);
    assert!(panics[0].contains("at least 1 million"), "{panics:?}");
    assert_eq!(after, sqrt_sum(1));
    // `completed` counts the tasks that returned: the good ones and the one after the panic.
    assert_eq!(
        (metrics.completed, metrics.panicked),
        (SIZES.len() as u64 + 1, 1)
    );
    println!(
        "result: {} sums matched, {} panic caught, the pool kept working",
        sums.len(),
        panics.len()
    );
    Ok(())
}

/// Submits the good tasks, with the bad one after the second.
fn submit_with_a_bad_task(pool: &WorkerPool) -> anyhow::Result<Vec<(u64, TaskHandle<f64>)>> {
    let mut inputs = SIZES.to_vec();
    inputs.insert(2, BAD);
    inputs
        .into_iter()
        .map(|n| {
            let handle = pool.submit(move || sqrt_sum(n));
            Ok((
                n,
                handle.map_err(|e| anyhow!("task n = {n} was refused: {e}"))?,
            ))
        })
        .collect()
}

/// Each good task's input and its sum.
type Sums = Vec<(u64, f64)>;

/// Joins every handle. Each settles: a panic is that task's `Err`, where the Node pool's
/// promise would never settle at all.
fn settle_every_handle(
    handles: Vec<(u64, TaskHandle<f64>)>,
) -> anyhow::Result<(Sums, Vec<String>)> {
    let (mut sums, mut panics) = (Vec::new(), Vec::new());
    for (n, handle) in handles {
        match handle.join() {
            Ok(sum) => {
                println!("[main] n = {n}: {sum:.1}");
                sums.push((n, sum));
            }
            Err(TaskError::Panicked(message)) => {
                println!("[main] n = {n} panicked: {message:?}; its handle settled");
                panics.push(message);
            }
            Err(other) => bail!("task n = {n} failed unexpectedly: {other}"),
        }
    }
    Ok((sums, panics))
}

/// The worker that ran the bad task is alive, and the pool takes new work.
fn submit_after_the_panic(pool: &WorkerPool) -> anyhow::Result<f64> {
    let handle = pool
        .submit(|| sqrt_sum(1))
        .map_err(|e| anyhow!("the task after the panic was refused: {e}"))?;
    let sum = handle.join().context("the task after the panic")?;
    println!("[main] a task submitted after the panic: {sum:.1}");
    Ok(sum)
}

/// The sum of the square roots of `0..n` million. Panics for `n == 0`, the bad input.
fn sqrt_sum(n: u64) -> f64 {
    assert!(
        n > 0,
        "a task needs at least 1 million iterations, got n = {n}"
    );
    (0..n * 1_000_000).map(|i| (i as f64).sqrt()).sum()
}
