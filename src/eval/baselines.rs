//! Maps that need no model, which every method must beat: the difference from the mean training
//! image, and a constant map (chance).

use crate::data::{Category, DataError, TrainSet};
use crate::explain::methods::{map_max, smoothed_squared_error};
use crate::explain::{AnomalyMap, AnomalyMethod, Explainer};
use crate::map::FloatMap;

/// Ids of baselines start with this, so reports can list them apart.
pub const BASELINE_PREFIX: &str = "baseline-";

/// Squared difference from the mean training image, smoothed like `recon`.
pub struct MeanImageBaseline {
    mean: Vec<f32>,
    channels: usize,
    size: usize,
}

impl MeanImageBaseline {
    /// The mean of the category's training images at the model's input size.
    pub fn from_category(
        category: &Category,
        channels: usize,
        size: usize,
    ) -> Result<Self, DataError> {
        let set = TrainSet::load(&category.train, channels, size as u32, &mut |_, _| {})?;
        let len = set.image_len();
        let mut mean = vec![0.0f32; len];
        for i in 0..set.n {
            for (m, v) in mean.iter_mut().zip(set.image(i)) {
                *m += v / set.n as f32;
            }
        }
        Ok(Self {
            mean,
            channels,
            size,
        })
    }
}

impl AnomalyMethod for MeanImageBaseline {
    fn id(&self) -> &'static str {
        "baseline-mean-image"
    }

    fn summary(&self) -> &'static str {
        "no model: squared difference from the mean training image, smoothed like recon"
    }

    fn whole_image(&self) -> bool {
        true
    }

    fn anomaly_map(&self, _: &Explainer, image: &[f32], _: usize) -> AnomalyMap {
        let map = smoothed_squared_error(image, &self.mean, self.channels, self.size);
        AnomalyMap {
            image_score: map_max(&map),
            map,
        }
    }
}

/// The same value everywhere: pixel AUROC 0.5 and AU-PRO@0.3 0.15 by construction.
pub struct ConstantBaseline;

impl AnomalyMethod for ConstantBaseline {
    fn id(&self) -> &'static str {
        "baseline-constant"
    }

    fn summary(&self) -> &'static str {
        "chance: a constant map"
    }

    fn whole_image(&self) -> bool {
        true
    }

    fn anomaly_map(&self, explainer: &Explainer, _: &[f32], _: usize) -> AnomalyMap {
        let size = explainer.image_size() as u32;
        AnomalyMap {
            map: FloatMap::new(size, size),
            image_score: 0.0,
        }
    }
}
