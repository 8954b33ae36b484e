//! `gradcam-diff`: the paper's normal difference distribution (Eq. 4, SPEC §3): Grad-CAM of every
//! |d_i|, averaged with weights |d_i|. Image score: sum_i d_i^2.

use super::{AnomalyMap, AnomalyMethod};
use crate::explain::cam::GradCam;
use crate::explain::{AttentionTarget, Explainer};

pub struct GradCamDiff;

impl AnomalyMethod for GradCamDiff {
    fn id(&self) -> &'static str {
        "gradcam-diff"
    }

    fn summary(&self) -> &'static str {
        "the paper's Eq. 4: Grad-CAM of |d_i|, weighted by how far each dimension is from normal"
    }

    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], stage: usize) -> AnomalyMap {
        let target = AttentionTarget::NormalDifference(&explainer.stats);
        let maps = explainer.attention(image, stage, target, &GradCam);
        let d = maps.normal_difference.unwrap_or_default();
        AnomalyMap {
            image_score: d.iter().map(|v| f64::from(*v).powi(2)).sum(),
            map: maps.overall,
        }
    }
}
