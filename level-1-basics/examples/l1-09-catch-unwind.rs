//! # Lesson l1-09: one bad task does not end a long-lived worker
//!
//! Replaces the `try/catch` around each task in a Node worker's message handler, which keeps
//! one bad message from killing the worker. In Rust a panic would end the whole thread, and
//! every task still queued for it; `std::panic::catch_unwind` stops the panic at the task
//! boundary and turns it into an `Err` for that task alone. It is a safety net for bugs, not
//! for expected errors (those are `Result`s, lesson l1-07), and does nothing under
//! `panic = "abort"`.
//!
//! Shows: a worker computing the mean of three batches; the empty one panics (divide by
//! zero), becomes `Err(message)`, and the worker serves the next batch and ends normally.
//!
//! Run: `cargo run --example l1-09-catch-unwind`
//!
//! Expect: one `[panic hook]` line on stderr for the empty batch (the panic is part of the
//! lesson, so `shared::panics::quiet_hook` reports it without a backtrace; `catch_unwind`
//! does not stop the report, which is printed before unwinding; lesson l1-13), then
//! `result: means [Ok(4), Err("attempt to divide by zero"), Ok(15)], the worker served 3 tasks`.

use anyhow::{Context, anyhow};
use shared::testing::panic_message;
use std::panic;
use std::thread;

fn main() -> anyhow::Result<()> {
    let _quiet = shared::panics::quiet_hook(); // one line for the intended panic, no backtrace
    let (batch_tx, batch_rx) = crossbeam_channel::unbounded::<Vec<i64>>();
    let (mean_tx, mean_rx) = crossbeam_channel::unbounded::<Result<i64, String>>();
    let worker = thread::Builder::new()
        .name("mean-worker".to_owned())
        .spawn(move || {
            let mut served = 0;
            for batch in batch_rx {
                let outcome = mean_or_panic_message(&batch);
                served += 1;
                if mean_tx.send(outcome).is_err() {
                    break;
                }
            }
            served
        })
        .context("could not spawn mean-worker")?;

    for batch in [vec![2, 4, 6], vec![], vec![10, 20]] {
        batch_tx
            .send(batch)
            .map_err(|_| anyhow!("mean-worker stopped early"))?;
    }
    drop(batch_tx);
    let means: Vec<Result<i64, String>> = mean_rx.iter().collect();
    println!("[main] means: {means:?}");
    // The worker survived its bad task: it ended by itself, not by a panic.
    let served = worker.join().map_err(|_| anyhow!("mean-worker panicked"))?;
    println!("[main] mean-worker served {served} tasks and ended normally");

    assert_eq!(
        means,
        [Ok(4), Err("attempt to divide by zero".to_owned()), Ok(15)]
    );
    assert_eq!(served, 3);
    println!("result: means {means:?}, the worker served {served} tasks");
    Ok(())
}

/// The task boundary: a panic inside `mean` becomes this task's `Err`, with its message.
fn mean_or_panic_message(batch: &[i64]) -> Result<i64, String> {
    panic::catch_unwind(|| mean(batch)).map_err(|payload| panic_message(payload.as_ref()))
}

/// A function with a bug: it panics on an empty slice ("attempt to divide by zero").
fn mean(numbers: &[i64]) -> i64 {
    numbers.iter().sum::<i64>() / numbers.len() as i64
}
