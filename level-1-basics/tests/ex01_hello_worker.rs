//! Tests of exercise l1-ex01 (hello worker).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex01` runs
//! them against your file, `level-1-basics/src/exercises/ex01_hello_worker.rs`.
//!
//! Deadline: 20 s per test under `cargo exercise check` (instead of the runner's 5 s): one
//! test waits out [`REPLY_TIMEOUT`] (5 s) to see that the wait ends with an error.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | `greeting_for` greets the name given, trimmed | `greeting_uses_the_name_given` | no threads |
//! | a missing or blank name greets "Guest"; "0" is a name | `greeting_falls_back_to_guest_when_the_name_is_missing_or_blank` | no threads |
//! | the worker gets `name` as its initial data and the greeting is what `make_greeting` made of it | `the_worker_sends_back_the_greeting_made_from_its_initial_data` | the texts come back over a channel; only the 10 s deadline is timed |
//! | the greeting is made on a thread named `WORKER_NAME`, never the caller's, and `Greeting` names that thread | `the_greeting_is_made_on_the_named_worker_thread_not_the_callers` | the test's `make_greeting` notes the thread that really calls it, instead of trusting what the code reports about itself |
//! | each call starts its own worker | `each_call_uses_a_fresh_worker` | thread ids are never reused in a process |
//! | once a greeting has come, the worker has ended when `greet_in_worker` returns | `the_worker_has_ended_when_greet_in_worker_returns` | the worker keeps its thread alive after its reply (a thread-local value whose drop waits for the test's word, for at most 1 s), so a worker not joined is certainly still there when the test looks; a joined one has ended whatever the timing |
//! | a panic of `make_greeting` is an error, neither a panic of the caller nor a made-up greeting | `a_panic_while_greeting_is_an_error_not_a_panic_or_a_greeting` | the panic happens before any reply, whatever the timing |
//! | no reply within `REPLY_TIMEOUT` is an error, not a hang | `no_reply_within_the_timeout_is_an_error_not_a_hang` | the test's `make_greeting` blocks until the test lets it go, after the call has returned |

// The code under test: your file when `cargo exercise check l1-ex01` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex01_hello_worker.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_1_basics::solutions::ex01_hello_worker as under_test;

use crossbeam_channel::{Receiver, Sender};
use shared::testing::{TIMEOUT, live_threads_named, run_within};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use under_test::{DEFAULT_NAME, REPLY_TIMEOUT, WORKER_NAME, greet_in_worker, greeting_for};

/// `cargo test` runs this file's tests as threads of one process, and one test looks for
/// live threads named [`WORKER_NAME`]: every test that starts such a worker holds this lock,
/// and leaves no worker behind when it lets go.
static WORKERS: Mutex<()> = Mutex::new(());

fn one_test_with_workers_at_a_time() -> MutexGuard<'static, ()> {
    WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits (at most [`TIMEOUT`]) until no thread named [`WORKER_NAME`] is left, so that the next
