//! Fibonacci numbers: the course's CPU burner, and a set of jobs with wildly uneven costs.
//!
//! [`fib`] is the naive doubly recursive definition, **exponential on purpose**: `fib(n)` makes
//! `2 * fib(n + 1) - 1` calls, so each step up in `n` costs about 1.6 times more. That makes it
//! a burner whose cost is easy to dial: `fib(40)` costs about 11 times as much as `fib(35)`
//! (1.618⁵). It is the Rust twin of the `fib` that the Node.js course
//! runs in a worker to keep the event loop free. [`checked_fib`] is the fast iterative form,
//! used to check results and to validate inputs.
//!
//! The answer outgrows a `u64` after [`MAX_FIB_INPUT`] (93). Above that, [`fib`] panics with a
//! message that says so, rather than wrapping around silently; [`checked_fib`] returns `None`.
//!
//! # Why the set is split by pulling, not by chunks
//!
//! [`fib_set_parallel`] computes `fib` for many inputs. Their costs are far apart: of
//! `fib(35..=40)`, `fib(40)` alone is about 40% of the calls. Cut the inputs into one
//! contiguous chunk per thread and, on two threads, one thread gets `35, 36, 37` (19% of the
//! work) and the other `38, 39, 40` (81%): the run takes 81% of the sequential time, a speedup
//! of 1.2 on two cores. Instead, each thread *pulls* the next unclaimed input from a shared
//! atomic index whenever it is free, so a thread that drew cheap inputs simply takes more of
//! them. On the same inputs that reaches about 1.6, and nearly 2 if the caller lists the
//! dearest inputs first (then the cheap ones at the end fill the gaps).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// The largest `n` whose Fibonacci number fits in a `u64`: `fib(93) = 12_200_160_415_121_876_738`.
///
/// ```
/// use shared::workload::{MAX_FIB_INPUT, checked_fib};
///
/// assert_eq!(checked_fib(MAX_FIB_INPUT), Some(12_200_160_415_121_876_738));
/// assert_eq!(checked_fib(MAX_FIB_INPUT + 1), None);
/// ```
pub const MAX_FIB_INPUT: u32 = 93;

/// The `n`th Fibonacci number (`fib(0) = 0`, `fib(1) = 1`), computed the slow way on purpose.
///
/// Two recursive calls per step, nothing remembered: the cost grows exponentially, which is
/// exactly what a CPU-bound example wants. Use [`checked_fib`] when you want the number rather
/// than the work.
///
/// ```
/// use shared::workload::fib;
///
/// assert_eq!(fib(10), 55);
/// assert_eq!(fib(25), 75_025);
/// ```
///
/// # Panics
///
/// If `n > MAX_FIB_INPUT` (93), because the answer does not fit in a `u64`. (In practice any
/// `n` above about 50 would run for hours anyway.)
///
/// ```should_panic
/// shared::workload::fib(94); // panics: "fib(94) does not fit in a u64 ..."
/// ```
#[track_caller]
pub fn fib(n: u32) -> u64 {
    assert_fits(n);
    fib_naive(n)
}

fn fib_naive(n: u32) -> u64 {
    // No overflow check needed here: every intermediate result is at most fib(n), which
    // `assert_fits` has already shown to fit.
    if n < 2 {
        u64::from(n)
    } else {
        fib_naive(n - 1) + fib_naive(n - 2)
    }
}

/// The `n`th Fibonacci number in `n` additions, or `None` if it does not fit in a `u64`
/// (`n > 93`).
///
/// The fast form: tests check [`fib`] against it, and programs can use it to reject an input
/// before handing it to `fib`.
///
/// ```
/// use shared::workload::checked_fib;
///
/// assert_eq!(checked_fib(0), Some(0));
/// assert_eq!(checked_fib(40), Some(102_334_155));
/// assert_eq!(checked_fib(94), None);
/// assert_eq!(checked_fib(u32::MAX), None); // gives up at the first overflow, not after 4e9 steps
/// ```
pub fn checked_fib(n: u32) -> Option<u64> {
    if n == 0 {
        return Some(0);
    }
    // Walk (fib(k - 1), fib(k)) up from k = 1, stopping at k = n, so the value after fib(n)
    // is never computed: fib(93) works although fib(94) would overflow.
    let (mut previous, mut current) = (0_u64, 1_u64);
    for _ in 1..n {
        (previous, current) = (current, previous.checked_add(current)?);
    }
    Some(current)
}

/// [`fib`] of every input, in input order, on the calling thread.
///
/// ```
/// use shared::workload::fib_set;
///
/// assert_eq!(fib_set(&[10, 1, 20]), [55, 1, 6_765]);
/// ```
///
/// # Panics
///
/// If an input is above [`MAX_FIB_INPUT`], checked before any work starts.
#[track_caller]
pub fn fib_set(inputs: &[u32]) -> Vec<u64> {
    assert_all_fit(inputs);
    inputs.iter().map(|&n| fib_naive(n)).collect()
}

