//! # Lesson l3-19: what an unbounded queue costs, measured
//!
//! Replaces: Node's unbounded worker inbox (`postMessage` never blocks, so a stalled worker's
//! messages pile up on the heap). Shows: a producer makes 10,000 buffers of 4 KiB while its
//! consumer has not started yet (stalled on a slow start, say). Unbounded, all 10,000 wait in
//! the queue; bounded to 64, the producer waits at 64 and lets the consumer go.
//!
//! New here: `#[global_allocator]`. Every heap allocation of a Rust program goes through one
//! allocator, and a program may install its own. `shared::alloc::CountingAllocator` wraps the
//! system allocator and counts live and peak bytes; guide 06 shows how it is written.
//!
//! Run: `cargo run --release --example l3-19-unbounded-queue-memory`
//!
//! Expect: the two runs' queue peaks (10000 against 64), their peak bytes and ratio, then
//! `result: unbounded peak 10000 queued / N MiB, bounded peak 64 queued / M KiB`.

use anyhow::{anyhow, bail, ensure};
use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use shared::alloc::{CountingAllocator, process_stats, reset_peak};
use std::thread;
use std::time::Duration;

/// Counts every allocation of this program, so that the memory a queue holds can be measured.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// How many buffers the producer makes, how big each is, and the bounded queue's bound.
const ITEMS: usize = 10_000;
const ITEM_BYTES: usize = 4 * 1024;
const BOUND: usize = 64;
/// Room for what is not a queued buffer: the channel itself, the two threads' bookkeeping,
/// output buffers. A few kilobytes in practice.
const OVERHEAD_BYTES: u64 = 64 * 1024;

fn main() -> anyhow::Result<()> {
    ensure!(
        shared::alloc::is_installed(),
        "the counting allocator is not installed"
    );
    let unbounded = produce_with_stalled_consumer(None)?;
    let bounded = produce_with_stalled_consumer(Some(BOUND))?;
    println!(
        "[main] the unbounded queue peaked at {:.1}x the bounded one's bytes",
        unbounded.peak_bytes as f64 / bounded.peak_bytes.max(1) as f64
    );

    let expected_checksum: u64 = (0..ITEMS)
        .map(|i| (i % 251) as u64 * ITEM_BYTES as u64)
        .sum();
    assert_eq!(
        unbounded.checksum, expected_checksum,
        "every buffer consumed"
    );
    assert_eq!(bounded.checksum, expected_checksum, "every buffer consumed");
    assert_eq!(
        unbounded.peak_queued, ITEMS,
        "unbounded: all of them waited at once"
    );
    assert_eq!(
        unbounded.producer_waits, 0,
        "unbounded: the producer never waits"
    );
    let buffer_bytes = (ITEMS * ITEM_BYTES) as u64;
    assert!(
        unbounded.peak_bytes >= buffer_bytes,
        "unbounded: every buffer was alive at once"
    );
    assert_eq!(
        bounded.peak_queued, BOUND,
        "bounded: never more than the bound"
    );
    assert!(
        bounded.producer_waits > 0,
        "bounded: the producer was held back"
    );
    // At most: the queue full, one buffer in the producer's hand, one in the consumer's.
    let bounded_ceiling = ((BOUND + 2) * ITEM_BYTES) as u64 + OVERHEAD_BYTES;
    assert!(
        bounded.peak_bytes <= bounded_ceiling,
        "bounded: peak {} B, more than {bounded_ceiling} B",
        bounded.peak_bytes
    );
    println!(
        "result: unbounded peak {} queued / {:.1} MiB, bounded peak {} queued / {:.0} KiB",
        unbounded.peak_queued,
        unbounded.peak_bytes as f64 / (1024.0 * 1024.0),
        bounded.peak_queued,
        bounded.peak_bytes as f64 / 1024.0
    );
    Ok(())
}

/// What one run measured.
#[derive(Debug)]
struct Growth {
    peak_queued: usize,
    peak_bytes: u64,
    producer_waits: u64,
    checksum: u64,
}

/// The producer makes `ITEMS` buffers as fast as it can. The consumer is held back until the
/// producer either finds the queue full (bounded) or has sent everything (unbounded): the
/// worst case, a consumer that falls behind from the start.
fn produce_with_stalled_consumer(bound: Option<usize>) -> anyhow::Result<Growth> {
    let (tx, rx) = match bound {
        Some(n) => crossbeam_channel::bounded::<Vec<u8>>(n),
        None => crossbeam_channel::unbounded::<Vec<u8>>(),
    };
    let (go_tx, go) = crossbeam_channel::bounded::<()>(1);
    let label = bound.map_or("unbounded".to_owned(), |n| format!("bounded-{n}"));
    // The peak of live bytes is for the whole process: measure it while only this run's
    // threads allocate.
    let baseline = process_stats().live_bytes;
    reset_peak();
    let (peak_queued, producer_waits, checksum) = thread::scope(|s| {
        let consumer = s.spawn(move || {
            let _ = go.recv(); // stalled until the producer lets go (or is gone)
            let mut checksum = 0u64;
            for buffer in rx {
                // The "work": read the buffer, which is freed here, as it is consumed.
                checksum += buffer.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            checksum
        });
        let producer = s.spawn(move || -> anyhow::Result<(usize, u64)> {
            let mut go = Some(go_tx);
            let (mut peak, mut waits) = (0, 0);
            for i in 0..ITEMS {
                let buffer = vec![(i % 251) as u8; ITEM_BYTES];
                match tx.try_send(buffer) {
                    Ok(()) => {}
                    Err(TrySendError::Full(buffer)) => {
                        // Backpressure: the producer waits for room instead of piling up.
                        waits += 1;
                        if let Some(go) = go.take() {
                            println!("[producer] the queue is full: letting the consumer start");
                            let _ = go.send(());
                        }
                        send_or_fail(&tx, buffer)?;
                    }
                    Err(TrySendError::Disconnected(_)) => bail!("the consumer is gone"),
                }
                peak = peak.max(tx.len());
            }
            if let Some(go) = go.take() {
                println!("[producer] all {ITEMS} sent: letting the consumer start");
                let _ = go.send(());
            }
            Ok((peak, waits)) // `tx` is dropped here: the consumer's loop ends
        });
        let (peak, waits) = producer
            .join()
            .map_err(|_| anyhow!("the producer panicked"))??;
        let checksum = consumer
            .join()
            .map_err(|_| anyhow!("the consumer panicked"))?;
        Ok::<_, anyhow::Error>((peak, waits, checksum))
    })?;
    let peak_bytes = process_stats().peak_live_bytes.saturating_sub(baseline);
    println!(
        "[main] {label:>10}: queue peak {peak_queued:>5} buffers, live-bytes peak {:>10.1} KiB, \
         producer waited {producer_waits} times",
        peak_bytes as f64 / 1024.0
    );
    Ok(Growth {
        peak_queued,
        peak_bytes,
        producer_waits,
        checksum,
    })
}

/// A blocking send that fails instead of waiting forever if the consumer stops reading.
fn send_or_fail(tx: &Sender<Vec<u8>>, buffer: Vec<u8>) -> anyhow::Result<()> {
    match tx.send_timeout(buffer, Duration::from_secs(10)) {
        Ok(()) => Ok(()),
        Err(SendTimeoutError::Timeout(_)) => bail!("the consumer stopped reading"),
        Err(SendTimeoutError::Disconnected(_)) => bail!("the consumer is gone"),
    }
}
