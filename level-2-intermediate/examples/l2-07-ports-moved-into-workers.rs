//! # Lesson l2-07: ports moved into workers
//!
//! Replaces Node's `new MessageChannel()` and the Node course's `03-message-channel`: two
//! connected ports, one of them handed to a worker in a `transferList`, after which two
//! workers talk without the main thread relaying. In Rust a port is a channel end:
//! `shared::MessageChannel` gives two `MessagePort`s, each able to send to and receive from
//! the other. Moving a port into a thread, or sending it inside a message, *is* the
//! transfer, and the compiler forbids any use of it afterwards.
//!
//! Shows: `producer` gets `port1` when it is spawned; `squarer` is already running and gets
//! `port2` inside a message, as Node sends `postMessage({ port }, [port])`. The two then talk
//! directly; the main thread only wired them up. The squarer ends when the producer drops its
//! port: no `close()` call, no `terminate()`.
//!
//! Run: `cargo run --release --example l2-07-ports-moved-into-workers`
//!
//! Expect: the squarer getting its port, the producer's total, the squarer ending, then
//! `result: 385 over a worker-to-worker port, 10 numbers squared`.

use anyhow::{Context, anyhow, ensure};
use shared::channel::{MessageChannel, MessagePort};
use std::thread::{self, JoinHandle};

/// The port a squarer works through: it receives numbers and sends back their squares.
type SquarerPort = MessagePort<u64, u64>;

fn main() -> anyhow::Result<()> {
    // The squarer starts first, with no port yet: only a channel to receive one on.
    let (setup_tx, setup_rx) = crossbeam_channel::bounded::<SquarerPort>(1);
    let squarer = spawn("squarer", move || -> anyhow::Result<usize> {
        let port = setup_rx.recv().context("no port arrived")?;
        println!("[{}] got my port in a message", me());
        square_until_closed(&port)
    })?;

    let MessageChannel { port1, port2 } = MessageChannel::<u64, u64>::new();
    // The "transfer list": port2 moves into the message, and from there into the squarer.
    setup_tx
        .send(port2)
        .map_err(|_| anyhow!("the squarer ended before it got its port"))?;
    // Uncomment to see the compiler refuse a transferred port:
    // port2.send(1); // error[E0382]: borrow of moved value: `port2`

    let producer = spawn("producer", move || produce(port1))?;
    let total = producer
        .join()
        .map_err(|_| anyhow!("producer panicked"))??;
    let served = squarer.join().map_err(|_| anyhow!("squarer panicked"))??;

    assert_eq!(total, (1..=10u64).map(|n| n * n).sum::<u64>());
    ensure!(served == 10, "the squarer served {served} numbers, not 10");
    println!("result: {total} over a worker-to-worker port, {served} numbers squared");
    Ok(())
}

/// Spawns a named thread.
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .with_context(|| format!("could not spawn {name}"))
}

fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Squares every number that arrives on `port`, until the other port is dropped.
fn square_until_closed(port: &SquarerPort) -> anyhow::Result<usize> {
    let mut served = 0;
    for n in port {
        port.send(n * n)
            .map_err(|_| anyhow!("the producer stopped listening"))?;
        served += 1;
    }
    println!("[{}] the other port is gone: done after {served}", me());
    Ok(served)
}

/// Sends 1..=10 through `port`, adds up the squares that come back, and drops the port.
fn produce(port: MessagePort<u64, u64>) -> anyhow::Result<u64> {
    let mut total = 0;
    for n in 1..=10 {
        port.send(n).map_err(|_| anyhow!("the squarer hung up"))?;
        total += port.recv().context("the squarer hung up")?;
    }
    println!("[{}] sum of the squares of 1..=10: {total}", me());
    Ok(total)
    // `port` is dropped here: the squarer's loop ends.
}
