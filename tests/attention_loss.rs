//! The attention disentanglement loss (docs/method.md §4): forward-mode alpha equals the
//! reverse-mode alpha of the explanation code, and L_AD's gradient matches finite differences.

use burn::module::Param;
use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use vaelens::explain::{AttentionTarget, stage_gradients_batch};
use vaelens::model::attention_loss::{
    attention_disentanglement_loss, attention_maps, forward_mode_alpha,
};
use vaelens::model::{Vae, VaeConfig, init_weights, to_host};

/// Three stages, so that the tangents cross two convolutions from the first stage.
fn model(device: &Device) -> (Vae, VaeConfig) {
    let config = VaeConfig {
        input_size: 32,
        channels: 1,
        stages: vec![4, 6, 8],
        hidden: 16,
        latent_dim: 5,
        backbone: None,
    };
    let model = Vae::from_tensors(&config, &init_weights(&config, 11), device).unwrap();
    (model, config)
}

fn images(n: usize, device: &Device) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(5);
    let values: Vec<f32> = (0..n * 32 * 32)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [n, 1, 32, 32]), device)
}

#[test]
fn forward_mode_alpha_equals_reverse_mode_alpha() {
    let device = Device::flex().autodiff();
    let (model, config) = model(&device);
    let n = 3;
    for stage in 0..config.stages.len() {
        let reverse = stage_gradients_batch(&model, images(n, &device), stage, AttentionTarget::Mu);
        let a = model.encoder.stage_features(images(n, &device), stage);
        let [_, k, h, w] = a.dims();
        let alpha = to_host(forward_mode_alpha(&model.encoder, a, stage).unwrap());
        let d = config.latent_dim;
        // Reverse mode: alpha_c^i is the mean over positions of d mu_i / d A_c.
        let mut expected = vec![0f32; n * k * d];
        for (j, g) in reverse.iter().enumerate() {
            for i in 0..d {
                for c in 0..k {
                    expected[(j * k + c) * d + i] =
                        g.grad(i, c).iter().sum::<f32>() / (h * w) as f32;
                }
            }
        }
        let largest = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            largest > 1e-5,
            "stage {stage}: alphas all near zero, the test says nothing"
        );
        // To 1e-5 absolutely, and to 0.1% of the largest alpha (they are small at init).
        let tolerance = 1e-5f32.min(1e-3 * largest);
        for (at, (got, want)) in alpha.iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() <= tolerance,
                "stage {stage}, entry {at}: forward {got} vs reverse {want}"
            );
        }
    }
}

/// L_AD of the model on fixed images, all dimensions active, at the last stage.
fn l_ad(model: &Vae, device: &Device) -> Tensor<1> {
    let stage = 2;
    let a = model.encoder.stage_features(images(2, device), stage);
    let alpha = forward_mode_alpha(&model.encoder, a.clone(), stage).unwrap();
    let active = Tensor::<1>::ones([5], device);
    attention_disentanglement_loss(attention_maps(a, alpha), active)
}

#[test]
fn attention_loss_gradient_matches_finite_differences() {
    // encoder.mu's weights enter alpha linearly and no activation slope downstream of them, so
    // L_AD is smooth in them away from the ReLU and min kinks; f64 would be cleaner, f32 with a
    // moderate step is enough to tell a right gradient from a wrong one.
    let device = Device::flex().autodiff();
    let (model, _) = model(&device);
    let loss = l_ad(&model, &device);
    let value = loss.clone().into_scalar::<f32>();
    assert!(
        value > 0.0 && value < 1.0,
        "L_AD {value} is an overlap in (0, 1)"
    );
    let grads = loss.backward();
    let weight = model.encoder.mu.weight.val();
    let analytic = to_host(weight.grad(&grads).unwrap());
    let [rows, cols] = weight.dims();
    let base = to_host(weight.clone().detach());
    let eps = 1e-3f32;
    let mut checked = 0;
    for (r, c) in [(0, 0), (3, 1), (7, 2), (12, 3), (15, 4), (9, 0)] {
        let at = r * cols + c;
        let shifted = |delta: f32| {
            let mut values = base.clone();
            values[at] += delta;
            let mut m = model.clone();
            m.encoder.mu.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(values, [rows, cols]),
                &device,
            ));
            l_ad(&m, &device).into_scalar::<f32>()
        };
        let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
        let tolerance = 2e-3 + 0.05 * numeric.abs();
        assert!(
            (numeric - analytic[at]).abs() < tolerance,
            "weight ({r}, {c}): finite difference {numeric}, autodiff {}",
            analytic[at]
        );
        checked += usize::from(numeric.abs() > 1e-3);
    }
    assert!(checked >= 3, "most checked weights should move L_AD");
}

#[test]
fn attention_loss_is_zero_for_disjoint_maps_and_one_for_equal_maps() {
    let device = Device::flex();
    // Two images, three dimensions, four positions.
    let disjoint = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 2.0, 0.0, 0.0],
        [0.0, 0.0, 0.5, 0.5],
    ];
    let flat: Vec<f32> = disjoint
        .iter()
        .flatten()
        .chain(disjoint.iter().flatten())
        .copied()
        .collect();
    let maps = Tensor::<3>::from_data(TensorData::new(flat, [2, 3, 4]), &device);
    let all = Tensor::<1>::ones([3], &device);
    assert!(
        attention_disentanglement_loss(maps, all.clone())
            .into_scalar::<f32>()
            .abs()
            < 1e-6
    );
    // Equal shapes at different scales overlap fully once normalised.
    let same: Vec<f32> = (0..2)
        .flat_map(|_| {
            [1.0, 2.0, 3.0]
                .into_iter()
                .flat_map(|s| [s, 2.0 * s, 0.0, s])
        })
        .collect();
    let maps = Tensor::<3>::from_data(TensorData::new(same, [2, 3, 4]), &device);
    let value = attention_disentanglement_loss(maps.clone(), all).into_scalar::<f32>();
    assert!((value - 1.0).abs() < 1e-5, "{value}");
    // An inactive dimension takes no part: only the pair (0, 2) counts, still fully overlapping.
    let some = Tensor::<1>::from_floats([1.0, 0.0, 1.0], &device);
    let value = attention_disentanglement_loss(maps, some).into_scalar::<f32>();
    assert!((value - 1.0).abs() < 1e-5, "{value}");
}
