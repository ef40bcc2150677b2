//! # Lesson l3-03: producer and consumer over a bounded ring
//!
//! Replaces Node's producer/consumer over a `SharedArrayBuffer` ring (10 slots, a header of
//! write index, read index and count, `Atomics.wait`/`notify`, 2 producers and 1 consumer).
//! Its flaw: a producer reads the write index, writes the slot, then stores index + 1, three
//! separate atomic steps with no lock, so two producers can read the same index and fill the
//! same slot, and one item is lost.
//!
//! Shows:
//! 1. that flaw, reproduced safely (every cell is an atomic) and counted: 2 producers claim
//!    slots with load-then-store of the write index; items overwritten are counted;
//! 2. the fix: a bounded ring in a `Mutex<VecDeque>` with two `Condvar`s, `not_full` for the
//!    producers and `not_empty` for the consumer. Claiming a slot and writing it is one step
//!    under the lock. 2 producers and 1 consumer; the multiset consumed equals the multiset
//!    produced;
//! 3. with exactly one producer and one consumer, no lock at all: the lock-free ring of
//!    `level_3_advanced::spsc`, whose types forbid a second producer. The same traffic is run
//!    through the `Mutex` ring and through it, and timed.
//!
//! Run: `cargo run --release --example l3-03-producer-consumer`
//!
//! Expect: how many of the racy ring's items were lost (it varies; a run that loses none is
//! repeated, up to 5 runs in all); the producers and the consumer of the `Mutex` ring with how
//! often each had to wait; the SPSC run; the two times and their ratio (machine-dependent);
//! then `result: racy claim lost N of 4000000, mutex ring 40000 in, 40000 out, none lost or
//! repeated; spsc 1000000 in order, checksum ok`.

use crossbeam_utils::Backoff;
use level_3_advanced::spsc;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Node's ring held 10 items.
const CAPACITY: usize = 10;

/// Items per producer in the racy and the `Mutex` runs. Producer `p` makes items from
/// `p * ITEM_BASE` on, so every item is distinct and says who made it (Node's test used
/// {0..19} and {1000..1019}). The racy run makes many, so that it lasts long enough for the
/// two producers to overlap.
const RACY_PER_PRODUCER: u64 = 2_000_000;
const PER_PRODUCER: u64 = 20_000;
const ITEM_BASE: u64 = 10_000_000;

/// Items through the SPSC ring, and through the `Mutex` ring for the timing comparison.
const SPSC_ITEMS: u64 = 1_000_000;
const SPSC_CAPACITY: usize = 1024;

