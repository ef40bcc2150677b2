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
        // TODO: from submission to finish: the queue wait and the run time together.
        todo!("l2-ex04: the end-to-end latency, from `submitted` to `finished`")
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
    // TODO: for each index in 0..tasks: read the clock, then `pool.submit` a closure that
    // reads the clock, runs `job(index)`, reads the clock again and returns the value with its
    // two readings; keep the index, the submission time and the handle. A refused submission
    // is BenchError::Pool.
    todo!("l2-ex04: submit every task to the pool, keeping its submission time and handle")
}

impl Batch {
    /// Waits for every task of the batch and returns their samples, in index order.
    ///
    /// # Errors
    /// [`BenchError::Task`] for the first task (in index order) that panicked or was dropped.
    pub fn collect(self) -> Result<Vec<TaskSample>, BenchError> {
        // TODO: join every handle in index order and build a TaskSample from its index, value,
        // submission time and the two readings the task returned; a failed task is
        // BenchError::Task with its index and the pool's TaskError.
        todo!("l2-ex04: wait for every task and turn each into a TaskSample")
    }
}

/// Min, mean, p50 (nearest rank, the lower middle for an even count) and max of `durations`;
/// `None` if there are none.
pub fn summarise(durations: &[Duration]) -> Option<LatencyStats> {
    // TODO: sort a copy; min and max are its ends, the mean is the sum divided by the count, the
    // p50 is the element at (len - 1) / 2. No durations, no summary.
    todo!("l2-ex04: min, mean, p50 (lower middle) and max of the durations, or None")
}

/// The record of a pool of `size` threads that produced `samples`.
///
/// # Errors
/// [`BenchError::NoTasks`] if there are no samples.
pub fn record_for(size: usize, samples: Vec<TaskSample>) -> Result<SizeRecord, BenchError> {
    // TODO: summarise the samples' latencies (none is BenchError::NoTasks); the wall time runs
    // from the earliest submission to the latest finish; throughput = samples / wall seconds.
    todo!("l2-ex04: build the SizeRecord: wall time, throughput and latency stats")
}

/// Runs `tasks` tasks of `fib(n)` on a pool of each size in `sizes`, in that order.
///
/// # Errors
/// [`BenchError::TooLarge`] for `n` above 93, and every error of [`benchmark_with`].
pub fn benchmark(sizes: &[usize], tasks: usize, n: u32) -> Result<Vec<SizeRecord>, BenchError> {
    // TODO: refuse n above MAX_FIB_INPUT with BenchError::TooLarge, then call benchmark_with
    // with a job that computes fib(n).
    todo!("l2-ex04: check n, then benchmark fib(n) with benchmark_with")
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
    // TODO: check the input before any work: no sizes, a size of 0, zero tasks.
    // Then, for each size in order: build a WorkerPool of that many threads with room for every
    // task, submit the batch, collect it, drop the pool (it joins its threads), and keep the
    // record.
    todo!("l2-ex04: validate the input, then run the batch on a fresh pool of each size")
}

/// The speedup and efficiency of every record against the record of a pool of 1.
///
/// # Errors
/// [`BenchError::NoBaseline`] if no record has size 1.
pub fn scaling(records: &[SizeRecord]) -> Result<Vec<Scaling>, BenchError> {
    // TODO: find the record of size 1 (none is BenchError::NoBaseline); for every record,
    // speedup = its throughput / the baseline's, efficiency = speedup / size.
    todo!("l2-ex04: speedup and efficiency of every record against the pool of 1")
}

/// The record with the highest throughput; on a tie, the smaller pool. `None` if there are no
/// records.
pub fn fastest(records: &[SizeRecord]) -> Option<&SizeRecord> {
    // TODO: the highest throughput wins; on a tie, the smaller size.
    todo!("l2-ex04: pick the record with the highest throughput")
}

/// The records as a table: a header line, a rule, and one row per record starting with its
/// size. Speedup (`2.00x`) and efficiency (`100%`) are `-` without a size-1 record.
pub fn format_table(records: &[SizeRecord]) -> String {
    // TODO: a header line, a rule of '-', then one row per record: size, wall ms, tasks/s,
    // latency min/mean/p50/max in ms, speedup `{:.2}x` and efficiency `{:.0}%` (or `-` for both
    // when `scaling` finds no size-1 record).
    todo!("l2-ex04: format the records as a table")
}

/// Throughput as horizontal bars, one line per record: the best gets `width` `#`s, the others
/// `(throughput / best * width).round()`.
pub fn bar_chart(records: &[SizeRecord], width: usize) -> String {
    // TODO: find the best throughput; each line is the size, then
    // (throughput / best * width).round() '#' characters, then the throughput.
    todo!("l2-ex04: draw one bar per record, scaled to the best throughput")
}
