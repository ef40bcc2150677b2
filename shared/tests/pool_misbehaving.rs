//! The pool keeps its promises when user code misbehaves where the pool does not run it as a
//! task: destructors that panic (of a result nobody waits for, of a cancelled or timed-out
//! task's value, of a closure discarded unrun), a `thread_name` function that panics or names
//! a thread with a NUL byte, and two threads joining the pool at once.
//!
//! A one-thread pool makes each failure certain: if the one worker died, every later handle
//! would wait forever, so each test submits a task after the misbehaviour and settles it
//! within a deadline.

mod common;

use common::{EXPECTED, gate, hold_worker, joined, quiet_expected_panics, settle, wait_at};
use shared::pool::{BuildError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, recv_or_fail, run_within};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A value whose `Drop` panics (with the quiet hook's marker, so the test output stays clean).
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{EXPECTED}: a destructor panicked");
    }
}

/// The pool still runs a task and still has its one thread.
#[track_caller]
fn still_serves(pool: &WorkerPool) {
    let handle = pool.submit(|| 42).expect("the pool is open");
    assert_eq!(settle(handle, "a task after the misbehaviour"), Ok(42));
    assert_eq!(pool.metrics().threads, 1, "the worker is still alive");
}

#[test]
fn a_result_whose_handle_was_dropped_may_panic_as_it_is_freed() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let release = hold_worker(&pool);
    // Dropped while queued: the worker holds the last reference and frees the result.
    drop(pool.submit(|| PanicsOnDrop).unwrap());
    drop(release);
    still_serves(&pool);
    let pool = joined(pool);
    assert_eq!(
        pool.metrics().completed,
        3,
        "holder, dropped-handle task, check"
    );
}

#[test]
fn the_value_of_a_cancelled_task_may_panic_as_it_is_discarded() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let (release, parked) = gate();
    let handle = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            wait_at(&parked);
            PanicsOnDrop
        })
        .unwrap();
    recv_or_fail(&started, "the task to start");
    handle.cancel(); // running: its value will be discarded
    drop(release);
    assert!(matches!(
        settle(handle, "the cancelled task"),
        Err(TaskError::Cancelled)
    ));
    still_serves(&pool);
}

#[test]
fn the_value_of_a_timed_out_task_may_panic_as_it_is_discarded() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let limit = Duration::from_millis(1);
    let handle = pool
        .submit_with_timeout(limit, move |_cx| {
            // Overrun without looking: the clock alone decides.
            let until = Instant::now() + limit * 20;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            PanicsOnDrop
        })
        .unwrap();
    assert!(matches!(
        settle(handle, "the timed-out task"),
        Err(TaskError::TimedOut(_))
    ));
    still_serves(&pool);
}

#[test]
fn the_closure_of_a_task_cancelled_while_queued_may_panic_as_it_is_freed() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let release = hold_worker(&pool);
    let doomed = PanicsOnDrop;
    let handle = pool
        .submit(move || {
            let _keep = &doomed;
        })
        .unwrap();
    handle.cancel();
    drop(handle); // the worker now frees the closure when it reaches the job
    drop(release);
    still_serves(&pool);
}

#[test]
fn shutdown_now_settles_every_queued_task_even_if_a_closure_panics_as_it_is_dropped() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let release = hold_worker(&pool);
    let doomed = PanicsOnDrop;
    pool.execute(move || {
        let _keep = &doomed;
    })
    .unwrap();
    let behind: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
    assert_eq!(pool.shutdown_now(), 4, "every queued task is removed");
    for handle in behind {
        assert_eq!(
            settle(handle, "a task queued behind the panicking closure"),
            Err(TaskError::PoolShutDown)
        );
    }
    drop(release);
    joined(pool);
}

#[test]
fn a_scope_whose_refused_closure_panics_as_it_is_dropped_raises_instead_of_hanging() {
    quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    pool.close();
    let doomed = PanicsOnDrop;
    let outcome = run_within(TIMEOUT, "a scope on a closed pool", move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(move || {
                    let _keep = &doomed;
                })
            })
        }))
        .map_err(|payload| shared::testing::panic_message(payload.as_ref()))
    });
    let message = outcome.expect_err("the scope raises a panic");
    assert!(
        message.contains(EXPECTED) || message.contains("shut down") || message.contains("closed"),
        "{message}"
    );
}

