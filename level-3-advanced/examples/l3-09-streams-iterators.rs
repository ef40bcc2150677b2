//! # Lesson l3-09: streams and iterators
//!
//! Replaces Node's streams and async iterators (`for await (const chunk of stream)`, `pipeline`,
//! `highWaterMark`), which the Node course lists and never builds. In Rust a stream of values is
//! an `Iterator`: lazy, pulled one value at a time by its consumer. Threads join in through
//! channels, and a *bounded* channel is the high-water mark: a stage that runs ahead blocks
//! until the next stage catches up. A consumer that stops early drops its receiver, and the
//! stages before it stop in turn, each when its next `send` fails.
//!
//! Shows, each time what goes wrong first and then the fix:
//! 1. **an ordered parallel map over an iterator**: sending every item to the workers at once
//!    reads the whole input before the first result is used, and the results come back in
//!    completion order. `OrderedParallelMap` keeps at most `W` items in flight (read from the
//!    input and not yet handed to the consumer, counted and asserted), and hands results back
//!    in input order, however the workers finish. It is itself an `Iterator`, so `take(5)`
//!    stops it early, and dropping it ends its worker threads.
//! 2. **a pipeline consumed as an iterator**: source → primality filter → formatter, each a
//!    thread, joined by channels; the consumer is `receiver.into_iter().take(50)`. With
//!    unbounded channels the endless source runs far ahead of what is used; with bounded ones
//!    each stage is at most its channel's capacity ahead of the next (asserted). Either way,
//!    when the consumer stops, every stage thread ends (asserted by joining within a deadline).
//!
//! Run: `cargo run --release --example l3-09-streams-iterators`
//!
//! Expect: the naive and windowed runs with their in-flight counts, the two pipelines with
//! each stage's counts, then `result: 2000 items in input order with at most 8 in flight
//! (naive: 2000); 50 primes from an endless source; unbounded source ran N ahead, bounded
//! at most 4 ahead per stage; every stage thread ended when the consumer stopped`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use shared::testing::{TIMEOUT, join_within, panic_message};
use shared::timing::ratio;
use shared::workload::{count_primes, is_prime};
use std::collections::BTreeMap;
use std::iter::Fuse;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Part 1: how many items, how many worker threads, and the window.
const ITEMS: u64 = 2000;
const THREADS: usize = 2;
const WINDOW: usize = 8;
/// Part 2: the source counts up from here, and the consumer takes this many primes.
const SOURCE_START: u64 = 1_000_000_000;
const TAKE: usize = 50;
/// Part 2: the capacity of each bounded channel.
const CAPACITY: usize = 4;

/// The name of the thread that speaks, for the `[name]` prefix of every line.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

// ---------------------------------------------------------------------------------------------
// Part 1: an ordered parallel map with a bounded window
// ---------------------------------------------------------------------------------------------

/// A worker's answer for item number `seq`: the value, or the message of its panic.
type Answer<R> = (u64, Result<R, String>);

/// `input.map(f)`, computed on `threads` worker threads, yielding results in input order, with
/// at most `window` items read from `input` and not yet yielded.
///
/// Memory stays bounded by the window however long the input is (it may be endless), and the
/// channels never block a sender for long: each holds at most `window` items, and no more than
/// `window` exist. Dropping the iterator (after `take`, a `break`, or a panic) discards the
/// queued items and joins the workers.
///
/// A panic in `f` is caught on the worker and raised again on the consumer, with its message,
/// when the consumer reaches that item: the same place a sequential `map` would panic.
#[derive(Debug)]
struct OrderedParallelMap<I: Iterator, R> {
    input: Fuse<I>,
    /// `None` once dropping has begun: closing the channel tells the workers to stop.
    jobs: Option<Sender<(u64, I::Item)>>,
    /// A receiving end of the jobs, kept only to throw away the queued jobs on drop.
    discard: Receiver<(u64, I::Item)>,
    results: Receiver<Answer<R>>,
    /// Results that arrived before their turn, by sequence number.
    early: BTreeMap<u64, R>,
    next_to_send: u64,
    next_to_yield: u64,
    window: usize,
    in_flight: usize,
    max_in_flight: usize,
    workers: Vec<JoinHandle<()>>,
}

