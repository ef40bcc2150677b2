//! The Mandelbrot set as a grid of escape counts: uneven work that is easy to see.
//!
//! Each pixel stands for a point `c` of the complex plane; its value is how many steps of
//! `z ← z² + c` (from `z = 0`) stay within distance 2 of the origin, up to `max_iter`. Points
//! inside the set never leave, so their pixels cost the full `max_iter` steps; points far
//! outside leave after one. Rows that cross the set are therefore much dearer than rows near
//! the top and bottom edges.
//!
//! The view is fixed: real parts −2.0 to 0.5 left to right, imaginary parts 1.25 to −1.25 top
//! to bottom, with each pixel sampled at its centre. The grid is row-major: the count for
//! pixel `(x, y)` is at index `y * width + x`.
//!
//! [`mandelbrot_parallel`] deals rows out round-robin, row `y` to thread `y % threads`, so
//! every thread gets rows from the cheap edges and from the dear middle. (One band of rows
//! per thread would give the middle thread most of the work.) Each thread receives its rows
//! as `&mut [u32]` slices of the one output buffer, so the results need no copying.
//!
//! Both forms compute every pixel with the same function on the same inputs. Floating point
//! is deterministic for that: Rust never fuses `a * b + c` into a fused multiply-add on its
//! own, and the result of an operation does not depend on which thread runs it. So the two
//! grids are bit-for-bit equal.

use std::thread;

/// The view: real parts `RE_MIN..RE_MAX`, imaginary parts `IM_MIN..IM_MAX`.
const RE_MIN: f64 = -2.0;
const RE_MAX: f64 = 0.5;
const IM_MIN: f64 = -1.25;
const IM_MAX: f64 = 1.25;

/// How many steps of `z ← z² + c` from `z = 0` keep `|z| <= 2`, up to `max_iter`.
///
/// `max_iter` means "did not escape": the point is taken to be in the set. A point with
/// `|c| > 2` escapes at once, after 1 step.
///
/// ```
/// use shared::workload::escape_time;
///
/// assert_eq!(escape_time(0.0, 0.0, 100), 100); // the origin is in the set
/// assert_eq!(escape_time(-1.0, 0.0, 100), 100); // so is -1: z cycles 0, -1, 0, -1, ...
/// assert_eq!(escape_time(3.0, 3.0, 100), 1); // far outside: gone after one step
/// ```
pub fn escape_time(c_re: f64, c_im: f64, max_iter: u32) -> u32 {
    let (mut re, mut im) = (0.0_f64, 0.0_f64);
    let mut steps = 0;
    // |z|² <= 4 rather than |z| <= 2: the same test without a square root.
    while steps < max_iter && re * re + im * im <= 4.0 {
        (re, im) = (re * re - im * im + c_re, 2.0 * re * im + c_im);
        steps += 1;
    }
    steps
}

/// The escape count of every pixel of a `width` × `height` grid over the fixed view,
/// row-major, computed on the calling thread.
///
/// ```
/// use shared::workload::mandelbrot;
///
/// let grid = mandelbrot(8, 6, 50);
/// assert_eq!(grid.len(), 8 * 6);
/// assert_eq!(grid[0], 1); // the top-left corner is far outside the set
/// assert!(grid.contains(&50)); // and some pixels are inside it
/// ```
///
/// # Panics
///
/// If `width * height` overflows `usize`.
#[track_caller]
pub fn mandelbrot(width: usize, height: usize, max_iter: u32) -> Vec<u32> {
    let mut counts = vec![0; pixel_count(width, height)];
    if width > 0 {
        for (y, row) in counts.chunks_mut(width).enumerate() {
            render_row(row, y, height, max_iter);
        }
    }
    counts
}

/// The same grid as [`mandelbrot()`], rendered on up to `threads` threads, each given every
/// `threads`-th row.
///
/// ```
/// use shared::workload::{mandelbrot, mandelbrot_parallel};
///
/// assert_eq!(mandelbrot_parallel(40, 30, 100, 4), mandelbrot(40, 30, 100));
/// ```
///
/// # Panics
///
/// If `threads` is 0, or `width * height` overflows `usize`.
#[track_caller]
pub fn mandelbrot_parallel(width: usize, height: usize, max_iter: u32, threads: usize) -> Vec<u32> {
    super::assert_threads(threads);
    let mut counts = vec![0; pixel_count(width, height)];
    if width == 0 {
        return counts;
    }
    // Deal the rows like cards into one hand per thread. `chunks_mut` hands out
    // non-overlapping `&mut` rows, so the borrow checker can see that no two threads can
    // touch the same pixel.
    let threads = threads.min(height);
    let mut hands: Vec<Vec<(usize, &mut [u32])>> = (0..threads).map(|_| Vec::new()).collect();
    for (y, row) in counts.chunks_mut(width).enumerate() {
        hands[y % threads].push((y, row));
    }
    thread::scope(|s| {
        for hand in hands {
            s.spawn(move || {
                for (y, row) in hand {
                    render_row(row, y, height, max_iter);
                }
            });
        }
    });
    counts
}

