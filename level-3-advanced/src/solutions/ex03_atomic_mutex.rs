//! # Exercise l3-ex03: a mutex built from atomics
//!
//! **Goal.** Build a mutex from one `AtomicU32` and the futex-style `wait`/`wake_one` of the
//! `atomic-wait` crate: Node's `Atomics.compareExchange` plus `Atomics.wait`/`notify` lock,
//! done soundly. The state is 0 (unlocked), 1 (locked, nobody waiting) or 2 (locked, and
//! someone may be waiting). `lock` takes a free lock with one compare-exchange 0 → 1; a thread
//! that finds it taken sets it to 2 and sleeps until the value changes, and `unlock` wakes a
//! sleeper only when the state says there may be one. Access goes through a guard, as with
//! std's `Mutex`: the data is reachable only while the lock is held, and dropping the guard
//! unlocks, even during a panic. The Node solutions waited in 100 ms slices instead of being
//! woken; one re-initialised the lock and its statistics in every worker's constructor, so a
//! late worker could release a lock another held and wipe the counts, which then showed a
//! negative contention. Here a mutex is created once and shared by reference, and its
//! statistics can only go up.
//!
//! **Check your attempt:** `cargo exercise check l3-ex03`
//!
//! **What the tests expect**
//! - 4 threads × 10,000 increments of a plain `u64` inside the mutex end at exactly 40,000
//!   (each critical section yields now and then, so a mutex that does not exclude loses
//!   updates), and so do 8 threads on 2 cores.
//! - A thread asleep in `lock` is woken by the unlock: it must not sleep forever.
//! - [`AtomicMutex::try_lock`] while the lock is held is `None`, and `Some` once it is free.
//! - [`AtomicMutex::lock_timeout`] while the lock is held is `None`, no sooner than the
//!   timeout; it is `Some` when the lock is released during the wait, or before the call.
//! - A thread that panics while holding the lock releases it: the next `lock` succeeds and
//!   sees what was written before the panic. This mutex does not poison (see
//!   [`AtomicMutex`]).
//! - [`AtomicMutex::stats`] adds up: every guard handed out is one acquisition, the contended
//!   ones are never more than all of them, each failed `try_lock` and each timed-out
//!   `lock_timeout` is counted once, and a new mutex does not reset another's counts. A
//!   `lock` that finds the lock held counts as contended at once, before it waits: a test
//!   holds the lock until it sees that count, then lets the waiter in.
//!
//! **Hints:** `cargo exercise hint l3-ex03` shows one at a time, from the idea to the
//! exact API to the documentation.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Nobody holds the lock.
const UNLOCKED: u32 = 0;
/// Held, and no thread is asleep waiting for it.
const LOCKED: u32 = 1;
/// Held, and some thread may be asleep waiting for it: the unlock must wake one.
const CONTENDED: u32 = 2;

/// How many times `lock_timeout` yields its core between two attempts before it starts to nap.
const YIELDS_BEFORE_NAPPING: u32 = 16;
/// The longest nap `lock_timeout` takes between two attempts.
const LONGEST_NAP: Duration = Duration::from_millis(1);

/// What a mutex has counted since it was created. Each count only goes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockStats {
    /// Guards handed out, by `lock`, `try_lock` and `lock_timeout` together.
    pub acquisitions: u64,
    /// Of those, how many found the lock held and had to wait for it.
    pub contended: u64,
    /// `try_lock` calls that found the lock held.
    pub failed_try_locks: u64,
    /// `lock_timeout` calls that gave up.
    pub timeouts: u64,
}

impl LockStats {
    /// The share of acquisitions that had to wait, from 0.0 to 1.0 (0.0 before the first).
    pub fn contention(&self) -> f64 {
        if self.acquisitions == 0 {
            0.0
        } else {
            self.contended as f64 / self.acquisitions as f64
        }
    }
}

