//! How to run the pipeline ([`Config`]), the limits its settings are checked against, and
//! everything that can stop a run ([`PipelineError`]): a bad setting, an input file that cannot
//! be opened or read, a thread that cannot start or that panicked.

use std::io;
use std::path::PathBuf;
use std::thread;
use thiserror::Error;

/// Lines per batch when not told otherwise: big enough that a channel hand-off is a small
/// part of a batch's work, small enough that the batches in flight stay small.
pub const DEFAULT_BATCH: usize = 1024;

/// Batches each channel holds when not told otherwise.
pub const DEFAULT_CAPACITY: usize = 4;

/// The most worker threads per stage [`Config::check`] accepts.
pub const MAX_THREADS: usize = 64;

/// The largest batch [`Config::check`] accepts.
pub const MAX_BATCH: usize = 1 << 20;

/// What can stop a run.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// [`Config::capacity`] is 0: a channel of capacity 0 is a rendezvous, not a queue, and
    /// the pipeline is about queues.
    #[error("the channel capacity must be at least 1 batch")]
    ZeroCapacity,
    /// [`Config::threads`] is outside `1..=MAX_THREADS`.
    #[error("the worker threads per stage must be 1 to {MAX_THREADS}, got {0}")]
    Threads(usize),
    /// [`Config::batch_size`] is outside `1..=MAX_BATCH`.
    #[error("the batch size must be 1 to {MAX_BATCH} records, got {0}")]
    BatchSize(usize),
    /// The input file cannot be opened.
    #[error("cannot open the input file {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The input file could not be read to its end.
    #[error("cannot read the input file {path} after line {line}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The last line read completely.
        line: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A stage thread could not be started.
    #[error("cannot start the {stage} thread")]
    Spawn {
        /// The thread's name.
        stage: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A stage thread panicked (a bug).
    #[error("the {stage} thread panicked: {message}")]
    Panicked {
        /// The thread's name.
        stage: String,
        /// The panic's message.
        message: String,
    },
}

/// How to run the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Worker threads in each of the parse, validate and transform stages.
    pub threads: usize,
    /// Batches each channel between two stages holds before its sender blocks.
    pub capacity: usize,
    /// Lines per batch.
    pub batch_size: usize,
    /// Whether each stage thread prints a line when it ends (`[parse-0] done: ...`).
    pub announce: bool,
}

impl Default for Config {
    /// As many workers per stage as the machine has logical cores, [`DEFAULT_CAPACITY`],
    /// [`DEFAULT_BATCH`], silent.
    fn default() -> Self {
        Self {
            threads: thread::available_parallelism().map_or(2, |n| n.get()),
            capacity: DEFAULT_CAPACITY,
            batch_size: DEFAULT_BATCH,
            announce: false,
        }
    }
}

/// The channels between stages: generate → parse → validate → transform → aggregate.
pub(super) const CHANNELS: u64 = 4;

/// The stages that have [`Config::threads`] workers.
const PARALLEL_STAGES: u64 = 3;

impl Config {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`PipelineError::ZeroCapacity`], [`PipelineError::Threads`] or
    /// [`PipelineError::BatchSize`].
    pub fn check(&self) -> Result<(), PipelineError> {
        if self.capacity == 0 {
            return Err(PipelineError::ZeroCapacity);
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(PipelineError::Threads(self.threads));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(PipelineError::BatchSize(self.batch_size));
        }
        Ok(())
    }

    /// The most records that can be alive at once in a parallel run: one batch in the
    /// generator, `capacity` in each channel, one in each worker, one in the aggregator.
    ///
    /// ```
    /// use level_3_advanced::projects::pipeline::Config;
    ///
    /// let config = Config { threads: 2, capacity: 4, batch_size: 1024, announce: false };
    /// assert_eq!(config.in_flight_bound(), 1024 * (1 + 4 * 4 + 3 * 2 + 1));
    /// ```
    pub fn in_flight_bound(&self) -> u64 {
        let batches =
            1 + CHANNELS * self.capacity as u64 + PARALLEL_STAGES * self.threads as u64 + 1;
        self.batch_size as u64 * batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused() {
        let good = Config {
            threads: 2,
            capacity: 2,
            batch_size: 8,
            announce: false,
        };
        assert!(good.check().is_ok());
        let zero_capacity = Config {
            capacity: 0,
            ..good
        };
        assert!(matches!(
            zero_capacity.check(),
            Err(PipelineError::ZeroCapacity)
        ));
        let zero_threads = Config { threads: 0, ..good };
        assert!(matches!(
            zero_threads.check(),
            Err(PipelineError::Threads(0))
        ));
        let zero_batch = Config {
            batch_size: 0,
            ..good
        };
        assert!(matches!(
            zero_batch.check(),
            Err(PipelineError::BatchSize(0))
        ));
    }
}
