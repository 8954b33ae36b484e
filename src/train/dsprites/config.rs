//! What a dSprites run trains and how, saved beside its weights as `dsprites.json`.

use serde::{Deserialize, Serialize};

use crate::model::VaeConfig;
use crate::model::attention_loss::AttentionLossConfig;

/// The file in a run folder that records the dSprites training config and loss history.
pub const RUN_FILE: &str = "dsprites.json";

/// Which objective trains the VAE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DspritesModel {
    /// beta-VAE (Higgins et al. 2017): recon + beta * KL.
    Beta,
    /// FactorVAE (Kim & Mnih 2018): recon + KL + gamma * TC, TC from a discriminator.
    Factor,
    /// AD-FactorVAE (the paper): FactorVAE + lambda * L_AD.
    AdFactor,
}

impl DspritesModel {
    pub const ALL: [DspritesModel; 3] = [Self::Beta, Self::Factor, Self::AdFactor];

    /// The model's name as papers write it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Beta => "beta-VAE",
            Self::Factor => "FactorVAE",
            Self::AdFactor => "AD-FactorVAE",
        }
    }

    pub fn uses_discriminator(self) -> bool {
        matches!(self, Self::Factor | Self::AdFactor)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DspritesTrainConfig {
    pub model: DspritesModel,
    pub vae: VaeConfig,
    pub steps: usize,
    pub batch_size: usize,
    /// Weight of the KL term (4 for beta-VAE; FactorVAE keeps 1).
    pub beta: f64,
    /// Weight of the total correlation (FactorVAE, AD-FactorVAE).
    pub gamma: f64,
    /// Weight of L_AD (AD-FactorVAE).
    pub lambda: f64,
    /// The VAE's Adam learning rate (betas 0.9, 0.999). The paper uses 1e-4 for 300k steps;
    /// 5e-4 suits budgets of a few thousand steps.
    pub lr: f64,
    /// The discriminator's Adam learning rate, with Kim & Mnih's betas (0.5, 0.9).
    pub discriminator_lr: f64,
    pub seed: u64,
    pub attention: AttentionLossConfig,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
}

impl DspritesTrainConfig {
    /// The defaults for `model`: beta 4 for beta-VAE and 1 otherwise, gamma 40, lambda 40.
    pub fn new(model: DspritesModel, steps: usize) -> Self {
        let vae = VaeConfig::kim_mnih();
        Self {
            model,
            steps,
            batch_size: 64,
            beta: if model == DspritesModel::Beta {
                4.0
            } else {
                1.0
            },
            gamma: 40.0,
            lambda: 40.0,
            lr: 5e-4,
            discriminator_lr: 1e-4,
            seed: 0,
            attention: AttentionLossConfig {
                stage: vae.stages.len() - 1,
                active_kl: 0.01,
            },
            checkpoint_every: 500,
            vae,
        }
    }
}
