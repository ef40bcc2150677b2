//! Tests of exercise l3-ex01 (atomic counter).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex01` runs
//! them against your file, `level-3-advanced/src/exercises/ex01_atomic_counter.rs`.
//!
//! Miri: this exercise is about memory orderings, which x86-64 forgives: `cargo exercise check
//! l3-ex01 --miri` runs these tests under Miri, which does not.
//!
//! No test looks at a time. Under Miri (`cargo +nightly miri test -p level-3-advanced --test
//! ex01_atomic_counter`), which checks the atomics for data races but runs about a thousand
//! times slower, each thread makes fewer increments.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `increment` returns the value after its own increment | `increment_returns_the_value_after_its_own_increment` | one thread, no concurrency |
//! | 4 × 10,000 end at 40,000, one report per thread | `four_threads_end_at_forty_thousand` | a correct `fetch_add` never loses an increment, whatever the interleaving |
//! | each thread counts its own increments and keeps one value per increment | `each_thread_counts_its_own_ten_thousand` | counts, not times |
//! | the observed values are exactly 1..=40,000, each once | `the_observed_values_are_exactly_one_to_forty_thousand_each_once`, `a_million_increments_at_once_lose_none` | a correct answer gives distinct values under any interleaving; the quarter of a million per thread only makes a load-then-store increment's loss certain in practice (its threads overlap for a long time), never the correct answer's success |
//! | `increment` is one indivisible step (no load then store) | `increment_called_from_several_threads_at_once_loses_nothing` | the test's own threads call `increment` 2,000,000 times each with nothing else in the loop, so a load-then-store gap is a large share of each iteration and preemptions land in it even when the threads share one core; a correct answer loses nothing under any interleaving |
//! | exactly one thread observed the total; each thread's values rise | `exactly_one_thread_observed_the_final_value`, `each_thread_sees_its_own_values_rise` | true of every interleaving of `fetch_add`s |
//! | other parameters are honoured | `other_parameters_are_honoured`, `many_threads_on_two_cores_still_add_up` | counts only |
//! | every worker is a thread of its own, none of them the caller's | `the_work_runs_on_threads_of_their_own` | compares `ThreadId`s. A report's id comes from the learner's code: an answer that counted on the caller but took the id inside each worker would pass. The API takes no closure and creates its own counter, so where the increments ran cannot be observed; the test catches a report made on the caller |
//! | the threads count at the same time | none | the API gives no way to observe overlap (no closure, no hook); the skeleton's starting gate provides it |
//! | the total is read after the threads are joined | `four_threads_end_at_forty_thousand` and the others under Miri | Miri's weak-memory emulation hands an unsynchronised `Relaxed` read an old value, whatever the real machine does |
//! | out-of-range parameters are typed errors, the limits themselves allowed | `parameters_out_of_range_are_typed_errors` | no threads, or threads that make no increments |

// The code under test: your file when `cargo exercise check l3-ex01` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex01_atomic_counter.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex01_atomic_counter as under_test;

use shared::testing::{TIMEOUT, run_within};
use std::collections::HashSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, ThreadId};
use under_test::{
    CountError, CountReport, MAX_INCREMENTS, MAX_THREADS, count_in_parallel, increment,
};

/// The Node exercise's workers.
const THREADS: usize = 4;

/// The Node exercise's 10,000 increments per worker; fewer under Miri.
const PER_THREAD: u64 = if cfg!(miri) { 300 } else { 10_000 };

/// 40,000 in the course; 1,200 under Miri.
const TOTAL: u64 = THREADS as u64 * PER_THREAD;

/// Runs `count_in_parallel` with a deadline, so a hang fails the test instead of stalling it.
fn count(threads: usize, per_thread: u64) -> Result<CountReport, CountError> {
    run_within(TIMEOUT, "count_in_parallel", move || {
        count_in_parallel(threads, per_thread)
    })
}

/// Runs `count_in_parallel`, failing the test if it returns an error.
fn report_of(threads: usize, per_thread: u64) -> CountReport {
    count(threads, per_thread)
        .unwrap_or_else(|e| panic!("count_in_parallel({threads}, {per_thread}) failed: {e}"))
}

