//! Wrong answer (promise not kept): benchmark_with checks each size only when it reaches it, so the sizes before a 0 have already run.
//! # Exercise l2-ex04: pool-size benchmark harness
//!
//! **Goal.** Run the same batch of `T` tasks (`fib(n)` each) on pools of several sizes and
//! report, for each size: the wall time, the throughput (tasks per second), and each task's
//! **latency measured end to end**, from the moment it was submitted to the moment its result
//! existed, queue wait included, with its min, mean, median (p50) and max; then the speedup and
//! efficiency of each size against a pool of 1, a table and an ASCII bar chart. The Node
//! exercise does this with `SimpleWorkerPool` and `Date.now()`, but reports the *worker's
//! compute time* as "latency", which cannot fall as the pool grows (more workers shorten the
//! wait, not the work). Here queue wait and run time are kept apart, and latency is their sum.
//!
//! The pool is not the exercise: use `shared::WorkerPool` (`submit` returns a `TaskHandle`
//! whose `join` gives the task's value). The harness around it is.
//!
//! **Check your attempt:** `cargo exercise check l2-ex04`
//!
//! **What the tests expect**
//! - [`benchmark`]`(sizes, tasks, n)` returns one [`SizeRecord`] per size, **in the order
//!   given**, each with exactly `tasks` samples in index order `0..tasks`, and every sample's
//!   value is `fib(n)`. [`benchmark_with`] does the same for any job `Fn(index) -> u64`: the
//!   job runs exactly `tasks` times per size, never more than `size` at once, and a pool of 2
//!   really runs two at once. The jobs run on the pools' threads, never the caller's, and every
//!   pool's threads have ended when [`benchmark_with`] returns.
//! - Bad input is a [`BenchError`] before any task runs: no sizes is `NoSizes`, a size of 0 is
//!   `ZeroSize`, zero tasks is `NoTasks`, `n` above 93 is `TooLarge`. A job that panics is
//!   `Task { index, .. }`, never a hang.
//! - [`submit_batch`] queues every task on the pool it is given and returns at once;
//!   [`Batch::collect`] waits for them. A [`TaskSample`] records when its task was submitted,
//!   started and finished; its [`latency`](TaskSample::latency) runs from submission to finish.
//!   On a pool of 1 whose first task is held at a gate until every task is queued, the last
//!   task's latency is at least the sum of the run times of every task after the first.
//! - [`record_for`] summarises samples: wall time from the first submission to the last
//!   finish, throughput = tasks / wall seconds, latency min/mean/p50/max; no samples is
//!   `Err(NoTasks)`. [`summarise`] takes the p50 by nearest rank: the lower of the two
//!   middle values for an even count (`[1, 2, 3, 4]` ms → 2 ms); an empty list has no summary
//!   (`None`).
//! - [`scaling`] gives, per record, speedup = its throughput / the throughput of the size-1
//!   record, and efficiency = speedup / size; without a size-1 record it is
//!   `Err(BenchError::NoBaseline)`. [`fastest`] is the record with the highest throughput (the
//!   smaller size on a tie); the tests never ask which size wins on a real machine.
//! - [`format_table`] is a header line, a rule line, then one row per record that starts with
//!   the size and shows the speedup as `{:.2}x` and the efficiency as `{:.0}%` (`-` for both
//!   without a size-1 record). [`bar_chart`] is one line per record, whose bar is
//!   `(throughput / best throughput * width).round()` `#` characters.
//!
//! **Hints:** `cargo exercise hint l2-ex04` shows one at a time, from the idea to the
//! exact API to the documentation.

use shared::WorkerPool;
use shared::pool::{TaskError, TaskHandle};
use shared::workload::{MAX_FIB_INPUT, fib};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The pool sizes of the Node exercise.
pub const COURSE_SIZES: [usize; 5] = [1, 2, 4, 8, 16];

/// The batch of the Node exercise: 100 tasks of `fib(35)` per size.
pub const COURSE_TASKS: usize = 100;

/// The Fibonacci input of the Node exercise.
pub const COURSE_N: u32 = 35;

/// Why a benchmark could not run, or a comparison could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BenchError {
    #[error("no pool sizes to measure")]
    NoSizes,
    #[error("pool size 0 (at position {position} of the list): a pool needs a thread")]
    ZeroSize { position: usize },
    #[error("no tasks to run: a batch needs at least one")]
    NoTasks,
    #[error("fib({n}) does not fit in a u64: the largest input is {MAX_FIB_INPUT}")]
    TooLarge { n: u32 },
    #[error("no record for a pool of 1 thread to compare the others with")]
    NoBaseline,
    #[error("could not start a pool: {0}")]
    Pool(String),
    #[error("task {index} failed: {error}")]
    Task { index: usize, error: TaskError },
}

/// One task's value and its three clock readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSample {
    /// The task's place in its batch, `0..tasks`.
    pub index: usize,
    /// What the job returned.
    pub value: u64,
    /// Just before the task was handed to the pool (on the submitting thread).
    pub submitted: Instant,
    /// When the job started, on a worker.
    pub started: Instant,
    /// When the job returned, on the same worker.
    pub finished: Instant,
}

