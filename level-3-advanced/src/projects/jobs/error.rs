//! The job system's errors: [`JobError`] for every operation, [`LogError`] for the log.

use super::job::JobId;
use std::io;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Why a job-system operation did not do what was asked.
#[derive(Debug, Error)]
pub enum JobError {
    /// No job has this id (it was never accepted, or a compaction forgot it after it
    /// finished).
    #[error("no job has the id {0}")]
    UnknownJob(JobId),
    /// The job cannot be accepted as it is. Nothing was written to the log.
    #[error("job refused: {0}")]
    InvalidJob(String),
    /// The configuration cannot work.
    #[error("invalid job-system configuration: {0}")]
    InvalidConfig(String),
    /// The system is shutting down (or has shut down): it accepts no new jobs.
    #[error("the job system is shutting down: it accepts no new jobs")]
    ShuttingDown,
    /// The simulated crash happened: the log takes no more records and the workers have
    /// stopped, as if the process had died. Open the directory again to recover.
    #[error("the job system has crashed (simulated): its log takes no more records")]
    Crashed,
    /// A wait ran out of (real) time before what it waited for happened.
    #[error("gave up after {after:?} waiting for {what}")]
    WaitTimedOut {
        /// What was awaited.
        what: String,
        /// How long the wait lasted.
        after: Duration,
    },
    /// The log could not be opened, read, replayed or written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The operating system refused to start a thread.
    #[error("could not start the thread {name}")]
    Spawn {
        /// The thread's name.
        name: String,
        /// Why.
        source: io::Error,
    },
}

/// What is wrong with the job log or its directory.
#[derive(Debug, Error)]
pub enum LogError {
    /// The directory given for the log does not exist.
    #[error("the job directory {0} does not exist")]
    MissingDir(PathBuf),
    /// The path given for the log's directory is not a directory.
    #[error("{0} is not a directory")]
    NotADir(PathBuf),
    /// A file operation failed.
    #[error("could not {action} {path}")]
    Io {
        /// What was being done: "open", "append to", ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// The first line is not the header of a version 1 job log.
    #[error("{path} is not a version 1 job log: its first line is {found:?}")]
    BadHeader {
        /// The log.
        path: PathBuf,
        /// The first line as found (at most 80 characters of it).
        found: String,
    },
    /// A complete line (not the last, torn one) does not make sense.
    #[error("{path}: line {line} is corrupt ({reason}): {text:?}")]
    Corrupt {
        /// The log.
        path: PathBuf,
        /// The line's number, from 1 (the header).
        line: usize,
        /// What is wrong with it.
        reason: String,
        /// The line as found (at most 80 characters of it).
        text: String,
    },
    /// An earlier write failed, so the log can no longer be trusted to hold what it was given;
    /// it takes no more records. Open the directory again to recover from what it holds.
    #[error("the job log takes no more records after an earlier failure: {0}")]
    Poisoned(String),
}
