//! Tests of exercise l2-ex06 (monitored pool, 2: crashed workers).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex06` runs
//! them against your file, `level-2-intermediate/src/exercises/ex06_pool_crashes.rs`.
//!
//! No test depends on timing: a crash is a panic, which happens at once, and every wait has a
//! deadline, so a broken pool fails a test instead of hanging.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | a crashed attempt is retried until `max_attempts` dispatches, then the outcome is `WorkerCrashed`; `attempts` counts the dispatches | `crash_retries_are_bounded_and_a_task_error_is_not_retried`, `a_crashed_worker_is_reported_and_replaced` | counts and outcomes, read after every outcome arrived |
//! | `WorkerCrashed` carries the panic's own message (read from the joined thread's payload) | `crash_retries_are_bounded_and_a_task_error_is_not_retried` | compared with the message `Task::Crash` panics with |
//! | a crashed task goes to the back of the queue | `a_crashed_task_is_retried_behind_the_tasks_already_queued` | one worker held at a gate until `stats` shows all three tasks queued, so the dispatch order is the queue's order |
//! | a task's own error is final, never retried | `crash_retries_are_bounded_and_a_task_error_is_not_retried` | counts, no timing |
//! | every crash counted and logged as `Crashed`, every retry as `Retried` with the next attempt's number | the same test, `the_tasks_but_the_hang_each_get_their_one_outcome` | the log and stats are complete once the last outcome is out |
//! | after crashes, `workers` live workers again; one `WorkerReplaced` per crash, naming a new worker and the dead one | `a_crashed_worker_is_reported_and_replaced`, `crash_retries_are_bounded_and_a_task_error_is_not_retried` | a replacement is started before the task is settled, so it is live when the outcome arrives |
//! | a crash loses no task: the others all get their value; one outcome per id, nothing more | `the_tasks_but_the_hang_each_get_their_one_outcome` | a second outcome fails whenever it comes; 200 ms of quiet only widens the window for a late one |
//! | 0 attempts is `InvalidConfig` | `crash_retries_are_bounded_and_a_task_error_is_not_retried` | no timing |
//!
//! The new code here runs on the supervisor only, so there is no work that could move to the
//! caller and no shared state to race on; a worker that swallows the panic is caught by the
//! attempt counts.

// The code under test: your file when `cargo exercise check l2-ex06` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex06_pool_crashes.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex06_pool_crashes as under_test;

use shared::CancellationToken;
use shared::testing::{TIMEOUT, assert_quiet, panic_message, recv_within};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;
use under_test::{
    Event, LogEntry, MonitoredPool, Outcome, PoolConfig, PoolError, Task, TaskError, TaskId,
    reference_tasks,
};

/// The `fib` inputs of the test runs: fib(22) = 17,711, fib(23) = 28,657, fib(24) = 46,368.
const TEST_FIB: [u32; 3] = [22, 23, 24];

fn config(workers: usize, max_attempts: u32) -> PoolConfig {
    PoolConfig {
        workers,
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
            | Event::Retried { id: i, .. }
            | Event::Crashed { id: i, .. } => *i == id,
            Event::WorkerReplaced { .. } => false,
        })
        .collect()
}

/// The message a crashing task's panic carries, read as the pool must read it.
fn crash_message() -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        Task::Crash.run(&CancellationToken::new())
    }))
    .expect_err("Task::Crash must panic");
    panic_message(payload.as_ref())
}

