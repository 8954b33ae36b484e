//! Explorer benchmark on the CPU backend at 128x128:
//! - frame time (median, p95) of the real app driven headless by egui_kittest (the app's whole
//!   `ui()` pass: events, texture updates, layout), idle and while training runs in the background;
//! - latency from a latent slider move to the decoded image arriving (median, p95), idle, while
//!   training runs and while the worker scores the test set in the background.
//!
//! Run: `cargo run --example gui_bench [-- FRAMES] [--data DIR] [--model FILE] [--latency-only]`
//! (the dev profile, which the tests build). `--data` benchmarks another category (e.g. a 1024 px
//! RGB one made by `make_sample_data`), `--model` another checkpoint; `--latency-only` skips the
//! frame times.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use vaelens::backend::BackendChoice;
use vaelens::checkpoint::Checkpoint;
use vaelens::engine::{BackendSource, Command, Engine, Event, TrainRequest};
use vaelens::gui::{App, GuiOptions, Tab};
use vaelens::model::VaeConfig;
use vaelens::run::RunOptions;

/// What the worker does while the slider moves.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Background {
    Idle,
    Training,
    Scoring,
}

impl Background {
    fn describe(self) -> &'static str {
        match self {
            Background::Idle => "idle",
            Background::Training => "training",
            Background::Scoring => "scoring",
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut frames = 300;
    let mut data = root.join("sample_data/brick");
    let mut latency_only = false;
    let mut model = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = PathBuf::from(args.next().expect("--data needs a folder")),
            "--latency-only" => latency_only = true,
            "--model" => model = Some(PathBuf::from(args.next().expect("--model needs a file"))),
            n => frames = n.parse().expect("FRAMES is a number"),
        }
    }
    println!("data: {}", data.display());
    let tmp = std::env::temp_dir().join(format!("vaelens-gui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let model = model.unwrap_or_else(|| model_128(root, &tmp));
    println!("model: {}", model.display());

    let mut rows = Vec::new();
    for training in [false, true].into_iter().filter(|_| !latency_only) {
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
            let background = if training {
                Background::Training
            } else {
                Background::Idle
            };
            rows.push((format!("frame, {name}"), background, times));
        }
    }
    for background in [Background::Idle, Background::Training, Background::Scoring] {
        let run_dir = tmp.join(format!("run-latency-{background:?}"));
        let times = decode_latency(&data, &model, background, &run_dir, 100);
        rows.push(("slider -> decoded image".into(), background, times));
    }
    println!();
    // The model printed above sets D: the bundled one (16) or an untrained default (32).
    println!("| measurement (CPU backend, 128x128) | worker | n | median ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, background, mut t) in rows {
        t.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {} | {:.2} | {:.2} | {:.2} |",
            background.describe(),
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

/// Slider-to-image latency through the worker alone: decode requests one after another, each
/// timed until its image arrives, with the worker idle, training, or scoring the test set (asked
/// again, at the other stage, each time it finishes, so it never runs out of work).
fn decode_latency(
    data: &Path,
    model: &Path,
    background: Background,
    run_dir: &Path,
    n: usize,
) -> Vec<f64> {
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::OpenData(data.to_path_buf()))
        .unwrap();
    engine
        .commands
        .send(Command::LoadModel(model.to_path_buf()))
        .unwrap();
    let mut info = None;
    while info.is_none() {
        if let Ok(Event::Model(loaded)) = engine.events.recv() {
            info = Some(loaded);
        }
    }
    let info = info.expect("loaded");
    let dims = info.config.latent_dim;
    let stages = [info.default_stage, info.default_stage.saturating_sub(1)];
    let mut scorings = 0usize;
    match background {
        Background::Idle => {}
        Background::Training => {
            engine
                .commands
                .send(Command::StartTraining(request(run_dir)))
                .unwrap();
            loop {
                if let Ok(Event::Train(vaelens::train::TrainEvent::Step { .. })) =
                    engine.events.recv()
                {
                    break;
                }
            }
        }
        Background::Scoring => {
            engine
                .commands
                .send(Command::Score { stage: stages[0] })
                .unwrap();
            loop {
                if let Ok(Event::ScoringProgress { .. }) = engine.events.recv() {
                    break;
                }
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
            match engine.events.recv() {
                Ok(Event::Decoded { seq: got, .. }) if got == seq => break,
                Ok(Event::Scored(_)) if background == Background::Scoring => {
                    scorings += 1;
                    let stage = stages[scorings % 2];
                    engine.commands.send(Command::Score { stage }).unwrap();
                }
                _ => {}
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    if background == Background::Scoring {
        println!("scoring: {scorings} full pass(es) of the test set during the decodes");
    }
    times
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
