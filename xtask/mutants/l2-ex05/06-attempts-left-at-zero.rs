//! Wrong answer (promise not kept): The outcome reports the attempts counted before the dispatch, 0, not how many times the task was dispatched.
//! # Exercise l2-ex05: monitored pool, 1: a supervisor and its workers
//!
//! **Goal.** The first of three steps to the Node exercise's monitored pool (l2-ex06 adds
//! crashed workers, l2-ex07 timeouts and a shutdown; each starts from this step's answer).
//! Here, a pool of 4 worker threads with one owner: a supervisor thread that alone holds the
//! queue, the list of workers and what each one runs. Nobody else touches that state: the
//! pool's handle and the workers only send messages to the supervisor's inbox. Each worker has
//! its own job channel, so the supervisor knows which worker runs which task, and hands a task
//! only to an idle worker. Every task gets an id and exactly one [`Outcome`], and every step
//! is written to a structured log. In Node the main thread plays the supervisor: its event
//! loop hears `worker.on('message')`, and `worker.postMessage` is the job channel.
//!
//! Build it on std threads and crossbeam channels (not `shared::WorkerPool`, which already
//! does much of this). [`MonitoredPool::new`], `submit`, `stats`, `events` and the pool's
//! `Drop` are written for you: read them first, they show what the supervisor receives.
//!
//! **Check your attempt:** `cargo exercise check l2-ex05`
//!
//! **What the tests expect**
//! - [`Task::run`]: `Fib(n)` is `fib(n)` (`Overflow` above 92, where it outgrows an `i64`);
//!   `Divide` is `a / b` or `DivByZero`; `Parse` reads a whole number or is `Parse`; `Hang`
//!   waits until its token is cancelled, then returns `Cancelled`; `Crash` panics; `Call` runs
//!   its closure.
//! - [`reference_tasks`] are the ten tasks of the Node exercise. With the course's `fib` 35, 36
//!   and 37 they give 9,227,465, 14,930,352 and 24,157,817. This step's pool runs the eight
//!   that neither hang nor crash (l2-ex06 runs the crash, l2-ex07 the hang), with `fib` 22, 23
//!   and 24 (17,711, 28,657 and 46,368). Ids are given by [`MonitoredPool::submit`]: 1, 2,
//!   3... in submission order. Every id gets exactly one [`Outcome`], and nothing more arrives.
//! - A task's own error (`DivByZero`, `Parse`, ...) is its answer: logged as
//!   [`Event::Failed`], never run again. `Outcome::attempts` is how many times the task was
//!   dispatched: 1 here.
//! - Tasks run on the workers (threads named `mon-worker-{id}`), never on the supervisor or
//!   the caller, one at a time per worker: while every worker is busy, the other tasks wait
//!   in the queue, and [`MonitoredPool::stats`] shows it.
//! - The log has, for each task and in this order, [`Event::Submitted`], [`Event::Dispatched`]
//!   (attempt 1, the worker that got it), then [`Event::Completed`] or [`Event::Failed`].
//! - A config with 0 workers is [`PoolError::InvalidConfig`].
//!
//! **Hints:** `cargo exercise hint l2-ex05` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::CancellationToken;
use shared::workload::{checked_fib, fib};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A task's id, given by [`MonitoredPool::submit`]: 1, 2, 3... in submission order.
pub type TaskId = u64;

/// A worker's id: 0 to `workers - 1`.
pub type WorkerId = usize;

/// The Node exercise's pool size.
pub const DEFAULT_WORKERS: usize = 4;

/// The Fibonacci inputs of the Node exercise's ten tasks.
pub const COURSE_FIB: [u32; 3] = [35, 36, 37];

/// How long [`MonitoredPool::stats`] waits for the supervisor's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Task::Hang`] waits between two looks at its token.
const HANG_SLICE: Duration = Duration::from_millis(10);

/// User code for [`Task::Call`]: it gets the attempt's token, which it may check.
pub type CallFn = Arc<dyn Fn(&CancellationToken) -> Result<i64, TaskError> + Send + Sync>;

/// A unit of work. `Clone`, so that a retry can run it again (l2-ex06).
#[derive(Clone)]
pub enum Task {
    /// `fib(n)`, the slow way: the CPU work.
    Fib(u32),
    /// `a / b`.
    Divide { a: i64, b: i64 },
    /// A whole number written as text (the Node task parses JSON).
    Parse(String),
    /// Never finishes by itself: it loops until its token is cancelled.
    Hang,
    /// Panics, which kills its worker thread (Node's `process.exit(1)` in a worker).
    Crash,
    /// Any other code; the tests use it for gates.
    Call(CallFn),
}

