//! Tests of exercise l3-ex04 (auto-scaling policy).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l3-ex04` runs
//! them against your file, `level-3-advanced/src/exercises/ex04_autoscaling_policy.rs`.
//!
//! No test sleeps or reads the time to decide anything: the policy and the pool are told the
//! time (`start + n × 100 ms`), and the tasks block on a gate that the test opens, so the test
//! decides when they finish. Real time only bounds the waits, which fail after
//! [`TIMEOUT`] instead of hanging. One test's tasks leave their worker thread a value whose
//! `Drop` sleeps 300 ms as the thread ends, so that a thread `shutdown` did not join is still
//! running when the test looks; a correct answer passes whatever the timing.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the default config is the Node example's; bad configs are typed errors, from every constructor | `the_default_config_is_the_node_examples_and_is_valid`, `a_bad_config_is_a_typed_error` | pure values |
//! | a backlog grows by `step`, never above the maximum; at the threshold is no backlog | `a_backlog_grows_the_pool_by_its_step_but_never_above_the_maximum` | pure function of load and fake time |
//! | cool-downs from the last event of either kind; exactly the cool-down later is allowed | `no_second_scaling_event_inside_a_cool_down` | fake time |
//! | a shrink keeps one idle worker and the minimum; no shrink while a task waits | `idle_workers_shrink_the_pool_keeping_one_idle_and_the_minimum` | pure |
//! | below the minimum, grow back at once, whatever the cool-down | `a_pool_below_its_minimum_grows_back_at_once_whatever_the_cool_down` | pure |
//! | smoothing: the first sample as it is, then the moving average | `smoothing_averages_the_queue_depth_over_the_ticks` | pure |
//! | the pool grows to 8 and never beyond; 8 tasks run at once | `under_a_backlog_the_pool_grows_to_eight_and_never_beyond`, `the_peak_is_above_the_minimum` | the tasks block on a gate the test opens, so 8 of them are running together when the probe is read |
//! | no two events inside a cool-down; the next one due within a tick | `no_two_scaling_events_fall_inside_a_cool_down` | the events carry the fake time of their tick |
//! | idle, back to the minimum one worker per 5 s | `idle_the_pool_returns_to_its_minimum_tick_by_tick` | fake time; the test ticks until the stopped threads have ended (with a deadline) |
//! | all 40 tasks complete exactly once | `all_forty_tasks_complete_exactly_once` | ids collected with deadlines |
//! | every event logged with its sizes and reason | `every_scaling_event_is_logged_with_its_sizes_and_reason` | the log, not times |
//! | a worker whose task panics ends, is removed (never idle) and replaced | `a_worker_that_dies_is_removed_not_counted_as_idle_and_replaced` | the test ticks until the death is seen (with a deadline); a swallowed panic never shows one |
//! | `shutdown` runs every queued task, then joins the workers | `shutdown_runs_the_queued_tasks_then_joins_every_worker`, `shutdown_returns_only_once_every_worker_thread_has_ended` | a joined thread has ended, its last `Drop` included, so the count read right after `shutdown` is complete for a correct answer whatever the load; a thread left unjoined is still inside a 300 ms `Drop` when the count is read |
//! | tasks run on the workers, not on `submit`'s caller | every pool test | the tasks block on gates that only the caller opens, so a task run on the caller never returns from `submit` |

use crossbeam_channel::{Receiver, Sender};
// The code under test: your file when `cargo exercise check l3-ex04` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex04_autoscaling_policy.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_3_advanced::solutions::ex04_autoscaling_policy as under_test;

use shared::testing::{ConcurrencyProbe, TIMEOUT, recv_within, run_within};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
use under_test::{
    Action, AutoScalingPool, ConfigError, Decision, Load, PoolError, PoolStats, Reason,
    ScalingConfig, ScalingEvent, ScalingPolicy,
};

