//! The counting allocator, installed: what a thread allocates is counted on that thread and
//! no other, frees and reallocations are counted, the peak is never below the live bytes, and
//! the counts of several threads add up.
//!
//! This file is a binary of its own, so the `#[global_allocator]` below affects only it. The
//! tests share one process: the process-wide counts also see the test harness and the other
//! tests, so process-wide checks are lower bounds, while per-thread checks are exact.
//!
//! Also run under Miri: `cargo +nightly miri test -p shared --test alloc_counter`.

use shared::alloc::{
    AllocStats, CountingAllocator, allocated_by, is_installed, process_stats, reset_peak,
    thread_stats,
};
use shared::testing::{TIMEOUT, join_within, recv_or_fail};
use std::hint::black_box;
use std::mem::size_of;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

/// A block size no bookkeeping allocation comes near, so a count that includes it is
/// unmistakable. Small enough for Miri.
const BLOCK: usize = 64 * 1024;

/// Far more than all the other tests hold at once (about 1 MiB at most), so that the
/// process's live bytes reach it only while a test holds such a block.
const SPIKE: usize = 64 * BLOCK;

/// Held by the tests that read or reset the process's peak, so that no `reset_peak` lowers
/// the peak under another test's feet.
fn peak_lock() -> MutexGuard<'static, ()> {
    static PEAK: Mutex<()> = Mutex::new(());
    PEAK.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn the_allocator_is_installed() {
    assert!(is_installed());
}

#[test]
fn a_known_vec_is_counted_on_this_thread_and_not_on_another() {
    let (ready_tx, ready) = crossbeam_channel::bounded::<()>(1);
    let (done, done_rx) = crossbeam_channel::bounded::<()>(1);
    // The other thread measures its own counts across the moment this one allocates.
    let other = thread::spawn(move || {
        let before = thread_stats();
        ready_tx.send(()).unwrap();
        recv_or_fail(&done_rx, "the main thread to finish allocating");
        thread_stats().since(&before)
    });
    recv_or_fail(&ready, "the other thread to start measuring");

    let (buffer, here) = allocated_by(|| Vec::<u8>::with_capacity(BLOCK));
    done.send(()).unwrap();
    let there = join_within(other, TIMEOUT, "the other thread").unwrap();

    assert_eq!(
        here,
        AllocStats {
            allocations: 1,
            bytes_allocated: BLOCK as u64,
            ..AllocStats::default()
        },
        "exactly one block of exactly {BLOCK} bytes, on this thread"
    );
    // The other thread may have allocated a little for its channel wait, but never this block.
    assert!(
        there.bytes_allocated < BLOCK as u64,
        "the other thread was charged for this thread's block: {there:?}"
    );
    drop(black_box(buffer));
}

#[test]
fn freed_bytes_are_counted_on_the_thread_that_frees() {
    let buffer = vec![7u8; BLOCK];
    let ((), freeing) = allocated_by(|| drop(black_box(buffer)));
    assert_eq!(
        freeing,
        AllocStats {
            deallocations: 1,
            bytes_freed: BLOCK as u64,
            ..AllocStats::default()
        }
    );
    assert_eq!(freeing.net_bytes(), -(BLOCK as i64));

    // Made here, dropped there: the free counts on the thread that did it.
    let (buffer, made) = allocated_by(|| vec![1u8; BLOCK]);
    assert_eq!((made.allocations, made.bytes_allocated), (1, BLOCK as u64));
    let dropper = thread::spawn(move || allocated_by(|| drop(black_box(buffer))).1);
    let dropped = join_within(dropper, TIMEOUT, "the dropping thread").unwrap();
    assert_eq!(
        (dropped.deallocations, dropped.bytes_freed),
        (1, BLOCK as u64)
    );
}

#[test]
fn a_reallocation_counts_its_growth_and_shrinkage_not_a_new_block() {
    let mut v = Vec::<u8>::with_capacity(16);
    let small = v.capacity() as u64;

    let ((), grow) = allocated_by(|| v.reserve_exact(BLOCK));
    let large = v.capacity() as u64;
    assert_eq!((grow.allocations, grow.deallocations), (0, 0));
    assert_eq!(grow.reallocations, 1);
    assert_eq!(grow.bytes_allocated, large - small);
    assert_eq!(grow.bytes_freed, 0);

    let ((), shrink) = allocated_by(|| v.shrink_to(100));
    let shrunk = v.capacity() as u64;
    assert_eq!(shrink.reallocations, 1);
    assert_eq!((shrink.allocations, shrink.deallocations), (0, 0));
    assert_eq!(shrink.bytes_freed, large - shrunk);
    assert_eq!(shrink.bytes_allocated, 0);

    // Growing one push at a time: one block, several reallocations, net = final capacity.
    let (text, pushes) = allocated_by(|| {
        let mut s = String::new();
        for _ in 0..1_000 {
            s.push('x');
        }
        s
    });
    assert_eq!(pushes.allocations, 1);
    assert!(pushes.reallocations >= 1, "{pushes:?}");
    assert_eq!(pushes.net_bytes(), text.capacity() as i64);
}

