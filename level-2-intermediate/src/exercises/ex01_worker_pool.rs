//! # Exercise l2-ex01: worker pool
//!
//! **Goal.** Build a pool of N worker threads that take tasks from one shared queue: the Rust
//! version of the Node course's hand-built `WorkerPool(script, size)` with its `execute(data)`
//! promise, `getStats()` and `terminate()`. Here a task is any closure; `execute` queues it and
//! returns a [`TaskHandle`] that always settles, with the value or a [`TaskError`]; a task
//! that panics costs only itself (the Node pool marked a crashed worker idle and handed it the
//! next task, which then never settled); `shutdown` lets the queued tasks finish, then waits
//! for every thread (the Node pool polled every 100 ms until no worker was busy). Build it
//! yourself: `shared::WorkerPool` is the finished product, not a part.
//!
//! **Check your attempt:** `cargo exercise check l2-ex01`
//!
//! **What the tests expect**
//! - `WorkerPool::new(n)` starts `n` threads named `pool-worker-0` to `pool-worker-{n-1}`;
//!   `new(0)` is [`BuildError::NoWorkers`].
//! - 20 tasks `fib(20..=39)`: each handle gives `fib(n)` for its own `n`, joined in submission
//!   order, even when a later task finishes first. Once every result is in,
//!   [`WorkerPool::stats`] (a task is counted before its result is sent) and then
//!   [`WorkerPool::shutdown`] report 20 completed, 0 panicked, and per-worker counts (one per
//!   thread) that add up to 20.
//! - Never more than `n` tasks at once, and `n` really do run at once, each on its own thread
//!   and none on the caller's: a pool that runs its tasks one after another fails.
//! - A task that panics settles as `Err(TaskError::Panicked(message))`; the tasks after it
//!   still complete, and all `n` workers are still alive to run them.
//! - Every task gets its own id, even when several threads submit at once (the Node pool's
//!   `Date.now()` ids collide).
//! - `shutdown` runs every task it accepted before closing, then returns only once every
//!   worker thread has ended, in a second caller too; dropping the pool does the same.
//!   `execute` after it is `Err(Closed(task))`, with the task handed back untouched: nothing is
//!   lost silently.
//!
//! **Hints:** `cargo exercise hint l2-ex01` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use thiserror::Error;

/// Why a pool could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A pool of zero workers would accept tasks and never run them.
    #[error("a pool needs at least one worker")]
    NoWorkers,
    /// The operating system refused a thread.
    #[error("could not spawn worker {index}")]
    Spawn {
        /// Which worker could not be started.
        index: usize,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

/// Why a task's handle settled without a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    /// The task panicked with this message. The worker caught it and went on.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// [`TaskHandle::join_timeout`] waited this long and the task had not finished. The task
    /// may still run; its result is then thrown away.
    #[error("no result within {0:?}")]
    Timeout(Duration),
    /// The job was dropped without sending a result: the pool lost it (a bug, in a pool).
    #[error("the task was lost before it sent a result")]
    Lost,
}

/// A task the pool refused because it is shut down, handed back untouched: run it elsewhere,
/// or drop it knowingly.
#[derive(PartialEq, Eq, Error)]
#[error("the pool is shut down and takes no new tasks")]
pub struct Closed<F>(pub F);

// By hand: a closure has no `Debug`, and the error should print whatever the task is.
impl<F> fmt::Debug for Closed<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

/// The pool's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// How many tasks (completed or panicked) each worker ran, by worker index.
    pub per_worker: Vec<u64>,
}

/// The result of one task, to be collected once.
#[derive(Debug)]
pub struct TaskHandle<T> {
    id: u64,
    result: Receiver<Result<T, TaskError>>,
}

impl<T> TaskHandle<T> {
    /// This task's id: unique within its pool.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits for the task's result, however long the task takes.
    ///
    /// # Errors
    /// [`TaskError::Panicked`] if the task panicked, [`TaskError::Lost`] if the pool dropped
    /// it without running it.
    pub fn join(self) -> Result<T, TaskError> {
        // The job's sender is dropped without a message only if the job was lost.
        self.result.recv().unwrap_or(Err(TaskError::Lost))
    }

    /// Waits at most `timeout` for the task's result.
    ///
    /// # Errors
    /// As [`join`](Self::join), and [`TaskError::Timeout`] if the task has not finished in
    /// time.
    pub fn join_timeout(self, timeout: Duration) -> Result<T, TaskError> {
        match self.result.recv_timeout(timeout) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => Err(TaskError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(TaskError::Lost),
        }
    }
}

/// A task as the queue carries it: the caller's closure, wrapped so that it catches its own
/// panic, counts itself and sends its result. The worker that runs it passes its own index.
type Job = Box<dyn FnOnce(usize) + Send + 'static>;

/// The counts, shared by the pool and every job. Atomics: every worker writes them at once.
#[derive(Debug)]
struct Counters {
    completed: AtomicU64,
    panicked: AtomicU64,
    per_worker: Vec<AtomicU64>,
}

