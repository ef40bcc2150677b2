//! The pixel buffer: how a pixel's bytes are laid out ([`Layout`]) and an 8-bit [`Image`],
//! always with at least one pixel and a buffer that matches its size. Besides the public
//! accessors it has the few operations the rest of the module needs: a blank canvas, cropping
//! a tile out and pasting one in (`tiled.rs`), and one channel as a gray plane for the
//! one-channel kernels (`filters.rs`).

use super::error::ImageError;
use super::tiled::Tile;
use shared::workload::GrayImage;
use std::fmt;

/// How the bytes of one pixel are laid out: one to four channels of 8 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// One byte: the gray level.
    Gray,
    /// Two bytes: gray, then alpha (opacity).
    GrayAlpha,
    /// Three bytes: red, green, blue.
    Rgb,
    /// Four bytes: red, green, blue, alpha.
    Rgba,
}

impl Layout {
    /// Bytes per pixel.
    ///
    /// ```
    /// use level_3_advanced::projects::image::Layout;
    /// assert_eq!(Layout::Rgba.channels(), 4);
    /// ```
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::GrayAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }

    /// Whether the last channel is alpha. Filters leave alpha as it is.
    pub fn has_alpha(self) -> bool {
        matches!(self, Layout::GrayAlpha | Layout::Rgba)
    }

    /// The channels that carry colour (or gray), before the alpha channel if any.
    pub(super) fn colour_channels(self) -> usize {
        self.channels() - usize::from(self.has_alpha())
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Gray => "gray",
            Layout::GrayAlpha => "gray+alpha",
            Layout::Rgb => "RGB",
            Layout::Rgba => "RGBA",
        })
    }
}

/// An 8-bit image: `width × height` pixels of [`Layout::channels`] bytes each, row-major.
///
/// The fields are private so that the buffer always matches the size and layout, and an image
/// always has at least one pixel (a PNG cannot be empty either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) layout: Layout,
    pub(super) pixels: Vec<u8>,
}

