//! Deterministic generator of MVTec-layout categories from a texture photo: random crops for
//! train/good and test/good, drawn defects (scratch, stain, foreign, hole) with exact masks.
//! Used for the bundled sample data, for tests and for measuring anomaly localisation.

use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageEncoder, Luma, Rgb, Rgb32FImage};
use imageproc::drawing::{draw_filled_ellipse_mut, draw_polygon_mut};
use imageproc::point::Point;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::error::DataError;
use super::train_set::mix;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    /// Side of every generated image, in pixels.
    pub size: u32,
    pub n_train: usize,
    pub n_test_good: usize,
    /// Test images per defect kind.
    pub n_per_defect: usize,
    pub seed: u64,
    /// RGB output (stains and foreign objects get a tint); gray otherwise.
    pub rgb: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            size: 128,
            n_train: 80,
            n_test_good: 12,
            n_per_defect: 6,
            seed: 0,
            rgb: false,
        }
    }
}

/// The kinds of drawn defect, each its own `test/<name>` folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefectKind {
    /// Thin bright or dark curved line(s), 1-3 px wide at 128 px.
    Scratch,
    /// Soft-edged irregular blob that darkens (sometimes lightens) and tints.
    Stain,
    /// Small pasted object with its own texture and brightness (noise or a rescaled crop).
    Foreign,
    /// Dark irregular region with a slightly brighter rim.
    Hole,
}

impl DefectKind {
    pub const ALL: [DefectKind; 4] = [
        DefectKind::Scratch,
        DefectKind::Stain,
        DefectKind::Foreign,
        DefectKind::Hole,
    ];

    /// Folder name under `test/` and `ground_truth/`.
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::Scratch => "scratch",
            DefectKind::Stain => "stain",
            DefectKind::Foreign => "foreign",
            DefectKind::Hole => "hole",
        }
    }

    fn id(self) -> u64 {
        match self {
            DefectKind::Scratch => 1,
            DefectKind::Stain => 2,
            DefectKind::Foreign => 3,
            DefectKind::Hole => 4,
        }
    }
}

/// Which image of a category to generate. Each item has its own random stream, so an item does
/// not change when the counts of other items change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthItem {
    Train(usize),
    TestGood(usize),
    Defect(DefectKind, usize),
}

/// One generated image: the clean crop, the image as written (equal to `clean` for good items)
/// and the defect mask (`None` for good items). Pixels outside the mask equal `clean`.
#[derive(Debug, Clone)]
pub struct SynthSample {
    pub clean: DynamicImage,
    pub image: DynamicImage,
    pub mask: Option<GrayImage>,
}

/// Per-kind statistics of what was written. `K` is the defect kind: [`DefectKind`] for texture
/// categories, [`ObjectDefect`](super::synth_object::ObjectDefect) for object categories.
#[derive(Debug, Clone, PartialEq)]
pub struct DefectSummary<K = DefectKind> {
    pub kind: K,
    pub count: usize,
    /// Smallest, mean and largest mask area as a fraction of the image area.
    pub min_area: f64,
    pub mean_area: f64,
    pub max_area: f64,
}

/// What [`synth_category`] (or [`synth_object_category`](super::synth_object::synth_object_category))
/// wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary<K = DefectKind> {
    pub root: PathBuf,
    pub n_train: usize,
    pub n_test_good: usize,
    pub defects: Vec<DefectSummary<K>>,
    /// Number of files written (images and masks).
    pub files_written: usize,
}

/// Writes an MVTec-layout category to `out` (created; must not exist or be empty):
/// `train/good/000.png..`, `test/good/`, `test/<kind>/`, `ground_truth/<kind>/<stem>_mask.png`.
/// Every file is written atomically (temporary file in the same folder, then rename).
pub fn synth_category(
    texture: &DynamicImage,
    out: &Path,
    cfg: &SynthConfig,
) -> Result<SynthSummary, DataError> {
    check_config(texture, cfg)?;
    let texture = prepare_texture(texture);
    write_category(out, cfg, &DefectKind::ALL, DefectKind::name, |slot| {
        let item = match slot {
            Slot::Train(i) => SynthItem::Train(i),
            Slot::TestGood(i) => SynthItem::TestGood(i),
            Slot::Defect(kind, i) => SynthItem::Defect(kind, i),
        };
        let s = generate(&texture, cfg, item);
        (s.image, s.mask)
    })
}

/// One file of a category, for [`write_category`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot<K> {
    Train(usize),
    TestGood(usize),
    Defect(K, usize),
}

