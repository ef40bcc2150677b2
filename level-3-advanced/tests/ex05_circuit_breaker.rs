//! Tests of exercise l3-ex05 (circuit breaker).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex05` runs
//! them against your file, `level-3-advanced/src/exercises/ex05_circuit_breaker.rs`.
//!
//! Nothing here is timed: the breaker is told the time, so a test moves it on by adding to an
//! `Instant`.
//!
//! Every promise of the exercise's header and doc comments, and the test that fails when it is
//! broken. The breaker is a single-threaded state machine told the time, so no test depends on
//! scheduling or load: each is a fixed sequence of calls with fixed `Instant`s.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | closed, it admits every call | `the_breaker_opens_on_the_eighth_node_result_and_rejects_while_open` | no threads, no clock |
//! | it judges only the last 10 outcomes | `the_breaker_judges_only_its_window_of_the_latest_ten` | no threads, no clock |
//! | it opens at `min_calls` (4) outcomes, not before | `the_breaker_judges_no_fewer_calls_than_its_minimum` | no threads, no clock |
//! | it opens when at least half failed (4 of 8 is enough) | `the_breaker_opens_on_the_eighth_node_result_and_rejects_while_open` | no threads, no clock |
//! | open, it rejects with the time left (5 s, then 3.5 s) | `the_breaker_opens_on_the_eighth_node_result_and_rejects_while_open` | the time is given, not read |
//! | 5 s after opening it *is* half-open, with no call (`state(&self)`) | `the_breaker_is_half_open_after_five_seconds_without_any_call` | the time is given, not read |
//! | half-open, 3 probes at a time, then `ProbesBusy` | `three_probe_successes_close_the_breaker_with_a_fresh_window` | no threads, no clock |
//! | 3 successes close it with an empty window | `three_probe_successes_close_the_breaker_with_a_fresh_window` | no threads, no clock |
//! | one probe failure reopens it for another 5 s | `a_probe_failure_reopens_the_breaker_and_late_results_are_ignored` | the time is given, not read |
//! | an `Ignored` probe frees its slot and counts for nothing | `an_ignored_probe_frees_its_slot_and_counts_for_nothing` | no threads, no clock |
//! | an `Ignored` call is not judged while closed, as a success or a failure | `an_ignored_call_is_not_judged_while_closed` | no threads, no clock |
//! | a result from a permit taken before the last change of state is ignored | `a_result_from_before_the_breaker_opened_is_ignored`, `a_probe_failure_reopens_the_breaker_and_late_results_are_ignored` | no threads, no clock |
//! | each bad config is its `ConfigError`, from `validate` and from `new` | `a_bad_breaker_config_is_a_typed_error` | no threads, no clock |
//! | a ratio of exactly 1, `min_calls` equal to the window, `close_after` of 1 are good; NaN is a bad ratio; the first problem is the one reported | `the_edges_of_a_good_config_are_accepted_and_nan_is_refused` | no threads, no clock |
//!
//! Wrong answers that these tests catch are in `xtask/mutants/l3-ex05/`.

// The code under test: your file when `cargo exercise check l3-ex05` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex05_circuit_breaker.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex05_circuit_breaker as under_test;

use std::time::{Duration, Instant};
use under_test::{
    BreakerConfig, BreakerState, CallOutcome, CircuitBreaker, ConfigError, FAILING_TASKS, Rejected,
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
fn node_task_fails(id: u64) -> bool {
    FAILING_TASKS.contains(&id)
}

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
fn a_bad_breaker_config_is_a_typed_error() {
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
    }
}

#[test]
fn an_ignored_probe_frees_its_slot_and_counts_for_nothing() {
    let opened = Instant::now();
    let mut breaker = opened_at(opened);
    let later = opened + secs(5);
    let cancelled = breaker.acquire(later).expect("probe 1 was refused");
    let mut probes: Vec<_> = (2..=3)
        .map(|i| {
            breaker
                .acquire(later)
                .unwrap_or_else(|e| panic!("probe {i} was refused: {e}"))
        })
        .collect();
    assert_eq!(breaker.acquire(later), Err(Rejected::ProbesBusy));
    // The cancelled probe gives its slot back: a fourth probe may start.
    breaker.record(cancelled, CallOutcome::Ignored, later);
    assert_eq!(breaker.state(later), BreakerState::HalfOpen);
    probes.push(
        breaker
            .acquire(later)
            .unwrap_or_else(|e| panic!("the slot of an ignored probe was not freed: {e}")),
    );
    let mut probes = probes.into_iter();
    for i in 0..2 {
        breaker.record(
            probes.next().expect("3 probes"),
            CallOutcome::Success,
            later,
        );
        assert_eq!(
            breaker.state(later),
            BreakerState::HalfOpen,
            "{} successes and one ignored probe closed the breaker",
            i + 1
        );
    }
    breaker.record(
        probes.next().expect("3 probes"),
        CallOutcome::Success,
        later,
    );
    assert_eq!(breaker.state(later), BreakerState::Closed);
}

#[test]
fn an_ignored_call_is_not_judged_while_closed() {
    let mut breaker = breaker();
    let now = Instant::now();
    for _ in 0..3 {
        call(&mut breaker, now, CallOutcome::Failure);
    }
    for _ in 0..5 {
        call(&mut breaker, now, CallOutcome::Ignored);
    }
    // Judged as failures, the 5 ignored calls would have opened it (8 of 8).
    assert_eq!(
        breaker.state(now),
        BreakerState::Closed,
        "ignored calls were judged as failures"
    );
    call(&mut breaker, now, CallOutcome::Failure);
    // 4 failures of 4 judged calls. Judged as successes, the ignored calls would make it 4 of 9.
    assert_eq!(
        breaker.state(now),
        BreakerState::Open,
        "ignored calls were judged as successes"
    );
}

#[test]
fn the_edges_of_a_good_config_are_accepted_and_nan_is_refused() {
    let base = BreakerConfig::default();
    for good in [
        BreakerConfig {
            failure_ratio: 1.0,
            ..base
        },
        BreakerConfig {
            min_calls: base.window,
            ..base
        },
        BreakerConfig {
            min_calls: 1,
            close_after: 1,
            ..base
        },
    ] {
        assert_eq!(good.validate(), Ok(()), "{good:?}");
        assert!(CircuitBreaker::new(good).is_ok(), "{good:?}");
    }
    let nan = BreakerConfig {
        failure_ratio: f64::NAN,
        ..base
    };
    // NaN equals nothing, itself included: match the variant.
    assert!(
        matches!(nan.validate(), Err(ConfigError::BadRatio(r)) if r.is_nan()),
        "{:?}",
        nan.validate()
    );
    // Several problems at once: the first in the documented order is reported.
    let all_bad = BreakerConfig {
        window: 0,
        failure_ratio: 0.0,
        min_calls: 0,
        open_for: base.open_for,
        close_after: 0,
    };
    assert_eq!(all_bad.validate(), Err(ConfigError::EmptyWindow));
    let three_bad = BreakerConfig {
        failure_ratio: 2.0,
        min_calls: 0,
        close_after: 0,
        ..base
    };
    assert_eq!(three_bad.validate(), Err(ConfigError::BadRatio(2.0)));
    let two_bad = BreakerConfig {
        min_calls: 0,
        close_after: 0,
        ..base
    };
    assert_eq!(
        two_bad.validate(),
        Err(ConfigError::BadMinCalls {
            min_calls: 0,
            window: 10
        })
    );
}
