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

use crossbeam_channel::{Receiver, Sender};
use sha2::{Digest, Sha256};
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Sensors `s00` to `s15` exist; any other sensor number is rejected by [`validate`].
pub const SENSORS: u16 = 16;

/// The lowest plausible reading, in hundredths of a degree Celsius (-40.00 °C).
pub const MIN_CELSIUS_CENTI: i64 = -4_000;

/// The highest plausible reading, in hundredths of a degree Celsius (85.00 °C).
pub const MAX_CELSIUS_CENTI: i64 = 8_500;

/// The timestamp of generated line 0, in seconds since 1970 (November 2023); line `i` is one
/// second later than line `i - 1`.
pub const FIRST_TIMESTAMP: u64 = 1_700_000_000;

/// The longest line read from a file, without its newline. A longer line is rejected as
/// [`Reject::TooLong`] without being stored: one huge line cannot make the pipeline's memory
/// grow.
pub const MAX_LINE_BYTES: usize = 1024;

/// The header line a CSV file may start with; it is skipped, not counted as a record.
pub const HEADER: &str = "id,timestamp,sensor,value";

/// How many lines the example generates when not told otherwise.
pub const DEFAULT_RECORDS: u64 = 1_000_000;

/// Lines per batch when not told otherwise: big enough that a channel hand-off is a small
/// part of a batch's work, small enough that the batches in flight stay small.
pub const DEFAULT_BATCH: usize = 1024;

/// Batches each channel holds when not told otherwise.
pub const DEFAULT_CAPACITY: usize = 4;

/// The most worker threads per stage [`Config::check`] accepts.
pub const MAX_THREADS: usize = 64;

/// The largest batch [`Config::check`] accepts.
pub const MAX_BATCH: usize = 1 << 20;

/// A defect the generator plants on purpose: line `i` has `defect` when
/// `i % every == at` (see [`Defect::schedule`]). No two schedules ever meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Defect {
    /// The value field is missing: three fields instead of four.
    MissingField,
    /// The line is empty.
    EmptyLine,
    /// The value is `n/a`.
    BadNumber,
    /// The sensor is `s42`, which does not exist.
    UnknownSensor,
    /// The value is `999.99` °C.
    OutOfRange,
}

impl Defect {
    /// Every defect, in the order of [`Defect::schedule`]'s table.
    pub const ALL: [Defect; 5] = [
        Defect::MissingField,
        Defect::EmptyLine,
        Defect::BadNumber,
        Defect::UnknownSensor,
        Defect::OutOfRange,
    ];

    /// `(every, at)`: line index `i` (0-based) has this defect when `i % every == at`.
    ///
    /// | defect | every | at | in 1,000,000 lines |
    /// |---|---|---|---|
    /// | missing field | 1,000 | 999 | 1,000 |
    /// | empty line | 250,000 | 100,001 | 4 |
    /// | bad number | 5,000 | 1,234 | 200 |
    /// | unknown sensor | 10,000 | 4,321 | 100 |
    /// | out of range | 50,000 | 25,000 | 20 |
    pub const fn schedule(self) -> (u64, u64) {
        match self {
            Defect::MissingField => (1_000, 999),
            Defect::EmptyLine => (250_000, 100_001),
            Defect::BadNumber => (5_000, 1_234),
            Defect::UnknownSensor => (10_000, 4_321),
            Defect::OutOfRange => (50_000, 25_000),
        }
    }

    /// The defect planted in generated line `index`, if any.
    pub fn at(index: u64) -> Option<Defect> {
        Self::ALL.into_iter().find(|d| {
            let (every, at) = d.schedule();
            index % every == at
        })
    }

    /// How the pipeline rejects a line with this defect.
    pub fn rejected_as(self) -> Reject {
        match self {
            Defect::MissingField | Defect::EmptyLine => Reject::FieldCount,
            Defect::BadNumber => Reject::BadNumber,
            Defect::UnknownSensor => Reject::UnknownSensor,
            Defect::OutOfRange => Reject::OutOfRange,
        }
    }
}

