//! # Lesson l3-12: `RwLock`, many readers or one writer
//!
//! Replaces the Node course's hand-built readers-writer lock (a reader count and a writer flag
//! in a `SharedArrayBuffer`, `Atomics.wait`/`notify`), which let a stream of readers starve a
//! writer forever. `std::sync::RwLock<T>` lets any number of readers in at once (`read()`) and
//! gives a writer the data alone (`write()`); whether waiting writers go before new readers is
//! left to the platform (std promises no policy), so do not design around either.
//!
//! Shows: every reader inside the lock at once, proved with a `Barrier` (lesson l3-11) that only
//! opens when all of them are in; then readers and a writer together, no reader ever seeing a
//! half-made update. A `shared::testing::ConcurrencyProbe` counts the threads inside: `enter()`
//! returns a guard, and the probe remembers the most guards alive at once.
//!
//! Run: `cargo run --release --example l3-12-rwlock`
//!
//! Expect: 4 readers inside at once, how many reads ran during the 1,000 updates (it varies),
//! then `result: rwlock 4 readers at once, 0 torn reads, final version 1000`.

use shared::testing::ConcurrencyProbe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, PoisonError, RwLock};
use std::thread;

const READERS: usize = 4;
const UPDATES: u64 = 1_000;

fn main() {
    let config = RwLock::new(Config {
        version: 0,
        doubled: 0,
    });
    let at_once = readers_together(&config);
    assert_eq!(at_once, READERS, "all readers were inside together");

    let (reads, torn) = readers_and_a_writer(&config);
    let final_version = config
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .version;
    println!(
        "[main] {reads} reads during {UPDATES} updates; {torn} saw a half-made update; final \
         version {final_version}"
    );
    assert_eq!(torn, 0, "no reader saw a half-made update");
    assert_eq!(final_version, UPDATES);
    println!(
        "result: rwlock {at_once} readers at once, {torn} torn reads, final version {final_version}"
    );
}

/// Two fields that must agree: `doubled == version * 2` in every published state.
#[derive(Debug)]
struct Config {
    version: u64,
    doubled: u64,
}

/// Every reader takes the read lock and then waits at a barrier that opens only when all
/// `READERS` are there, so they all hold the lock at the same time. With a mutex (or a lock
/// that let only one reader in) this would never finish. No writer runs yet: a waiting writer
/// may make the lock turn new readers away, and the barrier would never fill. Returns the most
/// readers seen inside at once.
fn readers_together(config: &RwLock<Config>) -> usize {
    let probe = ConcurrencyProbe::new();
    let all_inside = Barrier::new(READERS);
    thread::scope(|s| {
        for _ in 0..READERS {
            s.spawn(|| {
                let _config = config.read().unwrap_or_else(PoisonError::into_inner);
                let _inside = probe.enter();
                all_inside.wait();
            });
        }
    });
    println!("[main] {} readers held the read lock at once", probe.max());
    probe.max()
}

/// A writer updates while the readers read. A writer holds the lock alone, so a reader sees a
/// whole update or none of it: never `doubled != version * 2`. Returns (reads, torn reads).
fn readers_and_a_writer(config: &RwLock<Config>) -> (u64, u64) {
    let reads = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    let writer_done = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..READERS {
            s.spawn(|| {
                let mut last = 0;
                loop {
                    // Acquire: see the writer's Release store. Checked before the read, so the
                    // last read comes after the final update.
                    let done = writer_done.load(Ordering::Acquire);
                    let config = config.read().unwrap_or_else(PoisonError::into_inner);
                    // Relaxed: statistics, read after the scope joins the threads.
                    reads.fetch_add(1, Ordering::Relaxed);
                    if config.doubled != config.version * 2 || config.version < last {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                    last = config.version;
                    if done {
                        break;
                    }
                }
            });
        }
        // The readers first, so that they are reading while the writer writes.
        s.spawn(|| {
            for _ in 0..UPDATES {
                let mut config = config.write().unwrap_or_else(PoisonError::into_inner);
                config.version += 1;
                // Between these two lines the state is inconsistent; nobody can see it.
                config.doubled = config.version * 2;
            }
            // Release: pairs with the readers' Acquire load, so a reader that sees `true` has
            // the writer's last unlock behind it, and its next read sees the final version.
            writer_done.store(true, Ordering::Release);
        });
    });
    (reads.into_inner(), torn.into_inner())
}
