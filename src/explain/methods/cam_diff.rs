//! `gradcam-diff`: the paper's normal difference distribution (Eq. 4, docs/method.md §3): Grad-CAM of every
//! |d_i|, averaged with weights |d_i|. Image score: sum_i d_i^2.
//!
//! Generic over the CAM rule; LayerCAM and Grad-CAM++ variants were measured and not registered
//! (docs/experiments.md).

use super::{AnomalyMap, AnomalyMethod, MethodId, batch_of_one};
use crate::explain::cam::{CamMethod, GradCam};
use crate::explain::{AttentionTarget, Explainer};

/// Eq. 4 with a chosen CAM rule for the per-dimension maps.
pub struct CamDiff {
    id: MethodId,
    summary: &'static str,
    cam: Box<dyn CamMethod>,
}

impl CamDiff {
    pub const GRADCAM_ID: MethodId = MethodId::new("gradcam-diff");

    /// `gradcam-diff`: the paper's method.
    pub fn gradcam() -> Self {
        Self {
            id: Self::GRADCAM_ID,
            summary: "the paper's Eq. 4: Grad-CAM of |d_i|, weighted by how far each dimension \
                      is from normal",
            cam: Box::new(GradCam),
        }
    }
}

impl AnomalyMethod for CamDiff {
    fn id(&self) -> &'static str {
        self.id.as_str()
    }

    fn summary(&self) -> &'static str {
        self.summary
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
        let target = AttentionTarget::NormalDifference(&explainer.stats);
        explainer
            .attention_batch(images, stage, target, self.cam.as_ref())
            .into_iter()
            .map(|maps| {
                let d = maps.normal_difference.unwrap_or_default();
                AnomalyMap {
                    image_score: d.iter().map(|v| f64::from(*v).powi(2)).sum(),
                    map: maps.overall,
                }
            })
            .collect()
    }
}
