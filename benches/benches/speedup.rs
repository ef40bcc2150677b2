//! Speedup: every kernel of `shared::workload`, sequential against parallel.
//!
//! One criterion group per workload, each timing the sequential form and the parallel form on
//! 1 thread, 2 threads and every core (`std::thread::available_parallelism`). Read the
//! results as:
//!
//! - `parallel/1` against `sequential`: what spawning and joining threads costs by itself;
//! - `parallel/2`, `parallel/N` against `sequential`: the speedup, which is at most the number
//!   of cores, and less when the split is uneven (see each kernel's docs for how it splits).
//!
//! Throughput is in elements (numbers tested, pixels, Fibonacci inputs), so criterion also
//! reports elements per second. Before timing, each group checks once that every parallel
//! form returns exactly what the sequential one does: a fast wrong answer is no speedup.
//!
//! Inputs are sized so one sequential run takes a few tens of milliseconds in a release build,
//! and the whole bench finishes in about a minute on two cores:
//!
//! ```text
//! cargo bench -p benches --bench speedup              # measure, then print a speedup summary
//! cargo bench -p benches --bench speedup -- primes    # one group only
//! cargo bench -p benches --bench speedup -- --test    # run each once, as a check
//! ```

use benches::measuring;
use criterion::{BenchmarkId, Criterion, Throughput};
use shared::workload::{
    GrayImage, box_blur, box_blur_parallel, count_primes, count_primes_parallel, fib_set,
    fib_set_parallel, mandelbrot, mandelbrot_parallel,
};
use std::fmt::Debug;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::thread;
use std::time::{Duration, Instant};

/// Primes: the numbers tested. Higher numbers cost more, which the block dealing evens out.
const PRIME_RANGE: std::ops::Range<u64> = 0..1_000_000;
/// Mandelbrot: the grid and the iteration cap. Rows through the set cost the most.
const MANDELBROT: (usize, usize, u32) = (480, 360, 256);
/// Blur: the image and the radius. Every pixel costs the same: `(2r + 1)²` reads.
const BLUR: (usize, usize, u16) = (800, 600, 3);
/// Fibonacci set: the course's `fib(35..=40)` shape, scaled down: the last input is about 40%
/// of the work, so no split can beat the time of `fib(32)` alone.
const FIB_INPUTS: [u32; 6] = [27, 28, 29, 30, 31, 32];

fn main() {
    // What `criterion_group!` and `criterion_main!` would generate, plus a summary at the end.
    let mut criterion = Criterion::default().configure_from_args();
    let threads = thread_counts();

    let (width, height, max_iter) = MANDELBROT;
    let (image_width, image_height, radius) = BLUR;
    let image = GrayImage::test_pattern(image_width, image_height);

    let summary = [
        compare(
            &mut criterion,
            "primes",
            PRIME_RANGE.end - PRIME_RANGE.start,
            &threads,
            || count_primes(black_box(PRIME_RANGE)),
            |t| count_primes_parallel(black_box(PRIME_RANGE), t),
        ),
        compare(
            &mut criterion,
            "mandelbrot",
            (width * height) as u64,
            &threads,
            || mandelbrot(black_box(width), height, max_iter),
            |t| mandelbrot_parallel(black_box(width), height, max_iter, t),
        ),
        compare(
            &mut criterion,
            "blur",
            (image_width * image_height) as u64,
            &threads,
            || box_blur(black_box(&image), radius),
            |t| box_blur_parallel(black_box(&image), radius, t),
        ),
        compare(
            &mut criterion,
            "fib_set",
            FIB_INPUTS.len() as u64,
            &threads,
            || fib_set(black_box(&FIB_INPUTS)),
            |t| fib_set_parallel(black_box(&FIB_INPUTS), t),
        ),
    ];

    criterion.final_summary();
    if measuring() {
        let cores = threads.last().copied().unwrap_or(1);
        println!(
            "\nSpeedup on {cores} threads (sequential time / parallel time, median of 5 runs):"
        );
        for line in summary {
            println!("  {line}");
        }
    }
}

/// Thread counts to time: 1 (the cost of threading itself), 2, and every core, without
/// repeats on a machine with 1 or 2 cores.
fn thread_counts() -> Vec<usize> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut counts = vec![1, 2, cores];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// One criterion group: `sequential` against `parallel(t)` for every `t` in `threads`, after
/// checking that they agree. Returns a one-line speedup summary for the end of the run.
fn compare<R: PartialEq + Debug>(
    criterion: &mut Criterion,
    name: &str,
    elements: u64,
    threads: &[usize],
    sequential: impl Fn() -> R,
    parallel: impl Fn(usize) -> R,
) -> String {
    let expected = sequential();
    for &t in threads {
        // `assert!` rather than `assert_eq!`: a mismatch should not print two 170_000-pixel
        // grids.
        assert!(
            parallel(t) == expected,
            "{name}: the parallel form on {t} threads differs from the sequential one"
        );
    }

    let mut group = criterion.benchmark_group(name);
    // Few samples over a short window: these kernels are steady, and the point is the
    // ratio between forms, not the last percent.
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(elements));
    group.bench_function("sequential", |b| b.iter(&sequential));
    for &t in threads {
        group.bench_with_input(BenchmarkId::new("parallel", t), &t, |b, &t| {
            b.iter(|| parallel(t))
        });
    }
    group.finish();

    if !measuring() {
        return String::new();
    }
    // Criterion keeps its estimates to itself, so time the two ends once more for the summary.
    let most = threads.last().copied().unwrap_or(1);
    let ratio =
        median_time(&sequential).as_secs_f64() / median_time(|| parallel(most)).as_secs_f64();
    format!("{name:<12} {ratio:.2}x")
}

/// The median wall time of 5 runs of `f`.
fn median_time<R>(f: impl Fn() -> R) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}