/// The live counters behind [`LockStats`]. `Relaxed` throughout: each is a tally that orders
/// nothing else, read once the threads that update it are done.
#[derive(Debug)]
struct Counters {
    acquisitions: AtomicU64,
    contended: AtomicU64,
    failed_try_locks: AtomicU64,
    timeouts: AtomicU64,
}

impl Counters {
    const fn new() -> Self {
        Self {
            acquisitions: AtomicU64::new(0),
            contended: AtomicU64::new(0),
            failed_try_locks: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }
}

/// Adds one to a counter.
fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A mutual-exclusion lock built from one atomic and futex wait/wake.
///
/// Share it by reference (scoped threads) or in an `Arc`, like std's `Mutex`.
///
/// **No poisoning.** When a thread panics while holding the lock, its guard's `drop` still
/// runs during the unwinding and releases the lock, and the next `lock` simply succeeds, as
/// with `parking_lot::Mutex`. Std's `Mutex` would instead mark itself poisoned, so that later
/// users learn the data may have been left half updated. Poisoning is one more flag and one
/// more `Result` on every lock; this exercise leaves it out to keep the locking protocol in
/// view, and a caller whose invariants can break mid-update must restore them itself.
///
/// ```
/// use level_3_advanced::solutions::ex03_atomic_mutex::AtomicMutex;
///
/// let total = AtomicMutex::new(0_u64);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             for _ in 0..1_000 {
///                 *total.lock() += 1;
///             }
///         });
///     }
/// });
/// assert_eq!(*total.lock(), 4_000);
/// ```
pub struct AtomicMutex<T> {
    /// [`UNLOCKED`], [`LOCKED`] or [`CONTENDED`].
    state: AtomicU32,
    data: UnsafeCell<T>,
    counters: Counters,
}

// SAFETY: the only access to `data` through a shared `&AtomicMutex` is through a guard, and a
// guard exists only while its thread holds the lock, which the state's 0 → 1 (or → 2) change
// gives to one thread at a time. So at most one thread at a time touches the `T`, and it may be
// a different thread each time: that needs `T: Send`, not `T: Sync` (exactly std's rule for
// `Mutex<T>`). The Acquire when locking and the Release when unlocking make each holder's
// writes visible to the next holder. `Send` needs no impl: `UnsafeCell<T>` is `Send` when `T`
// is.
unsafe impl<T: Send> Sync for AtomicMutex<T> {}

/// Proof that the lock is held: it derefs to the data, and dropping it unlocks.
///
/// Neither `Send` nor `Sync`, like std's guard for `Send`: the lock is released on the thread
/// that took it. This futex lock would not mind being released elsewhere, but the OS locks
/// std uses do, and keeping guards on their thread keeps each critical section one block of
/// one thread's code. So this does not compile:
///
/// ```compile_fail,E0277
/// use level_3_advanced::solutions::ex03_atomic_mutex::AtomicMutex;
///
/// let mutex = AtomicMutex::new(0);
/// let guard = mutex.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard)); // error: the guard cannot be sent to another thread
/// });
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct AtomicMutexGuard<'a, T> {
    mutex: &'a AtomicMutex<T>,
    /// A raw pointer is neither `Send` nor `Sync`, and neither is a struct that holds one.
    _not_send: PhantomData<*const ()>,
}

