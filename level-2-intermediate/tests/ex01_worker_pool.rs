//! Tests of exercise l2-ex01 (worker pool).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex01` runs
//! them against your file, `level-2-intermediate/src/exercises/ex01_worker_pool.rs`.
//!
//! No test depends on timing to pass. Where tasks must overlap, they hold a gate: each reports
//! that it has started, then waits until the test lets it go, so "N at once" is made to happen
//! rather than hoped for. Every wait has a deadline, so a broken pool fails a test instead of
//! hanging. Two tests give a wrong answer a short window to show itself in (a worker's exit
//! that lingers, a short look for a shutdown that returns too early); a right answer passes
//! whatever the timing.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `new(0)` is `NoWorkers` | `a_pool_of_zero_workers_is_an_error` | no threads involved |
//! | `new(n)` starts `n` threads named `pool-worker-{index}` | `the_workers_are_named_pool_worker_and_their_index` | the names are read by the tasks themselves on the threads that ran them, all held at a gate at once |
//! | each handle gives `fib(n)` of its own `n`, in submission order, even when a later task finishes first | `results_come_back_in_submission_order_and_equal_fib_n` | the first task waits on a channel until the last has finished |
//! | stats (counted before the result is sent) and shutdown: 20 completed, 0 panicked, one count per worker, sum 20 | `twenty_tasks_are_counted_as_completed_by_the_workers_that_ran_them` | read only after every result is in |
//! | never more than `n` at once, `n` at once, each on its own thread, none on the caller's; every worker counts its tasks | `never_more_than_n_tasks_run_at_once_and_n_do_run_at_once` | a gate holds the tasks; threads are read by the tasks, not reported by the pool |
//! | tasks run at the same time (a sequential pool fails) | `two_tasks_that_wait_for_each_other_both_finish` | each task must hear from the other before it finishes |
//! | a panic settles as `Panicked(message)`; later tasks complete; all `n` workers live on | `a_panicking_task_is_an_error_and_every_worker_lives_on` | a gate holds one panicking task per worker, then `n` tasks per worker |
//! | unique ids under concurrent submitters | `every_task_gets_its_own_id_even_when_several_threads_submit` | uniqueness does not depend on interleaving |
//! | `execute` after shutdown is `Err(Closed(task))`, task handed back | `execute_after_shutdown_is_closed_and_hands_the_task_back` | sequential calls |
//! | shutdown runs every task it accepted | `shutdown_first_runs_every_task_it_accepted` | a gate holds the workers until the pool has refused a task |
//! | shutdown returns only once every worker has ended | `shutdown_returns_only_once_every_worker_thread_has_ended` | a thread-local on each worker reports its end and lingers; `join` waits for it, a missing join does not |
//! | dropping the pool shuts it down as `shutdown` does | `dropping_the_pool_runs_its_queued_tasks_and_joins_every_worker` | as above, with queued tasks held behind a gate |
//! | a second `shutdown` caller also waits for the workers | `a_second_shutdown_also_returns_only_once_every_worker_has_ended` | a gated task keeps a worker alive; a correct pool returns no call until the gate opens, whatever the timing (the 200 ms look only gives a wrong one time to show) |
//! | `BuildError::Spawn` when the OS refuses a thread | none | a test cannot make the OS refuse a thread |
//!
//! Deliberate wrong answers that these tests catch are in `xtask/mutants/l2-ex01/`.

use crossbeam_channel::{Receiver, Sender};
// The code under test: your file when `cargo exercise check l2-ex01` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex01_worker_pool.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex01_worker_pool as under_test;

use shared::testing::{ConcurrencyProbe, TIMEOUT, recv_or_fail, run_within};
use shared::workload::{checked_fib, fib};
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Mutex;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use under_test::{BuildError, Closed, TaskError, TaskHandle, WorkerPool};

/// The Node exercise's 20 tasks, with `fib(20..=39)` in place of its `fib(30..=49)`, which
/// overflows an `i32` and runs for minutes.
const INPUTS: std::ops::RangeInclusive<u32> = 20..=39;

/// `fib(n)` by the fast iterative form, to check the pool's answers.
fn expected(n: u32) -> u64 {
    checked_fib(n).expect("n fits in a u64")
}

/// What each of the twenty tasks computes: `fib(n)`, by the iterative form too. The naive
/// recursion for `fib(39)` takes seconds in a debug build on a busy machine, and no assertion
/// needs a task to be slow: where tasks must overlap or finish out of order, a gate or a channel
/// makes them.
fn fib_task(n: u32) -> u64 {
    expected(n)
}

