//! Level 3 of *Worker Threads in Rust*: shared memory, synchronisation and production.
//!
//! - `examples/`: the lessons, one topic each (`cargo run --example l3-01-lost-update`).
//! - `src/exercises/`: your files. Each starts as a stub that compiles and fails its tests.
//!   They are not part of this library: each is compiled into its own exercise's tests only,
//!   so an unfinished one breaks nothing else.
//! - [`solutions`]: the reference answers, with the same skeleton as the stubs.
//! - `tests/`: one test file per exercise. Each tests the solution in a plain `cargo test`,
//!   and your file under `cargo exercise check ID` (which turns on the `learner` feature).
//! - `hints/`: each exercise's hints, which `cargo exercise hint ID` shows one at a time.
//! - [`projects`]: the core of the five practice projects (`examples/l3-p*`), tested here.
//! - [`scaling`]: the pool-size policy of lesson l3-43, which scales on the arrival rate
//!   against the workers' processing rate, and a simulated pool on a manual clock to run it.
//! - `memory_cap` (Linux only): a child process with an address-space limit, its report, and
//!   its allocating side, for lesson l3-42 and `tests/memory_cap.rs`.
//! - [`spsc`]: the lock-free single-producer single-consumer ring of lesson l3-09, with its
//!   tests (run under Miri too).
//! - [`rollout`]: a task handler replaced while a pool serves (a rolling update, a canary
//!   promoted or rolled back by its error rate), for lesson l3-40 and its tests.
//! - `guides/`: Markdown chapters whose Rust code blocks `cargo test` compiles and runs (a
//!   `compile_fail` block is checked to be refused by the compiler instead).

#[cfg(target_os = "linux")]
pub mod memory_cap;
pub mod projects;
pub mod rollout;
pub mod scaling;
pub mod solutions;
pub mod spsc;

/// The guides, compiled into doctests so that every Rust block in them is built and run by
/// `cargo test`, except the `compile_fail` blocks, which must fail to build (and, on nightly,
/// with the error code they name: `.ci/run` checks that).
#[cfg(doctest)]
pub mod guides {
    #[doc = include_str!("../guides/01-shared-memory-and-atomics.md")]
    pub struct SharedMemoryAndAtomics;

    #[doc = include_str!("../guides/02-synchronisation-patterns.md")]
    pub struct SynchronisationPatterns;

    #[doc = include_str!("../guides/03-production-deployment.md")]
    pub struct ProductionDeployment;

    #[doc = include_str!("../guides/04-security-and-isolation.md")]
    pub struct SecurityAndIsolation;

    #[doc = include_str!("../guides/05-streams-and-iterators.md")]
    pub struct StreamsAndIterators;

    #[doc = include_str!("../guides/06-memory-and-performance-tuning.md")]
    pub struct MemoryAndPerformanceTuning;

    #[doc = include_str!("../guides/07-beyond-one-machine.md")]
    pub struct BeyondOneMachine;
}