/// The fake clock's step: one tick every 100 ms of pretend time.
const TICK: Duration = Duration::from_millis(100);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn load(queued: usize, busy: usize, idle: usize) -> Load {
    Load { queued, busy, idle }
}

fn policy(config: ScalingConfig) -> ScalingPolicy {
    ScalingPolicy::new(config).expect("a valid config was refused")
}

#[track_caller]
fn assert_decision(decision: Decision, action: Action, reason: Reason) {
    assert_eq!(
        decision,
        Decision { action, reason },
        "expected {action:?} because of {reason:?}"
    );
}

/// A task that holds a place in the probe until the test drops the gate's sender, then
/// reports its id.
fn gated_task(
    id: usize,
    gate: &Receiver<()>,
    done: &Sender<usize>,
    probe: &ConcurrencyProbe,
) -> impl FnOnce() + Send + 'static {
    let (gate, done, probe) = (gate.clone(), done.clone(), probe.clone());
    move || {
        let _running = probe.enter();
        // Nothing is ever sent: the gate opens when its sender is dropped. The timeout only
        // keeps a failing test from leaving the task blocked for ever.
        let _ = gate.recv_timeout(TIMEOUT);
        let _ = done.send(id);
    }
}

/// Polls the pool's counts until `ok` accepts them, failing after [`TIMEOUT`].
#[track_caller]
fn wait_until(pool: &AutoScalingPool, what: &str, ok: impl Fn(&PoolStats) -> bool) -> PoolStats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = pool.stats();
        if ok(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {TIMEOUT:?}; last {stats:?}"
        );
        thread::sleep(ms(1));
    }
}

/// Ticks at `now` until `ok` accepts the counts, failing after [`TIMEOUT`]. Returns the
/// counts and the decision of the last tick.
#[track_caller]
fn tick_until(
    pool: &mut AutoScalingPool,
    now: Instant,
    what: &str,
    ok: impl Fn(&PoolStats) -> bool,
) -> (PoolStats, Decision) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let decision = pool.tick(now).expect("tick failed");
        let stats = pool.stats();
        if ok(&stats) {
            return (stats, decision);
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {TIMEOUT:?}; last {stats:?}"
        );
        thread::sleep(ms(1));
    }
}

/// Receives `n` ids, sorted.
fn collect_ids(done: &Receiver<usize>, n: usize) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..n)
        .map(|i| recv_within(done, TIMEOUT, &format!("task {} of {n}", i + 1)))
        .collect();
    ids.sort_unstable();
    ids
}

// ---------------------------------------------------------------------------------------------
// The policy, on its own: numbers and instants in, decisions out.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_config_is_the_node_examples_and_is_valid() {
    let config = ScalingConfig::default();
    assert_eq!((config.min_workers, config.max_workers), (2, 8));
    assert_eq!(config.grow_above, 3);
    assert_eq!(config.step, 1);
    assert_eq!(
        (config.cooldown_up, config.cooldown_down),
        (Duration::from_secs(1), Duration::from_secs(5))
    );
    assert_eq!(config.smoothing, None);
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn a_bad_config_is_a_typed_error() {
    let base = ScalingConfig::default();
    let cases = [
        (
            ScalingConfig {
                min_workers: 0,
                max_workers: 0,
                ..base
            },
            ConfigError::NoWorkers,
        ),
        (
            ScalingConfig {
                min_workers: 0,
                ..base
            },
            ConfigError::ZeroMinimum,
        ),
        (
            ScalingConfig {
                min_workers: 9,
                max_workers: 8,
                ..base
            },
            ConfigError::MinAboveMax { min: 9, max: 8 },
        ),
        (ScalingConfig { step: 0, ..base }, ConfigError::ZeroStep),
        (
            ScalingConfig {
                smoothing: Some(0.0),
                ..base
            },
            ConfigError::BadSmoothing(0.0),
        ),
        (
            ScalingConfig {
                smoothing: Some(1.5),
                ..base
            },
            ConfigError::BadSmoothing(1.5),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected), "{config:?}");
        assert_eq!(
            ScalingPolicy::new(config).map(|_| ()),
            Err(expected),
            "{config:?}"
        );
        assert_eq!(
            AutoScalingPool::new(config).map(|_| ()),
            Err(PoolError::Config(expected)),
            "{config:?}"
        );
    }
    // NaN fails every comparison; it must still be refused.
    let nan = ScalingConfig {
        smoothing: Some(f64::NAN),
        ..base
    };
    assert!(
        matches!(nan.validate(), Err(ConfigError::BadSmoothing(a)) if a.is_nan()),
        "a NaN smoothing factor must be refused"
    );
    // The bounds may meet: a fixed-size pool.
    let fixed = ScalingConfig {
        min_workers: 4,
        max_workers: 4,
        ..base
    };
    assert_eq!(fixed.validate(), Ok(()));
}

