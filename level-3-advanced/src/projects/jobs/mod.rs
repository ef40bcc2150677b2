//! A background job system: a queue with priorities, retries with exponential backoff,
//! timeouts counted from each attempt's start, statuses by id, and a job log on disk, so that
//! after a crash and a restart every accepted job still runs and no finished job runs again.
//!
//! The Node course names this project (its "Background Job System") and never builds it; the
//! nearest it comes is a pool whose retries and timeouts live in memory and whose timeout clock
//! starts at enqueue, so a job that waited long in the queue "times out" before it ran. Here:
//!
//! | promise | kept by |
//! |---|---|
//! | the highest priority runs first; equal priorities in submission order | the ready queue, ordered by `(priority, id)`, in `system/state.rs` |
//! | a failed attempt waits `base × factor^(k−1)` (at most `cap`) before the next | [`Backoff`], and the jobs waiting by time |
//! | a timeout counts from the attempt's start, and cancels it cooperatively | the deadline set when the attempt starts; the watchdog thread and every cancellation check read it |
//! | a panic is a failed attempt, never a dead worker | `catch_unwind` around every attempt |
//! | a status says only what the log already holds | each record is synced before the change it records is made |
//! | every accepted job runs, even after a crash; a finished one never runs again | the replay of the [log](mod@log) when the system opens |
//! | time in tests moves only when the test says | the [`Clock`] trait and [`ManualClock`] |
//!
//! ```
//! use level_3_advanced::projects::jobs::{Config, JobKind, JobSpec, JobStatus, JobSystem};
//! use std::time::Duration;
//!
//! let dir = std::env::temp_dir().join(format!("jobs-doctest-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! # let _ = std::fs::remove_file(dir.join("jobs.log"));
//! let system = JobSystem::open(&dir, Config::new(2))?;
//! let id = system.submit(JobSpec::new(JobKind::Fib { n: 20 }).priority(5))?;
//! let status = system.wait(id, Duration::from_secs(10))?;
//! assert_eq!(status, JobStatus::Succeeded { output: 6_765, attempts: 1 });
//! system.shutdown(Duration::from_secs(1), false)?;
//!
//! // Opened again, the log remembers the job, and does not run it again.
//! let again = JobSystem::open(&dir, Config::new(1))?;
//! assert_eq!(again.recovery().finished, 1);
//! assert_eq!(again.status(id)?, status);
//! # drop(again);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! At-least-once: a job that was running when the crash hit has no outcome in the log, so it
//! runs again after the restart (see [`log`](mod@log)). A job whose effects must not repeat has
//! to be idempotent. Nothing is forcible: Rust cannot kill a thread, so every job kind checks
//! for cancellation, and a job that never checked would keep its worker (work that must be
//! killable belongs in a child process).

mod backoff;
mod clock;
mod error;
mod job;
pub mod log;
mod system;

pub use backoff::Backoff;
pub use clock::{AdvanceHook, Clock, ManualClock, SystemClock};
pub use error::{JobError, LogError};
pub use job::{Job, JobId, JobKind, JobSpec, JobStatus, MAX_ATTEMPTS, MAX_TIMEOUT};
pub use log::{
    Compaction, CrashPoint, LOG_FILE, LogContents, Outcome, Record, TornTail, escape, read_log,
    unescape,
};
pub use system::{Config, JobEvent, JobSystem, MAX_WORKERS, Recovery, ShutdownReport};
