//! # Lesson l3-43: scaling on the processing rate, not on the queue's length
//!
//! Replaces the Node course's auto-scaling exercise (L3 exercise 4: grow "on queue depth > 10,
//! spare CPU, or processing rate"; its two solutions looked at the queue, idle workers and
//! utilisation, never at a rate), and finishes what lessons l3-16, l3-17 and exercise l3-ex04
//! start: their policy grows when more than 3 tasks wait. A queue's length says how much waits,
//! not whether the workers are falling behind. `level_3_advanced::scaling::RatePolicy`
//! compares the tasks arriving per second with the tasks the workers finish per second of run
//! time, over a sliding window of 2 s, and wants enough workers to keep up with the arrivals
//! and clear the backlog within 4 s.
//!
//! Shows: a simulated pool (tasks of 200 ms, 2 to 8 workers, a clock moved by hand in ticks of
//! 100 ms, so every run is the same) under two arrival patterns, each run twice: sized by the
//! rate policy, and by l3-ex04's queue rule (the exercise's reference solution, unchanged). A
//! **burst** of 6 tasks on a steady 5 tasks/s: the queue rule grows for it, the rate rule sees
//! that 2 workers clear it in time. A **steady overload**, 11 tasks/s against the 10/s that 2
//! workers finish: the rate rule grows while the queue is still short; the queue rule only
//! once more than 3 tasks wait. Both sequences of resizes are asserted, one by one.
//!
//! Run: `cargo run --release --example l3-43-scaling-on-rate`
//!
//! Expect: for each pattern, the queue and the pool's size every half second both ways and the
//! resizes, then `result: burst: the rate rule held at 2 workers, the queue rule grew to 3;
//! overload: the rate rule grew at 7.5 s, the queue rule at 9.1 s; every task finished`.

use anyhow::ensure;
use level_3_advanced::scaling::{self, Action, RateConfig, RatePolicy, Resize, Run};
use level_3_advanced::solutions::ex04_autoscaling_policy as ex04;
use std::time::Duration;

/// The clock's step, and how long every task runs: one worker finishes 5 tasks a second.
const TICK: Duration = Duration::from_millis(100);
const SERVICE: Duration = Duration::from_millis(200);
/// The pool starts at its minimum (both rules keep it between 2 and 8).
const MIN: usize = 2;
/// Ticks in a run: arrivals for 20 s (the pattern changes at 6 s), then 5 s to drain.
const TICKS: u32 = 250;
const ARRIVING: u32 = 200;
const CHANGE: u32 = 60;

fn main() -> anyhow::Result<()> {
    let at = |tenths: u64| Duration::from_millis(100 * tenths);
    let resize = |tenths, from, to| Resize {
        at: at(tenths),
        from,
        to,
    };

    println!("--- burst: 6 extra tasks at 6.0 s, on 5 tasks/s; 2 workers finish 10/s ---");
    let burst = arrivals(|k| if k == CHANGE { 6 } else { 0 });
    let (by_rate, by_queue) = both_ways(&burst)?;
    // The queue rule sees 5 waiting (more than 3) and grows; it shrinks 5 s later, once idle.
    assert_eq!(by_queue.resizes, [resize(60, 2, 3), resize(110, 3, 2)]);
    // The rate rule: 8 tasks/s arriving over the window, plus the backlog over 4 s, is still
    // under the 10/s two workers finish. It holds, and the burst clears well within 4 s.
    assert_eq!(by_rate.resizes, []);
    let drain_within = RateConfig::default().drain_within;
    assert!(
        by_rate.longest_wait < drain_within,
        "the burst cleared in time"
    );
    check_every_task_finished([&by_rate, &by_queue])?;

    println!("--- overload: 11 tasks/s from 6.0 s on; 2 workers finish 10/s ---");
    // From 6 s on, a task at every tick, and one more every tenth tick.
    let overload = arrivals(|k| {
        u64::from(k >= CHANGE) * (u64::from(k % 2 == 1) + u64::from(k.is_multiple_of(10)))
    });
    let (by_rate, by_queue) = both_ways(&overload)?;
    // The rate rule grows 1.5 s in, with 2 tasks waiting: fewer than the queue rule needs.
    assert_eq!(by_rate.resizes, [resize(75, 2, 3), resize(202, 3, 2)]);
    // The queue rule's pool, the same as the rate rule's until then, shows what it saw.
    assert_eq!(
        (by_queue.queued[74], by_queue.sizes[74]),
        (2, 2),
        "7.5 s, queue rule"
    );
    // The queue rule waits until more than 3 tasks wait: 3.1 s in. Both shrink once the
    // arrivals stop.
    assert_eq!(by_queue.resizes, [resize(91, 2, 3), resize(202, 3, 2)]);
    check_every_task_finished([&by_rate, &by_queue])?;

    let (rate_grew, queue_grew) = (by_rate.resizes[0].at, by_queue.resizes[0].at);
    println!(
        "result: burst: the rate rule held at {MIN} workers, the queue rule grew to 3; \
         overload: the rate rule grew at {:.1} s, the queue rule at {:.1} s; every task finished",
        rate_grew.as_secs_f64(),
        queue_grew.as_secs_f64()
    );
    Ok(())
}

