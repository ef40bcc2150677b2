//! A lock-free single-producer single-consumer (SPSC) ring buffer: a fixed number of slots, one
//! thread that writes them and one thread that reads them, and two atomic indices between the
//! two instead of a lock.
//!
//! Node's producer/consumer example keeps its ring in a `SharedArrayBuffer`: a write index, a
//! read index and a count, each updated by its own `Atomics` call, with no lock. Two producers
//! can then read the same write index and fill the same slot, and the consumer can read a slot
//! that is counted but not yet written. This ring avoids both by design:
//!
//! - **one producer, one consumer, enforced by types.** [`ring`] returns a [`Producer`] and a
//!   [`Consumer`]. Neither is `Clone`, and [`Producer::push`] and [`Consumer::pop`] take
//!   `&mut self`: a second producer or consumer cannot be written. Each half is `Send` (when
//!   `T: Send`), so it can move to its thread.
//! - **each index has one writer.** The producer alone moves `tail`, the consumer alone moves
//!   `head`, so neither index needs a compare-and-swap: a load, a slot access and a store.
//! - **a slot changes hands through Release/Acquire.** The producer writes a slot, then
//!   publishes it with a `Release` store of `tail`; the consumer's `Acquire` load of `tail`
//!   sees the slot written. The consumer moves the value out, then hands the slot back with a
//!   `Release` store of `head`; the producer's `Acquire` load of `head` orders its next write
//!   of that slot after the read.
//!
//! ```
//! use level_3_advanced::spsc;
//! use std::thread;
//!
//! let (mut producer, mut consumer) = spsc::ring::<u64>(8)?;
//! let total = thread::scope(|s| {
//!     s.spawn(move || {
//!         for n in 1..=1_000 {
//!             let mut item = n;
//!             // Full: the value comes back, to be tried again.
//!             while let Err(back) = producer.push(item) {
//!                 item = back;
//!                 std::hint::spin_loop();
//!             }
//!         }
//!     });
//!     let mut total = 0;
//!     let mut received = 0;
//!     while received < 1_000 {
//!         match consumer.pop() {
//!             Some(n) => {
//!                 total += n;
//!                 received += 1;
//!             }
//!             None => std::hint::spin_loop(), // empty: the producer is behind
//!         }
//!     }
//!     total
//! });
//! assert_eq!(total, 500_500);
//! # Ok::<(), spsc::CapacityError>(())
//! ```
//!
//! A second producer does not compile: the halves cannot be cloned...
//!
//! ```compile_fail,E0599
//! let (producer, _consumer) = level_3_advanced::spsc::ring::<u32>(4).unwrap();
//! let second = producer.clone();
//! ```
//!
//! ...nor shared by two threads that push, since pushing needs `&mut`:
//!
//! ```compile_fail,E0499
//! let (mut producer, _consumer) = level_3_advanced::spsc::ring::<u32>(4).unwrap();
//! std::thread::scope(|s| {
//!     s.spawn(|| producer.push(1));
//!     s.spawn(|| producer.push(2));
//! });
//! ```
//!
//! ...and a value that must stay on its thread (an `Rc`) cannot be sent through it:
//!
//! ```compile_fail,E0277
//! use std::rc::Rc;
//! let (mut producer, _consumer) = level_3_advanced::spsc::ring::<Rc<u32>>(4).unwrap();
//! std::thread::spawn(move || producer.push(Rc::new(1)));
//! ```
//!
//! What this ring does not do: block. `push` on a full ring and `pop` on an empty one return
//! at once, and the caller decides whether to spin, yield or do something else. Lesson l3-09
//! spins with a backoff; a blocking queue is `crossbeam_channel::bounded` or the
//! `Mutex` + `Condvar` ring of lesson l3-08. Nor does it tell one side that the other has
//! gone: both sides must know when to stop (the example counts the items).
//!
//! The tests below run under Miri too, which checks every `unsafe` access for data races and
//! reads of uninitialised or freed memory:
//! `cargo +nightly miri test -p level-3-advanced --lib spsc`.

use crossbeam_utils::CachePadded;
use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use thiserror::Error;

/// Why [`ring`] could not make a ring of the capacity asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CapacityError {
    /// A ring of 0 slots could never hold a value: every `push` would fail.
    #[error("an SPSC ring needs a capacity of at least 1, got 0")]
    Zero,
    /// The slots would not fit in the address space.
    #[error("an SPSC ring of capacity {0} does not fit in memory")]
    TooLarge(usize),
}

