//! Helpers shared by the pool's integration tests: a quiet panic hook for panics the tests
//! cause on purpose, a release gate with a deadline, bounded polling, and joins with timeouts.
#![allow(dead_code)]

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shared::pool::{TaskError, TaskHandle, WorkerPool};
use shared::testing::{TIMEOUT, run_within};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

/// Every panic a test causes on purpose carries this text, so the hook can keep it quiet.
pub const EXPECTED: &str = "expected panic";

/// Installs (once per test binary) a panic hook that stays silent for panics whose message
/// contains [`EXPECTED`] and hands every other panic to the previous hook, so a real failure
/// still prints.
pub fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message.is_some_and(|m| m.contains(EXPECTED)) {
                return;
            }
            previous(info);
        }));
    });
}

/// A gate tasks wait at until the test drops the [`Sender`] (the release).
pub fn gate() -> (Sender<()>, Receiver<()>) {
    crossbeam_channel::bounded(0)
}

/// Waits until the gate's sender is dropped. Panics after [`TIMEOUT`] instead of hanging,
/// so a test that forgets to release fails.
#[track_caller]
pub fn wait_at(gate: &Receiver<()>) {
    match gate.recv_timeout(TIMEOUT) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
        Err(RecvTimeoutError::Timeout) => panic!("the gate was never released"),
    }
}

/// Polls `condition` until it holds, failing the test after [`TIMEOUT`]. For observing a
/// state the pool reaches by itself (a thread count, a task in the running state), never
/// for ordering two steps of a test.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {TIMEOUT:?} waiting until {what}"
        );
        thread::sleep(Duration::from_millis(1)); // a polling interval, not a synchronisation
    }
}

/// Busy-waits (no sleep) until `until`: to keep a worker occupied for a known time.
pub fn spin_until(until: Instant) {
    while Instant::now() < until {
        std::hint::spin_loop();
        thread::yield_now();
    }
}

/// The handle's outcome, failing the test if it has not settled within [`TIMEOUT`].
#[track_caller]
pub fn settle<T>(handle: TaskHandle<T>, what: &str) -> Result<T, TaskError> {
    match handle.join_timeout(TIMEOUT) {
        Ok(outcome) => outcome,
        Err(_) => panic!("{what} did not settle within {TIMEOUT:?}"),
    }
}

/// Joins the pool (close, then wait for every thread) within [`TIMEOUT`] and gives it back,
/// so that the test can read its final metrics and its drop returns at once.
#[track_caller]
pub fn joined(pool: WorkerPool) -> WorkerPool {
    run_within(TIMEOUT, "pool.join()", move || {
        pool.join().expect("joined from outside the pool");
        pool
    })
}

/// Occupies one worker of `pool` until the returned sender is dropped (or sent to), and
/// returns only once that worker has started the holding task.
pub fn hold_worker(pool: &WorkerPool) -> Sender<()> {
    let (release, gate) = gate();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    pool.execute(move || {
        started_tx.send(()).unwrap();
        wait_at(&gate);
    })
    .unwrap();
    shared::testing::recv_or_fail(&started, "the holding task to start");
    release
}