#[test]
fn nested_measurements_count_a_part_of_the_outer_one() {
    let ((inner_buffer, inner), outer) = allocated_by(|| {
        let first = black_box(vec![0u8; 100]);
        let inner = allocated_by(|| black_box(vec![0u8; 1_000]));
        drop(first);
        inner
    });
    assert_eq!((inner.allocations, inner.bytes_allocated), (1, 1_000));
    assert_eq!((outer.allocations, outer.bytes_allocated), (2, 1_100));
    assert_eq!((outer.deallocations, outer.bytes_freed), (1, 100));
    drop(inner_buffer);
}

#[test]
fn the_peak_is_never_below_the_live_bytes() {
    let _lock = peak_lock();
    let held = black_box(vec![1u8; SPIKE]);
    let holding = process_stats();
    // Whatever else the process does, this block is live while it is held.
    assert!(holding.live_bytes >= SPIKE as u64, "{holding:?}");
    assert!(holding.peak_live_bytes >= holding.live_bytes, "{holding:?}");
    drop(held);

    let after = process_stats();
    assert!(after.peak_live_bytes >= after.live_bytes, "{after:?}");
    // The peak remembers the block after it is gone: this thread raised the peak to at least
    // the block's size before `vec!` returned, and only a reset, made under the same lock,
    // could lower it.
    assert!(after.peak_live_bytes >= SPIKE as u64, "{after:?}");
}

#[test]
fn reset_peak_starts_a_new_high_water_mark() {
    let _lock = peak_lock();
    drop(black_box(vec![0u8; SPIKE]));
    let old = reset_peak();
    assert!(old >= SPIKE as u64, "the old peak saw the spike: {old}");

    // The spike is gone, and the other tests never hold as much: the new mark is lower.
    let fresh = process_stats();
    assert!(fresh.peak_live_bytes >= fresh.live_bytes, "{fresh:?}");
    assert!(
        fresh.peak_live_bytes < old,
        "the reset kept the old peak: {fresh:?}, old {old}"
    );

    // And it rises with the next spike.
    drop(black_box(vec![0u8; SPIKE]));
    let risen = process_stats();
    assert!(risen.peak_live_bytes >= SPIKE as u64, "{risen:?}");
}

#[test]
fn the_counts_of_four_threads_add_up() {
    const THREADS: usize = 4;
    const BLOCKS: usize = 250;
    const SIZE: usize = 1_024;
    let before = process_stats();

    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(|| {
                // One block for the outer `Vec` (its length is known), one per inner buffer.
                let (buffers, stats) = allocated_by(|| {
                    (0..BLOCKS)
                        .map(|_| black_box(Vec::<u8>::with_capacity(SIZE)))
                        .collect::<Vec<_>>()
                });
                drop(buffers);
                stats
            })
        })
        .collect();
    let per_thread: Vec<AllocStats> = workers
        .into_iter()
        .map(|w| join_within(w, TIMEOUT, "an allocating thread").unwrap())
        .collect();
    let after = process_stats();

    let expected = AllocStats {
        allocations: BLOCKS as u64 + 1,
        bytes_allocated: (BLOCKS * SIZE + BLOCKS * size_of::<Vec<u8>>()) as u64,
        ..AllocStats::default()
    };
    for stats in &per_thread {
        assert_eq!(
            *stats, expected,
            "each thread counts exactly its own blocks"
        );
    }
    let summed = per_thread
        .iter()
        .fold(AllocStats::default(), |sum, s| AllocStats {
            allocations: sum.allocations + s.allocations,
            bytes_allocated: sum.bytes_allocated + s.bytes_allocated,
            ..sum
        });
    assert_eq!(summed.allocations, THREADS as u64 * expected.allocations);
    assert_eq!(
        summed.bytes_allocated,
        THREADS as u64 * expected.bytes_allocated
    );

    // The process saw all of it (and whatever the harness and other tests did meanwhile).
    let process = after.totals.since(&before.totals);
    assert!(
        process.allocations >= summed.allocations,
        "{process:?} < {summed:?}"
    );
    assert!(
        process.bytes_allocated >= summed.bytes_allocated,
        "{process:?} < {summed:?}"
    );
    // Each worker freed its buffers: at least those frees are in the process's counts too.
    assert!(process.deallocations >= THREADS as u64 * (BLOCKS as u64 + 1));
}
