//! What a job is: an id, a kind with its input, a priority, a number of attempts and a timeout;
//! what it can be ([`JobStatus`]); and how each kind runs.

use super::clock::Clock;
use shared::workload::{MAX_FIB_INPUT, count_primes, fib};
use shared::{CancellationToken, Cancelled};
use std::fmt;
use std::time::Duration;

/// The longest timeout a job may have: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The most attempts a job may have.
pub const MAX_ATTEMPTS: u32 = 100;

/// A job's id: unique, given in ascending order, and kept in the log, so that it stays unique
/// across restarts. Shown as `#7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a job does, with its input: the demo kinds.
///
/// Every kind is cooperative: it checks for cancellation often enough that a timeout or a
/// shutdown stops it within a few milliseconds. Rust cannot stop a thread from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// The `n`th Fibonacci number, the slow recursive way. Outputs the number.
    Fib {
        /// Which Fibonacci number, at most [`MAX_FIB_INPUT`] (93).
        n: u32,
    },
    /// How many primes are in `start..end`. Outputs the count.
    CountPrimes {
        /// The first number looked at.
        start: u64,
        /// One past the last number looked at; not below `start`.
        end: u64,
    },
    /// Fails its first `failures` attempts, then succeeds, outputting the attempt's number:
    /// the kind that shows retries.
    FailFirst {
        /// How many attempts fail.
        failures: u32,
    },
    /// Never finishes by itself: it waits until it is cancelled (its timeout, or a shutdown).
    Hang,
    /// Panics with `message`: a panic is a failed attempt, never a dead worker.
    Panic {
        /// The panic's message.
        message: String,
    },
}

impl JobKind {
    /// Why this input cannot run, if it cannot.
    ///
    /// # Errors
    /// `fib(n)` above 93 (the answer does not fit in a `u64`), or a prime range whose end is
    /// before its start.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Fib { n } if *n > MAX_FIB_INPUT => Err(format!(
                "fib({n}) does not fit in a u64: n must be at most {MAX_FIB_INPUT}"
            )),
            Self::CountPrimes { start, end } if end < start => Err(format!(
                "the prime range {start}..{end} ends before it starts"
            )),
            _ => Ok(()),
        }
    }

    /// Runs one attempt of this kind. `Err(Cancelled)` when it stopped because it was asked to.
    pub(crate) fn run(&self, ctx: &JobContext<'_>) -> Result<u64, AttemptError> {
        match self {
            Self::Fib { n } => Ok(cancellable_fib(*n, ctx)?),
            Self::CountPrimes { start, end } => {
                let mut count = 0;
                let mut from = *start;
                while from < *end {
                    ctx.check()?;
                    let to = (*end).min(from.saturating_add(PRIME_BLOCK));
                    count += count_primes(from..to);
                    from = to;
                }
                Ok(count)
            }
            Self::FailFirst { failures } => {
                ctx.check()?;
                let attempt = ctx.attempt();
                if attempt <= *failures {
                    Err(AttemptError::Failed(format!(
                        "failing on purpose: attempt {attempt} of the first {failures}"
                    )))
                } else {
                    Ok(u64::from(attempt))
                }
            }
            Self::Hang => {
                while !ctx.is_cancelled() {
                    // Wakes at once when the watchdog or a shutdown cancels the token; the
                    // timeout only makes it look at its deadline itself now and then.
                    ctx.token.wait_timeout(Duration::from_secs(1));
                }
                Err(AttemptError::Cancelled)
            }
            Self::Panic { message } => {
                ctx.check()?;
                panic!("{message}")
            }
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fib { n } => write!(f, "fib({n})"),
            Self::CountPrimes { start, end } => write!(f, "primes in {start}..{end}"),
            Self::FailFirst { failures } => write!(f, "fail-first({failures})"),
            Self::Hang => write!(f, "hang"),
            Self::Panic { message } => write!(f, "panic({message:?})"),
        }
    }
}

/// Prime counting checks for cancellation after each block of this many numbers.
const PRIME_BLOCK: u64 = 20_000;

