//! What can go wrong: at submission ([`SubmitError`], which hands the task back) and while a
//! task is waited on ([`TaskError`], the settled outcome of a [`TaskHandle`](super::TaskHandle)).

use std::fmt;
use std::time::Duration;

/// Why a task's handle settled without a value. Every handle settles with a value or with
/// exactly one of these; none waits forever.
///
/// ```
/// use shared::pool::{TaskError, WorkerPool};
///
/// let pool = WorkerPool::new(2)?;
/// let handle = pool.submit(|| -> u32 { panic!("bad input") })?;
/// assert_eq!(handle.join(), Err(TaskError::Panicked("bad input".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task panicked; the pool caught the panic and kept its message. The worker thread
    /// survived and went on with the next task.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// [`TaskHandle::cancel`](super::TaskHandle::cancel) was called before the task finished.
    /// A task cancelled while queued never ran; a running one was asked to stop through its
    /// [`TaskContext`](super::TaskContext), and whatever it returned was discarded.
    #[error("the task was cancelled")]
    Cancelled,
    /// The task ran longer than its timeout, counted from the moment it *started* running, not
    /// from when it was queued. Its result, if it ever finishes, is discarded.
    #[error("the task ran longer than its timeout of {0:?}")]
    TimedOut(Duration),
    /// [`WorkerPool::shutdown_now`](super::WorkerPool::shutdown_now) removed the task from the
    /// queue before it started, or the pool lost every worker and could not start another
    /// (see [`JoinError::WorkersLost`]).
    #[error("the pool was shut down before the task started")]
    PoolShutDown,
    /// The wait was refused because it could deadlock: the calling thread is one of the pool's
    /// own workers, and a worker blocked on a task of its own pool may be holding the very
    /// thread that task needs.
    #[error(
        "refused to wait for a task from inside one of its own pool's workers: \
         that can deadlock the pool (return the work as a value instead, or use `scope`)"
    )]
    WouldDeadlock,
}

/// A task the pool did not accept, handed back to the caller.
///
/// The task is returned untouched ([`into_task`](Self::into_task)): run it somewhere else,
/// retry later, or drop it.
///
/// ```
/// use shared::pool::{SubmitError, WorkerPool};
///
/// let pool = WorkerPool::new(1)?;
/// pool.close();
/// match pool.submit(|| 1 + 1) {
///     Err(SubmitError::Closed(task)) => assert_eq!(task(), 2), // run it ourselves
///     other => panic!("expected Closed, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum SubmitError<F> {
    /// The queue was full ([`try_submit`](super::WorkerPool::try_submit),
    /// [`try_execute`](super::WorkerPool::try_execute)).
    #[error("the pool's queue is full")]
    Full(F),
    /// The queue stayed full for the whole wait of
    /// [`submit_timeout`](super::WorkerPool::submit_timeout).
    #[error("the pool's queue stayed full for {1:?}")]
    Timeout(F, Duration),
    /// The pool was closed or shut down and takes no new work.
    #[error("the pool is closed and takes no new tasks")]
    Closed(F),
}

impl<F> SubmitError<F> {
    /// The task that was not accepted.
    ///
    /// ```
    /// use shared::pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1)?;
    /// pool.close();
    /// let task = pool.execute(|| println!("never queued")).unwrap_err().into_task();
    /// task(); // prints "never queued", on this thread
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_task(self) -> F {
        match self {
            Self::Full(task) | Self::Timeout(task, _) | Self::Closed(task) => task,
        }
    }
}

// By hand: a derive would require `F: Debug`, and closures are not `Debug`.
impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Timeout(_, waited) => write!(f, "Timeout(.., {waited:?})"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why [`WorkerPool::join`](super::WorkerPool::join) could not report that every accepted
/// task ran.
///
/// ```
/// use shared::pool::{JoinError, WorkerPool};
/// use std::sync::Arc;
///
/// let pool = Arc::new(WorkerPool::new(1)?);
/// let inner = Arc::clone(&pool);
/// let refused = pool.submit(move || inner.join())?.join()?;
/// assert_eq!(refused, Err(JoinError::FromWorker));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Called from one of the pool's own workers, which would wait for itself forever.
    #[error(
        "a pool cannot be joined from one of its own workers: the worker would wait for itself"
    )]
    FromWorker,
    /// Every worker ended while accepted tasks were still queued, and no new worker could be
    /// started (its `worker_state` factory or its thread start failed: `reason` says which).
    /// The `not_run` tasks were settled with [`TaskError::PoolShutDown`] instead of running.
    #[error("the pool lost its workers ({reason}): {not_run} accepted task(s) never ran")]
    WorkersLost {
        /// What stopped the pool from starting a worker.
        reason: String,
        /// Accepted tasks that never ran.
        not_run: usize,
    },
}

/// The pool's settings were inconsistent; the message says which.
///
/// ```
/// use shared::pool::WorkerPool;
///
/// let err = WorkerPool::builder().threads(0).build().unwrap_err();
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting is out of range.
    #[error("invalid pool configuration: {0}")]
    Invalid(String),
    /// The operating system refused to start a worker thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// The [`worker_state`](super::PoolBuilder::worker_state) factory panicked while one of
    /// the first workers started; the message is the panic's.
    #[error("the worker_state factory panicked: {0}")]
    WorkerState(String),
}
