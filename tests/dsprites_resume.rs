//! `vaelens dsprites train --resume`: a run stopped and resumed ends with the weights of an
//! uninterrupted one (VAE and discriminator), whether it stopped at its budget or was cancelled;
//! damaged files and conflicting flags are reported.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};

use vaelens::backend::{BackendChoice, select};
use vaelens::checkpoint::MODEL_FILE;
use vaelens::model::{NamedTensors, read_safetensors};
use vaelens::train::dsprites::{
    DISCRIMINATOR_FILE, DspritesModel, DspritesResume, DspritesTrainConfig, train_dsprites,
};

fn vaelens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vaelens"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs `vaelens dsprites train` on the CPU with batches of 8; returns stderr.
fn train(run: &Path, extra: &[&str]) -> String {
    let mut args = vec!["dsprites", "train", "--out", s(run), "--backend", "cpu"];
    args.extend(extra);
    let out = vaelens(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "vaelens {args:?} failed:\n{stderr}");
    stderr
}

/// Runs `vaelens dsprites train` expecting a refusal; returns stderr.
fn refused(run: &Path, extra: &[&str]) -> String {
    let mut args = vec!["dsprites", "train", "--out", s(run), "--backend", "cpu"];
    args.extend(extra);
    let out = vaelens(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "vaelens {args:?} should fail");
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn weights(path: &Path) -> NamedTensors {
    read_safetensors(path).expect("a weights file").0
}

/// Asserts that two weight files hold the same tensors to 1e-6.
fn assert_same_weights(a: &Path, b: &Path) {
    let (a_tensors, b_tensors) = (weights(a), weights(b));
    assert_eq!(
        a_tensors.keys().collect::<Vec<_>>(),
        b_tensors.keys().collect::<Vec<_>>()
    );
    for (name, a_tensor) in &a_tensors {
        let b_tensor = &b_tensors[name];
        assert_eq!(a_tensor.shape, b_tensor.shape, "{name}");
        let worst = a_tensor
            .values
            .iter()
            .zip(&b_tensor.values)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "{name} differs by {worst} between {a:?} and {b:?}"
        );
    }
}

fn steps_done(run: &Path) -> u64 {
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("dsprites.json")).unwrap()).unwrap();
    record["steps_done"].as_u64().unwrap()
}

#[test]
fn three_steps_and_a_resume_equal_six_steps_for_both_factor_vaes() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["factor", "ad-factor"] {
        let settings = ["--model", model, "--batch", "8", "--seed", "3"];
        let straight = dir.path().join(format!("{model}-straight"));
        train(&straight, &[&settings[..], &["--steps", "6"]].concat());
        let resumed = dir.path().join(format!("{model}-resumed"));
        train(&resumed, &[&settings[..], &["--steps", "3"]].concat());
        let before = weights(&resumed.join(MODEL_FILE));
        let stderr = train(&resumed, &["--resume", "--steps", "6"]);
        assert!(!stderr.contains("warning"), "{stderr}");
        assert_eq!(steps_done(&resumed), 6);
        assert_ne!(
            weights(&resumed.join(MODEL_FILE)),
            before,
            "{model} trained on"
        );
        for file in [MODEL_FILE, DISCRIMINATOR_FILE] {
            assert_same_weights(&straight.join(file), &resumed.join(file));
        }
    }
}

#[test]
fn a_cancelled_run_resumes_to_the_uninterrupted_weights() {
    let backend = select(BackendChoice::Cpu).unwrap();
    let mut config = DspritesTrainConfig::new(DspritesModel::Factor, 5);
    config.batch_size = 8;
    let dir = tempfile::tempdir().unwrap();
    let never = AtomicBool::new(false);
    let straight = dir.path().join("straight");
    train_dsprites(&config, &straight, None, &backend, &never, &mut |_| {}).unwrap();

    // Ctrl-C while step 2 is reported: the loop saves and stops after the next step.
    let stopped = dir.path().join("stopped");
    let cancel = AtomicBool::new(false);
    let (_, record) = train_dsprites(&config, &stopped, None, &backend, &cancel, &mut |report| {
        if report.terms.step == 2 {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert_eq!(record.steps_done, 3);
    let resume = DspritesResume::load(&stopped, &backend.device).unwrap();
    assert!(resume.warnings().is_empty(), "{:?}", resume.warnings());
    assert_eq!(resume.steps_done(), 3);
    let (_, record) = train_dsprites(
        &config,
        &stopped,
        Some(resume),
        &backend,
        &never,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(record.steps_done, 5);
    for file in [MODEL_FILE, DISCRIMINATOR_FILE] {
        assert_same_weights(&straight.join(file), &stopped.join(file));
    }

    // A resume with other settings than the run's is refused, naming them.
    let resume = DspritesResume::load(&stopped, &backend.device).unwrap();
    let other = DspritesTrainConfig {
        gamma: 10.0,
        steps: 8,
        ..config.clone()
    };
    let refusal = train_dsprites(
        &other,
        &stopped,
        Some(resume),
        &backend,
        &never,
        &mut |_| {},
    )
    .expect_err("refused")
    .to_string();
    assert!(refusal.contains("gamma"), "{refusal}");
}

#[test]
fn damaged_files_and_conflicting_flags_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("beta");
    train(&run, &["--model", "beta", "--steps", "2", "--batch", "8"]);

    let stderr = refused(&run, &["--resume", "--model", "factor"]);
    assert!(stderr.contains("--model"), "{stderr}");
    let stderr = refused(&run, &["--resume"]);
    assert!(stderr.contains("give --steps above 2"), "{stderr}");

    // A damaged optimizer file: Adam restarts, and the warning names the file.
    std::fs::write(run.join("optimizer.bpk"), b"not burnpack").unwrap();
    let stderr = train(&run, &["--resume", "--steps", "3"]);
    assert!(
        stderr.contains("warning") && stderr.contains("optimizer.bpk"),
        "{stderr}"
    );
    assert_eq!(steps_done(&run), 3);

    // Weights that are not the ones dsprites.json records cannot be resumed.
    let other = dir.path().join("other");
    train(&other, &["--model", "beta", "--steps", "1", "--batch", "8"]);
    std::fs::copy(other.join(MODEL_FILE), run.join(MODEL_FILE)).unwrap();
    let stderr = refused(&run, &["--resume", "--steps", "4"]);
    assert!(
        stderr.contains("model.safetensors cannot be resumed"),
        "{stderr}"
    );

    // A record written before runs could resume holds no saved state.
    let record_path = other.join("dsprites.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    assert!(record["saved"].is_object(), "{record}");
    record.as_object_mut().unwrap().remove("saved");
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    let stderr = refused(&other, &["--resume", "--steps", "2"]);
    assert!(stderr.contains("records no optimizer state"), "{stderr}");
}
