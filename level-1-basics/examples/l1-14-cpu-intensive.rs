//! # Lesson l1-14: CPU-intensive work without freezing the main thread
//!
//! Replaces Node's "blocking vs offloading" example, where `fib(40)` on the main thread stops
//! a `setInterval` ticker dead, and the same `fib(40)` in a `Worker` lets it keep ticking. In
//! Rust the main thread is not an event loop, but it has the same problem: while it computes,
//! nothing else it is responsible for (a ticker, a UI, answering messages) can run.
//!
//! Shows: the same computation run twice. Offloaded: a worker thread computes while the main
//! thread waits for the result with `recv_timeout`, and each timeout is a tick the main thread
//! was free to handle. Blocking: the main thread computes itself, and only then reaches the
//! same ticker loop, by which time the result is already waiting: no tick could run. The
//! ticks are counted, not assumed (the Node example printed a hard-coded 0 for the blocked
//! run). Each run records its timeline (`shared::timeline`): the computation, and each tick.
//!
//! Run: `cargo run --example l1-14-cpu-intensive` (about a second; with `--release` each run
//! is about twice as fast, so fewer ticks fit in it)
//!
//! Pictures: `target/timelines/l1-14-offloaded.svg` and `l1-14-blocking.svg` (open them in a
//! browser), and the same recordings as `.json` (open them in https://ui.perfetto.dev).
//!
//! Expect: several `[main] tick` lines during the offloaded run, none during the blocking run,
//! each run's timeline, then `result: fib(40) = 102334155 both ways; ticks while offloaded:
//! N, while blocking: 0` with N at least 1. The times and N depend on the machine.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shared::timeline::{Recording, Span, Timeline};
use shared::workload::{checked_fib, fib};
use std::thread;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let expected = checked_fib(N).context("fib(N) fits in a u64")?;

    println!("[main] --- offloaded to a worker thread ---");
    let worker_run = offloaded()?;
    println!("[main] --- on the main thread ---");
    let main_run = blocking()?;

    assert_eq!(worker_run.value, expected);
    assert_eq!(main_run.value, expected);
    assert!(
        worker_run.ticks >= 1,
        "the main thread should tick at least once while fib({N}) runs elsewhere"
    );
    // The pictures, by construction: offloaded, the computation is one span on the worker's
    // row, and the main thread's row holds only its ticks; blocking, the main thread's row
    // holds the computation and nothing else. (How many ticks fall inside the computation
    // depends on the scheduler, so that is printed, not asserted.)
    let (offloaded, blocked) = (&worker_run.recording, &main_run.recording);
    let ticks = vec!["tick"; worker_run.ticks as usize];
    assert_eq!(labels(offloaded, "main"), ticks);
    assert_eq!(labels(offloaded, "fib-worker"), ["compute"]);
    let (rows, main_row) = (blocked.threads().len(), labels(blocked, "main"));
    assert_eq!(
        (rows, main_row),
        (1, vec!["compute"]),
        "no tick while computing"
    );

    println!(
        "[main] offloaded: {:>4} ms, {} ticks, {} of them while the worker computed",
        worker_run.recording.wall().as_millis(),
        worker_run.ticks,
        ticks_while_computing(offloaded)
    );
    println!(
        "[main] blocking:  {:>4} ms, {} ticks (about {} were due, one every {} ms)",
        main_run.recording.wall().as_millis(),
        main_run.ticks,
        main_run.recording.wall().as_millis() / TICK.as_millis(),
        TICK.as_millis()
    );
    println!(
        "result: fib({N}) = {expected} both ways; ticks while offloaded: {}, while blocking: {}",
        worker_run.ticks, main_run.ticks
    );
    Ok(())
}

/// Which Fibonacci number to compute, the one the Node example computes. The naive `fib`
/// makes 331 million calls for it: about 0.2 s in a release build and 0.5 s in a debug build
/// on the course's 2-core machine.
const N: u32 = 40;

/// How often the main thread wants to do its own small job. Node's ticker used 100 ms; this
/// one ticks faster so that even a fast machine's release build fits several ticks into
/// `fib(40)`.
const TICK: Duration = Duration::from_millis(50);

