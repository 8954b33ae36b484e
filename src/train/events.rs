//! What the training loop reports, for progress bars, plots and logs.

use std::path::PathBuf;

use crate::model::LossTerms;

use super::EpochSummary;

#[derive(Clone, Debug)]
pub enum TrainEvent {
    Started {
        images: usize,
        steps_per_epoch: usize,
        first_epoch: usize,
        epochs: usize,
        backend: String,
    },
    Step {
        epoch: usize,
        step: usize,
        total_steps: usize,
        loss: LossTerms,
        images_per_second: f64,
        eta_seconds: f64,
    },
    Epoch(EpochSummary),
    Checkpoint(PathBuf),
    Warning(String),
}
