//! `feature-distance`: how far each position's pixels and encoder features are from those of the
//! training images (Mahalanobis distance from the Gaussians in `NormalStats`), fused over the
//! input and every encoder stage but the last (the last is too coarse to place a defect).

use super::{AnomalyMap, AnomalyMethod, MethodId, map_max};
use crate::explain::{Explainer, FeatureGaussian};
use crate::map::{FloatMap, resize_bilinear};
use crate::model::to_host;

/// Smoothing of the fused map, in pixels at the model's input size of 128 (scaled with it).
const SIGMA_AT_128: f32 = 2.0;

pub struct FeatureDistance;

impl FeatureDistance {
    pub const ID: MethodId = MethodId::new("feature-distance");
}

impl AnomalyMethod for FeatureDistance {
    fn id(&self) -> &'static str {
        Self::ID.as_str()
    }

    fn summary(&self) -> &'static str {
        "Mahalanobis distance of the pixels and the encoder's features from the training images', fused over stages"
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], _stage: usize) -> AnomalyMap {
        let size = explainer.config.input_size as u32;
        let stats = &explainer.stats;
        let mut terms: Vec<(&FeatureGaussian, FloatMap)> = Vec::new();
        if let Some(pixels) = &stats.pixels {
            terms.push((pixels, distance_map(pixels, image, size as usize)));
        }
        let stages = explainer
            .model
            .encoder
            .all_stage_features(explainer.input(image));
        for (k, features) in stages.iter().enumerate().take(stages.len() - 1) {
            if let Some(gaussian) = stats.feature_gaussian(k) {
                let values = to_host(features.clone().detach());
                terms.push((
                    gaussian,
                    distance_map(gaussian, &values, features.dims()[2]),
                ));
            }
        }
        let mut fused = FloatMap::new(size, size);
        for (gaussian, map) in &terms {
            let scale = 1.0 / (gaussian.rms_distance * terms.len() as f32);
            for (f, v) in fused
                .iter_mut()
                .zip(resize_bilinear(map, size, size).iter())
            {
                *f += v * scale;
            }
        }
        let map = imageproc::filter::gaussian_blur_f32(&fused, SIGMA_AT_128 * size as f32 / 128.0);
        AnomalyMap {
            image_score: map_max(&map),
            map,
        }
    }
}

/// The distance of every position of `side * side` features laid out `[C][side * side]`.
fn distance_map(gaussian: &FeatureGaussian, features: &[f32], side: usize) -> FloatMap {
    let distances = gaussian.distances(features, side * side);
    FloatMap::from_raw(side as u32, side as u32, distances).expect("one distance per position")
}
