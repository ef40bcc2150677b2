//! The image processor (`l3-p1-image-processor`): a chain of filters run over an image in
//! parallel tiles, with output identical, pixel for pixel, to a sequential run.
//!
//! # The idea
//!
//! A filter is written once, as a plain function from a whole image to a whole image
//! ([`Filter::apply`]): it knows nothing about threads. Tiling is a wrapper around it
//! ([`apply_tiled`]): the image is cut into square [`Tile`]s, and for each tile a task on a
//! [`WorkerPool`] cuts out a *patch*, the tile grown by the filter's [`halo`](Filter::halo),
//! runs the filter on that small image, and keeps the tile's part of the result.
//!
//! The halo is what makes this exact. A blur of radius `r` reads `r` pixels around each
//! pixel, an edge detector reads 1: without those neighbours a tile's border pixels would be
//! computed from the wrong data. With them, every kept pixel sees exactly what it sees in the
//! whole image: where the patch stops at the image's border, it clamps exactly as the whole
//! image does, and everywhere else the halo is wide enough that the clamp is never reached.
//! The price: each task also computes its halo's pixels, which a neighbouring tile keeps and
//! this one throws away (with 64-pixel tiles and a blur of radius 2, 13% more work).
//!
//! # The Node.js way and this way
//!
//! In Node each worker would get its tile and halo as a copy through `postMessage` (or a view
//! of a `SharedArrayBuffer`), and post its result back for the main thread to stitch. Here the
//! tasks run in [`WorkerPool::scope`], so they *borrow* the input image and the filter, copy
//! out only their own patch, and each writes its result into its own slot of a `Vec` the scope
//! lends it (a `&mut` to that slot and nothing else): no message carries pixels, no lock guards
//! them, and the scope does not return until every tile is done.
//!
//! # Reading and writing PNG
//!
//! [`read_png`] accepts every PNG: 8-bit gray, gray with alpha, RGB and RGBA are read as
//! they are; 16-bit images are cut to 8 bits, palette and low-bit-depth images are expanded
//! (the `png` crate's `EXPAND | STRIP_16` transformations). A missing file, a file that is not a
//! PNG, a truncated or damaged one are each a typed [`ImageError`], never a panic.
//!
//! ```
//! use level_3_advanced::projects::image::{Filter, Image, apply_tiled};
//! use shared::WorkerPool;
//!
//! let image = Image::test_card(97, 61)?;
//! let pool = WorkerPool::new(3)?;
//! for filter in [Filter::Grayscale, Filter::Blur { radius: 2 }, Filter::Edges] {
//!     let tiled = apply_tiled(&filter, &image, 16, &pool)?;
//!     assert_eq!(tiled.image, filter.apply(&image));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use shared::WorkerPool;
use shared::pool::BuildError;
use shared::workload::{GrayImage, box_blur};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// The largest blur radius accepted. The blur reads `(2r + 1)²` pixels per pixel, so a radius
/// of 32 already costs 4,225 reads a pixel.
pub const MAX_RADIUS: u16 = 32;

/// How many times [`run_chain`] runs each filter each way, keeping the best time: a single
/// run of a few milliseconds is at the mercy of whatever else the machine is doing.
pub const TIMING_RUNS: usize = 3;

/// The names [`parse_filters`] knows, in the order the help text lists them.
pub const FILTER_NAMES: [&str; 4] = ["grayscale", "invert", "blur", "edges"];

/// The most bytes a decoded image may take (256 MiB, a 8192 × 8192 RGBA image): a PNG header
/// can claim any size, and a file of a few bytes must not make the program allocate gigabytes.
pub const MAX_DECODED_BYTES: usize = 256 * 1024 * 1024;

