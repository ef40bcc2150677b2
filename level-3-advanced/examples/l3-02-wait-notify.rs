//! # Lesson l3-02: wait and notify
//!
//! Replaces Node's `Atomics.wait` / `Atomics.notify`: a worker sleeps until a value in shared
//! memory changes, another wakes it. Rust has three ways to do that, from the lowest level up:
//!
//! | Node | Rust | sleeps on |
//! |---|---|---|
//! | `Atomics.wait(a, i, v)` / `Atomics.notify(a, i, n)` | `atomic_wait::{wait, wake_one, wake_all}` (a futex) | an `AtomicU32` |
//! | (none) | `thread::park` / `Thread::unpark` | the thread itself |
//! | (none) | `Condvar::wait` / `notify_one` / `notify_all` | a condition guarded by a `Mutex` |
//!
//! All three may wake up with nothing to do (a *spurious* wake-up), and all three are used the
//! same way: check the condition in a loop, and sleep only while it is false. Node's
//! `Atomics.wait` says as much in its return value (`"ok"`, `"not-equal"`, `"timed-out"`),
//! and the course's consumer ignored `"not-equal"`, so it missed data written before it
//! started waiting. A loop that checks first cannot miss it.
//!
//! Shows: the same hand-off, a ping-pong of 5,000 round trips between the main thread and a
//! worker, done with each of the three; then `wake_all` releasing 4 waiting threads at once;
//! then `unpark` before `park`, which is remembered and not lost.
//!
//! Run: `cargo run --release --example l3-02-wait-notify`
//!
//! Expect: for each mechanism, the round trips both sides counted and how often each side
//! actually slept (it varies: a side that finds the ball already in its court does not sleep),
//! with `park` waking early hundreds of times (an `unpark` that arrives while its target is
//! still awake leaves a token, and the target's next `park` returns at once: the loop looks
//! again and parks again),
//! the time per round trip of each (machine-dependent; compare them, not the absolute
//! numbers), the 4 threads released by `wake_all`, then `result: 3 x 5000 round trips, 4 of 4
//! released by wake_all, an early unpark kept`.

use atomic_wait::{wait, wake_all, wake_one};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Round trips per mechanism: enough to time, few enough to finish in well under a second.
const ROUNDS: u32 = 5_000;

/// Threads waiting at the gate that `wake_all` opens.
const WAITERS: usize = 4;

/// Whose turn it is in the ping-pong.
const MAIN: u32 = 0;
const WORKER: u32 = 1;

/// What each side of one ping-pong counted.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Side {
    /// Turns this side took.
    turns: u32,
    /// Times it went to sleep because it was not its turn.
    sleeps: u32,
    /// Times it woke and found it was still not its turn (spurious, or woken early).
    spurious: u32,
}

