//! Metrics: exact counts while work is held and after the pool is quiet (every outcome counted
//! once, `submitted` balancing the outcomes), timing samples as documented, sane latency
//! summaries and utilisation, and a readable `Display`.

mod common;

use common::{EXPECTED, joined, settle};
use shared::pool::{SAMPLE_ALL_FIRST, SAMPLE_EVERY, SubmitError, TaskError, WorkerPool};
use shared::testing::recv_or_fail;
use std::time::Duration;

#[test]
fn counts_balance_exactly_once_the_pool_is_quiet() {
    common::quiet_expected_panics();
    let pool = WorkerPool::builder()
        .threads(2)
        .queue_capacity(64)
        .build()
        .unwrap();
    let (release, gate) = common::gate();
    let (started_tx, started) = crossbeam_channel::unbounded();
    for _ in 0..2 {
        let (gate, started_tx) = (gate.clone(), started_tx.clone());
        pool.execute(move || {
            started_tx.send(()).unwrap();
            common::wait_at(&gate);
        })
        .unwrap();
    }
    for _ in 0..2 {
        recv_or_fail(&started, "a worker to be held");
    }
    // While held: 2 running, the rest queued.
    let completed: Vec<_> = (0..40u32)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    let panicking: Vec<_> = (0..5)
        .map(|i| {
            pool.submit(move || -> u32 { panic!("{EXPECTED}: {i}") })
                .unwrap()
        })
        .collect();
    for i in 0..2 {
        pool.execute(move || panic!("{EXPECTED}: detached {i}"))
            .unwrap();
    }
    let cancelled: Vec<_> = (0..3).map(|_| pool.submit(|| 0u32).unwrap()).collect();
    for handle in &cancelled {
        handle.cancel();
    }
    let limit = Duration::from_millis(5);
    let timed = pool
        .submit_with_timeout(limit, |cx| {
            while !cx.is_cancelled() {
                std::thread::yield_now();
            }
        })
        .unwrap();
    // Fill the rest of the queue; the refusal that ends the loop is the one rejection.
    let full: Vec<_> = (0..).map_while(|_| pool.try_submit(|| 0u32).ok()).collect();
    let m = pool.metrics();
    let queued = 40 + 5 + 2 + 3 + 1 + full.len() as u64;
    assert_eq!(queued, 64, "the queue is full");
    assert_eq!(
        (m.running, m.queued, m.threads, m.idle_threads),
        (2, queued, 2, 0)
    );
    assert_eq!(m.submitted, 2 + queued);
    assert_eq!(
        (m.completed, m.panicked, m.cancelled, m.timed_out),
        (0, 0, 0, 0)
    );
    assert_eq!(m.rejected, 1);
    assert!(matches!(
        pool.try_submit(|| 0u32),
        Err(SubmitError::Full(_))
    ));
    assert_eq!(pool.metrics().rejected, 2);

    drop(release);
    for (i, handle) in completed.into_iter().enumerate() {
        assert_eq!(settle(handle, "a task"), Ok(i as u32));
    }
    for handle in panicking {
        assert!(matches!(
            settle(handle, "a panicking task"),
            Err(TaskError::Panicked(_))
        ));
    }
    for handle in cancelled {
        assert_eq!(
            settle(handle, "a cancelled task"),
            Err(TaskError::Cancelled)
        );
    }
    assert_eq!(
        settle(timed, "a timed task"),
        Err(TaskError::TimedOut(limit))
    );
    for handle in full {
        settle(handle, "a filler task").unwrap();
    }
    let pool = joined(pool);
    let m = pool.metrics();
    let fillers = queued - (40 + 5 + 2 + 3 + 1);
    assert_eq!(m.completed, 2 + 40 + fillers);
    assert_eq!(
        (m.panicked, m.cancelled, m.timed_out, m.rejected),
        (7, 3, 1, 2)
    );
    assert_eq!(
        m.submitted,
        m.completed + m.panicked + m.cancelled + m.timed_out
    );
    assert_eq!(
        (m.queued, m.running, m.threads, m.idle_threads),
        (0, 0, 0, 0)
    );

    for summary in [&m.queue_wait, &m.run_time] {
        assert!(summary.count() > 0);
        assert!(summary.count() <= m.submitted);
        let (p50, p90, p99) = (
            summary.p50().unwrap(),
            summary.p90().unwrap(),
            summary.p99().unwrap(),
        );
        assert!(p50 <= p90 && p90 <= p99, "{p50:?} {p90:?} {p99:?}");
        assert!(p99 <= summary.max().unwrap());
    }
    assert!(
        (0.0..=1.0).contains(&m.utilisation),
        "utilisation {}",
        m.utilisation
    );
    let text = m.to_string();
    let completed = format!("completed {}", m.completed);
    let submitted = format!("submitted {}", m.submitted);
    for needle in [
        &*submitted,
        &*completed,
        "panicked 7",
        "cancelled 3",
        "timed out 1",
        "rejected 2",
        "threads: 0",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn every_task_is_timed_at_first_then_one_in_sample_every() {
    let tasks = SAMPLE_ALL_FIRST + 50 * SAMPLE_EVERY + 3;
    let pool = WorkerPool::new(2).unwrap();
    for _ in 0..tasks {
        pool.execute(|| ()).unwrap();
    }
    let pool = joined(pool);
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed), (tasks, tasks));
    // Sequence numbers 0..SAMPLE_ALL_FIRST, then the multiples of SAMPLE_EVERY after it.
    let expected = SAMPLE_ALL_FIRST
        + (SAMPLE_ALL_FIRST..tasks)
            .filter(|s| s % SAMPLE_EVERY == 0)
            .count() as u64;
    assert_eq!(m.queue_wait.count(), expected);
    assert_eq!(m.run_time.count(), expected);
}

#[test]
fn a_fresh_pool_reports_zero_counts_and_idle_threads() {
    let pool = WorkerPool::new(2).unwrap();
    let m = pool.metrics();
    assert_eq!(
        (m.submitted, m.completed, m.queued, m.running, m.rejected),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(m.threads, 2);
    assert_eq!(m.queue_wait.count(), 0);
    assert_eq!(m.queue_wait.p50(), None);
    common::wait_until("both workers wait for work", || {
        pool.metrics().idle_threads == 2
    });
    assert!((0.0..=1.0).contains(&pool.metrics().utilisation));
    joined(pool);
}
