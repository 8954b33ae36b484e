//! Helpers shared by the GUI and engine tests.

use std::path::{Path, PathBuf};

use vaelens::checkpoint::Checkpoint;
use vaelens::explain::Tiling;
use vaelens::model::VaeConfig;

pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/brick")
}

/// A small untrained model (fast on the CPU); attention and decoding work on any weights.
pub fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    save_tiny(dir.join("tiny.safetensors"), seed, None)
}

/// The same network as a patch VAE scoring 128 px images in 32 px windows.
#[allow(dead_code)] // each test crate compiles this module; only some use every helper
pub fn tiny_patch_model(dir: &Path, seed: u64) -> PathBuf {
    let tiling = Tiling::new(128, 32);
    save_tiny(dir.join("tiny-patch.safetensors"), seed, Some(tiling))
}

fn save_tiny(path: PathBuf, seed: u64, tiling: Option<Tiling>) -> PathBuf {
    let config = VaeConfig {
        input_size: 32,
        channels: 1,
        stages: vec![8, 16],
        hidden: 32,
        latent_dim: 4,
    };
    let mut checkpoint = Checkpoint::untrained(config, seed);
    checkpoint.tiling = tiling;
    checkpoint.save_file(&path, false).unwrap();
    path
}
