//! # Lesson l1-03: initial data for a worker
//!
//! Replaces Node's `new Worker(file, { workerData })`. Node deep-copies `workerData` into every
//! worker, always. Rust lets you say what you mean: **move** a value into the thread's closure
//! (no copy, the caller gives it up), **`.clone()`** it when each worker needs a copy of its
//! own (the copy is visible in the code), or share one read-only value through **`Arc`**
//! (no copy at all, just a counted pointer).
//!
//! Shows: a `Config` (id, task, multiplier) moved into each of 3 workers, with a per-worker
//! clone of the input numbers that the worker changes in place; then the same input shared
//! read-only by 3 workers through an `Arc`, with `Arc::strong_count` before and after; the
//! `JoinHandle`s collected and joined in order.
//!
//! Run: `cargo run --example l1-03-worker-data`
//!
//! Expect: each worker reports its config and result, the `Arc` count goes 4 → 1, then
//! `result: ×1 = [1, 2, 3, 4, 5], sum of ×2 = 30, squares of ×3 = [9, 36, 81, 144, 225]`.

use anyhow::{Context, anyhow};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// What a worker does with its scaled numbers (Node's example names its tasks with strings;
/// an enum cannot be misspelt).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Task {
    /// Return the scaled numbers.
    Multiply,
    /// Return the sum of the scaled numbers.
    Sum,
    /// Return the squares of the scaled numbers.
    Square,
}

/// One worker's start-up data: Node's `workerData`.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    id: u32,
    task: Task,
    multiplier: i64,
}

/// What a worker hands back through `join`.
#[derive(Debug, PartialEq)]
enum Output {
    Numbers(Vec<i64>),
    Total(i64),
}

/// Read-only data every worker needs: shared, never copied.
#[derive(Debug)]
struct SharedInput {
    numbers: Vec<i64>,
}

/// The work itself, the same for both ways of giving a worker its data.
fn run(config: &Config, scaled: Vec<i64>) -> Output {
    match config.task {
        Task::Multiply => Output::Numbers(scaled),
        Task::Sum => Output::Total(scaled.iter().sum()),
        Task::Square => Output::Numbers(scaled.iter().map(|n| n * n).collect()),
    }
}

/// Joins the workers in the order they were spawned, so results line up with configs no
/// matter which thread finished first.
fn join_all(handles: Vec<JoinHandle<Output>>) -> anyhow::Result<Vec<Output>> {
    handles
        .into_iter()
        .map(|handle| handle.join().map_err(|_| anyhow!("a worker panicked")))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let numbers: Vec<i64> = vec![1, 2, 3, 4, 5];
    let configs = [
        Config {
            id: 1,
            task: Task::Multiply,
            multiplier: 1,
        },
        Config {
            id: 2,
            task: Task::Sum,
            multiplier: 2,
        },
        Config {
            id: 3,
            task: Task::Square,
            multiplier: 3,
        },
    ];

    // 1. By move, with a copy per worker. Each worker changes its numbers in place, so each
    //    needs its own: `numbers.clone()` makes one, and `move` hands it over. This is what
    //    Node does silently for every `workerData`; here the copy is a line you can see.
    println!("[main] part 1: each worker gets its Config and its own copy of the numbers");
    let mut handles = Vec::new();
    for config in configs.clone() {
        let mut own_numbers = numbers.clone();
        let handle = thread::Builder::new()
            .name(format!("worker-{}", config.id))
            .spawn(move || {
                // `config` and `own_numbers` now belong to this thread alone.
                for n in &mut own_numbers {
                    *n *= config.multiplier;
                }
                let output = run(&config, own_numbers);
                println!("[worker-{}] {config:?} -> {output:?}", config.id);
                output
            })
            .context("could not spawn a worker")?;
        // `config` has moved: using it here would not compile ("value used after move").
        handles.push(handle);
    }
    let by_move = join_all(handles)?;
    // The workers changed their copies; the original is untouched, as in Node.
    assert_eq!(numbers, [1, 2, 3, 4, 5]);

    // 2. Shared read-only through `Arc`: one allocation, no copy, however big the data. Each
    //    worker gets a clone of the *pointer*; the count says how many owners there are.
    println!("[main] part 2: the numbers are shared read-only through an Arc");
    let shared = Arc::new(SharedInput { numbers });
    let per_worker: Vec<Arc<SharedInput>> = configs.iter().map(|_| Arc::clone(&shared)).collect();
    let owners_while_running = Arc::strong_count(&shared);
    println!("[main] Arc::strong_count = {owners_while_running} (main + one clone per worker)");
    let mut handles = Vec::new();
    for (config, input) in configs.into_iter().zip(per_worker) {
        let handle = thread::Builder::new()
            .name(format!("reader-{}", config.id))
            .spawn(move || {
                // Reading through the `Arc` needs no lock: nobody can change the data. The
                // scaled numbers are new values built from it, not a copy of it.
                let scaled = input
                    .numbers
                    .iter()
                    .map(|n| n * config.multiplier)
                    .collect();
                let output = run(&config, scaled);
                println!("[reader-{}] {:?} -> {output:?}", config.id, config.task);
                output
                // `input` is dropped here: one owner fewer.
            })
            .context("could not spawn a reader")?;
        handles.push(handle);
    }
    let by_arc = join_all(handles)?;
    let owners_after = Arc::strong_count(&shared);
    println!("[main] Arc::strong_count = {owners_after} after the workers ended");

    let expected = [
        Output::Numbers(vec![1, 2, 3, 4, 5]),
        Output::Total(30),
        Output::Numbers(vec![9, 36, 81, 144, 225]),
    ];
    assert_eq!(by_move, expected);
    assert_eq!(by_arc, expected);
    assert_eq!(owners_while_running, 4);
    assert_eq!(owners_after, 1);
    assert_eq!(shared.numbers, [1, 2, 3, 4, 5]);
    println!("result: ×1 = [1, 2, 3, 4, 5], sum of ×2 = 30, squares of ×3 = [9, 36, 81, 144, 225]");
    Ok(())
}
