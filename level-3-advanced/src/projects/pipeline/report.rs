//! What a run measured: per stage ([`StageReport`]: records in and out, busy time), per
//! channel ([`QueueReport`]: its sampled [`QueueDepth`]), and for the whole run
//! ([`RunReport`], with the [`Summary`] and the peak of live records), with the text tables
//! the example prints.

use super::records::Summary;
use std::fmt::Write as _;
use std::time::Duration;

/// The names of the stages, in order.
pub(super) const STAGES: [&str; 5] = ["generate", "parse", "validate", "transform", "aggregate"];

/// How full a channel was, sampled by its senders right after each `send`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// How many samples were taken (one per batch sent).
    pub samples: u64,
    /// The sum of the sampled lengths, for the mean.
    pub total: u64,
    /// The largest sampled length.
    pub max: usize,
}

impl QueueDepth {
    pub(super) fn sample(&mut self, len: usize) {
        self.samples += 1;
        self.total += len as u64;
        self.max = self.max.max(len);
    }

    pub(super) fn merge(&mut self, other: &QueueDepth) {
        self.samples += other.samples;
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The mean sampled length (0 without samples).
    pub fn mean(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.total as f64 / self.samples as f64
        }
    }
}

/// What one stage did, all its workers together.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    /// `generate`, `parse`, `validate`, `transform` or `aggregate`.
    pub name: &'static str,
    /// How many threads ran it.
    pub workers: usize,
    /// Records (lines) it received; for `generate`, lines it read.
    pub records_in: u64,
    /// Records it passed on.
    pub records_out: u64,
    /// Time its threads spent working, added up (waiting on a channel is not work).
    pub busy: Duration,
    /// `records_in` of each worker, in worker order: how evenly the shared channel spread the
    /// work.
    pub per_worker: Vec<u64>,
}

impl StageReport {
    /// Records per second the stage handles while its workers are busy, all of them
    /// together: what it could sustain if it never waited. The slowest stage sets the
    /// pipeline's pace.
    pub fn records_per_second(&self) -> f64 {
        let busy_per_worker = self.busy.as_secs_f64() / self.workers.max(1) as f64;
        self.records_in as f64 / busy_per_worker.max(1e-9)
    }

    /// The share of the run's wall time the stage's workers were busy, on average.
    pub fn utilisation(&self, elapsed: Duration) -> f64 {
        self.busy.as_secs_f64() / (self.workers.max(1) as f64 * elapsed.as_secs_f64().max(1e-9))
    }
}

/// The depth of one channel between two stages.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueReport {
    /// The stage that sends into it.
    pub from: &'static str,
    /// The stage that receives from it.
    pub to: &'static str,
    /// Its capacity, in batches.
    pub capacity: usize,
    /// Its sampled depth, in batches.
    pub depth: QueueDepth,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The result.
    pub summary: Summary,
    /// Each stage, in pipeline order.
    pub stages: Vec<StageReport>,
    /// Each channel, in pipeline order (none in a sequential run).
    pub queues: Vec<QueueReport>,
    /// From before the first line was read to after every thread ended.
    pub elapsed: Duration,
    /// The most records alive at once.
    pub peak_in_flight: u64,
    /// The bound `peak_in_flight` must respect:
    /// [`Config::in_flight_bound`](super::Config::in_flight_bound), or one batch for a
    /// sequential run.
    pub in_flight_bound: u64,
}

impl RunReport {
    /// The stages as an aligned text table: workers, records in and out, busy time,
    /// millions of records per second while busy, and utilisation (busy time over wall time).
    pub fn stage_table(&self) -> String {
        let mut out = format!(
            "{:<10} {:>7} {:>11} {:>11} {:>9} {:>16} {:>6}\n",
            "stage",
            "workers",
            "records in",
            "records out",
            "busy ms",
            "M records/s busy",
            "busy %"
        );
        for stage in &self.stages {
            let _ = writeln!(
                out,
                "{:<10} {:>7} {:>11} {:>11} {:>9.1} {:>16.1} {:>5.0}%",
                stage.name,
                stage.workers,
                stage.records_in,
                stage.records_out,
                stage.busy.as_secs_f64() * 1e3,
                stage.records_per_second() / 1e6,
                stage.utilisation(self.elapsed) * 100.0
            );
        }
        out
    }

    /// The channels as an aligned text table: capacity, samples, sampled maximum and mean
    /// depth, in batches.
    pub fn queue_table(&self) -> String {
        let mut out = format!(
            "{:<24} {:>8} {:>8} {:>5} {:>6}\n",
            "queue (batches)", "capacity", "samples", "max", "mean"
        );
        for queue in &self.queues {
            let _ = writeln!(
                out,
                "{:<24} {:>8} {:>8} {:>5} {:>6.2}",
                format!("{} -> {}", queue.from, queue.to),
                queue.capacity,
                queue.depth.samples,
                queue.depth.max,
                queue.depth.mean()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::pipeline::config::CHANNELS;
    use crate::projects::pipeline::{Config, Source, run_parallel};

    #[test]
    fn the_tables_have_a_row_per_stage_and_per_queue() {
        let config = Config {
            threads: 2,
            capacity: 2,
            batch_size: 64,
            announce: false,
        };
        let report = run_parallel(&Source::Generated { records: 1_000 }, &config).unwrap();
        let stages = report.stage_table();
        assert_eq!(stages.lines().count(), 1 + STAGES.len());
        for name in STAGES {
            assert!(stages.contains(name), "{stages}");
        }
        let queues = report.queue_table();
        assert_eq!(queues.lines().count(), 1 + CHANNELS as usize);
        assert!(queues.contains("transform -> aggregate"), "{queues}");
    }
}