/// Why a line was rejected. The first three are found while reading or parsing, the last two
/// by [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// Longer than [`MAX_LINE_BYTES`] (files only).
    TooLong,
    /// Not valid UTF-8 (files only).
    NotUtf8,
    /// Not exactly four comma-separated fields (an empty line has one).
    FieldCount,
    /// The id or timestamp is not a whole number, or the value not a finite number.
    BadNumber,
    /// The sensor field is not `s` followed by a number.
    BadSensor,
    /// The sensor number is [`SENSORS`] or more.
    UnknownSensor,
    /// The value is outside [`MIN_CELSIUS_CENTI`]..=[`MAX_CELSIUS_CENTI`].
    OutOfRange,
}

impl Reject {
    /// Every reason, in report order.
    pub const ALL: [Reject; 7] = [
        Reject::TooLong,
        Reject::NotUtf8,
        Reject::FieldCount,
        Reject::BadNumber,
        Reject::BadSensor,
        Reject::UnknownSensor,
        Reject::OutOfRange,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Reject::TooLong => "line too long",
            Reject::NotUtf8 => "not UTF-8",
            Reject::FieldCount => "wrong field count",
            Reject::BadNumber => "bad number",
            Reject::BadSensor => "bad sensor name",
            Reject::UnknownSensor => "unknown sensor",
            Reject::OutOfRange => "value out of range",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rejected lines counted by reason, with the first line number (1-based) of each reason so
/// that a bad input file can be fixed.
///
/// ```
/// use level_3_advanced::projects::pipeline::{Reject, Rejections};
///
/// let mut a = Rejections::default();
/// a.record(Reject::BadNumber, 40);
/// let mut b = Rejections::default();
/// b.record(Reject::BadNumber, 7);
/// b.record(Reject::FieldCount, 9);
/// a.merge(&b);
/// assert_eq!(a.count(Reject::BadNumber), 2);
/// assert_eq!(a.first_line(Reject::BadNumber), Some(7));
/// assert_eq!(a.total(), 3);
/// assert_eq!(a.to_string(), "wrong field count 1 (first at line 9), bad number 2 (first at line 7)");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejections {
    counts: [u64; Reject::ALL.len()],
    first_lines: [Option<u64>; Reject::ALL.len()],
}

impl Rejections {
    /// Counts one rejected line.
    pub fn record(&mut self, reason: Reject, line: u64) {
        let slot = reason.slot();
        self.counts[slot] += 1;
        self.first_lines[slot] = Some(self.first_lines[slot].map_or(line, |l| l.min(line)));
    }

