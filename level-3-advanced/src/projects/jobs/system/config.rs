//! How a [`JobSystem`](super::JobSystem) is set up ([`Config`]: workers, backoff, clock, the
//! event callback, the crash hook), and the [`JobEvent`]s the callback is told. `mod.rs` reads
//! the configuration when the system opens; `worker.rs` emits the events.

use crate::projects::jobs::backoff::Backoff;
use crate::projects::jobs::clock::{Clock, SystemClock};
use crate::projects::jobs::error::JobError;
use crate::projects::jobs::job::{JobId, JobStatus};
use crate::projects::jobs::log::CrashPoint;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The most worker threads a system may have: the projects' common limit,
/// [`crate::projects::cli::MAX_THREADS`] (its documentation says why).
pub const MAX_WORKERS: usize = crate::projects::cli::MAX_THREADS;

/// Something the system did, told to the [`Config::on_event`] callback on the thread that did
/// it: after the log holds the record that says so, and before the change shows in a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// An attempt started. `seq` counts the attempts this system started, from 1, in the order
    /// the workers *took* them from the queue (which is the priority order), whatever order the
    /// threads then print in.
    Started {
        /// The job.
        id: JobId,
        /// The attempt, from 1.
        attempt: u32,
        /// The order in which the attempt was taken from the queue.
        seq: u64,
        /// When, on the system's clock.
        at: Duration,
    },
    /// An attempt failed and the job waits out its backoff.
    Retrying {
        /// The job.
        id: JobId,
        /// The attempt that failed.
        failed_attempt: u32,
        /// Why.
        error: String,
        /// When the next attempt may start, on the system's clock.
        next_at: Duration,
    },
    /// The job is done.
    Finished {
        /// The job.
        id: JobId,
        /// `Succeeded` or `Failed`.
        status: JobStatus,
    },
    /// A shutdown's deadline passed (or the simulated crash hit) while the attempt ran: it was
    /// cancelled and nothing was recorded, so it runs again at the next start.
    CutOff {
        /// The job.
        id: JobId,
        /// The attempt that was cut off.
        attempt: u32,
    },
}

pub(super) type Observer = Arc<dyn Fn(&JobEvent) + Send + Sync>;

/// How to run a [`JobSystem`]: workers, backoff, clock, and the optional event callback and
/// crash hook.
///
/// ```
/// use level_3_advanced::projects::jobs::{Backoff, Config, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let config = Config::new(2)
///     .backoff(Backoff::new(Duration::from_millis(100), 2, Duration::from_secs(1)))
///     .clock(clock.clone())
///     .on_event(|event| println!("{event:?}"));
/// assert_eq!(config.workers(), 2);
/// ```
///
/// [`JobSystem`]: super::JobSystem
#[derive(Clone)]
pub struct Config {
    pub(super) workers: usize,
    pub(super) backoff: Backoff,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) observer: Option<Observer>,
    pub(super) crash_at: Option<CrashPoint>,
}

impl Config {
    /// `workers` threads, the default [`Backoff`], the real clock, no callback, no crash.
    pub fn new(workers: usize) -> Self {
        Self {
            workers,
            backoff: Backoff::default(),
            clock: Arc::new(SystemClock::new()),
            observer: None,
            crash_at: None,
        }
    }

    /// How many worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The wait between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The clock every job time is read from ([`ManualClock`] in tests).
    ///
    /// [`ManualClock`]: crate::projects::jobs::ManualClock
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A callback told about every [`JobEvent`], on the worker thread concerned. Keep it short:
    /// the worker waits for it.
    pub fn on_event(mut self, observer: impl Fn(&JobEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// A test hook: the simulated crash hits the log at this point (see [`CrashPoint`]).
    pub fn crash_at(mut self, point: CrashPoint) -> Self {
        self.crash_at = Some(point);
        self
    }

    pub(super) fn validate(&self) -> Result<(), JobError> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(JobError::InvalidConfig(format!(
                "{} workers: a job system needs from 1 to {MAX_WORKERS}",
                self.workers
            )));
        }
        self.backoff.validate().map_err(JobError::InvalidConfig)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("workers", &self.workers)
            .field("backoff", &self.backoff)
            .field("clock", &self.clock)
            .field("on_event", &self.observer.as_ref().map(|_| "<callback>"))
            .field("crash_at", &self.crash_at)
            .finish()
    }
}
