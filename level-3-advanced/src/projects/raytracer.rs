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

use super::image::{Image, ImageError, Layout, Tile, tiles};
use std::collections::BTreeMap;
use std::io;
use std::ops::{Add, Mul, Neg, Sub};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The largest width or height accepted.
pub const MAX_SIDE: usize = 8192;

/// The most samples per pixel accepted.
pub const MAX_SAMPLES: usize = 256;

/// The smallest distance at which a ray can hit something.
const EPSILON: f64 = 1e-6;

/// How far a shadow or reflected ray starts from the surface it leaves, so that rounding
/// cannot make it hit that same surface again.
const NUDGE: f64 = 1e-4;

/// A point, a direction or a colour (red, green, blue in `0.0..=1.0`, linear).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vec3 {
    /// x, or red.
    pub x: f64,
    /// y (up), or green.
    pub y: f64,
    /// z (away from the default camera), or blue.
    pub z: f64,
}

impl Vec3 {
    /// The vector `(x, y, z)`.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    /// The dot product.
    pub fn dot(self, other: Vec3) -> f64 {
        self.x * other.x + self.y * other.y + self.z * other.z
    }

    /// The cross product.
    pub fn cross(self, other: Vec3) -> Vec3 {
        Vec3::new(
            self.y * other.z - self.z * other.y,
            self.z * other.x - self.x * other.z,
            self.x * other.y - self.y * other.x,
        )
    }

    /// The length.
    pub fn length(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// The same direction, length 1.
    pub fn normalized(self) -> Vec3 {
        self * (1.0 / self.length())
    }

    /// Component by component: a colour filtered by another.
    pub fn tint(self, other: Vec3) -> Vec3 {
        Vec3::new(self.x * other.x, self.y * other.y, self.z * other.z)
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, k: f64) -> Vec3 {
        Vec3::new(self.x * k, self.y * k, self.z * k)
    }
}

impl Neg for Vec3 {
    type Output = Vec3;
    fn neg(self) -> Vec3 {
        self * -1.0
    }
}

/// A half-line: where it starts and where it goes (`direction` has length 1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ray {
    origin: Vec3,
    direction: Vec3,
}

impl Ray {
    fn at(&self, t: f64) -> Vec3 {
        self.origin + self.direction * t
    }
}

/// How a surface looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// The diffuse colour.
    pub colour: Vec3,
    /// A second colour in a checkerboard of `checker_size` squares (planes only), or `None`.
    pub checker: Option<(Vec3, f64)>,
    /// How much of the colour comes from the reflection: 0 for a matte surface, 1 for a mirror.
    pub reflectivity: f64,
    /// The strength of the white highlight where a light reflects towards the eye (0: none).
    pub shine: f64,
}

impl Material {
    /// A matte surface of one colour.
    pub const fn matte(colour: Vec3) -> Self {
        Self {
            colour,
            checker: None,
            reflectivity: 0.0,
            shine: 0.0,
        }
    }

    /// A shiny surface that reflects `reflectivity` of the light, with a highlight.
    pub const fn reflective(colour: Vec3, reflectivity: f64) -> Self {
        Self {
            colour,
            checker: None,
            reflectivity,
            shine: 0.6,
        }
    }
}

/// The geometry of an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A sphere.
    Sphere {
        /// Its centre.
        centre: Vec3,
        /// Its radius.
        radius: f64,
    },
    /// An infinite plane.
    Plane {
        /// A point on it.
        point: Vec3,
        /// Its normal, length 1, on the side the camera sees.
        normal: Vec3,
    },
}

impl Shape {
    /// The smallest `t > EPSILON` at which `ray` meets the shape.
    fn hit(&self, ray: &Ray) -> Option<f64> {
        match *self {
            Shape::Sphere { centre, radius } => {
                // |o + t d - c|² = r², with |d| = 1: t² + 2 b t + c = 0.
                let oc = ray.origin - centre;
                let b = oc.dot(ray.direction);
                let c = oc.dot(oc) - radius * radius;
                let discriminant = b * b - c;
                if discriminant < 0.0 {
                    return None;
                }
                let root = discriminant.sqrt();
                [-b - root, -b + root].into_iter().find(|&t| t > EPSILON)
            }
            Shape::Plane { point, normal } => {
                let facing = ray.direction.dot(normal);
                if facing.abs() < 1e-12 {
                    return None;
                }
                let t = (point - ray.origin).dot(normal) / facing;
                (t > EPSILON).then_some(t)
            }
        }
    }

