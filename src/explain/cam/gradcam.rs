//! Grad-CAM (SPEC §2): alpha_k = mean over positions of the gradient, map = ReLU(sum_k alpha_k A_k).

use super::{CamMethod, StageGradients};

pub struct GradCam;

impl GradCam {
    /// alpha_k^i for every channel k of dimension i.
    pub fn alpha(gradients: &StageGradients, i: usize) -> Vec<f32> {
        let positions = (gradients.side * gradients.side) as f32;
        (0..gradients.channels)
            .map(|k| gradients.grad(i, k).iter().sum::<f32>() / positions)
            .collect()
    }
}

impl CamMethod for GradCam {
    fn id(&self) -> &'static str {
        "gradcam"
    }

    fn dimension_map(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let mut map = vec![0.0f32; gradients.side * gradients.side];
        for (k, alpha) in Self::alpha(gradients, i).into_iter().enumerate() {
            for (m, a) in map.iter_mut().zip(gradients.feature(k)) {
                *m += alpha * a;
            }
        }
        map.iter_mut().for_each(|m| *m = m.max(0.0));
        map
    }
}