/// One ping-pong's counts and time.
#[derive(Debug)]
struct Rally {
    main: Side,
    worker: Side,
    elapsed: Duration,
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Runs `side(me, other)` on the main thread (as `MAIN`) and on a worker named `worker_name`
/// (as `WORKER`) at once, and times the two together.
fn rally(worker_name: &str, side: impl Fn(u32, u32) -> Side + Sync) -> Rally {
    let start = Instant::now();
    let (main, worker) = thread::scope(|s| {
        let side = &side;
        let worker = thread::Builder::new()
            .name(worker_name.into())
            .spawn_scoped(s, move || side(WORKER, MAIN))
            .expect("could not spawn the worker");
        let main = side(MAIN, WORKER);
        (main, worker.join().expect("the worker panicked"))
    });
    Rally {
        main,
        worker,
        elapsed: start.elapsed(),
    }
}

/// Part 1, a futex: `wait(&atomic, expected)` sleeps only if the atomic still holds `expected`
/// (checked by the kernel, atomically with going to sleep), `wake_one` wakes a sleeper.
fn futex_ping_pong() -> Rally {
    let turn = AtomicU32::new(MAIN);
    rally("futex-worker", |me, other| {
        let mut side = Side {
            turns: 0,
            sleeps: 0,
            spurious: 0,
        };
        for _ in 0..ROUNDS {
            // Acquire: pairs with the other side's Release store, so whatever it did in its
            // turn is visible in ours.
            while turn.load(Ordering::Acquire) != me {
                side.sleeps += 1;
                // Sleeps only if `turn` is still `other`. If the other side handed over the
                // turn between our load and this call, `wait` returns at once: the hand-off
                // is never missed (Node's `"not-equal"`).
                wait(&turn, other);
                if turn.load(Ordering::Acquire) != me {
                    side.spurious += 1;
                }
            }
            side.turns += 1;
            // Release: publishes our turn's work with the hand-over.
            turn.store(other, Ordering::Release);
            // One thread waits on `turn`: wake it. A wake with nobody asleep is harmless.
            wake_one(&turn);
        }
        side
    })
}

/// Part 2, `park` / `unpark`: a thread sleeps on itself, and whoever holds its `Thread` handle
/// wakes it. The turn is still an atomic; park only replaces the sleeping part.
fn park_ping_pong() -> Rally {
    let turn = AtomicU32::new(MAIN);
    // Each side needs the other's `Thread` handle to unpark it: the main thread's is known
    // now, the worker sends its own as it starts.
    let main_thread = thread::current();
    let (handle_tx, handle_rx) = crossbeam_channel::bounded::<Thread>(1);
    rally("park-worker", |me, other| {
        let other_thread = if me == MAIN {
            handle_rx.recv().expect("the worker sends its handle first")
        } else {
            handle_tx
                .send(thread::current())
                .expect("the main thread waits for the handle");
            main_thread.clone()
        };
        let mut side = Side {
            turns: 0,
            sleeps: 0,
            spurious: 0,
        };
        for _ in 0..ROUNDS {
            // Acquire / Release as in the futex version, for the same reasons.
            while turn.load(Ordering::Acquire) != me {
                side.sleeps += 1;
                // Returns at once if an `unpark` came since the last `park` (a token is kept),
                // and may return spuriously: hence the loop.
                thread::park();
                if turn.load(Ordering::Acquire) != me {
                    side.spurious += 1;
                }
            }
            side.turns += 1;
            turn.store(other, Ordering::Release);
            other_thread.unpark();
        }
        side
    })
}

/// Part 3, a `Condvar`: the condition lives in a `Mutex`, and `wait` releases the lock while it
/// sleeps, then takes it back before returning. No atomics, no `Ordering`: the mutex orders
/// everything.
fn condvar_ping_pong() -> Rally {
    let turn = Mutex::new(MAIN);
    let changed = Condvar::new();
    rally("condvar-worker", |me, other| {
        let mut side = Side {
            turns: 0,
            sleeps: 0,
            spurious: 0,
        };
        for _ in 0..ROUNDS {
            let mut current = turn.lock().unwrap_or_else(PoisonError::into_inner);
            // The predicate loop. `Condvar::wait_while` writes it for you; it is spelled out
            // here to count the wake-ups that find the condition still false.
            while *current != me {
                side.sleeps += 1;
                current = changed
                    .wait(current)
                    .unwrap_or_else(PoisonError::into_inner);
                if *current != me {
                    side.spurious += 1;
                }
            }
            side.turns += 1;
            *current = other;
            drop(current);
            // The other side is the only waiter. (With several waiters on different
            // conditions, `notify_all` and let each check its own.)
            changed.notify_one();
        }
        side
    })
}

/// `wake_all`: `WAITERS` threads sleep until a gate opens; one store and one `wake_all` lets
/// every one of them through. Returns how many got through.
fn gate_with_wake_all() -> usize {
    const CLOSED: u32 = 0;
    const OPEN: u32 = 1;
    let gate = AtomicU32::new(CLOSED);
    let waiting = AtomicUsize::new(0);
    let through = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..WAITERS {
            let (gate, waiting, through) = (&gate, &waiting, &through);
            thread::Builder::new()
                .name(format!("gate-waiter-{i}"))
                .spawn_scoped(s, move || {
                    // Relaxed: only a progress count for the main thread's message.
                    waiting.fetch_add(1, Ordering::Relaxed);
                    // Acquire: pairs with the main thread's Release store of OPEN.
                    while gate.load(Ordering::Acquire) == CLOSED {
                        wait(gate, CLOSED);
                    }
                    println!("[{}] through the gate", me());
                    // Relaxed: read after the scope has joined this thread.
                    through.fetch_add(1, Ordering::Relaxed);
                })
                .expect("could not spawn a waiter");
        }
        // Opening before every waiter has reached `wait` is fine too: a late waiter finds the
        // gate open and never sleeps. That is the point of checking before waiting.
        println!(
            "[main] opening the gate; {} of {WAITERS} waiters have arrived so far",
            waiting.load(Ordering::Relaxed)
        );
        // Release: anything written before opening is visible to every waiter that sees OPEN.
        gate.store(OPEN, Ordering::Release);
        wake_all(&gate);
    });
    through.load(Ordering::Relaxed)
}