    /// The outward normal at a point on the surface.
    fn normal_at(&self, p: Vec3) -> Vec3 {
        match *self {
            Shape::Sphere { centre, .. } => (p - centre).normalized(),
            Shape::Plane { normal, .. } => normal,
        }
    }
}

/// A shape with a material.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    /// Where it is.
    pub shape: Shape,
    /// How it looks.
    pub material: Material,
}

/// A point light.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Light {
    /// Where it is.
    pub position: Vec3,
    /// How bright it is (1: a surface facing it shows its full colour).
    pub intensity: f64,
}

/// A pinhole camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Where the eye is.
    pub position: Vec3,
    /// The point at the centre of the picture.
    pub look_at: Vec3,
    /// The vertical field of view, in degrees.
    pub fov_degrees: f64,
}

/// Everything a picture is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The eye.
    pub camera: Camera,
    /// The objects.
    pub objects: Vec<Object>,
    /// The lights; each casts hard shadows.
    pub lights: Vec<Light>,
    /// Light that reaches everywhere, shadows included, as a share of a surface's colour.
    pub ambient: f64,
    /// The sky's colour straight up and at the horizon.
    pub sky: (Vec3, Vec3),
    /// How many reflections a ray may follow.
    pub max_depth: u32,
}

impl Scene {
    /// The demo scene: a mirror sphere, a red matte sphere, a blue and a gold shiny sphere on
    /// a checkered floor, two lights.
    pub fn demo() -> Scene {
        let floor = Material {
            colour: Vec3::new(0.85, 0.85, 0.8),
            checker: Some((Vec3::new(0.25, 0.25, 0.3), 1.0)),
            reflectivity: 0.15,
            shine: 0.0,
        };
        let sphere = |x, y, z, radius, material| Object {
            shape: Shape::Sphere {
                centre: Vec3::new(x, y, z),
                radius,
            },
            material,
        };
        Scene {
            camera: Camera {
                position: Vec3::new(0.0, 1.6, -5.5),
                look_at: Vec3::new(0.0, 0.7, 0.0),
                fov_degrees: 45.0,
            },
            objects: vec![
                Object {
                    shape: Shape::Plane {
                        point: Vec3::new(0.0, 0.0, 0.0),
                        normal: Vec3::new(0.0, 1.0, 0.0),
                    },
                    material: floor,
                },
                sphere(
                    0.0,
                    1.0,
                    1.0,
                    1.0,
                    Material::reflective(Vec3::new(0.9, 0.9, 0.95), 0.8),
                ),
                sphere(
                    -2.1,
                    0.7,
                    0.3,
                    0.7,
                    Material::matte(Vec3::new(0.85, 0.15, 0.1)),
                ),
                sphere(
                    1.9,
                    0.55,
                    -0.4,
                    0.55,
                    Material::reflective(Vec3::new(0.15, 0.3, 0.9), 0.3),
                ),
                sphere(
                    0.7,
                    0.3,
                    -1.6,
                    0.3,
                    Material::reflective(Vec3::new(0.95, 0.7, 0.15), 0.2),
                ),
            ],
            lights: vec![
                Light {
                    position: Vec3::new(-4.0, 6.0, -4.0),
                    intensity: 0.8,
                },
                Light {
                    position: Vec3::new(5.0, 4.0, -3.0),
                    intensity: 0.35,
                },
            ],
            ambient: 0.12,
            sky: (Vec3::new(0.35, 0.55, 0.95), Vec3::new(0.9, 0.93, 1.0)),
            max_depth: 4,
        }
    }

