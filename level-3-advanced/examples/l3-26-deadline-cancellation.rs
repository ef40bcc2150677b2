//! # Lesson l3-26: a deadline on a thread is only a request
//!
//! Replaces the Node course's claim that `worker.terminate()` can stop anything. No API stops a
//! Rust thread from outside: a deadline can only *ask* the work to stop. Shows: jobs run under
//! a deadline. At the deadline the watchdog cancels the job's `shared::CancellationToken`; a
//! cooperative job, which checks the token between blocks of work, stops; a rogue job that
//! checks nothing keeps running, and all the watchdog can do is leave its thread behind.
//! (A child process can be killed: lesson l3-27.)
//!
//! Run: `cargo run --release --example l3-26-deadline-cancellation`
//!
//! Expect: the quick job's answer, the endless job stopped after the cancel, the rogue thread
//! still running, then `result: the quick job finished (1229 primes); the cooperative job
//! stopped at its deadline; the rogue thread could not be stopped`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::RecvTimeoutError;
use shared::testing::{TIMEOUT, join_within};
use shared::workload::count_primes;
use shared::{CancellationToken, Cancelled};
use std::thread;
use std::time::{Duration, Instant};

/// How long an untrusted job may run.
const JOB_DEADLINE: Duration = Duration::from_millis(300);
/// How long the rogue thread is watched after its cancellation, to show that it keeps running.
/// (It never stops, so any length shows the same; a cooperative job is given `TIMEOUT`, far
/// more than it needs even on a busy machine.)
const GRACE: Duration = Duration::from_millis(300);

fn main() -> anyhow::Result<()> {
    // Far below the deadline (about a millisecond), so it finishes even on a busy machine.
    let quick = run_with_deadline("quick-job", JOB_DEADLINE, TIMEOUT, |token| {
        count_primes_from(0, 10_000, token)
    })?;
    println!("[main] quick-job: {quick:?}");
    // From 10^12 up, the full range would take hours.
    let endless = run_with_deadline("endless-job", JOB_DEADLINE, TIMEOUT, |token| {
        count_primes_from(1_000_000_000_000, u64::MAX, token)
    })?;
    println!("[main] endless-job: {endless:?}");
    let rogue = run_with_deadline::<()>("rogue-thread", JOB_DEADLINE, GRACE, |_| spin_forever())?;
    println!("[main] rogue-thread: {rogue:?}");

    assert_eq!(quick, Limited::Finished(Ok(1_229)));
    assert_eq!(endless, Limited::StoppedAtDeadline);
    assert_eq!(rogue, Limited::StillRunning);
    println!(
        "result: the quick job finished (1229 primes); the cooperative job stopped at its \
         deadline; the rogue thread could not be stopped"
    );
    // The rogue thread is still spinning: returning from `main` ends the process, and with it
    // every thread. That is the only way to stop it.
    Ok(())
}

/// How a job run under a deadline ended.
#[derive(Debug, PartialEq)]
enum Limited<T> {
    Finished(T),
    /// Cancelled at the deadline, and the job stopped: its thread has ended.
    StoppedAtDeadline,
    /// Cancelled at the deadline, and the job did not stop within the grace period.
    StillRunning,
}

/// Runs `job` on a thread of its own with a cancellation token; at `deadline` the watchdog
/// (this thread) cancels the token and gives the job `grace` to stop. The job's thread is
/// joined if it stops, and left running, detached, if it does not: there is nothing else to do
/// with a thread.
fn run_with_deadline<T: Send + 'static>(
    name: &str,
    deadline: Duration,
    grace: Duration,
    job: impl FnOnce(&CancellationToken) -> T + Send + 'static,
) -> anyhow::Result<Limited<T>> {
    let token = CancellationToken::new();
    let (result_tx, result_rx) = crossbeam_channel::bounded(1);
    let handle = thread::Builder::new()
        .name(name.into())
        .spawn({
            let token = token.clone();
            move || {
                let _ = result_tx.send(job(&token));
            }
        })
        .with_context(|| format!("could not spawn {name}"))?;
    match result_rx.recv_timeout(deadline) {
        Ok(value) => {
            join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
            return Ok(Limited::Finished(value));
        }
        Err(RecvTimeoutError::Disconnected) => bail!("{name} panicked"),
        Err(RecvTimeoutError::Timeout) => {}
    }
    println!("[main] {name} passed its deadline of {deadline:?}: cancelling it");
    let cancelled_at = Instant::now();
    token.cancel();
    // The job answers a cancellation by returning (its `T` says it was cancelled), which
    // drops the sender. Waiting on the channel, not sleeping, is how the watchdog learns it.
    match result_rx.recv_timeout(grace) {
        Ok(_) | Err(RecvTimeoutError::Disconnected) => {
            join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
            println!(
                "[main] {name} stopped {:.1?} after the cancel",
                cancelled_at.elapsed()
            );
            Ok(Limited::StoppedAtDeadline)
        }
        Err(RecvTimeoutError::Timeout) => {
            println!(
                "[main] {name} ignored the cancel for {grace:?}; is_finished() = {}; there is \
                 no API to kill it: it runs until the process exits",
                handle.is_finished()
            );
            // Dropping the handle detaches the thread: it keeps its core busy, unstoppable.
            drop(handle);
            Ok(Limited::StillRunning)
        }
    }
}

/// A cooperative job: counts primes from `start`, in blocks of 100 numbers, checking its token
/// between blocks.
fn count_primes_from(start: u64, end: u64, token: &CancellationToken) -> Result<u64, Cancelled> {
    let (mut count, mut low) = (0, start);
    while low < end {
        token.check()?;
        let high = low.saturating_add(100).min(end);
        count += count_primes(low..high);
        low = high;
    }
    Ok(count)
}

/// The rogue job: it never looks at its token. (Any long computation written without checks,
/// or stuck in a library call, behaves the same.)
fn spin_forever() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}