impl Task {
    /// A [`Task::Call`] of `f`.
    pub fn call(
        f: impl Fn(&CancellationToken) -> Result<i64, TaskError> + Send + Sync + 'static,
    ) -> Self {
        Self::Call(Arc::new(f))
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fib(n) => write!(f, "Fib({n})"),
            Self::Divide { a, b } => write!(f, "Divide({a} / {b})"),
            Self::Parse(text) => write!(f, "Parse({text:?})"),
            Self::Hang => f.write_str("Hang"),
            Self::Crash => f.write_str("Crash"),
            Self::Call(_) => f.write_str("Call(..)"),
        }
    }
}

/// Why a task has no value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    #[error("division by zero")]
    DivByZero,
    #[error("cannot read {input:?} as a whole number: {reason}")]
    Parse { input: String, reason: String },
    #[error("the answer does not fit in an i64")]
    Overflow,
    #[error("the task saw its cancellation token and stopped")]
    Cancelled,
}

/// The one final word on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: TaskId,
    pub result: Result<i64, TaskError>,
    /// How many times the task was dispatched to a worker: 1 here (retries come in l2-ex06).
    pub attempts: u32,
}

/// What the supervisor saw. `attempt` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The supervisor queued the task.
    Submitted { id: TaskId },
    /// A worker got the task.
    Dispatched {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
    },
    /// The attempt returned a value.
    Completed {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
    },
    /// The attempt returned the task's own error, which is its answer.
    Failed {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
        error: TaskError,
    },
}

/// One line of the log: when, since the pool started, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: Duration,
    pub event: Event,
}

/// The pool's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// How many workers the pool runs.
    pub workers: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_WORKERS,
        }
    }
}

/// The pool's health, as the supervisor sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads that are running.
    pub live_workers: usize,
    /// Workers running an attempt.
    pub busy_workers: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    pub completed: u64,
    pub failed: u64,
}

/// Why the pool could not start or answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PoolError {
    #[error("invalid pool configuration: {0}")]
    InvalidConfig(String),
    #[error("could not start a thread: {0}")]
    Spawn(String),
    #[error("the pool's supervisor is gone")]
    Closed,
    #[error("the supervisor did not answer within {REPLY_TIMEOUT:?}")]
    NoAnswer,
}

impl Task {
    /// Runs the task on the calling thread. `token` is this attempt's: a task that may run
    /// long checks it and returns [`TaskError::Cancelled`] once it is cancelled.
    ///
    /// # Errors
    /// The task's own error; [`TaskError::Cancelled`] from `Hang` once `token` is cancelled.
    ///
    /// # Panics
    /// `Crash` always panics: that is its job.
    pub fn run(&self, token: &CancellationToken) -> Result<i64, TaskError> {
        match self {
            Self::Fib(n) => {
                // Checked with the fast form first, so an input that overflows is an error,
                // not a panic inside `fib`.
                checked_fib(*n)
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or(TaskError::Overflow)?;
                i64::try_from(fib(*n)).map_err(|_| TaskError::Overflow)
            }
            Self::Divide { a, b } => {
                if *b == 0 {
                    return Err(TaskError::DivByZero);
                }
                // `i64::MIN / -1` is the one other division that does not fit.
                a.checked_div(*b).ok_or(TaskError::Overflow)
            }
            Self::Parse(text) => text.trim().parse::<i64>().map_err(|e| TaskError::Parse {
                input: text.clone(),
                reason: e.to_string(),
            }),
            Self::Hang => {
                // An endless loop that looks at its token between slices: the only kind of
                // hang a Rust pool can stop. Waiting on the token, instead of spinning, keeps
                // a hung test from burning a core.
                while !token.wait_timeout(HANG_SLICE) {}
                Err(TaskError::Cancelled)
            }
            Self::Crash => panic!("this task crashes its worker (Node's `process.exit(1)`)"),
            Self::Call(f) => f(token),
        }
    }
}

/// The ten tasks of the Node exercise, in its order, with `fib` inputs `fib[0]`, `fib[1]` and
/// `fib[2]` in place of its 35, 36 and 37 ([`COURSE_FIB`]).
pub fn reference_tasks(fib: [u32; 3]) -> Vec<Task> {
    vec![
        Task::Fib(fib[0]),
        Task::Fib(fib[1]),
        Task::Divide { a: 10, b: 2 },
        Task::Divide { a: 10, b: 0 },
        Task::Fib(fib[2]),
        Task::Hang,
        Task::Crash,
        Task::Fib(fib[0]),
        Task::Parse("{ not json".to_owned()),
        Task::Fib(fib[1]),
    ]
}

/// One attempt, as sent to a worker.
#[derive(Debug)]
struct Job {
    id: TaskId,
    attempt: u32,
    task: Task,
    token: CancellationToken,
}

