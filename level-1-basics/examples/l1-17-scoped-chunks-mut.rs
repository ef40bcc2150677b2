//! # Lesson l1-17: scoped threads writing disjoint parts of one `Vec`
//!
//! Replaces Node's workers each writing their own range of a shared `Float64Array` over a
//! `SharedArrayBuffer`, where nothing stops two workers from writing the same index. In Rust,
//! `chunks_mut` cuts a slice into disjoint `&mut` parts, so each scoped thread may write its
//! own part, and the compiler knows no two threads can touch the same element: no lock, no
//! atomics, no copy.
//!
//! Shows: squares filled in parallel, one `&mut` chunk of the output per thread, while every
//! thread also reads the input through a shared `&`; `scope` joins them all without a single
//! `join` written. Checked against the sequential computation.
//!
//! Run: `cargo run --example l1-17-scoped-chunks-mut`
//!
//! Expect: one line per thread, then
//! `result: 2000000 squares filled by N threads in disjoint chunks, parallel equals sequential`.

use anyhow::Context;
use std::thread;

const LEN: u64 = 2_000_000;

fn main() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (1..=LEN).collect();
    let threads = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();

    let mut squares = vec![0_u64; numbers.len()];
    fill_squares_in_parallel(&numbers, &mut squares, threads);
    println!(
        "[main] first squares {:?}, last {}",
        &squares[..4],
        squares.last().copied().unwrap_or_default()
    );

    let sequential: Vec<u64> = numbers.iter().map(|&n| n * n).collect();
    assert_eq!(squares, sequential);
    assert_eq!(squares.last(), Some(&(LEN * LEN)));
    println!(
        "result: {} squares filled by {threads} threads in disjoint chunks, parallel equals sequential",
        squares.len()
    );
    Ok(())
}

/// Each thread gets a chunk of `input` to read and the matching chunk of `output` to write.
fn fill_squares_in_parallel(input: &[u64], output: &mut [u64], threads: usize) {
    let chunk_len = input.len().div_ceil(threads).max(1);
    thread::scope(|s| {
        let parts = input.chunks(chunk_len).zip(output.chunks_mut(chunk_len));
        for (i, (input, output)) in parts.enumerate() {
            s.spawn(move || {
                for (slot, &n) in output.iter_mut().zip(input) {
                    *slot = n * n;
                }
                println!(
                    "[square-{i}] wrote {} squares into my own chunk",
                    output.len()
                );
            });
        }
        // No joins written here: `scope` joins every thread before it returns (and, if one
        // panicked, panics with it).
    });
}
