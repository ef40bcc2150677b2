//! # Lesson l1-04: a worker's lifecycle
//!
//! Replaces Node's `worker.on('online' | 'message' | 'error' | 'exit')`, the graceful
//! "shutdown" message, `worker.terminate()` and exit codes. `shared::Worker` turns the four
//! events into one enum, `Event::{Online, Message, Error, Exit}`, read from a channel in
//! order, and the exit code into `Exit::{Finished, Cancelled, Panicked(message)}`.
//!
//! Node's exit codes mix things up: 0 for a worker that ended by itself, but 1 both for a
//! crash and for a deliberate `terminate()`, so code that restarts "crashed" workers also
//! restarts the ones it stopped on purpose. `Exit` keeps the three apart, and a panic carries
//! its message. (With plain `std::thread`, `JoinHandle::join()` gives `Ok(value)` or
//! `Err(panic payload)`, and a "ready" message or a `Barrier` stands in for `online`;
//! `shared::Worker` is built from exactly those pieces.)
//!
//! Shows three workers:
//! 1. `fib-worker`: online → asked for fib(10) → replies 55 → a `Shutdown` message ends its
//!    loop → `Exit::Finished`.
//! 2. `busy-worker`: computes in slices until `terminate()` → `Exit::Cancelled`. Node's
//!    terminate stops the worker's JavaScript wherever it is; Rust cannot kill a thread, so
//!    terminate is a *request* the worker sees because it checks `ctx.is_cancelled()`.
//! 3. `faulty-worker`: the same code as the first, asked for fib(94), which does not fit in a
//!    `u64` → `Error(message)` then `Exit::Panicked(message)`.
//!
//! Run: `cargo run --example l1-04-lifecycle`
//!
//! Expect: each worker's events as the main thread reads them; Rust's default panic report
//! for `faulty-worker` on stderr (the panic is part of the lesson; l1-05 shows how to print
//! it your way), then
//! `result: fib-worker Finished (fib(10) = 55), busy-worker Cancelled, faulty-worker Panicked`.

use anyhow::Context;
use shared::worker::{Event, Exit, Worker, WorkerContext};
use shared::workload::fib;
use std::hint::black_box;
use std::time::Duration;

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
    Started,
    Stopped { slices: u64 },
}

/// A guard against a hang if this lesson had a bug; a correct run never comes near it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The worker of parts 1 and 3: answers `Fib` requests until told to shut down.
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
    log_event(worker.name(), &event);
    Ok(event)
}

fn log_event(name: &str, event: &Event<Reply>) {
    match event {
        Event::Online => println!("[main] {name}: 'online'"),
        Event::Message(reply) => println!("[main] {name}: 'message' {reply:?}"),
        Event::Error(message) => println!("[main] {name}: 'error' {message:?}"),
        Event::Exit(exit) => println!("[main] {name}: 'exit' {exit:?}"),
    }
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

    // 2. terminate: a request, honoured because the worker checks for it.
    let busy_worker = Worker::spawn(
        "busy-worker",
        (),
        |(), ctx: &WorkerContext<Command, Reply>| {
            ctx.post(Reply::Started);
            let mut slices = 0;
            // Nothing outside can stop this loop: it stops because it looks. A loop that never
            // checks would make `terminate()` wait for it forever.
            while !ctx.is_cancelled() {
                black_box(fib(black_box(20))); // one slice of work, well under a millisecond
                slices += 1;
            }
            println!("[{}] cancelled: stopping after {slices} slices", ctx.name());
            ctx.post(Reply::Stopped { slices });
        },
    )
    .context("spawn busy-worker")?;
    let mut busy_events = vec![next_event(&busy_worker)?, next_event(&busy_worker)?];
    // `terminate` consumes the handle, so keep a clone of the event receiver: events stay
    // queued until read, even after the thread has ended.
    let events = busy_worker.events().clone();
    println!("[main] busy-worker is computing: terminate()");
    let busy_exit = busy_worker.terminate(); // cancels, then waits for the worker to notice
    for event in events.iter() {
        log_event("busy-worker", &event);
        busy_events.push(event);
    }

    // 3. a panic: 'error' then 'exit', and the message survives.
    let faulty_worker =
        Worker::spawn("faulty-worker", (), fib_server).context("spawn faulty-worker")?;
    faulty_worker
        .post(Command::Fib(94))
        .context("faulty-worker stopped early")?;
    let faulty_events = events_until_exit(&faulty_worker)?;
    let faulty_exit = faulty_worker.join();

    assert_eq!(
        fib_events,
        [
            Event::Online,
            Event::Message(Reply::Fib { n: 10, value: 55 }),
            Event::Message(Reply::ShuttingDown),
            Event::Exit(Exit::Finished),
        ]
    );
    assert_eq!(fib_exit, Exit::Finished);

    assert!(
        matches!(
            busy_events.as_slice(),
            [
                Event::Online,
                Event::Message(Reply::Started),
                Event::Message(Reply::Stopped { .. }),
                Event::Exit(Exit::Cancelled),
            ]
        ),
        "{busy_events:?}"
    );
    assert_eq!(busy_exit, Exit::Cancelled);

    let message = "fib(94) does not fit in a u64: the largest n is 93".to_owned();
    assert_eq!(
        faulty_events,
        [
            Event::Online,
            Event::Error(message.clone()),
            Event::Exit(Exit::Panicked(message.clone())),
        ]
    );
    assert_eq!(faulty_exit, Exit::Panicked(message));

    println!(
        "result: fib-worker {fib_exit:?} (fib(10) = 55), busy-worker {busy_exit:?}, \
         faulty-worker Panicked"
    );
    Ok(())
}
