//! # Lesson l1-13: a panic hook, Rust's `uncaughtException`
//!
//! Replaces Node's `process.on('uncaughtException', ...)`, almost: `std::panic::set_hook`
//! installs a function that runs on the panicking thread, for every panic (caught later or
//! not), *before* unwinding, and it cannot stop the panic. It replaces Rust's default report,
//! so it is the place to log a panic your way, with the thread's name, to wherever your logs
//! go. `take_hook` removes it and puts the default back.
//!
//! Shows: a hook that prints each panic on one line and counts it in a static `AtomicUsize`
//! (lesson l1-12); a worker panic seen by `join` (lesson l1-08) and a task panic stopped by
//! `catch_unwind` (lesson l1-09) both pass through it.
//!
//! Run: `cargo run --example l1-13-panic-hook`
//!
//! Expect: two `[panic hook]` lines on stderr instead of Rust's default reports, then
//! `result: 2 panics hooked (one seen by join, one caught by catch_unwind), default hook restored`.

use anyhow::{Context, bail};
use shared::testing::panic_message;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

fn main() -> anyhow::Result<()> {
    panic::set_hook(Box::new(one_line_hook));

    // A worker panics: the hook prints it on the worker's thread, then `join` sees it.
    let crasher = thread::Builder::new()
        .name("crasher".to_owned())
        .spawn(|| -> u32 { panic!("the disk is full") })
        .context("could not spawn crasher")?;
    let Err(payload) = crasher.join() else {
        bail!("crasher should have panicked");
    };
    let joined = panic_message(payload.as_ref());

    // A panic caught by `catch_unwind` still passes through the hook first.
    let caught = panic::catch_unwind(|| -> u32 { panic!("a bad task") })
        .err()
        .map(|payload| panic_message(payload.as_ref()));

    // Back to the default hook, so a later panic prints as usual.
    drop(panic::take_hook());
    // Every panicking thread has been joined (or was this one), so `Relaxed` reads them all.
    let hooked = PANICS_SEEN.load(Ordering::Relaxed);

    assert_eq!(joined, "the disk is full");
    assert_eq!(caught.as_deref(), Some("a bad task"));
    assert_eq!(hooked, 2);
    println!(
        "result: {hooked} panics hooked (one seen by join, one caught by catch_unwind), default \
         hook restored"
    );
    Ok(())
}

/// How many panics the hook has seen.
static PANICS_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Prints one line per panic, with the thread's name and where it panicked.
fn one_line_hook(info: &PanicHookInfo<'_>) {
    PANICS_SEEN.fetch_add(1, Ordering::Relaxed);
    let thread = thread::current();
    let location = info
        .location()
        .map(|at| format!(" at {}:{}", at.file(), at.line()))
        .unwrap_or_default();
    eprintln!(
        "[panic hook] thread {:?} panicked{location}: {}",
        thread.name().unwrap_or("<unnamed>"),
        panic_message(info.payload())
    );
}
