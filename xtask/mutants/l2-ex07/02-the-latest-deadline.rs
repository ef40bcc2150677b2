//! Wrong answer (promise not kept): The supervisor waits until the latest deadline of the running attempts, not the earliest, so an early one times out late.
//! # Exercise l2-ex07: monitored pool, 3: timeouts and a shutdown that keeps its deadline
//!
//! **Goal.** The last step of the monitored pool: this file is l2-ex06's answer plus what is
//! new. Each attempt at a task has a time limit counted from its **dispatch** (the moment a
//! worker gets it, not when it was queued); a timed-out attempt is cancelled through its
//! `CancellationToken` and retried like a crash, at most `max_attempts` attempts in all; and
//! `shutdown(deadline)` settles every task and returns within its deadline even if a task
//! never stops. The Node exercise does this with `setTimeout` and `terminate()`, and gets it
//! wrong twice: its timers start when a task is *queued*, so tasks waiting behind slow ones
//! "time out" before they have run, and its crash handler re-creates the workers that
//! `terminate()` ends, so it never exits. Rust cannot kill a thread, so the hang must be
//! cooperative: it checks its token and returns.
//!
//! Written for you: the supervisor's [`Clock`], which it reads the time from and waits on (the
//! real one, or in the tests a manual one that moves only when the test moves it), each running
//! attempt's token and `deadline` (set in `dispatch`, from the very clock reading its
//! [`Event::Dispatched`] is stamped with), a late answer from an attempt that has timed out is
//! ignored (`timed_out`), and the handle's side of the shutdown (`stop`), which waits for the
//! supervisor's report no longer than the deadline. Your part is the supervisor's side.
//!
//! **Check your attempt:** `cargo exercise check l2-ex07`
//!
//! **What the tests expect**
//! - [`reference_tasks`] are the ten tasks of the Node exercise; the ten-task test uses `fib`
//!   22, 23 and 24 (17,711, 28,657 and 46,368) and a 2 s limit, so that a debug build on a
//!   busy 2-core machine never comes near it. Task 3 gives 5, task 4 `DivByZero`, task 9
//!   `Parse`, task 6 `Timeout` after exactly `max_attempts` attempts, task 7 `WorkerCrashed`
//!   after `max_attempts` attempts; every id gets exactly one [`Outcome`], and nothing more
//!   arrives.
//! - A timeout, like a crash, is retried to the back of the queue until `max_attempts`
//!   dispatches, then is the outcome `Timeout`; a task's own error is not retried.
//! - Timeouts count from dispatch: on a pool of 1, quick tasks queued behind a hang wait longer
//!   than the limit and still complete on their first attempt, while the hang times out.
//!   Every [`Event::TimedOut`] is logged at least `timeout` after its [`Event::Dispatched`]
//!   (the tests allow 5 ms of slack). A timed-out worker stays busy until its task returns.
//! - The supervisor waits until the earliest deadline of the attempts running, whatever
//!   messages came in between: on a manual [`Clock`], each attempt times out when the clock
//!   reaches its deadline, not a limit after the last message. Every time the supervisor reads
//!   for the limits, and every wait for one, goes through its clock (a shutdown's deadline is
//!   the caller's, on the real clock).
//! - [`MonitoredPool::shutdown`] gives every task still queued or running the outcome
//!   `ShutDown`, cancels the running ones, joins the workers that stop, and returns by its
//!   deadline even when a task ignores its token (that worker is left behind and counted).
//! - A config with 0 workers, 0 attempts or a zero timeout is [`PoolError::InvalidConfig`].
//!
//! **Hints:** `cargo exercise hint l2-ex07` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use shared::CancellationToken;
use shared::testing::panic_message;
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

/// A worker's id: 0 to `workers - 1` at the start, then one new id per replacement.
pub type WorkerId = usize;

/// The Node exercise's pool size.
pub const DEFAULT_WORKERS: usize = 4;

/// The Node exercise's hang detection: 5 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One attempt and at most two retries, as in the Node solution.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The Fibonacci inputs of the Node exercise's ten tasks.
pub const COURSE_FIB: [u32; 3] = [35, 36, 37];

/// How long [`MonitoredPool::stats`] waits for the supervisor's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Task::Hang`] waits between two looks at its token.
const HANG_SLICE: Duration = Duration::from_millis(10);

/// The deadline `Drop` gives a pool that was not shut down.
const DROP_DEADLINE: Duration = Duration::from_secs(1);

/// User code for [`Task::Call`]: it gets the attempt's token, which it may check.
pub type CallFn = Arc<dyn Fn(&CancellationToken) -> Result<i64, TaskError> + Send + Sync>;

