//! The feature memory of `feature-knn`: the pooled pretrained features of every position of every
//! training image (PatchCore's memory bank without its coreset), and how test features are made
//! the same way. It depends on the training images only, not on the VAE's weights, so a run fits
//! it once.

use std::fmt;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::TrainSet;
use crate::model::pretrained::{Lite0Config, Lite0Features, Lite0Stage};
use crate::model::{ModelError, to_host};

/// Training images whose features are computed in one pass (bounds the activations' memory).
const FIT_BATCH: usize = 8;

/// How features are made and how many are kept. Chosen on brick (docs/experiments.md).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// The pretrained stage whose output is remembered.
    pub stage: Lite0Stage,
    /// Images are enlarged by this factor before the features (defects then span more cells).
    pub upscale: usize,
    /// Images larger than this after enlarging are enlarged less (bounds the cost at large sizes).
    pub max_feature_input: usize,
    /// Side of the average pooling over neighbouring cells (stride 1, same size).
    pub pool: usize,
    /// At most this many feature vectors are kept: a random subset (seeded) beyond it.
    pub max_rows: usize,
    pub seed: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            stage: Lite0Stage::Stride8,
            upscale: 2,
            max_feature_input: 512,
            pool: 3,
            // 120 images at 192 px enlarged to 384: 120 * 48 * 48 = 276,480 rows fit whole.
            max_rows: 300_000,
            seed: 0,
        }
    }
}

impl MemoryConfig {
    /// The side images of side `image_side` are enlarged to before the features are taken.
    pub fn feature_input(&self, image_side: usize) -> usize {
        (image_side * self.upscale).min(self.max_feature_input.max(image_side))
    }
}

/// Feature vectors of training positions, row-major `[rows, channels]`, kept at f16 precision
/// (what the checkpoint stores) so that a fitted and a reloaded memory score alike.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
pub struct FeatureMemory {
    pub config: MemoryConfig,
    pub channels: usize,
    /// Number of rows; the rows themselves travel as a tensor beside the JSON metadata.
    pub rows: usize,
    #[serde(skip)]
    values: Arc<Vec<f32>>,
}

impl fmt::Debug for FeatureMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FeatureMemory({} x {}, {:?})",
            self.rows, self.channels, self.config
        )
    }
}

impl FeatureMemory {
    /// Every position of every image of `set` (at the set's size), subsampled to `max_rows`.
    pub fn fit(set: &TrainSet, config: MemoryConfig, device: &Device) -> Result<Self, ModelError> {
        let extractor = FeatureExtractor::new(config, device)?;
        let side = set.size as usize;
        let mut values = Vec::new();
        let mut first = 0;
        while first < set.n {
            let n = FIT_BATCH.min(set.n - first);
            let images =
                set.images[first * set.image_len()..(first + n) * set.image_len()].to_vec();
            let batch = Tensor::<4>::from_data(
                TensorData::new(images, [n, set.channels, side, side]),
                device,
            );
            values.extend(extractor.rows(batch).values);
            first += n;
        }
        Ok(Self::from_rows(config, config.stage.channels(), values))
    }

    /// A memory of the given rows (`[rows, channels]`), subsampled to `config.max_rows` and
    /// rounded to f16.
    pub fn from_rows(config: MemoryConfig, channels: usize, mut values: Vec<f32>) -> Self {
        let total = values.len() / channels.max(1);
        if total > config.max_rows {
            let mut rng = StdRng::seed_from_u64(config.seed);
            let mut keep = rand::seq::index::sample(&mut rng, total, config.max_rows).into_vec();
            keep.sort_unstable();
            values = keep
                .iter()
                .flat_map(|&r| values[r * channels..(r + 1) * channels].to_vec())
                .collect();
        }
        for v in &mut values {
            *v = half::f16::from_f32(*v).to_f32();
        }
        Self {
            config,
            channels,
            rows: values.len() / channels.max(1),
            values: Arc::new(values),
        }
    }

    /// The rows, `[rows, channels]` row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Attaches the rows read from a checkpoint to the metadata read with them; the error says
    /// what does not fit.
    pub fn with_values(mut self, shape: &[usize], values: Vec<f32>) -> Result<Self, String> {
        if shape != [self.rows, self.channels] {
            return Err(format!(
                "the feature memory's tensor has shape {shape:?}; the metadata says [{}, {}]",
                self.rows, self.channels
            ));
        }
        self.values = Arc::new(values);
        Ok(self)
    }

    /// Why this memory cannot be used, if it cannot: channels that are not its stage's, or no
    /// rows.
    pub fn mismatch(&self) -> Option<String> {
        if self.channels != self.config.stage.channels() {
            return Some(format!(
                "the feature memory has {} channels; its stage has {}",
                self.channels,
                self.config.stage.channels()
            ));
        }
        if self.rows == 0 || self.values.len() != self.rows * self.channels {
            return Some(format!(
                "the feature memory holds {} values for {} rows of {} channels",
                self.values.len(),
                self.rows,
                self.channels
            ));
        }
        None
    }
}

/// Pooled feature vectors of a batch of images: `[n * side * side, channels]` row-major, image
/// after image, each image's positions in row-major order.
pub struct FeatureRows {
    pub values: Vec<f32>,
    /// Side of each image's feature map.
    pub side: usize,
}

/// The frozen pretrained stages with the memory's enlarging and pooling.
#[derive(Clone, Debug)]
pub struct FeatureExtractor {
    config: MemoryConfig,
    features: Lite0Features,
}

impl FeatureExtractor {
    pub fn new(config: MemoryConfig, device: &Device) -> Result<Self, ModelError> {
        Ok(Self {
            config,
            features: Lite0Config::new(config.stage).init(device)?,
        })
    }

    /// How this extractor enlarges, pools and which stage it takes.
    pub fn config(&self) -> MemoryConfig {
        self.config
    }

    /// The feature rows of images `[n, C, S, S]` in [0, 1] (C = 1 or 3).
    pub fn rows(&self, images: Tensor<4>) -> FeatureRows {
        let [n, _, side, _] = images.dims();
        let enlarged_side = self.config.feature_input(side);
        // Half-pixel bilinear, as PyTorch's interpolate(align_corners=False).
        let enlarged = interpolate(
            images,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(false)
                .with_output_size([enlarged_side, enlarged_side]),
        );
        let features = self
            .features
            .forward(enlarged, &[self.config.stage])
            .remove(0);
        let k = self.config.pool;
        // Zero padding counted in the average at the border, as PyTorch's AvgPool2d(3, 1, 1).
        let pooled = avg_pool2d(
            features,
            AvgPoolOptions::new([k, k])
                .with_stride([1, 1])
                .with_padding([k / 2, k / 2])
                .with_count_include_pad(true),
        );
        let [_, c, h, w] = pooled.dims();
        let values = to_host(pooled.permute([0, 2, 3, 1]).reshape([n * h * w, c]));
        FeatureRows { values, side: h }
    }
}
