//! The explorer window driven headless with egui_kittest, on the CPU backend with a tiny model
//! made here: open the sample data, select an image, see the paper's and the default map side by
//! side, move the threshold slider, pick a latent dimension and move its slider, export an
//! overlay; and nothing a user can do panics.

mod common;

use common::gui::{click_tab, pump_until};
use common::{sample_data, tiny_model, tiny_patch_model};

use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use vaelens::backend::BackendChoice;
use vaelens::explain::cam::{DEFAULT_CAM, cam_methods};
use vaelens::explain::methods::GradCamMu;
use vaelens::explain::{DEFAULT_METHOD, PAPER_METHOD};
use vaelens::gui::{App, GuiOptions, Tab};

fn harness(options: GuiOptions) -> Harness<'static, App> {
    Harness::builder()
        .with_size([1600.0, 1100.0])
        .build_eframe(move |cc| App::new(cc, options))
}

#[test]
fn explorer_threshold_latent_slider_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 7);
    let mut harness = harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(model),
        backend: BackendChoice::Cpu,
        tab: Tab::Anomaly,
        ..Default::default()
    });
    pump_until(
        &mut harness,
        "the data set, the model and the anomaly maps",
        |app| app.shared.data.is_some() && app.shared.scored.is_some(),
    );
    assert!(harness.state().shared.backend.contains("CPU"));

    // Select a defect image in the browser.
    let (label, path) = {
        let data = harness.state().shared.data.clone().unwrap();
        let group = data.groups.iter().find(|g| g.name == "hole").unwrap();
        let path = group.images[0].clone();
        (
            format!("hole/{}", path.file_name().unwrap().to_string_lossy()),
            path,
        )
    };
    harness.get_by_label(&label).click();
    pump_until(&mut harness, "the overlay of the selected image", |app| {
        app.shared.selected.as_ref() == Some(&path) && app.anomaly.figures().is_some()
    });

    // The paper's map (Eq. 4) and the default map side by side, each captioned; the toggle hides them.
    let paper_id = if DEFAULT_METHOD == PAPER_METHOD {
        GradCamMu::ID
    } else {
        PAPER_METHOD
    };
    let stage = harness.state().shared.scored.as_ref().unwrap().stage;
    let paper = format!("paper's map: {paper_id} (stage {stage})");
    let default = format!("default map: {DEFAULT_METHOD}");
    harness.get_by_label(&paper);
    harness.get_by_label(&default);
    harness
        .get_by_label("Compare paper's map with default")
        .click();
    harness.step();
    harness.step();
    assert!(harness.query_by_label(&paper).is_none());
    assert!(harness.query_by_label(&default).is_none());
    let before = harness.state().anomaly.figures().unwrap().predicted_pixels;

    // Move the threshold slider well away from where it is.
    let (lo, hi) = harness.state().anomaly.ranges[&harness.state().anomaly.method];
    let current = harness.state().anomaly.threshold().unwrap();
    let target = if current > 0.5 * (lo + hi) {
        lo + 0.02 * (hi - lo)
    } else {
        hi - 0.02 * (hi - lo)
    };
    harness
        .get_by_role_and_label(Role::Slider, "Threshold")
        .set_value_accesskit(f64::from(target));
    pump_until(&mut harness, "the new predicted mask", |app| {
        app.anomaly
            .figures()
            .is_some_and(|f| f.predicted_pixels != before)
    });
    let after = harness.state().anomaly.figures().unwrap().predicted_pixels;
    assert_ne!(
        before, after,
        "moving the threshold changes the predicted mask"
    );
    let now = harness.state().anomaly.threshold().unwrap();
    assert!(
        (now - target).abs() <= 1e-3 * (hi - lo),
        "threshold {now}, asked for {target} in [{lo}, {hi}]"
    );

    // Export the overlay on screen: the PNG holds exactly the CLI's rendering.
    let png = dir.path().join("out/overlay.png");
    harness.state_mut().anomaly.export_path = png.display().to_string();
    harness.get_by_label("Save this overlay (PNG)").click();
    pump_until(&mut harness, "the exported PNG", |_| png.exists());
    let written = image::open(&png).unwrap().to_rgba8();
    let expected = {
        let app = harness.state();
        let set = app.shared.scored.clone().unwrap();
        let test = set.tests.iter().find(|t| t.path == path).unwrap();
        vaelens::export::render_overlay(test, app.anomaly.method, &app.anomaly.overlay_options())
            .unwrap()
    };
    assert_eq!(written, expected);
    // A second export to the same file asks first and leaves the file alone until confirmed.
    harness.get_by_label("Save this overlay (PNG)").click();
    harness.step();
    harness.step();
    assert!(harness.state().shared.confirm.is_some());
    for _ in 0..10 {
        if harness.query_by_label("Cancel").is_some() {
            break;
        }
        harness.step();
    }
    harness.get_by_label("Cancel").click();
    harness.step();
    assert!(harness.state().shared.confirm.is_none());

    // Pick latent dimension 0 in the attention gallery, then move its slider.
    click_tab(&mut harness, Tab::Attention);
    pump_until(&mut harness, "the attention maps", |app| {
        app.shared.explained.is_some()
    });
    harness.get_by_label_contains("z0  KL").click();
    harness.step();
    assert!(harness.state().attention.picked.contains(&0));

    // The CAM rule combo offers every registered rule; picking one explains the image anew, and
    // going back is served from the worker's cache (keyed on the rule).
    let gradcam = harness.state().shared.explained.clone().unwrap();
    assert_eq!(gradcam.cam, DEFAULT_CAM);
    harness.get_by_label("CAM rule").click();
    for _ in 0..10 {
        if harness.query_by_label("layercam").is_some() {
            break;
        }
        harness.step();
    }
    for cam in cam_methods() {
        let offered = harness.query_all_by_label(cam.id()).next().is_some();
        assert!(offered, "{} is offered", cam.id());
    }
    harness.get_by_label("layercam").click();
    pump_until(&mut harness, "the LayerCAM maps", |app| {
        app.shared
            .explained
            .as_ref()
            .is_some_and(|e| e.cam == "layercam")
    });
    let layercam = harness.state().shared.explained.clone().unwrap();
    assert_eq!(layercam.path, gradcam.path);
    assert_ne!(layercam.maps.overall, gradcam.maps.overall);
    harness.state_mut().shared.cam = DEFAULT_CAM;
    pump_until(&mut harness, "the cached Grad-CAM maps", |app| {
        app.shared
            .explained
            .as_ref()
            .is_some_and(|e| e.cam == DEFAULT_CAM)
    });
    let again = harness.state().shared.explained.clone().unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&again, &gradcam),
        "served from the cache"
    );
    click_tab(&mut harness, Tab::Traversal);
    pump_until(&mut harness, "the first decoded image", |app| {
        app.traversal.decoded.is_some() && app.traversal.shown_seq == app.traversal.seq
    });
    let first = harness.state().traversal.decoded.clone().unwrap();
    let seq = harness.state().traversal.seq;
    let z0 = harness.state().traversal.z[0];
    harness
        .get_by_role_and_label(Role::Slider, "z0 (picked)")
        .set_value_accesskit(f64::from(z0 + 3.0));
    pump_until(
        &mut harness,
        "the image decoded from the moved slider",
        |app| app.traversal.seq > seq && app.traversal.shown_seq == app.traversal.seq,
    );
    assert!((harness.state().traversal.z[0] - (z0 + 3.0)).abs() < 1e-3);
    let second = harness.state().traversal.decoded.clone().unwrap();
    assert_ne!(
        first, second,
        "a different latent decodes to a different image"
    );

    // The traversal grid of the picked dimension, exported.
    harness.get_by_label("Make grid").click();
    pump_until(&mut harness, "the traversal grid", |app| {
        app.traversal.grid_image.is_some()
    });
    let grid_png = dir.path().join("out/grid.png");
    harness.state_mut().traversal.export_path = grid_png.display().to_string();
    harness.get_by_label("Export grid PNG").click();
    pump_until(&mut harness, "the grid PNG", |_| grid_png.exists());
    assert!(
        harness.state().shared.errors.is_empty(),
        "{:?}",
        harness.state().shared.errors
    );
}

