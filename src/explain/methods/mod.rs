//! Anomaly-map methods (docs/method.md §3), one small type each behind `AnomalyMethod`; adding one touches
//! one file and the registry in `anomaly_methods`.

mod cam_diff;
mod feature_distance;
mod feature_knn;
mod feature_recon;
mod gradcam_mu;
mod id;
mod recon;

pub use cam_diff::CamDiff;
pub use feature_distance::FeatureDistance;
pub use feature_knn::FeatureKnn;
pub use feature_recon::FeatureRecon;
pub use gradcam_mu::GradCamMu;
pub use id::MethodId;
pub use recon::{ReconError, smoothed_squared_error};

use crate::map::FloatMap;

use super::Explainer;

/// The method `eval` reports at top level and the GUI shows first: the best on the test sets it
/// was not tuned on (docs/experiments.md).
pub const DEFAULT_METHOD: MethodId = FeatureKnn::ID;

/// The paper's anomaly map (its Eq. 4).
pub const PAPER_METHOD: MethodId = CamDiff::GRADCAM_ID;

/// An anomaly map at the model's input size, and the image's anomaly score.
#[derive(Clone, Debug)]
pub struct AnomalyMap {
    pub map: FloatMap,
    pub image_score: f64,
}

pub trait AnomalyMethod: Send + Sync {
    /// The name used on the command line and in reports (`MethodId::of` keys results by it).
    fn id(&self) -> &'static str;
    /// One sentence for help texts and the GUI.
    fn summary(&self) -> &'static str;
    /// The map of one image (CHW in [0, 1] at the model's input size), from encoder stage `stage`
    /// where the method uses one.
    fn anomaly_map(&self, explainer: &Explainer, image: &[f32], stage: usize) -> AnomalyMap;
    /// The maps of several images at once (a patch model's windows); methods override it where
    /// one batched pass is cheaper than many small ones.
    fn anomaly_maps(
        &self,
        explainer: &Explainer,
        images: &[Vec<f32>],
        stage: usize,
    ) -> Vec<AnomalyMap> {
        images
            .iter()
            .map(|image| self.anomaly_map(explainer, image, stage))
            .collect()
    }
    /// True for maps that take the whole image at the explainer's image size even for a patch
    /// model (the baselines, which need no model).
    fn whole_image(&self) -> bool {
        false
    }
}

/// Every anomaly method, default first.
pub fn anomaly_methods() -> Vec<Box<dyn AnomalyMethod>> {
    vec![
        Box::new(FeatureKnn),
        Box::new(FeatureDistance),
        Box::new(FeatureRecon),
        Box::new(ReconError),
        Box::new(CamDiff::gradcam()),
        Box::new(GradCamMu),
    ]
}

/// The method called `id`, if there is one.
pub fn anomaly_method(id: &str) -> Option<Box<dyn AnomalyMethod>> {
    anomaly_methods().into_iter().find(|m| m.id() == id)
}

/// `anomaly_map` for methods written batch-first: their `anomaly_maps` of a batch of one.
fn batch_of_one(
    method: &dyn AnomalyMethod,
    explainer: &Explainer,
    image: &[f32],
    stage: usize,
) -> AnomalyMap {
    method
        .anomaly_maps(explainer, &[image.to_vec()], stage)
        .pop()
        .expect("one image in, one map out")
}

/// The largest value of a map: the image score of map-based methods.
pub fn map_max(map: &FloatMap) -> f64 {
    map.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64
}
