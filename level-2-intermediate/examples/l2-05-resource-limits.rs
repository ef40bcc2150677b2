//! # Lesson l2-05: resource limits and monitoring
//!
//! Replaces Node's `new Worker(file, { resourceLimits })` and the Node course's
//! `04-resource-monitoring`, which polls `process.memoryUsage()` every 2 s and throws "Memory
//! limit exceeded" only *after* a task has finished allocating. Node gives each worker its
//! own V8 heap, so it can cap one (`maxOldGenerationSizeMb`) and size its stack
//! (`stackSizeMb`). Rust threads share one heap, so:
//!
//! | Node | Rust |
//! |---|---|
//! | `resourceLimits.stackSizeMb` | `thread::Builder::stack_size` (or the pool builder's `stack_size`) |
//! | `maxOldGenerationSizeMb`: a per-worker heap cap | none: there is no per-thread heap. Measure with a counting allocator, cap what can grow (queues, inputs), check a budget inside the task, and isolate in a child process when the limit must be enforced |
//! | polling `process.memoryUsage()` | `shared::alloc`: exact counts per process, per thread, per closure |
//! | (promised, never shown) CPU tracking | `cpu_time::ThreadTime`: this thread's CPU time |
//!
//! Shows:
//! 1. a deep recursion that needs more than a default thread's 2 MiB of stack, run on a
//!    thread given 256 MiB; how much stack it really used, measured;
//! 2. bytes and allocations per task, counted by `shared::alloc::CountingAllocator` (this
//!    example installs it as its global allocator), and a task that checks a memory budget as
//!    it goes and stops with a typed error;
//! 3. CPU time against wall time: a thread that computes, a thread that waits;
//! 4. a bounded queue capping memory: the producer blocked by backpressure, the peak of live
//!    memory measured against the same run with an unbounded queue.
//!
//! Why no stack overflow is shown: a Rust thread that overflows its stack hits a guard page,
//! and the runtime prints "thread '...' has overflowed its stack" and **aborts the whole
//! process**. It is not a panic: `catch_unwind` cannot stop it and `join` never sees it. (A
//! Node worker gets a catchable `RangeError`.) Size the stack before spawning, bound the
//! depth, or turn the recursion into a loop.
//!
//! Why no heap limit is enforced: every thread allocates from the same heap, and no allocator
//! call says which task it serves. To cap a piece of work for real, run it in a child
//! process (`std::process::Command`) under an operating-system limit (`prlimit --as`,
//! `ulimit -v`, a cgroup's `memory.max`): when it runs out, that process dies alone and the
//! parent reads its exit status.
//!
//! Run: `cargo run --release --example l2-05-resource-limits`
//!
//! Expect: the stack used by the recursion, a table of allocations per task, the budget
//! error, CPU against wall time for two threads (they vary by run), the two queues' peaks,
//! then `result: stack, 5 task counts, budget stop, 78498 primes and both queues checked;
//! bounded peak ~6 MiB vs unbounded ~32 MiB`.

use anyhow::{Context, anyhow, bail, ensure};
use cpu_time::ThreadTime;
use crossbeam_channel::{Sender, TrySendError};
use shared::WorkerPool;
use shared::alloc::{self, AllocStats, CountingAllocator};
use shared::workload::count_primes;
use std::collections::HashMap;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

// Every allocation of this program goes through the counting allocator.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator::new();

const MIB: usize = 1024 * 1024;

/// How long any wait may last before the run is called a failure. Only a bug reaches it.
const WAIT: Duration = Duration::from_secs(10);

fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn cpu_now() -> anyhow::Result<ThreadTime> {
    ThreadTime::try_now().context("this platform cannot read a thread's CPU time")
}

// ---------------------------------------------------------------------------------------
// 1. Stack size
// ---------------------------------------------------------------------------------------

/// Recursion depth, and the bytes each frame holds on the stack.
const DEPTH: u32 = 10_000;
const FRAME: usize = 1024;

/// The stack the recursion's thread is given: far more than it needs. Only the pages it
/// touches are ever backed by memory; the rest is reserved address space.
const BIG_STACK: usize = 256 * MIB;

/// A thread's stack unless told otherwise (`RUST_MIN_STACK` changes it).
const DEFAULT_STACK: usize = 2 * MIB;

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

