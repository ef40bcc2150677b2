//! Tests of exercise l1-ex06 (prime finder).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex06` runs
//! them against your file, `level-1-basics/src/exercises/ex06_prime_finder.rs`.

use crossbeam_channel::{Receiver, TryRecvError};
// The code under test: your file when `cargo exercise check l1-ex06` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex06_prime_finder.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex06_prime_finder as under_test;

use shared::CancellationToken;
use shared::testing::{TIMEOUT, join_within, recv_or_fail, run_within};
use shared::workload::{is_prime, primes_in};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::thread;
use under_test::{FinderError, PROGRESS_STEPS, Progress, Search, find_primes};

/// Big enough that no worker can finish its slice before a cancel is seen, even in debug.
const HUGE: Range<u64> = 0..50_000_000;

/// Runs `find_primes` to the end with a fresh token; returns its result and every report.
fn search(range: Range<u64>, threads: usize) -> (Search, Vec<Progress>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let what = format!("find_primes({range:?}, {threads} threads)");
    let search = run_within(TIMEOUT, &what, move || {
        find_primes(range, threads, tx, &CancellationToken::new())
    })
    .unwrap_or_else(|e| panic!("{what} failed: {e}"));
    (search, drain_after_return(&rx))
}

/// Every report still queued once `find_primes` has returned. The channel must then be
/// disconnected: every worker has dropped its sender, so none is still running.
fn drain_after_return(rx: &Receiver<Progress>) -> Vec<Progress> {
    let reports: Vec<Progress> = rx.try_iter().collect();
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Disconnected),
        "a worker still holds its progress sender after find_primes returned: join every worker"
    );
    reports
}

/// The reports of each worker, in the order it sent them.
fn by_worker(reports: &[Progress]) -> BTreeMap<usize, Vec<Progress>> {
    let mut workers: BTreeMap<usize, Vec<Progress>> = BTreeMap::new();
    for report in reports {
        workers.entry(report.worker).or_default().push(*report);
    }
    workers
}

#[test]
fn finds_the_same_primes_as_primes_in_on_1_2_and_7_threads() {
    let ranges = [0..20_000, 1_000..31_000, 999_000..1_001_000, 7..8];
    for range in ranges {
        let expected = primes_in(range.clone());
        for threads in [1, 2, 7] {
            let (found, _) = search(range.clone(), threads);
            assert_eq!(
                found.primes, expected,
                "{range:?} on {threads} threads: the primes, ascending"
            );
            assert_eq!(found.checked, range.end - range.start, "{range:?}");
            assert!(!found.cancelled, "{range:?}: nobody cancelled");
        }
    }
}

#[test]
fn the_work_runs_on_at_least_two_worker_threads_not_the_callers() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (caller, found) = run_within(TIMEOUT, "find_primes", move || {
        let caller = thread::current().id();
        (
            caller,
            find_primes(0..100_000, 2, tx, &CancellationToken::new()),
        )
    });
    found.expect("find_primes failed");
    let reports = drain_after_return(&rx);

    let threads: HashSet<_> = reports.iter().map(|p| p.thread).collect();
    assert!(
        !threads.contains(&caller),
        "the caller's thread searched: spawn a worker per slice"
    );
    assert_eq!(threads.len(), 2, "2 workers, each on its own thread");
    let workers: HashSet<_> = reports.iter().map(|p| p.worker).collect();
    assert_eq!(workers, HashSet::from([0, 1]));
}

#[test]
fn each_workers_progress_rises_to_its_total_at_least_every_tenth() {
    let range = 3_000..103_000;
    let (_, reports) = search(range.clone(), 3);
    let workers = by_worker(&reports);
    assert_eq!(workers.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);

    let mut totals = 0;
    for (worker, reports) in &workers {
        let total = reports[0].total;
        let mut done = 0;
        for report in reports {
            assert_eq!(
                report.total, total,
                "worker {worker}: its total never changes"
            );
            assert!(
                report.done > done,
                "worker {worker}: done must rise: {done} then {}",
                report.done
            );
            assert!(
                report.done - done <= total.div_ceil(PROGRESS_STEPS),
                "worker {worker}: a report at least every tenth of {total}, got {done} then {}",
                report.done
            );
            done = report.done;
        }
        assert_eq!(done, total, "worker {worker}: the last report is 100 %");
        totals += total;
    }
    assert_eq!(
        totals,
        range.end - range.start,
        "the slices cover the range"
    );
}

