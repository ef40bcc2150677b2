//! Tests of exercise l1-ex04 (error recovery).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex04` runs
//! them against your file, `level-1-basics/src/exercises/ex04_error_recovery.rs`.

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

use shared::testing::{TIMEOUT, recv_or_fail, run_within};
use std::collections::BTreeMap;
use std::thread;
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

/// Submits `tasks` to a fresh worker, receives one reply per task, shuts the worker down and
/// returns the replies keyed by id, the worker's thread id and its tally.
fn serve(tasks: Vec<(TaskId, Task)>) -> (BTreeMap<TaskId, Reply>, thread::ThreadId, Tally) {
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
