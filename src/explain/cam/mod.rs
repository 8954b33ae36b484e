//! Ways to turn a dimension's gradients into a spatial map, one small type each (as
//! pytorch-grad-cam organises its methods). Adding one touches one file and `cam_methods`.

mod gradcam;
mod gradcam_plus_plus;
mod layercam;

pub use gradcam::GradCam;
pub use gradcam_plus_plus::GradCamPlusPlus;
pub use layercam::LayerCam;

use super::StageGradients;

/// A class-activation-map rule: the map of latent dimension `i` over the stage's positions.
pub trait CamMethod: Send + Sync {
    fn id(&self) -> &'static str;
    /// `side * side` values, row-major, non-negative.
    fn dimension_map(&self, gradients: &StageGradients, i: usize) -> Vec<f32>;
}

/// Every CAM rule vaelens knows, by id; Grad-CAM (the paper's) first.
pub fn cam_methods() -> Vec<Box<dyn CamMethod>> {
    vec![
        Box::new(GradCam),
        Box::new(LayerCam),
        Box::new(GradCamPlusPlus),
    ]
}