/// test starts clean after a test whose worker was not joined on purpose.
fn wait_for_the_workers_to_end() {
    let deadline = Instant::now() + TIMEOUT;
    while live_threads_named(WORKER_NAME).is_some_and(|names| !names.is_empty()) {
        assert!(Instant::now() < deadline, "a hello worker never ended");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Which thread called a `make_greeting`, and what it was called.
type Call = (ThreadId, Option<String>);

/// A `make_greeting` that notes the thread that really calls it, then greets as usual.
fn noting_greeting_for(
    calls: &Arc<Mutex<Vec<Call>>>,
) -> impl FnOnce(Option<&str>) -> String + Send + 'static {
    let calls = Arc::clone(calls);
    move |name| {
        let me = thread::current();
        calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((me.id(), me.name().map(str::to_owned)));
        greeting_for(name)
    }
}

#[test]
fn greeting_uses_the_name_given() {
    assert_eq!(
        greeting_for(Some("Alice")),
        "Hello, Alice! Nice to meet you."
    );
    assert_eq!(
        greeting_for(Some("  Bob ")),
        "Hello, Bob! Nice to meet you."
    );
}

#[test]
fn greeting_falls_back_to_guest_when_the_name_is_missing_or_blank() {
    let expected = format!("Hello, {DEFAULT_NAME}! Nice to meet you.");
    assert_eq!(DEFAULT_NAME, "Guest");
    for missing in [None, Some(""), Some("   ")] {
        assert_eq!(greeting_for(missing), expected, "name {missing:?}");
    }
    // Only a missing name is missing: "0" is a name, unlike with JavaScript's `||`.
    assert_eq!(greeting_for(Some("0")), "Hello, 0! Nice to meet you.");
}

#[test]
fn the_worker_sends_back_the_greeting_made_from_its_initial_data() {
    let _serial = one_test_with_workers_at_a_time();
    let greeting = run_within(TIMEOUT, "greet_in_worker", || {
        greet_in_worker(Some("Alice".to_owned()), greeting_for)
    })
    .expect("greet_in_worker failed");
    assert_eq!(greeting.text, "Hello, Alice! Nice to meet you.");

    let guest = run_within(TIMEOUT, "greet_in_worker", || {
        greet_in_worker(None, greeting_for)
    })
    .expect("greet_in_worker failed");
    assert_eq!(guest.text, "Hello, Guest! Nice to meet you.");

    // The text is what the function given makes of the name given, nothing else.
    let made = run_within(TIMEOUT, "greet_in_worker", || {
        greet_in_worker(Some("Ada".to_owned()), |name| format!("made from {name:?}"))
    })
    .expect("greet_in_worker failed");
    assert_eq!(made.text, r#"made from Some("Ada")"#);
}

#[test]
fn the_greeting_is_made_on_the_named_worker_thread_not_the_callers() {
    let _serial = one_test_with_workers_at_a_time();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let make_greeting = noting_greeting_for(&calls);
    let (caller, greeting) = run_within(TIMEOUT, "greet_in_worker", move || {
        (
            thread::current().id(),
            greet_in_worker(Some("Ada".to_owned()), make_greeting),
        )
    });
    let greeting = greeting.expect("greet_in_worker failed");
    assert_eq!(greeting.text, "Hello, Ada! Nice to meet you.");

    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let [(made_on, made_on_name)] = calls.as_slice() else {
        panic!(
            "make_greeting should be called once, was called {} times",
            calls.len()
        );
    };
    assert_ne!(
        *made_on, caller,
        "the greeting was made on the caller's thread: the worker must call make_greeting"
    );
    assert_eq!(
        made_on_name.as_deref(),
        Some(WORKER_NAME),
        "the greeting was not made on a thread named {WORKER_NAME:?}"
    );
    assert_eq!(
        greeting.thread, *made_on,
        "the Greeting names a thread other than the one that made it"
    );
    assert_eq!(greeting.thread_name.as_deref(), Some(WORKER_NAME));
}

#[test]
fn each_call_uses_a_fresh_worker() {
    let _serial = one_test_with_workers_at_a_time();
    let calls = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let make_greeting = noting_greeting_for(&calls);
        run_within(TIMEOUT, "greet_in_worker", || {
            greet_in_worker(None, make_greeting)
        })
        .expect("greet_in_worker failed");
    }
    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(
        calls.len(),
        2,
        "make_greeting should be called once per call"
    );
    assert_ne!(
        calls[0].0, calls[1].0,
        "both greetings were made on one thread"
    );
}

thread_local! {
    /// Set on the worker by the test's `make_greeting`: dropped when the worker's thread ends,
    /// after its reply, it keeps that thread alive until the test has looked.
    static LINGER: RefCell<Option<Linger>> = const { RefCell::new(None) };
}

/// Waits in its drop until the test lets it go (drops the sender), for at most a second.
struct Linger(Receiver<()>);

impl Drop for Linger {
    fn drop(&mut self) {
        let _ = self.0.recv_timeout(Duration::from_secs(1));
    }
}

#[test]
fn the_worker_has_ended_when_greet_in_worker_returns() {
    let _serial = one_test_with_workers_at_a_time();
    let (let_go, held): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(0);
    let greeting = run_within(TIMEOUT, "greet_in_worker", move || {
        greet_in_worker(Some("Ada".to_owned()), move |name| {
            LINGER.with(|linger| *linger.borrow_mut() = Some(Linger(held)));
            greeting_for(name)
        })
    })
    .expect("greet_in_worker failed");
    assert_eq!(greeting.text, "Hello, Ada! Nice to meet you.");
    // A joined worker has ended. One not joined is still dropping its `Linger`, which waits
    // for `let_go`: its name is certainly still listed.
    let left = live_threads_named(WORKER_NAME);
    drop(let_go);
    if let Some(left) = left {
        assert!(
            left.is_empty(),
            "the worker was still running after greet_in_worker returned: join it: {left:?}"
        );
    }
    wait_for_the_workers_to_end();
}

#[test]
fn a_panic_while_greeting_is_an_error_not_a_panic_or_a_greeting() {
    let _serial = one_test_with_workers_at_a_time();
    let outcome = run_within(TIMEOUT, "greet_in_worker", || {
        greet_in_worker(Some("Ada".to_owned()), |_| -> String {
            panic!("no greeting today")
        })
    });
    wait_for_the_workers_to_end();
    match outcome {
        Ok(greeting) => panic!("a panicking worker gave a greeting: {greeting:?}"),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

#[test]
fn no_reply_within_the_timeout_is_an_error_not_a_hang() {
    let _serial = one_test_with_workers_at_a_time();
    let (let_go, held): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(0);
    // Gives up long after the test's own deadline, so a caller that waits for ever fails here.
    let patience = (REPLY_TIMEOUT + TIMEOUT) * 2;
    let outcome = run_within(REPLY_TIMEOUT + TIMEOUT, "greet_in_worker", move || {
        greet_in_worker(Some("Ada".to_owned()), move |name| {
            let _ = held.recv_timeout(patience);
            greeting_for(name)
        })
    });
    drop(let_go);
    wait_for_the_workers_to_end();
    assert!(
        outcome.is_err(),
        "a worker that never replied gave a greeting: {outcome:?}"
    );
}
