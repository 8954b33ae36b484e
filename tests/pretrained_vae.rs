//! The VAE over frozen pretrained stages: its stages line up with the scratch encoder's geometry,
//! the frozen stages stay frozen and out of the checkpoint, attention at a frozen stage comes
//! from one backward pass as at a trained one, and a scratch config is unchanged on disk.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use vaelens::explain::{AttentionTarget, stage_gradients};
use vaelens::model::pretrained::Lite0Stage;
use vaelens::model::{ReconLoss, Vae, VaeConfig, init_weights, to_host, vae_loss};

/// Lite0 to stride 8 (three frozen stages of 16, 24, 40 channels) then two trained stages, on
/// 32 px RGB windows.
fn config() -> VaeConfig {
    VaeConfig {
        input_size: 32,
        channels: 3,
        stages: vec![8, 8],
        hidden: 16,
        latent_dim: 3,
        backbone: Some(Lite0Stage::Stride8),
    }
}

fn images(n: usize, device: &Device) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(4);
    let values: Vec<f32> = (0..n * 3 * 32 * 32)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [n, 3, 32, 32]), device)
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{x} vs {y}");
    }
}

#[test]
fn stages_halve_the_input_and_the_checkpoint_holds_only_trained_weights() {
    let config = config();
    assert_eq!(config.stage_widths(), [16, 24, 40, 8, 8]);
    assert_eq!(
        (config.stage_count(), config.last_side(), config.flat()),
        (5, 1, 8)
    );
    let device = Device::flex();
    let model = Vae::from_tensors(&config, &init_weights(&config, 1), &device).unwrap();
    let x = images(2, &device);
    let stages = model.encoder.all_stage_features(x.clone());
    for (k, (features, width)) in stages.iter().zip(config.stage_widths()).enumerate() {
        assert_eq!(
            features.dims(),
            [2, width, 32 >> (k + 1), 32 >> (k + 1)],
            "stage {k}"
        );
        close(
            &to_host(features.clone()),
            &to_host(model.encoder.stage_features(x.clone(), k)),
        );
        // The rest of the encoder from any stage gives the whole encoder's posterior.
        close(
            &to_host(model.encoder.head_from_stage(features.clone(), k).mu),
            &to_host(model.encoder.forward(x.clone()).mu),
        );
    }
    let tensors = model.to_tensors();
    assert!(tensors.keys().all(|name| !name.contains("backbone")));
    assert_eq!(tensors["encoder.convs.0.weight"].shape, [8, 40, 4, 4]);
    let rebuilt = Vae::from_tensors(&config, &tensors, &device).unwrap();
    assert_eq!(
        to_host(rebuilt.encoder.forward(x.clone()).mu),
        to_host(model.encoder.forward(x).mu)
    );
}

#[test]
fn config_json_names_the_backbone_only_when_there_is_one() {
    let json = serde_json::to_string(&config()).unwrap();
    assert!(json.contains(r#""backbone":"stride8""#), "{json}");
    let scratch = VaeConfig {
        backbone: None,
        ..config()
    };
    let json = serde_json::to_string(&scratch).unwrap();
    assert!(!json.contains("backbone"), "PyTorch's keys only: {json}");
    let back: VaeConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, scratch);
}

#[test]
fn a_training_step_moves_trained_weights_and_leaves_frozen_ones() {
    let config = config();
    let device = Device::flex().autodiff();
    let model = Vae::from_tensors(&config, &init_weights(&config, 2), &device).unwrap();
    let frozen_before = to_host(model.encoder.backbone.as_ref().unwrap().stem.weight.val());
    let trained_before = model.to_tensors();
    let eps = Tensor::<2>::zeros([4, 3], &device);
    let (loss, _, _) = vae_loss(&model, images(4, &device), eps, ReconLoss::Mse, 0.001, 0.0);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = AdamConfig::new().init().step(1e-2, model, grads);
    let frozen_after = to_host(model.encoder.backbone.as_ref().unwrap().stem.weight.val());
    assert_eq!(frozen_before, frozen_after);
    let trained_after = model.to_tensors();
    for name in [
        "encoder.convs.0.weight",
        "encoder.mu.weight",
        "decoder.deconvs.4.weight",
    ] {
        assert_ne!(trained_before[name], trained_after[name], "{name} trains");
    }
}

#[test]
fn attention_at_a_frozen_stage_comes_from_one_backward_pass() {
    let config = config();
    let device = Device::flex().autodiff();
    let model = Vae::from_tensors(&config, &init_weights(&config, 3), &device).unwrap();
    for stage in [1, 2, 3] {
        let together = stage_gradients(&model, images(1, &device), stage, AttentionTarget::Mu);
        assert_eq!(together.channels, config.stage_widths()[stage]);
        for i in 0..3 {
            let a = model
                .encoder
                .stage_features(images(1, &device), stage)
                .detach()
                .require_grad();
            let mu = model.encoder.head_from_stage(a.clone(), stage).mu;
            let g = to_host(
                a.grad(&mu.slice([0..1, i..i + 1]).sum().backward())
                    .unwrap(),
            );
            let hw = together.side * together.side;
            let row: Vec<f32> = (0..together.channels)
                .flat_map(|k| together.grad(i, k).to_vec())
                .collect();
            close(&row, &g[..together.channels * hw]);
            assert!(
                g.iter().any(|v| *v != 0.0),
                "stage {stage}: a gradient arrives"
            );
        }
    }
}
