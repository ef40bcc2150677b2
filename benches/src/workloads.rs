//! The four CPU-bound kernels of `shared::workload` with fixed inputs, runnable sequentially
//! or on any of three engines, all returning one comparable [`Answer`].
//!
//! | engine | how the work is split | what it is |
//! |---|---|---|
//! | [`EngineKind::Scoped`] | the kernel's own `_parallel` form: one scoped thread per share, spawned on every run | `std::thread::scope` |
//! | [`EngineKind::Pool`] | chunks through [`WorkerPool::map`] or [`WorkerPool::scope`] on long-lived threads | the course's pool |
//! | [`EngineKind::Rayon`] | the same chunks through `par_iter` / `par_chunks_mut` inside `install` | rayon's work stealing |
//!
//! The chunks for the pool and rayon:
//!
//! - `fib_set`: one task per input, in input order, so the dearest input is taken last, as
//!   the scoped form's shared counter does.
//! - `primes` and `mandelbrot`: [`CHUNKS`] contiguous pieces (ranges of numbers, bands of
//!   rows), many more than threads, so that a dear piece at the end leaves little idle time.
//! - `blur`: one band of rows per thread, as the scoped form does (every pixel costs the
//!   same), each row blurred by the kernel's own `blur_row`.
//!
//! A pool and a rayon pool are built once per thread count by [`Engine::new`], outside every
//! timed loop.

use anyhow::Context as _;
use rayon::prelude::*;
use shared::pool::WorkerPool;
use shared::workload::blur::blur_row;
use shared::workload::mandelbrot::render_row;
use shared::workload::{
    GrayImage, box_blur, box_blur_parallel, count_primes, count_primes_parallel, fib, fib_set,
    fib_set_parallel, mandelbrot, mandelbrot_parallel,
};
use std::fmt;
use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

/// Pieces the pool and rayon cut `primes` and `mandelbrot` into.
pub const CHUNKS: usize = 64;

/// One of the four kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `fib` of a few inputs of very different cost: [`fib_set`].
    FibSet,
    /// Primes in a range, by trial division: [`count_primes`].
    Primes,
    /// A Mandelbrot grid of escape counts: [`mandelbrot()`].
    Mandelbrot,
    /// A box blur of a test image: [`box_blur`].
    Blur,
}

impl Workload {
    /// Every workload, in the order the benches and the report show them.
    pub const ALL: [Workload; 4] = [
        Workload::FibSet,
        Workload::Primes,
        Workload::Mandelbrot,
        Workload::Blur,
    ];

    /// The name on the command line and in criterion's group ids.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FibSet => "fib_set",
            Workload::Primes => "primes",
            Workload::Mandelbrot => "mandelbrot",
            Workload::Blur => "blur",
        }
    }

    /// The workload called `name`, if any.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How large the inputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The benches' inputs: each sequential run takes tens of milliseconds in release.
    Full,
    /// About a tenth of the work (a few milliseconds a run): CI and unit tests.
    Quick,
}

/// The fixed inputs of every workload at one [`Size`]. The image is built once, here.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `fib_set`: the course's `fib(35..=40)` shape, scaled down; the last input is about 40%
    /// of the work, so no split can beat the time of that one input alone.
    pub fib_inputs: Vec<u32>,
    /// `primes`: the numbers tested. Higher numbers cost more.
    pub prime_range: Range<u64>,
    /// `mandelbrot`: width, height and iteration cap. Rows through the set cost the most.
    pub mandelbrot: (usize, usize, u32),
    /// `blur`: the image.
    pub image: GrayImage,
    /// `blur`: the radius. Every pixel costs `(2r + 1)²` reads.
    pub radius: u16,
}

impl Inputs {
    /// The inputs at `size`.
    pub fn new(size: Size) -> Inputs {
        match size {
            Size::Full => Inputs {
                fib_inputs: vec![27, 28, 29, 30, 31, 32],
                prime_range: 0..1_000_000,
                mandelbrot: (480, 360, 256),
                image: GrayImage::test_pattern(800, 600),
                radius: 3,
            },
            Size::Quick => Inputs {
                fib_inputs: vec![22, 23, 24, 25, 26, 27],
                prime_range: 0..200_000,
                mandelbrot: (160, 120, 256),
                image: GrayImage::test_pattern(240, 180),
                radius: 3,
            },
        }
    }