/// Below this, `fib` runs without checks: `fib(30)` takes a few milliseconds.
const FIB_LEAF: u32 = 30;

/// `fib(n)`, checking for cancellation at every call above [`FIB_LEAF`]: a few dozen checks for
/// `fib(35)`, each a few milliseconds of work apart.
fn cancellable_fib(n: u32, ctx: &JobContext<'_>) -> Result<u64, Cancelled> {
    if n <= FIB_LEAF {
        return Ok(fib(n));
    }
    ctx.check()?;
    // No overflow: `validate` keeps `n` at most 93, whose answer fits.
    Ok(cancellable_fib(n - 1, ctx)? + cancellable_fib(n - 2, ctx)?)
}

/// What a job is asked to do, before it has an id: its kind, priority, attempts and timeout.
///
/// ```
/// use level_3_advanced::projects::jobs::{JobKind, JobSpec};
/// use std::time::Duration;
///
/// let spec = JobSpec::new(JobKind::Fib { n: 25 })
///     .priority(9)
///     .max_attempts(1)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(spec.priority, 9);
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// What the job does.
    pub kind: JobKind,
    /// Higher runs first; jobs of equal priority run in the order they were submitted.
    pub priority: u8,
    /// How many attempts before the job fails for good: 1 means no retry.
    pub max_attempts: u32,
    /// How long one attempt may run, counted from the moment it *starts* (never from when it
    /// was queued). An attempt still running then is cancelled and counts as failed.
    pub timeout: Duration,
}

impl JobSpec {
    /// A job of `kind` with priority 0, 3 attempts and a timeout of 30 s.
    pub fn new(kind: JobKind) -> Self {
        Self {
            kind,
            priority: 0,
            max_attempts: 3,
            timeout: Duration::from_secs(30),
        }
    }

    /// The same job with this priority.
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// The same job with this many attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The same job with this timeout per attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Why this job cannot be accepted, if it cannot.
    ///
    /// # Errors
    /// An invalid input ([`JobKind::validate`]), attempts outside `1..=100`, or a timeout of 0
    /// or above a day.
    pub fn validate(&self) -> Result<(), String> {
        self.kind.validate()?;
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "max_attempts is {}: it must be from 1 to {MAX_ATTEMPTS}",
                self.max_attempts
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(format!(
                "the timeout {:?} is not in (0, {MAX_TIMEOUT:?}]",
                self.timeout
            ));
        }
        Ok(())
    }
}

/// An accepted job: its id and what it was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub spec: JobSpec,
}

/// Where a job stands. Ask with [`JobSystem::status`](super::JobSystem::status).
///
/// A job moves `Queued → Running → (Retrying → Running)* → Succeeded | Failed`. `Running`,
/// `Succeeded` and `Failed` are reported only once the log holds the record that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker runs attempt `attempt` (counted from 1).
    Running {
        /// The attempt that runs.
        attempt: u32,
    },
    /// An attempt failed; attempt `attempt` may start at `next_at` on the system's clock.
    Retrying {
        /// The attempt that runs next.
        attempt: u32,
        /// When it may start, on the system's clock. After a restart the backoff is not
        /// remembered (a monotonic clock does not survive one): the job may start at once.
        next_at: Duration,
        /// Why the attempt before failed.
        last_error: String,
    },
    /// Done, with this output, after `attempts` attempts.
    Succeeded {
        /// What the job computed.
        output: u64,
        /// How many attempts it took.
        attempts: u32,
    },
    /// Every attempt failed; `error` is why the last did.
    Failed {
        /// Why the last attempt failed.
        error: String,
        /// How many attempts ran.
        attempts: u32,
    },
}

impl JobStatus {
    /// Whether the job is done, for good: `Succeeded` or `Failed`.
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Succeeded { .. } | Self::Failed { .. })
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued => write!(f, "queued"),
            Self::Running { attempt } => write!(f, "running attempt {attempt}"),
            Self::Retrying {
                attempt,
                next_at,
                last_error,
            } => write!(
                f,
                "retrying: attempt {attempt} at {next_at:?} (last error: {last_error})"
            ),
            Self::Succeeded { output, attempts } => {
                write!(f, "succeeded with {output} after {attempts} attempt(s)")
            }
            Self::Failed { error, attempts } => {
                write!(f, "failed after {attempts} attempt(s): {error}")
            }
        }
    }
}

