//! # Exercise l3-ex07: production pool
//!
//! **Goal.** A pool of 4 workers that can run in production, the last of three stages: the file
//! starts with l3-ex05's circuit breaker and l3-ex06's metrics, solved. Its workers time each
//! task on the pool's clock, count it in the metrics and the breaker, and survive a task that
//! panics; it answers liveness and readiness probes; and it shuts down gracefully, with a
//! deadline. The Node exercise planned all of it and shipped none of it working: one solution
//! crashed in its constructor; the other ran, but its breaker never left the open state and
//! its histogram was wrong (the two earlier stages fixed those). Here the pool reads a [`Clock`]
//! it is given, so a test moves time forward by hand: a task's duration, the breaker's open
//! time and the shutdown deadline all pass without waiting.
//!
//! **Check your attempt:** `cargo exercise check l3-ex07`
//!
//! **What the tests expect**
//! - The Node task list, submitted one by one: tasks 1 to 8 run (3, 6, 7 and 8 fail), the 8th
//!   result opens the breaker (4 of 8 failed), tasks 9 and 10 are rejected; readiness is then
//!   false. Moving the clock 5 s on, with no task run, makes the breaker half-open and the pool
//!   ready again; 3 successes close it.
//! - Task ids are 1, 2, 3... in submission order. By the time a task's [`Outcome`] arrives, the
//!   metrics and the breaker count it, and its duration is in the histogram;
//!   [`ProductionPool::metrics_text`] shows it all.
//! - A panicking task is a failure, to the metrics and to the breaker; its worker lives on (the
//!   pool stays live).
//! - The 4 workers, named `prod-worker-0` to `prod-worker-3`, run 4 tasks at once; a task's
//!   `took` is how long it ran, not how long it waited in the queue; a drained shutdown has
//!   joined every worker; dropping the pool without a shutdown cancels the running tasks' token.
//! - [`ProductionPool::shutdown`] stops intake at once (readiness false,
//!   [`SubmitError::ShuttingDown`]), lets the workers finish the running and queued tasks, and
//!   returns when they have, or when its deadline passes on the pool's clock: then it cancels
//!   the running tasks' token (a cooperative task stops, as `Cancelled`), and reports what was
//!   still running and how many never started (they end as `ShutDown`).
//! - A config with 0 workers, a window of 0, a failure ratio outside `(0, 1]`, `min_calls` of
//!   0 or above the window, `close_after` of 0 or unsorted buckets is a [`ConfigError`] from
//!   [`ProductionPool::new`].
//!
//! **Hints:** `cargo exercise hint l3-ex07` shows one at a time, from the idea to the
//! exact API to the documentation.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::CancellationToken;
use shared::testing::panic_message;
use std::collections::{BTreeSet, VecDeque};
use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The Node exercise's pool size.
pub const WORKERS: usize = 4;

/// The breaker judges the outcomes of this many latest calls.
pub const WINDOW: usize = 10;

/// The breaker opens when at least this share of the window failed.
pub const FAILURE_RATIO: f64 = 0.5;

/// The breaker does not judge fewer calls than this: one failure out of one is no trend.
pub const MIN_CALLS: usize = 4;

/// How long the breaker stays open before it lets probes through.
pub const OPEN_FOR: Duration = Duration::from_secs(5);

/// Successful probes that close a half-open breaker; also how many may run at once.
pub const CLOSE_AFTER: usize = 3;

