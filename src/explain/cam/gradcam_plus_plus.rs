//! Grad-CAM++ (Chattopadhay et al. 2018, Eq. 19), as pytorch-grad-cam's `grad_cam_plusplus.py`
//! computes it: the exponential's higher derivatives replaced by powers of the gradient g.
//!
//! ```text
//! alpha_k(p) = g^2 / (2 g^2 + sum_p' A_k(p') * g^3 + eps)     0 where g = 0
//! w_k        = sum_p alpha_k(p) * ReLU(g(p))
//! map        = ReLU( sum_k w_k A_k )
//! ```
//!
//! with eps = 1e-6 as there. Where 2 g^2 + sum_p' A_k(p') g^3 is exactly 0, alpha is 0 (there
//! pytorch-grad-cam's alpha is g^2 / eps, an artefact of its guard). The stages end in LeakyReLU,
//! so sum_p' A_k(p') can be negative and a denominator near 0 can still make one alpha large;
//! that is the rule as published.

use super::{CamMethod, StageGradients};

/// pytorch-grad-cam's guard against a zero denominator.
const EPS: f32 = 1e-6;

pub struct GradCamPlusPlus;

impl CamMethod for GradCamPlusPlus {
    fn id(&self) -> &'static str {
        "gradcampp"
    }

    /// w_k^i for every channel k of dimension i.
    fn cam_weights(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        (0..gradients.channels)
            .map(|k| {
                let activation_sum: f32 = gradients.feature(k).iter().sum();
                gradients
                    .grad(i, k)
                    .iter()
                    // ReLU(g) = 0 for g <= 0: only positive gradients contribute (and pytorch's
                    // alpha = 0 at g = 0).
                    .filter(|&&g| g > 0.0)
                    .map(|&g| {
                        let g2 = g * g;
                        let denominator = 2.0 * g2 + activation_sum * g2 * g;
                        let alpha = g2 / (denominator + EPS);
                        if denominator == 0.0 || !alpha.is_finite() {
                            0.0
                        } else {
                            alpha * g
                        }
                    })
                    .sum()
            })
            .collect()
    }
}
