//! The geometry: [`Vec3`] (a point, a direction or a colour), the [`Ray`], and the two
//! [`Shape`]s with where a ray first meets each. The scene (`scene.rs`) traces rays with it.

use std::ops::{Add, Mul, Neg, Sub};

/// The smallest distance at which a ray can hit something.
const EPSILON: f64 = 1e-6;

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
pub(super) struct Ray {
    pub(super) origin: Vec3,
    pub(super) direction: Vec3,
}

impl Ray {
    pub(super) fn at(&self, t: f64) -> Vec3 {
        self.origin + self.direction * t
    }
}

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
    pub(super) fn hit(&self, ray: &Ray) -> Option<f64> {
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
    pub(super) fn normal_at(&self, p: Vec3) -> Vec3 {
        match *self {
            Shape::Sphere { centre, .. } => (p - centre).normalized(),
            Shape::Plane { normal, .. } => normal,
        }
    }
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
}