#[test]
fn attention_explains_the_picked_window_of_a_patch_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(tiny_patch_model(dir.path(), 7)),
        backend: BackendChoice::Cpu,
        tab: Tab::Attention,
        ..Default::default()
    });
    pump_until(&mut harness, "the centre window's maps", |app| {
        app.shared.explained.is_some()
    });
    harness.get_by_label_contains("Click the image to explain another");
    let centre = harness.state().shared.explained.clone().unwrap();
    assert_eq!(centre.window, Some((48, 48)), "128 px in 32 px windows");
    // What a click near the top-left corner asks for (`Tiling::nearest`).
    harness.state_mut().shared.window = Some((0, 0));
    pump_until(&mut harness, "the top-left window's maps", |app| {
        app.shared
            .explained
            .as_ref()
            .is_some_and(|e| e.window == Some((0, 0)))
    });
    let corner = harness.state().shared.explained.clone().unwrap();
    assert_eq!(corner.path, centre.path);
    assert_ne!(
        corner.input, centre.input,
        "another window of the same image"
    );
    assert_ne!(corner.maps.mu, centre.maps.mu);
    // The Traversal sliders start from the picked window's latent.
    click_tab(&mut harness, Tab::Traversal);
    pump_until(&mut harness, "sliders at the window's mu", |app| {
        app.traversal.mu == corner.maps.mu
    });
    harness.state_mut().shared.window = Some((96, 96));
    pump_until(&mut harness, "sliders at the next window's mu", |app| {
        app.shared
            .explained
            .as_ref()
            .is_some_and(|e| e.window == Some((96, 96)) && app.traversal.mu == e.maps.mu)
    });
    assert!(harness.state().shared.errors.is_empty());
}

