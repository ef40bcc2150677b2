//! The filters. Each [`Filter`] is a plain function from a whole image to a whole image
//! ([`Filter::apply`]) that knows nothing about threads, plus the [`halo`](Filter::halo) it
//! reads around each pixel, which is all `tiled.rs` needs to run it in tiles.
//! [`parse_filters`] reads a chain of them from the command line.

use super::error::ImageError;
use super::pixels::{Image, Layout};
use shared::workload::{GrayImage, box_blur};
use std::fmt;

/// The largest blur radius accepted. The blur reads `(2r + 1)²` pixels per pixel, so a radius
/// of 32 already costs 4,225 reads a pixel.
pub const MAX_RADIUS: u16 = 32;

/// The names [`parse_filters`] knows, in the order the help text lists them.
pub const FILTER_NAMES: [&str; 4] = ["grayscale", "invert", "blur", "edges"];

/// One filter of the chain. Each works on the colour channels and leaves alpha as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// RGB to gray with the integer BT.601 weights `(77 R + 150 G + 29 B) / 256`, rounded;
    /// RGBA becomes gray+alpha. A gray image is left as it is.
    Grayscale,
    /// `255 - v` on every colour channel.
    Invert,
    /// A box blur of the given radius on every colour channel: each pixel becomes the rounded
    /// average of the `(2r + 1)²` square around it, borders clamped. The kernel is the course's
    /// one blur, [`shared::workload::box_blur`].
    Blur {
        /// How far the square reaches on each side; 0 leaves the image as it is.
        radius: u16,
    },
    /// Sobel edge detection on every colour channel: the magnitude
    /// `sqrt(gx² + gy²)` (integer square root, capped at 255) of the horizontal and vertical
    /// Sobel gradients, borders clamped. Flat areas go black, edges bright.
    Edges,
}

