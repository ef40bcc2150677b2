//! [`JobSystem`]: the queue, the workers, the watchdog and the shutdown.
//!
//! The invariants, kept here:
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

use super::backoff::Backoff;
use super::clock::{Clock, SystemClock};
use super::error::JobError;
use super::job::{AttemptError, Job, JobContext, JobId, JobSpec, JobStatus};
use super::log::{Compaction, CrashPoint, Dead, LogWriter, Outcome, Record, TornTail};
use shared::CancellationToken;
use shared::testing::panic_message;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The most worker threads a system may have.
pub const MAX_WORKERS: usize = 256;

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

type Observer = Arc<dyn Fn(&JobEvent) + Send + Sync>;

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
#[derive(Clone)]
pub struct Config {
    workers: usize,
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    observer: Option<Observer>,
    crash_at: Option<CrashPoint>,
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

    /// The clock every job time is read from ([`ManualClock`](super::ManualClock) in tests).
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

    fn validate(&self) -> Result<(), JobError> {
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

/// What [`JobSystem::open`] found in the log.
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

/// What the threads share.
struct Shared {
    state: Mutex<State>,
    /// Notified on every change of `state`, and when a manual clock moves.
    changed: Condvar,
    log: Mutex<LogWriter>,
    clock: Arc<dyn Clock>,
    backoff: Backoff,
    observer: Option<Observer>,
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<JobId, Entry>,
    /// The jobs a worker may take now: highest priority first, then the lowest id (the
    /// earliest submitted), so jobs of one priority run in submission order.
    ready: BTreeSet<(Reverse<u8>, JobId)>,
    /// The jobs waiting out a backoff, by the time they may run.
    waiting: BTreeSet<(Duration, JobId)>,
    running: BTreeMap<JobId, Running>,
    /// Taken from `ready` by a worker that is writing the `Started` record.
    claimed: usize,
    /// How many attempts this system has started.
    started: u64,
    /// Set by shutdown: workers take no more jobs.
    stopping: bool,
    /// Set when a shutdown's deadline passes or the crash hits: running attempts are cancelled
    /// and recorded nowhere.
    cutting_off: bool,
    /// The attempts that were cut off.
    cut_off: Vec<(JobId, u32)>,
    watchdog_exit: bool,
    /// The log died (the simulated crash, or a failed write): nothing more happens.
    dead: Option<Dead>,
}

struct Entry {
    job: Job,
    status: JobStatus,
    /// The errors of the failed attempts: attempt `i + 1` failed with `errors[i]`.
    errors: Vec<String>,
}

struct Running {
    token: CancellationToken,
    deadline: Duration,
    attempt: u32,
}

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

impl State {
    fn enqueue(&mut self, id: JobId) {
        let priority = self.jobs[&id].job.spec.priority;
        self.ready.insert((Reverse(priority), id));
    }

    /// Moves the jobs whose backoff has passed to the ready queue.
    fn promote_due(&mut self, now: Duration) {
        while let Some(&(at, id)) = self.waiting.first() {
            if at > now {
                break;
            }
            self.waiting.pop_first();
            self.enqueue(id);
        }
    }

    fn busy(&self) -> bool {
        !self.running.is_empty() || self.claimed > 0
    }

    fn idle(&self) -> bool {
        !self.busy() && self.ready.is_empty() && self.waiting.is_empty()
    }

    fn unfinished(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|(_, entry)| !entry.status.is_finished())
            .map(|(id, _)| *id)
            .collect()
    }
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
        let now = config.clock.now();
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

        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            log: Mutex::new(opened.writer),
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

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // No job code runs under this lock (attempts run outside it, in `catch_unwind`), so a
        // poisoned lock can only come from a bug here; the data is still whole.
        lock(&self.state)
    }

    fn log(&self) -> MutexGuard<'_, LogWriter> {
        lock(&self.log)
    }

    /// Sleeps until the state changes or `at` comes on the clock.
    fn sleep_until<'a>(
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
    fn wait_until<T>(
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
    fn append(&self, log: &mut LogWriter, records: &[Record]) -> Result<(), JobError> {
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

    fn write(&self, record: Record) -> Result<(), JobError> {
        let mut log = self.log();
        self.append(&mut log, &[record])
    }

    fn emit(&self, event: JobEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    /// A worker thread: take the next job, run it, until the system stops.
    fn work(&self) {
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
    fn watch(&self) {
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

/// Locks a mutex, ignoring poisoning: see [`Shared::state`].
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
