//! A task from submission to settlement: the type-erased [`Job`] a worker runs, the
//! [`TaskContext`] the task sees, and the [`TaskHandle`] its submitter waits on.
//!
//! The one invariant, kept by [`Slot`]: **a handle settles exactly once**, with the task's
//! value or a [`TaskError`], whatever happens to the task: it may run, panic, be cancelled
//! while queued or while running, time out, or be dropped by a shutdown.

use super::TaskError;
use crate::sync::{self, AtomicBool, AtomicUsize, Condvar, Mutex, UnsafeCell};
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How a job ended, for the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Panicked,
    Cancelled,
    TimedOut,
}

/// A queued unit of work with its type erased, so one queue carries every kind of task.
pub(crate) trait Job: Send {
    /// Runs the task on a worker and settles its handle, if it has one. `done` records the
    /// outcome in the pool's counters, and is called *before* the handle settles, so that a
    /// caller who has seen the result also sees it counted.
    fn run(self: Box<Self>, cx: &mut TaskContext<'_>, done: &mut dyn FnMut(Outcome));
    /// Settles the handle without running (the pool was shut down while the task was queued).
    fn reject(self: Box<Self>);
    /// The boxed value itself, so a refused submission can hand the caller's closure back.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// What a running task can ask of the pool: whether it should stop, which worker runs it, and
/// that worker's own state.
///
/// Cancellation is cooperative: a task that wants to be stoppable checks
/// [`is_cancelled`](Self::is_cancelled) (or [`check`](Self::check)) between slices of work.
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// let handle = pool.submit_with(|cx| {
///     let mut rounds = 0u64;
///     while !cx.is_cancelled() && rounds < 1_000 {
///         rounds += 1;
///     }
///     (cx.worker_index(), rounds)
/// })?;
/// let (index, rounds) = handle.join()?;
/// assert!(index < 2);
/// assert_eq!(rounds, 1_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TaskContext<'w> {
    pub(crate) worker_index: usize,
    pub(crate) pool_stopping: &'w std::sync::atomic::AtomicBool,
    pub(crate) state: Option<&'w mut (dyn Any + Send)>,
    /// Set for a task with a handle: the handle's cancel flag and the task's deadline.
    pub(crate) cancelled: Option<&'w AtomicBool>,
    pub(crate) deadline: Option<Instant>,
}

impl TaskContext<'_> {
    /// Whether the task should stop: its handle was cancelled, its timeout has passed, or the
    /// pool is shutting down with [`shutdown_now`](super::WorkerPool::shutdown_now).
    ///
    /// Cheap (two atomic loads, plus a clock read only for a task with a timeout): call it as
    /// often as every loop iteration.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// assert_eq!(pool.submit_with(|cx| cx.is_cancelled())?.join()?, false);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.pool_stopping.load(Ordering::Relaxed)
            || self.cancelled.is_some_and(|c| c.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Cancelled)` once [`is_cancelled`](Self::is_cancelled) is true, to leave a loop
    /// with `?`.
    ///
    /// ```
    /// use shared::Cancelled;
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit_with(|cx| -> Result<u64, Cancelled> {
    ///     let mut sum = 0;
    ///     for i in 0..1_000 {
    ///         cx.check()?;
    ///         sum += i;
    ///     }
    ///     Ok(sum)
    /// })?;
    /// assert_eq!(handle.join()?, Ok(499_500));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self) -> Result<(), crate::Cancelled> {
        if self.is_cancelled() {
            Err(crate::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The index of the worker running this task: `0..` in the order the pool started its
    /// threads (an elastic pool gives a new thread a new index).
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(3)?;
    /// assert!(pool.submit_with(|cx| cx.worker_index())?.join()? < 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn worker_index(&self) -> usize {
        self.worker_index
    }

    /// This worker's own state, made by the pool's
    /// [`worker_state`](super::PoolBuilder::worker_state) factory when the thread started:
    /// scratch buffers, a connection, a random generator. Only this worker's tasks see it, one
    /// at a time, so no lock is needed. `None` if the pool has no state of type `S`.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// // Each worker keeps a reusable buffer; tasks borrow it instead of allocating.
    /// let pool = WorkerPool::builder()
    ///     .threads(2)
    ///     .worker_state(|_index| Vec::<u8>::with_capacity(1024))
    ///     .build()?;
    /// let len = pool
    ///     .submit_with(|cx| {
    ///         let buffer = cx.state::<Vec<u8>>().expect("every worker has a buffer");
    ///         buffer.clear();
    ///         buffer.extend_from_slice(b"hello");
    ///         buffer.len()
    ///     })?
    ///     .join()?;
    /// assert_eq!(len, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state<S: Any>(&mut self) -> Option<&mut S> {
        self.state.as_deref_mut()?.downcast_mut::<S>()
    }
}

impl fmt::Debug for TaskContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("worker_index", &self.worker_index)
            .field("cancelled", &self.is_cancelled())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Where a task's outcome meets its waiter: the handshake behind [`TaskHandle`].
///
/// One atomic word, `stage`, says where the task is; its result waits beside it in a cell that
/// exactly one thread writes and exactly one takes. The phases, each move made by one
/// compare-and-swap or add on `stage`:
///
/// - `QUEUED` → `RUNNING`: the worker that starts the task. A `cancel` racing it either wins
///   (the task never runs) or loses (and only sets the flag the running task checks).
/// - `QUEUED` or `RUNNING` → `WRITING`: the one thread that may write the result claims the
///   cell: the worker that ran the task, a `cancel` of a queued task, or a shutdown rejecting
///   it. Whoever comes second finds the phase moved on and writes nothing.
/// - `WRITING` → `SETTLED`: the result is in. A release, so a waiter that sees `SETTLED` with
///   an acquire load sees the result too. `RUNNING` → `SETTLED` in one step: the worker of a
///   task without a timeout, which nobody else can move from `RUNNING`, needs no claim.
/// - `SETTLED` → `TAKEN`: the handle took the result. `RUNNING` → `TAKEN`: a waiter settled a
///   task that overran its timeout as timed out; the worker's result is dropped when it comes.
///
/// No lock on the way: a task without a timeout settled before its handle waits (most are)
/// costs its worker one compare-and-swap (the start) and one add (the settle) on this cache
/// line, and its handle one load. A waiter that must sleep takes `lock`,
/// sets the `WAITING` bit with a compare-and-swap that also checks the stage it last saw, and
/// sleeps on `settled`, which releases `lock` atomically; a thread that moves the stage and
/// finds `WAITING` set takes `lock` before it notifies. So a notification cannot fall between
/// the waiter's last look and its sleep (the lost wake-up): a move before the waiter's
/// compare-and-swap makes it fail, and the waiter looks again; a move after it finds the bit,
/// and waits for `lock` until the waiter sleeps. On Linux every notification is a system call,
/// which is why it is sent only when the bit says somebody waits.
/// The model checks `loom_slot_settles_once_under_cancel_and_wait` and
/// `loom_slot_settles_once_under_reject_and_cancel` (in `loom_tests.rs`) run start, settle,
/// cancel, a shutdown's rejection and wait under every interleaving, and check each cell
/// access.
pub(crate) struct Slot<T> {
    /// The phase (the low bits) and the `WAITING` bit.
    stage: AtomicUsize,
    /// The pool the task was submitted to, to refuse a wait from one of its own workers.
    pool_id: usize,
    /// The task's time limit, counted from its start.
    timeout: Option<Duration>,
    /// The handle's cancel request, readable without the lock from the running task.
    cancelled: AtomicBool,
    /// When a task with a timeout started: written once, by the worker, before its
    /// compare-and-swap to `RUNNING`; read only by a waiter that has seen `RUNNING`.
    started: UnsafeCell<Option<Instant>>,
    /// The result: written by the thread that moved the phase to `WRITING`, before it moves
    /// it on to `SETTLED`; taken by the handle once it has seen `SETTLED`.
    result: UnsafeCell<Option<Result<T, TaskError>>>,
    lock: Mutex<()>,
    settled: Condvar,
}

// SAFETY: each cell has one writer, which writes before a release move of `stage`, and its
// readers read only after seeing that move with an acquire load (see `Slot`); the result
// moves between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

const QUEUED: usize = 0;
const RUNNING: usize = 1;
const WRITING: usize = 2;
const SETTLED: usize = 3;
const TAKEN: usize = 4;
/// A waiter sleeps on `settled`, or is about to under `lock`: whoever moves the phase must
/// notify.
const WAITING: usize = 8;
const PHASE: usize = WAITING - 1;

impl<T> Slot<T> {
    pub(crate) fn new(pool_id: usize, timeout: Option<Duration>) -> Self {
        Self {
            stage: AtomicUsize::new(QUEUED),
            pool_id,
            timeout,
            cancelled: AtomicBool::new(false),
            started: UnsafeCell::new(None),
            result: UnsafeCell::new(None),
            lock: Mutex::new(()),
            settled: Condvar::new(),
        }
    }

    /// Moves the phase to `to` if it is one that `from` accepts, keeping the `WAITING` bit.
    /// `guess` is the stage expected, tried first. `Ok` with the stage it replaced, or `Err`
    /// with the stage found, whose phase `from` refused.
    fn advance(
        &self,
        guess: usize,
        from: impl Fn(usize) -> bool,
        to: usize,
    ) -> Result<usize, usize> {
        let mut current = guess;
        loop {
            if !from(current & PHASE) {
                return Err(current);
            }
            match self.stage.compare_exchange(
                current,
                to | (current & WAITING),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(replaced) => return Ok(replaced),
                Err(found) => current = found,
            }
        }
    }

    /// After a move of the phase that replaced `old`: wakes the waiter, if there is one.
    fn wake(&self, old: usize) {
        if old & WAITING != 0 {
            let _guard = sync::lock(&self.lock);
            self.settled.notify_all();
        }
    }

    /// Writes `result` and moves the phase on from `WRITING`, which the caller has claimed.
    fn settle_claimed(&self, result: Result<T, TaskError>) {
        // SAFETY: the caller moved the phase to `WRITING`, which happens once per slot: no
        // other thread writes the cell, and none reads it before the phase is `SETTLED`.
        self.result.with_mut(|cell| unsafe { *cell = Some(result) });
        // Release: the result written above is seen by whoever sees `SETTLED`.
        let old = self.stage.fetch_add(SETTLED - WRITING, Ordering::AcqRel);
        self.wake(old);
    }

    /// A worker is about to run the task. `false` if it was settled while queued (cancelled),
    /// in which case the worker must not run it.
    pub(crate) fn start(&self, started: Option<Instant>) -> bool {
        if started.is_some() {
            // SAFETY: only the one worker that took this task from the queue calls `start`,
            // once, and nobody reads `started` before the phase is `RUNNING`, which only the
            // compare-and-swap below sets, after this write.
            self.started.with_mut(|cell| unsafe { *cell = started });
        }
        match self.advance(QUEUED, |phase| phase == QUEUED, RUNNING) {
            Ok(old) => {
                if started.is_some() {
                    // A waiter sleeps without a deadline until the task's clock starts.
                    self.wake(old);
                }
                true
            }
            Err(_) => false, // a cancel got there first
        }
    }

    /// Settles with `result` unless already settled (by a cancel or a waiter's timeout), and
    /// reports the outcome that counts to `done`, before any waiter is woken.
    pub(crate) fn finish(&self, result: Result<T, TaskError>, done: &mut dyn FnMut(Outcome)) {
        let outcome = outcome_of(&result);
        match self.advance(
            RUNNING,
            |phase| phase == QUEUED || phase == RUNNING,
            WRITING,
        ) {
            Ok(_) => {
                done(outcome);
                self.settle_claimed(result);
            }
            Err(found) => {
                // Only a waiter whose task overran takes the slot from a running task; a task
                // cancelled while queued and then dropped by a shutdown stays cancelled.
                done(if found & PHASE == TAKEN {
                    Outcome::TimedOut
                } else {
                    Outcome::Cancelled
                });
                drop_quietly(result);
            }
        }
    }

    /// [`finish`](Self::finish) for the worker that started the task, after it ran. A task
    /// without a timeout needs no claim: nobody else moves its phase from `RUNNING` (a cancel
    /// moves only a queued task, a shutdown rejects only tasks never started, and only a
    /// waiter's timeout takes a running task), so one add settles it.
    pub(crate) fn finish_started(
        &self,
        result: Result<T, TaskError>,
        done: &mut dyn FnMut(Outcome),
    ) {
        if self.timeout.is_some() {
            return self.finish(result, done);
        }
        done(outcome_of(&result));
        // SAFETY: this thread started the task, and without a timeout nobody else moves the
        // phase on from `RUNNING` (above): no other thread writes the cell, and none reads it
        // before the add below makes the phase `SETTLED`.
        self.result.with_mut(|cell| unsafe { *cell = Some(result) });
        // Release: the result written above is seen by whoever sees `SETTLED`.
        let old = self.stage.fetch_add(SETTLED - RUNNING, Ordering::AcqRel);
        debug_assert_eq!(old & PHASE, RUNNING, "only the worker moves a running task");
        self.wake(old);
    }

    /// Requests cancellation: settles at once if the task is still queued, else sets the flag
    /// the running task checks.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        // Still queued, and now it never will run (unless a shutdown settled it first).
        if self
            .advance(QUEUED, |phase| phase == QUEUED, WRITING)
            .is_ok()
        {
            self.settle_claimed(Err(TaskError::Cancelled));
        }
    }

    pub(crate) fn cancel_flag(&self) -> &AtomicBool {
        &self.cancelled
    }

    pub(crate) fn is_cancel_requested(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// When a running task with a timeout runs out of time. Only for a caller that has seen
    /// the phase at `RUNNING` or beyond, with an acquire load.
    fn deadline(&self) -> Option<Instant> {
        // SAFETY: `started` was written before the move to `RUNNING` the caller has seen, and
        // is never written again.
        let started = self.started.with(|cell| unsafe { *cell })?;
        started.checked_add(self.timeout?)
    }

    /// Spins and yields for a few microseconds while the task runs: a short task often ends
    /// sooner than a sleeping waiter could be woken (on Linux a wake-up is a system call on
    /// each side, and tens of microseconds on a busy host). Only an optimisation: the
    /// compare-and-swap in [`wait`](Self::wait) decides. Never spins past `limit`.
    fn spin_until_settled(&self, limit: Option<Instant>) {
        if cfg!(loom) {
            return; // a spin is not part of the protocol the models check
        }
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            if self.stage.load(Ordering::Relaxed) & PHASE >= SETTLED
                || limit.is_some_and(|l| Instant::now() >= l)
            {
                return;
            }
            backoff.snooze();
        }
    }

    /// The result, for the handle, once it has seen the phase at `SETTLED`.
    fn take_settled(&self) -> Result<T, TaskError> {
        // SAFETY: the phase is `SETTLED`, seen with an acquire load: the result was written
        // before, and nobody writes the cell again; only the handle takes it, once, and it
        // moves the phase to `TAKEN` before it returns.
        let result = self.result.with_mut(|cell| unsafe { (*cell).take() });
        self.stage.store(TAKEN, Ordering::Relaxed);
        result.unwrap_or(Err(TaskError::Cancelled))
    }

    /// The result, if it is in: the handle's fast path, one load and no lock.
    fn take_if_settled(&self) -> Option<Result<T, TaskError>> {
        (self.stage.load(Ordering::Acquire) & PHASE == SETTLED).then(|| self.take_settled())
    }

    /// The result of a slot nobody else holds any more (the `&mut` proves it).
    fn take_result(&mut self) -> Result<T, TaskError> {
        match self.stage.load(Ordering::Acquire) & PHASE {
            SETTLED => self.take_settled(),
            // Taken only by a waiter's timeout, which consumed the handle.
            TAKEN => Err(TaskError::Cancelled),
            // The job was dropped without running or being rejected: it never will run.
            _ => Err(TaskError::PoolShutDown),
        }
    }

    /// Whether a wait would return at once: the result is in, or the task has run past its
    /// timeout (a waiter then settles it as timed out without waiting for it).
    pub(crate) fn is_settled(&self) -> bool {
        match self.stage.load(Ordering::Acquire) & PHASE {
            SETTLED | TAKEN => true,
            RUNNING => self.deadline().is_some_and(|d| Instant::now() >= d),
            _ => false,
        }
    }

    /// Waits until settled, or until `limit` passes (`None`: no limit), and takes the result.
    /// A task with `timeout` is settled as timed out by the waiter once it has run that long.
    /// Returns `None` if `limit` passed first.
    pub(crate) fn wait(&self, limit: Option<Instant>) -> Option<Result<T, TaskError>> {
        self.spin_until_settled(limit);
        loop {
            let stage = self.stage.load(Ordering::Acquire);
            let task_deadline = match stage & PHASE {
                SETTLED => return Some(self.take_settled()),
                TAKEN => return Some(Err(TaskError::Cancelled)),
                RUNNING => self.deadline(),
                _ => None, // queued, or a result being written
            };
            let now = Instant::now();
            if let (Some(deadline), Some(t)) = (task_deadline, self.timeout)
                && now >= deadline
            {
                // The task ran out of time: settle for it, and tell it to stop, unless its
                // result came in meanwhile.
                if self.advance(stage, |phase| phase == RUNNING, TAKEN).is_ok() {
                    self.cancelled.store(true, Ordering::Relaxed);
                    return Some(Err(TaskError::TimedOut(t)));
                }
                continue;
            }
            if limit.is_some_and(|l| now >= l) {
                return None;
            }
            let guard = sync::lock(&self.lock);
            // Under the lock: mark this waiter, if the stage is still the one looked at.
            if self
                .stage
                .compare_exchange(stage, stage | WAITING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue; // it moved: look again
            }
            let wake_at = match (task_deadline, limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            drop(match wake_at {
                None => self
                    .settled
                    .wait(guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(at) => {
                    self.settled
                        .wait_timeout(guard, at.saturating_duration_since(now))
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            });
        }
    }
}

/// The counter a result goes to.
fn outcome_of<T>(result: &Result<T, TaskError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Completed,
        Err(TaskError::Panicked(_)) => Outcome::Panicked,
        Err(TaskError::TimedOut(_)) => Outcome::TimedOut,
        Err(_) => Outcome::Cancelled,
    }
}

/// The submitter's side of a task: wait for its value, cancel it, or check on it.
///
/// Every handle *settles*: with the task's value, or with a [`TaskError`] saying why not
/// (panicked, cancelled, timed out, shut down). Dropping a handle detaches the task: it still
/// runs, and its value is dropped.
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// let handles: Vec<_> = (1..=4u64)
///     .map(|n| pool.submit(move || n * n))
///     .collect::<Result<_, _>>()?;
/// let squares: Vec<u64> = handles
///     .into_iter()
///     .map(|h| h.join())
///     .collect::<Result<_, _>>()?;
/// assert_eq!(squares, [1, 4, 9, 16]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a dropped handle detaches its task: its value and any panic are lost"]
pub struct TaskHandle<T> {
    /// The task itself, shared with the queue or the worker running it: one allocation holds
    /// the closure and the slot its result goes to.
    pub(crate) task: std::sync::Arc<dyn HasSlot<T>>,
}

impl<T> TaskHandle<T> {
    /// Waits for the task and returns its value, or why there is none.
    ///
    /// # Errors
    /// [`TaskError::Panicked`], [`Cancelled`](TaskError::Cancelled),
    /// [`TimedOut`](TaskError::TimedOut), [`PoolShutDown`](TaskError::PoolShutDown), or
    /// [`WouldDeadlock`](TaskError::WouldDeadlock) when called on one of the same pool's
    /// workers for a task that has not settled yet.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// assert_eq!(pool.submit(|| "done")?.join()?, "done");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(mut self) -> Result<T, TaskError> {
        // Fast path: the result is in: take it with one load, no lock.
        if let Some(result) = self.slot().take_if_settled() {
            return result;
        }
        // Nobody else holds the task: it is over, and never will run if it has not settled.
        if let Some(task) = std::sync::Arc::get_mut(&mut self.task) {
            return task.slot_mut().take_result();
        }
        self.refuse_self_wait()?;
        self.slot().wait(None).unwrap_or(Err(TaskError::Cancelled))
    }

    fn slot(&self) -> &Slot<T> {
        self.task.slot()
    }

    /// Waits at most `limit` for the task. `Err(self)` hands the handle back if it has not
    /// settled by then, so the caller can wait again, cancel, or give up.
    ///
    /// Unlike [`join`](Self::join), it may be called on one of the same pool's workers: a wait
    /// with a limit cannot deadlock forever. It can still wait out its whole limit for a task
    /// that needs the very worker that waits (every worker of a one-thread pool), so keep the
    /// limit short there, or return the handle as a value and wait outside the pool.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit(|| 7)?;
    /// match handle.join_timeout(Duration::from_secs(10)) {
    ///     Ok(result) => assert_eq!(result?, 7),
    ///     Err(_still_running) => panic!("a tiny task took more than 10 s"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(self, limit: Duration) -> Result<Result<T, TaskError>, Self> {
        let until = Instant::now().checked_add(limit);
        match self.slot().wait(until) {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }

    /// Asks the task to stop. A queued task is settled as [`TaskError::Cancelled`] at once and
    /// never runs; a running one sees [`TaskContext::is_cancelled`] turn true, and its result
    /// is discarded. Cancelling a finished task does nothing.
    ///
    /// ```
    /// use shared::pool::{TaskError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit_with(|cx| {
    ///     while !cx.is_cancelled() {
    ///         std::hint::spin_loop(); // runs until cancelled
    ///     }
    /// })?;
    /// handle.cancel();
    /// assert_eq!(handle.join(), Err(TaskError::Cancelled));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) {
        self.slot().cancel();
    }

    /// Whether [`join`](Self::join) would return at once: the task has settled, or it has run
    /// past its timeout (`join` then returns [`TaskError::TimedOut`] without waiting).
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit(|| ())?;
    /// pool.join().unwrap(); // every task has run
    /// assert!(handle.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot().is_settled()
    }

