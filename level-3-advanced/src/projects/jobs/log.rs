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

use super::error::{JobError, LogError};
use super::job::{Job, JobId, JobKind, JobSpec};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The log's file name inside the job directory.
pub const LOG_FILE: &str = "jobs.log";

/// The first field of the header.
const MAGIC: &str = "jobs-log";

/// The format version this code reads and writes.
const VERSION: &str = "v1";

/// How much of a bad line an error message quotes.
const QUOTE: usize = 80;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The job was accepted: it will run.
    Accepted(Job),
    /// Attempt `attempt` of job `id` started.
    Started {
        /// The job.
        id: JobId,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// Attempt `attempt` of job `id` failed, and another attempt will follow.
    Retrying {
        /// The job.
        id: JobId,
        /// The attempt that failed.
        attempt: u32,
        /// Why it failed.
        error: String,
    },
    /// Job `id` is done, for good.
    Finished {
        /// The job.
        id: JobId,
        /// How it ended.
        outcome: Outcome,
    },
}

/// How a finished job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Attempt `attempts` produced `output`.
    Succeeded {
        /// What the job computed.
        output: u64,
        /// How many attempts it took.
        attempts: u32,
    },
    /// Every attempt failed; `error` is why the last did.
    Failed {
        /// Why the last attempt failed.
        error: String,
        /// How many attempts ran.
        attempts: u32,
    },
}

impl Record {
    /// The job the record is about.
    pub fn id(&self) -> JobId {
        match self {
            Self::Accepted(job) => job.id,
            Self::Started { id, .. } | Self::Retrying { id, .. } | Self::Finished { id, .. } => *id,
        }
    }

    /// The record as one line of the log, without its `\n`.
    ///
    /// ```
    /// use level_3_advanced::projects::jobs::{JobId, Record};
    ///
    /// let record = Record::Retrying { id: JobId(3), attempt: 1, error: "bad\tinput\n".into() };
    /// let line = record.to_line();
    /// assert_eq!(line, "R\t3\t1\tbad\\tinput\\n");
    /// assert_eq!(Record::parse(&line), Ok(record));
    /// ```
    pub fn to_line(&self) -> String {
        match self {
            Self::Accepted(job) => {
                let spec = &job.spec;
                let mut line = format!(
                    "A\t{}\t{}\t{}\t{}\t",
                    job.id.0,
                    spec.priority,
                    spec.max_attempts,
                    spec.timeout.as_nanos()
                );
                // Writing to a `String` cannot fail.
                let _ = match &spec.kind {
                    JobKind::Fib { n } => write!(line, "fib\t{n}"),
                    JobKind::CountPrimes { start, end } => write!(line, "primes\t{start}\t{end}"),
                    JobKind::FailFirst { failures } => write!(line, "fail-first\t{failures}"),
                    JobKind::Hang => write!(line, "hang"),
                    JobKind::Panic { message } => write!(line, "panic\t{}", escape(message)),
                };
                line
            }
            Self::Started { id, attempt } => format!("S\t{}\t{attempt}", id.0),
            Self::Retrying { id, attempt, error } => {
                format!("R\t{}\t{attempt}\t{}", id.0, escape(error))
            }
            Self::Finished { id, outcome } => match outcome {
                Outcome::Succeeded { output, attempts } => {
                    format!("F\t{}\tsucceeded\t{attempts}\t{output}", id.0)
                }
                Outcome::Failed { error, attempts } => {
                    format!("F\t{}\tfailed\t{attempts}\t{}", id.0, escape(error))
                }
            },
        }
    }

