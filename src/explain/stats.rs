//! The normal statistics of docs/method.md §3 (where the training images sit in latent space), and the
//! Gaussians of their encoder features that `feature-distance` measures against.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::features::{FeatureGaussian, FeatureMoments};
use super::memory::{FeatureMemory, MemoryConfig};
use crate::data::TrainSet;
use crate::model::{ModelError, Vae, to_host};
use crate::tiling::Tiling;

/// `mu`: mean of mu over the training set; `var`: mean of exp(logvar) plus the variance of mu.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct NormalStats {
    pub mu: Vec<f32>,
    pub var: Vec<f32>,
    /// Number of images the statistics were taken over (0 for the N(0, I) prior).
    pub count: usize,
    /// One Gaussian per encoder stage; empty for the prior and for checkpoints written before
    /// they existed.
    #[serde(default)]
    pub features: Vec<FeatureGaussian>,
    /// The Gaussian of the input pixels themselves (their channel values at every position).
    #[serde(default)]
    pub pixels: Option<FeatureGaussian>,
    /// The training features `feature-knn` searches (its rows travel as a tensor beside this
    /// metadata); None until fitted, and in checkpoints written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<FeatureMemory>,
}

impl NormalStats {
    /// The prior N(0, I): a stand-in when no training images are at hand (e.g. PyTorch weights).
    pub fn prior(latent_dim: usize) -> Self {
        Self {
            mu: vec![0.0; latent_dim],
            var: vec![1.0; latent_dim],
            count: 0,
            features: Vec::new(),
            pixels: None,
            memory: None,
        }
    }

    /// The paper's normal difference (Eq. 4) of posteriors `[n, D]`:
    /// d_i = (mu_i - mu_X,i) / sqrt(var_X,i + exp(logvar_i)), `[n, D]`.
    pub fn normal_difference(&self, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
        let device = mu.device();
        let mu_x = Tensor::<1>::from_floats(self.mu.as_slice(), &device).unsqueeze::<2>();
        let var_x = Tensor::<1>::from_floats(self.var.as_slice(), &device).unsqueeze::<2>();
        // The floor only guards a degenerate checkpoint (var_X = 0 with a collapsed posterior).
        (mu - mu_x) / (var_x + logvar.exp()).clamp_min(1e-12).sqrt()
    }

    /// Why these statistics do not belong to a model of `config`, if they do not: lengths that
    /// differ from the latent or the stages, or values that are not finite (a file's numbers are
    /// checked before they are broadcast into scores).
    pub fn mismatch(&self, config: &crate::model::VaeConfig) -> Option<String> {
        let d = config.latent_dim;
        if self.mu.len() != d || self.var.len() != d {
            return Some(format!(
                "{} means and {} variances for a latent of {d} dimensions",
                self.mu.len(),
                self.var.len()
            ));
        }
        if !self.mu.iter().all(|v| v.is_finite())
            || !self.var.iter().all(|v| v.is_finite() && *v >= 0.0)
        {
            return Some(
                "a latent mean or variance is not finite (or a variance is negative)".into(),
            );
        }
        let widths = config.stage_widths();
        let channels_of = |g: &FeatureGaussian| widths.get(g.stage).copied();
        let gaussians = self
            .features
            .iter()
            .map(|g| (g, channels_of(g)))
            .chain(self.pixels.iter().map(|g| (g, Some(config.channels))));
        for (g, expected) in gaussians {
            if expected != Some(g.channels)
                || g.mean.len() != g.channels
                || g.precision.len() != g.channels * g.channels
            {
                return Some(format!(
                    "the feature Gaussian of stage {} has {} channels, {} means and {} precision entries; the model's stage has {}",
                    g.stage,
                    g.channels,
                    g.mean.len(),
                    g.precision.len(),
                    expected.map_or("none".to_string(), |c| c.to_string())
                ));
            }
            let finite = g.mean.iter().chain(&g.precision).all(|v| v.is_finite());
            if !(finite && g.rms_distance.is_finite() && g.rms_distance > 0.0) {
                return Some(format!(
                    "the feature Gaussian of stage {} holds a value that is not finite",
                    g.stage
                ));
            }
        }
        self.memory.as_ref().and_then(FeatureMemory::mismatch)
    }

    /// Whether anything that some anomaly map needs is missing (checkpoints written before the
    /// feature Gaussians or the memory existed, foreign weights).
    pub fn incomplete(&self) -> bool {
        self.features.is_empty() || self.memory.is_none()
    }

