//! Maps made by any tool, laid out like the test set: `MAPS/<defect>/<stem>.tiff`.

use std::collections::BTreeMap;
use std::path::Path;

use super::{EvalError, MethodScores, ScoredTest};
use crate::data::{Category, load_mask};
use crate::explain::MethodId;
use crate::render::load_float_tiff;

/// What reports call maps read from a folder.
pub const FOLDER_MAPS: MethodId = MethodId::new("maps");

/// Reads one map per test image of `category` from `maps_dir`; a missing map is an error naming
/// the expected file, a map of another size is an error naming both files, and a map holding NaN
/// or infinity is an error naming it and the pixel.
pub fn load_maps_dir(category: &Category, maps_dir: &Path) -> Result<Vec<ScoredTest>, EvalError> {
    if category.test.is_empty() {
        return Err(EvalError::NoTestSet(category.root.clone()));
    }
    let mut scored = Vec::with_capacity(category.test.len());
    for test in &category.test {
        let stem = test.path.file_stem().unwrap_or_default().to_string_lossy();
        let map_path = maps_dir.join(&test.defect).join(format!("{stem}.tiff"));
        if !map_path.is_file() {
            return Err(EvalError::MissingMap {
                image: test.path.clone(),
                expected: map_path,
            });
        }
        let bad = |reason: String| EvalError::BadMap {
            path: map_path.clone(),
            reason,
        };
        // Its message names the file already.
        let map = load_float_tiff(&map_path).map_err(EvalError::Map)?;
        if let Some(at) = map.as_raw().iter().position(|v| !v.is_finite()) {
            let (x, y) = (
                at as u32 % map.width().max(1),
                at as u32 / map.width().max(1),
            );
            return Err(bad(format!(
                "holds {} at pixel ({x}, {y}); maps must be finite",
                map.as_raw()[at]
            )));
        }
        let (width, height) = image::image_dimensions(&test.path)
            .map_err(|e| bad(format!("{}: {e}", test.path.display())))?;
        if map.dimensions() != (width, height) {
            return Err(bad(format!(
                "map is {}x{} but its image {} is {width}x{height}",
                map.width(),
                map.height(),
                test.path.display()
            )));
        }
        let mask = match &test.mask {
            Some(mask_path) if test.defect != "good" => Some(
                load_mask(mask_path, (width, height), &test.path)
                    .map_err(|e| bad(e.to_string()))?,
            ),
            _ => None,
        };
        let scores = map.into_raw();
        let image_score = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        scored.push(ScoredTest {
            path: test.path.clone(),
            defect: test.defect.clone(),
            width,
            height,
            mask,
            maps: BTreeMap::from([(
                FOLDER_MAPS,
                MethodScores {
                    scores,
                    image_score,
                },
            )]),
        });
    }
    Ok(scored)
}
