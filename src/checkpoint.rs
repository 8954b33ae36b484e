//! A run on disk: one safetensors file with PyTorch-named weights whose metadata carries the
//! config, the normal statistics and the training state, plus `config.json` for PyTorch users.
//! One file means one atomic rename: a crash never leaves a half-written checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::explain::{Explainer, NormalStats};
use crate::model::{
    ModelError, NamedTensor, NamedTensors, Vae, VaeConfig, read_safetensors, write_safetensors,
};
use crate::tiling::Tiling;
use crate::train::TrainState;

pub const MODEL_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";
const CONFIG_KEY: &str = "vaelens.config";
const STATS_KEY: &str = "vaelens.normal_stats";
const TILING_KEY: &str = "vaelens.tiling";
const STATE_KEY: &str = "vaelens.train_state";
/// The rows of `feature-knn`'s memory (`NormalStats::memory`), f16, `[rows, channels]`.
const MEMORY_TENSOR: &str = "vaelens.feature_memory";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{0} is not a vaelens run: it has no {MODEL_FILE} (train one with `vaelens train`)")]
    NotARun(PathBuf),
    #[error(
        "{0} has no vaelens config in its metadata; for PyTorch weights pass `--weights W.safetensors --config C.json`"
    )]
    NoConfig(PathBuf),
    #[error("{path}: metadata `{key}` cannot be used: {reason}")]
    BadMetadata {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Weights, architecture, and what training learned about normal images.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub config: VaeConfig,
    pub tensors: NamedTensors,
    /// Normal latent statistics (docs/method.md §3); None for foreign weights.
    pub stats: Option<NormalStats>,
    pub state: Option<TrainState>,
    /// Set for patch models: how whole images are cut into the model's input windows.
    pub tiling: Option<Tiling>,
}

impl Checkpoint {
    /// A freshly initialised network without statistics or history: for tests, benchmarks and a
    /// first look before training.
    pub fn untrained(config: VaeConfig, seed: u64) -> Self {
        Self {
            tensors: crate::model::init_weights(&config, seed),
            config,
            stats: None,
            state: None,
            tiling: None,
        }
    }

