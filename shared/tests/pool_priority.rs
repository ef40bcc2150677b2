//! Priority lanes: the order within and across priorities, the share of turns that keeps the
//! lower lanes from starving under a flood of high-priority work, each lane's own bound and
//! waiting room, and the pool's other promises (nothing lost at close or `shutdown_now`, a
//! refused task handed back, an elastic pool hiring for any lane).
//!
//! Orders are made deterministic by holding the only worker busy while the tasks queue up,
//! then letting it go: from then on one thread takes every task, in the lanes' order.

mod common;

use common::{hold_worker, joined, settle};
use crossbeam_channel::{Receiver, Sender};
use shared::pool::{Priority, SubmitError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, assert_quiet, recv_or_fail};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A one-thread pool whose worker is held at a gate, lanes of `capacity` each.
fn held_pool(capacity: usize) -> (WorkerPool, Sender<()>) {
    let pool = WorkerPool::builder()
        .threads(1)
        .queue_capacity(capacity)
        .build()
        .unwrap();
    let release = hold_worker(&pool);
    (pool, release)
}

/// Queues `tasks` (priority, name) on `pool`; each reports its name on the returned channel
/// when it runs.
fn queue_named(pool: &WorkerPool, tasks: &[(Priority, String)]) -> Receiver<String> {
    let (tx, ran) = crossbeam_channel::unbounded();
    for (priority, name) in tasks {
        let (tx, name) = (tx.clone(), name.clone());
        pool.with_priority(*priority)
            .execute(move || tx.send(name).unwrap())
            .unwrap();
    }
    ran
}

/// Lets the held worker go, joins the pool, and returns the names in the order they ran.
fn run_order(pool: WorkerPool, release: Sender<()>, ran: &Receiver<String>) -> Vec<String> {
    drop(release);
    let pool = joined(pool);
    assert_eq!(pool.metrics().completed, pool.metrics().submitted);
    ran.try_iter().collect()
}

fn named(priority: Priority, prefix: &str, count: usize) -> Vec<(Priority, String)> {
    (0..count)
        .map(|i| (priority, format!("{prefix}{i}")))
        .collect()
}

#[test]
fn higher_lanes_run_first_and_each_lane_in_submission_order() {
    let (pool, release) = held_pool(16);
    // Interleaved, lowest first: submission order alone would give the opposite result.
    let mut tasks = Vec::new();
    for i in 0..3 {
        tasks.push((Priority::Low, format!("L{i}")));
        tasks.push((Priority::Normal, format!("N{i}")));
        tasks.push((Priority::High, format!("H{i}")));
    }
    let ran = queue_named(&pool, &tasks);
    assert_eq!(pool.metrics().queued, 9);
    let order = run_order(pool, release, &ran);
    // Nine takes: the 4th turn looks at Normal first and the 8th at Low first, but with
    // High empty by then the order is the plain one.
    assert_eq!(
        order,
        ["H0", "H1", "H2", "N0", "N1", "N2", "L0", "L1", "L2"]
    );
}

#[test]
fn plain_methods_submit_at_normal() {
    let (pool, release) = held_pool(16);
    let (tx, ran) = crossbeam_channel::unbounded();
    let send = |name: &'static str| {
        let tx: Sender<String> = tx.clone();
        move || tx.send(name.to_string()).unwrap()
    };
    pool.with_priority(Priority::Low)
        .execute(send("low"))
        .unwrap();
    pool.execute(send("execute")).unwrap();
    let submitted = pool.submit(send("submit")).unwrap();
    pool.with_priority(Priority::High)
        .execute(send("high"))
        .unwrap();
    pool.with_priority(Priority::Normal)
        .execute(send("normal"))
        .unwrap();
    let order = run_order(pool, release, &ran);
    assert_eq!(order, ["high", "execute", "submit", "normal", "low"]);
    settle(submitted, "the plain submission").unwrap();
}

#[test]
fn a_flood_of_high_work_cannot_starve_normal_or_low() {
    let (pool, release) = held_pool(64);
    let mut tasks = vec![
        (Priority::Low, "L".to_string()),
        (Priority::Normal, "N".into()),
    ];
    tasks.extend(named(Priority::High, "H", 40));
    let ran = queue_named(&pool, &tasks);
    let order = run_order(pool, release, &ran);
    let at = |name: &str| order.iter().position(|n| n == name).unwrap();
    // One worker, one round of eight turns: the 4th looks at Normal first, the 8th at Low.
    assert_eq!(at("N"), 3, "order: {order:?}");
    assert_eq!(at("L"), 7, "order: {order:?}");
    // And the high tasks kept their own order around them.
    let highs: Vec<&String> = order.iter().filter(|n| n.starts_with('H')).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("H{i}")).collect();
    assert_eq!(highs, expected.iter().collect::<Vec<_>>());
}

