//! # Lesson l3-40: zero-downtime updates: a rolling update and a canary
//!
//! Replaces the rolling update and the canary of the Node course's production guide. A Node
//! worker runs the script it was started with, so new code means new workers: a rolling update
//! replaces them one by one, and a worker terminated mid-task loses that task. Here the pool's
//! threads stay; only the handler they run is replaced, through `level_3_advanced::rollout`:
//! the routing sits in an `arc_swap::ArcSwap`, which each task loads once, when it starts,
//! without a lock (a `RwLock<Arc<..>>` would also be correct, but every task would take it).
//!
//! Shows: 1,001 tasks while v1 is replaced by v2. Task 0, a slow one, is running on v1 during
//! the swap and finishes on v1; every task submitted after the swap runs v2; each task settles
//! exactly once and the versions' counts add up. Tasks still queued at the swap start on v2
//! too: v1's count says how many of the first 501 had started before it. Then two canaries,
//! each given 10% of 2,000 tasks chosen by task id (so every run routes the same tasks): v3
//! fails no more often than v2 and is promoted; v4 fails far more often and is rolled back,
//! after which it gets no task.
//!
//! Run: `cargo run --release --example l3-40-rolling-and-canary`
//!
//! Expect: the versions' counts, the error rates compared, then `result: rolling update v1 ->
//! v2 with 1001 tasks each settled once, the slow one finishing on v1; canary v3 promoted,
//! canary v4 (19.0% errors against 0.9%) rolled back`.

use anyhow::{Context, anyhow, ensure};
use crossbeam_channel::{Receiver, Sender};
use level_3_advanced::rollout::{Decision, Outcome, Release, Rollout, Rule, Share};
use shared::pool::WorkerPool;
use shared::testing::TIMEOUT;
use std::sync::Arc;

/// Tasks of the rolling update; the swap comes after the first `SWAP_AFTER` are submitted.
const TASKS: u64 = 1_001;
const SWAP_AFTER: u64 = 501;
/// Tasks run while a canary is on; 10% of them (200) go to it.
const CANARY_TASKS: u64 = 2_000;
/// Decide after 100 canary tasks; promote if its error rate is at most 1 point higher.
const RULE: Rule = Rule {
    min_samples: 100,
    tolerance: 0.01,
};

fn main() -> anyhow::Result<()> {
    let pool = WorkerPool::builder().threads(2).queue_capacity(64);
    let pool = pool.build()?;
    // Task 0 is slow: it tells `started` it runs, then waits until `gate_tx` is dropped.
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let (gate_tx, gate) = crossbeam_channel::bounded::<()>(0);
    let mut gate_tx = Some(gate_tx);
    let v1 = v1_with_a_slow_task_0(started_tx, gate);
    let rollout = Rollout::new(Arc::clone(&v1));

    println!("[main] --- rolling update: v1 -> v2 while {TASKS} tasks run ---");
    let slow = pool.submit_timeout(rollout.task(0), TIMEOUT)?;
    started
        .recv_timeout(TIMEOUT)
        .context("task 0 did not start")?;
    let mut handles = vec![slow];
    for id in 1..TASKS {
        if id == SWAP_AFTER {
            let v2 = release(2, 2);
            let old = rollout.deploy(Arc::clone(&v2));
            println!(
                "[main] deployed v2 after {id} tasks; v{} takes no new task",
                old.version()
            );
            drop(gate_tx.take()); // the gate opens: the slow task, still on v1, may finish
        }
        handles.push(pool.submit_timeout(rollout.task(id), TIMEOUT)?);
    }
    let outcomes = join_all(handles)?;
    let (on_v1, on_v2) = (v1.tally(), rollout.stable().tally());
    println!("[main] settled on v1: {on_v1:?}; on v2: {on_v2:?}");

    println!("[main] --- canary v3 (10% of tasks) against stable v2 ---");
    let v3 = release(3, 1);
    let (promoted, ..) = canary(&pool, &rollout, &v3, TASKS)?;
    println!("[main] --- canary v4 (10% of tasks) against stable v3 ---");
    let v4 = release(4, 20);
    let (rolled_back, v3_rate, v4_rate) = canary(&pool, &rollout, &v4, TASKS + CANARY_TASKS)?;
    let after = run(&pool, &rollout, TASKS + 2 * CANARY_TASKS, 500)?;
    pool.join()
        .map_err(|e| anyhow!("could not join the pool: {e}"))?;

    // Each task settled once, with its own id, and the versions' counts add up to them.
    assert!(
        outcomes.len() as u64 == TASKS && outcomes.iter().zip(0..).all(|(o, id)| o.task_id == id)
    );
    let ran_v1 = outcomes.iter().filter(|o| o.version == 1).count() as u64;
    let counts = (ran_v1, TASKS - ran_v1);
    assert_eq!(counts, (on_v1.settled, on_v2.settled));
    let late = &outcomes[SWAP_AFTER as usize..];
    assert!(outcomes[0].version == 1 && late.iter().all(|o| o.version == 2));
    let decisions = (promoted, rolled_back);
    assert_eq!(decisions, (Decision::Promote, Decision::RollBack));
    assert!(rollout.canary().is_none() && rollout.stable().version() == 3);
    let v4_ran = v4.tally().settled; // its 10% of the canary's tasks, none after the rollback
    assert!(v4_ran == CANARY_TASKS / 10 && after.iter().all(|o| o.version == 3));
    println!(
        "result: rolling update v1 -> v2 with {TASKS} tasks each settled once, the slow one \
         finishing on v1; canary v3 promoted, canary v4 ({:.1}% errors against {:.1}%) rolled back",
        v4_rate * 100.0,
        v3_rate * 100.0
    );
    Ok(())
}

