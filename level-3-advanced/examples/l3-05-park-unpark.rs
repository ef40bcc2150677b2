//! # Lesson l3-05: `park` and `unpark`
//!
//! Replaces Node's `Atomics.wait` / `Atomics.notify` when the waker knows *which* thread to
//! wake. Node has no such call: a worker can only sleep on a cell of shared memory. In Rust a
//! thread can sleep on itself, `thread::park()`, and whoever holds its `Thread` handle wakes it
//! with `unpark()`. No shared cell is needed to sleep on; the condition still lives in an
//! atomic, checked in a loop as in lesson l3-04.
//!
//! Each thread has one wake-up token: `unpark` sets it, `park` consumes it (or sleeps until it
//! is set). So an `unpark` that comes *before* the `park` is kept, and the `park` returns at
//! once: a signal sent before anyone listens, exactly what Node's consumer lost, is not lost.
//!
//! Shows: the ping-pong of lesson l3-04, 5,000 round trips, with the sleeping done by `park`;
//! then `unpark` before `park`, which is remembered.
//!
//! Run: `cargo run --release --example l3-05-park-unpark`
//!
//! Expect: how often each side slept, with hundreds of early wake-ups (an `unpark` that arrives
//! while its target is still awake leaves a token, and the target's next `park` returns at once:
//! the loop looks again and parks again); the time per round trip (it varies by machine and
//! run, and shows the order of magnitude, microseconds; separate runs of l3-04 to l3-06 on a
//! shared machine do not rank them); the early unpark kept; then `result: 5000 round trips,
//! an early unpark kept`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Round trips: enough to time, few enough to finish in well under a second.
const ROUNDS: u32 = 5_000;

/// Whose turn it is in the ping-pong.
const MAIN: u32 = 0;
const WORKER: u32 = 1;

fn main() {
    let start = Instant::now();
    let sides = park_ping_pong();
    let elapsed = start.elapsed();
    for (who, (turns, sleeps, early)) in sides {
        println!("[main] {who:<6}: {turns} turns, parked {sleeps} times, {early} too early");
        assert_eq!(turns, ROUNDS, "{who}: every turn taken");
        assert!(early <= sleeps);
    }
    let per_trip = elapsed.as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!("[main] {per_trip:.2} µs per round trip (it varies by machine and run)");

    unpark_before_park();
    println!("result: {ROUNDS} round trips, an early unpark kept");
}

/// The main thread and a worker play `ROUNDS` round trips. Each side needs the other's `Thread`
/// handle to unpark it: the main thread's is known now, the worker's comes from its
/// `JoinHandle`. Returns what each side counted.
fn park_ping_pong() -> [(&'static str, (u32, u32, u32)); 2] {
    let turn = AtomicU32::new(MAIN);
    let main_thread = thread::current();
    thread::scope(|s| {
        let turn = &turn;
        let worker = thread::Builder::new()
            .name("park-worker".into())
            .spawn_scoped(s, move || ping_pong(turn, WORKER, MAIN, &main_thread))
            .expect("could not spawn the worker");
        let main_side = ping_pong(turn, MAIN, WORKER, worker.thread());
        [
            ("main", main_side),
            ("worker", worker.join().expect("the worker panicked")),
        ]
    })
}

/// One side: `ROUNDS` times, park until `turn == me`, then hand it to `other` and unpark the
/// other thread. Returns (turns taken, times it parked, wake-ups that found it still not its
/// turn).
fn ping_pong(turn: &AtomicU32, me: u32, other: u32, other_thread: &Thread) -> (u32, u32, u32) {
    let (mut turns, mut sleeps, mut early) = (0, 0, 0);
    for _ in 0..ROUNDS {
        // Acquire / Release as in lesson l3-04, for the same reasons.
        while turn.load(Ordering::Acquire) != me {
            sleeps += 1;
            // Returns at once if an `unpark` came since the last `park` (the token is kept),
            // and may return spuriously: hence the loop.
            thread::park();
            if turn.load(Ordering::Acquire) != me {
                early += 1;
            }
        }
        turns += 1;
        turn.store(other, Ordering::Release);
        other_thread.unpark();
    }
    (turns, sleeps, early)
}

/// `unpark` before `park`: the wake-up is kept as a token, so the later `park` returns at once.
fn unpark_before_park() {
    /// Only there so that a broken program fails instead of hanging: with the token kept,
    /// `park` returns at once.
    const LIMIT: Duration = Duration::from_secs(10);
    thread::current().unpark(); // nobody is parked yet: a token is stored
    let parked = Instant::now();
    thread::park_timeout(LIMIT); // finds the token: returns without sleeping
    let waited = parked.elapsed();
    println!("[main] unparked myself first, then parked: returned after {waited:?}");
    assert!(
        waited < LIMIT,
        "the early unpark was lost: park slept until its limit"
    );
}