impl Image {
    /// An image from a row-major buffer of exactly `width * height * layout.channels()` bytes.
    ///
    /// ```
    /// use level_3_advanced::projects::image::{Image, ImageError, Layout};
    ///
    /// let image = Image::new(2, 1, Layout::Rgb, vec![255, 0, 0, 0, 0, 255])?;
    /// assert_eq!(image.pixel(1, 0), [0, 0, 255]);
    /// assert!(matches!(Image::new(2, 2, Layout::Gray, vec![0; 3]), Err(ImageError::WrongLength { .. })));
    /// assert!(matches!(Image::new(0, 5, Layout::Gray, vec![]), Err(ImageError::Empty { .. })));
    /// # Ok::<(), ImageError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ImageError::Empty`] if the image has no pixel, [`ImageError::WrongLength`] if the
    /// buffer's length does not match (or the size overflows a `usize`).
    pub fn new(
        width: usize,
        height: usize,
        layout: Layout,
        pixels: Vec<u8>,
    ) -> Result<Self, ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Empty { width, height });
        }
        let expected = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(layout.channels()));
        if expected != Some(pixels.len()) {
            return Err(ImageError::WrongLength {
                width,
                height,
                layout,
                expected,
                actual: pixels.len(),
            });
        }
        Ok(Self {
            width,
            height,
            layout,
            pixels,
        })
    }

    /// A black image (alpha 0 too), the canvas tiles are pasted into.
    pub(super) fn blank(width: usize, height: usize, layout: Layout) -> Self {
        Self {
            width,
            height,
            layout,
            pixels: vec![0; width * height * layout.channels()],
        }
    }

    /// A deterministic RGB test card: a vertical gradient with an orange disc, a green rectangle,
    /// a yellow triangle and white stripes on it. Smooth areas, straight and curved edges, the
    /// same bytes on every machine, at any size.
    ///
    /// ```
    /// use level_3_advanced::projects::image::{Image, Layout};
    ///
    /// let card = Image::test_card(300, 200)?;
    /// assert_eq!((card.width(), card.height(), card.layout()), (300, 200, Layout::Rgb));
    /// assert_eq!(card.pixel(90, 100), [250, 140, 40]); // the centre of the orange disc
    /// assert_eq!(card, Image::test_card(300, 200)?);
    /// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ImageError::Empty`] if `width` or `height` is 0.
    pub fn test_card(width: usize, height: usize) -> Result<Self, ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Empty { width, height });
        }
        let (w, h) = (width as i64, height as i64);
        let disc = (w * 3 / 10, h / 2, w.min(h) * 22 / 100);
        let apex = (w * 70 / 100, h * 55 / 100);
        let base_y = h * 90 / 100;
        let half_base = w * 20 / 100;
        let pixel = |x: i64, y: i64| -> [u8; 3] {
            let (dx, dy) = (x - disc.0, y - disc.1);
            if dx * dx + dy * dy <= disc.2 * disc.2 {
                return [250, 140, 40];
            }
            if (w * 55 / 100..=w * 85 / 100).contains(&x)
                && (h * 15 / 100..=h * 45 / 100).contains(&y)
            {
                return [40, 180, 80];
            }
            if y >= apex.1 && y <= base_y && base_y > apex.1 {
                let reach = (y - apex.1) * half_base / (base_y - apex.1);
                if (x - apex.0).abs() <= reach {
                    return [240, 210, 40];
                }
            }
            if x < w * 20 / 100 && y > h * 80 / 100 && ((x + y) / 8) % 2 == 0 {
                return [245, 245, 245];
            }
            // 0..=255 down the image: a gradient with no hard edge.
            let v = y * 255 / (h - 1).max(1);
            [
                (20 + v * 50 / 255) as u8,
                (30 + v * 90 / 255) as u8,
                (80 + v * 130 / 255) as u8,
            ]
        };
        let pixels = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| pixel(x, y)))
            .collect();
        Self::new(width, height, Layout::Rgb, pixels)
    }

    /// The width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// All pixel bytes, row-major, [`Layout::channels`] bytes per pixel.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The bytes of pixel `(x, y)`: one per channel.
    ///
    /// # Panics
    ///
    /// If `(x, y)` is outside the image.
    #[track_caller]
    pub fn pixel(&self, x: usize, y: usize) -> &[u8] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) is outside the {}x{} image",
            self.width,
            self.height
        );
        let channels = self.layout.channels();
        &self.pixels[(y * self.width + x) * channels..][..channels]
    }

    /// The pixel buffer, without copying.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// One row of bytes.
    fn row(&self, y: usize) -> &[u8] {
        let stride = self.width * self.layout.channels();
        &self.pixels[y * stride..][..stride]
    }

    /// A copy of the part of the image under `tile`, which must lie inside it.
    pub(super) fn crop(&self, tile: Tile) -> Image {
        let channels = self.layout.channels();
        let mut pixels = Vec::with_capacity(tile.width * tile.height * channels);
        for y in tile.y..tile.y + tile.height {
            pixels.extend_from_slice(&self.row(y)[tile.x * channels..][..tile.width * channels]);
        }
        Image {
            width: tile.width,
            height: tile.height,
            layout: self.layout,
            pixels,
        }
    }

    /// Copies `part` (of the same layout) into this image with its top-left corner at `(x, y)`.
    pub(super) fn paste(&mut self, part: &Image, x: usize, y: usize) {
        debug_assert_eq!(part.layout, self.layout);
        let channels = self.layout.channels();
        let stride = self.width * channels;
        for row in 0..part.height {
            let start = (y + row) * stride + x * channels;
            self.pixels[start..][..part.width * channels].copy_from_slice(part.row(row));
        }
    }

    /// Channel `channel` of every pixel, as a gray image.
    pub(super) fn plane(&self, channel: usize) -> GrayImage {
        let values = self
            .pixels
            .iter()
            .skip(channel)
            .step_by(self.layout.channels())
            .copied()
            .collect();
        GrayImage::new(self.width, self.height, values).expect("one byte per pixel")
    }

    /// Writes `plane` into channel `channel` of every pixel.
    pub(super) fn set_plane(&mut self, channel: usize, plane: &GrayImage) {
        let channels = self.layout.channels();
        for (pixel, &value) in self.pixels.chunks_exact_mut(channels).zip(plane.pixels()) {
            pixel[channel] = value;
        }
    }
}