    /// Parses one line (without its `\n`).
    ///
    /// # Errors
    /// What is wrong with the line: an unknown record type, a wrong number of fields, a field
    /// that is not a number, a bad escape.
    pub fn parse(line: &str) -> Result<Self, String> {
        let fields: Vec<&str> = line.split('\t').collect();
        let record = match fields.as_slice() {
            ["A", id, priority, attempts, timeout, kind @ ..] => {
                let kind = match kind {
                    ["fib", n] => JobKind::Fib { n: number(n, "n")? },
                    ["primes", start, end] => JobKind::CountPrimes {
                        start: number(start, "start")?,
                        end: number(end, "end")?,
                    },
                    ["fail-first", failures] => JobKind::FailFirst {
                        failures: number(failures, "failures")?,
                    },
                    ["hang"] => JobKind::Hang,
                    ["panic", message] => JobKind::Panic {
                        message: unescape(message)?,
                    },
                    _ => return Err(format!("unknown job kind or wrong inputs: {kind:?}")),
                };
                let spec = JobSpec {
                    kind,
                    priority: number(priority, "priority")?,
                    max_attempts: number(attempts, "max_attempts")?,
                    timeout: Duration::from_nanos(number(timeout, "timeout")?),
                };
                spec.validate()?;
                Self::Accepted(Job {
                    id: JobId(number(id, "id")?),
                    spec,
                })
            }
            ["S", id, attempt] => Self::Started {
                id: JobId(number(id, "id")?),
                attempt: attempt_number(attempt)?,
            },
            ["R", id, attempt, error] => Self::Retrying {
                id: JobId(number(id, "id")?),
                attempt: attempt_number(attempt)?,
                error: unescape(error)?,
            },
            ["F", id, "succeeded", attempts, output] => Self::Finished {
                id: JobId(number(id, "id")?),
                outcome: Outcome::Succeeded {
                    output: number(output, "output")?,
                    attempts: attempt_number(attempts)?,
                },
            },
            ["F", id, "failed", attempts, error] => Self::Finished {
                id: JobId(number(id, "id")?),
                outcome: Outcome::Failed {
                    error: unescape(error)?,
                    attempts: attempt_number(attempts)?,
                },
            },
            [kind, ..] => {
                return Err(format!(
                    "unknown record {kind:?} or wrong number of fields ({})",
                    fields.len()
                ));
            }
            [] => unreachable!("split always yields at least one field"),
        };
        Ok(record)
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} is not a valid number: {text:?}"))
}

fn attempt_number(text: &str) -> Result<u32, String> {
    match number(text, "attempt")? {
        0 => Err("attempts count from 1, not 0".to_owned()),
        attempt => Ok(attempt),
    }
}

/// Escapes a text field so that it holds no tab and no line break.
///
/// ```
/// use level_3_advanced::projects::jobs::{escape, unescape};
///
/// let text = "a\tb\\c\nd";
/// assert_eq!(escape(text), "a\\tb\\\\c\\nd");
/// assert_eq!(unescape(&escape(text)).as_deref(), Ok(text));
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes [`escape`].
///
/// # Errors
/// An unknown escape (`\x`) or a backslash at the end.
pub fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => return Err(format!("unknown escape \\{other}")),
            None => return Err("a backslash ends the field".to_owned()),
        }
    }
    Ok(out)
}

fn header_line(min_next_id: u64) -> String {
    format!("{MAGIC}\t{VERSION}\t{min_next_id}")
}

/// The last line of a log that has no `\n`: a write cut off by a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// The line's number, from 1 (the header).
    pub line: usize,
    /// How many bytes of it reached the file.
    pub bytes: usize,
}

/// A log read back: its records in order, each with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogContents {
    /// The lowest id the log may give next, from its header (the next id is this or one above
    /// the last accepted job's, whichever is higher).
    pub min_next_id: JobId,
    /// Every complete record, with its line number (the header is line 1).
    pub records: Vec<(usize, Record)>,
    /// The torn last line, if a crash cut a write short.
    pub torn_tail: Option<TornTail>,
    /// The bytes up to the end of the last complete line.
    valid_len: u64,
    /// Whether the log has no complete header yet (a new or empty file).
    needs_header: bool,
}

