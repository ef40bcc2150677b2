//! The rate policy of lesson l3-43 (`level_3_advanced::scaling`), on a clock moved by hand:
//! its answer from the rates, the window that slides, no rate from a window that spans no
//! time, the bounds and the cool-down; and the simulated pool it is run on.

use level_3_advanced::scaling::{
    self, Action, Counters, RateConfig, RateConfigError, RatePolicy, Reason, SimulatedPool,
};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
const SERVICE: Duration = Duration::from_millis(200);

fn policy() -> RatePolicy {
    RatePolicy::new(RateConfig::default()).expect("the default config is valid")
}

/// Counters at `tick` ticks after `start`, with `workers` workers and tasks of `SERVICE`.
fn counters(start: Instant, tick: u32, arrived: u64, completed: u64, queued: usize) -> Counters {
    Counters {
        at: start + TICK * tick,
        arrived,
        completed,
        run_time: SERVICE * completed as u32,
        queued,
        workers: 2,
    }
}

/// 5 tasks a second (one every other tick), and `extra(k)` more at tick `k`, for 20 s; then
/// 5 s with none.
fn pattern(extra: impl Fn(u32) -> u64) -> Vec<u64> {
    (1..=250u32)
        .map(|k| {
            if k <= 200 {
                u64::from(k.is_multiple_of(2)) + extra(k)
            } else {
                0
            }
        })
        .collect()
}

/// Runs `arrivals` on a simulated pool of 2 to 8 workers sized by the default rate policy;
/// returns the run and the queue length at each grow decision.
fn run_rate_policy(arrivals: &[u64]) -> (scaling::Run, Vec<usize>) {
    let mut policy = policy();
    let mut queued_at_grow = Vec::new();
    let run = scaling::simulate(arrivals, TICK, 2, SERVICE, |pool| {
        let now = pool.counters();
        let action = policy.decide(now).action;
        if matches!(action, Action::Grow(_)) {
            queued_at_grow.push(now.queued);
        }
        action
    });
    (run, queued_at_grow)
}

#[test]
fn a_window_that_spans_no_time_gives_no_rate_and_no_decision() {
    let start = Instant::now();
    let mut policy = policy();
    let first = policy.decide(counters(start, 0, 0, 0, 0));
    assert_eq!(
        (first.action, first.reason),
        (Action::Hold, Reason::Measuring)
    );
    assert_eq!(policy.rates(), None, "one sample is no rate");
    // A second sample at the same instant, with work done and waiting: still no time, so no
    // rate (dividing by it would give an infinite arrival rate, and a grow to the maximum).
    let same_instant = policy.decide(counters(start, 0, 40, 20, 20));
    assert_eq!(
        (same_instant.action, same_instant.reason),
        (Action::Hold, Reason::Measuring)
    );
    assert_eq!(policy.rates(), None);
}

#[test]
fn tasks_waiting_and_none_finished_is_measuring_not_a_guess() {
    let start = Instant::now();
    let mut policy = policy();
    policy.decide(counters(start, 0, 0, 0, 0));
    let decision = policy.decide(counters(start, 5, 4, 0, 2));
    assert_eq!(
        (decision.action, decision.reason),
        (Action::Hold, Reason::Measuring)
    );
    let rates = policy.rates().expect("half a second is a span");
    assert_eq!(
        rates.per_worker, None,
        "no task finished: no per-worker rate"
    );
    assert_eq!(rates.arrivals, 8.0);
}

#[test]
fn the_rates_come_from_the_counters() {
    let start = Instant::now();
    let mut policy = policy();
    policy.decide(counters(start, 0, 0, 0, 0));
    // 1 s: 12 arrived, 10 finished in 2 s of run time, 2 waiting.
    let decision = policy.decide(counters(start, 10, 12, 10, 2));
    let rates = policy.rates().expect("a span of 1 s");
    assert_eq!(rates.span, Duration::from_secs(1));
    assert_eq!(rates.arrivals, 12.0);
    assert_eq!(rates.completions, 10.0);
    assert_eq!(rates.per_worker, Some(5.0));
    // (12/s + 2 / 4 s) / 5 per worker = 2.5: 3 workers.
    assert_eq!(decision.action, Action::Grow(1));
    assert_eq!(decision.reason, Reason::Wanted { wanted: 3 });
}

#[test]
fn a_burst_the_workers_clear_in_time_does_not_grow_the_pool() {
    let (run, _) = run_rate_policy(&pattern(|k| if k == 60 { 6 } else { 0 }));
    assert!(run.queued.iter().any(|&q| q > 3), "a queue rule would grow");
    assert_eq!(run.resizes, [], "the rate rule holds");
    assert!(run.longest_wait < RateConfig::default().drain_within);
    assert_eq!(run.completed, run.arrived);
}

#[test]
fn a_steady_overload_grows_the_pool_while_the_queue_is_short() {
    // From 6 s on: 11 tasks/s, against the 10/s that 2 workers finish.
    let eleven =
        |k: u32| u64::from(k >= 60) * (u64::from(k % 2 == 1) + u64::from(k.is_multiple_of(10)));
    let (run, queued_at_grow) = run_rate_policy(&pattern(eleven));
    let first = run.resizes.first().expect("the pool grew");
    assert_eq!((first.from, first.to), (2, 3));
    assert!(
        first.at <= Duration::from_secs(8),
        "grew within 2 s of the change: {first:?}"
    );
    assert!(
        queued_at_grow[0] <= 3,
        "grew with {queued_at_grow:?} waiting"
    );
    assert_eq!(run.completed, run.arrived);
}