#[test]
fn a_backlog_grows_the_pool_by_its_step_but_never_above_the_maximum() {
    let now = Instant::now();
    // 30 queued, both workers busy: one more worker, and the reason says why.
    let decision = policy(ScalingConfig::default()).decide(load(30, 2, 0), now);
    assert_decision(
        decision,
        Action::Grow(1),
        Reason::Backlog {
            queued: 30.0,
            threshold: 3,
        },
    );
    // Exactly at the threshold is no backlog.
    let decision = policy(ScalingConfig::default()).decide(load(3, 2, 0), now);
    assert_decision(decision, Action::Hold, Reason::Steady);

    // A step of 4 from 6 workers stops at 8.
    let big_steps = ScalingConfig {
        step: 4,
        ..ScalingConfig::default()
    };
    let decision = policy(big_steps).decide(load(30, 6, 0), now);
    assert_eq!(decision.action, Action::Grow(2), "6 + 2 is the maximum, 8");
    // At 8, a backlog changes nothing.
    let decision = policy(big_steps).decide(load(30, 8, 0), now);
    assert_decision(decision, Action::Hold, Reason::AtMaximum { max: 8 });
}

#[test]
fn no_second_scaling_event_inside_a_cool_down() {
    let start = Instant::now();
    let mut policy = policy(ScalingConfig::default());
    let backlog = load(30, 2, 0);
    assert_eq!(policy.decide(backlog, start).action, Action::Grow(1));

    // 1 ms before the up cool-down ends: hold, and say how long is left.
    let decision = policy.decide(load(30, 3, 0), start + ms(999));
    assert_decision(decision, Action::Hold, Reason::CoolingDown { wait: ms(1) });
    // Exactly the cool-down later: grow.
    assert_eq!(
        policy.decide(load(30, 3, 0), start + ms(1_000)).action,
        Action::Grow(1)
    );

    // Idle: the down cool-down counts from the last event, the grow at 1 s.
    let idle = load(0, 0, 4);
    let grown_at = start + ms(1_000);
    let decision = policy.decide(idle, grown_at + ms(4_999));
    assert_decision(decision, Action::Hold, Reason::CoolingDown { wait: ms(1) });
    let decision = policy.decide(idle, grown_at + ms(5_000));
    assert_decision(decision, Action::Shrink(1), Reason::IdleWorkers { idle: 4 });
    // And a grow right after that shrink waits for the up cool-down again.
    let shrunk_at = grown_at + ms(5_000);
    let decision = policy.decide(load(30, 3, 0), shrunk_at + ms(500));
    assert_decision(
        decision,
        Action::Hold,
        Reason::CoolingDown { wait: ms(500) },
    );
}

