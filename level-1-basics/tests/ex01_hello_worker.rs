//! Tests of exercise l1-ex01 (hello worker).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l1-ex01` runs
//! them against your file, `level-1-basics/src/exercises/ex01_hello_worker.rs`.

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

use shared::testing::{TIMEOUT, run_within};
use std::thread;
use under_test::{DEFAULT_NAME, WORKER_NAME, greet_in_worker, greeting_for};

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
fn the_worker_sends_back_the_greeting_for_its_initial_data() {
    let greeting = run_within(TIMEOUT, "greet_in_worker", || {
        greet_in_worker(Some("Alice".to_owned()))
    })
    .expect("greet_in_worker failed");
    assert_eq!(greeting.text, "Hello, Alice! Nice to meet you.");

    let guest = run_within(TIMEOUT, "greet_in_worker", || greet_in_worker(None))
        .expect("greet_in_worker failed");
    assert_eq!(guest.text, "Hello, Guest! Nice to meet you.");
}

#[test]
fn the_greeting_is_written_on_the_named_worker_thread_not_the_callers() {
    let (caller, greeting) = run_within(TIMEOUT, "greet_in_worker", || {
        (
            thread::current().id(),
            greet_in_worker(Some("Ada".to_owned())),
        )
    });
    let greeting = greeting.expect("greet_in_worker failed");
    assert_ne!(
        greeting.thread, caller,
        "the greeting was built on the caller's thread: spawn a worker to build it"
    );
    assert_eq!(greeting.thread_name.as_deref(), Some(WORKER_NAME));
}

#[test]
fn each_call_uses_a_fresh_worker() {
    let first = run_within(TIMEOUT, "greet_in_worker", || greet_in_worker(None)).unwrap();
    let second = run_within(TIMEOUT, "greet_in_worker", || greet_in_worker(None)).unwrap();
    assert_ne!(first.thread, second.thread);
}
