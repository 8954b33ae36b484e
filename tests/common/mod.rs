//! Helpers shared by the GUI and engine tests.

use std::path::{Path, PathBuf};

use vaelens::checkpoint::Checkpoint;
use vaelens::model::VaeConfig;

pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/brick")
}

/// A small untrained model (fast on the CPU); attention and decoding work on any weights.
pub fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    let config = VaeConfig {
        input_size: 32,
        channels: 1,
        stages: vec![8, 16],
        hidden: 32,
        latent_dim: 4,
    };
    let path = dir.join("tiny.safetensors");
    Checkpoint::untrained(config, seed)
        .save_file(&path, false)
        .unwrap();
    path
}
