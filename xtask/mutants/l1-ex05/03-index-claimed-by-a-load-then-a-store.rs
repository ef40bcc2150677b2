//! Wrong answer (race): a thread claims the next index with a load followed by a store, so two threads can claim the same one.
//! # Exercise l1-ex05: parallel Fibonacci
//!
//! **Goal.** Compute `fib(35..=40)` once on the calling thread and once on several threads,
//! map every result back to its input whatever order the threads finish in, and report the
//! speed-up. In Node this is one `new Worker(...)` per number, each posting `{ n, result }`
//! back, gathered with `Promise.all`; in Rust, scoped threads borrow the inputs directly and
//! hand their results back through `join`.
//!
//! **Check your attempt:** `cargo exercise check l1-ex05`
//!
//! **What the tests expect**
//! - `check_inputs` rejects any input above [`MAX_FIB_INPUT`] (93, the last one whose answer
//!   fits in a `u64`) with [`FibError::TooLarge`], before any work starts: an error, not a
//!   panic.
//! - `sequential` and `parallel_with` return `(input, fib(input))` pairs **in input order**,
//!   even when a later input finishes first; an empty input gives an empty output.
//! - `parallel_with(inputs, threads, f)` calls `f` once per input on up to `threads` threads,
//!   never on the caller's, with at least two of them at work at once when `threads >= 2`;
//!   `threads == 0` is [`FibError::NoThreads`].
//! - `compare` runs both, checks they agree, and returns a [`Report`] with both times and the
//!   speed-up. The tests never look at the times: they depend on the machine.
//!
//! **Hints:** `cargo exercise hint l1-ex05` shows one at a time, from the idea to the
//! exact API to the documentation.

use shared::workload::{MAX_FIB_INPUT, fib};
use std::fmt;
use std::ops::RangeInclusive;
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The inputs of the course: `fib(35)` = 9,227,465 up to `fib(40)` = 102,334,155.
pub const INPUTS: RangeInclusive<u32> = 35..=40;

/// Why a set of inputs cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FibError {
    #[error("fib({n}) does not fit in a u64: the largest input is {MAX_FIB_INPUT}")]
    TooLarge { n: u32 },
    #[error("at least one thread is needed")]
    NoThreads,
}

/// The timings of one sequential and one parallel run over the same inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `(input, fib(input))`, in input order.
    pub results: Vec<(u32, u64)>,
    /// The most threads the parallel run could use.
    pub threads: usize,
    pub sequential: Duration,
    pub parallel: Duration,
}

impl Report {
    /// How many times faster the parallel run was: above 1 is a gain.
    pub fn speedup(&self) -> f64 {
        self.sequential.as_secs_f64() / self.parallel.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, value) in &self.results {
            writeln!(f, "fib({n}) = {value}")?;
        }
        writeln!(f, "{:<22}{:>10.1?}", "sequential", self.sequential)?;
        let parallel = format!("parallel ({} threads)", self.threads);
        writeln!(f, "{parallel:<22}{:>10.1?}", self.parallel)?;
        write!(f, "{:<22}{:>9.2}x", "speedup", self.speedup())
    }
}

/// `Ok` if every input's Fibonacci number fits in a `u64`, else the first that does not.
pub fn check_inputs(inputs: &[u32]) -> Result<(), FibError> {
    match inputs.iter().find(|&&n| n > MAX_FIB_INPUT) {
        Some(&n) => Err(FibError::TooLarge { n }),
        None => Ok(()),
    }
}

/// `(n, fib(n))` for every input, in input order, on the calling thread.
pub fn sequential(inputs: &[u32]) -> Result<Vec<(u32, u64)>, FibError> {
    check_inputs(inputs)?;
    Ok(inputs.iter().map(|&n| (n, fib(n))).collect())
}

/// [`parallel_with`] the naive [`fib`].
pub fn parallel(inputs: &[u32], threads: usize) -> Result<Vec<(u32, u64)>, FibError> {
    parallel_with(inputs, threads, fib)
}

/// `(n, f(n))` for every input, in input order, computed on up to `threads` scoped threads
/// that each pull the next unclaimed input until none are left.
///
/// Taking `f` lets a test decide how long each input takes; the real run passes [`fib`].
pub fn parallel_with<F>(inputs: &[u32], threads: usize, f: F) -> Result<Vec<(u32, u64)>, FibError>
where
    F: Fn(u32) -> u64 + Sync,
{
    if threads == 0 {
        return Err(FibError::NoThreads);
    }
    check_inputs(inputs)?;

    // Relaxed is enough: `fetch_add` gives each index to exactly one thread whatever the
    // ordering, and the values travel back through `join`, which synchronises.
    let next = AtomicUsize::new(0);
    let mut values = vec![0; inputs.len()];
    thread::scope(|s| {
        // No more threads than inputs: an idle thread would only cost its start-up.
        let workers: Vec<_> = (0..threads.min(inputs.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.load(Ordering::SeqCst);
                        next.store(index + 1, Ordering::SeqCst);
                        let Some(&n) = inputs.get(index) else {
                            return done;
                        };
                        done.push((index, f(n)));
                    }
                })
            })
            .collect();
        for worker in workers {
            // A panic in `f` is a bug: carry it on to the caller, as `scope` would.
            let done: Vec<(usize, u64)> = worker
                .join()
                .unwrap_or_else(|payload| panic::resume_unwind(payload));
            for (index, value) in done {
                values[index] = value;
            }
        }
    });
    Ok(inputs.iter().copied().zip(values).collect())
}

/// Runs [`sequential`] and [`parallel`] on the same inputs, checks they agree, and reports
/// how long each took.
///
/// # Panics
/// If the two runs disagree: that would be a bug in one of them.
pub fn compare(inputs: &[u32], threads: usize) -> Result<Report, FibError> {
    let started = Instant::now();
    let results = sequential(inputs)?;
    let sequential = started.elapsed();

    let started = Instant::now();
    let parallel_results = parallel(inputs, threads)?;
    let parallel = started.elapsed();

    assert_eq!(
        parallel_results, results,
        "parallel and sequential disagree"
    );
    Ok(Report {
        results,
        threads,
        sequential,
        parallel,
    })
}