#[test]
fn the_window_slides_past_old_history() {
    let start = Instant::now();
    let mut policy = policy();
    // 60 s of 5 tasks/s, every one finished at once.
    let mut tick = 0;
    while tick <= 600 {
        let done = u64::from(tick / 2);
        let decision = policy.decide(counters(start, tick, done, done, 0));
        assert_eq!(
            decision.action,
            Action::Hold,
            "tick {tick}: nothing to change"
        );
        tick += 1;
    }
    let rates = policy.rates().expect("60 s of samples");
    assert_eq!(
        rates.span,
        RateConfig::default().window,
        "the window, not the history"
    );
    assert_eq!(rates.arrivals, 5.0);
    // Then 20 tasks/s, of which the 2 workers finish 10: the queue grows by one a tick.
    let (arrived, completed) = (300, 300);
    for j in 1..=10u32 {
        let (arrived, completed) = (arrived + 2 * u64::from(j), completed + u64::from(j));
        let decision = policy.decide(counters(start, 600 + j, arrived, completed, j as usize));
        if matches!(decision.action, Action::Grow(_)) {
            return; // within 1 s: the old, quiet minute no longer counts
        }
    }
    panic!("no grow within 1 s of the arrivals rising from 5 to 20 a second");
}

#[test]
fn an_idle_pool_shrinks_to_the_minimum_and_no_further() {
    let start = Instant::now();
    let mut policy = policy();
    let at = |tick, workers| Counters {
        workers,
        ..counters(start, tick, 10, 10, 0)
    };
    policy.decide(at(0, 5));
    let decision = policy.decide(at(20, 5));
    assert_eq!(
        decision.action,
        Action::Shrink(3),
        "back to the minimum of 2"
    );
    let decision = policy.decide(at(40, 2));
    assert_eq!(
        (decision.action, decision.reason),
        (Action::Hold, Reason::Steady)
    );
    // A worker lost below the minimum is replaced at once, cool-down or not.
    let decision = policy.decide(at(41, 1));
    assert_eq!(decision.action, Action::Grow(1));
    assert!(matches!(
        decision.reason,
        Reason::BelowMinimum { workers: 1, min: 2 }
    ));
}

#[test]
fn a_flood_grows_the_pool_to_the_maximum_and_no_further() {
    let start = Instant::now();
    let mut policy = policy();
    let at = |tick, arrived, workers| Counters {
        workers,
        ..counters(start, tick, arrived, arrived / 2, 500)
    };
    policy.decide(at(0, 0, 2));
    let decision = policy.decide(at(10, 1_000, 2));
    assert_eq!(decision.action, Action::Grow(6), "to the maximum of 8");
    let decision = policy.decide(at(30, 3_000, 8));
    assert_eq!(
        (decision.action, decision.reason),
        (Action::Hold, Reason::AtMaximum { max: 8 })
    );
}

#[test]
fn no_two_resizes_inside_the_cool_down() {
    let start = Instant::now();
    let mut policy = policy();
    policy.decide(counters(start, 0, 0, 0, 0));
    // 1 s: 15 tasks/s, 5/s per worker: 3 workers wanted.
    assert_eq!(
        policy.decide(counters(start, 10, 15, 10, 0)).action,
        Action::Grow(1)
    );
    // Half a second later more is wanted, but the last resize was too recent.
    let decision = policy.decide(counters(start, 15, 40, 15, 20));
    assert_eq!(decision.action, Action::Hold);
    assert_eq!(
        decision.reason,
        Reason::CoolingDown {
            wait: Duration::from_millis(500)
        }
    );
    // Exactly the cool-down later is allowed.
    assert!(matches!(
        policy.decide(counters(start, 20, 50, 20, 20)).action,
        Action::Grow(_)
    ));
}

#[test]
fn a_config_that_cannot_work_is_refused() {
    let bad = [
        RateConfig {
            min_workers: 0,
            ..RateConfig::default()
        },
        RateConfig {
            min_workers: 9,
            ..RateConfig::default()
        },
    ];
    for config in bad {
        assert_eq!(RatePolicy::new(config).err(), Some(RateConfigError::Bounds));
    }
    let no_window = RateConfig {
        window: Duration::ZERO,
        ..RateConfig::default()
    };
    assert_eq!(
        RatePolicy::new(no_window).err(),
        Some(RateConfigError::ZeroDuration)
    );
}

#[test]
fn the_simulated_pool_runs_tasks_in_order_and_stops_only_idle_workers() {
    let start = Instant::now();
    let mut pool = SimulatedPool::new(start, 2, SERVICE);
    pool.advance(start + TICK, 5);
    assert_eq!((pool.busy(), pool.counters().queued), (2, 3));
    assert_eq!(pool.shrink(1), 0, "both workers are busy");
    pool.advance(start + TICK * 3, 0); // the first two finish, the next two start
    let now = pool.counters();
    assert_eq!(
        (now.completed, now.queued, now.run_time),
        (2, 1, SERVICE * 2)
    );
    assert_eq!(
        pool.longest_wait(),
        TICK * 2,
        "the third task waited 2 ticks"
    );
    pool.grow(1);
    assert_eq!((pool.busy(), pool.counters().queued), (3, 0));
    pool.advance(start + TICK * 5, 0);
    assert_eq!(pool.counters().completed, 5);
    assert_eq!(pool.shrink(2), 2, "idle workers stop");
    assert_eq!(pool.counters().workers, 1);
}
