//! Lifecycle: a closed pool refuses work and hands it back; close, drop and join run every
//! queued task exactly once and wait for every thread; `shutdown_now` drops the queue and asks
//! the running tasks to stop; close is idempotent and never hangs on a blocked submitter.

mod common;

use common::{joined, settle};
use shared::pool::{SubmitError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, join_within, recv_or_fail, run_within};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread;

/// Occupies every worker of `pool` with a task parked at `gate`; returns once all have started.
fn park_all(pool: &WorkerPool, threads: usize, gate: &crossbeam_channel::Receiver<()>) {
    let (started_tx, started) = crossbeam_channel::unbounded();
    for _ in 0..threads {
        let (started_tx, gate) = (started_tx.clone(), gate.clone());
        pool.execute(move || {
            started_tx.send(()).unwrap();
            common::wait_at(&gate);
        })
        .unwrap();
    }
    for _ in 0..threads {
        recv_or_fail(&started, "a worker to park");
    }
}

/// `n` counters, one per task, to prove each ran exactly once.
fn slots(n: usize) -> Arc<Vec<AtomicU8>> {
    Arc::new((0..n).map(|_| AtomicU8::new(0)).collect())
}

/// Queues one task per slot; task `i` adds one to slot `i`.
fn queue_counting_tasks(pool: &WorkerPool, slots: &Arc<Vec<AtomicU8>>) {
    for i in 0..slots.len() {
        let slots = Arc::clone(slots);
        pool.execute(move || {
            slots[i].fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
}

fn assert_each_ran_once(slots: &[AtomicU8]) {
    for (i, slot) in slots.iter().enumerate() {
        let runs = slot.load(Ordering::SeqCst);
        assert_eq!(runs, 1, "task {i} ran {runs} times");
    }
}

#[test]
fn a_closed_pool_refuses_every_kind_of_submission_and_hands_the_task_back() {
    let pool = WorkerPool::new(1).unwrap();
    assert!(!pool.is_closed());
    pool.close();
    assert!(pool.is_closed());
    assert!(matches!(pool.submit(|| 1), Err(SubmitError::Closed(t)) if t() == 1));
    assert!(matches!(pool.try_submit(|| 2), Err(SubmitError::Closed(t)) if t() == 2));
    assert!(matches!(
        pool.submit_timeout(|| 3, TIMEOUT),
        Err(SubmitError::Closed(t)) if t() == 3
    ));
    let refused = pool.submit_with(|cx| cx.worker_index() + 4);
    assert!(matches!(refused, Err(SubmitError::Closed(_))));
    let refused = pool.submit_with_timeout(TIMEOUT, |_cx| 5);
    assert!(matches!(refused, Err(SubmitError::Closed(_))));
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let task = pool
        .execute(move || flag.store(true, Ordering::SeqCst))
        .unwrap_err()
        .into_task();
    assert!(!ran.load(Ordering::SeqCst), "refused, so not run");
    task();
    assert!(
        ran.load(Ordering::SeqCst),
        "the handed-back task is the one submitted"
    );
    assert!(matches!(
        pool.try_execute(|| ()),
        Err(SubmitError::Closed(_))
    ));
    assert_eq!(
        pool.map(0..3, |x| x),
        Err(TaskError::PoolShutDown),
        "map on a closed pool"
    );
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.submitted, m.rejected), (0, 7));
}

#[test]
fn close_with_a_full_backlog_runs_every_queued_task_exactly_once() {
    const TASKS: usize = 2_000;
    let pool = WorkerPool::builder()
        .threads(2)
        .unbounded_queue()
        .build()
        .unwrap();
    let (release, gate) = common::gate();
    park_all(&pool, 2, &gate);
    let slots = slots(TASKS);
    queue_counting_tasks(&pool, &slots);
    pool.close();
    assert!(matches!(pool.execute(|| ()), Err(SubmitError::Closed(_))));
    assert_eq!(
        pool.metrics().queued,
        TASKS as u64,
        "close runs nothing early"
    );
    drop(release);
    let pool = joined(pool);
    assert_each_ran_once(&slots);
    let m = pool.metrics();
    assert_eq!(
        (m.submitted, m.completed, m.rejected),
        (TASKS as u64 + 2, TASKS as u64 + 2, 1)
    );
}

#[test]
fn drop_is_close_plus_join_every_queued_task_runs_before_drop_returns() {
    const TASKS: usize = 1_000;
    let exits = Arc::new(AtomicUsize::new(0));
    let pool = {
        let exits = Arc::clone(&exits);
        WorkerPool::builder()
            .threads(2)
            .queue_capacity(TASKS)
            .on_thread_exit(move |_| {
                exits.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap()
    };
    let (release, gate) = common::gate();
    park_all(&pool, 2, &gate);
    let slots = slots(TASKS);
    queue_counting_tasks(&pool, &slots);
    let (dropping_tx, dropping) = crossbeam_channel::bounded(1);
    let dropper = thread::spawn(move || {
        dropping_tx.send(()).unwrap();
        drop(pool);
    });
    recv_or_fail(&dropping, "the dropper to start");
    drop(release); // the parked tasks end; the drop must now run the whole backlog
    join_within(dropper, TIMEOUT, "the thread dropping the pool").unwrap();
    assert_each_ran_once(&slots);
    assert_eq!(
        exits.load(Ordering::SeqCst),
        2,
        "every worker exited before drop returned"
    );
}

#[test]
fn join_returns_only_after_every_worker_thread_has_exited() {
    const THREADS: usize = 3;
    let (hook_tx, hook_entered) = crossbeam_channel::unbounded();
    let (hook_release, hook_gate) = common::gate();
    let starts = Arc::new(AtomicUsize::new(0));
    let exits = Arc::new(AtomicUsize::new(0));
    let pool = {
        let (starts, exits) = (Arc::clone(&starts), Arc::clone(&exits));
        WorkerPool::builder()
            .threads(THREADS)
            .on_thread_start(move |_| {
                starts.fetch_add(1, Ordering::SeqCst);
            })
            .on_thread_exit(move |index| {
                hook_tx.send(index).unwrap();
                common::wait_at(&hook_gate); // the thread cannot end before the test says so
                exits.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap()
    };
    for _ in 0..50 {
        pool.execute(|| ()).unwrap();
    }
    let pool = Arc::new(pool);
    let joiner = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || pool.join())
    };
    let mut indexes: Vec<usize> = (0..THREADS)
        .map(|_| recv_or_fail(&hook_entered, "a worker's exit hook"))
        .collect();
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        [0, 1, 2],
        "on_thread_exit runs once per worker, with its index"
    );
    // Every worker is inside its exit hook, held there: join cannot have returned.
    assert!(
        !joiner.is_finished(),
        "join returned while workers were still running"
    );
    drop(hook_release);
    join_within(joiner, TIMEOUT, "pool.join()")
        .unwrap()
        .unwrap();
    assert_eq!(exits.load(Ordering::SeqCst), THREADS);
    assert_eq!(starts.load(Ordering::SeqCst), THREADS);
    assert_eq!(pool.metrics().threads, 0);
    assert!(hook_entered.try_recv().is_err(), "an exit hook ran twice");
}

#[test]
fn shutdown_now_removes_the_queued_tasks_and_stops_the_running_ones() {
    let pool = WorkerPool::new(2).unwrap();
    let (started_tx, started) = crossbeam_channel::unbounded();
    let running: Vec<_> = (0..2)
        .map(|i| {
            let started_tx = started_tx.clone();
            pool.submit_with(move |cx| {
                started_tx.send(()).unwrap();
                while !cx.is_cancelled() {
                    thread::yield_now();
                }
                i
            })
            .unwrap()
        })
        .collect();
    for _ in 0..2 {
        recv_or_fail(&started, "a looping task to start");
    }
    let executed = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicBool::new(false));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let ran = Arc::clone(&ran);
            pool.submit(move || ran.store(true, Ordering::SeqCst))
                .unwrap()
        })
        .collect();
    for _ in 0..5 {
        let executed = Arc::clone(&executed);
        pool.execute(move || {
            executed.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let pool = Arc::new(pool);
    let caller = Arc::clone(&pool);
    let removed = run_within(TIMEOUT, "shutdown_now", move || caller.shutdown_now());
    let pool = Arc::into_inner(pool).unwrap();
    assert_eq!(removed, 10);
    assert!(pool.is_closed());
    for handle in queued {
        assert_eq!(
            settle(handle, "a removed task"),
            Err(TaskError::PoolShutDown)
        );
    }
    // The running tasks saw `is_cancelled` and returned; their values stand.
    for (i, handle) in running.into_iter().enumerate() {
        assert_eq!(settle(handle, "a running task told to stop"), Ok(i));
    }
    assert!(matches!(pool.submit(|| ()), Err(SubmitError::Closed(_))));
    let pool = joined(pool);
    assert_eq!(
        executed.load(Ordering::SeqCst),
        0,
        "a removed execute job ran"
    );
    assert!(!ran.load(Ordering::SeqCst), "a removed task ran");
    let m = pool.metrics();
    assert_eq!(
        (m.completed, m.cancelled, m.queued, m.running),
        (2, 10, 0, 0)
    );
    assert_eq!(pool.shutdown_now(), 0, "nothing left to remove");
}

#[test]
fn close_join_and_shutdown_now_may_be_called_again() {
    let pool = WorkerPool::new(2).unwrap();
    let (release, gate) = common::gate();
    park_all(&pool, 2, &gate);
    let queued = pool.submit(|| "still runs").unwrap();
    pool.close();
    pool.close();
    assert!(pool.is_closed());
    drop(release);
    let pool = joined(pool);
    assert_eq!(settle(queued, "the queued task"), Ok("still runs"));
    pool.close();
    assert_eq!(pool.shutdown_now(), 0);
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.threads, m.completed, m.cancelled), (0, 3, 0));
}

