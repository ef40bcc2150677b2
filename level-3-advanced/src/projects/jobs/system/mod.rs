//! [`JobSystem`]: the queue, the workers, the watchdog and the shutdown.
//!
//! The invariants, kept by the files of this directory:
//!
//! - **One lock for the jobs.** Every job's status, the ready queue (ordered by priority, then
//!   id), the jobs waiting out a backoff (ordered by time) and the running attempts live in one
//!   `State` behind one mutex, with one condition variable that every change notifies. Workers,
//!   the watchdog, waiters and the shutdown all sleep on it.
//! - **The log first, then the change.** A record is written and synced (with the log's own
//!   lock held, and the jobs' lock *not* held, so a slow disk does not block status queries)
//!   before the state changes. Lock order: log, then state; never the other way round.
//! - **Time comes from the clock.** Nothing reads `Instant::now` for a job's times; only the
//!   waits of callers (`wait`, `wait_idle`) use real time, to turn a hang into an error.
//!
//! The files:
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`JobSystem`]: opening, submitting, statuses and waits |
//! | `config.rs` | [`Config`], and the [`JobEvent`]s its callback hears |
//! | `recovery.rs` | the jobs' state rebuilt from the log's replay, and the [`Recovery`] report |
//! | `state.rs` | the state behind the one lock (the ready queue, the jobs waiting out a backoff, the running attempts), and the log-first writes |
//! | `worker.rs` | the workers (claim, run, settle an attempt: retry or finish) and the watchdog |
//! | `shutdown.rs` | [`JobSystem::shutdown`], the simulated crash, the compaction, and [`ShutdownReport`] |

mod config;
mod recovery;
mod shutdown;
mod state;
mod worker;

pub use config::{Config, JobEvent, MAX_WORKERS};
pub use recovery::Recovery;
pub use shutdown::ShutdownReport;

use super::error::JobError;
use super::job::{Job, JobId, JobSpec, JobStatus};
use super::log::{LogWriter, Record};
use state::{Entry, Shared, lock};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A job queue with priorities, retries with backoff, timeouts, statuses by id, and a log on
/// disk that a restart replays. See the [module documentation](super) for a tour.
pub struct JobSystem {
    shared: Arc<Shared>,
    threads: Mutex<Threads>,
    recovery: Recovery,
}

#[derive(Default)]
struct Threads {
    workers: Vec<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
}

