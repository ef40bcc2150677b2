//! Waiting on a pool from inside it: joining an unfinished task or the pool itself from a
//! worker is refused instead of deadlocking, while `scope`, `map` and a blocking submission on
//! a full queue run the work inline and complete.

mod common;

use common::{joined, settle};
use shared::pool::{SubmitError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, run_within};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    let (joined_result, timed_result, inner) = on_worker(&pool, |pool| {
        let a = pool.submit(|| 1).unwrap();
        let b = pool.submit(|| 2).unwrap();
        // Only one thread, and it is this one: a plain wait would never end.
        let joined_result = a.join();
        let timed_result = b.join_timeout(TIMEOUT).map_err(|_| "handed back");
        let c = pool.submit(|| 3).unwrap();
        (joined_result, timed_result, c)
    });
    assert_eq!(joined_result, Err(TaskError::WouldDeadlock));
    assert_eq!(timed_result, Ok(Err(TaskError::WouldDeadlock)));
    // Outside the pool, waiting is fine.
    assert_eq!(settle(inner, "a task submitted from a worker"), Ok(3));
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
fn a_blocking_submit_from_a_worker_on_a_full_queue_runs_the_task_inline() {
    let pool = one_thread(1);
    let executed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executed);
    let (queued, settled_at_return, inline_value) = on_worker(&pool, move |pool| {
        let queued = pool.submit(|| "queued").unwrap(); // fills the queue of one
        let me = thread::current().id();
        let inline = pool.submit(move || thread::current().id() == me).unwrap();
        let settled_at_return = inline.is_finished();
        // Already settled: it ran right here, so joining it from the worker is fine.
        let value = inline.join();
        pool.execute(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        (queued, settled_at_return, value)
    });
    assert!(
        settled_at_return,
        "the handle had settled when submit returned"
    );
    assert_eq!(
        inline_value,
        Ok(true),
        "the task ran on the submitting worker"
    );
    assert_eq!(executed.load(Ordering::SeqCst), 1, "execute ran inline too");
    assert_eq!(settle(queued, "the queued task"), Ok("queued"));
    let pool = finish(pool);
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed), (4, 4));
}

#[test]
fn a_task_run_inline_on_a_worker_reports_that_workers_index() {
    let pool = one_thread(1);
    let (inline_index, queued) = on_worker(&pool, |pool| {
        let queued = pool.submit(|| ()).unwrap(); // fills the queue of one
        let inline = pool.submit_with(|cx| cx.worker_index()).unwrap(); // runs inline
        (inline.join(), queued)
    });
    settle(queued, "the queued task").unwrap();
    // "The index of the worker running this task: 0.. in the order the pool started its
    // threads": the only worker is 0, and it is the one that ran the inline task.
    assert_eq!(inline_index, Ok(0));
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
