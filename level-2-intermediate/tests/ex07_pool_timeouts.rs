//! Tests of exercise l2-ex07 (monitored pool, 3: timeouts and a shutdown that keeps its
//! deadline).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex07` runs
//! them against your file, `level-2-intermediate/src/exercises/ex07_pool_timeouts.rs`.
//!
//! Tests run unoptimised, where the course's `fib(37)` takes about half a second, so the
//! ten-task run uses `fib` 22, 23 and 24 (well under a millisecond each) with a 2 s limit (the
//! course's inputs have their own test in l2-ex05). No test needs a quick task to finish
//! within less than seconds; the only thing timed is "a hang eventually
//! times out", and the log is read to check *when* the supervisor did what it did. The one
//! test that needs to know exactly when a timeout fires runs the pool on a manual [`Clock`],
//! which moves only when the test moves it.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the ten tasks: values, `DivByZero`, `Parse`, `Timeout` and `WorkerCrashed` after `max_attempts`; one outcome per id, nothing more | `the_ten_tasks_each_get_their_one_outcome` | a 2 s limit that quick tasks never near; a hang times out whenever the supervisor gets to it; a second outcome fails whenever it comes |
//! | a timeout is retried to the back until `max_attempts`, then `Timeout`; a task's own error is not retried | `retries_are_bounded_and_counted_in_the_outcome`, the ten-task test | counts in outcomes and the log |
//! | timeouts count from dispatch: quick tasks queued behind a hang for longer than the limit run once and complete | `timeouts_count_from_dispatch_not_from_queueing` | the premise (each waited a whole limit) is checked in the log, not assumed; the quick tasks need 50 ms out of a 3 s limit |
//! | every `TimedOut` at least `timeout` after its `Dispatched` | `assert_timeouts_count_from_dispatch`, in three tests | a lower bound only: late is never wrong |
//! | each attempt times out at its own deadline, the earliest first, whatever messages came in between | `each_attempt_times_out_at_its_own_deadline_whatever_came_in_between` | on a manual clock: a timeout fires when the test moves the clock, and the log's stamps are the clock's |
//! | a timed-out worker stays busy until its task returns; its late answer is ignored | `a_timed_out_worker_stays_busy_until_its_task_returns` | the task returns only when the test releases it, after reading `stats` |
//! | `shutdown` settles every queued and running task as `ShutDown`, cancels the running ones and joins the workers | `shutdown_cancels_a_hang_and_returns_within_its_deadline` | the hangs stop only when cancelled; a joined thread has run its thread-local destructors, which the test sees (a worker dropped unjoined is caught while its destructor lingers 300 ms) |
//! | `shutdown` returns by its deadline even when a task ignores its token, counting the worker abandoned | `shutdown_returns_by_its_deadline_even_when_a_task_ignores_cancellation` | the task ends only when the test releases it, after `shutdown` returned |
//! | 0 workers, 0 attempts or a zero timeout is `InvalidConfig` | `a_config_without_workers_attempts_or_time_is_refused` | no timing |
//!
//! The new code here runs on the supervisor only: no work can move to the caller, and no
//! state is shared to race on.
//!
//! Deadline: 30 s per test under `cargo exercise check` (instead of the runner's 5 s): two
//! tests wait out real task timeouts, about 6 s and 3 s of them.

// The code under test: your file when `cargo exercise check l2-ex07` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex07_pool_timeouts.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex07_pool_timeouts as under_test;

use shared::testing::{TIMEOUT, assert_quiet, recv_within, run_within};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{
    Clock, Event, LogEntry, MonitoredPool, Outcome, PoolConfig, PoolError, Task, TaskError, TaskId,
    reference_tasks,
};

/// The `fib` inputs of the ten-task run: fib(22) = 17,711, fib(23) = 28,657, fib(24) = 46,368.
const TEST_FIB: [u32; 3] = [22, 23, 24];

