//! Batches, and the count that proves the pipeline's memory is bounded. Lines and records
//! travel in a [`Batch`], which holds a ticket in the run's [`LiveRecords`]: the ticket counts
//! the batch's records while they exist. The per-batch steps (`parse_batch` to
//! `aggregate_batch`) run the functions of `steps.rs` over a batch and keep its ticket right;
//! the engine and the sequential run both call them.

use super::records::{Reading, Record, Rejections, Summary};
use super::steps::{parse_line, transform_with, validate};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many records exist right now, and the most that ever did: the proof that the
/// pipeline's memory is bounded. Each batch holds a ticket for its records; the ticket adds
/// them when the batch is made and takes them away as records are rejected and when the batch
/// is dropped.
#[derive(Debug, Default)]
pub struct LiveRecords {
    current: AtomicU64,
    peak: AtomicU64,
}

impl LiveRecords {
    /// Records alive now.
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// The most records alive at once so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// A batch's share of [`LiveRecords`].
#[derive(Debug)]
pub(super) struct Ticket {
    live: Arc<LiveRecords>,
    records: u64,
}

impl Ticket {
    pub(super) fn new(live: &Arc<LiveRecords>, records: u64) -> Self {
        // Relaxed: the counters are statistics that order nothing else. Each `fetch_add`
        // returns the exact value in the counter's single modification order, so the peak
        // is the true maximum of that order.
        let now = live.current.fetch_add(records, Ordering::Relaxed) + records;
        live.peak.fetch_max(now, Ordering::Relaxed);
        Self {
            live: Arc::clone(live),
            records,
        }
    }

    fn release(&mut self, records: u64) {
        let records = records.min(self.records);
        self.records -= records;
        self.live.current.fetch_sub(records, Ordering::Relaxed);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.live.current.fetch_sub(self.records, Ordering::Relaxed);
    }
}

/// Lines of text, each ending in `\n`: what the generate stage sends.
#[derive(Debug, Default)]
pub(super) struct Lines {
    pub(super) text: Vec<u8>,
    pub(super) count: usize,
    /// The number of the first line, counting from 1; the others follow without a gap.
    pub(super) first_line: u64,
}

impl Lines {
    /// The lines, newlines removed.
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.text
            .split_inclusive(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\n").unwrap_or(line))
    }
}

/// A batch of records on its way through the pipeline, with its share of [`LiveRecords`].
#[derive(Debug)]
pub struct Batch<T> {
    pub(super) items: T,
    pub(super) ticket: Ticket,
}

impl<T> Batch<T> {
    /// The records.
    pub fn items(&self) -> &T {
        &self.items
    }

    /// How many records the batch holds.
    pub fn len(&self) -> u64 {
        self.ticket.records
    }

    /// Whether the batch holds no record (every line of it was rejected).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses a batch of lines; the rejected ones are counted and dropped.
pub(super) fn parse_batch(batch: Batch<Lines>, rejections: &mut Rejections) -> Batch<Vec<Record>> {
    let Batch { items, mut ticket } = batch;
    let mut records = Vec::with_capacity(items.count);
    let mut rejected = 0;
    let first_line = items.first_line;
    for (i, line) in items.iter().enumerate() {
        let line_no = first_line + i as u64;
        match parse_line(line, line_no) {
            Ok(record) => records.push(record),
            Err(reason) => {
                rejections.record(reason, line_no);
                rejected += 1;
            }
        }
    }
    ticket.release(rejected);
    Batch {
        items: records,
        ticket,
    }
}

/// Validates a batch in place; the rejected records are counted and dropped.
pub(super) fn validate_batch(
    batch: Batch<Vec<Record>>,
    rejections: &mut Rejections,
) -> Batch<Vec<Record>> {
    let Batch {
        items: mut records,
        mut ticket,
    } = batch;
    let before = records.len();
    records.retain(|record| match validate(record) {
        Ok(()) => true,
        Err(reason) => {
            rejections.record(reason, record.line);
            false
        }
    });
    ticket.release((before - records.len()) as u64);
    Batch {
        items: records,
        ticket,
    }
}

/// Transforms a batch of valid records into readings.
pub(super) fn transform_batch(
    batch: Batch<Vec<Record>>,
    _: &mut Rejections,
) -> Batch<Vec<Reading>> {
    let Batch { items, ticket } = batch;
    let mut scratch = Vec::with_capacity(64);
    Batch {
        items: items
            .into_iter()
            .map(|record| transform_with(record, &mut scratch))
            .collect(),
        ticket,
    }
}

/// Adds a batch of readings to the summary; the batch (and its records) is dropped here.
pub(super) fn aggregate_batch(batch: Batch<Vec<Reading>>, summary: &mut Summary) {
    for reading in batch.items() {
        summary.add(reading);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_count_records_until_dropped() {
        let live = Arc::new(LiveRecords::default());
        let mut a = Ticket::new(&live, 10);
        let b = Ticket::new(&live, 5);
        assert_eq!((live.current(), live.peak()), (15, 15));
        a.release(4);
        drop(b);
        assert_eq!((live.current(), live.peak()), (6, 15));
        drop(a);
        assert_eq!(live.current(), 0);
    }
}
