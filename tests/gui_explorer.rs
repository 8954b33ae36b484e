//! The explorer window driven headless with egui_kittest, on the CPU backend with a tiny model
//! made here: open the sample data, select an image, see the paper's and the default map side by
//! side, move the threshold slider, pick a latent dimension and move its slider, export an
//! overlay; and nothing a user can do panics.

mod common;

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

/// Runs frames until `done` holds (the worker answers on its own thread).
fn pump_until(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}; errors: {:?}",
            harness.state().shared.errors
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
    harness.step();
}

fn click_tab(harness: &mut Harness<'_, App>, tab: Tab) {
    harness.get_by_label(tab.title()).click();
    harness.step();
    harness.step();
    assert_eq!(harness.state().tab, tab);
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
