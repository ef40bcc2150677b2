//! Helpers for tests of threaded code: every wait has a deadline, and concurrency is measured
//! rather than assumed.
//!
//! A test of threaded code must never hang: a lost message should fail the test with a message
//! that says what was awaited, not stall CI until it is killed. And a test that claims work ran
//! in parallel, or never more than N at a time, should measure it. These helpers do both.
//!
//! The timeouts are generous ([`TIMEOUT`]) on purpose: they exist to turn a hang into a
//! failure, never to decide whether something was fast enough.

use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen "at once" before it fails.
///
/// Ten seconds: far longer than any correct test needs, even on a busy 2-core machine, so
/// passing never depends on timing, while a hang still fails quickly enough to read.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Receives one message within [`TIMEOUT`], or panics naming what was awaited.
///
/// ```
/// use shared::testing::recv_or_fail;
///
/// let (tx, rx) = crossbeam_channel::unbounded();
/// tx.send(42).unwrap();
/// assert_eq!(recv_or_fail(&rx, "the answer"), 42);
/// ```
///
/// ```should_panic
/// use shared::testing::recv_or_fail;
///
/// let (tx, rx) = crossbeam_channel::unbounded::<i32>();
/// drop(tx);
/// recv_or_fail(&rx, "a reply"); // panics: "channel closed while waiting for a reply"
/// ```
#[track_caller]
pub fn recv_or_fail<T>(rx: &Receiver<T>, what: &str) -> T {
    recv_within(rx, TIMEOUT, what)
}

/// Receives one message within `timeout`, or panics naming what was awaited and why it did
/// not come (a timeout, or every sender dropped).
///
/// ```
/// use shared::testing::recv_within;
/// use std::time::Duration;
///
/// let (tx, rx) = crossbeam_channel::bounded(1);
/// std::thread::spawn(move || tx.send("pong").unwrap());
/// assert_eq!(recv_within(&rx, Duration::from_secs(10), "pong"), "pong");
/// ```
#[track_caller]
pub fn recv_within<T>(rx: &Receiver<T>, timeout: Duration, what: &str) -> T {
    match rx.recv_timeout(timeout) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("timed out after {timeout:?} waiting for {what}"),
        Err(RecvTimeoutError::Disconnected) => {
            panic!("channel closed while waiting for {what}: every sender was dropped")
        }
    }
}

/// Asserts that nothing arrives on `rx` within `quiet`: for "nothing after shutdown" checks.
///
/// A message that is already queued, or that arrives within the window, fails the test.
/// Disconnection counts as quiet: nothing can arrive any more.
///
/// ```
/// use shared::testing::assert_quiet;
/// use std::time::Duration;
///
/// let (tx, rx) = crossbeam_channel::unbounded::<u8>();
/// drop(tx);
/// assert_quiet(&rx, Duration::from_millis(10), "after shutdown");
/// ```
#[track_caller]
pub fn assert_quiet<T: std::fmt::Debug>(rx: &Receiver<T>, quiet: Duration, when: &str) {
    match rx.recv_timeout(quiet) {
        Ok(value) => panic!("expected no message {when}, got {value:?}"),
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
    }
}

/// Joins a thread, failing the test if it has not ended by itself within `timeout`.
///
/// Std's `JoinHandle` has no timed join, so this checks
/// [`is_finished`](JoinHandle::is_finished) in short naps until the deadline. On success it
/// returns what `join` returns: the thread's value, or the payload of its panic.
///
/// ```
/// use shared::testing::join_within;
/// use std::time::Duration;
///
/// let handle = std::thread::spawn(|| 6 * 7);
/// assert_eq!(join_within(handle, Duration::from_secs(10), "the worker").unwrap(), 42);
/// ```
#[track_caller]
pub fn join_within<T>(handle: JoinHandle<T>, timeout: Duration, what: &str) -> thread::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_micros(50);
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            panic!("{what} did not end within {timeout:?}");
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(10));
    }
    handle.join()
}