impl<I, R> OrderedParallelMap<I, R>
where
    I: Iterator,
    I::Item: Send + 'static,
    R: Send + 'static,
{
    fn new<F>(input: I, threads: usize, window: usize, f: F) -> anyhow::Result<Self>
    where
        F: Fn(I::Item) -> R + Send + Sync + 'static,
    {
        anyhow::ensure!(
            threads > 0 && window > 0,
            "threads and window must be at least 1"
        );
        let (jobs, jobs_rx) = crossbeam_channel::bounded::<(u64, I::Item)>(window);
        let (results_tx, results) = crossbeam_channel::bounded::<Answer<R>>(window);
        let f = Arc::new(f);
        let workers = (0..threads)
            .map(|i| {
                let (jobs_rx, results_tx, f) = (jobs_rx.clone(), results_tx.clone(), f.clone());
                thread::Builder::new()
                    .name(format!("map-{i}"))
                    .spawn(move || {
                        for (seq, item) in jobs_rx {
                            let answer = panic::catch_unwind(AssertUnwindSafe(|| f(item)))
                                .map_err(|payload| panic_message(payload.as_ref()));
                            if results_tx.send((seq, answer)).is_err() {
                                break; // the map was dropped
                            }
                        }
                    })
                    .context("could not spawn a map worker")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            input: input.fuse(),
            jobs: Some(jobs),
            discard: jobs_rx,
            results,
            early: BTreeMap::new(),
            next_to_send: 0,
            next_to_yield: 0,
            window,
            in_flight: 0,
            max_in_flight: 0,
            workers,
        })
    }

    /// The most items that were ever in flight at once.
    fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
}

impl<I, R> Iterator for OrderedParallelMap<I, R>
where
    I: Iterator,
{
    type Item = R;

    fn next(&mut self) -> Option<R> {
        loop {
            // Top the window up: read more input only while fewer than `window` items are out.
            while self.in_flight < self.window {
                let Some(item) = self.input.next() else { break };
                let jobs = self.jobs.as_ref()?;
                // Never blocks for long: the channel holds `window` and fewer are out.
                jobs.send((self.next_to_send, item)).ok()?;
                self.next_to_send += 1;
                self.in_flight += 1;
                self.max_in_flight = self.max_in_flight.max(self.in_flight);
            }
            if let Some(value) = self.early.remove(&self.next_to_yield) {
                self.next_to_yield += 1;
                self.in_flight -= 1;
                return Some(value);
            }
            if self.in_flight == 0 {
                return None; // the input is exhausted and everything has been yielded
            }
            // The next result in order is still being computed: wait for any result.
            let (seq, answer) = self
                .results
                .recv()
                .expect("a worker holds a results sender while items are in flight");
            match answer {
                Ok(value) => {
                    self.early.insert(seq, value);
                }
                Err(message) => panic!("the map function panicked on item {seq}: {message}"),
            }
        }
    }
}

impl<I: Iterator, R> Drop for OrderedParallelMap<I, R> {
    fn drop(&mut self) {
        // Close the jobs channel, throw away what is queued, and let each worker finish the
        // item in its hands: its result fits in the results channel, so nothing blocks.
        self.jobs = None;
        while self.discard.try_recv().is_ok() {}
        for worker in self.workers.drain(..) {
            // A worker catches the map function's panics; nothing else in it can panic.
            let _ = worker.join();
        }
    }
}

/// The work for item `i`: counting the primes in a block whose size (and so cost) varies, so
/// that the workers finish out of order.
fn work(i: u64) -> u64 {
    let low = 1_000_000 + i * 1_000;
    let len = 500 + (i * 7_919 % 5) * 500;
    count_primes(low..low + len)
}

/// The naive way: every item sent to the workers at once, results gathered as they come.
/// Returns the results in arrival order, with their item numbers, and the most in flight.
fn naive_parallel_map(items: u64) -> anyhow::Result<(Vec<(u64, u64)>, usize)> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<u64>();
    let (results_tx, results_rx) = crossbeam_channel::unbounded::<(u64, u64)>();
    let workers = (0..THREADS)
        .map(|i| {
            let (jobs_rx, results_tx) = (jobs_rx.clone(), results_tx.clone());
            thread::Builder::new()
                .name(format!("naive-{i}"))
                .spawn(move || {
                    for item in jobs_rx {
                        let _ = results_tx.send((item, work(item)));
                    }
                })
                .context("could not spawn a naive worker")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(results_tx);
    // The whole input is read and queued before the first result is looked at.
    let mut in_flight = 0;
    for item in 0..items {
        jobs_tx
            .send(item)
            .map_err(|_| anyhow!("the workers are gone"))?;
        in_flight += 1;
    }
    drop(jobs_tx);
    let max_in_flight = in_flight;
    let arrived: Vec<(u64, u64)> = results_rx.iter().collect();
    for worker in workers {
        join_within(worker, TIMEOUT, "a naive worker")
            .map_err(|_| anyhow!("a naive worker panicked"))?;
    }
    Ok((arrived, max_in_flight))
}

// ---------------------------------------------------------------------------------------------
// Part 2: a pipeline consumed as an iterator
// ---------------------------------------------------------------------------------------------

/// What one stage did: items received from upstream and sent downstream.
#[derive(Debug, Clone, Copy, Default)]
struct StageCount {
    received: u64,
    sent: u64,
}

/// A channel of the pipeline: bounded to `capacity`, or unbounded if `None`.
fn channel<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    match capacity {
        Some(capacity) => crossbeam_channel::bounded(capacity),
        None => crossbeam_channel::unbounded(),
    }
}

