//! Time, injected: the job system never reads the real clock itself.
//!
//! Backoff times, timeouts and the shutdown deadline are all times on a [`Clock`] the system is
//! given. [`SystemClock`] is real time; [`ManualClock`] moves only when a test says so, which is
//! how the tests check a backoff of exactly 100 ms, or a timeout of an hour, without sleeping.
//!
//! A time is a [`Duration`] since the clock started: `next_at: 300ms` reads as "300 ms after the
//! clock's zero", which a test can compare with `==`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A callback a [`Clock`] calls each time it is moved by hand. It returns `false` once it is no
/// longer needed (its job system is gone), and the clock then forgets it.
pub type AdvanceHook = Box<dyn Fn() -> bool + Send + Sync>;

/// Where the job system gets the time.
///
/// Threads that wait for a time (a worker waiting for a backoff to pass, the watchdog waiting
/// for a timeout) sleep on a condition variable: for [`real_time_until`](Self::real_time_until)
/// of real time if the clock moves by itself, or until an [`AdvanceHook`] given to
/// [`on_advance`](Self::on_advance) wakes them if it does not.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The time now, counted from the clock's own start.
    fn now(&self) -> Duration;

    /// How much real time a thread should sleep to reach `at` on this clock, or `None` if the
    /// clock never moves by itself: then the thread sleeps until an [`AdvanceHook`] wakes it.
    fn real_time_until(&self, at: Duration) -> Option<Duration>;

    /// Asks the clock to call `wake` whenever it is moved by hand. A clock that only moves by
    /// itself ([`SystemClock`]) drops it.
    fn on_advance(&self, wake: AdvanceHook);
}

/// The real clock: a monotonic [`Instant`] taken at creation, and the time since.
///
/// ```
/// use level_3_advanced::projects::jobs::{Clock, SystemClock};
///
/// let clock = SystemClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn real_time_until(&self, at: Duration) -> Option<Duration> {
        Some(at.saturating_sub(self.now()))
    }

    fn on_advance(&self, _wake: AdvanceHook) {}
}

/// A clock that stands still until [`advance`](Self::advance) moves it. Clones share one time.
///
/// Moving it wakes every job system that reads it, so a job whose backoff has now passed runs,
/// and a job whose timeout has now passed is cancelled, without the test sleeping.
///
/// ```
/// use level_3_advanced::projects::jobs::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// assert_eq!(clock.now(), Duration::ZERO);
/// shared.advance(Duration::from_millis(250));
/// assert_eq!(clock.now(), Duration::from_millis(250));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Default)]
struct ManualInner {
    now: Mutex<Duration>,
    /// Separate from `now`: a hook takes its job system's lock, and a thread holding that
    /// lock reads `now`, so the two must never be held together.
    wakers: Mutex<Vec<AdvanceHook>>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the time forward by `by`, then wakes every job system reading this clock.
    pub fn advance(&self, by: Duration) {
        {
            let mut now = lock(&self.inner.now);
            *now = now.saturating_add(by);
        }
        lock(&self.inner.wakers).retain(|wake| wake());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *lock(&self.inner.now)
    }

    fn real_time_until(&self, _at: Duration) -> Option<Duration> {
        None
    }

    fn on_advance(&self, wake: AdvanceHook) {
        lock(&self.inner.wakers).push(wake);
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: the data behind these locks is a number or a list that a
/// panic cannot leave half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_manual_clock_calls_its_wakers_and_forgets_the_finished_ones() {
        let clock = ManualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        clock.on_advance(Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            true
        }));
        clock.on_advance(Box::new(|| false));
        clock.advance(Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(lock(&clock.inner.wakers).len(), 1);
        assert_eq!(clock.now(), Duration::from_secs(2));
        assert_eq!(clock.real_time_until(Duration::from_secs(9)), None);
    }

    #[test]
    fn the_system_clock_says_how_long_to_sleep() {
        let clock = SystemClock::new();
        assert_eq!(clock.real_time_until(Duration::ZERO), Some(Duration::ZERO));
        let wait = clock.real_time_until(Duration::from_secs(3_600)).unwrap();
        assert!(wait <= Duration::from_secs(3_600) && wait > Duration::from_secs(3_000));
    }
}