/// The first eight bytes of every PNG file.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

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
    fn colour_channels(self) -> usize {
        self.channels() - usize::from(self.has_alpha())
    }

    fn png_colour(self) -> png::ColorType {
        match self {
            Layout::Gray => png::ColorType::Grayscale,
            Layout::GrayAlpha => png::ColorType::GrayscaleAlpha,
            Layout::Rgb => png::ColorType::Rgb,
            Layout::Rgba => png::ColorType::Rgba,
        }
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
    width: usize,
    height: usize,
    layout: Layout,
    pixels: Vec<u8>,
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
    fn blank(width: usize, height: usize, layout: Layout) -> Self {
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
    fn crop(&self, tile: Tile) -> Image {
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
    fn paste(&mut self, part: &Image, x: usize, y: usize) {
        debug_assert_eq!(part.layout, self.layout);
        let channels = self.layout.channels();
        let stride = self.width * channels;
        for row in 0..part.height {
            let start = (y + row) * stride + x * channels;
            self.pixels[start..][..part.width * channels].copy_from_slice(part.row(row));
        }
    }

    /// Channel `channel` of every pixel, as a gray image.
    fn plane(&self, channel: usize) -> GrayImage {
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
    fn set_plane(&mut self, channel: usize, plane: &GrayImage) {
        let channels = self.layout.channels();
        for (pixel, &value) in self.pixels.chunks_exact_mut(channels).zip(plane.pixels()) {
            pixel[channel] = value;
        }
    }
}

/// A rectangle of pixels: a tile, or a tile grown by its halo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The left column.
    pub x: usize,
    /// The top row.
    pub y: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl Tile {
    /// This tile grown by `halo` pixels on every side, clipped to a `width × height` image.
    fn grown(self, halo: usize, width: usize, height: usize) -> Tile {
        let x = self.x.saturating_sub(halo);
        let y = self.y.saturating_sub(halo);
        Tile {
            x,
            y,
            width: (self.x + self.width).saturating_add(halo).min(width) - x,
            height: (self.y + self.height).saturating_add(halo).min(height) - y,
        }
    }
}

/// The tiles of a `width × height` image: squares of `tile_size`, row by row, the last column
/// and row cut to fit. Every pixel is in exactly one tile; a tile larger than the image gives
/// one tile, the whole image.
///
/// ```
/// use level_3_advanced::projects::image::{Tile, tiles};
///
/// let tiles = tiles(5, 3, 4)?;
/// assert_eq!(tiles, [
///     Tile { x: 0, y: 0, width: 4, height: 3 },
///     Tile { x: 4, y: 0, width: 1, height: 3 },
/// ]);
/// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
/// ```
///
/// # Errors
///
/// [`ImageError::ZeroTileSize`] if `tile_size` is 0.
pub fn tiles(width: usize, height: usize, tile_size: usize) -> Result<Vec<Tile>, ImageError> {
    if tile_size == 0 {
        return Err(ImageError::ZeroTileSize);
    }
    let mut tiles = Vec::with_capacity(width.div_ceil(tile_size) * height.div_ceil(tile_size));
    for y in (0..height).step_by(tile_size) {
        for x in (0..width).step_by(tile_size) {
            tiles.push(Tile {
                x,
                y,
                width: tile_size.min(width - x),
                height: tile_size.min(height - y),
            });
        }
    }
    Ok(tiles)
}

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
    /// [`apply_tiled`] must match.
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

/// The result of one filter run in tiles.
#[derive(Debug, Clone)]
pub struct TiledRun {
    /// The filtered image.
    pub image: Image,
    /// How many tiles it was cut into.
    pub tiles: usize,
    /// How many tiles each thread ran, by thread name.
    pub tiles_per_thread: BTreeMap<String, usize>,
}

/// `filter` run on `image` in square tiles of `tile_size` pixels, one task per tile on
/// `pool`: the same image as [`Filter::apply`], byte for byte.
///
/// Each task borrows the image, cuts out its tile grown by the filter's
/// [`halo`](Filter::halo), filters that patch and keeps the tile's part; the calling thread
/// then pastes the tiles together. See the [module documentation](self) for why the result
/// is exact.
///
/// # Errors
///
/// [`ImageError::ZeroTileSize`] if `tile_size` is 0.
///
/// # Panics
///
/// If `pool` is closed (a scope needs a pool that takes work), or if a filter panics (none
/// does: the panic would be a bug, re-raised here).
pub fn apply_tiled(
    filter: &Filter,
    image: &Image,
    tile_size: usize,
    pool: &WorkerPool,
) -> Result<TiledRun, ImageError> {
    apply_tiled_with_halo(filter, image, tile_size, filter.halo(), pool)
}

/// [`apply_tiled`] with the halo given: the tests use a wrong halo to show that it matters.
fn apply_tiled_with_halo(
    filter: &Filter,
    image: &Image,
    tile_size: usize,
    halo: usize,
    pool: &WorkerPool,
) -> Result<TiledRun, ImageError> {
    let tiles = tiles(image.width, image.height, tile_size)?;
    // One slot per tile: each task gets a `&mut` to its own slot and to nothing else.
    let mut results: Vec<Option<(Image, String)>> = vec![None; tiles.len()];
    pool.scope(|s| {
        for (&tile, slot) in tiles.iter().zip(results.iter_mut()) {
            // `move` takes the tile (a copy), the slot (a `&mut`) and the `&Image`/`&Filter`
            // borrows: the scope waits for the task, so the borrows stay valid.
            s.spawn(move || {
                let patch_area = tile.grown(halo, image.width, image.height);
                let filtered = filter.apply(&image.crop(patch_area));
                let inside = Tile {
                    x: tile.x - patch_area.x,
                    y: tile.y - patch_area.y,
                    ..tile
                };
                let me = thread::current().name().unwrap_or("<unnamed>").to_owned();
                *slot = Some((filtered.crop(inside), me));
            });
        }
    });
    let mut output = Image::blank(
        image.width,
        image.height,
        filter.output_layout(image.layout),
    );
    let mut tiles_per_thread = BTreeMap::new();
    for (tile, result) in tiles.iter().zip(results) {
        // The scope returned normally, so every task ran to the end and filled its slot.
        let (part, thread) = result.expect("every tile task has filled its slot");
        output.paste(&part, tile.x, tile.y);
        *tiles_per_thread.entry(thread).or_insert(0) += 1;
    }
    Ok(TiledRun {
        image: output,
        tiles: tiles.len(),
        tiles_per_thread,
    })
}

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
/// [`ImageError::NoFilters`], [`ImageError::ZeroThreads`], [`ImageError::ZeroTileSize`], or
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

/// Why a byte buffer could not be decoded as a PNG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The data does not start with the PNG signature (an empty file included).
    #[error("it is not a PNG file: it does not start with the PNG signature")]
    NotPng,
    /// The data ends before the image does: a download or copy cut short.
    #[error("the PNG data is truncated: it ends before the image is complete")]
    Truncated,
    /// The PNG structure is damaged: a bad checksum, a malformed chunk, bad compressed data.
    #[error("the PNG data is damaged: {0}")]
    Corrupt(String),
    /// Decoding would need more than [`MAX_DECODED_BYTES`].
    #[error("the image is too large: decoding it would need more than {limit} bytes")]
    TooLarge {
        /// The limit that was reached.
        limit: usize,
    },
    /// A pixel format this program cannot turn into 8-bit gray, gray+alpha, RGB or RGBA.
    #[error("unsupported PNG pixel format: {0}")]
    Unsupported(String),
}

/// Everything that can go wrong in the image processor. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The input file could not be read (missing, a directory, no permission).
    #[error("cannot read the input image {}", path.display())]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The input file was read, but is not a PNG that can be decoded.
    #[error("cannot decode {} as a PNG image", path.display())]
    Decode {
        /// The file asked for.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: DecodeError,
    },
    /// The output file could not be written (no such directory, no permission, disk full).
    #[error("cannot write the output image {}", path.display())]
    Write {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The PNG encoder refused the image (larger than a PNG can describe).
    #[error("cannot encode the image as PNG: {reason}")]
    Encode {
        /// What the encoder said.
        reason: String,
    },
    /// A filter name that does not exist.
    #[error(
        "unknown filter {name:?}: the filters are {} (comma-separated, e.g. grayscale,blur,edges)",
        FILTER_NAMES.join(", ")
    )]
    UnknownFilter {
        /// The name given.
        name: String,
    },
    /// An empty filter list.
    #[error("no filter given: name at least one of {}", FILTER_NAMES.join(", "))]
    NoFilters,
    /// A blur radius above [`MAX_RADIUS`].
    #[error("the blur radius must be at most {MAX_RADIUS}, got {radius}")]
    RadiusTooLarge {
        /// The radius given.
        radius: u16,
    },
    /// A thread count of 0.
    #[error("the thread count must be at least 1, got 0")]
    ZeroThreads,
    /// A tile size of 0.
    #[error("the tile size must be at least 1 pixel, got 0")]
    ZeroTileSize,
    /// An image with no pixel.
    #[error("an image needs at least one pixel, and {width}x{height} has none")]
    Empty {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
    },
    /// A pixel buffer whose length does not match the image's size and layout.
    #[error(
        "a {width}x{height} {layout} image needs {} bytes, but the buffer holds {actual}",
        expected.map_or("more than a usize can count".to_owned(), |n| n.to_string())
    )]
    WrongLength {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
        /// The layout asked for.
        layout: Layout,
        /// `width * height * channels`, if it fits in a `usize`.
        expected: Option<usize>,
        /// The length of the buffer given.
        actual: usize,
    },
    /// The worker pool could not be started.
    #[error("cannot start the worker pool")]
    Pool(#[from] BuildError),
}

