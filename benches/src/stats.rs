//! Timing and the arithmetic of speedup: medians of interleaved runs, speedup, efficiency,
//! and Amdahl's law read backwards (the Karp-Flatt metric).
//!
//! With `T₁` the sequential time and `Tₚ` the time on `p` processors:
//!
//! - speedup `S = T₁ / Tₚ`, at most `p`;
//! - efficiency `E = S / p`, at most 1;
//! - Amdahl's law: if a fraction `e` of the work cannot run in parallel,
//!   `S(p) = 1 / (e + (1 - e) / p)`, which tends to `1 / e` however many cores you add;
//! - Karp-Flatt: the `e` that makes Amdahl's law give the measured `S`,
//!   `e = (1/S - 1/p) / (1 - 1/p)`, for `p > 1`. It counts everything that keeps `p` cores
//!   from a `p`-fold speed as "serial": code that really is serial, an uneven split, starting
//!   threads, and other processes taking the cores.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::thread;
use std::time::{Duration, Instant};

/// The thread counts the benches and the report use: 1, 2, 4 and every core
/// (`available_parallelism`), sorted, without repeats. 1 shows what threading costs by itself;
/// 4 on a 2-core machine shows what more threads than cores do.
pub fn thread_counts() -> Vec<usize> {
    thread_counts_for(available_cores())
}

/// [`thread_counts`] for a machine with `cores` cores.
pub fn thread_counts_for(cores: usize) -> Vec<usize> {
    let mut counts = vec![1, 2, 4, cores.max(1)];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// How many threads can run at once here: `std::thread::available_parallelism`, 1 if unknown.
pub fn available_cores() -> usize {
    thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// The median of `times` (the upper middle one for an even count); zero for none.
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// The median wall time of each of `variants` over `rounds` rounds, the variants taking turns
/// (one run of each, then again), so that a slow patch of the machine hits them all alike.
///
/// Each timed run follows an untimed run of the same variant, so every variant is timed warm:
/// a pool's threads have had a run to wake up, and caches hold its data. `black_box` keeps
/// each result alive, so no run can be optimised away.
pub fn median_times<R>(variants: &[&dyn Fn() -> R], rounds: usize) -> Vec<Duration> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (run, times) in variants.iter().zip(&mut times) {
            black_box(run());
            let start = Instant::now();
            black_box(run());
            times.push(start.elapsed());
        }
    }
    times.iter().map(|t| median(t)).collect()
}

/// `sequential / parallel`: how many times faster the parallel run was. `NaN` if either time
/// is zero.
pub fn speedup(sequential: Duration, parallel: Duration) -> f64 {
    let (s, p) = (sequential.as_secs_f64(), parallel.as_secs_f64());
    if s > 0.0 && p > 0.0 { s / p } else { f64::NAN }
}

/// `speedup / processors`: the share of the ideal `p`-fold speedup reached.
pub fn efficiency(speedup: f64, processors: usize) -> f64 {
    speedup / processors.max(1) as f64
}

/// The Karp-Flatt metric: the serial fraction `e` that Amdahl's law needs to give `speedup`
/// on `processors` processors. `None` for one processor, where it is undefined (0 / 0), and
/// for a speedup that is not a positive number. It is negative when the speedup beats
/// `processors` (caches, or noise).
pub fn karp_flatt(speedup: f64, processors: usize) -> Option<f64> {
    if processors < 2 || !(speedup.is_finite() && speedup > 0.0) {
        return None;
    }
    let p = processors as f64;
    Some((1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p))
}

/// Amdahl's law: the speedup on `processors` processors when a fraction `serial` of the work
/// cannot run in parallel.
pub fn amdahl_speedup(serial: f64, processors: usize) -> f64 {
    amdahl_curve(serial, processors.max(1) as f64)
}

/// [`amdahl_speedup`] for any real `processors` of at least 1, to draw the law as a curve
/// (`benches::chart`): `1 / (serial + (1 - serial) / processors)`.
pub fn amdahl_curve(serial: f64, processors: f64) -> f64 {
    1.0 / (serial + (1.0 - serial) / processors.max(1.0))
}

/// The processors a run on `threads` threads can use at once on `cores` cores: the `p` of
/// speedup, efficiency and Karp-Flatt. Four threads on two cores take turns on two.
pub fn processors(threads: usize, cores: usize) -> usize {
    threads.min(cores).max(1)
}