/// Prometheus's default histogram buckets, in seconds: 5 ms to 10 s.
pub const DURATION_BUCKETS: [Duration; 11] = [
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// The Node exercise's failing tasks, among its ten (1 to 10).
pub const FAILING_TASKS: [u64; 4] = [3, 6, 7, 8];

/// How often `shutdown` looks at the clock while it waits for the workers.
const DEADLINE_POLL: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------------------------------
// Time: a clock the pool is given, so that tests can move it.
// ---------------------------------------------------------------------------------------------

/// Where the pool and the breaker get the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The time now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl ManualClock {
    /// A clock that reads the real time of its creation until it is moved.
    pub fn new() -> Self {
        Self {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        *lock(&self.now) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.now)
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves its data whole (a
/// task's panic is caught outside any lock).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------------------------

/// Why a configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ConfigError {
    #[error("a pool needs at least one worker")]
    NoWorkers,
    #[error("the breaker's window must hold at least one call")]
    EmptyWindow,
    #[error("the failure ratio {0} is not in (0, 1]")]
    BadRatio(f64),
    #[error("min_calls is {min_calls}: it must be from 1 to the window ({window})")]
    BadMinCalls { min_calls: usize, window: usize },
    #[error("close_after is 0: a half-open breaker would close without a single probe")]
    NoProbes,
    #[error("histogram bounds must strictly ascend; bound {index} does not")]
    UnsortedBuckets { index: usize },
}

/// The circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// How many latest outcomes are judged.
    pub window: usize,
    /// Open when at least this share of the window failed, in `(0, 1]`.
    pub failure_ratio: f64,
    /// Judge no fewer outcomes than this.
    pub min_calls: usize,
    /// How long to stay open.
    pub open_for: Duration,
    /// Probe successes that close a half-open breaker; also the probes admitted at once.
    pub close_after: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: WINDOW,
            failure_ratio: FAILURE_RATIO,
            min_calls: MIN_CALLS,
            open_for: OPEN_FOR,
            close_after: CLOSE_AFTER,
        }
    }
}

impl BreakerConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// The first problem found: [`ConfigError::EmptyWindow`], [`ConfigError::BadRatio`],
    /// [`ConfigError::BadMinCalls`] or [`ConfigError::NoProbes`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window == 0 {
            return Err(ConfigError::EmptyWindow);
        }
        // Written so that NaN, which fails every comparison, is refused too.
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return Err(ConfigError::BadRatio(self.failure_ratio));
        }
        if self.min_calls == 0 || self.min_calls > self.window {
            return Err(ConfigError::BadMinCalls {
                min_calls: self.min_calls,
                window: self.window,
            });
        }
        if self.close_after == 0 {
            return Err(ConfigError::NoProbes);
        }
        Ok(())
    }
}

/// The pool's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    pub workers: usize,
    pub breaker: BreakerConfig,
    /// The task-duration histogram's bucket bounds.
    pub buckets: Vec<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: WORKERS,
            breaker: BreakerConfig::default(),
            buckets: DURATION_BUCKETS.to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker: a state machine that is told the time.
// ---------------------------------------------------------------------------------------------

/// The breaker's state, as its users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are rejected until the open time is over.
    Open,
    /// A few probe calls go through; their outcomes decide.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `pool_circuit_breaker_state` gauge.
    pub fn as_gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

/// What a call that got through came to, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Success,
    Failure,
    /// The call ended without saying anything about the dependency (it was cancelled): it
    /// frees its probe slot and is not judged.
    Ignored,
}

/// The right to make one call, from [`CircuitBreaker::acquire`]; give it back to
/// [`CircuitBreaker::record`] with the outcome.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit's outcome must be recorded"]
pub struct Permit {
    /// The breaker's epoch when the permit was given.
    epoch: u64,
}

/// Why the breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Rejected {
    #[error("the circuit breaker is open; it lets probes through in {retry_in:?}")]
    Open { retry_in: Duration },
    #[error("the circuit breaker is half-open and all its probe slots are taken")]
    ProbesBusy,
}

/// The breaker's phase, with the data each one needs.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// The latest outcomes, oldest first: `true` for a failure.
    Closed {
        window: VecDeque<bool>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        successes: usize,
        in_flight: usize,
    },
}

