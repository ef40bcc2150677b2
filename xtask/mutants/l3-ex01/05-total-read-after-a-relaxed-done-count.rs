//! Wrong answer (ordering, Miri): the total is read as soon as a `Relaxed` count of finished workers reaches the number of threads, before they are joined; `Relaxed` makes none of their increments visible to the reader, so the total can be an old value.
//! # Exercise l3-ex01: atomic counter
//!
//! **Goal.** Several threads add 1 to one shared counter, thousands of times each, and no
//! increment is lost: the Rust version of the Node exercise's `SharedArrayBuffer` plus
//! `Atomics.add` (4 workers × 10,000 increments, exactly 40,000 at the end). The counter is an
//! `AtomicU64` that scoped threads borrow (no `Arc`, no `SharedArrayBuffer`). Each increment is
//! one `fetch_add`, a single indivisible read-modify-write, so two threads can never read the
//! same old value and both write it back plus one. The value `fetch_add` returns tells a thread
//! which increment was its own: each thread keeps the values it observed, and together they are
//! exactly 1..=40,000, each once. Each thread also counts its own increments, in a plain local
//! variable: nothing else writes it, so it needs no atomic (the Node solution kept these counts
//! in extra shared slots, updated with compare-exchange loops). JavaScript's `Atomics` are
//! always sequentially consistent; Rust makes you choose an `Ordering` for each operation. The
//! skeleton starts the threads for you, behind a starting gate, so that they really do count at
//! the same time.
//!
//! **Check your attempt:** `cargo exercise check l3-ex01`
//!
//! **What the tests expect**
//! - [`increment`] adds 1 and returns the value the counter holds *after* its own increment:
//!   1, 2, 3... on a fresh counter.
//! - `count_in_parallel(4, 10_000)`: a total of 40,000, and 4 worker reports, each with
//!   10,000 increments and 10,000 observed values.
//! - Every observed value is in 1..=40,000 and no two are equal: together they are exactly
//!   1..=40,000. A load-then-store "increment" hands two threads the same value, and fails here.
//! - Exactly one thread observed 40,000, and each thread saw its own values rise.
//! - Other parameters are honoured: `(3, 500)` gives 1,500, `(5, 0)` gives 0, and so on.
//! - Every worker is a thread of its own, none of them the caller's.
//! - Zero threads is [`CountError::NoThreads`]; more than [`MAX_THREADS`] threads is
//!   [`CountError::TooManyThreads`]; more than [`MAX_INCREMENTS`] increments in all (even a
//!   product that overflows a `u64`) is [`CountError::TooManyIncrements`].
//!
//! **Hints:** `cargo exercise hint l3-ex01` shows one at a time, from the idea to the
//! exact API to the documentation.

use std::io;
use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, ThreadId};
use thiserror::Error;

/// The most threads [`count_in_parallel`] starts.
pub const MAX_THREADS: usize = 64;

/// The most increments [`count_in_parallel`] makes in all. Every observed value is kept, so
/// this caps the memory the report takes (8 bytes per increment: 80 MB at the limit).
pub const MAX_INCREMENTS: u64 = 10_000_000;

/// Why the counting did not run.
#[derive(Debug, Error)]
pub enum CountError {
    /// Zero threads would make zero increments: surely not what was meant.
    #[error("at least one thread is needed to count")]
    NoThreads,
    /// More threads than [`MAX_THREADS`].
    #[error("{requested} threads asked for, at most {MAX_THREADS} allowed")]
    TooManyThreads {
        /// How many threads were asked for.
        requested: usize,
    },
    /// More increments in all than [`MAX_INCREMENTS`].
    #[error(
        "{threads} threads × {per_thread} increments is more than the {MAX_INCREMENTS} allowed"
    )]
    TooManyIncrements {
        /// The threads asked for.
        threads: usize,
        /// The increments asked of each thread.
        per_thread: u64,
    },
    /// The operating system refused a thread.
    #[error("could not spawn a counting thread")]
    Spawn(#[source] io::Error),
}