/// Tasks arriving at each tick (1 to `TICKS`): 5 a second (one every other tick) and
/// `extra(k)` more at tick `k` for the first `ARRIVING` ticks, then none.
fn arrivals(extra: impl Fn(u32) -> u64) -> Vec<u64> {
    let arriving = |k: u32| u64::from(k.is_multiple_of(2)) + extra(k);
    (1..=TICKS)
        .map(|k| if k <= ARRIVING { arriving(k) } else { 0 })
        .collect()
}

/// Runs `pattern` on a simulated pool sized by the rate policy, then on one sized by
/// l3-ex04's queue rule (its default config: the Node example's 2 to 8 workers, grow when more
/// than 3 wait with a 1 s cool-down, shrink idle workers with a 5 s one), and prints both.
fn both_ways(pattern: &[u64]) -> anyhow::Result<(Run, Run)> {
    let mut rate = RatePolicy::new(RateConfig::default())?;
    let by_rate = scaling::simulate(pattern, TICK, MIN, SERVICE, |pool| {
        rate.decide(pool.counters()).action
    });
    let mut queue = ex04::ScalingPolicy::new(ex04::ScalingConfig::default())?;
    let by_queue = scaling::simulate(pattern, TICK, MIN, SERVICE, |pool| {
        let now = pool.counters();
        let busy = pool.busy();
        let load = ex04::Load {
            queued: now.queued,
            busy,
            idle: now.workers - busy,
        };
        match queue.decide(load, now.at).action {
            ex04::Action::Grow(n) => Action::Grow(n),
            ex04::Action::Shrink(n) => Action::Shrink(n),
            ex04::Action::Hold => Action::Hold,
        }
    });
    print_side_by_side(&by_rate, &by_queue);
    Ok((by_rate, by_queue))
}

/// The queue and the pool's size every half second from 5.5 s to 11 s, then the resizes.
fn print_side_by_side(by_rate: &Run, by_queue: &Run) {
    println!("  time | rate rule: queued, workers | queue rule: queued, workers");
    for tick in (55..=110).step_by(5) {
        let i = tick - 1; // tick 1 is the first entry
        let (rate_q, queue_q) = (by_rate.queued[i], by_queue.queued[i]);
        let (rate_n, queue_n) = (by_rate.sizes[i], by_queue.sizes[i]);
        let seconds = tick as f64 / 10.0;
        println!("{seconds:>5.1}s | {rate_q:>17}, {rate_n:>7} | {queue_q:>18}, {queue_n:>7}");
    }
    for (rule, run) in [("rate rule", by_rate), ("queue rule", by_queue)] {
        let resizes: Vec<String> = (run.resizes.iter())
            .map(|r| format!("{} -> {} at {:.1} s", r.from, r.to, r.at.as_secs_f64()))
            .collect();
        let wait = run.longest_wait.as_secs_f64();
        println!(
            "[{rule}] resizes: [{}]; longest wait {wait:.1} s",
            resizes.join(", ")
        );
    }
}

fn check_every_task_finished(runs: [&Run; 2]) -> anyhow::Result<()> {
    for run in runs {
        ensure!(
            run.completed == run.arrived,
            "{} of {} tasks finished",
            run.completed,
            run.arrived
        );
    }
    Ok(())
}
