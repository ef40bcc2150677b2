//! [`WorkerPool`]: a pool of worker threads that run submitted tasks, the Rust counterpart of
//! piscina and of the hand-built pools of the Node.js course.
//!
//! What it promises, and where each promise is kept:
//!
//! | promise | kept by |
//! |---|---|
//! | every [`TaskHandle`] settles: a value, or a [`TaskError`] saying why not | `task.rs`: `Slot` |
//! | a panicking task costs only itself: the worker, the pool and the counts survive | `catch_unwind` around every task |
//! | so does a panic in user code the pool calls outside a task: the drop of a result nobody waits for or of a discarded closure, a hook, the `worker_state` factory, `thread_name` | guards in `crew.rs`, `scope.rs` and `Shared::reject`; a factory or name that fails is a [`BuildError`] at `build` |
//! | a worker that dies anyway (a fault outside any task) is replaced and counted | `crew.rs`: the exit guard; [`PoolMetrics::workers_replaced`] |
//! | `join` never returns `Ok` with an accepted task left unrun, and every caller of `join` waits | [`JoinError::WorkersLost`]; a lock held for the whole join |
//! | the queue is bounded: `submit` waits, `try_submit` hands the task back | a bounded crossbeam channel per [`Priority`] lane; a waiting submitter is woken once its lane has drained to half (`room.rs`) |
//! | a queued task is taken by priority, first in first out within one, and no lane starves | `lanes.rs`: a share of each worker's turns for the lower lanes |
//! | no accepted task is lost or run twice at close or drop | the submission gate and the exit rule in `crew.rs` |
//! | a timeout counts from the moment a task starts, not from when it was queued | [`TaskContext`] and `Slot` |
//! | waiting on your own pool from inside it (an unbounded `join`, a blocking submit into a full queue) is refused, never a deadlock | a thread-local pool id |
//! | `shutdown_now` rejects the queued tasks and tells the running ones to stop | [`WorkerPool::shutdown_now`] |
//!
//! A tour in one example:
//!
//! ```
//! use shared::pool::{TaskError, WorkerPool};
//! use shared::workload::fib;
//!
//! let pool = WorkerPool::new(2)?;
//!
//! // Submit work and get a handle that always settles.
//! let handle = pool.submit(|| fib(20))?;
//! assert_eq!(handle.join()?, 6_765);
//!
//! // A panic is that task's error, not the pool's end.
//! let bad = pool.submit(|| -> u64 { panic!("no input") })?;
//! assert_eq!(bad.join(), Err(TaskError::Panicked("no input".into())));
//!
//! // A batch, results in input order.
//! assert_eq!(pool.map(10..15, fib)?, [55, 89, 144, 233, 377]);
//!
//! // Close, wait for every thread, and read the counts.
//! pool.join().unwrap();
//! let metrics = pool.metrics();
//! assert_eq!((metrics.completed, metrics.panicked), (6, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it does not do: stop a running task by force. Rust cannot kill a thread; a task stops
//! early only if it checks its [`TaskContext`]. Work that must be killable belongs in a child
//! process.

mod builder;
pub(crate) mod crew;
mod error;
#[cfg(all(test, not(loom)))]
mod fault_tests;
pub mod histogram;
mod inline;
mod lanes;
#[cfg(all(test, loom))]
mod loom_tests;
mod metrics;
mod priority;
mod room;
mod scope;
pub(crate) mod task;

pub use builder::{DEFAULT_KEEP_ALIVE, DEFAULT_QUEUE_CAPACITY, PoolBuilder};
pub use error::{BuildError, JoinError, SubmitError, TaskError};
pub use histogram::LatencySummary;
pub use metrics::{PoolMetrics, SAMPLE_ALL_FIRST, SAMPLE_EVERY};
pub use priority::{Prioritized, Priority};
pub use scope::Scope;
pub use task::{TaskContext, TaskHandle};

use crew::Crew;
pub(crate) use crew::current_pool_id;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use crossbeam_utils::CachePadded;
use metrics::Metrics;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use task::{Detached, Job, SharedJob, Task};

/// A job in the queue, with its enqueue time if it was picked for timing.
pub(crate) struct Queued {
    job: JobRef,
    enqueued: Option<Instant>,
}

/// A queued job: owned by the queue (fire-and-forget and scoped tasks), or shared with its
/// handle (a submitted task: its closure and result slot are one allocation).
pub(crate) enum JobRef {
    /// A fire-and-forget closure of at most a few words, in the slot itself (see `inline`).
    Inline(inline::InlineJob),
    Owned(Box<dyn Job>),
    Shared(std::sync::Arc<dyn SharedJob>),
}