#[test]
fn a_submit_blocked_on_a_full_queue_returns_closed_when_another_thread_closes() {
    let pool = WorkerPool::builder()
        .threads(1)
        .queue_capacity(1)
        .build()
        .unwrap();
    let (release, gate) = common::gate();
    park_all(&pool, 1, &gate);
    let queued = pool.try_submit(|| "queued before close").unwrap();
    let pool = Arc::new(pool);
    let (about_tx, about) = crossbeam_channel::bounded(1);
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            about_tx.send(()).unwrap();
            match pool.submit(|| "refused") {
                Err(SubmitError::Closed(task)) => Ok(task()),
                Err(other) => Err(format!("expected Closed, got {other:?}")),
                Ok(_) => Err("accepted into a full queue of a closed pool".to_string()),
            }
        })
    };
    recv_or_fail(&about, "the submitter to start");
    let closer = Arc::clone(&pool);
    run_within(TIMEOUT, "close() with a submitter blocked", move || {
        closer.close()
    });
    let outcome = join_within(submitter, TIMEOUT, "the blocked submitter").unwrap();
    assert_eq!(outcome, Ok("refused"));
    drop(release);
    assert_eq!(
        settle(queued, "the task queued before close"),
        Ok("queued before close")
    );
    let pool = joined(Arc::into_inner(pool).unwrap());
    assert_eq!(pool.metrics().rejected, 1);
}