/// Fills row `y` of a `row.len()` × `height` grid with escape counts. Both forms call this,
/// so every pixel is computed by the same operations in the same order; so may any other way
/// of splitting the grid (a pool, rayon), and get bit-identical results.
///
/// ```
/// use shared::workload::mandelbrot::render_row;
/// use shared::workload::mandelbrot;
///
/// let (width, height, max_iter) = (32, 24, 100);
/// let mut grid = vec![0; width * height];
/// for (y, row) in grid.chunks_mut(width).enumerate() {
///     render_row(row, y, height, max_iter);
/// }
/// assert_eq!(grid, mandelbrot(width, height, max_iter));
/// ```
pub fn render_row(row: &mut [u32], y: usize, height: usize, max_iter: u32) {
    let width = row.len();
    let c_im = IM_MAX - (y as f64 + 0.5) * (IM_MAX - IM_MIN) / height as f64;
    for (x, count) in row.iter_mut().enumerate() {
        let c_re = RE_MIN + (x as f64 + 0.5) * (RE_MAX - RE_MIN) / width as f64;
        *count = escape_time(c_re, c_im, max_iter);
    }
}

#[track_caller]
fn pixel_count(width: usize, height: usize) -> usize {
    width
        .checked_mul(height)
        .unwrap_or_else(|| panic!("a {width}x{height} grid has more pixels than a usize can count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_in_the_set_reach_max_iter() {
        for (re, im) in [(0.0, 0.0), (-1.0, 0.0), (-0.1, 0.1), (0.25, 0.0)] {
            assert_eq!(escape_time(re, im, 1_000), 1_000, "{re} + {im}i");
        }
    }

    #[test]
    fn far_points_escape_at_once() {
        for (re, im) in [(3.0, 0.0), (-2.5, 1.0), (10.0, -10.0)] {
            assert_eq!(escape_time(re, im, 1_000), 1, "{re} + {im}i");
        }
        assert_eq!(escape_time(0.0, 0.0, 0), 0); // no steps allowed, none taken
    }

    #[test]
    fn points_near_the_edge_take_a_while() {
        // Just outside the cusp of the main cardioid at 0.25: escapes, but slowly.
        let steps = escape_time(0.26, 0.0, 1_000);
        assert!((10..1_000).contains(&steps), "{steps}");
    }

    #[test]
    fn the_grid_is_row_major_and_symmetric() {
        let (width, height) = (21, 10);
        let grid = mandelbrot(width, height, 64);
        assert_eq!(grid.len(), width * height);
        assert!(grid.iter().all(|&count| (1..=64).contains(&count)));
        // The set is symmetric about the real axis, and the view is centred on it, so
        // row y mirrors row height - 1 - y. (With height 10 every row's imaginary part is a
        // multiple of 1/8, exact in binary, so the mirror rows see exactly opposite values.)
        for y in 0..height {
            let row = &grid[y * width..][..width];
            let mirror = &grid[(height - 1 - y) * width..][..width];
            assert_eq!(row, mirror, "row {y}");
        }
        assert!(grid.contains(&64));
    }

    #[test]
    fn sequential_and_parallel_agree_bit_for_bit() {
        for (width, height) in [(24, 17), (5, 1), (1, 9), (64, 40)] {
            let sequential = mandelbrot(width, height, 200);
            for threads in [1, 2, 3, 7, 64] {
                assert_eq!(
                    mandelbrot_parallel(width, height, 200, threads),
                    sequential,
                    "{width}x{height} on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn empty_grids() {
        for (width, height) in [(0, 0), (0, 5), (5, 0)] {
            assert!(mandelbrot(width, height, 10).is_empty());
            assert!(mandelbrot_parallel(width, height, 10, 3).is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "threads must be at least 1")]
    fn zero_threads_panics() {
        mandelbrot_parallel(4, 4, 10, 0);
    }
}