impl JobRef {
    /// A fire-and-forget task: inline if it is small enough, boxed otherwise.
    fn detached<F: FnOnce() + Send + 'static>(task: F) -> Self {
        match inline::InlineJob::new(task) {
            Ok(job) => Self::Inline(job),
            Err(task) => Self::Owned(Box::new(Detached(task))),
        }
    }

    pub(crate) fn run(self, cx: &mut TaskContext<'_>, done: &mut dyn FnMut(task::Outcome)) {
        match self {
            Self::Inline(job) => job.run(done),
            Self::Owned(job) => job.run(cx, done),
            Self::Shared(job) => job.run(cx, done),
        }
    }

    fn reject(self) {
        match self {
            Self::Inline(job) => drop(job),
            Self::Owned(job) => job.reject(),
            Self::Shared(job) => job.reject(),
        }
    }

    fn into_any(self) -> Box<dyn std::any::Any> {
        match self {
            Self::Inline(job) => job.into_any(),
            Self::Owned(job) => job.into_any(),
            Self::Shared(job) => job.into_any(),
        }
    }
}

/// How long a blocked submission holds the gate before letting a `close` through, then
/// trying again.
const GATE_SLICE: Duration = Duration::from_millis(5);

/// A pool of worker threads that run submitted tasks.
///
/// Make one with [`WorkerPool::new`] (a fixed number of threads) or [`WorkerPool::builder`]
/// (elastic sizing, names, stack size, hooks, per-worker state, queue capacity). Share it by
/// reference, or in an `Arc` across threads: every method takes `&self`.
///
/// Dropping the pool closes it and waits for every thread to end, after the queued tasks have
/// run. A task that never returns therefore keeps `drop` waiting: give long tasks a way to
/// stop ([`TaskContext::is_cancelled`]) and call [`shutdown_now`](Self::shutdown_now) first.
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let pool = WorkerPool::new(2)?;
/// let handles: Vec<_> = (0..4u64).map(|n| pool.submit(move || n * 10)).collect::<Result<_, _>>()?;
/// let values: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(values, [0, 10, 20, 30]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WorkerPool {
    shared: Arc<Shared>,
}

/// Everything the pool's threads share.
pub(crate) struct Shared {
    /// Unique per pool: how a worker recognises its own pool.
    pub(crate) id: usize,
    /// The queue: a lane per [`Priority`] (see `lanes`).
    pub(crate) lanes: lanes::Lanes,
    /// Open while `true`. A submission holds a read lock across its `send`, so `close`, which
    /// takes the write lock, knows that no submission is still in flight once it has it.
    ///
    /// On a cache line of its own: every submission writes it, and the workers read the
    /// flags next to it on every task.
    gate: CachePadded<RwLock<bool>>,
    /// Set once the gate is shut; read by workers deciding whether an empty queue means "done".
    pub(crate) closed: AtomicBool,
    /// Set by `shutdown_now`: workers take no more jobs, running tasks see `is_cancelled`.
    pub(crate) stopping: AtomicBool,
    /// Set while one worker spins on the empty queue before sleeping (see `crew`): the
    /// others go to sleep at once instead of spinning too.
    pub(crate) searching: CachePadded<AtomicBool>,
    /// Never carries a message: dropping the sender wakes every worker blocked on the queue.
    wake_tx: Mutex<Option<Sender<()>>>,
    pub(crate) wake_rx: Receiver<()>,
    pub(crate) crew: Crew,
    pub(crate) config: builder::Config,
    /// Handles of the threads started and not yet joined.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held for the whole of a `join`, so that a second caller waits for the first to finish
    /// joining instead of finding the handles already taken and returning early.
    joining: Mutex<()>,
    /// Why the pool lost its workers, once every worker has ended with accepted tasks still
    /// queued and no new one could start; `join` reports it.
    lost: Mutex<Option<String>>,
    /// Accepted tasks settled without running because the workers were lost.
    not_run: AtomicUsize,
    /// Test only: the next worker to look at this dies outside any task, as a pool bug would.
    #[cfg(test)]
    pub(crate) die_next: AtomicBool,
    /// Test only: where a test holds a retiring worker (see `crew::RetirePause`).
    #[cfg(all(test, not(loom)))]
    pub(crate) retire_pause: crew::RetirePause,
    /// The index the next worker gets.
    next_index: AtomicUsize,
    pub(crate) metrics: Metrics,
}

/// How a submission treats a full queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admission {
    Block,
    Try,
    Wait(Duration),
}

/// Why a submission was refused.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    Full,
    Timeout(Duration),
    Closed,
}

