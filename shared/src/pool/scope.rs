//! Scoped tasks: pool tasks that borrow the caller's data, like `std::thread::scope` but
//! without starting a thread per task.
//!
//! [`WorkerPool::scope`](super::WorkerPool::scope) does not return before every task spawned
//! in it has finished or been dropped, even when the scope's body panics. That promise is what
//! makes borrowing sound, and it is kept by one [`Latch`] per scope.

use super::task::{Job, Outcome, TaskContext};
use super::{Admission, JobRef, Priority, Refusal, WorkerPool, current_pool_id};
use crate::sync::{self, Arc, AtomicBool, AtomicUsize, Condvar, Mutex};
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

/// Counts a scope's unfinished tasks; the scope waits until the count is zero.
///
/// Increments and decrements are plain atomics, so the workers finishing a scope's tasks
/// never contend on a lock; only the task that brings the count to zero takes the mutex, to
/// wake the waiting scope. It notifies *under* the mutex, and the scope checks the count under
/// the same mutex before it sleeps, so the wake-up cannot be lost (see the loom models).
#[derive(Debug, Default)]
pub(crate) struct Latch {
    pending: AtomicUsize,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Latch {
    pub(crate) fn increment(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn decrement(&self) {
        // AcqRel: the task's writes (into borrowed data) happen-before the waiter's return.
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _guard = sync::lock(&self.lock);
            self.zero.notify_all();
        }
    }

    pub(crate) fn wait(&self) {
        let mut guard = sync::lock(&self.lock);
        while self.pending.load(Ordering::Acquire) != 0 {
            guard = self
                .zero
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// What a scope's tasks report back to it.
#[derive(Default)]
struct ScopeState {
    latch: Latch,
    /// The first panic of a task, re-raised when the scope ends.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// A task was dropped from the queue by `shutdown_now`, or could not be queued.
    rejected: AtomicBool,
}

/// A scope in which pool tasks may borrow anything that outlives it. Made by
/// [`WorkerPool::scope`](super::WorkerPool::scope).
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// let mut squares = vec![0u64; 8];
/// pool.scope(|s| {
///     for (i, out) in squares.iter_mut().enumerate() {
///         s.spawn(move || *out = (i as u64) * (i as u64));
///     }
/// });
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope WorkerPool,
    state: Arc<ScopeState>,
    /// Called on one of this pool's own workers: run tasks inline instead of queueing them,
    /// since a worker blocked on its own queue can deadlock the pool.
    inline: bool,
    // Invariant in both lifetimes, as in `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `task` on the pool. It may borrow anything that outlives the scope; the scope
    /// waits for it. A panic in the task is re-raised by `scope` once every task has ended.
    ///
    /// Blocks while the pool's queue is full.
    ///
    /// # Panics
    /// If the pool is closed: a scope needs a pool that still takes work.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let data: Vec<u64> = (1..=100).collect();
    /// let total = AtomicU64::new(0);
    /// pool.scope(|s| {
    ///     for chunk in data.chunks(25) {
    ///         let total = &total;
    ///         s.spawn(move || {
    ///             total.fetch_add(chunk.iter().sum::<u64>(), Ordering::Relaxed);
    ///         });
    ///     }
    /// });
    /// assert_eq!(total.into_inner(), 5050);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<F>(&'scope self, task: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        if !self.spawn_or_reject(task) {
            panic!("WorkerPool::scope: the pool is closed and takes no new tasks");
        }
    }

    /// Like [`spawn`](Self::spawn), but a closed pool is recorded as a rejection instead of a
    /// panic. Returns whether the task was accepted.
    pub(crate) fn spawn_or_reject<F>(&'scope self, task: F) -> bool
    where
        F: FnOnce() + Send + 'scope,
    {
        self.spawn_counted(move || {
            task();
            false
        })
    }

    /// Like [`spawn_or_reject`](Self::spawn_or_reject), for a task that catches its own
    /// panic (as `map` does, to keep each item's error) and returns whether it caught one, so
    /// that the pool counts it as panicked like any other.
    pub(crate) fn spawn_counted<F>(&'scope self, task: F) -> bool
    where
        F: FnOnce() -> bool + Send + 'scope,
    {
        if self.inline {
            if self.pool.is_closed() {
                self.state.rejected.store(true, Ordering::Relaxed);
                return false;
            }
            run_caught(&self.state, Box::new(task));
            return true;
        }
        self.state.latch.increment();
        let task: Box<dyn FnOnce() -> bool + Send + 'scope> = Box::new(task);
        // SAFETY: the closure may borrow data that lives for `'scope` only, while the queue
        // needs `'static`. Erasing the lifetime is sound because the closure cannot outlive
        // `'scope`: it is run or dropped by `ScopedJob`, which decrements the latch only
        // after that, and `WorkerPool::scope` waits for the latch to reach zero before it
        // returns or unwinds, so before `'scope` ends. A task that is refused is handed back
        // and dropped right here, inside the scope.
        let task: Box<dyn FnOnce() -> bool + Send + 'static> = unsafe { std::mem::transmute(task) };
        let job = Box::new(ScopedJob {
            task: Some(task),
            state: Arc::clone(&self.state),
        });
        match self
            .pool
            .enqueue(JobRef::Owned(job), Admission::Block, Priority::Normal)
        {
            Ok(()) => true,
            Err((job, Refusal::Closed | Refusal::Full | Refusal::Timeout(_))) => {
                // Dropping it runs the job's Drop: the task is dropped and the latch released.
                drop(job);
                self.state.rejected.store(true, Ordering::Relaxed);
                false
            }
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("pending", &self.state.latch.pending.load(Ordering::Relaxed))
            .field("inline", &self.inline)
            .finish_non_exhaustive()
    }
}

impl WorkerPool {
    /// Runs `body` with a [`Scope`] whose tasks may borrow the caller's data, and returns
    /// once every task spawned in it has finished: the pool form of `std::thread::scope`.
    ///
    /// If `body` or any task panics, the first panic is re-raised here after every task has
    /// ended. Called from one of this pool's own workers (a nested scope), the tasks run
    /// inline on that worker, one after another, in the order spawned: a worker that waited
    /// on its own pool could deadlock it, so a nested scope gains no parallelism. Give the
    /// outer level the parallel work, or split it before submitting.
    ///
    /// # Panics
    /// As described above, and if the pool is closed, or is shut down while scoped tasks are
    /// still queued.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let words = ["worker", "threads", "in", "rust"];
    /// let mut lengths = [0; 4];
    /// pool.scope(|s| {
    ///     for (word, len) in words.iter().zip(&mut lengths) {
    ///         s.spawn(move || *len = word.len());
    ///     }
    /// });
    /// assert_eq!(lengths, [6, 7, 2, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scope<'env, F, R>(&self, body: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let (result, rejected) = self.scope_inner(body);
        assert!(
            !rejected,
            "WorkerPool::scope: the pool was shut down while scoped tasks were queued"
        );
        result
    }

    /// The scope, reporting rejected tasks instead of panicking on them.
    pub(crate) fn scope_inner<'env, F, R>(&self, body: F) -> (R, bool)
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            pool: self,
            state: Arc::new(ScopeState::default()),
            inline: current_pool_id() == Some(self.shared.id),
            scope: PhantomData,
            env: PhantomData,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
        // The promise that makes borrowing sound: nothing spawned outlives this line.
        scope.state.latch.wait();
        let task_panic = sync::lock(&scope.state.panic).take();
        match (result, task_panic) {
            (Err(payload), _) | (Ok(_), Some(payload)) => panic::resume_unwind(payload),
            (Ok(result), None) => (result, scope.state.rejected.load(Ordering::Relaxed)),
        }
    }
}

/// Runs a scoped task, keeping its first panic for the scope; returns whether it panicked
/// (or caught a panic of its own and said so).
fn run_caught(state: &ScopeState, task: Box<dyn FnOnce() -> bool + Send + '_>) -> bool {
    match panic::catch_unwind(AssertUnwindSafe(task)) {
        Ok(failed) => failed,
        Err(payload) => {
            let mut first = sync::lock(&state.panic);
            if first.is_none() {
                *first = Some(payload);
            }
            true
        }
    }
}

/// A scoped task in the queue. Releases its scope's latch exactly once: after running, or
/// when dropped unrun.
struct ScopedJob {
    task: Option<Box<dyn FnOnce() -> bool + Send + 'static>>,
    state: Arc<ScopeState>,
}

impl Job for ScopedJob {
    fn run(mut self: Box<Self>, _cx: &mut TaskContext<'_>, done: &mut dyn FnMut(Outcome)) {
        let panicked = self
            .task
            .take()
            .is_some_and(|task| run_caught(&self.state, task));
        done(if panicked {
            Outcome::Panicked
        } else {
            Outcome::Completed
        });
        // `self` drops here, releasing the latch after the task has run and been dropped.
    }

    fn reject(self: Box<Self>) {
        self.state.rejected.store(true, Ordering::Relaxed);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Drop for ScopedJob {
    fn drop(&mut self) {
        // Drop an unrun task first: its captures may borrow the scope's data. A capture whose
        // `Drop` panics is the scope's panic (re-raised when the scope returns), and must not
        // skip the release below, or the scope would wait forever.
        if let Some(task) = self.task.take() {
            run_caught(
                &self.state,
                Box::new(move || {
                    drop(task);
                    false
                }),
            );
        }
        self.state.latch.decrement();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Small enough for Miri, which checks the lifetime erasure in `spawn_or_reject`:
    //! `cargo +nightly miri test -p shared --lib pool::scope`.
    use crate::pool::WorkerPool;
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn tasks_write_into_borrowed_data_before_scope_returns() {
        let pool = WorkerPool::new(2).unwrap();
        let mut data = vec![0u32; 6];
        pool.scope(|s| {
            for (i, chunk) in data.chunks_mut(2).enumerate() {
                s.spawn(move || chunk.fill(i as u32 + 1));
            }
        });
        assert_eq!(data, [1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn a_panicking_task_is_re_raised_after_the_others_finish() {
        let pool = WorkerPool::new(2).unwrap();
        let finished = AtomicUsize::new(0);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(|| panic!("scoped task failed"));
                for _ in 0..3 {
                    s.spawn(|| {
                        finished.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        }));
        assert!(outcome.is_err());
        assert_eq!(finished.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn tasks_dropped_by_shutdown_release_their_borrows_before_scope_returns() {
        let pool = WorkerPool::builder().threads(1).build().unwrap();
        let text = String::from("borrowed");
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started_rx) = crossbeam_channel::bounded::<()>(1);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(move || {
                    started_tx.send(()).unwrap();
                    let _ = release_rx.recv_timeout(crate::testing::TIMEOUT);
                });
                let text = &text;
                s.spawn(move || assert_eq!(text, "borrowed")); // queued behind the first
                started_rx.recv_timeout(crate::testing::TIMEOUT).unwrap();
                assert_eq!(pool.shutdown_now(), 1);
                drop(release_tx);
            })
        }));
        let message = outcome.unwrap_err();
        let message = crate::testing::panic_message(message.as_ref());
        assert!(message.contains("shut down"), "{message}");
        assert_eq!(text, "borrowed");
    }

    #[test]
    fn a_refused_task_whose_capture_panics_as_it_drops_still_releases_the_scope() {
        struct PanicsOnDrop<'a>(&'a str);
        impl Drop for PanicsOnDrop<'_> {
            fn drop(&mut self) {
                panic!("dropping a capture that borrows {:?}", self.0);
            }
        }
        let pool = WorkerPool::new(1).unwrap();
        let text = String::from("borrowed");
        let (release, held) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(move || {
                    started_tx.send(()).unwrap();
                    let _ = held.recv_timeout(crate::testing::TIMEOUT);
                });
                let capture = PanicsOnDrop(&text);
                s.spawn(move || drop(capture)); // queued, then dropped unrun by the shutdown
                started.recv_timeout(crate::testing::TIMEOUT).unwrap();
                pool.shutdown_now();
                drop(release);
            })
        }));
        assert!(outcome.is_err(), "the scope re-raises instead of hanging");
        assert_eq!(text, "borrowed");
    }
}
