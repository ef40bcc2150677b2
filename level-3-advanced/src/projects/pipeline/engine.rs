//! The parallel engine: [`spawn`] starts the generate stage on one thread and the parse,
//! validate and transform stages on [`Config::threads`] threads each, joined by bounded
//! channels of [`Config::capacity`] batches, and hands the last channel to the caller, who is
//! the aggregate stage. [`StageHandles::join`] waits for the threads and merges what each
//! counted into a [`StagesReport`]. The channels also carry the news of a stop: when a
//! receiver is dropped, the stage before it ends at its next `send`.

use super::batch::{Batch, Lines, LiveRecords, parse_batch, transform_batch, validate_batch};
use super::config::{Config, PipelineError};
use super::input::{Reader, Source};
use super::records::{Reading, Rejections};
use super::report::{QueueDepth, QueueReport, STAGES, StageReport};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What one stage thread counted.
#[derive(Debug, Clone, Default)]
struct Tally {
    records_in: u64,
    records_out: u64,
    /// Time spent working on batches, not waiting for them or for room to send them.
    busy: Duration,
    rejections: Rejections,
    /// The depth of the channel this thread sends into.
    queue: QueueDepth,
}

/// A worker of a middle stage: takes batches until its input closes, applies `step`, sends
/// the result on. Ends early when its output's receivers are all gone.
fn stage_worker<I, O>(
    name: &str,
    input: Receiver<Batch<I>>,
    output: Sender<Batch<O>>,
    announce: bool,
    mut step: impl FnMut(Batch<I>, &mut Rejections) -> Batch<O>,
) -> Tally {
    let mut tally = Tally::default();
    for batch in input.iter() {
        let started = Instant::now();
        tally.records_in += batch.len();
        let out = step(batch, &mut tally.rejections);
        tally.records_out += out.len();
        tally.busy += started.elapsed();
        if output.send(out).is_err() {
            // Nobody downstream any more: stop, which drops `input`, and the stage before
            // finds out the same way.
            break;
        }
        tally.queue.sample(output.len());
    }
    if announce {
        println!(
            "[{name}] done: {} records in, {} out, busy {:.0} ms",
            tally.records_in,
            tally.records_out,
            tally.busy.as_secs_f64() * 1e3
        );
    }
    tally
}

/// The generate stage: reads batches and sends them until the input ends, an error occurs,
/// or the parse stage is gone.
fn generator(
    mut reader: Reader,
    config: Config,
    live: &Arc<LiveRecords>,
    output: &Sender<Batch<Lines>>,
) -> Result<Tally, PipelineError> {
    let mut tally = Tally::default();
    loop {
        let started = Instant::now();
        let (batch, read) = reader.next_batch(config.batch_size, live, &mut tally.rejections)?;
        tally.records_in += read;
        tally.busy += started.elapsed();
        let Some(batch) = batch else { break };
        tally.records_out += batch.len();
        if output.send(batch).is_err() {
            break;
        }
        tally.queue.sample(output.len());
    }
    if config.announce {
        println!(
            "[generate] done: {} lines read, {} sent, busy {:.0} ms",
            tally.records_in,
            tally.records_out,
            tally.busy.as_secs_f64() * 1e3
        );
    }
    Ok(tally)
}

/// The stage threads of a running pipeline, to be joined once the consumer is done.
#[derive(Debug)]
pub struct StageHandles {
    config: Config,
    live: Arc<LiveRecords>,
    pub(super) started: Instant,
    generate: JoinHandle<Result<Tally, PipelineError>>,
    /// The parse, validate and transform workers, stage by stage.
    workers: Vec<Vec<(String, JoinHandle<Tally>)>>,
}

/// What the stage threads reported when joined.
#[derive(Debug, Clone, PartialEq)]
pub struct StagesReport {
    /// `generate`, `parse`, `validate`, `transform`.
    pub stages: Vec<StageReport>,
    /// The four channels, the last one sampled by the transform workers.
    pub queues: Vec<QueueReport>,
    /// The lines rejected by every stage together.
    pub rejections: Rejections,
    /// Lines read by the generate stage.
    pub lines: u64,
}

impl StageHandles {
    /// The counter of live records every batch of this run holds a ticket in.
    pub fn live(&self) -> Arc<LiveRecords> {
        Arc::clone(&self.live)
    }