/// Makes a ring that holds up to `capacity` values, and splits it into its two halves.
///
/// # Errors
/// [`CapacityError::Zero`] for a capacity of 0, [`CapacityError::TooLarge`] for one whose
/// slots could not be allocated.
///
/// ```
/// use level_3_advanced::spsc::{CapacityError, ring};
///
/// let (producer, consumer) = ring::<String>(16)?;
/// assert_eq!((producer.capacity(), consumer.len()), (16, 0));
/// assert_eq!(ring::<String>(0).unwrap_err(), CapacityError::Zero);
/// # Ok::<(), CapacityError>(())
/// ```
pub fn ring<T>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    if capacity == 0 {
        return Err(CapacityError::Zero);
    }
    // One slot more than the capacity stays empty, so that `head == tail` means empty and
    // `next(tail) == head` means full, without a separate count both sides would write.
    let slot_count = capacity
        .checked_add(1)
        .filter(|&n| Layout::array::<UnsafeCell<MaybeUninit<T>>>(n).is_ok())
        .ok_or(CapacityError::TooLarge(capacity))?;
    // SAFETY: an uninitialised slot is a valid `UnsafeCell<MaybeUninit<T>>`: `MaybeUninit`
    // accepts any bytes, initialised or not, and `UnsafeCell` adds no requirement of its own.
    // (Allocating the slots in one step, instead of one `UnsafeCell::new` per slot, also
    // keeps a huge ring of a zero-sized type from looping `capacity` times.)
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> =
        unsafe { Box::new_uninit_slice(slot_count).assume_init() };
    let ring = Arc::new(Ring {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots,
    });
    Ok((
        Producer {
            ring: Arc::clone(&ring),
        },
        Consumer { ring },
    ))
}

