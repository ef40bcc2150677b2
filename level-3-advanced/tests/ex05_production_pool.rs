//! Tests of exercise l3-ex05 (production pool).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex05` runs
//! them against your file, `level-3-advanced/src/exercises/ex05_production_pool.rs`.
//!
//! Nothing here is timed. The breaker is told the time; the pool reads a [`ManualClock`] that
//! the tests move by hand, and a task "takes" 150 ms by moving that clock, so the histogram
//! holds exact values. The one test on the real clock only checks that shutdown returns (a
//! hang fails it after [`TIMEOUT`]), never how fast.

// The code under test: your file when `cargo exercise check l3-ex05` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex05_production_pool.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex05_production_pool as under_test;

use shared::CancellationToken;
use shared::testing::{TIMEOUT, join_within, recv_within, run_within};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use under_test::{
    BreakerConfig, BreakerState, CallOutcome, CircuitBreaker, ConfigError, DURATION_BUCKETS,
    FAILING_TASKS, Gauges, Histogram, ManualClock, Metrics, PoolConfig, ProductionPool, Rejected,
    SubmitError, SystemClock, TaskError, TaskId, render,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::new(BreakerConfig::default()).expect("the default config was refused")
}

/// One call through the breaker at `now`, with its outcome; panics if it is refused.
#[track_caller]
fn call(breaker: &mut CircuitBreaker, now: Instant, outcome: CallOutcome) {
    let permit = breaker
        .acquire(now)
        .unwrap_or_else(|e| panic!("a call was refused: {e}"));
    breaker.record(permit, outcome, now);
}

/// The Node task list: ids 1 to 10, and 3, 6, 7, 8 fail.
fn node_task_fails(id: TaskId) -> bool {
    FAILING_TASKS.contains(&id)
}

/// How long Node task `id` "runs": 100 ms for task 1, 10 ms more for each next one.
fn node_task_takes(id: TaskId) -> Duration {
    ms(100 + 10 * (id - 1))
}

/// A task that pretends to take `takes` by moving the pool's clock, then succeeds with
/// `value` or fails.
fn pretend_task(
    clock: &ManualClock,
    takes: Duration,
    value: u64,
    fails: bool,
) -> impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static {
    let clock = clock.clone();
    move |_| {
        clock.advance(takes);
        if fails {
            Err(TaskError::Failed(format!("task {value} failed on purpose")))
        } else {
            Ok(value)
        }
    }
}

/// A task that waits until the test drops the gate's sender, then succeeds.
fn gated_task(
    gate: &crossbeam_channel::Receiver<()>,
    value: u64,
) -> impl FnOnce(&CancellationToken) -> Result<u64, TaskError> + Send + 'static {
    let gate = gate.clone();
    move |_| {
        // Nothing is ever sent: the gate opens when its sender is dropped.
        match gate.recv_timeout(TIMEOUT) {
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(value),
            _ => Err(TaskError::Failed(
                "the test never opened the gate".to_owned(),
            )),
        }
    }
}

/// A task that never ends by itself: it waits for the pool's stop token, then says so.
fn hung_task(token: &CancellationToken) -> Result<u64, TaskError> {
    // Far longer than any test; `wait_timeout` returns at once when the token is cancelled.
    if token.wait_timeout(TIMEOUT * 6) {
        Err(TaskError::Cancelled)
    } else {
        Err(TaskError::Failed(
            "the hung task was never told to stop".to_owned(),
        ))
    }
}

fn pool_with(clock: &ManualClock) -> ProductionPool {
    ProductionPool::new(PoolConfig::default(), Arc::new(clock.clone()))
        .expect("the default config was refused")
}

/// Polls `ok` until it holds, failing after [`TIMEOUT`].
#[track_caller]
fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        thread::sleep(ms(1));
    }
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker on its own.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_breaker_opens_on_the_eighth_node_result_and_rejects_while_open() {
    let mut breaker = breaker();
    let now = Instant::now();
    for id in 1..=8 {
        assert_eq!(breaker.state(now), BreakerState::Closed, "before task {id}");
        let outcome = if node_task_fails(id) {
            CallOutcome::Failure
        } else {
            CallOutcome::Success
        };
        call(&mut breaker, now, outcome);
    }
    // 4 failures in 8 calls: 50 %.
    assert_eq!(breaker.state(now), BreakerState::Open);
    assert_eq!(
        breaker.acquire(now),
        Err(Rejected::Open { retry_in: secs(5) })
    );
    assert_eq!(
        breaker.acquire(now + ms(1_500)),
        Err(Rejected::Open {
            retry_in: ms(3_500)
        })
    );
}

