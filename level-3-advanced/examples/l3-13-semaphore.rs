//! # Lesson l3-13: a counting semaphore from `Mutex` + `Condvar`
//!
//! Replaces the Node course's hand-built counting semaphore (a permit count in a
//! `SharedArrayBuffer`, `Atomics.wait` until one is free). Its constructor initialised the
//! count, and every worker constructed its own, so each new worker reset the count the others
//! were using. Std has no semaphore; a `Mutex<usize>` holding the free permits and a `Condvar`
//! (lesson l3-06) to wait for one make it, and a guard gives the permit back on drop, panic
//! included. It is made once and shared by reference: nobody can construct it again over the
//! others' state.
//!
//! Shows: 9 threads, 3 permits. First each thread takes a permit and, holding it, waits at a
//! `Barrier` (lesson l3-11) for 3: only permit holders can reach it, so each group of 3 that
//! passes was inside at the same time, and the semaphore lets 3 in, not fewer. Then each thread
//! runs 50 short tasks under the semaphore, and a `ConcurrencyProbe` (lesson l3-12) checks that
//! no more than 3 were ever inside.
//!
//! Run: `cargo run --release --example l3-13-semaphore`
//!
//! Expect: `result: semaphore peak 3 of 3 over 459 tasks`.

use shared::testing::ConcurrencyProbe;
use shared::workload::fib;
use std::sync::{Barrier, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

const PERMITS: usize = 3;
/// The first round forms whole groups of `PERMITS` at the barrier.
const THREADS: usize = 3 * PERMITS;
const TASKS: usize = 50;

fn main() {
    let (peak, tasks) = limited_to_three();
    println!("[main] {tasks} tasks on {THREADS} threads; at most {peak} inside at once");
    assert_eq!(peak, PERMITS, "3 permits: 3 inside at once, never more");
    assert_eq!(tasks, THREADS * (TASKS + 1));
    println!("result: semaphore peak {peak} of {PERMITS} over {tasks} tasks");
}

/// Runs `THREADS` threads through a semaphore of `PERMITS` permits; returns the most that were
/// ever inside at once, and how many times a thread went in.
fn limited_to_three() -> (usize, usize) {
    let semaphore = Semaphore::new(PERMITS);
    let probe = ConcurrencyProbe::new();
    let group = Barrier::new(PERMITS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                {
                    let _permit = semaphore.acquire();
                    let _inside = probe.enter();
                    group.wait();
                }
                for _ in 0..TASKS {
                    let _permit = semaphore.acquire();
                    let _inside = probe.enter();
                    // Some real work while holding the permit.
                    std::hint::black_box(fib(std::hint::black_box(18)));
                }
            });
        }
    });
    (probe.max(), probe.total())
}

/// At most `permits` holders at once.
#[derive(Debug)]
struct Semaphore {
    available: Mutex<usize>,
    released: Condvar,
}

/// A permit; dropping it gives the permit back.
#[derive(Debug)]
#[must_use = "the permit is given back as soon as it is dropped"]
struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    fn new(permits: usize) -> Self {
        Self {
            available: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // The count is one integer, never left half-updated: a poisoned lock holds a valid one.
        self.available
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit.
    fn acquire(&self) -> Permit<'_> {
        // `wait_while` is the predicate loop: it sleeps while no permit is free, and looks
        // again after every wake-up, spurious or not.
        let mut available = self
            .released
            .wait_while(self.lock(), |available| *available == 0)
            .unwrap_or_else(PoisonError::into_inner);
        *available -= 1;
        Permit { semaphore: self }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.semaphore.lock() += 1;
        // One permit freed: one waiter can have it.
        self.semaphore.released.notify_one();
    }
}
