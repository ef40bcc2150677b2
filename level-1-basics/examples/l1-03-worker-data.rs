//! # Lesson l1-03: initial data for a worker, moved in
//!
//! Replaces Node's `new Worker(file, { workerData })`. Node deep-copies `workerData` into every
//! worker, always. Rust lets you say what you mean: **move** a value into the thread's closure
//! (no copy, the caller gives it up), or **`.clone()`** it first when each worker needs a copy
//! of its own (the copy is a line you can see). Lesson l1-04 shows the third way, sharing one
//! read-only value through `Arc`.
//!
//! Shows: a `Config` (id, task, multiplier) moved into each of 3 workers, each with its own
//! clone of the input numbers that it changes in place; the `JoinHandle`s joined in order.
//!
//! Run: `cargo run --example l1-03-worker-data`
//!
//! Expect: each worker reports its config and result, then
//! `result: ×1 = [1, 2, 3, 4, 5], sum of ×2 = 30, squares of ×3 = [9, 36, 81, 144, 225]`.

use anyhow::{Context, anyhow};
use std::thread::{self, JoinHandle};

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

    let mut handles = Vec::new();
    for config in configs {
        // Each worker changes its numbers in place, so each needs its own: `clone` makes one,
        // and `move` hands it over. Node does this silently for every `workerData`.
        let own_numbers = numbers.clone();
        handles.push(spawn_with_data(config, own_numbers)?);
        // `config` has moved: using it here would not compile ("value used after move").
    }
    let outputs = join_in_order(handles)?;

    assert_eq!(
        outputs,
        [
            Output::Numbers(vec![1, 2, 3, 4, 5]),
            Output::Total(30),
            Output::Numbers(vec![9, 36, 81, 144, 225]),
        ]
    );
    // The workers changed their copies; the original is untouched, as in Node.
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    println!("result: ×1 = [1, 2, 3, 4, 5], sum of ×2 = 30, squares of ×3 = [9, 36, 81, 144, 225]");
    Ok(())
}

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

/// Starts one worker that owns its `config` and its `numbers`: the `move` closure takes both,
/// and they now belong to that thread alone.
fn spawn_with_data(config: Config, mut numbers: Vec<i64>) -> anyhow::Result<JoinHandle<Output>> {
    thread::Builder::new()
        .name(format!("worker-{}", config.id))
        .spawn(move || {
            for n in &mut numbers {
                *n *= config.multiplier;
            }
            let output = run(&config, numbers);
            println!("[worker-{}] {config:?} -> {output:?}", config.id);
            output
        })
        .context("could not spawn a worker")
}

/// The work itself.
fn run(config: &Config, scaled: Vec<i64>) -> Output {
    match config.task {
        Task::Multiply => Output::Numbers(scaled),
        Task::Sum => Output::Total(scaled.iter().sum()),
        Task::Square => Output::Numbers(scaled.iter().map(|n| n * n).collect()),
    }
}

/// Joins the workers in the order they were spawned, so results line up with configs no
/// matter which thread finished first.
fn join_in_order(handles: Vec<JoinHandle<Output>>) -> anyhow::Result<Vec<Output>> {
    handles
        .into_iter()
        .map(|handle| handle.join().map_err(|_| anyhow!("a worker panicked")))
        .collect()
}