/// `unpark` before `park`: the wake-up is kept as a token, so the later `park` returns at
/// once. (A signal sent before anyone listens is exactly what Node's consumer lost.) Returns
/// how long the `park` took.
fn unpark_before_park() -> Duration {
    /// Only there so that a broken program fails instead of hanging: with the token kept,
    /// `park` returns at once.
    const LIMIT: Duration = Duration::from_secs(10);
    thread::current().unpark(); // nobody is parked yet: a token is stored
    let parked = Instant::now();
    thread::park_timeout(LIMIT); // finds the token: returns without sleeping
    let waited = parked.elapsed();
    println!(
        "[{}] unparked myself first, then parked: returned after {waited:?}",
        me()
    );
    assert!(
        waited < LIMIT,
        "the early unpark was lost: park slept until its limit"
    );
    waited
}

fn report(name: &str, rally: &Rally) {
    for (who, side) in [("main", rally.main), ("worker", rally.worker)] {
        println!(
            "[main] {name:<8} {who:<6}: {} turns, slept {} times, {} wake-ups too early",
            side.turns, side.sleeps, side.spurious
        );
    }
}

fn main() {
    println!("[main] --- ping-pong, {ROUNDS} round trips each ---");
    let rallies = [
        ("futex", futex_ping_pong()),
        ("park", park_ping_pong()),
        ("condvar", condvar_ping_pong()),
    ];
    for (name, rally) in &rallies {
        report(name, rally);
    }
    for (name, rally) in &rallies {
        assert_eq!(rally.main.turns, ROUNDS, "{name}: every main turn taken");
        assert_eq!(
            rally.worker.turns, ROUNDS,
            "{name}: every worker turn taken"
        );
        // A side that finds the turn already handed over does not sleep at all, so `sleeps`
        // has no lower bound; only the consistency of the counts is checked.
        assert!(rally.main.spurious <= rally.main.sleeps);
        assert!(rally.worker.spurious <= rally.worker.sleeps);
    }
    let futex_time = rallies[0].1.elapsed;
    for (name, rally) in &rallies {
        println!(
            "[main] {name:<8}: {:>6.2} us per round trip, {:.2}x the futex's time",
            rally.elapsed.as_secs_f64() * 1e6 / f64::from(ROUNDS),
            rally.elapsed.as_secs_f64() / futex_time.as_secs_f64()
        );
    }

    println!("[main] --- wake_all ---");
    let released = gate_with_wake_all();
    assert_eq!(released, WAITERS, "wake_all lets every waiter through");

    println!("[main] --- unpark before park ---");
    unpark_before_park();

    println!(
        "result: 3 x {ROUNDS} round trips, {released} of {WAITERS} released by wake_all, an \
         early unpark kept"
    );
}
