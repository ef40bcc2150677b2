//! # Lesson l2-12: a thread's stack size
//!
//! Replaces Node's `new Worker(file, { resourceLimits: { stackSizeMb } })`. A Rust thread's
//! stack is sized when it is spawned: `thread::Builder::stack_size` (the pool builder has a
//! `stack_size` too). A spawned thread gets 2 MiB unless told otherwise (`RUST_MIN_STACK`
//! changes the default). Only the pages a thread touches are backed by memory; the rest is
//! reserved address space, so a big stack costs little until it is used.
//!
//! Shows: a recursion 10,000 frames deep, each frame holding 1 KiB, which needs more than a
//! default thread's 2 MiB, run on a thread given 256 MiB; how much stack it really used,
//! measured from the addresses of its first and deepest frames.
//!
//! Why no stack overflow is shown: a Rust thread that overflows its stack hits a guard page,
//! and the runtime prints "thread '...' has overflowed its stack" and **aborts the whole
//! process**. It is not a panic: `catch_unwind` cannot stop it and `join` never sees it. (A
//! Node worker gets a catchable `RangeError`.) Size the stack before spawning, bound the
//! depth, or turn the recursion into a loop.
//!
//! Run: `cargo run --release --example l2-12-stack-size`
//!
//! Expect: the stack the recursion used, then `result: 10000 frames deep, ~10 MiB of stack
//! used (more than the default 2 MiB), sum checked` (the MiB vary a little by build).

use anyhow::{Context, anyhow};
use std::hint::black_box;
use std::thread;

const MIB: usize = 1024 * 1024;
/// Recursion depth, and the bytes each frame holds on the stack.
const DEPTH: u32 = 10_000;
const FRAME: usize = 1024;
/// The stack the recursion's thread is given: far more than it needs.
const BIG_STACK: usize = 256 * MIB;
/// A spawned thread's stack unless told otherwise.
const DEFAULT_STACK: usize = 2 * MIB;

fn main() -> anyhow::Result<()> {
    let worker = thread::Builder::new()
        .name("deep".to_owned())
        .stack_size(BIG_STACK)
        .spawn(recurse_and_measure)
        .context("could not spawn a thread with a 256 MiB stack")?;
    let (sum, used) = worker
        .join()
        .map_err(|_| anyhow!("the deep thread panicked"))?;

    let expected: u64 = (1..=DEPTH).map(|d| u64::from(d as u8)).sum();
    assert_eq!(sum, expected);
    assert!(
        used > DEFAULT_STACK,
        "the recursion should need more than a default thread's stack"
    );
    println!(
        "result: {DEPTH} frames deep, ~{:.0} MiB of stack used (more than the default {} MiB), \
         sum checked",
        used as f64 / MIB as f64,
        DEFAULT_STACK / MIB
    );
    Ok(())
}

/// Runs on the big-stack thread: recurses, and returns the sum with the stack bytes used.
fn recurse_and_measure() -> (u64, usize) {
    let top = black_box(0u8);
    let top = &top as *const u8 as usize;
    let (sum, deepest) = deep(DEPTH);
    // The stack grows down on every platform Rust runs threads on; `abs_diff` does not care.
    let used = top.abs_diff(deepest);
    println!(
        "[deep] {DEPTH} frames deep, {:.1} MiB of my {} MiB stack used",
        used as f64 / MIB as f64,
        BIG_STACK / MIB
    );
    (sum, used)
}

/// Recurses `depth` times, each frame holding a 1 KiB array, and returns the sum of one byte
/// per frame with the address of the deepest frame's array.
fn deep(depth: u32) -> (u64, usize) {
    // `black_box` keeps the array real: the optimiser may not shrink or share it.
    let frame = black_box([depth as u8; FRAME]);
    if depth == 0 {
        return (0, frame.as_ptr() as usize);
    }
    let (sum, deepest) = deep(depth - 1);
    // Used after the call returns, so every frame stays on the stack until the end.
    (sum + u64::from(frame[depth as usize % FRAME]), deepest)
}