/// Starts a pool, failing the test if `new` errs or blocks.
fn start(workers: usize) -> WorkerPool {
    WorkerPool::new(workers).unwrap_or_else(|e| panic!("WorkerPool::new({workers}) failed: {e}"))
}

/// Queues a task, failing the test if the pool refuses it.
#[track_caller]
fn submit<T, F>(pool: &WorkerPool, task: F) -> TaskHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match pool.execute(task) {
        Ok(handle) => handle,
        Err(Closed(_)) => panic!("execute refused a task while the pool was open"),
    }
}

/// Waits for a task's result, failing the test if it errs or never comes.
#[track_caller]
fn result_of<T>(handle: TaskHandle<T>, what: &str) -> T {
    handle
        .join_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A gate that tasks wait at: each reports its thread when it starts, then waits until the
/// test lets it go, with a token (one task) or by opening (all of them).
struct Gate {
    started_tx: Sender<ThreadId>,
    started: Receiver<ThreadId>,
    release_tx: Option<Sender<()>>,
    release: Receiver<()>,
    probe: ConcurrencyProbe,
}

impl Gate {
    fn new() -> Self {
        let (started_tx, started) = crossbeam_channel::unbounded();
        let (release_tx, release) = crossbeam_channel::unbounded();
        Gate {
            started_tx,
            started,
            release_tx: Some(release_tx),
            release,
            probe: ConcurrencyProbe::new(),
        }
    }

    /// A task that enters the probe, reports its thread, waits at the gate, then returns its
    /// thread id (after running `then`, on that thread).
    fn task<T>(
        &self,
        then: impl FnOnce() -> T + Send + 'static,
    ) -> impl FnOnce() -> (ThreadId, T) + Send + 'static {
        let (probe, started, release) = (
            self.probe.clone(),
            self.started_tx.clone(),
            self.release.clone(),
        );
        move || {
            let _running = probe.enter();
            let me = thread::current().id();
            started.send(me).expect("the test stopped listening");
            // A token or the opened gate lets the task go; the timeout only keeps a broken
            // pool's test from waiting forever (it has failed by then).
            let _ = release.recv_timeout(TIMEOUT);
            (me, then())
        }
    }

    /// Waits until `count` more tasks have started, and returns their threads.
    #[track_caller]
    fn wait_for_starts(&self, count: usize, what: &str) -> Vec<ThreadId> {
        (0..count)
            .map(|i| {
                recv_or_fail(
                    &self.started,
                    &format!("{what} (start {} of {count})", i + 1),
                )
            })
            .collect()
    }

    /// Lets one waiting task go.
    fn let_one_go(&self) {
        if let Some(tx) = &self.release_tx {
            tx.send(()).expect("the gate's receiver lives in the gate");
        }
    }

    /// Lets every task go, now and from now on.
    fn open(&mut self) {
        self.release_tx = None;
    }
}

/// Several threads waiting at the gate at once: the workers are alive and in parallel.
#[track_caller]
fn assert_distinct_workers(threads: &[ThreadId], caller: ThreadId, expected: usize) {
    let distinct: HashSet<_> = threads.iter().collect();
    assert_eq!(
        distinct.len(),
        expected,
        "{expected} tasks were running at once, but on {} distinct threads",
        distinct.len()
    );
    assert!(
        !distinct.contains(&caller),
        "a task ran on the thread that called execute: tasks belong on the pool's workers"
    );
}

#[test]
fn a_pool_of_zero_workers_is_an_error() {
    let built = run_within(TIMEOUT, "WorkerPool::new(0)", || WorkerPool::new(0).err());
    assert!(
        matches!(built, Some(BuildError::NoWorkers)),
        "expected Err(BuildError::NoWorkers), got {built:?}"
    );
}