/// Spawns a named stage thread, which says what it did when it stops.
fn stage(
    name: &str,
    body: impl FnOnce() -> StageCount + Send + 'static,
) -> anyhow::Result<JoinHandle<StageCount>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let count = body();
            if me() == "source" {
                println!("[source] stopping: downstream closed; sent {}", count.sent);
            } else {
                println!(
                    "[{}] stopping: received {}, sent {}",
                    me(),
                    count.received,
                    count.sent
                );
            }
            count
        })
        .with_context(|| format!("could not spawn the {name} stage"))
}

/// source → filter → format, joined by channels of `capacity`. Returns the last receiver and
/// the three stage threads, in order.
fn pipeline(
    capacity: Option<usize>,
) -> anyhow::Result<(Receiver<String>, [JoinHandle<StageCount>; 3])> {
    let (numbers_tx, numbers_rx) = channel::<u64>(capacity);
    let (primes_tx, primes_rx) = channel::<u64>(capacity);
    let (lines_tx, lines_rx) = channel::<String>(capacity);

    // An endless source: it stops only when nobody listens any more.
    let source = stage("source", move || {
        let mut count = StageCount::default();
        for n in SOURCE_START.. {
            if numbers_tx.send(n).is_err() {
                break;
            }
            count.sent += 1;
        }
        count
    })?;
    let filter = stage("filter", move || {
        let mut count = StageCount::default();
        for n in numbers_rx {
            count.received += 1;
            if is_prime(n) {
                if primes_tx.send(n).is_err() {
                    break; // downstream is gone: stop, which drops `numbers_rx` in turn
                }
                count.sent += 1;
            }
        }
        count
    })?;
    let format = stage("format", move || {
        let mut count = StageCount::default();
        for (i, p) in primes_rx.into_iter().enumerate() {
            count.received += 1;
            if lines_tx.send(format!("prime #{}: {p}", i + 1)).is_err() {
                break;
            }
            count.sent += 1;
        }
        count
    })?;
    Ok((lines_rx, [source, filter, format]))
}

/// What one pipeline run produced.
#[derive(Debug)]
struct PipelineRun {
    lines: Vec<String>,
    stages: [StageCount; 3],
}

/// Builds the pipeline, consumes `TAKE` lines through `into_iter()`, drops the receiver, and
/// joins every stage within the deadline.
fn run_pipeline(capacity: Option<usize>) -> anyhow::Result<PipelineRun> {
    let (lines_rx, stages) = pipeline(capacity)?;
    // The consumer: an ordinary iterator chain. `take` stops after TAKE lines and drops the
    // `IntoIter`, and with it the last receiver: that is the whole shutdown signal.
    let lines: Vec<String> = lines_rx.into_iter().take(TAKE).collect();
    println!(
        "[main] took {} lines ({} ... {}), dropped the receiver",
        lines.len(),
        lines.first().map_or("", String::as_str),
        lines.last().map_or("", String::as_str)
    );
    let mut counts = [StageCount::default(); 3];
    for (count, (handle, name)) in counts
        .iter_mut()
        .zip(stages.into_iter().zip(["source", "filter", "format"]))
    {
        // `join_within` panics if the stage has not ended by itself within TIMEOUT: a stage
        // still running after its consumer left would be a leak.
        *count = join_within(handle, TIMEOUT, name).map_err(|_| anyhow!("{name} panicked"))?;
    }
    Ok(PipelineRun {
        lines,
        stages: counts,
    })
}

