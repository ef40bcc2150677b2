//! What happens to one line, the work of the middle stages: [`parse_line`] turns it into a
//! [`Record`], [`validate`] checks the record, [`transform`] turns it into a [`Reading`] with
//! its [`fingerprint`]. Plain functions on one record each: `batch.rs` runs them over a batch,
//! and the engine on the stage threads.

use super::generate::{push_sensor, push_u64};
use super::records::{MAX_CELSIUS_CENTI, MIN_CELSIUS_CENTI, Reading, Record, Reject, SENSORS};
use sha2::{Digest, Sha256};

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
pub(super) fn transform_with(record: Record, scratch: &mut Vec<u8>) -> Reading {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
