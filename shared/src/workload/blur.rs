//! A box blur over a grayscale image: the lesson of disjoint mutable borrows.
//!
//! Each output pixel is the average of the `(2r + 1) × (2r + 1)` square of input pixels
//! around it, `r` being the radius. Near the border the square reaches outside the image; a
//! position outside is *clamped* to the nearest edge pixel, so the border pixels count more
//! than once and every average still divides by the full `(2r + 1)²`. The arithmetic is all
//! integers (a `u64` sum, then a division rounded to nearest), so the sequential and
//! parallel forms agree exactly, and a constant image stays exactly constant.
//!
//! [`box_blur_parallel`] splits the *output* into one band of whole rows per thread with
//! `chunks_mut`. Every thread reads the whole input through a shared `&GrayImage` (a band's
//! pixels need the rows just above and below it) and writes only its own band through a
//! `&mut [u8]`. The borrow checker sees that the bands cannot overlap, so no `Arc`, no
//! `Mutex` and no copying are needed, and `thread::scope` guarantees that every thread is
//! done before the output is used. Equal bands are fair here because every pixel costs the
//! same.
//!
//! The kernel is naive on purpose, `(2r + 1)²` reads per pixel: real blurs use running sums
//! and two one-dimensional passes, which would hide the lesson.

use std::thread;

/// A grayscale image: `width × height` bytes, row-major, `0` black and `255` white.
///
/// The pixel `(x, y)` is at index `y * width + x`. The fields are private so that the buffer
/// always has exactly `width * height` bytes: [`new`](Self::new) checks it.
///
/// ```
/// use shared::workload::GrayImage;
///
/// let image = GrayImage::new(3, 2, vec![0, 10, 20, 30, 40, 50])?;
/// assert_eq!((image.width(), image.height()), (3, 2));
/// assert_eq!(image.pixel(1, 1), 40);
/// # Ok::<(), shared::workload::ImageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// Why a pixel buffer cannot become a [`GrayImage`].
///
/// ```
/// use shared::workload::{GrayImage, ImageError};
///
/// let error = GrayImage::new(4, 4, vec![0; 15]).unwrap_err();
/// assert_eq!(
///     error,
///     ImageError::WrongLength { width: 4, height: 4, expected: 16, actual: 15 }
/// );
/// assert_eq!(error.to_string(), "a 4x4 image needs 16 pixels, but the buffer holds 15");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The buffer does not hold exactly `width * height` pixels.
    #[error("a {width}x{height} image needs {expected} pixels, but the buffer holds {actual}")]
    WrongLength {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
        /// `width * height`.
        expected: usize,
        /// The length of the buffer given.
        actual: usize,
    },
    /// `width * height` does not fit in a `usize`, so no buffer can hold the image.
    #[error("a {width}x{height} image has more pixels than a usize can count")]
    TooLarge {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
    },
}