#[test]
fn the_breaker_judges_no_fewer_calls_than_its_minimum() {
    let mut breaker = breaker();
    let now = Instant::now();
    for _ in 0..3 {
        call(&mut breaker, now, CallOutcome::Failure);
    }
    // 3 failures out of 3 is 100 %, but 3 calls are below the minimum of 4.
    assert_eq!(breaker.state(now), BreakerState::Closed);
    call(&mut breaker, now, CallOutcome::Failure);
    assert_eq!(breaker.state(now), BreakerState::Open);
}

#[test]
fn the_breaker_judges_only_its_window_of_the_latest_ten() {
    let mut breaker = breaker();
    let now = Instant::now();
    for _ in 0..10 {
        call(&mut breaker, now, CallOutcome::Success);
    }
    for _ in 0..4 {
        call(&mut breaker, now, CallOutcome::Failure);
    }
    // The window holds 6 successes and 4 failures: 40 %.
    assert_eq!(breaker.state(now), BreakerState::Closed);
    call(&mut breaker, now, CallOutcome::Failure);
    // Now 5 of the latest 10 failed, though only 5 of all 15 did.
    assert_eq!(breaker.state(now), BreakerState::Open);
}

/// A breaker opened at `now`.
fn opened_at(now: Instant) -> CircuitBreaker {
    let mut breaker = breaker();
    for _ in 0..4 {
        call(&mut breaker, now, CallOutcome::Failure);
    }
    assert_eq!(breaker.state(now), BreakerState::Open);
    breaker
}

#[test]
fn the_breaker_is_half_open_after_five_seconds_without_any_call() {
    let opened = Instant::now();
    let breaker = opened_at(opened);
    // Nothing calls it in between: `state` takes `&self` and works it out from the time.
    assert_eq!(breaker.state(opened + ms(4_999)), BreakerState::Open);
    assert_eq!(breaker.state(opened + secs(5)), BreakerState::HalfOpen);
    assert_eq!(breaker.state(opened + secs(3_600)), BreakerState::HalfOpen);
}

#[test]
fn three_probe_successes_close_the_breaker_with_a_fresh_window() {
    let opened = Instant::now();
    let mut breaker = opened_at(opened);
    let later = opened + secs(5);
    let probes: Vec<_> = (0..3)
        .map(|i| {
            breaker
                .acquire(later)
                .unwrap_or_else(|e| panic!("probe {i} was refused: {e}"))
        })
        .collect();
    // Three probes at a time, no more.
    assert_eq!(breaker.acquire(later), Err(Rejected::ProbesBusy));
    for (i, probe) in probes.into_iter().enumerate() {
        assert_eq!(
            breaker.state(later),
            BreakerState::HalfOpen,
            "after {i} successes"
        );
        breaker.record(probe, CallOutcome::Success, later);
    }
    assert_eq!(breaker.state(later), BreakerState::Closed);
    // The old failures are forgotten: one failure out of one is below the minimum of calls.
    call(&mut breaker, later, CallOutcome::Failure);
    assert_eq!(breaker.state(later), BreakerState::Closed);
}

#[test]
fn a_probe_failure_reopens_the_breaker_and_late_results_are_ignored() {
    let opened = Instant::now();
    let mut breaker = opened_at(opened);
    let later = opened + secs(5);
    let first = breaker.acquire(later).expect("probe 1 was refused");
    let second = breaker.acquire(later).expect("probe 2 was refused");
    breaker.record(first, CallOutcome::Failure, later + ms(10));
    assert_eq!(breaker.state(later + ms(10)), BreakerState::Open);
    assert_eq!(
        breaker.acquire(later + ms(10)),
        Err(Rejected::Open { retry_in: secs(5) }),
        "reopened for another 5 s from the failure"
    );
    // The other probe answers late: it was admitted before the reopening and changes nothing.
    breaker.record(second, CallOutcome::Success, later + ms(20));
    assert_eq!(breaker.state(later + ms(20)), BreakerState::Open);

    // Half-open again 5 s after the failure: two successes are not three.
    let again = later + ms(10) + secs(5);
    call(&mut breaker, again, CallOutcome::Success);
    call(&mut breaker, again, CallOutcome::Success);
    assert_eq!(breaker.state(again), BreakerState::HalfOpen);
    // A cancelled probe frees its slot without counting.
    call(&mut breaker, again, CallOutcome::Ignored);
    assert_eq!(breaker.state(again), BreakerState::HalfOpen);
    call(&mut breaker, again, CallOutcome::Success);
    assert_eq!(breaker.state(again), BreakerState::Closed);
}

