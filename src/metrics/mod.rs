//! Anomaly-detection figures with the semantics of the official MVTec AD evaluation (docs/method.md §5):
//! pixel and image AUROC, AU-PRO, F1-max, per defect type and overall, plus the curves behind them.
//!
//! Scores are ranked raw (never squashed) in `f32` total order, `-0.0` counting as `0.0`. The
//! low-level functions take any finite or infinite score; [`evaluate`] and [`PixelPool::new`]
//! reject NaN scores with an error that names the image, because a NaN has no place in a ranking
//! and silently moving it to either end would change the figures.

mod curve;
pub mod disentanglement;
mod evaluate;
mod f1;
mod pool;
mod pro;
mod rank;
mod report;
mod roc;

pub use curve::{CurvePoint, area_up_to, decimate};
pub use evaluate::{Curves, Evaluation, Figures, ScoredImage, evaluate};
pub use f1::{F1Max, f1_max};
pub use pool::{PixelImage, PixelPool};
pub use pro::{au_pro, pro_curve};
pub use report::{write_curves_csv, write_evaluation_json};
pub use roc::{auroc, auroc_f64, roc_curve};

/// Why a set of scores or masks cannot be evaluated.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MetricsError {
    #[error("image {index} ({defect}): {found} scores, expected {width}x{height} = {expected}")]
    ScoreLength {
        index: usize,
        defect: String,
        width: u32,
        height: u32,
        found: usize,
        expected: usize,
    },
    #[error("image {index} ({defect}): mask has {found} pixels, expected {expected}")]
    MaskLength {
        index: usize,
        defect: String,
        found: usize,
        expected: usize,
    },
    #[error("image {index} ({defect}): score at pixel ({x}, {y}) is NaN")]
    NanScore {
        index: usize,
        defect: String,
        x: u32,
        y: u32,
    },
    #[error("image {index} ({defect}): image score is NaN")]
    NanImageScore { index: usize, defect: String },
    #[error("image {index} ({defect}): image is empty (0 pixels)")]
    EmptyImage { index: usize, defect: String },
    #[error("too many pixels to rank: {0} (at most 2^32 - 1)")]
    TooManyPixels(u64),
    #[error("PRO integration limit must be in (0, 1], got {0}")]
    InvalidLimit(f64),
}

impl MetricsError {
    /// The index of the image the error is about, if it is about one.
    pub fn image_index(&self) -> Option<usize> {
        match self {
            Self::ScoreLength { index, .. }
            | Self::MaskLength { index, .. }
            | Self::NanScore { index, .. }
            | Self::NanImageScore { index, .. }
            | Self::EmptyImage { index, .. } => Some(*index),
            Self::TooManyPixels(_) | Self::InvalidLimit(_) => None,
        }
    }
}
