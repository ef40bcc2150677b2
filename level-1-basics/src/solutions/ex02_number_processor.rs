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
    // `min` and `max` are `None` exactly when there are no numbers: the empty case is handled
    // once, here, where JavaScript would go on to compute `0 / 0` and `Math.min()`.
    let (Some(&min), Some(&max)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Err(StatsError::Empty);
    };
    let count = numbers.len();
    let sum: i64 = numbers.iter().sum();
    let mean = sum as f64 / count as f64;

    // A sorted copy: the caller's slice keeps its order. (JavaScript's `sort()` sorts in place,
    // and without a comparator compares numbers as text, which puts 130 before 44.)
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    let middle = count / 2;
    let median = if count.is_multiple_of(2) {
        (sorted[middle - 1] as f64 + sorted[middle] as f64) / 2.0
    } else {
        sorted[middle] as f64
    };

    let variance = numbers
        .iter()
        .map(|&n| (n as f64 - mean).powi(2))
        .sum::<f64>()
        / count as f64;

    Ok(Stats {
        count,
        sum,
        mean,
        min,
        max,
        median,
        std_dev: variance.sqrt(),
    })
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

    let worker: JoinHandle<()> = thread::Builder::new()
        .name(WORKER_NAME.to_owned())
        .spawn(move || {
            // `parentPort.once('message')`. If the main thread hung up without sending, there
            // is no work and nobody to answer.
            let Ok(numbers) = numbers_rx.recv() else {
                return;
            };
            let reply = Reply {
                stats: summarise(&numbers),
                thread: thread::current().id(),
            };
            // The caller may have given up waiting; then the worker simply ends.
            let _ = reply_tx.send(reply);
        })
        .context("could not spawn the number processor")?;

    // The `postMessage` idea, without the copy: the `Vec` moves into the channel, and the
    // caller cannot use it any more. Sending fails only if the worker has already ended.
    numbers_tx
        .send(numbers)
        .map_err(|_| anyhow!("the number processor ended before it got the numbers"))?;

    let reply = reply_rx
        .recv_timeout(REPLY_TIMEOUT)
        .context("the number processor sent no reply")?;

    worker
        .join()
        .map_err(|_| anyhow!("the number processor panicked"))?;
    Ok(reply)
}
