//! How a [`JobSystem`] stops: [`JobSystem::shutdown`] (a grace period, then the attempts still
//! running are cut off, to run again at the next start; the threads joined; the log compacted
//! if asked), the same with no grace when the system is dropped, and the simulated crash, a
//! test hook.

use super::JobSystem;
use super::state::lock;
use crate::projects::jobs::error::JobError;
use crate::projects::jobs::job::JobId;
use crate::projects::jobs::log::{Compaction, Dead};
use std::time::Duration;

/// What [`JobSystem::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Whether every running attempt ended by itself before the deadline.
    pub finished_in_time: bool,
    /// The attempts cancelled at the deadline: nothing was recorded for them, and they run
    /// again at the next start.
    pub cut_off: Vec<(JobId, u32)>,
    /// The jobs not finished (queued, waiting to retry, cut off): they stay in the log and run
    /// at the next start.
    pub left_for_next_start: Vec<JobId>,
    /// The compaction, if one was asked for.
    pub compaction: Option<Compaction>,
}

impl JobSystem {
    /// Stops taking jobs, lets the running attempts finish until `grace` has passed on the
    /// system's clock, then cancels those still running (they run again at the next start),
    /// joins every thread, and, if `compact` is set, rewrites the log with only the unfinished
    /// jobs. Queued jobs stay in the log for the next start.
    ///
    /// # Errors
    /// [`JobError::Crashed`] or a log error if the log had died; a compaction's write error.
    pub fn shutdown(&self, grace: Duration, compact: bool) -> Result<ShutdownReport, JobError> {
        self.shared.log().stop_accepting();
        let deadline = self.shared.clock.now().saturating_add(grace);
        {
            let mut state = self.shared.state();
            state.stopping = true;
            self.shared.changed.notify_all();
            while state.busy() && state.dead.is_none() && self.shared.clock.now() < deadline {
                state = self.shared.sleep_until(state, Some(deadline));
            }
            // From here on, any attempt still running, or about to start, is cancelled.
            state.cutting_off = true;
            for running in state.running.values() {
                running.token.cancel();
            }
        }
        self.join_threads();
        let (cut_off, left, dead) = {
            let state = self.shared.state();
            (
                state.cut_off.clone(),
                state.unfinished(),
                state.dead.clone(),
            )
        };
        if let Some(dead) = dead {
            return Err(dead.error());
        }
        let compaction = if compact { Some(self.compact()?) } else { None };
        Ok(ShutdownReport {
            finished_in_time: cut_off.is_empty(),
            cut_off,
            left_for_next_start: left,
            compaction,
        })
    }

    /// A test hook: the process "dies" now. The log takes no more records (from this instant,
    /// the disk holds what it will hold after the crash), the running attempts are cancelled
    /// and their outcomes recorded nowhere, and the threads are joined. Returns the attempts
    /// that were running: they run again when the directory is opened again.
    pub fn simulate_crash(&self) -> Vec<(JobId, u32)> {
        let running = {
            let mut log = self.shared.log();
            log.kill();
            let mut state = self.shared.state();
            state.dead.get_or_insert(Dead::Crashed);
            state.stopping = true;
            state.cutting_off = true;
            for running in state.running.values() {
                running.token.cancel();
            }
            state
                .running
                .iter()
                .map(|(id, running)| (*id, running.attempt))
                .collect()
        };
        self.shared.changed.notify_all();
        self.join_threads();
        running
    }

    fn join_threads(&self) {
        let threads = std::mem::take(&mut *lock(&self.threads));
        // A worker cannot panic (each attempt runs in `catch_unwind`), so `join` cannot fail;
        // and every job kind is cooperative, so it returns.
        for worker in threads.workers {
            let _ = worker.join();
        }
        // The watchdog runs until the workers are gone: a grace period still has timeouts.
        self.shared.state().watchdog_exit = true;
        self.shared.changed.notify_all();
        if let Some(watchdog) = threads.watchdog {
            let _ = watchdog.join();
        }
    }

    fn compact(&self) -> Result<Compaction, JobError> {
        let mut log = self.shared.log();
        let state = self.shared.state();
        let unfinished = state
            .jobs
            .values()
            .filter(|entry| !entry.status.is_finished())
            .map(|entry| (&entry.job, entry.errors.as_slice()));
        log.compact(unfinished)
    }
}

impl Drop for JobSystem {
    /// Dropping the system without [`shutdown`](Self::shutdown) is a shutdown with no grace:
    /// running attempts are cancelled and run again at the next start.
    fn drop(&mut self) {
        let started = {
            let threads = lock(&self.threads);
            !threads.workers.is_empty() || threads.watchdog.is_some()
        };
        if started {
            let _ = self.shutdown(Duration::ZERO, false);
        }
    }
}
