//! # Lesson l2-23: Amdahl's law, on numbers measured here
//!
//! Replaces the Node course's "the ideal speedup is the number of cores". A job with a serial
//! part (work that cannot be split: reading input, merging results) and a parallel part
//! cannot speed up more than the serial part allows. With `s` the serial fraction of the time
//! on one thread, Amdahl's law predicts the speedup on `n` threads: `1 / (s + (1 - s) / n)`,
//! never more than `1 / s` however many cores.
//!
//! Shows: a job that counts the primes in `0..800,000` on one thread (the serial part), then
//! `800,000..2,000,000` on `n` threads (`shared::workload::count_primes_parallel`); `s`
//! measured on one thread; the speedup measured for each `n` next to the one the law
//! predicts; what the law promises with more cores than this machine has.
//!
//! Run: `cargo run --release --example l2-23-amdahls-law`
//!
//! Expect: the Amdahl table, then `result: 148933 primes every run; s = ..., predicted ...x on
//! N threads, measured ...x (times vary by machine)`. Every count is asserted; no time is. On
//! a machine busy with other work the measured speedups shrink, and the ratios say so; below
//! 90% of the prediction the lesson also says how busy the rest of the machine was
//! (`shared::timing::CpuWatch`).

use anyhow::Context;
use shared::timing::{CpuWatch, ratio, timed};
use shared::workload::{count_primes, count_primes_parallel};
use std::thread;
use std::time::Duration;

/// The job: count the primes below `LIMIT`, `0..SERIAL_END` of them on one thread.
const LIMIT: u64 = 2_000_000;
const SERIAL_END: u64 = 800_000;
const PRIMES_BELOW_LIMIT: u64 = 148_933;
/// Each measurement is the best of this many runs, to damp noise from other programs.
const REPEATS: usize = 3;

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query parallelism")?
        .get();
    println!(
        "[main] serial 0..{SERIAL_END}, then {SERIAL_END}..{LIMIT} on n threads; best of {REPEATS}"
    );
    let watch = CpuWatch::start();
    let (one_count, serial, parallel_on_one) = amdahl_job(1);
    let total_on_one = serial + parallel_on_one;
    let s = ratio(serial, total_on_one);
    println!(
        "[main] on 1 thread: serial {:.1} ms + parallel {:.1} ms, so s = {s:.2}",
        ms(serial),
        ms(parallel_on_one)
    );
    println!(
        "[main] {:>9} {:>10} {:>10} {:>10}",
        "threads", "time ms", "measured", "predicted"
    );
    let mut counts = vec![one_count];
    let mut measured_at_cores = 1.0;
    for n in 1..=cores.max(2) {
        let (count, total) = if n == 1 {
            (one_count, total_on_one)
        } else {
            let (count, serial, parallel) = amdahl_job(n);
            (count, serial + parallel)
        };
        counts.push(count);
        let measured = ratio(total_on_one, total);
        if n == cores {
            measured_at_cores = measured;
        }
        println!(
            "[main] {n:>9} {:>10.1} {measured:>9.2}x {:>9.2}x",
            ms(total),
            amdahl(s, n as f64)
        );
    }
    let expected = 0.9 * amdahl(s, cores as f64); // the law, with a margin for noise
    if let Some(note) = watch.shortfall_note(measured_at_cores, expected) {
        println!("[main] {note}");
    }
    println!("[main] what the law promises with more cores, for this s (not measured here):");
    for n in [4.0, 8.0, 64.0] {
        println!("[main] {n:>9} {:>10} {:>10} {:>9.2}x", "", "", amdahl(s, n));
    }
    println!(
        "[main] and never more than 1/s = {:.2}x, however many cores: shrink the serial part first",
        1.0 / s
    );

    assert!(
        counts.iter().all(|&c| c == PRIMES_BELOW_LIMIT),
        "{counts:?}"
    );
    println!(
        "result: {PRIMES_BELOW_LIMIT} primes every run; s = {s:.2}, predicted {:.2}x on {cores} \
         threads, measured {measured_at_cores:.2}x (times vary by machine)",
        amdahl(s, cores as f64)
    );
    Ok(())
}

/// The job, with its parallel part on `threads` threads. Returns the count and the time of
/// the serial part and of the parallel part, each the best of `REPEATS` runs.
fn amdahl_job(threads: usize) -> (u64, Duration, Duration) {
    let (mut best_serial, mut best_parallel, mut count) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..REPEATS {
        let (serial_count, serial) = timed(|| count_primes(0..SERIAL_END));
        let (parallel_count, parallel) =
            timed(|| count_primes_parallel(SERIAL_END..LIMIT, threads));
        best_serial = best_serial.min(serial);
        best_parallel = best_parallel.min(parallel);
        count = serial_count + parallel_count;
    }
    (count, best_serial, best_parallel)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Amdahl's law: the speedup on `n` processors of a job whose serial fraction is `s`.
fn amdahl(s: f64, n: f64) -> f64 {
    1.0 / (s + (1.0 - s) / n)
}