impl GrayImage {
    /// An image from a row-major pixel buffer, which must hold exactly `width * height`
    /// bytes.
    ///
    /// ```
    /// use shared::workload::{GrayImage, ImageError};
    ///
    /// assert!(GrayImage::new(2, 2, vec![255; 4]).is_ok());
    /// assert!(GrayImage::new(0, 0, Vec::new()).is_ok()); // empty images are images too
    /// assert!(matches!(
    ///     GrayImage::new(usize::MAX, 2, Vec::new()),
    ///     Err(ImageError::TooLarge { .. })
    /// ));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ImageError::WrongLength`] if the buffer is too short or too long,
    /// [`ImageError::TooLarge`] if `width * height` overflows.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, ImageError> {
        let expected = width
            .checked_mul(height)
            .ok_or(ImageError::TooLarge { width, height })?;
        if pixels.len() != expected {
            return Err(ImageError::WrongLength {
                width,
                height,
                expected,
                actual: pixels.len(),
            });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// A deterministic test image: a diagonal ramp (`(x + y) % 128`) with an 8 × 8
    /// checkerboard on top (`+ 128` on every other square). Smooth areas, hard edges and the
    /// full range of values, and the same bytes on every machine.
    ///
    /// ```
    /// use shared::workload::GrayImage;
    ///
    /// let image = GrayImage::test_pattern(16, 16);
    /// assert_eq!(image.pixel(0, 0), 0);
    /// assert_eq!(image.pixel(3, 2), 5);
    /// assert_eq!(image.pixel(8, 0), 128 + 8); // the next checker square is bright
    /// assert_eq!(image, GrayImage::test_pattern(16, 16));
    /// ```
    pub fn test_pattern(width: usize, height: usize) -> Self {
        let pattern = |x: usize, y: usize| {
            let ramp = ((x + y) % 128) as u8;
            let checker = if (x / 8 + y / 8).is_multiple_of(2) {
                0
            } else {
                128
            };
            ramp + checker
        };
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| pattern(x, y)))
            .collect();
        Self {
            width,
            height,
            pixels,
        }
    }

    /// The width in pixels.
    ///
    /// ```
    /// assert_eq!(shared::workload::GrayImage::test_pattern(5, 3).width(), 5);
    /// ```
    pub fn width(&self) -> usize {
        self.width
    }

    /// The height in pixels.
    ///
    /// ```
    /// assert_eq!(shared::workload::GrayImage::test_pattern(5, 3).height(), 3);
    /// ```
    pub fn height(&self) -> usize {
        self.height
    }

    /// All pixels, row-major.
    ///
    /// ```
    /// let image = shared::workload::GrayImage::new(2, 1, vec![7, 9])?;
    /// assert_eq!(image.pixels(), [7, 9]);
    /// # Ok::<(), shared::workload::ImageError>(())
    /// ```
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at column `x`, row `y`.
    ///
    /// ```
    /// let image = shared::workload::GrayImage::new(2, 2, vec![1, 2, 3, 4])?;
    /// assert_eq!(image.pixel(0, 1), 3);
    /// # Ok::<(), shared::workload::ImageError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `(x, y)` is outside the image.
    #[track_caller]
    pub fn pixel(&self, x: usize, y: usize) -> u8 {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) is outside the {}x{} image",
            self.width,
            self.height
        );
        self.pixels[y * self.width + x]
    }

    /// The pixel buffer, row-major, without copying.
    ///
    /// ```
    /// let image = shared::workload::GrayImage::new(2, 1, vec![7, 9])?;
    /// assert_eq!(image.into_pixels(), vec![7, 9]);
    /// # Ok::<(), shared::workload::ImageError>(())
    /// ```
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
}

/// `image` blurred with a box of the given `radius`, on the calling thread. Radius 0 returns
/// an equal image.
///
/// The radius is a `u16` so that the integer sum cannot overflow: even the largest window,
/// 131_071² pixels of 255, sums to less than 2⁴³. (Any radius near that limit would run for
/// days; useful radii are single digits.)
///
/// ```
/// use shared::workload::{GrayImage, box_blur};
///
/// // A bright vertical line, blurred sideways into its neighbours.
/// let image = GrayImage::new(3, 1, vec![0, 90, 0])?;
/// assert_eq!(box_blur(&image, 1).pixels(), [30, 30, 30]);
/// # Ok::<(), shared::workload::ImageError>(())
/// ```
pub fn box_blur(image: &GrayImage, radius: u16) -> GrayImage {
    let mut output = vec![0; image.pixels.len()];
    // `chunks_mut(0)` panics, and an empty image has nothing to blur anyway.
    if !output.is_empty() {
        for (y, row) in output.chunks_mut(image.width).enumerate() {
            blur_row(image, y, radius, row);
        }
    }
    GrayImage {
        pixels: output,
        ..*image
    }
}