static NEXT_POOL_ID: AtomicUsize = AtomicUsize::new(1);

impl WorkerPool {
    /// A pool of `threads` worker threads with the default settings (see [`PoolBuilder`]).
    ///
    /// # Errors
    /// If `threads` is 0, or the operating system refuses to start a thread.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let cores = std::thread::available_parallelism()?.get();
    /// let pool = WorkerPool::new(cores)?;
    /// assert_eq!(pool.metrics().threads, cores);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(threads: usize) -> Result<Self, BuildError> {
        Self::builder().threads(threads).build()
    }

    /// A [`PoolBuilder`] for every other setting.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::builder()
    ///     .min_threads(1)
    ///     .max_threads(4)
    ///     .keep_alive(Duration::from_secs(5))
    ///     .thread_name(|i| format!("crunch-{i}"))
    ///     .queue_capacity(256)
    ///     .build()?;
    /// assert_eq!(pool.capacity(), Some(256));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    pub(crate) fn start(config: builder::Config) -> Result<Self, BuildError> {
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(0);
        let pool = Self {
            shared: Arc::new(Shared {
                id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
                lanes: lanes::Lanes::new(config.queue_capacity),
                gate: CachePadded::new(RwLock::new(true)),
                closed: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                searching: CachePadded::new(AtomicBool::new(false)),
                wake_tx: Mutex::new(Some(wake_tx)),
                wake_rx,
                crew: Crew::new(config.min_threads, config.max_threads),
                config,
                threads: Mutex::new(Vec::new()),
                joining: Mutex::new(()),
                lost: Mutex::new(None),
                not_run: AtomicUsize::new(0),
                #[cfg(test)]
                die_next: AtomicBool::new(false),
                #[cfg(all(test, not(loom)))]
                retire_pause: crew::RetirePause::default(),
                next_index: AtomicUsize::new(0),
                metrics: Metrics::new(),
            }),
        };
        // With a `worker_state` factory, `build` waits until each first worker has made its
        // state, so that a factory that panics is a `BuildError`, not a pool without workers.
        let (ready_tx, ready) = crossbeam_channel::unbounded();
        let mut ready_tx = pool
            .shared
            .config
            .worker_state
            .is_some()
            .then_some(ready_tx);
        let mut started = 0;
        for _ in 0..pool.shared.crew.min {
            if !pool.shared.crew.try_hire() {
                break;
            }
            // On failure, dropping `pool` closes and joins the threads already started.
            pool.shared.spawn_worker(ready_tx.clone())?;
            started += 1;
        }
        if ready_tx.take().is_some() {
            for _ in 0..started {
                match ready.recv() {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => return Err(BuildError::WorkerState(message)),
                    // Every worker reports once; none can end without reporting.
                    Err(_) => return Err(BuildError::WorkerState("a worker ended".into())),
                }
            }
        }
        Ok(pool)
    }

    /// Queues `task` to run on a worker, fire and forget. Waits while the queue is full: a
    /// submitter that found it full waits until the workers have drained it to half its
    /// capacity, then queues (so a fast submitter refills it in bursts instead of waking at
    /// every free slot).
    ///
    /// A panic in the task is caught and counted in [`metrics`](Self::metrics) (the panic
    /// hook prints it with the worker's name); use [`submit`](Self::submit) to receive it.
    ///
    /// A closure of at most three machine words (say, a channel sender and an index) travels
    /// in the queue slot itself: submitting it allocates nothing. A larger one is boxed, one
    /// allocation per task (`shared/tests/pool_inline_alloc.rs` counts both).
    ///
    /// # Errors
    /// [`SubmitError::Closed`], handing the task back, if the pool is closed.
    /// [`SubmitError::Full`], handing the task back, when called from one of this pool's own
    /// workers while the queue is full: a worker that waited for room in its own queue could
    /// wait forever. Return the work as a value instead, run it yourself, or use
    /// [`scope`](Self::scope).
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::sync::mpsc;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// for n in 0..3 {
    ///     let tx = tx.clone();
    ///     pool.execute(move || tx.send(n * n).unwrap())?;
    /// }
    /// drop(tx);
    /// let mut got: Vec<i32> = rx.iter().collect();
    /// got.sort();
    /// assert_eq!(got, [0, 1, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute<F>(&self, task: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.with_priority(Priority::Normal).execute(task)
    }

    /// The same submission methods, queueing at `priority`: see [`Priority`] for the order in
    /// which workers take tasks and how the lower lanes are kept from starving. The plain
    /// methods ([`submit`](Self::submit) and the rest) submit at [`Priority::Normal`].
    ///
    /// ```
    /// use shared::pool::{Priority, WorkerPool};
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::builder().threads(1).build()?;
    /// let (release, blocked) = crossbeam_channel::bounded::<()>(0);
    /// pool.execute(move || { let _ = blocked.recv_timeout(Duration::from_secs(10)); })?; // holds the only worker
    /// # while pool.metrics().running == 0 { std::thread::yield_now(); }
    /// let (tx, order) = crossbeam_channel::unbounded();
    /// for (priority, name) in [(Priority::Low, "low"), (Priority::Normal, "normal"), (Priority::High, "high")] {
    ///     let tx = tx.clone();
    ///     pool.with_priority(priority).execute(move || tx.send(name).unwrap())?;
    /// }
    /// drop(release);
    /// pool.join()?;
    /// let order: Vec<&str> = order.try_iter().collect();
    /// assert_eq!(order, ["high", "normal", "low"]); // queued last, taken first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_priority(&self, priority: Priority) -> Prioritized<'_> {
        Prioritized {
            pool: self,
            priority,
        }
    }

    /// Like [`execute`](Self::execute), but never waits: a full queue hands the task back.
    ///
    /// # Errors
    /// [`SubmitError::Full`] or [`SubmitError::Closed`], handing the task back.
    ///
    /// ```
    /// use shared::pool::{SubmitError, WorkerPool};
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::builder().threads(1).queue_capacity(1).build()?;
    /// let (release, blocked) = crossbeam_channel::bounded::<()>(0);
    /// pool.execute(move || { let _ = blocked.recv_timeout(Duration::from_secs(10)); })?; // holds the worker
    /// # while pool.metrics().running == 0 { std::thread::yield_now(); }
    /// pool.try_execute(|| ())?; // fills the queue
    /// assert!(matches!(pool.try_execute(|| ()), Err(SubmitError::Full(_))));
    /// drop(release);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_execute<F>(&self, task: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.with_priority(Priority::Normal).try_execute(task)
    }

    /// Queues `task` and returns a [`TaskHandle`] for its value. Waits while the queue is
    /// full (backpressure).
    ///
    /// # Errors
    /// [`SubmitError::Closed`], handing the task back, if the pool is closed.
    /// [`SubmitError::Full`], handing the task back, when called from one of this pool's own
    /// workers while the queue is full (see [`execute`](Self::execute)).
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let handle = pool.submit(|| (1..=10u32).product::<u32>())?;
    /// assert_eq!(handle.join()?, 3_628_800);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_priority(Priority::Normal).submit(task)
    }

    /// Like [`submit`](Self::submit), but never waits: a full queue hands the task back.
    ///
    /// # Errors
    /// [`SubmitError::Full`] or [`SubmitError::Closed`], handing the task back.
    ///
    /// ```
    /// use shared::pool::{SubmitError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1)?;
    /// match pool.try_submit(|| 40 + 2) {
    ///     Ok(handle) => assert_eq!(handle.join()?, 42),
    ///     Err(SubmitError::Full(task)) => assert_eq!(task(), 42), // busy: run it here
    ///     Err(other) => return Err(other.to_string().into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_submit<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_priority(Priority::Normal).try_submit(task)
    }

    /// Like [`submit`](Self::submit), but waits at most `wait` for room in the queue.
    ///
    /// # Errors
    /// [`SubmitError::Timeout`] or [`SubmitError::Closed`], handing the task back.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit_timeout(|| "queued in time", Duration::from_secs(5))?;
    /// assert_eq!(handle.join()?, "queued in time");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_timeout<F, T>(
        &self,
        task: F,
        wait: Duration,
    ) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_priority(Priority::Normal)
            .submit_timeout(task, wait)
    }

    /// Like [`submit`](Self::submit), for a task that takes its [`TaskContext`]: to check
    /// for cancellation, or to use its worker's state.
    ///
    /// # Errors
    /// [`SubmitError::Closed`], handing the task back, if the pool is closed.
    /// [`SubmitError::Full`], handing the task back, when called from one of this pool's own
    /// workers while the queue is full (see [`execute`](Self::execute)).
    ///
    /// ```
    /// use shared::pool::{TaskError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let handle = pool.submit_with(|cx| {
    ///     let mut n = 0u64;
    ///     while !cx.is_cancelled() {
    ///         n += 1; // works until told to stop
    ///     }
    ///     n
    /// })?;
    /// handle.cancel();
    /// assert_eq!(handle.join(), Err(TaskError::Cancelled));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_with<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce(&mut TaskContext<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_priority(Priority::Normal).submit_with(task)
    }

    /// Like [`submit_with`](Self::submit_with), with a time limit counted from the moment the
    /// task **starts** running, however long it waited in the queue.
    ///
    /// Past the limit, [`TaskContext::is_cancelled`] turns true and the handle settles with
    /// [`TaskError::TimedOut`], even if the task never looks. Rust cannot stop the task, so a
    /// task that never looks keeps its worker busy until it returns.
    ///
    /// # Errors
    /// [`SubmitError::Closed`], handing the task back, if the pool is closed.
    /// [`SubmitError::Full`], handing the task back, when called from one of this pool's own
    /// workers while the queue is full (see [`execute`](Self::execute)).
    ///
    /// ```
    /// use shared::pool::{TaskError, WorkerPool};
    /// use std::time::Duration;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let limit = Duration::from_millis(10);
    /// let handle = pool.submit_with_timeout(limit, |cx| {
    ///     while !cx.is_cancelled() {
    ///         std::hint::spin_loop(); // overruns, but checks
    ///     }
    /// })?;
    /// assert_eq!(handle.join(), Err(TaskError::TimedOut(limit)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_with_timeout<F, T>(
        &self,
        timeout: Duration,
        task: F,
    ) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce(&mut TaskContext<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_priority(Priority::Normal)
            .submit_with_timeout(timeout, task)
    }

    fn submit_body<B, T>(
        &self,
        body: B,
        timeout: Option<Duration>,
        admission: Admission,
        priority: Priority,
    ) -> Result<TaskHandle<T>, SubmitError<B>>
    where
        B: task::Body<T>,
        T: Send + 'static,
    {
        let task = std::sync::Arc::new(Task::new(body, self.shared.id, timeout));
        let handle = TaskHandle {
            task: std::sync::Arc::clone(&task) as std::sync::Arc<dyn task::HasSlot<T>>,
        };
        match self.enqueue(JobRef::Shared(task), admission, priority) {
            Ok(()) => Ok(handle),
            Err((job, why)) => {
                drop(handle); // the body can only be handed back from a task nobody else holds
                Err(refused(job, why, |b: B| b))
            }
        }
    }

    /// Runs `f` on every item, in parallel on the pool, and returns the results **in input
    /// order**, however the tasks finish. `f` and the items may borrow the caller's data.
    ///
    /// Every item runs even if some panic; then the first error in input order is returned.
    /// Each item is one task in the [`metrics`](Self::metrics): `completed`, or `panicked`
    /// when `f` panicked on it. Called from one of this pool's own workers, the items run
    /// inline on that worker, one after another (see [`scope`](Self::scope)).
    ///
    /// # Errors
    /// [`TaskError::Panicked`] for a panicking item, [`TaskError::PoolShutDown`] if the pool
    /// is closed or shut down before every item ran.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let words = vec!["a", "bb", "ccc"];
    /// let lengths = pool.map(&words, |w| w.len())?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<I, T, F>(&self, items: I, f: F) -> Result<Vec<T>, TaskError>
    where
        I: IntoIterator,
        I::Item: Send,
        T: Send,
        F: Fn(I::Item) -> T + Sync,
    {
        if self.is_closed() {
            return Err(TaskError::PoolShutDown);
        }
        let items: Vec<I::Item> = items.into_iter().collect();
        let mut results: Vec<Option<Result<T, TaskError>>> = items.iter().map(|_| None).collect();
        let f = &f;
        let ((), _rejected) = self.scope_inner(|s| {
            for (item, out) in items.into_iter().zip(results.iter_mut()) {
                let accepted = s.spawn_counted(move || {
                    let result =
                        panic::catch_unwind(AssertUnwindSafe(|| f(item))).map_err(task::panicked);
                    let panicked = result.is_err();
                    *out = Some(result);
                    panicked // counted as `panicked` in the metrics, as any task's panic is
                });
                if !accepted {
                    break;
                }
            }
        });
        // An item whose slot is still empty never ran: the pool closed under the batch.
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(TaskError::PoolShutDown)))
            .collect()
    }

    /// Stops taking new tasks. Queued and running tasks still run; the threads end once the
    /// queue is empty. Returns at once: [`join`](Self::join) waits for the threads. Calling it
    /// again does nothing.
    ///
    /// ```
    /// use shared::pool::{SubmitError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1)?;
    /// let queued = pool.submit(|| "still runs")?;
    /// pool.close();
    /// assert!(matches!(pool.submit(|| "refused"), Err(SubmitError::Closed(_))));
    /// assert_eq!(queued.join()?, "still runs");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }

    /// Closes the pool, removes every queued task without running it, and asks the running
    /// ones to stop (their [`TaskContext::is_cancelled`] turns true). Returns how many queued
    /// tasks were removed; their handles settle with [`TaskError::PoolShutDown`].
    ///
    /// Running tasks are not interrupted (nothing can interrupt a Rust thread):
    /// [`join`](Self::join) still waits for them.
    ///
    /// ```
    /// use shared::pool::{TaskError, WorkerPool};
    ///
    /// let pool = WorkerPool::builder().threads(1).build()?;
    /// let (started_tx, started) = crossbeam_channel::bounded(1);
    /// let running = pool.submit_with(move |cx| {
    ///     started_tx.send(()).unwrap();
    ///     while !cx.is_cancelled() {
    ///         std::hint::spin_loop();
    ///     }
    ///     "stopped when asked"
    /// })?;
    /// let queued = pool.submit(|| "never runs")?;
    /// started.recv()?;
    /// assert_eq!(pool.shutdown_now(), 1);
    /// assert_eq!(queued.join(), Err(TaskError::PoolShutDown));
    /// assert_eq!(running.join()?, "stopped when asked");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_now(&self) -> usize {
        self.shared.shutdown_now()
    }

    /// Closes the pool (if still open) and waits until every worker thread has ended, which
    /// is after every queued task has run. Any number of threads may call it at once: each
    /// returns only when the last worker has ended.
    ///
    /// # Errors
    /// [`JoinError::FromWorker`] when called on one of this pool's own workers, which would
    /// wait for itself forever. [`JoinError::WorkersLost`] when accepted tasks never ran:
    /// every worker ended and no new one could start (a `worker_state` factory that panics
    /// for every new worker, or a thread the system would not start). Those tasks' handles
    /// settle with [`TaskError::PoolShutDown`]; `join` never returns `Ok` with a task left
    /// behind.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let done = Arc::clone(&done);
    ///     pool.execute(move || { done.fetch_add(1, Ordering::Relaxed); })?;
    /// }
    /// pool.join().unwrap();
    /// assert_eq!(done.load(Ordering::Relaxed), 100);
    /// assert_eq!(pool.metrics().threads, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), JoinError> {
        if current_pool_id() == Some(self.shared.id) {
            return Err(JoinError::FromWorker);
        }
        self.close();
        // Several threads may join one pool: each returns only once every worker has ended.
        let _joining = self
            .shared
            .joining
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let threads = std::mem::take(
                &mut *self
                    .shared
                    .threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if threads.is_empty() {
                break;
            }
            for thread in threads {
                // A worker catches its tasks' panics; a panic here came from a hook and has
                // been reported by the panic hook already.
                let _ = thread.join();
            }
        }
        // Every worker has ended. A task still queued has nobody left to run it: settle it.
        let mut left = 0;
        while let Some(queued) = self.shared.lanes.take_any() {
            self.shared.reject(queued);
            left += 1;
        }
        let lost = self
            .shared
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stopped = self.shared.stopping.load(Ordering::Acquire);
        match lost {
            Some(reason) => Err(JoinError::WorkersLost {
                reason,
                not_run: left + self.shared.not_run.load(Ordering::Acquire),
            }),
            // `shutdown_now` (perhaps still draining on another thread) rejects on purpose.
            None if left > 0 && !stopped => Err(JoinError::WorkersLost {
                reason: "no worker was left to run them".into(),
                not_run: left,
            }),
            None => Ok(()),
        }
    }

    /// A snapshot of the pool's counters and timings: see [`PoolMetrics`].
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2)?;
    /// let m = pool.metrics();
    /// assert_eq!((m.submitted, m.threads), (0, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        self.shared.metrics.snapshot(
            self.shared.lanes.len(),
            self.shared.crew.live(),
            self.shared.crew.idle(),
        )
    }

    /// How many tasks each lane of the queue holds before `submit` waits (one lane per
    /// [`Priority`]); `None` if unbounded.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().queue_capacity(8).build()?;
    /// assert_eq!(pool.capacity(), Some(8));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.shared.lanes.capacity()
    }

    /// Whether [`close`](Self::close), [`shutdown_now`](Self::shutdown_now) or
    /// [`join`](Self::join) has been called.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::new(1)?;
    /// assert!(!pool.is_closed());
    /// pool.close();
    /// assert!(pool.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The one way into the queue. Returns the job with the reason on refusal.
    pub(crate) fn enqueue(
        &self,
        job: JobRef,
        admission: Admission,
        priority: Priority,
    ) -> Result<(), (JobRef, Refusal)> {
        let shared = &*self.shared;
        let timed = Metrics::sample();
        let mut queued = Queued {
            job,
            enqueued: timed.then(Instant::now),
        };
        let refusal = 'refused: {
            // Fast path: one read lock and one `try_send`.
            {
                let open = shared.gate.read().unwrap_or_else(PoisonError::into_inner);
                if !*open {
                    break 'refused Refusal::Closed;
                }
                match shared.lanes.try_send(priority, queued) {
                    Ok(()) => {
                        // Still holding the gate: a `join` cannot finish before the hire.
                        let failed = self.after_enqueue();
                        drop(open);
                        self.after_failed_hire(failed);
                        return Ok(());
                    }
                    Err(TrySendError::Full(back)) => queued = back,
                    Err(TrySendError::Disconnected(back)) => {
                        queued = back;
                        break 'refused Refusal::Closed;
                    }
                }
            }
            // The queue is full.
            let deadline = match admission {
                Admission::Try => break 'refused Refusal::Full,
                // A wait too long to represent is no limit at all.
                Admission::Wait(wait) => Instant::now().checked_add(wait).map(|at| (at, wait)),
                Admission::Block => None,
            };
            if deadline.is_none() && current_pool_id() == Some(shared.id) {
                // A worker waiting without limit for room in its own queue could wait
                // forever, if every worker did. Running the task here instead would run it
                // under whatever lock the submitting task holds (a task that needs the same
                // lock deadlocks on itself): hand it back, as `try_submit` does.
                break 'refused Refusal::Full;
            }
            // Wait for room in slices, without the gate, so that a `close` is never held up
            // by a submission blocked on a full queue. A waiter is woken once the workers have
            // drained the queue to half (see `room`), then tries again under the gate.
            loop {
                let slice = match deadline {
                    Some((at, wait)) => match at.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => left.min(GATE_SLICE),
                        _ => break 'refused Refusal::Timeout(wait),
                    },
                    None => GATE_SLICE,
                };
                let lane = shared.lanes.lane(priority);
                lane.room.wait(
                    || lane.rx.len(),
                    slice,
                    || shared.closed.load(Ordering::Acquire),
                );
                let open = shared.gate.read().unwrap_or_else(PoisonError::into_inner);
                if !*open {
                    break 'refused Refusal::Closed;
                }
                match shared.lanes.try_send(priority, queued) {
                    Ok(()) => {
                        let failed = self.after_enqueue();
                        drop(open);
                        self.after_failed_hire(failed);
                        return Ok(());
                    }
                    Err(TrySendError::Full(back)) => queued = back,
                    Err(TrySendError::Disconnected(back)) => {
                        queued = back;
                        break 'refused Refusal::Closed;
                    }
                }
            }
        };
        shared.metrics.rejected();
        Err((queued.job, refusal))
    }

    /// An elastic pool starts a worker for a task that no worker is free to take, up to
    /// `max_threads`. Called with the gate held, so that `close` and `join` wait for it.
    /// Returns why a hire failed, to be handled once the gate is released.
    fn after_enqueue(&self) -> Option<BuildError> {
        let crew = &self.shared.crew;
        if crew.is_elastic() && crew.task_queued() {
            // Pairs with the fence in `Crew::retire_unless_needed`: either this hire sees a
            // worker's retirement, or that worker sees this task in the queue.
            crate::sync::fence(Ordering::SeqCst);
            if crew.try_hire() {
                return self.shared.spawn_worker(None).err();
            }
        }
        None
    }

    /// A failed hire only means the existing workers take the task later; but with no worker
    /// left, nobody would: then the queued tasks are settled (see `after_lost_start`).
    fn after_failed_hire(&self, failed: Option<BuildError>) {
        if let Some(e) = failed {
            self.shared.after_lost_start(&e.to_string());
        }
    }
}