/// The one-minute load average from the text of `/proc/loadavg` ("0.52 0.58 0.59 1/467 ..").
pub fn parse_load_average(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The one-minute load average of this machine, where the system says (Linux).
pub fn load_average() -> Option<f64> {
    parse_load_average(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn thread_counts_are_1_2_4_and_the_cores_sorted_without_repeats() {
        assert_eq!(thread_counts_for(1), [1, 2, 4]);
        assert_eq!(thread_counts_for(2), [1, 2, 4]);
        assert_eq!(thread_counts_for(4), [1, 2, 4]);
        assert_eq!(thread_counts_for(3), [1, 2, 3, 4]);
        assert_eq!(thread_counts_for(16), [1, 2, 4, 16]);
        assert_eq!(thread_counts_for(0), [1, 2, 4]);
        assert!(thread_counts().contains(&available_cores()));
    }

    #[test]
    fn median_picks_the_middle() {
        assert_eq!(median(&[ms(5), ms(1), ms(9)]), ms(5));
        assert_eq!(median(&[ms(4), ms(1), ms(9), ms(2)]), ms(4));
        assert_eq!(median(&[ms(3)]), ms(3));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn median_times_runs_every_variant_warm_then_timed_in_turns() {
        let order = std::cell::RefCell::new(Vec::new());
        let (a, b) = (Cell::new(0), Cell::new(0));
        let first = || {
            a.set(a.get() + 1);
            order.borrow_mut().push('a');
        };
        let second = || {
            b.set(b.get() + 1);
            order.borrow_mut().push('b');
        };
        let times = median_times(&[&first, &second], 3);
        assert_eq!(times.len(), 2);
        assert_eq!((a.get(), b.get()), (6, 6));
        assert_eq!(order.borrow().iter().collect::<String>(), "aabbaabbaabb");
    }

    #[test]
    fn speedup_and_efficiency() {
        assert!(close(speedup(ms(100), ms(50)), 2.0));
        assert!(close(speedup(ms(100), ms(125)), 0.8));
        assert!(speedup(ms(100), Duration::ZERO).is_nan());
        assert!(close(efficiency(1.5, 2), 0.75));
        assert!(close(efficiency(3.0, 4), 0.75));
    }

    #[test]
    fn karp_flatt_known_values() {
        // A perfect speedup has no serial fraction; no speedup at all is all serial.
        assert!(close(karp_flatt(2.0, 2).unwrap(), 0.0));
        assert!(close(karp_flatt(1.0, 2).unwrap(), 1.0));
        assert!(close(karp_flatt(1.0, 8).unwrap(), 1.0));
        // 1.6x on 2: (0.625 - 0.5) / 0.5.
        assert!(close(karp_flatt(1.6, 2).unwrap(), 0.25));
        // Better than p: negative, which the report must not call a serial fraction.
        assert!(karp_flatt(2.1, 2).unwrap() < 0.0);
        assert_eq!(karp_flatt(1.0, 1), None);
        assert_eq!(karp_flatt(0.0, 2), None);
        assert_eq!(karp_flatt(f64::NAN, 2), None);
        assert_eq!(karp_flatt(f64::INFINITY, 2), None);
    }

    #[test]
    fn karp_flatt_inverts_amdahl() {
        for serial in [0.0, 0.01, 0.1, 0.37, 1.0] {
            for p in [2, 3, 4, 64] {
                let s = amdahl_speedup(serial, p);
                assert!(
                    close(karp_flatt(s, p).unwrap(), serial),
                    "e {serial}, p {p}"
                );
            }
        }
        assert!(close(amdahl_speedup(0.5, 2), 4.0 / 3.0));
        assert!(close(amdahl_speedup(0.0, 4), 4.0));
        assert!(close(amdahl_speedup(0.3, 1), 1.0));
        // The curve passes through the law's points and lies between them.
        assert!(close(amdahl_curve(0.5, 2.0), amdahl_speedup(0.5, 2)));
        let between = amdahl_curve(0.2, 2.5);
        assert!(amdahl_speedup(0.2, 2) < between && between < amdahl_speedup(0.2, 3));
        assert!(close(amdahl_curve(0.2, 0.5), 1.0));
    }

    #[test]
    fn processors_are_capped_by_the_cores() {
        assert_eq!(processors(4, 2), 2);
        assert_eq!(processors(1, 8), 1);
        assert_eq!(processors(8, 8), 8);
        assert_eq!(processors(0, 2), 1);
    }

    #[test]
    fn load_average_parsing() {
        assert_eq!(
            parse_load_average("2.59 4.67 3.41 3/512 12345\n"),
            Some(2.59)
        );
        assert_eq!(parse_load_average(""), None);
        assert_eq!(parse_load_average("busy"), None);
    }
}
