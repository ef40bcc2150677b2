//! Tests of exercise l2-ex03 (channel pipeline).
//!
//! `cargo test` runs them against the reference solution; `cargo exercise check l2-ex03` runs
//! them against your file, `level-2-intermediate/src/exercises/ex03_channel_pipeline.rs`.
//!
//! | promise | test | independent of scheduling and load because |
//! |---|---|---|
//! | the course's items give ids 1, 3, 4, 6, total 140, average 35 | `the_course_items_give_ids_1_3_4_6_and_a_total_of_140` | channels keep order |
//! | no items, or no valid ones: count 0, average 0, not NaN | `no_items_give_*`, `only_invalid_items_also_give_*` | values only |
//! | each stage receives exactly what it should, in order | `each_stage_receives_exactly_what_it_should_in_order`, `a_long_input_keeps_its_order_through_every_stage` | channels keep order |
//! | three stages on three threads, none the caller's | `each_stage_runs_on_its_own_thread`, `the_traces_name_the_threads_the_stages_really_ran_on` | the trace ids are checked against the threads `spawn_pipeline` really started (`JoinHandle::thread`) |
//! | stage threads are named after `STAGES` | `the_stage_threads_are_named_after_their_stage` | read from the join handles |
//! | dropping the input ends all three stages, and exactly one summary comes | `dropping_the_input_sender_ends_all_three_stages`, `the_stages_end_even_when_no_item_was_ever_sent` | joins with a deadline, then the summary channel must be disconnected |
//! | a stage ends only when its input is closed and empty, not merely empty | `a_stage_waits_while_its_input_is_empty_but_open` | a stage that waits passes whatever the timing; the 30 ms pauses only let a stage that stops early do so |
//! | doubling cannot overflow | `doubling_the_largest_values_does_not_overflow` | values only |
//! | a stage's panic becomes an error of `run_pipeline` | none | the stages are the learner's, and cannot be made to panic from outside |
//!
//! Deliberate wrong answers that these tests catch are in `xtask/mutants/l2-ex03/`.

use crossbeam_channel::RecvTimeoutError;
// The code under test: your file when `cargo exercise check l2-ex03` turns the `learner`
// feature on (and in rust-analyzer, so that your editor checks it), the reference solution in a
// plain `cargo test`. Your file is compiled into this test alone: a mistake in it breaks no
// other exercise, lesson or test.
#[cfg(any(feature = "learner", rust_analyzer))]
#[path = "../src/exercises/ex03_channel_pipeline.rs"]
#[allow(dead_code)] // the items the tests do not call are part of the exercise all the same
mod under_test;
#[cfg(not(any(feature = "learner", rust_analyzer)))]
use level_2_intermediate::solutions::ex03_channel_pipeline as under_test;

use shared::testing::{TIMEOUT, join_within, recv_or_fail, run_within};
use std::collections::HashSet;
use std::thread::{self, ThreadId};
use under_test::{
    Doubled, Item, Pipeline, Run, STAGES, course_items, run_pipeline, spawn_pipeline, summarize,
};

/// Runs `items` through `run_pipeline` with a deadline; also returns the caller's thread id.
fn run(items: Vec<Item>) -> (ThreadId, Run) {
    let (caller, run) = run_within(TIMEOUT, "run_pipeline", move || {
        (thread::current().id(), run_pipeline(items))
    });
    (caller, run.expect("run_pipeline failed"))
}

fn item(id: u32, value: i32, valid: bool) -> Item {
    Item { id, value, valid }
}

#[test]
fn the_course_items_give_ids_1_3_4_6_and_a_total_of_140() {
    let items = course_items();
    let ids: Vec<u32> = items.iter().map(|i| i.id).collect();
    let values: Vec<i32> = items.iter().map(|i| i.value).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(values, [10, 5, 20, 15, 8, 25]);

    let (_, run) = run(items);
    let summary = run.summary;
    assert_eq!(summary.ids, [1, 3, 4, 6], "ids 2 and 5 are invalid");
    assert_eq!(
        summary.values,
        [20, 40, 30, 50],
        "the valid values, doubled"
    );
    assert_eq!(summary.count, 4);
    assert_eq!(summary.total, 140);
    assert_eq!(summary.average, 35.0);
}

