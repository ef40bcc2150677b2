//! # Lesson l3-11: `Barrier`, work in phases
//!
//! Replaces the Node course's hand-built generation barrier (a count and a generation number in
//! a `SharedArrayBuffer`, `Atomics.wait` until the generation changes). Its constructor
//! initialised the shared state, so every worker that built one reset the count the others were
//! using, and its `wait` was declared `async` but blocked the thread anyway. `std::sync::Barrier`
//! for `n` threads blocks each caller of `wait` until all `n` have called it, then releases them
//! together, and can be used again for the next phase. Exactly one thread per phase is told it
//! is the *leader*, for work that must be done once.
//!
//! Shows: a parallel prefix sum (each element replaced by the sum of itself and all before it)
//! in two phases. Phase 1: each thread makes the running sums of its own chunk. Phase 2: each
//! thread adds the totals of the chunks before it, which needs *every* phase-1 total: the
//! barrier between the phases guarantees they are all there. The result equals the sequential
//! prefix sum.
//!
//! `Barrier::wait` has no timeout: if one thread panics before it arrives, the others wait
//! forever. Use a barrier only between threads that cannot fail before reaching it.
//!
//! Run: `cargo run --release --example l3-11-barrier-phases`
//!
//! Expect: one line per phase from its leader, then `result: barrier prefix sums of 1..=10000
//! match the sequential ones, last 50005000`.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

const THREADS: usize = 4;
const N: u64 = 10_000;

fn main() {
    let input: Vec<u64> = (1..=N).collect();
    let parallel = prefix_sum_in_phases(&input);
    let sequential: Vec<u64> = input
        .iter()
        .scan(0, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .collect();
    assert_eq!(
        parallel, sequential,
        "the parallel prefix sum equals the sequential one"
    );
    let last = parallel[parallel.len() - 1];
    assert_eq!(last, 50_005_000);
    println!("result: barrier prefix sums of 1..={N} match the sequential ones, last {last}");
}

/// The prefix sum of `input`, by `THREADS` threads in two phases separated by a barrier.
fn prefix_sum_in_phases(input: &[u64]) -> Vec<u64> {
    let chunk_len = input.len().div_ceil(THREADS);
    let mut output = input.to_vec();
    let totals: Vec<AtomicU64> = (0..THREADS).map(|_| AtomicU64::new(0)).collect();
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        // Each thread owns one chunk of `output` (`chunks_mut` hands out disjoint `&mut`s).
        for (i, chunk) in output.chunks_mut(chunk_len).enumerate() {
            let (totals, barrier) = (&totals, &barrier);
            thread::Builder::new()
                .name(format!("prefix-{i}"))
                .spawn_scoped(s, move || {
                    // Phase 1: running sums within the chunk.
                    let mut running = 0;
                    for x in chunk.iter_mut() {
                        running += *x;
                        *x = running;
                    }
                    // Relaxed: the barrier orders this store before every read in phase 2.
                    totals[i].store(running, Ordering::Relaxed);
                    if barrier.wait().is_leader() {
                        println!("[prefix-{i}] phase 1 done by all {THREADS} threads");
                    }
                    // Phase 2: add what every chunk before this one adds up to.
                    let offset: u64 = totals[..i].iter().map(|t| t.load(Ordering::Relaxed)).sum();
                    for x in chunk.iter_mut() {
                        *x += offset;
                    }
                    if barrier.wait().is_leader() {
                        println!("[prefix-{i}] phase 2 done by all {THREADS} threads");
                    }
                })
                .expect("could not spawn a prefix thread");
        }
    });
    output
}
