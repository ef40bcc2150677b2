//! Priorities: [`Priority`] and [`Prioritized`], the view of a pool that submits at one.

use super::task::{Contextual, Detached, Plain};
use super::{Admission, JobRef, SubmitError, TaskContext, TaskHandle, WorkerPool, refused};
use std::time::Duration;

/// How soon a queued task is taken, relative to the others waiting.
///
/// The pool keeps one queue (a *lane*) per priority. A worker looking for work takes from
/// `High` first, then `Normal`, then `Low`, first in first out within a lane, with one
/// exception that keeps the lower lanes from starving: of every eight tasks a worker takes
/// while prioritised tasks are waiting, one looks at `Normal` first and one at `Low` first.
/// So a flood of `High` work slows the other lanes down but never stops them.
///
/// Priorities order tasks that are **waiting**; a running task is never interrupted, and a
/// high-priority task still waits for a worker to finish its current task.
///
/// Each lane is bounded by the pool's [`capacity`](WorkerPool::capacity): a full `Low` lane
/// makes `Low` submitters wait (or refuses them, for the `try_` methods) while `High` and
/// `Normal` tasks still get in, so the pool holds at most three times its capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Latency-sensitive work: taken before the rest.
    High,
    /// What [`WorkerPool::submit`] and the other plain methods use.
    #[default]
    Normal,
    /// Background work: taken when nothing else waits, and in its share of turns.
    Low,
}

impl Priority {
    /// Every priority, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];
}

/// A pool seen through one [`Priority`]: the same submission methods as [`WorkerPool`],
/// each queueing at that priority. Made by [`WorkerPool::with_priority`]; cheap to make and
/// to copy.
///
/// ```
/// use shared::pool::{Priority, WorkerPool};
///
/// let pool = WorkerPool::new(2)?;
/// let urgent = pool.with_priority(Priority::High).submit(|| "answered first")?;
/// pool.with_priority(Priority::Low).execute(|| { /* tidy up, when nothing else waits */ })?;
/// assert_eq!(urgent.join()?, "answered first");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Prioritized<'pool> {
    pub(crate) pool: &'pool WorkerPool,
    pub(crate) priority: Priority,
}

impl Prioritized<'_> {
    /// The priority this view submits at.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// [`WorkerPool::execute`] at this priority.
    ///
    /// # Errors
    /// As [`WorkerPool::execute`].
    pub fn execute<F>(&self, task: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.pool
            .enqueue(JobRef::detached(task), Admission::Block, self.priority)
            .map_err(|(job, why)| refused(job, why, |d: Detached<F>| d.0))
    }

    /// [`WorkerPool::try_execute`] at this priority: a full lane hands the task back.
    ///
    /// # Errors
    /// As [`WorkerPool::try_execute`].
    pub fn try_execute<F>(&self, task: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.pool
            .enqueue(JobRef::detached(task), Admission::Try, self.priority)
            .map_err(|(job, why)| refused(job, why, |d: Detached<F>| d.0))
    }

    /// [`WorkerPool::submit`] at this priority.
    ///
    /// # Errors
    /// As [`WorkerPool::submit`].
    pub fn submit<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_body(Plain(task), None, Admission::Block, self.priority)
            .map_err(|e| e.map(|p: Plain<F>| p.0))
    }

    /// [`WorkerPool::try_submit`] at this priority: a full lane hands the task back.
    ///
    /// # Errors
    /// As [`WorkerPool::try_submit`].
    pub fn try_submit<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_body(Plain(task), None, Admission::Try, self.priority)
            .map_err(|e| e.map(|p: Plain<F>| p.0))
    }

    /// [`WorkerPool::submit_timeout`] at this priority.
    ///
    /// # Errors
    /// As [`WorkerPool::submit_timeout`].
    pub fn submit_timeout<F, T>(
        &self,
        task: F,
        wait: Duration,
    ) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_body(Plain(task), None, Admission::Wait(wait), self.priority)
            .map_err(|e| e.map(|p: Plain<F>| p.0))
    }

    /// [`WorkerPool::submit_with`] at this priority.
    ///
    /// # Errors
    /// As [`WorkerPool::submit_with`].
    pub fn submit_with<F, T>(&self, task: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce(&mut TaskContext<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_body(Contextual(task), None, Admission::Block, self.priority)
            .map_err(|e| e.map(|c: Contextual<F>| c.0))
    }

    /// [`WorkerPool::submit_with_timeout`] at this priority.
    ///
    /// # Errors
    /// As [`WorkerPool::submit_with_timeout`].
    pub fn submit_with_timeout<F, T>(
        &self,
        timeout: Duration,
        task: F,
    ) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce(&mut TaskContext<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_body(
                Contextual(task),
                Some(timeout),
                Admission::Block,
                self.priority,
            )
            .map_err(|e| e.map(|c: Contextual<F>| c.0))
    }
}