    /// Adds another set of counts (another worker's) to these.
    pub fn merge(&mut self, other: &Rejections) {
        for reason in Reject::ALL {
            let slot = reason.slot();
            self.counts[slot] += other.counts[slot];
            self.first_lines[slot] = match (self.first_lines[slot], other.first_lines[slot]) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// How many lines were rejected for `reason`.
    pub fn count(&self, reason: Reject) -> u64 {
        self.counts[reason.slot()]
    }

    /// The first line (1-based) rejected for `reason`.
    pub fn first_line(&self, reason: Reject) -> Option<u64> {
        self.first_lines[reason.slot()]
    }

    /// How many lines were rejected in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl fmt::Display for Rejections {
    /// The non-zero counts, in [`Reject::ALL`] order, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for reason in Reject::ALL {
            let count = self.count(reason);
            if count == 0 {
                continue;
            }
            if any {
                f.write_str(", ")?;
            }
            any = true;
            write!(f, "{reason} {count}")?;
            if let Some(line) = self.first_line(reason) {
                write!(f, " (first at line {line})")?;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A parsed line: what [`parse_line`] makes and [`validate`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The line it came from, counting from 1.
    pub line: u64,
    /// The `id` field.
    pub id: u64,
    /// The `timestamp` field, seconds since 1970.
    pub timestamp: u64,
    /// The sensor's number: `s07` is 7.
    pub sensor: u16,
    /// The value, in hundredths of a degree Celsius, rounded.
    pub celsius_centi: i64,
}

/// A validated record after [`transform`]: what the aggregator sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The line it came from, counting from 1.
    pub line: u64,
    /// The record's id.
    pub id: u64,
    /// The sensor's number, below [`SENSORS`].
    pub sensor: u16,
    /// The value in hundredths of a degree Fahrenheit: `celsius_centi * 9 / 5 + 3200`, the
    /// division rounding toward zero.
    pub fahrenheit_centi: i64,
    /// The record's [`fingerprint`].
    pub fingerprint: u64,
}

/// A sixty-four-bit mixer (SplitMix64's finaliser): the generator's deterministic source of
/// sensors and values.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Appends `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends hundredths as a decimal with two places: `-1234` as `-12.34`.
fn push_centi(out: &mut Vec<u8>, centi: i64) {
    if centi < 0 {
        out.push(b'-');
    }
    let abs = centi.unsigned_abs();
    push_u64(out, abs / 100);
    out.push(b'.');
    out.push(b'0' + (abs % 100 / 10) as u8);
    out.push(b'0' + (abs % 10) as u8);
}

/// Appends a sensor name: `s07`.
fn push_sensor(out: &mut Vec<u8>, sensor: u64) {
    out.push(b's');
    if sensor < 10 {
        out.push(b'0');
    }
    push_u64(out, sensor);
}

/// Appends generated line `index` (0-based), newline included: line `i` of the generated
/// data set is always the same, with the defects of [`Defect::schedule`] at their places.
///
/// ```
/// use level_3_advanced::projects::pipeline::{generated_line, write_line};
///
/// let mut out = Vec::new();
/// write_line(0, &mut out);
/// assert_eq!(String::from_utf8(out).unwrap(), generated_line(0) + "\n");
/// assert!(generated_line(0).starts_with("0,1700000000,s"));
/// assert_eq!(generated_line(999).split(',').count(), 3); // a planted missing field
/// assert_eq!(generated_line(100_001), ""); // a planted empty line
/// ```
pub fn write_line(index: u64, out: &mut Vec<u8>) {
    let defect = Defect::at(index);
    if defect == Some(Defect::EmptyLine) {
        out.push(b'\n');
        return;
    }
    let h = mix(index);
    let sensor = h % u64::from(SENSORS);
    // -20.00 to 60.00 °C, well inside the valid range.
    let centi = ((h >> 16) % 8_001) as i64 - 2_000;
    push_u64(out, index);
    out.push(b',');
    push_u64(out, FIRST_TIMESTAMP.wrapping_add(index));
    out.push(b',');
    match defect {
        Some(Defect::UnknownSensor) => push_sensor(out, 42),
        _ => push_sensor(out, sensor),
    }
    match defect {
        Some(Defect::MissingField) => {}
        Some(Defect::BadNumber) => out.extend_from_slice(b",n/a"),
        Some(Defect::OutOfRange) => out.extend_from_slice(b",999.99"),
        _ => {
            out.push(b',');
            push_centi(out, centi);
        }
    }
    out.push(b'\n');
}

/// Generated line `index` as a `String`, without its newline: for tests and examples.
pub fn generated_line(index: u64) -> String {
    let mut out = Vec::new();
    write_line(index, &mut out);
    out.pop();
    // The generator writes ASCII only.
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one line (without its newline; a trailing `\r` is ignored) into a [`Record`].
///
/// ```
/// use level_3_advanced::projects::pipeline::{Reject, parse_line};
///
/// let record = parse_line(b"42,1700000042,s07,-21.35", 43)?;
/// assert_eq!((record.id, record.sensor, record.celsius_centi), (42, 7, -2135));
/// assert_eq!(parse_line(b"42,1700000042,s07", 43), Err(Reject::FieldCount));
/// assert_eq!(parse_line(b"42,1700000042,s07,n/a", 43), Err(Reject::BadNumber));
/// assert_eq!(parse_line(b"42,1700000042,x7,1.5", 43), Err(Reject::BadSensor));
/// # Ok::<(), Reject>(())
/// ```
///
/// # Errors
/// The [`Reject`] reason: [`Reject::NotUtf8`], [`Reject::FieldCount`], [`Reject::BadNumber`]
/// or [`Reject::BadSensor`].
pub fn parse_line(line: &[u8], line_no: u64) -> Result<Record, Reject> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| Reject::NotUtf8)?;
    let mut fields = text.split(',');
    let (Some(id), Some(timestamp), Some(sensor), Some(value), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(Reject::FieldCount);
    };
    let id = id.parse().map_err(|_| Reject::BadNumber)?;
    let timestamp = timestamp.parse().map_err(|_| Reject::BadNumber)?;
    let sensor = sensor
        .strip_prefix('s')
        .and_then(|n| n.parse().ok())
        .ok_or(Reject::BadSensor)?;
    let value: f64 = value.parse().map_err(|_| Reject::BadNumber)?;
    if !value.is_finite() {
        return Err(Reject::BadNumber);
    }
    // Saturates for absurd values, which `validate` then rejects as out of range.
    let celsius_centi = (value * 100.0).round() as i64;
    Ok(Record {
        line: line_no,
        id,
        timestamp,
        sensor,
        celsius_centi,
    })
}

/// Checks a parsed record: a known sensor and a plausible value.
///
/// # Errors
/// [`Reject::UnknownSensor`] or [`Reject::OutOfRange`].
pub fn validate(record: &Record) -> Result<(), Reject> {
    if record.sensor >= SENSORS {
        return Err(Reject::UnknownSensor);
    }
    if !(MIN_CELSIUS_CENTI..=MAX_CELSIUS_CENTI).contains(&record.celsius_centi) {
        return Err(Reject::OutOfRange);
    }
    Ok(())
}

/// Converts a valid record to a reading: the value in Fahrenheit (hundredths, integer
/// arithmetic, so every run computes exactly the same numbers), and the record's fingerprint
/// (see [`fingerprint`]).
///
/// ```
/// use level_3_advanced::projects::pipeline::{Record, fingerprint, transform};
///
/// let record = Record { line: 1, id: 0, timestamp: 0, sensor: 3, celsius_centi: 2_000 };
/// let reading = transform(record);
/// assert_eq!(reading.fahrenheit_centi, 6_800); // 20 °C is 68 °F
/// assert_eq!(reading.fingerprint, fingerprint(&record));
/// ```
pub fn transform(record: Record) -> Reading {
    transform_with(record, &mut Vec::new())
}

/// [`transform`], with a scratch buffer reused from one record to the next.
fn transform_with(record: Record, scratch: &mut Vec<u8>) -> Reading {
    Reading {
        line: record.line,
        id: record.id,
        sensor: record.sensor,
        fahrenheit_centi: record.celsius_centi * 9 / 5 + 3_200,
        fingerprint: fingerprint_with(&record, scratch),
    }
}

/// The record's content fingerprint: the first 8 bytes (little-endian) of the SHA-256 of its
/// canonical form `id,timestamp,sNN,hundredths` (`42,1700000042,s07,-2135`), whatever the
/// spelling of its line (`-21.35`, `-21.350`, a Windows line ending). It is the key a store
/// downstream would deduplicate on, and the transform stage's real work: hashing costs more
/// than everything else a record goes through.
///
/// ```
/// use level_3_advanced::projects::pipeline::{fingerprint, parse_line};
///
/// let a = parse_line(b"42,1700000042,s07,-21.35", 1)?;
/// let b = parse_line(b"42,1700000042,s07,-21.350\r", 9)?;
/// assert_eq!(fingerprint(&a), fingerprint(&b));
/// # Ok::<(), level_3_advanced::projects::pipeline::Reject>(())
/// ```
pub fn fingerprint(record: &Record) -> u64 {
    fingerprint_with(record, &mut Vec::new())
}

fn fingerprint_with(record: &Record, scratch: &mut Vec<u8>) -> u64 {
    scratch.clear();
    push_u64(scratch, record.id);
    scratch.push(b',');
    push_u64(scratch, record.timestamp);
    scratch.push(b',');
    push_sensor(scratch, u64::from(record.sensor));
    scratch.push(b',');
    if record.celsius_centi < 0 {
        scratch.push(b'-');
    }
    push_u64(scratch, record.celsius_centi.unsigned_abs());
    let digest = Sha256::digest(scratch.as_slice());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// One sensor's readings, in hundredths of a degree Fahrenheit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SensorStats {
    /// How many readings.
    pub count: u64,
    /// Their sum.
    pub sum_centi: i64,
    /// The lowest (0 when there is none).
    pub min_centi: i64,
    /// The highest (0 when there is none).
    pub max_centi: i64,
}

impl SensorStats {
    /// The mean in degrees Fahrenheit, or `None` without readings.
    pub fn mean_fahrenheit(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_centi as f64 / self.count as f64 / 100.0)
    }
}

/// What a run computes: the aggregate of every accepted reading, and the rejected lines.
/// Integers only, so a parallel run and a sequential one compare with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Lines read (records offered to the pipeline), accepted or not.
    pub lines: u64,
    /// Lines that became readings.
    pub accepted: u64,
    /// Lines rejected, by reason.
    pub rejected: Rejections,
    /// Per-sensor statistics, indexed by sensor number (`SENSORS` entries).
    pub sensors: Vec<SensorStats>,
    /// The sum of the accepted ids (wrapping): a lost or repeated record changes it.
    pub id_sum: u64,
    /// The sum of the accepted records' fingerprints (wrapping): a record transformed
    /// differently changes it.
    pub fingerprint_sum: u64,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            lines: 0,
            accepted: 0,
            rejected: Rejections::default(),
            sensors: vec![SensorStats::default(); usize::from(SENSORS)],
            id_sum: 0,
            fingerprint_sum: 0,
        }
    }
}

