//! # Lesson l1-20: waiting is not work
//!
//! Replaces the Node course's advice "workers are not for I/O": Node's event loop already
//! waits on thousands of sockets from one thread. A Rust thread that only waits (for a socket,
//! a timer, a reply) still occupies a whole OS thread, with its own stack (2 MiB reserved by
//! default): fine for a hundred waits, not for 10,000 connections, which is async's job (e.g.
//! tokio, which waits on many sockets from a few threads).
//!
//! Shows: 100 threads each wait 50 ms for a message nobody sends. The waits overlap, so the
//! wall time is far below 100 × 50 ms, but it took 100 OS threads doing nothing. The timed
//! wait is the thing measured, not a way to synchronise: the threads are joined.
//!
//! Run: `cargo run --release --example l1-20-waiting-threads`
//!
//! Expect: the measured wall time (it varies by machine and run), then
//! `result: 100 threads each waited 50 ms and timed out, in ... ms of wall time, not 5000 ms`.

use anyhow::anyhow;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shared::timing::timed;
use std::thread;
use std::time::Duration;

const WAITERS: usize = 100;
const WAIT: Duration = Duration::from_millis(50);

fn main() -> anyhow::Result<()> {
    // The sender stays alive (and silent), so every wait ends by timing out.
    let (_silent_sender, receiver) = crossbeam_channel::unbounded::<()>();
    let (outcomes, wall_time) = timed(|| wait_on_many_threads(&receiver));
    let outcomes = outcomes?;

    let timed_out = outcomes
        .iter()
        .filter(|outcome| **outcome == Err(RecvTimeoutError::Timeout))
        .count();
    let serial_ms = WAIT.as_millis() * WAITERS as u128;
    println!(
        "[main] all done in {} ms of wall time, not {serial_ms} ms: waiting threads overlap,",
        wall_time.as_millis()
    );
    println!("[main] but that took {WAITERS} OS threads doing nothing");

    assert_eq!(timed_out, WAITERS, "nobody sends, so every wait times out");
    println!(
        "result: {WAITERS} threads each waited {} ms and timed out, in {} ms of wall time, not \
         {serial_ms} ms",
        WAIT.as_millis(),
        wall_time.as_millis()
    );
    Ok(())
}

/// Starts every waiter, then joins them all.
fn wait_on_many_threads(
    receiver: &Receiver<()>,
) -> anyhow::Result<Vec<Result<(), RecvTimeoutError>>> {
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let receiver = receiver.clone();
            thread::spawn(move || receiver.recv_timeout(WAIT))
        })
        .collect();
    waiters
        .into_iter()
        .map(|waiter| {
            waiter
                .join()
                .map_err(|_| anyhow!("a waiting thread panicked"))
        })
        .collect()
}
