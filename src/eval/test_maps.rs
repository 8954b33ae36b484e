//! Anomaly maps of every test image, at the image's own resolution, for several methods at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

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

/// How `score_test_set` spreads its work over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoringConfig {
    /// Test images scored side by side, each thread with its own copy of the explainer. One
    /// image alone leaves cores idle through its serial parts (host-side maps, resizing).
    pub workers: usize,
}

impl ScoringConfig {
    /// More threads than this only add memory (one model copy and one image's tensors each).
    pub const MAX_WORKERS: usize = 4;

    /// One thread: the images scored one after another in the caller's thread.
    pub fn serial() -> Self {
        Self { workers: 1 }
    }
}

impl Default for ScoringConfig {
    /// One thread per core, at most `MAX_WORKERS`.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores.clamp(1, Self::MAX_WORKERS),
        }
    }
}

/// Computes every method's map for every test image of `category`, on `ScoringConfig::default()`
/// threads. Images (or masks) that fail to load are skipped and described in the returned notes.
pub fn score_test_set(
    explainer: &Explainer,
    category: &Category,
    methods: &[Box<dyn AnomalyMethod>],
    stage: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: Option<&AtomicBool>,
) -> Result<(Vec<ScoredTest>, Vec<String>), EvalError> {
    score_test_set_with(
        ScoringConfig::default(),
        explainer,
        category,
        methods,
        stage,
        progress,
        cancel,
    )
}

/// One test image's scoring: its maps, or why it could not be read.
type ImageResult = Result<ScoredTest, DataError>;

/// `score_test_set` on the threads of `config`. Results come back in the test set's order, each
/// image computed by the same operations as on one thread.
pub fn score_test_set_with(
    config: ScoringConfig,
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
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let score = |explainer: &Explainer, test: &TestImage| {
        score_test_image(explainer, test, methods, stage, &mut || {})
    };
    let results = match config.workers.clamp(1, category.test.len()) {
        1 => in_order(&category.test, explainer, &score, progress, &cancelled)?,
        workers => on_threads(
            workers,
            &category.test,
            explainer,
            &score,
            progress,
            &cancelled,
        )?,
    };
    let mut scored = Vec::with_capacity(results.len());
    let mut notes = Vec::new();
    for result in results {
        match result {
            Ok(s) => scored.push(s),
            Err(problem) => {
                tracing::warn!("skipping test image: {problem}");
                notes.push(format!("skipped: {problem}"));
            }
        }
    }
    if scored.is_empty() {
        return Err(EvalError::NothingLoaded(
            notes.first().cloned().unwrap_or_default(),
        ));
    }
    Ok((scored, notes))
}

/// Scores `tests` one after another in the caller's thread.
fn in_order(
    tests: &[TestImage],
    explainer: &Explainer,
    score: &(dyn Fn(&Explainer, &TestImage) -> ImageResult + Sync),
    progress: &mut dyn FnMut(usize, usize),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<ImageResult>, EvalError> {
    let mut results = Vec::with_capacity(tests.len());
    for test in tests {
        if cancelled() {
            return Err(EvalError::Cancelled);
        }
        results.push(score(explainer, test));
        progress(results.len(), tests.len());
    }
    Ok(results)
}

/// Scores `tests` on `workers` threads, each taking the next unscored image with its own copy
/// of the explainer; progress is reported from the caller's thread as images finish.
fn on_threads(
    workers: usize,
    tests: &[TestImage],
    explainer: &Explainer,
    score: &(dyn Fn(&Explainer, &TestImage) -> ImageResult + Sync),
    progress: &mut dyn FnMut(usize, usize),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<ImageResult>, EvalError> {
    let mut results: Vec<Option<ImageResult>> = Vec::new();
    results.resize_with(tests.len(), || None);
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (sender, next) = (sender.clone(), &next);
            let mine = explainer.clone();
            scope.spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= tests.len() || cancelled() {
                        break;
                    }
                    if sender.send((n, score(&mine, &tests[n]))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (done, (n, result)) in receiver.iter().enumerate() {
            results[n] = Some(result);
            progress(done + 1, tests.len());
        }
    });
    // A worker stops early only when cancelled.
    results
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or(EvalError::Cancelled)
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
