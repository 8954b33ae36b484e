//! The ELBO: reconstruction (summed BCE or summed MSE) + beta * KL(q(z|x) || N(0, I)).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu};
use serde::{Deserialize, Serialize};

use super::Vae;

/// How the reconstruction term is measured, summed over pixels and averaged over the batch.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReconLoss {
    /// Binary cross-entropy (Bernoulli decoder): the paper's choice for MNIST-like data.
    Bce,
    /// Squared error (Gaussian decoder): better suited to natural images.
    Mse,
}

/// The loss terms of one batch, on the host, for events and plots.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct LossTerms {
    pub total: f64,
    pub recon: f64,
    pub kl: f64,
    pub kl_per_dim: Vec<f64>,
}

/// KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: `[D]`.
pub fn kl_per_dim(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let kl = (mu.powi_scalar(2) + logvar.clone().exp() - logvar - 1.0) * 0.5;
    kl.mean_dim(0).squeeze_dim(0)
}

/// The loss to minimise for a batch, its terms (recon, KL, KL per dimension), and the batch's
/// posterior means `[batch, D]` (detached, for the active-unit count). `eps` is the
/// reparameterisation noise `[batch, D]`, drawn by the caller so training stays deterministic
/// across backends; `beta` is the KL weight in force (warm-up included).
pub fn vae_loss(
    model: &Vae,
    input: Tensor<4>,
    eps: Tensor<2>,
    recon: ReconLoss,
    beta: f64,
    free_bits: f64,
) -> (Tensor<1>, [Tensor<1>; 3], Tensor<2>) {
    let batch = input.dims()[0] as f64;
    let posterior = model.encoder.forward(input.clone());
    let z = posterior.mu.clone() + (posterior.logvar.clone() * 0.5).exp() * eps;
    let recon_sum = match recon {
        ReconLoss::Mse => (model.decoder.forward(z) - input).powi_scalar(2).sum(),
        ReconLoss::Bce => bernoulli_nll(model.decoder.forward_logits(z), input.clone()),
    };
    let recon_term = recon_sum / batch;
    let mu = posterior.mu.clone().detach();
    let kl_dims = kl_per_dim(posterior.mu, posterior.logvar);
    let kl = kl_dims.clone().sum();
    let penalty = if free_bits > 0.0 {
        free_bits_kl(kl_dims.clone(), free_bits)
    } else {
        kl.clone()
    };
    let total = recon_term.clone() + penalty * beta;
    (total, [recon_term, kl, kl_dims], mu)
}

/// The Bernoulli decoder's negative log-likelihood of `input` given its logits, summed over
/// every pixel of the batch.
pub fn bernoulli_nll(logits: Tensor<4>, input: Tensor<4>) -> Tensor<1> {
    // -[x log s(l) + (1-x) log(1 - s(l))] with log(1 - s(l)) = log s(l) - l.
    let log_p = log_sigmoid(logits.clone());
    let log_not_p = log_p.clone() - logits;
    -(input.clone() * log_p + (input.neg() + 1.0) * log_not_p).sum()
}

/// Free bits (Kingma et al. 2016): each dimension's KL below `floor` nats costs nothing, so the
/// optimiser has no reason to switch dimensions off entirely.
fn free_bits_kl(kl_dims: Tensor<1>, floor: f64) -> Tensor<1> {
    relu(kl_dims - floor).sum()
}