/// The ring both halves share.
///
/// The invariant everything rests on: the slots from `head` up to (not including) `tail`,
/// going round, hold initialised values and belong to the consumer; every other slot is
/// uninitialised and belongs to the producer. Only the consumer moves `head` (it takes a slot
/// from its range and gives it to the producer), only the producer moves `tail` (it gives a
/// slot it has written to the consumer), and each move is a `Release` store that the other
/// side reads with `Acquire`.
struct Ring<T> {
    /// The next slot the consumer reads. Written by the consumer only.
    ///
    /// `head` and `tail` are each on a cache line of their own: the producer writes `tail` on
    /// every push and the consumer writes `head` on every pop, and sharing one line would make
    /// the two cores pass it back and forth on every operation (false sharing).
    head: CachePadded<AtomicUsize>,
    /// The next slot the producer writes. Written by the producer only.
    tail: CachePadded<AtomicUsize>,
    /// `capacity + 1` slots: one always stays empty.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: `Ring` is `!Sync` only because of the `UnsafeCell`s, and its protocol makes sharing
// them sound: at any moment each slot belongs to exactly one side (see the invariant on
// `Ring`), and only the side it belongs to touches it. The owner changes only through a
// `Release` store of `head` or `tail` read with `Acquire` by the other side, so every access
// to a slot happens-before the next owner's first access: no data race. There is only one
// `Producer` and one `Consumer`, and they act through `&mut self`, so a side is never two
// threads at once. Values of `T` are moved from one thread to the other, never shared by
// reference, so `T: Send` is enough; `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// How many values the ring holds when full.
    fn capacity(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot after `index`, going round.
    fn next(&self, index: usize) -> usize {
        if index + 1 == self.slots.len() {
            0
        } else {
            index + 1
        }
    }

    /// How many values are in the ring, from either side. Exact on the calling side's own
    /// index, and a snapshot of the other side's, which may move at any moment.
    fn len(&self) -> usize {
        // Acquire on both: pairs with the other side's Release stores, so the count is never
        // older than what this thread has already seen of the other side. No slot is read
        // through these values.
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        if tail >= head {
            tail - head
        } else {
            tail + self.slots.len() - head
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Both halves are gone (this is the last `Arc`), and `Arc` makes every access of
        // theirs happen-before this drop: `&mut self` sees the final indices, no atomics needed.
        let mut head = *self.head.get_mut();
        let tail = *self.tail.get_mut();
        while head != tail {
            // SAFETY: slots from `head` up to `tail` hold initialised values that were pushed
            // and never popped (the invariant on `Ring`); each is dropped once, as `head` moves
            // past it, and nothing reads the slots after this.
            unsafe { self.slots[head].get_mut().assume_init_drop() };
            head = self.next(head);
        }
    }
}

/// The writing half of a [`ring`]. There is exactly one: it cannot be cloned.
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Producer<T> {
    /// Puts `value` at the back of the ring, or hands it back if the ring is full.
    ///
    /// Never waits: on `Err(value)` the caller decides whether to spin, yield, drop the value
    /// or do something else first.
    ///
    /// # Errors
    /// `Err(value)`, the value given, when the ring holds [`capacity`](Self::capacity) values.
    ///
    /// ```
    /// let (mut producer, mut consumer) = level_3_advanced::spsc::ring(1)?;
    /// assert_eq!(producer.push("first"), Ok(()));
    /// assert_eq!(producer.push("second"), Err("second")); // full: handed back
    /// assert_eq!(consumer.pop(), Some("first"));
    /// assert_eq!(producer.push("second"), Ok(()));
    /// # Ok::<(), level_3_advanced::spsc::CapacityError>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<(), T> {
        let ring = &*self.ring;
        // Relaxed: only this thread ever writes `tail`, so it reads its own last store.
        let tail = ring.tail.load(Ordering::Relaxed);
        let next = ring.next(tail);
        // Acquire: pairs with the consumer's Release store of `head` in `pop`. Once `head` has
        // moved past a slot, the consumer's read of that slot happens-before our next write
        // to it, so the write cannot clobber a value still being read.
        if next == ring.head.load(Ordering::Acquire) {
            return Err(value);
        }
        // SAFETY: `next != head`, so the slot at `tail` is outside `head..tail`: it belongs to
        // the producer (the invariant on `Ring`), holds no value (it was never written, or
        // its value was moved out by `pop`), and the consumer does not touch it until `tail`
        // moves past it below. `&mut self` means no other push runs at the same time.
        unsafe { (*ring.slots[tail].get()).write(value) };
        // Release: publishes the write above. The consumer's Acquire load of `tail` that sees
        // `next` also sees the value in the slot.
        ring.tail.store(next, Ordering::Release);
        Ok(())
    }

    /// How many values the ring holds when full.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// How many values are waiting: exact for the values this side pushed, but the consumer
    /// may take some at any moment, so the true number can only be smaller.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no value is waiting. Once true, it stays true until this side pushes again:
    /// the consumer can only take values away.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the next [`push`](Self::push) would hand its value back (unless the consumer
    /// takes one first).
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }
}

