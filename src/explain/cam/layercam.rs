//! LayerCAM (Jiang et al. 2021, as pytorch-grad-cam's `layer_cam.py`): every position weighted by
//! its own positive gradient, map(p) = ReLU( sum_k ReLU(grad_k(p)) * A_k(p) ). Unlike Grad-CAM's
//! one weight per channel, the element-wise weights keep the spatial detail of the gradient.

use super::{CamMethod, StageGradients};

pub struct LayerCam;

impl CamMethod for LayerCam {
    fn id(&self) -> &'static str {
        "layercam"
    }

    fn dimension_map(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let mut map = vec![0.0f32; gradients.side * gradients.side];
        for k in 0..gradients.channels {
            let weighted = gradients.grad(i, k).iter().zip(gradients.feature(k));
            for (m, (g, a)) in map.iter_mut().zip(weighted) {
                *m += g.max(0.0) * a;
            }
        }
        map.iter_mut().for_each(|m| *m = m.max(0.0));
        map
    }
}
