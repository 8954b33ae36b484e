//! The command line end to end on the bundled sample data: train a few epochs, explain, eval,
//! export, and check the files and report keys; plus bad invocations giving messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vaelens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vaelens"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = vaelens(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vaelens {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failure(args: &[&str]) -> String {
    let out = vaelens(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "vaelens {args:?} should fail");
    assert!(
        !stderr.contains("panicked"),
        "vaelens {args:?} panicked:\n{stderr}"
    );
    stderr
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data/brick")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_explain_eval_export_on_sample_data() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let data = sample();
    ok(&[
        "train",
        s(&data),
        "--out",
        s(&run),
        "--epochs",
        "2",
        "--size",
        "64",
        "--patch",
        "32",
        "--latent",
        "4",
        "--backend",
        "cpu",
    ]);
    assert!(run.join("model.safetensors").is_file());
    assert!(run.join("config.json").is_file());

    // Resume to a third epoch, on the CPU alone: restoring Adam's state opens no GPU.
    let resumed = vaelens(&[
        "train",
        s(&data),
        "--out",
        s(&run),
        "--epochs",
        "3",
        "--resume",
        "--backend",
        "cpu",
    ]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    for gpu_noise in ["XDG_RUNTIME_DIR", "EGL", "wgpu"] {
        assert!(!stderr.contains(gpu_noise), "{stderr}");
    }
    let checkpoint = vaelens::checkpoint::Checkpoint::load_run(&run).unwrap();
    assert_eq!(checkpoint.state.unwrap().history.len(), 3);
    assert_eq!(
        checkpoint.config.input_size, 32,
        "a patch VAE with 32 px windows"
    );
    assert_eq!(checkpoint.tiling.map(|t| t.image_size), Some(64));

    let image = data.join("test/scratch/000.png");
    let maps = tmp.path().join("maps");
    ok(&[
        "explain",
        "--run",
        s(&run),
        s(&image),
        "--out",
        s(&maps),
        "--backend",
        "cpu",
    ]);
    let dir = maps.join("000");
    for name in [
        "dim_00.tiff",
        "dim_03.tiff",
        "overall.tiff",
        "feature-distance.tiff",
        "feature-distance_overlay.png",
    ] {
        assert!(dir.join(name).is_file(), "missing {name}");
    }
    let overall = vaelens::render::load_float_tiff(&dir.join("overall.tiff")).unwrap();
    let original = image::image_dimensions(&image).unwrap();
    assert_eq!(
        overall.dimensions(),
        original,
        "maps are at the image's own resolution"
    );
    ok(&[
        "explain",
        "--run",
        s(&run),
        s(&image),
        "--out",
        s(&maps),
        "--layer",
        "0",
        "--method",
        "gradcam-diff",
        "--backend",
        "cpu",
    ]);
    assert!(dir.join("gradcam-diff.tiff").is_file());

    let report = tmp.path().join("report.json");
    let table = ok(&[
        "eval",
        s(&data),
        "--run",
        s(&run),
        "--report",
        s(&report),
        "--backend",
        "cpu",
    ]);
    assert!(
        table.contains("gradcam-mu")
            && table.contains("recon")
            && table.contains("feature-distance"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for key in ["pixel_auroc", "au_pro", "image_auroc", "f1_max"] {
        assert!(json[key].is_number(), "top-level {key} missing: {json}");
        for method in ["gradcam-mu", "gradcam-diff", "recon", "feature-distance"] {
            assert!(json["methods"][method][key].is_number(), "{method}.{key}");
        }
        for defect in ["scratch", "stain", "foreign", "hole"] {
            assert!(
                json["per_defect"][defect][key].is_number(),
                "per_defect.{defect}.{key}"
            );
        }
    }
    assert!(json["baselines"]["baseline-mean-image"]["pixel_auroc"].is_number());
    let chance = &json["baselines"]["baseline-constant"];
    assert_eq!(
        chance["pixel_auroc"].as_f64(),
        Some(0.5),
        "a constant map is chance"
    );
    assert!(
        (chance["au_pro"].as_f64().unwrap() - 0.15).abs() < 1e-9,
        "{chance}"
    );
    assert!(tmp.path().join("report_recon_roc.csv").is_file());
    assert!(tmp.path().join("report_gradcam-diff_pro.csv").is_file());

    // Maps from "another tool": the recon maps, laid out MAPS/<defect>/<stem>.tiff.
    let foreign = tmp.path().join("foreign_maps");
    let category = vaelens::data::Category::discover(&data).unwrap();
    for test in &category.test {
        let out = foreign.join(&test.defect);
        ok(&[
            "explain",
            "--run",
            s(&run),
            s(&test.path),
            "--out",
            s(&out),
            "--method",
            "recon",
            "--backend",
            "cpu",
        ]);
        let stem = test.path.file_stem().unwrap().to_str().unwrap();
        std::fs::rename(
            out.join(stem).join("recon.tiff"),
            out.join(format!("{stem}.tiff")),
        )
        .unwrap();
        std::fs::remove_dir_all(out.join(stem)).unwrap();
    }
    let maps_report = tmp.path().join("maps.json");
    ok(&[
        "eval",
        s(&data),
        "--maps",
        s(&foreign),
        "--report",
        s(&maps_report),
    ]);
    let scored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&maps_report).unwrap()).unwrap();
    let recon_auroc = json["methods"]["recon"]["pixel_auroc"].as_f64().unwrap();
    assert!(
        (scored["pixel_auroc"].as_f64().unwrap() - recon_auroc).abs() < 1e-6,
        "scoring the written recon maps gives the recon figures"
    );

    let overlays = tmp.path().join("overlays");
    ok(&[
        "export",
        "--run",
        s(&run),
        s(&data),
        "--out",
        s(&overlays),
        "--backend",
        "cpu",
    ]);
    let png = overlays.join("hole/000.png");
    assert!(png.is_file());
    assert_eq!(
        image::image_dimensions(&png).unwrap(),
        image::image_dimensions(data.join("test/hole/000.png")).unwrap()
    );
    let refused = failure(&[
        "export",
        "--run",
        s(&run),
        s(&data),
        "--out",
        s(&overlays),
        "--backend",
        "cpu",
    ]);
    assert!(refused.contains("--overwrite"), "{refused}");
}