/// How many times the racy claim is run, at most, until one run loses an item. The race needs
/// both producers running at the same instant, which a busy machine may not allow for a whole
/// run.
const RACY_TRIES: u32 = 5;

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Part 1: the Node ring's claim, `i = write; slot[i] = item; write = i + 1`, each step
/// atomic, the three together not. No wrap-around, so that every claim gets its own slot if
/// the claims do not overlap, and an overwrite can only be the race.
///
/// Returns how many items were lost (overwritten before anyone could read them).
fn racy_claims() -> u64 {
    let total = 2 * RACY_PER_PRODUCER;
    // 0 marks an empty slot; items start at 1.
    let slots: Vec<AtomicU64> = (0..total).map(|_| AtomicU64::new(0)).collect();
    let write = AtomicUsize::new(0);
    let arrived = AtomicUsize::new(0);
    thread::scope(|s| {
        for p in 0..2 {
            let (slots, write, arrived) = (&slots, &write, &arrived);
            thread::Builder::new()
                .name(format!("racy-producer-{p}"))
                .spawn_scoped(s, move || {
                    // A starting line: spin until both producers are here, so that they set
                    // off together (a `Barrier` wakes sleepers one at a time, and the first
                    // could finish before the second is awake). Relaxed: a head count only.
                    arrived.fetch_add(1, Ordering::Relaxed);
                    while arrived.load(Ordering::Relaxed) < 2 {
                        thread::yield_now();
                    }
                    for n in 0..RACY_PER_PRODUCER {
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
    let lost = total - found.len() as u64;
    println!(
        "[main] 2 producers made {total} claims; the write index ended at {claimed}; {} \
         distinct items are in the slots: {lost} lost",
        found.len()
    );
    lost
}

/// Part 2: a bounded ring that holds up to `capacity` items. `push` waits while it is full,
/// `pop` waits while it is empty; claiming a place and filling it happen under one lock.
#[derive(Debug)]
struct BoundedRing<T> {
    state: Mutex<RingState<T>>,
    /// Signalled when an item leaves: a producer waiting for room may go on.
    not_full: Condvar,
    /// Signalled when an item arrives, or when the last producer leaves.
    not_empty: Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct RingState<T> {
    items: VecDeque<T>,
    /// Producers that have not called `producer_done` yet: when 0 and the ring is empty,
    /// `pop` returns `None` instead of waiting forever.
    producers: usize,
    /// The most items the ring ever held, to check the bound.
    peak: usize,
    /// How many times a producer found the ring full and waited.
    full_waits: u64,
    /// How many times the consumer found the ring empty and waited.
    empty_waits: u64,
}

impl<T> BoundedRing<T> {
    fn new(capacity: usize, producers: usize) -> Self {
        assert!(capacity > 0, "a ring needs room for at least one item");
        Self {
            state: Mutex::new(RingState {
                items: VecDeque::with_capacity(capacity),
                producers,
                peak: 0,
                full_waits: 0,
                empty_waits: 0,
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, RingState<T>> {
        // Each critical section below leaves the state whole before anything can panic, so a
        // poisoned lock still guards valid data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `item`, waiting while the ring is full.
    fn push(&self, item: T) {
        let mut state = self.lock();
        // The predicate loop: a wake-up (spurious, or another producer took the room first)
        // is only a reason to look again.
        while state.items.len() == self.capacity {
            state.full_waits += 1;
            state = self
                .not_full
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.items.push_back(item);
        state.peak = state.peak.max(state.items.len());
        drop(state);
        // One item arrived: one consumer can take it.
        self.not_empty.notify_one();
    }

    /// Takes the oldest item, waiting while the ring is empty; `None` once the ring is empty
    /// and every producer is done.
    fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                drop(state);
                // One place freed: one producer can use it.
                self.not_full.notify_one();
                return Some(item);
            }
            if state.producers == 0 {
                return None;
            }
            state.empty_waits += 1;
            state = self
                .not_empty
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A producer has pushed its last item.
    fn producer_done(&self) {
        self.lock().producers -= 1;
        // Wake every consumer: those waiting on an empty ring must see that no more is coming.
        self.not_empty.notify_all();
    }
}

/// Part 2: 2 producers and 1 consumer through the `Mutex` ring. Returns the items consumed,
/// sorted, and the ring's final state.
fn mutex_ring() -> (Vec<u64>, Vec<u64>, RingState<u64>) {
    let ring = BoundedRing::new(CAPACITY, 2);
    let consumed = thread::scope(|s| {
        for p in 0..2 {
            let ring = &ring;
            thread::Builder::new()
                .name(format!("producer-{p}"))
                .spawn_scoped(s, move || {
                    for n in 0..PER_PRODUCER {
                        ring.push(p * ITEM_BASE + n);
                    }
                    println!("[{}] pushed {PER_PRODUCER} items", me());
                    ring.producer_done();
                })
                .expect("could not spawn a producer");
        }
        let consumer = thread::Builder::new()
            .name("consumer".into())
            .spawn_scoped(s, || {
                let mut got = Vec::new();
                while let Some(item) = ring.pop() {
                    got.push(item);
                }
                println!(
                    "[{}] took {} items, then saw every producer done",
                    me(),
                    got.len()
                );
                got
            })
            .expect("could not spawn the consumer");
        consumer.join().expect("the consumer panicked")
    });
    let mut produced: Vec<u64> = (0..2)
        .flat_map(|p| (0..PER_PRODUCER).map(move |n| p * ITEM_BASE + n))
        .collect();
    produced.sort_unstable();
    let mut consumed = consumed;
    consumed.sort_unstable();
    let state = ring
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    (produced, consumed, state)
}

/// Part 3, for comparison: one producer and one consumer through the `Mutex` ring, with the
/// SPSC run's traffic. Returns the checksum and the time.
fn mutex_ring_one_to_one() -> (u64, Duration) {
    let ring = BoundedRing::new(SPSC_CAPACITY, 1);
    let start = Instant::now();
    let sum = thread::scope(|s| {
        thread::Builder::new()
            .name("mutex-producer".into())
            .spawn_scoped(s, || {
                for n in 1..=SPSC_ITEMS {
                    ring.push(n);
                }
                ring.producer_done();
            })
            .expect("could not spawn the producer");
        let mut sum = 0;
        while let Some(n) = ring.pop() {
            sum += n;
        }
        sum
    });
    (sum, start.elapsed())
}

/// What the SPSC run saw.
#[derive(Debug)]
struct SpscRun {
    received: u64,
    sum: u64,
    in_order: bool,
    /// Pushes that found the ring full and were retried.
    full: u64,
    /// Pops that found the ring empty and were retried.
    empty: u64,
    elapsed: Duration,
}

/// Part 3: one producer and one consumer through the lock-free ring. Neither side ever
/// sleeps: a full or empty ring means spin a little, then yield (crossbeam's `Backoff`).
fn spsc_ring() -> anyhow::Result<SpscRun> {
    let (mut producer, mut consumer) = spsc::ring::<u64>(SPSC_CAPACITY)?;
    let start = Instant::now();
    let (full, (received, sum, in_order, empty)) = thread::scope(|s| {
        let producing = thread::Builder::new()
            .name("spsc-producer".into())
            .spawn_scoped(s, move || {
                let mut full = 0;
                for n in 1..=SPSC_ITEMS {
                    let mut item = n;
                    let backoff = Backoff::new();
                    // Full: the ring hands the item back, and we try again.
                    while let Err(back) = producer.push(item) {
                        item = back;
                        full += 1;
                        backoff.snooze();
                    }
                }
                println!("[{}] pushed {SPSC_ITEMS} items", me());
                full
            })
            .expect("could not spawn the producer");
        let consuming = thread::Builder::new()
            .name("spsc-consumer".into())
            .spawn_scoped(s, move || {
                let (mut received, mut sum, mut in_order, mut empty) = (0u64, 0u64, true, 0u64);
                let backoff = Backoff::new();
                // The consumer knows how many items to expect: this ring has no way to say
                // that the producer is gone.
                while received < SPSC_ITEMS {
                    match consumer.pop() {
                        Some(n) => {
                            received += 1;
                            sum += n;
                            in_order &= n == received; // FIFO: the n-th item out is n
                            backoff.reset();
                        }
                        None => {
                            empty += 1;
                            backoff.snooze();
                        }
                    }
                }
                println!("[{}] took {received} items", me());
                (received, sum, in_order, empty)
            })
            .expect("could not spawn the consumer");
        (
            producing.join().expect("the producer panicked"),
            consuming.join().expect("the consumer panicked"),
        )
    });
    Ok(SpscRun {
        received,
        sum,
        in_order,
        full,
        empty,
        elapsed: start.elapsed(),
    })
}

fn main() -> anyhow::Result<()> {
    println!("[main] --- 1. Node's ring: claim a slot in three steps, no lock ---");
    let racy_total = 2 * RACY_PER_PRODUCER;
    let mut lost = 0;
    for attempt in 1..=RACY_TRIES {
        lost = racy_claims();
        assert!(lost <= racy_total);
        println!("[main] run {attempt}: {lost} of {racy_total} items lost");
        if lost > 0 {
            break;
        }
    }
    println!(
        "[main] the number lost varies from run to run; 0 means the producers never ran at the \
         same instant, not that the ring is right"
    );

    println!(
        "[main] --- 2. Mutex + two Condvars, 2 producers, 1 consumer, capacity {CAPACITY} ---"
    );
    let (produced, consumed, state) = mutex_ring();
    println!(
        "[main] ring peak {} of {CAPACITY}; producers waited on a full ring {} times, the \
         consumer on an empty one {} times",
        state.peak, state.full_waits, state.empty_waits
    );
    // The multisets are equal: sorted, the lists match item for item. Nothing lost, nothing
    // taken twice.
    assert_eq!(consumed, produced, "consumed == produced, as multisets");
    assert!(
        state.peak <= CAPACITY,
        "the ring never held more than its capacity"
    );
    assert!(state.items.is_empty());

    println!("[main] --- 3. one producer, one consumer: lock-free SPSC against the Mutex ring ---");
    let expected_sum = SPSC_ITEMS * (SPSC_ITEMS + 1) / 2;
    let spsc = spsc_ring()?;
    println!(
        "[main] spsc: {} items, in order: {}, pushes on a full ring: {}, pops on an empty \
         ring: {}",
        spsc.received, spsc.in_order, spsc.full, spsc.empty
    );
    assert_eq!(spsc.received, SPSC_ITEMS);
    assert!(spsc.in_order, "the SPSC ring is FIFO");
    assert_eq!(spsc.sum, expected_sum, "checksum of 1..={SPSC_ITEMS}");

    let (mutex_sum, mutex_time) = mutex_ring_one_to_one();
    assert_eq!(mutex_sum, expected_sum);
    println!(
        "[main] {SPSC_ITEMS} items, capacity {SPSC_CAPACITY}:\n[main]   mutex + condvar ring: \
         {:>7.1} ms\n[main]   lock-free spsc ring:  {:>7.1} ms\n[main]   ratio: the mutex ring \
         took {:.1}x as long (varies by machine and run)",
        mutex_time.as_secs_f64() * 1e3,
        spsc.elapsed.as_secs_f64() * 1e3,
        mutex_time.as_secs_f64() / spsc.elapsed.as_secs_f64()
    );

    println!(
        "result: racy claim lost {lost} of {racy_total}, mutex ring {} in, {} out, none lost \
         or repeated; spsc {} in order, checksum ok",
        produced.len(),
        consumed.len(),
        spsc.received
    );
    Ok(())
}