#[test]
fn results_come_back_in_submission_order_and_equal_fib_n() {
    let (results, finished) = run_within(3 * TIMEOUT, "twenty fib tasks", || {
        let pool = start(4);
        let finished = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (last_done_tx, last_done) = crossbeam_channel::bounded::<()>(1);
        let handles: Vec<_> = INPUTS
            .map(|n| {
                let (finished, last_done, last_done_tx) =
                    (finished.clone(), last_done.clone(), last_done_tx.clone());
                submit(&pool, move || {
                    if n == *INPUTS.start() {
                        // The first task waits until the last one is done, on another worker:
                        // the completion order is then not the submission order.
                        recv_or_fail(&last_done, "the last task to finish before the first");
                    }
                    let value = fib_task(n);
                    finished.lock().unwrap().push(n);
                    if n == *INPUTS.end() {
                        last_done_tx.send(()).unwrap();
                    }
                    value
                })
            })
            .collect();
        let results: Vec<(u32, u64)> = INPUTS
            .zip(handles)
            .map(|(n, handle)| (n, result_of(handle, &format!("fib({n})"))))
            .collect();
        pool.shutdown();
        let finished = finished.lock().unwrap().clone();
        (results, finished)
    });
    let wanted: Vec<(u32, u64)> = INPUTS.map(|n| (n, expected(n))).collect();
    assert_eq!(results, wanted, "each handle must give fib(n) of its own n");
    let position = |n| finished.iter().position(|&m| m == n).unwrap();
    assert!(
        position(39) < position(20),
        "the test meant fib(39) to finish before fib(20): {finished:?}"
    );
}

#[test]
fn twenty_tasks_are_counted_as_completed_by_the_workers_that_ran_them() {
    let (live, last) = run_within(3 * TIMEOUT, "twenty fib tasks", || {
        let pool = start(4);
        let handles: Vec<_> = INPUTS.map(|n| submit(&pool, move || fib_task(n))).collect();
        for (n, handle) in INPUTS.zip(handles) {
            assert_eq!(result_of(handle, &format!("fib({n})")), expected(n));
        }
        // Every result is in, so every task has been counted: a task counts before its
        // result reaches its handle.
        let live = pool.stats();
        (live, pool.shutdown())
    });
    for (when, stats) in [("before shutdown", &live), ("from shutdown", &last)] {
        assert_eq!(stats.completed, 20, "completed tasks {when}: {stats:?}");
        assert_eq!(stats.panicked, 0, "panicked tasks {when}: {stats:?}");
        assert_eq!(
            stats.per_worker.len(),
            4,
            "one count per worker {when}: {stats:?}"
        );
        assert_eq!(
            stats.per_worker.iter().sum::<u64>(),
            20,
            "the per-worker counts {when} must add up to the tasks run: {stats:?}"
        );
    }
}

#[test]
fn never_more_than_n_tasks_run_at_once_and_n_do_run_at_once() {
    const WORKERS: usize = 4;
    const TASKS: usize = 20;
    let (caller, first_wave, max, total, stats) = run_within(TIMEOUT, "gated tasks", || {
        let pool = start(WORKERS);
        let mut gate = Gate::new();
        let handles: Vec<_> = (0..TASKS)
            .map(|_| submit(&pool, gate.task(|| ())))
            .collect();
        // All the workers take a task and hold it: WORKERS tasks run at once.
        let first_wave = gate.wait_for_starts(WORKERS, "one task per worker");
        // Then one task at a time is let go, and a worker takes the next one.
        for i in WORKERS..TASKS {
            gate.let_one_go();
            gate.wait_for_starts(1, &format!("task {} after a worker was freed", i + 1));
        }
        gate.open();
        for handle in handles {
            result_of(handle, "a gated task");
        }
        let stats = pool.shutdown();
        (
            thread::current().id(),
            first_wave,
            gate.probe.max(),
            gate.probe.total(),
            stats,
        )
    });
    assert_eq!(total, TASKS, "every task must run exactly once");
    assert!(
        max <= WORKERS,
        "{max} tasks ran at once in a pool of {WORKERS} workers"
    );
    assert_eq!(max, WORKERS, "the pool never ran {WORKERS} tasks at once");
    assert_distinct_workers(&first_wave, caller, WORKERS);
    assert!(
        stats.per_worker.iter().all(|&count| count >= 1),
        "every worker held a task at once, so every worker must count at least one: {stats:?}"
    );
}

#[test]
fn two_tasks_that_wait_for_each_other_both_finish() {
    // Each task waits to hear from the other: only a pool that runs them at the same time, on
    // two threads, gets both through. A pool that runs its tasks one after another cannot.
    let (caller, outcomes) = run_within(TIMEOUT, "two meeting tasks", || {
        let pool = start(2);
        let (a_tx, a_rx) = crossbeam_channel::bounded::<()>(1);
        let (b_tx, b_rx) = crossbeam_channel::bounded::<()>(1);
        let meet = |tell: Sender<()>, hear: Receiver<()>| {
            move || {
                tell.send(()).unwrap();
                let met = hear.recv_timeout(TIMEOUT).is_ok();
                (thread::current().id(), met)
            }
        };
        let a = submit(&pool, meet(a_tx, b_rx));
        let b = submit(&pool, meet(b_tx, a_rx));
        let outcomes = [result_of(a, "task a"), result_of(b, "task b")];
        (thread::current().id(), outcomes)
    });
    let [(thread_a, a_met), (thread_b, b_met)] = outcomes;
    assert!(
        a_met && b_met,
        "the two tasks never ran at the same time: does the pool run one task at a time?"
    );
    assert_ne!(thread_a, thread_b, "the two tasks ran on one thread");
    assert_distinct_workers(&[thread_a, thread_b], caller, 2);
}

