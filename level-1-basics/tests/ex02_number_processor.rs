//! Tests of exercise l1-ex02 (number processor).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex02` runs
//! them against your file, `level-1-basics/src/exercises/ex02_number_processor.rs`.
//!
//! Deadline: 20 s per test under `cargo exercise check` (instead of the runner's 5 s): one
//! test waits out [`REPLY_TIMEOUT`] (5 s) to see that the wait ends with an error.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the sample's count, sum, mean, min, max, median (sorted as numbers) and population standard deviation | `the_sample_gives_the_expected_stats` | results only; every wait has a deadline |
//! | `[]` is `Err(StatsError::Empty)`, not a panic, `NaN` or infinity | `no_numbers_is_the_empty_error_not_a_panic` | results only |
//! | one number is its own mean and median, spread 0 | `a_single_number_is_its_own_mean_and_median_with_no_spread` | results only |
//! | odd count: middle number; even count: mean of the middle two; any input order | `an_odd_count_takes_the_middle_number_as_the_median`, `an_even_count_takes_the_mean_of_the_two_middle_numbers` | results only |
//! | `compute_stats` leaves the caller's numbers in their order | `computing_the_stats_leaves_the_callers_numbers_in_their_order` | no threads (and `&[i64]` cannot be sorted in place without `unsafe`) |
//! | the worker gets the numbers as sent and the reply carries what `summarise` made of them | `the_reply_is_what_the_function_given_made_of_the_numbers` | results only |
//! | the stats are computed on a thread named `WORKER_NAME`, never the caller's, and `Reply` names that thread | `the_stats_are_computed_on_the_named_worker_thread_not_the_callers` | the test's `summarise` notes the thread that really calls it, instead of trusting what the code reports about itself |
//! | the worker has ended when `process_in_worker` returns | `the_worker_has_ended_when_process_in_worker_returns` | the worker keeps its thread alive after its reply (a thread-local value whose drop waits for the test's word, for at most 1 s), so a worker not joined is certainly still there when the test looks; a joined one has ended whatever the timing |
//! | a panic of `summarise` is an error, neither a panic of the caller nor a made-up reply | `a_panic_while_summarising_is_an_error_not_a_panic_or_a_reply` | the panic happens before any reply, whatever the timing |
//! | no reply within `REPLY_TIMEOUT` is an error, not a hang | `no_reply_within_the_timeout_is_an_error_not_a_hang` | the test's `summarise` blocks until the test lets it go, after the call has returned |

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

use crossbeam_channel::{Receiver, Sender};
use shared::testing::{TIMEOUT, live_threads_named, run_within};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use under_test::{
    REPLY_TIMEOUT, Reply, Stats, StatsError, WORKER_NAME, compute_stats, process_in_worker,
};

/// `cargo test` runs this file's tests as threads of one process, and one test looks for
/// live threads named [`WORKER_NAME`]: every test that starts such a worker holds this lock,
/// and leaves no worker behind when it lets go.
static WORKERS: Mutex<()> = Mutex::new(());

fn one_test_with_workers_at_a_time() -> MutexGuard<'static, ()> {
    WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The worker's name as the kernel lists it: cut to 15 bytes.
fn listed_name() -> &'static str {
    &WORKER_NAME[..WORKER_NAME.len().min(15)]
}

