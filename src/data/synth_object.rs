//! Deterministic MVTec-layout object categories: a textured disc or nut on a plain background, defects drawn on it, exact masks.

use std::path::Path;

use image::{DynamicImage, GrayImage, Luma, Rgb32FImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::error::DataError;
use super::synth::{
    Slot, SynthConfig, SynthSummary, area_fraction, quantise, segment_distance, write_category,
};
use super::train_set::mix;

/// Largest rotation of a normal object, in degrees (either way).
pub const MAX_ROTATION_DEG: f32 = 4.0;
/// Largest shift of a normal object's centre, as a fraction of the image side (either way, per
/// axis): 3.2 px at 128 px, 4.8 px at 192 px.
pub const MAX_SHIFT: f32 = 0.025;
/// Range of the object's scale factor.
pub const SCALE_RANGE: (f32, f32) = (0.96, 1.04);

/// Smallest and largest accepted image side.
const MIN_SIZE: u32 = 64;
const MAX_SIZE: u32 = 2048;

/// The object drawn in every image of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectShape {
    /// A round tablet ("pill"), cream-coloured, domed, with a bevelled rim and a score line
    /// across its face, on a dark slate backdrop. Diameter about 0.68 of the image side.
    Disc,
    /// A hexagonal steel nut with rounded corners, chamfered corners, a threaded bore and a
    /// through hole showing the backdrop, on a light backdrop. Across corners about 0.74 of the
    /// image side.
    Nut,
}

impl ObjectShape {
    pub const ALL: [ObjectShape; 2] = [ObjectShape::Disc, ObjectShape::Nut];

    /// `"disc"` or `"nut"`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectShape::Disc => "disc",
            ObjectShape::Nut => "nut",
        }
    }

    /// The shape called `name` (as [`ObjectShape::name`] writes it).
    pub fn from_name(name: &str) -> Option<ObjectShape> {
        ObjectShape::ALL.into_iter().find(|s| s.name() == name)
    }

    fn id(self) -> u64 {
        match self {
            ObjectShape::Disc => 1,
            ObjectShape::Nut => 2,
        }
    }
}

/// The kinds of defect drawn on objects, each its own `test/<name>` folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectDefect {
    /// One or two thin smooth curved grooves, lighter or darker than the surface, shaded by the
    /// light (one flank bright, the other dark).
    Scratch,
    /// A dark, jagged, tapering crack (random walk), often starting at the rim, sometimes branched.
    Crack,
    /// Missing material: a chip broken out of the rim (the backdrop shows through; rough broken
    /// edge) or a pit dug into the face (shaded depression).
    Missing,
    /// One to five small particles of foreign material (dirt, rust, fibre-coloured, dust) lying
    /// on the surface, each with its own colour, grain and shading.
    Contamination,
    /// A soft-edged discolouration of the surface (tinted in RGB; darker or, less often, lighter
    /// in gray), sometimes with a darker drying ring.
    Stain,
}

impl ObjectDefect {
    pub const ALL: [ObjectDefect; 5] = [
        ObjectDefect::Scratch,
        ObjectDefect::Crack,
        ObjectDefect::Missing,
        ObjectDefect::Contamination,
        ObjectDefect::Stain,
    ];

    /// Folder name under `test/` and `ground_truth/`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectDefect::Scratch => "scratch",
            ObjectDefect::Crack => "crack",
            ObjectDefect::Missing => "missing",
            ObjectDefect::Contamination => "contamination",
            ObjectDefect::Stain => "stain",
        }
    }

    fn id(self) -> u64 {
        match self {
            ObjectDefect::Scratch => 1,
            ObjectDefect::Crack => 2,
            ObjectDefect::Missing => 3,
            ObjectDefect::Contamination => 4,
            ObjectDefect::Stain => 5,
        }
    }

    /// Accepted mask area, as a fraction of the image area.
    fn area_range(self) -> (f64, f64) {
        match self {
            ObjectDefect::Scratch => (0.0005, 0.012),
            ObjectDefect::Crack => (0.0005, 0.01),
            ObjectDefect::Missing => (0.0012, 0.04),
            ObjectDefect::Contamination => (0.0003, 0.016),
            ObjectDefect::Stain => (0.0025, 0.055),
        }
    }
}

/// Which image of an object category to generate. Each item has its own random stream, so an
/// item does not change when the counts of other items change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectItem {
    Train(usize),
    TestGood(usize),
    Defect(ObjectDefect, usize),
}

/// Where the object was put: rotation (degrees, clockwise on screen), shift of its centre from
/// the image centre (pixels) and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectPose {
    pub angle_deg: f32,
    pub dx: f32,
    pub dy: f32,
    pub scale: f32,
}

/// One generated object image: the clean image, the image as written (equal to `clean` for good
/// items), the defect mask (`None` for good items; pixels outside it equal `clean`), the object's
/// support in the clean image (255 where the object covers any part of a pixel) and its pose.
#[derive(Debug, Clone)]
pub struct ObjectSample {
    pub clean: DynamicImage,
    pub image: DynamicImage,
    pub mask: Option<GrayImage>,
    pub object: GrayImage,
    pub pose: ObjectPose,
}

/// Writes an MVTec-layout object category to `out` (created; must not exist or be empty), in
/// the layout of [`synth_category`](super::synth::synth_category) with the folders of
/// [`ObjectDefect::ALL`]. `texture` gives the object's surface pattern. `cfg.size` may be
/// 64-2048 (meant for 128-1024).
pub fn synth_object_category(
    texture: &DynamicImage,
    shape: ObjectShape,
    out: &Path,
    cfg: &SynthConfig,
) -> Result<SynthSummary<ObjectDefect>, DataError> {
    check_config(texture, cfg)?;
    let texture = Texture::new(texture);
    write_category(out, cfg, &ObjectDefect::ALL, ObjectDefect::name, |slot| {
        let item = match slot {
            Slot::Train(i) => ObjectItem::Train(i),
            Slot::TestGood(i) => ObjectItem::TestGood(i),
            Slot::Defect(kind, i) => ObjectItem::Defect(kind, i),
        };
        let s = generate(&texture, shape, cfg, item);
        (s.image, s.mask)
    })
}

/// Generates one object image in memory (what [`synth_object_category`] would write for `item`).
pub fn synth_object_image(
    texture: &DynamicImage,
    shape: ObjectShape,
    cfg: &SynthConfig,
    item: ObjectItem,
) -> Result<ObjectSample, DataError> {
    check_config(texture, cfg)?;
    Ok(generate(&Texture::new(texture), shape, cfg, item))
}

fn check_config(texture: &DynamicImage, cfg: &SynthConfig) -> Result<(), DataError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&cfg.size) {
        return Err(DataError::InvalidArgument(format!(
            "object image size must be {MIN_SIZE}-{MAX_SIZE}, got {}",
            cfg.size
        )));
    }
    if texture.width().min(texture.height()) < 16 {
        return Err(DataError::InvalidArgument(format!(
            "texture is {}x{}; it must be at least 16 px on each side",
            texture.width(),
            texture.height()
        )));
    }
    Ok(())
}

fn item_seed(seed: u64, shape: ObjectShape, item: ObjectItem) -> u64 {
    let tag = match item {
        ObjectItem::Train(i) => (1u64 << 56) | i as u64,
        ObjectItem::TestGood(i) => (2u64 << 56) | i as u64,
        ObjectItem::Defect(k, i) => (3u64 << 56) | (k.id() << 48) | i as u64,
    };
    // a namespace of its own, apart from the texture generator's streams
    mix(seed ^ 0x6F62_6A65_6374_0000, tag | (shape.id() << 40))
}

// ---------------------------------------------------------------------------------------------
// Texture, noise and small maths helpers

/// The texture's luminance, normalised to mean 0 and standard deviation 1 (clamped to ±3).
struct Texture {
    w: u32,
    h: u32,
    lum: Vec<f32>,
}

