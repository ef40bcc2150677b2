//! # Lesson l3-38: Amdahl's law and the Karp-Flatt metric, fitted to a measurement
//!
//! Replaces the Node course's "the ideal speedup is the number of cores". Shows: what a scaling
//! measurement (taken as in lesson l3-37) says about the program. The **Karp-Flatt metric**
//! `e(p) = (1/S - 1/p) / (1 - 1/p)` is the serial fraction that would explain the speedup `S`
//! measured on `p` threads: constant over `p`, a true serial part; growing with `p`, overhead
//! that grows with the thread count (spawning, imbalance, shared caches). An **Amdahl fit**
//! finds the serial fraction `s` by least squares over the measurements with at most one thread
//! per core, then predicts `S(p) = 1 / (s + (1 - s) / min(p, cores))` beside the measured one.
//! **Oversubscription**: 4 threads on a 2-core machine are capped near 2x, and their `e` jumps:
//! not serial code, just no cores left. That is why the fit uses `min(p, cores)`.
//!
//! Run: `cargo run --release --example l3-38-amdahl-fit`
//!
//! Expect: a table of measured and predicted speedups with `e`, then `result: serial fraction
//! s = N by least squares over 2..=N threads; Amdahl allows at most Nx however many cores
//! (times vary by machine)`. Other programs using the cores make `s` look larger: when the
//! speedup on all cores falls below what a kernel this parallel reaches, the lesson says how
//! busy the rest of the machine was (`shared::timing::CpuWatch`).

use anyhow::Context;
use shared::timing::{CpuWatch, ratio};
use shared::workload::{count_primes, count_primes_parallel};
use std::thread;
use std::time::{Duration, Instant};

/// The kernel counts the primes below this (there are 148,933); each time is a best of ROUNDS.
const LIMIT: u64 = 2_000_000;
const ROUNDS: usize = 5;

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query the parallelism")?
        .get();
    let mut threads = vec![1, 2, 4, cores];
    threads.sort_unstable();
    threads.dedup();
    let watch = CpuWatch::start();
    let points = measure_speedups(&threads);
    // The fit uses the points with at most one thread per core: beyond that, Amdahl's `p` is
    // the core count, not the thread count.
    let fit_points: Vec<(f64, f64)> = points
        .iter()
        .filter(|&&(p, _)| p <= cores)
        .map(|&(p, s)| (p as f64, s))
        .collect();
    let s = fit_serial_fraction(&fit_points);
    println!(
        "[main] {:>8} {:>9} {:>12} {:>10}",
        "threads", "measured", "Karp-Flatt e", "Amdahl fit"
    );
    for &(p, speedup) in &points {
        let e = (p > 1).then(|| format!("{:.3}", karp_flatt(speedup, p as f64)));
        let predicted = s.map(|s| format!("{:.2}x", amdahl(s, p.min(cores) as f64)));
        let note = if p > cores {
            "  more threads than cores"
        } else {
            ""
        };
        let (e, predicted) = (e.unwrap_or("-".into()), predicted.unwrap_or("-".into()));
        println!("[main] {p:>8} {speedup:>8.2}x {e:>12} {predicted:>10}{note}");
    }
    if let Some(s) = s {
        for p in [8.0, 64.0] {
            println!(
                "[main] predicted on {p} cores (not measured here): {:.2}x",
                amdahl(s, p)
            );
        }
    }
    // This kernel's serial part is small: on free cores it fits well under s = 0.3.
    let on_all_cores = points.iter().find(|&&(p, _)| p == cores).map(|&(_, s)| s);
    let note = on_all_cores.and_then(|m| watch.shortfall_note(m, amdahl(0.3, cores as f64)));
    if let Some(note) = note {
        println!("[main] {note}");
    }

    assert_eq!(points.len(), threads.len());
    // The fit on exact Amdahl data gives back its serial fraction.
    let exact: Vec<(f64, f64)> = [2.0, 4.0, 8.0].map(|p| (p, amdahl(0.1, p))).to_vec();
    let fitted = fit_serial_fraction(&exact).context("three points with p > 1")?;
    assert!((fitted - 0.1).abs() < 1e-9, "{fitted}");
    assert!((karp_flatt(amdahl(0.1, 4.0), 4.0) - 0.1).abs() < 1e-9);
    let s_text = s.map_or("n/a (one core)".to_owned(), |s| format!("{s:.3}"));
    let ceiling = s
        .filter(|&s| s > 0.0)
        .map_or("any".to_owned(), |s| format!("{:.1}x", 1.0 / s));
    println!(
        "result: serial fraction s = {s_text} by least squares over 2..={cores} threads; Amdahl \
         allows at most {ceiling} however many cores (times vary by machine)"
    );
    Ok(())
}

/// The speedup on each thread count against the sequential kernel, answers checked first,
/// each time the best of ROUNDS interleaved rounds after a warm-up (lesson l3-37).
fn measure_speedups(threads: &[usize]) -> Vec<(usize, f64)> {
    let expected = count_primes(0..LIMIT); // also the warm-up
    let mut best = vec![Duration::MAX; threads.len() + 1];
    for _ in 0..ROUNDS {
        for (i, p) in std::iter::once(0)
            .chain(threads.iter().copied())
            .enumerate()
        {
            let start = Instant::now();
            let answer = if p == 0 {
                count_primes(0..LIMIT)
            } else {
                count_primes_parallel(0..LIMIT, p)
            };
            best[i] = best[i].min(start.elapsed());
            assert_eq!(
                answer, expected,
                "{p} threads: a fast wrong answer is not a speedup"
            );
        }
    }
    threads
        .iter()
        .zip(&best[1..])
        .map(|(&p, &t)| (p, ratio(best[0], t)))
        .collect()
}

/// Karp-Flatt: the experimentally determined serial fraction for speedup `s` on `p` threads.
fn karp_flatt(speedup: f64, p: f64) -> f64 {
    (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p)
}

/// Amdahl's law: the speedup on `p` processors of a job whose serial fraction is `s`.
fn amdahl(s: f64, p: f64) -> f64 {
    1.0 / (s + (1.0 - s) / p)
}

/// The serial fraction `s` that best fits the points `(p, speedup)`, by least squares on
/// Amdahl's law rewritten as a line through the origin: `1/S - 1/p = s (1 - 1/p)`. `None`
/// without a point with `p > 1`. Clamped to `0..=1`: noise can make a point look better than
/// perfect, and no fraction is negative.
fn fit_serial_fraction(points: &[(f64, f64)]) -> Option<f64> {
    let (mut xy, mut xx) = (0.0, 0.0);
    for &(p, speedup) in points.iter().filter(|&&(p, _)| p > 1.0) {
        let (x, y) = (1.0 - 1.0 / p, 1.0 / speedup - 1.0 / p);
        xy += x * y;
        xx += x * x;
    }
    (xx > 0.0).then(|| (xy / xx).clamp(0.0, 1.0))
}
