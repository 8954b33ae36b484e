//! dSprites in the explorer, headless with egui_kittest on the CPU: open the built-in gallery,
//! train AD-FactorVAE for a few steps with live curves, continue the saved run, explain a sprite
//! with one map per latent dimension, and compute (and cancel) the disentanglement figures.

mod common;

use common::gui::{click_tab, pump_until};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use vaelens::backend::BackendChoice;
use vaelens::engine::{Command, TrainingStatus};
use vaelens::eval::dsprites::DspritesEvalConfig;
use vaelens::gui::{App, GuiOptions, Tab};
use vaelens::train::dsprites::DspritesModel;

/// A few hundred images: seconds, not minutes.
fn small_evaluation() -> DspritesEvalConfig {
    let mut config = DspritesEvalConfig::default();
    config.factorvae.variance_samples = 256;
    config.factorvae.batch = 16;
    config.factorvae.train_votes = 20;
    config.factorvae.eval_votes = 10;
    config.mig.samples = 256;
    config.reconstruction_samples = 64;
    config
}

#[test]
fn dsprites_trains_explains_and_scores_in_the_explorer() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_eframe(|cc| {
            App::new(
                cc,
                GuiOptions {
                    data_dir: Some("dsprites:".into()),
                    backend: BackendChoice::Cpu,
                    tab: Tab::Training,
                    ..Default::default()
                },
            )
        });
    pump_until(&mut harness, "the dSprites gallery", |app| {
        app.shared.is_dsprites()
    });
    let data = harness.state().shared.data.clone().unwrap();
    assert_eq!(data.groups[0].images.len(), 72);
    assert!(
        harness.state().shared.model.is_none(),
        "the bundled brick model is not loaded for sprites"
    );
    harness.get_by_label("Training on dSprites");

    // A short AD-FactorVAE run, with a checkpoint half way.
    {
        let panel = &mut harness.state_mut().dsprites_training;
        assert_eq!(panel.config.model, DspritesModel::AdFactor);
        panel.config.steps = 4;
        panel.config.batch_size = 8;
        panel.config.checkpoint_every = 2;
        panel.run_dir = dir.path().join("run").display().to_string();
    }
    harness.get_by_label("Start").click();
    pump_until(&mut harness, "the run to finish", |app| {
        matches!(&app.training.status, Some(TrainingStatus::Ended(how)) if how.contains("finished"))
            && app.shared.model.is_some()
    });
    let panel = &harness.state().dsprites_training;
    // Steps 1, 2 (a checkpoint) and 4 (the last) always reach the window; step 3 when 250 ms
    // have passed.
    assert_eq!(panel.curve.last().map(|t| t.step), Some(4));
    assert!(panel.curve.len() >= 3, "{} steps shown", panel.curve.len());
    assert!(panel.checkpoints >= 2, "checkpoints {}", panel.checkpoints);
    assert!(panel.curve.iter().all(|t| t.total_correlation.is_some()
        && t.attention.is_some()
        && t.discriminator.is_some()
        && t.recon.is_finite()));
    assert!(dir.path().join("run/dsprites.json").is_file());
    let model = harness.state().shared.model.clone().unwrap();
    assert_eq!(model.config.latent_dim, 10);
    assert!(model.source.contains("AD-FactorVAE"), "{}", model.source);

    // Continue the saved run to 6 steps.
    harness.state_mut().dsprites_training.config.steps = 6;
    harness
        .get_by_label("Continue the run in the run folder")
        .click();
    harness.step();
    harness.get_by_label("Start").click();
    pump_until(
        &mut harness,
        "the continued run to finish",
        |app| matches!(&app.training.status, Some(TrainingStatus::Ended(how)) if how.contains("finished 6")),
    );
    let panel = &harness.state().dsprites_training;
    assert_eq!(panel.curve.first().map(|t| t.step), Some(5));
    assert_eq!(panel.curve.last().map(|t| t.step), Some(6));

    // One attention map per latent dimension of the first gallery sprite.
    click_tab(&mut harness, Tab::Attention);
    pump_until(&mut harness, "the attention maps", |app| {
        app.shared.explained.is_some()
    });
    let explained = harness.state().shared.explained.clone().unwrap();
    assert_eq!(explained.maps.per_dim.len(), 10);
    assert_eq!(explained.original.dimensions(), (64, 64));

    // The figures, on a small sample sent straight to the worker.
    click_tab(&mut harness, Tab::Metrics);
    harness.get_by_label("Disentanglement (dSprites)");
    harness
        .state()
        .shared
        .send(Command::EvaluateDisentanglement(small_evaluation()));
    pump_until(&mut harness, "the disentanglement figures", |app| {
        app.shared.disentanglement.is_some()
    });
    let (generation, report) = harness.state().shared.disentanglement.clone().unwrap();
    assert_eq!(generation, harness.state().shared.generation());
    assert!((0.0..=1.0).contains(&report.factorvae_score));
    assert!((0.0..=1.0).contains(&report.mig));
    assert_eq!(report.mig_per_factor.len(), 5);
    assert!(report.reconstruction > 0.0);
    harness.get_by_label("FactorVAE score");

    // The full evaluation from the button, cancelled at once.
    harness.get_by_label("Compute the figures").click();
    harness.step();
    assert!(harness.state().shared.disentangling.is_some());
    harness.get_by_label("Cancel").click();
    pump_until(&mut harness, "the cancelled evaluation to end", |app| {
        app.shared
            .message
            .as_deref()
            .is_some_and(|m| m.contains("cancelled"))
    });
    assert!(harness.state().shared.disentanglement.is_none());
    assert!(
        harness.state().shared.errors.is_empty(),
        "{:?}",
        harness.state().shared.errors
    );
}