fn config(workers: usize, timeout: Duration, max_attempts: u32) -> PoolConfig {
    PoolConfig {
        workers,
        timeout,
        max_attempts,
    }
}

fn pool(config: PoolConfig) -> MonitoredPool {
    MonitoredPool::new(config).expect("the pool did not start")
}

/// Receives `n` outcomes, waiting at most `wait` for each, and checks that no id got two.
fn collect_outcomes(pool: &MonitoredPool, n: usize, wait: Duration) -> BTreeMap<TaskId, Outcome> {
    let mut outcomes = BTreeMap::new();
    for i in 0..n {
        let outcome = recv_within(pool.outcomes(), wait, &format!("outcome {} of {n}", i + 1));
        if let Some(first) = outcomes.insert(outcome.id, outcome.clone()) {
            panic!(
                "task {} got two outcomes: {first:?} and {outcome:?}",
                outcome.id
            );
        }
    }
    outcomes
}

/// The events about task `id`, in log order.
fn events_of(log: &[LogEntry], id: TaskId) -> Vec<&LogEntry> {
    log.iter()
        .filter(|e| match &e.event {
            Event::Submitted { id: i }
            | Event::Dispatched { id: i, .. }
            | Event::Completed { id: i, .. }
            | Event::Failed { id: i, .. }
            | Event::TimedOut { id: i, .. }
            | Event::Retried { id: i, .. }
            | Event::Crashed { id: i, .. } => *i == id,
            Event::WorkerReplaced { .. } => false,
        })
        .collect()
}