    /// Writes `dir/model.safetensors` (f32) and `dir/config.json`, each atomically.
    pub fn save_run(&self, dir: &Path) -> Result<(), CheckpointError> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        self.save_file(&dir.join(MODEL_FILE), false)?;
        let config = serde_json::to_vec_pretty(&self.config).expect("config serialises");
        crate::fsx::write_bytes_atomic(&dir.join(CONFIG_FILE), &config)
            .map_err(ModelError::Write)?;
        Ok(())
    }

    /// Writes the single-file checkpoint; `half_precision` stores weights as f16 (bundled models).
    pub fn save_file(&self, path: &Path, half_precision: bool) -> Result<(), CheckpointError> {
        let mut metadata = HashMap::new();
        metadata.insert(CONFIG_KEY.to_string(), to_json(&self.config));
        if let Some(stats) = &self.stats {
            metadata.insert(STATS_KEY.to_string(), to_json(stats));
        }
        if let Some(state) = &self.state {
            metadata.insert(STATE_KEY.to_string(), to_json(state));
        }
        if let Some(tiling) = &self.tiling {
            metadata.insert(TILING_KEY.to_string(), to_json(tiling));
        }
        match self.stats.as_ref().and_then(|s| s.memory.as_ref()) {
            Some(memory) => {
                let mut tensors = self.tensors.clone();
                tensors.insert(
                    MEMORY_TENSOR.to_string(),
                    NamedTensor {
                        shape: vec![memory.rows, memory.channels],
                        values: memory.values().to_vec(),
                    },
                );
                write_safetensors(path, &tensors, metadata, half_precision)?;
            }
            None => write_safetensors(path, &self.tensors, metadata, half_precision)?,
        }
        Ok(())
    }

    /// Loads `dir/model.safetensors`.
    pub fn load_run(dir: &Path) -> Result<Self, CheckpointError> {
        let path = dir.join(MODEL_FILE);
        if !path.is_file() {
            return Err(CheckpointError::NotARun(dir.to_path_buf()));
        }
        Self::load_file(&path)
    }

    /// Loads a single-file vaelens checkpoint.
    pub fn load_file(path: &Path) -> Result<Self, CheckpointError> {
        let (mut tensors, metadata) = read_safetensors(path)?;
        let bad = |key, reason| CheckpointError::BadMetadata {
            path: path.to_path_buf(),
            key,
            reason,
        };
        let config: VaeConfig = parse(path, &metadata, CONFIG_KEY)?
            .ok_or_else(|| CheckpointError::NoConfig(path.to_path_buf()))?;
        let mut stats: Option<NormalStats> = parse(path, &metadata, STATS_KEY)?;
        let memory_rows = tensors.remove(MEMORY_TENSOR);
        if let Some(stats) = &mut stats {
            stats.memory = match (stats.memory.take(), memory_rows) {
                (Some(memory), Some(rows)) => Some(
                    memory
                        .with_values(&rows.shape, rows.values)
                        .map_err(|why| bad(STATS_KEY, why))?,
                ),
                (Some(_), None) => {
                    return Err(bad(
                        STATS_KEY,
                        format!(
                            "it names a feature memory, but the file has no `{MEMORY_TENSOR}` tensor"
                        ),
                    ));
                }
                (None, _) => None,
            };
        }
        let checkpoint = Self {
            config,
            tensors,
            stats,
            state: parse(path, &metadata, STATE_KEY)?,
            tiling: parse(path, &metadata, TILING_KEY)?,
        };
        checkpoint
            .config
            .validate()
            .map_err(|e| bad(CONFIG_KEY, e.to_string()))?;
        let config = &checkpoint.config;
        if let Some(why) = checkpoint
            .tiling
            .and_then(|t| t.mismatch(config.input_size))
        {
            return Err(bad(TILING_KEY, why));
        }
        if let Some(why) = checkpoint.stats.as_ref().and_then(|s| s.mismatch(config)) {
            return Err(bad(STATS_KEY, why));
        }
        if let Some(why) = checkpoint.state.as_ref().and_then(|s| s.mismatch()) {
            return Err(bad(STATE_KEY, why));
        }
        Ok(checkpoint)
    }

    /// Loads PyTorch weights (docs/method.md §7 names) with their architecture config.
    pub fn load_pytorch(weights: &Path, config: &Path) -> Result<Self, CheckpointError> {
        let config = VaeConfig::from_json_file(config)?;
        let (tensors, _) = read_safetensors(weights)?;
        Ok(Self {
            config,
            tensors,
            stats: None,
            state: None,
            tiling: None,
        })
    }

    /// The network on `device`, after checking every tensor's name and shape.
    pub fn build(&self, device: &Device) -> Result<Vae, CheckpointError> {
        Ok(Vae::from_tensors(&self.config, &self.tensors, device)?)
    }

    /// The network with its normal statistics (the N(0, I) prior when the checkpoint has none).
    pub fn explainer(&self, device: &Device) -> Result<Explainer, CheckpointError> {
        let model = self.build(device)?;
        let stats = self
            .stats
            .clone()
            .unwrap_or_else(|| NormalStats::prior(self.config.latent_dim));
        Ok(
            Explainer::new(model, self.config.clone(), stats, device.clone())
                .with_tiling(self.tiling),
        )
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    metadata: &HashMap<String, String>,
    key: &'static str,
) -> Result<Option<T>, CheckpointError> {
    metadata
        .get(key)
        .map(|text| {
            serde_json::from_str(text).map_err(|e| CheckpointError::BadMetadata {
                path: path.to_path_buf(),
                key,
                reason: e.to_string(),
            })
        })
        .transpose()
}
