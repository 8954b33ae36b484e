//! `vaelens train`: load a folder, train with a progress bar, write the run directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Args;

use vaelens::checkpoint::{Checkpoint, MODEL_FILE};
use vaelens::data::Category;
use vaelens::model::ReconLoss;
use vaelens::model::pretrained::Lite0Stage;
use vaelens::run::{EncoderChoice, RunOptions, RunOutcome, Window, execute, plan_run};
use vaelens::train::{TrainConfig, TrainEvent};

use super::{BackendArg, progress};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// One MVTec AD category (train/good is used) or a plain folder of images.
    pub data_dir: PathBuf,
    /// Run directory for checkpoints (model.safetensors, config.json, optimizer.bpk).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs to train (default: about 2,400 images in all over pretrained features, 6,000 from
    /// scratch; 10 to 100 epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Latent dimensions D.
    #[arg(long, default_value_t = RunOptions::default().latent_dim)]
    pub latent: usize,
    /// Widths of the trained encoder stages, comma-separated (default: 32,64,128,128 from
    /// scratch; 64,64 after the pretrained ones).
    #[arg(long, value_delimiter = ',')]
    pub stages: Option<Vec<usize>>,
    /// Width of the fully connected hidden layer (default: 128).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Image size in pixels (images are resized to it). A multiple of 16.
    #[arg(long, default_value_t = RunOptions::default().image_size)]
    pub size: usize,
    /// Window side of the patch VAE (default: a quarter of --size): the model sees random
    /// windows of the images, and whole images are scored window by window, the windows
    /// overlapping by half. A multiple of 16.
    #[arg(long)]
    pub patch: Option<usize>,
    /// Train the paper's whole-image VAE instead of a patch VAE (the model sees the whole image
    /// at --size).
    #[arg(long, conflicts_with = "patch")]
    pub whole_image: bool,
    /// How the encoder starts: frozen ImageNet-pretrained stages (EfficientNet-Lite0, bundled)
    /// followed by trained ones, or every stage trained from scratch (the paper's setting).
    #[arg(long, value_enum, default_value_t = EncoderChoice::default())]
    pub encoder: EncoderChoice,
    /// The deepest frozen stage of the pretrained encoder (its resolution: 1/4, 1/8 or 1/16 of
    /// the input side).
    #[arg(long, value_enum, default_value_t = RunOptions::default().backbone)]
    pub backbone: Lite0Stage,
    /// Weight of the KL term.
    #[arg(long, default_value_t = TrainConfig::default().beta)]
    pub beta: f64,
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch: usize,
    #[arg(long, value_enum, default_value_t = TrainConfig::default().recon)]
    pub recon: ReconLoss,
    /// Epochs over which the KL weight ramps up from 0 to beta.
    #[arg(long, default_value_t = TrainConfig::default().kl_warmup_epochs)]
    pub kl_warmup: usize,
    /// Epochs over which the reparameterisation noise ramps up from 0 (z = mu) to full scale.
    #[arg(long, default_value_t = TrainConfig::default().noise_warmup_epochs)]
    pub noise_warmup: usize,
    /// Nats of KL per dimension that cost nothing (0: off).
    #[arg(long, default_value_t = TrainConfig::default().free_bits)]
    pub free_bits: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run in --out from its last checkpoint up to --epochs.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl TrainArgs {
    /// The run the flags ask for, on the library's defaults where a flag is not given.
    fn options(&self) -> RunOptions {
        let window = match (self.whole_image, self.patch) {
            (true, _) => Window::WholeImage,
            (false, Some(side)) => Window::Patch(side),
            (false, None) => Window::Auto,
        };
        RunOptions {
            image_size: self.size,
            window,
            encoder: self.encoder,
            backbone: self.backbone,
            latent_dim: self.latent,
            stages: self.stages.clone(),
            hidden: self.hidden,
            epochs: self.epochs,
            train: TrainConfig {
                batch_size: self.batch,
                lr: self.lr,
                beta: self.beta,
                recon: self.recon,
                kl_warmup_epochs: self.kl_warmup,
                noise_warmup_epochs: self.noise_warmup,
                free_bits: self.free_bits,
                seed: self.seed,
                ..TrainConfig::default()
            },
        }
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let category = Category::discover(&args.data_dir)?;
    for note in &category.notes {
        eprintln!("note: {note}");
    }
    let resume = if args.resume {
        Some(Checkpoint::load_run(&args.out).context("--resume needs an existing run in --out")?)
    } else {
        if args.out.join(MODEL_FILE).exists() {
            anyhow::bail!(
                "{} already holds a run; pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        None
    };
    let loading = progress::bar(category.train.len() as u64, "loading");
    let plan = plan_run(
        &category,
        &args.options(),
        &args.out,
        resume.as_ref(),
        &mut |done, _| loading.set_position(done as u64),
    )?;
    loading.finish_and_clear();
    for skipped in &plan.data.skipped {
        // The reason names the file.
        eprintln!("warning: skipped a training image: {}", skipped.reason);
    }
    eprintln!("{}", plan.describe());
    let backend = args.backend.open()?;
    let cancel = Arc::new(AtomicBool::new(false));
    let on_interrupt = cancel.clone();
    // A second Ctrl-C is not caught: the first asks for a clean stop with a checkpoint.
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let (sender, receiver) = crossbeam_channel::unbounded();
    let job = plan.job(backend, resume, &args.data_dir);
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(move || execute(job, &sender, &cancel));
        report_progress(receiver);
        worker.join().expect("the training thread does not panic")
    })?;
    match outcome {
        RunOutcome::Finished(_) => eprintln!("done: {}", args.out.display()),
        RunOutcome::Cancelled(_) => {
            eprintln!("stopped; checkpoint kept in {}", args.out.display())
        }
    }
    Ok(())
}

/// Draws the bar until the training thread hangs up, and logs each epoch.
fn report_progress(events: crossbeam_channel::Receiver<TrainEvent>) {
    let mut bar = None;
    for event in events {
        match event {
            TrainEvent::Started {
                steps_per_epoch,
                first_epoch,
                epochs,
                backend,
                ..
            } => {
                let b = progress::bar((steps_per_epoch * epochs) as u64, "training");
                b.set_position((steps_per_epoch * first_epoch) as u64);
                say(&b, format!("on {backend}"));
                bar = Some(b);
            }
            TrainEvent::Step {
                step, epoch, loss, ..
            } => {
                if let Some(b) = &bar {
                    b.set_position(step as u64);
                    b.set_message(format!(
                        "epoch {epoch} loss {:.1} (recon {:.1}, KL {:.2})",
                        loss.total, loss.recon, loss.kl
                    ));
                }
            }
            TrainEvent::Epoch(summary) => {
                let line = format!(
                    "epoch {:>3}: loss {:.2}  recon {:.2}  KL {:.3} nats  active units {}/{}  {:.1}s",
                    summary.epoch,
                    summary.total,
                    summary.recon,
                    summary.kl,
                    summary.active_units,
                    summary.kl_per_dim.len(),
                    summary.seconds
                );
                match &bar {
                    Some(b) => say(b, line),
                    None => eprintln!("{line}"),
                }
            }
            TrainEvent::Checkpoint(_) => {}
            TrainEvent::Warning(text) => eprintln!("warning: {text}"),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// A line above the bar, or on stderr when the bar is hidden (not a terminal).
fn say(bar: &indicatif::ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}
