//! # Lesson l1-01: a basic worker
//!
//! Replaces Node's `new Worker(__filename)` + `parentPort.postMessage(result)` +
//! `worker.terminate()`: in Rust a worker is a closure on a new OS thread, its result comes
//! back through `join`, and no terminate is needed because the thread ends when its closure
//! returns.
//!
//! Shows: spawning a named thread with `thread::Builder`, the main thread working while the
//! worker computes, thread names and ids, and how many threads can run in parallel here.
//!
//! Run: `cargo run --example l1-01-basic-worker`
//!
//! Expect: both threads report their sums, then
//! `result: sum of 0..1000000 = 499999500000 (computed on thread "sum-worker")`.

use anyhow::{Context, anyhow};
use std::thread;

/// The sum of `0..n`, the worker's job (the Node example sums 0..999,999).
fn sum_below(n: u64) -> u64 {
    (0..n).sum()
}

fn main() -> anyhow::Result<()> {
    const N: u64 = 1_000_000;

    let main_thread = thread::current();
    println!(
        "[main] I am {:?} (id {:?})",
        main_thread.name().unwrap_or("<unnamed>"),
        main_thread.id()
    );

    // How many threads can truly run at once here. `available_parallelism` is the std
    // answer (it respects CPU quotas and affinity masks); `num_cpus` adds the physical core
    // count, which std does not offer.
    let parallelism = thread::available_parallelism().context("cannot query parallelism")?;
    println!(
        "[main] this machine runs {parallelism} threads in parallel ({} physical cores)",
        num_cpus::get_physical()
    );

    // `new Worker(...)`: a named OS thread running a closure. `Builder::spawn` returns an
    // error instead of panicking if the OS refuses a thread.
    let worker = thread::Builder::new()
        .name("sum-worker".to_owned())
        .spawn(|| {
            let me = thread::current();
            println!(
                "[{}] started (id {:?}), summing 0..{N}",
                me.name().unwrap_or("<unnamed>"),
                me.id()
            );
            let sum = sum_below(N);
            println!("[{}] done", me.name().unwrap_or("<unnamed>"));
            (sum, me.name().map(str::to_owned))
        })
        .context("could not spawn the worker")?;

    // The main thread is not blocked while the worker runs: it does work of its own.
    let own_work = sum_below(1_000);
    println!("[main] meanwhile I summed 0..1000 = {own_work}");

    // `join` waits for the worker and hands back what its closure returned, or the panic
    // that ended it: Node's 'message' and 'exit' events in one call.
    let (sum, worker_name) = worker.join().map_err(|_| anyhow!("the worker panicked"))?;

    assert_eq!(own_work, 499_500);
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(sum, 499_999_500_000);
    assert_eq!(worker_name.as_deref(), Some("sum-worker"));
    println!(
        "result: sum of 0..{N} = {sum} (computed on thread {:?})",
        worker_name.as_deref().unwrap_or_default()
    );
    Ok(())
}
