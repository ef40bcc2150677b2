//! [`PoolBuilder`]: every setting of a [`WorkerPool`], with defaults a reader can predict.

use super::{BuildError, WorkerPool};
use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

type NameFn = Arc<dyn Fn(usize) -> String + Send + Sync>;
type HookFn = Arc<dyn Fn(usize) + Send + Sync>;
type StateFn = Arc<dyn Fn(usize) -> Box<dyn Any + Send> + Send + Sync>;

/// The default queue capacity: room for a burst of tasks, small enough that a producer far
/// ahead of the workers is slowed down (backpressure) before memory grows.
///
/// ```
/// use shared::pool::{DEFAULT_QUEUE_CAPACITY, WorkerPool};
///
/// assert_eq!(WorkerPool::new(1)?.capacity(), Some(DEFAULT_QUEUE_CAPACITY));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// The default time an elastic pool's extra worker waits for work before it exits.
///
/// ```
/// assert_eq!(shared::pool::DEFAULT_KEEP_ALIVE.as_secs(), 10);
/// ```
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Settings for a [`WorkerPool`]. Start from [`WorkerPool::builder`].
///
/// | setting | default |
/// |---|---|
/// | threads | [`std::thread::available_parallelism`], fixed (min = max) |
/// | queue | bounded, [`DEFAULT_QUEUE_CAPACITY`] tasks |
/// | keep-alive of extra threads | [`DEFAULT_KEEP_ALIVE`] |
/// | thread names | `pool-0`, `pool-1`, … |
/// | stack size | std's default (2 MiB today) |
///
/// ```
/// use shared::pool::WorkerPool;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&started);
/// let pool = WorkerPool::builder()
///     .threads(2)
///     .thread_name(|i| format!("resize-{i}"))
///     .stack_size(4 * 1024 * 1024)
///     .on_thread_start(move |_index| { counter.fetch_add(1, Ordering::Relaxed); })
///     .build()?;
/// let name = pool.submit(|| std::thread::current().name().map(String::from))?.join()?;
/// assert!(name.unwrap().starts_with("resize-"));
/// pool.join().unwrap();
/// assert_eq!(started.load(Ordering::Relaxed), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    min_threads: Option<usize>,
    max_threads: Option<usize>,
    keep_alive: Duration,
    queue_capacity: Option<usize>,
    thread_name: NameFn,
    stack_size: Option<usize>,
    on_start: Option<HookFn>,
    on_exit: Option<HookFn>,
    worker_state: Option<StateFn>,
}

/// The checked settings a pool runs with.
pub(crate) struct Config {
    pub(crate) min_threads: usize,
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) queue_capacity: Option<usize>,
    pub(crate) thread_name: NameFn,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_start: Option<HookFn>,
    pub(crate) on_exit: Option<HookFn>,
    pub(crate) worker_state: Option<StateFn>,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        Self {
            min_threads: None,
            max_threads: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
            queue_capacity: Some(DEFAULT_QUEUE_CAPACITY),
            thread_name: Arc::new(|index| format!("pool-{index}")),
            stack_size: None,
            on_start: None,
            on_exit: None,
            worker_state: None,
        }
    }
}

