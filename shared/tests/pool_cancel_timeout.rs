//! Cancellation and timeouts: a cancelled queued task settles at once and never runs, a
//! running one is told to stop, a finished one keeps its value; a timeout counts from the
//! moment the task starts (never from enqueue), and an overrun settles `TimedOut(limit)`
//! whether or not the task checks, and is counted.

mod common;

use common::{joined, settle};
use shared::pool::{TaskError, WorkerPool};
use shared::testing::recv_or_fail;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A one-thread pool whose worker is held at a gate; returns the release.
fn held_pool() -> (WorkerPool, crossbeam_channel::Sender<()>) {
    let pool = WorkerPool::new(1).unwrap();
    let release = common::hold_worker(&pool);
    (pool, release)
}

#[test]
fn cancelling_a_queued_task_settles_it_at_once_and_it_never_runs() {
    let (pool, release) = held_pool();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let target = pool
        .submit(move || flag.store(true, Ordering::SeqCst))
        .unwrap();
    let behind = pool.submit(|| "runs after the cancelled one").unwrap();
    assert!(!target.is_finished());
    target.cancel();
    assert!(
        target.is_finished(),
        "a cancelled queued task settles at once"
    );
    // The worker is still held: the handle settled without any worker touching it.
    assert_eq!(
        settle(target, "the cancelled task"),
        Err(TaskError::Cancelled)
    );
    drop(release);
    assert_eq!(
        settle(behind, "the task behind it"),
        Ok("runs after the cancelled one")
    );
    let pool = joined(pool);
    assert!(
        !ran.load(Ordering::SeqCst),
        "a task cancelled while queued ran"
    );
    let m = pool.metrics();
    assert_eq!((m.cancelled, m.completed), (1, 2));
}

#[test]
fn cancelling_a_running_task_that_checks_settles_it_cancelled() {
    let pool = WorkerPool::new(1).unwrap();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let (saw_tx, saw) = crossbeam_channel::bounded(1);
    let handle = pool
        .submit_with(move |cx| {
            started_tx.send(()).unwrap();
            while !cx.is_cancelled() {
                thread::yield_now();
            }
            saw_tx.send(cx.check().is_err()).unwrap();
            42
        })
        .unwrap();
    recv_or_fail(&started, "the task to start");
    handle.cancel();
    assert!(recv_or_fail(&saw, "the task to see the cancellation"));
    assert_eq!(
        settle(handle, "the cancelled task"),
        Err(TaskError::Cancelled)
    );
    let pool = joined(pool);
    assert_eq!(pool.metrics().cancelled, 1);
}

#[test]
fn cancelling_a_running_task_that_never_checks_discards_its_value() {
    let pool = WorkerPool::new(1).unwrap();
    let (release, gate) = common::gate();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let handle = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            common::wait_at(&gate);
            "discarded"
        })
        .unwrap();
    recv_or_fail(&started, "the task to start");
    handle.cancel();
    assert!(
        !handle.is_finished(),
        "a running task is only asked to stop"
    );
    drop(release);
    assert_eq!(
        settle(handle, "the cancelled task"),
        Err(TaskError::Cancelled)
    );
    joined(pool);
}

#[test]
fn cancelling_a_finished_task_keeps_its_value() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit(|| 5).unwrap();
    common::wait_until("the task has finished", || handle.is_finished());
    handle.cancel();
    assert_eq!(settle(handle, "the finished task"), Ok(5));
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.completed, m.cancelled), (1, 0));
}

#[test]
fn a_timeout_counts_from_the_start_not_from_the_time_spent_queued() {
    let limit = Duration::from_millis(200);
    let held_for = limit + Duration::from_millis(150);
    let pool = WorkerPool::new(1).unwrap();
    let (go_tx, go) = crossbeam_channel::bounded::<Instant>(1);
    // Holds the only worker until both timed tasks have been queued for longer than `limit`.
    pool.execute(move || {
        let queued_at = recv_or_fail(&go, "the time the timed tasks were queued");
        common::spin_until(queued_at + held_for);
    })
    .unwrap();
    let queued_at = Instant::now();
    let waited_on = pool
        .submit_with_timeout(limit, move |cx| (Instant::now(), cx.is_cancelled()))
        .unwrap();
    let joined_later = pool
        .submit_with_timeout(limit, move |cx| (Instant::now(), cx.is_cancelled()))
        .unwrap();
    go_tx.send(queued_at).unwrap();

    // Joined while still queued: the waiter must not start the clock at submission.
    let (started, cancelled) = settle(waited_on, "a timed task joined while queued")
        .expect("queue time must not count against the timeout");
    assert!(
        started - queued_at >= held_for,
        "the task really waited in the queue"
    );
    assert!(!cancelled, "is_cancelled was true at the task's very start");

    // Joined after it ran: the worker must not judge the overrun from the enqueue time.
    let pool = joined(pool);
    let (started, cancelled) = settle(joined_later, "a timed task joined after the run")
        .expect("queue time must not count against the timeout");
    assert!(started - queued_at >= held_for);
    assert!(!cancelled);
    assert_eq!(pool.metrics().timed_out, 0);
}

