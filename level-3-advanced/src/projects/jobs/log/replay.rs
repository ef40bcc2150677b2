//! A whole log read back: split into lines (a last line without its `\n` is a [`TornTail`]),
//! each parsed by [`Record::parse`], then replayed to check that the records make sense
//! together and to work out each job's history. [`read_log`] does it for anyone;
//! `writer.rs` does it when the system opens the log.

use super::record::{Outcome, Record};
use super::{MAGIC, VERSION};
use crate::projects::jobs::error::LogError;
use crate::projects::jobs::job::{Job, JobId};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// How much of a bad line an error message quotes.
const QUOTE: usize = 80;

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
    pub(super) valid_len: u64,
    /// Whether the log has no complete header yet (a new or empty file).
    pub(super) needs_header: bool,
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
pub(super) fn parse_log(path: &Path, bytes: &[u8]) -> Result<LogContents, LogError> {
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
pub(super) fn replay(path: &Path, contents: &LogContents) -> Result<Replayed, LogError> {
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

#[cfg(test)]
mod tests {
    use super::super::header_line;
    use super::super::record::tests::{every_kind_of_record, job};
    use super::*;
    use crate::projects::jobs::job::JobKind;

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
