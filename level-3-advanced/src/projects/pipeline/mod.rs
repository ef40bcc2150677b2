//! # Project l3-p2: the data pipeline (core)
//!
//! A streaming pipeline over sensor readings, one CSV line each (`id,timestamp,sensor,value`,
//! for example `42,1700000042,s07,21.35`):
//!
//! ```text
//!  generate ──▶ parse ×N ──▶ validate ×N ──▶ transform ×N ──▶ aggregate
//!   (1 thread)  bounded       bounded          bounded          (the caller)
//! ```
//!
//! - **generate** reads the lines: from a deterministic generator ([`write_line`]) or from a
//!   file ([`Source::File`]), [`Config::batch_size`] lines at a time, never the whole input.
//! - **parse** turns a line into a [`Record`] ([`parse_line`]), **validate** checks it
//!   ([`validate`]), **transform** converts it to a [`Reading`] in Fahrenheit with a content
//!   [`fingerprint`] (a SHA-256: the one costly step); each stage is [`Config::threads`]
//!   worker threads sharing one input channel.
//! - **aggregate** folds the readings into a [`Summary`]: per-sensor count, sum, minimum and
//!   maximum, and the rejected lines counted by reason ([`Rejections`]).
//!
//! Between stages are *bounded* channels of [`Config::capacity`] batches: Node's streams call
//! this the `highWaterMark`. A stage that runs ahead blocks in `send` until the next one takes
//! a batch, so however long the input, only a bounded number of records exists at once. That
//! is counted, not assumed: every batch carries a ticket for its records in a shared
//! [`LiveRecords`] counter, and the peak of that counter never exceeds
//! [`Config::in_flight_bound`]:
//!
//! ```text
//! batch_size × (1 generator + 4 channels × capacity + 3 stages × threads + 1 aggregator)
//! ```
//!
//! because each of those places holds at most one batch (a channel at most `capacity`).
//!
//! Records travel in batches, not one by one: a channel hand-off costs about as much as
//! parsing a line, so one message per line would spend the threads' time on the channels.
//!
//! The same stage functions run on one thread in [`run_sequential`], and [`run_parallel`]
//! must produce the same [`Summary`]: every sum is an integer (hundredths of a degree), so
//! the order in which batches reach the aggregator cannot change it.
//!
//! Stopping early: when the consumer drops its receiver ([`spawn`] hands it over), the last
//! stage's `send` fails, that stage ends and drops its own receiver, and so on back to the
//! generator. No flag, no `terminate()`: the channels carry the news.
//!
//! ```
//! use level_3_advanced::projects::pipeline::{Config, Source, run_parallel, run_sequential};
//!
//! let source = Source::Generated { records: 20_000 };
//! let config = Config { threads: 2, capacity: 2, batch_size: 256, announce: false };
//! let parallel = run_parallel(&source, &config)?;
//! let sequential = run_sequential(&source, config.batch_size)?;
//! assert_eq!(parallel.summary, sequential.summary);
//! assert!(parallel.peak_in_flight <= config.in_flight_bound());
//! # Ok::<(), level_3_advanced::projects::pipeline::PipelineError>(())
//! ```
//
// The code, by responsibility (each file starts with a comment saying more):
//
// - `records.rs`: the data: `Record`, `Reading`, why a line is rejected (`Reject`,
//   `Rejections`), and the `Summary` a run computes.
// - `generate.rs`: the deterministic line generator and the defects it plants.
// - `steps.rs`: what happens to one line: `parse_line`, `validate`, `transform`, `fingerprint`.
// - `batch.rs`: batches, the `LiveRecords` count that proves memory is bounded, and the
//   per-batch steps every stage runs.
// - `input.rs`: where lines come from (`Source`) and how they are read, a batch at a time.
// - `config.rs`: the settings (`Config`), their limits, and `PipelineError`.
// - `engine.rs`: the parallel engine: the stage threads, the bounded channels, `spawn`.
// - `report.rs`: what a run measured (`RunReport`) and its text tables.
// - `run.rs`: the two complete runs, `run_parallel` and `run_sequential`.

mod batch;
mod config;
mod engine;
mod generate;
mod input;
mod records;
mod report;
mod run;
mod steps;

pub use batch::{Batch, LiveRecords};
pub use config::{
    Config, DEFAULT_BATCH, DEFAULT_CAPACITY, MAX_BATCH, MAX_CAPACITY, MAX_IN_FLIGHT, MAX_THREADS,
    PipelineError,
};
pub use engine::{ReadingsReceiver, StageHandles, StagesReport, spawn};
pub use generate::{DEFAULT_RECORDS, Defect, FIRST_TIMESTAMP, generated_line, write_line};
pub use input::{HEADER, MAX_LINE_BYTES, Source};
pub use records::{
    MAX_CELSIUS_CENTI, MIN_CELSIUS_CENTI, Reading, Record, Reject, Rejections, SENSORS,
    SensorStats, Summary,
};
pub use report::{QueueDepth, QueueReport, RunReport, StageReport};
pub use run::{InputScan, run_parallel, run_sequential, scan_for_valid_record};
pub use steps::{fingerprint, parse_line, transform, validate};
