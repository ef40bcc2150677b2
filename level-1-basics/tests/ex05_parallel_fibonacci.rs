//! Tests of exercise l1-ex05 (parallel Fibonacci).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex05` runs
//! them against your file, `level-1-basics/src/exercises/ex05_parallel_fibonacci.rs`.
//!
//! The inputs here are small (20..=27) so that debug builds stay fast; the course's 35..=40 are
//! checked with the fast `checked_fib`. No test looks at a time.

// The code under test: your file when `cargo exercise check l1-ex05` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex05_parallel_fibonacci.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex05_parallel_fibonacci as under_test;

use shared::testing::{ConcurrencyProbe, TIMEOUT, recv_or_fail, run_within};
use shared::workload::checked_fib;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use under_test::{FibError, INPUTS, check_inputs, compare, parallel, parallel_with, sequential};

/// `(n, fib(n))` for every input, from the fast iterative form.
fn expected(inputs: &[u32]) -> Vec<(u32, u64)> {
    inputs
        .iter()
        .map(|&n| (n, checked_fib(n).expect("a valid input")))
        .collect()
}

#[test]
fn the_course_inputs_give_the_course_values() {
    let inputs: Vec<u32> = INPUTS.collect();
    assert_eq!(inputs, [35, 36, 37, 38, 39, 40]);
    // `checked_fib` stands in for the slow `fib`: this checks the plumbing, not the burner.
    let results = run_within(TIMEOUT, "parallel_with", move || {
        parallel_with(&inputs, 2, |n| checked_fib(n).unwrap())
    });
    assert_eq!(
        results,
        Ok(vec![
            (35, 9_227_465),
            (36, 14_930_352),
            (37, 24_157_817),
            (38, 39_088_169),
            (39, 63_245_986),
            (40, 102_334_155),
        ])
    );
}

#[test]
fn results_are_in_input_order_even_when_a_later_input_finishes_first() {
    let (results, finished) = run_within(TIMEOUT, "parallel_with", || {
        let inputs = [20, 21, 22, 23];
        let (last_done_tx, last_done_rx) = crossbeam_channel::bounded::<()>(1);
        let finished = Mutex::new(Vec::new());
        let f = |n: u32| {
            if n == 20 {
                // The first input waits until the last one is done, on another thread.
                recv_or_fail(&last_done_rx, "fib(23) to finish before fib(20)");
            }
            let value = shared::workload::fib(n);
            finished.lock().unwrap().push(n);
            if n == 23 {
                last_done_tx.send(()).unwrap();
            }
            value
        };
        let results = parallel_with(&inputs, 2, f);
        (results, finished.into_inner().unwrap())
    });
    let position = |n| finished.iter().position(|&m| m == n).unwrap();
    assert!(
        position(23) < position(20),
        "the test meant fib(23) to finish first: {finished:?}"
    );
    let mut each_once = finished.clone();
    each_once.sort_unstable();
    assert_eq!(each_once, [20, 21, 22, 23], "f must run once per input");
    assert_eq!(results, Ok(expected(&[20, 21, 22, 23])));
}

#[test]
fn the_work_runs_on_at_least_two_threads_other_than_the_caller() {
    let (caller, threads_used, probe, results) = run_within(TIMEOUT, "parallel_with", || {
        let inputs: Vec<u32> = (20..=27).collect();
        let probe = ConcurrencyProbe::new();
        let first_two_meet = Barrier::new(2);
        let calls = AtomicUsize::new(0);
        let threads_used = Mutex::new(HashSet::new());
        let results = parallel_with(&inputs, 2, |n| {
            let _running = probe.enter();
            threads_used.lock().unwrap().insert(thread::current().id());
            // The first two calls wait for each other: only two threads at once get past.
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                first_two_meet.wait();
            }
            shared::workload::fib(n)
        });
        (
            thread::current().id(),
            threads_used.into_inner().unwrap(),
            probe,
            results,
        )
    });
    assert_eq!(results, Ok(expected(&(20..=27).collect::<Vec<_>>())));
    assert!(
        !threads_used.contains(&caller),
        "f ran on the caller's thread"
    );
    assert!(
        threads_used.len() >= 2,
        "f ran on {} thread(s)",
        threads_used.len()
    );
    assert_eq!(probe.total(), 8, "f must run once per input");
    assert!(probe.max() >= 2, "never two inputs at work at once");
    assert!(
        probe.max() <= 2,
        "{} inputs at work at once with threads = 2",
        probe.max()
    );
}

#[test]
fn parallel_and_sequential_agree_for_any_thread_count() {
    // Uneven costs, the dearest in the middle, and a repeat.
    let inputs = [24, 0, 27, 5, 1, 22, 27, 10];
    let (serial, parallels) = run_within(TIMEOUT, "sequential and parallel", move || {
        let serial = sequential(&inputs);
        let parallels: Vec<_> = [1, 2, 3, 16]
            .into_iter()
            .map(|threads| (threads, parallel(&inputs, threads)))
            .collect();
        (serial, parallels)
    });
    assert_eq!(serial, Ok(expected(&inputs)));
    for (threads, results) in parallels {
        assert_eq!(results, serial, "{threads} threads");
    }
}

#[test]
fn an_empty_input_gives_an_empty_output() {
    let (serial, results) = run_within(TIMEOUT, "the empty input", || {
        (
            sequential(&[]),
            parallel_with(&[], 2, |_| -> u64 { panic!("f called with no input") }),
        )
    });
    assert_eq!(serial, Ok(vec![]));
    assert_eq!(results, Ok(vec![]));
}

#[test]
fn inputs_above_93_are_a_typed_error_before_any_work() {
    assert_eq!(check_inputs(&[0, 35, 93]), Ok(()));
    assert_eq!(
        check_inputs(&[1, 100, 94]),
        Err(FibError::TooLarge { n: 100 })
    );
    let (serial, results, calls) = run_within(TIMEOUT, "inputs above 93", || {
        let calls = AtomicUsize::new(0);
        let results = parallel_with(&[20, 94, 21], 2, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            checked_fib(n).unwrap()
        });
        (sequential(&[u32::MAX]), results, calls.into_inner())
    });
    assert_eq!(serial, Err(FibError::TooLarge { n: u32::MAX }));
    assert_eq!(results, Err(FibError::TooLarge { n: 94 }));
    assert_eq!(calls, 0, "no input may be computed once one is refused");
}

#[test]
fn zero_threads_is_an_error() {
    let results = run_within(TIMEOUT, "parallel with 0 threads", || {
        parallel(&[20, 21], 0)
    });
    assert_eq!(results, Err(FibError::NoThreads));
}

#[test]
fn compare_reports_the_results_of_both_runs() {
    let inputs: Vec<u32> = (20..=25).collect();
    let report = run_within(TIMEOUT, "compare", move || compare(&inputs, 2))
        .expect("compare refused valid inputs");
    assert_eq!(report.results, expected(&(20..=25).collect::<Vec<_>>()));
    assert_eq!(report.threads, 2);
    // The times and the speed-up depend on the machine: shown, never asserted.
    println!("{report}");
    assert_eq!(
        run_within(TIMEOUT, "compare", || compare(&[94], 2)),
        Err(FibError::TooLarge { n: 94 })
    );
}