    /// How many elements `workload` processes, for throughput: inputs, numbers tested or
    /// pixels.
    pub fn elements(&self, workload: Workload) -> u64 {
        let count = match workload {
            Workload::FibSet => self.fib_inputs.len(),
            Workload::Primes => {
                let range = &self.prime_range;
                return range.end.saturating_sub(range.start);
            }
            Workload::Mandelbrot => self.mandelbrot.0 * self.mandelbrot.1,
            Workload::Blur => self.image.pixels().len(),
        };
        count as u64
    }

    /// What the elements of `workload` are, for headings: "6 Fibonacci inputs".
    pub fn describe(&self, workload: Workload) -> String {
        let n = group_digits(self.elements(workload));
        match workload {
            Workload::FibSet => format!("fib of {n} inputs, {:?}", self.fib_inputs.as_slice()),
            Workload::Primes => format!("{n} numbers tested for primality"),
            Workload::Mandelbrot => {
                let (width, height, max_iter) = self.mandelbrot;
                format!("{width} x {height} = {n} pixels, up to {max_iter} iterations each")
            }
            Workload::Blur => format!(
                "{} x {} = {n} pixels, radius {}",
                self.image.width(),
                self.image.height(),
                self.radius
            ),
        }
    }
}

/// `1234567` as `"1,234,567"`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a workload returns, whichever engine ran it: compared with `==` before any timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `fib_set`: one value per input, in input order.
    Fibs(Vec<u64>),
    /// `primes`: how many.
    Count(u64),
    /// `mandelbrot`: the escape counts, row-major.
    Grid(Vec<u32>),
    /// `blur`: the blurred image.
    Image(GrayImage),
}

impl Answer {
    /// A short description for a report line; never the whole grid.
    pub fn summary(&self) -> String {
        match self {
            Answer::Fibs(values) => match values.last() {
                Some(last) => format!("{} values, the last {}", values.len(), group_digits(*last)),
                None => "no values".to_owned(),
            },
            Answer::Count(count) => format!("{} primes", group_digits(*count)),
            Answer::Grid(grid) => format!(
                "{} pixels, {} iterations in all",
                group_digits(grid.len() as u64),
                group_digits(grid.iter().map(|&c| u64::from(c)).sum())
            ),
            Answer::Image(image) => format!(
                "{} pixels, mean brightness {:.2}",
                group_digits(image.pixels().len() as u64),
                mean(image.pixels())
            ),
        }
    }
}

fn mean(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    bytes.iter().map(|&b| f64::from(b)).sum::<f64>() / bytes.len() as f64
}

/// Which way of running threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// `std::thread::scope`, through the kernels' `_parallel` functions.
    Scoped,
    /// `shared::WorkerPool`: `map` or `scope` over chunks.
    Pool,
    /// rayon: `install` + `par_iter` over the same chunks.
    Rayon,
}

impl EngineKind {
    /// Every engine, in the order the benches and the report show them.
    pub const ALL: [EngineKind; 3] = [EngineKind::Scoped, EngineKind::Pool, EngineKind::Rayon];

