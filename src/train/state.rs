//! What a checkpoint remembers of training: progress, hyperparameters, loss history.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::TrainConfig;

/// A dimension is active when its posterior mean varies over the data by more than this
/// (Burda et al. 2016, Var_x E_q[z_i] > 0.01). Its KL alone would not do: a posterior narrower
/// than the prior costs KL (1.8 nats per dimension at standard deviation 0.1) while carrying
/// nothing, however constant its mean.
pub const ACTIVE_UNIT_VARIANCE: f64 = 0.01;

/// Number of dimensions whose posterior-mean variance exceeds `ACTIVE_UNIT_VARIANCE`.
pub fn active_units(mu_variance: &[f64]) -> usize {
    mu_variance
        .iter()
        .filter(|&&v| v > ACTIVE_UNIT_VARIANCE)
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
    /// Variance of each dimension's posterior mean over the epoch's training inputs (empty in
    /// checkpoints written before it was recorded).
    #[serde(default)]
    pub mu_variance: Vec<f64>,
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
    /// Ids of the parameters when the checkpoint was written, which `RUN/optimizer.bpk` is keyed
    /// by (empty in checkpoints written before it existed).
    #[serde(default)]
    pub param_ids: Vec<u64>,
}
