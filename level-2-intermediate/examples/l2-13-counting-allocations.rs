//! # Lesson l2-13: bytes and allocations per task, counted
//!
//! Replaces the Node course's `04-resource-monitoring`, which polls `process.memoryUsage()`
//! every 2 s: sampled figures, `rss` for the whole process and the heap figures for the one
//! isolate that asks, none of them per task. Rust threads share one heap, and
//! there is no per-thread heap to read; instead a program can count every allocation itself.
//! `shared::alloc::CountingAllocator`, installed as the program's `#[global_allocator]`,
//! wraps the system allocator and counts each call, per process and per thread, so
//! `alloc::allocated_by(work)` gives exactly what `work` allocated on the thread it ran on.
//!
//! Shows: five tasks on a pool, each measured where it runs: a sum with no heap at all, a
//! `Vec` built with `with_capacity` (one allocation, exactly `N * 8` bytes), the same `Vec`
//! pushed one by one (it reallocates as it grows), 100k `String`s, a `HashMap`; each frees
//! what it allocated.
//!
//! Run: `cargo run --release --example l2-13-counting-allocations`
//!
//! Expect: a table of allocations per task (the CPU times vary by run), then `result: 5 tasks
//! counted: no heap, 1 exact allocation, growth by reallocation, 100000+ Strings, a growing
//! map; each freed what it allocated`.

use anyhow::{Context, anyhow, ensure};
use shared::WorkerPool;
use shared::alloc::{self, AllocStats, CountingAllocator};
use shared::timing::timed;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

// Every allocation of this program goes through the counting allocator.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

const N: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not the global allocator"
    );
    let reports = count_each_task_on_a_pool()?;
    print_table(&reports);

    let stats = |name: &str| reports.iter().find(|r| r.name == name).map(|r| r.stats);
    let stats = |name| stats(name).expect("every task reported");
    let series = N * (N - 1) / 2;
    let digits = 10 + 90 * 2 + 900 * 3 + 9_000 * 4 + 90_000 * 5; // of 0..100,000
    let checksums: Vec<u64> = reports.iter().map(|r| r.checksum).collect();
    assert_eq!(checksums, [series, series, series, digits, 10_000]);
    assert_eq!(
        stats("sum a range"),
        AllocStats::default(),
        "no heap at all"
    );
    let exact = stats("Vec, with_capacity");
    assert_eq!((exact.allocations, exact.reallocations), (1, 0));
    assert_eq!(exact.bytes_allocated, N * 8);
    let pushed = stats("Vec, push by push");
    assert_eq!(pushed.allocations, 1);
    assert!(pushed.reallocations > 1, "the buffer grew step by step");
    assert!(
        stats("100k Strings").allocations > 100_000,
        "one per String, and the Vec"
    );
    assert!(
        stats("HashMap, 10k inserts").allocations > 1,
        "the table grew"
    );
    for r in &reports {
        assert_eq!(r.stats.net_bytes(), 0, "{} freed what it allocated", r.name);
    }
    println!(
        "result: {} tasks counted: no heap, 1 exact allocation, growth by reallocation, \
         100000+ Strings, a growing map; each freed what it allocated",
        reports.len()
    );
    Ok(())
}

/// What one task did, measured on the thread that ran it.
#[derive(Debug)]
struct TaskReport {
    name: &'static str,
    checksum: u64,
    stats: AllocStats,
    wall: Duration,
}

/// A task: a name, and work that returns a checksum. Each drops what it built before it
/// returns, so what it allocated it also freed.
type Task = (&'static str, fn() -> u64);
const TASKS: [Task; 5] = [
    ("sum a range", || black_box(0..N).sum()),
    ("Vec, with_capacity", || {
        let mut v = Vec::with_capacity(N as usize);
        v.extend(0..N);
        black_box(&v).iter().sum()
    }),
    ("Vec, push by push", || {
        let mut v = Vec::new();
        for i in 0..N {
            v.push(i);
        }
        black_box(&v).iter().sum()
    }),
    ("100k Strings", || {
        let words: Vec<String> = (0..100_000u64).map(|i| i.to_string()).collect();
        words.iter().map(|w| w.len() as u64).sum()
    }),
    ("HashMap, 10k inserts", || {
        let mut map = HashMap::new();
        for i in 0..10_000u64 {
            map.insert(i, i * i);
        }
        black_box(&map).len() as u64
    }),
];

/// The tasks on a pool of 2, each counted where it runs.
fn count_each_task_on_a_pool() -> anyhow::Result<Vec<TaskReport>> {
    let pool = WorkerPool::builder()
        .threads(2)
        .thread_name(|i| format!("pool-{i}"))
        .build()
        .context("could not start the pool")?;
    let handles = TASKS
        .into_iter()
        .map(|(name, work)| {
            pool.submit(move || {
                // Counts what `work` allocates on this worker thread, and nothing else: the
                // pool's own bookkeeping happens outside the closure.
                let ((checksum, stats), wall) = timed(|| alloc::allocated_by(work));
                TaskReport {
                    name,
                    checksum,
                    stats,
                    wall,
                }
            })
            .map_err(|e| anyhow!("task {name} refused: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    handles.into_iter().map(|h| Ok(h.join()?)).collect()
}

fn print_table(reports: &[TaskReport]) {
    println!(
        "[main] {:<22}{:>9}{:>9}{:>14}{:>14}{:>10}",
        "task", "allocs", "reallocs", "allocated", "freed", "ms"
    );
    for r in reports {
        println!(
            "[main] {:<22}{:>9}{:>9}{:>14}{:>14}{:>10.2}",
            r.name,
            r.stats.allocations,
            r.stats.reallocations,
            r.stats.bytes_allocated,
            r.stats.bytes_freed,
            r.wall.as_secs_f64() * 1e3
        );
    }
}