    /// The nearest object `ray` meets, and where.
    fn nearest(&self, ray: &Ray) -> Option<(f64, &Object)> {
        self.objects
            .iter()
            .filter_map(|object| object.shape.hit(ray).map(|t| (t, object)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Whether anything lies between `point` and `light`.
    fn shadowed(&self, point: Vec3, light: Vec3) -> bool {
        let to_light = light - point;
        let distance = to_light.length();
        let ray = Ray {
            origin: point,
            direction: to_light * (1.0 / distance),
        };
        self.objects
            .iter()
            .any(|object| object.shape.hit(&ray).is_some_and(|t| t < distance))
    }

    /// The linear colour seen along `ray`.
    fn trace(&self, ray: &Ray, depth: u32) -> Vec3 {
        let Some((t, object)) = self.nearest(ray) else {
            // The sky: from the horizon colour to the zenith colour as the ray rises.
            let up = ray.direction.y.clamp(0.0, 1.0);
            return self.sky.1 * (1.0 - up) + self.sky.0 * up;
        };
        let point = ray.at(t);
        let mut normal = object.shape.normal_at(point);
        if normal.dot(ray.direction) > 0.0 {
            normal = -normal; // seen from the back (a ray from under the floor)
        }
        let material = &object.material;
        let colour = match material.checker {
            Some((other, size)) => {
                let square = (point.x / size).floor() + (point.z / size).floor();
                if square.rem_euclid(2.0) < 1.0 {
                    material.colour
                } else {
                    other
                }
            }
            None => material.colour,
        };
        // Leave the surface a little, so the secondary rays do not hit it again.
        let surface = point + normal * NUDGE;
        let reflected = ray.direction - normal * (2.0 * ray.direction.dot(normal));

        let mut local = colour * self.ambient;
        for light in &self.lights {
            if self.shadowed(surface, light.position) {
                continue;
            }
            let to_light = (light.position - point).normalized();
            let diffuse = normal.dot(to_light).max(0.0) * light.intensity;
            local = local + colour * diffuse;
            if material.shine > 0.0 {
                let highlight = reflected.dot(to_light).max(0.0).powi(40);
                local = local
                    + Vec3::new(1.0, 1.0, 1.0) * (material.shine * highlight * light.intensity);
            }
        }
        if material.reflectivity > 0.0 && depth < self.max_depth {
            let bounce = Ray {
                origin: surface,
                direction: reflected.normalized(),
            };
            let mirror = self.trace(&bounce, depth + 1).tint(colour);
            local * (1.0 - material.reflectivity) + mirror * material.reflectivity
        } else {
            local
        }
    }

    /// The colour of pixel `(x, y)` of a `width × height` picture, averaged over `samples`
    /// rays, as 8-bit sRGB. Every render calls this, whatever thread it runs on.
    fn pixel(&self, view: &View, x: usize, y: usize, samples: usize) -> [u8; 3] {
        let mut sum = Vec3::new(0.0, 0.0, 0.0);
        for i in 0..samples {
            let (dx, dy) = sample_offset(i, samples);
            sum = sum + self.trace(&view.ray(x as f64 + dx, y as f64 + dy), 0);
        }
        let average = sum * (1.0 / samples as f64);
        [average.x, average.y, average.z].map(to_srgb_byte)
    }
}

/// The camera set up for one picture size.
#[derive(Debug, Clone, Copy)]
struct View {
    origin: Vec3,
    forward: Vec3,
    right: Vec3,
    up: Vec3,
    half_height: f64,
    half_width: f64,
    width: f64,
    height: f64,
}

impl View {
    fn new(camera: &Camera, width: usize, height: usize) -> View {
        let forward = (camera.look_at - camera.position).normalized();
        let right = Vec3::new(0.0, 1.0, 0.0).cross(forward).normalized();
        let up = forward.cross(right);
        let half_height = (camera.fov_degrees.to_radians() / 2.0).tan();
        View {
            origin: camera.position,
            forward,
            right,
            up,
            half_height,
            half_width: half_height * width as f64 / height as f64,
            width: width as f64,
            height: height as f64,
        }
    }

    /// The ray through the point `(px, py)` of the picture, in pixels from its top-left.
    fn ray(&self, px: f64, py: f64) -> Ray {
        let sx = (2.0 * px / self.width - 1.0) * self.half_width;
        let sy = (1.0 - 2.0 * py / self.height) * self.half_height;
        Ray {
            origin: self.origin,
            direction: (self.forward + self.right * sx + self.up * sy).normalized(),
        }
    }
}

/// Where sample `i` of `n` falls inside its pixel, as `(dx, dy)` in `0.0..1.0`: a Hammersley
/// pattern, evenly spread in both directions and the same for every pixel. One sample is the
/// pixel's centre.
///
/// ```
/// use level_3_advanced::projects::raytracer::sample_offset;
///
/// assert_eq!(sample_offset(0, 1), (0.5, 0.5));
/// let four: Vec<_> = (0..4).map(|i| sample_offset(i, 4)).collect();
/// assert_eq!(four, [(0.125, 0.5), (0.375, 0.0), (0.625, 0.75), (0.875, 0.25)]);
/// ```
pub fn sample_offset(i: usize, n: usize) -> (f64, f64) {
    // The bits of `i` mirrored after the binary point: 0, 1/2, 1/4, 3/4, 1/8, ...
    let radical_inverse = (i as u64).reverse_bits() as f64 / 2f64.powi(64);
    ((i as f64 + 0.5) / n as f64, (radical_inverse + 0.5).fract())
}

/// Linear light to an 8-bit sRGB value (gamma 2.2), rounded, clamped.
fn to_srgb_byte(linear: f64) -> u8 {
    (linear.clamp(0.0, 1.0).powf(1.0 / 2.2) * 255.0).round() as u8
}

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
/// a shared atomic counter (see the [module documentation](self)). `on_progress` is called on
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

/// Saves a render as a PNG at `path` (see [`super::image::write_png`]).
///
/// # Errors
///
/// [`RenderError::Save`] if the file cannot be written.
pub fn save(image: &Image, path: &Path) -> Result<(), RenderError> {
    Ok(super::image::write_png(image, path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ray(origin: Vec3, direction: Vec3) -> Ray {
        Ray {
            origin,
            direction: direction.normalized(),
        }
    }

    #[test]
    fn a_ray_hits_the_near_side_of_a_sphere() {
        let sphere = Shape::Sphere {
            centre: Vec3::new(0.0, 0.0, 5.0),
            radius: 1.0,
        };
        let t = sphere
            .hit(&ray(Vec3::new(0.0, 0.0, 0.0), Vec3::new(0.0, 0.0, 1.0)))
            .unwrap();
        assert!((t - 4.0).abs() < 1e-12, "{t}");
        assert_eq!(
            sphere.hit(&ray(Vec3::new(0.0, 2.0, 0.0), Vec3::new(0.0, 0.0, 1.0))),
            None
        );
        // From inside, the far side.
        let t = sphere
            .hit(&ray(Vec3::new(0.0, 0.0, 5.0), Vec3::new(1.0, 0.0, 0.0)))
            .unwrap();
        assert!((t - 1.0).abs() < 1e-12, "{t}");
    }

    #[test]
    fn a_ray_meets_a_plane_only_in_front_of_it() {
        let floor = Shape::Plane {
            point: Vec3::new(0.0, 0.0, 0.0),
            normal: Vec3::new(0.0, 1.0, 0.0),
        };
        let down = ray(Vec3::new(0.0, 2.0, 0.0), Vec3::new(0.0, -1.0, 0.0));
        assert_eq!(floor.hit(&down), Some(2.0));
        let up = ray(Vec3::new(0.0, 2.0, 0.0), Vec3::new(0.0, 1.0, 0.0));
        assert_eq!(floor.hit(&up), None);
        let level = ray(Vec3::new(0.0, 2.0, 0.0), Vec3::new(1.0, 0.0, 0.0));
        assert_eq!(floor.hit(&level), None);
    }

    #[test]
    fn a_sphere_between_the_floor_and_the_light_casts_a_shadow() {
        let scene = Scene::demo();
        let light = scene.lights[0].position;
        // Straight below the red sphere, on the floor, towards the first light: blocked?
        // Use the point where the line from the light through the sphere's centre meets the
        // floor: it must be in shadow, and a point far away must not be.
        let centre = Vec3::new(-2.1, 0.7, 0.3);
        let direction = (centre - light).normalized();
        let t = -light.y / direction.y;
        let on_floor = light + direction * t;
        assert!(scene.shadowed(on_floor + Vec3::new(0.0, 1e-3, 0.0), light));
        assert!(!scene.shadowed(Vec3::new(-8.0, 1e-3, -8.0), light));
    }

    #[test]
    fn the_sky_is_seen_where_nothing_is_hit() {
        let scene = Scene::demo();
        let straight_up = ray(Vec3::new(0.0, 5.0, 0.0), Vec3::new(0.0, 1.0, 0.0));
        assert_eq!(scene.trace(&straight_up, 0), scene.sky.0);
    }

    #[test]
    fn samples_cover_the_pixel_evenly() {
        for n in [1, 2, 4, 16, 100] {
            let offsets: Vec<_> = (0..n).map(|i| sample_offset(i, n)).collect();
            assert!(
                offsets
                    .iter()
                    .all(|&(x, y)| (0.0..1.0).contains(&x) && (0.0..1.0).contains(&y))
            );
            let mean_x = offsets.iter().map(|o| o.0).sum::<f64>() / n as f64;
            assert!((mean_x - 0.5).abs() < 1e-12, "n = {n}: {mean_x}");
        }
    }

    #[test]
    fn srgb_bytes_are_clamped_and_rounded() {
        assert_eq!(to_srgb_byte(-1.0), 0);
        assert_eq!(to_srgb_byte(0.0), 0);
        assert_eq!(to_srgb_byte(1.0), 255);
        assert_eq!(to_srgb_byte(7.0), 255);
        assert_eq!(to_srgb_byte(0.5), 186); // 0.5^(1/2.2) * 255 = 186.1
    }
}
