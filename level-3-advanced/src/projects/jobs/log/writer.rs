//! The open log, as the job system uses it: [`LogWriter`] opens (or creates) the file and
//! replays it (with `replay.rs`), appends and syncs records, dies for good on the first failed
//! write or at the simulated crash ([`CrashPoint`]), and compacts the log at shutdown.

use super::record::Record;
use super::replay::{Replayed, TornTail, parse_log, replay};
use super::{LOG_FILE, header_line};
use crate::projects::jobs::error::{JobError, LogError};
use crate::projects::jobs::job::{Job, JobId};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

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
