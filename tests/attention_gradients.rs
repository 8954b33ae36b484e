//! docs/method.md §2 checks: alpha against finite differences on a tiny network, and the one-backward
//! replication trick against D separate backward passes.

mod common;

use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use common::{tiny_stats, tiny_vae};
use vaelens::explain::cam::{CamMethod, GradCam};
use vaelens::explain::{AttentionTarget, NormalStats, stage_gradients, stage_gradients_batch};
use vaelens::model::{Vae, to_host};

fn input(device: &Device) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(3);
    let values: Vec<f32> = (0..256).map(|_| rng.random_range(0.0..1.0)).collect();
    Tensor::from_data(TensorData::new(values, [1, 1, 16, 16]), device)
}

/// mu_i of features `a` at stage `k`, run through the rest of the encoder.
fn mu_from(model: &Vae, a: Tensor<4>, k: usize) -> Vec<f32> {
    to_host(model.encoder.head_from_stage(a, k).mu.detach())
}

/// Signs of every pre-activation after stage `k` (the LeakyReLU kinks a finite difference must not
/// cross).
fn kink_signs(model: &Vae, a: Tensor<4>, k: usize) -> Vec<bool> {
    let mut signs = Vec::new();
    let mut x = a;
    for conv in &model.encoder.convs[k + 1..] {
        let pre = conv.forward(x);
        signs.extend(to_host(pre.clone().detach()).iter().map(|v| *v > 0.0));
        x = burn::tensor::activation::leaky_relu(pre, 0.2);
    }
    let pre = model.encoder.fc.forward(x.flatten::<2>(1, 3));
    signs.extend(to_host(pre.detach()).iter().map(|v| *v > 0.0));
    signs
}

#[test]
fn alpha_matches_central_finite_differences() {
    let (model, _, device) = tiny_vae();
    let mut checked = 0;
    let mut skipped = 0;
    for stage in 0..2 {
        let grads = stage_gradients(&model, input(&device), stage, AttentionTarget::Mu);
        let a = model.encoder.stage_features(input(&device), stage).detach();
        let [_, channels, side, _] = a.dims();
        let eps = 2e-3f32;
        for k in 0..channels {
            // Moving every position of channel k by eps moves mu_i by eps * sum_p dmu_i/dA_k[p].
            let mut bump = vec![0.0f32; channels * side * side];
            bump[k * side * side..(k + 1) * side * side].fill(eps);
            let bump =
                Tensor::<4>::from_data(TensorData::new(bump, [1, channels, side, side]), &device);
            let (plus, minus) = (a.clone() + bump.clone(), a.clone() - bump);
            // The network is piecewise linear: where no kink is crossed the difference is exact
            // up to rounding; where one is, it measures a mix of two slopes and says nothing.
            if kink_signs(&model, plus.clone(), stage) != kink_signs(&model, minus.clone(), stage) {
                skipped += 1;
                continue;
            }
            let up = mu_from(&model, plus, stage);
            let down = mu_from(&model, minus, stage);
            for i in 0..3 {
                let step = 2.0 * eps * (side * side) as f32;
                let fd = (up[i] - down[i]) / step;
                let alpha = GradCam.cam_weights(&grads, i)[k];
                // f32 rounding of mu (a few ulps through the network), divided by the step.
                let roundoff = 16.0 * f32::EPSILON * up[i].abs().max(0.1) / step;
                assert!(
                    (fd - alpha).abs() <= 1e-3 * alpha.abs() + roundoff,
                    "stage {stage} dim {i} channel {k}: finite difference {fd} vs alpha {alpha}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3 * 8,
        "too few channels away from kinks: {checked} checked, {skipped} skipped"
    );
}

#[test]
fn one_backward_equals_separate_backwards() {
    let (model, _, device) = tiny_vae();
    let stats = tiny_stats();
    for target in [
        AttentionTarget::Mu,
        AttentionTarget::NormalDifference(&stats),
    ] {
        for stage in 0..2 {
            let together = stage_gradients(&model, input(&device), stage, target);
            for i in 0..3 {
                let a = model
                    .encoder
                    .stage_features(input(&device), stage)
                    .detach()
                    .require_grad();
                let post = model.encoder.head_from_stage(a.clone(), stage);
                let objective = match target {
                    AttentionTarget::Mu => post.mu.slice([0..1, i..i + 1]).sum(),
                    AttentionTarget::NormalDifference(s) => {
                        let mu = post.mu.slice([0..1, i..i + 1]).sum();
                        let var = post.logvar.slice([0..1, i..i + 1]).sum().exp();
                        ((mu - s.mu[i] as f64) / (var + s.var[i] as f64).sqrt()).abs()
                    }
                };
                let g = to_host(a.grad(&objective.backward()).unwrap());
                let hw = together.side * together.side;
                for k in 0..together.channels {
                    let row = together.grad(i, k);
                    for (p, (&x, &y)) in row.iter().zip(&g[k * hw..(k + 1) * hw]).enumerate() {
                        assert!(
                            (x - y).abs() <= 1e-6 + 1e-5 * y.abs(),
                            "stage {stage} dim {i} channel {k} position {p}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn attention_maps_are_non_negative_and_overall_is_their_mean() {
    let (model, config, device) = tiny_vae();
    let explainer =
        vaelens::explain::Explainer::new(model, config, NormalStats::prior(3), device.clone());
    let image = to_host(input(&device));
    let maps = explainer.attention(&image, 1, AttentionTarget::Mu, &GradCam);
    assert_eq!(maps.per_dim.len(), 3);
    for map in &maps.per_dim {
        assert_eq!(map.dimensions(), (16, 16));
        assert!(map.iter().all(|&v| v >= 0.0));
    }
    for p in 0..256usize {
        let (x, y) = ((p % 16) as u32, (p / 16) as u32);
        let mean = maps
            .per_dim
            .iter()
            .map(|m| m.get_pixel(x, y).0[0])
            .sum::<f32>()
            / 3.0;
        assert!((maps.overall.get_pixel(x, y).0[0] - mean).abs() < 1e-6);
    }
}

#[test]
fn a_batch_of_images_gives_each_image_its_own_gradients() {
    let (model, _, device) = tiny_vae();
    let stats = tiny_stats();
    let mut rng = StdRng::seed_from_u64(9);
    let images: Vec<Vec<f32>> = (0..3)
        .map(|_| (0..256).map(|_| rng.random_range(0.0..1.0)).collect())
        .collect();
    let one = |image: &Vec<f32>| {
        Tensor::<4>::from_data(TensorData::new(image.clone(), [1, 1, 16, 16]), &device)
    };
    let batch = Tensor::<4>::from_data(TensorData::new(images.concat(), [3, 1, 16, 16]), &device);
    for target in [
        AttentionTarget::Mu,
        AttentionTarget::NormalDifference(&stats),
    ] {
        let together = stage_gradients_batch(&model, batch.clone(), 0, target);
        assert_eq!(together.len(), 3);
        for (image, batched) in images.iter().zip(&together) {
            let alone = stage_gradients(&model, one(image), 0, target);
            assert_eq!(batched.mu, alone.mu);
            assert_eq!(batched.normal_difference, alone.normal_difference);
            for (x, y) in batched.grads.iter().zip(&alone.grads) {
                assert!((x - y).abs() <= 1e-6 + 1e-5 * y.abs(), "{x} vs {y}");
            }
            assert_eq!(batched.features, alone.features);
        }
        assert_ne!(
            together[0].grads, together[1].grads,
            "different images differ"
        );
    }
}
