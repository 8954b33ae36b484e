//! `feature-knn`: how far each position's pretrained features are from the nearest feature of
//! any training position (PatchCore's nearest-neighbour score over a full memory). Needs no
//! trained weights: the features are the frozen ImageNet stages', taken on the image enlarged
//! twice, so it scores the same for any model of a category.

use burn::prelude::*;

use super::{AnomalyMap, AnomalyMethod, MethodId, map_max};
use crate::explain::{Explainer, nearest_distances};
use crate::map::{FloatMap, resize_bilinear};

/// Smoothing of the distance map, in pixels of the enlarged image the features were taken on.
const SIGMA_AT_FEATURE_INPUT: f32 = 4.0;

pub struct FeatureKnn;

impl FeatureKnn {
    pub const ID: MethodId = MethodId::new("feature-knn");
}

impl AnomalyMethod for FeatureKnn {
    fn id(&self) -> &'static str {
        Self::ID.as_str()
    }

    fn summary(&self) -> &'static str {
        "distance of each position's pretrained features to the nearest training feature (PatchCore-style kNN)"
    }

    /// The memory holds whole training images' features, so a patch model's images are scored
    /// whole too.
    fn whole_image(&self) -> bool {
        true
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], _: usize) -> AnomalyMap {
        let channels = explainer.config.channels;
        let side = ((image.len() / channels) as f64).sqrt().round() as usize;
        let flat = || AnomalyMap {
            map: FloatMap::new(side as u32, side as u32),
            image_score: 0.0,
        };
        // Without a memory (not fitted yet) the map is flat, as feature-distance's is without
        // its Gaussians; eval and the explorer fit one before scoring.
        let Some(memory) = &explainer.stats.memory else {
            return flat();
        };
        let extractor = match explainer.feature_extractor(memory.config) {
            Ok(extractor) => extractor,
            Err(e) => {
                tracing::warn!("feature-knn has no features: {e}");
                return flat();
            }
        };
        let input = Tensor::<4>::from_data(
            TensorData::new(image.to_vec(), [1, channels, side, side]),
            &explainer.device,
        );
        let rows = extractor.rows(input);
        let distances = nearest_distances(
            &rows.values,
            memory.values(),
            memory.channels,
            &explainer.device,
        );
        let cells = FloatMap::from_raw(rows.side as u32, rows.side as u32, distances)
            .expect("one distance per feature position");
        let enlarged = memory.config.feature_input(side) as u32;
        let smooth = imageproc::filter::gaussian_blur_f32(
            &resize_bilinear(&cells, enlarged, enlarged),
            SIGMA_AT_FEATURE_INPUT,
        );
        let map = resize_bilinear(&smooth, side as u32, side as u32);
        AnomalyMap {
            image_score: map_max(&map),
            map,
        }
    }
}
