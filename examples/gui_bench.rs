//! Explorer benchmark on the CPU backend at 128x128:
//! - frame time (median, p95) of the real app driven headless by egui_kittest (the app's whole
//!   `ui()` pass: events, texture updates, layout), idle and while training runs in the background;
//! - latency from a latent slider move to the decoded image arriving (median, p95), idle and
//!   while training runs.
//!
//! Run: `cargo run --example gui_bench [-- FRAMES]` (the dev profile, which the tests build)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use vaelens::backend::BackendChoice;
use vaelens::checkpoint::Checkpoint;
use vaelens::engine::{BackendSource, Command, Engine, Event, TrainRequest};
use vaelens::gui::{App, GuiOptions, Tab};
use vaelens::model::VaeConfig;
use vaelens::run::RunOptions;

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("sample_data/brick");
    let tmp = std::env::temp_dir().join(format!("vaelens-gui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let model = model_128(root, &tmp);
    println!("model: {}", model.display());

    let mut rows = Vec::new();
    for training in [false, true] {
        let run_dir = tmp.join(format!("run-frames-{training}"));
        let cases = [
            (Tab::Attention, false, "Attention tab, steady"),
            (
                Tab::Attention,
                true,
                "Attention tab, dragging opacity (blended on the GPU)",
            ),
            (Tab::Traversal, false, "Traversal tab"),
            (Tab::Anomaly, true, "Anomaly tab, dragging threshold"),
            (Tab::Training, false, "Training tab (live curves)"),
            (Tab::Metrics, false, "Metrics tab"),
        ];
        for (tab, drag, name) in cases {
            let times = frame_times(
                &data,
                &model,
                tab,
                drag,
                training.then_some(&run_dir),
                frames,
            );
            rows.push((format!("frame, {name}"), training, times));
        }
    }
    for training in [false, true] {
        let run_dir = tmp.join(format!("run-latency-{training}"));
        let times = decode_latency(&data, &model, training.then_some(&run_dir), 100);
        rows.push(("slider -> decoded image".into(), training, times));
    }
    println!();
    // The model printed above sets D: the bundled one (16) or an untrained default (32).
    println!("| measurement (CPU backend, 128x128) | training | n | median ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, training, mut t) in rows {
        t.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {} | {:.2} | {:.2} | {:.2} |",
            if training { "running" } else { "idle" },
            t.len(),
            pct(&t, 0.5),
            pct(&t, 0.95),
            t.last().copied().unwrap_or(f64::NAN)
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The bundled model if present, else a freshly initialised default model (same cost).
fn model_128(root: &Path, tmp: &Path) -> PathBuf {
    let bundled = root.join("assets/brick.safetensors");
    if bundled.exists() {
        return bundled;
    }
    let config = VaeConfig::default_for(1, 128, 32);
    let path = tmp.join("init.safetensors");
    Checkpoint::untrained(config, 0)
        .save_file(&path, false)
        .unwrap();
    path
}

fn request(run_dir: &Path) -> TrainRequest {
    TrainRequest {
        options: RunOptions {
            epochs: Some(1000),
            latent_dim: 32,
            ..RunOptions::default()
        },
        run_dir: run_dir.to_path_buf(),
        resume: false,
    }
}

fn frame_times(
    data: &Path,
    model: &Path,
    tab: Tab,
    drag: bool,
    training: Option<&PathBuf>,
    frames: usize,
) -> Vec<f64> {
    let options = GuiOptions {
        data_dir: Some(data.to_path_buf()),
        model: Some(model.to_path_buf()),
        backend: BackendChoice::Cpu,
        tab,
        ..Default::default()
    };
    let mut harness: Harness<'_, App> = Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_eframe(move |cc| App::new(cc, options));
    let deadline = Instant::now() + Duration::from_secs(600);
    while !(harness.state().shared.explained.is_some() && harness.state().shared.scored.is_some()) {
        assert!(Instant::now() < deadline, "the app did not get ready");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Some(run_dir) = training {
        harness
            .state()
            .send(Command::StartTraining(request(run_dir)));
        while harness.state().training.step == 0 {
            harness.step();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Warm-up, then measure; with `drag`, the threshold (Anomaly) or the opacity (Attention)
    // changes every frame, so textures are re-rendered as when a user drags a slider.
    for _ in 0..10 {
        harness.step();
    }
    let mut times = Vec::with_capacity(frames);
    for k in 0..frames {
        if drag {
            let app = harness.state_mut();
            match tab {
                Tab::Anomaly => {
                    if let Some(&(lo, hi)) = app.anomaly.ranges.get(&app.anomaly.method) {
                        let t = lo + (hi - lo) * (k % 50) as f32 / 50.0;
                        app.anomaly.set_threshold(t);
                    }
                }
                Tab::Attention => app.attention.opacity = 0.3 + 0.4 * ((k % 2) as f32),
                _ => {}
            }
        }
        let start = Instant::now();
        harness.step();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(4));
    }
    harness.state().send(Command::StopTraining);
    times
}

fn decode_latency(data: &Path, model: &Path, training: Option<&PathBuf>, n: usize) -> Vec<f64> {
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::OpenData(data.to_path_buf()))
        .unwrap();
    engine
        .commands
        .send(Command::LoadModel(model.to_path_buf()))
        .unwrap();
    let mut dims = 0;
    while dims == 0 {
        if let Ok(Event::Model(info)) = engine.events.recv() {
            dims = info.config.latent_dim;
        }
    }
    if let Some(run_dir) = training {
        engine
            .commands
            .send(Command::StartTraining(request(run_dir)))
            .unwrap();
        loop {
            if let Ok(Event::Train(vaelens::train::TrainEvent::Step { .. })) = engine.events.recv()
            {
                break;
            }
        }
    }
    let mut times = Vec::with_capacity(n);
    for seq in 1..=n as u64 {
        let latent: Vec<f32> = (0..dims)
            .map(|i| ((seq as usize + i) % 7) as f32 * 0.3 - 1.0)
            .collect();
        let start = Instant::now();
        engine
            .commands
            .send(Command::Decode { seq, latent })
            .unwrap();
        loop {
            if let Ok(Event::Decoded { seq: got, .. }) = engine.events.recv()
                && got == seq
            {
                break;
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    times
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