impl<T> AtomicMutex<T> {
    /// An unlocked mutex around `value`, with all its counts at 0.
    pub const fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(UNLOCKED),
            data: UnsafeCell::new(value),
            counters: Counters::new(),
        }
    }

    /// Takes the lock, sleeping until it is free.
    pub fn lock(&self) -> AtomicMutexGuard<'_, T> {
        // Acquire on success: whatever the previous holder wrote before its Release-unlock is
        // visible to us. Relaxed on failure: we did not get the lock, so there is nothing to
        // see yet.
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            bump(&self.counters.contended);
            // Mark the lock "someone is waiting" and take it if the swap found it free. Setting
            // 2 before sleeping is what guarantees the holder's unlock wakes us; taking it in
            // state 2 may cost one needless wake later, never a lost one.
            while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
                // Sleeps only if the state is still 2: an unlock (→ 0) between our swap and
                // this call makes it return at once. It may also return spuriously; the loop
                // checks again either way.
                atomic_wait::wait(&self.state, CONTENDED);
            }
        }
        self.guard()
    }

    /// Takes the lock if it is free right now; `None` if it is held.
    pub fn try_lock(&self) -> Option<AtomicMutexGuard<'_, T>> {
        // Acquire on success, for the same reason as in `lock`.
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            Some(self.guard())
        } else {
            bump(&self.counters.failed_try_locks);
            None
        }
    }

    /// Takes the lock, waiting at most `timeout` for it; `None` if it was still held when the
    /// timeout ran out (never sooner).
    ///
    /// `atomic_wait::wait` has no timeout, so this cannot sleep in it: if the holder never
    /// unlocked, nothing would wake it at its deadline. Instead it retries the `0 → 1`
    /// compare-exchange of `try_lock`: first yielding its core between attempts, then napping,
    /// each nap twice as long as the last, up to 1 ms, and never past the deadline.
    /// That costs some CPU while it waits, and a waiter asleep in `lock` is woken by the unlock
    /// and may win the race to the lock: under heavy contention a timed waiter may time out
    /// where a sleeping one would have been served. Both are acceptable for a timed wait, whose
    /// promise is only "the lock, or `None` after the timeout". It never sets the state to 2,
    /// so no unlock ever owes it a wake-up; and taking the lock `0 → 1` while others sleep is
    /// safe, because each sleeper set 2 before sleeping and loops back to set 2 again when
    /// woken, so the unlock after ours still wakes one of them.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<AtomicMutexGuard<'_, T>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut attempts = 0_u32;
        let mut nap = Duration::from_micros(20);
        loop {
            if self
                .state
                .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                if attempts > 0 {
                    bump(&self.counters.contended);
                }
                return Some(self.guard());
            }
            // No deadline (a timeout too large to add to `now`) means wait for ever.
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => LONGEST_NAP,
            };
            if remaining.is_zero() {
                bump(&self.counters.timeouts);
                return None;
            }
            attempts += 1;
            if attempts <= YIELDS_BEFORE_NAPPING {
                thread::yield_now();
            } else {
                thread::sleep(nap.min(remaining));
                nap = (nap * 2).min(LONGEST_NAP);
            }
        }
    }

    /// What this mutex has counted so far.
    pub fn stats(&self) -> LockStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        LockStats {
            acquisitions: read(&self.counters.acquisitions),
            contended: read(&self.counters.contended),
            failed_try_locks: read(&self.counters.failed_try_locks),
            timeouts: read(&self.counters.timeouts),
        }
    }

    /// The data, taken out of the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// The data, through `&mut self`: the borrow checker already guarantees nobody else holds
    /// the lock, so no locking is needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The guard for a lock this thread has just taken, counted as one acquisition.
    fn guard(&self) -> AtomicMutexGuard<'_, T> {
        bump(&self.counters.acquisitions);
        AtomicMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }
}

impl<T> Deref for AtomicMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while its thread holds the lock, so no other thread
        // has a reference to the data; the `&T` lives no longer than `&self`, so no longer than
        // the guard, and so no longer than the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> DerefMut for AtomicMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` means this is the only reference through the
        // guard too, so the `&mut T` is unique for as long as it lives.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for AtomicMutexGuard<'_, T> {
    fn drop(&mut self) {
        // Release: every write made while holding the lock happens before the next holder's
        // Acquire. Swap, not store: the old value says whether anyone may be asleep.
        if self.mutex.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            atomic_wait::wake_one(&self.mutex.state);
        }
    }
}

impl<T> fmt::Debug for AtomicMutex<T> {
    /// Shows the state, never the data: reading the data would need the lock.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Ordering::Relaxed) {
            UNLOCKED => "unlocked",
            LOCKED => "locked",
            _ => "locked, with waiters",
        };
        f.debug_struct("AtomicMutex")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for AtomicMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