#[test]
fn idle_workers_shrink_the_pool_keeping_one_idle_and_the_minimum() {
    let now = Instant::now();
    let big_steps = ScalingConfig {
        step: 10,
        ..ScalingConfig::default()
    };
    // 8 idle, a step of 10: down to the minimum of 2, no further.
    let decision = policy(big_steps).decide(load(0, 0, 8), now);
    assert_decision(decision, Action::Shrink(6), Reason::IdleWorkers { idle: 8 });
    // 2 busy and 2 idle: one idle worker stays for the next task.
    let decision = policy(big_steps).decide(load(0, 2, 2), now);
    assert_decision(decision, Action::Shrink(1), Reason::IdleWorkers { idle: 2 });
    // At the minimum, idle workers stay.
    let decision = policy(big_steps).decide(load(0, 0, 2), now);
    assert_decision(decision, Action::Hold, Reason::AtMinimum { min: 2 });
    // A task still waits: no shrinking, however many are idle.
    let decision = policy(big_steps).decide(load(1, 0, 5), now);
    assert_decision(decision, Action::Hold, Reason::Steady);
    // One idle worker is no surplus.
    let decision = policy(big_steps).decide(load(0, 4, 1), now);
    assert_decision(decision, Action::Hold, Reason::Steady);
}

#[test]
fn a_pool_below_its_minimum_grows_back_at_once_whatever_the_cool_down() {
    let start = Instant::now();
    let mut policy = policy(ScalingConfig::default());
    assert_eq!(policy.decide(load(30, 2, 0), start).action, Action::Grow(1));
    // 1 ms later, a worker has died and one is left: no cool-down stops the repair.
    let decision = policy.decide(load(0, 1, 0), start + ms(1));
    assert_decision(
        decision,
        Action::Grow(1),
        Reason::BelowMinimum { size: 1, min: 2 },
    );
}

#[test]
fn smoothing_averages_the_queue_depth_over_the_ticks() {
    let start = Instant::now();
    let config = ScalingConfig {
        grow_above: 10,
        smoothing: Some(0.3),
        ..ScalingConfig::default()
    };
    let mut smoothed = policy(config);
    assert_decision(
        smoothed.decide(load(0, 2, 0), start),
        Action::Hold,
        Reason::Steady,
    );
    assert_eq!(smoothed.smoothed_queue(), Some(0.0));
    // 0.3 × 20 + 0.7 × 0 = 6: a spike that has not lasted is no backlog yet.
    assert_decision(
        smoothed.decide(load(20, 2, 0), start + TICK),
        Action::Hold,
        Reason::Steady,
    );
    let six = smoothed.smoothed_queue().expect("a smoothed depth");
    assert!((six - 6.0).abs() < 1e-9, "expected 6, got {six}");
    // 0.3 × 20 + 0.7 × 6 = 10.2: now it is.
    let decision = smoothed.decide(load(20, 2, 0), start + TICK * 2);
    assert_eq!(decision.action, Action::Grow(1));
    let Reason::Backlog { queued, threshold } = decision.reason else {
        panic!("expected a backlog, got {:?}", decision.reason);
    };
    assert!((queued - 10.2).abs() < 1e-9, "expected 10.2, got {queued}");
    assert_eq!(threshold, 10);

    // Without smoothing, the first 20 is a backlog at once.
    let mut raw = policy(ScalingConfig {
        smoothing: None,
        ..config
    });
    raw.decide(load(0, 2, 0), start);
    assert_eq!(
        raw.decide(load(20, 2, 0), start + TICK).action,
        Action::Grow(1)
    );

    // The first sample is taken as it is, not averaged with a 0 that was never seen: a
    // backlog there from the first tick is a backlog at once.
    let mut first = policy(config);
    let decision = first.decide(load(20, 2, 0), start);
    assert_eq!(
        first.smoothed_queue(),
        Some(20.0),
        "the first sample is the average so far"
    );
    assert_eq!(decision.action, Action::Grow(1));
}

// ---------------------------------------------------------------------------------------------
// The pool, driven by ticks: the Node example's waves, with gates instead of sleeps.
// ---------------------------------------------------------------------------------------------

