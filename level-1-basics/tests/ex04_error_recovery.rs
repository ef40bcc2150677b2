//! Tests of exercise l1-ex04 (error recovery).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex04` runs
//! them against your file, `level-1-basics/src/exercises/ex04_error_recovery.rs`.
//!
//! Which test catches each broken promise of the exercise:
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `divide`: quotient, `DivByZero` for a zero divisor (also `-0.0`), `InvalidInput` for a non-finite operand | `divide_refuses_a_zero_divisor_and_non_finite_operands` | no thread involved |
//! | `parse_pairs`: trimmed keys and values; no `=`, an empty key or a repeated key is `Parse` naming that piece | `parse_reads_pairs_and_names_the_bad_piece` | no thread involved |
//! | `process`: count, sum, average; empty or non-finite is `InvalidInput` | `process_gives_count_sum_and_average_and_rejects_bad_input` | no thread involved |
//! | `run_task` turns a panic into `Panicked` with its message, not a value and not an unwind | `run_task_turns_a_panic_in_user_code_into_an_error`, `a_panicking_task_does_not_kill_the_worker` | a panic is caught or not whatever the timing |
//! | the reference tasks: 1, 3, 5 succeed; 2, 4, 6 fail with `DivByZero`, `Parse`, `InvalidInput` | `the_reference_tasks_succeed_and_fail_by_id` | every reply is awaited (with a deadline) before any is checked |
//! | every task runs on one thread named `task-worker`, never the caller's, even after a failure or a panic | `every_task_runs_on_the_one_worker_thread_it_reports` (the user code records the thread it ran on), `a_panicking_task_does_not_kill_the_worker` | the work itself reports where it ran; no thread is raced |
//! | a reply carries the task's id, its result and the worker's thread id | `replies_carry_the_id_they_were_sent_with_whatever_the_order`, `every_task_runs_on_the_one_worker_thread_it_reports` | ids are compared, not arrival times |
//! | the same thread answers a seventh task after the failures | `the_same_worker_answers_a_seventh_task_after_the_failures` | each reply is awaited before the next task is sent |
//! | `shutdown` returns the tally of every task, including ones whose replies were never read | `the_worker_tallies_three_successes_and_three_failures`, `shutdown_returns_only_after_the_worker_thread_has_ended` | a joined worker has finished every queued task, whenever it ran them |
//! | `shutdown` joins the worker: it has ended when `shutdown` returns | `shutdown_returns_only_after_the_worker_thread_has_ended` (a thread-local value's slow `Drop` runs as the worker ends; it must have finished, and no `task-worker` thread may stay listed) | a correct `shutdown` waits for the `Drop` however long it takes; the pause only widens the window in which an unjoined worker is seen |
//! | a failed `submit` after the worker has ended, and replies dropped with the worker | none | given code: `shutdown` takes the worker by value, so no test can submit to or read from it afterwards |
//!
//! The tests that start a worker take one lock, so that only one `task-worker` thread exists at a
//! time and the shutdown test sees its own worker only.

// The code under test: your file when `cargo exercise check l1-ex04` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex04_error_recovery.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex04_error_recovery as under_test;

use shared::testing::{TIMEOUT, live_threads_named, recv_or_fail, run_within};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use under_test::{
    Output, Reply, Stats, Tally, Task, TaskError, TaskId, TaskWorker, WORKER_NAME, divide,
    parse_pairs, process, reference_tasks, run_task,
};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Held by every test that starts a [`TaskWorker`]: all workers share the name
/// [`WORKER_NAME`], and the test that looks for a live worker by that name must see its own only.
fn one_worker_at_a_time() -> MutexGuard<'static, ()> {
    static WORKERS: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next test has nothing to fear from the unit inside.
    WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Submits `tasks` to a fresh worker, receives one reply per task, shuts the worker down and
