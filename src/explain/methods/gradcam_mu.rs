//! `gradcam-mu`: the overall attention map M of docs/method.md §2, used as an anomaly map.

use super::{AnomalyMap, AnomalyMethod, MethodId, batch_of_one, map_max};
use crate::explain::cam::GradCam;
use crate::explain::{AttentionTarget, Explainer};

pub struct GradCamMu;

impl GradCamMu {
    pub const ID: MethodId = MethodId::new("gradcam-mu");
}

impl AnomalyMethod for GradCamMu {
    fn id(&self) -> &'static str {
        Self::ID.as_str()
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