/// Writes a category's folders and files (see [`synth_category`] for the layout) in a fixed
/// order, from `make(slot)` = (image, mask; `Some` exactly for defect slots), and summarises
/// the mask areas per kind. Shared by the texture and the object generators.
pub(super) fn write_category<K: Copy>(
    out: &Path,
    cfg: &SynthConfig,
    kinds: &[K],
    name: fn(K) -> &'static str,
    mut make: impl FnMut(Slot<K>) -> (DynamicImage, Option<GrayImage>),
) -> Result<SynthSummary<K>, DataError> {
    if out.exists() {
        if !out.is_dir() {
            return Err(DataError::NotADirectory {
                path: out.to_path_buf(),
            });
        }
        let mut entries = std::fs::read_dir(out).map_err(|e| DataError::Io {
            path: out.to_path_buf(),
            source: e,
        })?;
        if entries.next().is_some() {
            return Err(DataError::OutputNotEmpty {
                path: out.to_path_buf(),
            });
        }
    }
    let mut dirs = vec![out.join("train/good"), out.join("test/good")];
    for &kind in kinds {
        dirs.push(out.join("test").join(name(kind)));
        dirs.push(out.join("ground_truth").join(name(kind)));
    }
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(|e| DataError::Write {
            path: d.clone(),
            source: e,
        })?;
    }

    let mut files_written = 0;
    for i in 0..cfg.n_train {
        let (image, _) = make(Slot::Train(i));
        write_png_atomic(&out.join("train/good").join(file_name(i)), &image)?;
        files_written += 1;
    }
    for i in 0..cfg.n_test_good {
        let (image, _) = make(Slot::TestGood(i));
        write_png_atomic(&out.join("test/good").join(file_name(i)), &image)?;
        files_written += 1;
    }
    let mut defects = Vec::new();
    let pixels = (cfg.size as f64) * (cfg.size as f64);
    for &kind in kinds {
        let mut areas = Vec::new();
        for i in 0..cfg.n_per_defect {
            let (image, mask) = make(Slot::Defect(kind, i));
            let mask = mask.expect("defect items have a mask");
            areas.push(mask.pixels().filter(|p| p[0] > 0).count() as f64 / pixels);
            write_png_atomic(
                &out.join("test").join(name(kind)).join(file_name(i)),
                &image,
            )?;
            write_png_atomic(
                &out.join("ground_truth")
                    .join(name(kind))
                    .join(format!("{i:03}_mask.png")),
                &DynamicImage::ImageLuma8(mask),
            )?;
            files_written += 2;
        }
        let count = areas.len();
        defects.push(DefectSummary {
            kind,
            count,
            min_area: if count == 0 {
                0.0
            } else {
                areas.iter().copied().fold(f64::INFINITY, f64::min)
            },
            mean_area: if count == 0 {
                0.0
            } else {
                areas.iter().sum::<f64>() / count as f64
            },
            max_area: areas.iter().copied().fold(0.0, f64::max),
        });
    }
    Ok(SynthSummary {
        root: out.to_path_buf(),
        n_train: cfg.n_train,
        n_test_good: cfg.n_test_good,
        defects,
        files_written,
    })
}

/// Generates one image in memory (what [`synth_category`] would write for `item`).
pub fn synth_image(
    texture: &DynamicImage,
    cfg: &SynthConfig,
    item: SynthItem,
) -> Result<SynthSample, DataError> {
    check_config(texture, cfg)?;
    Ok(generate(&prepare_texture(texture), cfg, item))
}