#[test]
fn a_panicking_task_is_an_error_and_every_worker_lives_on() {
    const WORKERS: usize = 3;
    let (panics, later, still_alive, caller, stats) =
        run_within(TIMEOUT, "panicking tasks", || {
            let pool = start(WORKERS);
            // One panicking task per worker: each holds the gate, so every worker takes one,
            // and then they all panic.
            let mut gate = Gate::new();
            let bad: Vec<_> = (0..WORKERS)
                .map(|i| {
                    submit(
                        &pool,
                        gate.task(move || -> u64 { panic!("task {i} failed") }),
                    )
                })
                .collect();
            gate.wait_for_starts(WORKERS, "one panicking task per worker");
            gate.open();
            let panics: Vec<_> = bad
                .into_iter()
                .map(|handle| handle.join_timeout(TIMEOUT).map(|(_, value)| value))
                .collect();

            // The tasks after them still complete...
            let later: Vec<_> = (20..30)
                .map(|n| (n, submit(&pool, move || fib(n))))
                .map(|(n, handle)| (n, handle.join_timeout(TIMEOUT)))
                .collect();

            // ...and all the workers are still there: WORKERS tasks can be running at once.
            let mut gate = Gate::new();
            let alive: Vec<_> = (0..WORKERS)
                .map(|_| submit(&pool, gate.task(|| ())))
                .collect();
            let still_alive = gate.wait_for_starts(WORKERS, "every worker, after the panics");
            gate.open();
            for handle in alive {
                result_of(handle, "a task after the panics");
            }
            (
                panics,
                later,
                still_alive,
                thread::current().id(),
                pool.shutdown(),
            )
        });
    for (i, outcome) in panics.iter().enumerate() {
        assert_eq!(
            outcome,
            &Err(TaskError::Panicked(format!("task {i} failed"))),
            "a panicking task must settle as Err(TaskError::Panicked(its message))"
        );
    }
    for (n, outcome) in later {
        assert_eq!(outcome, Ok(expected(n)), "fib({n}) after the panics");
    }
    assert_distinct_workers(&still_alive, caller, WORKERS);
    assert_eq!(stats.panicked, WORKERS as u64, "panicked count: {stats:?}");
    assert_eq!(
        stats.completed,
        10 + WORKERS as u64,
        "completed count: {stats:?}"
    );
}

#[test]
fn execute_after_shutdown_is_closed_and_hands_the_task_back() {
    let (before, refused, again) = run_within(TIMEOUT, "execute after shutdown", || {
        let pool = start(2);
        let before = submit(&pool, || fib(20));
        pool.shutdown();
        let refused = match pool.execute(|| 6 * 7) {
            // Nothing is lost: the refused task comes back and can still be run.
            Err(Closed(task)) => Some(task()),
            Ok(_) => None,
        };
        let again = pool.execute(|| 1).is_err();
        (before.join_timeout(TIMEOUT), refused, again)
    });
    assert_eq!(
        before,
        Ok(6_765),
        "a task accepted before shutdown must run"
    );
    assert_eq!(
        refused,
        Some(42),
        "execute after shutdown must be Err(Closed(task)), with the task handed back"
    );
    assert!(again, "the pool must stay closed");
}

