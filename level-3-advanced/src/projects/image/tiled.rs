//! The parallel part: an image cut into [`tiles`], and [`apply_tiled`] running a filter on
//! each tile grown by its halo, one task per tile in a [`WorkerPool`] scope, then pasting the
//! tiles together. The result is the same image as [`Filter::apply`] on the whole image, byte
//! for byte; the module documentation of `image` says why.

use super::error::ImageError;
use super::filters::Filter;
use super::pixels::Image;
use shared::WorkerPool;
use std::collections::BTreeMap;
use std::thread;

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
/// then pastes the tiles together. See the [module documentation](super) for why the result
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::image::first_difference;

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
}