/// A circuit breaker. Not thread-safe on its own: share it behind a `Mutex`.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
    /// Bumped on every change of phase, so that a permit from an earlier phase is told apart.
    epoch: u64,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window.
    ///
    /// # Errors
    /// A [`ConfigError`] from [`BreakerConfig::validate`].
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            phase: Phase::Closed {
                window: VecDeque::with_capacity(config.window),
            },
            epoch: 0,
        })
    }

    /// The state at `now`, worked out from the clock: an open breaker whose time is up *is*
    /// half-open, whether or not anything has called it since.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call at `now`.
    ///
    /// # Errors
    /// [`Rejected::Open`] while open, with the time left; [`Rejected::ProbesBusy`] when
    /// half-open with `close_after` probes already running.
    pub fn acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        self.refresh(now);
        match &mut self.phase {
            Phase::Closed { .. } => {}
            Phase::Open { until } => {
                return Err(Rejected::Open {
                    retry_in: until.saturating_duration_since(now),
                });
            }
            Phase::HalfOpen { in_flight, .. } => {
                if *in_flight >= self.config.close_after {
                    return Err(Rejected::ProbesBusy);
                }
                *in_flight += 1;
            }
        }
        Ok(Permit { epoch: self.epoch })
    }

    /// Records the outcome of the call `permit` was given for, at `now`. A permit from an
    /// earlier phase is ignored: its call says nothing about the current one.
    pub fn record(&mut self, permit: Permit, outcome: CallOutcome, now: Instant) {
        self.refresh(now);
        if permit.epoch != self.epoch {
            return;
        }
        let config = self.config;
        match &mut self.phase {
            Phase::Closed { window } => {
                let failed = match outcome {
                    CallOutcome::Success => false,
                    CallOutcome::Failure => true,
                    CallOutcome::Ignored => return,
                };
                window.push_back(failed);
                if window.len() > config.window {
                    window.pop_front();
                }
                let failures = window.iter().filter(|&&failed| failed).count();
                if window.len() >= config.min_calls
                    && failures as f64 >= config.failure_ratio * window.len() as f64
                {
                    self.open(now);
                }
            }
            // An open breaker gives no permits, so its epoch has none: unreachable, harmless.
            Phase::Open { .. } => {}
            Phase::HalfOpen {
                successes,
                in_flight,
            } => {
                *in_flight = in_flight.saturating_sub(1);
                match outcome {
                    CallOutcome::Success => {
                        *successes += 1;
                        if *successes >= config.close_after {
                            self.change(Phase::Closed {
                                window: VecDeque::with_capacity(config.window),
                            });
                        }
                    }
                    CallOutcome::Failure => self.open(now),
                    CallOutcome::Ignored => {}
                }
            }
        }
    }

    /// Makes an open breaker whose time is up half-open.
    fn refresh(&mut self, now: Instant) {
        match self.phase {
            Phase::Open { until } if now >= until => self.change(Phase::HalfOpen {
                successes: 0,
                in_flight: 0,
            }),
            _ => {}
        }
    }

    fn open(&mut self, now: Instant) {
        let until = now + self.config.open_for;
        self.change(Phase::Open { until });
    }

    fn change(&mut self, phase: Phase) {
        self.phase = phase;
        self.epoch += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics and their text exposition.
// ---------------------------------------------------------------------------------------------

/// A Prometheus histogram of durations: a count per bucket, their sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds (inclusive), strictly ascending.
    bounds: Vec<Duration>,
    /// One count per bound, then one for values above the last bound. Not cumulative: the
    /// cumulative view is computed when read, so it cannot go wrong when written.
    counts: Vec<u64>,
    sum: Duration,
}

impl Histogram {
    /// An empty histogram with these upper bounds.
    ///
    /// # Errors
    /// [`ConfigError::UnsortedBuckets`] unless the bounds strictly ascend.
    pub fn new(bounds: &[Duration]) -> Result<Self, ConfigError> {
        if let Some(index) = (1..bounds.len()).find(|&i| bounds[i] <= bounds[i - 1]) {
            return Err(ConfigError::UnsortedBuckets { index });
        }
        Ok(Self {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: Duration::ZERO,
        })
    }

    /// Counts one duration in the first bucket whose bound is at least `value`.
    pub fn observe(&mut self, value: Duration) {
        let index = self.bounds.partition_point(|&bound| bound < value);
        self.counts[index] += 1;
        self.sum += value;
    }

