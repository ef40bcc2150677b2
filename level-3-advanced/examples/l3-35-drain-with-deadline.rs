//! # Lesson l3-35: draining a pool within a deadline, and the exit status it earns
//!
//! Replaces the Node course's 30 s shutdown cap, which ends in `process.exit(0)` whatever
//! happened. Shows: a drain. The pool takes no new jobs (`close`), queued and running jobs
//! finish (`join`), and the wait has a deadline. `WorkerPool::join` has no timeout, so a helper
//! thread joins and this one waits for it with `select!`, which also hears a second signal
//! (reported; the deadline stands). If the deadline passes, the jobs left are stopped:
//! `shutdown_now` drops the queued ones and asks the running ones to stop through their
//! `TaskContext`. Exit status 0 only for a complete drain, 1 otherwise. First what goes wrong
//! (a job slower than the deadline), then a drain that completes.
//!
//! Run: `cargo run --release --example l3-35-drain-with-deadline`
//!
//! Expect: the missed drain (`the drain deadline passed with 2 jobs queued and 1 running`, exit
//! status 1 in a real service), the complete one, then `result: missed drain left 2 queued and
//! 1 running (status 1); 8 jobs drained within the deadline (status 0)`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, select};
use shared::pool::WorkerPool;
use shared::testing::TIMEOUT;
use shared::workload::count_primes;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The missed drain's deadline, and how many jobs the complete one drains.
const SHORT_DEADLINE: Duration = Duration::from_millis(100);
const JOBS: u64 = 8;

fn main() -> anyhow::Result<()> {
    let missed = missed_drain()?;
    println!("[main] {missed:?}: exit status {}", exit_status(&missed));
    let (complete, found) = complete_drain()?;
    println!(
        "[main] {complete:?}: exit status {}",
        exit_status(&complete)
    );

    assert_eq!(
        missed,
        Drain::DeadlinePassed {
            queued: 2,
            running: 1
        }
    );
    assert!(matches!(complete, Drain::Complete { .. }), "{complete:?}");
    assert_eq!(
        found,
        count_primes(0..JOBS * 100_000),
        "every job's answer arrived"
    );
    assert_eq!((exit_status(&missed), exit_status(&complete)), (1, 0));
    println!(
        "result: missed drain left 2 queued and 1 running (status 1); {JOBS} jobs drained \
         within the deadline (status 0)"
    );
    Ok(())
}

/// A drain whose deadline is too short for the work: one job runs until it is told to stop
/// (standing for a job slower than the deadline) and two wait behind it.
fn missed_drain() -> anyhow::Result<Drain> {
    let pool = WorkerPool::builder()
        .threads(1)
        .build()
        .context("no pool")?;
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let slow = pool
        .submit_with(move |cx| {
            let _ = started_tx.send(());
            while !cx.is_cancelled() {
                std::hint::spin_loop();
            }
        })
        .map_err(|e| anyhow!("{e}"))?;
    let queued = (0..2)
        .map(|_| pool.submit(|| ()).map_err(|e| anyhow!("{e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    started_rx
        .recv_timeout(TIMEOUT)
        .context("the slow job did not start")?;
    pool.close();
    let outcome = drain(&Arc::new(pool), SHORT_DEADLINE, &crossbeam_channel::never())?;
    drop((slow, queued));
    Ok(outcome)
}

/// JOBS prime counts, drained within a generous deadline; a second "signal" arrives during
/// the drain (sent on the channel by hand here) and changes nothing. Returns the sum.
fn complete_drain() -> anyhow::Result<(Drain, u64)> {
    let pool = Arc::new(
        WorkerPool::builder()
            .threads(2)
            .build()
            .context("no pool")?,
    );
    let handles = (0..JOBS)
        .map(|i| pool.submit(move || count_primes(i * 100_000..(i + 1) * 100_000)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    pool.close();
    let (second_signal, interrupts) = crossbeam_channel::unbounded();
    second_signal.send(signal_hook::consts::SIGTERM)?;
    let outcome = drain(&pool, TIMEOUT, &interrupts)?;
    let mut found = 0;
    for handle in handles {
        found += handle.join().map_err(|e| anyhow!("{e}"))?;
    }
    Ok((outcome, found))
}

/// How a drain ended.
#[derive(Debug, PartialEq)]
enum Drain {
    /// Every queued and running job finished within the deadline.
    Complete { waited: Duration },
    /// The deadline passed with jobs left: they were asked to stop.
    DeadlinePassed { queued: u64, running: u64 },
}

/// Waits for `pool` (already closed) to finish its jobs, for at most `deadline`. If jobs are
/// left when it passes, they are stopped. A signal on `interrupts` meanwhile (a second Ctrl-C)
/// is reported and changes nothing: SIGKILL is the way to stop at once.
fn drain(
    pool: &Arc<WorkerPool>,
    deadline: Duration,
    interrupts: &Receiver<i32>,
) -> anyhow::Result<Drain> {
    let since = Instant::now();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    // If the jobs never stop, the joiner is left behind; the process's exit ends it.
    let joiner = {
        let pool = Arc::clone(pool);
        thread::Builder::new()
            .name("drain-joiner".into())
            .spawn(move || {
                let _ = pool.join();
                let _ = done_tx.send(());
            })?
    };
    let mut interrupts = interrupts.clone();
    let left = |since: Instant| deadline.saturating_sub(since.elapsed());
    loop {
        select! {
            recv(done_rx) -> _ => {
                let _ = joiner.join();
                return Ok(Drain::Complete { waited: since.elapsed() });
            }
            recv(interrupts) -> signal => match signal {
                Ok(_) => println!("[main] a second signal: still draining; the deadline stands"),
                Err(_) => interrupts = crossbeam_channel::never(), // no more can come
            },
            default(left(since)) => break,
        }
    }
    let m = pool.metrics();
    let (queued, running) = (m.queued, m.running);
    println!(
        "[main] the drain deadline passed with {queued} jobs queued and {running} running: \
         dropping the queued ones, asking the running ones to stop"
    );
    pool.shutdown_now();
    match done_rx.recv_timeout(TIMEOUT) {
        Ok(()) => _ = joiner.join(),
        Err(_) => println!("[main] a job ignored the stop request; leaving it behind"),
    }
    Ok(Drain::DeadlinePassed { queued, running })
}

/// The exit status a service should end with after this drain: 0 only if nothing was left.
fn exit_status(drain: &Drain) -> u8 {
    match drain {
        Drain::Complete { .. } => 0,
        Drain::DeadlinePassed { .. } => 1,
    }
}
