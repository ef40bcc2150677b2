//! The synchronisation primitives the pool's hand-written protocols use, swapped for loom's
//! model-checked twins under `--cfg loom`.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p shared --release --lib loom` explores the thread
//! interleavings of the small models in `pool::loom_tests`; a normal build uses std.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

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
