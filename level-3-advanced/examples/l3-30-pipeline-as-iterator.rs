//! # Lesson l3-30: a pipeline of threads, consumed as an iterator
//!
//! Replaces Node's `stream.pipeline` and `highWaterMark`. Threads join a stream through
//! channels, and a *bounded* channel is the high-water mark: a stage that runs ahead blocks
//! until the next stage catches up. A consumer that stops early drops its receiver, and the
//! stages before it stop in turn, each when its next `send` fails. Shows: source → primality
//! filter → formatter, each a thread, joined by channels; the consumer is
//! `receiver.into_iter().take(50)`. With unbounded channels the endless source runs far ahead
//! of what is used; with bounded ones each stage is at most its channel's capacity ahead of the
//! next (asserted). Either way, when the consumer stops, every stage thread ends (asserted by
//! joining within a deadline).
//!
//! Run: `cargo run --release --example l3-30-pipeline-as-iterator`
//!
//! Expect: each stage's counts in both runs, then `result: 50 primes from an endless source;
//! unbounded source ran N ahead, bounded at most 4 ahead per stage; every stage thread ended
//! when the consumer stopped`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use shared::testing::{TIMEOUT, join_within};
use shared::workload::is_prime;
use std::thread::{self, JoinHandle};

/// The source counts up from here; the consumer takes this many primes; bounded capacity.
const SOURCE_START: u64 = 1_000_000_000;
const TAKE: usize = 50;
const CAPACITY: usize = 4;

fn main() -> anyhow::Result<()> {
    println!("[main] unbounded channels:");
    let unbounded = run_pipeline(None)?;
    println!("[main] bounded({CAPACITY}) channels:");
    let bounded = run_pipeline(Some(CAPACITY))?;
    let ahead = |run: &Run| run.stages[0].sent - run.stages[1].received;
    println!(
        "[main] numbers sent but never read: {} unbounded, {} bounded",
        ahead(&unbounded),
        ahead(&bounded)
    );

    let expected: Vec<String> = (SOURCE_START..)
        .filter(|&n| is_prime(n))
        .take(TAKE)
        .enumerate()
        .map(|(i, p)| format!("prime #{}: {p}", i + 1))
        .collect();
    assert_eq!(unbounded.lines, expected);
    assert_eq!(bounded.lines, expected);
    // Backpressure, link by link: a stage can be ahead of the next by at most what the channel
    // between them holds. The last link's "next" is the consumer, which took TAKE lines.
    let [source, filter, format] = bounded.stages;
    let cap = CAPACITY as u64;
    assert!(
        source.sent <= filter.received + cap,
        "{source:?} {filter:?}"
    );
    assert!(
        filter.sent <= format.received + cap,
        "{filter:?} {format:?}"
    );
    assert!(format.sent <= TAKE as u64 + cap, "{format:?}");
    println!(
        "result: {TAKE} primes from an endless source; unbounded source ran {} ahead, bounded at \
         most {CAPACITY} ahead per stage; every stage thread ended when the consumer stopped",
        ahead(&unbounded)
    );
    Ok(())
}

/// What one stage did: items received from upstream and sent downstream.
#[derive(Debug, Clone, Copy, Default)]
struct StageCount {
    received: u64,
    sent: u64,
}

/// What one pipeline run produced.
#[derive(Debug)]
struct Run {
    lines: Vec<String>,
    stages: [StageCount; 3],
}

/// Builds the pipeline, consumes `TAKE` lines through `into_iter()`, drops the receiver, and
/// joins every stage within the deadline.
fn run_pipeline(capacity: Option<usize>) -> anyhow::Result<Run> {
    let (lines_rx, stages) = pipeline(capacity)?;
    // The consumer: an ordinary iterator chain. `take` stops after TAKE lines and drops the
    // `IntoIter`, and with it the last receiver: that is the whole shutdown signal.
    let lines: Vec<String> = lines_rx.into_iter().take(TAKE).collect();
    println!("[main] took {} lines, dropped the receiver", lines.len());
    let mut counts = [StageCount::default(); 3];
    for (count, (handle, name)) in counts.iter_mut().zip(stages.into_iter().zip(STAGES)) {
        // `join_within` panics if the stage has not ended by itself within TIMEOUT: a stage
        // still running after its consumer left would be a leak.
        *count = join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
        println!(
            "[main] {name} ended: received {}, sent {}",
            count.received, count.sent
        );
    }
    Ok(Run {
        lines,
        stages: counts,
    })
}

const STAGES: [&str; 3] = ["source", "filter", "format"];

/// source → filter → format, joined by channels of `capacity` (unbounded if `None`). Returns
/// the last receiver and the three stage threads, in order.
fn pipeline(
    capacity: Option<usize>,
) -> anyhow::Result<(Receiver<String>, [JoinHandle<StageCount>; 3])> {
    let (numbers_tx, numbers_rx) = channel::<u64>(capacity);
    let (primes_tx, primes_rx) = channel::<u64>(capacity);
    let (lines_tx, lines_rx) = channel::<String>(capacity);
    // An endless source: it stops only when nobody listens any more.
    let source = stage("source", move |count| {
        for n in SOURCE_START.. {
            if numbers_tx.send(n).is_err() {
                break;
            }
            count.sent += 1;
        }
    })?;
    let filter = stage("filter", move |count| {
        for n in numbers_rx {
            count.received += 1;
            if is_prime(n) {
                if primes_tx.send(n).is_err() {
                    break; // downstream is gone: stop, which drops `numbers_rx` in turn
                }
                count.sent += 1;
            }
        }
    })?;
    let format = stage("format", move |count| {
        for (i, p) in primes_rx.into_iter().enumerate() {
            count.received += 1;
            if lines_tx.send(format!("prime #{}: {p}", i + 1)).is_err() {
                break;
            }
            count.sent += 1;
        }
    })?;
    Ok((lines_rx, [source, filter, format]))
}

/// A channel of the pipeline: bounded to `capacity`, or unbounded if `None`.
fn channel<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    match capacity {
        Some(capacity) => crossbeam_channel::bounded(capacity),
        None => crossbeam_channel::unbounded(),
    }
}

/// Spawns a named stage thread that counts what it does, and returns the counts when it stops.
fn stage(
    name: &str,
    body: impl FnOnce(&mut StageCount) + Send + 'static,
) -> anyhow::Result<JoinHandle<StageCount>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut count = StageCount::default();
            body(&mut count);
            count
        })
        .with_context(|| format!("could not spawn the {name} stage"))
}
