//! Level 2 of *Worker Threads in Rust*: pools, moving data, channels and observability.
//!
//! - `examples/`: the lessons, one topic each (`cargo run --example l2-01-worker-pool`).
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
    #[doc = include_str!("../guides/01-worker-pools.md")]
    pub struct WorkerPools;

    #[doc = include_str!("../guides/02-moving-data.md")]
    pub struct MovingData;

    #[doc = include_str!("../guides/03-channels-and-ports.md")]
    pub struct ChannelsAndPorts;

    #[doc = include_str!("../guides/04-performance-and-profiling.md")]
    pub struct PerformanceAndProfiling;

    #[doc = include_str!("../guides/05-debugging.md")]
    pub struct Debugging;
}
