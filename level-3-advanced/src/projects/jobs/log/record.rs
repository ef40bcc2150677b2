//! One line of the job log: a [`Record`] (with a finished job's [`Outcome`]) written as a line
//! and parsed back, and the escaping that keeps a text field on one line. The format is in the
//! [module documentation](super); `replay.rs` parses whole logs with [`Record::parse`], and
//! `writer.rs` appends [`Record::to_line`].

use crate::projects::jobs::job::{Job, JobId, JobKind, JobSpec};
use std::fmt::Write as _;
use std::time::Duration;

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

#[cfg(test)]
pub(super) mod tests {
    //! Also the sample records that the tests of `replay.rs` read back.

    use super::*;

    pub(crate) fn job(id: u64, kind: JobKind) -> Job {
        Job {
            id: JobId(id),
            spec: JobSpec::new(kind).priority(7).max_attempts(3),
        }
    }

    pub(crate) fn every_kind_of_record() -> Vec<Record> {
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
}
