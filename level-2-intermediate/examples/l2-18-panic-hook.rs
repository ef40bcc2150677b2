//! # Lesson l2-18: a panic hook that names the thread
//!
//! Replaces Node's `process.on('uncaughtException')` with `threadId` in the message, and
//! `worker.on('error')`. A panic hook runs on the panicking thread, before unwinding, so
//! `thread::current()` there is the thread that panicked. Std's default hook already names
//! the thread (`thread 'parser-1' (31540) panicked at ...`, with the OS's thread id; an unnamed
//! one shows as `<unnamed>`); a custom hook is where a program adds what the default leaves
//! out: Rust's `ThreadId`, a log format, a count, a backtrace. `join` then hands the panic's
//! payload to the main thread.
//!
//! Shows: a thread named `parser-1` that panics on bad input; a custom hook that reports its
//! name, id and place (and, when `RUST_BACKTRACE=1`, the backtrace's frames in this file: the
//! ones to read first, without the thirty-odd lines of std around them); `join` carrying the panic
//! message to the main thread; the previous hook put back afterwards.
//!
//! Run: `cargo run --release --example l2-18-panic-hook`
//! (`RUST_BACKTRACE=1 cargo run ...` adds this file's frames of the backtrace to its report)
//!
//! Expect: a `[panic hook]` line on stderr naming `parser-1`, then `result: parser-1's panic
//! seen by the hook and caught by join: "the port must be a number: ..."`.

use anyhow::{Context, bail};
use shared::testing::panic_message;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

fn main() -> anyhow::Result<()> {
    // Keep the previous hook (std's default, unless someone replaced it) to restore it.
    let previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = Arc::from(panic::take_hook());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    panic::set_hook(Box::new(move |info| naming_hook(info, &hook_seen)));

    let parser = thread::Builder::new()
        .name("parser-1".to_owned())
        .spawn(|| parse_port("port = eighty"))
        .context("could not spawn parser-1")?;
    // The handle knows the thread's name too, for the report below.
    let name = parser.thread().name().unwrap_or("<unnamed>").to_owned();
    let outcome = parser.join();

    // Put the previous hook back; ours is dropped.
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));

    let message = match outcome {
        Ok(port) => bail!("{name} should have panicked, parsed port {port}"),
        // Node's `worker.on('error')`: `join` hands over the panic payload.
        Err(payload) => panic_message(payload.as_ref()),
    };
    println!("[main] join({name}) -> Err: {message:?}; main carries on");
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();

    assert_eq!(
        seen,
        ["parser-1"],
        "the hook saw the panicking thread's name"
    );
    assert!(
        message.starts_with("the port must be a number"),
        "{message}"
    );
    println!(
        "result: {}'s panic seen by the hook and caught by join: {message:?}",
        seen[0]
    );
    Ok(())
}

/// A bug waiting to happen: `expect` on input that may not be a number.
fn parse_port(line: &str) -> u16 {
    let value = line.split('=').nth(1).unwrap_or_default().trim();
    value.parse().expect("the port must be a number")
}

/// The hook: reports the panicking thread's name, id and place, and records the name.
fn naming_hook(info: &PanicHookInfo<'_>, seen: &Mutex<Vec<String>>) {
    let me = thread::current();
    let name = me.name().unwrap_or("<unnamed>");
    let location = info
        .location()
        .map(|at| format!("{}:{}", at.file(), at.line()))
        .unwrap_or_else(|| "an unknown place".to_owned());
    eprintln!(
        "[panic hook] thread '{name}' ({:?}) panicked at {location}: {}",
        me.id(),
        panic_message(info.payload())
    );
    // `capture` honours RUST_BACKTRACE (and RUST_LIB_BACKTRACE): off by default, because
    // walking the stack is slow. `force_capture` would ignore the variables.
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        // Each frame is a line with its function, then an `at file:line` line.
        let text = backtrace.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let ours: Vec<String> = lines
            .windows(2)
            .filter(|frame| frame[1].contains(file!()))
            .map(|frame| format!("{}\n{}", frame[0], frame[1]))
            .collect();
        let (kept, all) = (ours.len(), lines.len());
        let ours = ours.join("\n");
        eprintln!("[panic hook] backtrace of '{name}', its {kept} frames in this file:\n{ours}");
        eprintln!("[panic hook] ({all} lines in all: print `backtrace` itself to see them)");
    } else {
        eprintln!("[panic hook] no backtrace: run with RUST_BACKTRACE=1 to get one");
    }
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(name.to_owned());
}