/// Waits (at most [`TIMEOUT`]) until no worker is left, so that the next test starts clean
/// after a test whose worker was not joined on purpose.
fn wait_for_the_workers_to_end() {
    let deadline = Instant::now() + TIMEOUT;
    while live_threads_named(listed_name()).is_some_and(|names| !names.is_empty()) {
        assert!(Instant::now() < deadline, "a number processor never ended");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The numbers the Node exercise sends.
const SAMPLE: [i64; 8] = [5, 12, 8, 130, 44, 67, 23, 91];

/// Runs `process_in_worker` with a deadline, so a lost reply fails the test instead of hanging.
fn process(numbers: Vec<i64>) -> Reply {
    let _serial = one_test_with_workers_at_a_time();
    run_within(TIMEOUT, "process_in_worker", move || {
        process_in_worker(numbers, compute_stats)
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

/// Which thread called a `summarise`, and with which numbers.
type Call = (ThreadId, Option<String>, Vec<i64>);

/// A `summarise` that notes the thread that really calls it, then computes the stats as usual.
fn noting_compute_stats(
    calls: &Arc<Mutex<Vec<Call>>>,
) -> impl FnOnce(&[i64]) -> Result<Stats, StatsError> + Send + 'static {
    let calls = Arc::clone(calls);
    move |numbers| {
        let me = thread::current();
        calls.lock().unwrap_or_else(PoisonError::into_inner).push((
            me.id(),
            me.name().map(str::to_owned),
            numbers.to_vec(),
        ));
        compute_stats(numbers)
    }
}

#[test]
fn the_reply_is_what_the_function_given_made_of_the_numbers() {
    let _serial = one_test_with_workers_at_a_time();
    let reply = run_within(TIMEOUT, "process_in_worker", || {
        process_in_worker(vec![3, 1, 2], |numbers| {
            // Stats that only the numbers as sent, in their order, give.
            let first = numbers[0];
            Ok(Stats {
                count: numbers.len(),
                sum: first,
                mean: 0.5,
                min: numbers[1],
                max: numbers[2],
                median: -1.0,
                std_dev: 2.5,
            })
        })
    })
    .expect("process_in_worker failed");
    let stats = reply.stats.expect("the function gave stats");
    assert_eq!(
        (stats.count, stats.sum, stats.min, stats.max),
        (3, 3, 1, 2),
        "the worker did not get the numbers as sent, or the reply is not what it made of them"
    );
    assert_eq!((stats.mean, stats.median, stats.std_dev), (0.5, -1.0, 2.5));
}

#[test]
fn the_stats_are_computed_on_the_named_worker_thread_not_the_callers() {
    let _serial = one_test_with_workers_at_a_time();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let summarise = noting_compute_stats(&calls);
    let (caller, reply) = run_within(TIMEOUT, "process_in_worker", move || {
        (
            thread::current().id(),
            process_in_worker(SAMPLE.to_vec(), summarise),
        )
    });
    let reply = reply.expect("process_in_worker failed");
    assert!(reply.stats.is_ok(), "the sample has stats");

    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let [(computed_on, computed_on_name, numbers)] = calls.as_slice() else {
        panic!(
            "summarise should be called once, was called {} times",
            calls.len()
        );
    };
    assert_eq!(
        numbers, &SAMPLE,
        "the worker did not get the numbers as sent"
    );
    assert_ne!(
        *computed_on, caller,
        "the stats were computed on the caller's thread: the worker must call summarise"
    );
    assert_eq!(
        computed_on_name.as_deref(),
        Some(WORKER_NAME),
        "the stats were not computed on a thread named {WORKER_NAME:?}"
    );
    assert_eq!(
        reply.thread, *computed_on,
        "the Reply names a thread other than the one that computed the stats"
    );
}

thread_local! {
    /// Set on the worker by the test's `summarise`: dropped when the worker's thread ends,
    /// after its reply, it keeps that thread alive until the test has looked.
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

/// Waits in its drop until the test lets it go (drops the sender), for at most a second.
struct Linger(Receiver<()>);

impl Drop for Linger {
    fn drop(&mut self) {
        let _ = self.0.recv_timeout(Duration::from_secs(1));
    }
}

#[test]
fn the_worker_has_ended_when_process_in_worker_returns() {
    let _serial = one_test_with_workers_at_a_time();
    let (let_go, held): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(0);
    let reply = run_within(TIMEOUT, "process_in_worker", move || {
        process_in_worker(SAMPLE.to_vec(), move |numbers| {
            LINGER.with(|linger| *linger.borrow_mut() = Some(Linger(held)));
            compute_stats(numbers)
        })
    })
    .expect("process_in_worker failed");
    assert!(reply.stats.is_ok(), "the sample has stats");
    // A joined worker has ended. One not joined is still dropping its `Linger`, which waits
    // for `let_go`: its name is certainly still listed.
    let left = live_threads_named(listed_name());
    drop(let_go);
    if let Some(left) = left {
        assert!(
            left.is_empty(),
            "the worker was still running after process_in_worker returned: join it: {left:?}"
        );
    }
    wait_for_the_workers_to_end();
}

#[test]
fn a_panic_while_summarising_is_an_error_not_a_panic_or_a_reply() {
    let _serial = one_test_with_workers_at_a_time();
    let outcome = run_within(TIMEOUT, "process_in_worker", || {
        process_in_worker(SAMPLE.to_vec(), |_| -> Result<Stats, StatsError> {
            panic!("no stats today")
        })
    });
    wait_for_the_workers_to_end();
    if let Ok(reply) = outcome {
        panic!("a panicking worker gave a reply: {reply:?}");
    }
}

#[test]
fn no_reply_within_the_timeout_is_an_error_not_a_hang() {
    let _serial = one_test_with_workers_at_a_time();
    let (let_go, held): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(0);
    // Gives up long after the test's own deadline, so a caller that waits for ever fails here.
    let patience = (REPLY_TIMEOUT + TIMEOUT) * 2;
    let outcome = run_within(REPLY_TIMEOUT + TIMEOUT, "process_in_worker", move || {
        process_in_worker(SAMPLE.to_vec(), move |numbers| {
            let _ = held.recv_timeout(patience);
            compute_stats(numbers)
        })
    });
    drop(let_go);
    wait_for_the_workers_to_end();
    assert!(
        outcome.is_err(),
        "a worker that never replied gave a reply: {outcome:?}"
    );
}