#[test]
fn a_second_join_waits_for_the_queued_tasks_like_the_first() {
    let pool = Arc::new(WorkerPool::new(1).unwrap());
    let release = hold_worker(&pool);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    // Two joiners; neither may return before the three queued tasks have run.
    let (returned_tx, returned) = crossbeam_channel::unbounded();
    let (joining_tx, joining) = crossbeam_channel::unbounded();
    let joiners: Vec<_> = (0..2)
        .map(|_| {
            let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
            let (returned_tx, joining_tx) = (returned_tx.clone(), joining_tx.clone());
            thread::spawn(move || {
                joining_tx.send(()).unwrap();
                pool.join().unwrap();
                returned_tx.send(ran.load(Ordering::SeqCst)).unwrap();
            })
        })
        .collect();
    for _ in 0..2 {
        recv_or_fail(&joining, "a joiner to call join()");
    }
    // The worker is held, so no correct join can return yet. A join that does not wait
    // returns at once: give it a moment to show itself (this wait can only miss a wrong
    // answer, never fail a right one).
    shared::testing::assert_quiet(&returned, Duration::from_millis(100), "the worker is held");
    drop(release);
    for _ in 0..2 {
        assert_eq!(
            recv_or_fail(&returned, "a joiner to return"),
            3,
            "a join returned before every queued task ran"
        );
    }
    for joiner in joiners {
        shared::testing::join_within(joiner, TIMEOUT, "a joiner").unwrap();
    }
}

#[test]
fn is_finished_turns_true_once_a_timeout_has_expired() {
    let pool = WorkerPool::new(1).unwrap();
    let (release, parked) = gate();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let limit = Duration::from_millis(5);
    let handle = pool
        .submit_with_timeout(limit, move |_cx| {
            started_tx.send(()).unwrap();
            wait_at(&parked); // never looks at its context
        })
        .unwrap();
    recv_or_fail(&started, "the task to start");
    common::wait_until("is_finished() after the timeout", || handle.is_finished());
    // `is_finished` promised that `join` returns at once: it does, with the timeout.
    let (tx, rx) = crossbeam_channel::bounded(1);
    let joiner = thread::spawn(move || tx.send(handle.join()).unwrap());
    assert_eq!(
        recv_or_fail(&rx, "join() after is_finished()"),
        Err(TaskError::TimedOut(limit))
    );
    shared::testing::join_within(joiner, TIMEOUT, "the joiner").unwrap();
    drop(release);
    joined(pool);
}

#[test]
fn a_thread_name_with_a_nul_byte_is_a_build_error() {
    let err = WorkerPool::builder()
        .threads(2)
        .thread_name(|i| format!("bad\0name-{i}"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::Invalid(m) if m.contains("NUL")),
        "{err}"
    );
}

#[test]
fn a_panicking_thread_name_is_a_build_error() {
    quiet_expected_panics();
    let err = WorkerPool::builder()
        .threads(2)
        .thread_name(|_| panic!("{EXPECTED}: no name"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::Invalid(m) if m.contains("panicked")),
        "{err}"
    );
}

#[test]
fn an_elastic_hire_whose_name_fails_returns_the_place_and_the_task_still_runs() {
    quiet_expected_panics();
    let pool = WorkerPool::builder()
        .min_threads(1)
        .max_threads(3)
        .thread_name(|i| {
            assert!(i == 0, "{EXPECTED}: only the first worker has a name");
            format!("named-{i}")
        })
        .build()
        .unwrap();
    let release = hold_worker(&pool);
    // The worker is busy: this submission tries to hire, and the name function panics.
    let handle = pool
        .submit(|| 7)
        .expect("the task is accepted and its handle returned");
    assert_eq!(
        pool.metrics().threads,
        1,
        "the failed hire gave its place back"
    );
    drop(release);
    assert_eq!(settle(handle, "the task whose hire failed"), Ok(7));
    joined(pool);
}

#[test]
fn a_worker_state_factory_that_panics_for_a_first_worker_is_a_build_error() {
    quiet_expected_panics();
    let err = WorkerPool::builder()
        .threads(2)
        .worker_state(|i| {
            assert!(i == 0, "{EXPECTED}: no state for worker {i}");
            i
        })
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::WorkerState(m) if m.contains("no state for worker 1")),
        "{err}"
    );
}

#[test]
fn a_later_worker_whose_state_fails_leaves_and_the_others_run_the_task() {
    quiet_expected_panics();
    let pool = WorkerPool::builder()
        .min_threads(1)
        .max_threads(2)
        .worker_state(|i| {
            assert!(i == 0, "{EXPECTED}: no state for worker {i}");
            i
        })
        .build()
        .unwrap();
    let release = hold_worker(&pool);
    // Worker 0 is busy: this task hires worker 1, whose factory panics; it waits for worker 0.
    let handle = pool.submit_with(|cx| cx.state::<usize>().copied()).unwrap();
    drop(release);
    assert_eq!(settle(handle, "the task"), Ok(Some(0)));
    let pool = joined(pool);
    assert_eq!(pool.metrics().threads, 0);
}
