//! The training loop: deterministic on the CPU for a seed, cancellable with a checkpoint, and
//! stopping on NaN with the last good checkpoint intact.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use rand::{Rng, SeedableRng, rngs::StdRng};

use vaelens::backend::{BackendChoice, select};
use vaelens::checkpoint::{Checkpoint, MODEL_FILE};
use vaelens::data::TrainSet;
use vaelens::model::VaeConfig;
use vaelens::run::{RunError, RunJob, RunOutcome, execute};
use vaelens::tiling::Tiling;
use vaelens::train::{TrainConfig, TrainError, TrainEvent};

fn data() -> TrainSet {
    let mut rng = StdRng::seed_from_u64(11);
    let n = 12;
    TrainSet {
        images: (0..n * 16 * 16)
            .map(|_| rng.random_range(0.0..1.0))
            .collect(),
        n,
        channels: 1,
        size: 16,
        skipped: Vec::new(),
    }
}

fn model() -> VaeConfig {
    VaeConfig {
        input_size: 16,
        channels: 1,
        stages: vec![4, 8],
        hidden: 16,
        latent_dim: 3,
        backbone: None,
    }
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 5,
        checkpoint_every: 1,
        ..TrainConfig::default()
    }
}

fn run(
    dir: &Path,
    config: TrainConfig,
    resume: Option<Checkpoint>,
    cancel: &AtomicBool,
) -> (Result<RunOutcome, RunError>, Vec<TrainEvent>) {
    let data = data();
    let (sender, receiver) = crossbeam_channel::unbounded();
    let job = RunJob {
        data: &data,
        model: model(),
        config,
        run_dir: dir.to_path_buf(),
        backend: select(BackendChoice::Cpu).unwrap(),
        resume,
        data_dir: None,
        tiling: None,
    };
    let outcome = execute(job, &sender, cancel);
    drop(sender);
    (outcome, receiver.iter().collect())
}

#[test]
fn same_seed_same_weights_on_cpu() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let go = AtomicBool::new(false);
    let (first, events) = run(a.path(), config(2), None, &go);
    let (second, _) = run(b.path(), config(2), None, &go);
    let (RunOutcome::Finished(x), RunOutcome::Finished(y)) = (first.unwrap(), second.unwrap())
    else {
        panic!("both runs finish");
    };
    assert_eq!(x.tensors, y.tensors, "training is deterministic for a seed");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TrainEvent::Epoch(s) if s.epoch == 2))
    );
    let steps = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Step { .. }))
        .count();
    assert_eq!(steps, 2 * 3, "12 images in batches of 5: 3 steps per epoch");

    let other_seed = TrainConfig {
        seed: 1,
        ..config(2)
    };
    let (third, _) = run(tempfile::tempdir().unwrap().path(), other_seed, None, &go);
    let RunOutcome::Finished(z) = third.unwrap() else {
        panic!()
    };
    assert_ne!(x.tensors, z.tensors, "another seed gives another network");
}

