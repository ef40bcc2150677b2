//! # Exercise l1-ex01: hello worker
//!
//! **Goal.** Start a worker thread, hand it a name as its initial data, and have it send a
//! greeting back to the thread that started it. In Node this is
//! `new Worker(file, { workerData: { name } })`, `parentPort.postMessage(greeting)` and
//! `worker.on('message', ...)`; in Rust the initial data is *moved* into the thread's closure
//! and the reply travels over a channel.
//!
//! **Check your attempt:** `cargo exercise check l1-ex01`
//!
//! **What the tests expect**
//! - `greeting_for(Some("Alice"))` is `"Hello, Alice! Nice to meet you."`.
//! - A missing name, or one that is empty or only spaces, greets `"Guest"`; other names are
//!   used trimmed.
//! - `greet_in_worker(name, greeting_for)` calls the function it is given (`greeting_for`
//!   here) on a thread named [`WORKER_NAME`], never on the caller's thread, and reports which
//!   thread that was in [`Greeting`]. The tests pass a function that notes the thread that
//!   calls it, so a greeting made on the caller and only carried back by a worker fails.
//! - The worker ends by itself: once its greeting has arrived, `greet_in_worker` joins it
//!   before returning. Without a greeting (a panic, or nothing within [`REPLY_TIMEOUT`]) it
//!   returns the error at once, without joining: a thread cannot be stopped, and joining a
//!   stuck one would wait for ever.
//! - If the function panics, or sends nothing within [`REPLY_TIMEOUT`], `greet_in_worker`
//!   returns an error: it neither panics itself nor makes up a greeting.
//!
//! **Hints:** `cargo exercise hint l1-ex01` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::{Context, anyhow};
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::Duration;

/// The name the worker thread must have.
pub const WORKER_NAME: &str = "hello-worker";

/// The name used when none is given.
pub const DEFAULT_NAME: &str = "Guest";

/// How long `greet_in_worker` waits for the worker's reply before it gives up with an error.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the worker sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The greeting itself, e.g. `"Hello, Alice! Nice to meet you."`.
    pub text: String,
    /// The id of the thread that wrote the greeting.
    pub thread: ThreadId,
    /// The name of the thread that wrote the greeting.
    pub thread_name: Option<String>,
}

/// The greeting for `name`, or for [`DEFAULT_NAME`] when the name is missing or blank.
pub fn greeting_for(name: Option<&str>) -> String {
    // TODO: trim the name; treat `None`, "" and "   " alike as missing.
    todo!("l1-ex01: build the greeting for a name, with \"Guest\" when it is missing or blank")
}

/// Starts a worker thread named [`WORKER_NAME`], gives it `name` as its initial data, has it
/// call `make_greeting` (usually [`greeting_for`]) on that name, and returns the [`Greeting`]
/// it sends back, after the worker has ended.
///
/// # Errors
/// If the thread cannot be spawned, sends no reply within [`REPLY_TIMEOUT`], or panics (a
/// panic of `make_greeting` included).
pub fn greet_in_worker(
    name: Option<String>,
    make_greeting: impl FnOnce(Option<&str>) -> String + Send + 'static,
) -> anyhow::Result<Greeting> {
    let (tx, rx) = mpsc::channel::<Greeting>();

    // TODO: spawn a thread named WORKER_NAME that moves `name`, `make_greeting` and `tx` in,
    // builds a Greeting there (its text from `make_greeting(name.as_deref())`, its thread id
    // and name from `thread::current()`), and sends it back.
    let worker: thread::JoinHandle<()> =
        todo!("l1-ex01: spawn a worker thread named \"hello-worker\" that sends a Greeting back");

    // TODO: receive the greeting, waiting at most REPLY_TIMEOUT.
    let greeting: Greeting = todo!("l1-ex01: receive the worker's greeting with a timeout");

    // TODO: join the worker; turn a panic into an error.
    todo!("l1-ex01: join the worker, then return the greeting")
}
