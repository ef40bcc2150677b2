//! Where a submitter waits for room in a full queue, and when it is woken.
//!
//! A submitter that finds the bounded queue full is woken once the workers have drained it to
//! half its capacity, not at every slot they free. Woken at every slot, a submitter faster
//! than its workers falls into lockstep with them: it sleeps, a worker takes one task and
//! wakes it (a system call), it queues one task, the queue is full again, and it sleeps again.
//! Every task then costs a sleep and a wake-up on top of its own work. Measured with the
//! submitter on one core and two workers sharing the other (`taskset`), 100,000 tiny tasks
//! through `execute` took several times longer per task that way than with this rule. Woken
//! at half, the submitter refills half the queue in one go while the workers drain the other
//! half.
//!
//! The protocol, with no wake-up lost: a waiter registers (`waiters`), issues a `SeqCst`
//! fence, and checks the queue's length under `lock`, then sleeps on `drained`, which
//! releases `lock` atomically. A worker that has just taken a task issues a `SeqCst` fence and
//! loads `waiters`. The two fences order the two threads: either the worker sees the waiter
//! and, if the queue is at or below the mark, notifies under `lock`, so that the notification
//! cannot fall between the waiter's check and its sleep; or the waiter sees the task gone
//! when it checks (the fence pairing of the store-buffering pattern). The model check
//! `loom_a_submitter_waiting_for_room_is_woken` (in `loom_tests.rs`) fails if the notification
//! is sent without the lock; it does not catch a missing fence, since loom does not produce
//! the reordering that the fences forbid. Each wait is also bounded by the caller (a slice of at most a few
//! milliseconds), so that a `close` is never held up.

use crate::sync::{AtomicUsize, Condvar, Mutex, fence, lock};
use crossbeam_utils::CachePadded;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The waiting room of a bounded queue's submitters.
#[derive(Debug)]
pub(crate) struct Room {
    /// Submitters registered to wait. Read by every worker after every task it takes, written
    /// only by submitters that found the queue full: a line of its own.
    waiters: CachePadded<AtomicUsize>,
    lock: Mutex<()>,
    drained: Condvar,
    /// A waiting submitter is woken once the queue holds at most this many tasks.
    low_water: usize,
}

impl Room {
    /// The room of a queue that holds `capacity` tasks (`None`: unbounded, never waited on).
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Room {
            waiters: CachePadded::new(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            drained: Condvar::new(),
            low_water: capacity.map_or(usize::MAX, |c| c / 2),
        }
    }

    /// Called by a worker after it has taken a task out of the queue; `len` reads the queue's
    /// length.
    #[inline]
    pub(crate) fn taken(&self, len: impl Fn() -> usize) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 && len() <= self.low_water {
            self.wake_all();
        }
    }

    /// Wakes every waiting submitter: the queue has drained, or the pool is closing.
    pub(crate) fn wake_all(&self) {
        let _guard = lock(&self.lock);
        self.drained.notify_all();
    }

    /// Waits at most `limit` until the queue has drained to the mark, or `give_up` (the pool
    /// closed) holds. May return early (a spurious wake-up): the caller tries again anyway.
    pub(crate) fn wait(
        &self,
        len: impl Fn() -> usize,
        limit: Duration,
        give_up: impl Fn() -> bool,
    ) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let guard = lock(&self.lock);
        if len() > self.low_water && !give_up() {
            let _ = self
                .drained
                .wait_timeout(guard, limit)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        } else {
            drop(guard);
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// The mark, for the model checks.
    #[cfg(all(test, loom))]
    pub(crate) fn low_water(&self) -> usize {
        self.low_water
    }
}
