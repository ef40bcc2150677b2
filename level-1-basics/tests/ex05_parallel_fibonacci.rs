//! Tests of exercise l1-ex05 (parallel Fibonacci).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex05` runs
//! them against your file, `level-1-basics/src/exercises/ex05_parallel_fibonacci.rs`.
//!
//! The inputs here are small (20..=27) so that debug builds stay fast; the course's 35..=40 are
//! checked with the fast `checked_fib`. No test looks at a time.
//!
//! Which test catches each broken promise of the exercise:
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the course inputs 35..=40 give the course values | `the_course_inputs_give_the_course_values` | the values are compared, not when they came |
//! | `check_inputs` refuses the first input above 93 with `TooLarge`, an error, not a panic | `inputs_above_93_are_a_typed_error_before_any_work` | no thread involved |
//! | a refused input stops everything before any work starts | `inputs_above_93_are_a_typed_error_before_any_work` (counts the calls of `f`: none), `compare_reports_the_results_of_both_runs` | a count, not a time |
//! | results in input order even when a later input finishes first | `results_are_in_input_order_even_when_a_later_input_finishes_first` (`f(20)` waits for `f(23)` to have finished) | the finishing order is forced by the test, not hoped for |
//! | `sequential` and `parallel` agree for any thread count and uneven costs | `parallel_and_sequential_agree_for_any_thread_count` | results are compared whole |
//! | empty in, empty out, and `f` never called | `an_empty_input_gives_an_empty_output` | no thread needs to run |
//! | `f` runs once per input, never on the caller's thread, on at most `threads` threads | `the_work_runs_on_at_least_two_threads_other_than_the_caller` (`f` records the thread it runs on; the first two calls, once met, wait up to 0.5 s for a third thread at work, so that a program starting a thread per input shows its third even when two threads could have taken every input), `each_input_is_claimed_by_exactly_one_thread` | the work reports where it ran; counts, not times; the wait only ends early for a wrong answer |
//! | at least two inputs at work at once when `threads >= 2` | `the_work_runs_on_at_least_two_threads_other_than_the_caller` (the first two calls must meet at a `Rendezvous`) | a meeting succeeds only if both calls overlap, however slowly they run; its deadline only turns a hang into a failure |
//! | each index is claimed by exactly one thread | `each_input_is_claimed_by_exactly_one_thread` (four threads in lockstep claim at the same moment, up to 100 searches of 5,000 rounds, for at most 2 s) | a correct claim gives one call per input whatever the interleaving, and no wait in it can fail; a load-then-store claim shows only when two threads share the claim's instant on two cores, which lockstep and repetition make all but certain on a machine with a core to spare, less so on one loaded many times over (not provable: no test can pause a thread between the learner's load and store) |
//! | `threads == 0` is `NoThreads` | `zero_threads_is_an_error` | no thread involved |
//! | `compare` returns the results and the thread count, and refuses bad input | `compare_reports_the_results_of_both_runs` | the times are never looked at |
//! | `compare` times both runs and panics if they disagree | none | `compare` calls the real `fib` and `parallel`, so a test can neither see what was timed nor make the runs disagree |
//!
//! Scoped threads are joined by their scope, so no worker can outlive `parallel_with`: there is
//! no "never joined" answer to catch.
//!
//! Deadline: 25 s per test under `cargo exercise check` (instead of the runner's 5 s): an answer
//! that never runs two calls of `f` at once waits out a 10 s meeting, then fails saying so.

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

use shared::testing::{ConcurrencyProbe, Rendezvous, TIMEOUT, recv_or_fail, run_within};
use shared::workload::checked_fib;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{FibError, INPUTS, check_inputs, compare, parallel, parallel_with, sequential};