#[test]
fn resuming_continues_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let go = AtomicBool::new(false);
    run(dir.path(), config(1), None, &go).0.unwrap();
    let checkpoint = Checkpoint::load_run(dir.path()).unwrap();
    assert_eq!(checkpoint.state.as_ref().unwrap().epochs_done, 1);
    let (outcome, events) = run(dir.path(), config(3), Some(checkpoint), &go);
    let RunOutcome::Finished(done) = outcome.unwrap() else {
        panic!()
    };
    let state = done.state.unwrap();
    assert_eq!(state.epochs_done, 3);
    assert_eq!(state.history.len(), 3);
    let epochs: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Epoch(s) => Some(s.epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, vec![2, 3], "only the remaining epochs run");
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let go = AtomicBool::new(false);
    let straight = tempfile::tempdir().unwrap();
    let (outcome, _) = run(straight.path(), config(3), None, &go);
    let RunOutcome::Finished(straight) = outcome.unwrap() else {
        panic!()
    };
    let split = tempfile::tempdir().unwrap();
    run(split.path(), config(1), None, &go).0.unwrap();
    assert!(split.path().join("optimizer.bpk").exists());
    let checkpoint = Checkpoint::load_run(split.path()).unwrap();
    let (outcome, events) = run(split.path(), config(3), Some(checkpoint), &go);
    let RunOutcome::Finished(resumed) = outcome.unwrap() else {
        panic!()
    };
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TrainEvent::Warning(w) if w.contains("Adam"))),
        "the optimizer's state loads"
    );
    // Same weights, data order and noise: only Adam's moments could differ, and they continue.
    assert_eq!(straight.tensors, resumed.tensors);

    // Without the optimizer's file the run still resumes, with Adam restarted.
    let restarted = tempfile::tempdir().unwrap();
    run(restarted.path(), config(1), None, &go).0.unwrap();
    std::fs::remove_file(restarted.path().join("optimizer.bpk")).unwrap();
    let checkpoint = Checkpoint::load_run(restarted.path()).unwrap();
    let (outcome, _) = run(restarted.path(), config(3), Some(checkpoint), &go);
    let RunOutcome::Finished(restarted) = outcome.unwrap() else {
        panic!()
    };
    assert_ne!(straight.tensors, restarted.tensors, "the test can tell");

    // A damaged file: the run resumes with Adam restarted and says which file it could not read.
    let damaged = tempfile::tempdir().unwrap();
    run(damaged.path(), config(1), None, &go).0.unwrap();
    std::fs::write(damaged.path().join("optimizer.bpk"), b"not burnpack").unwrap();
    let checkpoint = Checkpoint::load_run(damaged.path()).unwrap();
    let (outcome, events) = run(damaged.path(), config(2), Some(checkpoint), &go);
    assert!(matches!(outcome.unwrap(), RunOutcome::Finished(_)));
    assert!(
        events.iter().any(|e| matches!(e, TrainEvent::Warning(w)
            if w.starts_with("Adam's state restarts") && w.contains("optimizer.bpk"))),
        "a warning names the file"
    );
}

/// Trains `config` into `dir` from scratch and asks it to stop when the first checkpoint event
/// arrives. The events channel is a rendezvous and the loop looks at the flag only after a step's
/// event has been taken, so it stops right after the first step that follows the checkpoint.
fn stop_after_first_checkpoint(dir: &Path, config: TrainConfig) -> Checkpoint {
    let data = data();
    let cancel = AtomicBool::new(false);
    let (sender, receiver) = crossbeam_channel::bounded(0);
    let job = RunJob {
        data: &data,
        model: model(),
        config,
        run_dir: dir.to_path_buf(),
        backend: select(BackendChoice::Cpu).unwrap(),
        resume: None,
        data_dir: None,
        tiling: None,
    };
    let cancel = &cancel;
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(move || execute(job, &sender, cancel));
        for event in receiver.iter() {
            if matches!(event, TrainEvent::Checkpoint(_)) {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        worker.join().unwrap()
    });
    let RunOutcome::Cancelled(checkpoint) = outcome.unwrap() else {
        panic!("the run is stopped")
    };
    checkpoint
}

#[test]
fn a_run_stopped_mid_epoch_resumes_where_it_stopped() {
    let go = AtomicBool::new(false);
    let straight = tempfile::tempdir().unwrap();
    let RunOutcome::Finished(straight) = run(straight.path(), config(3), None, &go).0.unwrap()
    else {
        panic!()
    };
    // 12 images in batches of 5: 3 steps an epoch; stop after step 4, one batch into epoch 2.
    let split = tempfile::tempdir().unwrap();
    let stopped = stop_after_first_checkpoint(split.path(), config(3));
    let state = stopped.state.as_ref().unwrap();
    assert_eq!(
        (state.epochs_done, state.steps_done, state.batches_done),
        (1, 4, 1)
    );
    let checkpoint = Checkpoint::load_run(split.path()).unwrap();
    let (outcome, events) = run(split.path(), config(3), Some(checkpoint), &go);
    let RunOutcome::Finished(resumed) = outcome.unwrap() else {
        panic!()
    };
    let steps: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        (5..=9).collect::<Vec<_>>(),
        "no batch is trained twice"
    );
    assert_eq!(straight.tensors, resumed.tensors);
}