/// Reads and checks the log at `path` without opening a job system: the demo and the tests use
/// it to look at what was written.
///
/// # Errors
/// The file cannot be read, its header is not version 1, or a complete line is corrupt.
pub fn read_log(path: &Path) -> Result<LogContents, LogError> {
    let bytes = fs::read(path).map_err(|source| LogError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let contents = parse_log(path, &bytes)?;
    replay(path, &contents)?;
    Ok(contents)
}

/// Splits the log into lines and parses each: the syntax only.
fn parse_log(path: &Path, bytes: &[u8]) -> Result<LogContents, LogError> {
    // Everything after the last `\n` is a line whose write did not finish.
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    let lines: Vec<&[u8]> = match bytes[..complete].strip_suffix(b"\n") {
        Some(text) => text.split(|&b| b == b'\n').collect(),
        None => Vec::new(),
    };
    let torn_tail = (complete < bytes.len()).then(|| TornTail {
        line: lines.len() + 1,
        bytes: bytes.len() - complete,
    });
    let corrupt = |line: usize, reason: String, text: &[u8]| LogError::Corrupt {
        path: path.to_owned(),
        line,
        reason,
        text: quote(&String::from_utf8_lossy(text)),
    };

    let Some((header, body)) = lines.split_first() else {
        return Ok(LogContents {
            min_next_id: JobId(1),
            records: Vec::new(),
            torn_tail,
            valid_len: 0,
            needs_header: true,
        });
    };
    let header_text = String::from_utf8_lossy(header);
    let fields: Vec<&str> = header_text.split('\t').collect();
    let min_next_id = match fields.as_slice() {
        [MAGIC, VERSION, first] => first
            .parse()
            .map_err(|_| corrupt(1, format!("bad next id {first:?}"), header))?,
        _ => {
            return Err(LogError::BadHeader {
                path: path.to_owned(),
                found: quote(&header_text),
            });
        }
    };

    let mut records = Vec::with_capacity(body.len());
    for (index, raw) in body.iter().enumerate() {
        let line = index + 2;
        let text = std::str::from_utf8(raw)
            .map_err(|_| corrupt(line, "not valid UTF-8".to_owned(), raw))?;
        let record = Record::parse(text).map_err(|reason| corrupt(line, reason, raw))?;
        records.push((line, record));
    }
    Ok(LogContents {
        min_next_id: JobId(min_next_id),
        records,
        torn_tail,
        valid_len: complete as u64,
        needs_header: false,
    })
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// One job as the log tells it.
#[derive(Debug, Clone)]
pub(crate) struct History {
    pub(crate) job: Job,
    /// The errors of its failed attempts, in order: attempt `i + 1` failed with `errors[i]`.
    pub(crate) errors: Vec<String>,
    /// An attempt that started and has no outcome yet: after a crash, one that was cut off.
    pub(crate) started: Option<u32>,
    /// How it ended, if it did.
    pub(crate) outcome: Option<Outcome>,
}

/// What a replay finds: every job's history, and the next id to give.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) jobs: BTreeMap<JobId, History>,
    pub(crate) next_id: u64,
}

/// Checks that the records make sense together, and works out each job's history.
fn replay(path: &Path, contents: &LogContents) -> Result<Replayed, LogError> {
    let mut jobs: BTreeMap<JobId, History> = BTreeMap::new();
    // The header's id is a floor: after a compaction, the records kept have lower ids.
    let mut next_id = contents.min_next_id.0;
    let mut last_accepted: Option<u64> = None;
    for (line, record) in &contents.records {
        let fail = |reason: String| LogError::Corrupt {
            path: path.to_owned(),
            line: *line,
            reason,
            text: quote(&record.to_line()),
        };
        let id = record.id();
        if let Record::Accepted(job) = record {
            if let Some(last) = last_accepted.filter(|last| id.0 <= *last) {
                return Err(fail(format!(
                    "job {id} accepted out of order: ids ascend, and the last was #{last}"
                )));
            }
            last_accepted = Some(id.0);
            next_id = next_id.max(id.0 + 1);
            jobs.insert(
                id,
                History {
                    job: job.clone(),
                    errors: Vec::new(),
                    started: None,
                    outcome: None,
                },
            );
            continue;
        }
        let Some(history) = jobs.get_mut(&id) else {
            return Err(fail(format!("job {id} was never accepted")));
        };
        if history.outcome.is_some() {
            return Err(fail(format!("job {id} has a record after it finished")));
        }
        let due = history.errors.len() as u32 + 1;
        let max = history.job.spec.max_attempts;
        match record {
            Record::Accepted(_) => unreachable!("handled above"),
            Record::Started { attempt, .. } => {
                if *attempt != due {
                    return Err(fail(format!(
                        "attempt {attempt} of job {id} started, but attempt {due} was due"
                    )));
                }
                history.started = Some(*attempt);
            }
            Record::Retrying { attempt, error, .. } => {
                if *attempt != due || *attempt >= max {
                    return Err(fail(format!(
                        "a retry after attempt {attempt} of job {id}, but attempt {due} of \
                         {max} was due"
                    )));
                }
                history.errors.push(error.clone());
                history.started = None;
            }
            Record::Finished { outcome, .. } => {
                let attempts = match outcome {
                    Outcome::Succeeded { attempts, .. } | Outcome::Failed { attempts, .. } => {
                        *attempts
                    }
                };
                if attempts != due || attempts > max {
                    return Err(fail(format!(
                        "job {id} finished at attempt {attempts}, but attempt {due} of {max} \
                         was due"
                    )));
                }
                history.outcome = Some(outcome.clone());
                history.started = None;
            }
        }
    }
    Ok(Replayed { jobs, next_id })
}

/// Where a simulated crash hits the log: a test hook, for the demo and the tests.
///
/// When the record it names is written, only the first half of its line reaches the file (a
/// torn line, as a real crash in the middle of a write leaves), and from then on the log takes
/// nothing: as far as the log can tell, the process is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After this many records of this session have been written, during the next.
    AfterRecords(u64),
    /// While the `Finished` record of this job is written: its work is done, its outcome lost,
    /// so the restarted system runs it again (the at-least-once case).
    WhileFinishing(JobId),
}