    /// The name on the command line and in criterion's benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Scoped => "scoped",
            EngineKind::Pool => "pool",
            EngineKind::Rayon => "rayon",
        }
    }

    /// The engine called `name`, if any.
    pub fn from_name(name: &str) -> Option<EngineKind> {
        EngineKind::ALL.into_iter().find(|e| e.name() == name)
    }

    /// What it is, for headings.
    pub fn describe(self) -> &'static str {
        match self {
            EngineKind::Scoped => "scoped threads (std::thread::scope, spawned on every run)",
            EngineKind::Pool => "shared::WorkerPool (threads started once; map / scope)",
            EngineKind::Rayon => "rayon (a ThreadPool built once; install + par_iter)",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine at one thread count, with its pool already running (for `Pool` and `Rayon`).
#[derive(Debug)]
pub struct Engine {
    kind: EngineKind,
    threads: usize,
    pool: Option<WorkerPool>,
    rayon: Option<rayon::ThreadPool>,
}

impl Engine {
    /// `kind` on `threads` threads. Starts the pool's threads now, so that no timed run pays
    /// for them.
    ///
    /// # Errors
    /// If `threads` is 0, or the operating system refuses to start a thread.
    pub fn new(kind: EngineKind, threads: usize) -> anyhow::Result<Engine> {
        anyhow::ensure!(threads > 0, "an engine needs at least 1 thread, got 0");
        let (pool, rayon) = match kind {
            EngineKind::Scoped => (None, None),
            EngineKind::Pool => {
                let pool = WorkerPool::new(threads)
                    .with_context(|| format!("starting a WorkerPool of {threads} threads"))?;
                (Some(pool), None)
            }
            EngineKind::Rayon => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .with_context(|| format!("starting a rayon pool of {threads} threads"))?;
                (None, Some(pool))
            }
        };
        Ok(Engine {
            kind,
            threads,
            pool,
            rayon,
        })
    }

    /// Which engine.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// How many threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `workload` on this engine. Inputs pass through `black_box`, so the optimiser
    /// cannot compute anything ahead of the timed call.
    ///
    /// # Panics
    /// If the pool refuses work or a kernel panics: both are bugs, not measurements.
    pub fn run(&self, workload: Workload, inputs: &Inputs) -> Answer {
        match (&self.pool, &self.rayon) {
            (Some(pool), _) => on_pool(pool, self.threads, workload, inputs),
            (None, Some(rayon)) => on_rayon(rayon, self.threads, workload, inputs),
            (None, None) => scoped(self.threads, workload, inputs),
        }
    }
}

/// Runs `workload` on the calling thread: the answer every engine must match.
pub fn run_sequential(workload: Workload, inputs: &Inputs) -> Answer {
    match workload {
        Workload::FibSet => Answer::Fibs(fib_set(black_box(&inputs.fib_inputs))),
        Workload::Primes => Answer::Count(count_primes(black_box(inputs.prime_range.clone()))),
        Workload::Mandelbrot => {
            let (width, height, max_iter) = inputs.mandelbrot;
            Answer::Grid(mandelbrot(black_box(width), height, max_iter))
        }
        Workload::Blur => Answer::Image(box_blur(black_box(&inputs.image), inputs.radius)),
    }
}

fn scoped(threads: usize, workload: Workload, inputs: &Inputs) -> Answer {
    match workload {
        Workload::FibSet => Answer::Fibs(fib_set_parallel(black_box(&inputs.fib_inputs), threads)),
        Workload::Primes => Answer::Count(count_primes_parallel(
            black_box(inputs.prime_range.clone()),
            threads,
        )),
        Workload::Mandelbrot => {
            let (width, height, max_iter) = inputs.mandelbrot;
            Answer::Grid(mandelbrot_parallel(
                black_box(width),
                height,
                max_iter,
                threads,
            ))
        }
        Workload::Blur => Answer::Image(box_blur_parallel(
            black_box(&inputs.image),
            inputs.radius,
            threads,
        )),
    }
}

const POOL_OK: &str = "the pool is open and the kernels do not panic";

fn on_pool(pool: &WorkerPool, threads: usize, workload: Workload, inputs: &Inputs) -> Answer {
    match workload {
        Workload::FibSet => Answer::Fibs(
            pool.map(black_box(&inputs.fib_inputs), |&n| fib(n))
                .expect(POOL_OK),
        ),
        Workload::Primes => {
            let chunks = split(black_box(inputs.prime_range.clone()), CHUNKS);
            let counts = pool.map(chunks, count_primes).expect(POOL_OK);
            Answer::Count(counts.into_iter().sum())
        }
        Workload::Mandelbrot => {
            let (width, height, max_iter) = inputs.mandelbrot;
            let mut grid = vec![0; width * height];
            if let Some(band_rows) = rows_per_band(height, CHUNKS) {
                pool.scope(|s| {
                    for (k, band) in grid.chunks_mut(band_rows * black_box(width)).enumerate() {
                        s.spawn(move || {
                            render_band(band, k * band_rows, width, height, max_iter);
                        });
                    }
                });
            }
            Answer::Grid(grid)
        }
        Workload::Blur => {
            let image = black_box(&inputs.image);
            let mut pixels = vec![0; image.pixels().len()];
            if let Some(band_rows) = rows_per_band(image.height(), threads) {
                pool.scope(|s| {
                    for (k, band) in pixels.chunks_mut(band_rows * image.width()).enumerate() {
                        s.spawn(move || blur_band(image, inputs.radius, k * band_rows, band));
                    }
                });
            }
            Answer::Image(blurred(image, pixels))
        }
    }
}