/// A unit of work. `Clone`, so that a retry can run it again.
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
    #[error("no attempt finished within {limit:?} of its dispatch")]
    Timeout { limit: Duration },
    #[error("the worker running the task crashed: {message}")]
    WorkerCrashed { message: String },
    #[error("the pool shut down before the task finished")]
    ShutDown,
}

/// The one final word on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: TaskId,
    pub result: Result<i64, TaskError>,
    /// How many times the task was dispatched to a worker (0 if it never was).
    pub attempts: u32,
}

/// What the supervisor saw. `attempt` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The supervisor queued the task.
    Submitted { id: TaskId },
    /// A worker got the task: its time limit starts now.
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
    /// The attempt returned the task's own error, which is final.
    Failed {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
        error: TaskError,
    },
    /// The attempt overran its limit; its token was cancelled.
    TimedOut {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
    },
    /// The task went back to the queue for another attempt.
    Retried { id: TaskId, next_attempt: u32 },
    /// The attempt panicked and took its worker thread down.
    Crashed {
        id: TaskId,
        attempt: u32,
        worker: WorkerId,
        message: String,
    },
    /// A new worker took the place of a dead one.
    WorkerReplaced { crashed: WorkerId, by: WorkerId },
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
    /// How many workers the pool keeps alive.
    pub workers: usize,
    /// The time limit of one attempt, from its dispatch.
    pub timeout: Duration,
    /// The most dispatches of one task, the first included.
    pub max_attempts: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_WORKERS,
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// The pool's health, as the supervisor sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads that are running (a crashed one no longer counts).
    pub live_workers: usize,
    /// Workers running an attempt, timed-out ones that have not returned yet included.
    pub busy_workers: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    pub completed: u64,
    pub failed: u64,
    pub timeouts: u64,
    pub retries: u64,
    pub crashes: u64,
}

/// What [`MonitoredPool::shutdown`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks that got the outcome `ShutDown`: queued ones, and running ones that had not
    /// finished by the deadline or stopped because they were cancelled.
    pub unfinished: usize,
    /// Worker threads that ended and were joined.
    pub workers_joined: usize,
    /// Worker threads still running at the deadline, left behind (Rust cannot kill them).
    pub workers_abandoned: usize,
    /// Whether the supervisor answered by the deadline; if not, the other counts are 0.
    pub answered: bool,
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

/// Where the supervisor reads the time and waits for it. A pool made by
/// [`MonitoredPool::new`] runs on [`Clock::real`]; a test can give
/// [`MonitoredPool::with_clock`] a [`Clock::manual`], whose time moves only when
/// [`Clock::advance`] moves it, so that when a timeout fires does not depend on how the
/// threads happen to be scheduled.
#[derive(Debug, Clone)]
pub struct Clock {
    manual: Option<Arc<ManualTime>>,
}

/// A manual clock's time, and a channel that wakes a wait on the clock when it moves.
#[derive(Debug)]
struct ManualTime {
    start: Instant,
    elapsed: Mutex<Duration>,
    moved_tx: Sender<()>,
    moved: Receiver<()>,
}

impl Clock {
    /// The system's clock.
    pub fn real() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still until [`advance`](Self::advance) moves it.
    pub fn manual() -> Self {
        let (moved_tx, moved) = crossbeam_channel::unbounded();
        Self {
            manual: Some(Arc::new(ManualTime {
                start: Instant::now(),
                elapsed: Mutex::new(Duration::ZERO),
                moved_tx,
                moved,
            })),
        }
    }

    /// Moves a manual clock forward by `by`, and wakes a [`recv_deadline`](Self::recv_deadline)
    /// waiting on it.
    ///
    /// # Panics
    /// On the real clock, which nobody moves.
    pub fn advance(&self, by: Duration) {
        let manual = self
            .manual
            .as_ref()
            .expect("only a manual clock can be moved");
        *manual
            .elapsed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += by;
        let _ = manual.moved_tx.send(());
    }

    /// The time now, on this clock.
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(manual) => {
                manual.start
                    + *manual
                        .elapsed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
            }
        }
    }

    /// `rx.recv_deadline(deadline)` on this clock: the next message, or
    /// `Err(RecvTimeoutError::Timeout)` once this clock reads `deadline` or later.
    ///
    /// # Errors
    /// `Timeout` when the deadline comes first; `Disconnected` when `rx` is empty and closed.
    pub fn recv_deadline<T>(
        &self,
        rx: &Receiver<T>,
        deadline: Instant,
    ) -> Result<T, RecvTimeoutError> {
        let Some(manual) = &self.manual else {
            return rx.recv_deadline(deadline);
        };
        loop {
            // A message already waiting comes first, as with the real clock.
            match rx.try_recv() {
                Ok(message) => return Ok(message),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            if self.now() >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            // Wakes for a message, or when the clock moves: then look at the time again.
            crossbeam_channel::select! {
                recv(rx) -> message => {
                    return message.map_err(|_| RecvTimeoutError::Disconnected);
                }
                recv(manual.moved) -> _ => {}
            }
        }
    }
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
    Exited {
        worker: WorkerId,
        panicked: bool,
    },
    Stats(Sender<PoolStats>),
    Shutdown {
        deadline: Instant,
        reply: Sender<ShutdownReport>,
    },
}

