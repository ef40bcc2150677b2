//! What can go wrong in the image processor: [`ImageError`] for the program (a file that
//! cannot be read or written, a bad option, a pool that cannot start), and [`DecodeError`] for
//! the ways PNG data can be bad. Each message says what to fix.

use super::filters::{FILTER_NAMES, MAX_RADIUS};
use super::pixels::Layout;
use crate::projects::cli::MAX_THREADS;
use shared::pool::BuildError;
use std::io;
use std::path::PathBuf;

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
    /// Decoding would need more than [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES).
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
    /// More threads than [`MAX_THREADS`], the projects' common limit.
    #[error("the thread count must be at most {MAX_THREADS}, got {0}")]
    TooManyThreads(usize),
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
