//! Tests of exercise l3-ex06 (pool metrics).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex06` runs
//! them against your file, `level-3-advanced/src/exercises/ex06_pool_metrics.rs`.
//!
//! Nothing here is timed or threaded: a histogram is fed durations, and the text format is
//! rendered from metrics and gauges that the tests fill in by hand.
//!
//! Every promise of the exercise's header and doc comments, and the test that fails when it is
//! broken. No test starts a thread or reads a clock, so none depends on scheduling or load.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `le` is inclusive (5 ms in `0.005`, 100 ms in `0.1`) | `histogram_buckets_are_cumulative_and_inf_equals_the_count` | no threads, no clock |
//! | cumulative counts never go down; `+Inf` equals the count | `histogram_buckets_are_cumulative_and_inf_equals_the_count` | no threads, no clock |
//! | the sum is exact | `histogram_buckets_are_cumulative_and_inf_equals_the_count` | no threads, no clock |
//! | bounds that do not strictly ascend are `UnsortedBuckets` naming the first one, from `Histogram::new` and `Metrics::new` | `bounds_that_do_not_strictly_ascend_are_a_typed_error` | no threads, no clock |
//! | `# HELP` and `# TYPE` before each metric's samples; lines `name{labels} value`, no `NaN` | every test that renders (`parse_exposition` checks each line) | no threads, no clock |
//! | `le` ascending, ending at `+Inf`, written as plain numbers; `_sum` in seconds; `_count` | `the_text_exposition_parses_with_ascending_buckets_and_no_nan` | no threads, no clock |
//! | each counter and gauge reads its own value, under its documented name and labels; the breaker gauge is 0, 1, 2 | `every_counter_and_gauge_reads_the_value_it_was_given` | no threads, no clock |
//!
//! Wrong answers that these tests catch are in `xtask/mutants/l3-ex06/`.

// The code under test: your file when `cargo exercise check l3-ex06` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex06_pool_metrics.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex06_pool_metrics as under_test;

mod exposition;

use exposition::{check_histograms, parse_exposition, value_of};
use std::collections::BTreeMap;
use std::time::Duration;
use under_test::{BreakerState, ConfigError, DURATION_BUCKETS, Gauges, Histogram, Metrics, render};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn histogram_buckets_are_cumulative_and_inf_equals_the_count() {
    let mut histogram = Histogram::new(&DURATION_BUCKETS).expect("the default buckets");
    let values = [ms(1), ms(5), ms(6), ms(100), ms(101), secs(3), secs(20)];
    for value in values {
        histogram.observe(value);
    }
    assert_eq!(histogram.count(), 7);
    assert_eq!(histogram.sum(), values.iter().sum::<Duration>());

    let buckets = histogram.cumulative();
    assert_eq!(buckets.len(), DURATION_BUCKETS.len() + 1);
    assert_eq!(
        buckets.last(),
        Some(&(None, 7)),
        "+Inf must hold every value"
    );
    let counts: BTreeMap<Duration, u64> = buckets
        .iter()
        .filter_map(|&(bound, count)| Some((bound?, count)))
        .collect();
    // `le` is inclusive: 5 ms is in the 0.005 bucket, 100 ms in the 0.1 bucket.
    assert_eq!(counts[&ms(5)], 2);
    assert_eq!(counts[&ms(10)], 3);
    assert_eq!(counts[&ms(100)], 4);
    assert_eq!(counts[&ms(250)], 5);
    assert_eq!(counts[&secs(5)], 6);
    // 20 s is beyond the last bound: only +Inf has it.
    assert_eq!(counts[&secs(10)], 6);
    for pair in buckets.windows(2) {
        assert!(pair[0].1 <= pair[1].1, "buckets went down: {pair:?}");
    }
}

#[test]
fn bounds_that_do_not_strictly_ascend_are_a_typed_error() {
    let unsorted = [ms(5), ms(50), ms(10)];
    assert_eq!(
        Histogram::new(&unsorted).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 2 })
    );
    let repeated = [ms(5), ms(5)];
    assert_eq!(
        Metrics::new(&repeated).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 1 })
    );
}