impl Texture {
    fn new(img: &DynamicImage) -> Texture {
        let rgb = img.to_rgb32f();
        let (w, h) = rgb.dimensions();
        let lum: Vec<f32> = rgb
            .pixels()
            .map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2])
            .collect();
        let n = lum.len() as f64;
        let mean = lum.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = lum.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt().max(1e-6);
        let lum = lum
            .into_iter()
            .map(|v| (((v as f64 - mean) / sd) as f32).clamp(-3.0, 3.0))
            .collect();
        Texture { w, h, lum }
    }

    /// Bilinear sample at texel coordinates, clamped to the border.
    fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |x: u32, y: u32| self.lum[(y * self.w + x) as usize];
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// Hash of a lattice point to [-1, 1].
fn lattice(ix: i32, iy: i32, seed: u64) -> f32 {
    let h = mix(seed, ((ix as u32 as u64) << 32) | iy as u32 as u64);
    ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Smooth value noise in [-1, 1] with lattice spacing 1.
fn value_noise(x: f32, y: f32, seed: u64) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (smooth(x - x0), smooth(y - y0));
    let (ix, iy) = (x0 as i32, y0 as i32);
    let top = lattice(ix, iy, seed) * (1.0 - fx) + lattice(ix + 1, iy, seed) * fx;
    let bottom = lattice(ix, iy + 1, seed) * (1.0 - fx) + lattice(ix + 1, iy + 1, seed) * fx;
    top * (1.0 - fy) + bottom * fy
}

fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// 0 below `e0`, 1 above `e1`, smooth in between (`e0 > e1` gives the falling edge).
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    smooth((x - e0) / (e1 - e0))
}

fn normalize3(v: [f32; 3]) -> [f32; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    [v[0] / n, v[1] / n, v[2] / n]
}