/// Version 1: fails 2 tasks in 100, and task 0 is slow: it says it has started, then waits
/// until the gate's senders are all dropped (or `TIMEOUT`, so that it cannot hang).
fn v1_with_a_slow_task_0(started: Sender<()>, gate: Receiver<()>) -> Arc<Release> {
    Release::new(1, move |id| {
        if id == 0 {
            let _ = started.send(());
            let _ = gate.recv_timeout(TIMEOUT);
        }
        flaky(1, 2, id)
    })
}

/// A version that fails `per_hundred` tasks in every hundred.
fn release(version: u32, per_hundred: u64) -> Arc<Release> {
    Release::new(version, move |id| flaky(version, per_hundred, id))
}

/// The handler's work: fails on `per_hundred` inputs in a hundred, spread by a fixed hash
/// (SplitMix64's finaliser), so failures do not follow the canary's choice of ids.
fn flaky(version: u32, per_hundred: u64, id: u64) -> Result<u64, String> {
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if z % 100 < per_hundred {
        Err(format!("v{version} failed on task {id}"))
    } else {
        Ok(id * 2)
    }
}

/// Waits for every task, each within `TIMEOUT`, and returns their outcomes in order.
fn join_all(handles: Vec<shared::pool::TaskHandle<Outcome>>) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        let settled = handle
            .join_timeout(TIMEOUT)
            .map_err(|_| anyhow!("a task is stuck"))?;
        outcomes.push(settled.map_err(|e| anyhow!("a task did not settle with a value: {e}"))?);
    }
    Ok(outcomes)
}

/// Starts `next` as a 10% canary, runs `CANARY_TASKS` tasks from id `first`, then lets the
/// rule decide. Returns the decision and the two error rates it compared.
fn canary(
    pool: &WorkerPool,
    rollout: &Arc<Rollout>,
    next: &Arc<Release>,
    first: u64,
) -> anyhow::Result<(Decision, f64, f64)> {
    let stable = rollout.stable();
    rollout.start_canary(Arc::clone(next), Share::percent(10)?);
    run(pool, rollout, first, CANARY_TASKS)?;
    let (old, new) = (stable.tally(), next.tally());
    let decision = rollout.conclude(&RULE);
    println!(
        "[main] v{}: {:.1}% of {} failed; canary v{}: {:.1}% of {} failed -> {decision:?}",
        stable.version(),
        old.error_rate() * 100.0,
        old.settled,
        next.version(),
        new.error_rate() * 100.0,
        new.settled
    );
    ensure!(
        decision != Decision::Wait,
        "{} samples were not enough",
        new.settled
    );
    Ok((decision, old.error_rate(), new.error_rate()))
}

/// Runs `count` tasks from id `first` on the pool and returns their outcomes.
fn run(
    pool: &WorkerPool,
    rollout: &Arc<Rollout>,
    first: u64,
    count: u64,
) -> anyhow::Result<Vec<Outcome>> {
    let handles = (first..first + count)
        .map(|id| pool.submit_timeout(rollout.task(id), TIMEOUT))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("a task was refused: {e}"))?;
    join_all(handles)
}
