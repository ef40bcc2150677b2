//! # Lesson l3-21: recycling buffers instead of allocating one per task
//!
//! Replaces the Node course's memory advice "reuse buffers" (and its leak detector sampling
//! `process.memoryUsage()`). Rust has no garbage collector: a value is freed when its owner
//! goes out of scope. What is left to manage is how often a program asks the allocator for
//! memory. Shows: a reader thread fills 64 KiB buffers and sends them to two workers. A fresh
//! buffer per task costs one allocation and one free per task (the free on another thread);
//! recycling sends each used buffer back over a second channel to the reader, which refills
//! it: at most 7 buffers (one for every place a buffer can be at once), however many tasks.
//! The counts come from `shared::alloc::CountingAllocator` (lesson l3-19).
//!
//! Run: `cargo run --release --example l3-21-buffer-recycling` (a debug build's times say little)
//!
//! Expect: each way's counts (exact, asserted) and a time ratio, the best of 5 interleaved
//! rounds (printed, never asserted), then `result: 1024 tasks: 1024 buffer allocations per-task
//! vs N recycled (Nx, times vary by machine)`.

use anyhow::{anyhow, ensure};
use crossbeam_channel::{Receiver, Sender};
use shared::alloc::{self, AllocStats, CountingAllocator};
use shared::timing::compare_text;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// Tasks, each one buffer of `BUFFER` bytes; worker threads; the channel of filled buffers.
const TASKS: usize = 1024;
const BUFFER: usize = 64 * 1024;
const WORKERS: usize = 2;
const IN_FLIGHT: usize = 4;
/// How many buffers recycling may make: one for every place a buffer can be at once (the
/// channel, each worker's hands, the reader's), so that the reader never waits for one.
const POOL: usize = IN_FLIGHT + WORKERS + 1;
/// Each time is the best of this many rounds; a round runs both ways once, so that a slow
/// spell of the machine hits both alike.
const ROUNDS: usize = 5;

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not installed"
    );
    let (mut per_task, mut recycled) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        per_task.push(pipeline(Buffers::PerTask)?);
        recycled.push(pipeline(Buffers::Recycled)?);
    }
    let best = |runs: &[Run]| runs.iter().map(|r| r.time).min().unwrap_or_default();
    let speedup = compare_text(best(&per_task), best(&recycled));
    let (per_task, recycled) = (&per_task[ROUNDS - 1], &recycled[ROUNDS - 1]);
    for (label, run) in [("per task", per_task), ("recycled", recycled)] {
        println!(
            "[main] {label}: {} buffers made; the process made {} allocations ({} KiB)",
            run.buffers_made,
            run.allocated.allocations,
            run.allocated.bytes_allocated / 1024
        );
    }
    println!(
        "[main] time: per task / recycled = {speedup} (the system allocator reuses freed \
         blocks quickly too: the sure win is the count)"
    );

    assert_eq!(
        per_task.checksum, recycled.checksum,
        "same messages, same sums"
    );
    assert_eq!(per_task.buffers_made, TASKS);
    assert!(recycled.buffers_made <= POOL);
    // At least one block of BUFFER bytes per task the first way; the second way no more than
    // the buffers made plus small bookkeeping (thread starts and such, far below one buffer).
    assert!(per_task.allocated.allocations >= TASKS as u64);
    assert!(per_task.allocated.bytes_allocated >= (TASKS * BUFFER) as u64);
    let recycled_ceiling = ((recycled.buffers_made + 1) * BUFFER) as u64;
    assert!(
        recycled.allocated.bytes_allocated < recycled_ceiling,
        "{}",
        recycled.allocated
    );
    println!(
        "result: {TASKS} tasks: {} buffer allocations per-task vs {} recycled ({speedup}, \
         times vary by machine)",
        per_task.buffers_made, recycled.buffers_made
    );
    Ok(())
}

/// Where the reader gets the buffer for the next task.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Buffers {
    /// A new `Vec` per task; the worker drops it when done.
    PerTask,
    /// Used buffers come back over a channel and are refilled.
    Recycled,
}