impl TaskSample {
    /// How long the task waited for a free worker: submission to start.
    pub fn queue_wait(&self) -> Duration {
        self.started.duration_since(self.submitted)
    }

    /// How long the job itself ran: start to finish.
    pub fn run_time(&self) -> Duration {
        self.finished.duration_since(self.started)
    }

    /// The end-to-end latency: submission to finish, so queue wait plus run time.
    pub fn latency(&self) -> Duration {
        // Not `run_time()`: that is what the Node solutions call latency, and it hides the
        // wait, which is the part that pool size changes.
        self.finished.duration_since(self.submitted)
    }
}

/// Min, mean, median and max of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyStats {
    pub min: Duration,
    pub mean: Duration,
    /// The median by nearest rank: the lower middle value for an even count.
    pub p50: Duration,
    pub max: Duration,
}

/// What one pool size did with the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeRecord {
    /// How many threads the pool had.
    pub size: usize,
    /// Every task's sample, in index order.
    pub samples: Vec<TaskSample>,
    /// From the first submission to the last finish.
    pub wall: Duration,
    /// Tasks finished per second of wall time.
    pub throughput: f64,
    /// End-to-end latency of the tasks (queue wait included).
    pub latency: LatencyStats,
}

/// One size's speedup and efficiency against a pool of 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    pub size: usize,
    /// Its throughput divided by the throughput of the size-1 pool: 2.0 is twice as fast.
    pub speedup: f64,
    /// Speedup divided by size: 1.0 means every added thread paid off in full.
    pub efficiency: f64,
}

/// A batch of tasks on a pool, in index order, waiting to be collected.
#[derive(Debug)]
pub struct Batch {
    pub pending: Vec<PendingTask>,
}

/// A task in flight: its handle gives its value with its start and finish times.
#[derive(Debug)]
pub struct PendingTask {
    pub index: usize,
    /// Just before the task was handed to the pool.
    pub submitted: Instant,
    /// The task returns `(value, started, finished)`.
    pub handle: TaskHandle<(u64, Instant, Instant)>,
}

/// Queues `tasks` tasks on `pool`, task `i` running `job(i)`, and returns without waiting for
/// them.
///
/// # Errors
/// [`BenchError::Pool`] if the pool refuses a task (it is closed).
pub fn submit_batch<F>(pool: &WorkerPool, tasks: usize, job: &Arc<F>) -> Result<Batch, BenchError>
where
    F: Fn(usize) -> u64 + Send + Sync + 'static,
{
    let mut pending = Vec::with_capacity(tasks);
    for index in 0..tasks {
        let job = Arc::clone(job);
        // Read before `submit`: if `submit` has to wait for room in the queue, that wait is
        // part of the latency too.
        let submitted = Instant::now();
        let handle = pool
            .submit(move || {
                let started = Instant::now();
                let value = job(index);
                (value, started, Instant::now())
            })
            .map_err(|e| BenchError::Pool(e.to_string()))?;
        pending.push(PendingTask {
            index,
            submitted,
            handle,
        });
    }
    Ok(Batch { pending })
}

impl Batch {
    /// Waits for every task of the batch and returns their samples, in index order.
    ///
    /// # Errors
    /// [`BenchError::Task`] for the first task (in index order) that panicked or was dropped.
    pub fn collect(self) -> Result<Vec<TaskSample>, BenchError> {
        self.pending
            .into_iter()
            .map(|p| {
                // The finish time comes from the worker, so waiting for the handles in index
                // order does not add the earlier tasks' time to a later task's latency.
                let (value, started, finished) =
                    p.handle.join().map_err(|error| BenchError::Task {
                        index: p.index,
                        error,
                    })?;
                Ok(TaskSample {
                    index: p.index,
                    value,
                    submitted: p.submitted,
                    started,
                    finished,
                })
            })
            .collect()
    }
}

/// Min, mean, p50 (nearest rank, the lower middle for an even count) and max of `durations`;
/// `None` if there are none.
pub fn summarise(durations: &[Duration]) -> Option<LatencyStats> {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let count = u32::try_from(sorted.len()).unwrap_or(u32::MAX);
    Some(LatencyStats {
        min,
        mean: sorted.iter().sum::<Duration>() / count,
        p50: sorted[(sorted.len() - 1) / 2],
        max,
    })
}

/// The record of a pool of `size` threads that produced `samples`.
///
/// # Errors
/// [`BenchError::NoTasks`] if there are no samples.
pub fn record_for(size: usize, samples: Vec<TaskSample>) -> Result<SizeRecord, BenchError> {
    let latencies: Vec<Duration> = samples.iter().map(TaskSample::latency).collect();
    let latency = summarise(&latencies).ok_or(BenchError::NoTasks)?;
    let first_submitted = samples.iter().map(|s| s.submitted).min();
    let last_finished = samples.iter().map(|s| s.finished).max();
    let (Some(first), Some(last)) = (first_submitted, last_finished) else {
        return Err(BenchError::NoTasks);
    };
    let wall = last.duration_since(first);
    let throughput = samples.len() as f64 / wall.as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(SizeRecord {
        size,
        samples,
        wall,
        throughput,
        latency,
    })
}

