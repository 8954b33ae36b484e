//! `feature-recon`: how differently the encoder sees an image and its reconstruction. Each
//! position's feature difference between x and decoder(mu(x)), at every encoder stage but the
//! last, is measured with the training features' precision (so a difference counts as much as it
//! is unusual) and fused over stages like `feature-distance`. With a pretrained encoder this is a
//! reconstruction error in ImageNet feature space rather than in pixels.

use burn::prelude::*;

use super::{AnomalyMap, AnomalyMethod, MethodId, batch_of_one, map_max};
use crate::explain::Explainer;
use crate::map::{FloatMap, resize_bilinear};
use crate::model::to_host;

/// Smoothing of the fused map, in pixels at the model's input size of 128 (scaled with it).
const SIGMA_AT_128: f32 = 2.0;

pub struct FeatureRecon;

impl FeatureRecon {
    pub const ID: MethodId = MethodId::new("feature-recon");
}

impl AnomalyMethod for FeatureRecon {
    fn id(&self) -> &'static str {
        Self::ID.as_str()
    }

    fn summary(&self) -> &'static str {
        "difference of the encoder's features of the image and of its reconstruction, fused over stages"
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
        let n = images.len();
        let originals = Tensor::<4>::from_data(
            TensorData::new(images.concat(), [n, channels, size, size]),
            &explainer.device,
        );
        let encoder = &explainer.model.encoder;
        let reconstructions = explainer
            .model
            .decoder
            .forward(encoder.forward(originals.clone()).mu);
        // Both through the encoder in one pass: originals first, then reconstructions.
        let stages = encoder.all_stage_features(Tensor::cat(vec![originals, reconstructions], 0));
        let mut fused: Vec<FloatMap> = (0..n)
            .map(|_| FloatMap::new(size as u32, size as u32))
            .collect();
        let used: Vec<usize> = (0..stages.len() - 1)
            .filter(|&k| explainer.stats.feature_gaussian(k).is_some())
            .collect();
        for &k in &used {
            let gaussian = explainer.stats.feature_gaussian(k).expect("filtered above");
            let features = &stages[k];
            let [_, c, side, _] = features.dims();
            let values = to_host(features.clone().detach());
            let per_image = c * side * side;
            let scale = 1.0 / (gaussian.rms_distance * used.len() as f32);
            for (j, map) in fused.iter_mut().enumerate() {
                let original = &values[j * per_image..(j + 1) * per_image];
                let rebuilt = &values[(n + j) * per_image..(n + j + 1) * per_image];
                let norms = gaussian.difference_norms(original, rebuilt, side * side);
                let small = FloatMap::from_raw(side as u32, side as u32, norms)
                    .expect("one norm per position");
                for (f, v) in map
                    .iter_mut()
                    .zip(resize_bilinear(&small, size as u32, size as u32).iter())
                {
                    *f += v * scale;
                }
            }
        }
        fused
            .into_iter()
            .map(|map| {
                let map =
                    imageproc::filter::gaussian_blur_f32(&map, SIGMA_AT_128 * size as f32 / 128.0);
                AnomalyMap {
                    image_score: map_max(&map),
                    map,
                }
            })
            .collect()
    }
}