fn check_config(texture: &DynamicImage, cfg: &SynthConfig) -> Result<(), DataError> {
    if cfg.size < 16 {
        return Err(DataError::InvalidArgument(format!(
            "synthetic image size must be at least 16, got {}",
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

fn file_name(i: usize) -> String {
    format!("{i:03}.png")
}

fn prepare_texture(texture: &DynamicImage) -> Rgb32FImage {
    texture.to_rgb32f()
}

fn item_seed(seed: u64, item: SynthItem) -> u64 {
    let tag = match item {
        SynthItem::Train(i) => (1u64 << 56) | i as u64,
        SynthItem::TestGood(i) => (2u64 << 56) | i as u64,
        SynthItem::Defect(k, i) => (3u64 << 56) | (k.id() << 48) | i as u64,
    };
    mix(seed, tag)
}

fn generate(texture: &Rgb32FImage, cfg: &SynthConfig, item: SynthItem) -> SynthSample {
    let mut rng = StdRng::seed_from_u64(item_seed(cfg.seed, item));
    let clean = random_crop(texture, cfg.size, &mut rng);
    let (image, mask) = match item {
        SynthItem::Train(_) | SynthItem::TestGood(_) => (clean.clone(), None),
        SynthItem::Defect(kind, _) => {
            let (img, mask) = draw_defect(&clean, texture, kind, cfg.rgb, &mut rng);
            (img, Some(mask))
        }
    };
    let clean = quantise(&clean, cfg.rgb);
    let image = quantise(&image, cfg.rgb);
    SynthSample { clean, image, mask }
}

/// Random square crop of 0.6-1.0 x the texture's short side, random 90° rotation and mirror,
/// resized to `size`.
fn random_crop(texture: &Rgb32FImage, size: u32, rng: &mut StdRng) -> Rgb32FImage {
    let (w, h) = texture.dimensions();
    let short = w.min(h);
    let side = ((short as f32) * rng.random_range(0.6f32..=1.0))
        .round()
        .clamp(8.0, short as f32) as u32;
    let x = rng.random_range(0..=w - side);
    let y = rng.random_range(0..=h - side);
    let crop = imageops::crop_imm(texture, x, y, side, side).to_image();
    let mut img = imageops::resize(&crop, size, size, FilterType::Triangle);
    img = match rng.random_range(0..4u8) {
        1 => imageops::rotate90(&img),
        2 => imageops::rotate180(&img),
        3 => imageops::rotate270(&img),
        _ => img,
    };
    if rng.random_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut img);
    }
    img
}

pub(super) fn quantise(img: &Rgb32FImage, rgb: bool) -> DynamicImage {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    if rgb {
        let out = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
            let p = img.get_pixel(x, y);
            Rgb([q(p[0]), q(p[1]), q(p[2])])
        });
        DynamicImage::ImageRgb8(out)
    } else {
        let out = GrayImage::from_fn(img.width(), img.height(), |x, y| {
            let p = img.get_pixel(x, y);
            Luma([q(0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2])])
        });
        DynamicImage::ImageLuma8(out)
    }
}

/// Draws one defect of `kind`; retries with new parameters until the mask covers roughly
/// 0.3%-5% of the image. Returns the changed image and the mask (0/255) of the changed region.
fn draw_defect(
    clean: &Rgb32FImage,
    texture: &Rgb32FImage,
    kind: DefectKind,
    rgb: bool,
    rng: &mut StdRng,
) -> (Rgb32FImage, GrayImage) {
    let size = clean.width();
    let total = (size as f64) * (size as f64);
    let (lo, hi) = (0.0025 * total, 0.06 * total);
    let mut last = None;
    for _ in 0..32 {
        let region = match kind {
            DefectKind::Scratch => scratch_region(size, rng),
            DefectKind::Stain => blob_region(size, rng, 0.35),
            DefectKind::Foreign => foreign_region(size, rng),
            DefectKind::Hole => blob_region(size, rng, 0.25),
        };
        let area = region.mask.pixels().filter(|p| p[0] > 0).count() as f64;
        let ok = area >= lo.max(4.0) && area <= hi;
        last = Some(region);
        if ok {
            break;
        }
    }
    let region = last.expect("at least one attempt");
    let mut img = clean.clone();
    match kind {
        DefectKind::Scratch => paint_scratch(&mut img, &region, rng),
        DefectKind::Stain => paint_stain(&mut img, &region, rgb, rng),
        DefectKind::Foreign => paint_foreign(&mut img, &region, texture, rgb, rng),
        DefectKind::Hole => paint_hole(&mut img, &region, rng),
    }
    (img, region.mask)
}

/// A defect's region: the mask plus, per pixel, a "depth" in [0, 1] (0 at the edge, 1 at the
/// core) and a position along the defect in [0, 1], used for shading.
struct Region {
    mask: GrayImage,
    depth: Vec<f32>,
    along: Vec<f32>,
}

impl Region {
    fn new(size: u32) -> Region {
        let n = (size * size) as usize;
        Region {
            mask: GrayImage::new(size, size),
            depth: vec![0.0; n],
            along: vec![0.0; n],
        }
    }
    fn inside(&self) -> impl Iterator<Item = (u32, u32, usize)> + '_ {
        let w = self.mask.width();
        self.mask
            .enumerate_pixels()
            .filter(|(_, _, p)| p[0] > 0)
            .map(move |(x, y, _)| (x, y, (y * w + x) as usize))
    }
}