#[test]
fn shutdown_first_runs_every_task_it_accepted() {
    let outcome = run_within(TIMEOUT, "shutdown with queued tasks", || {
        let pool = start(2);
        let mut gate = Gate::new();
        // Both workers hold a task, so the next ones wait in the queue.
        let held: Vec<_> = (0..2).map(|_| submit(&pool, gate.task(|| 0))).collect();
        gate.wait_for_starts(2, "both workers busy");
        let queued: Vec<_> = (0..10)
            .map(|i| submit(&pool, move || fib(20 + i)))
            .collect();

        let (late, stats) = thread::scope(|s| {
            let closer = s.spawn(|| pool.shutdown());
            // Submit until the pool says it is closed: a task it accepts must still run.
            let deadline = Instant::now() + TIMEOUT;
            let mut late = Vec::new();
            loop {
                match pool.execute(|| 1) {
                    Ok(handle) => late.push(handle),
                    Err(Closed(_)) => break,
                }
                assert!(Instant::now() < deadline, "shutdown never closed the pool");
                thread::yield_now();
            }
            // The pool is closed with the queue still full; now the held tasks may finish.
            gate.open();
            let stats = closer.join().expect("shutdown panicked");
            (late, stats)
        });

        let held: Vec<_> = held
            .into_iter()
            .map(|h| h.join_timeout(TIMEOUT).map(|(_, v)| v))
            .collect();
        let queued: Vec<_> = queued
            .into_iter()
            .map(|h| h.join_timeout(TIMEOUT))
            .collect();
        let late_count = late.len();
        let late: Vec<_> = late.into_iter().map(|h| h.join_timeout(TIMEOUT)).collect();
        (held, queued, late_count, late, stats)
    });
    let (held, queued, late_count, late, stats) = outcome;
    assert_eq!(held, [Ok(0), Ok(0)], "the running tasks must finish");
    let wanted: Vec<_> = (20..30).map(|n| Ok(expected(n))).collect();
    assert_eq!(
        queued, wanted,
        "the tasks still queued at shutdown must run, not be dropped"
    );
    assert!(
        late.iter().all(|outcome| *outcome == Ok(1)),
        "a task accepted during shutdown was lost: {late:?}"
    );
    assert_eq!(
        stats.completed,
        12 + late_count as u64,
        "shutdown returns once every accepted task has run: {stats:?}"
    );
}

// A worker thread's exit, seen from the test: a thread-local whose destructor runs when the
// thread ends reports it. `join` returns only after the thread's thread-locals are destroyed.
thread_local! {
    static EXIT_WATCH: RefCell<Option<ExitWatch>> = const { RefCell::new(None) };
}

struct ExitWatch {
    thread: ThreadId,
    report: Sender<ThreadId>,
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        // Lingers a little as its thread ends, to widen the window in which a shutdown that
        // does not join returns too early. A shutdown that joins waits for it, whatever the
        // timing: `join` returns only once this has run.
        thread::sleep(EXIT_LINGER);
        let _ = self.report.send(self.thread);
    }
}

/// How long a watched worker takes to end. Only a wrong answer can notice it.
const EXIT_LINGER: Duration = Duration::from_millis(100);

/// Starts `workers` workers' worth of gated tasks that set an exit watch on their threads,
/// waits until every worker holds one (so each watch sits on its own worker), lets them go,
/// and returns the workers' threads and the channel their exits are reported on.
fn watch_every_worker(
    pool: &WorkerPool,
    workers: usize,
) -> (HashSet<ThreadId>, Receiver<ThreadId>) {
    let (exit_tx, exits) = crossbeam_channel::unbounded();
    let mut gate = Gate::new();
    let watched: Vec<_> = (0..workers)
        .map(|_| {
            let report = exit_tx.clone();
            submit(
                pool,
                gate.task(move || {
                    let thread = thread::current().id();
                    EXIT_WATCH.with(|w| *w.borrow_mut() = Some(ExitWatch { thread, report }));
                }),
            )
        })
        .collect();
    let threads: HashSet<ThreadId> = gate
        .wait_for_starts(workers, "one task per worker")
        .into_iter()
        .collect();
    gate.open();
    for handle in watched {
        result_of(handle, "a watching task");
    }
    (threads, exits)
}

#[test]
fn shutdown_returns_only_once_every_worker_thread_has_ended() {
    const WORKERS: usize = 3;
    let (workers, exited) = run_within(TIMEOUT, "shutdown", || {
        let pool = start(WORKERS);
        let (workers, exits) = watch_every_worker(&pool, WORKERS);
        pool.shutdown();
        // No waiting here: if shutdown joined its workers, they have all reported already.
        let exited: HashSet<ThreadId> = exits.try_iter().collect();
        (workers, exited)
    });
    assert_eq!(
        workers.len(),
        WORKERS,
        "each watch must sit on its own worker"
    );
    assert_eq!(
        exited, workers,
        "shutdown returned while worker threads were still running: join them"
    );
}