/// The reading half of a [`ring`]. There is exactly one: it cannot be cloned.
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Consumer<T> {
    /// Takes the value at the front of the ring, or `None` if the ring is empty.
    ///
    /// Never waits: on `None` the caller decides whether to spin, yield or stop.
    ///
    /// ```
    /// let (mut producer, mut consumer) = level_3_advanced::spsc::ring(4)?;
    /// assert_eq!(consumer.pop(), None);
    /// producer.push(1).unwrap();
    /// producer.push(2).unwrap();
    /// assert_eq!((consumer.pop(), consumer.pop(), consumer.pop()), (Some(1), Some(2), None));
    /// # Ok::<(), level_3_advanced::spsc::CapacityError>(())
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        let ring = &*self.ring;
        // Relaxed: only this thread ever writes `head`, so it reads its own last store.
        let head = ring.head.load(Ordering::Relaxed);
        // Acquire: pairs with the producer's Release store of `tail` in `push`. Seeing `tail`
        // past a slot means seeing the value the producer wrote into it.
        if head == ring.tail.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `head != tail`, so the slot at `head` is inside `head..tail`: it holds an
        // initialised value, published by the Release/Acquire pair on `tail`, and belongs to
        // the consumer (the invariant on `Ring`). The value is moved out exactly once: `head`
        // moves past the slot below, so neither this side nor `Ring::drop` reads it again, and
        // the producer only writes it, never reads it.
        let value = unsafe { (*ring.slots[head].get()).assume_init_read() };
        // Release: the read above happens-before the producer's next write to this slot,
        // which it makes only after its Acquire load of `head` sees this store.
        ring.head.store(ring.next(head), Ordering::Release);
        Some(value)
    }

    /// How many values the ring holds when full.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// How many values are waiting: at least this many can be popped now (the producer may
    /// add more at any moment).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no value is waiting now (the producer may push one at any moment).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::{TIMEOUT, run_within};
    use std::sync::atomic::AtomicUsize;

    /// Counts its drops in a shared counter, to catch leaks and double drops.
    #[derive(Debug)]
    struct Counted {
        id: usize,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counted(id: usize, drops: &Arc<AtomicUsize>) -> Counted {
        Counted {
            id,
            drops: Arc::clone(drops),
        }
    }

    /// Pushes, spinning while the ring is full.
    fn push_spinning<T>(producer: &mut Producer<T>, mut value: T) {
        while let Err(back) = producer.push(value) {
            value = back;
            std::thread::yield_now();
        }
    }

    #[test]
    fn values_come_out_in_the_order_they_went_in() {
        let (mut producer, mut consumer) = ring(4).unwrap();
        for n in [10, 20, 30, 40] {
            producer.push(n).unwrap();
        }
        let out: Vec<i32> = std::iter::from_fn(|| consumer.pop()).collect();
        assert_eq!(out, [10, 20, 30, 40]);
    }

    #[test]
    fn order_is_kept_across_many_laps_of_the_ring() {
        // Pushes and pops interleaved so that the indices wrap round many times, with the
        // ring holding between 0 and 3 values.
        let (mut producer, mut consumer) = ring(3).unwrap();
        let mut out = Vec::new();
        let mut next = 0;
        for lap in 0..20 {
            for _ in 0..(lap % 3 + 1) {
                producer.push(next).unwrap();
                next += 1;
            }
            while let Some(n) = consumer.pop() {
                out.push(n);
            }
        }
        assert_eq!(out, (0..next).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_ring_hands_the_value_back_and_an_empty_one_gives_none() {
        let (mut producer, mut consumer) = ring(3).unwrap();
        assert_eq!(consumer.pop(), None);
        assert!(consumer.is_empty());
        for n in 0..3 {
            producer.push(n).unwrap();
        }
        assert!(producer.is_full());
        assert_eq!(producer.len(), 3);
        assert_eq!(producer.push(99), Err(99));
        assert_eq!(consumer.pop(), Some(0));
        assert_eq!(producer.push(99), Ok(())); // room again
        assert_eq!(producer.push(100), Err(100));
        let out: Vec<i32> = std::iter::from_fn(|| consumer.pop()).collect();
        assert_eq!(out, [1, 2, 99]);
        assert_eq!(consumer.pop(), None);
        assert!(producer.is_empty());
    }

    #[test]
    fn a_ring_of_capacity_one_holds_exactly_one_value() {
        let (mut producer, mut consumer) = ring(1).unwrap();
        assert_eq!(producer.capacity(), 1);
        for n in 0..10 {
            assert_eq!(producer.push(n), Ok(()));
            assert_eq!(producer.push(n + 100), Err(n + 100));
            assert_eq!(consumer.len(), 1);
            assert_eq!(consumer.pop(), Some(n));
            assert_eq!(consumer.pop(), None);
        }
    }

    #[test]
    fn zero_sized_values_are_counted_like_any_other() {
        let (mut producer, mut consumer) = ring::<()>(2).unwrap();
        assert_eq!((producer.push(()), producer.push(())), (Ok(()), Ok(())));
        assert_eq!(producer.push(()), Err(()));
        assert_eq!(
            (consumer.pop(), consumer.pop(), consumer.pop()),
            (Some(()), Some(()), None)
        );
    }

    #[test]
    fn zero_capacity_is_refused_with_a_clear_message() {
        let err = ring::<u8>(0).unwrap_err();
        assert_eq!(err, CapacityError::Zero);
        assert_eq!(
            err.to_string(),
            "an SPSC ring needs a capacity of at least 1, got 0"
        );
    }

    #[test]
    fn a_capacity_too_large_for_memory_is_refused_not_a_panic() {
        assert_eq!(
            ring::<u64>(usize::MAX / 4).unwrap_err(),
            CapacityError::TooLarge(usize::MAX / 4)
        );
        // One slot is kept empty, so `usize::MAX` would need `usize::MAX + 1` slots, even of
        // a type that takes no memory.
        assert_eq!(
            ring::<()>(usize::MAX).unwrap_err(),
            CapacityError::TooLarge(usize::MAX)
        );
        // A huge ring of a type that takes no memory is made at once, not slot by slot.
        let (producer, _consumer) = ring::<()>(usize::MAX - 1).unwrap();
        assert_eq!(producer.capacity(), usize::MAX - 1);
    }

    #[test]
    fn dropping_the_ring_drops_each_remaining_value_exactly_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = ring(4).unwrap();
        // Wrap the indices round first, so the remaining values straddle the end of the
        // slot array.
        for id in 0..3 {
            producer.push(counted(id, &drops)).unwrap();
        }
        for _ in 0..3 {
            drop(consumer.pop().unwrap());
        }
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        for id in 3..7 {
            producer.push(counted(id, &drops)).unwrap();
        }
        // A value refused by a full ring comes back to the caller, who drops it.
        let refused = producer.push(counted(7, &drops)).unwrap_err();
        assert_eq!(refused.id, 7);
        drop(refused);
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        let popped = consumer.pop().unwrap();
        assert_eq!(popped.id, 3);
        drop(popped);
        assert_eq!(drops.load(Ordering::SeqCst), 5);

        // Three values (ids 4, 5, 6) are still in the ring. The ring outlives the first half
        // dropped, and drops them with the second.
        drop(producer);
        assert_eq!(drops.load(Ordering::SeqCst), 5);
        drop(consumer);
        assert_eq!(drops.load(Ordering::SeqCst), 8, "8 values made, 8 dropped");
    }

    #[test]
    fn an_empty_ring_drops_nothing() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = ring(2).unwrap();
        producer.push(counted(0, &drops)).unwrap();
        drop(consumer.pop());
        drop((producer, consumer));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_halves_can_move_to_other_threads() {
        fn is_send<T: Send>() {}
        is_send::<Producer<String>>();
        is_send::<Consumer<String>>();
    }

    #[test]
    fn two_threads_pass_every_item_once_in_order() {
        // Small under Miri, which interprets every step and checks each access for a race.
        let (items, capacity): (u64, usize) = if cfg!(miri) { (200, 4) } else { (200_000, 64) };
        let (mut producer, mut consumer) = ring::<u64>(capacity).unwrap();
        let (count, sum, in_order) = run_within(TIMEOUT, "the SPSC stress test", move || {
            std::thread::scope(|s| {
                s.spawn(move || {
                    for n in 1..=items {
                        push_spinning(&mut producer, n);
                    }
                });
                let (mut count, mut sum, mut in_order) = (0u64, 0u64, true);
                while count < items {
                    match consumer.pop() {
                        Some(n) => {
                            count += 1;
                            sum += n;
                            in_order &= n == count; // the n-th value out is n
                        }
                        None => std::thread::yield_now(),
                    }
                }
                assert_eq!(consumer.pop(), None, "nothing is left after the last item");
                (count, sum, in_order)
            })
        });
        assert_eq!(count, items);
        assert_eq!(sum, items * (items + 1) / 2, "checksum of 1..={items}");
        assert!(in_order, "values came out of order");
    }

    #[test]
    fn heap_values_cross_threads_and_the_rest_are_dropped_with_the_ring() {
        // Boxed values whose drops are counted: a value moved across is dropped by the
        // receiver, the ones left in the ring by the ring, none twice and none leaked.
        let (items, capacity) = if cfg!(miri) { (50, 4) } else { (20_000, 16) };
        let left_behind = capacity / 2;
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = ring::<Box<Counted>>(capacity).unwrap();
        let producer_drops = Arc::clone(&drops);
        let received = run_within(TIMEOUT, "the boxed-values stress test", move || {
            std::thread::scope(|s| {
                s.spawn(move || {
                    for id in 0..items + left_behind {
                        push_spinning(&mut producer, Box::new(counted(id, &producer_drops)));
                    }
                    // `producer` is dropped here, with `left_behind` values still queued.
                });
                let mut ids = Vec::with_capacity(items);
                while ids.len() < items {
                    match consumer.pop() {
                        Some(value) => ids.push(value.id),
                        None => std::thread::yield_now(),
                    }
                }
                (ids, consumer)
            })
        });
        let (ids, consumer) = received;
        assert_eq!(ids, (0..items).collect::<Vec<_>>());
        assert_eq!(drops.load(Ordering::SeqCst), items);
        assert_eq!(consumer.len(), left_behind);
        drop(consumer);
        assert_eq!(drops.load(Ordering::SeqCst), items + left_behind);
    }
}
