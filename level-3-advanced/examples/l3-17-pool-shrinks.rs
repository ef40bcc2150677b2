//! # Lesson l3-17: an auto-scaling pool shrinks when idle
//!
//! Replaces the Node course's auto-scaling pool's shrink (retire a worker when more than one is
//! idle, after a cool-down), and its count of workers: a worker that had died stayed in its
//! list, counted as idle. `shared::WorkerPool` built with `keep_alive` retires a thread above
//! `min_threads` once it has had no work for that long, and its `on_thread_start` /
//! `on_thread_exit` hooks, run on the thread concerned, let a program count the live threads.
//!
//! Shows: the pool grows from 2 to 8 under 8 blocking tasks (lesson l3-16); the tasks finish;
//! the pool shrinks back to 2 once the extra threads have been idle for `keep_alive`, every exit
//! printed by the hook (the wait for it has a deadline, not a fixed sleep). Then a task that
//! panics: the pool catches it, the worker survives, and no thread is lost or miscounted.
//!
//! Run: `cargo run --release --example l3-17-pool-shrinks`
//!
//! Expect: `[scale-N] exited` lines down to 2 about 0.2 s after the tasks finish, one
//! `[panic hook]` line on stderr from the task that panics on purpose (`shared::panics`
//! reports it without a backtrace), then `result: shrank 8 -> 2 after
//! keep-alive; a panic caught, 2 threads still live, every start had its exit`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shared::pool::{TaskError, WorkerPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const MIN_THREADS: usize = 2;
const MAX_THREADS: usize = 8;
/// How long a thread above the minimum waits for work before it exits. Short, so that the
/// lesson sees the shrink without waiting long.
const KEEP_ALIVE: Duration = Duration::from_millis(200);
/// The longest this lesson waits for anything; reaching it means something is wrong.
const LIMIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
    let (pool, events) = pool_with_scaling_hooks(&live)?;
    wait_for_live(&events, |n| n == MIN_THREADS, "starting the minimum")?;

    println!("[main] --- {MAX_THREADS} blocking tasks: the pool grows ---");
    let grown = grow_with_blocking_tasks(&pool, &events)?;

    println!("[main] --- idle: back to the minimum after {KEEP_ALIVE:?} ---");
    let idle_from = Instant::now();
    wait_for_live(&events, |n| n == MIN_THREADS, "shrinking")?;
    let shrunk = pool.metrics();
    println!(
        "[main] {} threads, {:.2}x the keep-alive after the last task",
        shrunk.threads,
        idle_from.elapsed().as_secs_f64() / KEEP_ALIVE.as_secs_f64()
    );

    println!("[main] --- a task that panics ---");
    let quiet = shared::panics::quiet_hook(); // one line for this panic, no backtrace
    let outcome = pool
        .submit(|| -> u32 { panic!("bad input, on purpose") })
        .map_err(|e| anyhow!("the panicking task was refused: {e}"))?
        .join();
    drop(quiet); // Rust's default report again, for any panic nobody meant
    println!("[main] its handle settled with {outcome:?}");
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
        "[main] the next task returned {after_panic}; {} threads, {} panicked",
        survived.threads, survived.panicked
    );

    pool.join()
        .map_err(|e| anyhow!("could not join the pool: {e}"))?;
    let closed = pool.metrics();
    assert_eq!(grown, MAX_THREADS, "grew to the max under a blocking load");
    assert_eq!(shrunk.threads, MIN_THREADS, "shrank back to the min");
    assert_eq!(survived.threads, MIN_THREADS, "a panic costs no thread");
    assert_eq!(survived.panicked, 1);
    assert_eq!(after_panic, 42);
    assert_eq!(
        closed.completed,
        MAX_THREADS as u64 + 1,
        "8 gated tasks and the 6 * 7"
    );
    assert_eq!(closed.threads, 0, "join leaves no thread behind");
    // Relaxed: `pool.join()` has joined every worker, which orders all their hooks before this.
    assert_eq!(live.load(Ordering::Relaxed), 0, "every start had its exit");
    println!(
        "result: shrank {grown} -> {} after keep-alive; a panic caught, {} threads still live, \
         every start had its exit",
        shrunk.threads, survived.threads
    );
    Ok(())
}

/// A pool of 2 to 8 threads with a short keep-alive. Its hooks keep `live`, the number of live
/// threads, and send it to `main` on every start and exit.
fn pool_with_scaling_hooks(
    live: &Arc<AtomicUsize>,
) -> anyhow::Result<(WorkerPool, Receiver<usize>)> {
    let (events_tx, events) = crossbeam_channel::unbounded::<usize>();
    let (exit_tx, exit_live) = (events_tx.clone(), Arc::clone(live));
    let start_live = Arc::clone(live);
    let pool = WorkerPool::builder()
        .min_threads(MIN_THREADS)
        .max_threads(MAX_THREADS)
        .keep_alive(KEEP_ALIVE)
        .thread_name(|i| format!("scale-{i}"))
        .on_thread_start(move |_index| {
            // Relaxed: the count publishes nothing else, and read-modify-writes of one atomic
            // are never lost and form one order, so it moves up and down by one.
            let now = start_live.fetch_add(1, Ordering::Relaxed) + 1;
            println!("[{}] started, threads live: {now}", me());
            let _ = events_tx.send(now);
        })
        .on_thread_exit(move |_index| {
            // Relaxed: as in the start hook.
            let now = exit_live.fetch_sub(1, Ordering::Relaxed) - 1;
            println!("[{}] exited, threads live: {now}", me());
            let _ = exit_tx.send(now);
        })
        .build()
        .context("could not start the pool")?;
    Ok((pool, events))
}

/// Receives live counts until `done` holds for one, or fails after `LIMIT`.
fn wait_for_live(
    events: &Receiver<usize>,
    done: impl Fn(usize) -> bool,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + LIMIT;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(live) if done(live) => return Ok(()),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => bail!("{what}: not done after {LIMIT:?}"),
            Err(RecvTimeoutError::Disconnected) => bail!("{what}: the pool's hooks are gone"),
        }
    }
}

/// Submits `MAX_THREADS` tasks that block until a gate opens, waits until the pool has grown to
/// hold them all, then opens the gate and waits for them. Returns the threads the pool had.
fn grow_with_blocking_tasks(pool: &WorkerPool, events: &Receiver<usize>) -> anyhow::Result<usize> {
    let (gate_tx, gate) = crossbeam_channel::bounded::<()>(0);
    let handles = (0..MAX_THREADS)
        .map(|id| {
            let gate = gate.clone();
            pool.submit(move || gate.recv_timeout(LIMIT))
                .map_err(|e| anyhow!("task {id} was refused: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    wait_for_live(events, |n| n == MAX_THREADS, "growing")?;
    let grown = pool.metrics().threads;
    // The gate opens when its sender is dropped: every blocked `recv_timeout` returns
    // `Disconnected` at once.
    drop((gate_tx, gate));
    for (id, handle) in handles.into_iter().enumerate() {
        let outcome = handle
            .join()
            .map_err(|e| anyhow!("task {id} did not finish: {e}"))?;
        ensure!(
            outcome == Err(RecvTimeoutError::Disconnected),
            "task {id}: the gate should open, got {outcome:?}"
        );
    }
    println!("[main] all {MAX_THREADS} tasks finished on {grown} threads");
    Ok(grown)
}

/// The name of the thread this runs on.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}
