//! # Lesson l3-16: an auto-scaling pool grows under load
//!
//! Replaces the Node course's auto-scaling pool (min 2, max 8 workers; grow when more than 3
//! tasks wait, checked once a second). When run on a 2-core machine it **never scaled**: its
//! tasks finished faster than its check could see a queue, so all 40 ran on the first 2
//! workers. `shared::WorkerPool` is elastic when built with `min_threads < max_threads`: a task
//! that finds no free worker starts a new thread, up to the max. No timer, no polling: each
//! submission decides.
//!
//! Shows: a load shaped so that scaling *must* happen: 8 tasks that each block on a gate (like
//! a task waiting on I/O), so 8 threads are needed at once. The pool grows from 2 to 8, and
//! every thread start is printed by the pool's `on_thread_start` hook, on the new thread. Then
//! 32 more tasks while all 8 are blocked: they wait in the queue, and the pool stays at 8. The
//! gate opens, and all 40 tasks finish, each exactly once. (Lesson l3-17: the shrink.)
//!
//! Run: `cargo run --release --example l3-16-pool-grows`
//!
//! Expect: `[scale-N] started` lines up to 8 threads, the queue at 32, then
//! `result: grew 2 -> 8 under a blocking load, 32 queued at the max; 40 tasks each ran once`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::pool::{TaskHandle, WorkerPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The Node pool's bounds.
const MIN_THREADS: usize = 2;
const MAX_THREADS: usize = 8;
/// Tasks that block until the gate opens: one per thread the pool may have.
const BLOCKING_TASKS: usize = MAX_THREADS;
/// Tasks submitted while every thread is blocked: they can only queue.
const QUEUED_TASKS: usize = 32;
const TOTAL_TASKS: usize = BLOCKING_TASKS + QUEUED_TASKS;
/// The longest this lesson waits for anything. Far more than any step needs, even on a busy
/// machine; reaching it means something is wrong, and the lesson fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let (pool, started) = elastic_pool_that_reports_starts()?;
    wait_until_live(&started, MIN_THREADS)?;
    println!("[main] the pool is up with {MIN_THREADS} threads");

    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..TOTAL_TASKS).map(|_| AtomicU32::new(0)).collect());
    let (gate_tx, gate) = crossbeam_channel::bounded::<()>(0);
    let (running_tx, running) = crossbeam_channel::unbounded::<usize>();
    let submit = |id| {
        let task = gated_task(id, running_tx.clone(), gate.clone(), Arc::clone(&runs));
        pool.submit(task)
            .map_err(|e| anyhow!("task {id} was refused: {e}"))
    };

    println!("[main] --- {BLOCKING_TASKS} tasks that block: the pool must grow ---");
    let mut handles: Vec<TaskHandle<anyhow::Result<()>>> = (0..BLOCKING_TASKS)
        .map(submit)
        .collect::<anyhow::Result<_>>()?;
    // All of them running at once proves the pool has (at least) that many threads.
    for _ in 0..BLOCKING_TASKS {
        running
            .recv_timeout(LIMIT)
            .context("a blocking task did not start")?;
    }
    wait_until_live(&started, MAX_THREADS)?;
    let grown = pool.metrics();
    println!(
        "[main] all {BLOCKING_TASKS} blocking tasks are running on {} threads",
        grown.threads
    );

    println!("[main] --- {QUEUED_TASKS} more tasks while all {MAX_THREADS} threads are busy ---");
    for id in BLOCKING_TASKS..TOTAL_TASKS {
        handles.push(submit(id)?);
    }
    let at_max = pool.metrics();
    println!(
        "[main] {} queued, {} running, {} threads: the pool stays at its max",
        at_max.queued, at_max.running, at_max.threads
    );

    println!("[main] --- the gate opens ---");
    drop((gate_tx, gate));
    for (id, handle) in handles.into_iter().enumerate() {
        let outcome = handle
            .join()
            .map_err(|e| anyhow!("task {id} did not finish: {e}"))?;
        outcome.with_context(|| format!("task {id} failed"))?;
    }
    pool.join()
        .map_err(|e| anyhow!("could not join the pool: {e}"))?;
    let closed = pool.metrics();

    assert_eq!(
        grown.threads, MAX_THREADS,
        "grew to the max under a blocking load"
    );
    assert_eq!(
        at_max.threads, MAX_THREADS,
        "queued tasks cannot push it past the max"
    );
    assert_eq!(
        at_max.queued, QUEUED_TASKS as u64,
        "every extra task waited in the queue"
    );
    assert!(
        runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
        "each task ran once"
    );
    assert_eq!(closed.completed, TOTAL_TASKS as u64);
    assert_eq!(closed.threads, 0, "join leaves no thread behind");
    println!(
        "result: grew {MIN_THREADS} -> {} under a blocking load, {} queued at the max; \
         {TOTAL_TASKS} tasks each ran once",
        grown.threads, at_max.queued
    );
    Ok(())
}

/// A pool of 2 to 8 threads named `scale-N`. Its `on_thread_start` hook runs on each new
/// thread: it prints the start and sends the live count to `main`.
fn elastic_pool_that_reports_starts() -> anyhow::Result<(WorkerPool, Receiver<usize>)> {
    let (started_tx, started) = crossbeam_channel::unbounded::<usize>();
    let live = AtomicUsize::new(0);
    let pool = WorkerPool::builder()
        .min_threads(MIN_THREADS)
        .max_threads(MAX_THREADS)
        .thread_name(|i| format!("scale-{i}"))
        .on_thread_start(move |_index| {
            // Relaxed: the count publishes nothing else, and read-modify-writes of one atomic
            // are never lost, so it counts every start.
            let now = live.fetch_add(1, Ordering::Relaxed) + 1;
            let me = thread::current();
            println!(
                "[{}] started: {now} started so far",
                me.name().unwrap_or("?")
            );
            let _ = started_tx.send(now);
        })
        .build()
        .context("could not start the pool")?;
    Ok((pool, started))
}

/// Receives live counts from the start hook until `target` threads are live, or fails after
/// `LIMIT`.
fn wait_until_live(started: &Receiver<usize>, target: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match started.recv_timeout(left) {
            Ok(live) if live >= target => return Ok(()),
            Ok(_) => {}
            Err(_) => bail!("fewer than {target} threads started within {LIMIT:?}"),
        }
    }
}

/// A task that reports it is running, waits for the gate to open, and records that it ran.
fn gated_task(
    id: usize,
    running: Sender<usize>,
    gate: Receiver<()>,
    runs: Arc<Vec<AtomicU32>>,
) -> impl FnOnce() -> anyhow::Result<()> + Send + 'static {
    move || {
        // The receiver lives in `main` until every task has run.
        let _ = running.send(id);
        // The gate opens when its sender is dropped: `recv` then fails at once, for every
        // task. Until then the task blocks, holding its thread, as a task waiting on a slow
        // server would.
        match gate.recv_timeout(LIMIT) {
            Err(RecvTimeoutError::Disconnected) => {}
            Ok(()) => bail!("task {id}: the gate carries no messages"),
            Err(RecvTimeoutError::Timeout) => bail!("task {id}: the gate never opened"),
        }
        // Relaxed: a count read after every task has been joined.
        runs[id].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