/// Recovers the caller's closure from a refused job, whose concrete type the caller knows.
fn refused<J: 'static, F>(
    job: JobRef,
    why: Refusal,
    unwrap: impl FnOnce(J) -> F,
) -> SubmitError<F> {
    let job = *job
        .into_any()
        .downcast::<J>()
        .unwrap_or_else(|_| unreachable!("a refused job is the one just submitted"));
    let task = unwrap(job);
    match why {
        Refusal::Full => SubmitError::Full(task),
        Refusal::Timeout(waited) => SubmitError::Timeout(task, waited),
        Refusal::Closed => SubmitError::Closed(task),
    }
}

impl<F> SubmitError<F> {
    /// The same refusal, with the task transformed.
    fn map<G>(self, f: impl FnOnce(F) -> G) -> SubmitError<G> {
        match self {
            Self::Full(task) => SubmitError::Full(f(task)),
            Self::Timeout(task, waited) => SubmitError::Timeout(f(task), waited),
            Self::Closed(task) => SubmitError::Closed(f(task)),
        }
    }
}

impl Shared {
    /// Starts one worker thread; the caller has reserved its place with `crew.try_hire()`.
    /// `ready` hears once whether the worker made its `worker_state`.
    pub(crate) fn spawn_worker(
        self: &Arc<Self>,
        ready: Option<crossbeam_channel::Sender<Result<(), String>>>,
    ) -> Result<(), BuildError> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let name = match self.thread_name(index) {
            Ok(name) => name,
            Err(e) => {
                self.crew.leave();
                return Err(e);
            }
        };
        let stats = self.metrics.enlist();
        let mut builder = thread::Builder::new().name(name);
        if let Some(size) = self.config.stack_size {
            builder = builder.stack_size(size);
        }
        let shared = Arc::clone(self);
        let worker_stats = Arc::clone(&stats);
        match builder.spawn(move || crew::work(shared, index, worker_stats, ready)) {
            Ok(handle) => {
                let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
                // An elastic pool's retired threads have ended: forget their handles.
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
                Ok(())
            }
            Err(e) => {
                self.crew.leave();
                self.metrics.retire(&stats);
                Err(BuildError::Spawn(e))
            }
        }
    }

    /// Closes the gate; see [`WorkerPool::close`].
    pub(crate) fn close(&self) {
        // Taking the write lock waits out every submission in flight (each holds a read lock
        // across its send), so after this no task can enter the queue.
        let mut open = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        if !*open {
            return;
        }
        *open = false;
        self.closed.store(true, Ordering::Release);
        drop(open);
        // Wake the submitters waiting for room: they see `closed` and hand their tasks back.
        self.lanes.wake_all();
        // Wake the workers blocked on an empty queue: they see `closed` and leave.
        self.wake_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// See [`WorkerPool::shutdown_now`].
    pub(crate) fn shutdown_now(&self) -> usize {
        self.stopping.store(true, Ordering::Release);
        self.close();
        let mut removed = 0;
        while let Some(queued) = self.lanes.take_any() {
            self.reject(queued);
            removed += 1;
        }
        removed
    }

    /// A worker could not start (its thread, its name or its state failed). If no worker is
    /// left while tasks wait, none will run them: the pool shuts down, settling them with
    /// [`TaskError::PoolShutDown`], and `join` reports why.
    pub(crate) fn after_lost_start(&self, reason: &str) {
        // `min_threads` is at least 1, so no worker left means every one was lost; unless the
        // pool is closed and its queue empty, when the others simply finished their work.
        if self.crew.live() > 0 || (self.closed.load(Ordering::Acquire) && self.lanes.is_empty()) {
            return;
        }
        self.lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| reason.to_string());
        let removed = self.shutdown_now();
        self.not_run.fetch_add(removed, Ordering::AcqRel);
    }

    /// The user's `thread_name` for worker `index`, checked: a name function that panics, or a
    /// name with a NUL byte (which the operating system cannot take), is a [`BuildError`],
    /// never a panic inside `submit` or `build`.
    fn thread_name(&self, index: usize) -> Result<String, BuildError> {
        let name = panic::catch_unwind(AssertUnwindSafe(|| (self.config.thread_name)(index)))
            .map_err(|payload| {
                let message = crate::worker::panic_message(payload.as_ref());
                task::drop_quietly(payload);
                BuildError::Invalid(format!("thread_name({index}) panicked: {message}"))
            })?;
        if name.contains('\0') {
            return Err(BuildError::Invalid(format!(
                "thread_name({index}) returned {name:?}, which holds a NUL byte"
            )));
        }
        Ok(name)
    }

    /// Settles a job that will not run. A closure whose `Drop` panics as it is discarded
    /// (the panic hook prints it) does not stop the rejection of the jobs behind it.
    pub(crate) fn reject(&self, queued: Queued) {
        // Counted first, so that whoever sees the handle settle also sees the count.
        self.metrics.drained();
        task::quietly(move || queued.job.reject());
    }
}

impl Drop for WorkerPool {
    /// Closes the pool and waits for its threads, after every queued task has run. On one of
    /// the pool's own workers (a task that owned the pool), it only closes: a thread cannot
    /// wait for itself.
    fn drop(&mut self) {
        if let Err(JoinError::FromWorker) = self.join() {
            self.close();
        }
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("id", &self.shared.id)
            .field("threads", &self.shared.crew.live())
            .field("min_threads", &self.shared.crew.min)
            .field("max_threads", &self.shared.crew.max)
            .field("queued", &self.shared.lanes.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