/// Reads and decodes the PNG file at `path`.
///
/// # Errors
///
/// [`ImageError::Open`] if the file cannot be read, [`ImageError::Decode`] if it is not a
/// PNG, is truncated, damaged or too large.
pub fn read_png(path: &Path) -> Result<Image, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Open {
        path: path.to_owned(),
        source,
    })?;
    decode_png(&bytes).map_err(|source| ImageError::Decode {
        path: path.to_owned(),
        source,
    })
}

/// Decodes a PNG held in memory, converting 16-bit, palette and low-bit-depth images to 8 bits
/// per channel.
///
/// ```
/// use level_3_advanced::projects::image::{DecodeError, Image, decode_png, encode_png};
///
/// let card = Image::test_card(20, 10)?;
/// let bytes = encode_png(&card)?;
/// assert_eq!(decode_png(&bytes), Ok(card));
/// assert_eq!(decode_png(b"GIF89a..."), Err(DecodeError::NotPng));
/// assert_eq!(decode_png(&bytes[..bytes.len() / 2]), Err(DecodeError::Truncated));
/// # Ok::<(), level_3_advanced::projects::image::ImageError>(())
/// ```
///
/// # Errors
///
/// A [`DecodeError`] saying what is wrong with the data.
pub fn decode_png(bytes: &[u8]) -> Result<Image, DecodeError> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(DecodeError::NotPng);
    }
    let limits = png::Limits {
        bytes: MAX_DECODED_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(classify)?;
    let size = reader
        .output_buffer_size()
        .filter(|&size| size <= MAX_DECODED_BYTES)
        .ok_or(DecodeError::TooLarge {
            limit: MAX_DECODED_BYTES,
        })?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(classify)?;
    let layout = match (frame.color_type, frame.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => Layout::Gray,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => Layout::GrayAlpha,
        (png::ColorType::Rgb, png::BitDepth::Eight) => Layout::Rgb,
        (png::ColorType::Rgba, png::BitDepth::Eight) => Layout::Rgba,
        (colour, depth) => {
            return Err(DecodeError::Unsupported(format!(
                "{colour:?} at {} bits after conversion",
                depth as u8
            )));
        }
    };
    let (width, height) = (frame.width as usize, frame.height as usize);
    if frame.line_size != width * layout.channels() {
        return Err(DecodeError::Unsupported(format!(
            "rows of {} bytes for {width} {layout} pixels",
            frame.line_size
        )));
    }
    buffer.truncate(frame.buffer_size());
    Image::new(width, height, layout, buffer).map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// Sorts the `png` crate's errors into the cases a user can act on.
fn classify(error: png::DecodingError) -> DecodeError {
    match error {
        png::DecodingError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated
        }
        png::DecodingError::LimitsExceeded => DecodeError::TooLarge {
            limit: MAX_DECODED_BYTES,
        },
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// The image encoded as an 8-bit PNG, in memory.
///
/// # Errors
///
/// [`ImageError::Encode`] if the image is wider or taller than a PNG can be.
pub fn encode_png(image: &Image) -> Result<Vec<u8>, ImageError> {
    let encode_error = |e: &dyn fmt::Display| ImageError::Encode {
        reason: e.to_string(),
    };
    let side = |n: usize| u32::try_from(n).map_err(|e| encode_error(&e));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side(image.width)?, side(image.height)?);
    encoder.set_color(image.layout.png_colour());
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| encode_error(&e))?;
    writer
        .write_image_data(&image.pixels)
        .map_err(|e| encode_error(&e))?;
    writer.finish().map_err(|e| encode_error(&e))?;
    Ok(bytes)
}

