//! # Exercise l2-ex03: channel pipeline
//!
//! **Goal.** Chain three stage threads with channels: a validator drops the invalid items, a
//! transformer doubles the values, an aggregator sums them up and sends one summary to the
//! main thread. In Node this takes two `MessageChannel`s whose ports go to the workers in
//! transfer lists, and `worker.terminate()` 100 ms after the result; in Rust each stage is
//! handed its ends of the channels (moving a `Sender` or `Receiver` into a thread *is* the
//! port transfer), and closing the input is the only stop signal needed: each stage ends when
//! its input is closed and empty, and its end closes the next stage's input.
//!
//! **Check your attempt:** `cargo exercise check l2-ex03`
//!
//! **What the tests expect**
//! - The Node exercise's six items ([`course_items`]: ids 1 to 6, values 10, 5, 20, 15, 8,
//!   25, ids 2 and 5 invalid) give ids `[1, 3, 4, 6]`, values `[20, 40, 30, 50]`, a total of
//!   140 and an average of 35, in input order.
//! - No items, or no valid ones, give a count of 0 and an average of 0, not `NaN`.
//! - Each stage receives exactly what it should, in order: the validator every item, the
//!   transformer the valid ones, the aggregator the doubled ones. Each returns what it
//!   received in a [`StageTrace`], with the id of its thread.
//! - The three stages run on three different threads, none of them the caller's: the threads
//!   `spawn_pipeline` started, whose ids the traces carry.
//! - A stage waits while its input is empty but open: it ends only once the input is closed.
//! - Dropping the pipeline's input sender ends all three stage threads (nothing else stops
//!   them), and the aggregator then sends exactly one summary.
//! - Doubling cannot overflow: an `i32` value doubles into an `i64`.
//!
//! **Hints:** `cargo exercise hint l2-ex03` shows one at a time, from the idea to the
//! exact API to the documentation.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

/// The names of the stage threads, in pipeline order.
pub const STAGES: [&str; 3] = ["validator", "transformer", "aggregator"];

/// How long [`run_pipeline`] waits for the summary before it gives up with an error.
pub const SUMMARY_TIMEOUT: Duration = Duration::from_secs(10);

/// An item as it enters the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The item's id.
    pub id: u32,
    /// Its value.
    pub value: i32,
    /// Only valid items go past the validator.
    pub valid: bool,
}

/// An item after the transformer: its value doubled, in an `i64` so that it cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doubled {
    /// The id of the item it came from.
    pub id: u32,
    /// Twice the item's value.
    pub value: i64,
}

/// What the aggregator sends to the main thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How many items reached the aggregator.
    pub count: usize,
    /// The sum of their doubled values.
    pub total: i64,
    /// `total / count`, or 0 when there are no items.
    pub average: f64,
    /// Their ids, in arrival order.
    pub ids: Vec<u32>,
    /// Their doubled values, in arrival order.
    pub values: Vec<i64>,
}

/// What one stage received, in order, and the thread it ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTrace<T> {
    /// The id of the stage's thread.
    pub thread: ThreadId,
    /// Every message the stage received, in the order it received them.
    pub received: Vec<T>,
}

/// A running pipeline: the main thread's two ends, and the three stage threads.
#[derive(Debug)]
pub struct Pipeline {
    /// Where the items go in. Dropping it is the end of the input.
    pub input: Sender<Item>,
    /// Where the one summary comes out, once the input has ended.
    pub summary: Receiver<Summary>,
    /// The validator's thread, which returns what it received.
    pub validator: JoinHandle<StageTrace<Item>>,
    /// The transformer's thread, which returns what it received.
    pub transformer: JoinHandle<StageTrace<Item>>,
    /// The aggregator's thread, which returns what it received.
    pub aggregator: JoinHandle<StageTrace<Doubled>>,
}

/// Everything a finished run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The aggregator's summary.
    pub summary: Summary,
    /// What the validator received.
    pub validator: StageTrace<Item>,
    /// What the transformer received.
    pub transformer: StageTrace<Item>,
    /// What the aggregator received.
    pub aggregator: StageTrace<Doubled>,
}

/// The Node exercise's input: ids 1 to 6, values 10, 5, 20, 15, 8, 25; ids 2 and 5 invalid.
pub fn course_items() -> Vec<Item> {
    [(1, 10, true), (2, 5, false), (3, 20, true)]
        .into_iter()
        .chain([(4, 15, true), (5, 8, false), (6, 25, true)])
        .map(|(id, value, valid)| Item { id, value, valid })
        .collect()
}

/// The validator stage: passes the valid items on to `output`, until `input` is closed and
/// empty (or the next stage is gone). Returns every item it received.
pub fn validate(input: Receiver<Item>, output: Sender<Item>) -> StageTrace<Item> {
    let mut received = Vec::new();
    for item in &input {
        received.push(item);
        // A send fails only if the next stage is gone: nobody wants the rest.
        if item.valid && output.send(item).is_err() {
            break;
        }
    }
    StageTrace {
        thread: thread::current().id(),
        received,
    }
    // `output` is dropped here: the transformer's input is closed once it has read it all.
}