impl Summary {
    /// Adds one reading.
    pub fn add(&mut self, reading: &Reading) {
        self.accepted += 1;
        self.id_sum = self.id_sum.wrapping_add(reading.id);
        self.fingerprint_sum = self.fingerprint_sum.wrapping_add(reading.fingerprint);
        let stats = &mut self.sensors[usize::from(reading.sensor)];
        let value = reading.fahrenheit_centi;
        if stats.count == 0 {
            stats.min_centi = value;
            stats.max_centi = value;
        } else {
            stats.min_centi = stats.min_centi.min(value);
            stats.max_centi = stats.max_centi.max(value);
        }
        stats.count += 1;
        stats.sum_centi += value;
    }
}

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
struct Ticket {
    live: Arc<LiveRecords>,
    records: u64,
}

impl Ticket {
    fn new(live: &Arc<LiveRecords>, records: u64) -> Self {
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
struct Lines {
    text: Vec<u8>,
    count: usize,
    /// The number of the first line, counting from 1; the others follow without a gap.
    first_line: u64,
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
    items: T,
    ticket: Ticket,
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
fn parse_batch(batch: Batch<Lines>, rejections: &mut Rejections) -> Batch<Vec<Record>> {
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
fn validate_batch(batch: Batch<Vec<Record>>, rejections: &mut Rejections) -> Batch<Vec<Record>> {
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
fn transform_batch(batch: Batch<Vec<Record>>, _: &mut Rejections) -> Batch<Vec<Reading>> {
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
fn aggregate_batch(batch: Batch<Vec<Reading>>, summary: &mut Summary) {
    for reading in batch.items() {
        summary.add(reading);
    }
}

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
const CHANNELS: u64 = 4;

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

/// Reads lines from a [`Source`], a batch at a time.
#[derive(Debug)]
enum Reader {
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
    fn open(source: &Source) -> Result<Self, PipelineError> {
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
    fn next_batch(
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
    fn sample(&mut self, len: usize) {
        self.samples += 1;
        self.total += len as u64;
        self.max = self.max.max(len);
    }

    fn merge(&mut self, other: &QueueDepth) {
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
    /// The bound `peak_in_flight` must respect: [`Config::in_flight_bound`], or one batch for
    /// a sequential run.
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

/// The names of the stages, in order.
const STAGES: [&str; 5] = ["generate", "parse", "validate", "transform", "aggregate"];

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
    started: Instant,
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

/// Runs the pipeline with its stages on their own threads, aggregating on the calling
/// thread.
///
/// # Errors
/// As [`spawn`] and [`StageHandles::join`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn generated_lines_parse_back_to_their_numbers() {
        for index in [0, 1, 2, 17, 998, 1_000, 123_456] {
            assert_eq!(Defect::at(index), None, "{index} is a clean line");
            let line = generated_line(index);
            let record = parse_line(line.as_bytes(), index + 1).unwrap();
            assert_eq!(record.id, index);
            assert_eq!(record.timestamp, FIRST_TIMESTAMP + index);
            assert!(record.sensor < SENSORS);
            assert!((-2_000..=6_000).contains(&record.celsius_centi), "{line}");
            assert_eq!(validate(&record), Ok(()));
            let value = line.rsplit(',').next().unwrap();
            let (whole, hundredths) = value.split_once('.').unwrap();
            assert_eq!(hundredths.len(), 2, "{line}");
            let sign = if whole.starts_with('-') { -1 } else { 1 };
            let expected = sign
                * (whole.trim_start_matches('-').parse::<i64>().unwrap() * 100
                    + hundredths.parse::<i64>().unwrap());
            assert_eq!(record.celsius_centi, expected, "{line}");
        }
    }

    #[test]
    fn the_defect_schedules_never_meet() {
        // They could only meet within the least common multiple of the periods, which is
        // a multiple of 250,000; checking one period of it is enough.
        for index in 0..250_000u64 {
            let hits = Defect::ALL
                .iter()
                .filter(|d| {
                    let (every, at) = d.schedule();
                    index % every == at
                })
                .count();
            assert!(hits <= 1, "line {index} has {hits} defects");
        }
    }

    #[test]
    fn each_defect_is_rejected_for_its_reason() {
        for defect in Defect::ALL {
            let (_, at) = defect.schedule();
            let line = generated_line(at);
            let outcome = parse_line(line.as_bytes(), at + 1).and_then(|r| validate(&r));
            assert_eq!(outcome, Err(defect.rejected_as()), "{defect:?}: {line:?}");
        }
    }

    #[test]
    fn parse_rejects_what_is_not_a_record() {
        let cases: [(&[u8], Reject); 9] = [
            (b"", Reject::FieldCount),
            (b"1,2,s01,3.0,4", Reject::FieldCount),
            (b"x,2,s01,3.0", Reject::BadNumber),
            (b"1,-2,s01,3.0", Reject::BadNumber),
            (b"1,2,s01,NaN", Reject::BadNumber),
            (b"1,2,s01,inf", Reject::BadNumber),
            (b"1,2,01,3.0", Reject::BadSensor),
            (b"1,2,s99999,3.0", Reject::BadSensor),
            (b"1,2,s01,\xff", Reject::NotUtf8),
        ];
        for (line, reason) in cases {
            assert_eq!(
                parse_line(line, 1),
                Err(reason),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        // A Windows line ending is not part of the value.
        assert_eq!(parse_line(b"1,2,s01,3.25\r", 1).unwrap().celsius_centi, 325);
    }

    #[test]
    fn validation_bounds_are_inclusive() {
        let at = |celsius_centi, sensor| Record {
            line: 1,
            id: 0,
            timestamp: 0,
            sensor,
            celsius_centi,
        };
        assert_eq!(validate(&at(MIN_CELSIUS_CENTI, 0)), Ok(()));
        assert_eq!(validate(&at(MAX_CELSIUS_CENTI, SENSORS - 1)), Ok(()));
        assert_eq!(
            validate(&at(MAX_CELSIUS_CENTI + 1, 0)),
            Err(Reject::OutOfRange)
        );
        assert_eq!(
            validate(&at(MIN_CELSIUS_CENTI - 1, 0)),
            Err(Reject::OutOfRange)
        );
        assert_eq!(validate(&at(0, SENSORS)), Err(Reject::UnknownSensor));
    }

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