/// Runs `f` on a helper thread and returns its result, failing the test if it takes longer
/// than `timeout` (a deadlock or a lost message in the code under test) or panics.
///
/// A panic in `f` fails the test with the original message kept, so a `todo!("ex01: ...")`
/// in the code under test still names its task.
///
/// ```
/// use shared::testing::{run_within, TIMEOUT};
///
/// let answer = run_within(TIMEOUT, "the computation", || 6 * 7);
/// assert_eq!(answer, 42);
/// ```
///
/// ```should_panic
/// use shared::testing::run_within;
/// use std::time::Duration;
///
/// // Never returns: the test fails after the timeout instead of hanging.
/// run_within(Duration::from_millis(10), "a stuck call", || {
///     let (_tx, rx) = std::sync::mpsc::channel::<()>();
///     let _ = rx.recv();
/// });
/// ```
#[track_caller]
pub fn run_within<T, F>(timeout: Duration, what: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded(1);
    let runner = thread::Builder::new()
        .name(format!("run_within: {what}"))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            // The receiver is gone only if the test already failed on its timeout.
            let _ = tx.send(outcome);
        })
        .unwrap_or_else(|e| panic!("could not spawn a thread to run {what}: {e}"));
    match rx.recv_timeout(timeout) {
        Ok(Ok(value)) => {
            // The thread has sent its last message; joining cannot block for long.
            let _ = runner.join();
            value
        }
        Ok(Err(payload)) => panic!("{what} panicked: {}", panic_message(payload.as_ref())),
        // The stuck thread is left behind: Rust cannot stop it, and the test is failing anyway.
        Err(_) => {
            panic!("{what} did not finish within {timeout:?} (a deadlock or a lost message?)")
        }
    }
}

/// The message of a panic payload, as `join` or `catch_unwind` hands it back.
///
/// `panic!("literal")` carries a `&'static str`, `panic!("{x}")` a `String`; anything else
/// (from `std::panic::panic_any`) has no message.
///
/// ```
/// use shared::testing::panic_message;
///
/// let payload = std::thread::spawn(|| panic!("boom {}", 7)).join().unwrap_err();
/// assert_eq!(panic_message(payload.as_ref()), "boom 7");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    crate::worker::panic_message(payload)
}

/// Records how many tasks run at once, and the most that ever did.
///
/// Each task holds a guard from [`enter`](Self::enter) while it runs. A test then asserts
/// `probe.max() <= pool_size` (never more at once than allowed) or `probe.max() >= 2` (it
/// really ran in parallel). Clones share one count.
///
/// ```
/// use shared::testing::ConcurrencyProbe;
/// use std::sync::Barrier;
/// use std::thread;
///
/// let probe = ConcurrencyProbe::new();
/// let both_inside = Barrier::new(2);
/// thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| {
///             let _running = probe.enter();
///             both_inside.wait(); // neither leaves before both are in
///         });
///     }
/// });
/// assert_eq!(probe.max(), 2);
/// assert_eq!(probe.current(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConcurrencyProbe {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    current: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

/// Held while a task runs; leaving (dropping it, also by a panic) lowers the current count.
#[derive(Debug)]
#[must_use = "the task counts as running only while the guard is held"]
pub struct ProbeGuard {
    counts: Arc<Counts>,
}

impl ConcurrencyProbe {
    /// A probe that has seen nothing yet.
    ///
    /// ```
    /// let probe = shared::testing::ConcurrencyProbe::new();
    /// assert_eq!((probe.current(), probe.max(), probe.total()), (0, 0, 0));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks one task as running until the returned guard is dropped.
    ///
    /// ```
    /// let probe = shared::testing::ConcurrencyProbe::new();
    /// let guard = probe.enter();
    /// assert_eq!(probe.current(), 1);
    /// drop(guard);
    /// assert_eq!(probe.current(), 0);
    /// ```
    pub fn enter(&self) -> ProbeGuard {
        // SeqCst throughout: a test probe wants the simplest correct reasoning, not speed.
        let now = self.counts.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.counts.max.fetch_max(now, Ordering::SeqCst);
        self.counts.total.fetch_add(1, Ordering::SeqCst);
        ProbeGuard {
            counts: Arc::clone(&self.counts),
        }
    }

    /// How many tasks are running now.
    ///
    /// ```
    /// let probe = shared::testing::ConcurrencyProbe::new();
    /// let _a = probe.enter();
    /// assert_eq!(probe.current(), 1);
    /// ```
    pub fn current(&self) -> usize {
        self.counts.current.load(Ordering::SeqCst)
    }

    /// The highest number of tasks that were ever running at once.
    ///
    /// ```
    /// let probe = shared::testing::ConcurrencyProbe::new();
    /// let a = probe.enter();
    /// let b = probe.enter();
    /// drop((a, b));
    /// assert_eq!(probe.max(), 2);
    /// ```
    pub fn max(&self) -> usize {
        self.counts.max.load(Ordering::SeqCst)
    }

