//! # Lesson l3-03: publishing data with Release and Acquire
//!
//! Replaces nothing you write in Node: every JavaScript `Atomics` call is sequentially
//! consistent (`SeqCst`), so a worker that writes data and then `Atomics.store`s a flag is
//! ordered for free. Rust makes every atomic operation name an `Ordering`, and this lesson is
//! the one case beyond `Relaxed` that most code needs.
//!
//! Shows: a reader starts checking a flag, finds it down and says so; only then does the writer
//! fill 8 words of data and raise the flag with a `Release` store, so the reader provably waits
//! (no sleep decides it). The reader spins until its `Acquire` load sees the flag raised, then
//! reads the data, and sees all of it. Which
//! ordering? `Relaxed` when the atomic is the only thing shared (a counter, lessons l3-01 and
//! l3-02); `Release` on the store and `Acquire` on the load when the atomic hands over other
//! memory (a "ready" flag, a lock, an index into a ring). `SeqCst` adds one global order of all
//! `SeqCst` operations on *different* atomics, which few algorithms need (two threads that each
//! set their own flag and then read the other's). It is never less correct, sometimes slower,
//! and it cannot fix a race like l3-01's; a weaker ordering with its reason written next to it
//! says more than `SeqCst` chosen by reflex.
//!
//! Run: `cargo run --release --example l3-03-release-acquire`
//!
//! Expect: the reader's first check (the flag down), the writer's line, the reader's view of the
//! data after N checks of the flag (N is at least 1, and varies), then `result: published data
//! read whole after N checks`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

/// Words of data the writer publishes.
const WORDS: usize = 8;

fn main() {
    let (seen, checks) = publish_with_a_flag();
    let expected: Vec<u64> = (1..=WORDS as u64).map(|i| i * 111).collect();
    assert_eq!(
        seen, expected,
        "the reader saw the flag, so it sees all the data"
    );
    assert!(
        checks >= 1,
        "the reader found the flag down before it was raised"
    );
    println!("result: published data read whole after {checks} checks");
}

/// The writer fills the data, then raises the flag; a reader that sees the flag raised must see
/// all of the data. Returns what the reader read, and how many times it found the flag down.
///
/// The data cells are atomics only so that this lesson needs no `unsafe`; written with
/// `Relaxed`, they are ordered by the flag alone, exactly as plain memory would be.
fn publish_with_a_flag() -> (Vec<u64>, u64) {
    let data: [AtomicU64; WORDS] = std::array::from_fn(|_| AtomicU64::new(0));
    let (ready, waiting) = (AtomicBool::new(false), AtomicBool::new(false));
    thread::scope(|s| {
        let reader = thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(s, || read_when_ready(&data, &ready, &waiting))
            .expect("could not spawn the reader");
        // Publish only once the reader has found the flag down: it then has to wait for it.
        // Relaxed: `waiting` hands over no data, it only says when to go on.
        let mut spins = 0u32;
        while !waiting.load(Ordering::Relaxed) {
            pause(&mut spins);
        }

        println!("[main] the reader is waiting: I write {WORDS} words, then raise the flag");
        for (i, word) in data.iter().enumerate() {
            // Relaxed: nobody may read these until the flag says so, and the flag's Release
            // store orders these writes before it.
            word.store((i as u64 + 1) * 111, Ordering::Relaxed);
        }
        // Release: everything written above becomes visible to any thread whose Acquire load
        // reads this `true`. This is the publication.
        ready.store(true, Ordering::Release);
        reader.join().expect("the reader panicked")
    })
}

/// The reader: says when it has found the flag down, waits for it, then reads the data.
fn read_when_ready(
    data: &[AtomicU64],
    ready: &AtomicBool,
    waiting: &AtomicBool,
) -> (Vec<u64>, u64) {
    let (mut checks, mut spins) = (0u64, 0u32);
    // Acquire: pairs with the writer's Release store. Once this load sees `true`, everything
    // the writer did before that store is visible here. With Relaxed, the flag could be seen
    // before the data on a weakly ordered CPU (ARM, POWER): the reader would read zeros. On
    // x86 it would very likely still work, because x86 keeps stores in order; the compiler
    // promises nothing of the kind, so a passing run proves nothing (guide 1: Miri and loom).
    while !ready.load(Ordering::Acquire) {
        checks += 1;
        if checks == 1 {
            println!("[reader] first check: the flag is down, so I wait");
            waiting.store(true, Ordering::Relaxed); // the writer may go on now
        }
        // A spin is fine for a wait this short; lessons l3-04 to l3-06 sleep instead.
        pause(&mut spins);
    }
    // Relaxed: these reads are ordered by the Acquire load above, not by themselves.
    let seen: Vec<u64> = data.iter().map(|d| d.load(Ordering::Relaxed)).collect();
    let me = thread::current();
    println!(
        "[{}] saw the flag raised after {checks} checks of it down, then read {seen:?}",
        me.name().unwrap_or("<unnamed>")
    );
    (seen, checks)
}

/// One step of a busy wait: a CPU spin hint at first, then, if the wait goes on, the core handed
/// to another thread (the one waited for may need it, on a busy or 1-core machine).
fn pause(spins: &mut u32) {
    *spins += 1;
    if *spins < 1_000 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}
