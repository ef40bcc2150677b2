//! # Lesson l3-28: the naive parallel map reads everything, and answers out of order
//!
//! Replaces Node's streams and async iterators (`for await (const chunk of stream)`), which the
//! Node course lists and never builds, and its habit of posting every task to the workers at
//! once. Shows: sending every item to the workers at once reads the whole input before the
//! first result is used, and the results come back in completion order, not input order. (The
//! fix, an ordered map with a window, is lesson l3-29.)
//!
//! Run: `cargo run --release --example l3-28-naive-parallel-map`
//!
//! Expect: how many items were in flight and how many results arrived out of place, then
//! `result: 2000 items, all 2000 in flight before the first result was used; N arrived out of
//! input order`.

use anyhow::{Context, anyhow};
use shared::testing::{TIMEOUT, join_within};
use shared::workload::count_primes;
use std::thread;

/// How many items, and how many worker threads.
const ITEMS: u64 = 2000;
const THREADS: usize = 2;

fn main() -> anyhow::Result<()> {
    let sequential: Vec<u64> = (0..ITEMS).map(work).collect();
    let (arrived, max_in_flight) = naive_parallel_map(ITEMS)?;
    let out_of_place = arrived
        .iter()
        .enumerate()
        .filter(|&(position, &(item, _))| position as u64 != item)
        .count();
    println!(
        "[main] all {max_in_flight} items sent before the first result was used; \
         {out_of_place} of {} results arrived out of input order",
        arrived.len()
    );

    assert_eq!(max_in_flight as u64, ITEMS);
    // Sorted by item number, the answers are the sequential ones: only the order is lost.
    let mut by_item = arrived;
    by_item.sort_unstable();
    let values: Vec<u64> = by_item.into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, sequential);
    println!(
        "result: {ITEMS} items, all {max_in_flight} in flight before the first result was used; \
         {out_of_place} arrived out of input order"
    );
    Ok(())
}

/// The work for item `i`: counting the primes in a block whose size (and so cost) varies, so
/// that the workers finish out of order.
fn work(i: u64) -> u64 {
    let low = 1_000_000 + i * 1_000;
    let len = 500 + (i * 7_919 % 5) * 500;
    count_primes(low..low + len)
}

/// Every item sent to the workers at once, results gathered as they come. Returns the results
/// in arrival order, with their item numbers, and the most in flight.
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
    let arrived: Vec<(u64, u64)> = results_rx.iter().collect();
    for worker in workers {
        join_within(worker, TIMEOUT, "a naive worker")
            .map_err(|_| anyhow!("a naive worker panicked"))?;
    }
    Ok((arrived, in_flight))
}
