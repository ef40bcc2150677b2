//! # Lesson l3-02: the compare-exchange loop
//!
//! Replaces Node's `Atomics.compareExchange(a, i, expected, v)` in a retry loop: the way to make
//! a read-modify-write that `Atomics` has no single call for (a maximum, a saturating add, a
//! float) without losing updates. In Rust it is `compare_exchange` (or `compare_exchange_weak`
//! in a loop): store the new value only if the atomic still holds the value read, else get the
//! value that is there now and try again.
//!
//! Shows: the load-then-store counter of lesson l3-01, fixed with a compare-exchange loop. 4
//! threads add 1 five million times each; every time a thread's value is outdated it retries,
//! and the retries are counted: each is a conflict that load-then-store would have lost.
//!
//! A **retry** is one `compare_exchange` that failed because the counter changed after this
//! thread read it (another thread's update got in between; with `_weak`, or the hardware gave
//! up spuriously): the thread reads the new value and tries again, and nothing is lost. Expect
//! far fewer retries than lesson l3-01 lost updates, for two reasons. l3-01 counts *updates*:
//! one stale `store` overwrites every increment the other threads made since its `load`, many
//! at once, while a retry counts one collision. And in a release build collisions are rare: the
//! `load` and the `compare_exchange` are a few instructions apart on a cache line this core has
//! just fetched, and another core needs longer than that to take the line away (on 2 cores,
//! only 2 of the 4 threads run at any instant, too). A debug build puts far more instructions
//! between the two, and retries far more often.
//!
//! Run: `cargo run --release --example l3-02-compare-exchange`
//!
//! Expect: each thread's retries (they vary widely from run to run and between debug and
//! release builds: threads that never overlap never retry), then
//! `result: compare_exchange 20000000 of 20000000 after M retries`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

/// Threads and updates per thread, as in lesson l3-01.
const THREADS: u64 = 4;
const ITERATIONS: u64 = 5_000_000;
const EXPECTED: u64 = THREADS * ITERATIONS;

fn main() {
    let (total, retries) = compare_exchange_counter();
    println!(
        "[main] total {total} of {EXPECTED}; {retries} retries, each a conflict that \
         load-then-store would have lost"
    );
    println!(
        "[main] a retry: a compare_exchange that found the counter changed since this thread \
         read it, and tried again from the new value (nothing lost); the fewer instructions \
         between the read and the compare_exchange, the fewer retries (the header says more)"
    );
    assert_eq!(total, EXPECTED, "compare_exchange never loses an update");
    println!("result: compare_exchange {total} of {EXPECTED} after {retries} retries");
}

/// Read, compute, and store only if nobody changed the value in between, else retry with the
/// new value. Returns the total and how many times a thread found its value outdated.
fn compare_exchange_counter() -> (u64, u64) {
    let counter = AtomicU64::new(0);
    let retries = AtomicU64::new(0);
    on_threads("cas", || {
        let mut mine = 0;
        for _ in 0..ITERATIONS {
            // Relaxed throughout: only this one value is shared, and it is read after the join.
            let mut seen = counter.load(Ordering::Relaxed);
            loop {
                // Any computation on `seen` could go here; `+ 1` stands for it. The two
                // orderings are for success and for failure; Relaxed for both, as above.
                match counter.compare_exchange_weak(
                    seen,
                    seen + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    // Another thread got in between (or, for the `_weak` form, the hardware
                    // gave up spuriously, which is cheaper on some CPUs and only costs a
                    // retry here): exactly where load-then-store loses an update. Try again
                    // from the value that is there now.
                    Err(now) => {
                        seen = now;
                        mine += 1;
                    }
                }
            }
        }
        println!("[{}] retried {mine} times", me());
        // Relaxed: a count read after the join.
        retries.fetch_add(mine, Ordering::Relaxed);
    });
    (
        counter.load(Ordering::Relaxed),
        retries.load(Ordering::Relaxed),
    )
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Runs `work` on `THREADS` scoped threads named `{name}-0`, `{name}-1`, ..., started together
/// at a spinning starting line (lesson l3-01), so that they overlap and conflicts happen.
fn on_threads(name: &str, work: impl Fn() + Sync) {
    let arrived = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (arrived, work) = (&arrived, &work);
            thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn_scoped(s, move || {
                    // Relaxed: a head count; no other data is handed over through it.
                    arrived.fetch_add(1, Ordering::Relaxed);
                    let mut spins = 0u32;
                    while arrived.load(Ordering::Relaxed) < THREADS as usize {
                        spins += 1;
                        if spins < 1_000 {
                            std::hint::spin_loop();
                        } else {
                            thread::yield_now();
                        }
                    }
                    work();
                })
                .expect("could not spawn a thread");
        }
    });
}