fn main() -> anyhow::Result<()> {
    // 1. Ordered parallel map.
    println!("[main] 1. {ITEMS} items mapped on {THREADS} threads (prime counts of uneven blocks)");
    let start = Instant::now();
    let sequential: Vec<u64> = (0..ITEMS).map(work).collect();
    let sequential_time = start.elapsed();

    let (arrived, naive_max) = naive_parallel_map(ITEMS)?;
    let out_of_place = arrived
        .iter()
        .enumerate()
        .filter(|&(position, &(item, _))| position as u64 != item)
        .count();
    println!(
        "[main]   naive: all {naive_max} items sent before the first result was used; \
         {out_of_place} of {} results arrived out of input order",
        arrived.len()
    );

    // The source is lazy; `pulled` counts how far the map has read it.
    let pulled = Arc::new(AtomicU64::new(0));
    let source = {
        let pulled = Arc::clone(&pulled);
        (0..ITEMS).inspect(move |_| {
            pulled.fetch_add(1, Ordering::Relaxed);
        })
    };
    let start = Instant::now();
    let mut map = OrderedParallelMap::new(source, THREADS, WINDOW, work)?;
    let mut ordered = Vec::with_capacity(ITEMS as usize);
    let mut most_ahead = 0;
    for value in map.by_ref() {
        ordered.push(value);
        // Read from the source but not yet consumed: the window, seen from outside.
        let ahead = pulled.load(Ordering::Relaxed) - ordered.len() as u64;
        most_ahead = most_ahead.max(ahead);
    }
    let parallel_time = start.elapsed();
    let windowed_max = map.max_in_flight();
    drop(map);
    println!(
        "[main]   windowed: at most {windowed_max} in flight (the map's count), the source at most \
         {most_ahead} ahead of the consumer (counted at the source); results in input order"
    );
    println!(
        "[main]   sequential / windowed time = {:.2}x on {THREADS} threads (a 2-core machine tops \
         out near 2x)",
        ratio(sequential_time, parallel_time)
    );

    // Stopping early: take 5, then drop. The workers end; the source was read only a little.
    let pulled_early = Arc::new(AtomicU64::new(0));
    let endless = {
        let pulled = Arc::clone(&pulled_early);
        (0u64..).inspect(move |_| {
            pulled.fetch_add(1, Ordering::Relaxed);
        })
    };
    let first_five: Vec<u64> = OrderedParallelMap::new(endless, THREADS, WINDOW, work)?
        .take(5)
        .collect();
    let read_for_five = pulled_early.load(Ordering::Relaxed);
    println!(
        "[main]   take(5) from an endless input: {first_five:?}; {read_for_five} items read, \
         workers joined on drop"
    );

    // 2. Pipelines.
    println!(
        "\n[main] 2. source (from {SOURCE_START}) -> filter (primes) -> format, consumed by \
         into_iter().take({TAKE})"
    );
    println!("[main]   unbounded channels:");
    let unbounded = run_pipeline(None)?;
    println!("[main]   bounded({CAPACITY}) channels:");
    let bounded = run_pipeline(Some(CAPACITY))?;
    let ahead = |run: &PipelineRun| run.stages[0].sent - run.stages[1].received;
    println!(
        "[main]   the source sent {} numbers unbounded, {} bounded; the filter read {} and {}",
        unbounded.stages[0].sent,
        bounded.stages[0].sent,
        unbounded.stages[1].received,
        bounded.stages[1].received
    );
    println!(
        "[main]   numbers sent but never read: {} unbounded, {} bounded",
        ahead(&unbounded),
        ahead(&bounded)
    );

    // Every outcome is checked before the result line.
    assert_eq!(ordered, sequential, "input order, same values");
    assert!(windowed_max <= WINDOW, "{windowed_max} in flight");
    assert!(most_ahead <= WINDOW as u64, "{most_ahead} ahead");
    assert_eq!(naive_max as u64, ITEMS);
    let mut by_item = arrived;
    by_item.sort_unstable();
    assert_eq!(
        by_item.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        sequential
    );
    assert_eq!(first_five, sequential[..5]);
    assert!(read_for_five <= 5 + WINDOW as u64, "{read_for_five} read");

    let expected: Vec<String> = (SOURCE_START..)
        .filter(|&n| is_prime(n))
        .take(TAKE)
        .enumerate()
        .map(|(i, p)| format!("prime #{}: {p}", i + 1))
        .collect();
    for run in [&unbounded, &bounded] {
        assert_eq!(run.lines, expected);
    }
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
        "\nresult: {ITEMS} items in input order with at most {windowed_max} in flight (naive: \
         {naive_max}); {TAKE} primes from an endless source; unbounded source ran {} ahead, \
         bounded at most {CAPACITY} ahead per stage; every stage thread ended when the consumer \
         stopped",
        ahead(&unbounded)
    );
    Ok(())
}
