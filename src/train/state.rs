//! What a checkpoint remembers of training: progress, hyperparameters, loss history.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::TrainConfig;

/// A dimension is active when its mean KL exceeds this many nats.
pub const ACTIVE_UNIT_NATS: f64 = 0.01;

/// Number of dimensions whose mean KL exceeds `ACTIVE_UNIT_NATS`.
pub fn active_units(kl_per_dim: &[f64]) -> usize {
    kl_per_dim
        .iter()
        .filter(|&&kl| kl > ACTIVE_UNIT_NATS)
        .count()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EpochSummary {
    /// 1-based number of the finished epoch.
    pub epoch: usize,
    pub total: f64,
    pub recon: f64,
    pub kl: f64,
    pub kl_per_dim: Vec<f64>,
    pub active_units: usize,
    pub seconds: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainState {
    pub epochs_done: usize,
    pub steps_done: usize,
    pub config: TrainConfig,
    pub history: Vec<EpochSummary>,
    pub data_dir: Option<PathBuf>,
}
