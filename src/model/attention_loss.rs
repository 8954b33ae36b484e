//! The attention disentanglement loss L_AD (paper Eq. 5, docs/method.md §4) with alpha computed by
//! forward mode, so that ordinary first-order autodiff trains through the maps.
//!
//! alpha_k^i = (1 / hw) d mu_i / d A along the all-ones map of channel k. The layers after A are
//! convolutions and linears with LeakyReLU between them: with the primal pass's activation slopes
//! held fixed and the biases dropped they are linear, so pushing the K one-hot channel maps through
//! them gives every directional derivative exactly, as a differentiable function of the weights.

use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use serde::{Deserialize, Serialize};

use super::leaky_relu::leaky_relu;
use super::vae::SLOPE;
use super::{Encoder, ModelError};

/// Guards the normalisation of a map that is zero everywhere.
const MASS_FLOOR: f64 = 1e-6;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionLossConfig {
    /// Encoder stage whose features A the maps are built on (the last one, as the paper explains).
    pub stage: usize,
    /// Dimensions whose batch KL is below this many nats (collapsed) take no part.
    pub active_kl: f64,
}

/// alpha `[n, K, D]` for features `a` `[n, K, h, w]` of encoder stage `stage`.
pub fn forward_mode_alpha(
    encoder: &Encoder,
    a: Tensor<4>,
    stage: usize,
) -> Result<Tensor<3>, ModelError> {
    if encoder.backbone.is_some() || stage >= encoder.convs.len() {
        return Err(ModelError::BadConfig(format!(
            "forward-mode attention needs a scratch encoder and a stage below {}; got stage {stage}{}",
            encoder.convs.len(),
            if encoder.backbone.is_some() {
                " of a pretrained backbone"
            } else {
                ""
            }
        )));
    }
    let [n, k, h, w] = a.dims();
    let device = a.device();
    // Copy (j, c) of image j carries the tangent "ones in channel c": [n * K, K, h, w].
    let mut tangent = Tensor::<2>::eye(k, &device)
        .reshape([1, k, k, 1, 1])
        .repeat_dim(0, n)
        .repeat_dim(3, h)
        .repeat_dim(4, w)
        .reshape([n * k, k, h, w]);
    let mut x = a;
    for conv in &encoder.convs[stage + 1..] {
        let pre = super::conv_gemm::conv2d(conv, x);
        let slopes = leaky_slopes(pre.clone());
        x = leaky_relu(pre, SLOPE);
        let options = ConvOptions::new_with_padding(
            conv.stride,
            explicit_padding(&conv.padding)?,
            conv.dilation,
            conv.groups,
        );
        let pushed = conv2d(tangent, conv.weight.val(), None, options);
        tangent = pushed * per_copy(slopes, k);
    }
    let pre = encoder.fc.forward(x.flatten::<2>(1, 3));
    let slopes = leaky_slopes(pre);
    let pushed = tangent.flatten::<2>(1, 3).matmul(encoder.fc.weight.val());
    let hidden = pushed * per_copy(slopes, k);
    let dims = encoder.mu.weight.dims()[1];
    let directional = hidden.matmul(encoder.mu.weight.val());
    Ok(directional.reshape([n, k, dims]) / (h * w) as f64)
}

/// The per-dimension maps `[n, D, hw]`: M^i = ReLU(sum_k alpha_k^i A_k) at the stage's resolution.
pub fn attention_maps(a: Tensor<4>, alpha: Tensor<3>) -> Tensor<3> {
    let [n, k, h, w] = a.dims();
    relu(alpha.swap_dims(1, 2).matmul(a.reshape([n, k, h * w])))
}

/// L_AD over all pairs of dimensions i != j that are both `active` (`[D]`, 1 or 0), averaged over
/// the batch: the overlap sum_p min(M^i, M^j) of maps normalised to unit mass, which is Eq. 5's
/// 2 sum min(M^i, M^j) / sum(M^i + M^j) for maps of equal mass. Normalising removes the escape
/// of shrinking one map towards zero (Eq. 5 is not scale invariant: the smaller map always
/// gains by shrinking, which switched dimensions off in an earlier attempt).
pub fn attention_disentanglement_loss(maps: Tensor<3>, active: Tensor<1>) -> Tensor<1> {
    let [n, d, hw] = maps.dims();
    let device = maps.device();
    let mass = maps.clone().sum_dim(2).clamp_min(MASS_FLOOR);
    let normalised = maps / mass;
    let left = normalised.clone().reshape([n, d, 1, hw]).repeat_dim(2, d);
    let right = normalised.reshape([n, 1, d, hw]).repeat_dim(1, d);
    let overlap: Tensor<3> = left.min_pair(right).sum_dim(3).reshape([n, d, d]);
    let pairs = active.clone().reshape([d, 1])
        * active.reshape([1, d])
        * (Tensor::<2>::eye(d, &device).neg() + 1.0);
    let count = pairs.clone().sum().clamp_min(1.0);
    (overlap * pairs.unsqueeze::<3>()).sum_dim(0).sum() / (count * n as f64)
}

/// ((top, bottom), (left, right)) of an explicitly padded conv (how vaelens builds its encoder).
fn explicit_padding(padding: &PaddingConfig2d) -> Result<[(usize, usize); 2], ModelError> {
    match *padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => Ok([(top, bottom), (left, right)]),
        PaddingConfig2d::Valid => Ok([(0, 0), (0, 0)]),
        PaddingConfig2d::Same => Err(ModelError::BadConfig(
            "forward-mode attention needs explicitly padded convolutions".into(),
        )),
    }
}

/// d LeakyReLU / d pre at every element: 1 where positive, SLOPE elsewhere (no gradient).
fn leaky_slopes<const N: usize>(pre: Tensor<N>) -> Tensor<N> {
    let positive = pre.detach().greater_elem(0.0).float();
    positive * (1.0 - SLOPE) + SLOPE
}

/// `[n, ...]` repeated for the K copies of each image: `[n * K, ...]`.
fn per_copy<const N: usize>(t: Tensor<N>, k: usize) -> Tensor<N> {
    let mut dims = t.dims();
    dims[0] *= k;
    let flat: Tensor<2> = t.flatten(1, N - 1);
    flat.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape(dims)
}
