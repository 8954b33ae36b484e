//! Overlay PNGs for a whole test set: heat map, predicted mask and ground-truth contour, drawn by
//! the same `render` code the explorer uses.

use std::path::{Path, PathBuf};

use crate::data::{DataError, load_image};
use crate::eval::ScoredTest;
use crate::explain::MethodId;
use crate::map::FloatMap;
use crate::render::{self, OverlayOptions};

/// Why an overlay could not be drawn or written; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Image(#[from] DataError),
    #[error("{image}: no {method} map was computed for this image")]
    NoMap { image: PathBuf, method: MethodId },
    #[error("{image}: its {method} map has another size than the image")]
    MapSize { image: PathBuf, method: MethodId },
    #[error("{existing} already exists; the overlays in that folder are left as they are")]
    WouldOverwrite { existing: PathBuf, out: PathBuf },
    #[error("cannot create the folder {dir}: {source}")]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The atomic writer's message already names the file.
    #[error(transparent)]
    Write(std::io::Error),
}

/// Where each overlay of `tests` goes: `<out>/<defect>/<stem>.png`.
pub fn overlay_path(out: &Path, test: &ScoredTest) -> PathBuf {
    overlay_path_for(out, &test.defect, &test.path)
}

/// Where the overlay of test image `image` of defect type `defect` goes (known before scoring).
pub fn overlay_path_for(out: &Path, defect: &str, image: &Path) -> PathBuf {
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.join(defect).join(format!("{stem}.png"))
}

/// Renders one test image's overlay of `method`'s map, reading the image from disk.
pub fn render_overlay(
    test: &ScoredTest,
    method: MethodId,
    options: &OverlayOptions,
) -> Result<image::RgbaImage, ExportError> {
    let base = load_image(&test.path)?;
    overlay_on(&render::to_rgba(&base), test, method, options, true)
}

/// Draws `method`'s map of `test` over `base` (the test image, already loaded), with the
/// ground-truth contour when `with_truth` and the image has a mask.
pub fn overlay_on(
    base: &image::RgbaImage,
    test: &ScoredTest,
    method: MethodId,
    options: &OverlayOptions,
    with_truth: bool,
) -> Result<image::RgbaImage, ExportError> {
    let scores = test.maps.get(&method).ok_or_else(|| ExportError::NoMap {
        image: test.path.clone(),
        method,
    })?;
    let map =
        FloatMap::from_raw(test.width, test.height, scores.scores.clone()).ok_or_else(|| {
            ExportError::MapSize {
                image: test.path.clone(),
                method,
            }
        })?;
    let truth = test.mask.as_ref().filter(|_| with_truth).map(|mask| {
        let pixels = mask.iter().map(|&on| if on { 255 } else { 0 }).collect();
        image::GrayImage::from_raw(test.width, test.height, pixels).expect("mask matches image")
    });
    Ok(render::anomaly_overlay(base, &map, options, truth.as_ref()))
}

/// Writes the overlays of `method`'s maps for every scored test image; refuses to overwrite
/// existing files unless `overwrite`. Returns the files written.
pub fn export_overlays(
    tests: &[ScoredTest],
    method: MethodId,
    options: &OverlayOptions,
    out: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PathBuf>, ExportError> {
    let existing = tests
        .iter()
        .map(|t| overlay_path(out, t))
        .find(|p| p.exists());
    if let (false, Some(existing)) = (overwrite, existing) {
        return Err(ExportError::WouldOverwrite {
            existing,
            out: out.to_path_buf(),
        });
    }
    let mut written = Vec::with_capacity(tests.len());
    for (n, test) in tests.iter().enumerate() {
        let path = overlay_path(out, test);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ExportError::CreateDir {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let overlay = render_overlay(test, method, options)?;
        render::save_png_atomic(&overlay, &path).map_err(ExportError::Write)?;
        written.push(path);
        progress(n + 1, tests.len());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::eval::MethodScores;
    use crate::explain::methods::{GradCamMu, ReconError};

    fn scored(dir: &Path) -> ScoredTest {
        let scores = MethodScores {
            scores: vec![0.5],
            image_score: 0.5,
        };
        ScoredTest {
            path: dir.join("hole/000.png"),
            defect: "hole".into(),
            width: 1,
            height: 1,
            mask: None,
            maps: BTreeMap::from([(ReconError::ID, scores)]),
        }
    }

    #[test]
    fn errors_name_the_file_and_never_a_command_line_flag() {
        let dir = tempfile::tempdir().unwrap();
        let test = scored(dir.path());
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("hole")).unwrap();
        std::fs::write(out.join("hole/000.png"), b"earlier export").unwrap();
        let options = OverlayOptions::default();
        let refused = export_overlays(
            std::slice::from_ref(&test),
            ReconError::ID,
            &options,
            &out,
            false,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(refused, ExportError::WouldOverwrite { .. }));
        let message = refused.to_string();
        assert!(
            message.contains("000.png") && !message.contains("--"),
            "{message}"
        );

        let base = image::RgbaImage::new(1, 1);
        let missing = overlay_on(&base, &test, GradCamMu::ID, &options, true).unwrap_err();
        let message = missing.to_string();
        assert!(
            message.contains("000.png") && message.contains("gradcam-mu"),
            "{message}"
        );
        assert!(overlay_on(&base, &test, ReconError::ID, &options, true).is_ok());
    }
}
