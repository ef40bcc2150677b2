//! # Lesson l3-08: a bounded ring from a `Mutex` and two `Condvar`s
//!
//! Replaces Node's producer/consumer ring over a `SharedArrayBuffer` (10 slots, write index,
//! read index and count as separate atomics, `Atomics.wait`/`notify`), whose producers could
//! claim the same slot (lesson l3-07). Here one `Mutex` guards the whole state, so claiming a
//! place and filling it are one step, and two `Condvar`s (lesson l3-06) do what
//! `Atomics.wait`/`notify` did: `not_full` for the producers, `not_empty` for the consumer.
//!
//! Shows: 2 producers and 1 consumer through a ring of capacity 10; the items consumed, sorted,
//! equal the items produced (nothing lost, nothing taken twice), and the ring never held more
//! than 10. Exercise l3-ex02 builds this ring with timeouts and `close`.
//!
//! Run: `cargo run --release --example l3-08-mutex-condvar-ring`
//!
//! Expect: the producers and the consumer, with how often each had to wait (it varies), then
//! `result: mutex ring 40000 in, 40000 out, none lost or repeated, peak P of 10` (P is at most
//! 10, and lower on a machine where the consumer keeps up).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// Node's ring held 10 items.
const CAPACITY: usize = 10;

/// Items per producer. Producer `p` makes items from `p * ITEM_BASE` on, so every item is
/// distinct and says who made it (Node's test used {0..19} and {1000..1019}).
const PER_PRODUCER: u64 = 20_000;
const ITEM_BASE: u64 = 10_000_000;

fn main() {
    let ring = BoundedRing::new(CAPACITY, 2);
    let mut consumed = two_producers_one_consumer(&ring);
    let state = ring
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    println!(
        "[main] ring peak {} of {CAPACITY}; producers waited on a full ring {} times, the \
         consumer on an empty one {} times",
        state.peak, state.full_waits, state.empty_waits
    );
    let mut produced: Vec<u64> = (0..2)
        .flat_map(|p| (0..PER_PRODUCER).map(move |n| p * ITEM_BASE + n))
        .collect();
    // The multisets are equal: sorted, the lists match item for item.
    produced.sort_unstable();
    consumed.sort_unstable();
    assert_eq!(consumed, produced, "consumed == produced, as multisets");
    assert!(
        state.peak <= CAPACITY,
        "the ring never held more than its capacity"
    );
    assert!(state.items.is_empty());
    println!(
        "result: mutex ring {} in, {} out, none lost or repeated, peak {} of {CAPACITY}",
        produced.len(),
        consumed.len(),
        state.peak
    );
}

/// 2 producers push their items, then say they are done; 1 consumer pops until the ring says
/// every producer is done. Returns the items consumed, in the order they came out.
fn two_producers_one_consumer(ring: &BoundedRing<u64>) -> Vec<u64> {
    thread::scope(|s| {
        for p in 0..2 {
            thread::Builder::new()
                .name(format!("producer-{p}"))
                .spawn_scoped(s, move || {
                    for n in 0..PER_PRODUCER {
                        ring.push(p * ITEM_BASE + n);
                    }
                    println!("[producer-{p}] pushed {PER_PRODUCER} items");
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
                    "[consumer] took {} items, then saw every producer done",
                    got.len()
                );
                got
            })
            .expect("could not spawn the consumer");
        consumer.join().expect("the consumer panicked")
    })
}

/// A ring that holds up to `capacity` items. `push` waits while it is full, `pop` waits while
/// it is empty; claiming a place and filling it happen under one lock.
#[derive(Debug)]
struct BoundedRing<T> {
    state: Mutex<RingState<T>>,
    /// Signalled when an item leaves: a producer waiting for room may go on.
    not_full: Condvar,
    /// Signalled when an item arrives, or when the last producer leaves.
    not_empty: Condvar,
    capacity: usize,
}

/// Everything a push or pop decides on, under the one lock.
#[derive(Debug)]
struct RingState<T> {
    items: VecDeque<T>,
    /// Producers that have not called `producer_done` yet: when 0 and the ring is empty, `pop`
    /// returns `None` instead of waiting forever.
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
        let state = RingState {
            items: VecDeque::with_capacity(capacity),
            producers,
            peak: 0,
            full_waits: 0,
            empty_waits: 0,
        };
        Self {
            state: Mutex::new(state),
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
        // The predicate loop: a wake-up (spurious, or another producer took the room first) is
        // only a reason to look again.
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