#[test]
fn under_a_continuous_flood_a_low_task_still_runs_within_a_round_per_worker() {
    const WORKERS: usize = 2;
    const ROUND: usize = 8;
    let pool = WorkerPool::builder()
        .threads(WORKERS)
        .queue_capacity(32)
        .build()
        .unwrap();
    let stop = AtomicBool::new(false);
    // Every task takes the next number as it starts.
    let started = Arc::new(AtomicUsize::new(0));
    thread::scope(|s| {
        // The flood: the High lane is kept full for as long as the test runs.
        let flood = s.spawn(|| {
            let high = pool.with_priority(Priority::High);
            while !stop.load(Ordering::Relaxed) {
                let started = Arc::clone(&started);
                let task = move || {
                    started.fetch_add(1, Ordering::SeqCst);
                };
                if let Err(e) = high.submit_timeout(task, TIMEOUT) {
                    panic!("the flood was refused: {e}");
                }
            }
        });
        common::wait_until("the High lane to fill", || pool.metrics().queued >= 32);
        let low_started = Arc::clone(&started);
        let low = pool
            .with_priority(Priority::Low)
            .submit(move || low_started.fetch_add(1, Ordering::SeqCst))
            .unwrap();
        // Read once the Low task is queued: every task numbered above this started after.
        let queued_by = started.load(Ordering::SeqCst);
        let low_number = settle(low, "the low task under the flood").unwrap();
        stop.store(true, Ordering::Relaxed);
        // The flood's every wait is bounded by TIMEOUT, so this join is too.
        flood.join().expect("the flooding thread");
        // Each worker takes the waiting Low task within its next round of turns.
        let overtaken = low_number.saturating_sub(queued_by);
        assert!(
            overtaken <= WORKERS * ROUND,
            "{overtaken} high tasks started after the low one was queued, before it ran \
             (bound {})",
            WORKERS * ROUND
        );
    });
    joined(pool);
}

#[test]
fn each_lane_has_its_own_bound() {
    const CAPACITY: usize = 2;
    let (pool, release) = held_pool(CAPACITY);
    let low = pool.with_priority(Priority::Low);
    for _ in 0..CAPACITY {
        low.try_execute(|| ()).unwrap();
    }
    match low.try_submit(|| "the refused task") {
        Err(SubmitError::Full(task)) => assert_eq!(task(), "the refused task"),
        other => panic!("a full Low lane took a task: {other:?}"),
    }
    // The other lanes are not full: a backlog of low work does not block urgent work.
    let urgent = pool
        .with_priority(Priority::High)
        .try_submit(|| "urgent")
        .unwrap();
    let plain = pool.try_submit(|| "plain").unwrap();
    assert_eq!(pool.metrics().queued, 4);
    assert_eq!(pool.metrics().rejected, 1);
    assert_eq!(pool.capacity(), Some(CAPACITY));
    drop(release);
    assert_eq!(settle(urgent, "the high task"), Ok("urgent"));
    assert_eq!(settle(plain, "the plain task"), Ok("plain"));
    joined(pool);
}

#[test]
fn a_blocked_submitter_gets_into_its_lane_when_that_lane_drains() {
    const CAPACITY: usize = 2;
    let (pool, release) = held_pool(CAPACITY);
    let high = pool.with_priority(Priority::High);
    for _ in 0..CAPACITY {
        high.execute(|| ()).unwrap();
    }
    let (done_tx, done) = crossbeam_channel::bounded(1);
    thread::scope(|s| {
        s.spawn(|| {
            let handle = pool
                .with_priority(Priority::High)
                .submit(|| "waited for room")
                .unwrap();
            done_tx
                .send(settle(handle, "the waiting submission"))
                .unwrap();
        });
        assert_quiet(
            &done,
            Duration::from_millis(50),
            "while the High lane is full",
        );
        drop(release);
        assert_eq!(
            recv_or_fail(&done, "the blocked submission"),
            Ok("waited for room")
        );
    });
    joined(pool);
}

#[test]
fn shutdown_now_settles_the_tasks_of_every_lane() {
    let (pool, release) = held_pool(8);
    let handles: Vec<_> = Priority::ALL
        .iter()
        .map(|&p| pool.with_priority(p).submit(move || p).unwrap())
        .collect();
    assert_eq!(pool.shutdown_now(), 3);
    for handle in handles {
        assert_eq!(
            settle(handle, "a task queued at shutdown"),
            Err(TaskError::PoolShutDown)
        );
    }
    drop(release);
    joined(pool);
}

#[test]
fn join_runs_every_lane_to_the_end() {
    let (pool, release) = held_pool(64);
    let mut tasks = named(Priority::Low, "L", 20);
    tasks.extend(named(Priority::Normal, "N", 20));
    tasks.extend(named(Priority::High, "H", 20));
    let ran = queue_named(&pool, &tasks);
    let mut order = run_order(pool, release, &ran);
    order.sort();
    let mut expected: Vec<String> = tasks.into_iter().map(|(_, n)| n).collect();
    expected.sort();
    assert_eq!(order, expected, "every task ran exactly once");
}

#[test]
fn a_closed_pool_hands_back_a_prioritised_task() {
    let pool = WorkerPool::new(1).unwrap();
    pool.close();
    let view = pool.with_priority(Priority::Low);
    assert_eq!(view.priority(), Priority::Low);
    match view.submit(|| "handed back") {
        Err(SubmitError::Closed(task)) => assert_eq!(task(), "handed back"),
        other => panic!("a closed pool took a task: {other:?}"),
    }
    match pool.with_priority(Priority::High).execute(|| ()) {
        Err(SubmitError::Closed(_)) => {}
        other => panic!("a closed pool took a task: {other:?}"),
    }
    joined(pool);
}

#[test]
fn an_elastic_pool_hires_for_a_high_task_while_its_worker_is_busy() {
    let pool = WorkerPool::builder()
        .min_threads(1)
        .max_threads(2)
        .build()
        .unwrap();
    let release = hold_worker(&pool);
    let urgent = pool
        .with_priority(Priority::High)
        .submit(|| "ran on a second worker")
        .unwrap();
    // The first worker is still held: only a newly hired one can run it.
    assert_eq!(
        settle(urgent, "the high task"),
        Ok("ran on a second worker")
    );
    assert_eq!(pool.metrics().threads, 2);
    drop(release);
    joined(pool);
}
