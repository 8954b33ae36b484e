//! Absurd numbers in a checkpoint's metadata or a config file are refused with a message naming
//! the file and the field, before anything is allocated or computed from them.

mod common;

use std::path::Path;

use vaelens::checkpoint::Checkpoint;
use vaelens::explain::NormalStats;
use vaelens::model::VaeConfig;
use vaelens::tiling::Tiling;
use vaelens::train::{TrainConfig, TrainState};

fn tiny() -> Checkpoint {
    Checkpoint::untrained(common::tiny_config(), 0)
}

fn state() -> TrainState {
    TrainState {
        epochs_done: 1,
        steps_done: 3,
        config: TrainConfig::default(),
        history: Vec::new(),
        data_dir: None,
        param_ids: Vec::new(),
        optimizer_crc32: None,
        batches_done: 0,
    }
}

/// Saves `checkpoint`, loads it back and returns the error's message.
fn refused(dir: &Path, checkpoint: Checkpoint) -> String {
    let path = dir.join("hostile.safetensors");
    checkpoint.save_file(&path, false).unwrap();
    let error = Checkpoint::load_file(&path)
        .expect_err("the checkpoint is refused")
        .to_string();
    assert!(
        error.contains("hostile.safetensors"),
        "names the file: {error}"
    );
    error
}

#[test]
fn absurd_architecture_numbers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut huge = tiny();
    huge.config.input_size = 1 << 40;
    assert!(refused(dir.path(), huge).contains("input_size"));
    let mut deep = tiny();
    deep.config.stages = vec![8; 64];
    assert!(refused(dir.path(), deep).contains("stages"));

    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"input_size": 1099511627776, "channels": 1, "stages": [8, 16], "hidden": 32, "latent_dim": 4}"#,
    )
    .unwrap();
    let error = VaeConfig::from_json_file(&config).unwrap_err().to_string();
    assert!(
        error.contains("config.json") && error.contains("input_size"),
        "{error}"
    );
}

#[test]
fn absurd_progress_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut far = tiny();
    far.state = Some(TrainState {
        epochs_done: 1 << 63,
        ..state()
    });
    assert!(refused(dir.path(), far).contains("vaelens.train_state"));
    let mut steps = tiny();
    steps.state = Some(TrainState {
        steps_done: usize::MAX,
        ..state()
    });
    assert!(refused(dir.path(), steps).contains("steps"));
    let mut nan = tiny();
    nan.state = Some(TrainState {
        config: TrainConfig {
            lr: f64::NAN,
            ..TrainConfig::default()
        },
        ..state()
    });
    // JSON has no NaN: serde writes null, which is refused on reading.
    assert!(refused(dir.path(), nan).contains("vaelens.train_state"));
    let mut negative = tiny();
    negative.state = Some(TrainState {
        config: TrainConfig {
            lr: -1.0,
            ..TrainConfig::default()
        },
        ..state()
    });
    assert!(refused(dir.path(), negative).contains("learning rate"));
}

#[test]
fn statistics_of_another_shape_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut short = tiny();
    short.stats = Some(NormalStats::prior(3));
    assert!(refused(dir.path(), short).contains("vaelens.normal_stats"));
    let mut empty = tiny();
    empty.stats = Some(NormalStats {
        mu: Vec::new(),
        var: Vec::new(),
        ..NormalStats::prior(4)
    });
    assert!(refused(dir.path(), empty).contains("latent of 4"));
    let mut infinite = tiny();
    let mut stats = NormalStats::prior(4);
    stats.var[2] = f32::INFINITY;
    infinite.stats = Some(stats);
    assert!(refused(dir.path(), infinite).contains("vaelens.normal_stats"));
    let mut negative = tiny();
    let mut stats = NormalStats::prior(4);
    stats.var[1] = -1.0;
    negative.stats = Some(stats);
    assert!(refused(dir.path(), negative).contains("negative"));
}

#[test]
fn tilings_that_would_allocate_or_run_forever_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut vast = tiny();
    vast.tiling = Some(Tiling::new(1_000_000_000, 32));
    assert!(refused(dir.path(), vast).contains("vaelens.tiling"));
    let mut dense = tiny();
    dense.tiling = Some(Tiling {
        stride: 1,
        ..Tiling::new(128, 32)
    });
    assert!(refused(dir.path(), dense).contains("stride"));
    let mut fine = tiny();
    fine.tiling = Some(Tiling::new(128, 32));
    let path = dir.path().join("fine.safetensors");
    fine.save_file(&path, false).unwrap();
    assert!(Checkpoint::load_file(&path).is_ok(), "a sane tiling loads");
}
