//! Tests of project l3-p2, the data pipeline (`level_3_advanced::projects::pipeline`).
//!
//! The expected results come from a reference written here, independently of the module: a
//! plain loop over the lines with `split(',')` and `parse`. Every run that could hang (a stage
//! that never ends) runs inside `run_within`, so it fails instead.

use level_3_advanced::projects::pipeline::{
    Config, PipelineError, Reject, RunReport, SENSORS, Source, generated_line, run_parallel,
    run_sequential, scan_for_valid_record, spawn,
};
use sha2::{Digest, Sha256};
use shared::testing::{TIMEOUT, recv_or_fail, run_within};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// A small config: several batches in flight even on small inputs.
fn config(threads: usize, capacity: usize, batch_size: usize) -> Config {
    Config {
        threads,
        capacity,
        batch_size,
        announce: false,
    }
}

/// Runs the pipeline in parallel with a deadline.
fn parallel(source: Source, config: Config) -> RunReport {
    run_within(TIMEOUT * 3, "run_parallel", move || {
        run_parallel(&source, &config)
    })
    .expect("the parallel run failed")
}

/// What the reference computes: per sensor (count, sum, min, max) in hundredths of a degree
/// Fahrenheit, the accepted count, the rejected count, and the sums of the accepted ids and
/// fingerprints.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    sensors: BTreeMap<u16, (u64, i64, i64, i64)>,
    accepted: u64,
    rejected: u64,
    id_sum: u64,
    fingerprint_sum: u64,
}