impl Filter {
    /// The filter's name, as [`parse_filters`] reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Grayscale => "grayscale",
            Filter::Invert => "invert",
            Filter::Blur { .. } => "blur",
            Filter::Edges => "edges",
        }
    }

    /// How many pixels around a pixel the filter reads: what a tile must be grown by so that
    /// its pixels come out as in the whole image.
    ///
    /// ```
    /// use level_3_advanced::projects::image::Filter;
    /// assert_eq!(Filter::Grayscale.halo(), 0);
    /// assert_eq!(Filter::Blur { radius: 3 }.halo(), 3);
    /// assert_eq!(Filter::Edges.halo(), 1);
    /// ```
    pub fn halo(&self) -> usize {
        match self {
            Filter::Grayscale | Filter::Invert => 0,
            Filter::Blur { radius } => usize::from(*radius),
            Filter::Edges => 1,
        }
    }

    /// The layout of the filter's output for an input of `input`'s layout.
    ///
    /// ```
    /// use level_3_advanced::projects::image::{Filter, Layout};
    /// assert_eq!(Filter::Grayscale.output_layout(Layout::Rgba), Layout::GrayAlpha);
    /// assert_eq!(Filter::Edges.output_layout(Layout::Rgb), Layout::Rgb);
    /// ```
    pub fn output_layout(&self, input: Layout) -> Layout {
        match (self, input) {
            (Filter::Grayscale, Layout::Rgb) => Layout::Gray,
            (Filter::Grayscale, Layout::Rgba) => Layout::GrayAlpha,
            _ => input,
        }
    }

    /// The filter run on the whole image, on the calling thread: the sequential reference that
    /// [`apply_tiled`](super::apply_tiled) must match.
    ///
    /// ```
    /// use level_3_advanced::projects::image::{Filter, Image, Layout};
    ///
    /// let red = Image::new(1, 1, Layout::Rgb, vec![255, 0, 0])?;
    /// assert_eq!(Filter::Grayscale.apply(&red).pixels(), [77]); // (77 * 255 + 128) / 256
    /// assert_eq!(Filter::Invert.apply(&red).pixels(), [0, 255, 255]);
    /// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
    /// ```
    pub fn apply(&self, image: &Image) -> Image {
        match *self {
            Filter::Grayscale => grayscale(image),
            Filter::Invert => {
                let mut output = image.clone();
                let (channels, colour) = (image.layout.channels(), image.layout.colour_channels());
                for pixel in output.pixels.chunks_exact_mut(channels) {
                    for value in &mut pixel[..colour] {
                        *value = 255 - *value;
                    }
                }
                output
            }
            Filter::Blur { radius } => per_channel(image, |plane| box_blur(plane, radius)),
            Filter::Edges => per_channel(image, sobel),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Blur { radius } => write!(f, "blur(radius {radius})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Reads a comma-separated chain of filter names, such as `"grayscale,blur,edges"`; every
/// `blur` gets `radius`. Spaces around names are ignored, names are case-sensitive.
///
/// ```
/// use level_3_advanced::projects::image::{Filter, ImageError, parse_filters};
///
/// assert_eq!(
///     parse_filters("grayscale, blur,edges", 3)?,
///     [Filter::Grayscale, Filter::Blur { radius: 3 }, Filter::Edges]
/// );
/// assert!(matches!(parse_filters("blur,sharpen", 1), Err(ImageError::UnknownFilter { .. })));
/// # Ok::<(), ImageError>(())
/// ```
///
/// # Errors
///
/// [`ImageError::UnknownFilter`] for a name not in [`FILTER_NAMES`] (an empty name included,
/// as in `"blur,,edges"`), [`ImageError::NoFilters`] for an empty list,
/// [`ImageError::RadiusTooLarge`] if `radius` is above [`MAX_RADIUS`].
pub fn parse_filters(list: &str, radius: u16) -> Result<Vec<Filter>, ImageError> {
    if radius > MAX_RADIUS {
        return Err(ImageError::RadiusTooLarge { radius });
    }
    if list.trim().is_empty() {
        return Err(ImageError::NoFilters);
    }
    list.split(',')
        .map(|name| match name.trim() {
            "grayscale" => Ok(Filter::Grayscale),
            "invert" => Ok(Filter::Invert),
            "blur" => Ok(Filter::Blur { radius }),
            "edges" => Ok(Filter::Edges),
            unknown => Err(ImageError::UnknownFilter {
                name: unknown.to_owned(),
            }),
        })
        .collect()
}

/// RGB(A) to gray(+alpha); gray images are returned unchanged.
fn grayscale(image: &Image) -> Image {
    let layout = Filter::Grayscale.output_layout(image.layout);
    if layout == image.layout {
        return image.clone();
    }
    let pixels = image
        .pixels
        .chunks_exact(image.layout.channels())
        .flat_map(|p| {
            let luma =
                (77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8;
            // The weights add up to 256, so `luma` is at most 255. Alpha, if any, is `p[3]`.
            [luma as u8].into_iter().chain(p.get(3).copied())
        })
        .collect();
    Image {
        layout,
        pixels,
        ..*image
    }
}

/// Runs a one-channel kernel on every colour channel; alpha is copied.
fn per_channel(image: &Image, kernel: impl Fn(&GrayImage) -> GrayImage) -> Image {
    let mut output = image.clone();
    for channel in 0..image.layout.colour_channels() {
        output.set_plane(channel, &kernel(&image.plane(channel)));
    }
    output
}

/// The Sobel gradient magnitude of a gray image, borders clamped.
fn sobel(image: &GrayImage) -> GrayImage {
    let (width, height) = (image.width(), image.height());
    let pixels = image.pixels();
    let at = |x: usize, y: usize, dx: isize, dy: isize| -> i32 {
        let x = x.saturating_add_signed(dx).min(width - 1);
        let y = y.saturating_add_signed(dy).min(height - 1);
        i32::from(pixels[y * width + x])
    };
    let mut output = Vec::with_capacity(pixels.len());
    for y in 0..height {
        for x in 0..width {
            let p = |dx, dy| at(x, y, dx, dy);
            let gx = p(1, -1) + 2 * p(1, 0) + p(1, 1) - p(-1, -1) - 2 * p(-1, 0) - p(-1, 1);
            let gy = p(-1, 1) + 2 * p(0, 1) + p(1, 1) - p(-1, -1) - 2 * p(0, -1) - p(1, -1);
            // |gx|, |gy| <= 4 * 255, so the sum of squares fits easily in a u32.
            let magnitude = (gx * gx + gy * gy).unsigned_abs().isqrt();
            output.push(magnitude.min(255) as u8);
        }
    }
    GrayImage::new(width, height, output).expect("one byte per pixel")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: usize, height: usize, pixels: &[u8]) -> Image {
        Image::new(width, height, Layout::Gray, pixels.to_vec()).unwrap()
    }

    #[test]
    fn sobel_is_zero_on_flat_areas_and_bright_on_a_step() {
        let flat = gray(4, 3, &[90; 12]);
        assert_eq!(Filter::Edges.apply(&flat).pixels(), [0; 12]);
        // A vertical step from 0 to 60: |gx| = 4 * 60 = 240 beside it, 0 away from it.
        let step = gray(4, 1, &[0, 0, 60, 60]);
        assert_eq!(Filter::Edges.apply(&step).pixels(), [0, 240, 240, 0]);
        // A full step saturates at 255.
        let step = gray(2, 1, &[0, 255]);
        assert_eq!(Filter::Edges.apply(&step).pixels(), [255, 255]);
    }

    #[test]
    fn blur_averages_with_rounding_and_clamped_borders() {
        let line = gray(3, 1, &[0, 90, 0]);
        assert_eq!(
            Filter::Blur { radius: 1 }.apply(&line).pixels(),
            [30, 30, 30]
        );
        assert_eq!(Filter::Blur { radius: 0 }.apply(&line), line);
    }

    #[test]
    fn grayscale_uses_the_bt601_weights_and_keeps_alpha() {
        let rgba = Image::new(
            3,
            1,
            Layout::Rgba,
            vec![255, 0, 0, 9, 0, 255, 0, 8, 0, 0, 255, 7],
        )
        .unwrap();
        let out = Filter::Grayscale.apply(&rgba);
        assert_eq!(out.layout(), Layout::GrayAlpha);
        assert_eq!(out.pixels(), [77, 9, 149, 8, 29, 7]);
    }

    #[test]
    fn filters_leave_alpha_alone() {
        let image = Image::new(2, 1, Layout::GrayAlpha, vec![0, 10, 255, 200]).unwrap();
        for filter in [Filter::Invert, Filter::Blur { radius: 1 }, Filter::Edges] {
            let out = filter.apply(&image);
            assert_eq!(
                (out.pixel(0, 0)[1], out.pixel(1, 0)[1]),
                (10, 200),
                "{filter}"
            );
        }
    }
}