    fn refuse_self_wait(&self) -> Result<(), TaskError> {
        let slot = self.slot();
        if super::current_pool_id() == Some(slot.pool_id) && !slot.is_settled() {
            Err(TaskError::WouldDeadlock)
        } else {
            Ok(())
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("finished", &self.is_finished())
            .field("cancel_requested", &self.slot().is_cancel_requested())
            .field("timeout", &self.slot().timeout)
            .finish()
    }
}

/// A fire-and-forget task ([`WorkerPool::execute`](super::WorkerPool::execute)).
pub(crate) struct Detached<F>(pub(crate) F);

impl<F> Job for Detached<F>
where
    F: FnOnce() + Send + 'static,
{
    fn run(self: Box<Self>, _cx: &mut TaskContext<'_>, done: &mut dyn FnMut(Outcome)) {
        let task = self.0;
        match panic::catch_unwind(AssertUnwindSafe(task)) {
            Ok(()) => done(Outcome::Completed),
            // The panic hook has already printed the message with the worker's name; nobody
            // holds a handle to hear more. Dropping the payload could itself panic, so it is
            // dropped under a second guard.
            Err(payload) => {
                drop_quietly(payload);
                done(Outcome::Panicked);
            }
        }
    }

    fn reject(self: Box<Self>) {}

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The error for a caught panic. The payload is dropped under a guard of its own: a payload
/// whose `Drop` panics must not take the worker down with it.
pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> TaskError {
    let message = crate::worker::panic_message(payload.as_ref());
    drop_quietly(payload);
    TaskError::Panicked(message)
}

/// Drops `value` under a guard: a panic in its `Drop` (or in the `Drop` of a panic payload
/// that value's panic left behind, and so on) is caught and discarded, after the panic hook
/// has printed it.
pub(crate) fn drop_quietly<V>(value: V) {
    quietly(move || drop(value));
}

/// Runs `f`, catching and discarding a panic (which the panic hook has printed). A payload
/// whose own `Drop` panics too is leaked rather than dropped, so nothing unwinds from here.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f))
        && let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)))
    {
        std::mem::forget(again);
    }
}

