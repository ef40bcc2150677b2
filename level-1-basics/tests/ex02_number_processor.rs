//! Tests of exercise l1-ex02 (number processor).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex02` runs
//! them against your file, `level-1-basics/src/exercises/ex02_number_processor.rs`.

// The code under test: your file when `cargo exercise check l1-ex02` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex02_number_processor.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex02_number_processor as under_test;

use shared::testing::{TIMEOUT, run_within};
use std::thread;
use under_test::{Reply, Stats, StatsError, compute_stats, process_in_worker};

/// The numbers the Node exercise sends.
const SAMPLE: [i64; 8] = [5, 12, 8, 130, 44, 67, 23, 91];

/// Runs `process_in_worker` with a deadline, so a lost reply fails the test instead of hanging.
fn process(numbers: Vec<i64>) -> Reply {
    run_within(TIMEOUT, "process_in_worker", move || {
        process_in_worker(numbers)
    })
    .expect("process_in_worker failed")
}

/// The stats in a reply, failing the test if the worker answered with an error.
fn stats_of(numbers: Vec<i64>) -> Stats {
    let shown = format!("{numbers:?}");
    process(numbers)
        .stats
        .unwrap_or_else(|e| panic!("no stats for {shown}: {e:?}"))
}

#[track_caller]
fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected {expected} (± {tolerance}), got {actual}"
    );
}

#[test]
fn the_sample_gives_the_expected_stats() {
    let stats = stats_of(SAMPLE.to_vec());
    assert_eq!(stats.count, 8);
    assert_eq!(stats.sum, 380);
    assert_eq!(stats.min, 5);
    assert_eq!(stats.max, 130);
    assert_close(stats.mean, 47.5, 1e-9, "mean");
    // Sorted as numbers, the middle two are 23 and 44. (Sorted as text, as JavaScript's
    // `sort()` does by default, they would be 44 and 5.)
    assert_close(stats.median, 33.5, 1e-9, "median");
    // The population standard deviation (divided by n, not n - 1) is 42.3054...
    assert_close(stats.std_dev, 42.31, 0.005, "population standard deviation");
}

#[test]
fn no_numbers_is_the_empty_error_not_a_panic() {
    let reply = process(Vec::new());
    assert_eq!(reply.stats, Err(StatsError::Empty));
    assert_eq!(compute_stats(&[]), Err(StatsError::Empty));
}

#[test]
fn a_single_number_is_its_own_mean_and_median_with_no_spread() {
    let stats = stats_of(vec![-7]);
    assert_eq!(
        (stats.count, stats.sum, stats.min, stats.max),
        (1, -7, -7, -7)
    );
    assert_close(stats.mean, -7.0, 1e-9, "mean");
    assert_close(stats.median, -7.0, 1e-9, "median");
    assert_close(stats.std_dev, 0.0, 1e-9, "standard deviation");
}

#[test]
fn an_odd_count_takes_the_middle_number_as_the_median() {
    let stats = stats_of(vec![9, -3, 100, 4, 1]);
    assert_close(stats.median, 4.0, 1e-9, "median of [9, -3, 100, 4, 1]");
    assert_eq!((stats.min, stats.max), (-3, 100));
}

#[test]
fn an_even_count_takes_the_mean_of_the_two_middle_numbers() {
    let stats = stats_of(vec![10, 2, 7, 3]);
    assert_close(stats.median, 5.0, 1e-9, "median of [10, 2, 7, 3]");
    let stats = stats_of(vec![2, 1]);
    assert_close(stats.median, 1.5, 1e-9, "median of [2, 1]");
}

#[test]
fn computing_the_stats_leaves_the_callers_numbers_in_their_order() {
    let numbers = SAMPLE.to_vec();
    let stats = compute_stats(&numbers).expect("the sample has stats");
    assert_close(stats.median, 33.5, 1e-9, "median");
    assert_eq!(numbers, SAMPLE, "the caller's numbers were reordered");
}

#[test]
fn the_stats_are_computed_on_a_worker_thread_not_the_callers() {
    let (caller, reply) = run_within(TIMEOUT, "process_in_worker", || {
        (thread::current().id(), process_in_worker(SAMPLE.to_vec()))
    });
    let reply = reply.expect("process_in_worker failed");
    assert_ne!(
        reply.thread, caller,
        "the stats were computed on the caller's thread: send the numbers to a worker"
    );
    assert!(reply.stats.is_ok(), "the sample has stats");
}