#[test]
fn no_items_give_a_count_of_0_and_an_average_of_0_not_nan() {
    let (_, run) = run(Vec::new());
    let summary = run.summary;
    assert_eq!((summary.count, summary.total), (0, 0));
    assert!(summary.ids.is_empty() && summary.values.is_empty());
    assert_eq!(
        summary.average, 0.0,
        "the average of nothing must be 0 (Node's 0 / 0 gave NaN)"
    );

    let summary = summarize(&[]);
    assert_eq!((summary.count, summary.average), (0, 0.0));
}

#[test]
fn only_invalid_items_also_give_an_average_of_0() {
    let (_, run) = run(vec![item(1, 7, false), item(2, 9, false)]);
    assert_eq!(run.summary.count, 0);
    assert_eq!(run.summary.average, 0.0);
    assert_eq!(run.validator.received.len(), 2);
    assert!(run.transformer.received.is_empty());
}

#[test]
fn each_stage_receives_exactly_what_it_should_in_order() {
    let items = course_items();
    let (_, run) = run(items.clone());
    assert_eq!(
        run.validator.received, items,
        "the validator must receive every item, in order"
    );
    let valid: Vec<Item> = items.iter().copied().filter(|i| i.valid).collect();
    assert_eq!(
        run.transformer.received, valid,
        "the transformer must receive the valid items only, unchanged"
    );
    let doubled: Vec<Doubled> = [(1, 20), (3, 40), (4, 30), (6, 50)]
        .into_iter()
        .map(|(id, value)| Doubled { id, value })
        .collect();
    assert_eq!(
        run.aggregator.received, doubled,
        "the aggregator must receive the valid items with their values doubled"
    );
}

#[test]
fn a_long_input_keeps_its_order_through_every_stage() {
    // Every third item is invalid; values alternate in sign.
    let items: Vec<Item> = (1..=1_000)
        .map(|id| {
            item(
                id,
                if id % 2 == 0 { id as i32 } else { -(id as i32) },
                id % 3 != 0,
            )
        })
        .collect();
    let (_, run) = run(items.clone());
    let kept: Vec<&Item> = items.iter().filter(|i| i.valid).collect();
    let ids: Vec<u32> = kept.iter().map(|i| i.id).collect();
    let values: Vec<i64> = kept.iter().map(|i| 2 * i64::from(i.value)).collect();
    assert_eq!(run.summary.ids, ids);
    assert_eq!(run.summary.values, values);
    assert_eq!(run.summary.count, ids.len());
    assert_eq!(run.summary.total, values.iter().sum::<i64>());
    assert_eq!(run.validator.received, items);
}

#[test]
fn doubling_the_largest_values_does_not_overflow() {
    let (_, run) = run(vec![item(1, i32::MAX, true), item(2, i32::MIN, true)]);
    assert_eq!(
        run.summary.values,
        [2 * i64::from(i32::MAX), 2 * i64::from(i32::MIN)]
    );
    assert_eq!(run.summary.total, -2);
    assert_eq!(run.summary.average, -1.0);
}

#[test]
fn each_stage_runs_on_its_own_thread() {
    let (caller, run) = run(course_items());
    let threads = [
        run.validator.thread,
        run.transformer.thread,
        run.aggregator.thread,
    ];
    let distinct: HashSet<ThreadId> = threads.into_iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "the three stages must run on three threads, not share one: {threads:?}"
    );
    assert!(
        !distinct.contains(&caller),
        "a stage ran on the caller's thread"
    );
}

#[test]
fn the_stage_threads_are_named_after_their_stage() {
    assert_eq!(STAGES, ["validator", "transformer", "aggregator"]);
    let names = run_within(TIMEOUT, "spawn_pipeline", || {
        let pipeline = spawn_pipeline().expect("spawn_pipeline failed");
        let names = [
            pipeline.validator.thread().name().map(str::to_owned),
            pipeline.transformer.thread().name().map(str::to_owned),
            pipeline.aggregator.thread().name().map(str::to_owned),
        ];
        drop(pipeline.input);
        for handle in [pipeline.validator, pipeline.transformer] {
            let _ = join_within(handle, TIMEOUT, "a stage");
        }
        let _ = join_within(pipeline.aggregator, TIMEOUT, "the aggregator");
        names
    });
    assert_eq!(names, STAGES.map(|s| Some(s.to_owned())));
}

