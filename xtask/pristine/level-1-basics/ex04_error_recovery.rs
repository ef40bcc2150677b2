//! # Exercise l1-ex04: error recovery
//!
//! **Goal.** Run one long-lived worker thread that serves a stream of tasks, answers each with
//! a success or a typed error, and *keeps serving* after a failure. In Node the worker wraps
//! each task in `try { ... } catch (e) { parentPort.postMessage({ taskId, success: false,
//! error: e.message }) }`; in Rust an expected failure is a value, `Result<Output, TaskError>`,
//! sent back like any other message, and a panic in user code is stopped at the task boundary
//! with `catch_unwind` so that it ends one task, not the worker.
//!
//! **Check your attempt:** `cargo exercise check l1-ex04`
//!
//! **What the tests expect**
//! - `divide(10.0, 2.0)` is `5.0`; a zero divisor is [`TaskError::DivByZero`]; a non-finite
//!   operand is [`TaskError::InvalidInput`].
//! - `parse_pairs("name=Ada, lang = rust")` is the map `{lang: rust, name: Ada}` (keys and
//!   values trimmed); a piece without `=`, with an empty key, or with a key seen before is
//!   [`TaskError::Parse`] naming that piece.
//! - `process(&[1.0, 2.0, 3.0])` is count 3, sum 6, average 2; an empty list or a non-finite
//!   number is [`TaskError::InvalidInput`].
//! - `run_task` turns a panic in a [`Task::Call`] into [`TaskError::Panicked`] with the panic's
//!   message, instead of letting it unwind.
//! - [`TaskWorker`] runs every task on one thread named [`WORKER_NAME`] and replies with the
//!   task's id, its result and the worker's thread id. For [`reference_tasks`], ids 1, 3 and 5
//!   succeed and 2, 4 and 6 fail with `DivByZero`, `Parse` and `InvalidInput`.
//! - After failures and a panic, the *same* thread answers the next task; `shutdown` returns
//!   the worker's [`Tally`] of successes and failures.
//!
//! **Hints:** `cargo exercise hint l1-ex04` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::anyhow;
use crossbeam_channel::{Receiver, Sender};
use shared::testing::panic_message;
use std::collections::BTreeMap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::thread::{self, JoinHandle, ThreadId};
use thiserror::Error;

/// The name the worker thread must have.
pub const WORKER_NAME: &str = "task-worker";

/// Which task a reply answers: the caller picks it, the worker hands it back unchanged.
pub type TaskId = u64;

/// A unit of work for the worker.
#[derive(Debug, Clone)]
pub enum Task {
    /// `a / b`.
    Divide { a: f64, b: f64 },
    /// A `key=value,key=value` text, read into a map.
    Parse(String),
    /// Count, sum and average of some numbers.
    Process(Vec<f64>),
    /// User code, run on the worker. It may panic: that is the bug this task stands for.
    Call(fn() -> i64),
}

/// What a task that succeeded produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The quotient of [`Task::Divide`].
    Quotient(f64),
    /// The map of [`Task::Parse`], sorted by key.
    Map(BTreeMap<String, String>),
    /// The statistics of [`Task::Process`].
    Stats(Stats),
    /// What the user code of [`Task::Call`] returned.
    Value(i64),
}

/// Count, sum and average of a non-empty list of numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub sum: f64,
    pub avg: f64,
}

/// Why a task failed. Data, not a message string: the receiver `match`es on it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    #[error("division by zero")]
    DivByZero,
    #[error("cannot parse `{piece}`: {reason}")]
    Parse { piece: String, reason: &'static str },
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    #[error("the task panicked: {message}")]
    Panicked { message: String },
}

/// The worker's answer to one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The id the task was submitted with.
    pub id: TaskId,
    /// What the task produced, or why it failed.
    pub result: Result<Output, TaskError>,
    /// The thread that ran the task.
    pub thread: ThreadId,
}

/// How many tasks a worker has finished, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub succeeded: usize,
    pub failed: usize,
}

impl Tally {
    /// Counts one finished task.
    pub fn record<T, E>(&mut self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.succeeded += 1,
            Err(_) => self.failed += 1,
        }
    }
}