/// Runs `tasks` tasks of `fib(n)` on a pool of each size in `sizes`, in that order.
///
/// # Errors
/// [`BenchError::TooLarge`] for `n` above 93, and every error of [`benchmark_with`].
pub fn benchmark(sizes: &[usize], tasks: usize, n: u32) -> Result<Vec<SizeRecord>, BenchError> {
    if n > MAX_FIB_INPUT {
        return Err(BenchError::TooLarge { n });
    }
    benchmark_with(sizes, tasks, move |_index| fib(n))
}

/// Runs `tasks` tasks, task `i` computing `job(i)`, on a fresh pool of each size in `sizes`,
/// in that order, and returns one record per size.
///
/// # Errors
/// [`BenchError::NoSizes`], [`ZeroSize`](BenchError::ZeroSize) or
/// [`NoTasks`](BenchError::NoTasks) before any task runs; [`Pool`](BenchError::Pool) if a pool
/// cannot start; [`Task`](BenchError::Task) if a job panics.
pub fn benchmark_with<F>(
    sizes: &[usize],
    tasks: usize,
    job: F,
) -> Result<Vec<SizeRecord>, BenchError>
where
    F: Fn(usize) -> u64 + Send + Sync + 'static,
{
    // Every check before any work: a typo in the last size should not cost the first runs.
    if sizes.is_empty() {
        return Err(BenchError::NoSizes);
    }
    if tasks == 0 {
        return Err(BenchError::NoTasks);
    }

    let job = Arc::new(job);
    let mut records = Vec::with_capacity(sizes.len());
    for (position, &size) in sizes.iter().enumerate() {
        if size == 0 {
            return Err(BenchError::ZeroSize { position });
        }
        // A fresh pool per size, with room for the whole batch: `submit` never waits, so
        // every task is queued at once, like the Node harness's `Promise.all`.
        let pool = WorkerPool::builder()
            .threads(size)
            .queue_capacity(tasks)
            .thread_name(move |i| format!("bench{size}-{i}"))
            .build()
            .map_err(|e| BenchError::Pool(e.to_string()))?;
        let samples = submit_batch(&pool, tasks, &job)?.collect()?;
        // Joined before the next size starts, so sizes never compete for the cores.
        drop(pool);
        records.push(record_for(size, samples)?);
    }
    Ok(records)
}

/// The speedup and efficiency of every record against the record of a pool of 1.
///
/// # Errors
/// [`BenchError::NoBaseline`] if no record has size 1.
pub fn scaling(records: &[SizeRecord]) -> Result<Vec<Scaling>, BenchError> {
    let baseline = records
        .iter()
        .find(|r| r.size == 1)
        .ok_or(BenchError::NoBaseline)?;
    Ok(records
        .iter()
        .map(|r| {
            let speedup = r.throughput / baseline.throughput.max(f64::MIN_POSITIVE);
            Scaling {
                size: r.size,
                speedup,
                efficiency: speedup / r.size as f64,
            }
        })
        .collect())
}

/// The record with the highest throughput; on a tie, the smaller pool. `None` if there are no
/// records.
pub fn fastest(records: &[SizeRecord]) -> Option<&SizeRecord> {
    records.iter().reduce(|best, r| {
        let better = r.throughput > best.throughput
            || (r.throughput == best.throughput && r.size < best.size);
        if better { r } else { best }
    })
}

/// The records as a table: a header line, a rule, and one row per record starting with its
/// size. Speedup (`2.00x`) and efficiency (`100%`) are `-` without a size-1 record.
pub fn format_table(records: &[SizeRecord]) -> String {
    let scaled = scaling(records).ok();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let header = format!(
        "{:>4} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "size",
        "wall ms",
        "tasks/s",
        "min ms",
        "mean ms",
        "p50 ms",
        "max ms",
        "speedup",
        "efficiency"
    );
    let mut table = format!("{header}\n{}\n", "-".repeat(header.len()));
    for (i, r) in records.iter().enumerate() {
        let (speedup, efficiency) = match &scaled {
            Some(s) => (
                format!("{:.2}x", s[i].speedup),
                format!("{:.0}%", s[i].efficiency * 100.0),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let l = &r.latency;
        // Writing to a String cannot fail.
        let _ = writeln!(
            table,
            "{:>4} {:>10.1} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10}",
            r.size,
            ms(r.wall),
            r.throughput,
            ms(l.min),
            ms(l.mean),
            ms(l.p50),
            ms(l.max),
            speedup,
            efficiency
        );
    }
    table
}

/// Throughput as horizontal bars, one line per record: the best gets `width` `#`s, the others
/// `(throughput / best * width).round()`.
pub fn bar_chart(records: &[SizeRecord], width: usize) -> String {
    let best = records
        .iter()
        .map(|r| r.throughput)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut chart = String::new();
    for r in records {
        let bar = (r.throughput / best * width as f64).round() as usize;
        let _ = writeln!(
            chart,
            "{:>4} | {:<width$} {:.1} tasks/s",
            r.size,
            "#".repeat(bar),
            r.throughput
        );
    }
    chart
}
