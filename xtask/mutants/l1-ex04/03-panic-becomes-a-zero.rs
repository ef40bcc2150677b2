//! Wrong answer (swallowed panic): `run_task` turns a panic in user code into the value 0, a success, instead of `TaskError::Panicked`.
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
    // JavaScript's `10 / 0` is `Infinity`, not an error; here the check is explicit.
    if !a.is_finite() || !b.is_finite() {
        return Err(TaskError::InvalidInput {
            reason: format!("{a} / {b}: operands must be finite"),
        });
    }
    if b == 0.0 {
        return Err(TaskError::DivByZero);
    }
    Ok(a / b)
}

/// Reads `key=value,key=value` into a map, keys and values trimmed.
pub fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, TaskError> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for piece in text.split(',') {
        let bad = |reason| TaskError::Parse {
            piece: piece.to_owned(),
            reason,
        };
        let (key, value) = piece.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("empty key"));
        }
        if map
            .insert(key.to_owned(), value.trim().to_owned())
            .is_some()
        {
            return Err(bad("duplicate key"));
        }
    }
    Ok(map)
}

/// Count, sum and average of `numbers`, which must be non-empty and finite.
pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {
    if numbers.is_empty() {
        return Err(TaskError::InvalidInput {
            reason: "no numbers to process".to_owned(),
        });
    }
    if let Some(bad) = numbers.iter().find(|x| !x.is_finite()) {
        return Err(TaskError::InvalidInput {
            reason: format!("{bad} is not a finite number"),
        });
    }
    let count = numbers.len();
    let sum: f64 = numbers.iter().sum();
    Ok(Stats {
        count,
        sum,
        avg: sum / count as f64,
    })
}

/// Runs one task. A panic inside it becomes [`TaskError::Panicked`]; it never unwinds out.
pub fn run_task(task: Task) -> Result<Output, TaskError> {
    // `AssertUnwindSafe`: the closure owns its task and shares nothing with the worker, so no
    // half-updated state can be seen after a panic.
    panic::catch_unwind(AssertUnwindSafe(|| match task {
        Task::Divide { a, b } => divide(a, b).map(Output::Quotient),
        Task::Parse(text) => parse_pairs(&text).map(Output::Map),
        Task::Process(numbers) => process(&numbers).map(Output::Stats),
        Task::Call(user_code) => Ok(Output::Value(user_code())),
    }))
    .unwrap_or(Ok(Output::Value(0)))
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

        let handle = thread::Builder::new()
            .name(WORKER_NAME.to_owned())
            .spawn(move || {
                let thread = thread::current().id();
                let mut tally = Tally::default();
                // Ends when every sender is dropped: that is the shutdown signal.
                for (id, task) in inbox {
                    let result = run_task(task);
                    tally.record(&result);
                    // Nobody listening any more is no reason to stop counting: keep serving.
                    let _ = outbox.send(Reply { id, result, thread });
                }
                tally
            })?;

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
        drop(tasks);
        drop(replies);
        handle
            .join()
            .map_err(|payload| anyhow!("the task worker panicked: {}", panic_message(&*payload)))
    }
}
