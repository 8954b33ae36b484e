//! SPEC §2 checks: alpha against finite differences on a tiny network, and the one-backward
//! replication trick against D separate backward passes.

use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use vaelens::explain::cam::GradCam;
use vaelens::explain::{AttentionTarget, NormalStats, stage_gradients};
use vaelens::model::{Vae, VaeConfig, init_weights};

fn tiny() -> (Vae, VaeConfig, Device) {
    let config = VaeConfig {
        input_size: 16,
        channels: 1,
        stages: vec![4, 8],
        hidden: 16,
        latent_dim: 3,
    };
    let device = Device::flex().autodiff();
    let model = Vae::from_tensors(&config, &init_weights(&config, 7), &device).unwrap();
    (model, config, device)
}

fn input(device: &Device) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(3);
    let values: Vec<f32> = (0..256).map(|_| rng.random_range(0.0..1.0)).collect();
    Tensor::from_data(TensorData::new(values, [1, 1, 16, 16]), device)
}

fn host<const N: usize>(t: Tensor<N>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// mu_i of features `a` at stage `k`, run through the rest of the encoder.
fn mu_from(model: &Vae, a: Tensor<4>, k: usize) -> Vec<f32> {
    host(model.encoder.head_from_stage(a, k).mu.detach())
}

#[test]
fn alpha_matches_central_finite_differences() {
    let (model, _, device) = tiny();
    for stage in 0..2 {
        let grads = stage_gradients(&model, input(&device), stage, AttentionTarget::Mu);
        let a = model.encoder.stage_features(input(&device), stage).detach();
        let [_, channels, side, _] = a.dims();
        let eps = 1e-2f32;
        for k in 0..channels {
            // Moving every position of channel k by eps moves mu_i by eps * sum_p dmu_i/dA_k[p].
            let mut bump = vec![0.0f32; channels * side * side];
            bump[k * side * side..(k + 1) * side * side].fill(eps);
            let bump =
                Tensor::<4>::from_data(TensorData::new(bump, [1, channels, side, side]), &device);
            let up = mu_from(&model, a.clone() + bump.clone(), stage);
            let down = mu_from(&model, a.clone() - bump, stage);
            for i in 0..3 {
                let fd = (up[i] - down[i]) / (2.0 * eps * (side * side) as f32);
                let alpha = GradCam::alpha(&grads, i)[k];
                assert!(
                    (fd - alpha).abs() <= 2e-3 * alpha.abs().max(1e-2),
                    "stage {stage} dim {i} channel {k}: finite difference {fd} vs alpha {alpha}"
                );
            }
        }
    }
}

#[test]
fn one_backward_equals_separate_backwards() {
    let (model, _, device) = tiny();
    let stats = NormalStats {
        mu: vec![0.1, -0.2, 0.05],
        var: vec![0.8, 1.2, 0.5],
        count: 10,
    };
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
                let g = host(a.grad(&objective.backward()).unwrap());
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
    let (model, config, device) = tiny();
    let explainer =
        vaelens::explain::Explainer::new(model, config, NormalStats::prior(3), device.clone());
    let image = host(input(&device));
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
