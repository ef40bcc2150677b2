//! Wrong answer (promise not kept): the range is cut into exactly `threads` slices even when it holds fewer numbers, so some workers get an empty slice and report 0 of 0.
//! # Exercise l1-ex06: prime finder
//!
//! **Goal.** Build the prime finder the Node course promised and never wrote: search a range
//! for primes on several worker threads, report progress at least every 10 % of each worker's
//! share, and stop every worker early when asked. In Node that would be one `Worker` per
//! slice, `parentPort.postMessage({ done, total })` for progress and `worker.terminate()` to
//! stop; in Rust the workers are scoped threads that borrow the caller's data, progress travels
//! over a channel, and stopping is a [`CancellationToken`] that each worker checks between
//! small blocks of numbers.
//!
//! **Check your attempt:** `cargo exercise check l1-ex06`
//!
//! **What the tests expect**
//! - `find_primes(range, threads, progress, &cancel)` returns the same primes as
//!   [`shared::workload::primes_in`], ascending, for 1, 2 and 7 threads and for ranges that do
//!   not start at 0. A finished search has `cancelled == false` and `checked` equal to the
//!   range's length.
//! - The range is cut into one contiguous slice per worker, never more workers than numbers;
//!   worker `i` searches slice `i` on its own thread, never the caller's.
//! - Each worker sends a [`Progress`] after every block: its `done` rises strictly, by at most
//!   a tenth of its `total` (rounded up) at a time, and ends equal to `total`.
//! - Each worker checks the token before every block. Cancelled before the start, a search
//!   checks nothing; cancelled after the first report, every worker stops within a block or
//!   so, and the result says `cancelled`. Either way `find_primes` returns only after every
//!   worker has ended.
//! - 0 threads is [`FinderError::NoThreads`]; an empty or reversed range is
//!   [`FinderError::EmptyRange`]; neither starts a thread.
//!
//! **Hints:** `cargo exercise hint l1-ex06` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::Sender;
use shared::CancellationToken;
use shared::workload::primes_in;
use std::ops::Range;
use std::thread::{self, ScopedJoinHandle, ThreadId};

/// Each worker reports at least this many times over its slice: at least every 10 %.
pub const PROGRESS_STEPS: u64 = 10;

/// The most numbers a worker checks between two looks at the token, so that a cancel is seen
/// quickly even in a slice of millions.
pub const MAX_BLOCK: u64 = 1_000;

/// One progress report: worker `worker` has checked `done` of its `total` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Which worker reports, from 0: worker `i` searches the `i`-th slice of the range.
    pub worker: usize,
    /// The thread the worker runs on.
    pub thread: ThreadId,
    /// How many numbers of its slice the worker has checked so far.
    pub done: u64,
    /// How many numbers its slice holds.
    pub total: u64,
}

impl Progress {
    /// How far the worker is, in whole percent (rounded down).
    pub fn percent(&self) -> u64 {
        self.done * 100 / self.total.max(1)
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The primes found, ascending.
    pub primes: Vec<u64>,
    /// How many numbers of the range were checked: all of them unless cancelled.
    pub checked: u64,
    /// Whether the search stopped before checking every number.
    pub cancelled: bool,
}

/// Why a search could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinderError {
    /// A search needs at least one worker thread.
    #[error("a prime search needs at least 1 thread")]
    NoThreads,
    /// The range holds no numbers.
    #[error("the range {start}..{end} is empty")]
    EmptyRange {
        /// The range's start.
        start: u64,
        /// The range's end, at or below its start.
        end: u64,
    },
    /// A worker panicked, so its slice has no result.
    #[error("worker {worker} panicked")]
    WorkerPanicked {
        /// Which worker.
        worker: usize,
    },
}

/// What one worker found in its slice.
#[derive(Debug)]
struct Found {
    primes: Vec<u64>,
    checked: u64,
}

