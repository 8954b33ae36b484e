//! Overlay PNGs for a whole test set: heat map, predicted mask and ground-truth contour, drawn by
//! the same `render` code the explorer uses.

use std::path::{Path, PathBuf};

use crate::data::load_image;
use crate::eval::ScoredTest;
use crate::map::FloatMap;
use crate::render::{self, OverlayOptions};

/// Where each overlay of `tests` goes: `<out>/<defect>/<stem>.png`.
pub fn overlay_path(out: &Path, test: &ScoredTest) -> PathBuf {
    out.join(&test.defect).join(format!("{}.png", test.stem()))
}

/// Renders one test image's overlay for map `m`, reading the image from disk.
pub fn render_overlay(
    test: &ScoredTest,
    m: usize,
    options: &OverlayOptions,
) -> Result<image::RgbaImage, String> {
    let base = load_image(&test.path).map_err(|e| e.to_string())?;
    overlay_on(&render::to_rgba(&base), test, m, options, true)
}

/// Draws map `m` of `test` over `base` (the test image, already loaded), with the ground-truth
/// contour when `with_truth` and the image has a mask.
pub fn overlay_on(
    base: &image::RgbaImage,
    test: &ScoredTest,
    m: usize,
    options: &OverlayOptions,
    with_truth: bool,
) -> Result<image::RgbaImage, String> {
    let map = FloatMap::from_raw(test.width, test.height, test.maps[m].scores.clone())
        .ok_or("map size differs from its image")?;
    let truth = test.mask.as_ref().filter(|_| with_truth).map(|mask| {
        let pixels = mask.iter().map(|&on| if on { 255 } else { 0 }).collect();
        image::GrayImage::from_raw(test.width, test.height, pixels).expect("mask matches image")
    });
    Ok(render::anomaly_overlay(base, &map, options, truth.as_ref()))
}

/// Writes the overlays of map `m` for every scored test image; refuses to overwrite existing
/// files unless `overwrite`. Returns the files written.
pub fn export_overlays(
    tests: &[ScoredTest],
    m: usize,
    options: &OverlayOptions,
    out: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PathBuf>, String> {
    let existing = tests
        .iter()
        .map(|t| overlay_path(out, t))
        .find(|p| p.exists());
    if let (false, Some(existing)) = (overwrite, existing) {
        return Err(format!(
            "{} already exists; pass --overwrite to replace the overlays in {}",
            existing.display(),
            out.display()
        ));
    }
    let mut written = Vec::with_capacity(tests.len());
    for (n, test) in tests.iter().enumerate() {
        let path = overlay_path(out, test);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let overlay = render_overlay(test, m, options)?;
        render::save_png_atomic(&overlay, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
        progress(n + 1, tests.len());
    }
    Ok(written)
}