#[test]
fn user_mistakes_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 7);
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    // A plain folder (no test split) with one image the model cannot read.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let good = std::fs::read_dir(sample_data().join("train/good"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&good, plain.join("a.png")).unwrap();
    std::fs::write(plain.join("broken.png"), b"this is not a png").unwrap();

    let mut harness = harness(GuiOptions {
        data_dir: Some(empty.clone()),
        model: Some(model),
        backend: BackendChoice::Cpu,
        tab: Tab::Data,
        ..Default::default()
    });
    pump_until(&mut harness, "the empty-folder error", |app| {
        !app.shared.errors.is_empty() && app.shared.model.is_some()
    });
    assert!(harness.state().shared.data.is_none());

    // Type the plain folder's path and open it.
    harness.state_mut().data.path_text = plain.display().to_string();
    harness.get_by_label("Open").click();
    pump_until(&mut harness, "the plain folder", |app| {
        app.shared.data.is_some()
    });
    pump_until(&mut harness, "the unreadable image's error", |app| {
        app.shared.errors.iter().any(|e| e.contains("broken.png"))
    });
    for tab in Tab::ALL {
        click_tab(&mut harness, tab);
    }
    // Select the broken image: an error, no panic, and the window keeps going.
    harness.state_mut().shared.select(plain.join("broken.png"));
    let errors = harness.state().shared.errors.len();
    pump_until(&mut harness, "the explain error", |app| {
        app.shared.errors.len() > errors
    });
    harness.state_mut().shared.select(plain.join("a.png"));
    click_tab(&mut harness, Tab::Attention);
    pump_until(&mut harness, "the readable image's maps", |app| {
        app.shared.explained.is_some()
    });
    // A missing checkpoint is an error too.
    harness.state_mut().training.load_path =
        dir.path().join("nope.safetensors").display().to_string();
    click_tab(&mut harness, Tab::Training);
    let errors = harness.state().shared.errors.len();
    harness.get_by_label("Load").click();
    pump_until(&mut harness, "the missing-checkpoint error", |app| {
        app.shared.errors.len() > errors
    });
}

/// Whether some widget's label contains `text`.
fn shows(harness: &Harness<'_, App>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// A plain folder holding one readable training image.
fn plain_folder(parent: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_dir(sample_data().join("train/good"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&good, dir.join("a.png")).unwrap();
    dir
}

/// Exports, screenshots and runs default to a `vaelens/<name>/` folder beside the open data set,
/// as absolute paths, and follow the next data set opened; a path the user typed stays.
#[test]
fn output_paths_follow_the_open_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::absolute(dir.path()).unwrap();
    let first = plain_folder(&root, "first");
    let second = plain_folder(&root, "second");
    let mut harness = harness(GuiOptions {
        data_dir: Some(first),
        model: Some(tiny_model(dir.path(), 7)),
        backend: BackendChoice::Cpu,
        tab: Tab::Data,
        ..Default::default()
    });
    pump_until(&mut harness, "the first folder", |app| {
        app.shared.data.is_some()
    });
    let beside = root.join("vaelens/first");
    {
        let app = harness.state();
        assert_eq!(
            app.anomaly.export_dir,
            beside.join("exports/overlays").display().to_string()
        );
        for path in [
            &app.anomaly.export_path,
            &app.traversal.export_path,
            &app.shared.report_path,
            &app.shared.screenshot_path,
            &app.training.run_dir,
            &app.training.save_path,
        ] {
            assert!(path.starts_with(&beside.display().to_string()), "{path}");
        }
    }
    let typed = root.join("mine/grid.png").display().to_string();
    harness.state_mut().traversal.export_path = typed.clone();
    harness.state_mut().data.path_text = second.display().to_string();
    harness.get_by_label("Open").click();
    pump_until(&mut harness, "the second folder", |app| {
        app.shared
            .data
            .as_ref()
            .is_some_and(|d| d.category.root == second)
    });
    let app = harness.state();
    assert_eq!(
        app.training.run_dir,
        root.join("vaelens/second/run").display().to_string()
    );
    assert_eq!(app.traversal.export_path, typed, "a typed path stays");
}

/// Where no folder dialog can open, Browse says so and puts the cursor in the path field.
#[test]
fn browse_without_a_dialog_points_at_the_path_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(GuiOptions {
        data_dir: Some(plain_folder(dir.path(), "plain")),
        model: Some(tiny_model(dir.path(), 7)),
        backend: BackendChoice::Cpu,
        tab: Tab::Data,
        ..Default::default()
    });
    pump_until(&mut harness, "the folder", |app| app.shared.data.is_some());
    harness.state_mut().data.pick_folder = || None;
    harness.get_by_label("Browse...").click();
    pump_until(&mut harness, "the note", |app| {
        app.data.browse_note.is_some()
    });
    harness.get_by_label_contains("No folder dialog could open");
    harness.step();
    assert!(harness.get_by_label("Folder:").is_focused());
}