/// What the two-wave run saw.
#[derive(Debug)]
struct Run {
    config: ScalingConfig,
    /// The pool's size after every tick, in order.
    sizes: Vec<usize>,
    /// The pool's log at the end.
    events: Vec<ScalingEvent>,
    /// The time of the tick that found the pool idle for the first time.
    idle_from: Instant,
    start: Instant,
    /// The counts once the second wave kept every worker busy.
    all_busy: PoolStats,
    /// The most tasks that ever ran at once.
    most_at_once: usize,
    /// The ids of the completed tasks, sorted.
    done: Vec<usize>,
    /// The counts at the end, once the stopped workers had ended.
    end: PoolStats,
    /// Threads joined and left behind by the shutdown.
    shutdown: (usize, usize),
}

/// The Node example's load, with gates for its sleeps: a wave of 10 tasks, then 30, both held
/// until the test opens their gate; ticks every 100 ms for 10 s of pretend time while the second
/// wave waits; then 60 s of idle ticks. Made once and shared by the tests that look at it.
fn two_waves() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        run_within(TIMEOUT * 3, "the two-wave run", || {
            let config = ScalingConfig::default();
            let mut pool = AutoScalingPool::new(config).expect("the pool did not start");
            let start = Instant::now();
            let at = |tick: u32| start + TICK * tick;
            let mut sizes = Vec::new();
            let probe = ConcurrencyProbe::new();
            let (done_tx, done) = crossbeam_channel::unbounded();

            // Wave 1: 10 tasks; one tick sees them queued, then they are let go.
            let (open_1, gate_1) = crossbeam_channel::bounded::<()>(0);
            for id in 0..10 {
                pool.submit(gated_task(id, &gate_1, &done_tx, &probe));
            }
            pool.tick(at(0)).expect("tick failed");
            sizes.push(pool.stats().workers);
            drop(open_1);
            let mut ids = collect_ids(&done, 10);

            // Wave 2: 30 tasks that wait until the test says so, while 10 s of ticks pass.
            let (open_2, gate_2) = crossbeam_channel::bounded::<()>(0);
            for id in 10..40 {
                pool.submit(gated_task(id, &gate_2, &done_tx, &probe));
            }
            for tick in 1..=100 {
                pool.tick(at(tick)).expect("tick failed");
                sizes.push(pool.stats().workers);
            }
            let all_busy = wait_until(&pool, "every worker busy with wave 2", |s| {
                s.busy == s.workers && s.busy >= 8
            });
            drop(open_2);
            ids.extend(collect_ids(&done, 30));
            ids.sort_unstable();
            wait_until(&pool, "every worker idle", |s| s.busy == 0 && s.queued == 0);

            // A minute of idle ticks.
            let idle_from = at(101);
            for tick in 101..=700 {
                pool.tick(at(tick)).expect("tick failed");
                sizes.push(pool.stats().workers);
            }
            let (end, _) = tick_until(&mut pool, at(700), "the stopped workers to end", |s| {
                s.threads == s.workers
            });
            let events = pool.events().to_vec();
            let report = pool.shutdown(TIMEOUT);
            Run {
                config,
                sizes,
                events,
                idle_from,
                start,
                all_busy,
                most_at_once: probe.max(),
                done: ids,
                end,
                shutdown: (report.joined, report.abandoned),
            }
        })
    })
}

#[test]
fn under_a_backlog_the_pool_grows_to_eight_and_never_beyond() {
    let run = two_waves();
    let max = run.config.max_workers;
    assert!(
        run.sizes.iter().all(|&size| size <= max),
        "the pool grew above {max}: {:?}",
        run.sizes
    );
    // 8 workers, all busy, the other 22 tasks waiting: and 8 tasks really ran at once.
    assert_eq!(
        (run.all_busy.workers, run.all_busy.busy, run.all_busy.queued),
        (8, 8, 22)
    );
    assert_eq!(
        run.most_at_once, 8,
        "8 workers should have run 8 tasks at once"
    );
    assert_eq!(run.end.peak_workers, 8);
}

