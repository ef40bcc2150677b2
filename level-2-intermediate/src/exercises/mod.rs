//! Your exercises. Each file is a stub: read its header, replace every `todo!`, then check
//! your attempt with the command the header gives (`cargo exercise check l2-exNN`).
//!
//! `cargo exercise progress` lists every exercise as done or not and names the next one.

// A stub is unfinished on purpose: code after a `todo!` is unreachable, and its inputs are
// not used yet. Delete this line once your exercises are done to see every warning again.
#![allow(
    unreachable_code,
    unused_variables,
    unused_imports,
    unused_mut,
    dead_code,
    clippy::diverging_sub_expression
)]

pub mod ex01_worker_pool;
pub mod ex02_transferables;
pub mod ex03_channel_pipeline;
pub mod ex04_pool_size_benchmark;
pub mod ex05_monitored_pool;
