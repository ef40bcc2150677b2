//! Tests of exercise l2-ex05 (monitored pool, 1: a supervisor and its workers).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex05` runs
//! them against your file, `level-2-intermediate/src/exercises/ex05_monitored_pool.rs`.
//!
//! No test depends on timing. Where tasks must be running while the test looks at the pool,
//! they hold a gate: each reports that it has started, then waits until the test lets it go.
//! Every wait has a deadline, so a broken pool fails a test instead of hanging.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `Task::run`: values, `Overflow`, `DivByZero`, `Parse`, a cancelled `Hang`, `Crash` panics, `Call` | `each_task_kind_gives_its_value_or_its_typed_error` | plain calls on the test's thread |
//! | `reference_tasks` are the Node exercise's ten, the course's `fib` values | `the_course_fib_tasks_give_the_course_values` | values only; each outcome may take 300 s |
//! | ids 1, 2, 3... in submission order; exactly one outcome per id, nothing more | `the_tasks_that_neither_hang_nor_crash_each_get_their_one_outcome` | ids from one thread's submits; a second outcome fails whenever it comes, and 200 ms of quiet only widens the window for one that comes late |
//! | a task's own error is its answer, `attempts` is 1, counted as failed | the same test | counts read from the supervisor after every outcome arrived |
//! | the log: `Submitted`, `Dispatched` (attempt 1), then `Completed` or `Failed`, in time order | the same test | the log is complete once the outcomes are out: each is logged before it is sent |
//! | tasks run on the workers (`mon-worker-*`), never on the supervisor or the caller | `tasks_run_on_the_workers_one_at_a_time_each` | each task records `thread::current()` itself |
//! | one task at a time per worker; while all are busy the rest wait in the queue, and `stats` shows it; every worker is used | the same test | the held tasks wait at a gate the test opens only after reading `stats` |
//! | dropping the pool closes the job channels and every worker ends | `every_worker_ends_once_the_pool_is_dropped` | a thread-local destructor in each worker reports its thread's end, whenever that is |
//! | 0 workers is `InvalidConfig`; the default config runs 4 | `a_config_without_workers_is_refused` | no timing |
//!
//! There is no race to force here: the supervisor alone owns the queue and the workers, and
//! ids come from `submit`'s `fetch_add`, written for you.

// The code under test: your file when `cargo exercise check l2-ex05` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex05_monitored_pool.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex05_monitored_pool as under_test;

use crossbeam_channel::Sender;
use shared::CancellationToken;
use shared::testing::{TIMEOUT, assert_quiet, recv_within, run_within};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::Duration;
use under_test::{
    COURSE_FIB, Event, LogEntry, MonitoredPool, Outcome, PoolConfig, PoolError, Task, TaskError,
    TaskId, reference_tasks,
};

/// The `fib` inputs of the test runs: fib(22) = 17,711, fib(23) = 28,657, fib(24) = 46,368.
const TEST_FIB: [u32; 3] = [22, 23, 24];

fn config(workers: usize) -> PoolConfig {
    PoolConfig { workers }
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
            | Event::Failed { id: i, .. } => *i == id,
        })
        .collect()
}

#[test]
fn each_task_kind_gives_its_value_or_its_typed_error() {
    run_within(TIMEOUT, "Task::run", || {
        let token = CancellationToken::new();
        assert_eq!(Task::Fib(20).run(&token), Ok(6_765));
        assert_eq!(Task::Fib(93).run(&token), Err(TaskError::Overflow));
        assert_eq!(Task::Divide { a: 10, b: 2 }.run(&token), Ok(5));
        assert_eq!(Task::Divide { a: -9, b: 2 }.run(&token), Ok(-4));
        assert_eq!(
            Task::Divide { a: 10, b: 0 }.run(&token),
            Err(TaskError::DivByZero)
        );
        assert_eq!(Task::Parse(" 42 ".to_owned()).run(&token), Ok(42));
        assert!(
            matches!(
                Task::Parse("{ not json".to_owned()).run(&token),
                Err(TaskError::Parse { .. })
            ),
            "bad input must be TaskError::Parse"
        );
        assert_eq!(Task::call(|_| Ok(7)).run(&token), Ok(7));

        // A hang returns once its token is cancelled (here, before it starts).
        let cancelled = CancellationToken::new();
        cancelled.cancel();
        assert_eq!(Task::Hang.run(&cancelled), Err(TaskError::Cancelled));

        let crash = panic::catch_unwind(AssertUnwindSafe(|| Task::Crash.run(&token)));
        assert!(crash.is_err(), "Task::Crash must panic");
    });
}

