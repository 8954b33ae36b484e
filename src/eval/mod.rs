//! Scoring a test set: anomaly maps for every test image (or maps made by another tool), scored
//! with the metrics of docs/method.md §5 into a report.

mod baselines;
pub mod dsprites;
mod maps_dir;
mod report;
mod test_maps;

pub use baselines::{BASELINE_PREFIX, ConstantBaseline, MeanImageBaseline};
pub use maps_dir::{FOLDER_MAPS, load_maps_dir};
pub use report::{MethodBlock, Report};
pub use test_maps::{
    MethodScores, ScoredTest, ScoringConfig, score_test_image, score_test_set, score_test_set_with,
};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0} has no test images (expected CAT/test/<defect>/*.png): nothing to evaluate")]
    NoTestSet(PathBuf),
    #[error("every test image failed to load; first problem: {0}")]
    NothingLoaded(String),
    #[error("{path}: {reason}")]
    BadMap { path: PathBuf, reason: String },
    #[error(transparent)]
    Map(crate::map::MapError),
    #[error("no anomaly map for test image {image} (looked for {expected})")]
    MissingMap { image: PathBuf, expected: PathBuf },
    #[error("{method}: cannot score {}: {reason}", image.as_ref().map_or("the maps".into(), |p| p.display().to_string()))]
    Metrics {
        method: String,
        image: Option<PathBuf>,
        reason: String,
    },
    #[error("no anomaly method to evaluate")]
    NoMethods,
    #[error("cancelled")]
    Cancelled,
}
