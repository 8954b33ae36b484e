//! `recon`: the classic baseline, per-pixel squared error of decoder(mu), Gaussian-smoothed.

use super::{AnomalyMap, AnomalyMethod, MethodId, batch_of_one, map_max};
use crate::explain::Explainer;
use crate::map::FloatMap;

/// Smoothing of the error map, in pixels at the model's input size of 128 (scaled with it).
const SIGMA_AT_128: f32 = 2.0;

pub struct ReconError;

impl ReconError {
    pub const ID: MethodId = MethodId::new("recon");
}

impl AnomalyMethod for ReconError {
    fn id(&self) -> &'static str {
        Self::ID.as_str()
    }

    fn summary(&self) -> &'static str {
        "reconstruction error of decoder(mu), Gaussian-smoothed: the classic baseline"
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], stage: usize) -> AnomalyMap {
        batch_of_one(self, explainer, image, stage)
    }

    fn anomaly_maps(
        &self,
        explainer: &Explainer,
        images: &[Vec<f32>],
        _: usize,
    ) -> Vec<AnomalyMap> {
        let (channels, size) = (explainer.config.channels, explainer.config.input_size);
        images
            .iter()
            .zip(explainer.reconstruct_batch(images))
            .map(|(image, recon)| {
                let map = smoothed_squared_error(image, &recon, channels, size);
                AnomalyMap {
                    image_score: map_max(&map),
                    map,
                }
            })
            .collect()
    }
}

/// Per-pixel squared difference of two CHW images (mean over channels), Gaussian-smoothed.
pub fn smoothed_squared_error(
    image: &[f32],
    other: &[f32],
    channels: usize,
    size: usize,
) -> FloatMap {
    let plane = size * size;
    let error: Vec<f32> = (0..plane)
        .map(|p| {
            (0..channels)
                .map(|c| (image[c * plane + p] - other[c * plane + p]).powi(2))
                .sum::<f32>()
                / channels as f32
        })
        .collect();
    let raw = FloatMap::from_raw(size as u32, size as u32, error).expect("size matches");
    let sigma = SIGMA_AT_128 * size as f32 / 128.0;
    imageproc::filter::gaussian_blur_f32(&raw, sigma)
}
