//! Level 1 of *Worker Threads in Rust*: threads, messages, initial data, lifecycle, errors and
//! just enough shared state.
//!
//! - `examples/`: the lessons, one idea each, `main` first (`cargo run --example
//!   l1-01-basic-worker`).
//! - `src/exercises/`: your files. Each starts as a stub that compiles and fails its tests.
//!   They are not part of this library: each is compiled into its own exercise's tests only,
//!   so an unfinished one breaks nothing else.
//! - [`solutions`]: the reference answers, with the same skeleton as the stubs.
//! - `tests/`: one test file per exercise. Each tests the solution in a plain `cargo test`,
//!   and your file under `cargo exercise check ID` (which turns on the `learner` feature).
//! - `hints/`: each exercise's hints, which `cargo exercise hint ID` shows one at a time.
//! - `guides/`: Markdown chapters whose Rust code blocks `cargo test` compiles and runs (a
//!   `compile_fail` block is checked to be refused by the compiler instead).

pub mod solutions;

/// The guides, compiled into doctests so that every Rust block in them is built and run by
/// `cargo test`, except the `compile_fail` blocks, which must fail to build (and, on nightly,
/// with the error code they name: `.ci/run` checks that).
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

    #[doc = include_str!("../guides/07-just-enough-shared-state.md")]
    pub struct JustEnoughSharedState;
}
