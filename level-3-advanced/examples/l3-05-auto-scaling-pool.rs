//! # Lesson l3-05: an auto-scaling pool
//!
//! Replaces the Node course's auto-scaling pool (min 2, max 8 workers; grow when more than 3
//! tasks wait, shrink when more than one worker is idle, with cool-downs). When run on a
//! 2-core machine it **never scaled**: its tasks finished faster than its once-a-second check
//! could see a queue, so all 40 ran on the first 2 workers. It also kept a worker that had
//! died in its list, counted as idle.
//!
//! `shared::WorkerPool` is elastic when built with `min_threads < max_threads`: a task that
//! finds no free worker starts a new thread (up to the max), and a thread above the minimum
//! exits after `keep_alive` without work. No timer, no polling: each submission decides.
//!
//! Shows:
//! 1. a load shaped so that scaling *must* happen: 8 tasks that each block on a gate (like a
//!    task waiting on I/O), so 8 threads are needed at once. The pool grows from 2 to 8, and
//!    every thread start is printed by the pool's `on_thread_start` hook, on the new thread;
//! 2. 32 more tasks while all 8 are blocked: they wait in the queue, and the pool stays at 8;
//! 3. the gate opens; all 40 tasks finish, each exactly once;
//! 4. the pool shrinks back to 2 once the extra threads have been idle for `keep_alive`: every
//!    exit is printed by `on_thread_exit`. The wait for it has a deadline, not a fixed sleep;
//! 5. a task that panics: the pool catches it, the worker survives, and no thread is lost or
//!    miscounted (the Node pool's dead worker stayed in its list as "idle").
//!
//! Run: `cargo run --release --example l3-05-auto-scaling-pool`
//!
//! Expect: `[scale-N] started` lines up to 8 live threads, the queue at 32, `[scale-N] exited`
//! lines down to 2 about 0.2 s after the tasks finish, one `panicked` line on stderr from the
//! task that panics on purpose, then `result: grew 2 -> 8 under a blocking load, 32 queued at
//! the max, shrank back to 2 after keep-alive; 40 tasks each ran once, 1 panic caught`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::pool::{TaskError, TaskHandle, WorkerPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The Node pool's bounds.
const MIN_THREADS: usize = 2;
const MAX_THREADS: usize = 8;

/// How long a thread above the minimum waits for work before it exits. Short, so that the
/// lesson sees the shrink without waiting long.
const KEEP_ALIVE: Duration = Duration::from_millis(200);

/// Tasks that block until the gate opens: one per thread the pool may have.
const BLOCKING_TASKS: usize = MAX_THREADS;

/// Tasks submitted while every thread is blocked: they can only queue.
const QUEUED_TASKS: usize = 32;

/// The longest this lesson waits for anything. Far more than any step needs, even on a busy
/// machine; reaching it means something is wrong, and the lesson fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(10);

