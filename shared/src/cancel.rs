//! Cooperative cancellation: the Rust answer to `worker.terminate()`.
//!
//! Node can stop a worker's JavaScript at any instruction. Rust cannot kill a thread: a thread
//! ends when its closure returns. So a stop is a *request* the running code checks at points of
//! its choosing. [`CancellationToken`] is that request: clone it into every thread that should
//! stop together, call [`cancel`](CancellationToken::cancel) once, and each holder sees it on its
//! next [`is_cancelled`](CancellationToken::is_cancelled) check, or wakes from
//! [`wait_timeout`](CancellationToken::wait_timeout) at once.
//!
//! ```
//! use shared::CancellationToken;
//! use std::thread;
//!
//! let token = CancellationToken::new();
//! let worker = {
//!     let token = token.clone();
//!     thread::spawn(move || {
//!         let mut rounds = 0u64;
//!         while !token.is_cancelled() {
//!             rounds += 1; // one slice of work between checks
//!         }
//!         rounds
//!     })
//! };
//! token.cancel();
//! let rounds = worker.join().unwrap();
//! assert!(token.is_cancelled());
//! println!("stopped after {rounds} rounds");
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A shared "please stop" flag that is cheap to clone, cheap to check, and can be waited on.
///
/// Clones share one flag. Cancelling is permanent and idempotent.
///
/// ```
/// use shared::CancellationToken;
///
/// let token = CancellationToken::new();
/// let clone = token.clone();
/// assert!(!clone.is_cancelled());
/// token.cancel();
/// assert!(clone.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancellationToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The flag itself. Checked on every hot-loop iteration, so it lives outside the mutex.
    cancelled: AtomicBool,
    /// Waiters sleep on `wakeup`; the mutex only orders "check flag, then sleep" against
    /// "set flag, then notify" so that no wake-up is lost.
    lock: Mutex<()>,
    wakeup: Condvar,
}

/// The error a cancelled operation returns, so that `?` can end a loop early.
///
/// ```
/// use shared::{CancellationToken, Cancelled};
///
/// fn sum_until_cancelled(token: &CancellationToken) -> Result<u64, Cancelled> {
///     let mut sum = 0;
///     for i in 0..1_000u64 {
///         token.check()?;
///         sum += i;
///     }
///     Ok(sum)
/// }
///
/// let token = CancellationToken::new();
/// assert_eq!(sum_until_cancelled(&token), Ok(499_500));
/// token.cancel();
/// assert_eq!(sum_until_cancelled(&token), Err(Cancelled));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation was cancelled")]
pub struct Cancelled;

impl CancellationToken {
    /// A new token, not cancelled.
    ///
    /// ```
    /// let token = shared::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation and wakes every thread blocked in [`wait`](Self::wait) or
    /// [`wait_timeout`](Self::wait_timeout). Calling it again does nothing.
    ///
    /// ```
    /// let token = shared::CancellationToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        // Release pairs with the Acquire in `is_cancelled`: whatever the canceller wrote
        // before cancelling (a reason, a deadline) is visible to a thread that sees the flag.
        let guard = self.lock();
        self.inner.cancelled.store(true, Ordering::Release);
        drop(guard);
        self.inner.wakeup.notify_all();
    }

    /// Whether [`cancel`](Self::cancel) has been called on this token or any clone of it.
    ///
    /// One atomic load: cheap enough for the inner loop of a computation.
    ///
    /// ```
    /// let token = shared::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// `Err(Cancelled)` once the token is cancelled, for early exits with `?`.
    ///
    /// ```
    /// let token = shared::CancellationToken::new();
    /// assert!(token.check().is_ok());
    /// token.cancel();
    /// assert!(token.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Blocks until the token is cancelled or `timeout` has passed; returns whether it is
    /// cancelled. A worker that should pause between rounds uses this instead of
    /// `thread::sleep`, so that a stop request wakes it at once.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let token = shared::CancellationToken::new();
    /// assert!(!token.wait_timeout(Duration::from_millis(1)));
    /// token.cancel();
    /// assert!(token.wait_timeout(Duration::from_secs(60))); // returns at once
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        // A timeout too large to add to `now` means "no deadline".
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.lock();
        while !self.is_cancelled() {
            let remaining = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                None => Duration::from_secs(3600),
            };
            guard = self
                .inner
                .wakeup
                .wait_timeout(guard, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Blocks until the token is cancelled. Prefer [`wait_timeout`](Self::wait_timeout)
    /// wherever nothing guarantees that somebody will cancel.
    ///
    /// ```
    /// use shared::CancellationToken;
    /// use std::thread;
    ///
    /// let token = CancellationToken::new();
    /// let waiter = {
    ///     let token = token.clone();
    ///     thread::spawn(move || token.wait())
    /// };
    /// token.cancel();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait(&self) {
        while !self.wait_timeout(Duration::MAX) {}
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The mutex guards no data, so a panic while it was held cannot leave anything
        // half-written: poisoning is safe to ignore.
        self.inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn clones_share_one_flag() {
        let a = CancellationToken::new();
        let b = a.clone();
        b.cancel();
        assert!(a.is_cancelled());
        assert_eq!(a.check(), Err(Cancelled));
    }

    #[test]
    fn wait_timeout_returns_false_when_nobody_cancels() {
        let token = CancellationToken::new();
        assert!(!token.wait_timeout(Duration::ZERO));
        assert!(!token.wait_timeout(Duration::from_millis(5)));
    }

    #[test]
    fn cancel_wakes_every_waiter() {
        let token = CancellationToken::new();
        let (started_tx, started_rx) = mpsc::channel();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let token = token.clone();
                let started_tx = started_tx.clone();
                thread::spawn(move || {
                    started_tx.send(()).unwrap();
                    // A minute is far longer than the test: returning `true` proves the
                    // waiter was woken by `cancel`, not by its timeout.
                    token.wait_timeout(Duration::from_secs(60))
                })
            })
            .collect();
        for _ in 0..4 {
            started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        token.cancel();
        for waiter in waiters {
            assert!(waiter.join().unwrap());
        }
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let token = CancellationToken::new();
        token.cancel();
        assert!(token.wait_timeout(Duration::MAX));
        token.wait();
    }

    #[test]
    fn a_panic_while_holding_the_lock_does_not_break_the_token() {
        let token = CancellationToken::new();
        let poisoner = token.clone();
        let _ = thread::spawn(move || {
            let _guard = poisoner.lock();
            panic!("poison the internal mutex");
        })
        .join();
        assert!(!token.wait_timeout(Duration::from_millis(1)));
        token.cancel();
        assert!(token.wait_timeout(Duration::from_secs(60)));
    }
}
