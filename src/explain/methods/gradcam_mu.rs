//! `gradcam-mu`: the overall attention map M of SPEC §2, used as an anomaly map.

use super::{AnomalyMap, AnomalyMethod, batch_of_one, map_max};
use crate::explain::cam::GradCam;
use crate::explain::{AttentionTarget, Explainer};

pub struct GradCamMu;

impl AnomalyMethod for GradCamMu {
    fn id(&self) -> &'static str {
        "gradcam-mu"
    }

    fn summary(&self) -> &'static str {
        "the paper's overall attention map: Grad-CAM of every mu_i, averaged"
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], stage: usize) -> AnomalyMap {
        batch_of_one(self, explainer, image, stage)
    }

    fn anomaly_maps(
        &self,
        explainer: &Explainer,
        images: &[Vec<f32>],
        stage: usize,
    ) -> Vec<AnomalyMap> {
        explainer
            .attention_batch(images, stage, AttentionTarget::Mu, &GradCam)
            .into_iter()
            .map(|maps| AnomalyMap {
                image_score: map_max(&maps.overall),
                map: maps.overall,
            })
            .collect()
    }
}
