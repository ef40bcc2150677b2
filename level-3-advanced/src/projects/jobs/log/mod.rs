//! The job log: an append-only text file that the job system replays when it opens, so that
//! after a crash every accepted job still runs and no finished job runs again.
//!
//! # The format (version 1)
//!
//! One record per line, fields separated by a tab, every line ended by `\n`. The first line is
//! the header: `jobs-log`, the version `v1`, and the lowest id the log may give next (1 for a
//! new log; after a compaction, the next id then due, so that ids stay unique although the
//! records of the finished jobs are gone). Then:
//!
//! | record | line | written |
//! |---|---|---|
//! | [`Record::Accepted`] | `A id priority max_attempts timeout_ns kind [input...]` | by `submit`, before it returns the id |
//! | [`Record::Started`] | `S id attempt` | by a worker, before the attempt runs |
//! | [`Record::Retrying`] | `R id attempt error` | when attempt `attempt` failed and another will follow |
//! | [`Record::Finished`] | `F id succeeded attempts output` or `F id failed attempts error` | when the job is done |
//!
//! The kinds are `fib n`, `primes start end`, `fail-first k`, `hang` and `panic message`. Text
//! fields (an error, a panic message) are escaped: `\\`, `\t`, `\n` and `\r` stand for a
//! backslash, a tab, a newline and a carriage return, so a record is always one line.
//!
//! # Durability: which records are synced, and why
//!
//! Every record is written with one `write` call and then `sync_data`'d before the change it
//! records is acknowledged to anyone:
//!
//! - **Accepted** *must* be durable before `submit` returns the id: the id is the promise "this
//!   job will run", and a crash a moment later must not break it. (`submit_batch` writes a
//!   batch and syncs once: one disk flush for many jobs.)
//! - **Finished** *must* be durable before the status says `Succeeded` or `Failed`: if it were
//!   not, a crash right after a caller saw "succeeded" would run the job again on restart, which
//!   is exactly what "a finished job never runs again" forbids.
//! - **Started** and **Retrying** are synced for exact bookkeeping, not for safety. A lost
//!   `Started` only hides that an attempt was cut off (the job runs again either way); a lost
//!   `Retrying` makes the replay run the failed attempt once more under the same number. A
//!   system with heavy traffic could leave them to the operating system's own flushing.
//!
//! # Replay
//!
//! A job `Accepted` and not `Finished` is queued again. If its last attempt was `Started` with
//! no outcome, that attempt was running when the crash hit: it runs again, under the same
//! number. So a job's work can run twice (**at-least-once**), and a job whose work must not
//! repeat has to be idempotent. A `Finished` job never runs again.
//!
//! A crash in the middle of a write leaves a last line without its `\n`: that *torn* line is
//! ignored, with a warning in [`Recovery`](super::Recovery), and cut off the file so that the
//! next record starts on a line of its own. Any complete line that does not parse, or that
//! contradicts the lines before it, is corruption: [`LogError::Corrupt`] names the line, and
//! the system does not start. (There is no checksum: a line altered into another valid line is
//! not detected. A production log adds a CRC to each record.)
//!
//! One system at a time may use a directory: nothing here locks the file against a second one.
//!
//! [`LogError::Corrupt`]: super::LogError::Corrupt
//!
//! # The code
//!
//! | file | holds |
//! |---|---|
//! | `record.rs` | one line: [`Record`] and [`Outcome`], written and parsed; [`escape`] and [`unescape`] |
//! | `replay.rs` | a whole log read back: [`read_log`], torn last lines ([`TornTail`]), the checks of the replay |
//! | `writer.rs` | the open log the system appends to: syncs, the simulated crash ([`CrashPoint`]), compaction |
//! | `mod.rs` | the file name and the header line, and this description |

mod record;
mod replay;
mod writer;

pub use record::{Outcome, Record, escape, unescape};
pub use replay::{LogContents, TornTail, read_log};
pub use writer::{Compaction, CrashPoint};
pub(crate) use writer::{Dead, LogWriter, Opened};

/// The log's file name inside the job directory.
pub const LOG_FILE: &str = "jobs.log";

/// The first field of the header.
const MAGIC: &str = "jobs-log";

/// The format version this code reads and writes.
const VERSION: &str = "v1";

/// The header line, without its `\n`: see [the format](self#the-format-version-1).
fn header_line(min_next_id: u64) -> String {
    format!("{MAGIC}\t{VERSION}\t{min_next_id}")
}