impl JobSystem {
    /// Opens the job log in `dir` (creating `jobs.log` if there is none), replays it, and
    /// starts the workers: the accepted and unfinished jobs are queued again, the finished ones
    /// keep their outcome and never run again.
    ///
    /// # Errors
    /// A bad configuration; a missing `dir` or one that is not a directory; a log that cannot
    /// be opened or written (an unwritable directory), whose header is not version 1, or with a
    /// corrupt line (the error names it); a thread that cannot be started.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Self, JobError> {
        config.validate()?;
        let opened = LogWriter::open(dir.as_ref(), config.crash_at)?;
        let (state, recovery, writer) = recovery::recover(opened, config.clock.now());

        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            log: Mutex::new(writer),
            clock: config.clock,
            backoff: config.backoff,
            observer: config.observer,
        });
        let weak = Arc::downgrade(&shared);
        shared
            .clock
            .on_advance(Box::new(move || match weak.upgrade() {
                Some(shared) => {
                    // Taking the lock orders this wake-up after any thread that read the old time
                    // under it has gone to sleep, so that thread cannot miss it.
                    drop(shared.state());
                    shared.changed.notify_all();
                    true
                }
                None => false,
            }));

        let system = Self {
            shared,
            threads: Mutex::new(Threads::default()),
            recovery,
        };
        // On an error, dropping `system` stops and joins the threads already started.
        for index in 0..config.workers {
            let worker = system.spawn(format!("job-worker-{index}"), Shared::work)?;
            lock(&system.threads).workers.push(worker);
        }
        let watchdog = system.spawn("job-watchdog".to_owned(), Shared::watch)?;
        lock(&system.threads).watchdog = Some(watchdog);
        Ok(system)
    }

    fn spawn(&self, name: String, body: fn(&Shared)) -> Result<JoinHandle<()>, JobError> {
        let shared = Arc::clone(&self.shared);
        thread::Builder::new()
            .name(name.clone())
            .spawn(move || body(&shared))
            .map_err(|source| JobError::Spawn { name, source })
    }

    /// What the replay of the log found.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The log's path.
    pub fn log_path(&self) -> &Path {
        &self.recovery.log_path
    }

    /// The time now on the system's clock.
    pub fn now(&self) -> Duration {
        self.shared.clock.now()
    }

    /// The id the next accepted job will get (if no other thread submits first).
    pub fn next_id(&self) -> JobId {
        JobId(self.shared.log().next_id)
    }

    /// Whether [`shutdown`](Self::shutdown) has begun (or the crash has hit): no job will be
    /// accepted or started any more.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.state().stopping
    }

    /// Accepts a job and returns its id once its `Accepted` record is on disk: from then on it
    /// runs, even if the process crashes first.
    ///
    /// # Errors
    /// [`JobError::InvalidJob`] (nothing written), [`JobError::ShuttingDown`],
    /// [`JobError::Crashed`], or the log's write error.
    pub fn submit(&self, spec: JobSpec) -> Result<JobId, JobError> {
        let ids = self.submit_batch([spec])?;
        Ok(ids[0])
    }

    /// Accepts several jobs with one write and one sync, and queues them all at once: the
    /// workers then take them strictly by priority, whatever they were doing.
    ///
    /// # Errors
    /// As [`submit`](Self::submit); an invalid job refuses the whole batch, naming it.
    pub fn submit_batch(
        &self,
        specs: impl IntoIterator<Item = JobSpec>,
    ) -> Result<Vec<JobId>, JobError> {
        let specs: Vec<JobSpec> = specs.into_iter().collect();
        for (index, spec) in specs.iter().enumerate() {
            spec.validate().map_err(|why| {
                JobError::InvalidJob(if specs.len() == 1 {
                    why
                } else {
                    format!("job {} of the batch: {why}", index + 1)
                })
            })?;
        }
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let mut log = self.shared.log();
        let first = log.next_id;
        let jobs: Vec<Job> = specs
            .into_iter()
            .zip(first..)
            .map(|(spec, id)| Job {
                id: JobId(id),
                spec,
            })
            .collect();
        let records: Vec<Record> = jobs.iter().cloned().map(Record::Accepted).collect();
        self.shared.append(&mut log, &records)?;
        log.next_id += jobs.len() as u64;
        // Still holding the log's lock, so that a compaction cannot miss these jobs.
        let mut state = self.shared.state();
        let ids = jobs.iter().map(|job| job.id).collect();
        for job in jobs {
            let id = job.id;
            state.jobs.insert(
                id,
                Entry {
                    job,
                    status: JobStatus::Queued,
                    errors: Vec::new(),
                },
            );
            state.enqueue(id);
        }
        drop(state);
        drop(log);
        self.shared.changed.notify_all();
        Ok(ids)
    }

    /// Where job `id` stands.
    ///
    /// # Errors
    /// [`JobError::UnknownJob`] if no job has that id.
    pub fn status(&self, id: JobId) -> Result<JobStatus, JobError> {
        self.shared
            .state()
            .jobs
            .get(&id)
            .map(|entry| entry.status.clone())
            .ok_or(JobError::UnknownJob(id))
    }

    /// The job with this id, as it was submitted.
    ///
    /// # Errors
    /// [`JobError::UnknownJob`] if no job has that id.
    pub fn job(&self, id: JobId) -> Result<Job, JobError> {
        self.shared
            .state()
            .jobs
            .get(&id)
            .map(|entry| entry.job.clone())
            .ok_or(JobError::UnknownJob(id))
    }

    /// Every job this system knows (those in the log, and those submitted since), with its
    /// status, in id order.
    pub fn statuses(&self) -> Vec<(JobId, JobStatus)> {
        self.shared
            .state()
            .jobs
            .iter()
            .map(|(id, entry)| (*id, entry.status.clone()))
            .collect()
    }

    /// Waits until job `id` has finished, for at most `timeout` of real time.
    ///
    /// # Errors
    /// [`JobError::UnknownJob`]; [`JobError::WaitTimedOut`]; [`JobError::Crashed`];
    /// [`JobError::ShuttingDown`] if the system has stopped and the job will not finish now.
    pub fn wait(&self, id: JobId, timeout: Duration) -> Result<JobStatus, JobError> {
        self.wait_for(id, timeout, JobStatus::is_finished)
    }

    /// Waits until job `id`'s status satisfies `ready`, for at most `timeout` of real time.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_for(
        &self,
        id: JobId,
        timeout: Duration,
        ready: impl Fn(&JobStatus) -> bool,
    ) -> Result<JobStatus, JobError> {
        self.shared.wait_until(
            timeout,
            || format!("job {id}"),
            |state| match state.jobs.get(&id) {
                None => Err(JobError::UnknownJob(id)),
                Some(entry) if ready(&entry.status) => Ok(Some(entry.status.clone())),
                Some(_) => Ok(None),
            },
        )
    }

    /// Waits until no job is queued, waiting to retry or running, for at most `timeout` of
    /// real time.
    ///
    /// # Errors
    /// [`JobError::WaitTimedOut`], [`JobError::Crashed`], or [`JobError::ShuttingDown`] if the
    /// system has stopped with jobs left.
    pub fn wait_idle(&self, timeout: Duration) -> Result<(), JobError> {
        self.shared.wait_until(
            timeout,
            || "every job to finish".to_owned(),
            |state| Ok(state.idle().then_some(())),
        )
    }
}

impl fmt::Debug for JobSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        f.debug_struct("JobSystem")
            .field("log", &self.recovery.log_path)
            .field("jobs", &state.jobs.len())
            .field("ready", &state.ready.len())
            .field("waiting", &state.waiting.len())
            .field("running", &state.running.len())
            .field("stopping", &state.stopping)
            .field("dead", &state.dead)
            .finish_non_exhaustive()
    }
}