/// What one run did: the sum of every task's checksum, buffers the reader allocated, what the
/// whole process allocated meanwhile, and the time.
#[derive(Debug)]
struct Run {
    checksum: u64,
    buffers_made: usize,
    allocated: AllocStats,
    time: Duration,
}

/// TASKS messages through a reader and WORKERS workers. The threads wait at a `Barrier` so
/// that the timing covers only the run, not their start.
fn pipeline(mode: Buffers) -> anyhow::Result<Run> {
    let (full_tx, full_rx) = crossbeam_channel::bounded::<Vec<u8>>(IN_FLIGHT);
    let (free_tx, free_rx) = crossbeam_channel::bounded::<Vec<u8>>(POOL);
    let gate = Barrier::new(WORKERS + 2);
    let before = alloc::process_stats().totals;
    let (made, sums, time) = thread::scope(|s| -> anyhow::Result<_> {
        let gate = &gate;
        let reader = s.spawn(move || {
            gate.wait();
            read_messages(mode, full_tx, free_rx)
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (full_rx, free_tx) = (full_rx.clone(), free_tx.clone());
                s.spawn(move || {
                    gate.wait();
                    work(mode, full_rx, free_tx)
                })
            })
            .collect();
        drop((full_rx, free_tx));
        gate.wait();
        let started = Instant::now();
        let made = reader.join().map_err(|_| anyhow!("the reader panicked"))?;
        let sums = workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow!("a worker panicked")))
            .collect::<anyhow::Result<Vec<(u64, usize)>>>()?;
        Ok((made, sums, started.elapsed()))
    })?;
    let tasks: usize = sums.iter().map(|&(_, n)| n).sum();
    ensure!(tasks == TASKS, "{tasks} of {TASKS} tasks were worked on");
    Ok(Run {
        checksum: sums.iter().fold(0, |acc, &(sum, _)| acc.wrapping_add(sum)),
        buffers_made: made,
        allocated: alloc::process_stats().totals.since(&before),
        time,
    })
}

/// The reader: one buffer per task, filled and sent. Returns how many buffers it allocated.
fn read_messages(mode: Buffers, full: Sender<Vec<u8>>, free: Receiver<Vec<u8>>) -> usize {
    let mut made = 0;
    for task in 0..TASKS {
        // Recycled: reuse a returned buffer if there is one; allocate only while fewer than
        // POOL exist, then wait for one to come back.
        let mut buffer = match free.try_recv() {
            Ok(buffer) => buffer,
            Err(_) if mode == Buffers::PerTask || made < POOL => {
                made += 1;
                Vec::with_capacity(BUFFER)
            }
            Err(_) => free
                .recv()
                .expect("the workers hold the free list's senders"),
        };
        // The message, as if read from a file or a socket, reusing the buffer's capacity.
        buffer.clear();
        buffer.extend((0..BUFFER).map(|i| (task.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8));
        if full.send(buffer).is_err() {
            break; // the workers are gone; the run will fail its checks
        }
    }
    made
}

/// A worker: checksums every message, then drops its buffer or sends it back.
fn work(mode: Buffers, full: Receiver<Vec<u8>>, free: Sender<Vec<u8>>) -> (u64, usize) {
    let (mut sum, mut tasks) = (0u64, 0);
    for buffer in full {
        let checksum = buffer.iter().enumerate().fold(0u64, |sum, (i, &b)| {
            sum.wrapping_add(u64::from(b) * (i as u64 % 251 + 1))
        });
        sum = sum.wrapping_add(checksum);
        tasks += 1;
        match mode {
            // Freed here, on another thread than the one that allocated it.
            Buffers::PerTask => drop(buffer),
            // Room for every buffer that exists: never blocks; fails once the reader is done.
            Buffers::Recycled => {
                let _ = free.send(buffer);
            }
        }
    }
    (sum, tasks)
}
