//! Where normal images' encoder features sit: one Gaussian per encoder stage over the feature
//! vectors of every position of every training image (position-independent, as textures are).
//! The Mahalanobis distance from it is the `feature-distance` anomaly map.

use burn::prelude::*;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::model::to_host;

/// Ridge added to the covariance before inverting it, relative to its mean variance: the
/// feature vectors of neighbouring positions overlap, so the covariance is often near-singular.
const SHRINKAGE: f64 = 0.01;

/// The Gaussian of one stage's feature vectors: mean `[C]` and precision `[C * C]`, row-major.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FeatureGaussian {
    pub stage: usize,
    pub channels: usize,
    pub mean: Vec<f32>,
    pub precision: Vec<f32>,
    /// Root-mean-square Mahalanobis distance over the training positions: dividing by it puts
    /// stages with different channel counts on one scale.
    pub rms_distance: f32,
}

impl FeatureGaussian {
    /// The Mahalanobis distance of every position of one image's features, laid out `[C][hw]`.
    pub fn distances(&self, features: &[f32], hw: usize) -> Vec<f32> {
        self.whitened_norms(features, hw, &self.mean)
    }

    /// The norm of every position's difference `a - b` of two images' features (`[C][hw]`),
    /// measured with this Gaussian's precision: how unusual the difference is for such features.
    pub fn difference_norms(&self, a: &[f32], b: &[f32], hw: usize) -> Vec<f32> {
        let difference: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        self.whitened_norms(&difference, hw, &vec![0.0; self.channels])
    }

    /// sqrt((f - centre)^T P (f - centre)) at every position of features `f` laid out `[C][hw]`.
    fn whitened_norms(&self, features: &[f32], hw: usize, centre: &[f32]) -> Vec<f32> {
        let c = self.channels;
        let mut centred = vec![0.0f32; c];
        (0..hw)
            .map(|p| {
                for (k, v) in centred.iter_mut().enumerate() {
                    *v = features[k * hw + p] - centre[k];
                }
                let quadratic: f32 = self
                    .precision
                    .chunks(c)
                    .zip(&centred)
                    .map(|(row, &vk)| {
                        vk * row.iter().zip(&centred).map(|(a, b)| a * b).sum::<f32>()
                    })
                    .sum();
                quadratic.max(0.0).sqrt()
            })
            .collect()
    }
}

/// Running first and second moments of one stage's feature vectors, in f64.
pub struct FeatureMoments {
    channels: usize,
    count: usize,
    sum: DVector<f64>,
    outer: DMatrix<f64>,
}

impl FeatureMoments {
    pub fn new(channels: usize) -> Self {
        Self {
            channels,
            count: 0,
            sum: DVector::zeros(channels),
            outer: DMatrix::zeros(channels, channels),
        }
    }

    /// Adds every position of a batch of features `[n, C, h, w]`.
    pub fn add_batch(&mut self, features: Tensor<4>) {
        let [_, c, h, w] = features.dims();
        for image in to_host(features.detach()).chunks(c * h * w) {
            self.add_image(image, h * w);
        }
    }

    fn add_image(&mut self, image: &[f32], hw: usize) {
        let c = self.channels;
        // Columns are positions: outer += X X^T in one matrix product.
        let x = DMatrix::from_fn(c, hw, |k, p| f64::from(image[k * hw + p]));
        self.outer += &x * x.transpose();
        self.sum += x.column_sum();
        self.count += hw;
    }

    /// The Gaussian of the positions added so far. Its RMS distance is that of those positions
    /// themselves, sqrt(trace(precision * covariance)).
    pub fn fit(&self, stage: usize) -> FeatureGaussian {
        let c = self.channels;
        let n = self.count.max(1) as f64;
        let mean = &self.sum / n;
        let covariance = &self.outer / n - &mean * mean.transpose();
        let ridge = SHRINKAGE * (covariance.trace() / c.max(1) as f64).max(1e-12);
        let regularised = &covariance + DMatrix::identity(c, c) * ridge;
        let precision = regularised
            .cholesky()
            .map(|ch| ch.inverse())
            .unwrap_or_else(|| DMatrix::identity(c, c) / ridge);
        let rms = (&precision * &covariance).trace().max(1e-12).sqrt();
        FeatureGaussian {
            stage,
            channels: c,
            mean: mean.iter().map(|&v| v as f32).collect(),
            // nalgebra is column-major; the precision is symmetric, so either order reads the same.
            precision: precision.iter().map(|&v| v as f32).collect(),
            rms_distance: rms as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_scale_match_a_hand_computed_gaussian() {
        // Four positions of two channels: mean 0, covariance diag(0.5, 2); ridge 1% of the mean
        // variance (0.0125) on the diagonal.
        let mut moments = FeatureMoments::new(2);
        moments.add_image(&[1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 2.0, -2.0], 4);
        let g = moments.fit(3);
        assert_eq!((g.stage, g.channels), (3, 2));
        assert!(g.mean.iter().all(|m| m.abs() < 1e-7));
        // (1, 2): sqrt(1 / 0.5125 + 4 / 2.0125)
        let d = g.distances(&[1.0, 2.0], 1)[0];
        assert!((d - 1.984_64).abs() < 1e-4, "{d}");
        // sqrt(0.5 / 0.5125 + 2 / 2.0125)
        assert!(
            (g.rms_distance - 1.403_35).abs() < 1e-4,
            "{}",
            g.rms_distance
        );
        // The mean itself is at distance 0.
        assert_eq!(g.distances(&[0.0, 0.0], 1)[0], 0.0);
    }
}
