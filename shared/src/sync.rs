//! The synchronisation primitives the pool's hand-written protocols use, swapped for loom's
//! model-checked twins under `--cfg loom`.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p shared --release --lib loom` explores the thread
//! interleavings of the small models in `pool::loom_tests`; a normal build uses std.

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// `std::cell::UnsafeCell` with loom's interface: every access goes through
/// [`with`](Self::with) or [`with_mut`](Self::with_mut), which loom checks for data races
/// under `--cfg loom` and which compile to a plain pointer access otherwise.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Reads through a shared pointer; the caller proves no write can run meanwhile.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Writes through a unique pointer; the caller proves no other access can run meanwhile.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`, ignoring poisoning.
///
/// Every mutex of the pool guards state that each critical section leaves consistent before it
/// could panic (the task itself always runs outside any lock), so a poisoned lock still holds
/// valid data, and refusing it would only turn one panic into many.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
