//! Reference solutions. Each has the same skeleton as its stub in `src/exercises/`, so
//! `diff src/exercises/exNN_*.rs src/solutions/exNN_*.rs` is the lesson.
//!
//! Try the exercise first: the tests tell you more than the answer does.

pub mod ex01_worker_pool;
pub mod ex02_transferables;
pub mod ex03_channel_pipeline;
pub mod ex04_pool_size_benchmark;
pub mod ex05_monitored_pool;
pub mod ex06_pool_crashes;
pub mod ex07_pool_timeouts;
