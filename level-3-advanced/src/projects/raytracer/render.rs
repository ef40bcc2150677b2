//! The renders: [`render`], on threads that take tiles from one shared atomic counter and send
//! them back over a channel (see the [module documentation](super)), and
//! [`render_sequential`], the single-threaded reference it must match; their settings,
//! progress reports and errors, and [`save`].

use super::pixel::View;
use super::scene::Scene;
use super::{MAX_SAMPLES, MAX_SIDE};
use crate::projects::cli::MAX_THREADS;
use crate::projects::image::{Image, ImageError, Layout, Tile, tiles};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// What to render, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderSettings {
    /// Pixels across, `1..=MAX_SIDE`.
    pub width: usize,
    /// Pixels down, `1..=MAX_SIDE`.
    pub height: usize,
    /// Rays per pixel, `1..=MAX_SAMPLES`.
    pub samples: usize,
    /// Threads to render on, at least 1 (never more are started than there are tiles).
    pub threads: usize,
    /// The side of a square tile, in pixels, at least 1.
    pub tile_size: usize,
}

impl RenderSettings {
    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first setting out of range, as a [`RenderError`].
    pub fn validate(&self) -> Result<(), RenderError> {
        check_picture(self.width, self.height, self.samples)?;
        if self.threads == 0 {
            return Err(RenderError::ZeroThreads);
        }
        if self.threads > MAX_THREADS {
            return Err(RenderError::TooManyThreads(self.threads));
        }
        if self.tile_size == 0 {
            return Err(RenderError::ZeroTileSize);
        }
        Ok(())
    }
}

fn check_picture(width: usize, height: usize, samples: usize) -> Result<(), RenderError> {
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(RenderError::BadSize { width, height });
    }
    if !(1..=MAX_SAMPLES).contains(&samples) {
        return Err(RenderError::BadSamples { samples });
    }
    Ok(())
}

/// A tile finished, as the progress callback of [`render`] hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// Tiles finished so far, this one included.
    pub done: usize,
    /// Tiles in the picture.
    pub total: usize,
    /// The name of the thread that rendered this tile.
    pub thread: &'a str,
}