/// Why the log takes no more records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dead {
    /// The simulated crash.
    Crashed,
    /// A write or sync failed.
    Failed(String),
}

impl Dead {
    pub(crate) fn error(&self) -> JobError {
        match self {
            Self::Crashed => JobError::Crashed,
            Self::Failed(why) => LogError::Poisoned(why.clone()).into(),
        }
    }
}

/// The result of a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// The log's size before.
    pub bytes_before: u64,
    /// The log's size after.
    pub bytes_after: u64,
    /// The unfinished jobs it kept.
    pub jobs_kept: usize,
}

/// The open log: appends records and syncs them.
#[derive(Debug)]
pub(crate) struct LogWriter {
    path: PathBuf,
    dir: PathBuf,
    file: File,
    /// The id the next accepted job gets. Given out here, under the log's lock, so that ids
    /// ascend in the order their records are written.
    pub(crate) next_id: u64,
    /// Cleared by shutdown: no more `Accepted` records.
    accepts_jobs: bool,
    dead: Option<Dead>,
    crash_at: Option<CrashPoint>,
    /// Records written in this session, for [`CrashPoint::AfterRecords`].
    written: u64,
}

/// What opening the log found.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) writer: LogWriter,
    pub(crate) replayed: Replayed,
    pub(crate) records: usize,
    pub(crate) torn_tail: Option<TornTail>,
    pub(crate) created: bool,
}