/// What one run saw: the answer, how many ticks the main thread handled while the answer was
/// being computed, and its timeline (whose wall time is how long the run took).
struct Run {
    value: u64,
    ticks: u32,
    recording: Recording,
}

/// Offloaded: a worker computes, and the main thread ticks until the result arrives.
fn offloaded() -> anyhow::Result<Run> {
    let timeline = Timeline::new("l1-14-offloaded: fib(40) on a worker, the main thread ticks");
    let compute = timeline.label("compute"); // made first: the same colour in both pictures
    let (sender, receiver) = crossbeam_channel::bounded(1);
    let worker_timeline = timeline.clone();
    let worker = thread::Builder::new()
        .name("fib-worker".to_owned())
        .spawn(move || {
            println!("[fib-worker] computing fib({N})");
            let span = worker_timeline.span(compute);
            let value = fib(N);
            drop(span);
            println!("[fib-worker] done, sending the result");
            // Cannot fail: the main thread keeps the receiver until it has the result.
            sender.send(value).expect("the main thread is waiting");
        })
        .context("could not spawn the worker")?;

    let outcome = tick_until_done(&receiver, &timeline);
    worker.join().map_err(|_| anyhow!("the worker panicked"))?;
    show(&timeline, "l1-14-offloaded", outcome?)
}

/// The main thread's loop: wait for the result, but never longer than one `TICK` at a time.
/// Every time the wait times out the main thread is free, so it handles a tick.
///
/// The timed wait *is* the ticker, not a way to synchronise: the result comes through the
/// channel, and the loop ends the moment it arrives.
fn tick_until_done(result: &Receiver<u64>, timeline: &Timeline) -> anyhow::Result<(u64, u32)> {
    let (tick, mut ticks) = (timeline.label("tick"), 0);
    loop {
        match result.recv_timeout(TICK) {
            Ok(value) => {
                println!("[main] result received after {ticks} ticks");
                return Ok((value, ticks));
            }
            Err(RecvTimeoutError::Timeout) => {
                let _span = timeline.span(tick); // the tick's own small job: printing
                ticks += 1;
                println!("[main] tick {ticks}: the main thread is free");
            }
            Err(RecvTimeoutError::Disconnected) => {
                bail!("the result's sender was dropped without sending (did the worker panic?)")
            }
        }
    }
}

/// Blocking: the main thread computes the same thing itself, then runs the same ticker loop.
/// The loop finds the result already there, so it handles no tick: while `fib` ran, nothing
/// else on this thread could.
fn blocking() -> anyhow::Result<Run> {
    let timeline = Timeline::new("l1-14-blocking: fib(40) on the main thread, which ticks after");
    let compute = timeline.label("compute"); // made first: the same colour in both pictures
    let (sender, receiver) = crossbeam_channel::bounded(1);
    println!("[main] computing fib({N}) myself; no tick can run until I finish");
    let span = timeline.span(compute);
    let value = fib(N);
    drop(span);
    sender.send(value).context("the receiver is right here")?;
    show(
        &timeline,
        "l1-14-blocking",
        tick_until_done(&receiver, &timeline)?,
    )
}

/// Writes the run's timeline as `name`.svg and .json, prints where and the picture itself.
fn show(timeline: &Timeline, name: &str, (value, ticks): (u64, u32)) -> anyhow::Result<Run> {
    let recording = timeline.finish();
    print!("{}", recording.write_and_show(name, 56)?);
    Ok(Run {
        value,
        ticks,
        recording,
    })
}

/// The labels of the spans on the row of the thread called `thread`, in order.
fn labels<'r>(recording: &'r Recording, thread: &str) -> Vec<&'r str> {
    let rows = recording.threads().iter().filter(|row| row.name == thread);
    let spans = rows.flat_map(|row| &row.spans);
    spans.map(|s| s.label.as_str()).collect()
}

/// How many tick spans lie within the compute span.
fn ticks_while_computing(recording: &Recording) -> usize {
    let spans = || recording.threads().iter().flat_map(|row| &row.spans);
    let inside = |c: &Span| {
        spans()
            .filter(|t| t.label == "tick" && c.start <= t.start && t.end <= c.end)
            .count()
    };
    spans().filter(|s| s.label == "compute").map(inside).sum()
}