fn on_rayon(
    rayon: &rayon::ThreadPool,
    threads: usize,
    workload: Workload,
    inputs: &Inputs,
) -> Answer {
    rayon.install(|| match workload {
        Workload::FibSet => Answer::Fibs(
            black_box(&inputs.fib_inputs)
                .par_iter()
                .map(|&n| fib(n))
                .collect(),
        ),
        Workload::Primes => {
            let chunks = split(black_box(inputs.prime_range.clone()), CHUNKS);
            Answer::Count(chunks.into_par_iter().map(count_primes).sum())
        }
        Workload::Mandelbrot => {
            let (width, height, max_iter) = inputs.mandelbrot;
            let mut grid = vec![0; width * height];
            if let Some(band_rows) = rows_per_band(height, CHUNKS) {
                grid.par_chunks_mut(band_rows * black_box(width))
                    .enumerate()
                    .for_each(|(k, band)| {
                        render_band(band, k * band_rows, width, height, max_iter);
                    });
            }
            Answer::Grid(grid)
        }
        Workload::Blur => {
            let image = black_box(&inputs.image);
            let mut pixels = vec![0; image.pixels().len()];
            if let Some(band_rows) = rows_per_band(image.height(), threads) {
                pixels
                    .par_chunks_mut(band_rows * image.width())
                    .enumerate()
                    .for_each(|(k, band)| blur_band(image, inputs.radius, k * band_rows, band));
            }
            Answer::Image(blurred(image, pixels))
        }
    })
}

/// The median times of the sequential run and of `workload` on each of `engines` (in that
/// order), all timed in turns by [`median_times`](crate::stats::median_times): the sequential
/// time first, then one per engine.
pub fn time_all(
    workload: Workload,
    inputs: &Inputs,
    engines: &[Engine],
    rounds: usize,
) -> (Duration, Vec<Duration>) {
    let sequential = || run_sequential(workload, inputs);
    let parallel: Vec<Box<dyn Fn() -> Answer + '_>> = engines
        .iter()
        .map(|engine| {
            Box::new(move || engine.run(workload, inputs)) as Box<dyn Fn() -> Answer + '_>
        })
        .collect();
    let mut forms: Vec<&dyn Fn() -> Answer> = vec![&sequential];
    forms.extend(parallel.iter().map(Box::as_ref));
    let mut times = crate::stats::median_times(&forms, rounds);
    let sequential = times.remove(0);
    (sequential, times)
}

/// `range` cut into at most `count` contiguous pieces of (nearly) equal length, in order,
/// covering it exactly. An empty range gives no pieces.
pub fn split(range: Range<u64>, count: usize) -> Vec<Range<u64>> {
    let len = range.end.saturating_sub(range.start);
    let step = len.div_ceil(count.max(1) as u64).max(1);
    let mut pieces = Vec::new();
    let mut low = range.start;
    while low < range.end {
        let high = low.saturating_add(step).min(range.end);
        pieces.push(low..high);
        low = high;
    }
    pieces
}

/// Rows per band to cut `height` rows into at most `bands` bands; `None` if there is nothing
/// to cut (no rows), so that callers never ask `chunks_mut` for chunks of 0.
fn rows_per_band(height: usize, bands: usize) -> Option<usize> {
    (height > 0).then(|| height.div_ceil(bands.max(1)))
}

/// Renders rows `first_row..` of the Mandelbrot grid into `band` (whole rows), with the
/// kernel's own `render_row`.
pub fn render_band(band: &mut [u32], first_row: usize, width: usize, height: usize, max_iter: u32) {
    for (dy, row) in band.chunks_mut(width).enumerate() {
        render_row(row, first_row + dy, height, max_iter);
    }
}

/// Blurs the rows `first_row..first_row + band.len() / width` of `image` into `band`, with
/// the kernel's own `blur_row`.
pub fn blur_band(image: &GrayImage, radius: u16, first_row: usize, band: &mut [u8]) {
    if image.width() == 0 {
        return;
    }
    for (dy, row) in band.chunks_mut(image.width()).enumerate() {
        blur_row(image, first_row + dy, radius, row);
    }
}

