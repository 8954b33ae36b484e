//! LayerCAM (Jiang et al. 2021, as pytorch-grad-cam's `layer_cam.py`): every position weighted by
//! its own positive gradient, map(p) = ReLU( sum_k ReLU(grad_k(p)) * A_k(p) ). Unlike Grad-CAM's
//! one weight per channel, the element-wise weights keep the spatial detail of the gradient.

use super::{CamMethod, StageGradients};

pub struct LayerCam;

impl CamMethod for LayerCam {
    fn id(&self) -> &'static str {
        "layercam"
    }

    /// ReLU(grad_k(p)) for every channel k and position p, laid out `[k][p]`.
    fn cam_weights(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        (0..gradients.channels)
            .flat_map(|k| gradients.grad(i, k).iter().map(|g| g.max(0.0)))
            .collect()
    }

    /// sum_k w_k(p) A_k(p): the weights are per position, so this replaces the base's sum.
    fn weighted_activations(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let positions = gradients.side * gradients.side;
        let mut sum = vec![0.0f32; positions];
        let weights = self.cam_weights(gradients, i);
        for (k, w) in weights.chunks_exact(positions).enumerate() {
            for ((s, w), a) in sum.iter_mut().zip(w).zip(gradients.feature(k)) {
                *s += w * a;
            }
        }
        sum
    }
}