impl PoolBuilder {
    /// A fixed number of threads: `min_threads(n).max_threads(n)`.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().threads(3).build()?;
    /// assert_eq!(pool.metrics().threads, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(mut self, n: usize) -> Self {
        self.min_threads = Some(n);
        self.max_threads = Some(n);
        self
    }

    /// The threads kept even when idle; at least 1. Defaults to `max_threads` if only that is
    /// set, else to [`std::thread::available_parallelism`].
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().min_threads(1).max_threads(4).build()?;
    /// assert_eq!(pool.metrics().threads, 1); // more start only under load
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn min_threads(mut self, n: usize) -> Self {
        self.min_threads = Some(n);
        self
    }

    /// The most threads the pool starts under load. Above `min_threads`, the pool is
    /// *elastic*: a task that finds no idle worker starts a new one, and a worker above the
    /// minimum exits after [`keep_alive`](Self::keep_alive) without work.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().min_threads(2).max_threads(8).build()?;
    /// assert!(pool.metrics().threads >= 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = Some(n);
        self
    }

    /// How long a worker above `min_threads` waits for work before it exits. Must be more
    /// than zero.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = shared::pool::WorkerPool::builder()
    ///     .min_threads(1)
    ///     .max_threads(4)
    ///     .keep_alive(Duration::from_millis(500))
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// How many tasks may wait in the queue; at least 1. When it is full, `submit` and
    /// `execute` wait, `try_submit` hands the task back. The bound is per
    /// [`Priority`](super::Priority) lane, and each lane's slots are allocated when the pool
    /// is built.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().queue_capacity(64).build()?;
    /// assert_eq!(pool.capacity(), Some(64));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity);
        self
    }

    /// No limit on the queue: submissions never wait, and memory grows with the backlog.
    /// For lessons that show why the default is bounded.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().unbounded_queue().build()?;
    /// assert_eq!(pool.capacity(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unbounded_queue(mut self) -> Self {
        self.queue_capacity = None;
        self
    }

    /// Names each worker thread from its index: names show up in panic messages, debuggers
    /// and profilers. Linux shows only the first 15 bytes.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder()
    ///     .threads(1)
    ///     .thread_name(|i| format!("img-{i}"))
    ///     .build()?;
    /// let name = pool.submit(|| std::thread::current().name().map(String::from))?.join()?;
    /// assert_eq!(name.as_deref(), Some("img-0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn thread_name(mut self, name: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.thread_name = Arc::new(name);
        self
    }

    /// The stack size of each worker thread, in bytes: Node's `resourceLimits.stackSizeMb`.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder().stack_size(8 << 20).build()?;
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs on each worker thread as it starts, with its index. A panic in it is reported and
    /// the worker carries on.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder()
    ///     .on_thread_start(|i| println!("worker {i} is up"))
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_thread_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// Runs on each worker thread as it exits, with its index.
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder()
    ///     .on_thread_exit(|i| println!("worker {i} is done"))
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_thread_exit(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_exit = Some(Arc::new(hook));
        self
    }

    /// Gives every worker its own state, made on the worker's thread when it starts and
    /// dropped when it exits. Tasks reach it through [`TaskContext::state`](super::TaskContext::state).
    ///
    /// ```
    /// let pool = shared::pool::WorkerPool::builder()
    ///     .threads(2)
    ///     .worker_state(|index| format!("scratch of worker {index}"))
    ///     .build()?;
    /// let seen = pool.submit_with(|cx| cx.state::<String>().cloned())?.join()?;
    /// assert!(seen.unwrap().starts_with("scratch of worker"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn worker_state<S: Send + 'static>(
        mut self,
        make: impl Fn(usize) -> S + Send + Sync + 'static,
    ) -> Self {
        self.worker_state = Some(Arc::new(move |index| {
            Box::new(make(index)) as Box<dyn Any + Send>
        }));
        self
    }

    /// Checks the settings and starts the pool's minimum threads.
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for zero threads, `min > max`, a zero queue capacity or a zero
    /// keep-alive on an elastic pool; [`BuildError::Spawn`] if a thread cannot be started.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// assert!(WorkerPool::builder().min_threads(4).max_threads(2).build().is_err());
    /// assert!(WorkerPool::builder().queue_capacity(0).build().is_err());
    /// assert!(WorkerPool::builder().threads(2).build().is_ok());
    /// ```
    pub fn build(self) -> Result<WorkerPool, BuildError> {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let (min, max) = match (self.min_threads, self.max_threads) {
            (Some(min), Some(max)) => (min, max),
            (Some(min), None) => (min, min.max(cores)),
            (None, Some(max)) => (max, max),
            (None, None) => (cores, cores),
        };
        let invalid = |msg: String| Err(BuildError::Invalid(msg));
        if min == 0 {
            return invalid("a pool needs at least 1 thread (min_threads is 0)".into());
        }
        if min > max {
            return invalid(format!(
                "min_threads ({min}) is more than max_threads ({max})"
            ));
        }
        if self.queue_capacity == Some(0) {
            return invalid("the queue capacity must be at least 1".into());
        }
        if min < max && self.keep_alive.is_zero() {
            return invalid("an elastic pool needs a keep_alive above zero".into());
        }
        WorkerPool::start(Config {
            min_threads: min,
            max_threads: max,
            keep_alive: self.keep_alive,
            queue_capacity: self.queue_capacity,
            thread_name: self.thread_name,
            stack_size: self.stack_size,
            on_start: self.on_start,
            on_exit: self.on_exit,
            worker_state: self.worker_state,
        })
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("min_threads", &self.min_threads)
            .field("max_threads", &self.max_threads)
            .field("keep_alive", &self.keep_alive)
            .field("queue_capacity", &self.queue_capacity)
            .field("stack_size", &self.stack_size)
            .finish_non_exhaustive()
    }
}