/// Area fraction drawn log-uniformly between `lo` and `hi`.
pub(super) fn area_fraction(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// One or two thin curved lines (quadratic Bézier), 1-3 px wide at 128 px.
fn scratch_region(size: u32, rng: &mut StdRng) -> Region {
    let s = size as f32;
    let k = s / 128.0;
    let mut region = Region::new(size);
    let lines = if rng.random_bool(0.3) { 2 } else { 1 };
    let width = (rng.random_range(1..=3u32) as f32 * k).max(1.0);
    let target = area_fraction(rng, 0.003, 0.02) as f32 * s * s / lines as f32;
    for _ in 0..lines {
        let length = (target / width).clamp(0.12 * s, 0.9 * s);
        let p0 = (rng.random_range(0.0..s), rng.random_range(0.0..s));
        let angle = rng.random_range(0.0..std::f32::consts::TAU);
        let p2 = (p0.0 + length * angle.cos(), p0.1 + length * angle.sin());
        let bend = rng.random_range(-0.3f32..0.3) * length;
        let mid = (
            (p0.0 + p2.0) / 2.0 - bend * angle.sin(),
            (p0.1 + p2.1) / 2.0 + bend * angle.cos(),
        );
        let steps = (length * 2.0).ceil() as usize + 2;
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
        let half = width / 2.0;
        let (minx, maxx) = pts
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (miny, maxy) = pts
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let x0 = (minx - half - 1.0).floor().max(0.0) as u32;
        let x1 = ((maxx + half + 1.0).ceil().max(0.0) as u32).min(size - 1);
        let y0 = (miny - half - 1.0).floor().max(0.0) as u32;
        let y1 = ((maxy + half + 1.0).ceil().max(0.0) as u32).min(size - 1);
        if x0 > x1 || y0 > y1 {
            continue;
        }
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f32, y as f32);
                let mut best = (f32::MAX, 0.0f32);
                for (i, seg) in pts.windows(2).enumerate() {
                    let (d, t) = segment_distance((px, py), seg[0], seg[1]);
                    if d < best.0 {
                        best = (d, (i as f32 + t) / (pts.len() - 1) as f32);
                    }
                }
                if best.0 <= half {
                    let idx = (y * size + x) as usize;
                    region.mask.put_pixel(x, y, Luma([255]));
                    region.depth[idx] = region.depth[idx].max(1.0 - best.0 / half.max(0.5));
                    region.along[idx] = best.1;
                }
            }
        }
    }
    region
}

/// Distance from `p` to the segment a-b and the position of the nearest point (0 at a, 1 at b).
pub(super) fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    ((qx * qx + qy * qy).sqrt(), t)
}

/// Irregular star-shaped blob: radius R(θ) = R0 (1 + Σ a_k cos(kθ + φ_k)), elongated and rotated.
/// `wobble` scales the irregularity.
fn blob_region(size: u32, rng: &mut StdRng, wobble: f32) -> Region {
    let s = size as f32;
    let area = area_fraction(rng, 0.003, 0.05) as f32 * s * s;
    let elong = rng.random_range(1.0f32..2.0);
    let r0 = (area / std::f32::consts::PI).sqrt();
    let (ax, ay) = (r0 * elong.sqrt(), r0 / elong.sqrt());
    let rot = rng.random_range(0.0..std::f32::consts::PI);
    let harmonics: Vec<(f32, f32, f32)> = (2..=5)
        .map(|k| {
            (
                k as f32,
                rng.random_range(0.0..wobble) / (k as f32 - 1.0),
                rng.random_range(0.0..std::f32::consts::TAU),
            )
        })
        .collect();
    let c = (rng.random_range(0.0..s), rng.random_range(0.0..s));
    let reach = ax * (1.0 + harmonics.iter().map(|h| h.1).sum::<f32>()) + 2.0;
    let mut region = Region::new(size);
    let (cr, sr) = (rot.cos(), rot.sin());
    let x0 = (c.0 - reach).floor().max(0.0) as u32;
    let x1 = ((c.0 + reach).ceil().max(0.0) as u32).min(size - 1);
    let y0 = (c.1 - reach).floor().max(0.0) as u32;
    let y1 = ((c.1 + reach).ceil().max(0.0) as u32).min(size - 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 - c.0, y as f32 - c.1);
            // rotate into the blob's frame and undo the elongation
            let (u, v) = ((dx * cr + dy * sr) / ax, (-dx * sr + dy * cr) / ay);
            let theta = v.atan2(u);
            let radius = (1.0
                + harmonics
                    .iter()
                    .map(|&(k, a, p)| a * (k * theta + p).cos())
                    .sum::<f32>())
            .max(0.3);
            let rho = (u * u + v * v).sqrt() / radius;
            if rho <= 1.0 {
                let idx = (y * size + x) as usize;
                region.mask.put_pixel(x, y, Luma([255]));
                region.depth[idx] = 1.0 - rho;
                region.along[idx] = theta / std::f32::consts::TAU + 0.5;
            }
        }
    }
    region
}