/// returns the replies keyed by id, the worker's thread id and its tally.
fn serve(tasks: Vec<(TaskId, Task)>) -> (BTreeMap<TaskId, Reply>, ThreadId, Tally) {
    let _alone = one_worker_at_a_time();
    run_within(TIMEOUT, "the task worker", move || {
        let worker = TaskWorker::spawn().expect("could not spawn the task worker");
        let worker_thread = worker.thread_id();
        let count = tasks.len();
        for (id, task) in tasks {
            worker.submit(id, task).expect("the worker stopped early");
        }
        let mut replies = BTreeMap::new();
        for _ in 0..count {
            let reply = recv_or_fail(worker.replies(), "a reply from the task worker");
            let id = reply.id;
            assert!(
                replies.insert(id, reply).is_none(),
                "two replies for task {id}"
            );
        }
        let tally = worker
            .shutdown()
            .expect("the worker did not shut down cleanly");
        (replies, worker_thread, tally)
    })
}

#[test]
fn divide_refuses_a_zero_divisor_and_non_finite_operands() {
    assert_eq!(divide(10.0, 2.0), Ok(5.0));
    assert_eq!(divide(10.0, 4.0), Ok(2.5));
    assert_eq!(divide(10.0, 0.0), Err(TaskError::DivByZero));
    assert_eq!(divide(10.0, -0.0), Err(TaskError::DivByZero));
    for (a, b) in [(f64::NAN, 1.0), (1.0, f64::INFINITY)] {
        assert!(
            matches!(divide(a, b), Err(TaskError::InvalidInput { .. })),
            "{a} / {b} should be InvalidInput"
        );
    }
}

#[test]
fn parse_reads_pairs_and_names_the_bad_piece() {
    assert_eq!(
        parse_pairs("name=Ada, lang = rust"),
        Ok(map(&[("name", "Ada"), ("lang", "rust")]))
    );
    assert_eq!(parse_pairs("empty="), Ok(map(&[("empty", "")])));
    for (text, piece) in [("name=Ada,oops", "oops"), ("=x", "=x"), ("a=1,a=2", "a=2")] {
        match parse_pairs(text) {
            Err(TaskError::Parse { piece: got, .. }) => assert_eq!(got, piece, "in {text:?}"),
            other => panic!("parse_pairs({text:?}) should be a Parse error, got {other:?}"),
        }
    }
}

#[test]
fn process_gives_count_sum_and_average_and_rejects_bad_input() {
    assert_eq!(
        process(&[1.0, 2.0, 3.0]),
        Ok(Stats {
            count: 3,
            sum: 6.0,
            avg: 2.0
        })
    );
    for bad in [vec![], vec![1.0, f64::NAN], vec![f64::NEG_INFINITY]] {
        assert!(
            matches!(process(&bad), Err(TaskError::InvalidInput { .. })),
            "process({bad:?}) should be InvalidInput"
        );
    }
}

#[test]
fn run_task_turns_a_panic_in_user_code_into_an_error() {
    assert_eq!(run_task(Task::Call(|| 42)), Ok(Output::Value(42)));
    let outcome = run_task(Task::Call(|| panic!("user code failed")));
    assert_eq!(
        outcome,
        Err(TaskError::Panicked {
            message: "user code failed".to_owned()
        })
    );
}

#[test]
fn the_reference_tasks_succeed_and_fail_by_id() {
    let (replies, _, _) = serve(reference_tasks());
    let result = |id: TaskId| replies[&id].result.clone();

    assert_eq!(result(1), Ok(Output::Quotient(5.0)));
    assert_eq!(result(2), Err(TaskError::DivByZero));
    assert_eq!(
        result(3),
        Ok(Output::Map(map(&[("name", "Ada"), ("lang", "rust")])))
    );
    assert!(
        matches!(result(4), Err(TaskError::Parse { .. })),
        "task 4: {:?}",
        result(4)
    );
    assert_eq!(
        result(5),
        Ok(Output::Stats(Stats {
            count: 3,
            sum: 6.0,
            avg: 2.0
        }))
    );
    assert!(
        matches!(result(6), Err(TaskError::InvalidInput { .. })),
        "task 6: {:?}",
        result(6)
    );
}