#[test]
fn dropping_the_input_sender_ends_all_three_stages() {
    let (validator, transformer, aggregator, summary, after) =
        run_within(TIMEOUT, "a pipeline whose input is dropped", || {
            let Pipeline {
                input,
                summary,
                validator,
                transformer,
                aggregator,
            } = spawn_pipeline().expect("spawn_pipeline failed");
            input
                .send(item(1, 10, true))
                .expect("the validator is gone");
            input
                .send(item(2, 5, false))
                .expect("the validator is gone");
            // Nothing else tells the stages to stop: no message, no flag, no timer.
            drop(input);
            let validator = join_within(validator, TIMEOUT, "the validator thread");
            let transformer = join_within(transformer, TIMEOUT, "the transformer thread");
            let aggregator = join_within(aggregator, TIMEOUT, "the aggregator thread");
            let first = recv_or_fail(&summary, "the summary");
            // The aggregator has ended, so no second summary can come.
            let after = summary.recv_timeout(TIMEOUT);
            (validator, transformer, aggregator, first, after)
        });
    let validator = validator.expect("the validator panicked");
    let transformer = transformer.expect("the transformer panicked");
    let aggregator = aggregator.expect("the aggregator panicked");
    assert_eq!(validator.received.len(), 2);
    assert_eq!(transformer.received.len(), 1);
    assert_eq!(aggregator.received.len(), 1);
    assert_eq!((summary.count, summary.total), (1, 20));
    assert_eq!(
        after,
        Err(RecvTimeoutError::Disconnected),
        "the aggregator must send exactly one summary, then end"
    );
}

#[test]
fn the_stages_end_even_when_no_item_was_ever_sent() {
    let (ended, summary) = run_within(TIMEOUT, "an idle pipeline", || {
        let pipeline = spawn_pipeline().expect("spawn_pipeline failed");
        drop(pipeline.input);
        let ended = [
            join_within(pipeline.validator, TIMEOUT, "the validator thread").is_ok(),
            join_within(pipeline.transformer, TIMEOUT, "the transformer thread").is_ok(),
            join_within(pipeline.aggregator, TIMEOUT, "the aggregator thread").is_ok(),
        ];
        (ended, recv_or_fail(&pipeline.summary, "the summary"))
    });
    assert_eq!(ended, [true; 3], "a stage panicked");
    assert_eq!((summary.count, summary.average), (0, 0.0));
}

#[test]
fn a_stage_waits_while_its_input_is_empty_but_open() {
    // Items trickle in: between them every stage's input is empty but not closed, and a stage
    // must wait for more rather than end. The pauses only give a stage that stops early time
    // to do so; a stage that waits passes whatever the timing.
    let (sent, summary) = run_within(TIMEOUT, "a trickling pipeline", || {
        let pipeline = spawn_pipeline().expect("spawn_pipeline failed");
        let mut sent = 0;
        for id in 1..=3 {
            thread::sleep(std::time::Duration::from_millis(30));
            if pipeline.input.send(item(id, 10, true)).is_ok() {
                sent += 1;
            }
        }
        drop(pipeline.input);
        (sent, pipeline.summary.recv_timeout(TIMEOUT))
    });
    assert_eq!(
        sent, 3,
        "the validator stopped taking items while its input was still open"
    );
    let summary = summary.expect("no summary came");
    assert_eq!(
        summary.ids,
        [1, 2, 3],
        "a stage ended before its input was closed"
    );
}

#[test]
fn the_traces_name_the_threads_the_stages_really_ran_on() {
    // The id in each trace is compared with the thread that `spawn_pipeline` started, as its
    // `JoinHandle` reports it: not taken on trust.
    let (caller, spawned, traced) = run_within(TIMEOUT, "spawn_pipeline", || {
        let pipeline = spawn_pipeline().expect("spawn_pipeline failed");
        pipeline
            .input
            .send(item(1, 10, true))
            .expect("the validator is gone");
        let spawned = [
            pipeline.validator.thread().id(),
            pipeline.transformer.thread().id(),
            pipeline.aggregator.thread().id(),
        ];
        drop(pipeline.input);
        let traced = [
            join_within(pipeline.validator, TIMEOUT, "the validator thread").map(|t| t.thread),
            join_within(pipeline.transformer, TIMEOUT, "the transformer thread").map(|t| t.thread),
            join_within(pipeline.aggregator, TIMEOUT, "the aggregator thread").map(|t| t.thread),
        ]
        .map(|t| t.expect("a stage panicked"));
        (thread::current().id(), spawned, traced)
    });
    assert_eq!(
        traced, spawned,
        "each trace must carry the id of the thread its stage ran on"
    );
    let distinct: HashSet<ThreadId> = spawned.into_iter().collect();
    assert_eq!(distinct.len(), 3, "three stages, three threads");
    assert!(
        !distinct.contains(&caller),
        "a stage ran on the caller's thread"
    );
}