#[test]
fn the_peak_is_above_the_minimum() {
    let run = two_waves();
    assert!(run.end.peak_workers > run.config.min_workers);
    assert!(run.most_at_once > run.config.min_workers);
}

#[test]
fn no_two_scaling_events_fall_inside_a_cool_down() {
    let run = two_waves();
    let grows = run
        .events
        .iter()
        .filter(|e| matches!(e.action, Action::Grow(_)))
        .count();
    let shrinks = run.events.len() - grows;
    assert!(
        grows >= 2 && shrinks >= 2,
        "expected several grows and shrinks: {:?}",
        run.events
    );
    for pair in run.events.windows(2) {
        let gap = pair[1].at - pair[0].at;
        let (cooldown, kind) = match pair[1].action {
            Action::Grow(_) => (run.config.cooldown_up, "grow"),
            _ => (run.config.cooldown_down, "shrink"),
        };
        assert!(
            gap >= cooldown,
            "a {kind} {gap:?} after the previous event, inside its {cooldown:?} cool-down: {pair:?}"
        );
        // Under a steady backlog, or steadily idle, the next event of the same kind is due as
        // soon as its cool-down is over: within one tick of it.
        if std::mem::discriminant(&pair[0].action) == std::mem::discriminant(&pair[1].action) {
            assert!(
                gap <= cooldown + TICK,
                "a {kind} came {gap:?} after the previous one; it was due after {cooldown:?}"
            );
        }
    }
}

#[test]
fn idle_the_pool_returns_to_its_minimum_tick_by_tick() {
    let run = two_waves();
    let min = run.config.min_workers;
    assert!(
        run.sizes.iter().all(|&size| size >= min),
        "the pool shrank below {min}: {:?}",
        run.sizes
    );
    assert_eq!(run.sizes.last(), Some(&min));
    assert_eq!((run.end.workers, run.end.threads), (min, min));
    assert_eq!(run.end.idle, min);
    // It shrank only once idle, one step at a time.
    let shrinks: Vec<&ScalingEvent> = run
        .events
        .iter()
        .filter(|e| matches!(e.action, Action::Shrink(_)))
        .collect();
    assert_eq!(shrinks.len(), run.config.max_workers - min, "{shrinks:?}");
    for event in shrinks {
        assert_eq!(event.action, Action::Shrink(1), "{event:?}");
        assert!(
            event.at >= run.idle_from,
            "a shrink while tasks waited: {event:?}"
        );
    }
    assert_eq!(
        run.shutdown,
        (min, 0),
        "shutdown should join the {min} workers"
    );
}

#[test]
fn all_forty_tasks_complete_exactly_once() {
    let run = two_waves();
    assert_eq!(run.done, (0..40).collect::<Vec<_>>());
    assert_eq!(run.end.completed, 40);
    assert_eq!(run.end.lost_workers, 0);
}

#[test]
fn every_scaling_event_is_logged_with_its_sizes_and_reason() {
    let run = two_waves();
    let (min, max) = (run.config.min_workers, run.config.max_workers);
    let first = run.events.first().expect("no scaling event was logged");
    let last = run.events.last().expect("no scaling event was logged");
    assert_eq!(first.from, min);
    assert_eq!(last.to, min);
    assert_eq!(first.at, run.start, "the first tick saw wave 1 queued");
    for pair in run.events.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "the sizes do not chain: {pair:?}");
    }
    for event in &run.events {
        match (event.action, event.reason) {
            (Action::Grow(n), Reason::Backlog { queued, threshold }) => {
                assert_eq!(event.to, event.from + n, "{event:?}");
                assert!(queued > threshold as f64, "{event:?}");
                assert!(event.to <= max, "{event:?}");
            }
            (Action::Shrink(n), Reason::IdleWorkers { idle }) => {
                assert_eq!(event.to + n, event.from, "{event:?}");
                assert!(idle > 1, "{event:?}");
                assert!(event.to >= min, "{event:?}");
            }
            _ => panic!("an event whose action and reason do not match: {event:?}"),
        }
    }
    // Up from 2 to 8 and down again, one worker per event.
    assert_eq!(run.events.len(), 2 * (max - min), "{:?}", run.events);
}

