//! Reference solutions. Each has the same skeleton as its stub in `src/exercises/`, so
//! `diff src/exercises/exNN_*.rs src/solutions/exNN_*.rs` is the lesson.
//!
//! Try the exercise first: the tests tell you more than the answer does.

pub mod ex01_hello_worker;
pub mod ex02_number_processor;
pub mod ex03_ping_pong;
pub mod ex04_error_recovery;
pub mod ex05_parallel_fibonacci;
pub mod ex06_prime_finder;
