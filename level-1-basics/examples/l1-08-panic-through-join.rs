//! # Lesson l1-08: a panic ends its own thread, and `join` reports it
//!
//! Replaces Node's `worker.on('error', err => ...)` for an exception nobody caught in the
//! worker. A **bug** in Rust is a panic: it unwinds its own thread only, never the thread that
//! spawned it. `join()` returns `Err(payload)` instead of the closure's value, and the payload
//! (a `Box<dyn Any + Send>`) holds the panic's message as a `&str` or a `String`.
//!
//! Shows: a worker with an off-by-one bug panics; the main thread's `join()` gets `Err`, reads
//! the message with `shared::testing::panic_message`, and carries on with a second worker.
//! (To pass a panic on instead, when the caller cannot handle the bug either,
//! `std::panic::resume_unwind(payload)` panics again with it; guide 6 shows it.)
//!
//! Run: `cargo run --example l1-08-panic-through-join`
//!
//! Expect: one `[panic hook]` line for `crasher` on stderr (the panic is part of the lesson,
//! so `shared::panics::quiet_hook` reports it without a backtrace; l1-13 shows how such a
//! hook is written), then
//! `result: crasher's join() gave Err("index out of bounds: the len is 2 but the index is 2"); main carried on and got 30`.

use anyhow::{Context, anyhow, bail};
use shared::testing::panic_message;
use std::thread;

fn main() -> anyhow::Result<()> {
    let quiet = shared::panics::quiet_hook(); // one line for this panic, no backtrace
    let crasher = thread::Builder::new()
        .name("crasher".to_owned())
        .spawn(|| last_of(&[10, 20]))
        .context("could not spawn crasher")?;

    let message = match crasher.join() {
        Ok(value) => bail!("crasher should have panicked, returned {value}"),
        Err(payload) => panic_message(payload.as_ref()),
    };
    drop(quiet); // Rust's default report again, for any panic nobody meant
    println!("[main] crasher's join() -> Err: {message:?}; main carries on");

    // The panic ended `crasher` only: this thread, and new workers, run as before.
    let fixed = thread::Builder::new()
        .name("fixed".to_owned())
        .spawn(|| fixed_last_of(&[10, 20, 30]))
        .context("could not spawn fixed")?;
    let value = fixed.join().map_err(|_| anyhow!("fixed panicked"))?;

    assert_eq!(
        message,
        "index out of bounds: the len is 2 but the index is 2"
    );
    assert_eq!(value, Some(30));
    println!(
        "result: crasher's join() gave Err({message:?}); main carried on and got {}",
        value.unwrap_or_default()
    );
    Ok(())
}

/// A bug: an off-by-one index (it should be `len() - 1`), which panics.
fn last_of(numbers: &[i64]) -> i64 {
    numbers[numbers.len()]
}

/// The fix, which also says what an empty slice has: no last element.
fn fixed_last_of(numbers: &[i64]) -> Option<i64> {
    numbers.last().copied()
}
