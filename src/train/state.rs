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

/// Most epochs a run may have (bounds numbers read from a checkpoint before any arithmetic).
pub const MAX_EPOCHS: usize = 1_000_000;

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
    /// CRC-32 of `RUN/optimizer.bpk` as written with this checkpoint (None before it was
    /// recorded): a resume uses Adam's state only when the file matches.
    #[serde(default)]
    pub optimizer_crc32: Option<u32>,
    /// Batches of epoch `epochs_done + 1` already trained when the run was stopped mid-epoch.
    #[serde(default)]
    pub batches_done: usize,
}

impl TrainState {
    /// Why this progress cannot be resumed, if it cannot: numbers out of any sane range.
    pub fn mismatch(&self) -> Option<String> {
        // A step per image at most 2^20 images an epoch: anything above cannot come from a run.
        let max_steps = MAX_EPOCHS << 20;
        if self.epochs_done > MAX_EPOCHS
            || self.steps_done > max_steps
            || self.batches_done > max_steps
        {
            return Some(format!(
                "{} epochs, {} steps and {} batches done are beyond any run (at most {MAX_EPOCHS} epochs)",
                self.epochs_done, self.steps_done, self.batches_done
            ));
        }
        self.config.mismatch()
    }
}
