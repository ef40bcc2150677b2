//! Tests of exercise l1-ex03 (ping-pong).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex03` runs
//! them against your file, `level-1-basics/src/exercises/ex03_ping_pong.rs`.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `spawn_pong_worker` starts a thread named `WORKER_NAME` | `the_worker_thread_is_named_pong_worker` | the kernel lists the thread by name once it has answered a ping; tests that start pong workers take turns |
//! | each `Ping(n)` gets `Pong(n)` with the id of the worker thread, not the caller's | `each_ping_is_answered_by_the_pong_with_its_count_from_the_worker_thread` | one ping at a time, each reply awaited; the id is checked against the thread `spawn_pong_worker`'s handle names, and `Ping(42)` out of sequence shows a worker that counts instead of echoing |
//! | `Shutdown` gets one `ShutdownAck` and the worker ends by itself while the inbox's sender lives | `after_shutdown_the_worker_acknowledges_and_ends_by_itself` | `join_within` waits up to 10 s; a worker that keeps listening never ends |
//! | nothing after `ShutdownAck` | `nothing_arrives_after_the_acknowledgement` | the worker is joined first, so its sender is gone and anything it sent is already queued |
//! | `run_exchange(ROUNDS, spawn_pong_worker)` gets pongs 1 to 5, 5 round trips | `the_exchange_gets_five_pongs_counted_one_to_five_in_order`, `the_exchange_plays_as_many_rounds_as_asked` | results only; every wait has a deadline |
//! | the shutdown is acknowledged | `the_exchange_ends_with_an_acknowledged_shutdown` | result only |
//! | the transcript's worker is the thread that answered, not the caller | `the_exchange_is_answered_by_a_worker_thread_not_the_caller`, `the_exchange_sends_each_ping_only_after_the_previous_pong` | a stand-in worker reports the id of the thread it really runs on |
//! | one ping at a time | `the_exchange_sends_each_ping_only_after_the_previous_pong` | the stand-in waits 50 ms after each ping before it answers: a correct caller sends nothing in that time whatever the timing, and one that does not wait sends its next ping at once |
//! | `run_exchange` joins its worker | `the_exchange_has_joined_its_worker_when_it_returns` | the stand-in keeps its thread alive after its acknowledgement until the test has looked (at most 1 s), so a worker not joined is certainly still listed |
//! | a worker's panic is an error | `a_worker_that_panics_makes_the_exchange_an_error` | the stand-in panics after its acknowledgement, so only `join` can tell |
//! | a reply that is not the one expected is an error | `a_pong_with_the_wrong_count_makes_the_exchange_an_error` | the stand-in answers `Ping(n)` with pong `n + 1` |
//! | a pong signed by a thread other than the worker is an error | `a_pong_signed_by_another_thread_makes_the_exchange_an_error` | the stand-in signs its pongs with the id of a thread it started and joined, which no other thread has |

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

use shared::testing::{
    TIMEOUT, assert_quiet, join_within, live_threads_named, recv_or_fail, run_within,
};
use std::cell::RefCell;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;
use under_test::{
    FromWorker, PongWorker, ROUNDS, ToWorker, Transcript, WORKER_NAME, run_exchange,
    spawn_pong_worker,
};

/// `cargo test` runs this file's tests as threads of one process, and two tests look for live
/// threads named [`WORKER_NAME`]: every test that starts a pong worker holds this lock, and
/// has joined its workers when it lets go.
static WORKERS: Mutex<()> = Mutex::new(());

