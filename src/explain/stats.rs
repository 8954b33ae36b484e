//! The normal latent statistics of SPEC §3: where the training images sit in latent space.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Vae, to_host};

/// `mu`: mean of mu over the training set; `var`: mean of exp(logvar) plus the variance of mu.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct NormalStats {
    pub mu: Vec<f32>,
    pub var: Vec<f32>,
    /// Number of images the statistics were taken over (0 for the N(0, I) prior).
    pub count: usize,
}

impl NormalStats {
    /// The prior N(0, I): a stand-in when no training images are at hand (e.g. PyTorch weights).
    pub fn prior(latent_dim: usize) -> Self {
        Self {
            mu: vec![0.0; latent_dim],
            var: vec![1.0; latent_dim],
            count: 0,
        }
    }

    /// Accumulates the statistics over batches of images `[n, C, S, S]`.
    pub fn compute(model: &Vae, batches: impl Iterator<Item = Tensor<4>>) -> Self {
        let mut mus: Vec<Vec<f32>> = Vec::new();
        let mut variances: Vec<Vec<f32>> = Vec::new();
        for batch in batches {
            let posterior = model.encoder.forward(batch);
            let [n, d] = posterior.mu.dims();
            let mu = to_host(posterior.mu);
            let var = to_host(posterior.logvar.exp());
            for row in 0..n {
                mus.push(mu[row * d..(row + 1) * d].to_vec());
                variances.push(var[row * d..(row + 1) * d].to_vec());
            }
        }
        let count = mus.len();
        let dims = mus.first().map_or(0, Vec::len);
        let mean_of = |rows: &[Vec<f32>], i: usize| {
            rows.iter().map(|r| f64::from(r[i])).sum::<f64>() / count.max(1) as f64
        };
        let mut mu = Vec::with_capacity(dims);
        let mut var = Vec::with_capacity(dims);
        for i in 0..dims {
            let m = mean_of(&mus, i);
            let spread = mus
                .iter()
                .map(|r| (f64::from(r[i]) - m).powi(2))
                .sum::<f64>()
                / count.max(1) as f64;
            mu.push(m as f32);
            var.push((mean_of(&variances, i) + spread) as f32);
        }
        Self { mu, var, count }
    }
}
