//! The architecture numbers of the VAE (SPEC §1 and §7), shared with PyTorch as JSON.

use serde::{Deserialize, Serialize};

use super::ModelError;

/// Input size, channels, stage widths, hidden width and latent size: everything needed to build the
/// network. Serialised with exactly the keys of SPEC §7 so PyTorch users can write it by hand.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    pub input_size: usize,
    pub channels: usize,
    pub stages: Vec<usize>,
    pub hidden: usize,
    pub latent_dim: usize,
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
        }
    }

    /// vaelens' default: the reference's stages with the last one and the hidden layer narrower
    /// (3 M weights at 128 px instead of 19 M), so a model trains in minutes on a CPU and ships
    /// in 6 MB at half precision. Narrower still (last stage 64) collapsed on the sample data.
    pub fn default_for(channels: usize, input_size: usize, latent_dim: usize) -> Self {
        Self {
            input_size,
            channels,
            stages: vec![32, 64, 128, 128],
            hidden: 128,
            latent_dim,
        }
    }

    /// Side length of the last stage's feature maps.
    pub fn last_side(&self) -> usize {
        self.input_size >> self.stages.len()
    }

    /// Side length of stage `k`'s output feature maps.
    pub fn stage_side(&self, k: usize) -> usize {
        self.input_size >> (k + 1)
    }

    /// Number of features that the flatten step hands to `encoder.fc`.
    pub fn flat(&self) -> usize {
        self.stages.last().copied().unwrap_or(0) * self.last_side() * self.last_side()
    }

    /// Checks that the numbers describe a buildable network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |why: String| Err(ModelError::BadConfig(why));
        if self.stages.is_empty() {
            return bad("`stages` is empty: at least one encoder stage is needed".into());
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
        let divisor = 1usize << self.stages.len();
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
