//! # Lesson l3-04: futex wait and wake
//!
//! Replaces Node's `Atomics.wait(a, i, v)` / `Atomics.notify(a, i, n)`: a worker sleeps until a
//! value in shared memory changes, another wakes it. The exact Rust equivalent is a futex, which
//! the `atomic-wait` crate offers on every platform: `wait(&atomic, expected)` sleeps only if an
//! `AtomicU32` still holds `expected` (checked by the kernel, atomically with going to sleep),
//! and `wake_one` / `wake_all` wake sleepers.
//!
//! Every wait may return with nothing changed (a *spurious* wake-up), so a wait is always used
//! the same way: check the condition in a loop, sleep only while it is false. Node's
//! `Atomics.wait` says as much in its return value (`"ok"`, `"not-equal"`, `"timed-out"`), and
//! the course's consumer ignored `"not-equal"`, so it missed data written before it started
//! waiting. A loop that checks first cannot miss it.
//!
//! Shows: a ping-pong of 5,000 round trips between the main thread and a worker, handing the
//! turn over through one `AtomicU32`; then one `wake_all` releasing 4 waiting threads at once.
//!
//! Run: `cargo run --release --example l3-04-futex-wait-wake`
//!
//! Expect: how often each side actually slept (it varies: a side that finds the ball already in
//! its court does not sleep), the time per round trip (it varies by machine and run, and shows
//! the order of magnitude, microseconds; it does not rank this lesson against l3-05 and l3-06,
//! whose separate runs on a shared machine do not compare), the 4 threads through the gate, then
//! `result: 5000 round trips, 4 of 4 released by wake_all`.

use atomic_wait::{wait, wake_all, wake_one};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

/// Round trips: enough to time, few enough to finish in well under a second.
const ROUNDS: u32 = 5_000;

/// Threads waiting at the gate that `wake_all` opens.
const WAITERS: usize = 4;

/// Whose turn it is in the ping-pong.
const MAIN: u32 = 0;
const WORKER: u32 = 1;

fn main() {
    let start = Instant::now();
    let sides = futex_ping_pong();
    let elapsed = start.elapsed();
    for (who, (turns, sleeps, spurious)) in sides {
        println!("[main] {who:<6}: {turns} turns, slept {sleeps} times, {spurious} too early");
        assert_eq!(turns, ROUNDS, "{who}: every turn taken");
        // A side that finds the turn already handed over does not sleep at all, so `sleeps`
        // has no lower bound; only the consistency of the counts is checked.
        assert!(spurious <= sleeps);
    }
    let per_trip = elapsed.as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!("[main] {per_trip:.2} µs per round trip (it varies by machine and run)");

    let released = gate_with_wake_all();
    assert_eq!(released, WAITERS, "wake_all lets every waiter through");
    println!("result: {ROUNDS} round trips, {released} of {WAITERS} released by wake_all");
}

/// The main thread and a worker play `ROUNDS` round trips, the turn held in one `AtomicU32`.
/// Returns what each side counted.
fn futex_ping_pong() -> [(&'static str, (u32, u32, u32)); 2] {
    let turn = AtomicU32::new(MAIN);
    thread::scope(|s| {
        let turn = &turn;
        let worker = thread::Builder::new()
            .name("futex-worker".into())
            .spawn_scoped(s, move || ping_pong(turn, WORKER, MAIN))
            .expect("could not spawn the worker");
        let main_side = ping_pong(turn, MAIN, WORKER);
        [
            ("main", main_side),
            ("worker", worker.join().expect("the worker panicked")),
        ]
    })
}

/// One side of the ping-pong: `ROUNDS` times, wait for `turn == me`, then hand it to `other`.
/// Returns (turns taken, times it slept, wake-ups that found it still not its turn).
fn ping_pong(turn: &AtomicU32, me: u32, other: u32) -> (u32, u32, u32) {
    let (mut turns, mut sleeps, mut spurious) = (0, 0, 0);
    for _ in 0..ROUNDS {
        // Acquire: pairs with the other side's Release store, so whatever it did in its turn
        // is visible in ours (lesson l3-03).
        while turn.load(Ordering::Acquire) != me {
            sleeps += 1;
            // Sleeps only if `turn` is still `other`. If the other side handed over the turn
            // between our load and this call, `wait` returns at once: the hand-off is never
            // missed (Node's `"not-equal"`).
            wait(turn, other);
            if turn.load(Ordering::Acquire) != me {
                spurious += 1;
            }
        }
        turns += 1;
        // Release: publishes our turn's work with the hand-over.
        turn.store(other, Ordering::Release);
        // One thread waits on `turn`: wake it. A wake with nobody asleep is harmless.
        wake_one(turn);
    }
    (turns, sleeps, spurious)
}

/// `wake_all`: `WAITERS` threads sleep until a gate opens; one store and one `wake_all` let
/// every one of them through. Returns how many got through.
fn gate_with_wake_all() -> usize {
    const CLOSED: u32 = 0;
    const OPEN: u32 = 1;
    let gate = AtomicU32::new(CLOSED);
    let through = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..WAITERS {
            let (gate, through) = (&gate, &through);
            thread::Builder::new()
                .name(format!("gate-waiter-{i}"))
                .spawn_scoped(s, move || {
                    // Acquire: pairs with the main thread's Release store of OPEN.
                    while gate.load(Ordering::Acquire) == CLOSED {
                        wait(gate, CLOSED);
                    }
                    println!(
                        "[{}] through the gate",
                        thread::current().name().unwrap_or("?")
                    );
                    // Relaxed: read after the scope has joined this thread.
                    through.fetch_add(1, Ordering::Relaxed);
                })
                .expect("could not spawn a waiter");
        }
        // Opening before every waiter has reached `wait` is fine too: a late waiter finds the
        // gate open and never sleeps. That is the point of checking before waiting.
        println!("[main] opening the gate");
        // Release: anything written before opening is visible to every waiter that sees OPEN.
        gate.store(OPEN, Ordering::Release);
        wake_all(&gate);
    });
    through.load(Ordering::Relaxed)
}
