//! # Lesson l3-07: the Node ring's slot race
//!
//! Replaces Node's producer/consumer over a `SharedArrayBuffer` ring (10 slots, a header of
//! write index, read index and count, `Atomics.wait`/`notify`, 2 producers and 1 consumer). Its
//! flaw: a producer reads the write index, writes the slot, then stores index + 1, three
//! separate atomic steps with no lock, so two producers can read the same index and fill the
//! same slot, and one item is lost. It is lesson l3-01's lost update, with an item at stake
//! instead of a count.
//!
//! Shows: that flaw, reproduced safely (every cell is an atomic) and counted: 2 producers claim
//! slots with load-then-store of the write index, and the items overwritten before anyone could
//! read them are counted. Lesson l3-08 fixes it with a lock.
//!
//! Run: `cargo run --release --example l3-07-ring-slot-race`
//!
//! Expect: how many of the 4,000,000 items were lost (it varies; a run that loses none is
//! repeated, up to 5 runs in all), then `result: racy claim lost N of 4000000`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

/// Items per producer. Producer `p` makes items from `p * ITEM_BASE + 1` on, so every item is
/// distinct and says who made it. Many, so that a run lasts long enough for the two producers
/// to overlap.
const PER_PRODUCER: u64 = 2_000_000;
const ITEM_BASE: u64 = 10_000_000;
const TOTAL: u64 = 2 * PER_PRODUCER;

/// How many times the racy claim is run, at most, until one run loses an item. The race needs
/// both producers running at the same instant, which a busy machine may not allow for a whole
/// run.
const TRIES: u32 = 5;

fn main() {
    let mut lost = 0;
    for attempt in 1..=TRIES {
        lost = racy_claims();
        assert!(lost <= TOTAL);
        println!("[main] run {attempt}: {lost} of {TOTAL} items lost");
        if lost > 0 {
            break;
        }
    }
    println!(
        "[main] the number lost varies from run to run; 0 means the producers never ran at the \
         same instant, not that the ring is right"
    );
    println!("result: racy claim lost {lost} of {TOTAL}");
}

/// The Node ring's claim, `i = write; slot[i] = item; write = i + 1`, each step atomic, the
/// three together not. No wrap-around, so that every claim gets its own slot if the claims do
/// not overlap, and an overwrite can only be the race.
///
/// Returns how many items were lost (overwritten before anyone could read them).
fn racy_claims() -> u64 {
    // 0 marks an empty slot; items start at 1.
    let slots: Vec<AtomicU64> = (0..TOTAL).map(|_| AtomicU64::new(0)).collect();
    let write = AtomicUsize::new(0);
    let arrived = AtomicUsize::new(0);
    thread::scope(|s| {
        for p in 0..2 {
            let (slots, write, arrived) = (&slots, &write, &arrived);
            thread::Builder::new()
                .name(format!("racy-producer-{p}"))
                .spawn_scoped(s, move || {
                    // A spinning starting line, as in lesson l3-01, so that both set off
                    // together. Relaxed: a head count only.
                    arrived.fetch_add(1, Ordering::Relaxed);
                    while arrived.load(Ordering::Relaxed) < 2 {
                        thread::yield_now();
                    }
                    for n in 0..PER_PRODUCER {
                        // Relaxed everywhere: the ordering is not the bug. Even SeqCst cannot
                        // stop another producer from loading the same index before our store.
                        let i = write.load(Ordering::Relaxed);
                        slots[i].store(p * ITEM_BASE + n + 1, Ordering::Relaxed);
                        write.store(i + 1, Ordering::Relaxed);
                    }
                })
                .expect("could not spawn a producer");
        }
    });
    // Each store of `write` is some load + 1, so it never passes the number of claims made:
    // every index used was in bounds (the indexing above would have panicked otherwise).
    let claimed = write.load(Ordering::Relaxed);
    let mut found: Vec<u64> = slots
        .iter()
        .map(|slot| slot.load(Ordering::Relaxed))
        .filter(|&item| item != 0)
        .collect();
    found.sort_unstable();
    found.dedup();
    let lost = TOTAL - found.len() as u64;
    println!(
        "[main] 2 producers made {TOTAL} claims; the write index ended at {claimed}; {} \
         distinct items are in the slots: {lost} lost",
        found.len()
    );
    lost
}
