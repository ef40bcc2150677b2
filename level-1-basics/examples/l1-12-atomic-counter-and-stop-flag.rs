//! # Lesson l1-12: just enough atomics: a counter and a stop flag
//!
//! Replaces Node's `Atomics.add(counter, 0, 1)` on an `Int32Array` over a `SharedArrayBuffer`,
//! and a shared "stop" cell a worker polls. In Rust an atomic integer (`AtomicUsize`,
//! `AtomicU64`, ...) is one number that several threads may change without a lock, and an
//! `Arc<AtomicBool>` is a stop flag the main thread sets and a worker checks.
//!
//! Shows: 1. 4 workers add to one `AtomicUsize` with `fetch_add`, which reads and adds in one
//! indivisible step, so no update is lost (a `load` then a `store` could interleave with
//! another thread's and lose one); the main thread reads it with `load` after `join`. 2. an
//! `Arc<AtomicBool>` stop flag: a worker computes in slices until the main thread stores
//! `true`. `shared::CancellationToken` (lesson l1-06) is built this way.
//!
//! `Ordering::Relaxed` is enough for both: it still makes each operation atomic; what it does
//! not do is order *other* memory around it. The counter's value is read after `join`, and
//! `join` makes everything the joined thread wrote visible; the flag carries no data, the
//! worker's result comes back through `join`. Level 3 goes deeper: the other orderings, and
//! `Condvar`, `RwLock`, `Barrier`, `compare_exchange`.
//!
//! Run: `cargo run --example l1-12-atomic-counter-and-stop-flag`
//!
//! Expect: the counter's total, the worker's slices, then
//! `result: 4 threads counted 40000 items with fetch_add; the stop flag stopped a worker after N slices`
//! with N at least 1 (it depends on the machine).

use anyhow::{Context, anyhow};
use shared::workload::fib;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

const THREADS: usize = 4;
const ITEMS_PER_THREAD: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let counted = count_on_threads()?;
    let slices = stop_a_worker_with_a_flag()?;

    assert_eq!(
        counted,
        THREADS * ITEMS_PER_THREAD,
        "fetch_add loses no update"
    );
    assert!(slices >= 1, "the worker computed before it saw the flag");
    println!(
        "result: {THREADS} threads counted {counted} items with fetch_add; the stop flag \
         stopped a worker after {slices} slices"
    );
    Ok(())
}

/// Part 1, a shared counter: each thread adds 1 per item it processes.
fn count_on_threads() -> anyhow::Result<usize> {
    let processed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..THREADS {
        let processed = Arc::clone(&processed);
        let worker = thread::Builder::new()
            .name(format!("counter-{i}"))
            .spawn(move || {
                for _ in 0..ITEMS_PER_THREAD {
                    // No lock, no `&mut`: an atomic is changed through a shared reference.
                    processed.fetch_add(1, Ordering::Relaxed);
                }
            })
            .context("could not spawn a counter")?;
        workers.push(worker);
    }
    for worker in workers {
        worker.join().map_err(|_| anyhow!("a counter panicked"))?;
    }
    // After every `join`, all the additions are visible: `Relaxed` is enough to read them.
    let total = processed.load(Ordering::Relaxed);
    println!("[main] {THREADS} threads x {ITEMS_PER_THREAD} items: the counter reads {total}");
    Ok(total)
}

/// Part 2, a stop flag: the worker checks it between slices of work; the main thread sets it
/// once the worker has started. Returns how many slices the worker did.
fn stop_a_worker_with_a_flag() -> anyhow::Result<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = crossbeam_channel::bounded::<()>(1);
    let worker = {
        let stop = Arc::clone(&stop);
        thread::Builder::new()
            .name("flag-worker".to_owned())
            .spawn(move || {
                let _ = started_tx.send(());
                let mut slices = 0_u64;
                loop {
                    black_box(fib(black_box(20))); // one slice of work
                    slices += 1;
                    if stop.load(Ordering::Relaxed) {
                        return slices;
                    }
                }
            })
            .context("could not spawn flag-worker")?
    };
    // A guard against a hang if this lesson had a bug; a correct run never comes near it.
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .context("flag-worker never started")?;
    println!("[main] flag-worker is computing: setting the stop flag");
    stop.store(true, Ordering::Relaxed);
    let slices = worker.join().map_err(|_| anyhow!("flag-worker panicked"))?;
    println!("[main] flag-worker saw the flag and stopped after {slices} slices");
    Ok(slices)
}
