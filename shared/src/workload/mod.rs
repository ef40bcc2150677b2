//! CPU-bound kernels, each in a sequential and a parallel form that return identical results.
//!
//! These are the workloads the course's examples, exercises, tests and benches call. Each
//! kernel exists once, so a lesson can say "this is what `fib_set_parallel` does" and every
//! benchmark measures the same code.
//!
//! | module | sequential | parallel | how the parallel form splits the work | why that split |
//! |---|---|---|---|---|
//! | [`fibonacci`] | [`fib_set`] | [`fib_set_parallel`] | threads pull the next input from a shared atomic index | costs differ by orders of magnitude and are known only by running |
//! | [`primes`] | [`count_primes`] | [`count_primes_parallel`] | fixed-size blocks dealt out round-robin | cost grows smoothly with the numbers, so every thread gets some cheap and some dear blocks |
//! | [`mandelbrot`](mod@mandelbrot) | [`mandelbrot()`] | [`mandelbrot_parallel`] | rows dealt out round-robin, as `&mut` row slices | rows through the set cost more, and neighbouring rows cost about the same |
//! | [`blur`] | [`box_blur`] | [`box_blur_parallel`] | one band of rows per thread, from `chunks_mut` | every pixel costs the same |
//!
//! In Node.js a worker gets a *copy* of its input through `workerData` or `postMessage`, and
//! posts its result back. Here every parallel form runs inside [`std::thread::scope`]: the
//! threads *borrow* the input directly, and either return their part of the result through
//! `join` or write it into their own disjoint `&mut` part of the output. Nothing is copied,
//! and no `Arc` or `Mutex` is needed.
//!
//! # The thread count
//!
//! Every parallel form takes `threads: usize`, the most threads it may spawn:
//!
//! - `0` is a programmer error and panics with a clear message, as `slice::chunks(0)` does.
//! - More threads than work items is fine: a kernel never spawns more threads than it has
//!   items of work (inputs, blocks, rows), since an idle thread would only cost its start-up.
//! - `1` still spawns one thread, so that a benchmark of `threads = 1` against the sequential
//!   form shows what threading itself costs.
//!
//! ```
//! use shared::workload::{count_primes, count_primes_parallel};
//!
//! let sequential = count_primes(0..10_000);
//! for threads in [1, 2, 3, 64] {
//!     assert_eq!(count_primes_parallel(0..10_000, threads), sequential);
//! }
//! assert_eq!(sequential, 1229);
//! ```

pub mod blur;
pub mod fibonacci;
pub mod mandelbrot;
pub mod primes;

pub use blur::{GrayImage, ImageError, box_blur, box_blur_parallel};
pub use fibonacci::{MAX_FIB_INPUT, checked_fib, fib, fib_set, fib_set_parallel};
pub use mandelbrot::{escape_time, mandelbrot, mandelbrot_parallel};
pub use primes::{count_primes, count_primes_parallel, is_prime, primes_in};

use std::panic;
use std::thread::ScopedJoinHandle;

/// Panics unless `threads` is at least 1: the one rule every parallel kernel shares.
#[track_caller]
fn assert_threads(threads: usize) {
    assert!(
        threads > 0,
        "threads must be at least 1, got 0: a parallel kernel needs a thread to run on"
    );
}

/// Waits for a scoped worker and returns its result.
///
/// If the worker panicked, its panic is raised again here with the original payload, so the
/// caller sees the worker's own message rather than a bare `Err(Any { .. })` from `unwrap`.
fn join<T>(worker: ScopedJoinHandle<'_, T>) -> T {
    worker
        .join()
        .unwrap_or_else(|payload| panic::resume_unwind(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::panic_message;
    use std::thread;

    #[test]
    fn zero_threads_is_refused_with_a_clear_message() {
        let payload = panic::catch_unwind(|| assert_threads(0)).unwrap_err();
        assert!(panic_message(payload.as_ref()).contains("threads must be at least 1"));
        assert_threads(1);
    }

    #[test]
    fn join_re_raises_the_workers_own_panic_message() {
        let payload = panic::catch_unwind(|| {
            thread::scope(|s| join(s.spawn(|| panic!("worker {} failed", 3))))
        })
        .unwrap_err();
        assert_eq!(panic_message(payload.as_ref()), "worker 3 failed");
    }
}