/// Everything the supervisor hears, from the pool's handle and from the workers.
#[derive(Debug)]
enum Message {
    Submit {
        id: TaskId,
        task: Task,
    },
    Done {
        worker: WorkerId,
        id: TaskId,
        attempt: u32,
        result: Result<i64, TaskError>,
    },
    Stats(Sender<PoolStats>),
    /// The pool's handle is going: stop supervising.
    Shutdown,
}

/// A worker thread: runs the jobs the supervisor sends, reports each result, and ends when
/// its job channel closes.
fn work(worker: WorkerId, jobs: Receiver<Job>, inbox: Sender<Message>) {
    for job in jobs {
        let result = job.task.run(&job.token);
        let done = Message::Done {
            worker,
            id: job.id,
            attempt: job.attempt,
            result,
        };
        if inbox.send(done).is_err() {
            break;
        }
    }
}

/// A task waiting for a worker.
#[derive(Debug)]
struct Pending {
    id: TaskId,
    task: Task,
    /// Dispatches so far.
    attempts: u32,
}

/// The attempt a worker is running.
#[derive(Debug)]
struct Running {
    id: TaskId,
    attempt: u32,
}

/// A worker as the supervisor knows it.
#[derive(Debug)]
struct WorkerSlot {
    id: WorkerId,
    jobs: Sender<Job>,
    thread: JoinHandle<()>,
    running: Option<Running>,
}

/// The only owner of the pool's state; runs on its own thread.
#[derive(Debug)]
struct Supervisor {
    /// A sender into its own inbox, cloned for every worker.
    inbox_tx: Sender<Message>,
    inbox: Receiver<Message>,
    outcomes: Sender<Outcome>,
    log: Arc<Mutex<Vec<LogEntry>>>,
    started: Instant,
    queue: VecDeque<Pending>,
    workers: Vec<WorkerSlot>,
    next_worker: WorkerId,
    stats: PoolStats,
}

impl Supervisor {
    /// Appends an event to the log, stamped now.
    fn log(&self, event: Event) {
        self.log_at(Instant::now(), event);
    }

    /// Appends an event to the log, stamped `at`.
    fn log_at(&self, at: Instant, event: Event) {
        let entry = LogEntry {
            at: at.duration_since(self.started),
            event,
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// Starts one worker thread with a new id.
    fn start_worker(&mut self) -> Result<WorkerId, PoolError> {
        let id = self.next_worker;
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(1);
        let inbox = self.inbox_tx.clone();
        let thread = thread::Builder::new()
            .name(format!("mon-worker-{id}"))
            .spawn(move || work(id, jobs_rx, inbox))
            .map_err(|e| PoolError::Spawn(e.to_string()))?;
        self.next_worker += 1;
        self.workers.push(WorkerSlot {
            id,
            jobs: jobs_tx,
            thread,
            running: None,
        });
        Ok(id)
    }

    /// The supervisor's loop: one message at a time.
    fn run(mut self) {
        // Ends when the pool's handle sends `Shutdown`; the inbox cannot close while
        // `self.inbox_tx` lives.
        while let Ok(message) = self.inbox.recv() {
            match message {
                Message::Submit { id, task } => {
                    self.log(Event::Submitted { id });
                    self.queue.push_back(Pending {
                        id,
                        task,
                        attempts: 0,
                    });
                }
                Message::Done {
                    worker,
                    id,
                    attempt,
                    result,
                } => self.on_done(worker, id, attempt, result),
                Message::Stats(reply) => {
                    let _ = reply.send(self.current_stats());
                }
                // Dropping `self` closes every job channel: each worker ends after its
                // current task.
                Message::Shutdown => return,
            }
            self.dispatch();
        }
    }

    /// Hands queued tasks to idle workers, oldest first.
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            let Some(slot) = self.workers.iter().position(|w| w.running.is_none()) else {
                return;
            };
            let Some(pending) = self.queue.pop_front() else {
                return;
            };
            let attempt = pending.attempts + 1;
            let job = Job {
                id: pending.id,
                attempt,
                task: pending.task.clone(),
                token: CancellationToken::new(),
            };
            let worker = &mut self.workers[slot];
            // An idle worker's channel is empty, so this cannot block. It fails only if the
            // worker thread has ended (l2-ex06 deals with that): the task then waits at the
            // head of the queue.
            if worker.jobs.try_send(job).is_err() {
                self.queue.push_front(pending);
                return;
            }
            let worker_id = worker.id;
            worker.running = Some(Running {
                id: pending.id,
                attempt,
            });
            self.log(Event::Dispatched {
                id: pending.id,
                attempt,
                worker: worker_id,
            });
        }
    }

