//! # Lesson l3-29: an ordered parallel map is an `Iterator` with a window
//!
//! Replaces Node's async iterators and `highWaterMark`: in Rust a stream is an `Iterator`,
//! lazy, pulled one value at a time. Shows: `OrderedParallelMap` computes `input.map(f)` on
//! worker threads, keeps at most `W` items in flight (read and not yet handed on: counted and
//! asserted), and yields results in input order however the workers finish (the naive way,
//! lesson l3-28, does neither). It is an `Iterator`, so `take(5)` stops it early, and dropping
//! it ends its worker threads.
//!
//! Run: `cargo run --release --example l3-29-ordered-parallel-map`
//!
//! Expect: the in-flight counts, a time ratio (never asserted; below 1.5x, how busy the machine
//! was, `shared::timing::CpuWatch`), then `result: 2000 items in input order with at most 8 in
//! flight; take(5) from an endless input read N items (at most 13)`.

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use shared::testing::panic_message;
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::count_primes;
use std::collections::BTreeMap;
use std::iter::Fuse;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// How many items, how many worker threads, and the window.
const ITEMS: u64 = 2000;
const THREADS: usize = 2;
const WINDOW: usize = 8;

fn main() -> anyhow::Result<()> {
    let watch = CpuWatch::start();
    let (sequential, sequential_time) = timed(|| (0..ITEMS).map(work).collect::<Vec<u64>>());
    // The source is lazy; `pulled` counts how far the map has read it.
    let pulled = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&pulled);
    let source = (0..ITEMS).inspect(move |_| _ = counted.fetch_add(1, Ordering::Relaxed));
    let start = Instant::now();
    let mut map = OrderedParallelMap::new(source, THREADS, WINDOW, work)?;
    let (mut ordered, mut most_ahead) = (Vec::new(), 0);
    for value in map.by_ref() {
        ordered.push(value);
        // Read from the source but not yet consumed: the window, seen from outside.
        most_ahead = most_ahead.max(pulled.load(Ordering::Relaxed) - ordered.len() as u64);
    }
    let (parallel_time, windowed_max) = (start.elapsed(), map.max_in_flight);
    drop(map); // joins the workers
    println!("[main] at most {windowed_max} in flight, the source at most {most_ahead} ahead");
    let speedup = ratio(sequential_time, parallel_time);
    println!(
        "[main] sequential / windowed time = {speedup:.2}x on {THREADS} threads (a 2-core machine \
         tops out near 2x)"
    );
    let note = watch.shortfall_note(speedup, 1.5);
    note.iter().for_each(|note| println!("[main] {note}"));

    // Stopping early: take 5, then drop. The workers end; the source was read only a little.
    let pulled = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&pulled);
    let endless = (0u64..).inspect(move |_| _ = counted.fetch_add(1, Ordering::Relaxed));
    let first_five: Vec<u64> = OrderedParallelMap::new(endless, THREADS, WINDOW, work)?
        .take(5)
        .collect();
    let read_for_five = pulled.load(Ordering::Relaxed);
    println!("[main] take(5) from an endless input: {first_five:?}; {read_for_five} items read");

    assert_eq!(ordered, sequential, "input order, same values");
    assert!(windowed_max <= WINDOW, "{windowed_max} in flight");
    assert!(most_ahead <= WINDOW as u64, "{most_ahead} ahead");
    assert_eq!(first_five, sequential[..5]);
    assert!(read_for_five <= 5 + WINDOW as u64, "{read_for_five} read");
    println!(
        "result: {ITEMS} items in input order with at most {windowed_max} in flight; take(5) \
         from an endless input read {read_for_five} items (at most {})",
        5 + WINDOW
    );
    Ok(())
}

/// The work for item `i`: the primes in a block whose size (and so cost) varies.
fn work(i: u64) -> u64 {
    let low = 1_000_000 + i * 1_000;
    count_primes(low..low + 500 + (i * 7_919 % 5) * 500)
}

/// `input.map(f)` on `threads` worker threads, yielding results in input order, with at most
/// `window` items read from `input` and not yet yielded: memory stays bounded however long
/// the input is. Dropping it (after `take`, a `break`, or a panic) discards the queued items and
/// joins the workers. A panic in `f` is caught on the worker and raised again on the consumer
/// when it reaches that item: the same place a sequential `map` would panic.
#[derive(Debug)]
struct OrderedParallelMap<I: Iterator, R> {
    /// `fuse`d: once the input has said `None`, it is never asked again.
    input: Fuse<I>,
    /// `None` once dropping has begun: closing it tells the workers to stop.
    jobs: Option<Sender<(u64, I::Item)>>,
    /// A receiving end of the jobs, kept to throw away the queued jobs on drop.
    discard: Receiver<(u64, I::Item)>,
    /// Answers by item number: the value, or the message of the panic `f` caused.
    results: Receiver<(u64, Result<R, String>)>,
    /// Results that arrived before their turn, by sequence number.
    early: BTreeMap<u64, R>,
    next_to_send: u64,
    next_to_yield: u64,
    window: usize,
    /// The most items ever in flight (read and not yet yielded) at once.
    max_in_flight: usize,
    workers: Vec<JoinHandle<()>>,
}

impl<I: Iterator<Item: Send + 'static>, R: Send + 'static> OrderedParallelMap<I, R> {
    fn new<F>(input: I, threads: usize, window: usize, f: F) -> anyhow::Result<Self>
    where
        F: Fn(I::Item) -> R + Send + Sync + 'static,
    {
        anyhow::ensure!(threads > 0 && window > 0, "threads and window must be > 0");
        // Each channel holds `window`, and no more than `window` items exist.
        let (jobs, jobs_rx) = crossbeam_channel::bounded::<(u64, I::Item)>(window);
        let (results_tx, results) = crossbeam_channel::bounded(window);
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
            max_in_flight: 0,
            workers,
        })
    }

    /// Items read from the input and not yet yielded.
    fn in_flight(&self) -> usize {
        (self.next_to_send - self.next_to_yield) as usize
    }
}

impl<I: Iterator<Item: Send + 'static>, R: Send + 'static> Iterator for OrderedParallelMap<I, R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        loop {
            // Top the window up: read more input only while fewer than `window` items are out.
            while self.in_flight() < self.window {
                let Some(item) = self.input.next() else { break };
                self.jobs.as_ref()?.send((self.next_to_send, item)).ok()?;
                self.next_to_send += 1;
                self.max_in_flight = self.max_in_flight.max(self.in_flight());
            }
            if let Some(value) = self.early.remove(&self.next_to_yield) {
                self.next_to_yield += 1;
                return Some(value);
            }
            if self.in_flight() == 0 {
                return None; // the input is exhausted and everything has been yielded
            }
            // The next result in order is still being computed: wait for any result.
            let (seq, answer) = self.results.recv().expect("the workers outlive the map");
            match answer {
                Ok(value) => _ = self.early.insert(seq, value),
                Err(message) => panic!("the map function panicked on item {seq}: {message}"),
            }
        }
    }
}

impl<I: Iterator, R> Drop for OrderedParallelMap<I, R> {
    fn drop(&mut self) {
        // Close the jobs channel, throw away what is queued, and let each worker finish its
        // item: the result fits in the results channel, so nothing blocks.
        self.jobs = None;
        while self.discard.try_recv().is_ok() {}
        for worker in self.workers.drain(..) {
            let _ = worker.join(); // it catches `f`'s panics; nothing else in it can panic
        }
    }
}
