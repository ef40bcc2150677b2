//! # Lesson l2-16: a bounded queue caps memory
//!
//! Replaces the Node course's unbounded `postMessage` queues, where a producer faster than its
//! worker piles up messages until the heap limit hits. There is no per-thread heap to cap in
//! Rust (lesson l2-14), but what can grow can be bounded: a `bounded(n)` channel holds at most
//! `n` items, and a producer that finds it full waits (backpressure) instead of allocating
//! more. The live memory is then capped by the capacity, not by how far ahead the producer is.
//!
//! Shows: a producer of 32 items of 1 MiB and a consumer that starts only once the producer is
//! blocked (bounded queue of 4) or done (unbounded queue), so what piles up is decided by the
//! queue alone, not by timing; the peak of live heap memory of each run, measured by lesson
//! l2-13's counting allocator.
//!
//! Run: `cargo run --release --example l2-16-bounded-queue-caps-memory`
//!
//! Expect: the producer blocked at item 4, the two peaks, then `result: 32 items arrived in
//! order both ways; bounded peak ~6 MiB vs unbounded ~32 MiB`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::{Sender, TrySendError};
use shared::alloc::{self, CountingAllocator};
use std::thread;
use std::time::Duration;

// Every allocation of this program goes through the counting allocator.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// Items of 1 MiB, how many, and how many the bounded queue holds.
const ITEM: usize = 1024 * 1024;
const ITEMS: usize = 32;
const CAPACITY: usize = 4;
/// How long any wait may last before the run is called a failure. Only a bug reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not the global allocator"
    );
    let bounded = flow(Some(CAPACITY))?;
    println!(
        "[main] bounded({CAPACITY}): producer waited for room {} times; peak +{:.1} MiB",
        bounded.waits,
        mib(bounded.peak)
    );
    let unbounded = flow(None)?;
    println!(
        "[main] unbounded:   producer waited {} times; peak +{:.1} MiB",
        unbounded.waits,
        mib(unbounded.peak)
    );

    // Every item arrived, in order; the bounded queue blocked the producer exactly when it was
    // full and kept at most its capacity plus the two items in hand alive.
    let firsts: Vec<u8> = (0..ITEMS).map(|i| i as u8).collect();
    let item_total: u64 = (0..ITEMS as u64).sum::<u64>() * ITEM as u64;
    for run in [&bounded, &unbounded] {
        assert_eq!(run.received, firsts);
        assert_eq!(run.total, item_total);
    }
    assert_eq!(bounded.first_full, Some(CAPACITY));
    assert!(
        bounded.peak < ((CAPACITY + 3) * ITEM) as u64,
        "{}",
        bounded.peak
    );
    assert_eq!((unbounded.first_full, unbounded.waits), (None, 0));
    assert!(
        unbounded.peak >= (ITEMS * ITEM) as u64,
        "{}",
        unbounded.peak
    );
    println!(
        "result: {ITEMS} items arrived in order both ways; bounded peak ~{:.0} MiB vs unbounded \
         ~{:.0} MiB",
        mib(bounded.peak),
        mib(unbounded.peak)
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / ITEM as f64
}

/// What one run of the producer and consumer saw.
#[derive(Debug)]
struct Flow {
    /// The item whose `try_send` first found the queue full, if any.
    first_full: Option<usize>,
    /// How many items found the queue full.
    waits: usize,
    /// The first byte of each item the consumer got, in order.
    received: Vec<u8>,
    /// The sum of every byte received.
    total: u64,
    /// The peak of live heap memory during the run, above what was live before it.
    peak: u64,
}

/// What the producer tells the main thread.
#[derive(Debug)]
enum Progress {
    /// The queue was full when item `at` was ready: the producer now waits for room.
    Blocked { at: usize },
    /// Every item is in the queue.
    AllQueued,
}

/// A producer of 1 MiB items and a consumer that starts only once the producer is blocked
/// (bounded queue) or done (unbounded queue).
fn flow(capacity: Option<usize>) -> anyhow::Result<Flow> {
    let (queue_tx, queue_rx) = match capacity {
        Some(capacity) => crossbeam_channel::bounded::<Vec<u8>>(capacity),
        None => crossbeam_channel::unbounded(),
    };
    let (progress_tx, progress_rx) = crossbeam_channel::unbounded();
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);

    // No other thread runs now, so the peak from here on is this run's.
    alloc::reset_peak();
    let baseline = alloc::process_stats().live_bytes;

    let consumer = thread::Builder::new()
        .name("consumer".to_owned())
        .spawn(move || -> anyhow::Result<(Vec<u8>, u64)> {
            go_rx.recv_timeout(WAIT).context("never told to start")?;
            let (mut firsts, mut total) = (Vec::new(), 0);
            for item in queue_rx {
                firsts.push(item[0]);
                total += item.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            Ok((firsts, total))
        })
        .context("could not spawn the consumer")?;
    let producer = thread::Builder::new()
        .name("producer".to_owned())
        .spawn(move || produce(queue_tx, progress_tx))
        .context("could not spawn the producer")?;

    // Start the consumer when the producer is blocked, or has queued everything.
    match progress_rx
        .recv_timeout(WAIT)
        .context("no word from the producer")?
    {
        Progress::Blocked { at } => println!("[main] the producer is blocked at item {at}"),
        Progress::AllQueued => println!("[main] the producer queued all {ITEMS} items"),
    }
    go_tx
        .send(())
        .map_err(|_| anyhow!("the consumer is gone"))?;

    let (first_full, waits) = producer
        .join()
        .map_err(|_| anyhow!("the producer panicked"))??;
    let (received, total) = consumer
        .join()
        .map_err(|_| anyhow!("the consumer panicked"))??;
    let peak = alloc::process_stats()
        .peak_live_bytes
        .saturating_sub(baseline);
    Ok(Flow {
        first_full,
        waits,
        received,
        total,
        peak,
    })
}

fn produce(
    queue: Sender<Vec<u8>>,
    progress: Sender<Progress>,
) -> anyhow::Result<(Option<usize>, usize)> {
    let (mut first_full, mut waits) = (None, 0);
    for i in 0..ITEMS {
        let item = vec![i as u8; ITEM];
        match queue.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(item)) => {
                waits += 1;
                if first_full.is_none() {
                    first_full = Some(i);
                    println!("[producer] queue full at item {i}: waiting for room");
                    let _ = progress.send(Progress::Blocked { at: i });
                }
                // Backpressure: this thread now waits until the consumer takes an item.
                queue
                    .send(item)
                    .map_err(|_| anyhow!("the consumer is gone"))?;
            }
            Err(TrySendError::Disconnected(_)) => bail!("the consumer is gone"),
        }
    }
    let _ = progress.send(Progress::AllQueued);
    Ok((first_full, waits))
}