#[test]
fn a_result_from_before_the_breaker_opened_is_ignored() {
    let mut breaker = breaker();
    let now = Instant::now();
    // Admitted while closed, answered after the breaker opened and became half-open.
    let early = breaker.acquire(now).expect("refused while closed");
    for _ in 0..4 {
        call(&mut breaker, now, CallOutcome::Failure);
    }
    let later = now + secs(5);
    call(&mut breaker, later, CallOutcome::Success);
    call(&mut breaker, later, CallOutcome::Success);
    breaker.record(early, CallOutcome::Success, later);
    assert_eq!(
        breaker.state(later),
        BreakerState::HalfOpen,
        "a success from before the opening counted as a probe"
    );
}

#[test]
fn a_bad_config_is_a_typed_error() {
    let base = BreakerConfig::default();
    let cases = [
        (
            BreakerConfig { window: 0, ..base },
            ConfigError::EmptyWindow,
        ),
        (
            BreakerConfig {
                failure_ratio: 0.0,
                ..base
            },
            ConfigError::BadRatio(0.0),
        ),
        (
            BreakerConfig {
                failure_ratio: 1.5,
                ..base
            },
            ConfigError::BadRatio(1.5),
        ),
        (
            BreakerConfig {
                min_calls: 0,
                ..base
            },
            ConfigError::BadMinCalls {
                min_calls: 0,
                window: 10,
            },
        ),
        (
            BreakerConfig {
                min_calls: 11,
                ..base
            },
            ConfigError::BadMinCalls {
                min_calls: 11,
                window: 10,
            },
        ),
        (
            BreakerConfig {
                close_after: 0,
                ..base
            },
            ConfigError::NoProbes,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected), "{config:?}");
        assert_eq!(
            CircuitBreaker::new(config).map(|_| ()),
            Err(expected),
            "{config:?}"
        );
        let pool = PoolConfig {
            breaker: config,
            ..PoolConfig::default()
        };
        assert_eq!(
            ProductionPool::new(pool, Arc::new(SystemClock)).map(|_| ()),
            Err(expected),
            "{config:?}"
        );
    }
    let no_workers = PoolConfig {
        workers: 0,
        ..PoolConfig::default()
    };
    assert_eq!(
        ProductionPool::new(no_workers, Arc::new(SystemClock)).map(|_| ()),
        Err(ConfigError::NoWorkers)
    );
    let unsorted = [ms(5), ms(50), ms(10)];
    assert_eq!(
        Histogram::new(&unsorted).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 2 })
    );
    let repeated = PoolConfig {
        buckets: vec![ms(5), ms(5)],
        ..PoolConfig::default()
    };
    assert_eq!(
        ProductionPool::new(repeated, Arc::new(SystemClock)).map(|_| ()),
        Err(ConfigError::UnsortedBuckets { index: 1 })
    );
}

// ---------------------------------------------------------------------------------------------
// The histogram and the text format.
// ---------------------------------------------------------------------------------------------

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

/// One sample line of the text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the labels between `{` and `}`: `key="value",key="value"`.
fn parse_labels(text: &str, line: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label without =\"...\": {line}"));
        let (value, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("an unterminated label value: {line}"));
        assert!(is_metric_name(key), "a bad label name {key:?}: {line}");
        labels.push((key.to_owned(), value.to_owned()));
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    labels
}