/// The course's run (4 × 10,000), made once and shared by the tests that only look at it, with
/// the id of the thread that called `count_in_parallel`. If it panics (an unfinished exercise),
/// every test that asks for it fails with the same message.
fn course_run() -> &'static (CountReport, ThreadId) {
    static RUN: OnceLock<(CountReport, ThreadId)> = OnceLock::new();
    RUN.get_or_init(|| {
        let (report, caller) = run_within(TIMEOUT, "count_in_parallel", || {
            (
                count_in_parallel(THREADS, PER_THREAD),
                thread::current().id(),
            )
        });
        let report = report
            .unwrap_or_else(|e| panic!("count_in_parallel({THREADS}, {PER_THREAD}) failed: {e}"));
        (report, caller)
    })
}

/// Every observed value of a report, sorted.
fn all_observed(report: &CountReport) -> Vec<u64> {
    let mut all: Vec<u64> = report
        .workers
        .iter()
        .flat_map(|w| w.observed.iter().copied())
        .collect();
    all.sort_unstable();
    all
}

/// Fails with the first value that is missing from, or repeated in, `sorted`, which should be
/// exactly `1..=total`.
#[track_caller]
fn assert_exactly_one_to(sorted: &[u64], total: u64) {
    for (expected, &got) in (1..=total).zip(sorted) {
        if got < expected {
            panic!(
                "the value {got} was observed twice: two increments read the same old value (a load then a store?)"
            );
        }
        if got > expected {
            panic!("no thread observed {expected}: an increment was lost or skipped");
        }
    }
    assert_eq!(
        sorted.len() as u64,
        total,
        "expected {total} observed values in all"
    );
}

#[test]
fn increment_returns_the_value_after_its_own_increment() {
    let counter = AtomicU64::new(0);
    let seen = [
        increment(&counter),
        increment(&counter),
        increment(&counter),
    ];
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(counter.load(Ordering::SeqCst), 3);

    let counter = AtomicU64::new(41);
    assert_eq!(increment(&counter), 42);
    assert_eq!(counter.load(Ordering::SeqCst), 42);
}

#[test]
fn four_threads_end_at_forty_thousand() {
    let (report, _) = course_run();
    assert_eq!(
        report.total, TOTAL,
        "{THREADS} threads × {PER_THREAD} increments: increments were lost"
    );
    assert_eq!(report.workers.len(), THREADS, "one report per thread");
}

#[test]
fn each_thread_counts_its_own_ten_thousand() {
    let (report, _) = course_run();
    let counts: Vec<u64> = report.workers.iter().map(|w| w.increments).collect();
    assert_eq!(counts, vec![PER_THREAD; THREADS]);
    for (i, worker) in report.workers.iter().enumerate() {
        assert_eq!(
            worker.observed.len() as u64,
            PER_THREAD,
            "worker {i} must keep one observed value per increment"
        );
    }
}

#[test]
fn the_observed_values_are_exactly_one_to_forty_thousand_each_once() {
    let (report, _) = course_run();
    let all = all_observed(report);
    assert!(
        all.iter().all(|v| (1..=TOTAL).contains(v)),
        "every observed value must be in 1..={TOTAL}; got {:?} to {:?}",
        all.first(),
        all.last()
    );
    assert_exactly_one_to(&all, TOTAL);
}

#[test]
fn exactly_one_thread_observed_the_final_value() {
    let (report, _) = course_run();
    let seen_last = report
        .workers
        .iter()
        .filter(|w| w.observed.contains(&TOTAL))
        .count();
    assert_eq!(seen_last, 1, "threads that observed {TOTAL}");
}

#[test]
fn each_thread_sees_its_own_values_rise() {
    // One atomic's read-modify-writes are in one order that every thread agrees with: a later
    // increment by the same thread always lands later.
    let (report, _) = course_run();
    for (i, worker) in report.workers.iter().enumerate() {
        assert!(
            worker.observed.windows(2).all(|pair| pair[0] < pair[1]),
            "worker {i} observed values that do not rise"
        );
    }
}

#[test]
fn the_work_runs_on_threads_of_their_own() {
    let (report, caller) = course_run();
    let threads: HashSet<ThreadId> = report.workers.iter().map(|w| w.thread).collect();
    assert_eq!(
        threads.len(),
        THREADS,
        "{THREADS} workers must be {THREADS} different threads"
    );
    assert!(
        !threads.contains(caller),
        "a worker ran on the caller's thread"
    );
}

