//! A chain of filters run both ways: [`run_chain`] runs each filter on the calling thread and
//! in tiles on a pool, times both, and compares them pixel for pixel ([`first_difference`]).
//! What it measured comes back as a [`ChainReport`] of one [`StageReport`] per filter.

use super::error::ImageError;
use super::filters::Filter;
use super::pixels::Image;
use super::tiled::apply_tiled;
use shared::WorkerPool;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How many times [`run_chain`] runs each filter each way, keeping the best time: a single
/// run of a few milliseconds is at the mercy of whatever else the machine is doing.
pub const TIMING_RUNS: usize = 3;

/// What one filter of a chain did, sequentially and in tiles.
#[derive(Debug, Clone)]
pub struct StageReport {
    /// The filter.
    pub filter: Filter,
    /// The best time of [`Filter::apply`] on the calling thread.
    pub sequential: Duration,
    /// The best time of [`apply_tiled`] on the pool, stitching included.
    pub parallel: Duration,
    /// How many tiles the image was cut into.
    pub tiles: usize,
    /// How many tiles each pool thread ran, by thread name.
    pub tiles_per_thread: BTreeMap<String, usize>,
    /// The first pixel `(x, y)` where a tiled output differed from the sequential one
    /// (`(0, 0)` if even the size or layout differs); `None` when every run was identical.
    pub first_difference: Option<(usize, usize)>,
}

impl StageReport {
    /// `sequential / parallel`: above 1 when the tiles paid off. A measurement of this run,
    /// not a property of the code.
    pub fn speedup(&self) -> f64 {
        self.sequential.as_secs_f64() / self.parallel.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// What [`run_chain`] did.
#[derive(Debug, Clone)]
pub struct ChainReport {
    /// The image after the last filter (the sequential one; each stage checks that the tiled
    /// one is identical).
    pub output: Image,
    /// One report per filter, in order.
    pub stages: Vec<StageReport>,
    /// The pool's thread count.
    pub threads: usize,
}

impl ChainReport {
    /// Whether every stage's tiled output was identical to its sequential output.
    pub fn identical(&self) -> bool {
        self.stages.iter().all(|s| s.first_difference.is_none())
    }

    /// Total sequential time over total parallel time, for the whole chain.
    pub fn speedup(&self) -> f64 {
        let sequential: Duration = self.stages.iter().map(|s| s.sequential).sum();
        let parallel: Duration = self.stages.iter().map(|s| s.parallel).sum();
        sequential.as_secs_f64() / parallel.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Runs `filters` in order over `image`, each one both ways: on the calling thread
/// ([`Filter::apply`]) and in tiles of `tile_size` on a pool of `threads` threads named
/// `image-0`, `image-1`, ... ([`apply_tiled`]). Each way runs [`TIMING_RUNS`] times and keeps
/// its best time; every tiled output is compared with the sequential one pixel for pixel. The
/// sequential output is fed to the next filter.
///
/// ```
/// use level_3_advanced::projects::image::{Image, parse_filters, run_chain};
///
/// let image = Image::test_card(50, 30)?;
/// let report = run_chain(&image, &parse_filters("grayscale,blur,edges", 1)?, 2, 8)?;
/// assert!(report.identical());
/// assert_eq!(report.stages.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ImageError::NoFilters`], [`ImageError::ZeroThreads`], [`ImageError::TooManyThreads`],
/// [`ImageError::ZeroTileSize`], or
/// [`ImageError::Pool`] if the operating system refuses a thread.
pub fn run_chain(
    image: &Image,
    filters: &[Filter],
    threads: usize,
    tile_size: usize,
) -> Result<ChainReport, ImageError> {
    if filters.is_empty() {
        return Err(ImageError::NoFilters);
    }
    if threads == 0 {
        return Err(ImageError::ZeroThreads);
    }
    if threads > crate::projects::cli::MAX_THREADS {
        return Err(ImageError::TooManyThreads(threads));
    }
    if tile_size == 0 {
        return Err(ImageError::ZeroTileSize);
    }
    let pool = WorkerPool::builder()
        .threads(threads)
        .thread_name(|i| format!("image-{i}"))
        .build()?;
    let mut current = image.clone();
    let mut stages = Vec::with_capacity(filters.len());
    for filter in filters {
        let mut best = (Duration::MAX, Duration::MAX);
        let mut difference = None;
        let mut last = None;
        for _ in 0..TIMING_RUNS {
            let started = Instant::now();
            let sequential = filter.apply(&current);
            best.0 = best.0.min(started.elapsed());

            let started = Instant::now();
            let tiled = apply_tiled(filter, &current, tile_size, &pool)?;
            best.1 = best.1.min(started.elapsed());

            difference = difference.or_else(|| first_difference(&sequential, &tiled.image));
            last = Some((sequential, tiled));
        }
        let (sequential, tiled) = last.expect("TIMING_RUNS is at least 1");
        stages.push(StageReport {
            filter: *filter,
            sequential: best.0,
            parallel: best.1,
            tiles: tiled.tiles,
            tiles_per_thread: tiled.tiles_per_thread,
            first_difference: difference,
        });
        current = sequential;
    }
    Ok(ChainReport {
        output: current,
        stages,
        threads,
    })
}

/// The first pixel where `a` and `b` differ, `(0, 0)` if their sizes or layouts differ.
///
/// ```
/// use level_3_advanced::projects::image::{Image, Layout, first_difference};
///
/// let a = Image::new(2, 2, Layout::Gray, vec![1, 2, 3, 4])?;
/// let b = Image::new(2, 2, Layout::Gray, vec![1, 2, 3, 5])?;
/// assert_eq!(first_difference(&a, &a), None);
/// assert_eq!(first_difference(&a, &b), Some((1, 1)));
/// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
/// ```
pub fn first_difference(a: &Image, b: &Image) -> Option<(usize, usize)> {
    if (a.width, a.height, a.layout) != (b.width, b.height, b.layout) {
        return Some((0, 0));
    }
    let channels = a.layout.channels();
    let index = a
        .pixels
        .chunks_exact(channels)
        .zip(b.pixels.chunks_exact(channels))
        .position(|(p, q)| p != q)?;
    Some((index % a.width, index / a.width))
}