fn dot3(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn luminance(c: [f32; 3]) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

// ---------------------------------------------------------------------------------------------
// The object: geometry, material, pose

/// The object's shape in its own frame, in pixels at scale 1, centred on the origin.
#[derive(Clone, Copy)]
struct Geometry {
    shape: ObjectShape,
    /// Disc radius, or the nut's distance across corners / 2.
    outer: f32,
    /// Nut: distance from centre to a flat side.
    apothem: f32,
    /// Nut: corner rounding radius.
    round: f32,
    /// Nut: radius of the through hole.
    hole: f32,
}

impl Geometry {
    fn new(shape: ObjectShape, size: f32) -> Geometry {
        match shape {
            ObjectShape::Disc => Geometry {
                shape,
                outer: 0.34 * size,
                apothem: 0.0,
                round: 0.0,
                hole: 0.0,
            },
            ObjectShape::Nut => {
                let outer = 0.37 * size;
                let apothem = outer * 3f32.sqrt() / 2.0;
                Geometry {
                    shape,
                    outer,
                    apothem,
                    round: 0.07 * outer,
                    hole: 0.44 * apothem,
                }
            }
        }
    }

    /// Signed distance to the object's outline (negative inside), in object pixels.
    fn sdf(&self, u: f32, v: f32) -> f32 {
        let r = (u * u + v * v).sqrt();
        match self.shape {
            ObjectShape::Disc => r - self.outer,
            ObjectShape::Nut => {
                sd_hexagon(u, v, self.apothem - self.round, self.round).max(self.hole - r)
            }
        }
    }

    /// The surface height (object pixels), for shading.
    fn height(&self, u: f32, v: f32) -> f32 {
        let r = (u * u + v * v).sqrt();
        match self.shape {
            ObjectShape::Disc => {
                let big_r = self.outer;
                let rb = 0.84 * big_r;
                let mut h = 0.05 * big_r * (1.0 - (r / big_r).powi(2));
                if r > rb {
                    let t = (r - rb) / (big_r - rb);
                    h -= 0.11 * big_r * t * t;
                }
                // the score line along the u axis, fading at its ends
                let wg = 0.03 * big_r;
                if v.abs() < wg {
                    let ends = smoothstep(0.80 * big_r, 0.70 * big_r, u.abs());
                    h -= 0.018 * big_r * (1.0 - (v / wg).powi(2)) * ends;
                }
                h
            }
            ObjectShape::Nut => {
                let mut h = 0.0;
                let chamfer = 0.96 * self.apothem;
                if r > chamfer {
                    h -= 0.9 * (r - chamfer);
                }
                let bore = 1.3 * self.hole;
                if r < bore {
                    h -= 0.8 * (bore - r);
                }
                h
            }
        }
    }

    /// Multiplicative albedo pattern fixed to the object (thread, machining rings).
    fn albedo(&self, u: f32, v: f32, unit: f32) -> f32 {
        match self.shape {
            ObjectShape::Disc => 1.0,
            ObjectShape::Nut => {
                let r = (u * u + v * v).sqrt();
                let thread_out = 1.18 * self.hole;
                if r < thread_out {
                    // the thread seen from above: dark helical bands
                    let pitch = (0.11 * self.hole).max(2.2 * unit);
                    let phase = (r - self.hole) / pitch + v.atan2(u) / std::f32::consts::TAU;
                    0.5 + 0.14 * (std::f32::consts::TAU * phase).sin()
                } else {
                    // fine turning rings on the face
                    1.0 + 0.025 * (r / (1.3 * unit)).sin()
                }
            }
        }
    }
}

/// Signed distance to a regular hexagon with apothem `a` (flat sides top and bottom), rounded by `rc`.
fn sd_hexagon(x: f32, y: f32, a: f32, rc: f32) -> f32 {
    let (kx, ky, kz) = (-0.866_025_4f32, 0.5f32, 0.577_350_26f32);
    let (mut px, mut py) = (y.abs(), x.abs());
    let d = 2.0 * (kx * px + ky * py).min(0.0);
    px -= d * kx;
    py -= d * ky;
    px -= px.clamp(-kz * a, kz * a);
    py -= a;
    (px * px + py * py).sqrt() * py.signum() - rc
}

/// Colours and lighting of one object category.
struct Material {
    base: [f32; 3],
    background: [f32; 3],
    tex_amp: f32,
    grain_amp: f32,
    /// Object-diameter span in texels, as a fraction of the texture's short side.
    tex_span: f32,
    shadow: f32,
    ambient: f32,
    diffuse: f32,
    spec: f32,
    shininess: f32,
}

impl Material {
    fn of(shape: ObjectShape) -> Material {
        match shape {
            ObjectShape::Disc => Material {
                base: [0.86, 0.83, 0.76],
                background: [0.20, 0.21, 0.23],
                tex_amp: 0.08,
                grain_amp: 0.03,
                tex_span: 0.45,
                shadow: 0.45,
                ambient: 0.45,
                diffuse: 0.6,
                spec: 0.06,
                shininess: 12.0,
            },
            ObjectShape::Nut => Material {
                base: [0.60, 0.61, 0.64],
                background: [0.84, 0.83, 0.80],
                tex_amp: 0.11,
                grain_amp: 0.05,
                tex_span: 0.35,
                shadow: 0.4,
                ambient: 0.35,
                diffuse: 0.7,
                spec: 0.22,
                shininess: 24.0,
            },
        }
    }
}

/// Object frame ↔ image: image point p = centre + scale · R(angle) · q.
#[derive(Debug, Clone, Copy)]
struct Pose {
    angle: f32,
    cx: f32,
    cy: f32,
    scale: f32,
}

impl Pose {
    fn to_object(self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = ((x - self.cx) / self.scale, (y - self.cy) / self.scale);
        let (c, s) = (self.angle.cos(), self.angle.sin());
        (c * dx + s * dy, -s * dx + c * dy)
    }

    fn to_image(self, u: f32, v: f32) -> (f32, f32) {
        let (c, s) = (self.angle.cos(), self.angle.sin());
        (
            self.cx + self.scale * (c * u - s * v),
            self.cy + self.scale * (s * u + c * v),
        )
    }
}

/// Per-image lighting and sensor settings applied after compositing.
struct Finish {
    gain: f32,
    contrast: f32,
    offset: f32,
    /// Sensor noise, one value per channel and pixel.
    noise: Vec<f32>,
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The rendered layers: the object's coverage and lit surface, and the backdrop behind it.
#[derive(Clone)]
struct Scene {
    size: u32,
    /// Pixels per "unit" (1 at 128 px).
    unit: f32,
    geometry: Geometry,
    pose: Pose,
    light: [f32; 3],
    ambient: f32,
    diffuse: f32,
    alpha: Vec<f32>,
    surface: Vec<[f32; 3]>,
    background: Vec<[f32; 3]>,
    /// Seed for defect grain (differs per image).
    grain_seed: u64,
}

impl Scene {
    fn render(texture: &Texture, shape: ObjectShape, size: u32, rng: &mut StdRng) -> Scene {
        let s = size as f32;
        let unit = s / 128.0;
        let geometry = Geometry::new(shape, s);
        let mat = Material::of(shape);
        let pose = Pose {
            angle: rng
                .random_range(-MAX_ROTATION_DEG..=MAX_ROTATION_DEG)
                .to_radians(),
            cx: s / 2.0 + rng.random_range(-MAX_SHIFT..=MAX_SHIFT) * s,
            cy: s / 2.0 + rng.random_range(-MAX_SHIFT..=MAX_SHIFT) * s,
            scale: rng.random_range(SCALE_RANGE.0..=SCALE_RANGE.1),
        };
        // light from the upper left, its direction jittered a little
        let azimuth = (225.0f32 + rng.random_range(-10.0f32..=10.0)).to_radians();
        let elevation = rng.random_range(50.0f32..=60.0).to_radians();
        let light = [
            elevation.cos() * azimuth.cos(),
            elevation.cos() * azimuth.sin(),
            elevation.sin(),
        ];
        let half = normalize3([light[0], light[1], light[2] + 1.0]);
        let flat = mat.ambient + mat.diffuse * light[2];

        // this object's patch of the texture: random place and angle
        let short = texture.w.min(texture.h) as f32;
        let texels = mat.tex_span * short / (2.0 * geometry.outer);
        let reach = mat.tex_span * short / 2.0 * std::f32::consts::SQRT_2;
        let pick = |rng: &mut StdRng, len: u32| {
            let (lo, hi) = (reach, len as f32 - 1.0 - reach);
            if lo < hi {
                rng.random_range(lo..=hi)
            } else {
                (len as f32 - 1.0) / 2.0
            }
        };
        let tcx = pick(rng, texture.w);
        let tcy = pick(rng, texture.h);
        let tangle = rng.random_range(0.0..std::f32::consts::TAU);
        let (tc, ts) = (tangle.cos(), tangle.sin());
        let grain_seed = rng.random::<u64>();
        let grain_cell = 1.3 * unit;

        // backdrop: plain colour, a gentle gradient and a faint low-frequency mottle
        let grad_dir = rng.random_range(0.0..std::f32::consts::TAU);
        let grad_amp = rng.random_range(0.01f32..0.04);
        let bg_seed = rng.random::<u64>();
        let bg_tint = [
            1.0 + rng.random_range(-0.01f32..0.01),
            1.0 + rng.random_range(-0.01f32..0.01),
            1.0 + rng.random_range(-0.01f32..0.01),
        ];
        let shadow_off = (
            -light[0] / light[2] * 0.045 * s,
            -light[1] / light[2] * 0.045 * s,
        );
        let shadow_soft = 0.035 * s;

        let n = (size * size) as usize;
        let mut alpha = vec![0.0f32; n];
        let mut surface = vec![[0.0f32; 3]; n];
        let mut background = vec![[0.0f32; 3]; n];
        let eps = 0.5f32;
        for y in 0..size {
            for x in 0..size {
                let idx = (y * size + x) as usize;
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                // backdrop with the object's soft shadow
                let (nx, ny) = ((px / s - 0.5) * 2.0, (py / s - 0.5) * 2.0);
                let ramp = grad_amp * (nx * grad_dir.cos() + ny * grad_dir.sin());
                let mottle = 0.012 * value_noise(px / (0.3 * s), py / (0.3 * s), bg_seed);
                let (su, sv) = pose.to_object(px - shadow_off.0, py - shadow_off.1);
                let sd = geometry.sdf(su, sv) * pose.scale;
                let shade = 1.0 - mat.shadow * smoothstep(shadow_soft, -shadow_soft, sd);
                for c in 0..3 {
                    background[idx][c] = (mat.background[c] * bg_tint[c] + ramp + mottle) * shade;
                }
                // the object
                let (u, v) = pose.to_object(px, py);
                let d = geometry.sdf(u, v) * pose.scale;
                let a = (0.5 - d).clamp(0.0, 1.0);
                alpha[idx] = a;
                if a <= 0.0 {
                    continue;
                }
                let gu = (geometry.height(u + eps, v) - geometry.height(u - eps, v)) / (2.0 * eps);
                let gv = (geometry.height(u, v + eps) - geometry.height(u, v - eps)) / (2.0 * eps);
                // slope in the image frame: rotate the object-frame gradient by the pose angle
                let (ca, sa) = (pose.angle.cos(), pose.angle.sin());
                let (gx, gy) = (ca * gu - sa * gv, sa * gu + ca * gv);
                let normal = normalize3([-gx, -gy, 1.0]);
                let lambert = (mat.ambient + mat.diffuse * dot3(normal, light).max(0.0)) / flat;
                let spec = mat.spec * dot3(normal, half).max(0.0).powf(mat.shininess);
                let (tu, tv) = (tc * u - ts * v, ts * u + tc * v);
                let t = texture.sample(tcx + tu * texels, tcy + tv * texels);
                let g = value_noise(u / grain_cell, v / grain_cell, grain_seed);
                let albedo =
                    (1.0 + mat.tex_amp * t + mat.grain_amp * g) * geometry.albedo(u, v, unit);
                surface[idx] = mat.base.map(|b| b * albedo * lambert + spec);
            }
        }
        Scene {
            size,
            unit,
            geometry,
            pose,
            light,
            ambient: mat.ambient,
            diffuse: mat.diffuse,
            alpha,
            surface,
            background,
            grain_seed,
        }
    }

    fn composite(&self) -> Vec<[f32; 3]> {
        self.alpha
            .iter()
            .zip(&self.surface)
            .zip(&self.background)
            .map(|((&a, s), b)| {
                [
                    a * s[0] + (1.0 - a) * b[0],
                    a * s[1] + (1.0 - a) * b[1],
                    a * s[2] + (1.0 - a) * b[2],
                ]
            })
            .collect()
    }

    fn object_mask(&self) -> GrayImage {
        GrayImage::from_fn(self.size, self.size, |x, y| {
            Luma([if self.alpha[(y * self.size + x) as usize] > 0.0 {
                255
            } else {
                0
            }])
        })
    }

    /// Brightness factor of a bump with slope (gx, gy) relative to a flat surface.
    fn bump(&self, gx: f32, gy: f32) -> f32 {
        let n = normalize3([-gx, -gy, 1.0]);
        (self.ambient + self.diffuse * dot3(n, self.light).max(0.0))
            / (self.ambient + self.diffuse * self.light[2])
    }

    /// A random image point on the object at least `margin` object pixels inside its outline.
    fn surface_point(&self, margin: f32, rng: &mut StdRng) -> (f32, f32) {
        let g = &self.geometry;
        let margin = margin.min(0.25 * (g.outer - g.hole));
        for _ in 0..1000 {
            let (u, v) = (
                rng.random_range(-g.outer..=g.outer),
                rng.random_range(-g.outer..=g.outer),
            );
            if g.sdf(u, v) < -margin {
                return self.pose.to_image(u, v);
            }
        }
        let mid = 0.5 * (g.outer + g.hole);
        self.pose.to_image(mid, 0.0)
    }

    /// A random point on the outline (the outer rim, or the bore's edge when `bore`) and the
    /// inward direction there, both in image coordinates.
    fn rim_point(&self, bore: bool, rng: &mut StdRng) -> ((f32, f32), (f32, f32)) {
        let g = &self.geometry;
        let phi = rng.random_range(0.0..std::f32::consts::TAU);
        let (cu, cv) = (phi.cos(), phi.sin());
        let r = if bore {
            g.hole
        } else {
            // bisect along the ray for the outer outline
            let (mut lo, mut hi) = (g.hole.max(0.0) + 0.5 * (g.outer - g.hole), 1.2 * g.outer);
            for _ in 0..40 {
                let mid = 0.5 * (lo + hi);
                if g.sdf(mid * cu, mid * cv) < 0.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        let p = self.pose.to_image(r * cu, r * cv);
        let centre = self.pose.to_image(0.0, 0.0);
        let (dx, dy) = (centre.0 - p.0, centre.1 - p.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let inward = if bore {
            (-dx / len, -dy / len)
        } else {
            (dx / len, dy / len)
        };
        (p, inward)
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

fn generate(
    texture: &Texture,
    shape: ObjectShape,
    cfg: &SynthConfig,
    item: ObjectItem,
) -> ObjectSample {
    let mut rng = StdRng::seed_from_u64(item_seed(cfg.seed, shape, item));
    let size = cfg.size;
    let scene = Scene::render(texture, shape, size, &mut rng);
    let finish = Finish {
        gain: rng.random_range(0.94f32..=1.06),
        contrast: rng.random_range(0.94f32..=1.06),
        offset: rng.random_range(-0.015f32..=0.015),
        noise: {
            let sigma = rng.random_range(0.005f32..=0.011);
            let normal = Normal::new(0.0f32, sigma).expect("positive sigma");
            (0..(size * size * 3) as usize)
                .map(|_| normal.sample(&mut rng))
                .collect()
        },
    };
    let clean_px = scene.composite();
    let (image_px, mask) = match item {
        ObjectItem::Train(_) | ObjectItem::TestGood(_) => (None, None),
        ObjectItem::Defect(kind, _) => {
            let (edited, mask) = draw_defect(&scene, kind, cfg.rgb, &mut rng);
            (Some(edited.composite()), Some(mask))
        }
    };
    let clean = quantise(&finish_image(&clean_px, size, &finish), cfg.rgb);
    let image = match image_px {
        Some(px) => quantise(&finish_image(&px, size, &finish), cfg.rgb),
        None => clean.clone(),
    };
    let p = scene.pose;
    ObjectSample {
        clean,
        image,
        mask,
        object: scene.object_mask(),
        pose: ObjectPose {
            angle_deg: p.angle.to_degrees(),
            dx: p.cx - size as f32 / 2.0,
            dy: p.cy - size as f32 / 2.0,
            scale: p.scale,
        },
    }
}

/// Applies the per-image lighting jitter and sensor noise (pointwise, so pixels a defect did not
/// touch stay equal to the clean image's).
fn finish_image(px: &[[f32; 3]], size: u32, f: &Finish) -> Rgb32FImage {
    let mut img = Rgb32FImage::new(size, size);
    for (i, (p, out)) in px.iter().zip(img.pixels_mut()).enumerate() {
        for c in 0..3 {
            let v = ((p[c] - 0.5) * f.contrast + 0.5) * f.gain + f.offset + f.noise[i * 3 + c];
            out[c] = v.clamp(0.0, 1.0);
        }
    }
    img
}

// ---------------------------------------------------------------------------------------------
// Defects

/// A defect's footprint: per pixel a normalised distance (≤ 1 inside, +inf outside) and a
/// second value (position along a stroke, or which particle).
struct Footprint {
    d: Vec<f32>,
    aux: Vec<f32>,
}

impl Footprint {
    fn new(size: u32) -> Footprint {
        let n = (size * size) as usize;
        Footprint {
            d: vec![f32::INFINITY; n],
            aux: vec![0.0; n],
        }
    }
}

/// Draws one defect of `kind` on the object; retries with new parameters until the mask area is
/// within the kind's range. Returns the edited scene and the mask (0/255) of the changed pixels,
/// which all lie on the object.
fn draw_defect(
    scene: &Scene,
    kind: ObjectDefect,
    rgb: bool,
    rng: &mut StdRng,
) -> (Scene, GrayImage) {
    let size = scene.size;
    let total = (size as f64) * (size as f64);
    let (lo, hi) = kind.area_range();
    let (lo, hi) = ((lo * total).max(6.0), hi * total);
    let mut best: Option<(f64, Plan)> = None;
    for _ in 0..48 {
        let plan = plan_defect(scene, kind, rng);
        let area = plan.area(scene) as f64;
        if area >= lo && area <= hi {
            best = Some((0.0, plan));
            break;
        }
        if area > 0.0 {
            // how far outside the range, in log terms
            let miss = if area < lo {
                (lo / area).ln()
            } else {
                (area / hi).ln()
            };
            if best.as_ref().is_none_or(|(m, _)| miss < *m) {
                best = Some((miss, plan));
            }
        }
    }
    let plan = match best {
        Some((_, plan)) => plan,
        // every attempt missed the object (practically impossible): a small pit in the middle
        None => {
            let (cx, cy) = scene
                .pose
                .to_image(0.5 * (scene.geometry.outer + scene.geometry.hole), 0.0);
            Plan::Pit(blob(size, (cx, cy), 3.0 * scene.unit, 1.0, 0.0, 0.2, rng))
        }
    };
    let mut edited = scene.clone();
    let mut mask = GrayImage::new(size, size);
    for idx in plan.pixels(scene) {
        mask.put_pixel(idx as u32 % size, idx as u32 / size, Luma([255]));
    }
    paint(scene, &mut edited, &plan, kind, rgb, rng);
    (edited, mask)
}

/// The shape of a defect, before painting.
enum Plan {
    Scratch(Footprint),
    Crack(Footprint),
    /// Broken-out rim: the blob's footprint and the width of the broken edge (as a fraction of
    /// the blob radius, beyond d = 1) and the blob radius in pixels.
    Chip(Footprint, f32, f32),
    Pit(Footprint),
    Contamination(Footprint, usize),
    Stain(Footprint),
}

impl Plan {
    fn footprint(&self) -> &Footprint {
        match self {
            Plan::Scratch(f)
            | Plan::Crack(f)
            | Plan::Chip(f, _, _)
            | Plan::Pit(f)
            | Plan::Contamination(f, _)
            | Plan::Stain(f) => f,
        }
    }

    /// Largest normalised distance that is part of the defect.
    fn limit(&self) -> f32 {
        match self {
            Plan::Chip(_, band, _) => 1.0 + band,
            _ => 1.0,
        }
    }

    /// Indices of the pixels the defect changes: inside its footprint and on the object.
    fn pixels<'a>(&'a self, scene: &'a Scene) -> impl Iterator<Item = usize> + 'a {
        let limit = self.limit();
        self.footprint()
            .d
            .iter()
            .enumerate()
            .filter(move |&(i, &d)| d <= limit && scene.alpha[i] > 0.0)
            .map(|(i, _)| i)
    }

    fn area(&self, scene: &Scene) -> usize {
        self.pixels(scene).count()
    }
}

fn plan_defect(scene: &Scene, kind: ObjectDefect, rng: &mut StdRng) -> Plan {
    let size = scene.size;
    let k = scene.unit;
    let total = (size as f64) * (size as f64);
    match kind {
        ObjectDefect::Scratch => {
            let hw = rng.random_range(0.5f32..=1.1) * k;
            let area = area_fraction(rng, 0.0008, 0.008) as f32 * total as f32;
            let lines = if rng.random_bool(0.3) { 2 } else { 1 };
            let diameter = 2.0 * scene.geometry.outer * scene.pose.scale;
            let length = (area / (2.0 * hw) / lines as f32).clamp(0.08 * diameter, 0.8 * diameter);
            let start = scene.surface_point(2.0 * k, rng);
            let angle = rng.random_range(0.0..std::f32::consts::TAU);
            let bend = rng.random_range(-0.25f32..0.25);
            let mut fp = Footprint::new(size);
            for line in 0..lines {
                let (p0, a, len) = if line == 0 {
                    (start, angle, length)
                } else {
                    // a companion scratch beside the first, nearly parallel
                    let off = rng.random_range(3.0f32..8.0) * hw.max(k);
                    (
                        (
                            start.0 - off * angle.sin()
                                + rng.random_range(-0.2f32..0.2) * length * angle.cos(),
                            start.1
                                + off * angle.cos()
                                + rng.random_range(-0.2f32..0.2) * length * angle.sin(),
                        ),
                        angle + rng.random_range(-0.08f32..0.08),
                        length * rng.random_range(0.4f32..1.0),
                    )
                };
                let p2 = (p0.0 + len * a.cos(), p0.1 + len * a.sin());
                let b = bend * len;
                let mid = (
                    (p0.0 + p2.0) / 2.0 - b * a.sin(),
                    (p0.1 + p2.1) / 2.0 + b * a.cos(),
                );
                let steps = (len / k.max(1.0)).ceil().max(2.0) as usize;
                let pts: Vec<(f32, f32)> = (0..=steps)
                    .map(|i| {
                        let t = i as f32 / steps as f32;
                        let u = 1.0 - t;
                        (
                            u * u * p0.0 + 2.0 * u * t * mid.0 + t * t * p2.0,
                            u * u * p0.1 + 2.0 * u * t * mid.1 + t * t * p2.1,
                        )
                    })
                    .collect();
                let widths: Vec<f32> = (0..=steps)
                    .map(|i| {
                        let t = i as f32 / steps as f32;
                        hw * (0.45 + 0.55 * (std::f32::consts::PI * t).sin().sqrt())
                    })
                    .collect();
                stroke(&mut fp, size, &pts, &widths);
            }
            Plan::Scratch(fp)
        }
        ObjectDefect::Crack => {
            let hw = rng.random_range(0.45f32..=0.9) * k;
            let area = area_fraction(rng, 0.0008, 0.006) as f32 * total as f32;
            let diameter = 2.0 * scene.geometry.outer * scene.pose.scale;
            let length = (area / (1.3 * hw)).clamp(0.08 * diameter, 0.7 * diameter);
            let (start, heading) = if rng.random_bool(0.55) {
                let bore = scene.geometry.shape == ObjectShape::Nut && rng.random_bool(0.3);
                let (p, inward) = scene.rim_point(bore, rng);
                (p, inward.1.atan2(inward.0) + rng.random_range(-0.6f32..0.6))
            } else {
                (
                    scene.surface_point(3.0 * k, rng),
                    rng.random_range(0.0..std::f32::consts::TAU),
                )
            };
            let mut fp = Footprint::new(size);
            let main = random_walk(start, heading, length, k, rng);
            let widths: Vec<f32> = (0..main.len())
                .map(|i| hw * (1.0 - 0.65 * i as f32 / main.len().max(2) as f32))
                .collect();
            stroke(&mut fp, size, &main, &widths);
            let branches = rng.random_range(0..=2usize);
            for _ in 0..branches {
                let at =
                    rng.random_range(main.len() / 5..=(main.len() * 4 / 5).max(main.len() / 5));
                let at = at.min(main.len() - 1);
                let dir = if at + 1 < main.len() {
                    (main[at + 1].1 - main[at].1).atan2(main[at + 1].0 - main[at].0)
                } else {
                    heading
                };
                let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                let b = random_walk(
                    main[at],
                    dir + side * rng.random_range(0.4f32..1.0),
                    length * rng.random_range(0.2f32..0.45),
                    k,
                    rng,
                );
                let w0 = widths[at] * 0.8;
                let bw: Vec<f32> = (0..b.len())
                    .map(|i| w0 * (1.0 - 0.6 * i as f32 / b.len().max(2) as f32))
                    .collect();
                stroke(&mut fp, size, &b, &bw);
            }
            Plan::Crack(fp)
        }
        ObjectDefect::Missing => {
            if rng.random_bool(0.55) {
                let bore = scene.geometry.shape == ObjectShape::Nut && rng.random_bool(0.25);
                let (p, inward) = scene.rim_point(bore, rng);
                let removed = area_fraction(rng, 0.0015, 0.025) as f32 * total as f32;
                let r0 = (2.0 * removed / std::f32::consts::PI).sqrt().max(2.0 * k);
                let out = rng.random_range(-0.25f32..0.3) * r0;
                let centre = (p.0 - inward.0 * out, p.1 - inward.1 * out);
                let band = (rng.random_range(1.0f32..2.2) * k / r0).min(0.5);
                // chips are longer along the rim than deep
                let tangent = inward.1.atan2(inward.0) + std::f32::consts::FRAC_PI_2;
                let fp = blob(
                    size,
                    centre,
                    r0,
                    rng.random_range(1.2f32..2.4),
                    tangent + rng.random_range(-0.3f32..0.3),
                    0.45,
                    rng,
                );
                Plan::Chip(fp, band, r0)
            } else {
                let a = area_fraction(rng, 0.0015, 0.02) as f32 * total as f32;
                let r0 = (a / std::f32::consts::PI).sqrt().max(1.5 * k);
                let centre = scene.surface_point(r0 / scene.pose.scale, rng);
                Plan::Pit(blob(
                    size,
                    centre,
                    r0,
                    rng.random_range(1.0f32..1.7),
                    rng.random_range(0.0..std::f32::consts::PI),
                    0.3,
                    rng,
                ))
            }
        }
        ObjectDefect::Contamination => {
            let count = if rng.random_bool(0.45) {
                1
            } else {
                rng.random_range(2..=5usize)
            };
            let a = area_fraction(rng, 0.0005, 0.01) as f32 * total as f32;
            let spread = (a / std::f32::consts::PI).sqrt();
            let centre = scene.surface_point(2.0 * k, rng);
            let weights: Vec<f32> = (0..count).map(|_| rng.random_range(0.2f32..1.0)).collect();
            let wsum: f32 = weights.iter().sum();
            let mut fp = Footprint::new(size);
            for (i, w) in weights.iter().enumerate() {
                let r = (a * w / wsum / std::f32::consts::PI).sqrt().max(0.9 * k);
                let c = if i == 0 {
                    centre
                } else {
                    let ang = rng.random_range(0.0..std::f32::consts::TAU);
                    let dist = rng.random_range(1.0f32..3.5) * spread;
                    (centre.0 + dist * ang.cos(), centre.1 + dist * ang.sin())
                };
                let p = blob(
                    size,
                    c,
                    r,
                    rng.random_range(1.0f32..2.2),
                    rng.random_range(0.0..std::f32::consts::PI),
                    0.45,
                    rng,
                );
                for (j, &d) in p.d.iter().enumerate() {
                    if d < fp.d[j] {
                        fp.d[j] = d;
                        fp.aux[j] = i as f32;
                    }
                }
            }
            Plan::Contamination(fp, count)
        }
        ObjectDefect::Stain => {
            let a = area_fraction(rng, 0.004, 0.035) as f32 * total as f32;
            let r0 = (a / std::f32::consts::PI).sqrt();
            let centre = scene.surface_point(0.3 * r0 / scene.pose.scale, rng);
            Plan::Stain(blob(
                size,
                centre,
                r0,
                rng.random_range(1.0f32..2.0),
                rng.random_range(0.0..std::f32::consts::PI),
                0.4,
                rng,
            ))
        }
    }
}

/// A jagged path: steps of about one unit whose heading wanders.
fn random_walk(
    start: (f32, f32),
    heading: f32,
    length: f32,
    k: f32,
    rng: &mut StdRng,
) -> Vec<(f32, f32)> {
    let step = 1.2 * k.max(0.8);
    let steps = (length / step).ceil().max(2.0) as usize;
    let mut pts = vec![start];
    let (mut p, mut h, mut drift) = (start, heading, 0.0f32);
    for _ in 0..steps {
        drift = 0.85 * drift + rng.random_range(-0.12f32..0.12);
        h += drift + rng.random_range(-0.35f32..0.35);
        // keep the overall direction: pull back towards the initial heading
        h += 0.15 * (heading - h);
        p = (p.0 + step * h.cos(), p.1 + step * h.sin());
        pts.push(p);
    }
    pts
}

/// Adds a polyline with per-point half widths to `fp`: d = distance / local half width, aux =
/// position along the line (0..1).
fn stroke(fp: &mut Footprint, size: u32, pts: &[(f32, f32)], half_widths: &[f32]) {
    let segs = pts.len().saturating_sub(1).max(1);
    for (i, seg) in pts.windows(2).enumerate() {
        let (a, b) = (seg[0], seg[1]);
        let (wa, wb) = (half_widths[i].max(0.5), half_widths[i + 1].max(0.5));
        let reach = wa.max(wb) + 1.0;
        let x0 = (a.0.min(b.0) - reach).floor().max(0.0) as i64;
        let x1 = ((a.0.max(b.0) + reach).ceil() as i64).min(size as i64 - 1);
        let y0 = (a.1.min(b.1) - reach).floor().max(0.0) as i64;
        let y1 = ((a.1.max(b.1) + reach).ceil() as i64).min(size as i64 - 1);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dist, t) = segment_distance((x as f32 + 0.5, y as f32 + 0.5), a, b);
                let w = wa + (wb - wa) * t;
                let d = dist / w;
                let idx = (y as u32 * size + x as u32) as usize;
                if d < fp.d[idx] {
                    fp.d[idx] = d;
                    fp.aux[idx] = (i as f32 + t) / segs as f32;
                }
            }
        }
    }
}

/// Irregular star-shaped blob, as in the texture generator: radius R(θ) = r0 (1 + Σ a_k
/// cos(kθ + φ_k)), elongated and rotated; d = ρ / R(θ) (1 on the outline).
fn blob(
    size: u32,
    c: (f32, f32),
    r0: f32,
    elong: f32,
    rot: f32,
    wobble: f32,
    rng: &mut StdRng,
) -> Footprint {
    let (ax, ay) = (r0 * elong.sqrt(), r0 / elong.sqrt());
    let harmonics: Vec<(f32, f32, f32)> = (2..=6)
        .map(|k| {
            (
                k as f32,
                rng.random_range(0.0..wobble) / (k as f32 - 1.0),
                rng.random_range(0.0..std::f32::consts::TAU),
            )
        })
        .collect();
    let reach = 1.6 * ax * (1.0 + harmonics.iter().map(|h| h.1).sum::<f32>()) + 3.0;
    let mut fp = Footprint::new(size);
    let (cr, sr) = (rot.cos(), rot.sin());
    let x0 = (c.0 - reach).floor().max(0.0) as i64;
    let x1 = ((c.0 + reach).ceil() as i64).min(size as i64 - 1);
    let y0 = (c.1 - reach).floor().max(0.0) as i64;
    let y1 = ((c.1 + reach).ceil() as i64).min(size as i64 - 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 + 0.5 - c.0, y as f32 + 0.5 - c.1);
            let (u, v) = ((dx * cr + dy * sr) / ax, (-dx * sr + dy * cr) / ay);
            let theta = v.atan2(u);
            let radius = (1.0
                + harmonics
                    .iter()
                    .map(|&(k, a, p)| a * (k * theta + p).cos())
                    .sum::<f32>())
            .max(0.3);
            let idx = (y as u32 * size + x as u32) as usize;
            fp.d[idx] = (u * u + v * v).sqrt() / radius;
            fp.aux[idx] = theta;
        }
    }
    fp
}

/// Slope of a height field at `idx` by central differences (zero outside the image).
fn slope(h: &[f32], size: u32, idx: usize) -> (f32, f32) {
    let (x, y) = ((idx as u32 % size) as i64, (idx as u32 / size) as i64);
    let at = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= size as i64 || y >= size as i64 {
            0.0
        } else {
            h[(y as u32 * size + x as u32) as usize]
        }
    };
    (
        (at(x + 1, y) - at(x - 1, y)) / 2.0,
        (at(x, y + 1) - at(x, y - 1)) / 2.0,
    )
}

fn paint(
    scene: &Scene,
    edited: &mut Scene,
    plan: &Plan,
    kind: ObjectDefect,
    rgb: bool,
    rng: &mut StdRng,
) {
    let size = scene.size;
    let k = scene.unit;
    let pixels: Vec<usize> = plan.pixels(scene).collect();
    let fp = plan.footprint();
    let grain_seed = mix(scene.grain_seed, 0x00DE_FEC7 ^ kind.id());
    let grain = |idx: usize, cell: f32| {
        let (x, y) = ((idx as u32 % size) as f32, (idx as u32 / size) as f32);
        value_noise(x / cell, y / cell, grain_seed)
    };
    let nut = scene.geometry.shape == ObjectShape::Nut;
    match plan {
        Plan::Scratch(_) => {
            // a groove (shaded by the light) whose bottom is lighter or darker than the surface
            let depth = rng.random_range(0.4f32..1.1);
            let bright = rng.random_bool(if nut { 0.6 } else { 0.35 });
            let strength = rng.random_range(0.08f32..0.3);
            let mut h = vec![0.0f32; (size * size) as usize];
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                h[i] = -depth * k * (1.0 - d * d);
            }
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                let fade = 0.5 + 0.5 * (std::f32::consts::PI * fp.aux[i]).sin();
                let core = (1.0 - d * d).max(0.0) * fade;
                let g = if bright {
                    1.0 + strength * core
                } else {
                    1.0 - strength * core
                };
                let (gx, gy) = slope(&h, size, i);
                let f = g * scene.bump(gx, gy);
                for c in 0..3 {
                    edited.surface[i][c] = scene.surface[i][c] * f;
                }
            }
        }
        Plan::Crack(_) => {
            let dark = rng.random_range(0.25f32..0.65);
            let depth = rng.random_range(0.8f32..1.6);
            let mut h = vec![0.0f32; (size * size) as usize];
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                h[i] = -depth * k * (1.0 - d * d);
            }
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                let core = (1.0 - d).max(0.0).powf(0.7);
                let (gx, gy) = slope(&h, size, i);
                let f = (1.0 - dark * core) * scene.bump(gx, gy);
                for c in 0..3 {
                    edited.surface[i][c] = scene.surface[i][c] * f;
                }
            }
        }
        Plan::Chip(_, band, r0) => {
            // broken edge: chalky and light on the tablet, rough and dark or fresh and bright on steel
            let edge_gain = if nut {
                if rng.random_bool(0.5) {
                    rng.random_range(0.55f32..0.8)
                } else {
                    rng.random_range(1.15f32..1.35)
                }
            } else if rng.random_bool(0.7) {
                rng.random_range(1.06f32..1.2)
            } else {
                rng.random_range(0.7f32..0.88)
            };
            for &i in &pixels {
                let d = fp.d[i];
                // signed distance to the chip's outline in pixels (negative inside the chip)
                let sd = (d - 1.0) * r0;
                let cover = (0.5 - sd).clamp(0.0, 1.0);
                edited.alpha[i] = scene.alpha[i] * (1.0 - cover);
                let t = ((d - 1.0) / band.max(1e-3)).clamp(0.0, 1.0);
                let rough = 1.0 + 0.12 * grain(i, 0.9 * k);
                let g = 1.0 + (edge_gain - 1.0) * (1.0 - t).powf(0.6) * rough;
                for c in 0..3 {
                    edited.surface[i][c] = scene.surface[i][c] * g;
                }
            }
        }
        Plan::Pit(_) => {
            let r = {
                // the pit's radius in pixels, from its area
                (pixels.len() as f32 / std::f32::consts::PI).sqrt().max(1.0)
            };
            // a crater: flat floor, steep walls (one lit, one in shade), rough darker floor
            let depth = rng.random_range(0.25f32..0.5) * r;
            let floor = rng.random_range(0.68f32..0.92);
            let mut h = vec![0.0f32; (size * size) as usize];
            for &i in &pixels {
                h[i] = -depth * smoothstep(1.0, 0.55, fp.d[i].min(1.0));
            }
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                let (gx, gy) = slope(&h, size, i);
                let rough = 1.0 + 0.1 * grain(i, 0.9 * k);
                let g = (1.0 - (1.0 - floor) * smoothstep(1.0, 0.5, d)) * rough;
                let f = g * scene.bump(gx, gy);
                for c in 0..3 {
                    edited.surface[i][c] = scene.surface[i][c] * f;
                }
            }
        }
        Plan::Contamination(_, count) => {
            let base = Material::of(scene.geometry.shape).base;
            let surface_lum = luminance(base);
            let colours: Vec<([f32; 3], f32)> = (0..*count)
                .map(|_| {
                    let palette: [[f32; 3]; 5] = [
                        [0.12, 0.10, 0.08], // dirt
                        [0.34, 0.22, 0.12], // brown grime
                        [0.58, 0.30, 0.12], // rust
                        [0.16, 0.20, 0.34], // blue-black fibre dust
                        [0.93, 0.92, 0.88], // pale dust
                    ];
                    let mut pick = rng.random_range(0..palette.len());
                    if palette[pick][0] > 0.9 && surface_lum > 0.7 {
                        pick = 0; // pale dust would not show on a pale tablet
                    }
                    // from a faint film to solid material: mixed with the surface's own colour
                    let j = rng.random_range(0.8f32..1.3);
                    let solid = rng.random_range(0.35f32..0.9);
                    let col: [f32; 3] = std::array::from_fn(|c| {
                        let v = (palette[pick][c] * j).min(1.0);
                        base[c] + solid * (v - base[c])
                    });
                    (col, rng.random_range(0.75f32..1.0))
                })
                .collect();
            let mut h = vec![0.0f32; (size * size) as usize];
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                h[i] = 1.2 * k * (1.0 - d * d);
            }
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                let (col, opacity) = colours[(fp.aux[i] as usize).min(colours.len() - 1)];
                let op = opacity * (0.45 + 0.55 * smoothstep(1.0, 0.6, d));
                let (gx, gy) = slope(&h, size, i);
                let lit = scene.bump(gx, gy) * (1.0 + 0.15 * grain(i, 1.2 * k));
                edited.surface[i] =
                    std::array::from_fn(|c| scene.surface[i][c] * (1.0 - op) + op * col[c] * lit);
            }
        }
        Plan::Stain(_) => {
            let strength = rng.random_range(0.3f32..0.75);
            let ring = rng.random_bool(0.3);
            let lighten = !rgb && rng.random_bool(0.25);
            let tint: [f32; 3] = if rgb {
                let palette: [[f32; 3]; 5] = [
                    [0.78, 0.58, 0.36], // brown
                    [0.95, 0.84, 0.45], // yellow
                    [0.58, 0.68, 0.88], // blue-grey
                    [0.88, 0.50, 0.44], // reddish
                    [0.62, 0.76, 0.50], // greenish
                ];
                palette[rng.random_range(0..palette.len())]
            } else {
                let t = rng.random_range(0.45f32..0.75);
                [t, t, t]
            };
            let cell = 0.4 * (pixels.len() as f32).sqrt().max(2.0);
            for &i in &pixels {
                let d = fp.d[i].min(1.0);
                let mut f = strength * (0.35 + 0.65 * smoothstep(1.0, 0.4, d));
                f *= 0.8 + 0.2 * grain(i, cell);
                if ring {
                    f *= 1.0 + 0.6 * (-((1.0 - d) / 0.15).powi(2)).exp();
                }
                let f = f.min(1.0);
                edited.surface[i] = std::array::from_fn(|c| {
                    let v = scene.surface[i][c];
                    if lighten {
                        v + f * 0.4 * (1.0 - v).max(0.0)
                    } else {
                        v * (1.0 - f * (1.0 - tint[c]))
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture() -> DynamicImage {
        // a small procedural texture: smooth noise plus fine speckle
        let img = image::RgbImage::from_fn(96, 96, |x, y| {
            let v = 0.5
                + 0.3 * value_noise(x as f32 / 9.0, y as f32 / 9.0, 11)
                + 0.15 * lattice(x as i32, y as i32, 5);
            let q = (v.clamp(0.0, 1.0) * 255.0) as u8;
            image::Rgb([q, q, q])
        });
        DynamicImage::ImageRgb8(img)
    }

    fn cfg(rgb: bool) -> SynthConfig {
        SynthConfig {
            size: 128,
            n_train: 4,
            n_test_good: 2,
            n_per_defect: 2,
            seed: 3,
            rgb,
        }
    }

    fn count(mask: &GrayImage) -> usize {
        mask.pixels().filter(|p| p[0] > 0).count()
    }

    #[test]
    fn deterministic_for_a_seed_and_distinct_across_seeds_and_shapes() {
        let tex = texture();
        for shape in ObjectShape::ALL {
            for item in [
                ObjectItem::Train(1),
                ObjectItem::Defect(ObjectDefect::Crack, 0),
            ] {
                let a = synth_object_image(&tex, shape, &cfg(true), item).unwrap();
                let b = synth_object_image(&tex, shape, &cfg(true), item).unwrap();
                assert_eq!(a.image.as_bytes(), b.image.as_bytes());
                assert_eq!(a.mask, b.mask);
                let mut other = cfg(true);
                other.seed = 4;
                let c = synth_object_image(&tex, shape, &other, item).unwrap();
                assert_ne!(a.image.as_bytes(), c.image.as_bytes());
            }
        }
        let disc = synth_object_image(&tex, ObjectShape::Disc, &cfg(false), ObjectItem::Train(0));
        let nut = synth_object_image(&tex, ObjectShape::Nut, &cfg(false), ObjectItem::Train(0));
        assert_ne!(disc.unwrap().object, nut.unwrap().object);
    }

    #[test]
    fn masks_lie_on_the_object_and_cover_every_change() {
        let tex = texture();
        for shape in ObjectShape::ALL {
            for rgb in [false, true] {
                for kind in ObjectDefect::ALL {
                    for i in 0..3 {
                        let s =
                            synth_object_image(&tex, shape, &cfg(rgb), ObjectItem::Defect(kind, i))
                                .unwrap();
                        let mask = s.mask.expect("defect images have a mask");
                        let what = format!("{} {} #{i} rgb={rgb}", shape.name(), kind.name());
                        let area = count(&mask);
                        assert!(area >= 6, "{what}: mask has {area} pixels");
                        assert!(area < 128 * 128 / 10, "{what}: mask has {area} pixels");
                        assert_eq!(s.image.color(), s.clean.color());
                        let ch = if rgb { 3 } else { 1 };
                        let (img, clean) = (s.image.as_bytes(), s.clean.as_bytes());
                        let mut changed = 0;
                        for (j, p) in mask.pixels().enumerate() {
                            let on = s.object.as_raw()[j] > 0;
                            if p[0] > 0 {
                                assert!(on, "{what}: mask pixel {j} is off the object");
                            }
                            let differs = img[j * ch..(j + 1) * ch] != clean[j * ch..(j + 1) * ch];
                            if p[0] == 0 {
                                assert!(!differs, "{what}: pixel {j} changed outside the mask");
                            } else if differs {
                                changed += 1;
                            }
                        }
                        // the defect is visible: most of its pixels change
                        assert!(
                            changed * 2 >= area,
                            "{what}: only {changed} of {area} mask pixels changed"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn good_images_have_no_mask_and_differ_in_pose() {
        let tex = texture();
        for shape in ObjectShape::ALL {
            let samples: Vec<ObjectSample> = (0..6)
                .map(|i| {
                    synth_object_image(&tex, shape, &cfg(false), ObjectItem::Train(i)).unwrap()
                })
                .chain((0..2).map(|i| {
                    synth_object_image(&tex, shape, &cfg(false), ObjectItem::TestGood(i)).unwrap()
                }))
                .collect();
            for s in &samples {
                assert!(s.mask.is_none());
                assert_eq!(s.image.as_bytes(), s.clean.as_bytes());
                let p = s.pose;
                assert!(p.angle_deg.abs() <= MAX_ROTATION_DEG + 1e-4);
                assert!(
                    p.dx.abs() <= MAX_SHIFT * 128.0 + 1e-3
                        && p.dy.abs() <= MAX_SHIFT * 128.0 + 1e-3
                );
                assert!((SCALE_RANGE.0..=SCALE_RANGE.1).contains(&p.scale));
                let area = count(&s.object) as f32 / (128.0 * 128.0);
                assert!(
                    (0.2..0.6).contains(&area),
                    "{}: object covers {area}",
                    shape.name()
                );
            }
            // every pair differs in pose and in its silhouette
            for (i, a) in samples.iter().enumerate() {
                for b in &samples[i + 1..] {
                    assert_ne!(a.pose, b.pose);
                    assert_ne!(a.object, b.object);
                    assert_ne!(a.image.as_bytes(), b.image.as_bytes());
                }
            }
            let spread = |f: fn(&ObjectPose) -> f32| {
                let v: Vec<f32> = samples.iter().map(|s| f(&s.pose)).collect();
                v.iter().cloned().fold(f32::MIN, f32::max)
                    - v.iter().cloned().fold(f32::MAX, f32::min)
            };
            assert!(spread(|p| p.angle_deg) > 1.0);
            assert!(spread(|p| p.dx) > 1.0 && spread(|p| p.dy) > 1.0);
            assert!(spread(|p| p.scale) > 0.01);
        }
    }

    /// Two detectors that fit only synthetic objects must fail: "the image's mean brightness
    /// moved" (defects are too small against the lighting jitter) and "the pixel differs from the
    /// mean training image" (pose, lighting and surface texture vary about as much as many
    /// defects). Measured on the bundled gravel photo, as the documented sets use it.
    #[test]
    fn cheap_tricks_do_not_find_the_defects() {
        use crate::metrics::auroc;
        let tex = image::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample_data/textures/gravel.png"
        ))
        .unwrap();
        let n_train = 30;
        for shape in ObjectShape::ALL {
            let c = SynthConfig {
                size: 128,
                seed: 9,
                ..SynthConfig::default()
            };
            let make = |item| synth_object_image(&tex, shape, &c, item).unwrap();
            let lum = |img: &DynamicImage| img.to_luma32f().into_raw();
            let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
            let train: Vec<Vec<f32>> = (0..n_train)
                .map(|i| lum(&make(ObjectItem::Train(i)).image))
                .collect();
            let n = train[0].len();
            let mean_img: Vec<f32> = (0..n)
                .map(|j| train.iter().map(|t| t[j]).sum::<f32>() / n_train as f32)
                .collect();
            let train_means: Vec<f32> = train.iter().map(|t| mean(t)).collect();
            let mu = mean(&train_means);
            let sd =
                (train_means.iter().map(|m| (m - mu).powi(2)).sum::<f32>() / n_train as f32).sqrt();

            // (image score, is defective) and, per kind, (pixel score, in mask, on object)
            let mut images: Vec<(f32, bool)> = Vec::new();
            let mut pixels: Vec<Vec<(f32, bool, bool)>> =
                vec![Vec::new(); 1 + ObjectDefect::ALL.len()];
            let mut largest_shift = 0.0f32;
            let mut add = |s: &ObjectSample, slot: usize| {
                let x = lum(&s.image);
                images.push(((mean(&x) - mu).abs(), s.mask.is_some()));
                largest_shift = largest_shift.max((mean(&x) - mean(&lum(&s.clean))).abs());
                for j in 0..n {
                    let bad = s.mask.as_ref().is_some_and(|m| m.as_raw()[j] > 0);
                    let on = s.object.as_raw()[j] > 0;
                    pixels[slot].push(((x[j] - mean_img[j]).abs(), bad, on));
                }
            };
            for i in 0..10 {
                add(&make(ObjectItem::TestGood(i)), 0);
            }
            for (k, kind) in ObjectDefect::ALL.into_iter().enumerate() {
                for i in 0..6 {
                    add(&make(ObjectItem::Defect(kind, i)), k + 1);
                }
            }
            let pixel_auroc = |slots: &[usize], object_only: bool| {
                let (sc, lb): (Vec<f32>, Vec<bool>) = slots
                    .iter()
                    .flat_map(|&k| pixels[k].iter())
                    .filter(|p| p.2 || !object_only)
                    .map(|p| (p.0, p.1))
                    .unzip();
                auroc(&sc, &lb).unwrap()
            };
            let what = shape.name();
            let (sc, lb): (Vec<f32>, Vec<bool>) = images.iter().copied().unzip();
            let image_auc = auroc(&sc, &lb).unwrap();
            let all: Vec<usize> = (0..pixels.len()).collect();
            let (on_object, whole) = (pixel_auroc(&all, true), pixel_auroc(&all, false));
            eprintln!(
                "{what}: brightness sd {sd:.4}, largest defect shift {largest_shift:.4}, \
                 image AUROC of |mean - mean_train| {image_auc:.3}; mean-image pixel AUROC \
                 {whole:.3} (whole image), {on_object:.3} (on the object)"
            );
            assert!(
                largest_shift < sd,
                "{what}: a defect moves the mean by {largest_shift}"
            );
            assert!(
                image_auc < 0.7,
                "{what}: brightness finds defective images ({image_auc})"
            );
            assert!(
                on_object < 0.75,
                "{what}: the mean image finds defects ({on_object})"
            );
            for (k, kind) in ObjectDefect::ALL.into_iter().enumerate() {
                let auc = pixel_auroc(&[0, k + 1], true);
                eprintln!(
                    "{what} {}: mean-image pixel AUROC on the object {auc:.3}",
                    kind.name()
                );
                assert!(
                    auc < 0.92,
                    "{what} {}: the mean image finds them ({auc})",
                    kind.name()
                );
            }
        }
    }

    #[test]
    fn category_layout_and_summary() {
        let tmp = std::env::temp_dir().join(format!("vaelens_synth_object_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let mut c = cfg(false);
        c.n_per_defect = 1;
        let summary = synth_object_category(&texture(), ObjectShape::Nut, &tmp, &c).unwrap();
        assert_eq!(summary.files_written, 4 + 2 + 2 * ObjectDefect::ALL.len());
        assert_eq!(summary.defects.len(), ObjectDefect::ALL.len());
        for d in &summary.defects {
            assert_eq!(d.count, 1);
            assert!(d.min_area > 0.0);
            let name = d.kind.name();
            let img = image::open(tmp.join("test").join(name).join("000.png")).unwrap();
            assert_eq!(img.color(), image::ColorType::L8);
            assert!(
                tmp.join("ground_truth")
                    .join(name)
                    .join("000_mask.png")
                    .is_file()
            );
        }
        assert!(tmp.join("train/good/003.png").is_file());
        // refuses to write into a non-empty folder
        assert!(synth_object_category(&texture(), ObjectShape::Nut, &tmp, &c).is_err());
        std::fs::remove_dir_all(&tmp).unwrap();
        // sizes out of range are refused
        c.size = 32;
        assert!(
            synth_object_image(&texture(), ObjectShape::Disc, &c, ObjectItem::Train(0)).is_err()
        );
    }
}
