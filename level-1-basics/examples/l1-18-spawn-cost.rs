//! # Lesson l1-09: when not to use threads
//!
//! Replaces the Node course's advice "workers are for CPU-heavy work, not for I/O or tiny
//! tasks", with numbers measured on this machine instead of claims.
//!
//! Shows four limits:
//! 1. starting and joining a thread costs microseconds (tens of them on the course's 2-core
//!    machine), while an inline call costs about a nanosecond;
//! 2. so a tiny job split across threads is slower than doing it inline, while a big one
//!    (counting primes, from `shared::workload`) gets faster;
//! 3. a thread that only waits (for a socket, a timer, a reply) still occupies a whole OS
//!    thread: fine for a hundred waits, not for 10,000 connections, which is async's job;
//! 4. only `Send` values may cross into a thread: `Arc` can, `Rc` cannot.
//!
//! Run: `cargo run --release --example l1-09-when-not-to-use-threads` (a debug build works
//! too, and shows the same pattern with different numbers)
//!
//! Expect: the measured costs and ratios (they vary by machine, build and run), then
//! `result: all answers matched; 1000 spawns took ...x longer than 1000 inline calls (ratios
//! vary by machine)`. The asserts check the answers, and one comparison that holds by orders
//! of magnitude (1000 spawns take longer than 1000 calls); no ratio is asserted.

use anyhow::{Context, anyhow};
use crossbeam_channel::RecvTimeoutError;
use shared::timing::{ratio, timed};
use shared::workload::{count_primes, count_primes_parallel};
use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The average time of one of `count` repetitions, in nanoseconds.
fn per_item(total: Duration, count: u64) -> f64 {
    total.as_nanos() as f64 / count as f64
}