#[test]
fn the_course_fib_tasks_give_the_course_values() {
    let tasks = reference_tasks(COURSE_FIB);
    let shown: Vec<String> = tasks.iter().map(|t| format!("{t:?}")).collect();
    assert_eq!(
        shown,
        [
            "Fib(35)",
            "Fib(36)",
            "Divide(10 / 2)",
            "Divide(10 / 0)",
            "Fib(37)",
            "Hang",
            "Crash",
            "Fib(35)",
            "Parse(\"{ not json\")",
            "Fib(36)",
        ]
    );

    // These take about a second in all, unoptimised.
    let pool = pool(config(4));
    let mut want = BTreeMap::new();
    for (task, value) in [
        (Task::Fib(35), 9_227_465),
        (Task::Fib(36), 14_930_352),
        (Task::Fib(37), 24_157_817),
        (Task::Divide { a: 10, b: 2 }, 5),
    ] {
        let id = pool.submit(task).expect("submit");
        want.insert(id, Ok(value));
    }
    let got: BTreeMap<TaskId, Result<i64, TaskError>> =
        collect_outcomes(&pool, 4, Duration::from_secs(300))
            .into_iter()
            .map(|(id, o)| (id, o.result))
            .collect();
    assert_eq!(got, want);
}

#[test]
fn the_tasks_that_neither_hang_nor_crash_each_get_their_one_outcome() {
    let pool = pool(config(4));
    let tasks: Vec<Task> = reference_tasks(TEST_FIB)
        .into_iter()
        .filter(|t| !matches!(t, Task::Hang | Task::Crash))
        .collect();
    let ids: Vec<TaskId> = tasks
        .into_iter()
        .map(|t| pool.submit(t).expect("submit"))
        .collect();
    assert_eq!(
        ids,
        (1..=8).collect::<Vec<_>>(),
        "ids are 1, 2, 3... in order"
    );

    let outcomes = collect_outcomes(&pool, 8, TIMEOUT);
    assert_quiet(
        pool.outcomes(),
        Duration::from_millis(200),
        "after the eight outcomes",
    );
    let result = |id: TaskId| outcomes[&id].result.clone();
    // The Node exercise's tasks 1-5, 8, 9 and 10.
    assert_eq!(result(1), Ok(17_711));
    assert_eq!(result(2), Ok(28_657));
    assert_eq!(result(3), Ok(5));
    assert_eq!(result(4), Err(TaskError::DivByZero));
    assert_eq!(result(5), Ok(46_368));
    assert_eq!(result(6), Ok(17_711));
    assert!(
        matches!(result(7), Err(TaskError::Parse { .. })),
        "the parse task: {:?}",
        result(7)
    );
    assert_eq!(result(8), Ok(28_657));
    for id in 1..=8 {
        assert_eq!(outcomes[&id].attempts, 1, "task {id}: {:?}", outcomes[&id]);
    }

    let stats = pool.stats().expect("stats");
    assert_eq!(stats.live_workers, 4, "{stats:?}");
    assert_eq!(stats.busy_workers, 0, "every task is settled: {stats:?}");
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(stats.completed, 6, "{stats:?}");
    assert_eq!(
        stats.failed, 2,
        "the division by zero and the parse: {stats:?}"
    );

    // Each task's story, in order: queued, handed to a worker, settled once.
    let log = pool.events();
    for id in 1..=8 {
        let events: Vec<&Event> = events_of(&log, id).iter().map(|e| &e.event).collect();
        assert_eq!(events.len(), 3, "task {id}: {events:?}");
        assert_eq!(events[0], &Event::Submitted { id }, "task {id}: {events:?}");
        assert!(
            matches!(events[1], Event::Dispatched { id: i, attempt: 1, worker } if *i == id && *worker < 4),
            "task {id}: {events:?}"
        );
        let settled = match result(id) {
            Ok(_) => matches!(events[2], Event::Completed { id: i, attempt: 1, .. } if *i == id),
            Err(error) => matches!(
                events[2],
                Event::Failed { id: i, attempt: 1, error: e, .. } if *i == id && *e == error
            ),
        };
        assert!(settled, "task {id}: {events:?}");
    }
    let stamps: Vec<Duration> = log.iter().map(|e| e.at).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "the log is in time order: {log:?}"
    );
}

