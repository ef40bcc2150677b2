//! Level 1 of *Worker Threads in Rust*: threads, messages, initial data, lifecycle and errors.
//!
//! - `examples/`: the lessons, one topic each (`cargo run --example l1-01-basic-worker`).
//! - [`exercises`]: your files. Each starts as a stub that compiles and fails its tests.
//! - [`solutions`]: the reference answers, with the same skeleton as the stubs.
//! - `tests/`: one test file per exercise. The tests call [`under_test`], which is the
//!   solutions in a plain `cargo test` and your exercises under `cargo exercise check ID`.
//! - `guides/`: Markdown chapters whose code blocks `cargo test` compiles and runs.

pub mod exercises;
pub mod solutions;

/// The code the exercise tests check: the reference [`solutions`] by default, your
/// [`exercises`] when the `learner` feature is on (which `cargo exercise check ID` does).
#[cfg(not(feature = "learner"))]
pub use solutions as under_test;

/// The code the exercise tests check: the reference [`solutions`] by default, your
/// [`exercises`] when the `learner` feature is on (which `cargo exercise check ID` does).
#[cfg(feature = "learner")]
pub use exercises as under_test;

/// The guides, compiled into doctests so that every Rust block in them is built and run by
/// `cargo test`.
#[cfg(doctest)]
pub mod guides {
    #[doc = include_str!("../guides/01-understanding-threads.md")]
    pub struct UnderstandingThreads;

    #[doc = include_str!("../guides/02-creating-threads.md")]
    pub struct CreatingThreads;

    #[doc = include_str!("../guides/03-message-passing.md")]
    pub struct MessagePassing;

    #[doc = include_str!("../guides/04-initial-data.md")]
    pub struct InitialData;

    #[doc = include_str!("../guides/05-lifecycle-and-termination.md")]
    pub struct LifecycleAndTermination;

    #[doc = include_str!("../guides/06-error-handling.md")]
    pub struct ErrorHandling;
}
