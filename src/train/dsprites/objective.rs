//! One step's losses: the VAE's (recon, KL, and for the FactorVAEs gamma * TC and lambda * L_AD)
//! and, separately, the discriminator's.

use burn::prelude::*;

use super::{DspritesModel, DspritesTrainConfig};
use crate::model::attention_loss::{
    attention_disentanglement_loss, attention_maps, forward_mode_alpha,
};
use crate::model::discriminator::Discriminator;
use crate::model::{ModelError, Vae, bernoulli_nll, kl_per_dim};

/// The VAE's loss terms as tensors (for the host: `StepTerms`).
pub struct Objective {
    /// What the VAE's optimiser minimises.
    pub loss: Tensor<1>,
    pub recon: Tensor<1>,
    pub kl: Tensor<1>,
    pub total_correlation: Option<Tensor<1>>,
    pub attention: Option<Tensor<1>>,
    /// The sampled codes, detached: the discriminator's training input.
    pub z: Tensor<2>,
}

/// The loss terms of one step on the host.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepTerms {
    pub step: usize,
    pub loss: f64,
    pub recon: f64,
    pub kl: f64,
    pub total_correlation: Option<f64>,
    pub attention: Option<f64>,
    pub discriminator: Option<f64>,
}

/// The VAE's objective on `input` `[n, 1, 64, 64]` with reparameterisation noise `eps` `[n, D]`.
pub fn objective(
    model: &Vae,
    discriminator: Option<&Discriminator>,
    input: Tensor<4>,
    eps: Tensor<2>,
    config: &DspritesTrainConfig,
) -> Result<Objective, ModelError> {
    let n = input.dims()[0] as f64;
    let stage = config.attention.stage;
    let features = model.encoder.stage_features(input.clone(), stage);
    let posterior = model.encoder.head_from_stage(features.clone(), stage);
    let z = posterior.mu.clone() + (posterior.logvar.clone() * 0.5).exp() * eps;
    let recon = bernoulli_nll(model.decoder.forward_logits(z.clone()), input) / n;
    let kl_dims = kl_per_dim(posterior.mu, posterior.logvar);
    let kl = kl_dims.clone().sum();
    let mut loss = recon.clone() + kl.clone() * config.beta;
    let total_correlation = match (config.model.uses_discriminator(), discriminator) {
        (true, Some(d)) => Some(d.total_correlation(z.clone())),
        (true, None) => {
            return Err(ModelError::BadConfig(
                "FactorVAE needs its discriminator".into(),
            ));
        }
        (false, _) => None,
    };
    if let Some(tc) = &total_correlation {
        loss = loss + tc.clone() * config.gamma;
    }
    let attention = if config.model == DspritesModel::AdFactor {
        let alpha = forward_mode_alpha(&model.encoder, features.clone(), stage)?;
        let maps = attention_maps(features, alpha);
        // Collapsed dimensions have no attention worth separating.
        let active = kl_dims
            .clone()
            .detach()
            .greater_elem(config.attention.active_kl)
            .float();
        Some(attention_disentanglement_loss(maps, active))
    } else {
        None
    };
    if let Some(l_ad) = &attention {
        loss = loss + l_ad.clone() * config.lambda;
    }
    Ok(Objective {
        loss,
        recon,
        kl,
        total_correlation,
        attention,
        z: z.detach(),
    })
}
