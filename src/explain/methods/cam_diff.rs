//! `gradcam-diff`: the paper's normal difference distribution (Eq. 4, SPEC §3): Grad-CAM of every
//! |d_i|, averaged with weights |d_i|. Image score: sum_i d_i^2.
//!
//! The same weighting with another CAM rule gives `layercam-diff` and `gradcampp-diff`; their
//! image score is the same sum_i d_i^2 (it does not depend on the map).

use super::{AnomalyMap, AnomalyMethod};
use crate::explain::cam::{CamMethod, GradCam, GradCamPlusPlus, LayerCam};
use crate::explain::{AttentionTarget, Explainer};

/// Eq. 4 with a chosen CAM rule for the per-dimension maps.
pub struct CamDiff {
    id: &'static str,
    summary: &'static str,
    cam: Box<dyn CamMethod>,
}

impl CamDiff {
    /// `gradcam-diff`: the paper's method.
    pub fn gradcam() -> Self {
        Self {
            id: "gradcam-diff",
            summary: "the paper's Eq. 4: Grad-CAM of |d_i|, weighted by how far each dimension \
                      is from normal",
            cam: Box::new(GradCam),
        }
    }

    /// `layercam-diff`: Eq. 4 with LayerCAM's element-wise gradient weights.
    pub fn layercam() -> Self {
        Self {
            id: "layercam-diff",
            summary: "Eq. 4 with LayerCAM (element-wise positive gradients) instead of Grad-CAM",
            cam: Box::new(LayerCam),
        }
    }

    /// `gradcampp-diff`: Eq. 4 with Grad-CAM++'s channel weights.
    pub fn gradcam_plus_plus() -> Self {
        Self {
            id: "gradcampp-diff",
            summary: "Eq. 4 with Grad-CAM++ channel weights instead of Grad-CAM",
            cam: Box::new(GradCamPlusPlus),
        }
    }
}

impl AnomalyMethod for CamDiff {
    fn id(&self) -> &'static str {
        self.id
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], stage: usize) -> AnomalyMap {
        let target = AttentionTarget::NormalDifference(&explainer.stats);
        let maps = explainer.attention(image, stage, target, self.cam.as_ref());
        let d = maps.normal_difference.unwrap_or_default();
        AnomalyMap {
            image_score: d.iter().map(|v| f64::from(*v).powi(2)).sum(),
            map: maps.overall,
        }
    }
}
