//! Where the lines come from: a [`Source`], generated or a CSV file, read a batch at a time by
//! the generate stage (`Reader`). A file's lines are read with a length limit
//! ([`MAX_LINE_BYTES`]), so one huge line cannot make memory grow, and its [`HEADER`] line is
//! skipped.

use super::batch::{Batch, Lines, LiveRecords, Ticket};
use super::config::PipelineError;
use super::generate::write_line;
use super::records::{Reject, Rejections};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

/// The longest line read from a file, without its newline. A longer line is rejected as
/// [`Reject::TooLong`] without being stored: one huge line cannot make the pipeline's memory
/// grow.
pub const MAX_LINE_BYTES: usize = 1024;

/// The header line a CSV file may start with; it is skipped, not counted as a record.
pub const HEADER: &str = "id,timestamp,sensor,value";

/// Where the lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `records` lines from [`write_line`], made as they are needed.
    Generated {
        /// How many lines.
        records: u64,
    },
    /// A CSV file of `id,timestamp,sensor,value` lines, optionally starting with [`HEADER`].
    /// Bad lines are counted and skipped; a file that cannot be read is an error.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Generated { records } => write!(f, "{records} generated records"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Reads lines from a [`Source`], a batch at a time.
#[derive(Debug)]
pub(super) enum Reader {
    Generated {
        next: u64,
        end: u64,
    },
    File {
        path: PathBuf,
        input: BufReader<File>,
        /// Lines read so far.
        line: u64,
    },
}

/// What [`read_line_limited`] found.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line, appended with its newline (one is added to a last line that had none).
    Line,
    /// A line longer than the limit: skipped, nothing appended.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads one line into `out` if it has at most `limit` bytes; skips it otherwise. Never
/// stores more than `limit + 1` bytes of a line, however long it is.
fn read_line_limited(
    input: &mut impl BufRead,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    let start = out.len();
    let read = input
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', out)?;
    if read == 0 {
        return Ok(LineRead::End);
    }
    if out.last() == Some(&b'\n') {
        return Ok(LineRead::Line);
    }
    if read <= limit {
        // The last line of the input, without a newline.
        out.push(b'\n');
        return Ok(LineRead::Line);
    }
    // Too long: forget what was read, and skip the rest of the line without storing it.
    out.truncate(start);
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        if let Some(newline) = buffer.iter().position(|&b| b == b'\n') {
            input.consume(newline + 1);
            break;
        }
        let all = buffer.len();
        input.consume(all);
    }
    Ok(LineRead::TooLong)
}

impl Reader {
    pub(super) fn open(source: &Source) -> Result<Self, PipelineError> {
        match source {
            Source::Generated { records } => Ok(Reader::Generated {
                next: 0,
                end: *records,
            }),
            Source::File(path) => {
                let file = File::open(path).map_err(|source| PipelineError::Open {
                    path: path.clone(),
                    source,
                })?;
                Ok(Reader::File {
                    path: path.clone(),
                    input: BufReader::with_capacity(64 * 1024, file),
                    line: 0,
                })
            }
        }
    }

    /// The next batch of at most `batch_size` lines, or `None` at the end of the input, and
    /// how many lines were read for it: the batch's, plus any line too long to keep (counted
    /// in `rejections`). A header line is skipped and not counted.
    pub(super) fn next_batch(
        &mut self,
        batch_size: usize,
        live: &Arc<LiveRecords>,
        rejections: &mut Rejections,
    ) -> Result<(Option<Batch<Lines>>, u64), PipelineError> {
        let mut lines = Lines::default();
        let mut read = 0u64;
        match self {
            Reader::Generated { next, end } => {
                lines.first_line = *next + 1;
                let stop = *next + end.saturating_sub(*next).min(batch_size as u64);
                lines.text.reserve(batch_size * 32);
                while *next < stop {
                    write_line(*next, &mut lines.text);
                    *next += 1;
                    lines.count += 1;
                }
                read = lines.count as u64;
            }
            Reader::File { path, input, line } => {
                lines.first_line = *line + 1;
                while lines.count < batch_size {
                    let before = lines.text.len();
                    let outcome = read_line_limited(input, &mut lines.text, MAX_LINE_BYTES)
                        .map_err(|source| PipelineError::Read {
                            path: path.clone(),
                            line: *line,
                            source,
                        })?;
                    if outcome == LineRead::End {
                        break;
                    }
                    *line += 1;
                    let is_header = *line == 1
                        && outcome == LineRead::Line
                        && lines.text[before..].trim_ascii_end() == HEADER.as_bytes();
                    if !is_header {
                        read += 1;
                    }
                    if outcome == LineRead::TooLong {
                        rejections.record(Reject::TooLong, *line);
                    }
                    if outcome == LineRead::Line && !is_header {
                        lines.count += 1;
                        continue;
                    }
                    // A skipped line. The batch's lines must follow each other without a gap
                    // (their numbers are counted from the first), so either the batch starts
                    // after it, or it ends before it.
                    lines.text.truncate(before);
                    if lines.count == 0 {
                        lines.first_line = *line + 1;
                    } else {
                        break;
                    }
                }
            }
        }
        if lines.count == 0 {
            return Ok((None, read));
        }
        let ticket = Ticket::new(live, lines.count as u64);
        Ok((
            Some(Batch {
                items: lines,
                ticket,
            }),
            read,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_line_longer_than_the_limit_is_skipped_without_being_stored() {
        let mut input = Cursor::new(b"short\n0123456789abcdef\nend".to_vec());
        let mut out = Vec::new();
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::Line
        );
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::TooLong
        );
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::Line
        );
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::End
        );
        // The last line had no newline; one was added.
        assert_eq!(out, b"short\nend\n");
        // Exactly at the limit is kept.
        let mut input = Cursor::new(b"12345678\n123456789".to_vec());
        let mut out = Vec::new();
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::Line
        );
        assert_eq!(
            read_line_limited(&mut input, &mut out, 8).unwrap(),
            LineRead::TooLong
        );
        assert_eq!(out, b"12345678\n");
    }
}