/// The transformer stage: sends every item on to `output` with its value doubled, until
/// `input` is closed and empty (or the next stage is gone). Returns every item it received.
pub fn transform(input: Receiver<Item>, output: Sender<Doubled>) -> StageTrace<Item> {
    let mut received = Vec::new();
    for item in &input {
        received.push(item);
        let doubled = Doubled {
            id: item.id,
            value: i64::from(item.value) * 2,
        };
        if output.send(doubled).is_err() {
            break;
        }
    }
    StageTrace {
        thread: thread::current().id(),
        received,
    }
}

/// The aggregator stage: collects the doubled items until `input` is closed and empty, then
/// sends their [`summarize`]d summary to `output`, once. Returns every item it received.
pub fn aggregate(input: Receiver<Doubled>, output: Sender<Summary>) -> StageTrace<Doubled> {
    let received: Vec<Doubled> = input.iter().collect();
    // The main thread may have stopped waiting; then the summary has nowhere to go.
    let _ = output.send(summarize(&received));
    StageTrace {
        thread: thread::current().id(),
        received,
    }
}

/// The summary of the items that reached the aggregator. No items give a count and an
/// average of 0 (the Node solution's `0 / 0` gave `NaN`).
pub fn summarize(items: &[Doubled]) -> Summary {
    let count = items.len();
    // Cannot overflow: each value is at most 2^32 in size, so it would take 2^31 items.
    let total: i64 = items.iter().map(|item| item.value).sum();
    let average = if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    };
    Summary {
        count,
        total,
        average,
        ids: items.iter().map(|item| item.id).collect(),
        values: items.iter().map(|item| item.value).collect(),
    }
}

/// Starts the three stage threads, named after [`STAGES`], linked by channels.
///
/// # Errors
/// If a thread cannot be spawned. The stages already started then end by themselves: the
/// ends of the channels that would have fed them are dropped with the error.
pub fn spawn_pipeline() -> anyhow::Result<Pipeline> {
    let (input, validator_in) = crossbeam_channel::unbounded::<Item>();
    let (validator_out, transformer_in) = crossbeam_channel::unbounded::<Item>();
    let (transformer_out, aggregator_in) = crossbeam_channel::unbounded::<Doubled>();
    let (aggregator_out, summary) = crossbeam_channel::bounded::<Summary>(1);

    // Each stage gets its two ends *moved* in, and no copy stays behind: that is Node's
    // `postMessage({ port }, [port])`, with the compiler checking that nobody else keeps one.
    let [validator_name, transformer_name, aggregator_name] = STAGES.map(str::to_owned);
    let validator = thread::Builder::new()
        .name(validator_name)
        .spawn(move || validate(validator_in, validator_out))
        .context("could not spawn the validator")?;
    let transformer = thread::Builder::new()
        .name(transformer_name)
        .spawn(move || transform(transformer_in, transformer_out))
        .context("could not spawn the transformer")?;
    let aggregator = thread::Builder::new()
        .name(aggregator_name)
        .spawn(move || aggregate(aggregator_in, aggregator_out))
        .context("could not spawn the aggregator")?;

    Ok(Pipeline {
        input,
        summary,
        validator,
        transformer,
        aggregator,
    })
}

/// Runs `items` through a new pipeline: sends them all, closes the input, waits for the
/// summary and for the three stages to end, and returns what happened.
///
/// # Errors
/// If the pipeline cannot be started, a stage stops early, no summary comes within
/// [`SUMMARY_TIMEOUT`], or a stage panics.
pub fn run_pipeline(items: Vec<Item>) -> anyhow::Result<Run> {
    let Pipeline {
        input,
        summary,
        validator,
        transformer,
        aggregator,
    } = spawn_pipeline()?;

    for item in items {
        input
            .send(item)
            .map_err(|_| anyhow!("the validator stopped before it had every item"))?;
    }
    // The end of the input, and the only stop signal: the validator's loop ends, which
    // closes the transformer's input, which closes the aggregator's, which then sends the
    // summary. No `terminate()`, no timer.
    drop(input);

    let summary = summary
        .recv_timeout(SUMMARY_TIMEOUT)
        .context("the aggregator sent no summary")?;
    let validator = validator
        .join()
        .map_err(|_| anyhow!("the validator panicked"))?;
    let transformer = transformer
        .join()
        .map_err(|_| anyhow!("the transformer panicked"))?;
    let aggregator = aggregator
        .join()
        .map_err(|_| anyhow!("the aggregator panicked"))?;
    Ok(Run {
        summary,
        validator,
        transformer,
        aggregator,
    })
}