#[test]
fn other_parameters_are_honoured() {
    for (threads, per_thread) in [(3, 500), (1, 1_000), (2, 1), (5, 0)] {
        let (threads, per_thread) = if cfg!(miri) {
            (threads, per_thread / 10)
        } else {
            (threads, per_thread)
        };
        let report = report_of(threads, per_thread);
        let total = threads as u64 * per_thread;
        assert_eq!(report.total, total, "({threads}, {per_thread})");
        assert_eq!(report.workers.len(), threads, "({threads}, {per_thread})");
        assert!(
            report.workers.iter().all(|w| w.increments == per_thread),
            "({threads}, {per_thread}): each thread makes per_thread increments"
        );
        assert_exactly_one_to(&all_observed(&report), total);
    }
}

#[test]
fn many_threads_on_two_cores_still_add_up() {
    let (threads, per_thread) = if cfg!(miri) { (8, 40) } else { (16, 5_000) };
    let report = report_of(threads, per_thread);
    let total = threads as u64 * per_thread;
    assert_eq!(
        report.total, total,
        "{threads} threads × {per_thread} increments: increments were lost"
    );
    assert_exactly_one_to(&all_observed(&report), total);
}

#[test]
fn a_million_increments_at_once_lose_none() {
    // The course's 40,000 increments take well under a millisecond: threads woken one after
    // another by the gate may barely overlap, and a load-then-store increment can get through
    // unscathed. A quarter of a million per thread keeps them counting together for long
    // enough that two of them read the same old value many times over.
    let (threads, per_thread) = if cfg!(miri) { (2, 100) } else { (4, 250_000) };
    let report = report_of(threads, per_thread);
    let total = threads as u64 * per_thread;
    // One pass over a table of the values seen, rather than a sort: a million values in a
    // debug build.
    let mut seen = vec![false; total as usize + 1];
    for &value in report.workers.iter().flat_map(|w| &w.observed) {
        assert!(
            (1..=total).contains(&value),
            "the observed value {value} is not in 1..={total}"
        );
        assert!(
            !std::mem::replace(&mut seen[value as usize], true),
            "the value {value} was observed twice: two increments read the same old value (a load then a store?)"
        );
    }
    assert!(
        seen[1..].iter().all(|&s| s),
        "some value in 1..={total} was never observed: an increment was lost or skipped"
    );
    assert_eq!(
        report.total, total,
        "{threads} threads × {per_thread} increments: increments were lost"
    );
}

#[test]
fn increment_called_from_several_threads_at_once_loses_nothing() {
    // `increment` on its own, from the test's threads, millions of times: nothing else in the
    // loop, so the gap between a load and a store, if there is one, is a large share of each
    // iteration, and the threads are preempted inside it often, even when they share one
    // core. A correct `fetch_add` loses nothing whatever the interleaving.
    let (threads, per_thread) = if cfg!(miri) { (2, 100) } else { (4, 2_000_000) };
    let counter = AtomicU64::new(0);
    assert_eq!(increment(&counter), 1, "a fresh counter's first increment");
    counter.store(0, Ordering::SeqCst);
    let highest = run_within(TIMEOUT, "increment from several threads", move || {
        thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut highest = 0;
                        for _ in 0..per_thread {
                            highest = highest.max(increment(&counter));
                        }
                        highest
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a thread calling increment panicked"))
                .max()
        })
        .map(|highest| (highest, counter.load(Ordering::SeqCst)))
    });
    let total = threads * per_thread;
    assert_eq!(
        highest,
        Some((total, total)),
        "(highest value returned, final count) after {threads} threads × {per_thread} increments: \
         increments were lost (a load then a store?)"
    );
}

#[test]
fn parameters_out_of_range_are_typed_errors() {
    assert!(
        matches!(count(0, 10), Err(CountError::NoThreads)),
        "0 threads"
    );
    assert!(
        matches!(
            count(MAX_THREADS + 1, 1),
            Err(CountError::TooManyThreads { requested }) if requested == MAX_THREADS + 1
        ),
        "{} threads",
        MAX_THREADS + 1
    );
    assert!(
        matches!(
            count(2, MAX_INCREMENTS),
            Err(CountError::TooManyIncrements {
                threads: 2,
                per_thread: MAX_INCREMENTS
            })
        ),
        "2 × MAX_INCREMENTS increments"
    );
    // 64 × u64::MAX overflows a u64: that must be an error too, not a wrapped small number.
    assert!(
        matches!(
            count(MAX_THREADS, u64::MAX),
            Err(CountError::TooManyIncrements { .. })
        ),
        "an overflowing product"
    );
    // The limits themselves are allowed (checked cheaply: no increments).
    let report = report_of(MAX_THREADS, 0);
    assert_eq!((report.total, report.workers.len()), (0, MAX_THREADS));
}
