//! # Lesson l2-01: a worker pool
//!
//! Replaces the Node course's hand-built pool (its `01-worker-pool`): 3 workers, a FIFO
//! queue, the first idle worker takes the next task, 8 tasks that each sum square roots. That
//! pool has two bugs this lesson shows fixed: its task ids come from `Date.now()`, so tasks
//! queued in the same millisecond share an id; and a worker that throws leaves its task's
//! promise pending forever. `shared::WorkerPool` is the pool, written once for the course:
//! `submit` returns a `TaskHandle` that always settles, with the value or a `TaskError`.
//!
//! Shows:
//! 1. the Node example's run: a pool of 3, 8 square-root tasks, ids from a counter (unique by
//!    construction), each worker saying which task it runs, results joined in submission
//!    order and checked against a sequential run;
//! 2. a task that panics: its handle settles with `TaskError::Panicked`, the worker survives,
//!    and the pool takes and finishes a task submitted afterwards;
//! 3. the pool's metrics: counts, queue wait and run time;
//! 4. why pools exist, measured: 10,000 small tasks on a pool against a thread spawned for
//!    each task.
//!
//! Run: `cargo run --release --example l2-01-worker-pool` (a debug build takes a few seconds)
//!
//! Expect: `[pool-N]` lines as the workers take the tasks, one `[pool-N] panicked: ...` line
//! on stderr from the task that panics on purpose, the results, the pool's metrics, the two timings with
//! their ratio (it varies by machine and run), then `result: 8 sums matched, 1 panic caught,
//! pool kept working; 10000 small tasks ran ...x faster on the pool than one thread each`.

use anyhow::{Context, anyhow, bail, ensure};
use shared::pool::{TaskError, TaskHandle, WorkerPool};
use shared::testing::panic_message;
use shared::timing::ratio;
use std::collections::HashSet;
use std::hint::black_box;
use std::panic;
use std::thread;
use std::time::{Duration, Instant};

/// The Node example's pool size.
const POOL_SIZE: usize = 3;

/// The Node example's tasks: task `n` sums `n` million square roots.
const SIZES: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// Where the task that panics goes in the queue: after the fourth task.
const BAD_TASK_AFTER: usize = 4;

/// How many small tasks the comparison runs, and how many threads it starts at a time when
/// it spawns one thread per task.
const SMALL_TASKS: u64 = 10_000;
const SPAWN_WAVE: usize = 100;

/// The Node example's work: the sum of the square roots of `0..n` million. Panics for
/// `n == 0`, the bad input this lesson sends on purpose.
fn sqrt_sum(n: u64) -> f64 {
    assert!(
        n > 0,
        "a task needs at least 1 million iterations, got n = {n}"
    );
    let mut sum = 0.0;
    for i in 0..n * 1_000_000 {
        sum += (i as f64).sqrt();
    }
    sum
}

/// A small task: a few hundred multiply-adds, far less work than starting a thread.
fn small_task(seed: u64) -> u64 {
    (0..300).fold(black_box(seed), |acc, k| {
        acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(k)
    })
}

/// What a task sends back: its own id, so a result can never be matched to the wrong task.
#[derive(Debug)]
struct Done {
    id: u64,
    worker: String,
    sum: f64,
}

