//! Why the VAE encodes what it encodes: per-dimension attention maps (docs/method.md §2), anomaly maps
//! (docs/method.md §3), decoding of arbitrary latents and traversal grids.

mod attention;
pub mod cam;
mod features;
mod gradients;
mod memory;
pub mod methods;
mod nearest;
mod stats;

pub use attention::AttentionMaps;
pub use features::{FeatureGaussian, FeatureMoments};
pub use gradients::{AttentionTarget, StageGradients, stage_gradients, stage_gradients_batch};
pub use memory::{FeatureExtractor, FeatureMemory, FeatureRows, MemoryConfig};
pub use methods::{
    AnomalyMap, AnomalyMethod, DEFAULT_METHOD, MethodId, PAPER_METHOD, anomaly_method,
    anomaly_methods,
};
pub use nearest::{nearest_distances, nearest_distances_chunked};
pub use stats::NormalStats;

use std::borrow::Cow;
use std::sync::OnceLock;

use burn::prelude::*;
use image::{DynamicImage, GrayImage, RgbImage};

use crate::model::{ModelError, Vae, VaeConfig, kl_per_dim, to_host};
use crate::tiling::{Stitch, Tiling};
use cam::CamMethod;

/// Windows of a patch model explained in one batched pass.
const WINDOW_BATCH: usize = 16;

/// A trained model with its normal statistics, on its device: everything explanation needs.
#[derive(Clone)]
pub struct Explainer {
    pub model: Vae,
    pub config: VaeConfig,
    pub stats: NormalStats,
    pub device: Device,
    /// Set for patch models: how whole images are cut into the model's windows.
    pub tiling: Option<Tiling>,
    /// feature-knn's pretrained stages, built on first use: building them parses the bundled
    /// weights, which per test image cost more than the features themselves (docs/speed.md).
    extractor: OnceLock<FeatureExtractor>,
}

impl Explainer {
    /// The model's parameters stop being tracked: attention needs gradients with respect to
    /// features only, and a decode then builds no autodiff graph (attention 1.5-1.9x faster,
    /// eval's peak memory a tenth: docs/speed.md).
    pub fn new(model: Vae, config: VaeConfig, stats: NormalStats, device: Device) -> Self {
        Self {
            model: model.no_grad(),
            config,
            stats,
            device,
            tiling: None,
            extractor: OnceLock::new(),
        }
    }

    /// The same explainer for a patch model that sees images through `tiling`.
    pub fn with_tiling(self, tiling: Option<Tiling>) -> Self {
        Self { tiling, ..self }
    }

