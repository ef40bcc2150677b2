//! Tests of exercise l3-ex05 (circuit breaker).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex05` runs
//! them against your file, `level-3-advanced/src/exercises/ex05_circuit_breaker.rs`.
//!
//! Nothing here is timed: the breaker is told the time, so a test moves it on by adding to an
//! `Instant`.

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