/// A finished render.
#[derive(Debug, Clone)]
pub struct Render {
    /// The picture, RGB.
    pub image: Image,
    /// How many tiles it was cut into.
    pub tiles: usize,
    /// How many tiles each thread rendered, by thread name.
    pub tiles_per_thread: BTreeMap<String, usize>,
    /// How long it took, from the call to the last tile pasted.
    pub elapsed: Duration,
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A width or height of 0 or above [`MAX_SIDE`].
    #[error("the picture must be 1 to {MAX_SIDE} pixels on each side, got {width}x{height}")]
    BadSize {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
    },
    /// A sample count of 0 or above [`MAX_SAMPLES`].
    #[error("samples per pixel must be 1 to {MAX_SAMPLES}, got {samples}")]
    BadSamples {
        /// The count asked for.
        samples: usize,
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
    /// The operating system refused to start a thread.
    #[error("cannot start a render thread")]
    Spawn(#[source] io::Error),
    /// A thread ended before sending every tile it took (it cannot happen unless a thread
    /// panicked, and then the panic is raised instead).
    #[error("only {done} of {total} tiles came back from the render threads")]
    Incomplete {
        /// Tiles received.
        done: usize,
        /// Tiles expected.
        total: usize,
    },
    /// The picture could not be saved.
    #[error("cannot save the picture")]
    Save(#[from] ImageError),
}

/// The picture rendered pixel by pixel on the calling thread: the reference that [`render`]
/// must match.
///
/// # Errors
///
/// [`RenderError::BadSize`] or [`RenderError::BadSamples`].
pub fn render_sequential(
    scene: &Scene,
    width: usize,
    height: usize,
    samples: usize,
) -> Result<Image, RenderError> {
    check_picture(width, height, samples)?;
    let view = View::new(&scene.camera, width, height);
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            pixels.extend(scene.pixel(&view, x, y, samples));
        }
    }
    Ok(Image::new(width, height, Layout::Rgb, pixels)?)
}

/// A tile's pixels, on their way from a render thread to the calling thread.
#[derive(Debug)]
struct TileDone {
    index: usize,
    pixels: Vec<u8>,
    thread: String,
}

/// The picture rendered in tiles on `settings.threads` scoped threads, which take tiles from
/// a shared atomic counter (see the [module documentation](super)). `on_progress` is called on
/// the calling thread once per finished tile, in the order they finish, `done` counting
/// 1, 2, ... up to `total`.
///
/// # Errors
///
/// A setting out of range (see [`RenderSettings::validate`]), or [`RenderError::Spawn`] if
/// no thread can be started.
///
/// # Panics
///
/// If a render thread panics (a bug): its panic is raised again here.
pub fn render(
    scene: &Scene,
    settings: &RenderSettings,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<Render, RenderError> {
    settings.validate()?;
    let &RenderSettings {
        width,
        height,
        samples,
        threads,
        tile_size,
    } = settings;
    let started = Instant::now();
    let view = View::new(&scene.camera, width, height);
    let tiles = tiles(width, height, tile_size)?;
    let total = tiles.len();
    // The next tile to hand out. Relaxed is enough: it only has to give each number out once;
    // the pixels travel through the channel, which orders them.
    let next = AtomicUsize::new(0);
    let mut pixels = vec![0; width * height * 3];
    let mut tiles_per_thread = BTreeMap::new();

    let received = thread::scope(|s| -> Result<usize, RenderError> {
        let (sender, receiver) = crossbeam_channel::unbounded::<TileDone>();
        for i in 0..threads.min(total) {
            let sender = sender.clone();
            let (tiles, next, view) = (&tiles, &next, &view);
            let spawned = thread::Builder::new()
                .name(format!("tracer-{i}"))
                .spawn_scoped(s, move || {
                    let me = thread::current().name().unwrap_or("tracer").to_owned();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&tile) = tiles.get(index) else { break };
                        let pixels = render_tile(scene, view, tile, samples);
                        let done = TileDone {
                            index,
                            pixels,
                            thread: me.clone(),
                        };
                        // Fails only if the calling thread gave up (it returned an error):
                        // then nobody wants more tiles.
                        if sender.send(done).is_err() {
                            break;
                        }
                    }
                });
            if let Err(error) = spawned {
                // Returning drops the receiver, so the threads already started stop at
                // their next tile; the scope waits for them.
                return Err(RenderError::Spawn(error));
            }
        }
        // Only the render threads hold senders now: the loop below ends when the last ends.
        drop(sender);
        let mut done = 0;
        for tile_done in receiver {
            paste(
                &mut pixels,
                width,
                tiles[tile_done.index],
                &tile_done.pixels,
            );
            done += 1;
            on_progress(Progress {
                done,
                total,
                thread: &tile_done.thread,
            });
            *tiles_per_thread.entry(tile_done.thread).or_insert(0) += 1;
        }
        Ok(done)
    })?;
    if received != total {
        return Err(RenderError::Incomplete {
            done: received,
            total,
        });
    }
    Ok(Render {
        image: Image::new(width, height, Layout::Rgb, pixels)?,
        tiles: total,
        tiles_per_thread,
        elapsed: started.elapsed(),
    })
}

/// One tile's pixels, RGB, row by row.
fn render_tile(scene: &Scene, view: &View, tile: Tile, samples: usize) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(tile.width * tile.height * 3);
    for y in tile.y..tile.y + tile.height {
        for x in tile.x..tile.x + tile.width {
            pixels.extend(scene.pixel(view, x, y, samples));
        }
    }
    pixels
}

/// Copies a tile's RGB rows into the picture's buffer.
fn paste(picture: &mut [u8], width: usize, tile: Tile, pixels: &[u8]) {
    for (row, source) in pixels.chunks_exact(tile.width * 3).enumerate() {
        let start = ((tile.y + row) * width + tile.x) * 3;
        picture[start..][..source.len()].copy_from_slice(source);
    }
}

/// Saves a render as a PNG at `path` (see [`crate::projects::image::write_png`]).
///
/// # Errors
///
/// [`RenderError::Save`] if the file cannot be written.
pub fn save(image: &Image, path: &Path) -> Result<(), RenderError> {
    Ok(crate::projects::image::write_png(image, path)?)
}