#[test]
fn tasks_run_on_the_workers_one_at_a_time_each() {
    let pool = pool(config(2));
    let (started_tx, started) = crossbeam_channel::unbounded::<String>();
    let (open, gate) = crossbeam_channel::unbounded::<()>();
    // Two tasks hold both workers at a gate; each says on which thread it runs.
    let held: Vec<TaskId> = (0..2)
        .map(|_| {
            let started_tx = started_tx.clone();
            let gate = gate.clone();
            let task = Task::call(move |_| {
                let name = thread::current().name().unwrap_or("").to_owned();
                started_tx.send(name).unwrap();
                recv_within(&gate, TIMEOUT, "the gate to open");
                Ok(1)
            });
            pool.submit(task).expect("submit")
        })
        .collect();
    let mut threads: Vec<String> = (0..2)
        .map(|_| recv_within(&started, TIMEOUT, "a held task to start"))
        .collect();

    // Both workers are busy: three more tasks wait in the queue, not on a worker.
    let waiting: Vec<TaskId> = (0..3)
        .map(|_| {
            let started_tx = started_tx.clone();
            let task = Task::call(move |_| {
                let name = thread::current().name().unwrap_or("").to_owned();
                started_tx.send(name).unwrap();
                Ok(2)
            });
            pool.submit(task).expect("submit")
        })
        .collect();
    let stats = pool.stats().expect("stats");
    assert_eq!(stats.live_workers, 2, "{stats:?}");
    assert_eq!(stats.busy_workers, 2, "{stats:?}");
    assert_eq!(
        stats.queued, 3,
        "a busy worker gets no second task: {stats:?}"
    );

    open.send(()).unwrap();
    open.send(()).unwrap();
    let outcomes = collect_outcomes(&pool, 5, TIMEOUT);
    for id in &held {
        assert_eq!(outcomes[id].result, Ok(1), "task {id}");
    }
    for id in &waiting {
        assert_eq!(outcomes[id].result, Ok(2), "task {id}");
    }
    threads.extend((0..3).map(|_| recv_within(&started, TIMEOUT, "a queued task to run")));
    for name in &threads {
        assert!(
            name.starts_with("mon-worker-"),
            "a task ran on thread {name:?}, not on a worker: {threads:?}"
        );
    }
    assert_ne!(
        threads[0], threads[1],
        "the two held tasks ran on the same worker"
    );
    let distinct: HashSet<&String> = threads.iter().collect();
    assert_eq!(distinct.len(), 2, "two workers ran everything: {threads:?}");
}

/// Sends the name of its thread when that thread ends: a task leaves one in its worker's
/// thread-local storage, whose destructors run as the thread exits. The name is read when the
/// signal is made, since `thread::current` may be gone by the time the destructors run.
struct ExitSignal {
    thread: String,
    ended: Sender<String>,
}

impl Drop for ExitSignal {
    fn drop(&mut self) {
        let _ = self.ended.send(std::mem::take(&mut self.thread));
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<ExitSignal>> = const { RefCell::new(None) };
}

#[test]
fn every_worker_ends_once_the_pool_is_dropped() {
    let pool = pool(config(2));
    let (exited_tx, exited) = crossbeam_channel::unbounded::<String>();
    let (started_tx, started) = crossbeam_channel::unbounded::<()>();
    let (open, gate) = crossbeam_channel::unbounded::<()>();
    // Two tasks hold both workers at once, so each worker gets one; each leaves a signal that
    // fires when its thread ends.
    for _ in 0..2 {
        let exited_tx = exited_tx.clone();
        let started_tx = started_tx.clone();
        let gate = gate.clone();
        let task = Task::call(move |_| {
            let signal = ExitSignal {
                thread: thread::current().name().unwrap_or("").to_owned(),
                ended: exited_tx.clone(),
            };
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(signal));
            started_tx.send(()).unwrap();
            recv_within(&gate, TIMEOUT, "the gate to open");
            Ok(1)
        });
        pool.submit(task).expect("submit");
    }
    drop(exited_tx);
    for _ in 0..2 {
        recv_within(&started, TIMEOUT, "a held task to start");
    }
    open.send(()).unwrap();
    open.send(()).unwrap();
    collect_outcomes(&pool, 2, TIMEOUT);
    assert!(exited.is_empty(), "a worker ended while the pool was alive");

    // Dropping the pool closes the job channels: each idle worker leaves its loop and ends.
    drop(pool);
    let mut ended: Vec<String> = (0..2)
        .map(|_| {
            recv_within(
                &exited,
                TIMEOUT,
                "a worker to end after the pool was dropped",
            )
        })
        .collect();
    ended.sort();
    ended.dedup();
    assert_eq!(ended.len(), 2, "two workers ended: {ended:?}");
}

#[test]
fn a_config_without_workers_is_refused() {
    match MonitoredPool::new(config(0)) {
        Err(PoolError::InvalidConfig(_)) => {}
        other => panic!("0 workers gave {other:?}, not InvalidConfig"),
    }
    let ok = MonitoredPool::new(PoolConfig::default()).expect("the default config is valid");
    assert_eq!(ok.stats().expect("stats").live_workers, 4);
}
