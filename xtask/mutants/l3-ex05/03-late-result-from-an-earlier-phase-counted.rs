//! Wrong answer (promise not kept): `record` never compares the permit's epoch, so a result from before the breaker opened counts as a probe.
//! # Exercise l3-ex05: circuit breaker
//!
//! **Goal.** A circuit breaker: it stops sending work to a failing dependency and tries again
//! later. This is the first of three stages that give a pool of 4 workers what it needs to run
//! in production: the breaker here, Prometheus metrics in l3-ex06, then the pool itself, with
//! health probes and a graceful shutdown, in l3-ex07 (each stage's file starts with the stages
//! before it, solved). The Node exercise's breaker only looked at the clock when a task result
//! arrived, and while open it let no task run, so it never left the open state. Here the
//! breaker is a state machine that is *told* the time (`now: Instant`) and works out its state
//! from it on every call: no traffic is needed to leave the open state, and a test walks
//! through the 5 s of it without waiting.
//!
//! **Check your attempt:** `cargo exercise check l3-ex05`
//!
//! **What the tests expect**
//! - [`CircuitBreaker`] (defaults from [`BreakerConfig::default`]): closed, it admits every
//!   call and keeps the outcomes of the last 10; it opens when at least `min_calls` (4) of
//!   them are in and at least half failed. Open, it rejects with the time left; 5 s after
//!   opening it *is* half-open, with no call needed to notice ([`CircuitBreaker::state`] takes
//!   `&self`). Half-open, it admits 3 probes at a time; 3 successes close it with an empty
//!   window, one failure reopens it for another 5 s; an `Ignored` outcome frees its probe slot
//!   and counts for nothing. A result from a permit taken before the last change of state is
//!   ignored.
//! - The outcomes of the Node task list, one call each: tasks 1 to 8 are admitted (3, 6, 7 and
//!   8 fail), the 8th result opens the breaker (4 of 8 failed), and the next call is rejected
//!   with 5 s left (3.5 s left, 1.5 s later).
//! - A window of 0, a failure ratio outside `(0, 1]`, `min_calls` of 0 or above the window, or
//!   `close_after` of 0 is a [`ConfigError`], from [`BreakerConfig::validate`] and from
//!   [`CircuitBreaker::new`].
//!
//! **Hints:** `cargo exercise hint l3-ex05` shows one at a time, from the idea to the
//! exact API to the documentation.

use std::collections::VecDeque;
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
        let _ = permit;
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