#[test]
fn dropping_the_pool_runs_its_queued_tasks_and_joins_every_worker() {
    const WORKERS: usize = 2;
    let (workers, exited, queued) = run_within(TIMEOUT, "dropping the pool", || {
        let pool = start(WORKERS);
        let (workers, exits) = watch_every_worker(&pool, WORKERS);
        let mut gate = Gate::new();
        // Both workers hold a task, so the next ones are still queued when the pool is dropped.
        let held: Vec<_> = (0..WORKERS)
            .map(|_| submit(&pool, gate.task(|| ())))
            .collect();
        gate.wait_for_starts(WORKERS, "both workers busy");
        let queued: Vec<_> = (20..25).map(|n| submit(&pool, move || fib(n))).collect();
        gate.open();
        drop(pool);
        let exited: HashSet<ThreadId> = exits.try_iter().collect();
        drop(held);
        let queued: Vec<_> = queued
            .into_iter()
            .map(|h| h.join_timeout(TIMEOUT))
            .collect();
        (workers, exited, queued)
    });
    assert_eq!(
        exited, workers,
        "dropping the pool must shut it down as shutdown does: it returned while worker \
         threads were still running"
    );
    let wanted: Vec<_> = (20..25).map(|n| Ok(expected(n))).collect();
    assert_eq!(queued, wanted, "the tasks queued when the pool was dropped");
}

#[test]
fn a_second_shutdown_also_returns_only_once_every_worker_has_ended() {
    let (returned_early, stats) = run_within(TIMEOUT, "two shutdowns at once", || {
        let pool = start(2);
        let mut gate = Gate::new();
        let held = submit(&pool, gate.task(|| 7));
        gate.wait_for_starts(1, "the held task");
        let (returned_tx, returned) = crossbeam_channel::unbounded();
        let (returned_early, stats) = thread::scope(|s| {
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    let returned_tx = returned_tx.clone();
                    let pool = &pool;
                    s.spawn(move || {
                        let stats = pool.shutdown();
                        returned_tx.send(()).unwrap();
                        stats
                    })
                })
                .collect();
            // The task is held, so its worker cannot end: neither call may return yet. A call
            // that does not wait returns at once; the window only widens what a wrong answer
            // shows, a right one passes whatever the timing.
            let returned_early = returned.recv_timeout(Duration::from_millis(200)).is_ok();
            gate.open();
            let stats: Vec<_> = callers
                .into_iter()
                .map(|c| c.join().expect("shutdown panicked"))
                .collect();
            (returned_early, stats)
        });
        assert_eq!(result_of(held, "the held task").1, 7);
        (returned_early, stats)
    });
    assert!(
        !returned_early,
        "a shutdown returned while a worker was still running its task: every caller must \
         wait until every worker has ended"
    );
    for stats in stats {
        assert_eq!(stats.completed, 1, "{stats:?}");
    }
}

#[test]
fn the_workers_are_named_pool_worker_and_their_index() {
    const WORKERS: usize = 3;
    let names = run_within(TIMEOUT, "named workers", || {
        let pool = start(WORKERS);
        let mut gate = Gate::new();
        // Each holds the gate until all have started: one task on each worker.
        let handles: Vec<_> = (0..WORKERS)
            .map(|_| {
                submit(
                    &pool,
                    gate.task(|| thread::current().name().map(str::to_owned)),
                )
            })
            .collect();
        gate.wait_for_starts(WORKERS, "one task per worker");
        gate.open();
        let mut names: Vec<_> = handles
            .into_iter()
            .map(|h| result_of(h, "a naming task").1)
            .collect();
        pool.shutdown();
        names.sort();
        names
    });
    let wanted: Vec<_> = (0..WORKERS)
        .map(|i| Some(format!("pool-worker-{i}")))
        .collect();
    assert_eq!(names, wanted, "the names of the threads that ran the tasks");
}

#[test]
fn every_task_gets_its_own_id_even_when_several_threads_submit() {
    let ids = run_within(TIMEOUT, "concurrent submissions", || {
        let pool = start(2);
        let ids: Vec<u64> = thread::scope(|s| {
            let submitters: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..50)
                            .map(|i| {
                                let handle = submit(&pool, move || i);
                                let id = handle.id();
                                assert_eq!(result_of(handle, "a tiny task"), i);
                                id
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            submitters
                .into_iter()
                .flat_map(|s| s.join().expect("a submitter panicked"))
                .collect()
        });
        pool.shutdown();
        ids
    });
    let distinct: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(
        distinct.len(),
        200,
        "task ids collide: {} distinct ids for 200 tasks",
        distinct.len()
    );
}