#[test]
fn bad_invocations_explain_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let message = failure(&[
        "train",
        s(&empty),
        "--out",
        s(&tmp.path().join("r")),
        "--epochs",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("empty"), "{message}");
    let message = failure(&[
        "explain",
        "--run",
        s(&empty),
        "x.png",
        "--out",
        s(tmp.path()),
    ]);
    assert!(message.contains("model.safetensors"), "{message}");
    let message = failure(&[
        "train",
        s(&sample()),
        "--out",
        s(&tmp.path().join("r")),
        "--size",
        "100",
        "--whole-image",
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("input_size"), "{message}");
    let message = failure(&[
        "train",
        s(&sample()),
        "--out",
        s(&tmp.path().join("r")),
        "--size",
        "64",
        "--patch",
        "128",
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("larger than the images"), "{message}");
    for (flag, value, said) in [
        ("--lr", "nan", "learning rate"),
        ("--beta", "nan", "beta"),
        ("--epochs", "0", "number of epochs"),
    ] {
        let message = failure(&[
            "train",
            s(&sample()),
            "--out",
            s(&tmp.path().join("r")),
            flag,
            value,
            "--backend",
            "cpu",
        ]);
        assert!(message.contains(said), "{flag} {value}: {message}");
    }
    // An output folder that cannot be written fails before any training work.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let message = failure(&["train", s(&sample()), "--out", s(&file), "--backend", "cpu"]);
    assert!(message.contains("cannot write the run folder"), "{message}");
    assert!(!message.contains("training on"), "{message}");
}

/// SIGTERM (what `kill` and `timeout` send) stops training with a checkpoint, as Ctrl-C does.
#[cfg(unix)]
#[test]
fn sigterm_stops_training_with_a_checkpoint() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vaelens"))
        .args([
            "train",
            s(&sample()),
            "--out",
            s(&run),
            "--size",
            "64",
            "--latent",
            "4",
            "--epochs",
            "10000",
            "--backend",
            "cpu",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !line.starts_with("epoch") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "no epoch line:\n{seen}"
        );
        seen.push_str(&line);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("stopped; checkpoint kept"), "{seen}{rest}");
    let checkpoint = vaelens::checkpoint::Checkpoint::load_run(&run).unwrap();
    assert!(checkpoint.state.unwrap().epochs_done >= 1);
}
