//! # Lesson l2-28: a latency-sensitive task overtakes a backlog
//!
//! Replaces the Node course's priority queue for a pool (L2 guide 1: tasks inserted into the
//! pool's array by priority, first in first out within a level). `shared::WorkerPool` keeps a
//! lane per `Priority` (`High`, `Normal`, `Low`): a worker looking for work takes from the
//! highest lane that holds a task, and `pool.with_priority(Priority::High)` offers the same
//! `submit`, `execute` and `try_` methods as the pool, queueing at that priority.
//!
//! Shows: the pool's thread is busy, a backlog of 200 ordinary tasks waits behind it, and a
//! "health check" arrives. Submitted plainly it waits for the whole backlog; submitted at
//! `Priority::High` it is the next task taken. Twice the same work; only the probe's
//! priority changes. One thread, so that the order is exact: with more, the probe is still
//! the next task taken, but a thread freed at the same moment may start a backlog task first.
//!
//! What a priority does not do: interrupt a running task (the probe still waits for a thread
//! to finish its current task), or let `High` work starve the rest. Of every eight tasks a
//! worker takes while prioritised work waits, one looks at `Normal` first and one at `Low`
//! first, so a flood of `High` tasks slows the other lanes down without stopping them
//! (`shared/tests/pool_priority.rs` checks both).
//!
//! Run: `cargo run --release --example l2-28-priority-lanes`
//!
//! Expect: `result: the health check started after 200 backlog tasks at Normal, after 0 at
//! High` (the counts are asserted; the waits are printed, and vary by machine and run).

use anyhow::{Context, bail};
use crossbeam_channel::Sender;
use shared::pool::{Priority, WorkerPool};
use shared::workload::count_primes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tasks waiting when the probe arrives, and the numbers each one counts primes in.
const BACKLOG: usize = 200;
const BLOCK: u64 = 5_000;
/// Every wait in this lesson ends by this deadline, so a mistake fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(60);

fn main() -> anyhow::Result<()> {
    println!("[main] one pool thread, busy; {BACKLOG} backlog tasks; then one health check");
    let plain = probe_behind_backlog(Priority::Normal)?;
    println!(
        "[main] at Normal: started after {} backlog tasks, waited {:.1?}",
        plain.started_before, plain.waited
    );
    let urgent = probe_behind_backlog(Priority::High)?;
    println!(
        "[main] at High:   started after {} backlog tasks, waited {:.1?}",
        urgent.started_before, urgent.waited
    );

    // First in first out within a lane: at Normal the probe runs after every backlog task.
    assert_eq!(plain.started_before, BACKLOG, "{plain:?}");
    // At High it is the first task the thread takes once it is free.
    assert_eq!(urgent.started_before, 0, "{urgent:?}");
    println!(
        "result: the health check started after {} backlog tasks at Normal, after {} at High",
        plain.started_before, urgent.started_before
    );
    Ok(())
}

/// What the health check saw: backlog tasks started before it, and its wait from submission
/// to start.
#[derive(Debug)]
struct Probe {
    started_before: usize,
    waited: Duration,
}

/// Holds the pool's thread busy, queues the backlog and then the probe at `priority`, lets
/// the thread go, and reports where the probe ran.
fn probe_behind_backlog(priority: Priority) -> anyhow::Result<Probe> {
    let pool = WorkerPool::new(1)?;
    let release = hold_the_thread(&pool)?;
    let started = Arc::new(AtomicUsize::new(0));
    for task in 0..BACKLOG as u64 {
        let started = Arc::clone(&started);
        pool.execute(move || {
            started.fetch_add(1, Ordering::SeqCst);
            let from = 1_000_000 + task * BLOCK;
            std::hint::black_box(count_primes(from..from + BLOCK));
        })?;
    }
    let submitted = Instant::now();
    let seen = Arc::clone(&started);
    let probe = pool
        .with_priority(priority)
        .submit(move || (seen.load(Ordering::SeqCst), submitted.elapsed()))?;
    drop(release); // the busy task ends; the thread takes the queued tasks, one by one
    let (started_before, waited) = probe
        .join_timeout(DEADLINE)
        .map_err(|_| anyhow::anyhow!("the health check did not run within {DEADLINE:?}"))??;
    pool.join()?;
    let completed = pool.metrics().completed;
    if completed != BACKLOG as u64 + 2 || started.load(Ordering::SeqCst) != BACKLOG {
        bail!("{completed} tasks completed: not every task ran");
    }
    Ok(Probe {
        started_before,
        waited,
    })
}

/// A task that waits at a gate: the thread is busy until the returned sender is dropped.
/// Returns once the thread is inside it.
fn hold_the_thread(pool: &WorkerPool) -> anyhow::Result<Sender<()>> {
    let (release, gate) = crossbeam_channel::bounded::<()>(0);
    let (inside_tx, inside) = crossbeam_channel::bounded(1);
    pool.execute(move || {
        inside_tx.send(()).unwrap();
        let _ = gate.recv_timeout(DEADLINE); // ends when the sender is dropped
    })?;
    inside
        .recv_timeout(DEADLINE)
        .context("the pool thread never started its busy task")?;
    Ok(release)
}
