//! Tests of exercise l1-ex03 (ping-pong).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex03` runs
//! them against your file, `level-1-basics/src/exercises/ex03_ping_pong.rs`.

use crossbeam_channel::{Receiver, Sender};
// The code under test: your file when `cargo exercise check l1-ex03` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex03_ping_pong.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex03_ping_pong as under_test;

use shared::testing::{TIMEOUT, assert_quiet, join_within, recv_or_fail, run_within};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;
use under_test::{FromWorker, ROUNDS, ToWorker, Transcript, run_exchange, spawn_pong_worker};

/// Starts a pong worker with a deadline, so a `spawn_pong_worker` that blocks (by running the
/// worker's loop on the caller's thread, say) fails the test instead of hanging.
fn start_worker() -> (Sender<ToWorker>, Receiver<FromWorker>, JoinHandle<()>) {
    run_within(TIMEOUT, "spawn_pong_worker", spawn_pong_worker).expect("spawn_pong_worker failed")
}

/// Runs `run_exchange(rounds)` with a deadline; also returns the id of the calling thread.
fn exchange(rounds: u32) -> (ThreadId, Transcript) {
    let (caller, transcript) = run_within(TIMEOUT, "run_exchange", move || {
        (thread::current().id(), run_exchange(rounds))
    });
    (caller, transcript.expect("run_exchange failed"))
}

/// Sends `Ping(count)` and returns the id of the thread that answered with `Pong(count)`.
#[track_caller]
fn ping(pings: &Sender<ToWorker>, replies: &Receiver<FromWorker>, count: u32) -> ThreadId {
    pings
        .send(ToWorker::Ping(count))
        .expect("the worker's inbox is closed");
    match recv_or_fail(replies, &format!("pong {count}")) {
        FromWorker::Pong { count: got, worker } => {
            assert_eq!(got, count, "Ping({count}) was answered with pong {got}");
            worker
        }
        other => panic!("Ping({count}) was answered with {other:?}"),
    }
}

#[test]
fn the_exchange_gets_five_pongs_counted_one_to_five_in_order() {
    assert_eq!(ROUNDS, 5);
    let (_, transcript) = exchange(ROUNDS);
    assert_eq!(transcript.pongs, [1, 2, 3, 4, 5]);
    assert_eq!(transcript.round_trips, 5);
}

#[test]
fn the_exchange_plays_as_many_rounds_as_asked() {
    let (_, transcript) = exchange(3);
    assert_eq!(transcript.pongs, [1, 2, 3]);
    assert_eq!(transcript.round_trips, 3);
}

#[test]
fn the_exchange_ends_with_an_acknowledged_shutdown() {
    let (_, transcript) = exchange(ROUNDS);
    assert!(transcript.acknowledged, "the shutdown was not acknowledged");
}

#[test]
fn the_exchange_is_answered_by_a_worker_thread_not_the_caller() {
    let (caller, transcript) = exchange(ROUNDS);
    assert_ne!(
        transcript.worker, caller,
        "the pongs came from the caller's thread: a worker thread must answer them"
    );
}

#[test]
fn each_ping_is_answered_by_the_pong_with_its_count_from_the_worker_thread() {
    let (pings, replies, worker) = start_worker();
    let worker_id = worker.thread().id();
    for count in 1..=ROUNDS {
        // One at a time: each pong comes back before the next ping goes out.
        let answered_by = ping(&pings, &replies, count);
        assert_eq!(
            answered_by, worker_id,
            "pong {count} is not from the worker"
        );
        assert_ne!(answered_by, thread::current().id());
    }
    // Counts are echoed, not counted by the worker.
    assert_eq!(ping(&pings, &replies, 42), worker_id);

    pings.send(ToWorker::Shutdown).expect("inbox closed");
    assert_eq!(
        recv_or_fail(&replies, "the shutdown acknowledgement"),
        FromWorker::ShutdownAck
    );
    join_within(worker, TIMEOUT, "the pong worker").expect("the pong worker panicked");
}

#[test]
fn after_shutdown_the_worker_acknowledges_and_ends_by_itself() {
    let (pings, replies, worker) = start_worker();
    ping(&pings, &replies, 1);
    pings.send(ToWorker::Shutdown).expect("inbox closed");
    assert_eq!(
        recv_or_fail(&replies, "the shutdown acknowledgement"),
        FromWorker::ShutdownAck
    );
    // `pings` is still alive: the worker must end because of `Shutdown`, not because its
    // inbox closed. Nobody terminates it.
    join_within(worker, TIMEOUT, "the pong worker after ShutdownAck")
        .expect("the pong worker panicked");
    drop(pings);
}

#[test]
fn nothing_arrives_after_the_acknowledgement() {
    let (pings, replies, worker) = start_worker();
    for count in 1..=ROUNDS {
        ping(&pings, &replies, count);
    }
    pings.send(ToWorker::Shutdown).expect("inbox closed");
    assert_eq!(
        recv_or_fail(&replies, "the shutdown acknowledgement"),
        FromWorker::ShutdownAck
    );
    join_within(worker, TIMEOUT, "the pong worker").expect("the pong worker panicked");
    // The worker has ended, so its sender is gone: the channel is empty and disconnected, and
    // this returns at once. A message still queued fails the test.
    assert_quiet(
        &replies,
        Duration::from_millis(100),
        "after the shutdown acknowledgement",
    );
    assert!(
        pings.send(ToWorker::Ping(6)).is_err(),
        "the worker's inbox is still open after it ended"
    );
}
