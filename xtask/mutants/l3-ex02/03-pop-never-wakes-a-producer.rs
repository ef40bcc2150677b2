//! Wrong answer (promise not kept): a pop makes room but never notifies `not_full`, so a producer waiting for room sleeps on.
//! # Exercise l3-ex02: bounded ring buffer
//!
//! **Goal.** Build the bounded queue that producers and consumers share: several producers
//! push, several consumers pop, and the buffer never holds more than its capacity. The Node
//! exercise built it by hand in a `SharedArrayBuffer` (a header of write index, read index,
//! count and capacity, then 10 slots) with `Atomics.wait`/`notify`, and both solutions are
//! unsound: the indices and the count are separate atomics updated one after the other, so two
//! producers can claim the same slot, and the consumer can read a slot before it is written.
//! One solution's producers also drop their item when the ring is full instead of waiting. Here
//! one `Mutex` guards the whole state (the items and the closed flag), so every update is one
//! step that nobody can see half done, and two `Condvar`s do what `Atomics.wait`/`notify` did:
//! producers sleep on `not_full` until a consumer makes room, consumers sleep on `not_empty`
//! until a producer adds an item. Add what the Node ring lacked: timeouts that hand the item
//! back instead of losing it, and `close`, which ends the stream cleanly on both sides.
//!
//! **Check your attempt:** `cargo exercise check l3-ex02`
//!
//! **What the tests expect**
//! - Two producers pushing 0..20 and 1000..1020 and one consumer: the consumer gets exactly
//!   those 40 values, each once, whatever the interleaving; one producer's values come out in
//!   the order it pushed them. A full ring makes [`RingBuffer::push`] wait, never drop the item.
//! - [`RingBuffer::len`] never exceeds [`RingBuffer::capacity`], checked from inside the
//!   producers and consumers while they run.
//! - With no consumer, 10 `push_timeout`s into a ring of 10 succeed and the 11th is
//!   `Err(PushError::Full(value))`, with the value handed back; after one pop it fits.
//! - [`RingBuffer::pop_timeout`] on an empty ring returns `None` once the timeout has passed.
//! - [`RingBuffer::close`] wakes a consumer blocked in `pop` (it returns `None`) and a producer
//!   blocked in `push` (it returns `Err(Closed(value))`); after `close`, consumers still get
//!   the items already queued, then `None`, and every push is refused with its value.
//! - `RingBuffer::new(0)` is `Err(ZeroCapacity)`.
//! - 4 producers and 4 consumers through a ring of 4: the counts, sums and values add up.
//!
//! **Hints:** `cargo exercise hint l3-ex02` shows one at a time, from the idea to the
//! exact API to the documentation.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use thiserror::Error;

/// `RingBuffer::new(0)`: a ring with no room could never accept an item, so every push would
/// wait forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "a ring buffer needs a capacity of at least 1, not 0: a ring with no room blocks every push forever"
)]
pub struct ZeroCapacity;

/// [`RingBuffer::push`] after [`RingBuffer::close`]: the value, handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the ring buffer is closed")]
pub struct Closed<T>(pub T);

/// Why [`RingBuffer::push_timeout`] did not queue its value, which it hands back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PushError<T> {
    /// The ring stayed full for the whole timeout.
    #[error("the ring buffer stayed full")]
    Full(T),
    /// The ring is closed.
    #[error("the ring buffer is closed")]
    Closed(T),
}

impl<T> PushError<T> {
    /// The value that was not queued.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) | PushError::Closed(value) => value,
        }
    }
}

/// What the lock guards: everything a push or pop decides on, so each decision is made and
/// acted on in one step.
#[derive(Debug)]
struct State<T> {
    /// The queued items, oldest first. `VecDeque` is itself a ring buffer over one allocation;
    /// this type adds the bound, the waiting and the closing.
    items: VecDeque<T>,
    /// Set once by `close`, never cleared.
    closed: bool,
}

/// A bounded multi-producer multi-consumer FIFO queue. Share it between threads by reference
/// (scoped threads) or in an `Arc`.
#[derive(Debug)]
pub struct RingBuffer<T> {
    capacity: usize,
    state: Mutex<State<T>>,
    /// Producers wait here for room; every pop wakes one of them.
    not_full: Condvar,
    /// Consumers wait here for an item; every push wakes one of them.
    not_empty: Condvar,
}

