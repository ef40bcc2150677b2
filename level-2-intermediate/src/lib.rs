//! Level 2 of *Worker Threads in Rust*: pools, moving data, channels and observability.
//!
//! - `examples/`: the lessons, one idea each, in course order
//!   (`cargo run --release --example l2-01-worker-pool`).
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