/// `--screenshot` waits for the panel's state or fails with the reason; it never saves a
/// half-drawn window.
#[test]
fn startup_screenshot_fails_with_a_reason_instead_of_a_half_drawn_window() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let missing = dir.path().join("missing.safetensors");
    let mut harness = harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(missing.clone()),
        backend: BackendChoice::Cpu,
        tab: Tab::Attention,
        screenshot: Some(shot.clone()),
        exit_after_screenshot: true,
        ..Default::default()
    });
    pump_until(&mut harness, "the failure", |app| {
        app.screenshot_failure().is_some()
    });
    let why = harness.state().screenshot_failure().unwrap();
    assert!(
        why.contains("could not be loaded") && why.contains("missing.safetensors"),
        "{why}"
    );
    assert!(!shot.exists());

    // Scoring takes longer than the time allowed: a failure saying what it waited for.
    let mut harness = harness_with_timeout(dir.path(), &shot);
    pump_until(&mut harness, "the timeout", |app| {
        app.screenshot_failure().is_some()
    });
    let why = harness.state().screenshot_failure().unwrap();
    assert!(why.contains("waited for"), "{why}");
    assert!(!shot.exists());
}

fn harness_with_timeout(dir: &std::path::Path, shot: &std::path::Path) -> Harness<'static, App> {
    harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(tiny_patch_model(dir, 7)),
        backend: BackendChoice::Cpu,
        tab: Tab::Anomaly,
        screenshot: Some(shot.to_path_buf()),
        exit_after_screenshot: true,
        screenshot_timeout: Some(Duration::ZERO),
        ..Default::default()
    })
}

/// Pause and Stop show at once; a paused run shows no ETA.
#[test]
fn training_shows_paused_and_stopping_at_once() {
    use vaelens::run::{EncoderChoice, RunOptions, Window};
    use vaelens::train::TrainConfig;
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(tiny_patch_model(dir.path(), 7)),
        backend: BackendChoice::Cpu,
        tab: Tab::Training,
        ..Default::default()
    });
    pump_until(&mut harness, "the data and model", |app| {
        app.shared.data.is_some() && app.shared.model.is_some()
    });
    {
        let training = &mut harness.state_mut().training;
        training.options = RunOptions {
            image_size: 32,
            window: Window::WholeImage,
            encoder: EncoderChoice::Scratch,
            latent_dim: 4,
            epochs: Some(50),
            train: TrainConfig {
                batch_size: 16,
                checkpoint_every: 1000,
                ..TrainConfig::default()
            },
            ..RunOptions::default()
        };
        training.run_dir = dir.path().join("run").display().to_string();
    }
    harness.get_by_label("Start").click();
    pump_until(&mut harness, "a few steps", |app| app.training.step > 2);
    harness.get_by_label_contains("ETA");
    let clicked = Instant::now();
    harness.get_by_label("Pause").click();
    pump_until(&mut harness, "the paused status", |app| {
        app.training.status == Some(vaelens::engine::TrainingStatus::Paused)
    });
    assert!(
        clicked.elapsed() < Duration::from_secs(1),
        "{:?}",
        clicked.elapsed()
    );
    harness.get_by_label("Status: paused");
    assert!(
        harness.query_by_label_contains("ETA").is_none(),
        "no ETA while paused"
    );
    harness.get_by_label("Resume").click();
    pump_until(&mut harness, "running again", |app| {
        app.training.status == Some(vaelens::engine::TrainingStatus::Running)
    });
    let clicked = Instant::now();
    harness.get_by_label("Stop").click();
    pump_until(&mut harness, "the stopping status", |app| {
        app.training.status == Some(vaelens::engine::TrainingStatus::Stopping)
    });
    assert!(
        clicked.elapsed() < Duration::from_secs(1),
        "{:?}",
        clicked.elapsed()
    );
    assert!(shows(&harness, "Status: stopping"));
    pump_until(&mut harness, "the end of the run", |app| {
        !app.training.is_active()
    });
}

