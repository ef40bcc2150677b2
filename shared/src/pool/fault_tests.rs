//! A worker that dies outside any task, which no user code can cause any more (every task,
//! destructor, hook and factory the pool calls is guarded): the pool's last line of defence,
//! tested by killing a worker on purpose through a test-only switch.

use super::{JoinError, TaskError, WorkerPool};
use crate::testing::{TIMEOUT, run_within};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

/// The injected death's panic, kept out of the test output.
fn quiet_injected_deaths() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = crate::worker::panic_message(info.payload());
            if !message.contains("injected by a test") && !message.contains("no state here") {
                previous(info);
            }
        }));
    });
}

/// Occupies the pool's one worker until the returned sender is dropped, and arranges for it
/// to die as soon as it is done: the next job queued is left for its replacement.
fn doom_the_worker(pool: &WorkerPool) -> crossbeam_channel::Sender<()> {
    let (release, gate) = crossbeam_channel::bounded::<()>(0);
    let (started_tx, started) = crossbeam_channel::bounded(1);
    pool.execute(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv_timeout(TIMEOUT);
    })
    .unwrap();
    crate::testing::recv_or_fail(&started, "the holding task to start");
    pool.shared.die_next.store(true, Ordering::Release);
    release
}

#[test]
fn a_dead_worker_is_replaced_and_counted() {
    quiet_injected_deaths();
    let pool = WorkerPool::new(1).unwrap();
    let release = doom_the_worker(&pool);
    let handle = pool.submit(|| 6 * 7).unwrap();
    drop(release);
    let value = run_within(TIMEOUT, "a task after a worker died", move || handle.join());
    assert_eq!(value, Ok(42), "the replacement ran the queued task");
    let m = pool.metrics();
    assert_eq!((m.threads, m.workers_replaced), (1, 1), "{m}");
    assert_eq!(m.completed, 2, "{m}");
    run_within(TIMEOUT, "join", move || pool.join()).unwrap();
}

#[test]
fn a_dead_worker_whose_replacement_cannot_start_settles_the_queue_and_join_says_so() {
    quiet_injected_deaths();
    let made = Arc::new(AtomicUsize::new(0));
    let pool = WorkerPool::builder()
        .threads(1)
        .worker_state({
            let made = Arc::clone(&made);
            move |_| {
                // The first worker gets its state; any replacement's factory panics.
                assert!(made.fetch_add(1, Ordering::SeqCst) == 0, "no state here");
            }
        })
        .build()
        .unwrap();
    let release = doom_the_worker(&pool);
    let handle = pool.submit(|| "never runs").unwrap();
    drop(release);
    let outcome = run_within(TIMEOUT, "the stranded task to settle", move || {
        handle.join()
    });
    assert_eq!(outcome, Err(TaskError::PoolShutDown));
    let joined = run_within(TIMEOUT, "join", move || pool.join());
    match joined {
        Err(JoinError::WorkersLost { reason, not_run }) => {
            assert_eq!(not_run, 1);
            assert!(reason.contains("worker_state"), "{reason}");
        }
        other => panic!("join returned {other:?}"),
    }
}

#[test]
fn a_worker_retiring_as_a_task_arrives_at_a_full_crew_stays_for_it() {
    // In every lane: the worker's last look before retiring covers them all.
    for priority in crate::pool::Priority::ALL {
        retire_as_a_task_arrives(priority);
    }
}

fn retire_as_a_task_arrives(priority: crate::pool::Priority) {
    use std::time::Duration;

    let pool = WorkerPool::builder()
        .min_threads(1)
        .max_threads(2)
        .keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    // Worker 0 is held for the whole test (longer than the test waits for the task below);
    // a second task hires worker 1, which runs it.
    let (release, gate) = crossbeam_channel::bounded::<()>(0);
    let (started_tx, started) = crossbeam_channel::bounded(1);
    pool.execute(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv_timeout(3 * TIMEOUT);
    })
    .unwrap();
    crate::testing::recv_or_fail(&started, "worker 0 to be held");
    let (arrived_tx, arrived) = crossbeam_channel::bounded(1);
    let (resume, resume_rx) = crossbeam_channel::bounded(1);
    pool.shared.retire_pause.arm((arrived_tx, resume_rx));
    let first = pool.submit(|| 1).unwrap();
    assert_eq!(
        run_within(TIMEOUT, "the first task", move || first.join()),
        Ok(1)
    );
    // Worker 1's keep-alive runs out: it has seen an empty queue and is about to leave.
    crate::testing::recv_or_fail(&arrived, "worker 1 to start retiring");
    // Now a task arrives; the crew is full (worker 1 still counts), so nobody is hired.
    let handle = pool.with_priority(priority).submit(|| 2).unwrap();
    resume.send(()).unwrap();
    // Worker 0 is still held: only worker 1 (or a worker hired in its place) can run it.
    let value = run_within(
        TIMEOUT,
        &format!("the {priority:?} task that arrived during a retirement"),
        move || handle.join(),
    );
    assert_eq!(value, Ok(2));
    drop(release);
    run_within(TIMEOUT, "join", move || pool.join()).unwrap();
}