    /// Fits what `incomplete` finds missing over `set` (the training images at the explainer's
    /// image size) and says what was fitted, for a note.
    pub fn fill_missing(
        &mut self,
        model: &Vae,
        set: &TrainSet,
        tiling: Option<Tiling>,
        device: &Device,
    ) -> Result<Vec<&'static str>, ModelError> {
        let mut fitted = Vec::new();
        if self.features.is_empty() {
            let memory = self.memory.take();
            *self = Self::of_train_set(model, set, tiling, device);
            self.memory = memory;
            fitted.push("the normal statistics");
        }
        if self.memory.is_none() {
            self.memory = Some(FeatureMemory::fit(set, MemoryConfig::default(), device)?);
            fitted.push("feature-knn's memory");
        }
        Ok(fitted)
    }

    /// The Gaussian of stage `stage`'s features, if these statistics have one.
    pub fn feature_gaussian(&self, stage: usize) -> Option<&FeatureGaussian> {
        self.features.iter().find(|g| g.stage == stage)
    }

    /// The statistics of a whole training set (unflipped), in batches of 32: of its images, or
    /// for a patch model of every window of them.
    pub fn of_train_set(
        model: &Vae,
        set: &TrainSet,
        tiling: Option<Tiling>,
        device: &Device,
    ) -> Self {
        let channels = set.channels;
        let side = tiling.map_or(set.size as usize, |t| t.window);
        // (image, window) pairs, cut 32 at a time so the windows never all sit in memory.
        let samples: Vec<(usize, Option<(usize, usize)>)> = match tiling {
            Some(t) => (0..set.n)
                .flat_map(|i| t.positions().into_iter().map(move |p| (i, Some(p))))
                .collect(),
            None => (0..set.n).map(|i| (i, None)).collect(),
        };
        let cut = |&(i, position): &(usize, Option<(usize, usize)>)| match (tiling, position) {
            (Some(t), Some(p)) => t.crop(set.image(i), channels, p),
            _ => set.image(i).to_vec(),
        };
        Self::compute(
            model,
            samples.chunks(32).map(|chunk| {
                let values: Vec<f32> = chunk.iter().flat_map(cut).collect();
                Tensor::<4>::from_data(
                    TensorData::new(values, [chunk.len(), channels, side, side]),
                    device,
                )
            }),
        )
    }

    /// Accumulates the statistics over batches of images `[n, C, S, S]`, in one encoder pass.
    pub fn compute(model: &Vae, batches: impl Iterator<Item = Tensor<4>>) -> Self {
        let mut mus: Vec<Vec<f32>> = Vec::new();
        let mut variances: Vec<Vec<f32>> = Vec::new();
        let mut moments: Vec<FeatureMoments> = Vec::new();
        let mut pixel_moments: Option<FeatureMoments> = None;
        for batch in batches {
            pixel_moments
                .get_or_insert_with(|| FeatureMoments::new(batch.dims()[1]))
                .add_batch(batch.clone());
            let stages = model.encoder.all_stage_features(batch);
            let last = stages.len() - 1;
            for (k, features) in stages.iter().enumerate() {
                if moments.len() <= k {
                    moments.push(FeatureMoments::new(features.dims()[1]));
                }
                moments[k].add_batch(features.clone());
            }
            let posterior = model.encoder.head_from_stage(stages[last].clone(), last);
            let [n, d] = posterior.mu.dims();
            let mu = to_host(posterior.mu);
            let var = to_host(posterior.logvar.exp());
            for row in 0..n {
                mus.push(mu[row * d..(row + 1) * d].to_vec());
                variances.push(var[row * d..(row + 1) * d].to_vec());
            }
        }
        let count = mus.len();
        let dims = mus.first().map_or(0, Vec::len);
        let mean_of = |rows: &[Vec<f32>], i: usize| {
            rows.iter().map(|r| f64::from(r[i])).sum::<f64>() / count.max(1) as f64
        };
        let mut mu = Vec::with_capacity(dims);
        let mut var = Vec::with_capacity(dims);
        for i in 0..dims {
            let m = mean_of(&mus, i);
            let spread = mus
                .iter()
                .map(|r| (f64::from(r[i]) - m).powi(2))
                .sum::<f64>()
                / count.max(1) as f64;
            mu.push(m as f32);
            var.push((mean_of(&variances, i) + spread) as f32);
        }
        let features = moments.iter().enumerate().map(|(k, m)| m.fit(k)).collect();
        Self {
            mu,
            var,
            count,
            features,
            pixels: pixel_moments.map(|m| m.fit(0)),
            memory: None,
        }
    }
}