/// Searches `range` for primes on up to `threads` worker threads, sending a [`Progress`] on
/// `progress` after every block, until done or until `cancel` is cancelled.
///
/// Returns only after every worker has ended.
///
/// # Errors
/// [`FinderError::NoThreads`] for 0 threads, [`FinderError::EmptyRange`] for an empty or
/// reversed range, [`FinderError::WorkerPanicked`] if a worker panicked.
pub fn find_primes(
    range: Range<u64>,
    threads: usize,
    progress: Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Search, FinderError> {
    // Check the input before any thread starts: a bad call costs nothing.
    if threads == 0 {
        return Err(FinderError::NoThreads);
    }
    if range.is_empty() {
        return Err(FinderError::EmptyRange {
            start: range.start,
            end: range.end,
        });
    }
    let length = range.end - range.start;
    let slices = split(range, threads);

    let found = thread::scope(|s| {
        let workers: Vec<ScopedJoinHandle<'_, Found>> = slices
            .into_iter()
            .enumerate()
            .map(|(worker, slice)| {
                let progress = progress.clone();
                // What the worker runs: it owns `worker`, `slice` and its sender, and borrows
                // `cancel`, which a scoped thread may do: it is sure to end before `scope`
                // returns.
                let work = move || search_slice(worker, slice, &progress, cancel);
                s.spawn(work)
            })
            .collect();

        // Join every worker before looking at any result, so that no worker is still running
        // when an error is returned.
        let outcomes: Vec<_> = workers.into_iter().map(ScopedJoinHandle::join).collect();
        outcomes
            .into_iter()
            .enumerate()
            .map(|(worker, outcome)| outcome.map_err(|_| FinderError::WorkerPanicked { worker }))
            .collect::<Result<Vec<Found>, FinderError>>()
    })?;

    // Slice `i` lies below slice `i + 1`, so the primes in worker order are already sorted.
    let checked = found.iter().map(|f| f.checked).sum();
    let primes = found.into_iter().flat_map(|f| f.primes).collect();
    Ok(Search {
        primes,
        checked,
        cancelled: checked < length,
    })
}

/// How many numbers a worker checks between two reports, for a slice of `total` numbers.
fn block_size(total: u64) -> u64 {
    total.div_ceil(PROGRESS_STEPS).clamp(1, MAX_BLOCK)
}

/// Cuts a non-empty `range` into `workers` contiguous slices, ascending, whose lengths differ
/// by at most 1; fewer slices if the range holds fewer numbers than that.
fn split(range: Range<u64>, workers: usize) -> Vec<Range<u64>> {
    let length = range.end - range.start;
    let workers = u64::try_from(workers).unwrap_or(u64::MAX);
    let (base, extra) = (length / workers, length % workers);
    let mut low = range.start;
    (0..workers)
        .map(|i| {
            let size = base + u64::from(i < extra);
            let slice = low..low + size;
            low += size;
            slice
        })
        .collect()
}

/// Searches one slice on the current thread, block by block, reporting after each block and
/// stopping before the next one once `cancel` is cancelled.
fn search_slice(
    worker: usize,
    slice: Range<u64>,
    progress: &Sender<Progress>,
    cancel: &CancellationToken,
) -> Found {
    let total = slice.end - slice.start;
    let block = block_size(total);
    let thread = thread::current().id();

    let mut found = Found {
        primes: Vec::new(),
        checked: 0,
    };
    let mut low = slice.start;
    // The token is checked before every block: Rust cannot stop a thread from outside, so a
    // worker is exactly as quick to stop as its blocks are short.
    if slice.is_empty() {
        let _ = progress.send(Progress {
            worker,
            thread,
            done: 0,
            total,
        });
    }
    while low < slice.end && !cancel.is_cancelled() {
        let high = low.saturating_add(block).min(slice.end);
        found.primes.extend(primes_in(low..high));
        found.checked += high - low;
        low = high;
        // Nobody may be listening any more; the search goes on without an audience.
        let _ = progress.send(Progress {
            worker,
            thread,
            done: found.checked,
            total,
        });
    }
    found
}