#[test]
fn the_worker_tallies_three_successes_and_three_failures() {
    let (replies, _, tally) = serve(reference_tasks());
    assert_eq!(replies.len(), 6, "one reply per task");
    assert_eq!(
        tally,
        Tally {
            succeeded: 3,
            failed: 3
        }
    );
}

#[test]
fn the_same_worker_answers_a_seventh_task_after_the_failures() {
    let _alone = one_worker_at_a_time();
    let (replies, tally) = run_within(TIMEOUT, "the task worker", || {
        let worker = TaskWorker::spawn().expect("could not spawn the task worker");
        let mut replies = Vec::new();
        for (id, task) in reference_tasks() {
            worker.submit(id, task).expect("the worker stopped early");
            // One at a time: each reply arrives before the next task is sent.
            replies.push(recv_or_fail(
                worker.replies(),
                "a reply to a reference task",
            ));
        }
        worker
            .submit(7, Task::Divide { a: 9.0, b: 3.0 })
            .expect("the worker stopped after the failures");
        replies.push(recv_or_fail(worker.replies(), "the reply to task 7"));
        let tally = worker
            .shutdown()
            .expect("the worker did not shut down cleanly");
        (replies, tally)
    });
    let seventh = replies.last().unwrap();
    assert_eq!(seventh.id, 7);
    assert_eq!(seventh.result, Ok(Output::Quotient(3.0)));
    assert!(
        replies.iter().all(|r| r.thread == replies[0].thread),
        "every task must run on the same long-lived worker thread"
    );
    assert_eq!(
        tally,
        Tally {
            succeeded: 4,
            failed: 3
        }
    );
}

#[test]
fn a_panicking_task_does_not_kill_the_worker() {
    let (caller, (replies, worker_thread, tally)) = run_within(TIMEOUT, "serve", || {
        (
            thread::current().id(),
            serve(vec![
                (1, Task::Call(|| panic!("bug in user code"))),
                (2, Task::Divide { a: 1.0, b: 0.0 }),
                (3, Task::Call(|| 6 * 7)),
                (
                    4,
                    Task::Call(|| i64::from(thread::current().name() == Some(WORKER_NAME))),
                ),
            ]),
        )
    });
    assert_eq!(
        replies[&1].result,
        Err(TaskError::Panicked {
            message: "bug in user code".to_owned()
        })
    );
    assert_eq!(replies[&2].result, Err(TaskError::DivByZero));
    assert_eq!(replies[&3].result, Ok(Output::Value(42)));
    assert_eq!(
        replies[&4].result,
        Ok(Output::Value(1)),
        "tasks must run on the thread named {WORKER_NAME:?}"
    );
    for reply in replies.values() {
        assert_eq!(
            reply.thread, worker_thread,
            "task {} ran elsewhere",
            reply.id
        );
        assert_ne!(reply.thread, caller, "task {} ran on the caller", reply.id);
    }
    assert_eq!(
        tally,
        Tally {
            succeeded: 2,
            failed: 2
        }
    );
}

#[test]
fn replies_carry_the_id_they_were_sent_with_whatever_the_order() {
    let ids: [TaskId; 4] = [40, 7, 1_000, 3];
    let tasks = ids
        .iter()
        .map(|&id| {
            (
                id,
                Task::Divide {
                    a: id as f64,
                    b: 1.0,
                },
            )
        })
        .collect();
    let (replies, _, _) = serve(tasks);
    assert_eq!(
        replies.keys().copied().collect::<Vec<_>>(),
        [3, 7, 40, 1_000]
    );
    for (id, reply) in &replies {
        assert_eq!(reply.result, Ok(Output::Quotient(*id as f64)), "task {id}");
    }
}

/// Where each [`record_where_it_ran`] call ran, as the task itself saw it: only
/// `every_task_runs_on_the_one_worker_thread_it_reports` calls it.
static RAN_ON: Mutex<Vec<(ThreadId, Option<String>)>> = Mutex::new(Vec::new());