/// Owned by each worker thread; its `Drop` tells the supervisor the thread is ending, also
/// when a task's panic unwinds it. That message is the Rust `worker.on('exit')`.
#[derive(Debug)]
struct ExitNotice {
    worker: WorkerId,
    inbox: Sender<Message>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.inbox.send(Message::Exited {
            worker: self.worker,
            panicked: thread::panicking(),
        });
    }
}

/// A worker thread: runs the jobs the supervisor sends, reports each result, and ends when
/// its job channel closes. A panicking task ends the thread; `ExitNotice` reports it.
fn work(worker: WorkerId, jobs: Receiver<Job>, inbox: Sender<Message>) {
    let _notice = ExitNotice {
        worker,
        inbox: inbox.clone(),
    };
    for job in jobs {
        // No `catch_unwind`: a crash kills this thread, as in Node, and the supervisor
        // replaces it.
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
    task: Task,
    token: CancellationToken,
    deadline: Instant,
    /// Already settled by a timeout: whatever the worker reports is ignored.
    timed_out: bool,
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
    config: PoolConfig,
    /// A sender into its own inbox, cloned for every new worker.
    inbox_tx: Sender<Message>,
    inbox: Receiver<Message>,
    outcomes: Sender<Outcome>,
    log: Arc<Mutex<Vec<LogEntry>>>,
    /// Where every time the supervisor uses is read, and every wait for a deadline waits.
    clock: Clock,
    started: Instant,
    queue: VecDeque<Pending>,
    workers: Vec<WorkerSlot>,
    next_worker: WorkerId,
    stats: PoolStats,
}

impl Supervisor {
    /// Appends an event to the log, stamped now.
    fn log(&self, event: Event) {
        self.log_at(self.clock.now(), event);
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

    /// The supervisor's loop: one message, or one deadline, at a time.
    fn run(mut self) {
        loop {
            match self.next_message() {
                Ok(Message::Submit { id, task }) => {
                    self.log(Event::Submitted { id });
                    self.queue.push_back(Pending {
                        id,
                        task,
                        attempts: 0,
                    });
                }
                Ok(Message::Done {
                    worker,
                    id,
                    attempt,
                    result,
                }) => self.on_done(worker, id, attempt, result),
                Ok(Message::Exited { worker, panicked }) => self.on_exited(worker, panicked),
                Ok(Message::Stats(reply)) => {
                    let _ = reply.send(self.current_stats());
                }
                Ok(Message::Shutdown { deadline, reply }) => {
                    let report = self.shut_down(deadline);
                    let _ = reply.send(report);
                    return;
                }
                // A deadline passed: `check_timeouts` below deals with it.
                Err(RecvTimeoutError::Timeout) => {}
                // Cannot happen while `self.inbox_tx` lives; end rather than spin.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.check_timeouts(self.clock.now());
            self.dispatch();
        }
    }

    /// Waits for the next message, but not past the earliest deadline of a running attempt
    /// that has not timed out yet: `Err(Timeout)` when that deadline comes first.
    fn next_message(&self) -> Result<Message, RecvTimeoutError> {
        let next_deadline = self
            .workers
            .iter()
            .filter_map(|w| w.running.as_ref())
            .filter(|r| !r.timed_out)
            .map(|r| r.deadline)
            .max();
        match next_deadline {
            Some(deadline) => self.clock.recv_deadline(&self.inbox, deadline),
            None => self
                .inbox
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    /// Hands queued tasks to idle workers, oldest first. The time limit starts here.
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            let Some(slot) = self.workers.iter().position(|w| w.running.is_none()) else {
                return;
            };
            let Some(pending) = self.queue.pop_front() else {
                return;
            };
            let attempt = pending.attempts + 1;
            let token = CancellationToken::new();
            let job = Job {
                id: pending.id,
                attempt,
                task: pending.task.clone(),
                token: token.clone(),
            };
            let worker = &mut self.workers[slot];
            // An idle worker's channel is empty, so this cannot block. It fails only if the
            // worker thread has ended; its exit message is on the way, and `on_exited` will
            // replace it. Until then, the task waits at the head of the queue.
            if worker.jobs.try_send(job).is_err() {
                self.queue.push_front(pending);
                return;
            }
            // One clock reading for both the deadline and the log, so the log shows exactly
            // when the limit started.
            let dispatched = self.clock.now();
            let worker_id = worker.id;
            worker.running = Some(Running {
                id: pending.id,
                attempt,
                task: pending.task,
                token,
                deadline: dispatched + self.config.timeout,
                timed_out: false,
            });
            self.log_at(
                dispatched,
                Event::Dispatched {
                    id: pending.id,
                    attempt,
                    worker: worker_id,
                },
            );
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
        if running.timed_out {
            // Settled already; the worker is free again, which is all this report means.
            return;
        }
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
        self.finish(id, result, attempt);
    }

    /// A worker thread ended: during normal work that is a crash. Replace it.
    fn on_exited(&mut self, worker: WorkerId, panicked: bool) {
        let Some(index) = self.workers.iter().position(|w| w.id == worker) else {
            return;
        };
        let dead = self.workers.remove(index);
        // The thread has sent its last message and is ending: this join is short.
        let message = match dead.thread.join() {
            Err(payload) => panic_message(payload.as_ref()),
            Ok(()) if panicked => "the worker panicked".to_owned(),
            Ok(()) => "the worker thread ended".to_owned(),
        };
        if let Some(running) = &dead.running {
            self.stats.crashes += 1;
            self.log(Event::Crashed {
                id: running.id,
                attempt: running.attempt,
                worker,
                message: message.clone(),
            });
        }
        if let Ok(by) = self.start_worker() {
            self.log(Event::WorkerReplaced {
                crashed: worker,
                by,
            });
        }
        // If the spawn failed the pool runs one short; `stats` shows it.
        if let Some(running) = dead.running
            && !running.timed_out
        {
            let error = TaskError::WorkerCrashed { message };
            self.retry_or_finish(running.id, running.task, running.attempt, error);
        }
    }

    /// Cancels and settles every attempt whose deadline has passed.
    fn check_timeouts(&mut self, now: Instant) {
        let mut expired = Vec::new();
        for slot in &mut self.workers {
            if let Some(running) = &mut slot.running
                && !running.timed_out
                && running.deadline <= now
            {
                running.timed_out = true;
                running.token.cancel();
                expired.push((slot.id, running.id, running.attempt, running.task.clone()));
            }
        }
        for (worker, id, attempt, task) in expired {
            self.stats.timeouts += 1;
            self.log(Event::TimedOut {
                id,
                attempt,
                worker,
            });
            let limit = self.config.timeout;
            self.retry_or_finish(id, task, attempt, TaskError::Timeout { limit });
        }
    }

    /// After a timeout or a crash: queue the task again, or give it its final outcome.
    fn retry_or_finish(&mut self, id: TaskId, task: Task, attempt: u32, error: TaskError) {
        if attempt < self.config.max_attempts {
            self.stats.retries += 1;
            self.log(Event::Retried {
                id,
                next_attempt: attempt + 1,
            });
            // To the back: a task that keeps failing does not hold up the others.
            self.queue.push_back(Pending {
                id,
                task,
                attempts: attempt,
            });
        } else {
            self.finish(id, Err(error), attempt);
        }
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

    /// Ends the pool by `deadline`: queued tasks are settled as `ShutDown`, running ones are
    /// cancelled, the workers are told to stop, and the ones that stop in time are joined.
    fn shut_down(mut self, deadline: Instant) -> ShutdownReport {
        let mut report = ShutdownReport {
            answered: true,
            ..ShutdownReport::default()
        };
        for pending in std::mem::take(&mut self.queue) {
            self.finish(pending.id, Err(TaskError::ShutDown), pending.attempts);
            report.unfinished += 1;
        }
        // Ask every running attempt to stop, and close every job channel: a worker leaves its
        // loop once its current task returns.
        let mut left: Vec<(WorkerId, JoinHandle<()>, Option<Running>)> = Vec::new();
        for slot in std::mem::take(&mut self.workers) {
            if let Some(running) = &slot.running {
                running.token.cancel();
            }
            drop(slot.jobs);
            left.push((slot.id, slot.thread, slot.running));
        }
        // Answer a little before the caller's deadline, so the answer reaches it in time.
        let now = Instant::now();
        let until = now + deadline.saturating_duration_since(now).mul_f64(0.9);
        while !left.is_empty() {
            let message = match self.inbox.recv_deadline(until) {
                Ok(message) => message,
                Err(_) => break,
            };
            match message {
                Message::Done {
                    worker,
                    id,
                    attempt,
                    result,
                } => {
                    let Some(entry) = left.iter_mut().find(|(w, ..)| *w == worker) else {
                        continue;
                    };
                    let Some(running) = entry.2.take() else {
                        continue;
                    };
                    if running.timed_out {
                        continue;
                    }
                    // A value that arrived in time is kept; a task that stopped because it
                    // was cancelled did not finish.
                    let result = match result {
                        Err(TaskError::Cancelled) => {
                            report.unfinished += 1;
                            Err(TaskError::ShutDown)
                        }
                        other => other,
                    };
                    self.finish(id, result, attempt);
                }
                Message::Exited { worker, .. } => {
                    let Some(index) = left.iter().position(|(w, ..)| *w == worker) else {
                        continue;
                    };
                    let (_, thread, running) = left.swap_remove(index);
                    let message = match thread.join() {
                        Err(payload) => panic_message(payload.as_ref()),
                        Ok(()) => "the worker thread ended".to_owned(),
                    };
                    report.workers_joined += 1;
                    if let Some(running) = running
                        && !running.timed_out
                    {
                        self.stats.crashes += 1;
                        self.log(Event::Crashed {
                            id: running.id,
                            attempt: running.attempt,
                            worker,
                            message: message.clone(),
                        });
                        self.finish(
                            running.id,
                            Err(TaskError::WorkerCrashed { message }),
                            running.attempt,
                        );
                    }
                }
                Message::Submit { id, .. } => {
                    self.finish(id, Err(TaskError::ShutDown), 0);
                    report.unfinished += 1;
                }
                Message::Stats(reply) => {
                    let _ = reply.send(self.current_stats());
                }
                Message::Shutdown { reply, .. } => {
                    let _ = reply.send(report);
                }
            }
        }
        // Whoever is still running at the deadline is left behind: dropping a `JoinHandle`
        // detaches the thread. Its task, if not settled yet, did not finish.
        for (_, _thread, running) in left {
            report.workers_abandoned += 1;
            if let Some(running) = running
                && !running.timed_out
            {
                self.finish(running.id, Err(TaskError::ShutDown), running.attempt);
                report.unfinished += 1;
            }
        }
        report
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
    /// Starts `config.workers` workers and the supervisor, on the real clock.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] for 0 workers, 0 attempts or a zero timeout;
    /// [`PoolError::Spawn`] if a thread cannot start.
    pub fn new(config: PoolConfig) -> Result<Self, PoolError> {
        Self::with_clock(config, Clock::real())
    }

    /// [`new`](Self::new), with the time limits kept on `clock`. (The deadline of
    /// [`shutdown`](Self::shutdown) is always on the real clock: it is the caller's.)
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_clock(config: PoolConfig, clock: Clock) -> Result<Self, PoolError> {
        if config.workers == 0 {
            return Err(PoolError::InvalidConfig("a pool needs a worker".into()));
        }
        if config.max_attempts == 0 {
            return Err(PoolError::InvalidConfig(
                "max_attempts must be at least 1".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(PoolError::InvalidConfig(
                "a zero timeout would time out every task".into(),
            ));
        }
        let (inbox_tx, inbox) = crossbeam_channel::unbounded();
        let (outcomes_tx, outcomes) = crossbeam_channel::unbounded();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor {
            config,
            inbox_tx: inbox_tx.clone(),
            inbox,
            outcomes: outcomes_tx,
            log: Arc::clone(&log),
            started: clock.now(),
            clock,
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

    /// Where every task's one [`Outcome`] arrives, in the order they are settled. Clone it to
    /// keep reading after [`shutdown`](Self::shutdown).
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

    /// Stops the pool and returns within `deadline`: see [`ShutdownReport`].
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        self.stop(deadline)
    }

    fn stop(&mut self, deadline: Duration) -> ShutdownReport {
        let Some(supervisor) = self.supervisor.take() else {
            return ShutdownReport::default();
        };
        let deadline = Instant::now() + deadline;
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self
            .inbox
            .send(Message::Shutdown { deadline, reply })
            .is_err()
        {
            return ShutdownReport::default();
        }
        match answer.recv_deadline(deadline) {
            Ok(report) => {
                // It has sent its last message and is returning: this join is short.
                let _ = supervisor.join();
                report
            }
            // The supervisor is stuck: leave it behind rather than miss the deadline.
            Err(_) => ShutdownReport::default(),
        }
    }
}

impl Drop for MonitoredPool {
    fn drop(&mut self) {
        self.stop(DROP_DEADLINE);
    }
}