fn one_test_with_workers_at_a_time() -> MutexGuard<'static, ()> {
    WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a pong worker with a deadline, so a `spawn_pong_worker` that blocks (by running the
/// worker's loop on the caller's thread, say) fails the test instead of hanging.
fn start_worker() -> PongWorker {
    run_within(TIMEOUT, "spawn_pong_worker", spawn_pong_worker).expect("spawn_pong_worker failed")
}

/// Runs `run_exchange(rounds)` with a deadline; also returns the id of the calling thread.
fn exchange(rounds: u32) -> (ThreadId, Transcript) {
    let (caller, transcript) = run_within(TIMEOUT, "run_exchange", move || {
        (
            thread::current().id(),
            run_exchange(rounds, spawn_pong_worker),
        )
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
    let _serial = one_test_with_workers_at_a_time();
    assert_eq!(ROUNDS, 5);
    let (_, transcript) = exchange(ROUNDS);
    assert_eq!(transcript.pongs, [1, 2, 3, 4, 5]);
    assert_eq!(transcript.round_trips, 5);
}

#[test]
fn the_exchange_plays_as_many_rounds_as_asked() {
    let _serial = one_test_with_workers_at_a_time();
    let (_, transcript) = exchange(3);
    assert_eq!(transcript.pongs, [1, 2, 3]);
    assert_eq!(transcript.round_trips, 3);
}

#[test]
fn the_exchange_ends_with_an_acknowledged_shutdown() {
    let _serial = one_test_with_workers_at_a_time();
    let (_, transcript) = exchange(ROUNDS);
    assert!(transcript.acknowledged, "the shutdown was not acknowledged");
}

#[test]
fn the_exchange_is_answered_by_a_worker_thread_not_the_caller() {
    let _serial = one_test_with_workers_at_a_time();
    let (caller, transcript) = exchange(ROUNDS);
    assert_ne!(
        transcript.worker, caller,
        "the pongs came from the caller's thread: a worker thread must answer them"
    );
}

#[test]
fn each_ping_is_answered_by_the_pong_with_its_count_from_the_worker_thread() {
    let _serial = one_test_with_workers_at_a_time();
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
    let _serial = one_test_with_workers_at_a_time();
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
    let _serial = one_test_with_workers_at_a_time();
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

#[test]
fn the_worker_thread_is_named_pong_worker() {
    let _serial = one_test_with_workers_at_a_time();
    let (pings, replies, worker) = start_worker();
    assert_eq!(worker.thread().name(), Some(WORKER_NAME));
    // Once it has answered, it is running and has taken its name: the kernel lists it.
    let answered_by = ping(&pings, &replies, 1);
    assert_eq!(answered_by, worker.thread().id());
    if let Some(names) = live_threads_named(WORKER_NAME) {
        assert_eq!(names, [WORKER_NAME], "one pong worker should be running");
    }
    pings.send(ToWorker::Shutdown).expect("inbox closed");
    assert_eq!(
        recv_or_fail(&replies, "the shutdown acknowledgement"),
        FromWorker::ShutdownAck
    );
    join_within(worker, TIMEOUT, "the pong worker").expect("the pong worker panicked");
}

/// How a stand-in worker of the test's own misbehaves, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quirk {
    /// Answers as a pong worker should.
    None,
    /// Answers `Ping(n)` with pong `n + 1`.
    WrongCount,
    /// Signs its pongs with the id of another thread, which it started and joined.
    WrongSender,
    /// After its acknowledgement, stays alive until the test lets it go (at most 1 s).
    Lingers,
    /// Panics after its acknowledgement.
    Panics,
}

/// What a stand-in worker saw.
struct StandIn {
    /// Its thread id, sent as it starts.
    started_on: Receiver<ThreadId>,
    /// What it found wrong in the way it was played with.
    complaints: Receiver<String>,
    /// Lets a lingering stand-in go (by being dropped).
    let_go: Sender<()>,
}

/// How long a stand-in waits, after each ping, for a ping that should not come yet. A correct
/// `run_exchange` sends nothing before the pong, so it passes whatever the timing; one that
/// sends the next ping without waiting sends it within this time (its next step is the send).
const EARLY_PING_WINDOW: Duration = Duration::from_millis(50);

thread_local! {
    /// Set on a lingering stand-in: dropped as its thread ends, after its acknowledgement.
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

/// Waits in its drop until the test lets it go, for at most a second.
struct Linger(Receiver<()>);

impl Drop for Linger {
    fn drop(&mut self) {
        let _ = self.0.recv_timeout(Duration::from_secs(1));
    }
}

/// A `spawn_worker` for `run_exchange` that starts the test's own pong worker on a thread
/// named `name`, and what the test can learn from it.
fn stand_in(name: &str, quirk: Quirk) -> (impl FnOnce() -> io::Result<PongWorker>, StandIn) {
    let (started_tx, started_on) = crossbeam_channel::bounded(1);
    let (complain, complaints) = crossbeam_channel::unbounded();
    let (let_go, held) = crossbeam_channel::bounded::<()>(0);
    let name = name.to_owned();
    let spawn = move || {
        let (to_worker, inbox) = crossbeam_channel::unbounded::<ToWorker>();
        let (replies_tx, replies) = crossbeam_channel::unbounded::<FromWorker>();
        let worker = thread::Builder::new().name(name).spawn(move || {
            let me = thread::current().id();
            let _ = started_tx.send(me);
            while let Ok(message) = inbox.recv_timeout(TIMEOUT) {
                match message {
                    ToWorker::Ping(count) => {
                        if let Ok(early) = inbox.recv_timeout(EARLY_PING_WINDOW) {
                            let _ = complain.send(format!(
                                "{early:?} came before the pong of Ping({count}) went back"
                            ));
                            return;
                        }
                        let count = if quirk == Quirk::WrongCount {
                            count + 1
                        } else {
                            count
                        };
                        let worker = if quirk == Quirk::WrongSender {
                            // Thread ids are never reused: this one is nobody's but the helper's.
                            thread::spawn(|| thread::current().id())
                                .join()
                                .expect("the helper thread only returns its id")
                        } else {
                            me
                        };
                        let _ = replies_tx.send(FromWorker::Pong { count, worker });
                    }
                    ToWorker::Shutdown => {
                        let _ = replies_tx.send(FromWorker::ShutdownAck);
                        match quirk {
                            Quirk::Lingers => {
                                LINGER.with(|linger| *linger.borrow_mut() = Some(Linger(held)));
                            }
                            Quirk::Panics => panic!("the stand-in worker panics on its way out"),
                            Quirk::None | Quirk::WrongCount | Quirk::WrongSender => {}
                        }
                        return;
                    }
                }
            }
        })?;
        Ok((to_worker, replies, worker))
    };
    let seen = StandIn {
        started_on,
        complaints,
        let_go,
    };
    (spawn, seen)
}

#[test]
fn the_exchange_sends_each_ping_only_after_the_previous_pong() {
    let (spawn, seen) = stand_in("stand-in-1", Quirk::None);
    let (caller, transcript) = run_within(TIMEOUT, "run_exchange", move || {
        (thread::current().id(), run_exchange(3, spawn))
    });
    let complaints: Vec<String> = seen.complaints.try_iter().collect();
    assert!(complaints.is_empty(), "{complaints:?}");
    let transcript = transcript.expect("run_exchange failed");
    assert_eq!(transcript.pongs, [1, 2, 3]);
    assert_eq!(transcript.round_trips, 3);
    assert!(transcript.acknowledged);
    let answered_on = recv_or_fail(&seen.started_on, "the stand-in's thread id");
    assert_eq!(
        transcript.worker, answered_on,
        "the transcript names a thread other than the worker that answered"
    );
    assert_ne!(transcript.worker, caller);
}

#[test]
fn the_exchange_has_joined_its_worker_when_it_returns() {
    let (spawn, seen) = stand_in("stand-in-2", Quirk::Lingers);
    let transcript = run_within(TIMEOUT, "run_exchange", move || run_exchange(1, spawn));
    // A joined worker has ended. One not joined is still dropping its `Linger`, which waits
    // for `let_go`: its name is certainly still listed.
    let left = live_threads_named("stand-in-2");
    drop(seen.let_go);
    transcript.expect("run_exchange failed");
    if let Some(left) = left {
        assert!(
            left.is_empty(),
            "the worker was still running after run_exchange returned: join it: {left:?}"
        );
    }
}

#[test]
fn a_worker_that_panics_makes_the_exchange_an_error() {
    let (spawn, _seen) = stand_in("stand-in-3", Quirk::Panics);
    let outcome = run_within(TIMEOUT, "run_exchange", move || run_exchange(2, spawn));
    assert!(
        outcome.is_err(),
        "the worker panicked, yet run_exchange succeeded: {outcome:?}"
    );
}

#[test]
fn a_pong_with_the_wrong_count_makes_the_exchange_an_error() {
    let (spawn, _seen) = stand_in("stand-in-4", Quirk::WrongCount);
    let outcome = run_within(TIMEOUT, "run_exchange", move || run_exchange(2, spawn));
    assert!(
        outcome.is_err(),
        "Ping(1) was answered with pong 2, yet run_exchange succeeded: {outcome:?}"
    );
}

#[test]
fn a_pong_signed_by_another_thread_makes_the_exchange_an_error() {
    let (spawn, _seen) = stand_in("stand-in-5", Quirk::WrongSender);
    let outcome = run_within(TIMEOUT, "run_exchange", move || run_exchange(2, spawn));
    assert!(
        outcome.is_err(),
        "Ping(1) was answered with a pong signed by a thread other than the worker, yet \
         run_exchange succeeded: check the pong's `worker` too: {outcome:?}"
    );
}
