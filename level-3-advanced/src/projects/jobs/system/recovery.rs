//! The log's replay turned into the jobs' state when the system opens: finished jobs keep their
//! outcome, the others are queued again (those cut off by a crash under the same attempt
//! number), and the [`Recovery`] report says what was found.

use super::state::{Entry, State};
use crate::projects::jobs::job::{JobId, JobStatus};
use crate::projects::jobs::log::{LogWriter, Opened, Outcome, TornTail};
use std::path::PathBuf;
use std::time::Duration;

/// What [`JobSystem::open`](super::JobSystem::open) found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The log's path.
    pub log_path: PathBuf,
    /// Whether the log is new (there was none, or it was empty).
    pub created: bool,
    /// How many records were replayed.
    pub records: usize,
    /// How many jobs had finished: they never run again.
    pub finished: usize,
    /// The jobs accepted and not finished, queued again, in id order.
    pub requeued: Vec<JobId>,
    /// Of those, the ones whose last attempt started and never ended: it was running when the
    /// crash hit, and runs again under the same number (at-least-once).
    pub interrupted: Vec<(JobId, u32)>,
    /// The torn last line, ignored and cut off, if a crash interrupted a write.
    pub torn_tail: Option<TornTail>,
    /// The id the next job will get.
    pub next_id: JobId,
}

impl Recovery {
    /// The warnings to show: a torn last line.
    pub fn warnings(&self) -> Vec<String> {
        self.torn_tail
            .iter()
            .map(|torn| {
                format!(
                    "{}: line {} is torn ({} bytes without an end of line: a write cut off by \
                     a crash); ignored and removed",
                    self.log_path.display(),
                    torn.line,
                    torn.bytes
                )
            })
            .collect()
    }
}

/// Rebuilds the jobs' state from what opening the log replayed, as of `now` on the clock,
/// and hands back the log to write to.
pub(super) fn recover(opened: Opened, now: Duration) -> (State, Recovery, LogWriter) {
    let mut state = State::default();
    let mut requeued = Vec::new();
    let mut interrupted = Vec::new();
    let mut finished = 0;
    for (id, history) in opened.replayed.jobs {
        let status = match history.outcome {
            Some(Outcome::Succeeded { output, attempts }) => {
                JobStatus::Succeeded { output, attempts }
            }
            Some(Outcome::Failed { error, attempts }) => JobStatus::Failed { error, attempts },
            None => {
                requeued.push(id);
                if let Some(attempt) = history.started {
                    interrupted.push((id, attempt));
                }
                match history.errors.last() {
                    None => JobStatus::Queued,
                    Some(last_error) => JobStatus::Retrying {
                        attempt: history.errors.len() as u32 + 1,
                        next_at: now,
                        last_error: last_error.clone(),
                    },
                }
            }
        };
        finished += usize::from(status.is_finished());
        let unfinished = !status.is_finished();
        state.jobs.insert(
            id,
            Entry {
                job: history.job,
                status,
                errors: history.errors,
            },
        );
        if unfinished {
            state.enqueue(id);
        }
    }
    let recovery = Recovery {
        log_path: opened.writer.path().to_owned(),
        created: opened.created,
        records: opened.records,
        finished,
        requeued,
        interrupted,
        torn_tail: opened.torn_tail,
        next_id: JobId(opened.writer.next_id),
    };
    (state, recovery, opened.writer)
}
