//! # Lesson l1-08: scoped threads that borrow
//!
//! Replaces Node's way of splitting an array between workers: slice it, `postMessage` a *copy*
//! of each slice to a worker (or set up a `SharedArrayBuffer`), and add up the replies. With
//! `std::thread::scope`, Rust threads read the caller's data in place: no copy, no `Arc`, no
//! channel.
//!
//! Shows: a parallel sum, one chunk of a borrowed slice per available core, each partial sum
//! returned through `join`; then `chunks_mut`, which hands each thread its own disjoint
//! `&mut` part of a `Vec` to fill, while all of them also read the shared input. Both results
//! are checked against the sequential computation.
//!
//! Why `thread::spawn` cannot do this: it requires a `'static` closure, because nothing forces
//! anyone to join the thread it starts. Its `JoinHandle` can be dropped, and the thread would
//! then keep running after the function that owns the data has returned and freed it, so the
//! compiler refuses a borrow (error E0373, shown in guide 1). `thread::scope` makes the
//! promise the compiler needs: every thread spawned in the scope is joined before `scope`
//! returns, so the borrowed data outlives them all.
//!
//! Run: `cargo run --example l1-08-scoped-threads`
//!
//! Expect: one line per summing thread, the squares filled in parallel, then
//! `result: sum of 1..=2000000 = 2000001000000 and 2000000 squares, parallel equals sequential`.

use anyhow::{Context, anyhow};
use std::thread;

const LEN: u64 = 2_000_000;

fn main() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (1..=LEN).collect();
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    // One chunk per core; the last chunk is shorter when the length does not divide evenly.
    let chunk_len = numbers.len().div_ceil(cores);
    println!(
        "[main] {cores} cores here: {} numbers in chunks of {chunk_len}",
        numbers.len()
    );

    // Part 1: a parallel sum. Each thread borrows its chunk of `numbers` (a `&[u64]`) and
    // returns its partial sum through `join`.
    let parallel_sum = thread::scope(|s| -> anyhow::Result<u64> {
        let mut workers = Vec::new();
        for (i, chunk) in numbers.chunks(chunk_len).enumerate() {
            let worker = thread::Builder::new()
                .name(format!("sum-{i}"))
                .spawn_scoped(s, move || {
                    let sum: u64 = chunk.iter().sum();
                    println!(
                        "[sum-{i}] summed {} borrowed numbers ({}..={}): {sum}",
                        chunk.len(),
                        chunk.first().copied().unwrap_or_default(),
                        chunk.last().copied().unwrap_or_default()
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
    })?;
    // The scope has ended, so the borrows have too: `numbers` is the main thread's alone again.
    let sequential_sum: u64 = numbers.iter().sum();
    println!("[main] parallel sum {parallel_sum}, sequential sum {sequential_sum}");

    // Part 2: fill a Vec in parallel. `chunks_mut` cuts `squares` into disjoint `&mut`
    // slices, so each thread may write its own part, and the compiler knows no two threads
    // can touch the same element. Every thread also reads `numbers` through a shared `&`.
    let mut squares = vec![0_u64; numbers.len()];
    thread::scope(|s| {
        for (input, output) in numbers.chunks(chunk_len).zip(squares.chunks_mut(chunk_len)) {
            s.spawn(move || {
                for (slot, &n) in output.iter_mut().zip(input) {
                    *slot = n * n;
                }
            });
        }
        // No joins written here: `scope` joins every thread before it returns (and, if one
        // panicked, panics with it).
    });
    let sequential_squares: Vec<u64> = numbers.iter().map(|&n| n * n).collect();
    println!(
        "[main] squares filled in parallel: first {:?}, last {}",
        &squares[..4],
        squares.last().copied().unwrap_or_default()
    );

    assert_eq!(parallel_sum, sequential_sum);
    assert_eq!(parallel_sum, LEN * (LEN + 1) / 2);
    assert_eq!(squares, sequential_squares);
    assert_eq!(squares.last(), Some(&(LEN * LEN)));
    println!(
        "result: sum of 1..={LEN} = {parallel_sum} and {} squares, parallel equals sequential",
        squares.len()
    );
    Ok(())
}
