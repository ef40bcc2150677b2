//! # Lesson l3-18: a full queue says no
//!
//! Replaces: nothing in the Node course, whose nearest material is a ring that *skips a tick*
//! when full and a queue cap that throws away the oldest tasks. In Node, `postMessage` never
//! blocks: a producer faster than its worker fills the worker's inbox until the heap runs out.
//! Backpressure is the fix: a queue with a bound, so that a full queue slows the producer down
//! or says no, instead of growing.
//!
//! Shows: a bounded queue refusing work. `try_send` on a full channel hands the value back,
//! `send_timeout` gives up after its wait; `shared::WorkerPool`'s queue is bounded too, and
//! `try_execute` hands the task back, so the caller runs it itself ("caller runs").
//!
//! Run: `cargo run --release --example l3-18-full-queue-says-no`
//!
//! Expect: the refused values, the tasks queued and run by the caller, then `result: try_send
//! handed back item 4; pool ran 2 tasks, the caller 3`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{SendTimeoutError, TrySendError};
use shared::pool::{SubmitError, WorkerPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let refused = bounded_channel_says_no()?;
    let (on_pool, by_caller) = pool_caller_runs()?;
    println!("[main] pool: {on_pool} tasks ran on the pool, {by_caller} on the caller");

    assert_eq!(refused, 4);
    assert_eq!(
        (on_pool, by_caller),
        (2, 3),
        "a queue of 2 takes 2 tasks while the worker is busy; the caller runs the other 3"
    );
    println!(
        "result: try_send handed back item {refused}; pool ran {on_pool} tasks, the caller {by_caller}"
    );
    Ok(())
}

/// A full bounded channel says no, and gives the value back.
fn bounded_channel_says_no() -> anyhow::Result<u32> {
    let (tx, rx) = crossbeam_channel::bounded::<u32>(3);
    for item in 1..=3 {
        tx.try_send(item).context("the first 3 fit")?;
    }
    // Full: the value comes back, to be retried, stored elsewhere, or dropped on purpose.
    let refused = match tx.try_send(4) {
        Err(TrySendError::Full(item)) => item,
        other => bail!("expected a full queue, got {other:?}"),
    };
    println!("[main] queue of 3 is full: try_send(4) handed back {refused}");
    match tx.send_timeout(refused, Duration::from_millis(20)) {
        Err(SendTimeoutError::Timeout(item)) => {
            println!("[main] send_timeout waited 20 ms for room, then handed back {item}");
        }
        other => bail!("expected a timeout, got {other:?}"),
    }
    let first = rx.recv().context("3 items are queued")?;
    tx.try_send(refused).context("one place is free again")?;
    println!("[main] the consumer took {first}; try_send({refused}) now succeeds");
    let rest: Vec<u32> = rx.try_iter().collect();
    ensure!(
        rest == [2, 3, 4],
        "the queue holds 2, 3, 4 in order, not {rest:?}"
    );
    Ok(refused)
}

/// One worker, a queue of 2. With the worker busy and the queue full, `try_execute` hands the
/// task back and the caller runs it: the producer slows down by doing the work itself.
/// Returns (tasks run on the pool, tasks run by the caller).
fn pool_caller_runs() -> anyhow::Result<(u64, u64)> {
    let pool = WorkerPool::builder()
        .threads(1)
        .queue_capacity(2)
        .thread_name(|i| format!("pool-{i}"))
        .build()
        .context("could not start the pool")?;
    let (started_tx, started) = crossbeam_channel::bounded::<()>(1);
    let (release, blocked) = crossbeam_channel::bounded::<()>(0);
    pool.execute(move || {
        let _ = started_tx.send(());
        // Blocks until `release` is dropped below: the worker is busy until then.
        let _ = blocked.recv();
    })
    .map_err(|e| anyhow!("the blocking task was refused: {e}"))?;
    started
        .recv_timeout(Duration::from_secs(10))
        .context("the pool's worker never started the blocking task")?;

    let on_pool = Arc::new(AtomicU64::new(0));
    let mut by_caller = 0;
    for n in 0..5u64 {
        let counter = Arc::clone(&on_pool);
        let task = move || {
            // Relaxed: a count read after `pool.join()`.
            counter.fetch_add(1, Ordering::Relaxed);
            println!("[{}] ran task {n}", thread::current().name().unwrap_or("?"));
        };
        match pool.try_execute(task) {
            Ok(()) => println!("[main] task {n} queued"),
            Err(SubmitError::Full(task)) => {
                println!("[main] task {n}: the queue is full, running it myself");
                task();
                by_caller += 1;
            }
            Err(other) => bail!("task {n} refused: {other}"),
        }
    }
    drop(release);
    pool.join().map_err(|e| anyhow!("{e}"))?;
    // The caller's own runs went through the same counter: take them out.
    let on_pool = on_pool.load(Ordering::Relaxed) - by_caller;
    Ok((on_pool, by_caller))
}