    /// How many tasks have entered in all.
    ///
    /// ```
    /// let probe = shared::testing::ConcurrencyProbe::new();
    /// drop(probe.enter());
    /// drop(probe.enter());
    /// assert_eq!(probe.total(), 2);
    /// ```
    pub fn total(&self) -> usize {
        self.counts.total.load(Ordering::SeqCst)
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.counts.current.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The names of this process's live threads that start with `prefix`, as the kernel reports
/// them (Linux: `/proc/self/task/*/comm`, where a name is cut to its first 15 bytes).
///
/// A test calls it right after the code under test returns, to prove that the workers it
/// promised to join are gone: a joined thread has ended, so no name is left; a detached one
/// may still be running (threads already on their way out of the kernel are left out). Give the
/// workers names longer than nothing and shorter than 16 bytes.
/// A new thread takes its name as it starts running, so a thread that has not yet run any of
/// its code may still show its parent's name.
/// Returns `None` on systems without `/proc/self/task`, where a test cannot look.
///
/// It sees every thread of the process, and `cargo test` runs a file's tests on threads of one
/// process: while one test looks, another test's workers of the same name may be alive. Take a
/// lock shared by the file's tests that start such workers, or give each test's workers their
/// own names.
///
/// ```
/// use shared::testing::live_threads_named;
///
/// let worker = std::thread::Builder::new()
///     .name("probe-worker".into())
///     .spawn(|| 7)
///     .unwrap();
/// assert_eq!(worker.join().unwrap(), 7);
/// // Joined: the thread has ended, so its name is gone (on systems that can tell).
/// if let Some(names) = live_threads_named("probe-worker") {
///     assert!(names.is_empty(), "{names:?}");
/// }
/// ```
pub fn live_threads_named(prefix: &str) -> Option<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut names: Vec<String> = tasks
        .flatten()
        // A thread may end between listing and reading: its files are then gone, and so is it.
        .filter_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            still_runs_its_own_code(&stat).then(|| comm.trim_end_matches('\n').to_owned())
        })
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    Some(names)
}

/// Whether a thread, from its `/proc/self/task/*/stat` line, still runs code of its own.
///
/// A joined thread can still be listed for a moment after `join` returned: the kernel wakes
/// the joiner on its way out, before it removes the thread. By then the kernel has marked it
/// as exiting (`PF_EXITING`, 0x4 in `flags`, field 9), before it wakes anyone; and later its
/// memory map is gone too (`vsize`, field 23, is 0). A thread that still runs code of its
/// own, a destructor included, has neither mark.
fn still_runs_its_own_code(stat: &str) -> bool {
    const PF_EXITING: u64 = 0x4;
    // The fields after the name, which is in parentheses and may hold spaces and parentheses.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // Field 3, the state, is the first after the name: field N is at index N - 3.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let exiting = field(9).is_none_or(|flags| flags & PF_EXITING != 0);
    let mapped = field(23).is_some_and(|vsize| vsize > 0);
    let dead = fields
        .first()
        .is_none_or(|state| *state == "Z" || *state == "X");
    !exiting && mapped && !dead
}

/// A meeting point for `parties` threads with a deadline: [`Rendezvous::meet`] returns `true`
/// once all have arrived, or `false` when `timeout` passes first.
///
/// It proves overlap without timing: if two tasks must each meet the other before they finish,
/// they can only both succeed if they ran at the same time. Run one after the other, the first
/// waits out its deadline alone and reports `false`.
///
/// ```
/// use shared::testing::{Rendezvous, TIMEOUT};
/// use std::sync::Arc;
///
/// let meeting = Arc::new(Rendezvous::new(2));
/// let other = Arc::clone(&meeting);
/// let worker = std::thread::spawn(move || other.meet(TIMEOUT));
/// assert!(meeting.meet(TIMEOUT));
/// assert!(worker.join().unwrap());
/// ```
///
/// ```
/// use shared::testing::Rendezvous;
/// use std::time::Duration;
///
/// // Nobody else comes: the wait ends at the deadline.
/// assert!(!Rendezvous::new(2).meet(Duration::from_millis(10)));
/// ```
#[derive(Debug)]
pub struct Rendezvous {
    parties: usize,
    arrived: std::sync::Mutex<usize>,
    all_here: std::sync::Condvar,
}

