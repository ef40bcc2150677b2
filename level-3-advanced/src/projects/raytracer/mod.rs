//! The ray tracer (`l3-p4-ray-tracer`): a small scene rendered in parallel tiles, the same
//! image at any thread count, byte for byte.
//!
//! # What it renders
//!
//! A [`Scene`] of spheres and a checkered ground plane, lit by point lights with hard shadows
//! (a shadow ray per light), with diffuse and reflective materials (a reflected ray, up to
//! [`Scene::max_depth`] bounces). Each pixel averages `samples` rays through a **fixed**
//! pattern of points inside the pixel ([`sample_offset`]): the same points for every pixel, on
//! every run, on every thread. A random sampler would need a random number generator, and one
//! per thread would make the image depend on which thread rendered which tile.
//!
//! # How the work is shared
//!
//! The image is cut into square tiles ([`super::image::tiles`]). Tiles do not cost the same:
//! sky is one ray per sample, a mirror sphere several. So tiles are not dealt out in advance:
//! `threads` scoped threads (`tracer-0`, `tracer-1`, ...) each take the next tile number from
//! one shared [`AtomicUsize`] (`fetch_add`), render it into a buffer of their own and send it
//! over a channel to the calling thread, which pastes it into the image and reports progress.
//! A thread that finds no tile left ends; the calling thread's receive loop ends when the
//! last thread has ended. Nothing is locked, and only the calling thread touches the image and
//! the progress callback.
//!
//! [`AtomicUsize`]: std::sync::atomic::AtomicUsize
//!
//! The result cannot depend on the thread count: every pixel is computed by the same function
//! from the same inputs, whichever thread runs it, and pasted at its own place.
//!
//! ```
//! use level_3_advanced::projects::raytracer::{RenderSettings, Scene, render, render_sequential};
//!
//! let scene = Scene::demo();
//! let reference = render_sequential(&scene, 40, 24, 2)?;
//! for threads in [1, 3] {
//!     let settings = RenderSettings { width: 40, height: 24, samples: 2, threads, tile_size: 7 };
//!     assert_eq!(render(&scene, &settings, |_| {})?.image, reference);
//! }
//! # Ok::<(), level_3_advanced::projects::raytracer::RenderError>(())
//! ```
//!
//! # The code
//!
//! | file | holds |
//! |---|---|
//! | `geometry.rs` | [`Vec3`], rays, and where a ray meets a [`Shape`] |
//! | `scene.rs` | the [`Scene`] and what a ray sees in it: nearest hit, shadows, reflections, the sky |
//! | `pixel.rs` | one pixel's colour: the camera's rays, the fixed [`sample_offset`] pattern, 8-bit sRGB |
//! | `render.rs` | [`render`] on threads sharing one tile counter, [`render_sequential`], [`save`] |

mod geometry;
mod pixel;
mod render;
mod scene;

pub use geometry::{Shape, Vec3};
pub use pixel::sample_offset;
pub use render::{Progress, Render, RenderError, RenderSettings, render, render_sequential, save};
pub use scene::{Camera, Light, Material, Object, Scene};

/// The largest width or height accepted.
pub const MAX_SIDE: usize = 8192;

/// The most samples per pixel accepted.
pub const MAX_SAMPLES: usize = 256;
