//! Submission basics: every way in (`execute`, `submit`, `try_submit`, `submit_timeout`,
//! `submit_with`, `submit_with_timeout`) runs the task on a pool thread with the right result;
//! a panic costs only its own task; a pool of N threads runs at most N tasks at once, and
//! really runs N.

mod common;

use common::{EXPECTED, joined, settle};
use shared::pool::{TaskError, WorkerPool};
use shared::testing::{ConcurrencyProbe, TIMEOUT, recv_or_fail, run_within};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

#[test]
fn execute_runs_every_task_once_on_a_pool_thread() {
    let pool = WorkerPool::new(2).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let caller = thread::current().id();
    for n in 0..20u32 {
        let tx = tx.clone();
        pool.execute(move || {
            let me = thread::current();
            tx.send((n, me.id(), me.name().map(String::from))).unwrap();
        })
        .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (n, id, name) = recv_or_fail(&rx, "an executed task");
        assert_ne!(id, caller, "the task ran on the submitting thread");
        assert!(name.unwrap().starts_with("pool-"));
        seen.push(n);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
    let pool = joined(pool);
    assert_eq!(pool.metrics().completed, 20);
}

#[test]
fn submit_hands_back_each_tasks_own_value() {
    let pool = WorkerPool::new(2).unwrap();
    let handles: Vec<_> = (0..100u64)
        .map(|n| pool.submit(move || n * n).unwrap())
        .collect();
    // `join` itself, bounded by run_within.
    let values = run_within(TIMEOUT, "joining 100 handles", move || {
        handles
            .into_iter()
            .map(|h| h.join())
            .collect::<Result<Vec<_>, _>>()
    });
    assert_eq!(
        values.unwrap(),
        (0..100u64).map(|n| n * n).collect::<Vec<_>>()
    );
    joined(pool);
}

#[test]
fn try_submit_and_submit_timeout_accept_at_once_when_there_is_room() {
    let pool = WorkerPool::new(1).unwrap();
    let quick = pool.try_submit(|| "tried").unwrap();
    let waited = pool
        .submit_timeout(|| "waited", Duration::from_millis(1))
        .unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    pool.try_execute(move || tx.send("executed").unwrap())
        .unwrap();
    assert_eq!(settle(quick, "try_submit"), Ok("tried"));
    assert_eq!(settle(waited, "submit_timeout"), Ok("waited"));
    assert_eq!(recv_or_fail(&rx, "the try_execute task"), "executed");
    let pool = joined(pool);
    assert_eq!(pool.metrics().rejected, 0);
}

#[test]
fn submit_with_gives_the_task_its_context() {
    let pool = WorkerPool::new(3).unwrap();
    let handles: Vec<_> = (0..30)
        .map(|_| {
            pool.submit_with(|cx| (cx.worker_index(), cx.is_cancelled(), cx.check().is_ok()))
                .unwrap()
        })
        .collect();
    for handle in handles {
        let (index, cancelled, check) = settle(handle, "a submit_with task").unwrap();
        assert!(index < 3, "worker index {index} in a pool of 3");
        assert!(!cancelled);
        assert!(check);
    }
    joined(pool);
}

#[test]
fn submit_with_timeout_returns_the_value_of_a_task_that_finishes_in_time() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool
        .submit_with_timeout(TIMEOUT, |cx| {
            let mut sum = 0u64;
            for i in 0..1_000 {
                cx.check().unwrap();
                sum += i;
            }
            sum
        })
        .unwrap();
    assert_eq!(settle(handle, "a task with a timeout"), Ok(499_500));
    let pool = joined(pool);
    assert_eq!(pool.metrics().timed_out, 0);
}

#[test]
fn a_panicking_task_settles_with_its_message_and_its_worker_carries_on() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let before = settle(pool.submit(|| thread::current().id()).unwrap(), "first").unwrap();

    let formatted = pool
        .submit(|| -> u32 { panic!("{EXPECTED}: bad input {}", 7) })
        .unwrap();
    let literal = pool
        .submit(|| -> u32 { panic!("expected panic: a literal") })
        .unwrap();
    pool.execute(|| panic!("expected panic: in execute"))
        .unwrap();
    assert_eq!(
        settle(formatted, "a formatted panic"),
        Err(TaskError::Panicked(format!("{EXPECTED}: bad input 7")))
    );
    assert_eq!(
        settle(literal, "a literal panic"),
        Err(TaskError::Panicked("expected panic: a literal".into()))
    );

    // Same thread afterwards: the worker survived rather than being replaced.
    let after = settle(pool.submit(|| thread::current().id()).unwrap(), "after").unwrap();
    assert_eq!(before, after);
    assert_eq!(pool.metrics().threads, 1);
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.completed, m.panicked), (2, 3));
}

#[test]
fn a_fixed_pool_never_runs_more_tasks_at_once_than_it_has_threads() {
    for threads in [1, 3] {
        let pool = WorkerPool::new(threads).unwrap();
        let probe = ConcurrencyProbe::new();
        let (release, gate) = common::gate();
        // One more task than threads, all parked at the gate: at most `threads` can be in.
        for _ in 0..=threads {
            let (probe, gate) = (probe.clone(), gate.clone());
            pool.execute(move || {
                let _in = probe.enter();
                common::wait_at(&gate);
            })
            .unwrap();
        }
        common::wait_until("every thread runs a parked task", || {
            probe.current() == threads
        });
        assert_eq!(pool.metrics().queued, 1, "the extra task must wait");
        assert_eq!(pool.metrics().running, threads as u64);
        drop(release);
        // And a stream of short tasks on top.
        for _ in 0..300 {
            let probe = probe.clone();
            pool.execute(move || {
                let _in = probe.enter();
                for _ in 0..20 {
                    thread::yield_now();
                }
            })
            .unwrap();
        }
        joined(pool);
        assert!(
            probe.max() <= threads,
            "{} tasks ran at once on {threads} threads",
            probe.max()
        );
        assert_eq!(probe.total(), threads + 1 + 300);
    }
}

#[test]
fn a_pool_of_two_really_runs_two_tasks_at_once() {
    let pool = WorkerPool::new(2).unwrap();
    let probe = ConcurrencyProbe::new();
    let barrier = std::sync::Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (probe, barrier) = (probe.clone(), barrier.clone());
            pool.submit(move || {
                let _in = probe.enter();
                barrier.wait(); // only returns once both tasks are inside
            })
            .unwrap()
        })
        .collect();
    run_within(TIMEOUT, "two tasks meeting at a Barrier(2)", move || {
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(probe.max(), 2);
    joined(pool);
}

/// A panic payload whose own drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{EXPECTED}: dropping the panic payload");
    }
}

#[test]
fn an_execute_task_whose_panic_payload_panics_on_drop_costs_no_worker() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    pool.execute(|| std::panic::panic_any(PanicsOnDrop))
        .unwrap();
    assert_eq!(settle(pool.submit(|| 1).unwrap(), "the next task"), Ok(1));
    assert_eq!(pool.metrics().threads, 1);
    joined(pool);
}

#[test]
fn a_submit_task_whose_panic_payload_panics_on_drop_settles_and_costs_no_worker() {
    common::quiet_expected_panics();
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool
        .submit(|| -> u32 { std::panic::panic_any(PanicsOnDrop) })
        .unwrap();
    assert!(matches!(
        settle(handle, "a task with a bad payload"),
        Err(TaskError::Panicked(_))
    ));
    assert_eq!(settle(pool.submit(|| 1).unwrap(), "the next task"), Ok(1));
    assert_eq!(pool.metrics().threads, 1);
    joined(pool);
}
