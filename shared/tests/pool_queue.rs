//! The bounded queue: `try_submit`/`try_execute` fill exactly the capacity and then hand the
//! task back (`Full`), `submit_timeout` gives up with `Timeout`, a blocking `submit` waits and
//! goes in when room appears, refusals are counted; an unbounded queue never refuses.

mod common;

use common::{joined, settle};
use crossbeam_channel::{Receiver, Sender};
use shared::pool::{SubmitError, TaskHandle, WorkerPool};
use shared::testing::{TIMEOUT, assert_quiet, join_within, recv_or_fail};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A pool of one thread, held busy by a task that waits at the returned gate, with an empty
/// queue of `capacity`. Drop the sender to let the busy task end.
fn busy_pool(capacity: usize) -> (WorkerPool, TaskHandle<()>, Sender<()>) {
    let pool = WorkerPool::builder()
        .threads(1)
        .queue_capacity(capacity)
        .build()
        .unwrap();
    let (release, gate): (Sender<()>, Receiver<()>) = common::gate();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let blocker = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            common::wait_at(&gate);
        })
        .unwrap();
    recv_or_fail(&started, "the busy task to start");
    (pool, blocker, release)
}

#[test]
fn try_submit_fills_exactly_the_capacity_then_hands_the_same_task_back() {
    const CAPACITY: usize = 3;
    let (pool, blocker, release) = busy_pool(CAPACITY);
    assert_eq!(pool.capacity(), Some(CAPACITY));
    let accepted: Vec<_> = (0..CAPACITY)
        .map(|i| {
            pool.try_submit(move || i * 10)
                .unwrap_or_else(|e| panic!("slot {i} of {CAPACITY} refused: {e}"))
        })
        .collect();
    assert_eq!(pool.metrics().queued, CAPACITY as u64);

    let marker = String::from("the refused closure itself");
    match pool.try_submit(move || marker) {
        Err(SubmitError::Full(task)) => assert_eq!(task(), "the refused closure itself"),
        other => panic!("expected Full, got {other:?}"),
    }
    let (ran_tx, ran) = crossbeam_channel::bounded(1);
    match pool.try_execute(move || ran_tx.send(99).unwrap()) {
        Err(SubmitError::Full(task)) => {
            task();
            assert_eq!(ran.try_recv(), Ok(99));
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(pool.metrics().rejected, 2);
    assert_eq!(pool.metrics().queued, CAPACITY as u64);

    drop(release);
    assert_eq!(settle(blocker, "the busy task"), Ok(()));
    for (i, handle) in accepted.into_iter().enumerate() {
        assert_eq!(settle(handle, "a queued task"), Ok(i * 10));
    }
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed, m.rejected), (4, 4, 2));
}

#[test]
fn submit_timeout_on_a_full_queue_gives_up_with_timeout_and_the_task() {
    let (pool, blocker, release) = busy_pool(1);
    let queued = pool.try_submit(|| "queued").unwrap();
    let wait = Duration::from_millis(20);
    match pool.submit_timeout(|| "refused after waiting", wait) {
        Err(SubmitError::Timeout(task, waited)) => {
            assert_eq!(waited, wait);
            assert_eq!(task(), "refused after waiting");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(pool.metrics().rejected, 1);
    drop(release);
    settle(blocker, "the busy task").unwrap();
    assert_eq!(settle(queued, "the queued task"), Ok("queued"));
    let pool = joined(pool);
    assert_eq!(pool.metrics().submitted, 2);
}

#[test]
fn a_blocking_submit_on_a_full_queue_waits_then_goes_in_when_room_appears() {
    let (pool, blocker, release) = busy_pool(1);
    let queued = pool.try_submit(|| "first").unwrap();
    let pool = Arc::new(pool);
    let (about_tx, about) = crossbeam_channel::bounded(1);
    let (done_tx, done) = crossbeam_channel::bounded(1);
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            about_tx.send(()).unwrap();
            let handle = pool.submit(|| "waited for room").map_err(|e| e.to_string());
            done_tx.send(()).unwrap();
            handle
        })
    };
    recv_or_fail(&about, "the submitter to start");
    // The queue stays full while the worker is held: the submit cannot have returned.
    assert_quiet(&done, Duration::from_millis(30), "while the queue is full");
    assert_eq!(pool.metrics().queued, 1);
    drop(release);
    recv_or_fail(&done, "the blocked submit to return once there is room");
    let handle = join_within(submitter, TIMEOUT, "the submitter")
        .unwrap()
        .expect("the blocked submit was accepted");
    settle(blocker, "the busy task").unwrap();
    assert_eq!(settle(queued, "the first queued task"), Ok("first"));
    assert_eq!(
        settle(handle, "the task that waited"),
        Ok("waited for room")
    );
    let pool = Arc::into_inner(pool).expect("the submitter has ended");
    let pool = joined(pool);
    assert_eq!(pool.metrics().rejected, 0);
}

#[test]
fn a_blocking_execute_on_a_full_queue_waits_then_goes_in_when_room_appears() {
    let (pool, blocker, release) = busy_pool(1);
    pool.execute(|| ()).unwrap(); // fills the queue
    let pool = Arc::new(pool);
    let (ran_tx, ran) = crossbeam_channel::bounded(1);
    let (done_tx, done) = crossbeam_channel::bounded(1);
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            let accepted = pool.execute(move || ran_tx.send("ran").unwrap()).is_ok();
            done_tx.send(()).unwrap();
            accepted
        })
    };
    assert_quiet(&done, Duration::from_millis(30), "while the queue is full");
    drop(release);
    recv_or_fail(&done, "the blocked execute to return");
    assert!(join_within(submitter, TIMEOUT, "the submitter").unwrap());
    assert_eq!(recv_or_fail(&ran, "the task that waited"), "ran");
    settle(blocker, "the busy task").unwrap();
    let pool = Arc::into_inner(pool).expect("the submitter has ended");
    joined(pool);
}

#[test]
fn an_unbounded_queue_never_refuses() {
    let pool = WorkerPool::builder()
        .threads(1)
        .unbounded_queue()
        .build()
        .unwrap();
    assert_eq!(pool.capacity(), None);
    let release = common::hold_worker(&pool);
    let handles: Vec<_> = (0..5_000u32)
        .map(|i| {
            pool.try_submit(move || i)
                .expect("an unbounded queue has room")
        })
        .collect();
    assert_eq!(pool.metrics().queued, 5_000);
    drop(release);
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(settle(handle, "a queued task"), Ok(i as u32));
    }
    let pool = joined(pool);
    assert_eq!(pool.metrics().rejected, 0);
}

#[test]
fn submit_timeout_of_duration_max_on_a_full_queue_waits_for_room() {
    let (pool, blocker, release) = busy_pool(1);
    pool.execute(|| ()).unwrap(); // fills the queue
    let pool = Arc::new(pool);
    let (about_tx, about) = crossbeam_channel::bounded(1);
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            about_tx.send(()).unwrap();
            pool.submit_timeout(|| "waited", Duration::MAX)
                .map_err(|e| e.to_string())
        })
    };
    recv_or_fail(&about, "the submitter to start");
    drop(release);
    let handle = join_within(submitter, TIMEOUT, "the submitter")
        .expect("submit_timeout panicked")
        .expect("accepted once there was room");
    assert_eq!(settle(handle, "the task"), Ok("waited"));
    settle(blocker, "the busy task").unwrap();
    let pool = joined(Arc::into_inner(pool).unwrap());
    let m = pool.metrics();
    assert_eq!(m.submitted, m.completed, "every accepted task completed");
}
