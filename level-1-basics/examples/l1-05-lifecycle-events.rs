//! # Lesson l1-05: a worker's lifecycle events, and how it ended
//!
//! Replaces Node's `worker.on('online' | 'message' | 'error' | 'exit')`, the graceful
//! "shutdown" message and exit codes. `shared::Worker` turns the four events into one enum,
//! `Event::{Online, Message, Error, Exit}`, read from a channel in order, and the exit code
//! into `Exit::{Finished, Cancelled, Panicked(message)}`.
//!
//! Node's exit codes mix things up: 0 for a worker that ended by itself, but 1 both for a
//! crash and for a deliberate `terminate()`, so code that restarts "crashed" workers also
//! restarts the ones it stopped on purpose. `Exit` keeps the three apart, and a panic carries
//! its message. (With plain `std::thread`, `JoinHandle::join()` gives `Ok(value)` or
//! `Err(panic payload)`, and a "ready" message stands in for `online`; `shared::Worker` is
//! built from exactly those pieces.)
//!
//! Shows: the same worker code run twice. `fib-worker`: online → asked for fib(10) → replies
//! 55 → a `Shutdown` message ends its loop → `Exit::Finished`. `faulty-worker`: asked for
//! fib(94), which does not fit in a `u64`, so `fib` panics (a panic is how Rust stops a
//! thread on a bug; lessons l1-08 and l1-09 handle it) → `Error(message)` then
//! `Exit::Panicked(message)`.
//! (Lesson l1-06 shows the third ending, `Exit::Cancelled`.)
//!
//! Run: `cargo run --example l1-05-lifecycle-events`
//!
//! Expect: each worker's events as the main thread reads them; one `[panic hook]` line for
//! `faulty-worker` on stderr (the panic is part of the lesson, so `shared::panics::quiet_hook`
//! reports it without a backtrace; l1-13 shows how such a hook is written), then
//! `result: fib-worker Finished (fib(10) = 55), faulty-worker Panicked`.

use anyhow::Context;
use shared::worker::{Event, Exit, Worker, WorkerContext};
use shared::workload::fib;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    // 1. online → message → graceful shutdown → exit.
    let fib_worker = Worker::spawn("fib-worker", (), fib_server).context("spawn fib-worker")?;
    let mut fib_events = vec![next_event(&fib_worker)?]; // Node's `worker.on('online', ...)`
    // Posting before `Online` would also work: the inbox queues it until the worker reads.
    fib_worker
        .post(Command::Fib(10))
        .context("fib-worker stopped early")?;
    fib_events.push(next_event(&fib_worker)?);
    fib_worker
        .post(Command::Shutdown)
        .context("fib-worker stopped early")?;
    fib_events.extend(events_until_exit(&fib_worker)?);
    // `join` tells how the worker ended, the exit code's job; here it ended by itself.
    let fib_exit = fib_worker.join();

    // 2. The same code, a request that makes it panic: 'error' then 'exit', and the message
    //    survives.
    let quiet = shared::panics::quiet_hook(); // one line for this panic, no backtrace
    let faulty = Worker::spawn("faulty-worker", (), fib_server).context("spawn faulty-worker")?;
    faulty
        .post(Command::Fib(94))
        .context("faulty-worker stopped early")?;
    let faulty_events = events_until_exit(&faulty)?;
    let faulty_exit = faulty.join();
    drop(quiet); // Rust's default report again, for any panic nobody meant

    let fib_answer = Reply::Fib { n: 10, value: 55 };
    let finished = [
        Event::Message(fib_answer),
        Event::Message(Reply::ShuttingDown),
    ];
    assert_eq!(fib_events[0], Event::Online);
    assert_eq!(fib_events[1..3], finished);
    assert_eq!(fib_events[3..], [Event::Exit(Exit::Finished)]);
    assert_eq!(fib_exit, Exit::Finished);

    let message = "fib(94) does not fit in a u64: the largest n is 93".to_owned();
    let crashed = [
        Event::Online,
        Event::Error(message.clone()),
        Event::Exit(Exit::Panicked(message.clone())),
    ];
    assert_eq!(faulty_events, crashed);
    assert_eq!(faulty_exit, Exit::Panicked(message));
    println!("result: fib-worker {fib_exit:?} (fib(10) = 55), faulty-worker Panicked");
    Ok(())
}

/// What the main thread can ask of a worker.
#[derive(Debug)]
enum Command {
    Fib(u32),
    /// The graceful stop: "finish and leave your loop".
    Shutdown,
}

/// What a worker posts back (the `Event::Message` payload).
#[derive(Debug, PartialEq)]
enum Reply {
    Fib { n: u32, value: u64 },
    ShuttingDown,
}

/// A guard against a hang if this lesson had a bug; a correct run never comes near it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The worker: answers `Fib` requests until told to shut down.
fn fib_server((): (), ctx: &WorkerContext<Command, Reply>) {
    while let Some(command) = ctx.recv() {
        match command {
            Command::Fib(n) => {
                println!("[{}] computing fib({n})", ctx.name());
                // `fib` panics for n > 93: the answer would not fit in a `u64`.
                ctx.post(Reply::Fib { n, value: fib(n) });
            }
            Command::Shutdown => {
                println!("[{}] shutdown requested: leaving my loop", ctx.name());
                ctx.post(Reply::ShuttingDown);
                // Returning ends the thread: Node's `process.exit(0)` in the worker.
                return;
            }
        }
    }
}

/// Waits for the worker's next event and logs it under Node's event names.
fn next_event(worker: &Worker<Command, Reply>) -> anyhow::Result<Event<Reply>> {
    let event = worker
        .recv_event_timeout(TIMEOUT)
        .with_context(|| format!("no event from {}", worker.name()))?;
    let name = worker.name();
    match &event {
        Event::Online => println!("[main] {name}: 'online'"),
        Event::Message(reply) => println!("[main] {name}: 'message' {reply:?}"),
        Event::Error(message) => println!("[main] {name}: 'error' {message:?}"),
        Event::Exit(exit) => println!("[main] {name}: 'exit' {exit:?}"),
    }
    Ok(event)
}

/// Reads events up to and including `Exit`, which is always the last one.
fn events_until_exit(worker: &Worker<Command, Reply>) -> anyhow::Result<Vec<Event<Reply>>> {
    let mut events = Vec::new();
    loop {
        let event = next_event(worker)?;
        let last = matches!(event, Event::Exit(_));
        events.push(event);
        if last {
            return Ok(events);
        }
    }
}
