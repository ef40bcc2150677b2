//! Reference solutions. Each has the same skeleton as its stub in `src/exercises/`, so
//! `diff src/exercises/exNN_*.rs src/solutions/exNN_*.rs` is the lesson.
//!
//! Try the exercise first: the tests tell you more than the answer does.

pub mod ex01_atomic_counter;
pub mod ex02_ring_buffer;
pub mod ex03_atomic_mutex;
pub mod ex04_autoscaling_policy;
pub mod ex05_circuit_breaker;
pub mod ex06_pool_metrics;
pub mod ex07_production_pool;
