//! Waiting on a pool from inside it: joining an unfinished task or the pool itself from a
//! worker, and a blocking submission into its full queue, are refused instead of deadlocking;
//! a wait with a limit is allowed (it cannot wait forever); `scope` and `map` run the work
//! inline and complete.

mod common;

use common::{joined, settle};
use shared::pool::{SubmitError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, run_within};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Runs `task` on the pool's worker and returns its value, all within [`TIMEOUT`].
fn on_worker<T: Send + 'static>(
    pool: &Arc<WorkerPool>,
    task: impl FnOnce(Arc<WorkerPool>) -> T + Send + 'static,
) -> T {
    let inner = Arc::clone(pool);
    let outer = pool.submit(move || task(inner)).unwrap();
    run_within(TIMEOUT, "the outer task", move || outer.join()).expect("the outer task succeeds")
}

fn one_thread(capacity: usize) -> Arc<WorkerPool> {
    Arc::new(
        WorkerPool::builder()
            .threads(1)
            .queue_capacity(capacity)
            .build()
            .unwrap(),
    )
}

fn finish(pool: Arc<WorkerPool>) -> WorkerPool {
    joined(Arc::into_inner(pool).expect("no task holds the pool any more"))
}

#[test]
fn joining_an_unfinished_task_of_the_same_pool_from_a_worker_is_refused() {
    let pool = one_thread(8);
    let (joined_result, inner) = on_worker(&pool, |pool| {
        let a = pool.submit(|| 1).unwrap();
        // Only one thread, and it is this one: a plain wait would never end.
        let joined_result = a.join();
        let c = pool.submit(|| 3).unwrap();
        (joined_result, c)
    });
    assert_eq!(joined_result, Err(TaskError::WouldDeadlock));
    // Outside the pool, waiting is fine.
    assert_eq!(settle(inner, "a task submitted from a worker"), Ok(3));
    finish(pool);
}

#[test]
fn a_wait_with_a_limit_from_a_worker_is_allowed_and_hands_the_handle_back_at_its_limit() {
    let pool = one_thread(8);
    let handed_back = on_worker(&pool, |pool| {
        let b = pool.submit(|| 2).unwrap();
        // The only worker is this one, so the task cannot run during the wait: it ends at
        // its limit and hands the handle back instead of refusing or hanging.
        b.join_timeout(Duration::from_millis(20))
            .expect_err("the task cannot have run: its only worker is waiting")
    });
    assert_eq!(
        settle(handed_back, "the task waited on from a worker"),
        Ok(2)
    );
    finish(pool);
}

#[test]
fn a_wait_with_a_limit_from_a_worker_gets_a_task_another_worker_runs() {
    let pool = Arc::new(WorkerPool::builder().threads(2).build().unwrap());
    let value = on_worker(&pool, |pool| {
        let sibling = pool.submit(|| 40 + 2).unwrap();
        match sibling.join_timeout(TIMEOUT) {
            Ok(result) => result,
            Err(_) => panic!("the other worker did not run the task within {TIMEOUT:?}"),
        }
    });
    assert_eq!(value, Ok(42));
    finish(pool);
}

#[test]
fn joining_a_settled_task_from_a_worker_is_allowed() {
    let pool = one_thread(8);
    let first = pool.submit(|| 10).unwrap();
    common::wait_until("the first task has settled", || first.is_finished());
    let value = on_worker(&pool, move |_| first.join());
    assert_eq!(value, Ok(10));
    finish(pool);
}

#[test]
fn joining_the_pool_from_one_of_its_workers_is_refused_and_leaves_it_open() {
    let pool = one_thread(8);
    let (refused, closed) = on_worker(&pool, |pool| (pool.join().is_err(), pool.is_closed()));
    assert!(refused, "join from a worker must be refused");
    assert!(!closed, "a refused join must not close the pool");
    assert_eq!(
        settle(pool.submit(|| "still open").unwrap(), "a later task"),
        Ok("still open")
    );
    finish(pool);
}

