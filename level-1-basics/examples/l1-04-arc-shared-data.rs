//! # Lesson l1-04: read-only data shared through `Arc`
//!
//! Replaces Node's `workerData` (copied into every worker) and `SharedArrayBuffer` used for
//! data nobody changes: in Rust one value is shared read-only by any number of threads through
//! an `Arc`, a counted pointer. Cloning an `Arc` copies the pointer, never the data.
//!
//! Shows: one input shared read-only by 3 workers through an `Arc`, with `Arc::strong_count`
//! before (4 owners) and after (1) the workers end. `Arc` may cross into a thread because its
//! count is changed with atomic instructions; `Rc`, whose count is not, is not `Send`, and
//! the compiler refuses to move it into a thread (error E0277, shown in guide 1).
//!
//! Run: `cargo run --example l1-04-arc-shared-data`
//!
//! Expect: each reader reports its result, the `Arc` count goes 4 → 1, then
//! `result: 3 readers shared one input (sum ×1 = 15, ×2 = 30, ×3 = 45), owners 4 then 1`.

use anyhow::{Context, anyhow};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

fn main() -> anyhow::Result<()> {
    // One allocation, however big the data.
    let shared = Arc::new(SharedInput {
        numbers: vec![1, 2, 3, 4, 5],
    });

    // Each worker gets a clone of the *pointer*; the count says how many owners there are.
    let clones: Vec<Arc<SharedInput>> = (0..3).map(|_| Arc::clone(&shared)).collect();
    let owners_before = Arc::strong_count(&shared);
    println!("[main] Arc::strong_count = {owners_before} (main + one clone per reader)");

    let mut readers = Vec::new();
    for (multiplier, input) in (1..=3).zip(clones) {
        readers.push(spawn_reader(multiplier, input)?);
    }
    let sums = join_in_order(readers)?;
    let owners_after = Arc::strong_count(&shared);
    println!("[main] Arc::strong_count = {owners_after} after the readers ended");

    assert_eq!(sums, [15, 30, 45]);
    assert_eq!(owners_before, 4);
    assert_eq!(owners_after, 1, "every clone was dropped with its thread");
    assert_eq!(shared.numbers, [1, 2, 3, 4, 5]);
    println!(
        "result: 3 readers shared one input (sum ×1 = 15, ×2 = 30, ×3 = 45), owners \
         {owners_before} then {owners_after}"
    );
    Ok(())
}

/// Read-only data every worker needs: shared, never copied.
#[derive(Debug)]
struct SharedInput {
    numbers: Vec<i64>,
}

/// A reader: reading through the `Arc` needs no lock, because nobody can change the data.
fn spawn_reader(multiplier: i64, input: Arc<SharedInput>) -> anyhow::Result<JoinHandle<i64>> {
    thread::Builder::new()
        .name(format!("reader-{multiplier}"))
        .spawn(move || {
            let sum = input.numbers.iter().map(|n| n * multiplier).sum();
            println!("[reader-{multiplier}] sum of the numbers ×{multiplier} = {sum}");
            sum
            // `input` is dropped here: one owner fewer.
        })
        .context("could not spawn a reader")
}

/// Joins the readers in the order they were spawned.
fn join_in_order(handles: Vec<JoinHandle<i64>>) -> anyhow::Result<Vec<i64>> {
    handles
        .into_iter()
        .map(|handle| handle.join().map_err(|_| anyhow!("a reader panicked")))
        .collect()
}
