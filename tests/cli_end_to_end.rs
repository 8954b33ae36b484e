//! The command line end to end on the bundled sample data: train a few epochs, explain, eval,
//! export, and check the files and report keys; plus bad invocations giving messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vaelens::explain::DEFAULT_METHOD;

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
    let dir = maps.join("scratch").join("000");
    let (default_map, default_overlay) = (
        format!("{DEFAULT_METHOD}.tiff"),
        format!("{DEFAULT_METHOD}_overlay.png"),
    );
    for name in [
        "dim_00.tiff",
        "dim_03.tiff",
        "overall.tiff",
        default_map.as_str(),
        default_overlay.as_str(),
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
        "--overwrite",
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
            && table.contains("feature-distance")
            && table.contains("feature-knn"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for key in ["pixel_auroc", "au_pro", "image_auroc", "f1_max"] {
        assert!(json[key].is_number(), "top-level {key} missing: {json}");
        for method in [
            "gradcam-mu",
            "gradcam-diff",
            "recon",
            "feature-distance",
            "feature-knn",
        ] {
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
    let raw = tmp.path().join("raw_maps");
    let category = vaelens::data::Category::discover(&data).unwrap();
    let mut args = vec![
        "explain",
        "--run",
        s(&run),
        "--out",
        s(&raw),
        "--method",
        "recon",
    ];
    args.extend(["--backend", "cpu"]);
    args.extend(category.test.iter().map(|t| s(&t.path)));
    ok(&args);
    for test in &category.test {
        let stem = test.path.file_stem().unwrap().to_str().unwrap();
        std::fs::create_dir_all(foreign.join(&test.defect)).unwrap();
        std::fs::rename(
            raw.join(&test.defect).join(stem).join("recon.tiff"),
            foreign.join(&test.defect).join(format!("{stem}.tiff")),
        )
        .unwrap();
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

/// How often `path` appears in `text` (each message should name its file once).
fn mentions(text: &str, path: &Path) -> usize {
    text.matches(s(path)).count()
}

fn bundled_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/brick.safetensors")
}

/// MVTec categories repeat stems across defect folders: `explain` keeps the folder in the output
/// path, and a second run refuses to overwrite unless asked.
#[test]
fn explain_keeps_defect_folders_apart_and_never_overwrites_unasked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("maps");
    let model = bundled_model();
    let hole = sample().join("test/hole/000.png");
    let scratch = sample().join("test/scratch/000.png");
    let args = [
        "explain",
        "--run",
        s(&model),
        s(&hole),
        s(&scratch),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ];
    ok(&args);
    let read = |defect: &str| {
        vaelens::render::load_float_tiff(&out.join(defect).join("000/overall.tiff")).unwrap()
    };
    assert_ne!(
        read("hole"),
        read("scratch"),
        "two images, two sets of maps"
    );
    let refused = failure(&args);
    let first = out.join("hole/000/dim_00.tiff");
    assert!(refused.contains("--overwrite"), "{refused}");
    assert_eq!(mentions(&refused, &first), 1, "{refused}");
    assert!(
        !refused.contains("backend:"),
        "refused before any work: {refused}"
    );
    let mut again = args.to_vec();
    again.push("--overwrite");
    ok(&again);
    // One image given twice would write one folder twice.
    let twice = failure(&[
        "explain",
        "--run",
        s(&model),
        s(&hole),
        s(&hole),
        "--out",
        s(&out),
    ]);
    assert!(twice.contains("would both write"), "{twice}");
}

/// Outputs that cannot be written fail before any scoring, naming the culprit once.
#[test]
fn eval_and_export_check_their_outputs_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let model = bundled_model();
    let report = file.join("report.json");
    let message = failure(&[
        "eval",
        s(&sample()),
        "--run",
        s(&model),
        "--report",
        s(&report),
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("cannot write the report"), "{message}");
    assert!(message.contains("is a file, not a folder"), "{message}");
    assert_eq!(mentions(&message, &file), 1, "{message}");
    assert!(!message.contains("backend:"), "no work was done: {message}");

    let out = file.join("overlays");
    let message = failure(&[
        "export",
        "--run",
        s(&model),
        s(&sample()),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("cannot write the overlays"), "{message}");
    assert_eq!(mentions(&message, &file), 1, "{message}");
    assert!(!message.contains("backend:"), "no work was done: {message}");

    // Existing overlays are found before scoring too.
    let out = tmp.path().join("overlays");
    std::fs::create_dir_all(out.join("hole")).unwrap();
    std::fs::write(out.join("hole/000.png"), b"earlier").unwrap();
    let message = failure(&[
        "export",
        "--run",
        s(&model),
        s(&sample()),
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert!(message.contains("--overwrite"), "{message}");
    assert_eq!(
        mentions(&message, &out.join("hole/000.png")),
        1,
        "{message}"
    );
    assert!(!message.contains("backend:"), "no work was done: {message}");
}

/// NaN and infinity are refused where numbers come in: a flag, or a map from another tool.
#[test]
fn non_finite_thresholds_and_maps_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for value in ["nan", "inf", "-inf"] {
        let flag = format!("--threshold={value}");
        let message = failure(&[
            "export",
            "--run",
            s(&bundled_model()),
            s(&sample()),
            "--out",
            s(&tmp.path().join("o")),
            &flag,
        ]);
        assert!(
            message.contains("not a finite number"),
            "{value}: {message}"
        );
    }
    let category = vaelens::data::Category::discover(&sample()).unwrap();
    let maps = tmp.path().join("maps");
    for (n, test) in category.test.iter().enumerate() {
        let (w, h) = image::image_dimensions(&test.path).unwrap();
        let mut values = vec![0.5f32; (w * h) as usize];
        if n == 3 {
            values[7] = f32::INFINITY;
        }
        let map = vaelens::map::FloatMap::from_raw(w, h, values).unwrap();
        let stem = test.path.file_stem().unwrap().to_str().unwrap();
        let path = maps.join(&test.defect).join(format!("{stem}.tiff"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        vaelens::render::save_float_tiff_atomic(&map, &path).unwrap();
    }
    let bad = {
        let test = &category.test[3];
        let stem = test.path.file_stem().unwrap().to_str().unwrap();
        maps.join(&test.defect).join(format!("{stem}.tiff"))
    };
    let message = failure(&[
        "eval",
        s(&sample()),
        "--maps",
        s(&maps),
        "--report",
        s(&tmp.path().join("r.json")),
    ]);
    assert!(message.contains("inf"), "{message}");
    assert_eq!(mentions(&message, &bad), 1, "{message}");
}

/// A checkpoint with NaN weights or a tensor of another dtype: the message names the file, once.
#[test]
fn checkpoint_errors_name_the_file_once() {
    use vaelens::checkpoint::Checkpoint;
    let tmp = tempfile::tempdir().unwrap();
    let image = sample().join("test/hole/000.png");
    let mut checkpoint = Checkpoint::load_file(&bundled_model()).unwrap();
    checkpoint
        .tensors
        .get_mut("encoder.mu.bias")
        .unwrap()
        .values[0] = f32::NAN;
    let nan = tmp.path().join("nan.safetensors");
    checkpoint.save_file(&nan, false).unwrap();
    let message = failure(&[
        "explain",
        "--run",
        s(&nan),
        s(&image),
        "--out",
        s(tmp.path()),
    ]);
    assert!(
        message.contains("NaN") && message.contains("encoder.mu.bias"),
        "{message}"
    );
    assert_eq!(mentions(&message, &nan), 1, "{message}");

    // The same file with one tensor stored as 32-bit integers.
    let bytes = std::fs::read(&nan).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ints: Vec<u8> = [1i32, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "encoder.mu.bias")
        .collect();
    views.push((
        "encoder.mu.bias".into(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::I32, vec![2], &ints).unwrap(),
    ));
    let dtype = tmp.path().join("ints.safetensors");
    let metadata = header.metadata().clone();
    std::fs::write(&dtype, safetensors::serialize(views, metadata).unwrap()).unwrap();
    let message = failure(&[
        "explain",
        "--run",
        s(&dtype),
        s(&image),
        "--out",
        s(tmp.path()),
    ]);
    assert!(message.contains("dtype"), "{message}");
    assert_eq!(mentions(&message, &dtype), 1, "{message}");
}

/// The bundled model carries no feature-knn memory: `explain` fits it over the training images
/// of the category an MVTec test image belongs to, and says so; a loose image gets a warning.
#[test]
fn explain_fits_what_the_checkpoint_lacks_from_the_images_category() {
    let tmp = tempfile::tempdir().unwrap();
    let image = sample().join("test/hole/000.png");
    let model = bundled_model();
    let out = tmp.path().join("maps");
    let args = ["explain", "--run", s(&model), s(&image), "--out", s(&out)];
    let run = vaelens(&[&args[..], &["--backend", "cpu"]].concat());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("feature-knn's memory") && stderr.contains("80 training images"),
        "{stderr}"
    );
    let map = vaelens::render::load_float_tiff(&out.join("hole/000/feature-knn.tiff")).unwrap();
    let (lo, hi) = map
        .pixels()
        .map(|p| p.0[0])
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    assert!(hi > lo + 1e-3, "the map is flat: {lo}..{hi}");

    let loose = tmp.path().join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::copy(&image, loose.join("000.png")).unwrap();
    let loose_image = loose.join("000.png");
    let out = tmp.path().join("loose_maps");
    let args = [
        "explain",
        "--run",
        s(&model),
        s(&loose_image),
        "--out",
        s(&out),
    ];
    let run = vaelens(&[&args[..], &["--backend", "cpu"]].concat());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("will be flat") && stderr.contains("--data"),
        "{stderr}"
    );
}