    /// How many values were observed.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their sum.
    pub fn sum(&self) -> Duration {
        self.sum
    }

    /// The buckets as Prometheus shows them: each bound (`None` is `+Inf`) with the count of
    /// values at or below it. The `+Inf` count is the total count.
    pub fn cumulative(&self) -> Vec<(Option<Duration>, u64)> {
        let bounds = self.bounds.iter().map(|&b| Some(b)).chain([None]);
        let mut running = 0;
        bounds
            .zip(&self.counts)
            .map(|(bound, &count)| {
                running += count;
                (bound, running)
            })
            .collect()
    }
}

/// Everything the pool counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Tasks that returned a value.
    pub succeeded: u64,
    /// Tasks that returned an error or panicked.
    pub failed: u64,
    /// Tasks that were cancelled: stopped by shutdown, or never started because of it.
    pub cancelled: u64,
    /// Submissions refused by the breaker.
    pub rejected_open: u64,
    /// Submissions refused because the pool is shutting down.
    pub rejected_shutdown: u64,
    /// How long the tasks that ran took, on the pool's clock.
    pub durations: Histogram,
}

impl Metrics {
    /// Zero counts and an empty histogram with these bounds.
    ///
    /// # Errors
    /// [`ConfigError::UnsortedBuckets`] from [`Histogram::new`].
    pub fn new(buckets: &[Duration]) -> Result<Self, ConfigError> {
        Ok(Self {
            succeeded: 0,
            failed: 0,
            cancelled: 0,
            rejected_open: 0,
            rejected_shutdown: 0,
            durations: Histogram::new(buckets)?,
        })
    }
}

/// The values that are read, not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Workers running a task.
    pub active_workers: usize,
    /// Worker threads alive.
    pub live_workers: usize,
    /// Tasks waiting for a worker.
    pub queue_depth: usize,
    pub breaker: BreakerState,
}

/// Writes `# HELP` and `# TYPE` for one metric.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics in Prometheus's text exposition format.
pub fn render(metrics: &Metrics, gauges: &Gauges) -> String {
    // `writeln!` into a `String` cannot fail.
    let mut out = String::new();
    header(
        &mut out,
        "pool_tasks_total",
        "counter",
        "Tasks that ended, by outcome.",
    );
    for (outcome, count) in [
        ("success", metrics.succeeded),
        ("failure", metrics.failed),
        ("cancelled", metrics.cancelled),
    ] {
        let _ = writeln!(out, "pool_tasks_total{{outcome=\"{outcome}\"}} {count}");
    }
    header(
        &mut out,
        "pool_tasks_rejected_total",
        "counter",
        "Submissions refused, by reason.",
    );
    for (reason, count) in [
        ("breaker_open", metrics.rejected_open),
        ("shutting_down", metrics.rejected_shutdown),
    ] {
        let _ = writeln!(
            out,
            "pool_tasks_rejected_total{{reason=\"{reason}\"}} {count}"
        );
    }

    let name = "pool_task_duration_seconds";
    header(
        &mut out,
        name,
        "histogram",
        "How long tasks ran, on the pool's clock.",
    );
    for (bound, count) in metrics.durations.cumulative() {
        let le = match bound {
            Some(bound) => bound.as_secs_f64().to_string(),
            None => "+Inf".to_owned(),
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_sum {}", metrics.durations.sum().as_secs_f64());
    let _ = writeln!(out, "{name}_count {}", metrics.durations.count());

    for (name, help, value) in [
        (
            "pool_active_workers",
            "Workers running a task now.",
            gauges.active_workers,
        ),
        (
            "pool_live_workers",
            "Worker threads alive.",
            gauges.live_workers,
        ),
        (
            "pool_queue_depth",
            "Tasks waiting for a worker.",
            gauges.queue_depth,
        ),
        (
            "pool_circuit_breaker_state",
            "0 closed, 1 open, 2 half-open.",
            usize::from(gauges.breaker.as_gauge()),
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The pool.
// ---------------------------------------------------------------------------------------------

/// A task's id, given by [`ProductionPool::submit`]: 1, 2, 3... in submission order.
pub type TaskId = u64;

/// Why a task has no value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaskError {
    /// The task's own error.
    #[error("the task failed: {0}")]
    Failed(String),
    /// The task panicked; its worker caught it and lives on.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// The task saw its token cancelled (at the shutdown deadline) and stopped.
    #[error("the task was told to stop and did")]
    Cancelled,
    /// The pool shut down before the task started.
    #[error("the pool shut down before the task started")]
    ShutDown,
}

/// Why [`ProductionPool::submit`] refused a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SubmitError {
    #[error("the pool is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

/// The one final word on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: TaskId,
    pub result: Result<u64, TaskError>,
    /// How long it ran, on the pool's clock; `None` if it never started.
    pub took: Option<Duration>,
}

/// The pool's health, for a liveness and a readiness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Every worker thread is alive.
    pub live: bool,
    /// Live, not shutting down, and the breaker is not open: new tasks would be run.
    pub ready: bool,
    pub breaker: BreakerState,
    pub shutting_down: bool,
    pub live_workers: usize,
}

/// What [`ProductionPool::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Every task ended and every worker was joined before the deadline.
    pub drained: bool,
    /// Tasks still running at the deadline, whose token was then cancelled.
    pub told_to_stop: Vec<TaskId>,
    /// Tasks still queued at the deadline: they end as [`TaskError::ShutDown`].
    pub not_started: usize,
    /// Worker threads that ended and were joined.
    pub workers_joined: usize,
    /// Worker threads still running at the deadline, left to end by themselves.
    pub workers_left: usize,
}

/// A task: gets the pool's stop token, which a long task checks.
pub type Task = Box<dyn FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static>;

/// One task on its way to a worker, with its breaker permit.
struct Job {
    id: TaskId,
    task: Task,
    permit: Permit,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job").field("id", &self.id).finish()
    }
}