/// Sums `numbers` on `threads` scoped threads, one chunk each.
fn sum_on_threads(numbers: &[u64], threads: usize) -> u64 {
    let chunk_len = numbers.len().div_ceil(threads).max(1);
    thread::scope(|s| {
        let workers: Vec<_> = numbers
            .chunks(chunk_len)
            .map(|chunk| s.spawn(move || chunk.iter().sum::<u64>()))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("summing cannot panic"))
            .sum()
    })
}

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!("[main] this machine runs {cores} threads in parallel (available_parallelism);");
    println!("[main] every number below varies with the machine, the build (debug or --release)");
    println!("[main] and the run: read the ratios as orders of magnitude");

    // 1. What a thread costs: spawn + join of a closure that does (almost) nothing, against
    //    calling the same closure inline. `black_box` stops the optimiser deleting the work.
    const SPAWNS: u64 = 1_000;
    let trivial = |i: u64| black_box(i);
    println!("\n[main] 1. spawn cost: {SPAWNS} x spawn + join, against {SPAWNS} inline calls");
    let (spawned_total, spawn_time) = timed(|| -> anyhow::Result<u64> {
        let mut total = 0;
        for i in 0..SPAWNS {
            total += thread::spawn(move || trivial(i))
                .join()
                .map_err(|_| anyhow!("an empty thread panicked"))?;
        }
        Ok(total)
    });
    let spawned_total = spawned_total?;
    let (inline_total, inline_time) = timed(|| {
        let mut total = 0;
        for i in 0..SPAWNS {
            total += trivial(i);
        }
        total
    });
    let spawn_ratio = ratio(spawn_time, inline_time);
    println!(
        "[main]    spawn + join:         {:>10.1} ns each",
        per_item(spawn_time, SPAWNS)
    );
    println!(
        "[main]    inline call:          {:>10.1} ns each",
        per_item(inline_time, SPAWNS)
    );
    println!("[main]    a thread costs {spawn_ratio:.0}x a call: the work given to a thread");
    println!("[main]    must cost far more than that for the thread to pay off");

    // 2. The same cost, seen as a speed-down: a tiny job split in two is slower, a big one
    //    is faster. Each tiny job is repeated so that the time is long enough to measure.
    const TINY: u64 = 1_000;
    const ROUNDS: u64 = 200;
    let numbers: Vec<u64> = (1..=TINY).collect();
    println!("\n[main] 2. splitting work: sum of {TINY} numbers, {ROUNDS} times");
    let (split_sums, split_time) = timed(|| {
        (0..ROUNDS)
            .map(|_| sum_on_threads(black_box(&numbers), 2))
            .sum::<u64>()
    });
    let (inline_sums, inline_sum_time) = timed(|| {
        (0..ROUNDS)
            .map(|_| black_box(&numbers).iter().sum::<u64>())
            .sum::<u64>()
    });
    println!(
        "[main]    sequential:           {:>10.1} ns per sum",
        per_item(inline_sum_time, ROUNDS)
    );
    println!(
        "[main]    parallel (2 threads): {:>10.1} ns per sum",
        per_item(split_time, ROUNDS)
    );
    println!(
        "[main]    slowdown:             {:>10.1}x (the split took that much longer)",
        ratio(split_time, inline_sum_time)
    );

    const PRIMES_BELOW: u64 = 1_000_000;
    println!("[main]    against a big job: counting the primes below {PRIMES_BELOW}");
    let (sequential_primes, sequential_time) = timed(|| count_primes(0..PRIMES_BELOW));
    let (parallel_primes, parallel_time) = timed(|| count_primes_parallel(0..PRIMES_BELOW, cores));
    println!(
        "[main]    sequential:           {:>10.1} ms",
        sequential_time.as_secs_f64() * 1e3
    );
    println!(
        "[main]    parallel ({cores} threads): {:>10.1} ms",
        parallel_time.as_secs_f64() * 1e3
    );
    println!(
        "[main]    speedup:              {:>10.2}x (the ideal is {cores}x on {cores} cores)",
        ratio(sequential_time, parallel_time)
    );

    // 3. Waiting is not work. Each thread below waits 50 ms for a message nobody sends: the
    //    waits overlap, but each one holds an OS thread (its own stack, 2 MiB reserved by
    //    default) for nothing. The timed wait here is the thing measured, not a way to
    //    synchronise: the threads are joined.
    const WAITERS: usize = 100;
    const WAIT: Duration = Duration::from_millis(50);
    println!(
        "\n[main] 3. waiting: {WAITERS} threads each wait {} ms for a message",
        WAIT.as_millis()
    );
    // The sender stays alive (and silent), so every wait ends by timing out.
    let (_silent_sender, receiver) = crossbeam_channel::unbounded::<()>();
    let (outcomes, wait_time) = timed(|| -> anyhow::Result<Vec<_>> {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let receiver = receiver.clone();
                thread::spawn(move || receiver.recv_timeout(WAIT))
            })
            .collect();
        waiters
            .into_iter()
            .map(|waiter| {
                waiter
                    .join()
                    .map_err(|_| anyhow!("a waiting thread panicked"))
            })
            .collect()
    });
    let outcomes = outcomes?;
    let timed_out = outcomes
        .iter()
        .filter(|outcome| **outcome == Err(RecvTimeoutError::Timeout))
        .count();
    println!(
        "[main]    all done in {} ms of wall time, not {} ms: waiting threads do overlap",
        wait_time.as_millis(),
        WAIT.as_millis() * WAITERS as u128
    );
    println!(
        "[main]    but that took {WAITERS} OS threads doing nothing; 10,000 connections would"
    );
    println!(
        "[main]    need 10,000 threads. For I/O-bound work at that scale use async (e.g. tokio),"
    );
    println!("[main]    which waits on many sockets from a few threads");

    // 4. Only `Send` values cross into a thread. `Arc` counts its owners with atomic
    //    instructions, so clones may be dropped on different threads at once.
    println!("\n[main] 4. Send and Sync: what may cross into a thread");
    let config = Arc::new(vec![1_u64, 2, 3]);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let config = Arc::clone(&config);
            thread::spawn(move || config.iter().sum::<u64>())
        })
        .collect();
    let sums = readers
        .into_iter()
        .map(|reader| reader.join().map_err(|_| anyhow!("a reader panicked")))
        .collect::<anyhow::Result<Vec<u64>>>()?;
    println!(
        "[main]    Arc<Vec<u64>> crossed into 2 threads, each read sum {:?}; owners left: {}",
        sums,
        Arc::strong_count(&config)
    );
    println!(
        "[main]    Rc<Vec<u64>> would not compile here: its count is not atomic, so Rc is not"
    );
    println!(
        "[main]    Send (error E0277, shown in guide 1). Likewise a &RefCell<T> cannot be shared,"
    );
    println!("[main]    because RefCell is not Sync: use a Mutex or atomics instead");

    assert_eq!(spawned_total, inline_total);
    assert_eq!(inline_total, SPAWNS * (SPAWNS - 1) / 2);
    assert!(
        spawn_time > inline_time,
        "starting {SPAWNS} threads cannot be faster than {SPAWNS} function calls"
    );
    assert_eq!(split_sums, inline_sums);
    assert_eq!(inline_sums, ROUNDS * TINY * (TINY + 1) / 2);
    assert_eq!(sequential_primes, parallel_primes);
    assert_eq!(sequential_primes, 78_498);
    assert_eq!(timed_out, WAITERS, "nobody sends, so every wait times out");
    assert_eq!(sums, [6, 6]);
    assert_eq!(
        Arc::strong_count(&config),
        1,
        "every clone was dropped with its thread"
    );
    println!(
        "\nresult: all answers matched; {SPAWNS} spawns took {spawn_ratio:.0}x longer than \
         {SPAWNS} inline calls (ratios vary by machine)"
    );
    Ok(())
}
