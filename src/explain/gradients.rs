//! One backward pass for all D latent dimensions (SPEC §2): the stage's features replicated D
//! times along the batch, the rest of the encoder run on the copies, and the sum of each copy's
//! own target back-propagated. Row i of the gradient is then d target_i / d A.

use burn::prelude::*;

use crate::model::{Vae, to_host};

use super::NormalStats;

/// What each dimension's gradient is taken of.
#[derive(Clone, Copy, Debug)]
pub enum AttentionTarget<'a> {
    /// mu_i: the paper's per-dimension attention (SPEC §2).
    Mu,
    /// |d_i| with d_i = (mu_i - mu_X,i) / sqrt(var_X,i + var_i): the paper's Eq. 4 (SPEC §3).
    NormalDifference(&'a NormalStats),
}

/// Features of one encoder stage and the gradient of every dimension's target with respect to
/// them, on the host. Layouts: `features[k][p]`, `grads[i][k][p]` flattened row-major, with p
/// running over the `side * side` positions.
#[derive(Clone, Debug)]
pub struct StageGradients {
    pub stage: usize,
    pub channels: usize,
    pub side: usize,
    pub latent_dim: usize,
    pub features: Vec<f32>,
    pub grads: Vec<f32>,
    pub mu: Vec<f32>,
    pub logvar: Vec<f32>,
    /// The normal difference d_i, for `AttentionTarget::NormalDifference`.
    pub normal_difference: Option<Vec<f32>>,
}

impl StageGradients {
    /// The gradient of dimension `i` for channel `k`: `side * side` values.
    pub fn grad(&self, i: usize, k: usize) -> &[f32] {
        let hw = self.side * self.side;
        let start = (i * self.channels + k) * hw;
        &self.grads[start..start + hw]
    }

    /// Channel `k` of the features: `side * side` values.
    pub fn feature(&self, k: usize) -> &[f32] {
        let hw = self.side * self.side;
        &self.features[k * hw..(k + 1) * hw]
    }
}

/// Runs the encoder on one image `[1, C, S, S]` (on an autodiff device) and returns the gradients
/// of all D targets with respect to stage `stage`'s features, from a single backward pass.
pub fn stage_gradients(
    model: &Vae,
    input: Tensor<4>,
    stage: usize,
    target: AttentionTarget<'_>,
) -> StageGradients {
    let device = input.device();
    let features = model.encoder.stage_features(input, stage).detach();
    let [_, channels, side, _] = features.dims();
    let latent_dim = model.encoder.mu.weight.dims()[1];
    let copies = features.clone().repeat_dim(0, latent_dim).require_grad();
    let posterior = model.encoder.head_from_stage(copies.clone(), stage);
    // Copy i contributes only its own dimension i.
    let own = Tensor::<2>::eye(latent_dim, &device);
    let (objective, difference) = match target {
        AttentionTarget::Mu => ((posterior.mu.clone() * own).sum(), None),
        AttentionTarget::NormalDifference(stats) => {
            let mu_x = Tensor::<1>::from_floats(stats.mu.as_slice(), &device).unsqueeze::<2>();
            let var_x = Tensor::<1>::from_floats(stats.var.as_slice(), &device).unsqueeze::<2>();
            let d = (posterior.mu.clone() - mu_x) / (var_x + posterior.logvar.clone().exp()).sqrt();
            // Every copy holds the same image, so any row of d is the image's d.
            let row = to_host(
                d.clone()
                    .detach()
                    .slice([0..1, 0..latent_dim])
                    .flatten::<1>(0, 1),
            );
            ((d.abs() * own).sum(), Some(row))
        }
    };
    let gradients = objective.backward();
    let grads = copies
        .grad(&gradients)
        .expect("the replicated features are a tracked leaf");
    let first_row =
        |t: Tensor<2>| to_host(t.detach().slice([0..1, 0..latent_dim]).flatten::<1>(0, 1));
    StageGradients {
        stage,
        channels,
        side,
        latent_dim,
        features: to_host(features.flatten::<1>(0, 3)),
        grads: to_host(grads.flatten::<1>(0, 3)),
        mu: first_row(posterior.mu),
        logvar: first_row(posterior.logvar),
        normal_difference: difference,
    }
}
