//! # Lesson l1-16: scoped threads that borrow
//!
//! Replaces Node's way of splitting an array between workers: slice it, `postMessage` a *copy*
//! of each slice to a worker (or set up a `SharedArrayBuffer`), and add up the replies. With
//! `std::thread::scope`, Rust threads read the caller's data in place: no copy, no `Arc`, no
//! channel. (No Node equivalent: workers cannot borrow.)
//!
//! Shows: a parallel sum, one chunk of a borrowed slice per available core, each partial sum
//! returned through `join` and checked against the sequential sum.
//!
//! Why `thread::spawn` cannot do this: it requires a `'static` closure, because nothing forces
//! anyone to join the thread it starts. Its `JoinHandle` can be dropped, and the thread would
//! then keep running after the function that owns the data has returned and freed it, so the
//! compiler refuses a borrow (error E0373, shown in guide 1). `thread::scope` makes the
//! promise the compiler needs: every thread spawned in the scope is joined before `scope`
//! returns, so the borrowed data outlives them all.
//!
//! Run: `cargo run --example l1-16-scoped-threads`
//!
//! Expect: one line per summing thread, then
//! `result: sum of 1..=2000000 = 2000001000000 on N threads, parallel equals sequential`.

use anyhow::{Context, anyhow};
use std::thread;

const LEN: u64 = 2_000_000;

fn main() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (1..=LEN).collect();
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();

    let parallel_sum = sum_in_borrowed_chunks(&numbers, cores)?;
    // The scope has ended, so the borrows have too: `numbers` is the main thread's alone again.
    let sequential_sum: u64 = numbers.iter().sum();
    println!("[main] parallel sum {parallel_sum}, sequential sum {sequential_sum}");

    assert_eq!(parallel_sum, sequential_sum);
    assert_eq!(parallel_sum, LEN * (LEN + 1) / 2);
    println!(
        "result: sum of 1..={LEN} = {parallel_sum} on {cores} threads, parallel equals sequential"
    );
    Ok(())
}

/// One thread per chunk. Each borrows its chunk of `numbers` (a `&[u64]`) and returns its
/// partial sum through `join`.
fn sum_in_borrowed_chunks(numbers: &[u64], threads: usize) -> anyhow::Result<u64> {
    // The last chunk is shorter when the length does not divide evenly.
    let chunk_len = numbers.len().div_ceil(threads).max(1);
    println!("[main] {} numbers in chunks of {chunk_len}", numbers.len());
    thread::scope(|s| {
        let mut workers = Vec::new();
        for (i, chunk) in numbers.chunks(chunk_len).enumerate() {
            let worker = thread::Builder::new()
                .name(format!("sum-{i}"))
                .spawn_scoped(s, move || {
                    let sum: u64 = chunk.iter().sum();
                    let first = chunk.first().copied().unwrap_or_default();
                    let last = chunk.last().copied().unwrap_or_default();
                    println!(
                        "[sum-{i}] summed {} borrowed numbers {first}..={last}: {sum}",
                        chunk.len()
                    );
                    sum
                })
                .context("could not spawn a scoped thread")?;
            workers.push(worker);
        }
        // Joining by hand to collect the partial sums (and see a panic as an `Err`); any
        // thread not joined here would still be joined when the scope ends.
        let mut total = 0;
        for worker in workers {
            total += worker
                .join()
                .map_err(|_| anyhow!("a summing thread panicked"))?;
        }
        Ok(total)
    })
}