/// What the workers and the pool's handle share.
#[derive(Debug)]
struct Shared {
    clock: Arc<dyn Clock>,
    breaker: Mutex<CircuitBreaker>,
    metrics: Mutex<Metrics>,
    /// The tasks running now: its length is the active-workers gauge.
    running: Mutex<BTreeSet<TaskId>>,
    live_workers: AtomicUsize,
    shutting_down: AtomicBool,
    /// Cancelled when the shutdown deadline passes, or when the pool is dropped.
    stop: CancellationToken,
    outcomes: Sender<Outcome>,
}

/// Owned by a worker thread: its `Drop` reports the thread's end.
#[derive(Debug)]
struct ExitNotice {
    worker: usize,
    shared: Arc<Shared>,
    exits: Sender<usize>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        // SeqCst: a rare event, and the simplest ordering to reason about with `shutting_down`.
        self.shared.live_workers.fetch_sub(1, Ordering::SeqCst);
        let _ = self.exits.send(self.worker);
    }
}

/// A worker: runs jobs until the queue is closed and empty.
fn work(worker: usize, jobs: Receiver<Job>, shared: Arc<Shared>, exits: Sender<usize>) {
    // TODO: create the ExitNotice first. For each job: if the stop token is cancelled, it never
    // starts: record its permit as Ignored, count it cancelled, send Outcome ShutDown (took
    // None), next. Otherwise: mark it running; read the clock; run it under `catch_unwind`
    // (a panic is TaskError::Panicked with `panic_message`); read the clock again. Success,
    // Failure (Failed, Panicked) or Ignored (Cancelled, ShutDown): count it and observe the
    // duration, record the permit, unmark it, and only then send its Outcome. One lock at a time.
    todo!("l3-ex07: the worker loop: run, time, count, record, report")
}

/// A pool of worker threads with metrics, health, a circuit breaker and a graceful shutdown.
/// Share it between threads by reference or in an `Arc`: every method takes `&self`.
#[derive(Debug)]
pub struct ProductionPool {
    config: PoolConfig,
    shared: Arc<Shared>,
    /// The job sender; `None` once shutdown has begun.
    intake: Mutex<Option<Sender<Job>>>,
    /// A receiver of the job queue, for its depth.
    queue: Receiver<Job>,
    exits: Receiver<usize>,
    workers: Mutex<Vec<(usize, JoinHandle<()>)>>,
    outcomes: Receiver<Outcome>,
    next_id: AtomicU64,
}