/// The body of a task with a handle: a plain closure, or one that takes the context.
pub(crate) trait Body<T>: Send + 'static {
    fn call(self, cx: &mut TaskContext<'_>) -> T;
}

/// A `FnOnce() -> T` from [`WorkerPool::submit`](super::WorkerPool::submit).
pub(crate) struct Plain<F>(pub(crate) F);

impl<F, T> Body<T> for Plain<F>
where
    F: FnOnce() -> T + Send + 'static,
{
    fn call(self, _cx: &mut TaskContext<'_>) -> T {
        (self.0)()
    }
}

/// A `FnOnce(&mut TaskContext) -> T` from
/// [`WorkerPool::submit_with`](super::WorkerPool::submit_with).
pub(crate) struct Contextual<F>(pub(crate) F);

impl<F, T> Body<T> for Contextual<F>
where
    F: FnOnce(&mut TaskContext<'_>) -> T + Send + 'static,
{
    fn call(self, cx: &mut TaskContext<'_>) -> T {
        (self.0)(cx)
    }
}

/// A queued task that is shared rather than owned: the queue (then the worker running it)
/// holds one reference, its [`TaskHandle`] the other.
pub(crate) trait SharedJob: Send + Sync {
    /// As [`Job::run`].
    fn run(self: std::sync::Arc<Self>, cx: &mut TaskContext<'_>, done: &mut dyn FnMut(Outcome));
    /// As [`Job::reject`].
    fn reject(&self);
    /// As [`Job::into_any`]; only for a task no handle refers to.
    fn into_any(self: std::sync::Arc<Self>) -> Box<dyn Any>;
}

/// What a [`TaskHandle`] needs of its task: the slot its result goes to.
pub(crate) trait HasSlot<T>: Send + Sync {
    fn slot(&self) -> &Slot<T>;
    fn slot_mut(&mut self) -> &mut Slot<T>;
}

/// A task with a handle: its body and its result slot in one allocation, shared by the queue
/// and the handle.
///
/// The body is taken exactly once, by the worker whose [`Slot::start`] moves the task from
/// queued to running; that compare-and-swap is what makes the body's `UnsafeCell` sound. A task that
/// never runs keeps its body until the last reference goes.
pub(crate) struct Task<B, T> {
    slot: Slot<T>,
    body: std::cell::UnsafeCell<Option<B>>,
}

// SAFETY: `&Task` is shared between the submitting thread (through the handle) and the worker
// that runs it. The slot is `Sync` by its own protocol (see `Slot`). The body is only reached
// through `&self` in `run`, by the one thread whose `Slot::start` won the QUEUED -> RUNNING
// compare-and-swap, which happens at most once per task; every other access (`into_any`,
// `Drop`) goes through a unique reference. Taking the body moves it to that thread: `B: Send`.
unsafe impl<B: Send, T: Send> Sync for Task<B, T> {}

impl<B, T> Task<B, T> {
    pub(crate) fn new(body: B, pool_id: usize, timeout: Option<Duration>) -> Self {
        Self {
            slot: Slot::new(pool_id, timeout),
            body: std::cell::UnsafeCell::new(Some(body)),
        }
    }
}

impl<B, T> HasSlot<T> for Task<B, T>
where
    B: Body<T>,
    T: Send + 'static,
{
    fn slot(&self) -> &Slot<T> {
        &self.slot
    }

    fn slot_mut(&mut self) -> &mut Slot<T> {
        &mut self.slot
    }
}

impl<B, T> SharedJob for Task<B, T>
where
    B: Body<T>,
    T: Send + 'static,
{
    fn run(self: std::sync::Arc<Self>, cx: &mut TaskContext<'_>, done: &mut dyn FnMut(Outcome)) {
        let slot = &self.slot;
        let timeout = slot.timeout;
        let started = timeout.map(|_| Instant::now());
        if !slot.start(started) {
            return done(Outcome::Cancelled); // cancelled while queued, and settled then
        }
        // SAFETY: `start` returned true, so this thread won the task's one QUEUED -> RUNNING
        // transition: no other thread takes or reads the body (see `Task`'s `Sync`).
        let body = unsafe { (*self.body.get()).take() };
        let Some(body) = body else {
            unreachable!("a task's body is taken once, by the worker that starts it")
        };
        // A timeout too long to represent is no limit at all.
        let deadline = started.zip(timeout).and_then(|(s, t)| s.checked_add(t));
        let mut task_cx = TaskContext {
            worker_index: cx.worker_index,
            pool_stopping: cx.pool_stopping,
            state: cx.state.as_deref_mut(),
            cancelled: Some(slot.cancel_flag()),
            deadline,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| body.call(&mut task_cx)));
        let overran = deadline.is_some_and(|d| Instant::now() >= d);
        let result = match result {
            Err(payload) => Err(panicked(payload)),
            Ok(_) if overran => Err(TaskError::TimedOut(timeout.unwrap_or_default())),
            Ok(_) if slot.is_cancel_requested() => Err(TaskError::Cancelled),
            Ok(value) => Ok(value),
        };
        slot.finish_started(result, done);
    }

    fn reject(&self) {
        self.slot.finish(Err(TaskError::PoolShutDown), &mut |_| {});
    }

    fn into_any(self: std::sync::Arc<Self>) -> Box<dyn Any> {
        let Ok(task) = std::sync::Arc::try_unwrap(self) else {
            unreachable!("a refused task has no handle yet")
        };
        let Some(body) = task.body.into_inner() else {
            unreachable!("a refused task never ran")
        };
        Box::new(body)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Small enough for Miri, which checks the one `unsafe` access in `Task::run` and the
    //! handle's lock-free fast path: `cargo +nightly miri test -p shared --lib pool::task`.
    use super::{HasSlot, WAITING};
    use crate::pool::{SubmitError, TaskError, WorkerPool};
    use crate::testing::{TIMEOUT, run_within};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Counts its drops, so a test can see a task's closure dropped exactly once.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn values_come_back_through_shared_tasks() {
        // Every wait of a test ends: a lost wake-up fails it instead of hanging it.
        run_within(TIMEOUT, "the test", move || {
            let pool = WorkerPool::new(2).unwrap();
            let handles: Vec<_> = (0..8u64)
                .map(|i| pool.submit(move || i * i).unwrap())
                .collect();
            let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49]);
        });
    }

    #[test]
    fn a_body_is_dropped_once_whether_it_ran_or_was_cancelled() {
        // Every wait of a test ends: a lost wake-up fails it instead of hanging it.
        run_within(TIMEOUT, "the test", move || {
            let drops = Arc::new(AtomicUsize::new(0));
            let pool = WorkerPool::new(1).unwrap();
            // Hold the only worker so that the next task stays queued until cancelled.
            let (release, held) = crossbeam_channel::bounded::<()>(0);
            let (started_tx, started) = crossbeam_channel::bounded(1);
            let blocker = pool
                .submit(move || {
                    started_tx.send(()).unwrap();
                    let _ = held.recv_timeout(Duration::from_secs(10));
                })
                .unwrap();
            started.recv_timeout(Duration::from_secs(10)).unwrap();
            let counted = Counted(Arc::clone(&drops));
            let cancelled = pool.submit(move || drop(counted)).unwrap();
            cancelled.cancel();
            let counted = Counted(Arc::clone(&drops));
            let ran = pool.submit(move || drop(counted)).unwrap();
            drop(release);
            blocker.join().unwrap();
            assert_eq!(cancelled.join(), Err(TaskError::Cancelled));
            ran.join().unwrap();
            pool.join().unwrap();
            assert_eq!(
                drops.load(Ordering::SeqCst),
                2,
                "each closure dropped exactly once"
            );
        });
    }

    /// Waits (under a deadline) until the handle's waiter has marked itself asleep.
    fn until_a_waiter_sleeps<T: Send + 'static>(task: &Arc<dyn HasSlot<T>>) {
        let deadline = Instant::now() + TIMEOUT;
        while task.slot().stage.load(Ordering::Acquire) & WAITING == 0 {
            assert!(Instant::now() < deadline, "the waiter never went to sleep");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_sleeping_waiter_is_woken_by_the_result() {
        let pool = WorkerPool::new(1).unwrap();
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        let handle = pool
            .submit(move || gate.recv_timeout(TIMEOUT).map(|()| 5))
            .unwrap();
        let task = Arc::clone(&handle.task);
        // The task finishes only once the waiter below is asleep: the notifying path runs.
        let releaser = std::thread::spawn(move || {
            until_a_waiter_sleeps(&task);
            release.send(()).unwrap();
        });
        let joined = run_within(TIMEOUT, "the sleeping waiter's join", move || handle.join());
        assert_eq!(joined, Ok(Ok(5)));
        releaser.join().unwrap();
    }

    #[test]
    fn a_sleeping_waiter_settles_a_task_that_overran_its_timeout() {
        let pool = WorkerPool::new(1).unwrap();
        let limit = Duration::from_millis(1);
        let (stopped_tx, stopped) = crossbeam_channel::bounded(1);
        let handle = pool
            .submit_with_timeout(limit, move |cx| {
                while !cx.is_cancelled() {
                    std::thread::yield_now();
                }
                stopped_tx.send(()).unwrap();
                7
            })
            .unwrap();
        let joined = run_within(TIMEOUT, "the timed-out task's join", move || handle.join());
        assert_eq!(joined, Err(TaskError::TimedOut(limit)));
        // The task was told to stop, and its late value is dropped, not delivered.
        stopped.recv_timeout(TIMEOUT).unwrap();
        let metrics = run_within(TIMEOUT, "the pool's join", move || {
            pool.join().unwrap();
            pool.metrics()
        });
        assert_eq!(metrics.timed_out, 1);
    }

    #[test]
    fn a_refused_submission_hands_the_closure_back() {
        let pool = WorkerPool::new(1).unwrap();
        pool.close();
        match pool.submit(|| 7) {
            Err(SubmitError::Closed(task)) => assert_eq!(task(), 7),
            other => panic!("expected Closed, got {other:?}"),
        }
    }

    #[test]
    fn a_panic_settles_the_handle_and_the_pool_goes_on() {
        // Every wait of a test ends: a lost wake-up fails it instead of hanging it.
        run_within(TIMEOUT, "the test", move || {
            let pool = WorkerPool::new(1).unwrap();
            let failed = pool.submit(|| -> u32 { panic!("task failed") }).unwrap();
            let next = pool.submit(|| 5).unwrap();
            assert_eq!(
                failed.join(),
                Err(TaskError::Panicked("task failed".into()))
            );
            assert_eq!(next.join(), Ok(5));
        });
    }
}
