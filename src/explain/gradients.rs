//! One backward pass for all D latent dimensions (docs/method.md §2): the stage's features replicated D
//! times along the batch, the rest of the encoder run on the copies, and the sum of each copy's
//! own target back-propagated. Row i of the gradient is then d target_i / d A.

use burn::prelude::*;

use crate::model::{Vae, to_host};

use super::NormalStats;

/// What each dimension's gradient is taken of.
#[derive(Clone, Copy, Debug)]
pub enum AttentionTarget<'a> {
    /// mu_i: the paper's per-dimension attention (docs/method.md §2).
    Mu,
    /// |d_i| with d_i = (mu_i - mu_X,i) / sqrt(var_X,i + var_i): the paper's Eq. 4 (docs/method.md §3).
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
    stage_gradients_batch(model, input, stage, target)
        .pop()
        .expect("one image in, one out")
}

/// `stage_gradients` for a batch of images `[n, C, S, S]` (e.g. the windows of a patch model),
/// still one backward pass: image j's copies sit at rows j * D .. (j + 1) * D.
pub fn stage_gradients_batch(
    model: &Vae,
    input: Tensor<4>,
    stage: usize,
    target: AttentionTarget<'_>,
) -> Vec<StageGradients> {
    let device = input.device();
    let features = model.encoder.stage_features(input, stage).detach();
    let [n, channels, side, _] = features.dims();
    let latent_dim = model.encoder.mu.weight.dims()[1];
    let copies = features
        .clone()
        .unsqueeze_dim::<5>(1)
        .repeat_dim(1, latent_dim)
        .reshape([n * latent_dim, channels, side, side])
        .require_grad();
    let posterior = model.encoder.head_from_stage(copies.clone(), stage);
    // Copy i of every image contributes only its own dimension i.
    let own = Tensor::<2>::eye(latent_dim, &device).repeat_dim(0, n);
    let (objective, difference) = match target {
        AttentionTarget::Mu => ((posterior.mu.clone() * own).sum(), None),
        AttentionTarget::NormalDifference(stats) => {
            let d = stats.normal_difference(posterior.mu.clone(), posterior.logvar.clone());
            let rows = to_host(d.clone().detach());
            ((d.abs() * own).sum(), Some(rows))
        }
    };
    let gradients = objective.backward();
    let grads = to_host(
        copies
            .grad(&gradients)
            .expect("the replicated features are a tracked leaf"),
    );
    let features = to_host(features);
    let (mu, logvar) = (
        to_host(posterior.mu.detach()),
        to_host(posterior.logvar.detach()),
    );
    let per_image = channels * side * side;
    // Every copy of an image holds the same image, so its first copy's row is the image's.
    let first_row = |values: &[f32], j: usize| {
        let start = j * latent_dim * latent_dim;
        values[start..start + latent_dim].to_vec()
    };
    (0..n)
        .map(|j| StageGradients {
            stage,
            channels,
            side,
            latent_dim,
            features: features[j * per_image..(j + 1) * per_image].to_vec(),
            grads: grads[j * latent_dim * per_image..(j + 1) * latent_dim * per_image].to_vec(),
            mu: first_row(&mu, j),
            logvar: first_row(&logvar, j),
            normal_difference: difference.as_ref().map(|d| first_row(d, j)),
        })
        .collect()
}
