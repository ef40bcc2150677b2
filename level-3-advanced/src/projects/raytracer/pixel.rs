//! From the camera to one pixel's bytes: the [`View`] (the camera set up for one picture
//! size, giving the ray through any point of it), the fixed [`sample_offset`] pattern inside a
//! pixel, and the conversion of linear light to 8-bit sRGB. [`Scene::pixel`] is the one
//! function every render (`render.rs`) calls for every pixel, on whatever thread.

use super::geometry::{Ray, Vec3};
use super::scene::{Camera, Scene};

impl Scene {
    /// The colour of pixel `(x, y)` of a `width × height` picture, averaged over `samples`
    /// rays, as 8-bit sRGB. Every render calls this, whatever thread it runs on.
    pub(super) fn pixel(&self, view: &View, x: usize, y: usize, samples: usize) -> [u8; 3] {
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
pub(super) struct View {
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
    pub(super) fn new(camera: &Camera, width: usize, height: usize) -> View {
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
    pub(super) fn ray(&self, px: f64, py: f64) -> Ray {
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

#[cfg(test)]
mod tests {
    use super::*;

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
