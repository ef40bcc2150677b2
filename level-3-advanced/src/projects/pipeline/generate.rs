//! The generator: a deterministic data set of sensor lines, as many as asked for, made as
//! they are needed ([`write_line`]), with defects planted at known places ([`Defect`]) so that
//! a run's rejection counts can be checked. `steps.rs` reuses its number formatting for the
//! canonical form it hashes.

use super::records::{Reject, SENSORS};

/// The timestamp of generated line 0, in seconds since 1970 (November 2023); line `i` is one
/// second later than line `i - 1`.
pub const FIRST_TIMESTAMP: u64 = 1_700_000_000;

/// How many lines the example generates when not told otherwise.
pub const DEFAULT_RECORDS: u64 = 1_000_000;

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

/// A sixty-four-bit mixer (SplitMix64's finaliser): the generator's deterministic source of
/// sensors and values.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Appends `n` in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
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
pub(super) fn push_sensor(out: &mut Vec<u8>, sensor: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::pipeline::{parse_line, validate};

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
}