/// The same image as [`box_blur`], computed on up to `threads` threads, one band of rows
/// each.
///
/// The output buffer is cut with `chunks_mut` into bands of `ceil(height / threads)` rows,
/// one scoped thread per band. So there are at most `threads` threads and never more than
/// rows (10 rows on 7 threads make 5 bands of 2).
///
/// ```
/// use shared::workload::{GrayImage, box_blur, box_blur_parallel};
///
/// let image = GrayImage::test_pattern(40, 30);
/// assert_eq!(box_blur_parallel(&image, 2, 4), box_blur(&image, 2));
/// ```
///
/// # Panics
///
/// If `threads` is 0.
#[track_caller]
pub fn box_blur_parallel(image: &GrayImage, radius: u16, threads: usize) -> GrayImage {
    super::assert_threads(threads);
    let mut output = vec![0; image.pixels.len()];
    // An empty image has nothing to blur, and would make `chunks_mut(0)` panic.
    if !output.is_empty() {
        let band_rows = image.height.div_ceil(threads);
        thread::scope(|s| {
            for (band, pixels) in output.chunks_mut(band_rows * image.width).enumerate() {
                // `move` copies the band number and the `&GrayImage` into the thread, and
                // moves in this band's `&mut [u8]`: the only way to write to it.
                s.spawn(move || {
                    for (row_in_band, row) in pixels.chunks_mut(image.width).enumerate() {
                        blur_row(image, band * band_rows + row_in_band, radius, row);
                    }
                });
            }
        });
    }
    GrayImage {
        pixels: output,
        ..*image
    }
}

