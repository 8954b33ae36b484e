//! LayerCAM and Grad-CAM++ against hand-computed maps on tiny stages, properties that tie them to
//! Grad-CAM, and the Eq. 4 anomaly methods built on them.

mod common;

use rand::{Rng, SeedableRng, rngs::StdRng};

use common::tiny_vae;
use vaelens::explain::cam::{CamMethod, GradCam, GradCamPlusPlus, LayerCam, cam_methods};
use vaelens::explain::{
    AttentionTarget, DEFAULT_METHOD, Explainer, NormalStats, StageGradients, anomaly_method,
    anomaly_methods,
};

/// A stage of `features[k]` (side * side each) and, for one dimension per entry of `grads`, its
/// gradients `grads[i][k]`.
fn stage(side: usize, features: &[Vec<f32>], grads: &[Vec<Vec<f32>>]) -> StageGradients {
    StageGradients {
        stage: 0,
        channels: features.len(),
        side,
        latent_dim: grads.len(),
        features: features.concat(),
        grads: grads.iter().flat_map(|g| g.concat()).collect(),
        mu: vec![0.0; grads.len()],
        logvar: vec![0.0; grads.len()],
        normal_difference: None,
    }
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (p, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "position {p}: got {g}, want {w} (all: {got:?} vs {want:?})"
        );
    }
}

#[test]
fn layercam_by_hand() {
    // 2 channels, side 2, 1 dimension; positions row-major.
    //   A0 = [1, 2, 3, 4]        g0 = [1, -1, 2, 0]     ReLU(g0) = [1, 0, 2, 0]
    //   A1 = [2, -1, 0, -5]      g1 = [0.5, -3, -2, 1]  ReLU(g1) = [0.5, 0, 0, 1]
    //   ReLU(g0) A0 = [1, 0, 6, 0]
    //   ReLU(g1) A1 = [1, 0, 0, -5]
    //   sum         = [2, 0, 6, -5]  -> ReLU -> [2, 0, 6, 0]
    // (Without the ReLU on g, position 1 would get -1 * 2 + -3 * -1 = 1.)
    let g = stage(
        2,
        &[vec![1.0, 2.0, 3.0, 4.0], vec![2.0, -1.0, 0.0, -5.0]],
        &[vec![vec![1.0, -1.0, 2.0, 0.0], vec![0.5, -3.0, -2.0, 1.0]]],
    );
    assert_close(&LayerCam.dimension_map(&g, 0), &[2.0, 0.0, 6.0, 0.0], 1e-6);
    // Grad-CAM on the same stage differs: alpha = (2/4, -3.5/4) = (0.5, -0.875),
    // 0.5 A0 - 0.875 A1 = [-1.25, 1.875, 1.5, 6.375] -> ReLU -> [0, 1.875, 1.5, 6.375].
    assert_close(
        &GradCam.dimension_map(&g, 0),
        &[0.0, 1.875, 1.5, 6.375],
        1e-6,
    );
}

#[test]
fn gradcam_plus_plus_by_hand() {
    // 2 channels, side 2, 1 dimension. For g > 0, alpha = g^2 / (2 g^2 + S g^3) = 1 / (2 + S g)
    // (up to pytorch-grad-cam's eps = 1e-6 in the denominator), S = sum of the channel.
    //   A0 = [1, 0, 0, 1], S0 = 2;  g0 = [1, 0.5, -1, 0]
    //     g = 1:   alpha = 1 / (2 + 2)   = 1/4, alpha ReLU(g) = 1/4
    //     g = 0.5: alpha = 1 / (2 + 1)   = 1/3, alpha ReLU(g) = 1/6
    //     g = -1:  ReLU(g) = 0 (and the denominator 2 - 2 is 0)
    //     g = 0:   alpha = 0
    //     w0 = 1/4 + 1/6 = 5/12
    //   A1 = [1, -1, 2, -2], S1 = 0;  g1 = [2, 2, -3, 0]
    //     alpha = 1/2 wherever g != 0; w1 = 1/2 * 2 + 1/2 * 2 = 2
    //   w0 A0 + w1 A1 = [5/12 + 2, -2, 4, 5/12 - 4] = [29/12, -2, 4, -43/12]
    //   ReLU -> [29/12, 0, 4, 0]
    let g = stage(
        2,
        &[vec![1.0, 0.0, 0.0, 1.0], vec![1.0, -1.0, 2.0, -2.0]],
        &[vec![vec![1.0, 0.5, -1.0, 0.0], vec![2.0, 2.0, -3.0, 0.0]]],
    );
    assert_close(
        &GradCamPlusPlus.cam_weights(&g, 0),
        &[5.0 / 12.0, 2.0],
        1e-5,
    );
    assert_close(
        &GradCamPlusPlus.dimension_map(&g, 0),
        &[29.0 / 12.0, 0.0, 4.0, 0.0],
        1e-5,
    );
}

#[test]
fn gradcam_plus_plus_zero_denominator_gives_zero_alpha() {
    // 1 channel, side 2. A = [1, -3, 0, 0], S = -2 (LeakyReLU features can sum below 0).
    //   g = 1:   2 g^2 + S g^3 = 2 - 2 = 0          -> alpha = 0 (pytorch-grad-cam: 1 / eps)
    //   g = 0.5: 2 * 0.25 - 2 * 0.125 = 0.25        -> alpha = 0.25 / 0.25 = 1, alpha g = 0.5
    //   w = 0.5; w A = [0.5, -1.5, 0, 0] -> ReLU -> [0.5, 0, 0, 0]
    let g = stage(
        2,
        &[vec![1.0, -3.0, 0.0, 0.0]],
        &[vec![vec![1.0, 0.5, 0.0, 0.0]]],
    );
    assert_close(&GradCamPlusPlus.cam_weights(&g, 0), &[0.5], 1e-5);
    assert_close(
        &GradCamPlusPlus.dimension_map(&g, 0),
        &[0.5, 0.0, 0.0, 0.0],
        1e-5,
    );
}