/// [`fib`] of every input, in input order, on up to `threads` threads that pull inputs from a
/// shared counter. Same result as [`fib_set`].
///
/// Each thread loops: claim the next index with one `fetch_add`, compute that input, repeat
/// until the indices run out. Each keeps `(index, value)` pairs and returns them through
/// `join`; the caller puts every value back at its index, so the output is in input order
/// however the work was shared out. See the [module docs](self) for why pulling beats fixed
/// chunks here.
///
/// ```
/// use shared::workload::{fib_set, fib_set_parallel};
///
/// let inputs = [24, 3, 20, 22];
/// assert_eq!(fib_set_parallel(&inputs, 2), fib_set(&inputs));
/// assert_eq!(fib_set_parallel(&inputs, 2), [46_368, 2, 6_765, 17_711]);
/// ```
///
/// # Panics
///
/// If `threads` is 0, or an input is above [`MAX_FIB_INPUT`]. Both are checked before any
/// thread starts, so the panic happens on the calling thread.
#[track_caller]
pub fn fib_set_parallel(inputs: &[u32], threads: usize) -> Vec<u64> {
    super::assert_threads(threads);
    assert_all_fit(inputs);

    // Relaxed is enough: the counter only hands out indices, and `fetch_add` gives each index
    // to exactly one thread whatever the ordering. The results travel back through `join`,
    // which does the synchronising.
    let next = AtomicUsize::new(0);
    let mut results = vec![0; inputs.len()];
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(inputs.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&n) = inputs.get(index) else {
                            return done;
                        };
                        done.push((index, fib_naive(n)));
                    }
                })
            })
            .collect();
        for worker in workers {
            for (index, value) in super::join(worker) {
                results[index] = value;
            }
        }
    });
    results
}

#[track_caller]
fn assert_fits(n: u32) {
    assert!(
        n <= MAX_FIB_INPUT,
        "fib({n}) does not fit in a u64: the largest n is {MAX_FIB_INPUT}"
    );
}

/// Checks every input up front, so that a bad one panics before any work (or thread) starts.
/// A `for` loop rather than a closure, so that `#[track_caller]` reaches the caller.
#[track_caller]
fn assert_all_fit(inputs: &[u32]) {
    for &n in inputs {
        assert_fits(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::panic_message;
    use std::panic;

    #[test]
    fn checked_fib_table_0_to_93_follows_the_recurrence() {
        let table: Vec<u64> = (0..=MAX_FIB_INPUT)
            .map(|n| checked_fib(n).expect("fits"))
            .collect();
        assert_eq!(table[..3], [0, 1, 1]);
        for n in 2..table.len() {
            assert_eq!(table[n], table[n - 1] + table[n - 2], "fib({n})");
        }
        assert_eq!(table[50], 12_586_269_025);
        assert_eq!(table[93], 12_200_160_415_121_876_738);
    }

    #[test]
    fn naive_fib_agrees_with_checked_fib() {
        // The naive form is exponential, so the table stops where debug builds are still fast.
        for n in 0..=27 {
            assert_eq!(Some(fib(n)), checked_fib(n), "fib({n})");
        }
    }

    #[test]
    fn the_course_values() {
        let expected = [
            (35, 9_227_465),
            (36, 14_930_352),
            (37, 24_157_817),
            (38, 39_088_169),
            (39, 63_245_986),
            (40, 102_334_155),
        ];
        for (n, value) in expected {
            assert_eq!(checked_fib(n), Some(value), "fib({n})");
        }
    }

    #[test]
    fn above_93_is_none_or_a_clear_panic() {
        assert_eq!(checked_fib(94), None);
        assert_eq!(checked_fib(u32::MAX), None);
        let payload = panic::catch_unwind(|| fib(94)).unwrap_err();
        let message = panic_message(payload.as_ref());
        assert!(
            message.contains("fib(94) does not fit in a u64"),
            "{message}"
        );
    }

    #[test]
    fn the_parallel_set_panics_on_a_bad_input_before_starting_threads() {
        let payload = panic::catch_unwind(|| fib_set_parallel(&[5, 100, 6], 2)).unwrap_err();
        assert!(panic_message(payload.as_ref()).contains("fib(100) does not fit"));
    }

    #[test]
    fn sequential_and_parallel_sets_agree_in_input_order() {
        // Uneven on purpose, with the dearest input in the middle and duplicates.
        let inputs = [18, 0, 22, 5, 1, 20, 22, 10, 3];
        let sequential = fib_set(&inputs);
        let expected: Vec<u64> = inputs.iter().map(|&n| checked_fib(n).unwrap()).collect();
        assert_eq!(sequential, expected);
        for threads in [1, 2, 3, 7, 64] {
            assert_eq!(
                fib_set_parallel(&inputs, threads),
                sequential,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn an_empty_set_needs_no_threads() {
        assert_eq!(fib_set(&[]), Vec::<u64>::new());
        assert_eq!(fib_set_parallel(&[], 4), Vec::<u64>::new());
    }

    #[test]
    #[should_panic(expected = "threads must be at least 1")]
    fn zero_threads_panics() {
        fib_set_parallel(&[1, 2], 0);
    }
}