/// The fingerprint as specified: the first 8 bytes, little-endian, of the SHA-256 of
/// `id,timestamp,sNN,hundredths`.
fn expected_fingerprint(id: u64, timestamp: u64, sensor: u16, celsius_centi: i64) -> u64 {
    let canonical = format!("{id},{timestamp},s{sensor:02},{celsius_centi}");
    let digest = Sha256::digest(canonical.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The reference: the specification of a valid line, applied one line at a time.
fn reference(lines: impl IntoIterator<Item = String>) -> Expected {
    let mut expected = Expected::default();
    for line in lines {
        let accepted = (|| {
            let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
            let [id, timestamp, sensor, value] = fields[..] else {
                return None;
            };
            let id: u64 = id.parse().ok()?;
            let timestamp: u64 = timestamp.parse().ok()?;
            let sensor: u16 = sensor.strip_prefix('s')?.parse().ok()?;
            let value: f64 = value.parse().ok().filter(|v: &f64| v.is_finite())?;
            let celsius = (value * 100.0).round() as i64;
            if sensor >= SENSORS || !(-4_000..=8_500).contains(&celsius) {
                return None;
            }
            let fingerprint = expected_fingerprint(id, timestamp, sensor, celsius);
            Some((id, sensor, celsius * 9 / 5 + 3_200, fingerprint))
        })();
        match accepted {
            Some((id, sensor, fahrenheit, fingerprint)) => {
                expected.accepted += 1;
                expected.id_sum = expected.id_sum.wrapping_add(id);
                expected.fingerprint_sum = expected.fingerprint_sum.wrapping_add(fingerprint);
                let entry = expected
                    .sensors
                    .entry(sensor)
                    .or_insert((0, 0, fahrenheit, fahrenheit));
                entry.0 += 1;
                entry.1 += fahrenheit;
                entry.2 = entry.2.min(fahrenheit);
                entry.3 = entry.3.max(fahrenheit);
            }
            None => expected.rejected += 1,
        }
    }
    expected
}

/// The same shape as `Expected`, read from a run's summary.
fn observed(report: &RunReport) -> Expected {
    let summary = &report.summary;
    assert_eq!(summary.sensors.len(), usize::from(SENSORS));
    Expected {
        sensors: summary
            .sensors
            .iter()
            .enumerate()
            .filter(|(_, s)| s.count > 0)
            .map(|(i, s)| {
                let sensor = u16::try_from(i).expect("16 sensors");
                (sensor, (s.count, s.sum_centi, s.min_centi, s.max_centi))
            })
            .collect(),
        accepted: summary.accepted,
        rejected: summary.rejected.total(),
        id_sum: summary.id_sum,
        fingerprint_sum: summary.fingerprint_sum,
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(name: &str, contents: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "l3-p2-pipeline-test-{}-{name}.csv",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("cannot write a temporary file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn aggregates_equal_a_simple_sequential_reference() {
    let records = 30_000;
    let expected = reference((0..records).map(generated_line));
    // Many defects fall in 30,000 lines: 30 missing fields, 6 bad numbers, 3 unknown sensors,
    // 1 out of range, 0 empty lines.
    assert_eq!(expected.rejected, 40);
    let source = Source::Generated { records };
    for (threads, capacity, batch) in [(1, 1, 1), (2, 1, 7), (3, 2, 64), (4, 4, 1024)] {
        let report = parallel(source.clone(), config(threads, capacity, batch));
        assert_eq!(
            observed(&report),
            expected,
            "{threads} threads, capacity {capacity}, batch {batch}"
        );
        assert_eq!(report.summary.lines, records);
    }
    let sequential = run_sequential(&source, 100).unwrap();
    assert_eq!(observed(&sequential), expected);
    let parallel_run = parallel(source, config(2, 2, 100));
    assert_eq!(parallel_run.summary, sequential.summary);
}

#[test]
fn rejected_counts_are_exact_by_reason_and_first_line() {
    // 260,000 lines: every schedule has fired, the empty line (at index 100,001) once.
    let report = parallel(Source::Generated { records: 260_000 }, config(2, 2, 512));
    let rejected = &report.summary.rejected;
    assert_eq!(rejected.count(Reject::FieldCount), 260 + 1);
    assert_eq!(rejected.count(Reject::BadNumber), 52);
    assert_eq!(rejected.count(Reject::UnknownSensor), 26);
    assert_eq!(rejected.count(Reject::OutOfRange), 5);
    for reason in [Reject::TooLong, Reject::NotUtf8, Reject::BadSensor] {
        assert_eq!(rejected.count(reason), 0, "{reason}");
    }
    assert_eq!(rejected.total(), 344);
    assert_eq!(report.summary.accepted, 260_000 - 344);
    // Lines count from 1: index 999 is line 1,000.
    assert_eq!(rejected.first_line(Reject::FieldCount), Some(1_000));
    assert_eq!(rejected.first_line(Reject::BadNumber), Some(1_235));
    assert_eq!(rejected.first_line(Reject::UnknownSensor), Some(4_322));
    assert_eq!(rejected.first_line(Reject::OutOfRange), Some(25_001));
    // Each stage passes on what it did not reject.
    let stages = &report.stages;
    let names: Vec<&str> = stages.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["generate", "parse", "validate", "transform", "aggregate"]
    );
    assert_eq!(stages[1].records_in - stages[1].records_out, 261 + 52);
    assert_eq!(stages[2].records_in - stages[2].records_out, 26 + 5);
    for stage in &stages[1..4] {
        assert_eq!(stage.per_worker.len(), 2, "{}", stage.name);
        assert_eq!(stage.per_worker.iter().sum::<u64>(), stage.records_in);
    }
}

#[test]
fn records_in_flight_never_exceed_what_the_channels_can_hold() {
    let (threads, capacity, batch) = (3, 2, 16);
    let cfg = config(threads, capacity, batch);
    let bound = cfg.in_flight_bound();
    assert_eq!(bound, 16 * (1 + 4 * 2 + 3 * 3 + 1));
    let (readings, handles) = spawn(&Source::Generated { records: 200_000 }, &cfg).unwrap();
    let live = handles.live();

    // The consumer takes nothing yet: every stage fills up and blocks. Then exactly one batch
    // is in the generator, `capacity` in each channel and one in each worker: all of them
    // full (the first planted defect is at line 1,000, far past them). An unbounded queue
    // anywhere would let the count run past this.
    let stalled = 16 * (1 + 4 * 2 + 3 * 3);
    let deadline = Instant::now() + TIMEOUT;
    while live.current() != stalled {
        assert!(
            live.current() <= stalled,
            "{} records alive with the consumer stalled; at most {stalled} fit",
            live.current()
        );
        assert!(
            Instant::now() < deadline,
            "the pipeline never filled: {} records alive, {stalled} expected",
            live.current()
        );
        thread::sleep(Duration::from_millis(1));
    }

    // Now consume everything.
    let mut received = 0;
    for batch in readings.iter() {
        received += batch.len();
    }
    let report = run_within(TIMEOUT, "joining the stages", move || handles.join()).unwrap();
    assert_eq!(received, report.stages[3].records_out);
    assert!(live.peak() <= bound, "peak {} > bound {bound}", live.peak());
    assert!(live.peak() >= stalled);
    assert_eq!(live.current(), 0, "every record was dropped at the end");

    // The same bound holds for the complete run, for another shape.
    let cfg = config(2, 1, 32);
    let report = parallel(Source::Generated { records: 100_000 }, cfg);
    assert!(report.peak_in_flight <= cfg.in_flight_bound());
    assert_eq!(report.in_flight_bound, cfg.in_flight_bound());
    assert!(cfg.in_flight_bound() * 100 < 100_000 * 10);
}

#[test]
fn dropping_the_consumer_ends_every_stage() {
    // Endless, for practical purposes: only the dropped receiver can stop it.
    let source = Source::Generated { records: u64::MAX };
    for cfg in [config(1, 1, 8), config(3, 2, 64)] {
        let (readings, handles) = spawn(&source, &cfg).unwrap();
        let live = handles.live();
        let first = recv_or_fail(&readings, "the first batch of readings");
        assert!(!first.is_empty());
        drop(first);
        drop(readings);
        // If any stage missed the news, joining blocks and `run_within` fails the test.
        let report = run_within(
            TIMEOUT,
            "joining the stages after the consumer left",
            move || handles.join(),
        )
        .expect("the stages should end cleanly");
        assert!(report.lines < u64::MAX);
        assert_eq!(live.current(), 0, "every batch was dropped with its stage");
    }
}

#[test]
fn empty_input_gives_an_empty_summary_and_ends() {
    let empty = TempFile::with("empty", b"");
    let header_only = TempFile::with("header-only", b"id,timestamp,sensor,value\n");
    for source in [
        Source::Generated { records: 0 },
        Source::File(empty.0.clone()),
        Source::File(header_only.0.clone()),
    ] {
        let report = parallel(source.clone(), config(2, 1, 16));
        assert_eq!(report.summary.lines, 0, "{source}");
        assert_eq!(report.summary.accepted, 0);
        assert_eq!(report.summary.rejected.total(), 0);
        assert!(report.summary.sensors.iter().all(|s| s.count == 0));
        assert_eq!(report.peak_in_flight, 0);
        assert!(report.queues.iter().all(|q| q.depth.samples == 0));
        let sequential = run_sequential(&source, 16).unwrap();
        assert_eq!(sequential.summary, report.summary);
    }
}

#[test]
fn capacity_zero_and_other_bad_settings_are_rejected() {
    let source = Source::Generated { records: 10 };
    assert!(matches!(
        run_parallel(&source, &config(2, 0, 16)),
        Err(PipelineError::ZeroCapacity)
    ));
    assert!(matches!(
        spawn(&source, &config(2, 0, 16)),
        Err(PipelineError::ZeroCapacity)
    ));
    assert!(matches!(
        run_parallel(&source, &config(0, 1, 16)),
        Err(PipelineError::Threads(0))
    ));
    assert!(matches!(
        run_parallel(&source, &config(1, 1, 0)),
        Err(PipelineError::BatchSize(0))
    ));
    assert!(matches!(
        run_sequential(&source, 0),
        Err(PipelineError::BatchSize(0))
    ));
}

#[test]
fn a_file_with_bad_lines_is_read_to_the_end_and_the_bad_lines_counted() {
    let long = format!("1,2,s01,{}\n", "9".repeat(5_000));
    let mut contents = Vec::new();
    contents.extend_from_slice(b"id,timestamp,sensor,value\n"); // line 1: skipped
    contents.extend_from_slice(b"1,1700000001,s01,20.00\n"); // 2: ok
    contents.extend_from_slice(b"2,1700000002,s02,-5.5\r\n"); // 3: ok, CRLF
    contents.extend_from_slice(long.as_bytes()); // 4: too long
    contents.extend_from_slice(b"3,1700000003,s03,\xff\xfe\n"); // 5: not UTF-8
    contents.extend_from_slice(b"\n"); // 6: empty
    contents.extend_from_slice(b"4,1700000004,sensor4,1.0\n"); // 7: bad sensor
    contents.extend_from_slice(b"5,1700000005,s99,1.0\n"); // 8: unknown sensor
    contents.extend_from_slice(b"6,1700000006,s04,100.01\n"); // 9: out of range
    contents.extend_from_slice(b"7,soon,s04,1.0\n"); // 10: bad number
    contents.extend_from_slice(b"8,1700000008,s05,85.00"); // 11: ok, no final newline
    let file = TempFile::with("bad-lines", &contents);
    let source = Source::File(file.0.clone());

    // Small batches put the skipped lines at every position in a batch.
    for batch in [1, 2, 3, 64] {
        let report = parallel(source.clone(), config(2, 1, batch));
        let summary = &report.summary;
        let rejected = &summary.rejected;
        assert_eq!(summary.lines, 10, "batch {batch}: the header is not a line");
        assert_eq!(summary.accepted, 3, "batch {batch}");
        assert_eq!(rejected.total(), 7, "batch {batch}");
        let first = |reason| rejected.first_line(reason);
        assert_eq!(first(Reject::TooLong), Some(4), "batch {batch}");
        assert_eq!(first(Reject::NotUtf8), Some(5), "batch {batch}");
        assert_eq!(first(Reject::FieldCount), Some(6), "batch {batch}");
        assert_eq!(first(Reject::BadSensor), Some(7), "batch {batch}");
        assert_eq!(first(Reject::UnknownSensor), Some(8), "batch {batch}");
        assert_eq!(first(Reject::OutOfRange), Some(9), "batch {batch}");
        assert_eq!(first(Reject::BadNumber), Some(10), "batch {batch}");
        for reason in Reject::ALL {
            assert_eq!(rejected.count(reason), 1, "batch {batch}: {reason}");
        }
        assert_eq!(summary.id_sum, 1 + 2 + 8);
        // 20.00 °C is 68 °F; -5.5 °C is 22.1 °F; 85 °C is 185 °F.
        assert_eq!(summary.sensors[1].sum_centi, 6_800);
        assert_eq!(summary.sensors[2].sum_centi, 2_210);
        assert_eq!(summary.sensors[5].max_centi, 18_500);
        let sequential = run_sequential(&source, batch).unwrap();
        assert_eq!(&sequential.summary, summary, "batch {batch}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let path = std::env::temp_dir().join("l3-p2-pipeline-test-this-file-does-not-exist.csv");
    let source = Source::File(path.clone());
    let error = run_parallel(&source, &config(2, 1, 16)).unwrap_err();
    assert!(
        matches!(&error, PipelineError::Open { path: p, .. } if *p == path),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("l3-p2-pipeline-test-this-file-does-not-exist"),
        "{error}"
    );
    assert!(matches!(
        run_sequential(&source, 16),
        Err(PipelineError::Open { .. })
    ));
}

#[test]
fn the_scan_finds_the_first_valid_record_or_says_there_is_none() {
    let mut contents = Vec::new();
    contents.extend_from_slice(b"id,timestamp,sensor,value\n"); // line 1: the header
    contents.extend_from_slice(b"\x89PNG\r\n"); // 2: wrong field count
    contents.extend_from_slice(b"\n"); // 3: empty
    contents.extend_from_slice(b"5,1700000005,s99,1.0\n"); // 4: unknown sensor
    contents.extend_from_slice(b"1,1700000001,s01,20.00\n"); // 5: the first valid record
    contents.extend_from_slice(b"garbage after it\n"); // 6: not read
    let good = TempFile::with("scan-good", &contents);
    for batch in [1, 2, 3, 64] {
        let scan = scan_for_valid_record(&Source::File(good.0.clone()), batch).unwrap();
        assert_eq!(scan.first_valid, Some(5), "batch {batch}");
        // Lines 2 to 4, and line 6 when it is in the same batch as line 5.
        let rejected = scan.rejected.total();
        assert!((3..=4).contains(&rejected), "batch {batch}: {rejected}");
    }

    let bad = TempFile::with("scan-bad", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\n\n");
    let scan = scan_for_valid_record(&Source::File(bad.0.clone()), 2).unwrap();
    assert_eq!(scan.first_valid, None);
    assert_eq!(scan.lines, 4);
    assert_eq!(scan.rejected.total(), 4);
    let empty = TempFile::with("scan-empty", b"");
    let scan = scan_for_valid_record(&Source::File(empty.0.clone()), 8).unwrap();
    assert_eq!((scan.first_valid, scan.lines), (None, 0));

    let missing = std::env::temp_dir().join("l3-p2-scan-test-this-file-does-not-exist.csv");
    assert!(matches!(
        scan_for_valid_record(&Source::File(missing), 8),
        Err(PipelineError::Open { .. })
    ));
}
