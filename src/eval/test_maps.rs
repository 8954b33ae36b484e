//! Anomaly maps of every test image, at the image's own resolution, for several methods at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use super::EvalError;
use crate::data::{Category, DataError, TestImage, load_image, load_mask, to_model_input};
use crate::explain::{AnomalyMethod, Explainer, MethodId};
use crate::map::resize_bilinear;

/// One method's map of one image (row-major, the image's own size) and its image score.
#[derive(Clone, Debug)]
pub struct MethodScores {
    pub scores: Vec<f32>,
    pub image_score: f64,
}

/// A test image with its ground truth and one map per method, keyed by the method's id.
#[derive(Clone, Debug)]
pub struct ScoredTest {
    pub path: PathBuf,
    pub defect: String,
    pub width: u32,
    pub height: u32,
    /// Ground truth; None for good images (all normal) and for defect images without a mask.
    pub mask: Option<Vec<bool>>,
    pub maps: BTreeMap<MethodId, MethodScores>,
}

impl ScoredTest {
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Computes every method's map for every test image of `category`. Images (or masks) that fail
/// to load are skipped and described in the returned notes.
pub fn score_test_set(
    explainer: &Explainer,
    category: &Category,
    methods: &[Box<dyn AnomalyMethod>],
    stage: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: Option<&AtomicBool>,
) -> Result<(Vec<ScoredTest>, Vec<String>), EvalError> {
    if category.test.is_empty() {
        return Err(EvalError::NoTestSet(category.root.clone()));
    }
    let mut scored = Vec::with_capacity(category.test.len());
    let mut notes = Vec::new();
    for (n, test) in category.test.iter().enumerate() {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(EvalError::Cancelled);
        }
        match score_test_image(explainer, test, methods, stage, &mut || {}) {
            Ok(s) => scored.push(s),
            Err(problem) => {
                tracing::warn!("skipping test image: {problem}");
                notes.push(format!("skipped: {problem}"));
            }
        }
        progress(n + 1, category.test.len());
    }
    if scored.is_empty() {
        return Err(EvalError::NothingLoaded(
            notes.first().cloned().unwrap_or_default(),
        ));
    }
    Ok((scored, notes))
}

/// Every method's map of one test image, and its ground truth; the error names the image or mask
/// that could not be read. `between` is called between methods and between batches of a patch
/// model's windows: a worker scoring in the background serves interactive requests there.
pub fn score_test_image(
    explainer: &Explainer,
    test: &TestImage,
    methods: &[Box<dyn AnomalyMethod>],
    stage: usize,
    between: &mut dyn FnMut(),
) -> Result<ScoredTest, DataError> {
    let image = load_image(&test.path)?;
    let (width, height) = (image.width(), image.height());
    let mask = match &test.mask {
        Some(mask_path) if test.defect != "good" => {
            Some(load_mask(mask_path, (width, height), &test.path)?)
        }
        _ => None,
    };
    between();
    let input = to_model_input(
        &image,
        explainer.config.channels,
        explainer.image_size() as u32,
    );
    let maps = methods
        .iter()
        .map(|method| {
            let anomaly = explainer.anomaly_yielding(method.as_ref(), &input, stage, between);
            let scores = MethodScores {
                scores: resize_bilinear(&anomaly.map, width, height).into_raw(),
                image_score: anomaly.image_score,
            };
            between();
            (MethodId::of(method.as_ref()), scores)
        })
        .collect();
    Ok(ScoredTest {
        path: test.path.clone(),
        defect: test.defect.clone(),
        width,
        height,
        mask,
        maps,
    })
}
