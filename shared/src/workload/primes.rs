//! Prime testing and counting by trial division: plenty of arithmetic, no memory traffic.
//!
//! [`is_prime`] tries divisors up to `√n`, so a prime near `n` costs about `√n` steps (a
//! composite usually far fewer: most have a small factor). The cost of counting a range
//! therefore grows with the numbers in it: the block `999_000..1_000_000` takes many times
//! longer than `0..1_000`.
//!
//! That is why [`count_primes_parallel`] does not give each thread one contiguous slice of the
//! range: the last thread would get the dearest numbers and finish last while the others sit
//! idle. It cuts the range into small fixed-size blocks and deals them out like cards: block
//! 0 to thread 0, block 1 to thread 1, ..., and round again. Every thread gets a mix of low
//! and high blocks, so their totals come out nearly equal, with no shared state at all: each
//! thread works out its own blocks from its number.

use std::ops::Range;
use std::thread;

/// How many consecutive numbers make one unit of work in [`count_primes_parallel`]: small
/// enough to deal out evenly, big enough that dealing costs nothing next to the counting.
const BLOCK: u64 = 4_096;

/// Whether `n` is prime, by trial division with divisors of the form `6k ± 1` up to `√n`.
///
/// ```
/// use shared::workload::is_prime;
///
/// assert!(is_prime(2) && is_prime(97) && is_prime(1_000_000_007));
/// assert!(!is_prime(0) && !is_prime(1) && !is_prime(91)); // 91 = 7 × 13
/// assert!(!is_prime(u64::MAX)); // no overflow near the top of the range
/// ```
pub fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    // Every prime above 3 is one more or one less than a multiple of 6, so only those
    // divisors need trying. `d <= n / d` is `d * d <= n` without overflowing near u64::MAX.
    let mut d = 5;
    while d <= n / d {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

/// How many primes `range` holds, counted on the calling thread.
///
/// ```
/// use shared::workload::count_primes;
///
/// assert_eq!(count_primes(0..100), 25);
/// assert_eq!(count_primes(100..1_000), 143);
/// assert_eq!(count_primes(50..50), 0);
/// ```
pub fn count_primes(range: Range<u64>) -> u64 {
    range.filter(|&n| is_prime(n)).count() as u64
}

/// The primes in `range`, ascending.
///
/// ```
/// use shared::workload::primes_in;
///
/// assert_eq!(primes_in(90..110), [97, 101, 103, 107, 109]);
/// ```
pub fn primes_in(range: Range<u64>) -> Vec<u64> {
    range.filter(|&n| is_prime(n)).collect()
}

/// How many primes `range` holds, counted on up to `threads` threads. Same result as
/// [`count_primes`].
///
/// The range is cut into blocks of a few thousand numbers, dealt out round-robin; each
/// thread returns its count through `join` and the counts are added up. See the
/// [module docs](self) for why round-robin rather than one slice per thread.
///
/// ```
/// use shared::workload::{count_primes, count_primes_parallel};
///
/// assert_eq!(count_primes_parallel(0..100_000, 4), 9_592);
/// assert_eq!(count_primes_parallel(1_000..20_000, 3), count_primes(1_000..20_000));
/// ```
///
/// # Panics
///
/// If `threads` is 0.
#[track_caller]
pub fn count_primes_parallel(range: Range<u64>, threads: usize) -> u64 {
    super::assert_threads(threads);
    let Range { start, end } = range;
    let blocks = end.saturating_sub(start).div_ceil(BLOCK);
    let threads = threads.min(usize::try_from(blocks).unwrap_or(usize::MAX));

    thread::scope(|s| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|first_block| {
                s.spawn(move || {
                    (first_block..blocks)
                        .step_by(threads)
                        .map(|block| {
                            let low = start + block * BLOCK;
                            count_primes(low..low.saturating_add(BLOCK).min(end))
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        workers.into_iter().map(super::join).sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert_eq!(primes_in(0..30), primes);
    }

    #[test]
    fn squares_of_primes_are_not_prime() {
        // The divisor loop must reach √n itself, not stop just before it.
        for p in [5_u64, 7, 11, 13, 65_521] {
            assert!(!is_prime(p * p), "{p}²");
            assert!(!is_prime(p * (p + 2)), "{p} × {}", p + 2);
        }
    }

    #[test]
    fn large_numbers() {
        assert!(is_prime(4_294_967_291)); // the largest prime below 2^32
        assert!(!is_prime(4_294_967_297)); // 2^32 + 1 = 641 × 6_700_417
        assert!(!is_prime(u64::MAX)); // divisible by 3
    }

    #[test]
    fn prime_counting_function() {
        let known = [
            (10, 4),
            (100, 25),
            (1_000, 168),
            (10_000, 1_229),
            (100_000, 9_592),
        ];
        for (limit, pi) in known {
            assert_eq!(count_primes(0..limit), pi, "π({limit})");
        }
    }

    #[test]
    #[expect(
        clippy::reversed_empty_ranges,
        reason = "a reversed range is empty, as in std, and must count 0"
    )]
    fn ranges_not_starting_at_zero() {
        assert_eq!(count_primes(100..1_000), 168 - 25);
        assert_eq!(count_primes(1_000..10_000), 1_229 - 168);
        assert_eq!(count_primes(97..98), 1);
        assert_eq!(count_primes(98..97), 0); // an empty (reversed) range, as in std
    }

    #[test]
    #[expect(
        clippy::reversed_empty_ranges,
        reason = "the parallel form must treat a reversed range as empty, like the sequential"
    )]
    fn sequential_and_parallel_agree() {
        // 13_000 numbers make 4 blocks, the last one partial: fewer blocks than some thread
        // counts below, and not a multiple of any of them.
        let ranges = [0..100_000, 7..13_007, 1_000..1_001, 5..5, 10..3];
        for range in ranges {
            let sequential = count_primes(range.clone());
            for threads in [1, 2, 3, 7, 64] {
                assert_eq!(
                    count_primes_parallel(range.clone(), threads),
                    sequential,
                    "{range:?} on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn blocks_at_the_top_of_u64_do_not_overflow() {
        // u64::MAX - 1 is even, so this is cheap; the point is the block arithmetic.
        assert_eq!(count_primes_parallel(u64::MAX - 1..u64::MAX, 3), 0);
    }

    #[test]
    #[should_panic(expected = "threads must be at least 1")]
    fn zero_threads_panics() {
        count_primes_parallel(0..10, 0);
    }
}