/// User code that writes down the thread it runs on: the test learns where the work ran from
/// the work, not from what the worker says about itself.
fn record_where_it_ran() -> i64 {
    let here = thread::current();
    RAN_ON
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((here.id(), here.name().map(str::to_owned)));
    7
}

fn record_then_panic() -> i64 {
    record_where_it_ran();
    panic!("recorded, then failed")
}

#[test]
fn every_task_runs_on_the_one_worker_thread_it_reports() {
    let (caller, (replies, worker_thread, tally)) = run_within(TIMEOUT, "serve", || {
        (
            thread::current().id(),
            serve(vec![
                (1, Task::Call(record_where_it_ran)),
                (2, Task::Call(record_then_panic)),
                (3, Task::Divide { a: 1.0, b: 0.0 }),
                (4, Task::Call(record_where_it_ran)),
                (5, Task::Call(record_where_it_ran)),
            ]),
        )
    });
    let ran_on = std::mem::take(&mut *RAN_ON.lock().unwrap_or_else(PoisonError::into_inner));
    assert_eq!(
        ran_on.len(),
        4,
        "the user code ran {} times, not 4",
        ran_on.len()
    );
    for (thread, name) in &ran_on {
        assert_ne!(*thread, caller, "a task ran on the caller's thread");
        assert_eq!(
            *thread, worker_thread,
            "a task ran on a thread other than the worker's, after a failure or a panic"
        );
        assert_eq!(
            name.as_deref(),
            Some(WORKER_NAME),
            "the worker's thread name"
        );
    }
    for reply in replies.values() {
        assert_eq!(
            reply.thread, worker_thread,
            "task {}: the thread it names",
            reply.id
        );
    }
    assert_eq!(replies[&5].result, Ok(Output::Value(7)));
    assert_eq!(
        tally,
        Tally {
            succeeded: 3,
            failed: 2
        }
    );
}

/// Set once the worker thread's [`Linger`] has been dropped, as that thread exits.
static LINGER_DROPPED: AtomicBool = AtomicBool::new(false);

/// Stands for the last thing a thread does as it ends: its thread-local values are dropped
/// after its closure has returned. Dropping this one takes a moment, so a `shutdown` that
/// returns without joining finds the worker still alive; one that joins waits it out.
struct Linger;

impl Drop for Linger {
    fn drop(&mut self) {
        // Only widens the window in which a worker left unjoined is seen; a correct `shutdown`
        // waits for it whatever it lasts.
        thread::sleep(Duration::from_millis(300));
        LINGER_DROPPED.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

/// User code that leaves a [`Linger`] in the worker thread's locals, dropped when it ends.
fn linger_as_the_thread_ends() -> i64 {
    LINGER.with(|slot| *slot.borrow_mut() = Some(Linger));
    1
}

#[test]
fn shutdown_returns_only_after_the_worker_thread_has_ended() {
    let _alone = one_worker_at_a_time();
    let tally = run_within(TIMEOUT, "the task worker", || {
        let worker = TaskWorker::spawn().expect("could not spawn the task worker");
        worker
            .submit(1, Task::Call(linger_as_the_thread_ends))
            .expect("the worker stopped early");
        worker
            .submit(2, Task::Divide { a: 1.0, b: 0.0 })
            .expect("the worker stopped early");
        // No reply is read: `shutdown` itself must wait for what is queued.
        let tally = worker.shutdown();
        assert!(
            LINGER_DROPPED.load(Ordering::SeqCst),
            "shutdown returned while the worker thread was still ending: join it"
        );
        tally
    })
    .expect("the worker did not shut down cleanly");
    assert_eq!(
        tally,
        Tally {
            succeeded: 1,
            failed: 1
        },
        "the tally counts every queued task"
    );
    // The kernel may list a thread that has just been joined for a moment longer while it
    // tears it down; a thread that is still running stays listed until the deadline.
    let deadline = Instant::now() + TIMEOUT;
    while let Some(names) = live_threads_named(WORKER_NAME) {
        if names.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a worker thread is still running after shutdown: {names:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}