impl Rendezvous {
    /// A meeting of `parties` threads (at least 1).
    pub fn new(parties: usize) -> Self {
        Self {
            parties: parties.max(1),
            arrived: std::sync::Mutex::new(0),
            all_here: std::sync::Condvar::new(),
        }
    }

    /// Arrives, then waits until every party has arrived (`true`) or `timeout` passes
    /// (`false`). Arrivals count once per call; a meeting is not reusable.
    pub fn meet(&self, timeout: Duration) -> bool {
        let mut arrived = self
            .arrived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *arrived += 1;
        if *arrived >= self.parties {
            self.all_here.notify_all();
            return true;
        }
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, timeout, |arrived| *arrived < self.parties)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *arrived >= self.parties
    }

    /// How many parties have arrived so far.
    pub fn arrived(&self) -> usize {
        *self
            .arrived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn live_threads_named_sees_a_running_thread_and_not_a_joined_one() {
        let (release, wait) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
        let worker = thread::Builder::new()
            .name("lt-probe-7".into())
            .spawn(move || {
                let _ = started_tx.send(());
                let _ = wait.recv();
            })
            .unwrap();
        // A new thread names itself as it starts: look once it is running.
        recv_or_fail(&started, "the thread to start");
        if let Some(names) = live_threads_named("lt-probe-") {
            assert_eq!(names, ["lt-probe-7"]);
        }
        drop(release);
        worker.join().unwrap();
        if let Some(names) = live_threads_named("lt-probe-") {
            assert!(names.is_empty(), "{names:?}");
        }
    }

    #[test]
    fn a_rendezvous_fails_when_the_parties_run_one_after_another() {
        let meeting = Rendezvous::new(2);
        assert!(!meeting.meet(Duration::from_millis(5)));
        assert_eq!(meeting.arrived(), 1);
        assert!(
            meeting.meet(Duration::from_millis(5)),
            "the second arrival completes it"
        );
    }

    use super::*;
    use std::panic;

    #[test]
    fn recv_within_names_what_timed_out() {
        let (_tx, rx) = crossbeam_channel::unbounded::<()>();
        let err = panic::catch_unwind(|| recv_within(&rx, Duration::from_millis(1), "the pong"))
            .unwrap_err();
        let message = panic_message(err.as_ref());
        assert!(message.contains("waiting for the pong"), "{message}");
    }

    #[test]
    fn assert_quiet_fails_on_a_queued_message() {
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(1).unwrap();
        let err = panic::catch_unwind(|| assert_quiet(&rx, Duration::ZERO, "after stop"));
        assert!(err.is_err());
    }

    #[test]
    fn join_within_fails_on_a_thread_that_never_ends() {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let stuck = thread::spawn(move || {
            let _ = stop_rx.recv();
        });
        let err = panic::catch_unwind(panic::AssertUnwindSafe(|| {
            join_within(stuck, Duration::from_millis(20), "the stuck thread")
        }))
        .unwrap_err();
        assert!(panic_message(err.as_ref()).contains("did not end"));
        drop(stop_tx); // lets the thread end
    }

    #[test]
    fn join_within_returns_the_panic_payload() {
        let handle = thread::spawn(|| panic!("inner"));
        let payload = join_within(handle, TIMEOUT, "the panicking thread").unwrap_err();
        assert_eq!(panic_message(payload.as_ref()), "inner");
    }

    #[test]
    fn run_within_keeps_the_message_of_a_panic() {
        let err = panic::catch_unwind(|| {
            run_within(TIMEOUT, "the stub", || -> u32 { todo!("ex01: write me") })
        })
        .unwrap_err();
        let message = panic_message(err.as_ref());
        assert!(message.contains("the stub panicked"), "{message}");
        assert!(message.contains("ex01: write me"), "{message}");
    }

    #[test]
    fn probe_counts_down_when_a_task_panics() {
        let probe = ConcurrencyProbe::new();
        let inner = probe.clone();
        let _ = panic::catch_unwind(move || {
            let _guard = inner.enter();
            panic!("task failed");
        });
        assert_eq!(probe.current(), 0);
        assert_eq!(probe.max(), 1);
        assert_eq!(probe.total(), 1);
    }

    #[test]
    fn panic_message_of_a_non_string_payload() {
        let payload = panic::catch_unwind(|| panic::panic_any(7_u8)).unwrap_err();
        assert!(panic_message(payload.as_ref()).contains("not a string"));
    }
}
