//! # Lesson l1-06: terminate is a request
//!
//! Replaces Node's `worker.terminate()`, which stops the worker's JavaScript wherever it is.
//! Rust cannot kill a thread (it could be holding a lock, or be halfway through writing shared
//! data), so `shared::Worker::terminate()` is a *request*: it cancels the worker's token, then
//! waits for the worker to notice, which it does because it checks `ctx.is_cancelled()`
//! between small slices of work. A loop that never checks would make `terminate()` wait for
//! it forever.
//!
//! Shows: `busy-worker` computes in slices until `terminate()`, then reports how many slices
//! it did and ends with `Exit::Cancelled`, never confused with a crash (`Exit::Panicked`) or
//! a worker that ended by itself (`Exit::Finished`), both shown in lesson l1-05.
//!
//! Run: `cargo run --example l1-06-cooperative-terminate`
//!
//! Expect: the worker's events as the main thread reads them, then
//! `result: busy-worker Cancelled after N slices` with N at least 1 (it depends on the machine).

use anyhow::{Context, bail};
use shared::worker::{Event, Exit, Worker, WorkerContext};
use shared::workload::fib;
use std::hint::black_box;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let worker =
        Worker::spawn("busy-worker", (), compute_until_cancelled).context("spawn busy-worker")?;
    // Wait until it is computing, so that terminate() really interrupts work in progress.
    let mut events = vec![next_event(&worker)?, next_event(&worker)?];

    // `terminate` consumes the handle, so keep a clone of the event receiver: events stay
    // queued until read, even after the thread has ended.
    let receiver = worker.events().clone();
    println!("[main] busy-worker is computing: terminate()");
    let exit = worker.terminate(); // cancels, then waits for the worker to notice
    for event in receiver.try_iter() {
        println!("[main] busy-worker: {event:?}");
        events.push(event);
    }

    let [
        Event::Online,
        Event::Message(Busy::Started),
        stopped,
        Event::Exit(Exit::Cancelled),
    ] = events.as_slice()
    else {
        bail!("unexpected events: {events:?}");
    };
    let Event::Message(Busy::Stopped { slices }) = stopped else {
        bail!("expected Stopped, got {stopped:?}");
    };
    assert!(
        *slices >= 1,
        "it computed at least one slice before it looked"
    );
    assert_eq!(exit, Exit::Cancelled);
    println!("result: busy-worker {exit:?} after {slices} slices");
    Ok(())
}

/// What the worker posts back.
#[derive(Debug, PartialEq)]
enum Busy {
    Started,
    Stopped { slices: u64 },
}

/// Nothing outside can stop this loop: it stops because it looks.
fn compute_until_cancelled((): (), ctx: &WorkerContext<(), Busy>) {
    ctx.post(Busy::Started);
    let mut slices = 0;
    // At least one slice, so the count shows work was interrupted, not skipped.
    loop {
        black_box(fib(black_box(20))); // one slice of work, well under a millisecond
        slices += 1;
        if ctx.is_cancelled() {
            break;
        }
    }
    println!("[{}] cancelled: stopping after {slices} slices", ctx.name());
    ctx.post(Busy::Stopped { slices });
}

/// Waits (at most 10 s, a guard against a bug) for the worker's next event, and logs it.
fn next_event(worker: &Worker<(), Busy>) -> anyhow::Result<Event<Busy>> {
    let event = worker
        .recv_event_timeout(Duration::from_secs(10))
        .context("no event from busy-worker")?;
    println!("[main] busy-worker: {event:?}");
    Ok(event)
}
