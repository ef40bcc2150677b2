//! Volume: a million tiny tasks from four submitting threads each run exactly once; ten
//! thousand tasks of which a tenth panic all settle with the right outcome and leave the pool
//! intact; submitters racing a `close` lose no accepted task and run none twice.

mod common;

use common::{EXPECTED, joined, settle};
use shared::pool::{SubmitError, TaskError, WorkerPool};
use shared::testing::{TIMEOUT, join_within, recv_or_fail};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

#[test]
fn a_million_tiny_tasks_from_four_threads_each_run_exactly_once() {
    const TASKS: usize = 1_000_000;
    const SUBMITTERS: usize = 4;
    // Leaked so that each task captures a plain `&'static` (no reference count to touch).
    let slots: &'static [AtomicU8] =
        Box::leak((0..TASKS).map(|_| AtomicU8::new(0)).collect::<Box<[_]>>());
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                for i in (s..TASKS).step_by(SUBMITTERS) {
                    pool.execute(move || {
                        slots[i].fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap_or_else(|e| panic!("task {i} refused: {e}"));
                }
            })
        })
        .collect();
    for submitter in submitters {
        join_within(submitter, TIMEOUT, "a submitting thread").unwrap();
    }
    let pool = joined(Arc::into_inner(pool).unwrap());
    let wrong: Vec<_> = slots
        .iter()
        .enumerate()
        .filter(|(_, n)| n.load(Ordering::Relaxed) != 1)
        .take(5)
        .map(|(i, n)| (i, n.load(Ordering::Relaxed)))
        .collect();
    assert!(
        wrong.is_empty(),
        "(task, runs) not run exactly once: {wrong:?}"
    );
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed), (TASKS as u64, TASKS as u64));
    assert_eq!(
        (m.panicked, m.cancelled, m.timed_out, m.rejected),
        (0, 0, 0, 0)
    );
}

#[test]
fn a_tenth_of_ten_thousand_tasks_panic_and_every_handle_settles_right() {
    common::quiet_expected_panics();
    const TASKS: u64 = 10_000;
    const THREADS: usize = 3;
    let pool = WorkerPool::new(THREADS).unwrap();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            pool.submit(move || {
                if i % 10 == 3 {
                    panic!("{EXPECTED}: task {i}");
                }
                i * 2
            })
            .unwrap()
        })
        .collect();
    for (i, handle) in (0..TASKS).zip(handles) {
        let outcome = settle(handle, "a task of the batch");
        if i % 10 == 3 {
            assert_eq!(
                outcome,
                Err(TaskError::Panicked(format!("{EXPECTED}: task {i}")))
            );
        } else {
            assert_eq!(outcome, Ok(i * 2), "task {i}");
        }
    }
    // Nothing was lost to the panics: same threads, still working.
    assert_eq!(pool.metrics().threads, THREADS);
    assert_eq!(
        settle(pool.submit(|| "after").unwrap(), "a later task"),
        Ok("after")
    );
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.panicked, m.completed), (1_000, 9_001));
    assert_eq!(m.submitted, TASKS + 1);
}

#[test]
fn submitters_racing_a_close_lose_no_accepted_task_and_run_none_twice() {
    const SUBMITTERS: usize = 4;
    const MAX_EACH: usize = 50_000;
    let slots: Arc<Vec<AtomicU8>> = Arc::new(
        (0..SUBMITTERS * MAX_EACH)
            .map(|_| AtomicU8::new(0))
            .collect(),
    );
    let pool = Arc::new(
        WorkerPool::builder()
            .threads(2)
            .queue_capacity(64)
            .build()
            .unwrap(),
    );
    let (warm_tx, warm) = crossbeam_channel::unbounded();
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pool, slots, warm_tx) = (Arc::clone(&pool), Arc::clone(&slots), warm_tx.clone());
            thread::spawn(move || {
                let mut accepted = Vec::new();
                for k in 0..MAX_EACH {
                    let i = s * MAX_EACH + k;
                    let slots_for_task = Arc::clone(&slots);
                    match pool.execute(move || {
                        slots_for_task[i].fetch_add(1, Ordering::SeqCst);
                    }) {
                        Ok(()) => accepted.push(i),
                        Err(SubmitError::Closed(_)) => break,
                        Err(other) => panic!("unexpected refusal {other:?}"),
                    }
                    if k == 1_000 {
                        warm_tx.send(()).unwrap();
                    }
                }
                accepted
            })
        })
        .collect();
    for _ in 0..SUBMITTERS {
        recv_or_fail(&warm, "a submitter to get going");
    }
    pool.close(); // while all four are submitting into a full queue
    let mut accepted = vec![false; SUBMITTERS * MAX_EACH];
    for submitter in submitters {
        for i in join_within(submitter, TIMEOUT, "a submitter").unwrap() {
            accepted[i] = true;
        }
    }
    let pool = joined(Arc::into_inner(pool).unwrap());
    let mut accepted_count = 0u64;
    for (i, slot) in slots.iter().enumerate() {
        let runs = slot.load(Ordering::SeqCst);
        let expected = u8::from(accepted[i]);
        assert_eq!(
            runs, expected,
            "task {i}: accepted {} but ran {runs} times",
            accepted[i]
        );
        accepted_count += u64::from(expected);
    }
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed), (accepted_count, accepted_count));
}