fn blurred(image: &GrayImage, pixels: Vec<u8>) -> GrayImage {
    GrayImage::new(image.width(), image.height(), pixels)
        .expect("the output has the input's dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
        }
        for e in EngineKind::ALL {
            assert_eq!(EngineKind::from_name(e.name()), Some(e));
        }
        assert_eq!(Workload::from_name("mandel"), None);
        assert_eq!(EngineKind::from_name("threads"), None);
    }

    #[test]
    fn split_covers_the_range_exactly_in_order() {
        for (range, count) in [(0..100, 7), (5..6, 64), (0..1_000_000, 64), (10..20, 10)] {
            let pieces = split(range.clone(), count);
            assert!(pieces.len() <= count, "{range:?} in {count}: {pieces:?}");
            assert_eq!(pieces.first().map(|p| p.start), Some(range.start));
            assert_eq!(pieces.last().map(|p| p.end), Some(range.end));
            for pair in pieces.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{pieces:?}");
                assert!(!pair[0].is_empty());
            }
        }
        assert!(split(7..7, 4).is_empty());
        // 0 pieces asked for: one, rather than a division by zero.
        assert_eq!(split(0..10, 0).len(), 1);
    }

    #[test]
    fn blur_bands_are_exact_even_when_thinner_than_the_radius() {
        for (width, height) in [(13, 10), (8, 1), (5, 31)] {
            let image = GrayImage::test_pattern(width, height);
            for radius in [0, 1, 3, 5] {
                let expected = box_blur(&image, radius);
                for bands in [1, 2, 3, 7, 10] {
                    let band_rows = height.div_ceil(bands);
                    let mut pixels = vec![0; width * height];
                    for (k, band) in pixels.chunks_mut(band_rows * width).enumerate() {
                        blur_band(&image, radius, k * band_rows, band);
                    }
                    assert!(
                        pixels == expected.pixels(),
                        "{width}x{height}, radius {radius}, {bands} bands"
                    );
                }
            }
        }
    }

    #[test]
    fn every_engine_matches_the_sequential_answer() {
        let inputs = Inputs {
            fib_inputs: vec![15, 3, 18, 10, 20],
            prime_range: 1_000..30_000,
            mandelbrot: (37, 23, 64),
            image: GrayImage::test_pattern(29, 17),
            radius: 2,
        };
        for workload in Workload::ALL {
            let expected = run_sequential(workload, &inputs);
            for kind in EngineKind::ALL {
                for threads in [1, 2, 3, 8] {
                    let engine = Engine::new(kind, threads).unwrap();
                    assert!(
                        engine.run(workload, &inputs) == expected,
                        "{workload} on {kind} with {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn different_inputs_give_different_answers() {
        // The check before timing compares answers: it must see a difference when there is
        // one, for every workload.
        let full = Inputs::new(Size::Quick);
        let mut other = full.clone();
        other.fib_inputs[5] -= 1;
        other.prime_range.end -= 1_000;
        other.mandelbrot.2 -= 1;
        other.radius -= 1;
        for workload in Workload::ALL {
            assert_ne!(
                run_sequential(workload, &full),
                run_sequential(workload, &other),
                "{workload}"
            );
        }
    }

    #[test]
    fn a_zero_thread_engine_is_an_error() {
        let err = Engine::new(EngineKind::Pool, 0).unwrap_err();
        assert!(err.to_string().contains("at least 1 thread"), "{err}");
    }

    #[test]
    fn elements_and_descriptions() {
        let inputs = Inputs::new(Size::Full);
        assert_eq!(inputs.elements(Workload::FibSet), 6);
        assert_eq!(inputs.elements(Workload::Primes), 1_000_000);
        assert_eq!(inputs.elements(Workload::Mandelbrot), 480 * 360);
        assert_eq!(inputs.elements(Workload::Blur), 800 * 600);
        assert_eq!(
            inputs.describe(Workload::Primes),
            "1,000,000 numbers tested for primality"
        );
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(12_345_678), "12,345,678");
        assert_eq!(Answer::Count(78_498).summary(), "78,498 primes");
    }
}
