//! What the system's threads share ([`Shared`]), and the [`State`] behind its one lock: every
//! job's status, the ready queue (ordered by priority, then id), the jobs waiting out a backoff
//! (ordered by time) and the running attempts. Also the waits on its condition variable, and
//! the log-first writes: a record is on disk before the change it records is made. The
//! workers (`worker.rs`) and the public methods (`mod.rs`, `shutdown.rs`) all go through here.

use super::config::{JobEvent, Observer};
use crate::projects::jobs::backoff::Backoff;
use crate::projects::jobs::clock::Clock;
use crate::projects::jobs::error::JobError;
use crate::projects::jobs::job::{Job, JobId, JobStatus};
use crate::projects::jobs::log::{Dead, LogWriter, Record};
use shared::CancellationToken;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What the threads share.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Notified on every change of `state`, and when a manual clock moves.
    pub(super) changed: Condvar,
    pub(super) log: Mutex<LogWriter>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) backoff: Backoff,
    pub(super) observer: Option<Observer>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) jobs: BTreeMap<JobId, Entry>,
    /// The jobs a worker may take now: highest priority first, then the lowest id (the
    /// earliest submitted), so jobs of one priority run in submission order.
    pub(super) ready: BTreeSet<(Reverse<u8>, JobId)>,
    /// The jobs waiting out a backoff, by the time they may run.
    pub(super) waiting: BTreeSet<(Duration, JobId)>,
    pub(super) running: BTreeMap<JobId, Running>,
    /// Taken from `ready` by a worker that is writing the `Started` record.
    pub(super) claimed: usize,
    /// How many attempts this system has started.
    pub(super) started: u64,
    /// Set by shutdown: workers take no more jobs.
    pub(super) stopping: bool,
    /// Set when a shutdown's deadline passes or the crash hits: running attempts are cancelled
    /// and recorded nowhere.
    pub(super) cutting_off: bool,
    /// The attempts that were cut off.
    pub(super) cut_off: Vec<(JobId, u32)>,
    pub(super) watchdog_exit: bool,
    /// The log died (the simulated crash, or a failed write): nothing more happens.
    pub(super) dead: Option<Dead>,
}

pub(super) struct Entry {
    pub(super) job: Job,
    pub(super) status: JobStatus,
    /// The errors of the failed attempts: attempt `i + 1` failed with `errors[i]`.
    pub(super) errors: Vec<String>,
}

pub(super) struct Running {
    pub(super) token: CancellationToken,
    pub(super) deadline: Duration,
    pub(super) attempt: u32,
}

impl State {
    pub(super) fn enqueue(&mut self, id: JobId) {
        let priority = self.jobs[&id].job.spec.priority;
        self.ready.insert((Reverse(priority), id));
    }

    /// Moves the jobs whose backoff has passed to the ready queue.
    pub(super) fn promote_due(&mut self, now: Duration) {
        while let Some(&(at, id)) = self.waiting.first() {
            if at > now {
                break;
            }
            self.waiting.pop_first();
            self.enqueue(id);
        }
    }

    pub(super) fn busy(&self) -> bool {
        !self.running.is_empty() || self.claimed > 0
    }

    pub(super) fn idle(&self) -> bool {
        !self.busy() && self.ready.is_empty() && self.waiting.is_empty()
    }

    pub(super) fn unfinished(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|(_, entry)| !entry.status.is_finished())
            .map(|(id, _)| *id)
            .collect()
    }
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // No job code runs under this lock (attempts run outside it, in `catch_unwind`), so a
        // poisoned lock can only come from a bug here; the data is still whole.
        lock(&self.state)
    }

    pub(super) fn log(&self) -> MutexGuard<'_, LogWriter> {
        lock(&self.log)
    }

    /// Sleeps until the state changes or `at` comes on the clock.
    pub(super) fn sleep_until<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        at: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        match at.and_then(|at| self.clock.real_time_until(at)) {
            Some(wait) => {
                self.changed
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .changed
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Waits, for at most `timeout` of real time, until `check` returns a value.
    pub(super) fn wait_until<T>(
        &self,
        timeout: Duration,
        what: impl Fn() -> String,
        mut check: impl FnMut(&State) -> Result<Option<T>, JobError>,
    ) -> Result<T, JobError> {
        let start = Instant::now();
        let mut state = self.state();
        loop {
            if let Some(value) = check(&state)? {
                return Ok(value);
            }
            if let Some(dead) = &state.dead {
                return Err(dead.error());
            }
            if state.stopping && !state.busy() {
                // Nothing runs and nothing will be taken: no status can change any more.
                return Err(JobError::ShuttingDown);
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(JobError::WaitTimedOut {
                    what: what(),
                    after: timeout,
                });
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Appends to the log (whose lock the caller holds); if the log died doing it, stops the
    /// system.
    pub(super) fn append(&self, log: &mut LogWriter, records: &[Record]) -> Result<(), JobError> {
        let result = log.append(records);
        if let Some(dead) = log.dead() {
            let mut state = self.state();
            if state.dead.is_none() {
                state.dead = Some(dead.clone());
                state.stopping = true;
                state.cutting_off = true;
                for running in state.running.values() {
                    running.token.cancel();
                }
            }
            drop(state);
            self.changed.notify_all();
        }
        result
    }

    pub(super) fn write(&self, record: Record) -> Result<(), JobError> {
        let mut log = self.log();
        self.append(&mut log, &[record])
    }

    pub(super) fn emit(&self, event: JobEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }
}

/// Locks a mutex, ignoring poisoning: see [`Shared::state`].
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