#[test]
fn shutdown_now_on_an_idle_pool_removes_nothing_and_the_threads_end() {
    let pool = WorkerPool::new(2).unwrap();
    assert_eq!(settle(pool.submit(|| 1).unwrap(), "a task"), Ok(1));
    assert_eq!(pool.shutdown_now(), 0);
    let pool = joined(pool);
    assert_eq!(pool.metrics().threads, 0);
}

#[test]
fn dropping_the_last_reference_on_one_of_its_own_workers_closes_the_pool_without_hanging() {
    const QUEUED: usize = 20;
    let exits = Arc::new(AtomicUsize::new(0));
    let pool = {
        let exits = Arc::clone(&exits);
        Arc::new(
            WorkerPool::builder()
                .threads(2)
                .on_thread_exit(move |_| {
                    exits.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap(),
        )
    };
    let (go_tx, go) = crossbeam_channel::bounded(1);
    let (dropped_tx, dropped) = crossbeam_channel::bounded(1);
    let last_reference = Arc::clone(&pool);
    pool.execute(move || {
        recv_or_fail(&go, "the test to let go of its reference");
        drop(last_reference); // the pool's drop, on the pool's own worker
        dropped_tx.send(()).unwrap();
    })
    .unwrap();
    let slots = slots(QUEUED);
    for i in 0..QUEUED {
        let slots = Arc::clone(&slots);
        pool.execute(move || {
            slots[i].fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    drop(pool); // not the last reference: returns at once
    go_tx.send(()).unwrap();
    recv_or_fail(&dropped, "the drop on the worker to return");
    common::wait_until("both workers have exited", || {
        exits.load(Ordering::SeqCst) == 2
    });
    assert_each_ran_once(&slots);
}

#[test]
fn a_dropped_handle_detaches_its_task_which_still_runs() {
    let pool = WorkerPool::new(1).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    drop(
        pool.submit(move || flag.store(true, Ordering::SeqCst))
            .unwrap(),
    );
    let pool = joined(pool);
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(pool.metrics().completed, 1);
}