    /// A worker finished an attempt.
    fn on_done(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        attempt: u32,
        result: Result<i64, TaskError>,
    ) {
        let Some(slot) = self.workers.iter_mut().find(|w| w.id == worker) else {
            return;
        };
        let Some(running) = slot.running.take() else {
            return;
        };
        debug_assert_eq!((running.id, running.attempt), (id, attempt));
        match &result {
            Ok(_) => {
                self.stats.completed += 1;
                self.log(Event::Completed {
                    id,
                    attempt,
                    worker,
                });
            }
            Err(error) => {
                self.stats.failed += 1;
                self.log(Event::Failed {
                    id,
                    attempt,
                    worker,
                    error: error.clone(),
                });
            }
        }
        // A task's own error is its answer: running it again would give the same one.
        self.finish(id, result, attempt - 1);
    }

    /// Sends a task's one final outcome.
    fn finish(&self, id: TaskId, result: Result<i64, TaskError>, attempts: u32) {
        // Nobody listening is no reason to stop supervising.
        let _ = self.outcomes.send(Outcome {
            id,
            result,
            attempts,
        });
    }

    fn current_stats(&self) -> PoolStats {
        PoolStats {
            live_workers: self
                .workers
                .iter()
                .filter(|w| !w.thread.is_finished())
                .count(),
            busy_workers: self.workers.iter().filter(|w| w.running.is_some()).count(),
            queued: self.queue.len(),
            ..self.stats
        }
    }
}

/// A pool of worker threads watched by a supervisor thread.
#[derive(Debug)]
pub struct MonitoredPool {
    inbox: Sender<Message>,
    outcomes: Receiver<Outcome>,
    log: Arc<Mutex<Vec<LogEntry>>>,
    next_id: AtomicU64,
    supervisor: Option<JoinHandle<()>>,
}

impl MonitoredPool {
    /// Starts `config.workers` workers and the supervisor.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] for 0 workers;
    /// [`PoolError::Spawn`] if a thread cannot start.
    pub fn new(config: PoolConfig) -> Result<Self, PoolError> {
        if config.workers == 0 {
            return Err(PoolError::InvalidConfig("a pool needs a worker".into()));
        }
        let (inbox_tx, inbox) = crossbeam_channel::unbounded();
        let (outcomes_tx, outcomes) = crossbeam_channel::unbounded();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor {
            inbox_tx: inbox_tx.clone(),
            inbox,
            outcomes: outcomes_tx,
            log: Arc::clone(&log),
            started: Instant::now(),
            queue: VecDeque::new(),
            workers: Vec::with_capacity(config.workers),
            next_worker: 0,
            stats: PoolStats::default(),
        };
        // Started here, so a failure is the caller's error. On failure, dropping
        // `supervisor` closes the job channels and the workers already started end.
        for _ in 0..config.workers {
            supervisor.start_worker()?;
        }
        let supervisor = thread::Builder::new()
            .name("mon-supervisor".to_owned())
            .spawn(move || supervisor.run())
            .map_err(|e| PoolError::Spawn(e.to_string()))?;
        Ok(Self {
            inbox: inbox_tx,
            outcomes,
            log,
            next_id: AtomicU64::new(1),
            supervisor: Some(supervisor),
        })
    }

    /// Queues `task` and returns its id. Its [`Outcome`] arrives on [`outcomes`](Self::outcomes).
    ///
    /// # Errors
    /// [`PoolError::Closed`] if the supervisor has ended.
    pub fn submit(&self, task: Task) -> Result<TaskId, PoolError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.inbox
            .send(Message::Submit { id, task })
            .map_err(|_| PoolError::Closed)?;
        Ok(id)
    }

    /// Where every task's one [`Outcome`] arrives, in the order they are settled.
    pub fn outcomes(&self) -> &Receiver<Outcome> {
        &self.outcomes
    }

    /// A copy of the log so far.
    pub fn events(&self) -> Vec<LogEntry> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The supervisor's counts and the live workers, now.
    ///
    /// # Errors
    /// [`PoolError::Closed`] if the supervisor has ended, [`PoolError::NoAnswer`] if it does
    /// not answer within [`REPLY_TIMEOUT`].
    pub fn stats(&self) -> Result<PoolStats, PoolError> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.inbox
            .send(Message::Stats(reply))
            .map_err(|_| PoolError::Closed)?;
        answer.recv_timeout(REPLY_TIMEOUT).map_err(|e| match e {
            RecvTimeoutError::Timeout => PoolError::NoAnswer,
            RecvTimeoutError::Disconnected => PoolError::Closed,
        })
    }
}

impl Drop for MonitoredPool {
    /// Tells the supervisor to stop, and waits for it: it returns at once, closing the job
    /// channels, and each worker ends after its current task. (l2-ex07 makes this a shutdown
    /// that settles every task and keeps a deadline.)
    fn drop(&mut self) {
        if let Some(supervisor) = self.supervisor.take()
            && self.inbox.send(Message::Shutdown).is_ok()
        {
            let _ = supervisor.join();
        }
    }
}
