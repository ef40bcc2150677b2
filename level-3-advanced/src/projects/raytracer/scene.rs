//! The scene: [`Scene`] and its objects, lights, materials and camera, the demo scene, and
//! [`Scene::trace`], the colour seen along a ray (the nearest hit, a shadow ray per light, a
//! reflected ray for a shiny surface, the sky where nothing is hit). `pixel.rs` averages
//! traces into a pixel.

use super::geometry::{Ray, Shape, Vec3};

/// How far a shadow or reflected ray starts from the surface it leaves, so that rounding
/// cannot make it hit that same surface again.
const NUDGE: f64 = 1e-4;

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
    pub(super) fn trace(&self, ray: &Ray, depth: u32) -> Vec3 {
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
}
