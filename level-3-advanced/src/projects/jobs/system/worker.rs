//! The threads that run the jobs. A worker claims the highest-priority job that may run now,
//! writes its `Started` record, runs the attempt (a panic is a failed attempt, never a dead
//! worker), then settles it: `Finished`, or `Retrying` after the [`Backoff`] delay, or, if a
//! shutdown or the crash cut it off, nothing recorded. The watchdog cancels each attempt when
//! its deadline comes on the clock. Everything they share is in `state.rs`.
//!
//! [`Backoff`]: crate::projects::jobs::Backoff

use super::config::JobEvent;
use super::state::{Running, Shared};
use crate::projects::jobs::job::{AttemptError, Job, JobContext, JobStatus};
use crate::projects::jobs::log::{Outcome, Record};
use shared::CancellationToken;
use shared::testing::panic_message;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

/// A job a worker has taken from the queue.
struct Claim {
    job: Job,
    attempt: u32,
    seq: u64,
}

/// How an attempt ended.
enum Verdict {
    Succeeded(u64),
    Failed(String),
    CutOff,
}

impl Shared {
    /// A worker thread: take the next job, run it, until the system stops.
    pub(super) fn work(&self) {
        while let Some(claim) = self.claim() {
            self.run(claim);
        }
    }

    /// Takes the highest-priority job that may run now, sleeping until there is one.
    fn claim(&self) -> Option<Claim> {
        let mut state = self.state();
        loop {
            if state.stopping || state.dead.is_some() {
                return None;
            }
            state.promote_due(self.clock.now());
            if let Some((_, id)) = state.ready.pop_first() {
                state.claimed += 1;
                state.started += 1;
                let seq = state.started;
                let entry = &state.jobs[&id];
                return Some(Claim {
                    job: entry.job.clone(),
                    attempt: entry.errors.len() as u32 + 1,
                    seq,
                });
            }
            let next_due = state.waiting.first().map(|&(at, _)| at);
            state = self.sleep_until(state, next_due);
        }
    }

    /// Runs one attempt: `Started` on disk, then the job, then its outcome on disk.
    fn run(&self, claim: Claim) {
        let Claim { job, attempt, seq } = claim;
        let id = job.id;
        if self.write(Record::Started { id, attempt }).is_err() {
            // The log is dead: as if the process had died before the attempt began.
            let mut state = self.state();
            state.claimed -= 1;
            state.enqueue(id);
            drop(state);
            self.changed.notify_all();
            return;
        }
        let token = CancellationToken::new();
        let started = self.clock.now();
        let deadline = started.saturating_add(job.spec.timeout);
        // The callback hears of a change before anyone can see it in a status, so that a
        // caller who waited for the status finds the event already told.
        self.emit(JobEvent::Started {
            id,
            attempt,
            seq,
            at: started,
        });
        {
            let mut state = self.state();
            state.claimed -= 1;
            if state.cutting_off {
                token.cancel();
            }
            state.running.insert(
                id,
                Running {
                    token: token.clone(),
                    deadline,
                    attempt,
                },
            );
            if let Some(entry) = state.jobs.get_mut(&id) {
                entry.status = JobStatus::Running { attempt };
            }
        }
        self.changed.notify_all();

        let ctx = JobContext {
            token: &token,
            deadline,
            clock: &*self.clock,
            attempt,
        };
        let result = if ctx.is_cancelled() {
            Err(AttemptError::Cancelled)
        } else {
            panic::catch_unwind(AssertUnwindSafe(|| job.spec.kind.run(&ctx))).unwrap_or_else(
                |payload| {
                    Err(AttemptError::Failed(format!(
                        "panicked: {}",
                        panic_message(payload.as_ref())
                    )))
                },
            )
        };
        let verdict = match result {
            Ok(output) => Verdict::Succeeded(output),
            Err(AttemptError::Failed(error)) => Verdict::Failed(error),
            Err(AttemptError::Cancelled) => {
                if !self.state().cutting_off && self.clock.now() >= deadline {
                    Verdict::Failed(format!(
                        "timed out: still running {:?} after it started",
                        job.spec.timeout
                    ))
                } else {
                    Verdict::CutOff
                }
            }
        };
        self.settle(&job, attempt, verdict);
    }

    /// Records how an attempt ended, then makes it known.
    fn settle(&self, job: &Job, attempt: u32, verdict: Verdict) {
        let id = job.id;
        let (record, event) = match verdict {
            Verdict::Succeeded(output) => (
                Some(Record::Finished {
                    id,
                    outcome: Outcome::Succeeded {
                        output,
                        attempts: attempt,
                    },
                }),
                JobEvent::Finished {
                    id,
                    status: JobStatus::Succeeded {
                        output,
                        attempts: attempt,
                    },
                },
            ),
            Verdict::Failed(error) if attempt < job.spec.max_attempts => {
                let next_at = self.clock.now().saturating_add(self.backoff.delay(attempt));
                (
                    Some(Record::Retrying {
                        id,
                        attempt,
                        error: error.clone(),
                    }),
                    JobEvent::Retrying {
                        id,
                        failed_attempt: attempt,
                        error,
                        next_at,
                    },
                )
            }
            Verdict::Failed(error) => (
                Some(Record::Finished {
                    id,
                    outcome: Outcome::Failed {
                        error: error.clone(),
                        attempts: attempt,
                    },
                }),
                JobEvent::Finished {
                    id,
                    status: JobStatus::Failed {
                        error,
                        attempts: attempt,
                    },
                },
            ),
            Verdict::CutOff => (None, JobEvent::CutOff { id, attempt }),
        };
        let recorded = record.is_none_or(|record| self.write(record).is_ok());
        if recorded {
            self.emit(event.clone());
        }

        let mut state = self.state();
        state.running.remove(&id);
        if recorded {
            let now = self.clock.now();
            let state = &mut *state;
            let entry = state.jobs.get_mut(&id).expect("a running job is known");
            match &event {
                JobEvent::Finished { status, .. } => entry.status = status.clone(),
                JobEvent::Retrying { error, next_at, .. } => {
                    entry.errors.push(error.clone());
                    entry.status = JobStatus::Retrying {
                        attempt: attempt + 1,
                        next_at: *next_at,
                        last_error: error.clone(),
                    };
                    state.waiting.insert((*next_at, id));
                }
                JobEvent::CutOff { .. } => {
                    // Back to where it stood before the attempt; it runs at the next start.
                    entry.status = match entry.errors.last() {
                        None => JobStatus::Queued,
                        Some(last_error) => JobStatus::Retrying {
                            attempt,
                            next_at: now,
                            last_error: last_error.clone(),
                        },
                    };
                    state.cut_off.push((id, attempt));
                    state.enqueue(id);
                }
                JobEvent::Started { .. } => unreachable!("settle makes no Started event"),
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    /// The watchdog thread: cancels each running attempt when its deadline comes on the clock.
    pub(super) fn watch(&self) {
        let mut state = self.state();
        while !state.watchdog_exit {
            let now = self.clock.now();
            let mut next: Option<Duration> = None;
            for running in state.running.values() {
                if running.token.is_cancelled() {
                    continue;
                }
                if now >= running.deadline {
                    running.token.cancel();
                } else {
                    next = Some(next.map_or(running.deadline, |n| n.min(running.deadline)));
                }
            }
            state = self.sleep_until(state, next);
        }
    }
}