#[test]
fn a_crashed_worker_is_reported_and_replaced() {
    let pool = pool(config(4, 2));
    let crash = pool.submit(Task::Crash).expect("submit");
    let others: Vec<TaskId> = (0..8)
        .map(|_| pool.submit(Task::Fib(18)).expect("submit"))
        .collect();

    let outcomes = collect_outcomes(&pool, 9, TIMEOUT);
    let o = &outcomes[&crash];
    assert!(
        matches!(o.result, Err(TaskError::WorkerCrashed { .. })),
        "the crash: {o:?}"
    );
    assert_eq!(o.attempts, 2, "retried once, then reported: {o:?}");
    for id in &others {
        assert_eq!(outcomes[id].result, Ok(2_584), "task {id}");
    }

    let stats = pool.stats().expect("stats");
    assert_eq!(stats.live_workers, 4, "{stats:?}");
    assert_eq!(stats.crashes, 2, "{stats:?}");
    let log = pool.events();
    let replacements: Vec<(usize, usize)> = log
        .iter()
        .filter_map(|e| match e.event {
            Event::WorkerReplaced { crashed, by } => Some((crashed, by)),
            _ => None,
        })
        .collect();
    assert_eq!(replacements.len(), 2, "{replacements:?}");
    for (crashed, by) in replacements {
        assert_ne!(crashed, by, "a replacement is a new worker");
    }
}