/// Features drawn from `feature_range` and per-(dimension, channel) constant gradients c[i][k]
/// drawn from `range`.
fn constant_gradient_stage(
    seed: u64,
    channels: usize,
    side: usize,
    dims: usize,
    feature_range: std::ops::Range<f32>,
    range: std::ops::Range<f32>,
) -> (StageGradients, Vec<Vec<f32>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let hw = side * side;
    let features: Vec<Vec<f32>> = (0..channels)
        .map(|_| {
            (0..hw)
                .map(|_| rng.random_range(feature_range.clone()))
                .collect()
        })
        .collect();
    let c: Vec<Vec<f32>> = (0..dims)
        .map(|_| {
            (0..channels)
                .map(|_| rng.random_range(range.clone()))
                .collect()
        })
        .collect();
    let grads: Vec<Vec<Vec<f32>>> = c
        .iter()
        .map(|ci| ci.iter().map(|&ck| vec![ck; hw]).collect())
        .collect();
    (stage(side, &features, &grads), c)
}

#[test]
fn layercam_equals_gradcam_for_positive_gradients_constant_per_channel() {
    // g_k(p) = c_k > 0 everywhere. Grad-CAM: alpha_k = mean_p c_k = c_k, map = ReLU(sum_k c_k A_k).
    // LayerCAM: ReLU(g_k(p)) = c_k at every p, map = ReLU(sum_k c_k A_k). The same map (not
    // scaled by the number of positions: Grad-CAM averages the gradient, it does not sum it).
    for seed in 0..5 {
        let (g, _) = constant_gradient_stage(seed, 3, 4, 2, -0.5..2.0, 0.1..2.0);
        for i in 0..2 {
            assert_close(
                &LayerCam.dimension_map(&g, i),
                &GradCam.dimension_map(&g, i),
                1e-6,
            );
        }
    }
}

#[test]
fn gradcam_plus_plus_is_scaled_gradcam_for_one_channel_with_constant_gradient() {
    // One channel, g(p) = c > 0 everywhere, S = sum_p A(p) with 2 + S c > 0:
    // alpha = 1 / (2 + S c) at every p, w = hw c / (2 + S c) > 0, so
    // ReLU(w A) = hw / (2 + S c) * ReLU(c A): Grad-CAM's map times hw / (2 + S c).
    for seed in 0..5 {
        let (g, c) = constant_gradient_stage(seed, 1, 3, 1, -0.5..2.0, 0.1..2.0);
        let s: f32 = g.feature(0).iter().sum();
        let (c, hw) = (c[0][0], 9.0f32);
        assert!(2.0 + s * c > 0.0, "features in [-0.5, 2) keep S > -4.5");
        let scale = hw / (2.0 + s * c);
        let want: Vec<f32> = GradCam
            .dimension_map(&g, 0)
            .iter()
            .map(|v| v * scale)
            .collect();
        assert_close(&GradCamPlusPlus.dimension_map(&g, 0), &want, 1e-4);
    }
}

#[test]
fn negative_gradients_give_empty_layercam_and_gradcam_plus_plus() {
    // Both rules keep only positive gradients. Mostly negative features (LeakyReLU outputs can be)
    // make the products with the negative gradients mostly positive, so Grad-CAM's map is not
    // empty here.
    let (g, _) = constant_gradient_stage(11, 3, 4, 2, -2.0..0.5, -2.0..-0.1);
    for i in 0..2 {
        assert!(LayerCam.dimension_map(&g, i).iter().all(|&v| v == 0.0));
        assert!(
            GradCamPlusPlus
                .dimension_map(&g, i)
                .iter()
                .all(|&v| v == 0.0)
        );
    }
}

#[test]
fn registries_list_the_papers_rules_first() {
    let cams: Vec<&str> = cam_methods().iter().map(|m| m.id()).collect();
    assert_eq!(cams, ["gradcam", "layercam", "gradcampp"]);
    let methods: Vec<&str> = anomaly_methods().iter().map(|m| m.id()).collect();
    assert_eq!(methods[0], DEFAULT_METHOD.as_str());
    assert!(methods.contains(&"gradcam-diff") && methods.contains(&"gradcam-mu"));
    let mut unique = methods.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), methods.len());
}

#[test]
fn gradcam_diff_is_the_papers_eq4() {
    let (model, config, device) = tiny_vae();
    let explainer = Explainer::new(model, config, NormalStats::prior(3), device);
    let mut rng = StdRng::seed_from_u64(3);
    let image: Vec<f32> = (0..256).map(|_| rng.random_range(0.0..1.0)).collect();
    for stage in 0..2 {
        let target = AttentionTarget::NormalDifference(&explainer.stats);
        let paper = anomaly_method("gradcam-diff")
            .unwrap()
            .anomaly_map(&explainer, &image, stage);
        // Grad-CAM maps of |d_i| weighted by |d_i|; the image score is sum_i d_i^2.
        let by_hand = explainer.attention(&image, stage, target, &GradCam);
        assert_eq!(to_host_map(&paper.map), to_host_map(&by_hand.overall));
        let d = by_hand.normal_difference.unwrap();
        let sum: f64 = d.iter().map(|v| f64::from(*v).powi(2)).sum();
        assert!((paper.image_score - sum).abs() < 1e-9);
    }
}

fn to_host_map(map: &vaelens::map::FloatMap) -> Vec<f32> {
    map.iter().copied().collect()
}
