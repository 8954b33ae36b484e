//! Per-dimension maps at the model's input size and their overall map.

use crate::map::{FloatMap, resize_bilinear};

use super::StageGradients;
use super::cam::CamMethod;

#[derive(Clone, Debug)]
pub struct AttentionMaps {
    pub stage: usize,
    /// One map per latent dimension, upsampled to the model's input size.
    pub per_dim: Vec<FloatMap>,
    /// Weights of the overall map (they sum to 1).
    pub weights: Vec<f32>,
    /// sum_i weights_i * per_dim_i.
    pub overall: FloatMap,
    pub mu: Vec<f32>,
    pub logvar: Vec<f32>,
    pub normal_difference: Option<Vec<f32>>,
}

impl AttentionMaps {
    pub fn from_gradients(gradients: &StageGradients, cam: &dyn CamMethod, size: u32) -> Self {
        let side = gradients.side as u32;
        let per_dim: Vec<FloatMap> = (0..gradients.latent_dim)
            .map(|i| {
                let raw = FloatMap::from_raw(side, side, cam.dimension_map(gradients, i))
                    .expect("a CAM map has side * side values");
                resize_bilinear(&raw, size, size)
            })
            .collect();
        let weights = match &gradients.normal_difference {
            Some(d) => weights_from_difference(d),
            None => vec![1.0 / gradients.latent_dim as f32; gradients.latent_dim],
        };
        let overall = weighted_sum(&per_dim, &weights, size);
        Self {
            stage: gradients.stage,
            per_dim,
            weights,
            overall,
            mu: gradients.mu.clone(),
            logvar: gradients.logvar.clone(),
            normal_difference: gradients.normal_difference.clone(),
        }
    }

    /// The overall map of a chosen subset of dimensions (uniform weights), e.g. the ones a user
    /// picked in the gallery.
    pub fn overall_of(&self, dims: &[usize]) -> FloatMap {
        let size = self.overall.width();
        let picked: Vec<FloatMap> = dims.iter().map(|&i| self.per_dim[i].clone()).collect();
        let weights = vec![1.0 / dims.len().max(1) as f32; dims.len()];
        weighted_sum(&picked, &weights, size)
    }
}

/// |d_i| / sum |d|; uniform when every d_i is zero.
fn weights_from_difference(d: &[f32]) -> Vec<f32> {
    let total: f32 = d.iter().map(|v| v.abs()).sum();
    if total > 0.0 && total.is_finite() {
        d.iter().map(|v| v.abs() / total).collect()
    } else {
        vec![1.0 / d.len() as f32; d.len()]
    }
}

fn weighted_sum(maps: &[FloatMap], weights: &[f32], size: u32) -> FloatMap {
    let mut out = FloatMap::new(size, size);
    for (map, &w) in maps.iter().zip(weights) {
        for (o, v) in out.iter_mut().zip(map.iter()) {
            *o += w * v;
        }
    }
    out
}