/// A model whose latent collapsed (no active unit after its last epoch).
fn collapsed_model(dir: &std::path::Path) -> std::path::PathBuf {
    use vaelens::checkpoint::Checkpoint;
    use vaelens::train::{EpochSummary, TrainConfig, TrainState};
    let mut checkpoint = Checkpoint::load_file(&tiny_model(dir, 7)).unwrap();
    checkpoint.state = Some(TrainState {
        epochs_done: 1,
        steps_done: 5,
        config: TrainConfig::default(),
        history: vec![EpochSummary {
            epoch: 1,
            total: 1.0,
            recon: 1.0,
            kl: 0.0,
            kl_per_dim: vec![0.0; 4],
            mu_variance: vec![0.0; 4],
            active_units: 0,
            seconds: 1.0,
        }],
        data_dir: None,
        param_ids: Vec::new(),
        optimizer_crc32: None,
        batches_done: 0,
    });
    let path = dir.join("collapsed.safetensors");
    checkpoint.save_file(&path, false).unwrap();
    path
}

/// A collapsed model is flagged in the Attention and Anomaly panels; every heat map has a colour
/// bar with its scale; numbers read as numbers; controls explain themselves on hover.
#[test]
fn collapse_warnings_colour_bars_numbers_and_tooltips() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(GuiOptions {
        data_dir: Some(sample_data()),
        model: Some(collapsed_model(dir.path())),
        backend: BackendChoice::Cpu,
        tab: Tab::Attention,
        ..Default::default()
    });
    pump_until(&mut harness, "the attention maps", |app| {
        app.shared.explained.is_some()
    });
    harness.get_by_label_contains("Collapsed latent");
    harness.get_by_label_contains("overall attention colour scale");
    harness.get_by_label_contains("z0 attention colour scale");
    let label = {
        use egui_kittest::kittest::NodeT;
        let node = harness.get_by_label_contains("z0  KL");
        node.accesskit_node().label().unwrap_or_default()
    };
    assert!(!label.contains("e0") && !label.contains("e-"), "{label}");

    harness.get_by_label("Common scale").hover();
    for _ in 0..8 {
        harness.step();
    }
    harness.get_by_label_contains("One colour scale for every map");

    click_tab(&mut harness, Tab::Anomaly);
    pump_until(&mut harness, "the anomaly overlay", |app| {
        app.anomaly.figures().is_some()
    });
    harness.get_by_label_contains("Collapsed latent");
    assert!(shows(&harness, "score colour scale"));
    assert!(
        harness.query_by_label_contains("e0").is_none(),
        "no 2.5400e0-style numbers"
    );
}

/// At the default 1400 x 900 window the Attention toolbar and every gallery row wrap inside the
/// window instead of running past its right edge.
#[test]
fn attention_toolbar_and_gallery_fit_the_default_window() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 7);
    let width = 1400.0;
    let mut harness = Harness::builder()
        .with_size([width, 900.0])
        .build_eframe(move |cc| {
            App::new(
                cc,
                GuiOptions {
                    data_dir: Some(sample_data()),
                    model: Some(model),
                    backend: BackendChoice::Cpu,
                    tab: Tab::Attention,
                    ..Default::default()
                },
            )
        });
    pump_until(&mut harness, "the attention maps", |app| {
        app.shared.explained.is_some()
    });
    for label in ["Clear picks", "Tile size", "Common scale", "z3  KL"] {
        for node in harness.query_all_by_label_contains(label) {
            let right = node.rect().right();
            assert!(right <= width, "{label} ends at {right}, past {width}");
        }
    }
    // Bigger tiles still wrap.
    harness.state_mut().attention.tile = 256.0;
    harness.step();
    harness.step();
    for node in harness.query_all_by_label_contains("  KL") {
        assert!(
            node.rect().right() <= width,
            "a tile ends at {}",
            node.rect().right()
        );
    }
}