#[test]
fn crash_retries_are_bounded_and_a_task_error_is_not_retried() {
    match MonitoredPool::new(config(1, 0)) {
        Err(PoolError::InvalidConfig(_)) => {}
        other => panic!("0 attempts gave {other:?}, not InvalidConfig"),
    }
    let pool = pool(config(1, 2));
    let crash = pool.submit(Task::Crash).expect("submit");
    let div = pool.submit(Task::Divide { a: 1, b: 0 }).expect("submit");

    let outcomes = collect_outcomes(&pool, 2, TIMEOUT);
    assert_eq!(
        outcomes[&crash],
        Outcome {
            id: crash,
            result: Err(TaskError::WorkerCrashed {
                message: crash_message()
            }),
            attempts: 2,
        },
        "the outcome carries the panic's own message"
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

    let stats = pool.stats().expect("stats");
    assert_eq!(
        stats.live_workers, 1,
        "the pool's one worker was replaced: {stats:?}"
    );
    assert_eq!(stats.crashes, 2, "{stats:?}");
    assert_eq!(stats.retries, 1, "{stats:?}");
    assert_eq!(stats.failed, 1, "{stats:?}");

    let log = pool.events();
    let count = |id, what: fn(&Event) -> bool| {
        events_of(&log, id)
            .iter()
            .filter(|e| what(&e.event))
            .count()
    };
    assert_eq!(count(crash, |e| matches!(e, Event::Dispatched { .. })), 2);
    assert_eq!(count(crash, |e| matches!(e, Event::Crashed { .. })), 2);
    assert_eq!(
        count(crash, |e| matches!(
            e,
            Event::Retried {
                next_attempt: 2,
                ..
            }
        )),
        1
    );
    assert_eq!(count(crash, |e| matches!(e, Event::Retried { .. })), 1);
    assert_eq!(count(div, |e| matches!(e, Event::Retried { .. })), 0);
    assert_eq!(count(div, |e| matches!(e, Event::Failed { .. })), 1);

    // Each crash names the worker that died, and that worker is the one replaced.
    let crashed: Vec<usize> = log
        .iter()
        .filter_map(|e| match &e.event {
            Event::Crashed { worker, .. } => Some(*worker),
            _ => None,
        })
        .collect();
    let replaced: Vec<usize> = log
        .iter()
        .filter_map(|e| match e.event {
            Event::WorkerReplaced { crashed, .. } => Some(crashed),
            _ => None,
        })
        .collect();
    assert_eq!(crashed, replaced, "{log:?}");
}

#[test]
fn a_crashed_task_is_retried_behind_the_tasks_already_queued() {
    let pool = pool(config(1, 2));
    let (open, gate) = crossbeam_channel::bounded::<()>(1);
    // The only worker is held at a gate until the crash and two quick tasks are all queued
    // behind it: `stats` answers only after the supervisor has taken the submissions before it.
    let held = pool
        .submit(Task::call(move |_| {
            recv_within(&gate, TIMEOUT, "the gate to open");
            Ok(0)
        }))
        .expect("submit");
    let crash = pool.submit(Task::Crash).expect("submit");
    let quick: Vec<TaskId> = (0..2)
        .map(|_| pool.submit(Task::Divide { a: 6, b: 3 }).expect("submit"))
        .collect();
    assert_eq!(pool.stats().expect("stats").queued, 3);
    open.send(()).unwrap();

    let outcomes = collect_outcomes(&pool, 4, TIMEOUT);
    assert_eq!(outcomes[&held].result, Ok(0));
    assert_eq!(outcomes[&crash].attempts, 2, "{:?}", outcomes[&crash]);
    for id in &quick {
        assert_eq!(outcomes[id].result, Ok(2), "task {id}");
    }

    // One worker, so the dispatches are the queue's order: the crash's retry went to the back.
    let log = pool.events();
    let dispatched: Vec<(TaskId, u32)> = log
        .iter()
        .filter_map(|e| match e.event {
            Event::Dispatched { id, attempt, .. } => Some((id, attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dispatched,
        [
            (held, 1),
            (crash, 1),
            (quick[0], 1),
            (quick[1], 1),
            (crash, 2)
        ],
        "a crashed task is retried from the back of the queue"
    );
}

#[test]
fn the_tasks_but_the_hang_each_get_their_one_outcome() {
    let pool = pool(config(4, 3));
    let tasks: Vec<Task> = reference_tasks(TEST_FIB)
        .into_iter()
        .filter(|t| !matches!(t, Task::Hang))
        .collect();
    let ids: Vec<TaskId> = tasks
        .into_iter()
        .map(|t| pool.submit(t).expect("submit"))
        .collect();
    assert_eq!(
        ids,
        (1..=9).collect::<Vec<_>>(),
        "ids are 1, 2, 3... in order"
    );

    let outcomes = collect_outcomes(&pool, 9, TIMEOUT);
    assert_quiet(
        pool.outcomes(),
        Duration::from_millis(200),
        "after the nine outcomes",
    );
    let result = |id: TaskId| outcomes[&id].result.clone();
    let attempts = |id: TaskId| outcomes[&id].attempts;
    // The Node exercise's tasks but the hang: its task 7, the crash, is task 6 here.
    assert_eq!(result(1), Ok(17_711));
    assert_eq!(result(2), Ok(28_657));
    assert_eq!(result(3), Ok(5));
    assert_eq!(result(4), Err(TaskError::DivByZero));
    assert_eq!(result(5), Ok(46_368));
    assert!(
        matches!(result(6), Err(TaskError::WorkerCrashed { .. })),
        "the crash: {:?}",
        result(6)
    );
    assert_eq!(result(7), Ok(17_711));
    assert!(
        matches!(result(8), Err(TaskError::Parse { .. })),
        "the parse task: {:?}",
        result(8)
    );
    assert_eq!(result(9), Ok(28_657));
    for id in [1, 2, 3, 4, 5, 7, 8, 9] {
        assert_eq!(attempts(id), 1, "task {id}: {:?}", outcomes[&id]);
    }
    assert_eq!(attempts(6), 3, "the crash: {:?}", outcomes[&6]);

    let stats = pool.stats().expect("stats");
    assert_eq!(
        stats.live_workers, 4,
        "crashed workers are replaced: {stats:?}"
    );
    assert_eq!(
        stats.crashes, 3,
        "one crash per attempt of the crash: {stats:?}"
    );
    assert_eq!(stats.retries, 2, "two retries of the crash: {stats:?}");

    let log = pool.events();
    let replaced = log
        .iter()
        .filter(|e| matches!(e.event, Event::WorkerReplaced { .. }))
        .count();
    assert_eq!(replaced, 3, "one replacement per crash");
    let crashed = events_of(&log, 6)
        .iter()
        .filter(|e| matches!(e.event, Event::Crashed { .. }))
        .count();
    assert_eq!(crashed, 3, "the crash crashed on each attempt");
}