/// What the pool's hooks report, from the worker thread concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaling {
    Started { live: usize },
    Exited { live: usize },
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Receives scaling events until `done(live)` holds for the live count, or fails after
/// `LIMIT`. Returns the last live count.
fn wait_for_scaling(
    events: &Receiver<Scaling>,
    mut live: usize,
    what: &str,
    done: impl Fn(usize) -> bool,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + LIMIT;
    while !done(live) {
        let left = deadline.saturating_duration_since(Instant::now());
        live = match events.recv_timeout(left) {
            Ok(Scaling::Started { live } | Scaling::Exited { live }) => live,
            Err(RecvTimeoutError::Timeout) => {
                bail!("{what}: still {live} threads after {LIMIT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => bail!("{what}: the pool's hooks are gone"),
        };
    }
    Ok(live)
}

/// A task that reports its start, waits for the gate to open, and records that it ran.
fn gated_task(
    id: usize,
    started: Sender<usize>,
    gate: Receiver<()>,
    runs: Arc<Vec<AtomicU32>>,
) -> impl FnOnce() -> anyhow::Result<()> + Send + 'static {
    move || {
        // The receiver lives in `main` until every task has started.
        let _ = started.send(id);
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

fn main() -> anyhow::Result<()> {
    let start = Instant::now();
    let ms = move || start.elapsed().as_millis();

    // The hooks run on the worker thread that starts or exits, and report to `main`.
    let (events_tx, events) = crossbeam_channel::unbounded::<Scaling>();
    let live = Arc::new(AtomicUsize::new(0));
    let pool = WorkerPool::builder()
        .min_threads(MIN_THREADS)
        .max_threads(MAX_THREADS)
        .keep_alive(KEEP_ALIVE)
        .thread_name(|i| format!("scale-{i}"))
        .on_thread_start({
            let (events_tx, live) = (events_tx.clone(), Arc::clone(&live));
            move |_index| {
                // Relaxed: the count publishes nothing else, and read-modify-writes of one
                // atomic are never lost and form one order, so it moves up and down by one.
                let now = live.fetch_add(1, Ordering::Relaxed) + 1;
                println!("[{}] {:>5} ms  started, threads live: {now}", me(), ms());
                let _ = events_tx.send(Scaling::Started { live: now });
            }
        })
        .on_thread_exit({
            let live = Arc::clone(&live);
            move |_index| {
                // Relaxed: as in the start hook.
                let now = live.fetch_sub(1, Ordering::Relaxed) - 1;
                println!("[{}] {:>5} ms  exited, threads live: {now}", me(), ms());
                let _ = events_tx.send(Scaling::Exited { live: now });
            }
        })
        .build()
        .context("could not start the pool")?;
    let mut live_now = wait_for_scaling(&events, 0, "starting the minimum", |n| n == MIN_THREADS)?;
    println!(
        "[main] {:>5} ms  the pool is up with {live_now} threads",
        ms()
    );

    let total_tasks = BLOCKING_TASKS + QUEUED_TASKS;
    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..total_tasks).map(|_| AtomicU32::new(0)).collect());
    let (started_tx, started_rx) = crossbeam_channel::unbounded::<usize>();
    let (gate_tx, gate) = crossbeam_channel::bounded::<()>(0);

    println!("[main] --- 1. {BLOCKING_TASKS} tasks that block: the pool must grow ---");
    let mut handles: Vec<TaskHandle<anyhow::Result<()>>> = Vec::new();
    for id in 0..BLOCKING_TASKS {
        let task = gated_task(id, started_tx.clone(), gate.clone(), Arc::clone(&runs));
        handles.push(
            pool.submit(task)
                .map_err(|e| anyhow!("task {id} was refused: {e}"))?,
        );
    }
    // All of them running at once proves the pool has (at least) that many threads.
    for _ in 0..BLOCKING_TASKS {
        shared::testing::recv_within(&started_rx, LIMIT, "a blocking task to start");
    }
    live_now = wait_for_scaling(&events, live_now, "growing", |n| n == MAX_THREADS)?;
    let grown = pool.metrics();
    println!(
        "[main] {:>5} ms  all {BLOCKING_TASKS} blocking tasks are running: {live_now} threads \
         live (the pool counts {})",
        ms(),
        grown.threads
    );

    println!(
        "[main] --- 2. {QUEUED_TASKS} more tasks while all {MAX_THREADS} threads are busy ---"
    );
    for id in BLOCKING_TASKS..total_tasks {
        let task = gated_task(id, started_tx.clone(), gate.clone(), Arc::clone(&runs));
        handles.push(
            pool.submit(task)
                .map_err(|e| anyhow!("task {id} was refused: {e}"))?,
        );
    }
    let at_max = pool.metrics();
    println!(
        "[main] {:>5} ms  {} queued, {} running, {} threads: the pool stays at its max",
        ms(),
        at_max.queued,
        at_max.running,
        at_max.threads
    );

    println!("[main] --- 3. the gate opens ---");
    drop(gate_tx);
    drop(gate);
    for (id, handle) in handles.into_iter().enumerate() {
        handle
            .join()
            .map_err(|e| anyhow!("task {id} did not finish: {e}"))?
            .with_context(|| format!("task {id} failed"))?;
    }
    println!("[main] {:>5} ms  all {total_tasks} tasks finished", ms());

    println!("[main] --- 4. idle: back to the minimum after {KEEP_ALIVE:?} ---");
    let idle_from = Instant::now();
    live_now = wait_for_scaling(&events, live_now, "shrinking", |n| n == MIN_THREADS)?;
    let shrunk = pool.metrics();
    println!(
        "[main] {:>5} ms  {live_now} threads live (the pool counts {}), {:.2}x the keep-alive \
         after the last task",
        ms(),
        shrunk.threads,
        idle_from.elapsed().as_secs_f64() / KEEP_ALIVE.as_secs_f64()
    );

    println!("[main] --- 5. a task that panics ---");
    let bad = pool
        .submit(|| -> u32 { panic!("bad input, on purpose") })
        .map_err(|e| anyhow!("the panicking task was refused: {e}"))?;
    let outcome = bad.join();
    println!("[main] {:>5} ms  its handle settled with {outcome:?}", ms());
    ensure!(
        matches!(&outcome, Err(TaskError::Panicked(m)) if m.contains("on purpose")),
        "the panic should come back as the task's error, got {outcome:?}"
    );
    let after_panic = pool
        .submit(|| 6 * 7)
        .map_err(|e| anyhow!("the pool refused work after a panic: {e}"))?
        .join()?;
    let survived = pool.metrics();
    println!(
        "[main] {:>5} ms  the next task returned {after_panic}; {} threads, {} panicked, {} \
         completed",
        ms(),
        survived.threads,
        survived.panicked,
        survived.completed
    );

    pool.join()
        .map_err(|e| anyhow!("could not join the pool: {e}"))?;
    let closed = pool.metrics();

    // Every scaling step was seen, and the counts agree with the pool's own.
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
    assert_eq!(shrunk.threads, MIN_THREADS, "shrank back to the min");
    assert_eq!(survived.threads, MIN_THREADS, "a panic costs no thread");
    assert_eq!(survived.panicked, 1);
    assert_eq!(after_panic, 42);
    // Each task ran exactly once.
    assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    assert_eq!(
        closed.completed,
        total_tasks as u64 + 1,
        "40 gated tasks and the 6 * 7"
    );
    assert_eq!(closed.threads, 0, "join leaves no thread behind");
    // Relaxed: `pool.join()` has joined every worker, which orders all their hooks before this.
    assert_eq!(live.load(Ordering::Relaxed), 0, "every start had its exit");

    println!(
        "result: grew {MIN_THREADS} -> {} under a blocking load, {} queued at the max, shrank \
         back to {} after keep-alive; {total_tasks} tasks each ran once, {} panic caught",
        grown.threads, at_max.queued, shrunk.threads, survived.panicked
    );
    Ok(())
}
