//! The image processor (`l3-p1-image-processor`): a chain of filters run over an image in
//! parallel tiles, with output identical, pixel for pixel, to a sequential run.
//!
//! # The idea
//!
//! A filter is written once, as a plain function from a whole image to a whole image
//! ([`Filter::apply`]): it knows nothing about threads. Tiling is a wrapper around it
//! ([`apply_tiled`]): the image is cut into square [`Tile`]s, and for each tile a task on a
//! [`WorkerPool`] cuts out a *patch*, the tile grown by the filter's
//! [`halo`](Filter::halo), runs the filter on that small image, and keeps the tile's part of
//! the result.
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
//! tasks run in [`WorkerPool::scope`], so they *borrow* the input
//! image and the filter, copy out only their own patch, and each writes its result into its
//! own slot of a `Vec` the scope lends it (a `&mut` to that slot and nothing else): no message
//! carries pixels, no lock guards them, and the scope does not return until every tile is
//! done.
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
//
// The code, by responsibility (each file starts with a comment saying more):
//
// - `pixels.rs`: the pixel buffer: `Layout` and `Image`, with the crop and paste that tiling
//   needs.
// - `filters.rs`: the filters (`Filter`), each a plain function from a whole image to a whole
//   image, and `parse_filters` for the command line.
// - `tiled.rs`: the parallel part: `tiles`, and `apply_tiled` running a filter in tiles with
//   their halo on a `WorkerPool` scope.
// - `chain.rs`: `run_chain`, a chain of filters run both ways, timed and compared pixel for
//   pixel (`first_difference`), and its reports.
// - `codec.rs`: reading and writing PNG files.
// - `error.rs`: `ImageError` and `DecodeError`, what can go wrong and what to fix.

// Only the documentation above links to it.
#[cfg(doc)]
use shared::WorkerPool;

mod chain;
mod codec;
mod error;
mod filters;
mod pixels;
mod tiled;

pub use chain::{ChainReport, StageReport, TIMING_RUNS, first_difference, run_chain};
pub use codec::{MAX_DECODED_BYTES, decode_png, encode_png, read_png, write_png};
pub use error::{DecodeError, ImageError};
pub use filters::{FILTER_NAMES, Filter, MAX_RADIUS, parse_filters};
pub use pixels::{Image, Layout};
pub use tiled::{Tile, TiledRun, apply_tiled, tiles};