impl<T> RingBuffer<T> {
    /// An empty, open ring that holds at most `capacity` items.
    ///
    /// # Errors
    /// [`ZeroCapacity`] if `capacity` is 0.
    pub fn new(capacity: usize) -> Result<Self, ZeroCapacity> {
        if capacity == 0 {
            return Err(ZeroCapacity);
        }
        Ok(Self {
            capacity,
            // Not preallocated: the deque grows up to `capacity` on first use, then reuses its
            // buffer, and a huge capacity costs nothing until it is used.
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
        })
    }

    /// Queues `value`, waiting as long as it takes for room.
    ///
    /// # Errors
    /// [`Closed`], with the value, if the ring is closed, also while waiting.
    pub fn push(&self, value: T) -> Result<(), Closed<T>> {
        // `wait_while` re-checks the condition after every wake-up, spurious or not, and
        // returns holding the lock: the check and the push below are one step.
        let not_full = &self.not_full;
        let state = not_full
            .wait_while(self.lock(), |s| !s.closed && s.items.len() >= self.capacity)
            .unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return Err(Closed(value));
        }
        self.push_locked(state, value);
        Ok(())
    }

    /// Queues `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`PushError::Full`] if the ring was still full when the timeout ran out;
    /// [`PushError::Closed`] if it is closed. Either way the value is handed back.
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), PushError<T>> {
        let not_full = &self.not_full;
        let (state, _) = not_full
            .wait_timeout_while(self.lock(), timeout, |s| {
                !s.closed && s.items.len() >= self.capacity
            })
            .unwrap_or_else(PoisonError::into_inner);
        // Decide on the state, not on the timeout flag: room that appeared just as the time ran
        // out is still room.
        if state.closed {
            return Err(PushError::Closed(value));
        }
        if state.items.len() >= self.capacity {
            return Err(PushError::Full(value));
        }
        self.push_locked(state, value);
        Ok(())
    }

    /// Takes the oldest item, waiting as long as it takes for one. `None` once the ring is
    /// closed and empty: the end of the stream.
    pub fn pop(&self) -> Option<T> {
        let not_empty = &self.not_empty;
        let state = not_empty
            .wait_while(self.lock(), |s| !s.closed && s.items.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        self.pop_locked(state)
    }

    /// Takes the oldest item, waiting at most `timeout` for one. `None` if the ring is still
    /// empty when the timeout runs out, or is closed and empty.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<T> {
        let not_empty = &self.not_empty;
        let (state, _) = not_empty
            .wait_timeout_while(self.lock(), timeout, |s| !s.closed && s.items.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        self.pop_locked(state)
    }

    /// Closes the ring: every push from now on is refused with its value, and consumers get
    /// the items still queued, then `None`. Wakes every waiting producer and consumer.
    /// Closing twice does nothing more.
    pub fn close(&self) {
        self.lock().closed = true;
        // Everybody: each waiter must see `closed`, not only one of them.
        self.not_full.notify_all();
        self.not_empty.notify_all();
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// How many items are queued now (possibly out of date by the time it is read).
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no item is queued now.
    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// The most items the ring holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Locks the state. A panic while the lock is held cannot leave the state half updated
    /// (each critical section is one `VecDeque` call or one flag write), so a poisoned lock
    /// is still safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `value` under the lock, which the caller found not full and not closed, then wakes
    /// one consumer.
    fn push_locked(&self, mut state: MutexGuard<'_, State<T>>, value: T) {
        state.items.push_back(value);
        debug_assert!(
            state.items.len() <= self.capacity,
            "the ring holds {} items, more than its capacity {}",
            state.items.len(),
            self.capacity
        );
        // Unlock first, so the woken consumer does not wake up into a lock still held.
        drop(state);
        self.not_empty.notify_one();
    }

    /// Takes the oldest item under the lock, if any, and wakes one producer when it did.
    fn pop_locked(&self, mut state: MutexGuard<'_, State<T>>) -> Option<T> {
        state.items.pop_front()
    }
}
