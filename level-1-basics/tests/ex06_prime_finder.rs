//! Tests of exercise l1-ex06 (prime finder).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex06` runs
//! them against your file, `level-1-basics/src/exercises/ex06_prime_finder.rs`.
//!
//! Which test catches each broken promise of the exercise:
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the same primes as `primes_in`, ascending, on 1, 2 and 7 threads, ranges not starting at 0; a finished search is not `cancelled` and has checked the whole range | `finds_the_same_primes_as_primes_in_on_1_2_and_7_threads` | results are compared once `find_primes` has returned |
//! | the slices cover the range, one per worker, never more workers than numbers | `each_workers_progress_rises_to_its_total_at_least_every_tenth`, `never_more_workers_than_numbers` | every report is read after the search has ended |
//! | the search runs on the workers, never on the caller | `the_workers_search_at_the_same_time` (the system's own list of threads), `the_work_runs_on_at_least_two_worker_threads_not_the_callers` (the thread each report names) | the first counts threads the system lists, not what the code says about itself; each worker waits at its first report until the test lets it go, so the count is reached however slowly they start |
//! | the workers run at the same time | `the_workers_search_at_the_same_time` (the caller and both workers must be alive at once while nobody reads a report) | with nobody receiving on a zero-capacity channel no worker can finish, so correct workers are all alive together; one at a time, the second never starts. The 10 s deadline only turns a hang into a failure |
//! | `done` rises strictly, by at most a tenth of `total` (rounded up), to `total` | `each_workers_progress_rises_to_its_total_at_least_every_tenth` (slices both above and below ten `MAX_BLOCK`s) | the reports are read after the search, in each worker's own order |
//! | the token is checked before every block: cancelled before the start, nothing is checked | `a_search_cancelled_before_it_starts_checks_nothing` | the token is set before the call |
//! | cancelled after the first report, every worker stops within a block or so, and the result says `cancelled` | `cancelling_after_the_first_report_stops_every_worker_early` | the range is so large that no worker can finish its slice in debug before the cancel is seen |
//! | `find_primes` returns only after every worker has ended | `the_workers_search_at_the_same_time` (no worker may be listed when it returns: the workers are held at a report, unable to end, for 300 ms after the cancel), and every other test through `drain_after_return` (every progress sender dropped) | a correct `find_primes` cannot return while a worker is held, however long that lasts; the 300 ms only give a wrong answer the time to return early |
//! | 0 threads is `NoThreads`, an empty or reversed range is `EmptyRange`, and neither sends a report | `bad_input_is_a_typed_error_and_starts_no_search` | no thread needs to run |
//! | a worker that panicked is `WorkerPanicked` | none | no code of the test runs on a worker, so no test can make one panic |
//!
//! The tests that start a search take one lock, so that `the_workers_search_at_the_same_time`
//! counts the threads of its own search only.
//!
//! Deadline: 25 s per test under `cargo exercise check` (instead of the runner's 5 s): an answer
//! whose workers never run at the same time is waited for 10 s, then fails saying so.

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
use shared::testing::{TIMEOUT, join_within, panic_message, recv_or_fail, run_within};
use shared::workload::{is_prime, primes_in};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{FinderError, PROGRESS_STEPS, Progress, Search, find_primes};

/// Big enough that no worker can finish its slice before a cancel is seen, even in debug.
const HUGE: Range<u64> = 0..50_000_000;

/// Held by every test that starts a search, so that `the_workers_search_at_the_same_time` can
/// count the threads its own search starts.
fn one_search_at_a_time() -> MutexGuard<'static, ()> {
    static SEARCHES: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next test has nothing to fear from the unit inside.
    SEARCHES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `find_primes` to the end with a fresh token; returns its result and every report.
