//! dSprites as a data set the explorer can open without a folder: a fixed gallery of images named
//! by their factors under a virtual root, rendered whenever something reads them.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage};

use super::{FACTOR_SIZES, Factors, IMAGE_SIDE, render};

/// The gallery's root: not a folder on disk; `load_image` renders paths under it.
pub const GALLERY_ROOT: &str = "dsprites:";
/// The name the explorer shows for the gallery.
pub const GALLERY_NAME: &str = "dSprites";

const SHAPE_NAMES: [&str; 3] = ["square", "ellipse", "heart"];

/// The gallery: every shape at every scale, each at a few orientations and positions spread over
/// the grid (3 x 6 x 4 = 72 images), in a fixed order.
pub fn gallery() -> Vec<Factors> {
    let mut out = Vec::new();
    for shape in 0..FACTOR_SIZES[0] {
        for scale in 0..FACTOR_SIZES[1] {
            for k in 0..4 {
                // Orientations a quarter turn apart per k, shifted by the scale; positions on a
                // coarse diagonal lattice, so the browser shows varied sprites.
                let orientation = (k * 10 + scale * 3) % FACTOR_SIZES[2];
                let x = (4 + 8 * k + 5 * scale) % FACTOR_SIZES[3];
                let y = (28 - 7 * k + 3 * shape + scale) % FACTOR_SIZES[4];
                out.push(Factors([shape, scale, orientation, x, y]));
            }
        }
    }
    out
}

/// The gallery image's virtual path, e.g. `dsprites:/heart-scale3-rot10-x16-y16.png`.
pub fn gallery_path(f: Factors) -> PathBuf {
    let [shape, scale, rot, x, y] = f.0;
    Path::new(GALLERY_ROOT).join(format!(
        "{}-scale{scale}-rot{rot}-x{x}-y{y}.png",
        SHAPE_NAMES[shape]
    ))
}

/// Whether `path` lies under the virtual root.
pub fn is_gallery_path(path: &Path) -> bool {
    path.starts_with(GALLERY_ROOT)
}

/// The factors a gallery path names, or None when it is not one (or names values off the grid).
pub fn parse_gallery_path(path: &Path) -> Option<Factors> {
    if !is_gallery_path(path) {
        return None;
    }
    let stem = path.file_name()?.to_str()?.strip_suffix(".png")?;
    let mut parts = stem.split('-');
    let name = parts.next()?;
    let shape = SHAPE_NAMES.iter().position(|&s| s == name)?;
    let mut number = |prefix: &str| parts.next()?.strip_prefix(prefix)?.parse::<usize>().ok();
    let factors = [
        shape,
        number("scale")?,
        number("rot")?,
        number("x")?,
        number("y")?,
    ];
    if parts.next().is_some() || factors.iter().zip(&FACTOR_SIZES).any(|(&v, &n)| v >= n) {
        return None;
    }
    Some(Factors(factors))
}

/// The image of `factors` as an 8-bit gray image (0 or 255).
pub fn render_image(factors: Factors) -> DynamicImage {
    let pixels = render(factors)
        .into_iter()
        .map(|v| (v * 255.0).round() as u8)
        .collect();
    let side = IMAGE_SIDE as u32;
    DynamicImage::ImageLuma8(
        GrayImage::from_raw(side, side, pixels).expect("a rendered sprite fills its image"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallery_paths_round_trip_and_are_distinct() {
        let all = gallery();
        assert_eq!(all.len(), 72);
        let mut seen = std::collections::HashSet::new();
        for &f in &all {
            let path = gallery_path(f);
            assert!(is_gallery_path(&path));
            assert_eq!(parse_gallery_path(&path), Some(f), "{}", path.display());
            assert!(seen.insert(f.index()));
        }
        // Every value of shape and scale appears.
        for (factor, &size) in FACTOR_SIZES.iter().enumerate().take(2) {
            assert!((0..size).all(|v| all.iter().any(|f| f.0[factor] == v)));
        }
    }

    #[test]
    fn paths_off_the_grid_or_outside_the_root_are_not_gallery_images() {
        for text in [
            "dsprites:/heart-scale6-rot0-x0-y0.png",
            "dsprites:/star-scale0-rot0-x0-y0.png",
            "dsprites:/heart-scale0-rot0-x0.png",
            "dsprites:/heart-scale0-rot0-x0-y0-z0.png",
            "photos/heart-scale0-rot0-x0-y0.png",
        ] {
            assert_eq!(parse_gallery_path(Path::new(text)), None, "{text}");
        }
    }

    #[test]
    fn rendered_image_matches_the_renderer() {
        let f = Factors([2, 3, 5, 16, 16]);
        let image = render_image(f).to_luma8();
        let raw = render(f);
        assert_eq!(image.dimensions(), (64, 64));
        for (p, &v) in image.pixels().zip(&raw) {
            assert_eq!(p.0[0], if v > 0.5 { 255 } else { 0 });
        }
        assert!(raw.iter().any(|&v| v > 0.5));
    }
}