#[test]
fn weights_are_never_paired_with_another_checkpoints_optimizer_state() {
    let go = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), config(1), None, &go).0.unwrap();
    let first = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
    let checkpoint = Checkpoint::load_run(dir.path()).unwrap();
    run(dir.path(), config(2), Some(checkpoint), &go).0.unwrap();
    // As if killed between the two writes of a checkpoint: Adam's state of epoch 2 beside the
    // weights of epoch 1.
    std::fs::write(dir.path().join(MODEL_FILE), first).unwrap();
    let checkpoint = Checkpoint::load_run(dir.path()).unwrap();
    let (outcome, events) = run(dir.path(), config(3), Some(checkpoint), &go);
    assert!(matches!(outcome.unwrap(), RunOutcome::Finished(_)));
    assert!(
        events.iter().any(|e| matches!(e, TrainEvent::Warning(w)
            if w.contains("optimizer.bpk") && w.contains("another checkpoint"))),
        "the mismatch is detected and said"
    );
}

#[test]
fn a_run_clears_the_temporary_files_of_a_killed_one() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".model.safetensors.tmp-4242-0");
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    run(dir.path(), config(1), None, &AtomicBool::new(false))
        .0
        .unwrap();
    assert!(!stale.exists());
}

#[test]
fn cancelling_keeps_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(true);
    let (outcome, _) = run(dir.path(), config(5), None, &stop);
    assert!(matches!(outcome.unwrap(), RunOutcome::Cancelled(_)));
    assert!(
        Checkpoint::load_run(dir.path()).is_ok(),
        "a cancelled run leaves a loadable checkpoint"
    );
}

#[test]
fn divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let go = AtomicBool::new(false);
    run(dir.path(), config(1), None, &go).0.unwrap();
    let before = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
    let checkpoint = Checkpoint::load_run(dir.path()).unwrap();
    let wild = TrainConfig {
        lr: 1e30,
        ..config(30)
    };
    let (outcome, _) = run(dir.path(), wild, Some(checkpoint), &go);
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, RunError::Train(TrainError::Diverged { .. })),
        "{error}"
    );
    assert!(
        error.to_string().contains("last good checkpoint"),
        "{error}"
    );
    let after = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
    assert!(Checkpoint::load_run(dir.path()).is_ok());
    // The diverging run may have saved healthy epochs before the NaN, never a NaN one.
    if before != after {
        let reloaded = Checkpoint::load_run(dir.path()).unwrap();
        assert!(
            reloaded
                .tensors
                .values()
                .all(|t| t.values.iter().all(|v| v.is_finite()))
        );
    }
}

#[test]
fn a_patch_model_trains_on_windows_and_keeps_its_tiling() {
    // 12 images of 32 px, a model with 16 px input: windows every 8 px, 3 x 3 per image.
    let mut rng = StdRng::seed_from_u64(5);
    let data = TrainSet {
        images: (0..12 * 32 * 32)
            .map(|_| rng.random_range(0.0..1.0))
            .collect(),
        n: 12,
        channels: 1,
        size: 32,
        skipped: Vec::new(),
    };
    let tiling = Tiling::new(32, 16);
    let dir = tempfile::tempdir().unwrap();
    let (sender, receiver) = crossbeam_channel::unbounded();
    let job = RunJob {
        data: &data,
        model: model(),
        config: config(1),
        run_dir: dir.path().to_path_buf(),
        backend: select(BackendChoice::Cpu).unwrap(),
        resume: None,
        data_dir: None,
        tiling: Some(tiling),
    };
    let outcome = execute(job, &sender, &AtomicBool::new(false)).unwrap();
    drop(sender);
    let started = receiver.iter().find_map(|e| match e {
        TrainEvent::Started { images, .. } => Some(images),
        _ => None,
    });
    assert_eq!(
        started,
        Some(12 * 4),
        "(32 / 16)^2 = 4 random windows per image and epoch"
    );
    let RunOutcome::Finished(checkpoint) = outcome else {
        panic!("the run finishes");
    };
    let stats = checkpoint.stats.as_ref().unwrap();
    assert_eq!(stats.count, 12 * 9, "statistics over every scoring window");
    let loaded = Checkpoint::load_run(dir.path()).unwrap();
    assert_eq!(loaded.tiling, Some(tiling));
    let explainer = loaded
        .explainer(&select(BackendChoice::Cpu).unwrap().device)
        .unwrap();
    assert_eq!(explainer.image_size(), 32);
    let image: Vec<f32> = data.image(0).to_vec();
    let method = vaelens::explain::anomaly_method("recon").unwrap();
    let anomaly = explainer.anomaly(method.as_ref(), &image, 0);
    assert_eq!((anomaly.map.width(), anomaly.map.height()), (32, 32));
    assert!(anomaly.map.iter().all(|v| v.is_finite() && *v >= 0.0));
}
