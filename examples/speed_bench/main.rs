//! Speed benchmark of the three operations that `bench/torch_baseline.py` times in PyTorch, on
//! the same model (the reference architecture of docs/method.md §1: 128 px, stages 32-64-128-256,
//! hidden 512, D = 32) and the same way (median of repeats after warm-up), so the two sets of
//! figures compare as ratios:
//! - train_img_per_s: forward + backward + Adam step at batch 32 (BCE + KL, as `train` does),
//!   and train_gflop_per_s, the same counted in floating-point operations (flops.rs);
//! - attention_ms: encoder forward and all D per-dimension Grad-CAM maps at the last stage (one
//!   backward through D copies) plus the overall map, for one image, upsampled to the input;
//! - decode_ms: one latent vector to an image (what a slider drag costs);
//! - eval_img_per_s: every anomaly method's map of one image, as `eval` computes them (normal
//!   statistics and feature-knn's memory fitted over the training batch); vaelens only, PyTorch
//!   has no counterpart.
//!
//! Run: `cargo run --example speed_bench -- [--backend cpu|wgpu] [--size 128]
//! [--channels 1] [--latent 32] [--batch 32] [--json FILE]`. On the CPU, set RAYON_NUM_THREADS
//! to the thread count given to bench/torch_baseline.py (`--threads`); bench/compare.sh runs
//! both. docs/speed.md has the measured figures.

mod flops;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use vaelens::backend::{BackendChoice, select};
use vaelens::data::TrainSet;
use vaelens::explain::cam::GradCam;
use vaelens::explain::{
    AttentionTarget, Explainer, FeatureMemory, MemoryConfig, NormalStats, anomaly_methods,
};
use vaelens::model::{ReconLoss, Vae, VaeConfig, init_weights, to_host, vae_loss};
use vaelens::train::adam::adam;

struct Args {
    backend: BackendChoice,
    size: usize,
    channels: usize,
    latent: usize,
    batch: usize,
    json: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        backend: BackendChoice::Cpu,
        size: 128,
        channels: 1,
        latent: 32,
        batch: 32,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} {value}"))
        };
        match flag.as_str() {
            "--backend" => {
                args.backend = match value.as_str() {
                    "cpu" => BackendChoice::Cpu,
                    "wgpu" => BackendChoice::Wgpu,
                    _ => bail!("--backend is cpu or wgpu, not {value}"),
                }
            }
            "--size" => args.size = number()?,
            "--channels" => args.channels = number()?,
            "--latent" => args.latent = number()?,
            "--batch" => args.batch = number()?,
            "--json" => args.json = Some(PathBuf::from(value)),
            _ => bail!("unknown option {flag}"),
        }
    }
    Ok(args)
}

/// Median seconds of `repeats` calls after `warmup` untimed ones. Every timed call ends by
/// reading a result back to the host, so asynchronous GPU work is inside the time.
fn timed(warmup: usize, repeats: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let backend = select(a.backend)?;
    let device = backend.device.clone();
    let config = VaeConfig {
        input_size: a.size,
        channels: a.channels,
        latent_dim: a.latent,
        backbone: None,
        ..VaeConfig::reference(a.channels)
    };
    let mut model = Vae::from_tensors(&config, &init_weights(&config, 0), &device)?;
    let mut optimizer = adam(0.9, 0.999);
    let mut rng = StdRng::seed_from_u64(0);
    let pixels = a.batch * a.channels * a.size * a.size;
    let x: Vec<f32> = (0..pixels).map(|_| rng.random()).collect();
    let input = Tensor::<4>::from_data(
        TensorData::new(x.clone(), [a.batch, a.channels, a.size, a.size]),
        &device,
    );

    let step_s = timed(2, 8, || {
        let eps = Tensor::<2>::random(
            [a.batch, a.latent],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let (loss, _, _) = vae_loss(&model, input.clone(), eps, ReconLoss::Bce, 1.0, 0.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-3, model.clone(), grads);
        // Reading a weight back waits for the update itself, not only the loss.
        let _ = to_host(model.encoder.mu.weight.val().slice([0..1, 0..1]));
    });

    let mut stats = NormalStats::compute(&model, std::iter::once(input));
    let batch_set = TrainSet {
        images: x,
        n: a.batch,
        channels: a.channels,
        size: a.size as u32,
        skipped: Vec::new(),
    };
    stats.memory = Some(FeatureMemory::fit(
        &batch_set,
        MemoryConfig::default(),
        &device,
    )?);
    let explainer = Explainer::new(model, config.clone(), stats, device);
    let one: Vec<f32> = (0..a.channels * a.size * a.size)
        .map(|_| rng.random())
        .collect();
    let last = config.stages.len() - 1;
    let attention_s = timed(3, 15, || {
        let maps = explainer.attention(&one, last, AttentionTarget::Mu, &GradCam);
        assert_eq!(maps.per_dim.len(), a.latent);
    });
    let z: Vec<f32> = (0..a.latent).map(|_| rng.random()).collect();
    let decode_s = timed(5, 50, || {
        assert_eq!(explainer.decode(&z).len(), 1);
    });
    let methods = anomaly_methods();
    let stage = explainer.default_stage();
    let eval_s = timed(1, 5, || {
        for method in &methods {
            let anomaly = explainer.anomaly(method.as_ref(), &one, stage);
            assert!(anomaly.image_score.is_finite());
        }
    });

    let train_flop = flops::train_step_per_image(&config).context("a scratch encoder")? as f64;
    let figures = serde_json::json!({
        "backend": backend.description,
        "size": a.size,
        "channels": a.channels,
        "latent": a.latent,
        "batch": a.batch,
        "train_img_per_s": a.batch as f64 / step_s,
        "train_gflop_per_img": train_flop / 1e9,
        "train_gflop_per_s": a.batch as f64 * train_flop / step_s / 1e9,
        "attention_ms": 1e3 * attention_s,
        "decode_ms": 1e3 * decode_s,
        "eval_img_per_s": 1.0 / eval_s,
    });
    println!("vaelens speed_bench on {}", backend.description);
    println!(
        "size {} channels {} latent {} batch {}",
        a.size, a.channels, a.latent, a.batch
    );
    println!("| figure | median |");
    println!("|---|---|");
    for (key, decimals) in [
        ("train_img_per_s", 1),
        ("train_gflop_per_s", 1),
        ("attention_ms", 2),
        ("decode_ms", 2),
        ("eval_img_per_s", 2),
    ] {
        let value = figures[key].as_f64().unwrap_or(f64::NAN);
        println!("| {key} | {value:.decimals$} |");
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&figures)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
