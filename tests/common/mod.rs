//! Helpers shared by the tests.

// Each test crate compiles this module and uses only some of its helpers.
#![allow(dead_code)]

#[cfg(feature = "gui")]
pub mod gui;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use vaelens::checkpoint::Checkpoint;
use vaelens::explain::NormalStats;
use vaelens::model::{Vae, VaeConfig, init_weights};
use vaelens::tiling::Tiling;

pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/brick")
}

/// A small untrained model (fast on the CPU); attention and decoding work on any weights.
pub fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    save_tiny(dir.join("tiny.safetensors"), seed, None)
}

/// The same network as a patch VAE scoring 128 px images in 32 px windows.
pub fn tiny_patch_model(dir: &Path, seed: u64) -> PathBuf {
    let tiling = Tiling::new(128, 32);
    save_tiny(dir.join("tiny-patch.safetensors"), seed, Some(tiling))
}

/// The architecture of `tiny_model`: 32 px gray input, two stages, D = 4.
pub fn tiny_config() -> VaeConfig {
    VaeConfig {
        input_size: 32,
        channels: 1,
        stages: vec![8, 16],
        hidden: 32,
        latent_dim: 4,
        backbone: None,
    }
}

fn save_tiny(path: PathBuf, seed: u64, tiling: Option<Tiling>) -> PathBuf {
    let mut checkpoint = Checkpoint::untrained(tiny_config(), seed);
    checkpoint.tiling = tiling;
    checkpoint.save_file(&path, false).unwrap();
    path
}

/// A 16 px, D = 3 network on the CPU with autodiff, small enough to check against hand
/// computation and finite differences.
pub fn tiny_vae() -> (Vae, VaeConfig, Device) {
    let config = VaeConfig {
        input_size: 16,
        channels: 1,
        stages: vec![4, 8],
        hidden: 16,
        latent_dim: 3,
        backbone: None,
    };
    let device = Device::flex().autodiff();
    let model = Vae::from_tensors(&config, &init_weights(&config, 7), &device).unwrap();
    (model, config, device)
}

/// Normal statistics for `tiny_vae`'s three dimensions, away from the prior.
pub fn tiny_stats() -> NormalStats {
    NormalStats {
        mu: vec![0.1, -0.2, 0.05],
        var: vec![0.8, 1.2, 0.5],
        count: 10,
        features: Vec::new(),
        pixels: None,
        memory: None,
    }
}