/// Why one attempt did not produce an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptError {
    /// The job said it failed.
    Failed(String),
    /// It stopped because it was asked to (its timeout, or a shutdown).
    Cancelled,
}

impl From<Cancelled> for AttemptError {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

/// What a running attempt may ask: is it cancelled (its token, or its deadline on the system's
/// clock), and which attempt is it.
pub(crate) struct JobContext<'a> {
    pub(crate) token: &'a CancellationToken,
    pub(crate) deadline: Duration,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) attempt: u32,
}

impl JobContext<'_> {
    /// Whether the attempt should stop: its token is cancelled or its deadline has passed.
    ///
    /// The deadline is read here as well as by the watchdog (which cancels the token), so that
    /// an attempt past its deadline sees it at its very next check, whatever the watchdog is
    /// doing.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled() || self.clock.now() >= self.deadline
    }

    /// `Err(Cancelled)` once the attempt should stop, for `?`.
    pub(crate) fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The attempt's number, from 1.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl fmt::Debug for JobContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("attempt", &self.attempt)
            .field("deadline", &self.deadline)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::jobs::ManualClock;

    fn run(kind: &JobKind, attempt: u32, clock: &ManualClock) -> Result<u64, AttemptError> {
        let token = CancellationToken::new();
        let ctx = JobContext {
            token: &token,
            deadline: Duration::from_secs(10),
            clock,
            attempt,
        };
        kind.run(&ctx)
    }

    #[test]
    fn the_cpu_kinds_compute_the_known_answers() {
        let clock = ManualClock::new();
        assert_eq!(run(&JobKind::Fib { n: 32 }, 1, &clock), Ok(2_178_309));
        assert_eq!(run(&JobKind::Fib { n: 10 }, 1, &clock), Ok(55));
        let primes = JobKind::CountPrimes {
            start: 0,
            end: 100_000,
        };
        assert_eq!(run(&primes, 1, &clock), Ok(9_592));
        let empty = JobKind::CountPrimes { start: 7, end: 7 };
        assert_eq!(run(&empty, 1, &clock), Ok(0));
    }

    #[test]
    fn fail_first_fails_exactly_its_first_attempts() {
        let clock = ManualClock::new();
        let kind = JobKind::FailFirst { failures: 2 };
        assert!(matches!(
            run(&kind, 1, &clock),
            Err(AttemptError::Failed(_))
        ));
        assert!(matches!(
            run(&kind, 2, &clock),
            Err(AttemptError::Failed(_))
        ));
        assert_eq!(run(&kind, 3, &clock), Ok(3));
    }

    #[test]
    fn a_job_past_its_deadline_stops_at_its_first_check() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(10));
        // The deadline (10 s) has passed, although nobody cancelled the token.
        assert_eq!(
            run(&JobKind::Fib { n: 40 }, 1, &clock),
            Err(AttemptError::Cancelled)
        );
        assert_eq!(run(&JobKind::Hang, 1, &clock), Err(AttemptError::Cancelled));
    }

    #[test]
    fn bad_inputs_and_settings_are_refused() {
        assert!(JobKind::Fib { n: 94 }.validate().is_err());
        assert!(JobKind::Fib { n: 93 }.validate().is_ok());
        assert!(
            JobKind::CountPrimes { start: 9, end: 3 }
                .validate()
                .is_err()
        );
        let spec = JobSpec::new(JobKind::Hang);
        assert!(spec.clone().max_attempts(0).validate().is_err());
        assert!(spec.clone().max_attempts(101).validate().is_err());
        assert!(spec.clone().timeout(Duration::ZERO).validate().is_err());
        assert!(spec.clone().timeout(MAX_TIMEOUT * 2).validate().is_err());
        assert!(spec.validate().is_ok());
    }
}