/// Encodes the image as a PNG and writes it to `path`, replacing any file there.
///
/// The image is encoded in memory first, so a failure to write is reported as such
/// ([`ImageError::Write`]), not lost in a buffered writer's `Drop`.
///
/// # Errors
///
/// [`ImageError::Write`] if the file cannot be written, [`ImageError::Encode`] as for
/// [`encode_png`].
pub fn write_png(image: &Image, path: &Path) -> Result<(), ImageError> {
    let bytes = encode_png(image)?;
    std::fs::write(path, bytes).map_err(|source| ImageError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: usize, height: usize, pixels: &[u8]) -> Image {
        Image::new(width, height, Layout::Gray, pixels.to_vec()).unwrap()
    }

    #[test]
    fn a_halo_too_small_gives_a_different_image_so_the_comparison_can_fail() {
        let image = Image::test_card(40, 30).unwrap();
        let pool = WorkerPool::new(2).unwrap();
        for filter in [Filter::Blur { radius: 2 }, Filter::Edges] {
            let reference = filter.apply(&image);
            let right = apply_tiled_with_halo(&filter, &image, 8, filter.halo(), &pool).unwrap();
            let short =
                apply_tiled_with_halo(&filter, &image, 8, filter.halo() - 1, &pool).unwrap();
            assert_eq!(first_difference(&right.image, &reference), None, "{filter}");
            assert!(
                first_difference(&short.image, &reference).is_some(),
                "{filter}: a halo of {} should change the tiles' borders",
                filter.halo() - 1
            );
        }
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

    #[test]
    fn grown_tiles_are_clipped_to_the_image() {
        let tile = Tile {
            x: 2,
            y: 0,
            width: 3,
            height: 2,
        };
        assert_eq!(
            tile.grown(2, 6, 4),
            Tile {
                x: 0,
                y: 0,
                width: 6,
                height: 4
            }
        );
        assert_eq!(tile.grown(0, 6, 4), tile);
    }

    #[test]
    fn decode_errors_are_sorted_into_what_a_user_can_act_on() {
        let bytes = encode_png(&Image::test_card(30, 20).unwrap()).unwrap();
        assert_eq!(decode_png(b""), Err(DecodeError::NotPng));
        assert_eq!(decode_png(&PNG_SIGNATURE[..4]), Err(DecodeError::NotPng));
        assert_eq!(decode_png(&bytes[..8]), Err(DecodeError::Truncated));
        assert_eq!(decode_png(&bytes[..40]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_png(&bytes[..bytes.len() - 13]),
            Err(DecodeError::Truncated)
        );
        // Flip one byte of the header's width: its checksum no longer matches.
        let mut damaged = bytes.clone();
        damaged[18] ^= 0x40;
        assert!(matches!(decode_png(&damaged), Err(DecodeError::Corrupt(_))));
    }
}