/// Parses the text exposition format, checking each line's shape: `# HELP name text`,
/// `# TYPE name kind` (once per name, before its samples), or `name{labels} value` with a
/// number that is not NaN. Returns the samples and the declared types.
fn parse_exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut types = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (keyword, name) = (parts.next(), parts.next());
            let rest = parts.next().unwrap_or("");
            let name = name.unwrap_or_else(|| panic!("a comment without a metric name: {line}"));
            assert!(is_metric_name(name), "a bad metric name: {line}");
            match keyword {
                Some("HELP") => {
                    assert!(!rest.is_empty(), "an empty HELP: {line}");
                    assert!(helped.insert(name.to_owned()), "a second HELP: {line}");
                }
                Some("TYPE") => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest),
                        "an unknown type: {line}"
                    );
                    assert!(
                        types.insert(name.to_owned(), rest.to_owned()).is_none(),
                        "a second TYPE: {line}"
                    );
                }
                _ => panic!("a comment that is neither HELP nor TYPE: {line}"),
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "an empty line in the output");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample without a value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("a value that is not a number: {line}")),
        };
        assert!(!value.is_nan(), "a NaN value: {line}");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels without a closing brace: {line}"));
                (name, parse_labels(inner, line))
            }
            None => (series, Vec::new()),
        };
        assert!(is_metric_name(name), "a bad metric name: {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "a sample before its TYPE line: {line}"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

/// Checks every histogram in a parsed exposition: `le` ascending and ending at `+Inf`,
/// counts never going down, `+Inf` equal to `_count`, a `_sum`. Returns the `_count`s.
fn check_histograms(samples: &[Sample], types: &BTreeMap<String, String>) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
            .map(|s| {
                let le = s
                    .labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .unwrap_or_else(|| panic!("a {family} bucket without le: {s:?}"));
                let bound = if le.1 == "+Inf" {
                    f64::INFINITY
                } else {
                    le.1.parse::<f64>()
                        .unwrap_or_else(|_| panic!("an le that is not a number: {s:?}"))
                };
                assert!(!bound.is_nan(), "a NaN le: {s:?}");
                (bound, s.value)
            })
            .collect();
        assert!(!buckets.is_empty(), "{family} has no buckets");
        for pair in buckets.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{family}: le not ascending: {pair:?}"
            );
            assert!(pair[0].1 <= pair[1].1, "{family}: counts go down: {pair:?}");
        }
        let (last_bound, inf_count) = *buckets.last().expect("checked above");
        assert_eq!(last_bound, f64::INFINITY, "{family}: no +Inf bucket");
        let one = |suffix: &str| {
            let found: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.name == format!("{family}{suffix}"))
                .collect();
            assert_eq!(found.len(), 1, "{family}{suffix} must appear once");
            found[0].value
        };
        let count = one("_count");
        assert_eq!(inf_count, count, "{family}: +Inf is not the count");
        assert!(one("_sum") >= 0.0);
        counts.insert(family.clone(), count);
    }
    counts
}

/// The value of the sample `name` with these labels.
fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .value
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

// ---------------------------------------------------------------------------------------------
// The pool.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_node_task_list_opens_the_breaker_and_time_alone_half_opens_it() {
    run_within(TIMEOUT * 2, "the Node task list", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        let health = pool.health();
        assert!(health.live && health.ready, "a new pool: {health:?}");

        // One at a time, as in the Node run, so each result is in before the next submit.
        let mut rejected = Vec::new();
        for id in 1..=10 {
            match pool.submit(pretend_task(
                &clock,
                node_task_takes(id),
                id,
                node_task_fails(id),
            )) {
                Ok(task) => {
                    assert_eq!(task, id, "ids are given 1, 2, 3... in submission order");
                    let outcome = recv_within(pool.outcomes(), TIMEOUT, &format!("task {id}"));
                    assert_eq!(outcome.id, id);
                    assert_eq!(outcome.took, Some(node_task_takes(id)));
                    if node_task_fails(id) {
                        assert!(
                            matches!(outcome.result, Err(TaskError::Failed(_))),
                            "{outcome:?}"
                        );
                    } else {
                        assert_eq!(outcome.result, Ok(id));
                    }
                }
                Err(e) => {
                    assert_eq!(
                        e,
                        SubmitError::Rejected(Rejected::Open { retry_in: secs(5) }),
                        "task {id}"
                    );
                    rejected.push(id);
                }
            }
        }
        assert_eq!(rejected, [9, 10], "the 8th result (4 of 8 failed) opens it");
        let health = pool.health();
        assert_eq!(health.breaker, BreakerState::Open);
        assert!(health.live, "an open breaker is no reason to restart");
        assert!(!health.ready, "not ready while the breaker is open");

        let metrics = pool.metrics();
        assert_eq!(
            (
                metrics.succeeded,
                metrics.failed,
                metrics.rejected_open,
                metrics.cancelled
            ),
            (4, 4, 2, 0)
        );
        assert_eq!(metrics.durations.count(), 8);
        assert_eq!(
            metrics.durations.sum(),
            (1..=8).map(node_task_takes).sum::<Duration>()
        );
        let within = |bound: Duration| {
            metrics
                .durations
                .cumulative()
                .into_iter()
                .find(|(b, _)| *b == Some(bound))
                .map(|(_, count)| count)
        };
        assert_eq!(within(ms(100)), Some(1), "task 1's 100 ms is in le=0.1");
        assert_eq!(within(ms(250)), Some(8));

        // The Node breaker never got here: nothing runs while it is open, and it only looked at
        // the clock when a result came in. Time alone must do it.
        clock.advance(ms(4_999));
        assert_eq!(pool.health().breaker, BreakerState::Open);
        clock.advance(ms(1));
        let health = pool.health();
        assert_eq!(health.breaker, BreakerState::HalfOpen);
        assert!(health.ready, "ready again once half-open: {health:?}");

        for value in [100, 200, 300] {
            pool.submit(pretend_task(&clock, ms(10), value, false))
                .expect("a probe was refused");
            let outcome = recv_within(pool.outcomes(), TIMEOUT, "a probe");
            assert_eq!(outcome.result, Ok(value));
        }
        assert_eq!(pool.health().breaker, BreakerState::Closed);
        let report = pool.shutdown(secs(60));
        assert!(report.drained, "{report:?}");
    });
}

