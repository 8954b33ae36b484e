//! The speed changes keep results: the explainer tracks no parameter gradients (its decode builds
//! no autodiff graph), and scoring a test set on several threads gives the single thread's
//! results in the same order.

mod common;

use std::sync::atomic::AtomicBool;

use burn::prelude::*;
use vaelens::checkpoint::Checkpoint;
use vaelens::data::Category;
use vaelens::eval::{EvalError, ScoredTest, ScoringConfig, score_test_set_with};
use vaelens::explain::{Explainer, anomaly_methods};

#[test]
fn explainer_parameters_and_decode_are_untracked() {
    let (model, config, device) = common::tiny_vae();
    assert!(model.encoder.fc.weight.val().is_require_grad());
    let explainer = Explainer::new(model, config, common::tiny_stats(), device.clone());
    assert!(!explainer.model.encoder.fc.weight.val().is_require_grad());
    assert!(!explainer.model.decoder.proj.weight.val().is_require_grad());
    let z = Tensor::<2>::zeros([1, 3], &device);
    assert!(!explainer.model.decoder.forward(z).is_require_grad());
}

fn patch_explainer(dir: &std::path::Path) -> Explainer {
    let checkpoint = Checkpoint::load_file(&common::tiny_patch_model(dir, 3)).unwrap();
    checkpoint.explainer(&Device::flex().autodiff()).unwrap()
}

fn score(explainer: &Explainer, workers: usize) -> Vec<ScoredTest> {
    let category = Category::discover(&common::sample_data()).unwrap();
    let mut seen = Vec::new();
    let (scored, notes) = score_test_set_with(
        ScoringConfig { workers },
        explainer,
        &category,
        &anomaly_methods(),
        explainer.default_stage(),
        &mut |done, total| seen.push((done, total)),
        None,
    )
    .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let total = category.test.len();
    let expected: Vec<(usize, usize)> = (1..=total).map(|done| (done, total)).collect();
    assert_eq!(seen, expected, "progress counts every image once, in order");
    scored
}

#[test]
fn threads_score_like_one_thread_in_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let explainer = patch_explainer(dir.path());
    let serial = score(&explainer, ScoringConfig::serial().workers);
    let parallel = score(&explainer, 3);
    assert_eq!(serial.len(), parallel.len());
    for (one, many) in serial.iter().zip(&parallel) {
        assert_eq!(one.path, many.path);
        assert_eq!(one.mask, many.mask);
        assert_eq!(
            one.maps.keys().collect::<Vec<_>>(),
            many.maps.keys().collect::<Vec<_>>()
        );
        for (id, a) in &one.maps {
            let b = &many.maps[id];
            let worst = a
                .scores
                .iter()
                .zip(&b.scores)
                .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
                .fold(0.0f32, f32::max);
            assert!(worst <= 1e-5, "{id} on {}: {worst}", one.path.display());
            let score_gap = (a.image_score - b.image_score).abs() / a.image_score.abs().max(1.0);
            assert!(score_gap <= 1e-5, "{id} image score: {score_gap}");
        }
    }
}

#[test]
fn cancelled_threads_stop_with_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let explainer = patch_explainer(dir.path());
    let category = Category::discover(&common::sample_data()).unwrap();
    let cancel = AtomicBool::new(true);
    let outcome = score_test_set_with(
        ScoringConfig { workers: 2 },
        &explainer,
        &category,
        &anomaly_methods(),
        0,
        &mut |_, _| {},
        Some(&cancel),
    );
    assert!(matches!(outcome, Err(EvalError::Cancelled)));
}
