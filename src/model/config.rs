//! The architecture numbers of the VAE (docs/method.md §1 and §7), shared with PyTorch as JSON.

use serde::{Deserialize, Serialize};

use super::ModelError;
use super::pretrained::Lite0Stage;

/// Input size, channels, stage widths, hidden width and latent size: everything needed to build the
/// network. Serialised with exactly the keys of docs/method.md §7 so PyTorch users can write it by
/// hand, plus `backbone` for an encoder over frozen pretrained stages (absent when from scratch).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    pub input_size: usize,
    pub channels: usize,
    pub stages: Vec<usize>,
    pub hidden: usize,
    pub latent_dim: usize,
    /// Frozen ImageNet-pretrained stages in front of `stages`: EfficientNet-Lite0 up to this
    /// stride, each of its resolutions (from stride 2) one encoder stage. None: every stage is
    /// trained from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<Lite0Stage>,
}

impl VaeConfig {
    /// The paper's reference architecture (what benchmarks use): 128 px, 32-64-128-256, 512, D = 32.
    pub fn reference(channels: usize) -> Self {
        Self {
            input_size: 128,
            channels,
            stages: vec![32, 64, 128, 256],
            hidden: 512,
            latent_dim: 32,
            backbone: None,
        }
    }

    /// vaelens' default: the reference's stages with the last one and the hidden layer narrower
    /// (3 M weights at 128 px instead of 19 M), so a model trains in minutes on a CPU and ships
    /// in 6 MB at half precision. Narrower still (last stage 64) collapsed on the sample data.
    pub fn default_for(channels: usize, input_size: usize, latent_dim: usize) -> Self {
        Self {
            input_size,
            channels,
            stages: Self::DEFAULT_STAGES.to_vec(),
            hidden: Self::DEFAULT_HIDDEN,
            latent_dim,
            backbone: None,
        }
    }

    /// Kim & Mnih's (2018) dSprites network: 64 px gray, conv 32-32-64-64 (kernel 4, stride 2), FC
    /// 128, D = 10; the decoder mirrors it. vaelens keeps its LeakyReLU (0.2) where they use ReLU.
    pub fn kim_mnih() -> Self {
        Self {
            input_size: 64,
            channels: 1,
            stages: vec![32, 32, 64, 64],
            hidden: 128,
            latent_dim: 10,
            backbone: None,
        }
    }

    /// vaelens' default over pretrained features: EfficientNet-Lite0 to stride 8 (three frozen
    /// stages of 16, 24 and 40 channels), then two trained stages.
    pub fn pretrained_for(channels: usize, input_size: usize, latent_dim: usize) -> Self {
        Self {
            input_size,
            channels,
            stages: Self::PRETRAINED_STAGES.to_vec(),
            hidden: Self::DEFAULT_HIDDEN,
            latent_dim,
            backbone: Some(Lite0Stage::Stride8),
        }
    }

    /// Trained stage widths of `pretrained_for`.
    pub const PRETRAINED_STAGES: [usize; 2] = [64, 64];

    /// The frozen pretrained stages, shallowest first (empty for a scratch encoder).
    pub fn backbone_stages(&self) -> &'static [Lite0Stage] {
        match self.backbone {
            Some(deepest) => &Lite0Stage::ALL[..=deepest as usize],
            None => &[],
        }
    }

    /// Output channels of every encoder stage, frozen ones first: what attention can be taken
    /// from, stage k at 1 / 2^(k+1) of the input side.
    pub fn stage_widths(&self) -> Vec<usize> {
        self.backbone_stages()
            .iter()
            .map(|s| s.channels())
            .chain(self.stages.iter().copied())
            .collect()
    }

    /// Number of encoder stages, frozen ones included.
    pub fn stage_count(&self) -> usize {
        self.backbone_stages().len() + self.stages.len()
    }

    /// Stage widths of `default_for`.
    pub const DEFAULT_STAGES: [usize; 4] = [32, 64, 128, 128];
    /// Hidden width of `default_for`.
    pub const DEFAULT_HIDDEN: usize = 128;
    /// Bounds on a config read from a file.
    pub const MAX_INPUT_SIZE: usize = 4096;
    pub const MAX_STAGES: usize = 10;
    pub const MAX_WIDTH: usize = 16384;
    pub const MAX_LATENT: usize = 4096;

    /// Side length of the last stage's feature maps.
    pub fn last_side(&self) -> usize {
        self.input_size >> self.stage_count()
    }

    /// Side length of stage `k`'s output feature maps.
    pub fn stage_side(&self, k: usize) -> usize {
        self.input_size >> (k + 1)
    }

    /// Number of features that the flatten step hands to `encoder.fc`.
    pub fn flat(&self) -> usize {
        self.stage_widths().last().copied().unwrap_or(0) * self.last_side() * self.last_side()
    }

    /// Checks that the numbers describe a buildable network of a sane size (bounds checked
    /// before anything is computed from them, so absurd numbers in a file cannot overflow).
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |why: String| Err(ModelError::BadConfig(why));
        if self.stages.is_empty() && self.backbone.is_none() {
            return bad("`stages` is empty: at least one encoder stage is needed".into());
        }
        for (value, name, max) in [
            (self.input_size, "input_size", Self::MAX_INPUT_SIZE),
            (self.stages.len(), "the number of stages", Self::MAX_STAGES),
            (self.hidden, "hidden", Self::MAX_WIDTH),
            (self.latent_dim, "latent_dim", Self::MAX_LATENT),
        ] {
            if value > max {
                return bad(format!("{name} is {value}; at most {max} is supported"));
            }
        }
        if let Some(&wide) = self.stages.iter().find(|&&w| w > Self::MAX_WIDTH) {
            return bad(format!(
                "a stage is {wide} channels wide; at most {} is supported",
                Self::MAX_WIDTH
            ));
        }
        if self.stages.contains(&0) || self.hidden == 0 || self.latent_dim == 0 {
            return bad("stage widths, `hidden` and `latent_dim` must be positive".into());
        }
        if self.channels != 1 && self.channels != 3 {
            return bad(format!(
                "`channels` is {}; 1 (gray) or 3 (RGB) expected",
                self.channels
            ));
        }
        let divisor = 1usize << self.stage_count();
        if self.input_size < divisor || !self.input_size.is_multiple_of(divisor) {
            return bad(format!(
                "`input_size` {} must be a positive multiple of 2^stages = {divisor}",
                self.input_size
            ));
        }
        Ok(())
    }

    /// Reads a config from JSON, naming the file in errors.
    pub fn from_json_file(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| ModelError::BadConfigFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        config.validate().map_err(|e| ModelError::BadConfigFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(config)
    }
}
