//! # Lesson l1-19: splitting small work makes it slower
//!
//! Replaces the Node course's advice "workers are for CPU-heavy work, not tiny tasks", with
//! numbers measured on this machine instead of claims. Lesson l1-18 measured what a thread
//! costs; here is the same cost seen as a slowdown: a tiny job split across threads is slower
//! than doing it inline, while a big one (counting primes, from `shared::workload`) gets
//! faster when the cores are free, by at most the number of cores.
//!
//! Shows: the sum of 1000 numbers on 2 scoped threads (200 times) against inline (50,000
//! times: one inline sum takes well under a microsecond, so only many of them add up to a
//! time long enough to compare), then the primes below 1,000,000 counted on one thread
//! against all cores. Aligned `sequential` / `parallel (N threads)` lines with the measured
//! ratio, printed only when both times are long enough to compare. On a machine whose other
//! processes keep its cores busy the big job may gain less, or nothing: the lesson then says
//! how busy the machine was (`shared::timing::CpuWatch`).
//!
//! Run: `cargo run --release --example l1-19-small-work-vs-big-work`
//!
//! Expect: the measured times and ratios (they vary by machine, build and run), then
//! `result: both answers matched (each sum 500500, 78498 primes); ratios vary by machine`.
//! Only the answers are asserted, never a ratio.

use anyhow::Context;
use shared::timing::{CpuWatch, compare, timed};
use shared::workload::{count_primes, count_primes_parallel};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

const TINY: u64 = 1_000;
const ROUNDS: u64 = 200;
const INLINE_ROUNDS: u64 = 50_000;
const PRIMES_BELOW: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    let sums = split_a_tiny_job();
    let primes = split_a_big_job(cores);

    assert_eq!(sums, TINY * (TINY + 1) / 2);
    assert_eq!(primes, 78_498);
    println!(
        "result: both answers matched (each sum {sums}, {primes} primes); ratios vary by machine"
    );
    Ok(())
}

/// A tiny job: the threads' start-up costs more than the work they share.
fn split_a_tiny_job() -> u64 {
    let numbers: Vec<u64> = (1..=TINY).collect();
    println!("[main] a tiny job: the sum of {TINY} numbers, split and inline");
    let (split, split_time) = timed(|| {
        (0..ROUNDS)
            .map(|_| sum_on_threads(black_box(&numbers), 2))
            .sum::<u64>()
    });
    let (inline, inline_time) = timed(|| {
        (0..INLINE_ROUNDS)
            .map(|_| black_box(&numbers).iter().sum::<u64>())
            .sum::<u64>()
    });
    assert_eq!(split / ROUNDS, inline / INLINE_ROUNDS);
    let per_sum = |t: Duration, rounds: u64| t.as_nanos() as f64 / rounds as f64;
    println!(
        "[main]   sequential:           {:>10.1} ns per sum ({INLINE_ROUNDS} sums)",
        per_sum(inline_time, INLINE_ROUNDS)
    );
    println!(
        "[main]   parallel (2 threads): {:>10.1} ns per sum ({ROUNDS} sums)",
        per_sum(split_time, ROUNDS)
    );
    // Both totals must be measurable; the ratio per sum then scales by the rounds each ran.
    match compare(split_time, inline_time) {
        Some(r) => println!(
            "[main]   slowdown:             {:>10.1}x per sum (the split took that much longer)",
            r * INLINE_ROUNDS as f64 / ROUNDS as f64
        ),
        None => println!("[main]   slowdown:             not compared (a total was under 1 ms)"),
    }
    inline / INLINE_ROUNDS
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

/// A big job: each thread's share dwarfs its start-up cost.
fn split_a_big_job(cores: usize) -> u64 {
    println!("[main] a big job: counting the primes below {PRIMES_BELOW}");
    let watch = CpuWatch::start();
    let (sequential, sequential_time) = timed(|| count_primes(0..PRIMES_BELOW));
    let (parallel, parallel_time) = timed(|| count_primes_parallel(0..PRIMES_BELOW, cores));
    assert_eq!(sequential, parallel);
    let ms = |t: Duration| t.as_secs_f64() * 1e3;
    println!(
        "[main]   sequential:           {:>10.1} ms",
        ms(sequential_time)
    );
    println!(
        "[main]   parallel ({cores} threads): {:>10.1} ms",
        ms(parallel_time)
    );
    let Some(speedup) = compare(sequential_time, parallel_time) else {
        println!("[main]   speedup:              not compared (a time was under 1 ms)");
        return sequential;
    };
    println!(
        "[main]   speedup:              {speedup:>10.2}x (the ideal is {cores}x on {cores} cores)"
    );
    if speedup > 1.1 * cores as f64 {
        println!(
            "[main]   (above {cores}x: the sequential run was slowed by something else, such as"
        );
        println!("[main]   other processes; counting primes cannot gain more than its cores)");
    }
    // What this lesson teaches: a big job gets faster, by at least 1.5x on 2 free cores.
    if let Some(note) = watch.shortfall_note(speedup, 1.5_f64.min(cores as f64)) {
        println!("[main]   {note}");
    }
    sequential
}