    /// feature-knn's extractor for a memory made with `config`: the one kept by this explainer,
    /// or (for a config other than the first one asked for) a new one.
    pub fn feature_extractor(
        &self,
        config: MemoryConfig,
    ) -> Result<Cow<'_, FeatureExtractor>, ModelError> {
        if self.extractor.get().is_none() {
            // A race with another thread only builds one extractor too many.
            let _ = self
                .extractor
                .set(FeatureExtractor::new(config, &self.device)?);
        }
        match self.extractor.get() {
            Some(kept) if kept.config() == config => Ok(Cow::Borrowed(kept)),
            _ => Ok(Cow::Owned(FeatureExtractor::new(config, &self.device)?)),
        }
    }

    /// The side whole images are resized to: the model's input, or a patch model's image size.
    pub fn image_size(&self) -> usize {
        self.tiling.map_or(self.config.input_size, |t| t.image_size)
    }

    /// The anomaly map of a whole image (CHW at `image_size()`): the method's own map, or for a
    /// patch model the average of its windows' maps, with the largest window score.
    pub fn anomaly(&self, method: &dyn AnomalyMethod, image: &[f32], stage: usize) -> AnomalyMap {
        self.anomaly_yielding(method, image, stage, &mut || {})
    }

    /// `anomaly`, calling `between` after each batch of a patch model's windows, so that a
    /// caller scoring in the background can serve interactive requests meanwhile.
    pub fn anomaly_yielding(
        &self,
        method: &dyn AnomalyMethod,
        image: &[f32],
        stage: usize,
        between: &mut dyn FnMut(),
    ) -> AnomalyMap {
        let tiling = match self.tiling {
            Some(t) if !method.whole_image() => t,
            _ => return method.anomaly_map(self, image, stage),
        };
        let mut stitch = Stitch::new(tiling);
        let mut image_score = f64::NEG_INFINITY;
        for positions in tiling.positions().chunks(WINDOW_BATCH) {
            let windows = self.windows(image, tiling, positions);
            for (anomaly, &p) in method
                .anomaly_maps(self, &windows, stage)
                .iter()
                .zip(positions)
            {
                stitch.add(&anomaly.map, p);
                image_score = image_score.max(anomaly.image_score);
            }
            between();
        }
        AnomalyMap {
            map: stitch.finish(),
            image_score,
        }
    }

    /// The windows of `image` at `positions`, each CHW at the model's input size.
    fn windows(
        &self,
        image: &[f32],
        tiling: Tiling,
        positions: &[(usize, usize)],
    ) -> Vec<Vec<f32>> {
        positions
            .iter()
            .map(|&p| tiling.crop(image, self.config.channels, p))
            .collect()
    }

    /// Attention maps of a whole image at `image_size()`: `attention` itself, or for a patch model
    /// every window's maps averaged where they overlap (mu, logvar and d of the centre window).
    pub fn attention_of_image(
        &self,
        image: &[f32],
        stage: usize,
        target: AttentionTarget<'_>,
        cam: &dyn CamMethod,
    ) -> AttentionMaps {
        let Some(tiling) = self.tiling else {
            return self.attention(image, stage, target, cam);
        };
        let centre = tiling.centre();
        let mut per_dim: Vec<Stitch> = (0..self.config.latent_dim)
            .map(|_| Stitch::new(tiling))
            .collect();
        let mut overall = Stitch::new(tiling);
        let mut centre_maps = None;
        for positions in tiling.positions().chunks(WINDOW_BATCH) {
            let windows = self.windows(image, tiling, positions);
            for (maps, &p) in self
                .attention_batch(&windows, stage, target, cam)
                .into_iter()
                .zip(positions)
            {
                for (stitch, map) in per_dim.iter_mut().zip(&maps.per_dim) {
                    stitch.add(map, p);
                }
                overall.add(&maps.overall, p);
                if p == centre {
                    centre_maps = Some(maps);
                }
            }
        }
        let centre_maps = centre_maps.expect("the centre is one of the windows");
        AttentionMaps {
            per_dim: per_dim.into_iter().map(Stitch::finish).collect(),
            overall: overall.finish(),
            ..centre_maps
        }
    }

    /// What single-input views (attention, traversal) explain for a whole image at
    /// `image_size()`: the image itself, or a patch model's centre window.
    pub fn view(&self, image: &[f32]) -> Vec<f32> {
        self.view_at(image, None).0
    }

    /// Like `view`, for a patch model the window nearest `window` (top-left corner) instead of
    /// the centre one; also returns the window used (None for a whole-image model).
    pub fn view_at(
        &self,
        image: &[f32],
        window: Option<(usize, usize)>,
    ) -> (Vec<f32>, Option<(usize, usize)>) {
        match self.tiling {
            Some(t) => {
                let half = t.window as f32 / 2.0;
                let at = window.map_or(t.centre(), |(x, y)| {
                    t.nearest((x as f32 + half, y as f32 + half))
                });
                (t.crop(image, self.config.channels, at), Some(at))
            }
            None => (image.to_vec(), None),
        }
    }

    /// The encoder stage explained by default: the last one, as in the paper; for a patch model
    /// the one before it, since the last stage of a small window is too coarse to place a defect
    /// inside the window (2 x 2 or 3 x 3 positions).
    pub fn default_stage(&self) -> usize {
        let last = self.config.stage_count() - 1;
        if self.tiling.is_some() {
            last.saturating_sub(1)
        } else {
            last
        }
    }

    /// One image, CHW in [0, 1] at the model's input size, as a `[1, C, S, S]` tensor.
    pub fn input(&self, chw: &[f32]) -> Tensor<4> {
        let s = self.config.input_size;
        Tensor::from_data(
            TensorData::new(chw.to_vec(), [1, self.config.channels, s, s]),
            &self.device,
        )
    }

    /// mu and logvar of one image.
    pub fn encode(&self, chw: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let posterior = self.model.encoder.forward(self.input(chw));
        (to_host(posterior.mu), to_host(posterior.logvar))
    }

    /// One posterior's KL divergence from the prior per dimension (nats) and its normal
    /// difference d_i against this model's normal statistics.
    pub fn latent_summary(&self, mu: &[f32], logvar: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let row = |values: &[f32]| Tensor::<1>::from_floats(values, &self.device).unsqueeze::<2>();
        let (mu, logvar) = (row(mu), row(logvar));
        let kl = to_host(kl_per_dim(mu.clone(), logvar.clone()));
        (kl, to_host(self.stats.normal_difference(mu, logvar)))
    }

    /// Decodes latents `[n * D]` to n images, each CHW at the model's input size.
    pub fn decode(&self, latents: &[f32]) -> Vec<Vec<f32>> {
        let d = self.config.latent_dim;
        let n = latents.len() / d;
        let z = Tensor::<2>::from_data(TensorData::new(latents.to_vec(), [n, d]), &self.device);
        let images = to_host(self.model.decoder.forward(z).detach());
        images
            .chunks(images.len() / n.max(1))
            .map(<[f32]>::to_vec)
            .collect()
    }

    /// decoder(mu) of one image.
    pub fn reconstruct(&self, chw: &[f32]) -> Vec<f32> {
        to_host(self.model.reconstruct(self.input(chw)).detach())
    }

    /// decoder(mu) of several images of the model's input size, in one pass.
    pub fn reconstruct_batch(&self, images: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let s = self.config.input_size;
        let batch = Tensor::from_data(
            TensorData::new(images.concat(), [images.len(), self.config.channels, s, s]),
            &self.device,
        );
        let values = to_host(self.model.reconstruct(batch).detach());
        values
            .chunks(values.len() / images.len().max(1))
            .map(<[f32]>::to_vec)
            .collect()
    }

    /// Per-dimension attention maps of one image at encoder stage `stage`, and their overall map
    /// (uniform mean for mu, weighted by |d_i| for the normal difference).
    pub fn attention(
        &self,
        chw: &[f32],
        stage: usize,
        target: AttentionTarget<'_>,
        cam: &dyn CamMethod,
    ) -> AttentionMaps {
        let gradients = stage_gradients(&self.model, self.input(chw), stage, target);
        AttentionMaps::from_gradients(&gradients, cam, self.config.input_size as u32)
    }

    /// `attention` for several images of the model's input size, from one backward pass.
    pub fn attention_batch(
        &self,
        images: &[Vec<f32>],
        stage: usize,
        target: AttentionTarget<'_>,
        cam: &dyn CamMethod,
    ) -> Vec<AttentionMaps> {
        let s = self.config.input_size;
        let batch = Tensor::from_data(
            TensorData::new(images.concat(), [images.len(), self.config.channels, s, s]),
            &self.device,
        );
        stage_gradients_batch(&self.model, batch, stage, target)
            .iter()
            .map(|g| AttentionMaps::from_gradients(g, cam, s as u32))
            .collect()
    }

    /// Decodes a grid: for each of `dims` (rows), mu with that dimension set to each of `values`
    /// (columns). Returns rows * columns images, row-major.
    pub fn traversal(&self, mu: &[f32], dims: &[usize], values: &[f32]) -> Vec<Vec<f32>> {
        let mut latents = Vec::with_capacity(dims.len() * values.len() * mu.len());
        for &dim in dims {
            for &value in values {
                let mut z = mu.to_vec();
                z[dim] = value;
                latents.extend(z);
            }
        }
        if latents.is_empty() {
            return Vec::new();
        }
        self.decode(&latents)
    }
}

/// A CHW image in [0, 1] as an 8-bit image (gray for one channel, RGB for three).
pub fn image_from_chw(chw: &[f32], channels: usize, size: u32) -> DynamicImage {
    let plane = (size * size) as usize;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    if channels == 1 {
        let pixels = chw[..plane].iter().map(|&v| byte(v)).collect();
        DynamicImage::ImageLuma8(GrayImage::from_raw(size, size, pixels).expect("size matches"))
    } else {
        let pixels = (0..plane)
            .flat_map(|p| (0..3).map(move |c| byte(chw[c * plane + p])))
            .collect();
        DynamicImage::ImageRgb8(RgbImage::from_raw(size, size, pixels).expect("size matches"))
    }
}
