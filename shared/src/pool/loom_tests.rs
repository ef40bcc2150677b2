//! Model checks of the pool's hand-written synchronisation, run under loom, which executes
//! each model under all its thread interleavings (no preemption bound is set, so none is cut
//! short; a model that needs more than loom's branch limit fails instead), and lets a load see
//! older stored values where the memory model allows. It is not every behaviour the model
//! allows: loom treats `SeqCst` as `AcqRel` and does not produce load-buffering, so a bug that
//! needs those is not found here.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shared --release --lib loom
//! ```
//!
//! What is modelled is what the pool implements itself with atomics, a mutex and a condvar:
//! the result slot behind every `TaskHandle`, the latch behind `scope`, the elastic thread
//! count, the handshake between a retiring worker and a submitter that finds the crew
//! full, and the waiting room of submitters that found the queue full. The queue (crossbeam-channel) and the submission gate (std's `RwLock`) are
//! not ours, and are tested by their own projects.

use super::TaskError;
use super::crew::Crew;
use super::room::Room;
use super::scope::Latch;
use super::task::{Outcome, Slot};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// A scope never returns before every task has finished, and never sleeps through the last
/// task's wake-up.
#[test]
fn loom_latch_waits_for_every_task() {
    loom::model(|| {
        let latch = Arc::new(Latch::default());
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                latch.increment();
                let (latch, done) = (Arc::clone(&latch), Arc::clone(&done));
                thread::spawn(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                    latch.decrement();
                })
            })
            .collect();
        latch.wait();
        assert_eq!(done.load(Ordering::Relaxed), 2);
        for task in tasks {
            task.join().unwrap();
        }
    });
}

/// A handle settles exactly once whatever the order of start, finish, cancel and wait, and the
/// waiter is always woken: a value that was delivered is the one received, and a task
/// cancelled while queued is never run.
#[test]
fn loom_slot_settles_once_under_cancel_and_wait() {
    loom::model(|| {
        let slot = Arc::new(Slot::<u32>::new(0, None));
        let worker = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                if slot.start(None) {
                    let mut outcome = None;
                    // As a worker settles a task it ran (one without a timeout: no claim).
                    slot.finish_started(Ok(7), &mut |o| outcome = Some(o));
                    outcome
                } else {
                    None // cancelled while queued: must not run
                }
            })
        };
        let canceller = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.cancel())
        };
        let result = slot.wait(None).expect("no limit, so always settled");
        let ran = worker.join().unwrap();
        canceller.join().unwrap();
        match (result, ran) {
            // Ran, and delivered its value before or despite the cancel flag.
            (Ok(7), Some(Outcome::Completed)) => {}
            // Cancelled while still queued: settled by the cancel, never ran.
            (Err(TaskError::Cancelled), None) => {}
            other => panic!("inconsistent settlement: {other:?}"),
        }
    });
}

/// A shutdown rejecting a queued task, a cancel and a waiter: exactly one of the two settles
/// the handle, the other writes nothing, and the waiter is woken with that one result.
#[test]
fn loom_slot_settles_once_under_reject_and_cancel() {
    loom::model(|| {
        let slot = Arc::new(Slot::<u32>::new(0, None));
        let shutdown = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.finish(Err(TaskError::PoolShutDown), &mut |_| {}))
        };
        let canceller = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.cancel())
        };
        let result = slot.wait(None).expect("no limit, so always settled");
        shutdown.join().unwrap();
        canceller.join().unwrap();
        assert!(
            matches!(
                result,
                Err(TaskError::PoolShutDown) | Err(TaskError::Cancelled)
            ),
            "settled with {result:?}"
        );
        assert!(!slot.start(None), "a settled task never starts");
    });
}

/// Concurrent hires and retirements never take the thread count above `max` or below `min`.
#[test]
fn loom_crew_stays_within_bounds() {
    loom::model(|| {
        let crew = Arc::new(Crew::new(1, 2));
        assert!(crew.try_hire()); // the minimum worker
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let crew = Arc::clone(&crew);
                thread::spawn(move || {
                    if i == 0 {
                        if crew.try_hire() {
                            assert!(crew.live() <= 2);
                        }
                    } else if crew.try_retire() {
                        assert!(crew.live() >= 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let live = crew.live();
        assert!((1..=2).contains(&live), "live = {live}");
    });
}

/// A worker whose keep-alive ran out retires while a submitter queues a task and finds the
/// crew full: afterwards the task has a worker, either the one that stayed for it or one the
/// submitter hired. The queue is modelled by one relaxed atomic (a queued task is a 1), so
/// that only the two fences can make the handshake work.
#[test]
fn loom_a_task_queued_during_a_retirement_keeps_a_worker() {
    use loom::sync::atomic::fence;
    loom::model(|| {
        let crew = Arc::new(Crew::new(1, 2));
        assert!(crew.try_hire()); // worker 0, busy for the whole model
        assert!(crew.try_hire()); // worker 1, idle, about to retire
        let queue = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (crew, queue) = (Arc::clone(&crew), Arc::clone(&queue));
            thread::spawn(move || {
                queue.store(1, Ordering::Relaxed); // the send
                fence(Ordering::SeqCst); // as in `WorkerPool::after_enqueue`
                crew.try_hire()
            })
        };
        let retired = crew.retire_unless_needed(|| queue.load(Ordering::Relaxed) == 0, || {});
        let hired = submitter.join().unwrap();
        assert!(
            !retired || hired,
            "worker 1 left and nobody was hired: the task waits behind the busy worker"
        );
    });
}

/// A submitter that found the queue full and waits for room is woken once a worker has
/// drained the queue to the mark: never left asleep with the queue drained. (Under loom a
/// condvar's wait has no timeout, so a lost wake-up is a deadlock, which loom reports.) The
/// queue's length is an atomic here, taken from the way a worker's receive takes a task.
#[test]
fn loom_a_submitter_waiting_for_room_is_woken() {
    loom::model(|| {
        let room = Arc::new(Room::new(Some(2))); // woken at 1 task or fewer
        let queued = Arc::new(AtomicUsize::new(2)); // full
        let worker = {
            let (room, queued) = (Arc::clone(&room), Arc::clone(&queued));
            thread::spawn(move || {
                queued.fetch_sub(1, Ordering::AcqRel); // takes a task
                room.taken(|| queued.load(Ordering::Relaxed));
            })
        };
        let len = || queued.load(Ordering::Relaxed);
        while len() > room.low_water() {
            room.wait(len, std::time::Duration::from_millis(5), || false);
        }
        worker.join().unwrap();
    });
}