/// When attempt `attempt` of task `id` was dispatched.
fn dispatched_at(log: &[LogEntry], id: TaskId, attempt: u32) -> Duration {
    log.iter()
        .find_map(|e| match e.event {
            Event::Dispatched {
                id: i, attempt: a, ..
            } if i == id && a == attempt => Some(e.at),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Dispatched event for task {id}, attempt {attempt}"))
}

/// Every timeout in the log came at least `limit` after the dispatch of its attempt. The log
/// stamps are two clock readings; 5 ms of slack spares an attempt that stamps them apart.
#[track_caller]
fn assert_timeouts_count_from_dispatch(log: &[LogEntry], limit: Duration) {
    for entry in log {
        if let Event::TimedOut { id, attempt, .. } = entry.event {
            let since_dispatch = entry.at - dispatched_at(log, id, attempt);
            assert!(
                since_dispatch + Duration::from_millis(5) >= limit,
                "task {id}, attempt {attempt} timed out {since_dispatch:?} after its dispatch; \
                 the limit is {limit:?}"
            );
        }
    }
}

/// Waits until the log has an event that `found` accepts.
#[track_caller]
fn wait_for_event(pool: &MonitoredPool, what: &str, found: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !pool.events().iter().any(|e| found(&e.event)) {
        assert!(Instant::now() < deadline, "no {what} within {TIMEOUT:?}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Left in a worker's thread-local storage by a task: as the thread exits, its destructor
/// lingers a moment, then records that the thread has finished ending. A thread that was
/// joined has run it to the end; one that was only counted as joined may not have.
struct Linger(Arc<AtomicBool>);

impl Drop for Linger {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(300));
        self.0.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

#[test]
fn the_ten_tasks_each_get_their_one_outcome() {
    let limit = Duration::from_secs(2);
    let pool = pool(config(4, limit, 3));
    let ids: Vec<TaskId> = reference_tasks(TEST_FIB)
        .into_iter()
        .map(|t| pool.submit(t).expect("submit"))
        .collect();
    assert_eq!(
        ids,
        (1..=10).collect::<Vec<_>>(),
        "ids are 1, 2, 3... in order"
    );

    // The hang takes three limits (6 s) before its last outcome; allow far more.
    let outcomes = collect_outcomes(&pool, 10, TIMEOUT * 3);
    assert_quiet(
        pool.outcomes(),
        Duration::from_millis(200),
        "after the ten outcomes",
    );
    let result = |id: TaskId| outcomes[&id].result.clone();
    let attempts = |id: TaskId| outcomes[&id].attempts;

    assert_eq!(result(1), Ok(17_711));
    assert_eq!(result(2), Ok(28_657));
    assert_eq!(result(3), Ok(5));
    assert_eq!(result(4), Err(TaskError::DivByZero));
    assert_eq!(result(5), Ok(46_368));
    assert_eq!(result(6), Err(TaskError::Timeout { limit }));
    assert!(
        matches!(result(7), Err(TaskError::WorkerCrashed { .. })),
        "task 7: {:?}",
        result(7)
    );
    assert_eq!(result(8), Ok(17_711));
    assert!(
        matches!(result(9), Err(TaskError::Parse { .. })),
        "task 9: {:?}",
        result(9)
    );
    assert_eq!(result(10), Ok(28_657));

    // A task's own error is its answer; a timeout or a crash is tried again, three times in all.
    for id in [1, 2, 3, 4, 5, 8, 9, 10] {
        assert_eq!(attempts(id), 1, "task {id}: {:?}", outcomes[&id]);
    }
    assert_eq!(attempts(6), 3, "the hang: {:?}", outcomes[&6]);
    assert_eq!(attempts(7), 3, "the crash: {:?}", outcomes[&7]);

    let stats = pool.stats().expect("stats");
    assert_eq!(
        stats.live_workers, 4,
        "crashed workers are replaced: {stats:?}"
    );
    assert!(stats.crashes >= 1, "{stats:?}");
    assert_eq!(
        stats.crashes, 3,
        "one crash per attempt of task 7: {stats:?}"
    );
    assert_eq!(
        stats.timeouts, 3,
        "one timeout per attempt of task 6: {stats:?}"
    );
    assert_eq!(
        stats.retries, 4,
        "two retries each for tasks 6 and 7: {stats:?}"
    );

    let log = pool.events();
    assert_timeouts_count_from_dispatch(&log, limit);
    let replaced = log
        .iter()
        .filter(|e| matches!(e.event, Event::WorkerReplaced { .. }))
        .count();
    assert_eq!(replaced, 3, "one replacement per crash");
    let crashed = events_of(&log, 7)
        .iter()
        .filter(|e| matches!(e.event, Event::Crashed { .. }))
        .count();
    assert_eq!(crashed, 3, "task 7 crashed on each attempt");

    let report = run_within(TIMEOUT, "shutdown", move || pool.shutdown(TIMEOUT));
    assert!(report.answered, "{report:?}");
    assert_eq!(report.workers_joined, 4, "{report:?}");
    assert_eq!(report.workers_abandoned, 0, "{report:?}");
    assert_eq!(report.unfinished, 0, "{report:?}");
}

#[test]
fn timeouts_count_from_dispatch_not_from_queueing() {
    let limit = Duration::from_secs(3);
    let pool = pool(config(1, limit, 1));
    let (open, gate) = crossbeam_channel::bounded::<()>(1);

    // The only worker is held at a gate while everything else is queued: a hang, then eight
    // short tasks. The hang runs for the whole limit, so the short ones wait in the queue for
    // longer than the limit. Each short task then runs for 50 ms, watching its token: a clock
    // started at queueing has run out by then, and would cancel it. Counted from dispatch,
    // none of them times out.
    let gate_id = pool
        .submit(Task::call(move |_| {
            recv_within(&gate, TIMEOUT, "the gate to open");
            Ok(0)
        }))
        .expect("submit");
    let hang = pool.submit(Task::Hang).expect("submit");
    let short: Vec<TaskId> = (0..8)
        .map(|_| {
            let task = Task::call(|token| {
                if token.wait_timeout(Duration::from_millis(50)) {
                    Err(TaskError::Cancelled)
                } else {
                    Ok(610)
                }
            });
            pool.submit(task).expect("submit")
        })
        .collect();
    open.send(()).unwrap();

    let outcomes = collect_outcomes(&pool, 10, TIMEOUT * 2);
    assert_eq!(outcomes[&gate_id].result, Ok(0));
    assert_eq!(outcomes[&hang].result, Err(TaskError::Timeout { limit }));
    assert_eq!(outcomes[&hang].attempts, 1);
    for id in &short {
        let o = &outcomes[id];
        assert_eq!(
            (o.result.clone(), o.attempts),
            (Ok(610), 1),
            "task {id} waited in the queue behind the hang, then ran once: its clock must \
             start at dispatch, not when it was queued"
        );
    }

    let log = pool.events();
    assert_timeouts_count_from_dispatch(&log, limit);
    for &id in &short {
        let events = events_of(&log, id);
        let submitted = events
            .iter()
            .find(|e| matches!(e.event, Event::Submitted { .. }))
            .unwrap_or_else(|| panic!("no Submitted event for task {id}"))
            .at;
        // The test's own premise: each short task waited longer than the limit.
        assert!(
            dispatched_at(&log, id, 1) - submitted >= limit,
            "task {id} did not wait a whole limit in the queue"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e.event, Event::TimedOut { .. })),
            "task {id} timed out: its clock must start at dispatch, not when it was queued"
        );
    }
}

#[test]
fn retries_are_bounded_and_counted_in_the_outcome() {
    let limit = Duration::from_millis(300);
    let pool = pool(config(1, limit, 2));
    let hang = pool.submit(Task::Hang).expect("submit");
    let div = pool.submit(Task::Divide { a: 1, b: 0 }).expect("submit");

    let outcomes = collect_outcomes(&pool, 2, TIMEOUT);
    assert_eq!(
        outcomes[&hang],
        Outcome {
            id: hang,
            result: Err(TaskError::Timeout { limit }),
            attempts: 2,
        }
    );
    assert_eq!(
        outcomes[&div],
        Outcome {
            id: div,
            result: Err(TaskError::DivByZero),
            attempts: 1,
        },
        "a task's own error is final: no retry"
    );

    let log = pool.events();
    assert_timeouts_count_from_dispatch(&log, limit);
    let count = |id, what: fn(&Event) -> bool| {
        events_of(&log, id)
            .iter()
            .filter(|e| what(&e.event))
            .count()
    };
    assert_eq!(count(hang, |e| matches!(e, Event::Dispatched { .. })), 2);
    assert_eq!(count(hang, |e| matches!(e, Event::TimedOut { .. })), 2);
    assert_eq!(
        count(hang, |e| matches!(
            e,
            Event::Retried {
                next_attempt: 2,
                ..
            }
        )),
        1
    );
    assert_eq!(count(hang, |e| matches!(e, Event::Retried { .. })), 1);
    assert_eq!(count(div, |e| matches!(e, Event::Retried { .. })), 0);
    assert_eq!(count(div, |e| matches!(e, Event::Failed { .. })), 1);
}

#[test]
fn each_attempt_times_out_at_its_own_deadline_whatever_came_in_between() {
    // On a manual clock, time moves only when the test moves it: when each timeout fires is
    // decided by the clock alone, never by how the threads are scheduled.
    let limit = Duration::from_secs(60);
    let clock = Clock::manual();
    let pool =
        MonitoredPool::with_clock(config(2, limit, 1), clock.clone()).expect("the pool started");
    let first = pool.submit(Task::Hang).expect("submit");
    wait_for_event(
        &pool,
        "dispatch of the first hang",
        |e| matches!(e, Event::Dispatched { id, .. } if *id == first),
    );
    // Half a limit later, a second hang and a stats request reach the supervisor. A supervisor
    // that waits a whole limit after its last message would now wait until 1.5 limits.
    clock.advance(limit / 2);
    let second = pool.submit(Task::Hang).expect("submit");
    wait_for_event(
        &pool,
        "dispatch of the second hang",
        |e| matches!(e, Event::Dispatched { id, .. } if *id == second),
    );
    assert_eq!(pool.stats().expect("stats").timeouts, 0);

    // The clock reaches the first hang's deadline, with no message since.
    clock.advance(limit / 2);
    let o = recv_within(
        pool.outcomes(),
        TIMEOUT,
        "the first hang to time out when the clock reached its deadline",
    );
    assert_eq!(
        o,
        Outcome {
            id: first,
            result: Err(TaskError::Timeout { limit }),
            attempts: 1,
        },
        "the earliest deadline is the first hang's"
    );
    let stats = pool.stats().expect("stats");
    assert_eq!(
        stats.timeouts, 1,
        "the second hang has half a limit left: {stats:?}"
    );

    clock.advance(limit / 2);
    let o = recv_within(
        pool.outcomes(),
        TIMEOUT,
        "the second hang to time out when the clock reached its deadline",
    );
    assert_eq!(
        o,
        Outcome {
            id: second,
            result: Err(TaskError::Timeout { limit }),
            attempts: 1,
        }
    );

    // On the pool's clock, each timeout came exactly one limit after its dispatch.
    let log = pool.events();
    for id in [first, second] {
        let timed_out = log
            .iter()
            .find_map(|e| match e.event {
                Event::TimedOut { id: i, .. } if i == id => Some(e.at),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no TimedOut event for task {id}: {log:?}"));
        assert_eq!(
            timed_out - dispatched_at(&log, id, 1),
            limit,
            "task {id}: {log:?}"
        );
    }
}

#[test]
fn a_timed_out_worker_stays_busy_until_its_task_returns() {
    let limit = Duration::from_millis(200);
    let pool = pool(config(1, limit, 1));
    let (release, stuck) = crossbeam_channel::bounded::<()>(1);
    // A task that ignores its token: it times out, but its worker runs it until the test lets
    // it go.
    let stubborn = pool
        .submit(Task::call(move |_token| {
            recv_within(&stuck, TIMEOUT, "the test to release the task");
            Ok(1)
        }))
        .expect("submit");
    let next = pool.submit(Task::Divide { a: 6, b: 3 }).expect("submit");
    let o = recv_within(pool.outcomes(), TIMEOUT, "the stubborn task to time out");
    assert_eq!(
        o,
        Outcome {
            id: stubborn,
            result: Err(TaskError::Timeout { limit }),
            attempts: 1,
        }
    );
    let stats = pool.stats().expect("stats");
    assert_eq!(
        stats.busy_workers, 1,
        "the timed-out task still runs: {stats:?}"
    );
    assert_eq!(
        stats.queued, 1,
        "so the next task waits for that worker: {stats:?}"
    );

    release.send(()).unwrap();
    let o = recv_within(pool.outcomes(), TIMEOUT, "the next task's outcome");
    assert_eq!(
        o,
        Outcome {
            id: next,
            result: Ok(2),
            attempts: 1,
        },
        "the timed-out task's late answer is ignored, and the next task runs once its worker \
         is free"
    );
    assert_quiet(
        pool.outcomes(),
        Duration::from_millis(100),
        "after the two outcomes",
    );
}

#[test]
fn shutdown_cancels_a_hang_and_returns_within_its_deadline() {
    let deadline = Duration::from_secs(5);
    let pool = pool(config(2, Duration::from_secs(300), 3));
    let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
    let ended = Arc::new(AtomicBool::new(false));
    let ended_in_task = Arc::clone(&ended);
    // Two hangs take both workers: the course's, and one that says when it has started.
    let hang = pool.submit(Task::Hang).expect("submit");
    let watched = pool
        .submit(Task::call(move |token| {
            LINGER.with(|slot| *slot.borrow_mut() = Some(Linger(Arc::clone(&ended_in_task))));
            started_tx.send(()).unwrap();
            while !token.wait_timeout(Duration::from_millis(10)) {}
            Err(TaskError::Cancelled)
        }))
        .expect("submit");
    recv_within(&started, TIMEOUT, "the second hang to start");
    wait_for_event(
        &pool,
        "dispatch of the first hang",
        |e| matches!(e, Event::Dispatched { id, .. } if *id == hang),
    );
    let queued: Vec<TaskId> = (0..3)
        .map(|_| pool.submit(Task::Fib(15)).expect("submit"))
        .collect();

    let outcomes = pool.outcomes().clone();
    let (report, elapsed) = run_within(TIMEOUT, "shutdown", move || {
        let start = Instant::now();
        let report = pool.shutdown(deadline);
        (report, start.elapsed())
    });
    assert!(
        elapsed < deadline,
        "shutdown took {elapsed:?}, past its deadline"
    );
    assert!(report.answered, "{report:?}");
    assert_eq!(
        report.workers_joined, 2,
        "both hangs stop when cancelled: {report:?}"
    );
    assert!(
        ended.load(Ordering::SeqCst),
        "the shutdown counted a worker as joined before its thread had ended"
    );
    assert_eq!(report.workers_abandoned, 0, "{report:?}");
    assert_eq!(report.unfinished, 5, "{report:?}");

    let mut got: Vec<(TaskId, Result<i64, TaskError>)> = (0..5)
        .map(|_| {
            let o = recv_within(&outcomes, TIMEOUT, "an outcome of the shutdown");
            (o.id, o.result)
        })
        .collect();
    got.sort_by_key(|(id, _)| *id);
    let mut want: Vec<(TaskId, Result<i64, TaskError>)> = [hang, watched]
        .into_iter()
        .chain(queued)
        .map(|id| (id, Err(TaskError::ShutDown)))
        .collect();
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(got, want, "every task gets exactly one outcome");
    assert_quiet(&outcomes, Duration::from_millis(100), "after the shutdown");
}

#[test]
fn shutdown_returns_by_its_deadline_even_when_a_task_ignores_cancellation() {
    let pool = pool(config(1, Duration::from_secs(300), 3));
    let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
    let (release, stuck) = crossbeam_channel::bounded::<()>(1);
    // This task never looks at its token: only the test can end it, and only after
    // `shutdown` has returned. A shutdown that waits for it never returns.
    let id = pool
        .submit(Task::call(move |_token| {
            started_tx.send(()).unwrap();
            recv_within(&stuck, TIMEOUT * 3, "the test to release the task");
            Ok(1)
        }))
        .expect("submit");
    recv_within(&started, TIMEOUT, "the stubborn task to start");

    let outcomes = pool.outcomes().clone();
    let report = run_within(TIMEOUT, "shutdown", move || {
        pool.shutdown(Duration::from_millis(500))
    });
    assert!(report.answered, "{report:?}");
    assert_eq!(report.workers_abandoned, 1, "{report:?}");
    assert_eq!(report.workers_joined, 0, "{report:?}");
    assert_eq!(report.unfinished, 1, "{report:?}");
    let o = recv_within(&outcomes, TIMEOUT, "the stubborn task's outcome");
    assert_eq!((o.id, o.result), (id, Err(TaskError::ShutDown)));
    release.send(()).unwrap();
}

#[test]
fn a_config_without_workers_attempts_or_time_is_refused() {
    let second = Duration::from_secs(1);
    for bad in [
        config(0, second, 3),
        config(4, second, 0),
        config(4, Duration::ZERO, 3),
    ] {
        match MonitoredPool::new(bad) {
            Err(PoolError::InvalidConfig(_)) => {}
            other => panic!("{bad:?} gave {other:?}, not InvalidConfig"),
        }
    }
    let ok = MonitoredPool::new(PoolConfig::default()).expect("the default config is valid");
    assert_eq!(ok.stats().expect("stats").live_workers, 4);
}
