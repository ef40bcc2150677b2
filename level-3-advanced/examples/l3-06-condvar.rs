//! # Lesson l3-06: `Condvar`, waiting for a condition under a `Mutex`
//!
//! Replaces Node's `Atomics.wait` / `Atomics.notify` for everything that is not a single number:
//! a `Condvar` sleeps until a *condition* on data guarded by a `Mutex` holds. `wait(guard)`
//! gives the lock back and goes to sleep in one step, so a change cannot slip in between the
//! check and the sleep, and it holds the lock again when it returns. `notify_one` wakes one
//! waiter, `notify_all` every one. No atomics, no `Ordering`: the mutex orders everything.
//!
//! Shows: the ping-pong of lessons l3-04 and l3-05, 5,000 round trips, with the turn in a
//! `Mutex<u32>` and the waiting done by a `Condvar`, in the same predicate loop: a wake-up, early
//! or spurious, is only a reason to look again. `Condvar::wait_while` writes that loop for you
//! (and `wait_timeout_while` adds a deadline); it is spelled out here to count the wake-ups.
//!
//! Run: `cargo run --release --example l3-06-condvar`
//!
//! Expect: how often each side slept and woke too early (both vary), the time per round trip
//! (it varies by machine and run, and shows the order of magnitude, microseconds; separate runs
//! of l3-04 to l3-06 on a shared machine do not rank them), then
//! `result: 5000 round trips through a Mutex and a Condvar`.

use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

/// Round trips: enough to time, few enough to finish in well under a second.
const ROUNDS: u32 = 5_000;

/// Whose turn it is in the ping-pong.
const MAIN: u32 = 0;
const WORKER: u32 = 1;

fn main() {
    let start = Instant::now();
    let sides = condvar_ping_pong();
    let elapsed = start.elapsed();
    for (who, (turns, sleeps, early)) in sides {
        println!("[main] {who:<6}: {turns} turns, slept {sleeps} times, {early} too early");
        assert_eq!(turns, ROUNDS, "{who}: every turn taken");
        assert!(early <= sleeps);
    }
    let per_trip = elapsed.as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!("[main] {per_trip:.2} µs per round trip (it varies by machine and run)");
    println!("result: {ROUNDS} round trips through a Mutex and a Condvar");
}

/// The condition and its condition variable: the turn, and the `Condvar` its changes are
/// announced on. One `Condvar` is used with one `Mutex` only.
#[derive(Debug)]
struct Turn {
    whose: Mutex<u32>,
    changed: Condvar,
}

/// The main thread and a worker play `ROUNDS` round trips. Returns what each side counted.
fn condvar_ping_pong() -> [(&'static str, (u32, u32, u32)); 2] {
    let turn = Turn {
        whose: Mutex::new(MAIN),
        changed: Condvar::new(),
    };
    thread::scope(|s| {
        let turn = &turn;
        let worker = thread::Builder::new()
            .name("condvar-worker".into())
            .spawn_scoped(s, move || ping_pong(turn, WORKER, MAIN))
            .expect("could not spawn the worker");
        let main_side = ping_pong(turn, MAIN, WORKER);
        [
            ("main", main_side),
            ("worker", worker.join().expect("the worker panicked")),
        ]
    })
}

/// One side: `ROUNDS` times, wait until the turn is `me`, then hand it to `other`. Returns
/// (turns taken, times it slept, wake-ups that found it still not its turn).
fn ping_pong(turn: &Turn, me: u32, other: u32) -> (u32, u32, u32) {
    let (mut turns, mut sleeps, mut early) = (0, 0, 0);
    for _ in 0..ROUNDS {
        // The turn is one integer, never left half-changed: a poisoned lock still holds a
        // valid one, so take it anyway.
        let mut whose = turn.whose.lock().unwrap_or_else(PoisonError::into_inner);
        // The predicate loop: `while`, never `if`.
        while *whose != me {
            sleeps += 1;
            // Unlocks, sleeps, and locks again before returning.
            whose = turn
                .changed
                .wait(whose)
                .unwrap_or_else(PoisonError::into_inner);
            if *whose != me {
                early += 1;
            }
        }
        turns += 1;
        // Change the state under the lock, then notify: the waiter has either not checked yet
        // (it will see the change) or is already asleep on the condvar (it gets the notify).
        *whose = other;
        drop(whose); // unlock first, so the woken thread does not wake into a held lock
        // The other side is the only waiter. (With several waiters on different conditions,
        // `notify_all`, and let each check its own.)
        turn.changed.notify_one();
    }
    (turns, sleeps, early)
}
