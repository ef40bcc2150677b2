//! # Lesson l1-01: a basic worker
//!
//! Replaces Node's `new Worker(__filename)` + `parentPort.postMessage(result)` +
//! `worker.terminate()`: in Rust a worker is a closure on a new OS thread, its result comes
//! back through `join`, and no terminate is needed because the thread ends when its closure
//! returns.
//!
//! Shows: spawning a named worker thread with `thread::Builder` and getting its result back
//! through `join`, while the main thread does work of its own (with thread names and ids, and
//! how many threads can run in parallel here).
//!
//! Run: `cargo run --example l1-01-basic-worker`
//!
//! Expect: both threads report their sums, then
//! `result: sum of 0..1000000 = 499999500000 (computed on thread "sum-worker")`.

use anyhow::{Context, anyhow};
use std::thread;

const N: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    introduce_the_main_thread()?;

    // `new Worker(...)`: a named OS thread running a closure.
    let worker = spawn_sum_worker()?;

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

/// Who the main thread is, and how many threads can truly run at once here.
fn introduce_the_main_thread() -> anyhow::Result<()> {
    let main_thread = thread::current();
    println!(
        "[main] I am {:?} (id {:?})",
        main_thread.name().unwrap_or("<unnamed>"),
        main_thread.id()
    );
    // `available_parallelism` is the std answer (it respects CPU quotas and affinity masks);
    // `num_cpus` adds the physical core count, which std does not offer.
    let parallelism = thread::available_parallelism().context("cannot query parallelism")?;
    println!(
        "[main] this machine runs {parallelism} threads in parallel ({} physical cores)",
        num_cpus::get_physical()
    );
    Ok(())
}

/// Starts the worker. `Builder::spawn` returns an error instead of panicking if the OS
/// refuses a thread. The closure's return value is what `join` hands back.
fn spawn_sum_worker() -> anyhow::Result<thread::JoinHandle<(u64, Option<String>)>> {
    thread::Builder::new()
        .name("sum-worker".to_owned())
        .spawn(|| {
            let me = thread::current();
            let name = me.name().unwrap_or("<unnamed>");
            println!("[{name}] started (id {:?}), summing 0..{N}", me.id());
            let sum = sum_below(N);
            println!("[{name}] done");
            (sum, me.name().map(str::to_owned))
        })
        .context("could not spawn the worker")
}

/// The sum of `0..n`, the worker's job (the Node example sums 0..999,999).
fn sum_below(n: u64) -> u64 {
    (0..n).sum()
}
