//! Grad-CAM (docs/method.md §2): alpha_k = mean over positions of the gradient, map = ReLU(sum_k alpha_k A_k).

use super::{CamMethod, StageGradients};

pub struct GradCam;

impl CamMethod for GradCam {
    fn id(&self) -> &'static str {
        "gradcam"
    }

    /// alpha_k^i for every channel k of dimension i.
    fn cam_weights(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let positions = (gradients.side * gradients.side) as f32;
        (0..gradients.channels)
            .map(|k| gradients.grad(i, k).iter().sum::<f32>() / positions)
            .collect()
    }
}