/// How long the first two calls wait, after meeting, for a third thread that should not
/// exist. A right answer waits it out (and passes); a program that starts a thread per input
/// has started its third long before.
const EXTRA_THREAD_WINDOW: Duration = Duration::from_millis(500);

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
    // Longer than the meeting's deadline, so that two calls that never meet fail as such.
    let (caller, threads_used, probe, met, results) =
        run_within(2 * TIMEOUT, "parallel_with", || {
            let inputs: Vec<u32> = (20..=27).collect();
            let probe = ConcurrencyProbe::new();
            let first_two_meet = Rendezvous::new(2);
            let met = AtomicUsize::new(0);
            let calls = AtomicUsize::new(0);
            let threads_used = Mutex::new(HashSet::new());
            let results = parallel_with(&inputs, 2, |n| {
                let _running = probe.enter();
                threads_used.lock().unwrap().insert(thread::current().id());
                // The first two calls wait for each other: they can both meet only if two threads
                // run them at the same time.
                if calls.fetch_add(1, Ordering::SeqCst) < 2 && first_two_meet.meet(TIMEOUT) {
                    met.fetch_add(1, Ordering::SeqCst);
                    // With threads = 2, no third call can start while these two wait here. A
                    // program that starts more threads than asked shows itself now: its next
                    // thread takes the next input as soon as it starts, instead of leaving
                    // the rest to the first two (which it would, if they were not waiting).
                    let until = Instant::now() + EXTRA_THREAD_WINDOW;
                    while probe.current() < 3 && Instant::now() < until {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                shared::workload::fib(n)
            });
            (
                thread::current().id(),
                threads_used.into_inner().unwrap(),
                probe,
                met.into_inner(),
                results,
            )
        });
    assert_eq!(results, Ok(expected(&(20..=27).collect::<Vec<_>>())));
    assert!(
        !threads_used.contains(&caller),
        "f ran on the caller's thread"
    );
    assert_eq!(
        met, 2,
        "the first two calls of f never ran at the same time: start every thread before joining one"
    );
    assert!(
        threads_used.len() >= 2,
        "f ran on {} thread(s)",
        threads_used.len()
    );
    assert!(
        threads_used.len() <= 2,
        "f ran on {} threads with threads = 2",
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

#[test]
fn each_input_is_claimed_by_exactly_one_thread() {
    // Four threads in lockstep: each call of `f` waits until the other threads' calls of the
    // same round have arrived, so all leave `f` together and claim their next index at the same
    // moment, round after round. A claim that is not one atomic step (a load, then a store)
    // then hands one index to two threads, many times over when two of them run on two cores
    // at once. Each search starts new threads, which the system may place afresh, so
    // the test runs many searches. On a machine so busy that rounds crawl, it stops waiting
    // in lockstep after `LOOK_FOR` and runs what is left freely: that only makes a wrong
    // claim less likely to show, never a right one fail.
    const THREADS: usize = 4;
    const SEARCHES: usize = 100;
    const ROUNDS: usize = 5_000;
    const COUNT: usize = 10_000;
    const LOOK_FOR: Duration = Duration::from_secs(2);
    let inputs: Vec<u32> = (0..COUNT).map(|i| (i % 94) as u32).collect();
    let expected: Vec<(u32, u64)> = inputs.iter().map(|&n| (n, u64::from(n))).collect();
    let outcomes = run_within(TIMEOUT, "parallel_with in lockstep", move || {
        let stop_looking = Instant::now() + LOOK_FOR;
        let mut outcomes = Vec::new();
        while outcomes.len() < SEARCHES && (outcomes.len() < 3 || Instant::now() < stop_looking) {
            let calls = AtomicUsize::new(0);
            let results = parallel_with(&inputs, THREADS, |n| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                if call < THREADS * ROUNDS {
                    // Calls 4r to 4r + 3 make round r: wait until all have arrived.
                    // Spinning keeps a waiting thread on its core, ready to claim at once; it
                    // yields now and then so that a thread without a core can catch up.
                    let mut spins = 0_u32;
                    while calls.load(Ordering::SeqCst) < THREADS * (call / THREADS + 1)
                        && Instant::now() < stop_looking
                    {
                        spins = spins.wrapping_add(1);
                        if spins.is_multiple_of(256) {
                            thread::yield_now();
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                }
                u64::from(n)
            });
            outcomes.push((calls.into_inner(), results));
        }
        outcomes
    });
    for (calls, results) in outcomes {
        assert_eq!(
            results,
            Ok(expected.clone()),
            "every input with its own value, in input order"
        );
        assert_eq!(
            calls, COUNT,
            "f ran {calls} times for {COUNT} inputs: an index was claimed twice (claim it with \
             one `fetch_add`, not a load then a store)"
        );
    }
}