/// Blurs row `y` of `image` into `output`, one byte per pixel of the row. Both forms call
/// this, so they agree exactly; so may any other way of splitting the rows (a pool, rayon),
/// and get byte-identical results.
///
/// ```
/// use shared::workload::blur::blur_row;
/// use shared::workload::{GrayImage, box_blur};
///
/// let image = GrayImage::test_pattern(24, 16);
/// let mut pixels = vec![0; 24 * 16];
/// for (y, row) in pixels.chunks_mut(24).enumerate() {
///     blur_row(&image, y, 2, row);
/// }
/// assert_eq!(pixels, box_blur(&image, 2).pixels());
/// ```
///
/// # Panics
///
/// If `y` is not a row of `image`, or `output` is not exactly one row long.
#[track_caller]
pub fn blur_row(image: &GrayImage, y: usize, radius: u16, output: &mut [u8]) {
    let (width, height) = (image.width, image.height);
    assert!(y < height, "row {y} of an image {height} rows high");
    assert_eq!(output.len(), width, "a row of the output is {width} pixels");
    let r = usize::from(radius);
    let side = 2 * u64::from(radius) + 1;
    let window = side * side;
    // Clamping: offset `d` in `0..=2r` stands for position `p + d - r`, pulled into the image.
    let clamp = |p: usize, d: usize, len: usize| (p + d).saturating_sub(r).min(len - 1);
    for (x, out) in output.iter_mut().enumerate() {
        let mut sum = 0_u64;
        for dy in 0..=2 * r {
            let source_row = &image.pixels[clamp(y, dy, height) * width..][..width];
            for dx in 0..=2 * r {
                sum += u64::from(source_row[clamp(x, dx, width)]);
            }
        }
        // Rounded to nearest (halves up). The average of bytes is at most 255, so it fits.
        *out = ((sum + window / 2) / window) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width × height` black image with one white pixel at `(x, y)`.
    fn dot(width: usize, height: usize, x: usize, y: usize) -> GrayImage {
        let mut pixels = vec![0; width * height];
        pixels[y * width + x] = 255;
        GrayImage::new(width, height, pixels).unwrap()
    }

    #[test]
    fn wrong_buffer_lengths_are_typed_errors() {
        assert_eq!(
            GrayImage::new(3, 2, vec![0; 7]),
            Err(ImageError::WrongLength {
                width: 3,
                height: 2,
                expected: 6,
                actual: 7
            })
        );
        assert!(matches!(
            GrayImage::new(2, 3, vec![0; 5]),
            Err(ImageError::WrongLength { actual: 5, .. })
        ));
        assert_eq!(
            GrayImage::new(usize::MAX, usize::MAX, Vec::new()),
            Err(ImageError::TooLarge {
                width: usize::MAX,
                height: usize::MAX
            })
        );
    }

    #[test]
    fn the_test_pattern_is_deterministic_and_varied() {
        let image = GrayImage::test_pattern(130, 9);
        assert_eq!(image.pixels().len(), 130 * 9);
        assert_eq!(image, GrayImage::test_pattern(130, 9));
        assert_eq!(image.pixel(0, 0), 0);
        assert_eq!(image.pixel(127, 0), 255); // ramp 127 on a bright square
    }

    #[test]
    fn radius_zero_is_the_identity() {
        let image = GrayImage::test_pattern(37, 23);
        assert_eq!(box_blur(&image, 0), image);
        assert_eq!(box_blur_parallel(&image, 0, 3), image);
    }

    #[test]
    fn a_constant_image_stays_constant() {
        let image = GrayImage::new(9, 7, vec![77; 63]).unwrap();
        for radius in [1, 2, 5, 20] {
            assert_eq!(box_blur(&image, radius), image, "radius {radius}");
        }
    }

    #[test]
    fn a_bright_pixel_spreads_into_its_square() {
        // 255 / 9 = 28.3: each of the nine pixels within radius 1 gets a ninth, nothing else.
        let blurred = box_blur(&dot(5, 5, 2, 2), 1);
        for y in 0..5_usize {
            for x in 0..5_usize {
                let near = x.abs_diff(2) <= 1 && y.abs_diff(2) <= 1;
                assert_eq!(blurred.pixel(x, y), if near { 28 } else { 0 }, "({x}, {y})");
            }
        }
    }

    #[test]
    fn edges_are_clamped() {
        // A white corner pixel is counted once for every window position clamped onto it:
        // 4 times for the corner itself (rows -1, 0 × columns -1, 0), twice for its edge
        // neighbours, once for the diagonal one.
        let blurred = box_blur(&dot(4, 4, 0, 0), 1);
        assert_eq!(blurred.pixel(0, 0), 113); // 4 × 255 / 9 = 113.3
        assert_eq!(blurred.pixel(1, 0), 57); // 2 × 255 / 9 = 56.7, rounded up
        assert_eq!(blurred.pixel(0, 1), 57);
        assert_eq!(blurred.pixel(1, 1), 28);
        assert_eq!(blurred.pixel(2, 0), 0);
    }

    #[test]
    fn sequential_and_parallel_agree() {
        for (width, height) in [(37, 23), (1, 10), (10, 1), (64, 64)] {
            let image = GrayImage::test_pattern(width, height);
            for radius in [1, 3] {
                let sequential = box_blur(&image, radius);
                for threads in [1, 2, 3, 7, 64] {
                    assert_eq!(
                        box_blur_parallel(&image, radius, threads),
                        sequential,
                        "{width}x{height}, radius {radius}, {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_images() {
        for (width, height) in [(0, 0), (0, 4), (4, 0)] {
            let image = GrayImage::new(width, height, Vec::new()).unwrap();
            assert_eq!(box_blur(&image, 2), image);
            assert_eq!(box_blur_parallel(&image, 2, 3), image);
        }
    }

    #[test]
    #[should_panic(expected = "outside the 2x2 image")]
    fn pixel_outside_the_image_panics() {
        GrayImage::new(2, 2, vec![0; 4]).unwrap().pixel(2, 0);
    }

    #[test]
    #[should_panic(expected = "threads must be at least 1")]
    fn zero_threads_panics() {
        box_blur_parallel(&GrayImage::test_pattern(4, 4), 1, 0);
    }
}
