//! # Lesson l3-11: benchmarking and tuning: speedup, efficiency and Amdahl's law, measured
//!
//! Replaces the Node course's performance claims ("5.38x", "the ideal speedup is the number of
//! cores", a falling latency table), which its own code does not reproduce: on a 2-vCPU machine
//! its benchmarks measured 0.3-0.9x and 1.8-2.9x. Numbers like these are only worth something
//! when the method is shown: one kernel, fixed input, the answers checked before any time is
//! looked at, several runs interleaved with a warm-up first, and the results read as ratios.
//!
//! Shows, for `shared::workload::count_primes_parallel` (primes below 2,000,000, dealt out in
//! blocks round-robin) on 1, 2, 4 and all available threads:
//! - **speedup** `S(p) = T(sequential) / T(p threads)` and **efficiency** `E(p) = S(p) / p`;
//! - the **Karp-Flatt metric** `e(p) = (1/S - 1/p) / (1 - 1/p)`: the serial fraction that
//!   would explain the measured speedup. Constant over `p`: a true serial part. Growing with
//!   `p`: overhead that grows with the thread count (spawning, imbalance, shared caches);
//! - an **Amdahl fit**: the serial fraction `s` by least squares over the measurements with at
//!   most one thread per core, then the predicted `S(p) = 1 / (s + (1 - s) / min(p, cores))`
//!   beside the measured one;
//! - **oversubscription**: more threads than cores cannot run at once, so 4 threads on a
//!   2-core machine are capped near 2x, and their Karp-Flatt `e` jumps: not serial code, just
//!   no cores left. That is why the fit uses `min(p, cores)`.
//!
//! Run: `cargo run --release --example l3-11-benchmarking-tuning` (a debug build measures the
//! debug build: its ratios are similar, its times are not)
//!
//! Expect: the answers checked, then a table of ratios (no absolute times: they describe this
//! machine at this moment and nothing else), then `result: 148933 primes below 2000000 in
//! every run; best speedup Nx on N threads, efficiency N% of the N cores it could use; serial
//! fraction s = N by least squares (times vary by machine)`. On 2 cores the speedup tops out
//! near 2x. On a machine busy with other work every speedup shrinks, and the table shows it.

use anyhow::{Context, ensure};
use shared::timing::ratio;
use shared::workload::{count_primes, count_primes_parallel};
use std::thread;
use std::time::{Duration, Instant};

/// The kernel counts the primes below this.
const LIMIT: u64 = 2_000_000;
/// π(2,000,000).
const PRIMES_BELOW_LIMIT: u64 = 148_933;
/// Each configuration's time is the best of this many runs, taken in interleaved rounds.
const ROUNDS: usize = 5;

/// How a configuration runs the kernel: on the calling thread, or on `p` threads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    Sequential,
    Threads(usize),
}

impl Run {
    fn count(self) -> u64 {
        match self {
            Run::Sequential => count_primes(0..LIMIT),
            Run::Threads(p) => count_primes_parallel(0..LIMIT, p),
        }
    }
}

/// One configuration's measurements: every answer it gave, and its best time.
#[derive(Debug)]
struct Measured {
    run: Run,
    answers: Vec<u64>,
    best: Duration,
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
        let x = 1.0 - 1.0 / p;
        let y = 1.0 / speedup - 1.0 / p;
        xy += x * y;
        xx += x * x;
    }
    (xx > 0.0).then(|| (xy / xx).clamp(0.0, 1.0))
}

