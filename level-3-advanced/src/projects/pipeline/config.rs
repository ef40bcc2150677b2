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

/// The most worker threads per stage [`Config::check`] accepts: the projects' common limit,
/// [`crate::projects::cli::MAX_THREADS`] (its documentation says why).
pub const MAX_THREADS: usize = crate::projects::cli::MAX_THREADS;

/// The largest batch [`Config::check`] accepts.
pub const MAX_BATCH: usize = 1 << 20;

/// The most batches a channel may hold. A bounded channel sets aside a slot for every batch it
/// may hold when it is made, so a capacity of 100,000,000,000 would be an allocation of
/// terabytes (the process once aborted on it); and a queue of more than a thousand batches is
/// no longer a bound that matters.
pub const MAX_CAPACITY: usize = 1024;

/// The most records [`Config::in_flight_bound`] may allow alive at once: the pipeline's memory
/// bound must itself fit in memory. A record is a line of up to
/// [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) bytes, so this bounds the line text alive at
/// once by 2 GiB (about 60 MB for the generator's lines of about 30 bytes).
pub const MAX_IN_FLIGHT: u64 = 1 << 21;

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
    /// [`Config::capacity`] is above [`MAX_CAPACITY`].
    #[error("the channel capacity must be at most {MAX_CAPACITY} batches, got {0}")]
    Capacity(usize),
    /// The settings would allow more than [`MAX_IN_FLIGHT`] records alive at once.
    #[error(
        "batch x (2 + 4 channels x capacity + 3 stages x threads) must be at most \
         {MAX_IN_FLIGHT} records"
    )]
    InFlight,
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
    /// As many workers per stage as the machine has logical cores (at most [`MAX_THREADS`]),
    /// [`DEFAULT_CAPACITY`], [`DEFAULT_BATCH`], silent.
    fn default() -> Self {
        Self::for_cores(thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

impl Config {
    /// The default settings on a machine with `cores` logical cores: [`Config::default`]
    /// is this with the machine's count. The thread count is kept within `1..=MAX_THREADS`,
    /// so the default always passes [`Config::check`].
    ///
    /// ```
    /// use level_3_advanced::projects::pipeline::{Config, MAX_THREADS};
    ///
    /// assert_eq!(Config::for_cores(2).threads, 2);
    /// assert_eq!(Config::for_cores(10_000).threads, MAX_THREADS);
    /// assert!(Config::for_cores(10_000).check().is_ok());
    /// ```
    pub fn for_cores(cores: usize) -> Self {
        Self {
            threads: crate::projects::cli::threads_for(cores),
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
    /// [`PipelineError::ZeroCapacity`], [`PipelineError::Capacity`],
    /// [`PipelineError::Threads`], [`PipelineError::BatchSize`] or [`PipelineError::InFlight`].
    pub fn check(&self) -> Result<(), PipelineError> {
        if self.capacity == 0 {
            return Err(PipelineError::ZeroCapacity);
        }
        if self.capacity > MAX_CAPACITY {
            return Err(PipelineError::Capacity(self.capacity));
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(PipelineError::Threads(self.threads));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(PipelineError::BatchSize(self.batch_size));
        }
        match self.checked_in_flight_bound() {
            Some(bound) if bound <= MAX_IN_FLIGHT => Ok(()),
            _ => Err(PipelineError::InFlight),
        }
    }

    /// [`Config::in_flight_bound`], or `None` if it does not fit in a `u64`.
    fn checked_in_flight_bound(&self) -> Option<u64> {
        let capacity = u64::try_from(self.capacity).ok()?;
        let threads = u64::try_from(self.threads).ok()?;
        let batches = CHANNELS
            .checked_mul(capacity)?
            .checked_add(PARALLEL_STAGES.checked_mul(threads)?)?
            .checked_add(2)?;
        u64::try_from(self.batch_size).ok()?.checked_mul(batches)
    }

    /// The most records that can be alive at once in a parallel run: one batch in the
    /// generator, `capacity` in each channel, one in each worker, one in the aggregator.
    /// Exact for settings that pass [`Config::check`]; `u64::MAX` for settings too large to
    /// count (which [`Config::check`] refuses).
    ///
    /// ```
    /// use level_3_advanced::projects::pipeline::Config;
    ///
    /// let config = Config { threads: 2, capacity: 4, batch_size: 1024, announce: false };
    /// assert_eq!(config.in_flight_bound(), 1024 * (1 + 4 * 4 + 3 * 2 + 1));
    /// ```
    pub fn in_flight_bound(&self) -> u64 {
        self.checked_in_flight_bound().unwrap_or(u64::MAX)
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
        let too_many_threads = Config {
            threads: MAX_THREADS + 1,
            ..good
        };
        assert!(matches!(
            too_many_threads.check(),
            Err(PipelineError::Threads(n)) if n == MAX_THREADS + 1
        ));
    }

    #[test]
    fn a_huge_capacity_or_bound_is_refused_without_overflowing() {
        let good = Config::for_cores(2);
        let huge = Config {
            capacity: 100_000_000_000,
            ..good
        };
        assert!(matches!(huge.check(), Err(PipelineError::Capacity(_))));
        assert_eq!(
            Config {
                capacity: usize::MAX,
                threads: usize::MAX,
                batch_size: usize::MAX,
                announce: false,
            }
            .in_flight_bound(),
            u64::MAX
        );
        // Each setting within its own limit, together above MAX_IN_FLIGHT.
        let together = Config {
            capacity: MAX_CAPACITY,
            batch_size: MAX_BATCH,
            ..good
        };
        assert!(matches!(together.check(), Err(PipelineError::InFlight)));
        let largest = Config {
            capacity: MAX_CAPACITY,
            threads: MAX_THREADS,
            batch_size: DEFAULT_BATCH / 4,
            announce: false,
        };
        assert!(largest.check().is_ok(), "{}", largest.in_flight_bound());
    }

    #[test]
    fn the_default_passes_its_own_check_whatever_the_core_count() {
        for cores in [
            0,
            1,
            2,
            64,
            65,
            MAX_THREADS,
            MAX_THREADS + 1,
            10_000,
            usize::MAX,
        ] {
            let config = Config::for_cores(cores);
            assert!(config.check().is_ok(), "{cores} cores: {config:?}");
            assert!((1..=MAX_THREADS).contains(&config.threads));
        }
        assert!(Config::default().check().is_ok());
    }
}
