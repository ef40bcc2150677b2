//! # Lesson l3-22: preallocation: `Vec::with_capacity` against growing
//!
//! Replaces the Node course's "GC tuning" advice: Rust has no collector to tune, but every
//! growing `Vec` asks the allocator again. Shows: 16,384 rows of 256 values, each built by
//! pushing into `Vec::new()`, grow step by step, each step a reallocation that may copy the row
//! so far; `Vec::with_capacity` (and `collect` from an iterator of known length) allocates each
//! row once. Counted by `shared::alloc::CountingAllocator` (lesson l3-19) on this thread.
//!
//! Run: `cargo run --release --example l3-22-preallocation` (a debug build's times say little)
//!
//! Expect: each builder's allocation counts (exact, asserted) and time ratios, best of 5
//! rounds (printed, never asserted), then `result: 16384 rows: 98304 reallocations grown vs 0
//! preallocated (Nx, times vary by machine)`.

use anyhow::ensure;
use shared::alloc::{self, AllocStats, CountingAllocator};
use shared::timing::{compare_text, timed};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// How many rows to build, and how many values to push into each.
const ROWS: usize = 16_384;
const ROW_LEN: usize = 256;
/// Each time is the best of this many rounds; a round runs every builder once.
const ROUNDS: usize = 5;

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not installed"
    );
    let builders: [Builder; 3] = [
        ("Vec::new() + push", grown),
        ("Vec::with_capacity + push", preallocated),
        ("collect() from a range", collected),
    ];
    let mut best = [Duration::MAX; 3];
    let mut outcomes = Vec::new();
    for _ in 0..ROUNDS {
        // The previous round's rows are freed first, so each build starts from the same heap.
        outcomes.clear();
        for (i, (_, build)) in builders.iter().enumerate() {
            let ((rows, stats), time) = timed(|| alloc::allocated_by(build));
            best[i] = best[i].min(time);
            outcomes.push((rows, stats));
        }
    }
    for ((label, _), (_, stats)) in builders.iter().zip(&outcomes) {
        println!("[main] {label:<26} {stats}");
    }
    let (grown_rows, grown_stats) = &outcomes[0];
    println!(
        "[main] a growing row is reallocated {} times on its way to {ROW_LEN} values, and each \
         move may copy it",
        grown_stats.reallocations / ROWS as u64
    );
    let speedup = compare_text(best[0], best[1]);
    println!(
        "[main] time: grown / preallocated = {speedup}, grown / collected = {}",
        compare_text(best[0], best[2])
    );

    let stats: Vec<&AllocStats> = outcomes.iter().map(|(_, s)| s).collect();
    for (rows, _) in &outcomes[1..] {
        assert_eq!(grown_rows, rows, "every builder builds the same rows");
    }
    // One block per row, plus the outer `Vec`, in every builder.
    for s in &stats {
        assert_eq!(s.allocations, ROWS as u64 + 1, "{s}");
    }
    // Growing to 256 takes several steps per row (4, 8, ..., 256 with today's `Vec`);
    // asserting "at least one per row" keeps the check true for any growth policy.
    assert!(stats[0].reallocations >= ROWS as u64, "{}", stats[0]);
    assert_eq!(stats[1].reallocations, 0);
    assert_eq!(stats[2].reallocations, 0);
    assert_eq!(stats[1].bytes_allocated, stats[2].bytes_allocated);
    println!(
        "result: {ROWS} rows: {} reallocations grown vs 0 preallocated ({speedup}, times \
         vary by machine)",
        stats[0].reallocations
    );
    Ok(())
}

/// The rows a builder makes, and a builder with its label.
type Rows = Vec<Vec<u32>>;
type Builder = (&'static str, fn() -> Rows);

/// The value pushed at position `i` of row `row`.
fn value(row: usize, i: usize) -> u32 {
    (row * ROW_LEN + i) as u32 ^ 0x9e37_79b9
}

/// Rows built one `push` at a time into a `Vec` that starts empty: each row grows as it goes.
/// (The outer `Vec` is preallocated in all three builders: the rows are the lesson.)
fn grown() -> Rows {
    let mut rows = Vec::with_capacity(ROWS);
    for row in 0..ROWS {
        let mut v = Vec::new();
        for i in 0..ROW_LEN {
            v.push(value(row, black_box(i)));
        }
        rows.push(v);
    }
    rows
}

/// The same pushes into rows that have room for all of them from the start.
fn preallocated() -> Rows {
    let mut rows = Vec::with_capacity(ROWS);
    for row in 0..ROWS {
        let mut v = Vec::with_capacity(ROW_LEN);
        for i in 0..ROW_LEN {
            v.push(value(row, black_box(i)));
        }
        rows.push(v);
    }
    rows
}

/// The same rows from `collect`: a `Range` mapped is an iterator of known length, so `collect`
/// allocates each row once, at its final size.
fn collected() -> Rows {
    (0..ROWS)
        .map(|row| (0..ROW_LEN).map(|i| value(row, black_box(i))).collect())
        .collect()
}
