//! # Lesson l1-18: what a thread costs
//!
//! Replaces the Node course's advice "starting a worker is expensive: do not start one per
//! tiny task", with a number measured on this machine instead of a claim. A Rust thread is far
//! cheaper to start than a Node worker (no new V8 isolate), but it is still a system call, a
//! stack and a scheduler entry.
//!
//! Shows: 1000 × (spawn + join) of a closure that does almost nothing, against 1000 inline
//! calls of the same closure. Starting and joining a thread costs microseconds (tens of them
//! on the course's 2-core machine); an inline call a few nanoseconds at most, so 1000 of them
//! take microseconds: too short for the clock to compare with anything, and the lesson
//! says so instead of printing a ratio of noise (`shared::timing::compare_text`). The work
//! given to a thread must cost far more than a spawn for the thread to pay off (lesson l1-19).
//!
//! Run: `cargo run --release --example l1-18-spawn-cost` (a debug build works too, and shows
//! the same pattern with different numbers)
//!
//! Expect: the measured costs in µs (they vary by machine, build and run), then
//! `result: 1000 spawns took longer than 1000 inline calls, ... µs per spawn + join (times
//! vary by machine)`. The asserts check the answers, and one comparison that holds by orders
//! of magnitude (1000 spawns take longer than 1000 calls); no time or ratio is asserted.

use anyhow::anyhow;
use shared::timing::{compare_text, timed};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

const SPAWNS: u64 = 1_000;

fn main() -> anyhow::Result<()> {
    let build = if cfg!(debug_assertions) {
        "a debug build: --release runs faster"
    } else {
        "a release build"
    };
    println!("[main] every time below varies with the machine, the build (this is {build})");
    println!("[main] and the run: read it as an order of magnitude");

    let (spawned_total, spawn_time) = timed(spawn_and_join_each);
    let (inline_total, inline_time) = timed(call_each_inline);
    let spawned_total = spawned_total?;

    let micros_each = |total: Duration| total.as_secs_f64() * 1e6 / SPAWNS as f64;
    let spawn_us = micros_each(spawn_time);
    println!("[main] spawn + join: {spawn_us:>9.1} µs each, {spawn_time:>10.2?} for {SPAWNS}");
    println!(
        "[main] inline call:  {:>9.1} ns each, {inline_time:>10.2?} for {SPAWNS}",
        micros_each(inline_time) * 1e3
    );
    // A ratio needs both times long enough to measure; the inline calls never are.
    println!(
        "[main] spawns / calls: {}",
        compare_text(spawn_time, inline_time)
    );
    println!("[main] so a thread pays off only for work that costs far more than {spawn_us:.0} µs");

    assert_eq!(spawned_total, inline_total);
    assert_eq!(inline_total, SPAWNS * (SPAWNS - 1) / 2);
    assert!(
        spawn_time > inline_time,
        "starting {SPAWNS} threads cannot be faster than {SPAWNS} function calls"
    );
    println!(
        "result: {SPAWNS} spawns took longer than {SPAWNS} inline calls, {spawn_us:.1} µs per \
         spawn + join (times vary by machine)"
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