#[test]
fn a_task_that_checks_and_overruns_settles_timed_out_with_its_limit() {
    let pool = WorkerPool::new(1).unwrap();
    let limit = Duration::from_millis(20);
    let (stopped_tx, stopped) = crossbeam_channel::bounded(1);
    let handle = pool
        .submit_with_timeout(limit, move |cx| {
            while !cx.is_cancelled() {
                thread::yield_now();
            }
            stopped_tx.send(()).unwrap();
            "discarded"
        })
        .unwrap();
    assert_eq!(
        settle(handle, "an overrunning task"),
        Err(TaskError::TimedOut(limit))
    );
    recv_or_fail(&stopped, "the task to see its deadline and stop");
    let pool = joined(pool);
    assert_eq!(pool.metrics().timed_out, 1);
}

#[test]
fn a_waiter_gets_timed_out_at_the_limit_even_if_the_task_never_checks() {
    let pool = WorkerPool::new(1).unwrap();
    let limit = Duration::from_millis(20);
    let (release, gate) = common::gate();
    let handle = pool
        .submit_with_timeout(limit, move |_cx| {
            common::wait_at(&gate); // ignores its context entirely
            "discarded"
        })
        .unwrap();
    // The task cannot end before `release` is dropped, yet the handle settles.
    assert_eq!(
        settle(handle, "a task stuck past its limit"),
        Err(TaskError::TimedOut(limit))
    );
    assert_eq!(pool.metrics().running, 1, "the task itself still runs");
    drop(release);
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.timed_out, m.completed), (1, 0));
}

#[test]
fn a_task_that_never_checks_and_overruns_is_timed_out_when_joined_afterwards() {
    let pool = WorkerPool::new(1).unwrap();
    let limit = Duration::from_millis(15);
    let handle = pool
        .submit_with_timeout(limit, move |_cx| {
            common::spin_until(Instant::now() + limit * 2);
            "discarded"
        })
        .unwrap();
    let pool = joined(pool); // the task has run to its end; nobody waited during it
    assert_eq!(
        settle(handle, "an overrun task"),
        Err(TaskError::TimedOut(limit))
    );
    let m = pool.metrics();
    assert_eq!((m.timed_out, m.completed), (1, 0));
}

#[test]
fn join_timeout_hands_the_handle_back_while_the_task_is_unfinished() {
    let (pool, release) = held_pool();
    let handle = pool.submit(|| "eventually").unwrap();
    let handle = match handle.join_timeout(Duration::from_millis(5)) {
        Err(still_queued) => still_queued,
        Ok(outcome) => panic!("settled while the worker was held: {outcome:?}"),
    };
    drop(release);
    assert_eq!(settle(handle, "the task"), Ok("eventually"));
    joined(pool);
}

#[test]
fn shutdown_now_wakes_a_thread_waiting_on_a_queued_task() {
    let (pool, release) = held_pool();
    let handle = pool.submit(|| "never").unwrap();
    let (waiting_tx, waiting) = crossbeam_channel::bounded(1);
    let waiter = thread::spawn(move || {
        waiting_tx.send(()).unwrap();
        handle.join() // no timeout of its own: the settle must wake it
    });
    recv_or_fail(&waiting, "the waiter to start waiting");
    assert_eq!(pool.shutdown_now(), 1);
    let outcome = shared::testing::join_within(waiter, shared::testing::TIMEOUT, "the waiter");
    assert_eq!(outcome.unwrap(), Err(TaskError::PoolShutDown));
    drop(release);
    joined(pool);
}

#[test]
fn a_timeout_of_duration_max_is_no_limit_in_practice() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit_with_timeout(Duration::MAX, |_cx| 5).unwrap();
    assert_eq!(settle(handle, "a task with an endless timeout"), Ok(5));
    assert_eq!(pool.metrics().threads, 1, "the worker survived");
    assert_eq!(settle(pool.submit(|| 6).unwrap(), "the next task"), Ok(6));
    joined(pool);
}