#[test]
fn the_pools_metrics_text_parses_and_counts_what_happened() {
    run_within(TIMEOUT * 2, "the metrics run", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        for id in 1..=10 {
            if pool
                .submit(pretend_task(
                    &clock,
                    node_task_takes(id),
                    id,
                    node_task_fails(id),
                ))
                .is_ok()
            {
                recv_within(pool.outcomes(), TIMEOUT, &format!("task {id}"));
            }
        }
        let text = pool.metrics_text();
        let (samples, types) = parse_exposition(&text);
        let counts = check_histograms(&samples, &types);
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            [8.0],
            "8 tasks ran:\n{text}"
        );
        let breaker_gauge = types
            .iter()
            .filter(|(_, t)| *t == "gauge")
            .map(|(name, _)| name)
            .find(|name| name.contains("breaker"))
            .unwrap_or_else(|| panic!("no breaker gauge in:\n{text}"));
        assert_eq!(value_of(&samples, breaker_gauge, &[]), 1.0, "1 is open");
        let tasks: f64 = samples
            .iter()
            .filter(|s| types.get(&s.name).is_some_and(|t| t == "counter"))
            .map(|s| s.value)
            .sum();
        assert_eq!(
            tasks, 10.0,
            "8 ended and 2 were rejected, counted once each:\n{text}"
        );
        pool.shutdown(secs(60));
    });
}

#[test]
fn a_panicking_task_is_a_failure_and_its_worker_lives_on() {
    run_within(TIMEOUT * 2, "the panicking task", || {
        let clock = ManualClock::new();
        let pool = pool_with(&clock);
        pool.submit(|_| panic!("this task panics on purpose"))
            .expect("refused");
        let outcome = recv_within(pool.outcomes(), TIMEOUT, "the panicking task");
        match outcome.result {
            Err(TaskError::Panicked(message)) => {
                assert!(message.contains("on purpose"), "{message}")
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(pool.metrics().failed, 1);
        let health = pool.health();
        assert!(health.live && health.ready, "{health:?}");
        assert_eq!(health.live_workers, 4);
        // All four workers still run tasks.
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        for value in 1..=4 {
            pool.submit(gated_task(&gate, value)).expect("refused");
        }
        wait_until("four tasks running at once", || {
            pool.gauges().active_workers == 4
        });
        drop(open);
        let mut values: Vec<u64> = (0..4)
            .map(|_| {
                recv_within(pool.outcomes(), TIMEOUT, "a gated task")
                    .result
                    .expect("a gated task failed")
            })
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4]);
        pool.shutdown(secs(60));
    });
}