/// The six tasks of the course: ids 1, 3 and 5 succeed, 2, 4 and 6 fail.
pub fn reference_tasks() -> Vec<(TaskId, Task)> {
    vec![
        (1, Task::Divide { a: 10.0, b: 2.0 }),
        (2, Task::Divide { a: 10.0, b: 0.0 }),
        (3, Task::Parse("name=Ada,lang=rust".to_owned())),
        (4, Task::Parse("name=Ada,oops".to_owned())),
        (5, Task::Process(vec![1.0, 2.0, 3.0])),
        (6, Task::Process(Vec::new())),
    ]
}

/// `a / b`, refusing a zero divisor and non-finite operands.
pub fn divide(a: f64, b: f64) -> Result<f64, TaskError> {
    // TODO: non-finite operands are InvalidInput, a zero divisor is DivByZero.
    todo!("l1-ex04: divide a by b, with typed errors for a zero divisor and non-finite operands")
}

/// Reads `key=value,key=value` into a map, keys and values trimmed.
pub fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, TaskError> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    // TODO: split on ',', then each piece on its first '='; a piece with no '=', an empty
    // key or a repeated key is TaskError::Parse naming that piece.
    todo!("l1-ex04: parse key=value pairs into the map, or a Parse error naming the bad piece")
}

/// Count, sum and average of `numbers`, which must be non-empty and finite.
pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {
    // TODO: an empty list or a non-finite number is InvalidInput.
    todo!("l1-ex04: count, sum and average the numbers, rejecting empty or non-finite input")
}

/// Runs one task. A panic inside it becomes [`TaskError::Panicked`]; it never unwinds out.
pub fn run_task(task: Task) -> Result<Output, TaskError> {
    // TODO: match on the task and call divide, parse_pairs, process or the user code,
    // wrapping each answer in its Output variant; catch a panic and report it as
    // TaskError::Panicked with the panic's message.
    todo!("l1-ex04: run the task, turning a panic into TaskError::Panicked")
}

/// One long-lived worker thread serving tasks until it is shut down.
#[derive(Debug)]
pub struct TaskWorker {
    tasks: Sender<(TaskId, Task)>,
    replies: Receiver<Reply>,
    handle: JoinHandle<Tally>,
}

impl TaskWorker {
    /// Starts the worker thread, named [`WORKER_NAME`].
    ///
    /// # Errors
    /// If the thread cannot be spawned.
    pub fn spawn() -> io::Result<Self> {
        let (tasks, inbox) = crossbeam_channel::unbounded::<(TaskId, Task)>();
        let (outbox, replies) = crossbeam_channel::unbounded::<Reply>();

        // TODO: spawn a thread named WORKER_NAME that moves `inbox` and `outbox` in, runs
        // every task it receives with run_task, records it in a Tally, replies with the id,
        // the result and its own thread id, and returns the tally when the inbox closes.
        let handle: JoinHandle<Tally> =
            todo!("l1-ex04: spawn the worker thread that serves tasks until its inbox closes");

        Ok(Self {
            tasks,
            replies,
            handle,
        })
    }

    /// Queues a task; its reply comes later on [`replies`](Self::replies).
    ///
    /// # Errors
    /// If the worker thread has ended.
    pub fn submit(&self, id: TaskId, task: Task) -> anyhow::Result<()> {
        self.tasks
            .send((id, task))
            .map_err(|_| anyhow!("the task worker has stopped; task {id} was not queued"))
    }

    /// Where the worker's replies arrive, one per task, in the order it finished them.
    pub fn replies(&self) -> &Receiver<Reply> {
        &self.replies
    }

    /// The id of the worker thread.
    pub fn thread_id(&self) -> ThreadId {
        self.handle.thread().id()
    }

    /// Closes the inbox, waits for the worker to finish what it has queued, and returns its
    /// tally. Replies not yet received are dropped with the worker.
    ///
    /// # Errors
    /// If the worker thread panicked (outside a task: a task's panic is caught).
    pub fn shutdown(self) -> anyhow::Result<Tally> {
        let Self {
            tasks,
            replies,
            handle,
        } = self;
        // TODO: drop the task sender so the worker's loop ends, then join it and return its
        // tally; a panic of the worker thread is an error.
        todo!("l1-ex04: close the inbox, join the worker and return its tally")
    }
}
