//! The two complete runs, each returning a [`RunReport`]: [`run_parallel`] runs the stages on
//! their own threads (through [`spawn`]) and aggregates on the calling thread;
//! [`run_sequential`] runs the same per-batch steps one after the other on the calling thread,
//! the reference the parallel run must match. [`scan_for_valid_record`] is the check before
//! either: does the input hold any valid record at all?

use super::batch::{
    Batch, LiveRecords, aggregate_batch, parse_batch, transform_batch, validate_batch,
};
use super::config::{Config, PipelineError};
use super::engine::spawn;
use super::input::{Reader, Source};
use super::records::{Rejections, Summary};
use super::report::{RunReport, STAGES, StageReport};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the pipeline with its stages on their own threads, aggregating on the calling
/// thread.
///
/// # Errors
/// As [`spawn`] and [`StageHandles::join`](super::StageHandles::join).
pub fn run_parallel(source: &Source, config: &Config) -> Result<RunReport, PipelineError> {
    let (readings, handles) = spawn(source, config)?;
    let live = handles.live();
    let started = handles.started;
    let mut summary = Summary::default();
    let mut aggregate = StageReport {
        name: STAGES[4],
        workers: 1,
        records_in: 0,
        records_out: 0,
        busy: Duration::ZERO,
        per_worker: Vec::new(),
    };
    for batch in readings.iter() {
        let t = Instant::now();
        aggregate.records_in += batch.len();
        aggregate_batch(batch, &mut summary);
        aggregate.busy += t.elapsed();
    }
    drop(readings);
    let joined = handles.join()?;
    let elapsed = started.elapsed();
    aggregate.records_out = summary.accepted;
    aggregate.per_worker.push(aggregate.records_in);
    summary.lines = joined.lines;
    summary.rejected = joined.rejections;
    let mut stages = joined.stages;
    stages.push(aggregate);
    Ok(RunReport {
        summary,
        stages,
        queues: joined.queues,
        elapsed,
        peak_in_flight: live.peak(),
        in_flight_bound: config.in_flight_bound(),
    })
}

/// Runs the same stages one after the other on the calling thread, a batch at a time: the
/// reference the parallel run is compared with.
///
/// # Errors
/// [`PipelineError::BatchSize`], [`PipelineError::Open`] or [`PipelineError::Read`].
pub fn run_sequential(source: &Source, batch_size: usize) -> Result<RunReport, PipelineError> {
    let config = Config {
        threads: 1,
        capacity: 1,
        batch_size,
        announce: false,
    };
    config.check()?;
    let mut reader = Reader::open(source)?;
    let live = Arc::new(LiveRecords::default());
    let started = Instant::now();
    let mut stages: Vec<StageReport> = STAGES
        .iter()
        .map(|&name| StageReport {
            name,
            workers: 1,
            records_in: 0,
            records_out: 0,
            busy: Duration::ZERO,
            per_worker: Vec::new(),
        })
        .collect();
    let mut rejections = Rejections::default();
    let mut summary = Summary::default();
    /// Runs one stage on a batch, timing it and counting what goes in and out.
    fn timed<I, O>(
        stage: &mut StageReport,
        batch: Batch<I>,
        step: impl FnOnce(Batch<I>) -> Batch<O>,
    ) -> Batch<O> {
        let t = Instant::now();
        stage.records_in += batch.len();
        let out = step(batch);
        stage.records_out += out.len();
        stage.busy += t.elapsed();
        out
    }
    loop {
        let t = Instant::now();
        let (batch, read) = reader.next_batch(batch_size, &live, &mut rejections)?;
        stages[0].records_in += read;
        stages[0].busy += t.elapsed();
        let Some(batch) = batch else { break };
        stages[0].records_out += batch.len();
        let batch = timed(&mut stages[1], batch, |b| parse_batch(b, &mut rejections));
        let batch = timed(&mut stages[2], batch, |b| {
            validate_batch(b, &mut rejections)
        });
        let batch = timed(&mut stages[3], batch, |b| {
            transform_batch(b, &mut rejections)
        });
        let t = Instant::now();
        stages[4].records_in += batch.len();
        aggregate_batch(batch, &mut summary);
        stages[4].busy += t.elapsed();
    }
    stages[4].records_out = summary.accepted;
    for stage in &mut stages {
        stage.per_worker = vec![stage.records_in];
    }
    summary.lines = stages[0].records_in;
    summary.rejected = rejections;
    Ok(RunReport {
        summary,
        stages,
        queues: Vec::new(),
        elapsed: started.elapsed(),
        peak_in_flight: live.peak(),
        in_flight_bound: batch_size as u64,
    })
}

/// What [`scan_for_valid_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputScan {
    /// The line number (from 1) of the first valid record, or `None` if there is none.
    pub first_valid: Option<u64>,
    /// The lines read, the header not counted: all of them when there is no valid record.
    pub lines: u64,
    /// The lines rejected on the way, by reason.
    pub rejected: Rejections,
}

/// Reads `source` a batch at a time only as far as its first valid record (one that parsing
/// and validation accept): the check a program makes before its run, so that an input with
/// no valid record at all (an empty file, a PNG renamed `.csv`) is refused before any work.
/// A usable input is read for one batch or so; an unusable one to its end.
///
/// ```
/// use level_3_advanced::projects::pipeline::{Source, scan_for_valid_record};
///
/// let scan = scan_for_valid_record(&Source::Generated { records: 10 }, 4)?;
/// assert_eq!(scan.first_valid, Some(1));
/// let none = scan_for_valid_record(&Source::Generated { records: 0 }, 4)?;
/// assert_eq!((none.first_valid, none.lines), (None, 0));
/// # Ok::<(), level_3_advanced::projects::pipeline::PipelineError>(())
/// ```
///
/// # Errors
/// [`PipelineError::BatchSize`], [`PipelineError::Open`] or [`PipelineError::Read`].
pub fn scan_for_valid_record(
    source: &Source,
    batch_size: usize,
) -> Result<InputScan, PipelineError> {
    Config {
        threads: 1,
        capacity: 1,
        batch_size,
        announce: false,
    }
    .check()?;
    let mut reader = Reader::open(source)?;
    let live = Arc::new(LiveRecords::default());
    let mut rejected = Rejections::default();
    let mut lines = 0;
    loop {
        let (batch, read) = reader.next_batch(batch_size, &live, &mut rejected)?;
        lines += read;
        let Some(batch) = batch else {
            return Ok(InputScan {
                first_valid: None,
                lines,
                rejected,
            });
        };
        let batch = validate_batch(parse_batch(batch, &mut rejected), &mut rejected);
        if let Some(record) = batch.items().first() {
            return Ok(InputScan {
                first_valid: Some(record.line),
                lines,
                rejected,
            });
        }
    }
}