/// A random polygon (imageproc's `draw_polygon_mut`) or ellipse (`draw_filled_ellipse_mut`).
fn foreign_region(size: u32, rng: &mut StdRng) -> Region {
    let s = size as f32;
    let area = area_fraction(rng, 0.003, 0.04) as f32 * s * s;
    let r0 = (area / std::f32::consts::PI).sqrt();
    let c = (rng.random_range(0.0..s), rng.random_range(0.0..s));
    let mut region = Region::new(size);
    if rng.random_bool(0.3) {
        let elong = rng.random_range(1.0f32..2.5);
        let (rx, ry) = (
            (r0 * elong.sqrt()).round().max(1.0) as i32,
            (r0 / elong.sqrt()).round().max(1.0) as i32,
        );
        draw_filled_ellipse_mut(
            &mut region.mask,
            (c.0 as i32, c.1 as i32),
            rx,
            ry,
            Luma([255u8]),
        );
    } else {
        let n = rng.random_range(4..=8usize);
        let mut angles: Vec<f32> = (0..n)
            .map(|_| rng.random_range(0.0..std::f32::consts::TAU))
            .collect();
        angles.sort_by(f32::total_cmp);
        let mut poly: Vec<Point<i32>> = Vec::new();
        for a in angles {
            let r = r0 * rng.random_range(0.7f32..1.4);
            let p = Point::new(
                (c.0 + r * a.cos()).round() as i32,
                (c.1 + r * a.sin()).round() as i32,
            );
            if poly.last() != Some(&p) {
                poly.push(p);
            }
        }
        while poly.len() > 1 && poly.first() == poly.last() {
            poly.pop();
        }
        if poly.len() >= 3 {
            draw_polygon_mut(&mut region.mask, &poly, Luma([255u8]));
        } else {
            draw_filled_ellipse_mut(
                &mut region.mask,
                (c.0 as i32, c.1 as i32),
                r0 as i32 + 1,
                r0 as i32 + 1,
                Luma([255u8]),
            );
        }
    }
    for (x, y, idx) in region.inside().collect::<Vec<_>>() {
        let d = ((x as f32 - c.0).powi(2) + (y as f32 - c.1).powi(2)).sqrt() / (r0 * 1.4);
        region.depth[idx] = (1.0 - d).clamp(0.0, 1.0);
    }
    region
}

fn paint_scratch(img: &mut Rgb32FImage, region: &Region, rng: &mut StdRng) {
    let bright = rng.random_bool(0.5);
    let strength = rng.random_range(0.2f32..0.5);
    for (x, y, idx) in region.inside().collect::<Vec<_>>() {
        // weaker towards the line's ends and its sides
        let along = region.along[idx];
        let fade = 0.55 + 0.45 * (std::f32::consts::PI * along).sin();
        let delta = strength * fade * (0.6 + 0.4 * region.depth[idx]);
        let p = img.get_pixel_mut(x, y);
        for v in p.0.iter_mut() {
            *v = if bright {
                *v + delta * (1.15 - *v)
            } else {
                *v - delta * (*v + 0.15)
            };
            *v = v.clamp(0.0, 1.0);
        }
    }
}

fn paint_stain(img: &mut Rgb32FImage, region: &Region, rgb: bool, rng: &mut StdRng) {
    let strength = rng.random_range(0.15f32..0.5);
    let lighten = rng.random_bool(0.2);
    let tint: [f32; 3] = if rgb {
        [
            rng.random_range(0.5f32..1.0),
            rng.random_range(0.5f32..1.0),
            rng.random_range(0.5f32..1.0),
        ]
    } else {
        [1.0; 3]
    };
    for (x, y, idx) in region.inside().collect::<Vec<_>>() {
        // soft edge: full strength inside, a third of it at the rim
        let d = region.depth[idx];
        let f = strength * (0.33 + 0.67 * (d * (2.0 - d)));
        let p = img.get_pixel_mut(x, y);
        for (c, v) in p.0.iter_mut().enumerate() {
            *v = if lighten {
                *v + f * tint[c] * (1.0 - *v)
            } else {
                *v * (1.0 - f * tint[c])
            };
            *v = v.clamp(0.0, 1.0);
        }
    }
}