#[test]
fn the_text_exposition_parses_with_ascending_buckets_and_no_nan() {
    let mut metrics = Metrics::new(&DURATION_BUCKETS).expect("the default buckets");
    metrics.succeeded = 6;
    metrics.failed = 4;
    metrics.rejected_open = 5;
    for value in [ms(1), ms(100), ms(150), secs(1), secs(30)] {
        metrics.durations.observe(value);
    }
    let gauges = Gauges {
        active_workers: 3,
        live_workers: 4,
        queue_depth: 7,
        breaker: BreakerState::Open,
    };
    let text = render(&metrics, &gauges);
    let (samples, types) = parse_exposition(&text);
    let counts = check_histograms(&samples, &types);
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [5.0],
        "one histogram with 5 values:\n{text}"
    );
    // Every le of the default buckets is there, written as a plain number.
    let les: Vec<&str> = samples
        .iter()
        .flat_map(|s| &s.labels)
        .filter(|(k, _)| k == "le")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        les,
        [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
        ]
    );
    let sums: Vec<f64> = samples
        .iter()
        .filter(|s| s.name.ends_with("_sum"))
        .map(|s| s.value)
        .collect();
    assert_eq!(sums.len(), 1);
    assert!(
        (sums[0] - 31.251).abs() < 1e-9,
        "sum {} instead of 31.251",
        sums[0]
    );
    // The counters and gauges, as numbers.
    let counters: Vec<&String> = types
        .iter()
        .filter(|(_, t)| *t == "counter")
        .map(|(n, _)| n)
        .collect();
    assert!(!counters.is_empty(), "no counter in:\n{text}");
    let gauge_values: BTreeMap<&str, f64> = types
        .iter()
        .filter(|(_, t)| *t == "gauge")
        .map(|(name, _)| (name.as_str(), value_of(&samples, name, &[])))
        .collect();
    for expected in [3.0, 4.0, 7.0] {
        assert!(
            gauge_values.values().any(|&v| v == expected),
            "no gauge reads {expected}: {gauge_values:?}"
        );
    }
}

#[test]
fn every_counter_and_gauge_reads_the_value_it_was_given() {
    let mut metrics = Metrics::new(&DURATION_BUCKETS).expect("the default buckets");
    // Every value different, so that a value shown under another name is seen.
    metrics.succeeded = 11;
    metrics.failed = 12;
    metrics.cancelled = 13;
    metrics.rejected_open = 14;
    metrics.rejected_shutdown = 15;
    metrics.durations.observe(ms(20));
    for (breaker, gauge) in [
        (BreakerState::Closed, 0.0),
        (BreakerState::Open, 1.0),
        (BreakerState::HalfOpen, 2.0),
    ] {
        let gauges = Gauges {
            active_workers: 21,
            live_workers: 22,
            queue_depth: 23,
            breaker,
        };
        let text = render(&metrics, &gauges);
        let (samples, types) = parse_exposition(&text);
        check_histograms(&samples, &types);
        for (name, kind) in [
            ("pool_tasks_total", "counter"),
            ("pool_tasks_rejected_total", "counter"),
            ("pool_task_duration_seconds", "histogram"),
            ("pool_active_workers", "gauge"),
            ("pool_live_workers", "gauge"),
            ("pool_queue_depth", "gauge"),
            ("pool_circuit_breaker_state", "gauge"),
        ] {
            assert_eq!(
                types.get(name).map(String::as_str),
                Some(kind),
                "the TYPE of {name} in:\n{text}"
            );
        }
        let read = |name: &str, labels: &[(&str, &str)]| value_of(&samples, name, labels);
        assert_eq!(
            [
                read("pool_tasks_total", &[("outcome", "success")]),
                read("pool_tasks_total", &[("outcome", "failure")]),
                read("pool_tasks_total", &[("outcome", "cancelled")]),
                read("pool_tasks_rejected_total", &[("reason", "breaker_open")]),
                read("pool_tasks_rejected_total", &[("reason", "shutting_down")]),
            ],
            [11.0, 12.0, 13.0, 14.0, 15.0],
            "success, failure, cancelled, breaker_open, shutting_down in:\n{text}"
        );
        assert_eq!(
            [
                read("pool_active_workers", &[]),
                read("pool_live_workers", &[]),
                read("pool_queue_depth", &[]),
                read("pool_circuit_breaker_state", &[]),
            ],
            [21.0, 22.0, 23.0, gauge],
            "active, live, queue depth and the {breaker:?} breaker in:\n{text}"
        );
        assert_eq!(read("pool_task_duration_seconds_count", &[]), 1.0);
    }
}