#[test]
fn a_worker_that_dies_is_removed_not_counted_as_idle_and_replaced() {
    run_within(TIMEOUT * 2, "the dying-worker run", || {
        let mut pool = AutoScalingPool::new(ScalingConfig::default()).expect("did not start");
        let now = Instant::now();
        pool.submit(|| panic!("this task panics on purpose, ending its worker"));

        // The tick that notices the death sees one worker, not two idle ones, and repairs.
        let (stats, decision) = tick_until(&mut pool, now, "the dead worker to be noticed", |s| {
            s.lost_workers == 1
        });
        assert_decision(
            decision,
            Action::Grow(1),
            Reason::BelowMinimum { size: 1, min: 2 },
        );
        assert_eq!((stats.workers, stats.threads), (2, 2));
        let events = pool.events();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!((events[0].from, events[0].to), (1, 2));

        // The pool still works.
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.submit(move || tx.send(42).expect("the test stopped listening"));
        assert_eq!(recv_within(&rx, TIMEOUT, "the task after the crash"), 42);
        let stats = wait_until(&pool, "the pool idle again", |s| s.busy == 0);
        assert_eq!((stats.workers, stats.idle), (2, 2));
    });
}

#[test]
fn shutdown_runs_the_queued_tasks_then_joins_every_worker() {
    run_within(TIMEOUT * 2, "the shutdown run", || {
        let pool = AutoScalingPool::new(ScalingConfig::default()).expect("did not start");
        let (tx, rx) = crossbeam_channel::unbounded();
        for id in 0..20 {
            let tx = tx.clone();
            pool.submit(move || tx.send(id).expect("the test stopped listening"));
        }
        drop(tx);
        let report = pool.shutdown(TIMEOUT);
        assert_eq!((report.joined, report.abandoned), (2, 0));
        let mut ids: Vec<i32> = rx.try_iter().collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
    });
}

#[test]
fn shutdown_returns_only_once_every_worker_thread_has_ended() {
    /// Installed in a worker thread by the first task it runs: its `Drop` runs among the
    /// thread's last acts, after the worker's own code has returned, takes a while, then
    /// counts the thread as ended.
    struct Linger(Arc<AtomicUsize>);
    impl Drop for Linger {
        fn drop(&mut self) {
            thread::sleep(ms(300));
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    thread_local! {
        static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
    }

    run_within(TIMEOUT * 2, "the shutdown-joins run", || {
        let pool = AutoScalingPool::new(ScalingConfig::default()).expect("did not start");
        let (installed, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (done_tx, done) = crossbeam_channel::unbounded();
        for id in 0..20 {
            let (installed, ended, done_tx) =
                (Arc::clone(&installed), Arc::clone(&ended), done_tx.clone());
            pool.submit(move || {
                LINGER.with(|linger| {
                    let mut linger = linger.borrow_mut();
                    if linger.is_none() {
                        *linger = Some(Linger(ended));
                        installed.fetch_add(1, Ordering::SeqCst);
                    }
                });
                let _ = done_tx.send(id);
            });
        }
        let ids = collect_ids(&done, 20);
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
        let report = pool.shutdown(TIMEOUT);
        // Read at once: a joined thread has ended, its lingering `Drop` included. A thread
        // left to end on its own is still in that `Drop` for a while.
        let (installed, ended) = (
            installed.load(Ordering::SeqCst),
            ended.load(Ordering::SeqCst),
        );
        assert!(installed >= 1, "no worker ran a task");
        assert_eq!(
            ended, installed,
            "shutdown returned while worker threads were still running: join them"
        );
        assert_eq!((report.joined, report.abandoned), (2, 0));
    });
}