fn search(range: Range<u64>, threads: usize) -> (Search, Vec<Progress>) {
    let _alone = one_search_at_a_time();
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
    let _alone = one_search_at_a_time();
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
    // Large slices, where a tenth is more than MAX_BLOCK, and small ones, where it is less.
    for (range, threads) in [(3_000..103_000, 3), (500..3_500, 3), (0..45, 2)] {
        let (_, reports) = search(range.clone(), threads);
        let workers = by_worker(&reports);
        assert_eq!(
            workers.keys().copied().collect::<Vec<_>>(),
            (0..threads).collect::<Vec<_>>(),
            "{range:?}: every worker reports"
        );

        let mut totals = 0;
        for (worker, reports) in &workers {
            let total = reports[0].total;
            let mut done = 0;
            for report in reports {
                assert_eq!(
                    report.total, total,
                    "{range:?}, worker {worker}: its total never changes"
                );
                assert!(
                    report.done > done,
                    "{range:?}, worker {worker}: done must rise: {done} then {}",
                    report.done
                );
                assert!(
                    report.done - done <= total.div_ceil(PROGRESS_STEPS),
                    "{range:?}, worker {worker}: a report at least every tenth of {total}, got \
                     {done} then {}",
                    report.done
                );
                done = report.done;
            }
            assert_eq!(
                done, total,
                "{range:?}, worker {worker}: the last report is 100 %"
            );
            totals += total;
        }
        assert_eq!(
            totals,
            range.end - range.start,
            "{range:?}: the slices cover the range"
        );
    }
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
    let _alone = one_search_at_a_time();
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
    let _alone = one_search_at_a_time();
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
    let _alone = one_search_at_a_time();
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

/// The ids of this process's live threads, or `None` where the system cannot list them.
fn live_thread_ids() -> Option<HashSet<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .flatten()
            .map(|task| task.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

/// How many of this process's live threads are not in `before`.
fn new_threads(before: &HashSet<String>) -> Option<usize> {
    live_thread_ids().map(|now| now.difference(before).count())
}

#[test]
fn the_workers_search_at_the_same_time() {
    let _alone = one_search_at_a_time();
    // Nobody receives the progress reports until the end: each worker stops at its first
    // report and waits there, mid-slice. Workers that run at the same time are then all alive
    // together, next to their caller: 3 threads that were not there before. Workers run one
    // after another, or work done on the caller, never make up that number. The other tests of
    // this file wait for the lock, so they start no thread meanwhile.
    let Some(before) = live_thread_ids() else {
        return; // no `/proc/self/task`: nothing to count
    };
    let (tx, rx) = crossbeam_channel::bounded::<Progress>(0);
    let token = CancellationToken::new();
    let caller = {
        let token = token.clone();
        let before = before.clone();
        thread::spawn(move || {
            let found = find_primes(0..200_000, 2, tx, &token);
            // Only the caller itself may be left: every worker has been joined.
            (found, new_threads(&before))
        })
    };
    let deadline = Instant::now() + TIMEOUT;
    let mut most = 0;
    while let Some(live) = new_threads(&before) {
        most = most.max(live);
        // A caller that has already returned (or panicked) has nothing more to show.
        if most >= 3 || caller.is_finished() || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    // Cancel, but let no waiting report through yet: a worker stuck at its report cannot have
    // ended, so a correct find_primes cannot return before `rx` is dropped. One that returns
    // without joining its workers is given a moment to do so while they are still there.
    token.cancel();
    let given = Instant::now() + Duration::from_millis(300);
    while !caller.is_finished() && Instant::now() < given {
        thread::sleep(Duration::from_millis(1));
    }
    drop(rx);
    let (found, left) = join_within(caller, TIMEOUT, "find_primes after a cancel")
        .unwrap_or_else(|payload| panic!("find_primes panicked: {}", panic_message(&*payload)));
    assert_eq!(
        most, 3,
        "the caller and its 2 workers were never alive at once: start every worker before \
         joining any, and search on the workers, not the caller"
    );
    assert_eq!(
        left,
        Some(1),
        "a worker was still running when find_primes returned: join every worker"
    );
    let found = found.expect("find_primes failed");
    assert!(found.cancelled, "the search was cancelled before it ended");
}