    /// Waits for every stage thread to end, and merges what they counted. Returns when the
    /// input is exhausted and the consumer has taken everything, or when the consumer has
    /// dropped its receiver (each stage then stops at its next `send`).
    ///
    /// # Errors
    /// [`PipelineError::Read`] if the input could not be read to its end (the stages after
    /// it stop normally on what they got); [`PipelineError::Panicked`] if a thread panicked.
    pub fn join(self) -> Result<StagesReport, PipelineError> {
        let panicked =
            |stage: &str, payload: Box<dyn std::any::Any + Send>| PipelineError::Panicked {
                stage: stage.to_owned(),
                message: shared::testing::panic_message(payload.as_ref()),
            };
        let generate = self
            .generate
            .join()
            .map_err(|payload| panicked("generate", payload))?;
        let mut tallies = Vec::new();
        for stage in self.workers {
            let mut joined = Vec::new();
            for (name, handle) in stage {
                joined.push(handle.join().map_err(|payload| panicked(&name, payload))?);
            }
            tallies.push(joined);
        }
        // Every thread has ended: now report a read error, if there was one.
        let generate = generate?;
        let mut rejections = generate.rejections;
        let mut stages = vec![StageReport {
            name: STAGES[0],
            workers: 1,
            records_in: generate.records_in,
            records_out: generate.records_out,
            busy: generate.busy,
            per_worker: vec![generate.records_in],
        }];
        let mut queues = vec![QueueReport {
            from: STAGES[0],
            to: STAGES[1],
            capacity: self.config.capacity,
            depth: generate.queue,
        }];
        for (i, workers) in tallies.iter().enumerate() {
            let mut depth = QueueDepth::default();
            let mut report = StageReport {
                name: STAGES[i + 1],
                workers: workers.len(),
                records_in: 0,
                records_out: 0,
                busy: Duration::ZERO,
                per_worker: Vec::new(),
            };
            for tally in workers {
                report.records_in += tally.records_in;
                report.records_out += tally.records_out;
                report.busy += tally.busy;
                report.per_worker.push(tally.records_in);
                rejections.merge(&tally.rejections);
                depth.merge(&tally.queue);
            }
            stages.push(report);
            queues.push(QueueReport {
                from: STAGES[i + 1],
                to: STAGES[i + 2],
                capacity: self.config.capacity,
                depth,
            });
        }
        Ok(StagesReport {
            stages,
            queues,
            rejections,
            lines: generate.records_in,
        })
    }
}

/// The receiving end of the pipeline's last channel: the readings, a batch at a time.
pub type ReadingsReceiver = Receiver<Batch<Vec<Reading>>>;

/// Spawns a middle stage's workers, each named `{name}-{i}`.
fn spawn_stage<I: Send + 'static, O: Send + 'static>(
    name: &'static str,
    config: Config,
    input: &Receiver<Batch<I>>,
    output: &Sender<Batch<O>>,
    step: fn(Batch<I>, &mut Rejections) -> Batch<O>,
) -> Result<Vec<(String, JoinHandle<Tally>)>, PipelineError> {
    (0..config.threads)
        .map(|i| {
            let thread_name = format!("{name}-{i}");
            let (input, output) = (input.clone(), output.clone());
            let me = thread_name.clone();
            thread::Builder::new()
                .name(thread_name.clone())
                .spawn(move || stage_worker(&me, input, output, config.announce, step))
                .map(|handle| (thread_name.clone(), handle))
                .map_err(|source| PipelineError::Spawn {
                    stage: thread_name,
                    source,
                })
        })
        .collect()
}

/// Starts the pipeline's stage threads on `source`, and hands back the receiving end of the
/// last channel (the readings, a batch at a time) with the handles to join. The caller is the
/// aggregate stage: it receives until the channel closes, or drops the receiver to stop every
/// stage early, then calls [`StageHandles::join`].
///
/// # Errors
/// A bad [`Config`] ([`Config::check`]), an input file that cannot be opened
/// ([`PipelineError::Open`]), or a thread that cannot be started ([`PipelineError::Spawn`];
/// the threads already started then end by themselves, their channels closed).
pub fn spawn(
    source: &Source,
    config: &Config,
) -> Result<(ReadingsReceiver, StageHandles), PipelineError> {
    config.check()?;
    let config = *config;
    let reader = Reader::open(source)?;
    let live = Arc::new(LiveRecords::default());
    let started = Instant::now();
    let (lines_tx, lines_rx) = crossbeam_channel::bounded(config.capacity);
    let (parsed_tx, parsed_rx) = crossbeam_channel::bounded(config.capacity);
    let (valid_tx, valid_rx) = crossbeam_channel::bounded(config.capacity);
    let (readings_tx, readings_rx) = crossbeam_channel::bounded(config.capacity);

    let generate = {
        let live = Arc::clone(&live);
        thread::Builder::new()
            .name("generate".to_owned())
            .spawn(move || generator(reader, config, &live, &lines_tx))
            .map_err(|source| PipelineError::Spawn {
                stage: "generate".to_owned(),
                source,
            })?
    };
    let workers = vec![
        spawn_stage("parse", config, &lines_rx, &parsed_tx, parse_batch)?,
        spawn_stage("validate", config, &parsed_rx, &valid_tx, validate_batch)?,
        spawn_stage(
            "transform",
            config,
            &valid_rx,
            &readings_tx,
            transform_batch,
        )?,
    ];
    // The workers hold their own clones; ours must go, or no channel would ever close.
    drop((
        lines_rx,
        parsed_tx,
        parsed_rx,
        valid_tx,
        valid_rx,
        readings_tx,
    ));
    Ok((
        readings_rx,
        StageHandles {
            config,
            live,
            started,
            generate,
            workers,
        },
    ))
}