#[test]
fn scope_and_map_from_a_worker_of_the_same_pool_run_inline_and_complete() {
    let pool = one_thread(8);
    let (chunks, mapped, outer_thread, inner_threads) = on_worker(&pool, |pool| {
        let mut data = vec![0u32; 64];
        let threads = std::sync::Mutex::new(Vec::new());
        pool.scope(|s| {
            for (i, chunk) in data.chunks_mut(16).enumerate() {
                let threads = &threads;
                s.spawn(move || {
                    threads.lock().unwrap().push(thread::current().id());
                    chunk.fill(i as u32 + 1);
                });
            }
        });
        let mapped = pool.map(0..10u32, |x| x * 2);
        (
            data,
            mapped,
            thread::current().id(),
            threads.into_inner().unwrap(),
        )
    });
    let expected: Vec<u32> = (1..=4).flat_map(|v| [v; 16]).collect();
    assert_eq!(chunks, expected);
    assert_eq!(mapped, Ok((0..10).map(|x| x * 2).collect()));
    assert_eq!(inner_threads.len(), 4);
    assert!(
        inner_threads.iter().all(|&id| id == outer_thread),
        "ran inline"
    );
    finish(pool);
}

#[test]
fn a_blocking_submit_from_a_worker_on_a_full_queue_hands_the_task_back() {
    let pool = one_thread(1);
    let (queued, submitted, executed) = on_worker(&pool, |pool| {
        let queued = pool.submit(|| "queued").unwrap(); // fills the queue of one
        let submitted = matches!(pool.submit(|| 1), Err(SubmitError::Full(t)) if t() == 1);
        let executed = matches!(pool.execute(|| ()), Err(SubmitError::Full(_)));
        (queued, submitted, executed)
    });
    assert!(
        submitted,
        "submit from a worker into its full queue hands the task back"
    );
    assert!(
        executed,
        "execute from a worker into its full queue hands the task back"
    );
    assert_eq!(settle(queued, "the queued task"), Ok("queued"));
    let m = finish(pool).metrics();
    assert_eq!((m.submitted, m.completed, m.rejected), (2, 2, 2));
}

#[test]
fn a_task_holding_a_lock_that_submits_work_needing_it_into_a_full_queue_does_not_deadlock() {
    let pool = one_thread(1);
    let lock = Arc::new(Mutex::new(0u32));
    let inner_lock = Arc::clone(&lock);
    let (queued, handed_back) = on_worker(&pool, move |pool| {
        let queued = pool.submit(|| "queued").unwrap(); // fills the queue of one
        let mut held = inner_lock.lock().unwrap();
        let needs_lock = {
            let lock = Arc::clone(&inner_lock);
            move || *lock.lock().unwrap() += 1
        };
        // Running it here, under `held`, would lock the same mutex twice on one thread.
        let handed_back = match pool.submit(needs_lock) {
            Err(SubmitError::Full(task)) => Some(task),
            _ => None,
        };
        *held += 10;
        drop(held);
        (queued, handed_back)
    });
    let task = handed_back.expect("the task was handed back, not run under the lock");
    task(); // outside the lock, it runs
    assert_eq!(*lock.lock().unwrap(), 11);
    assert_eq!(settle(queued, "the queued task"), Ok("queued"));
    finish(pool);
}

#[test]
fn try_submit_and_submit_timeout_from_a_worker_on_a_full_queue_hand_the_task_back() {
    let pool = one_thread(1);
    let (queued, full, timed_out) = on_worker(&pool, |pool| {
        let queued = pool.submit(|| "queued").unwrap();
        let full = matches!(pool.try_submit(|| 1), Err(SubmitError::Full(t)) if t() == 1);
        let timed_out = matches!(
            pool.submit_timeout(|| 2, Duration::from_millis(5)),
            Err(SubmitError::Timeout(t, _)) if t() == 2
        );
        (queued, full, timed_out)
    });
    assert!(full);
    assert!(timed_out);
    assert_eq!(settle(queued, "the queued task"), Ok("queued"));
    let pool = finish(pool);
    assert_eq!(pool.metrics().rejected, 2);
}