fn paint_foreign(
    img: &mut Rgb32FImage,
    region: &Region,
    texture: &Rgb32FImage,
    rgb: bool,
    rng: &mut StdRng,
) {
    let size = img.width();
    let fill: Rgb32FImage = if rng.random_bool(0.5) {
        // a crop of the texture at a very different scale
        let (w, h) = texture.dimensions();
        let short = w.min(h) as f32;
        let side = if rng.random_bool(0.5) {
            short * rng.random_range(0.08f32..0.2)
        } else {
            short
        };
        let side = (side.round() as u32).clamp(4, w.min(h));
        let x = rng.random_range(0..=w - side);
        let y = rng.random_range(0..=h - side);
        let crop = imageops::crop_imm(texture, x, y, side, side).to_image();
        imageops::resize(&crop, size, size, FilterType::Triangle)
    } else {
        // smooth value noise: a coarse random grid upsampled
        let cells = rng.random_range(3..=10u32);
        let grid = Rgb32FImage::from_fn(cells, cells, |_, _| {
            let v = rng.random::<f32>();
            Rgb([v, v, v])
        });
        imageops::resize(&grid, size, size, FilterType::Triangle)
    };
    let contrast = rng.random_range(0.3f32..1.8);
    let mean_target = rng.random_range(0.15f32..0.85);
    let tint: [f32; 3] = if rgb {
        [
            rng.random_range(0.6f32..1.2),
            rng.random_range(0.6f32..1.2),
            rng.random_range(0.6f32..1.2),
        ]
    } else {
        [1.0; 3]
    };
    let inside: Vec<_> = region.inside().collect();
    let mean_fill = inside
        .iter()
        .map(|&(x, y, _)| fill.get_pixel(x, y)[0])
        .sum::<f32>()
        / inside.len().max(1) as f32;
    for (x, y, _) in inside {
        let f = fill.get_pixel(x, y).0;
        let p = img.get_pixel_mut(x, y);
        for c in 0..3 {
            p[c] = ((mean_target + contrast * (f[c] - mean_fill)) * tint[c]).clamp(0.0, 1.0);
        }
    }
}

fn paint_hole(img: &mut Rgb32FImage, region: &Region, rng: &mut StdRng) {
    let darkness = rng.random_range(0.15f32..0.6);
    let rim_width = rng.random_range(1.0f32..2.5) * img.width() as f32 / 128.0;
    let rim_gain = rng.random_range(0.06f32..0.2);
    let w = img.width();
    // depth is 1 - rho; pixels within rim_width of the edge form the rim
    let inside: Vec<_> = region.inside().collect();
    let is_in = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < w as i64
            && y < w as i64
            && region.mask.get_pixel(x as u32, y as u32)[0] > 0
    };
    let reach = rim_width.ceil() as i64;
    for (x, y, idx) in inside {
        let mut near_edge = false;
        'scan: for dy in -reach..=reach {
            for dx in -reach..=reach {
                if ((dx * dx + dy * dy) as f32) <= rim_width * rim_width
                    && !is_in(x as i64 + dx, y as i64 + dy)
                {
                    near_edge = true;
                    break 'scan;
                }
            }
        }
        let d = region.depth[idx];
        let p = img.get_pixel_mut(x, y);
        for v in p.0.iter_mut() {
            *v = if near_edge {
                *v + rim_gain * (1.0 - *v)
            } else {
                // darker towards the centre
                *v * (darkness + (1.0 - darkness) * 0.5 * (1.0 - d)) * (1.0 - 0.5 * d) + 0.02
            };
            *v = v.clamp(0.0, 1.0);
        }
    }
}

/// Encodes `img` as PNG and writes it atomically (temporary file beside `path`, then rename).
fn write_png_atomic(path: &Path, img: &DynamicImage) -> Result<(), DataError> {
    let mut bytes = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, PngFilter::Adaptive);
    encoder
        .write_image(
            img.as_bytes(),
            img.width(),
            img.height(),
            img.color().into(),
        )
        .map_err(|e| DataError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    crate::fsx::write_bytes_atomic(path, &bytes).map_err(|e| DataError::Write {
        path: path.to_path_buf(),
        source: e,
    })
}
