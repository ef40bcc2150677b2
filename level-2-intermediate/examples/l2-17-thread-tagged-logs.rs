//! # Lesson l2-17: logs that say which thread speaks
//!
//! Replaces the Node guide's worker logs tagged with `threadId` (it used `process.pid`, the
//! same for every worker). Every Rust thread has an id (`thread::current().id()`, unique for
//! the life of the process) and, if it was given one with `thread::Builder::name`, a **name**,
//! which also shows up in panic messages, in `gdb`/`lldb`, in `top -H` and in profilers. An
//! unnamed spawned thread shows as `<unnamed>`.
//!
//! Shows: a small `log!` macro that puts the time, the thread's name and its id in front of
//! every line: Node's `console.log('[worker ' + threadId + ']', ...)`, done once. The main
//! thread, two named workers and one unnamed thread log through it. Real programs use the
//! `tracing` crate, whose default format can show the same thread names and ids.
//!
//! New here: `std::sync::OnceLock<T>`, a value that is set at most once and then read by any
//! thread; `get_or_init` sets it on the first call and returns it on every call. Here it
//! holds the program's start time, so that every line says how long after the start it was
//! written. Level 3 covers `OnceLock` with the rest of the synchronisation toolbox.
//!
//! Run: `cargo run --release --example l2-17-thread-tagged-logs`
//!
//! Expect: lines tagged `[main ThreadId(1)]`, `[parser-1 ThreadId(..)]`, `[<unnamed>
//! ThreadId(..)]`, then `result: 4 threads logged, each with its own id; 3 with names`.

use anyhow::{Context, anyhow};
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;
use std::thread::{self, ThreadId};
use std::time::Instant;

/// When the program started: every log line says how long after.
static START: OnceLock<Instant> = OnceLock::new();

/// `println!` with the time, the thread's name and its id in front.
macro_rules! log {
    ($($arg:tt)*) => {
        log_line(format_args!($($arg)*))
    };
}

fn main() -> anyhow::Result<()> {
    START.get_or_init(Instant::now);
    log!("starting two named workers and one unnamed thread");
    let mut tags = vec![tag()];
    for name in ["parser-1", "parser-2"] {
        let worker = thread::Builder::new()
            .name(name.to_owned())
            .spawn(work)
            .with_context(|| format!("could not spawn {name}"))?;
        tags.push(worker.join().map_err(|_| anyhow!("{name} panicked"))?);
    }
    let unnamed = thread::Builder::new()
        .spawn(work)
        .context("could not spawn a thread")?;
    tags.push(
        unnamed
            .join()
            .map_err(|_| anyhow!("the unnamed thread panicked"))?,
    );
    log!("every thread has logged");

    let names: Vec<Option<&str>> = tags.iter().map(|(name, _)| name.as_deref()).collect();
    assert_eq!(
        names,
        [Some("main"), Some("parser-1"), Some("parser-2"), None]
    );
    let ids: HashSet<ThreadId> = tags.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), tags.len(), "every thread has its own id");
    println!(
        "result: {} threads logged, each with its own id; {} with names",
        ids.len(),
        names.iter().flatten().count()
    );
    Ok(())
}

/// What identifies the calling thread: its name, if it has one, and its id.
fn tag() -> (Option<String>, ThreadId) {
    let me = thread::current();
    (me.name().map(str::to_owned), me.id())
}

/// A worker's work: a couple of log lines. Returns its tag for the checks.
fn work() -> (Option<String>, ThreadId) {
    log!("parsing the config");
    log!("done");
    tag()
}

fn log_line(message: fmt::Arguments<'_>) {
    let me = thread::current();
    let millis = START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3;
    // One `println!` per line: the stdout lock keeps lines from two threads from mixing.
    println!(
        "[{millis:>8.3} ms] [{} {:?}] {message}",
        me.name().unwrap_or("<unnamed>"),
        me.id()
    );
}
