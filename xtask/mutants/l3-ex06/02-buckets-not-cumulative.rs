//! Wrong answer (promise not kept): `cumulative` returns each bucket's own count, not the running total.
//! # Exercise l3-ex06: pool metrics
//!
//! **Goal.** The metrics a production pool exposes for Prometheus to scrape: counters of the
//! tasks by outcome and of the submissions refused, a histogram of how long the tasks ran, and
//! gauges, the circuit breaker's state among them. This is the second of three stages: the file
//! starts with l3-ex05's circuit breaker, solved, and l3-ex07 builds the pool that fills these
//! metrics in. The Node exercise's histogram printed `NaN` bucket bounds, never counted
//! `+Inf`, and was not cumulative. Here the histogram stores one plain count per bucket and
//! works out the cumulative view when it is read, so that no write can get it wrong, and
//! [`render`] writes the text that a `/metrics` endpoint serves.
//!
//! **Check your attempt:** `cargo exercise check l3-ex06`
//!
//! **What the tests expect**
//! - [`Histogram`]: `le` bounds are inclusive (100 ms is in the `0.1` bucket), cumulative
//!   counts never go down, the `+Inf` bucket equals the count, the sum is exact; bounds that do
//!   not strictly ascend are [`ConfigError::UnsortedBuckets`], naming the first bound out of
//!   order, from [`Histogram::new`] and from [`Metrics::new`].
//! - [`render`] writes the text exposition format: `# HELP` and `# TYPE` before each metric,
//!   then lines `name{labels} value` (no `NaN`), the histogram's `le` bounds ascending and
//!   ending at `+Inf`, then `_sum` (in seconds) and `_count`. Each counter and gauge reads the
//!   value it was given: `pool_tasks_total` with `outcome` `success`, `failure`, `cancelled`;
//!   `pool_tasks_rejected_total` with `reason` `breaker_open`, `shutting_down`;
//!   `pool_active_workers`, `pool_live_workers`, `pool_queue_depth`; and
//!   `pool_circuit_breaker_state`, 0 closed, 1 open, 2 half-open.
//!
//! **Hints:** `cargo exercise hint l3-ex06` shows one at a time, from the idea to the
//! exact API to the documentation.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use thiserror::Error;

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

// ---------------------------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------------------------

/// Why a configuration cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ConfigError {
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
                let _ = running;
                (bound, count)
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