impl Counters {
    fn new(workers: usize) -> Self {
        Counters {
            completed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            per_worker: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one finished task, before its result is sent: whoever has the result also sees
    /// it counted.
    fn record(&self, worker: usize, completed: bool) {
        // Relaxed: each count is read on its own, and the result's channel (or `join` in
        // `shutdown`) orders these writes before any read that must see them.
        let outcome = if completed {
            &self.completed
        } else {
            &self.panicked
        };
        outcome.fetch_add(1, Ordering::Relaxed);
        self.per_worker[worker].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> PoolStats {
        PoolStats {
            completed: self.completed.load(Ordering::Relaxed),
            panicked: self.panicked.load(Ordering::Relaxed),
            per_worker: self
                .per_worker
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// A fixed number of worker threads fed from one queue.
///
/// Every method takes `&self`, so the pool can be shared between threads (by reference or in
/// an `Arc`). Dropping it shuts it down as [`shutdown`](Self::shutdown) does.
#[derive(Debug)]
pub struct WorkerPool {
    /// The queue's only sender. `None` once the pool is shut down.
    queue: Mutex<Option<Sender<Job>>>,
    /// The worker threads, until `shutdown` joins them.
    workers: Mutex<Vec<JoinHandle<()>>>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
}

impl WorkerPool {
    /// Starts a pool of `workers` threads, named `pool-worker-0`, `pool-worker-1`, ...
    ///
    /// # Errors
    /// [`BuildError::NoWorkers`] for 0; [`BuildError::Spawn`] if a thread cannot be started
    /// (the workers already started are then shut down).
    pub fn new(workers: usize) -> Result<Self, BuildError> {
        // TODO: refuse 0 workers with `BuildError::NoWorkers`.
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();

        // TODO: spawn `workers` threads named `pool-worker-{index}`. Each moves in a clone of
        // `jobs` and runs every job it receives, passing its own index, until the queue is
        // closed and empty. If a spawn fails: drop `queue`, join the workers already started,
        // and return `BuildError::Spawn { index, source }`.
        let handles: Vec<JoinHandle<()>> =
            todo!("l2-ex01: start `workers` threads that run the jobs of one shared queue");

        Ok(WorkerPool {
            queue: Mutex::new(Some(queue)),
            workers: Mutex::new(handles),
            counters: Arc::new(Counters::new(workers)),
            next_id: AtomicU64::new(0),
        })
    }

    /// Queues `task` and returns the handle of its result. Never waits for the task.
    ///
    /// # Errors
    /// [`Closed`] with the task in it if the pool is shut down.
    pub fn execute<F, T>(&self, task: F) -> Result<TaskHandle<T>, Closed<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // Held while sending, so `shutdown` cannot close the queue between the check and the
        // send: a task is either refused here or certain to run.
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        // TODO: `queue` holds `None` once the pool is shut down: then hand the task back in
        // `Err(Closed(task))`.
        let queue: &Sender<Job> =
            todo!("l2-ex01: return Err(Closed(task)) if the pool is shut down");

        // Relaxed: the counter only has to hand out each number once, which `fetch_add` does.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // One slot: the job sends exactly one message, and never waits to do it.
        let (result_tx, result) = crossbeam_channel::bounded(1);
        let counters = Arc::clone(&self.counters);
        let job: Job = Box::new(move |worker| {
            let outcome = run_task(task);
            counters.record(worker, outcome.is_ok());
            // The caller may have dropped the handle: then nobody wants the result.
            let _ = result_tx.send(outcome);
        });
        // TODO: send the job to the queue (if every worker is gone, the job is dropped and the
        // handle settles as `TaskError::Lost`), then return the task's handle.
        todo!("l2-ex01: send the job to the queue and return its TaskHandle")
    }

    /// The counts so far. A task is counted before its result reaches its handle.
    pub fn stats(&self) -> PoolStats {
        self.counters.snapshot()
    }

    /// Closes the queue, lets every task already accepted run, waits for every worker thread
    /// to end, and returns the final counts. Calling it again only returns the counts.
    pub fn shutdown(&self) -> PoolStats {
        // TODO: take the sender out of `self.queue` and drop it. That closes the queue:
        // `execute` refuses from now on, and each worker leaves its loop once the queue is
        // empty.
        todo!("l2-ex01: close the queue by dropping its only sender");
        // TODO: join every worker in `self.workers`, draining the `Vec` while holding its
        // lock, so that a second caller also returns only once every worker has ended.
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        todo!("l2-ex01: join every worker thread");
        self.stats()
    }
}

/// Runs `task` on the calling thread: `Ok` with its value, or `Err(TaskError::Panicked)` with
/// the message of its panic. The panic stops here: the worker that calls this lives on.
fn run_task<T>(task: impl FnOnce() -> T) -> Result<T, TaskError> {
    // `AssertUnwindSafe`: the pool looks at nothing the task touched, only at the outcome. A
    // lock the task shared with others is poisoned by its panic, which warns them.
    // TODO: run the task under `catch_unwind`; turn a panic's payload into
    // `TaskError::Panicked` with `panic_message`.
    todo!("l2-ex01: run the task, catching its panic as TaskError::Panicked")
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The message of a panic payload, as `catch_unwind` hands it back: `panic!("literal")`
/// carries a `&str`, `panic!("{x}")` a `String`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
