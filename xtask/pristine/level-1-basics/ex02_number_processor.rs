//! # Exercise l1-ex02: number processor
//!
//! **Goal.** Send a list of numbers to a worker thread and have it reply with their statistics,
//! or with a typed error when there is nothing to summarise. In Node this is
//! `worker.postMessage([5, 12, 8, ...])`, the worker's `parentPort.on('message', ...)` and a
//! reply of `{ count, sum, average, ... }` or `{ error }`; in Rust the list is *moved* through
//! a channel (no structured clone: the worker owns it), and the reply carries a `Result` whose
//! error is an `enum` the main thread must handle.
//!
//! **Check your attempt:** `cargo exercise check l1-ex02`
//!
//! **What the tests expect**
//! - For `[5, 12, 8, 130, 44, 67, 23, 91]`: count 8, sum 380, mean 47.5, min 5, max 130,
//!   median 33.5 and population standard deviation about 42.31.
//! - `[]` gives `Err(StatsError::Empty)`, never a panic, `NaN` or infinity.
//! - One number is its own mean and median, with a standard deviation of 0.
//! - An odd count takes the middle number as the median; an even count the mean of the two
//!   middle ones. Numbers sort as numbers (130 after 44), whatever their order in the input.
//! - [`compute_stats`] leaves the caller's numbers in their order.
//! - [`process_in_worker`]`(numbers, compute_stats)` moves the numbers to a worker thread
//!   named [`WORKER_NAME`] and calls the function it is given (`compute_stats` here) there,
//!   never on the caller's thread, and reports which thread that was in [`Reply`]. The tests
//!   pass a function that notes the thread that calls it, so stats computed on the caller and
//!   only carried back by a worker fail. Once the reply has arrived, it joins the worker
//!   before returning.
//! - If the function panics, or the worker sends nothing within [`REPLY_TIMEOUT`],
//!   `process_in_worker` returns an error: it neither panics itself nor makes up a reply.
//!   It returns that error at once, without joining: a worker that sent nothing may be
//!   stuck, and joining it would wait for ever.
//!
//! **Hints:** `cargo exercise hint l1-ex02` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::{Context, anyhow};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;
use thiserror::Error;

/// The name the worker thread must have.
pub const WORKER_NAME: &str = "number-processor";

/// How long `process_in_worker` waits for the worker's reply before it gives up with an error.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The statistics of a non-empty list of numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// How many numbers there are.
    pub count: usize,
    /// Their sum.
    pub sum: i64,
    /// Their mean (average): `sum / count`.
    pub mean: f64,
    /// The smallest number.
    pub min: i64,
    /// The largest number.
    pub max: i64,
    /// The middle number once sorted, or the mean of the two middle ones for an even count.
    pub median: f64,
    /// The population standard deviation: the square root of the mean squared distance from
    /// the mean.
    pub std_dev: f64,
}

/// Why there are no statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StatsError {
    /// The list was empty: it has no min, max, mean or median.
    #[error("no numbers to summarise")]
    Empty,
}

/// What the worker sends back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The statistics, or why there are none.
    pub stats: Result<Stats, StatsError>,
    /// The id of the thread that computed them.
    pub thread: ThreadId,
}

/// The statistics of `numbers`, or [`StatsError::Empty`] if there are none. The caller's
/// numbers keep their order.
///
/// # Errors
/// [`StatsError::Empty`] for an empty slice.
pub fn compute_stats(numbers: &[i64]) -> Result<Stats, StatsError> {
    // TODO: return `Err(StatsError::Empty)` when there are no numbers; otherwise compute
    // count, sum, mean, min and max, the median from a sorted *copy*, and the population
    // standard deviation.
    todo!("l1-ex02: compute the stats, or Err(StatsError::Empty) when there are no numbers")
}

/// Starts a worker thread named [`WORKER_NAME`], sends it `numbers`, has it call `summarise`
/// (usually [`compute_stats`]) on them, and returns the [`Reply`] it sends back, after the
/// worker has ended.
///
/// # Errors
/// If the thread cannot be spawned, stops before it gets the numbers, sends no reply within
/// [`REPLY_TIMEOUT`], or panics (a panic of `summarise` included). An empty list is no error
/// here: it is a [`Reply`] whose `stats` are `Err(StatsError::Empty)`.
pub fn process_in_worker(
    numbers: Vec<i64>,
    summarise: impl FnOnce(&[i64]) -> Result<Stats, StatsError> + Send + 'static,
) -> anyhow::Result<Reply> {
    let (numbers_tx, numbers_rx) = crossbeam_channel::bounded::<Vec<i64>>(1);
    let (reply_tx, reply_rx) = crossbeam_channel::bounded::<Reply>(1);

    // TODO: spawn a thread named WORKER_NAME that moves `numbers_rx`, `summarise` and
    // `reply_tx` in, receives the numbers, and sends back a Reply: the stats from
    // `summarise(&numbers)` and its own thread id from `thread::current()`.
    let worker: JoinHandle<()> =
        todo!("l1-ex02: spawn a worker that receives the numbers and replies with their stats");

    // TODO: send the numbers to the worker (this moves them into the channel).
    todo!("l1-ex02: send the numbers to the worker over `numbers_tx`");

    // TODO: receive the reply, waiting at most REPLY_TIMEOUT.
    let reply: Reply = todo!("l1-ex02: receive the worker's reply with a timeout");

    // TODO: join the worker; turn a panic into an error.
    todo!("l1-ex02: join the worker, then return its reply")
}
