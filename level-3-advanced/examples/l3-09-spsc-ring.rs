//! # Lesson l3-09: a lock-free ring for one producer and one consumer
//!
//! Replaces Node's ring over a `SharedArrayBuffer` in the one case where it can be right
//! without a lock: exactly one producer and one consumer. `level_3_advanced::spsc` is such a
//! ring: its types forbid a second producer or consumer, each index has one writer, and a slot
//! changes hands through a `Release` store and an `Acquire` load (lesson l3-03). Its `unsafe`
//! code carries its `// SAFETY:` reasoning and is checked by Miri.
//!
//! The ring never blocks: a push on a full ring hands the item back, a pop on an empty ring
//! returns `None`, and the caller decides how to wait. Here it is crossbeam's `Backoff`:
//! `snooze()` first spins (a few `spin_loop` hints, twice as many each call), because the
//! other side is usually about to move and a spin is far cheaper than a sleep; after a few
//! calls it yields the core instead (`thread::yield_now`), so that on a busy machine the thread
//! we wait for can run. `is_completed()` turns true once the backoff has spun and yielded
//! enough that blocking is advised: a ring that could wake a sleeper (a futex, lesson l3-04;
//! `park`, lesson l3-05) would sleep there. This one cannot, so it keeps yielding, and counts
//! those long waits. `reset()` starts the next wait from a short spin again.
//!
//! Shows: 1,000,000 items through the SPSC ring, in order, checksum checked; then the same
//! traffic through a `Mutex` + `Condvar` ring (lesson l3-08, cut down to push and pop), and the
//! two times compared.
//!
//! Run: `cargo run --release --example l3-09-spsc-ring`
//!
//! Expect: how often each side found the ring full or empty, and how many waits outlasted the
//! backoff (all vary); the two times and their ratio (machine-dependent); then
//! `result: spsc 1000000 in order, checksum ok; mutex ring 1000000, checksum ok`.

use crossbeam_utils::Backoff;
use level_3_advanced::spsc;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

/// Items through each ring, and the capacity of each.
const ITEMS: u64 = 1_000_000;
const CAPACITY: usize = 1024;
/// The sum of 1..=ITEMS.
const CHECKSUM: u64 = ITEMS * (ITEMS + 1) / 2;

fn main() -> anyhow::Result<()> {
    let start = Instant::now();
    let (received, sum, in_order) = through_the_spsc_ring()?;
    let spsc_time = start.elapsed();
    assert_eq!(received, ITEMS);
    assert!(in_order, "the SPSC ring is FIFO");
    assert_eq!(sum, CHECKSUM, "checksum of 1..={ITEMS}");

    let start = Instant::now();
    let mutex_sum = through_a_mutex_ring();
    let mutex_time = start.elapsed();
    assert_eq!(mutex_sum, CHECKSUM);

    println!(
        "[main] {ITEMS} items, capacity {CAPACITY}:\n[main]   lock-free spsc ring:  {:>7.1} ms\n\
         [main]   mutex + condvar ring: {:>7.1} ms\n[main]   mutex ring / spsc ring: {} \
         (varies by machine and run)",
        spsc_time.as_secs_f64() * 1e3,
        mutex_time.as_secs_f64() * 1e3,
        shared::timing::compare_text(mutex_time, spsc_time)
    );
    println!("result: spsc {received} in order, checksum ok; mutex ring {ITEMS}, checksum ok");
    Ok(())
}

/// One producer and one consumer through the lock-free ring. Neither side ever sleeps: a full
/// or empty ring means back off and try again. Returns (items received, their sum, whether the
/// n-th item out was n).
fn through_the_spsc_ring() -> anyhow::Result<(u64, u64, bool)> {
    let (mut producer, mut consumer) = spsc::ring::<u64>(CAPACITY)?;
    thread::scope(|s| {
        s.spawn(move || {
            let (backoff, mut full, mut long) = (Backoff::new(), 0u64, 0u64);
            for n in 1..=ITEMS {
                let mut item = n;
                // Full: the ring hands the item back, and we try again.
                while let Err(back) = producer.push(item) {
                    item = back;
                    full += 1;
                    back_off(&backoff, &mut long);
                }
                backoff.reset();
            }
            println!("[spsc-producer] pushed {ITEMS}; ring full {full} times, {long} long waits");
        });
        let (backoff, mut empty, mut long) = (Backoff::new(), 0u64, 0u64);
        let (mut received, mut sum, mut in_order) = (0u64, 0u64, true);
        // The consumer knows how many items to expect: this ring has no way to say that the
        // producer is gone.
        while received < ITEMS {
            match consumer.pop() {
                Some(n) => {
                    received += 1;
                    sum += n;
                    in_order &= n == received; // FIFO: the n-th item out is n
                    backoff.reset();
                }
                None => {
                    empty += 1;
                    back_off(&backoff, &mut long);
                }
            }
        }
        println!("[main] took {received}; ring empty {empty} times, {long} long waits");
        Ok((received, sum, in_order))
    })
}

/// One step of waiting: spin, then yield. Counts a wait as long once, when it outlasts the
/// backoff (at the `snooze` after which `is_completed` turns true).
fn back_off(backoff: &Backoff, long_waits: &mut u64) {
    let was_completed = backoff.is_completed();
    backoff.snooze();
    if backoff.is_completed() && !was_completed {
        *long_waits += 1;
    }
}

/// The same traffic through a `Mutex<VecDeque>` with two `Condvar`s. Returns the checksum.
fn through_a_mutex_ring() -> u64 {
    let items = Mutex::new(VecDeque::with_capacity(CAPACITY));
    let (not_full, not_empty) = (Condvar::new(), Condvar::new());
    thread::scope(|s| {
        s.spawn(|| {
            for n in 1..=ITEMS {
                let lock = items.lock().unwrap_or_else(PoisonError::into_inner);
                // `wait_while` is lesson l3-06's predicate loop, written for you.
                let mut queue = not_full
                    .wait_while(lock, |q| q.len() == CAPACITY)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.push_back(n);
                drop(queue);
                not_empty.notify_one();
            }
        });
        let mut sum = 0;
        for _ in 0..ITEMS {
            let lock = items.lock().unwrap_or_else(PoisonError::into_inner);
            let mut queue = not_empty
                .wait_while(lock, |q| q.is_empty())
                .unwrap_or_else(PoisonError::into_inner);
            sum += queue
                .pop_front()
                .expect("wait_while returns on a non-empty queue");
            drop(queue);
            not_full.notify_one();
        }
        sum
    })
}