impl LogWriter {
    /// Opens (or creates) the log in `dir` and replays it. A torn last line is cut off the
    /// file; a new log gets its header, synced, and so does the directory entry.
    pub(crate) fn open(dir: &Path, crash_at: Option<CrashPoint>) -> Result<Opened, LogError> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(LogError::NotADir(dir.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LogError::MissingDir(dir.to_owned()));
            }
            Err(source) => {
                return Err(LogError::Io {
                    action: "look at",
                    path: dir.to_owned(),
                    source,
                });
            }
        }
        let path = dir.join(LOG_FILE);
        let io_error = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| LogError::Io {
                action,
                path,
                source,
            }
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_error("read", &path))?;

        let contents = parse_log(&path, &bytes)?;
        let replayed = replay(&path, &contents)?;
        if contents.torn_tail.is_some() {
            // Cut the torn line off, so that the next record starts on a line of its own
            // instead of being glued to half a record (which would be corruption mid-file).
            file.set_len(contents.valid_len)
                .and_then(|()| file.sync_data())
                .map_err(io_error("cut the torn last line off", &path))?;
        }
        if contents.needs_header {
            file.write_all(format!("{}\n", header_line(1)).as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(io_error("write the header of", &path))?;
        }
        if !existed {
            sync_dir(dir)?;
        }
        Ok(Opened {
            writer: Self {
                path,
                dir: dir.to_owned(),
                file,
                next_id: replayed.next_id,
                accepts_jobs: true,
                dead: None,
                crash_at,
                written: 0,
            },
            records: contents.records.len(),
            torn_tail: contents.torn_tail,
            created: contents.needs_header,
            replayed,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` in one write, then syncs once. Nothing is acknowledged before this
    /// returns `Ok`.
    pub(crate) fn append(&mut self, records: &[Record]) -> Result<(), JobError> {
        if let Some(dead) = &self.dead {
            return Err(dead.error());
        }
        if !self.accepts_jobs && records.iter().any(|r| matches!(r, Record::Accepted(_))) {
            return Err(JobError::ShuttingDown);
        }
        let mut bytes = Vec::new();
        let mut crash = false;
        for record in records {
            let line = format!("{}\n", record.to_line());
            if self.crash_hits(record) {
                // The simulated crash: half the line reaches the disk, then nothing more.
                bytes.extend_from_slice(&line.as_bytes()[..line.len() / 2]);
                crash = true;
                break;
            }
            bytes.extend_from_slice(line.as_bytes());
            self.written += 1;
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if crash {
            self.dead = Some(Dead::Crashed);
            return Err(JobError::Crashed);
        }
        written.map_err(|source| {
            // After a failed write or sync, what reached the disk is unknown (and a retried
            // fsync may report success for data that is lost): stop trusting the log.
            self.dead = Some(Dead::Failed(format!(
                "writing to {} failed: {source}",
                self.path.display()
            )));
            JobError::Log(LogError::Io {
                action: "append to",
                path: self.path.clone(),
                source,
            })
        })
    }

    fn crash_hits(&self, record: &Record) -> bool {
        match self.crash_at {
            Some(CrashPoint::AfterRecords(n)) => self.written == n,
            Some(CrashPoint::WhileFinishing(id)) => {
                matches!(record, Record::Finished { id: finished, .. } if *finished == id)
            }
            None => false,
        }
    }

    /// Takes no more `Accepted` records (shutdown has begun).
    pub(crate) fn stop_accepting(&mut self) {
        self.accepts_jobs = false;
    }

    /// The simulated crash, now: the log takes nothing more.
    pub(crate) fn kill(&mut self) {
        self.dead.get_or_insert(Dead::Crashed);
    }

    pub(crate) fn dead(&self) -> Option<&Dead> {
        self.dead.as_ref()
    }

    /// Rewrites the log with only the unfinished jobs (each one's `Accepted` and `Retrying`
    /// records), keeping the next id in the header. Written to a temporary file, synced, then
    /// renamed over the log, and the directory synced: a crash at any point leaves either the
    /// old log or the new one, whole.
    pub(crate) fn compact<'a>(
        &mut self,
        unfinished: impl IntoIterator<Item = (&'a Job, &'a [String])>,
    ) -> Result<Compaction, JobError> {
        if let Some(dead) = &self.dead {
            return Err(dead.error());
        }
        let io_error = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| {
                JobError::Log(LogError::Io {
                    action,
                    path,
                    source,
                })
            }
        };
        let bytes_before = fs::metadata(&self.path)
            .map_err(io_error("look at", &self.path))?
            .len();
        let mut text = format!("{}\n", header_line(self.next_id));
        let mut jobs_kept = 0;
        for (job, errors) in unfinished {
            jobs_kept += 1;
            text.push_str(&Record::Accepted(job.clone()).to_line());
            text.push('\n');
            for (index, error) in errors.iter().enumerate() {
                let retry = Record::Retrying {
                    id: job.id,
                    attempt: index as u32 + 1,
                    error: error.clone(),
                };
                text.push_str(&retry.to_line());
                text.push('\n');
            }
        }
        let temporary = self.path.with_extension("log.compacting");
        let mut file = File::create(&temporary).map_err(io_error("create", &temporary))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temporary))?;
        fs::rename(&temporary, &self.path).map_err(io_error("replace", &self.path))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io_error("reopen", &self.path))?;
        Ok(Compaction {
            bytes_before,
            bytes_after: text.len() as u64,
            jobs_kept,
        })
    }
}

/// Makes a new or renamed directory entry durable: on Linux, a file's `fsync` does not cover
/// its name in the directory.
fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LogError::Io {
            action: "sync the directory",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, kind: JobKind) -> Job {
        Job {
            id: JobId(id),
            spec: JobSpec::new(kind).priority(7).max_attempts(3),
        }
    }

    fn every_kind_of_record() -> Vec<Record> {
        vec![
            Record::Accepted(job(1, JobKind::Fib { n: 30 })),
            Record::Accepted(job(
                2,
                JobKind::CountPrimes {
                    start: 10,
                    end: 1_000,
                },
            )),
            Record::Accepted(job(3, JobKind::FailFirst { failures: 2 })),
            Record::Accepted(job(4, JobKind::Hang)),
            Record::Accepted(job(
                5,
                JobKind::Panic {
                    message: "tab\there, newline\nthere, backslash \\".to_owned(),
                },
            )),
            Record::Started {
                id: JobId(1),
                attempt: 1,
            },
            Record::Retrying {
                id: JobId(3),
                attempt: 1,
                error: "bad\r\n".to_owned(),
            },
            Record::Finished {
                id: JobId(1),
                outcome: Outcome::Succeeded {
                    output: 832_040,
                    attempts: 1,
                },
            },
            Record::Finished {
                id: JobId(5),
                outcome: Outcome::Failed {
                    error: "panicked: boom".to_owned(),
                    attempts: 1,
                },
            },
        ]
    }

    #[test]
    fn every_record_survives_a_round_trip_on_one_line() {
        for record in every_kind_of_record() {
            let line = record.to_line();
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
            assert_eq!(Record::parse(&line), Ok(record), "{line:?}");
        }
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("X\t1", "unknown record"),
            ("S\t1", "wrong number of fields"),
            ("S\tone\t1", "id is not a valid number"),
            ("S\t1\t0", "count from 1"),
            ("R\t1\t1\tbad \\q escape", "unknown escape"),
            ("R\t1\t1\tends with \\", "backslash ends"),
            ("A\t1\t0\t3\t1000\tfib\t99", "does not fit"),
            ("A\t1\t0\t3\t1000\tsleep\t5", "unknown job kind"),
            ("A\t1\t0\t0\t1000\thang", "max_attempts"),
        ];
        for (line, expected) in cases {
            let error = Record::parse(line).unwrap_err();
            assert!(error.contains(expected), "{line:?}: {error}");
        }
    }

    fn log_text(records: &[Record]) -> String {
        let mut text = format!("{}\n", header_line(1));
        for record in records {
            text.push_str(&record.to_line());
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_replay_finds_each_jobs_history() {
        let text = log_text(&every_kind_of_record());
        let path = Path::new("test.log");
        let contents = parse_log(path, text.as_bytes()).unwrap();
        assert_eq!(contents.torn_tail, None);
        assert_eq!(contents.records.len(), 9);
        assert_eq!(contents.records[0].0, 2, "the first record is line 2");
        let replayed = replay(path, &contents).unwrap();
        assert_eq!(replayed.next_id, 6);
        assert!(replayed.jobs[&JobId(1)].outcome.is_some());
        assert_eq!(replayed.jobs[&JobId(3)].errors, ["bad\r\n"]);
        assert_eq!(replayed.jobs[&JobId(4)].outcome, None);
    }

    #[test]
    fn only_an_unterminated_last_line_is_torn() {
        let mut text = log_text(&every_kind_of_record()[..2]);
        text.push_str("S\t1");
        let contents = parse_log(Path::new("x"), text.as_bytes()).unwrap();
        assert_eq!(
            contents.torn_tail,
            Some(TornTail { line: 4, bytes: 3 }),
            "header, 2 records, then the torn line 4"
        );
        assert_eq!(contents.valid_len as usize, text.len() - 3);
        // Torn in the middle of a UTF-8 character: still only a torn tail.
        let mut bytes = log_text(&[]).into_bytes();
        bytes.extend_from_slice(&"R\t1\t1\té".as_bytes()[..7]);
        assert!(
            parse_log(Path::new("x"), &bytes)
                .unwrap()
                .torn_tail
                .is_some()
        );
    }

    #[test]
    fn a_header_of_another_version_is_refused() {
        let error = parse_log(Path::new("x"), b"jobs-log\tv2\t1\n").unwrap_err();
        assert!(matches!(error, LogError::BadHeader { .. }), "{error}");
        let error = parse_log(Path::new("x"), b"hello\n").unwrap_err();
        assert!(
            error.to_string().contains("not a version 1 job log"),
            "{error}"
        );
        let empty = parse_log(Path::new("x"), b"").unwrap();
        assert!(empty.needs_header && empty.records.is_empty());
        // A crash while a new log's header was written: a new log again, with a warning.
        let torn_header = parse_log(Path::new("x"), b"jobs-lo").unwrap();
        assert!(torn_header.needs_header);
        assert_eq!(torn_header.torn_tail, Some(TornTail { line: 1, bytes: 7 }));
    }

    #[test]
    fn records_that_contradict_the_log_are_corruption_naming_the_line() {
        let accepted = Record::Accepted(job(1, JobKind::Fib { n: 5 }));
        let finished = Record::Finished {
            id: JobId(1),
            outcome: Outcome::Succeeded {
                output: 5,
                attempts: 1,
            },
        };
        let cases: Vec<(Vec<Record>, usize, &str)> = vec![
            (
                vec![Record::Started {
                    id: JobId(9),
                    attempt: 1,
                }],
                2,
                "never accepted",
            ),
            (vec![accepted.clone(), accepted.clone()], 3, "out of order"),
            (
                vec![
                    accepted.clone(),
                    finished.clone(),
                    Record::Started {
                        id: JobId(1),
                        attempt: 2,
                    },
                ],
                4,
                "after it finished",
            ),
            (
                vec![
                    accepted.clone(),
                    Record::Started {
                        id: JobId(1),
                        attempt: 2,
                    },
                ],
                3,
                "attempt 1 was due",
            ),
            (
                vec![
                    accepted,
                    Record::Retrying {
                        id: JobId(1),
                        attempt: 1,
                        error: String::new(),
                    },
                    Record::Retrying {
                        id: JobId(1),
                        attempt: 2,
                        error: String::new(),
                    },
                    Record::Retrying {
                        id: JobId(1),
                        attempt: 3,
                        error: String::new(),
                    },
                ],
                5,
                "of 3 was due",
            ),
        ];
        for (records, line, reason) in cases {
            let text = log_text(&records);
            let contents = parse_log(Path::new("x"), text.as_bytes()).unwrap();
            match replay(Path::new("x"), &contents) {
                Err(LogError::Corrupt {
                    line: found,
                    reason: why,
                    ..
                }) => {
                    assert_eq!(found, line, "{why}");
                    assert!(why.contains(reason), "{why}");
                }
                other => panic!("expected corruption at line {line}, got {other:?}"),
            }
        }
    }
}
