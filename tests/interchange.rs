//! PyTorch interchange (docs/method.md §7): weights written by PyTorch load by name, and vaelens' forward
//! pass, attention maps and gradcam-diff maps agree with PyTorch's (fixtures made by
//! tests/fixtures/interchange/make_fixtures.py).

use std::path::PathBuf;

use burn::prelude::*;

use vaelens::checkpoint::Checkpoint;
use vaelens::explain::cam::GradCam;
use vaelens::explain::{AttentionTarget, NormalStats};
use vaelens::map::{FloatMap, resize_bilinear};
use vaelens::model::{NamedTensors, read_safetensors};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interchange")
        .join(name)
}

fn expected(name: &str) -> NamedTensors {
    read_safetensors(&fixture(&format!("{name}_expected.safetensors")))
        .unwrap()
        .0
}

/// Relative agreement: |a - b| <= rel * max|b| + abs.
fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale + abs,
            "{what}[{i}]: vaelens {g} vs PyTorch {w} (scale {scale})"
        );
    }
}

fn check_model(name: &str) {
    let checkpoint = Checkpoint::load_pytorch(
        &fixture(&format!("{name}.safetensors")),
        &fixture(&format!("{name}.json")),
    )
    .unwrap();
    let device = Device::flex().autodiff();
    let mut explainer = checkpoint.explainer(&device).unwrap();
    let ex = expected(name);
    let input = &ex["input"].values;
    let (mu, logvar) = explainer.encode(input);
    assert_close(&format!("{name} mu"), &mu, &ex["mu"].values, 1e-5, 1e-6);
    assert_close(
        &format!("{name} logvar"),
        &logvar,
        &ex["logvar"].values,
        1e-5,
        1e-6,
    );
    let recon = explainer.reconstruct(input);
    assert_close(
        &format!("{name} recon"),
        &recon,
        &ex["recon"].values,
        1e-5,
        1e-6,
    );

    let d = explainer.config.latent_dim;
    let s = explainer.config.input_size;
    explainer.stats = NormalStats {
        mu: ex["mu_x"].values.clone(),
        var: ex["var_x"].values.clone(),
        count: 1,
        features: Vec::new(),
        pixels: None,
        memory: None,
    };
    for k in 0..explainer.config.stages.len() {
        let maps = explainer.attention(input, k, AttentionTarget::Mu, &GradCam);
        let per_dim: Vec<f32> = maps
            .per_dim
            .iter()
            .flat_map(|m| m.iter().copied())
            .collect();
        assert_close(
            &format!("{name} maps_stage{k}"),
            &per_dim,
            &ex[&format!("maps_stage{k}")].values,
            1e-4,
            0.0,
        );
        assert_close(
            &format!("{name} overall_stage{k}"),
            maps.overall.as_raw(),
            &ex[&format!("overall_stage{k}")].values,
            1e-4,
            0.0,
        );
        assert_eq!(per_dim.len(), d * s * s);

        let stats = explainer.stats.clone();
        let diff = explainer.attention(
            input,
            k,
            AttentionTarget::NormalDifference(&stats),
            &GradCam,
        );
        assert_close(
            &format!("{name} d"),
            diff.normal_difference.as_deref().unwrap(),
            &ex["d"].values,
            1e-5,
            1e-6,
        );
        let per_dim: Vec<f32> = diff
            .per_dim
            .iter()
            .flat_map(|m| m.iter().copied())
            .collect();
        assert_close(
            &format!("{name} diff_maps_stage{k}"),
            &per_dim,
            &ex[&format!("diff_maps_stage{k}")].values,
            1e-4,
            0.0,
        );
        assert_close(
            &format!("{name} diff_overall_stage{k}"),
            diff.overall.as_raw(),
            &ex[&format!("diff_overall_stage{k}")].values,
            1e-4,
            0.0,
        );
    }
}

#[test]
fn grayscale_model_agrees_with_pytorch() {
    check_model("tiny_gray");
}

#[test]
fn rgb_model_agrees_with_pytorch() {
    check_model("tiny_rgb");
}

#[test]
fn bilinear_resize_matches_pytorch_interpolate() {
    let ex = expected("tiny_gray");
    let input = FloatMap::from_raw(5, 3, ex["upsample_in"].values.clone()).unwrap();
    let up = resize_bilinear(&input, 11, 7);
    assert_close(
        "upsample",
        up.as_raw(),
        &ex["upsample_out"].values,
        1e-6,
        1e-7,
    );
    let down = resize_bilinear(&input, 3, 2);
    assert_close(
        "downsample",
        down.as_raw(),
        &ex["downsample_out"].values,
        1e-6,
        1e-7,
    );
}

#[test]
fn weights_round_trip_through_safetensors() {
    let checkpoint =
        Checkpoint::load_pytorch(&fixture("tiny_rgb.safetensors"), &fixture("tiny_rgb.json"))
            .unwrap();
    let device = Device::flex().autodiff();
    let model = checkpoint.build(&device).unwrap();
    let exported = model.to_tensors();
    assert_eq!(
        exported, checkpoint.tensors,
        "build then export returns the PyTorch tensors unchanged"
    );
}

#[test]
fn weights_of_another_architecture_name_the_tensor() {
    let mut checkpoint = Checkpoint::load_pytorch(
        &fixture("tiny_gray.safetensors"),
        &fixture("tiny_gray.json"),
    )
    .unwrap();
    checkpoint.config.hidden = 32;
    let error = checkpoint
        .build(&Device::flex().autodiff())
        .unwrap_err()
        .to_string();
    assert!(error.contains("encoder.fc.weight"), "{error}");
    assert!(
        error.contains("[16, 128]") && error.contains("[32, 128]"),
        "{error}"
    );

    let mut checkpoint = Checkpoint::load_pytorch(
        &fixture("tiny_gray.safetensors"),
        &fixture("tiny_gray.json"),
    )
    .unwrap();
    checkpoint.tensors.remove("decoder.proj.bias");
    let error = checkpoint
        .build(&Device::flex().autodiff())
        .unwrap_err()
        .to_string();
    assert!(error.contains("decoder.proj.bias"), "{error}");

    let mut checkpoint = Checkpoint::load_pytorch(
        &fixture("tiny_gray.safetensors"),
        &fixture("tiny_gray.json"),
    )
    .unwrap();
    let extra = checkpoint.tensors["encoder.mu.bias"].clone();
    checkpoint
        .tensors
        .insert("encoder.extra.bias".into(), extra);
    let error = checkpoint
        .build(&Device::flex().autodiff())
        .unwrap_err()
        .to_string();
    assert!(error.contains("encoder.extra.bias"), "{error}");
}
