//! Ways to turn a dimension's gradients into a spatial map, one small type each over a shared base
//! (as pytorch-grad-cam organises its methods: each supplies its weights, `BaseCAM` weighs the
//! activations and applies the ReLU). Adding one touches one file and `cam_methods`.

mod gradcam;
mod gradcam_plus_plus;
mod layercam;

pub use gradcam::GradCam;
pub use gradcam_plus_plus::GradCamPlusPlus;
pub use layercam::LayerCam;

use super::StageGradients;

/// The rule the explorer and `vaelens explain` use unless asked: the paper's.
pub const DEFAULT_CAM: &str = "gradcam";

/// A class-activation-map rule: the map of latent dimension `i` over the stage's positions.
pub trait CamMethod: Send + Sync {
    fn id(&self) -> &'static str;

    /// The weight of every channel k for dimension `i` (pytorch-grad-cam's `get_cam_weights`).
    /// Rules whose weights vary by position return one per channel and position, `[k][p]`, and
    /// override `weighted_activations`.
    fn cam_weights(&self, gradients: &StageGradients, i: usize) -> Vec<f32>;

    /// sum_k w_k A_k at every position, before the ReLU (`BaseCAM.get_cam_image`).
    fn weighted_activations(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let mut sum = vec![0.0f32; gradients.side * gradients.side];
        for (k, w) in self.cam_weights(gradients, i).into_iter().enumerate() {
            for (s, a) in sum.iter_mut().zip(gradients.feature(k)) {
                *s += w * a;
            }
        }
        sum
    }

    /// `side * side` values, row-major, non-negative: ReLU of the weighted activations.
    fn dimension_map(&self, gradients: &StageGradients, i: usize) -> Vec<f32> {
        let mut map = self.weighted_activations(gradients, i);
        map.iter_mut().for_each(|m| *m = m.max(0.0));
        map
    }
}

/// Every CAM rule vaelens knows, by id; Grad-CAM (the paper's) first.
pub fn cam_methods() -> Vec<Box<dyn CamMethod>> {
    vec![
        Box::new(GradCam),
        Box::new(LayerCam),
        Box::new(GradCamPlusPlus),
    ]
}

/// The rule called `id`, if there is one.
pub fn cam_method(id: &str) -> Option<Box<dyn CamMethod>> {
    cam_methods().into_iter().find(|c| c.id() == id)
}
