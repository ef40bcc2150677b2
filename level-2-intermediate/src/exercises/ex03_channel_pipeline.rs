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
    // TODO: for every item received until `input` is closed and empty: record it, and send
    // it on to `output` if it is valid (stop if the send fails: the next stage is gone).
    // Return what was received, with this thread's id.
    todo!("l2-ex03: pass the valid items on, and record every item received")
}

/// The transformer stage: sends every item on to `output` with its value doubled, until
/// `input` is closed and empty (or the next stage is gone). Returns every item it received.
pub fn transform(input: Receiver<Item>, output: Sender<Doubled>) -> StageTrace<Item> {
    // TODO: for every item received until `input` is closed and empty: record it, and send
    // a `Doubled` with the same id and twice the value to `output` (stop if the send fails).
    // Return what was received, with this thread's id.
    todo!("l2-ex03: send every item on with its value doubled, and record what was received")
}

/// The aggregator stage: collects the doubled items until `input` is closed and empty, then
/// sends their [`summarize`]d summary to `output`, once. Returns every item it received.
pub fn aggregate(input: Receiver<Doubled>, output: Sender<Summary>) -> StageTrace<Doubled> {
    // TODO: receive every doubled item until `input` is closed and empty, then send their
    // `summarize`d summary to `output`, once. Return what was received, with this thread's
    // id.
    todo!("l2-ex03: collect the doubled items, then send their summary once the input closes")
}

/// The summary of the items that reached the aggregator. No items give a count and an
/// average of 0 (the Node solution's `0 / 0` gave `NaN`).
pub fn summarize(items: &[Doubled]) -> Summary {
    // TODO: count, total, average (0 when there are no items, never NaN), and the ids and
    // values in order.
    todo!("l2-ex03: sum up the items; no items give a count and an average of 0")
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

    // TODO: spawn three threads, named after STAGES, each running its stage function with
    // its two channel ends moved in: `validate(validator_in, validator_out)`,
    // `transform(transformer_in, transformer_out)`, `aggregate(aggregator_in,
    // aggregator_out)`. Keep no other copy of those ends: a stage ends when its input is
    // closed, and a stray sender keeps it open.
    let validator: JoinHandle<StageTrace<Item>> = todo!("l2-ex03: spawn the validator thread");
    let transformer: JoinHandle<StageTrace<Item>> = todo!("l2-ex03: spawn the transformer thread");
    let aggregator: JoinHandle<StageTrace<Doubled>> = todo!("l2-ex03: spawn the aggregator thread");

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

    // TODO: send every item to `input`, then drop `input`: the end of the input is the only
    // stop signal the stages get. Then receive the summary, waiting at most
    // SUMMARY_TIMEOUT, join the three stages (a panic is an error), and return the `Run`.
    todo!("l2-ex03: send the items, close the input, then collect the summary and the traces")
}