/// Part 1. Returns `(sum, stack bytes used)`.
fn deep_recursion() -> anyhow::Result<(u64, usize)> {
    let worker = thread::Builder::new()
        .name("deep".to_owned())
        .stack_size(BIG_STACK)
        .spawn(|| {
            let top = black_box(0u8);
            let top = &top as *const u8 as usize;
            let (sum, deepest) = deep(DEPTH);
            // The stack grows down on every platform Rust runs threads on; `abs_diff` does
            // not care which way.
            let used = top.abs_diff(deepest);
            println!(
                "[{}] {DEPTH} frames deep, {:.1} MiB of my {} MiB stack used",
                me(),
                mib(used as u64),
                BIG_STACK / MIB
            );
            (sum, used)
        })
        .context("could not spawn a thread with a 256 MiB stack")?;
    worker
        .join()
        .map_err(|_| anyhow!("the deep thread panicked"))
}

// ---------------------------------------------------------------------------------------
// 2. Bytes and allocations per task
// ---------------------------------------------------------------------------------------

const N: u64 = 1_000_000;

/// A task: a name, and work that returns a checksum.
type Task = (&'static str, fn() -> u64);

/// The tasks. Each drops what it built before it returns, so what it allocated it also freed.
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

/// What one task did, measured on the thread that ran it.
#[derive(Debug)]
struct TaskReport {
    name: &'static str,
    checksum: u64,
    stats: AllocStats,
    cpu: Duration,
}

/// A task that goes over its memory budget.
#[derive(Debug, thiserror::Error)]
#[error("the task allocated {used} bytes, over its budget of {budget}")]
struct OverBudget {
    used: u64,
    budget: u64,
}

const BUDGET: u64 = 16 * MIB as u64;
const CHUNK: usize = MIB;

/// Builds up to 64 chunks of 1 MiB, checking after each one what this thread has allocated
/// since the task began. Node checked its limit after the work was done; this check stops
/// the work within one chunk of the budget.
fn within_budget(budget: u64) -> Result<usize, OverBudget> {
    let start = alloc::thread_stats();
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..64 {
        chunks.push(vec![i as u8; CHUNK]);
        let used = alloc::thread_stats().since(&start).net_bytes().max(0) as u64;
        if used > budget {
            return Err(OverBudget { used, budget });
        }
    }
    Ok(chunks.len())
}

/// Part 2: the tasks on a pool, each measured where it runs. Returns the reports and the
/// budget task's outcome.
fn per_task_counts() -> anyhow::Result<(Vec<TaskReport>, Result<usize, OverBudget>)> {
    let pool = WorkerPool::builder()
        .threads(2)
        .thread_name(|i| format!("pool-{i}"))
        .build()
        .context("could not start the pool")?;
    let handles = TASKS
        .into_iter()
        .map(|(name, work)| {
            pool.submit(move || -> anyhow::Result<TaskReport> {
                let cpu = cpu_now()?;
                // Counts what `work` allocates on this worker thread, and nothing else: the
                // pool's own bookkeeping happens outside the closure.
                let (checksum, stats) = alloc::allocated_by(work);
                Ok(TaskReport {
                    name,
                    checksum,
                    stats,
                    cpu: cpu.elapsed(),
                })
            })
            .map_err(|e| anyhow!("task {name} refused: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let budgeted = pool
        .submit(|| within_budget(BUDGET))
        .map_err(|e| anyhow!("the budget task was refused: {e}"))?;

    let reports = handles
        .into_iter()
        .map(|h| h.join()?)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let budgeted = budgeted.join()?;
    Ok((reports, budgeted))
}

// ---------------------------------------------------------------------------------------
// 3. CPU time against wall time
// ---------------------------------------------------------------------------------------

/// What a thread measured about itself.
#[derive(Debug)]
struct Times {
    cpu: Duration,
    wall: Duration,
}

/// Part 3: one thread counts primes, another waits until it is told they are counted.
/// Returns the prime count and both threads' times.
fn cpu_against_wall() -> anyhow::Result<(u64, Times, Times)> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let waiter = thread::Builder::new()
        .name("waiter".to_owned())
        .spawn(move || -> anyhow::Result<Times> {
            let (cpu, wall) = (cpu_now()?, Instant::now());
            // Blocked in the kernel: the clock runs, the CPU time hardly moves.
            done_rx
                .recv_timeout(WAIT)
                .context("the cruncher never said it was done")?;
            Ok(Times {
                cpu: cpu.elapsed(),
                wall: wall.elapsed(),
            })
        })
        .context("could not spawn the waiter")?;
    let cruncher = thread::Builder::new()
        .name("cruncher".to_owned())
        .spawn(move || -> anyhow::Result<(u64, Times)> {
            let (cpu, wall) = (cpu_now()?, Instant::now());
            let primes = count_primes(0..1_000_000);
            let times = Times {
                cpu: cpu.elapsed(),
                wall: wall.elapsed(),
            };
            done_tx
                .send(())
                .map_err(|_| anyhow!("the waiter is gone"))?;
            Ok((primes, times))
        })
        .context("could not spawn the cruncher")?;
    let (primes, crunched) = cruncher
        .join()
        .map_err(|_| anyhow!("the cruncher panicked"))??;
    let waited = waiter
        .join()
        .map_err(|_| anyhow!("the waiter panicked"))??;
    Ok((primes, crunched, waited))
}

// ---------------------------------------------------------------------------------------
// 4. A bounded queue caps memory
// ---------------------------------------------------------------------------------------

/// Items of 1 MiB, how many, and how many the bounded queue holds.
const ITEM: usize = MIB;
const ITEMS: usize = 32;
const CAPACITY: usize = 4;

/// What the producer tells the main thread.
#[derive(Debug)]
enum Progress {
    /// The queue was full when item `at` was ready: the producer now waits for room.
    Blocked { at: usize },
    /// Every item is in the queue.
    AllQueued,
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
                    println!("[{}] queue full at item {i}: waiting for room", me());
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

/// Part 4: a producer of 1 MiB items and a consumer that starts only once the producer is
/// blocked (bounded queue) or done (unbounded queue), so what piles up is decided by the
/// queue alone, not by timing.
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

fn main() -> anyhow::Result<()> {
    ensure!(
        alloc::is_installed(),
        "the counting allocator is not this program's global allocator"
    );

    println!("[main] --- 1. stack size: {DEPTH} frames of {FRAME} bytes ---");
    let (sum, stack_used) = deep_recursion()?;

    println!("\n[main] --- 2. allocations per task, counted where each task runs ---");
    let (reports, budgeted) = per_task_counts()?;
    println!(
        "[main] {:<22}{:>9}{:>9}{:>14}{:>14}{:>10}",
        "task", "allocs", "reallocs", "allocated", "freed", "cpu ms"
    );
    for r in &reports {
        println!(
            "[main] {:<22}{:>9}{:>9}{:>14}{:>14}{:>10.2}",
            r.name,
            r.stats.allocations,
            r.stats.reallocations,
            r.stats.bytes_allocated,
            r.stats.bytes_freed,
            r.cpu.as_secs_f64() * 1e3
        );
    }
    match &budgeted {
        Ok(chunks) => println!("[main] the budget task finished within budget: {chunks} chunks"),
        Err(e) => println!("[main] the budget task stopped: {e}"),
    }

    println!("\n[main] --- 3. CPU time against wall time ---");
    let (primes, crunched, waited) = cpu_against_wall()?;
    for (name, t) in [("cruncher", &crunched), ("waiter", &waited)] {
        println!(
            "[main] {name:<9} cpu {:>8.2} ms, wall {:>8.2} ms: busy {:>3.0}% of its time",
            t.cpu.as_secs_f64() * 1e3,
            t.wall.as_secs_f64() * 1e3,
            100.0 * t.cpu.as_secs_f64() / t.wall.as_secs_f64().max(1e-9)
        );
    }

    println!("\n[main] --- 4. a bounded queue caps memory: {ITEMS} items of 1 MiB ---");
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

    // 1. The recursion's answer, and that it needed more stack than a default thread has.
    let expected_sum: u64 = (1..=DEPTH).map(|d| u64::from(d as u8)).sum();
    assert_eq!(sum, expected_sum);
    assert!(
        stack_used > DEFAULT_STACK,
        "the recursion should need more than a default thread's stack"
    );
    // 2. Exact counts where the program decides them; the rest by kind.
    let stats = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.stats)
            .expect("every task reported")
    };
    let series = N * (N - 1) / 2;
    let checksums: Vec<u64> = reports.iter().map(|r| r.checksum).collect();
    let digits = 10 + 90 * 2 + 900 * 3 + 9_000 * 4 + 90_000 * 5; // of 0..100,000
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
    match budgeted {
        Err(OverBudget { used, budget }) => {
            assert!(used > budget && used <= budget + 2 * CHUNK as u64, "{used}");
        }
        Ok(chunks) => panic!("64 MiB cannot fit a 16 MiB budget, yet {chunks} chunks did"),
    }
    // 3. The primes (the times are printed, not checked).
    assert_eq!(primes, 78_498);
    // 4. Every item arrived, in order; the bounded queue blocked the producer exactly when
    //    it was full and kept at most its capacity plus the two items in hand alive.
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
        "result: stack, {} task counts, budget stop, {primes} primes and both queues checked; \
         bounded peak ~{:.0} MiB vs unbounded ~{:.0} MiB",
        reports.len(),
        mib(bounded.peak),
        mib(unbounded.peak)
    );
    Ok(())
}