#[test]
fn shutdown_drains_the_work_and_refuses_new_tasks_meanwhile() {
    run_within(TIMEOUT * 2, "the draining shutdown", || {
        let clock = ManualClock::new();
        let pool = Arc::new(pool_with(&clock));
        let (open, gate) = crossbeam_channel::bounded::<()>(0);
        // 4 running, 2 queued behind them.
        for value in 1..=6 {
            pool.submit(gated_task(&gate, value)).expect("refused");
        }
        wait_until("four tasks running", || pool.gauges().active_workers == 4);
        assert_eq!(pool.gauges().queue_depth, 2);

        // The pool's clock does not move: the deadline never passes, whatever the machine.
        let shutting = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.shutdown(secs(60)))
        };
        wait_until("the pool to say it is shutting down", || {
            pool.health().shutting_down
        });
        let health = pool.health();
        assert!(!health.ready, "ready while shutting down: {health:?}");
        assert_eq!(
            pool.submit(|_| Ok(0)),
            Err(SubmitError::ShuttingDown),
            "a task submitted during shutdown"
        );
        assert_eq!(pool.metrics().rejected_shutdown, 1);

        drop(open);
        let report = join_within(shutting, TIMEOUT, "the shutdown").expect("the shutdown panicked");
        assert!(report.drained, "{report:?}");
        assert!(report.told_to_stop.is_empty(), "{report:?}");
        assert_eq!(
            (
                report.not_started,
                report.workers_joined,
                report.workers_left
            ),
            (0, 4, 0)
        );
        let mut values: Vec<u64> = pool
            .outcomes()
            .try_iter()
            .map(|o| o.result.expect("a drained task failed"))
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4, 5, 6], "every task, run once");
        let health = pool.health();
        assert!(!health.live && !health.ready, "after shutdown: {health:?}");
        assert_eq!(
            pool.submit(|_| Ok(0)),
            Err(SubmitError::ShuttingDown),
            "a task submitted after shutdown"
        );
    });
}

#[test]
fn at_its_deadline_shutdown_tells_hung_tasks_to_stop_and_returns() {
    run_within(TIMEOUT * 2, "the shutdown with hung tasks", || {
        let clock = ManualClock::new();
        let pool = Arc::new(pool_with(&clock));
        // 4 hung tasks hold every worker; a fifth waits behind them.
        for _ in 0..4 {
            pool.submit(hung_task).expect("refused");
        }
        pool.submit(|_| Ok(5)).expect("refused");
        wait_until("four hung tasks running", || {
            pool.gauges().active_workers == 4
        });

        let shutting = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.shutdown(secs(30)))
        };
        wait_until("the pool to say it is shutting down", || {
            pool.health().shutting_down
        });
        // Nothing can end and the pool's clock stands still, so a correct shutdown is still
        // waiting however slow the machine; the pause only gives a wrong one time to return.
        thread::sleep(ms(20));
        assert!(
            !shutting.is_finished(),
            "shutdown returned before its deadline while tasks ran"
        );
        clock.advance(secs(30));
        let report = join_within(shutting, TIMEOUT, "the shutdown").expect("the shutdown panicked");
        assert!(!report.drained, "{report:?}");
        assert_eq!(report.told_to_stop, [1, 2, 3, 4], "{report:?}");
        assert_eq!(report.not_started, 1, "{report:?}");
        assert_eq!(report.workers_left, 4, "{report:?}");

        // Told to stop, the hung tasks stop; the queued one never starts.
        let mut results: Vec<(TaskId, Result<u64, TaskError>)> = (0..5)
            .map(|_| {
                let o = recv_within(pool.outcomes(), TIMEOUT, "an outcome after the deadline");
                (o.id, o.result)
            })
            .collect();
        results.sort_by_key(|(id, _)| *id);
        assert_eq!(
            results,
            [
                (1, Err(TaskError::Cancelled)),
                (2, Err(TaskError::Cancelled)),
                (3, Err(TaskError::Cancelled)),
                (4, Err(TaskError::Cancelled)),
                (5, Err(TaskError::ShutDown)),
            ]
        );
        wait_until("every worker to end", || pool.health().live_workers == 0);
        assert_eq!(pool.metrics().cancelled, 5);
    });
}

#[test]
fn on_the_real_clock_shutdown_returns_despite_a_hung_task() {
    // The only test on the real clock: it checks that shutdown returns, never how fast.
    run_within(TIMEOUT * 2, "the real-clock shutdown", || {
        let pool = ProductionPool::new(PoolConfig::default(), Arc::new(SystemClock))
            .expect("the default config was refused");
        pool.submit(hung_task).expect("refused");
        wait_until("the hung task running", || {
            pool.gauges().active_workers == 1
        });
        let report = pool.shutdown(ms(200));
        assert_eq!(report.told_to_stop, [1], "{report:?}");
        let outcome = recv_within(pool.outcomes(), TIMEOUT, "the hung task's outcome");
        assert_eq!(outcome.result, Err(TaskError::Cancelled));
        // Shutting down twice is harmless.
        assert_eq!(pool.shutdown(ms(200)).told_to_stop, Vec::<TaskId>::new());
    });
}
