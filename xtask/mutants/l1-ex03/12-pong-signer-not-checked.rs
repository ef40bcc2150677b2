//! Wrong answer (promise not kept): run_exchange checks each pong's count but not which thread signed it, so a pong from any thread is taken as the worker's.
//! # Exercise l1-ex03: ping-pong
//!
//! **Goal.** Play ping-pong with a worker thread: the main thread sends `Ping(1)`, waits for
//! `Pong(1)`, only then sends `Ping(2)`, and so on; at the end it sends `Shutdown`, the worker
//! answers `ShutdownAck` and ends by itself. In Node this is `worker.postMessage({ type:
//! 'ping', count })` answered from `parentPort.on('message', ...)`, and a worker that leaves
//! on its own instead of being `terminate()`d; in Rust the protocol is two `enum`s, one per
//! direction, and the worker ends when its receive loop returns.
//!
//! **Check your attempt:** `cargo exercise check l1-ex03`
//!
//! **What the tests expect**
//! - [`spawn_pong_worker`] starts a worker thread named [`WORKER_NAME`] and returns the
//!   sending end of its inbox, the receiving end of its replies, and its `JoinHandle`.
//! - The worker answers each `Ping(n)` with a `Pong` carrying the same `n` and its own thread
//!   id, and `Shutdown` with exactly one `ShutdownAck`, after which it sends nothing more and
//!   ends by itself, even while the main thread still holds the inbox's sender.
//! - [`run_exchange`]`(ROUNDS, spawn_pong_worker)` starts a worker with the function it is
//!   given, plays [`ROUNDS`] (5) rounds one at a time and returns a [`Transcript`]: pongs 1 to
//!   5 in order, 5 round trips, the shutdown acknowledged, and the id of the worker thread,
//!   which is not the caller's. It joins the worker before returning.
//! - The tests also give `run_exchange` a stand-in worker of their own. It fails the test if a
//!   ping comes before the previous pong has gone back; it can answer wrongly, stay alive
//!   after its acknowledgement, or panic, and `run_exchange` must then return an error, or
//!   wait for it to end, instead of trusting it.
//!
//! **Hints:** `cargo exercise hint l1-ex03` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, Sender};
use std::io;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

/// A running pong worker: the sender of its inbox, the receiver of its replies, its handle.
pub type PongWorker = (Sender<ToWorker>, Receiver<FromWorker>, JoinHandle<()>);

/// The name the worker thread must have.
pub const WORKER_NAME: &str = "pong-worker";

/// How many pings `run_exchange` sends in the exercise.
pub const ROUNDS: u32 = 5;

/// How long `run_exchange` waits for each reply before it gives up with an error.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the main thread sends to the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToWorker {
    /// Asks for a `Pong` with the same count.
    Ping(u32),
    /// Asks the worker to acknowledge and end.
    Shutdown,
}

/// What the worker sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromWorker {
    /// The answer to `Ping(count)`, from the thread `worker`.
    Pong {
        /// The count of the ping this answers.
        count: u32,
        /// The id of the thread that answered.
        worker: ThreadId,
    },
    /// The answer to `Shutdown`: the worker's last message before it ends.
    ShutdownAck,
}

/// What happened during [`run_exchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The counts of the pongs received, in the order they came.
    pub pongs: Vec<u32>,
    /// How many pings were answered by the pong with their count.
    pub round_trips: u32,
    /// Whether the worker acknowledged the shutdown.
    pub acknowledged: bool,
    /// The id of the worker thread that answered.
    pub worker: ThreadId,
}

/// Starts a worker thread named [`WORKER_NAME`] that answers every `Ping(n)` with a `Pong` of
/// count `n`, and `Shutdown` with `ShutdownAck`, after which it ends.
///
/// Returns the sender of the worker's inbox, the receiver of its replies and its handle.
///
/// # Errors
/// If the thread cannot be spawned.
pub fn spawn_pong_worker() -> io::Result<PongWorker> {
    // Unbounded, like `postMessage`: a send never waits for the other side.
    let (to_worker, inbox) = crossbeam_channel::unbounded::<ToWorker>();
    let (replies_tx, replies) = crossbeam_channel::unbounded::<FromWorker>();

    let worker = thread::Builder::new()
        .name(WORKER_NAME.to_owned())
        .spawn(move || {
            let me = thread::current().id();
            // `parentPort.on('message')` as a loop. It also ends if the main thread drops its
            // sender without a `Shutdown`: then nobody is left to acknowledge.
            for msg in &inbox {
                match msg {
                    ToWorker::Ping(count) => {
                        let pong = FromWorker::Pong { count, worker: me };
                        if replies_tx.send(pong).is_err() {
                            return; // nobody is listening any more
                        }
                    }
                    ToWorker::Shutdown => {
                        let _ = replies_tx.send(FromWorker::ShutdownAck);
                        // Returning ends the thread, and dropping `replies_tx` tells the
                        // main thread that nothing more will come. No `process.exit()`,
                        // no `terminate()`.
                        return;
                    }
                }
            }
        })?;

    Ok((to_worker, replies, worker))
}

/// Starts a fresh worker with `spawn_worker` (usually [`spawn_pong_worker`]), plays `rounds`
/// rounds of ping-pong with it, one ping at a time, then shuts the worker down and returns
/// what happened, after the worker has ended.
///
/// # Errors
/// If the worker cannot be spawned, a reply does not come within [`REPLY_TIMEOUT`], a reply
/// is not the one expected, or the worker panics.
pub fn run_exchange(
    rounds: u32,
    spawn_worker: impl FnOnce() -> io::Result<PongWorker>,
) -> anyhow::Result<Transcript> {
    let (pings, replies, worker) = spawn_worker().context("could not spawn the pong worker")?;
    let worker_id = worker.thread().id();
    let mut pongs: Vec<u32> = Vec::new();
    let mut round_trips: u32 = 0;

    for count in 1..=rounds {
        // One ping in flight at a time: the next one goes only after this pong is back.
        pings
            .send(ToWorker::Ping(count))
            .map_err(|_| anyhow!("the pong worker ended before ping {count}"))?;
        match replies.recv_timeout(REPLY_TIMEOUT) {
            Ok(FromWorker::Pong { count: got, .. }) if got == count => {
                pongs.push(got);
                round_trips += 1;
            }
            Ok(other) => bail!("expected pong {count} from the worker, got {other:?}"),
            Err(e) => bail!("no pong {count} from the worker: {e}"),
        }
    }

    pings
        .send(ToWorker::Shutdown)
        .map_err(|_| anyhow!("the pong worker ended before the shutdown"))?;
    let acknowledged: bool = match replies.recv_timeout(REPLY_TIMEOUT) {
        Ok(FromWorker::ShutdownAck) => true,
        Ok(other) => bail!("expected the shutdown acknowledgement, got {other:?}"),
        Err(e) => bail!("no shutdown acknowledgement from the worker: {e}"),
    };

    // The worker has acknowledged, so its loop has returned: `join` only collects the result.
    worker
        .join()
        .map_err(|_| anyhow!("the pong worker panicked"))?;
    Ok(Transcript {
        pongs,
        round_trips,
        acknowledged,
        worker: worker_id,
    })
}
