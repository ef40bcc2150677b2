//! The pipeline's data: a parsed [`Record`], the [`Reading`] it becomes, why a line is
//! rejected ([`Reject`], counted by reason in [`Rejections`]), and the [`Summary`] the
//! aggregate stage folds the readings into. The plausible ranges a reading must fall in are
//! here too; the code that checks them is in `steps.rs`.

use std::fmt;

/// Sensors `s00` to `s15` exist; any other sensor number is rejected by
/// [`validate`](super::validate).
pub const SENSORS: u16 = 16;

/// The lowest plausible reading, in hundredths of a degree Celsius (-40.00 °C).
pub const MIN_CELSIUS_CENTI: i64 = -4_000;

/// The highest plausible reading, in hundredths of a degree Celsius (85.00 °C).
pub const MAX_CELSIUS_CENTI: i64 = 8_500;

/// Why a line was rejected. The first three are found while reading or parsing, the last two
/// by [`validate`](super::validate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// Longer than [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) (files only).
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

/// A parsed line: what [`parse_line`](super::parse_line) makes and
/// [`validate`](super::validate) checks.
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

/// A validated record after [`transform`](super::transform): what the aggregator sums.
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
    /// The record's [`fingerprint`](super::fingerprint).
    pub fingerprint: u64,
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