/// A submitted task: its id, its input and the handle its result arrives through.
#[derive(Debug)]
struct Submitted {
    id: u64,
    n: u64,
    handle: TaskHandle<Done>,
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Part 1 and 2: the Node example, with a task that panics in the middle and one more task
/// submitted after the panic was seen.
fn node_example() -> anyhow::Result<()> {
    let pool = WorkerPool::builder()
        .threads(POOL_SIZE)
        .thread_name(|index| format!("pool-{index}"))
        .build()
        .context("could not start the pool")?;
    println!("[main] a pool of {POOL_SIZE} threads is ready");

    // Ids from a counter: unique by construction. (`Date.now()` returns the same value for
    // every task queued within one millisecond, so Node's ids collided.)
    let mut next_id = 0;
    let mut submit = |n: u64| -> anyhow::Result<Submitted> {
        next_id += 1;
        let id = next_id;
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
        Ok(Submitted { id, n, handle })
    };

    let mut tasks = Vec::new();
    for (i, &n) in SIZES.iter().enumerate() {
        if i == BAD_TASK_AFTER {
            tasks.push(submit(0)?); // bad input: this task panics
        }
        tasks.push(submit(n)?);
    }

    // Join in submission order. Every handle settles: a panic is that task's `Err`, where
    // the Node pool's promise would never settle at all.
    let mut sums = Vec::new();
    let mut panics = Vec::new();
    let mut ids = HashSet::new();
    for Submitted { id, n, handle } in tasks {
        ensure!(ids.insert(id), "task id {id} was used twice");
        match handle.join() {
            Ok(done) => {
                ensure!(
                    done.id == id,
                    "task #{id} got the result of task #{}",
                    done.id
                );
                println!(
                    "[main] task #{id} (n = {n}) = {:.1}, computed on {}",
                    done.sum, done.worker
                );
                sums.push((n, done.sum));
            }
            Err(TaskError::Panicked(message)) => {
                println!("[main] task #{id} (n = {n}) panicked: {message:?}; its handle settled");
                panics.push((n, message));
            }
            Err(other) => bail!("task #{id} failed unexpectedly: {other}"),
        }
    }

    // The worker that ran the panicking task is alive, and the pool takes new work.
    let after = submit(1)?;
    let after_sum = after.handle.join().context("the task after the panic")?.sum;
    println!("[main] task #{} after the panic = {after_sum:.1}", after.id);

    pool.join()
        .map_err(|e| anyhow!("could not wait for the pool: {e}"))?;
    let metrics = pool.metrics();
    println!("[main] the pool's metrics:\n{metrics}");

    // The checks: each sum equals the same work done here, in the same order, so the floating
    // point results are identical to the last bit.
    ensure!(sums.len() == SIZES.len(), "expected {} sums", SIZES.len());
    for &(n, sum) in &sums {
        ensure!(sum == sqrt_sum(n), "task with n = {n} returned {sum}");
    }
    assert_eq!(after_sum, sqrt_sum(1));
    assert_eq!(panics.len(), 1);
    assert_eq!(panics[0].0, 0);
    assert!(panics[0].1.contains("at least 1 million"), "{panics:?}");
    assert_eq!(ids.len(), SIZES.len() + 1, "every task had its own id");
    assert_eq!(
        (metrics.completed, metrics.panicked),
        (SIZES.len() as u64 + 1, 1)
    );
    assert_eq!((metrics.queued, metrics.running), (0, 0));
    Ok(())
}

/// Part 4: many small tasks, on a thread each and then on a pool. Returns
/// `(one thread each, pool)`.
fn spawn_against_pool(threads: usize) -> anyhow::Result<(Duration, Duration)> {
    let expected = (0..SMALL_TASKS).fold(0u64, |sum, seed| sum.wrapping_add(small_task(seed)));

    // A thread per task, started in waves of `SPAWN_WAVE`: all 10,000 at once could run into
    // the operating system's limit on threads per process.
    let start = Instant::now();
    let mut spawned_sum = 0u64;
    let seeds: Vec<u64> = (0..SMALL_TASKS).collect();
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
            spawned_sum = spawned_sum.wrapping_add(value);
        }
    }
    let spawned = start.elapsed();

    // The same tasks on a pool: its threads start once and take task after task.
    let start = Instant::now();
    let pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(|index| format!("small-{index}"))
        .build()
        .context("could not start the pool")?;
    let handles = (0..SMALL_TASKS)
        .map(|seed| pool.submit(move || small_task(seed)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("a small task was refused: {e}"))?;
    let mut pooled_sum = 0u64;
    for handle in handles {
        pooled_sum = pooled_sum.wrapping_add(handle.join()?);
    }
    pool.join()
        .map_err(|e| anyhow!("could not wait for the pool: {e}"))?;
    let pooled = start.elapsed();
    let metrics = pool.metrics();

    println!("[main] the small-task pool's metrics:\n{metrics}");
    println!("[main] (compare `wait` with `run`: tasks this small, queued all at once, usually");
    println!("[main] wait far longer than they run; task granularity is lesson l2-07's subject)");

    assert_eq!(spawned_sum, expected);
    assert_eq!(pooled_sum, expected);
    assert_eq!(metrics.completed, SMALL_TASKS);
    Ok((spawned, pooled))
}

fn main() -> anyhow::Result<()> {
    // One line per panic, from the thread that panicked, instead of the default report (and
    // its backtrace, if RUST_BACKTRACE is set). Lesson l1-05 covers panic hooks.
    panic::set_hook(Box::new(|info| {
        eprintln!("[{}] panicked: {}", me(), panic_message(info.payload()));
    }));
    println!("[main] --- the Node example: {POOL_SIZE} workers, 8 tasks, one bad task ---");
    let outcome = node_example();
    drop(panic::take_hook()); // back to the default report
    outcome?;

    let threads = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!("\n[main] --- {SMALL_TASKS} small tasks: a thread each, then a pool of {threads} ---");
    let (spawned, pooled) = spawn_against_pool(threads)?;
    let ratio = ratio(spawned, pooled);
    let per_task = |d: Duration| d.as_nanos() as f64 / SMALL_TASKS as f64 / 1_000.0;
    println!(
        "[main] a thread per task:       {:>8.1} ms ({:>6.2} µs per task)",
        spawned.as_secs_f64() * 1e3,
        per_task(spawned)
    );
    println!(
        "[main] a pool of {threads} threads:     {:>8.1} ms ({:>6.2} µs per task)",
        pooled.as_secs_f64() * 1e3,
        per_task(pooled)
    );
    println!("[main] the pool was {ratio:.1}x faster (this ratio varies by machine and run)");

    println!(
        "result: {} sums matched, 1 panic caught, pool kept working; {SMALL_TASKS} small tasks \
         ran {ratio:.1}x faster on the pool than one thread each",
        SIZES.len()
    );
    Ok(())
}