#[test]
fn never_more_workers_than_numbers() {
    let (found, reports) = search(10..13, 7);
    assert_eq!(found.primes, [11]);
    let workers = by_worker(&reports);
    assert_eq!(workers.len(), 3, "3 numbers, 3 workers: {workers:?}");
    for (worker, reports) in &workers {
        assert_eq!(
            reports.last().map(|p| (p.done, p.total)),
            Some((1, 1)),
            "worker {worker}"
        );
    }
}

#[test]
fn cancelling_after_the_first_report_stops_every_worker_early() {
    for threads in [2, 7] {
        let (tx, rx) = crossbeam_channel::unbounded();
        let token = CancellationToken::new();

        // Cancels as soon as any worker reports, the way a UI's "stop" button would.
        let canceller = {
            let token = token.clone();
            thread::spawn(move || {
                let first = recv_or_fail(&rx, "the first progress report");
                token.cancel();
                (first, rx)
            })
        };
        let found = run_within(TIMEOUT, "find_primes over 0..50_000_000", move || {
            find_primes(HUGE, threads, tx, &token)
        })
        .expect("find_primes failed");
        let (first, rx) = join_within(canceller, TIMEOUT, "the canceller").expect("canceller");
        let reports = drain_after_return(&rx);

        assert!(
            found.cancelled,
            "{threads} threads: the result must say cancelled"
        );
        assert!(
            found.checked < HUGE.end / 10,
            "{threads} threads: checked {} of {} numbers: every worker must check the token \
             between small blocks",
            found.checked,
            HUGE.end
        );
        assert!(found.primes.windows(2).all(|w| w[0] < w[1]), "ascending");
        assert!(found.primes.iter().all(|&p| is_prime(p)), "only primes");

        for (worker, reports) in by_worker(&reports) {
            let last = reports.last().expect("grouped reports are never empty");
            assert!(
                last.done < last.total,
                "{threads} threads: worker {worker} searched its whole slice despite the cancel"
            );
        }
        assert!(first.done > 0, "a report comes after a block, not before");
    }
}

#[test]
fn a_search_cancelled_before_it_starts_checks_nothing() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let token = CancellationToken::new();
    token.cancel();
    let found = run_within(TIMEOUT, "find_primes with a cancelled token", move || {
        find_primes(HUGE, 2, tx, &token)
    })
    .expect("a cancelled search is still a result, not an error");
    assert_eq!(
        found,
        Search {
            primes: Vec::new(),
            checked: 0,
            cancelled: true,
        }
    );
    assert_eq!(
        drain_after_return(&rx),
        [],
        "no block searched, so no report"
    );
}

#[test]
#[expect(
    clippy::reversed_empty_ranges,
    reason = "a reversed range is bad input the finder must reject"
)]
fn bad_input_is_a_typed_error_and_starts_no_search() {
    let cases = [
        (0..100, 0, FinderError::NoThreads),
        (10..10, 2, FinderError::EmptyRange { start: 10, end: 10 }),
        (20..10, 2, FinderError::EmptyRange { start: 20, end: 10 }),
    ];
    for (range, threads, expected) in cases {
        let (tx, rx) = crossbeam_channel::unbounded();
        let what = format!("find_primes({range:?}, {threads} threads)");
        let outcome = run_within(TIMEOUT, &what, move || {
            find_primes(range, threads, tx, &CancellationToken::new())
        });
        assert_eq!(outcome, Err(expected), "{what}");
        assert_eq!(drain_after_return(&rx), [], "{what}: no report");
    }
}
