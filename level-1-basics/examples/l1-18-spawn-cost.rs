//! # Lesson l1-18: what a thread costs
//!
//! Replaces the Node course's advice "starting a worker is expensive: do not start one per
//! tiny task", with a number measured on this machine instead of a claim. A Rust thread is far
//! cheaper to start than a Node worker (no new V8 isolate), but it is still a system call, a
//! stack and a scheduler entry.
//!
//! Shows: 1000 × (spawn + join) of a closure that does almost nothing, against 1000 inline
//! calls of the same closure. Starting and joining a thread costs microseconds (tens of them
//! on the course's 2-core machine); an inline call about a nanosecond. The work given to a
//! thread must cost far more than that for the thread to pay off (lesson l1-19).
//!
//! Run: `cargo run --release --example l1-18-spawn-cost` (a debug build works too, and shows
//! the same pattern with different numbers)
//!
//! Expect: the measured costs (they vary by machine, build and run), then
//! `result: 1000 spawns took ...x longer than 1000 inline calls (ratios vary by machine)`.
//! The asserts check the answers, and one comparison that holds by orders of magnitude (1000
//! spawns take longer than 1000 calls); no ratio is asserted.

use anyhow::anyhow;
use shared::timing::{ratio, timed};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

const SPAWNS: u64 = 1_000;

fn main() -> anyhow::Result<()> {
    println!("[main] every number below varies with the machine, the build (debug or --release)");
    println!("[main] and the run: read the ratio as an order of magnitude");

    let (spawned_total, spawn_time) = timed(spawn_and_join_each);
    let (inline_total, inline_time) = timed(call_each_inline);
    let spawned_total = spawned_total?;

    let spawn_ratio = ratio(spawn_time, inline_time);
    let each = |total: Duration| total.as_nanos() as f64 / SPAWNS as f64;
    println!("[main] spawn + join: {:>10.1} ns each", each(spawn_time));
    println!("[main] inline call:  {:>10.1} ns each", each(inline_time));
    println!("[main] a thread costs {spawn_ratio:.0}x a call");

    assert_eq!(spawned_total, inline_total);
    assert_eq!(inline_total, SPAWNS * (SPAWNS - 1) / 2);
    assert!(
        spawn_time > inline_time,
        "starting {SPAWNS} threads cannot be faster than {SPAWNS} function calls"
    );
    println!(
        "result: {SPAWNS} spawns took {spawn_ratio:.0}x longer than {SPAWNS} inline calls \
         (ratios vary by machine)"
    );
    Ok(())
}

/// Almost no work: `black_box` stops the optimiser from deleting it.
fn trivial(i: u64) -> u64 {
    black_box(i)
}

/// One thread per call, each joined before the next starts.
fn spawn_and_join_each() -> anyhow::Result<u64> {
    let mut total = 0;
    for i in 0..SPAWNS {
        total += thread::spawn(move || trivial(i))
            .join()
            .map_err(|_| anyhow!("an empty thread panicked"))?;
    }
    Ok(total)
}

/// The same calls, on this thread.
fn call_each_inline() -> u64 {
    (0..SPAWNS).map(trivial).sum()
}