fn main() -> anyhow::Result<()> {
    let cores = thread::available_parallelism()
        .context("cannot query the parallelism")?
        .get();
    let mut thread_counts = vec![1, 2, 4, cores];
    thread_counts.sort_unstable();
    thread_counts.dedup();
    let runs: Vec<Run> = std::iter::once(Run::Sequential)
        .chain(thread_counts.iter().map(|&p| Run::Threads(p)))
        .collect();
    println!(
        "[main] kernel: count_primes_parallel(0..{LIMIT}, p) against count_primes(0..{LIMIT}); \
         {cores} threads can run at once here"
    );
    println!(
        "[main] a warm-up run, then {ROUNDS} rounds; each round runs every configuration once, so \
         a disturbance hits them all alike; each figure is a configuration's best"
    );

    // Warm-up: pages faulted in, caches and the CPU's clock settled. Not timed.
    let warm = Run::Threads(cores).count();

    let mut measured: Vec<Measured> = runs
        .iter()
        .map(|&run| Measured {
            run,
            answers: Vec::new(),
            best: Duration::MAX,
        })
        .collect();
    for _ in 0..ROUNDS {
        for m in &mut measured {
            let start = Instant::now();
            let answer = m.run.count();
            m.best = m.best.min(start.elapsed());
            m.answers.push(answer);
        }
    }

    // The answers first: a fast wrong answer is not a speedup.
    let sequential = &measured[0];
    ensure!(sequential.run == Run::Sequential);
    let expected = sequential.answers[0];
    for m in &measured {
        assert!(
            m.answers.iter().all(|&a| a == expected),
            "{:?} gave {:?}, the sequential count is {expected}",
            m.run,
            m.answers
        );
    }
    assert_eq!(warm, expected);
    assert_eq!(expected, PRIMES_BELOW_LIMIT);
    println!(
        "[main] answers: {} runs, every one {expected}, the sequential count: checked before any \
         time is read",
        measured.iter().map(|m| m.answers.len()).sum::<usize>() + 1
    );

    // Only now the times, and only as ratios.
    let t_seq = sequential.best;
    let points: Vec<(usize, f64)> = measured[1..]
        .iter()
        .map(|m| match m.run {
            Run::Threads(p) => (p, ratio(t_seq, m.best)),
            Run::Sequential => unreachable!("only the first is sequential"),
        })
        .collect();
    // The fit uses the points with at most one thread per core: beyond that, Amdahl's `p`
    // is the core count, not the thread count.
    let fit_points: Vec<(f64, f64)> = points
        .iter()
        .filter(|&&(p, _)| p <= cores)
        .map(|&(p, s)| (p as f64, s))
        .collect();
    let s = fit_serial_fraction(&fit_points);

    println!(
        "\n[main] {:>8} {:>9} {:>11} {:>12} {:>10}",
        "threads", "speedup", "efficiency", "Karp-Flatt e", "Amdahl fit"
    );
    for &(p, speedup) in &points {
        let e = if p > 1 {
            format!("{:.3}", karp_flatt(speedup, p as f64))
        } else {
            "-".to_owned()
        };
        let predicted = s.map_or_else(
            || "-".to_owned(),
            |s| format!("{:.2}x", amdahl(s, p.min(cores) as f64)),
        );
        let note = if p > cores {
            format!("  {p} threads, {cores} cores: at most {cores} run at once")
        } else if p == 1 {
            "  one thread: threading's own cost, within this run's noise".to_owned()
        } else {
            String::new()
        };
        println!(
            "[main] {p:>8} {speedup:>8.2}x {:>10.0}% {e:>12} {predicted:>10}{note}",
            100.0 * speedup / p as f64
        );
    }
    let (best_p, best_speedup) = points
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .context("there are measurements")?;
    match s {
        Some(s) => {
            println!(
                "\n[main] least-squares serial fraction over 2..={cores} threads: s = {s:.3}; \
                 Amdahl then allows at most {} however many cores",
                if s > 0.0 {
                    format!("{:.1}x", 1.0 / s)
                } else {
                    "any speedup".to_owned()
                }
            );
            if s > 0.3 {
                println!(
                    "[main]   a kernel this parallel should fit far lower: other programs were \
                     probably using the cores, and the fit counts their time as serial. Run it \
                     again on a quiet machine"
                );
            }
            for p in [8.0, 64.0] {
                println!(
                    "[main]   predicted on {p} cores (not measured here): {:.2}x",
                    amdahl(s, p)
                );
            }
        }
        None => println!("\n[main] one core only: no speedup to fit"),
    }
    println!(
        "[main] this machine has {cores} cores, so no thread count can go much past {cores}x: on \
         2 cores the ceiling is near 2x"
    );

    assert!(measured.iter().all(|m| m.answers.len() == ROUNDS));
    println!(
        "\nresult: {expected} primes below {LIMIT} in every run; best speedup {best_speedup:.2}x \
         on {best_p} threads, efficiency {:.0}% of the {} cores it could use; serial fraction \
         s = {} by least squares (times vary by machine)",
        100.0 * best_speedup / best_p.min(cores) as f64,
        best_p.min(cores),
        s.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.3}"))
    );
    Ok(())
}