/// What one counting thread did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    /// The thread that did the work.
    pub thread: ThreadId,
    /// How many increments it made.
    pub increments: u64,
    /// The counter's value just after each of its increments, in the order it made them.
    pub observed: Vec<u64>,
}

/// The outcome of [`count_in_parallel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// The counter's final value.
    pub total: u64,
    /// One report per thread, in the order the threads were started.
    pub workers: Vec<WorkerReport>,
}

/// Adds 1 to `counter` as one indivisible step, and returns the value it holds just after this
/// increment (so a fresh counter gives 1, then 2, then 3...).
pub fn increment(counter: &AtomicU64) -> u64 {
    // One read-modify-write: no other increment can slip in between the read and the write.
    // `Relaxed` is enough: all read-modify-writes of one atomic form a single order, so every
    // call gets a distinct old value whatever the ordering. Stronger orderings only matter when
    // this value must also publish *other* memory, and here there is none.
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Starts `threads` threads that each call [`increment`] `per_thread` times on one shared
/// counter starting at 0, and reports the final total and what each thread did.
///
/// # Errors
/// [`CountError::NoThreads`], [`CountError::TooManyThreads`] and
/// [`CountError::TooManyIncrements`] for parameters out of range, checked before any thread
/// starts; [`CountError::Spawn`] if the operating system refuses a thread (the threads already
/// started finish their work first).
pub fn count_in_parallel(threads: usize, per_thread: u64) -> Result<CountReport, CountError> {
    if threads == 0 {
        return Err(CountError::NoThreads);
    }
    if threads > MAX_THREADS {
        return Err(CountError::TooManyThreads { requested: threads });
    }
    // `threads` is at most 64 here, so it fits a u64; the product may still overflow.
    match (threads as u64).checked_mul(per_thread) {
        Some(total) if total <= MAX_INCREMENTS => {}
        _ => {
            return Err(CountError::TooManyIncrements {
                threads,
                per_thread,
            });
        }
    }

    let counter = AtomicU64::new(0);
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let (total, workers) = thread::scope(|s| -> Result<(u64, Vec<WorkerReport>), CountError> {
        // A starting gate, so that the threads count at the same time rather than one after
        // another: each worker first waits to receive on `gate`, and dropping `open_gate`, the
        // only sender, makes every receive return at once. It is dropped on every way out of
        // this closure, the early return of a failed spawn included, so no worker can be left
        // waiting (a `Barrier` would wait for ever for a thread that was never started).
        let (open_gate, gate) = crossbeam_channel::bounded::<()>(0);
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let (counter, gate, finished) = (&counter, gate.clone(), &finished);
            let handle = thread::Builder::new()
                .name(format!("counter-{i}"))
                .spawn_scoped(s, move || {
                    // Returns once the gate is open: nothing is ever sent, the channel closes.
                    let _ = gate.recv();
                    // This thread's own count and observations: local variables, because no
                    // other thread ever touches them. Only the counter is shared.
                    let mut observed = Vec::with_capacity(per_thread as usize);
                    let mut increments = 0;
                    for _ in 0..per_thread {
                        observed.push(increment(counter));
                        increments += 1;
                    }
                    finished.fetch_add(1, Ordering::Relaxed);
                    WorkerReport {
                        thread: thread::current().id(),
                        increments,
                        observed,
                    }
                })
                // On `?` the scope still joins the threads already started before returning.
                .map_err(CountError::Spawn)?;
            handles.push(handle);
        }
        drop(open_gate); // every thread is started: go
        // Every worker has said it is done: read the total now.
        while finished.load(Ordering::Relaxed) < threads {
            thread::yield_now();
        }
        let total = counter.load(Ordering::Relaxed);
        // A worker cannot panic short of running out of memory; if one does, so does the caller.
        let workers = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|payload| panic::resume_unwind(payload))
            })
            .collect();
        Ok((total, workers))
    })?;

    // Every thread has been joined: joining makes all of their increments visible here, so even
    // a `Relaxed` load reads the final value.
    Ok(CountReport { total, workers })
}