impl ProductionPool {
    /// Starts `config.workers` workers that read the time from `clock`.
    ///
    /// # Errors
    /// A [`ConfigError`] for a bad config.
    ///
    /// # Panics
    /// If the system cannot start a thread: there would be no pool to return.
    pub fn new(config: PoolConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        // TODO: 0 workers is NoWorkers; build the breaker and the metrics (their errors pass
        // through with `?`); make the job, exit and outcome channels and the Shared state
        // (`live_workers` starts at `config.workers`); spawn the workers, named `prod-worker-{n}`,
        // each with a clone of the job receiver, the Shared Arc and the exit sender.
        todo!("l3-ex07: check the config and start the workers")
    }

    /// Queues a task, if the pool is taking work and the breaker lets it through. Its
    /// [`Outcome`] arrives on [`outcomes`](Self::outcomes).
    ///
    /// # Errors
    /// [`SubmitError::ShuttingDown`] once shutdown has begun; [`SubmitError::Rejected`] when
    /// the breaker refuses. Both are counted in the metrics.
    pub fn submit(
        &self,
        task: impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static,
    ) -> Result<TaskId, SubmitError> {
        // TODO: lock the intake. None (shutting down): count rejected_shutdown, ShuttingDown.
        // Ask the breaker for a permit at the clock's now; a rejection counts rejected_open and is
        // SubmitError::Rejected. Then take the next id (1, 2, 3...) and send the Job.
        todo!("l3-ex07: refuse while shutting down or while the breaker says no; queue the task")
    }

    /// Where every task's one [`Outcome`] arrives, in the order they end.
    pub fn outcomes(&self) -> &Receiver<Outcome> {
        &self.outcomes
    }

    /// Liveness and readiness, now.
    pub fn health(&self) -> Health {
        // TODO: the breaker's state at the clock's now, the shutting-down flag, the live workers.
        // Live: every configured worker is alive. Ready: live, not shutting down, and not Open.
        todo!("l3-ex07: liveness and readiness")
    }

    /// A copy of the counts and the histogram.
    pub fn metrics(&self) -> Metrics {
        lock(&self.shared.metrics).clone()
    }

    /// The gauges, now.
    pub fn gauges(&self) -> Gauges {
        // One lock at a time: the running set's lock is let go before the breaker's is taken.
        let active_workers = lock(&self.shared.running).len();
        Gauges {
            active_workers,
            live_workers: self.shared.live_workers.load(Ordering::SeqCst),
            queue_depth: self.queue.len(),
            breaker: lock(&self.shared.breaker).state(self.shared.clock.now()),
        }
    }

    /// The metrics in Prometheus's text format, for a `/metrics` endpoint.
    pub fn metrics_text(&self) -> String {
        render(&self.metrics(), &self.gauges())
    }

    /// Stops intake, lets the workers finish every running and queued task, and returns when
    /// they have or when `deadline` has passed on the pool's clock; then it cancels the stop
    /// token and reports what was left. A second call returns an empty report at once.
    pub fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        // TODO: 1. Fix the deadline on the pool's clock FIRST. 2. Take the intake sender (already
        // None: return a default report), raise `shutting_down`, drop the sender. 3. Take the
        // worker handles; while some remain and the clock is before the deadline, wait for exit
        // notices in DEADLINE_POLL slices and join those workers. 4. None left: drained. Else: note
        // the running ids and the queue depth, then cancel the stop token. Count the workers left.
        todo!("l3-ex07: stop intake, drain until the deadline, then tell the rest to stop")
    }
}

impl Drop for ProductionPool {
    /// Without a shutdown: closes the queue and cancels the token; joins nobody.
    fn drop(&mut self) {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        lock(&self.intake).take();
        self.shared.stop.cancel();
    }
}
