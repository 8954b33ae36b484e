//! `vaelens dsprites train|eval`: disentanglement on generated dSprites (docs/dsprites.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Args, Subcommand};

use vaelens::checkpoint::Checkpoint;
use vaelens::eval::dsprites::{DspritesEvalConfig, evaluate_dsprites, write_traversal_grid};
use vaelens::train::dsprites::{
    DspritesModel, DspritesResume, DspritesRun, DspritesTrainConfig, StepReport, train_dsprites,
};

use super::{BackendArg, progress};

/// The traversal grid's file name in a run folder.
const TRAVERSAL_FILE: &str = "traversal.png";
/// Steps between two progress lines when stderr is not a terminal.
const LOG_EVERY: usize = 50;

#[derive(Args, Debug)]
pub struct DspritesArgs {
    #[command(subcommand)]
    pub command: DspritesCommand,
}

#[derive(Subcommand, Debug)]
pub enum DspritesCommand {
    /// Train beta-VAE, FactorVAE or AD-FactorVAE on dSprites rendered on the fly.
    Train(DspritesTrainArgs),
    /// FactorVAE score, MIG, reconstruction error and active units of a trained run.
    Eval(DspritesEvalArgs),
}

/// The flags that set what a run trains, which a resumed run takes from its `dsprites.json`.
const RUN_SETTINGS: [&str; 7] = ["model", "beta", "gamma", "lambda", "lr", "batch", "seed"];

#[derive(Args, Debug)]
pub struct DspritesTrainArgs {
    #[arg(long, value_enum, required_unless_present = "resume")]
    pub model: Option<DspritesModel>,
    /// Training steps (batches); with --resume, the new budget (default: the run's own).
    #[arg(long, required_unless_present = "resume")]
    pub steps: Option<usize>,
    /// Run folder: model.safetensors, config.json, dsprites.json, traversal.png, and the
    /// discriminator's and optimizers' state.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out where it stopped, with its own settings (only --steps may change).
    #[arg(long, conflicts_with_all = RUN_SETTINGS)]
    pub resume: bool,
    /// KL weight (default 4 for beta-VAE, 1 for the FactorVAEs).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Total-correlation weight (FactorVAE, AD-FactorVAE).
    #[arg(long, default_value_t = 40.0)]
    pub gamma: f64,
    /// Weight of the attention disentanglement loss (AD-FactorVAE).
    #[arg(long, default_value_t = 40.0)]
    pub lambda: f64,
    /// The VAE's learning rate.
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub backend: BackendArg,
}

#[derive(Args, Debug)]
pub struct DspritesEvalArgs {
    /// A run folder written by `vaelens dsprites train`.
    pub run: PathBuf,
    /// Where to write the report (JSON).
    #[arg(long)]
    pub report: PathBuf,
    /// Votes that train the FactorVAE-score classifier (half as many score it).
    #[arg(long, default_value_t = 800)]
    pub votes: usize,
    /// Images for the dimension spreads, MIG and the reconstruction error.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl DspritesArgs {
    pub fn backend(&self) -> &BackendArg {
        match &self.command {
            DspritesCommand::Train(args) => &args.backend,
            DspritesCommand::Eval(args) => &args.backend,
        }
    }
}

pub fn run(args: DspritesArgs) -> anyhow::Result<()> {
    match args.command {
        DspritesCommand::Train(args) => train(args),
        DspritesCommand::Eval(args) => eval(args),
    }
}

fn train(args: DspritesTrainArgs) -> anyhow::Result<()> {
    let backend = args.backend.open()?;
    let (config, resume) = if args.resume {
        let resume = DspritesResume::load(&args.out, &backend.device)?;
        let mut config = resume.config().clone();
        config.steps = args.steps.unwrap_or(config.steps);
        if config.steps <= resume.steps_done() {
            anyhow::bail!(
                "{} has done {} steps of its budget of {}: give --steps above {} to train on",
                args.out.display(),
                resume.steps_done(),
                resume.config().steps,
                resume.steps_done()
            );
        }
        for warning in resume.warnings() {
            eprintln!("warning: {warning}");
        }
        (config, Some(resume))
    } else {
        (new_config(&args)?, None)
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the run folder {}", args.out.display()))?;
    let cancel = Arc::new(AtomicBool::new(false));
    let on_interrupt = cancel.clone();
    // A second Ctrl-C is not caught: the first asks for a clean stop with a checkpoint.
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let bar = progress::bar(config.steps as u64, "training");
    if let Some(resume) = &resume {
        bar.set_position(resume.steps_done() as u64);
    }
    let on_step = &mut |report: &StepReport| {
        let t = &report.terms;
        let mut message = format!("recon {:.1} kl {:.2}", t.recon, t.kl);
        if let Some(tc) = t.total_correlation {
            message.push_str(&format!(" tc {tc:.3}"));
        }
        if let Some(l_ad) = t.attention {
            message.push_str(&format!(" L_AD {l_ad:.3}"));
        }
        message.push_str(&format!(" {:.2} steps/s", report.steps_per_second));
        // Without a terminal the bar is hidden: a line every LOG_EVERY steps instead.
        if bar.is_hidden() && (t.step == 1 || t.step.is_multiple_of(LOG_EVERY)) {
            eprintln!(
                "step {}/{}: loss {:.1} {message}",
                t.step, report.steps, t.loss
            );
        }
        bar.set_position(t.step as u64);
        bar.set_message(message);
    };
    let (model, record) = train_dsprites(&config, &args.out, resume, &backend, &cancel, on_step)?;
    bar.finish();
    write_grid(&model, &backend.device, &args.out)?;
    eprintln!(
        "{} steps in {:.0} s; run in {}",
        record.steps_done,
        record.seconds,
        args.out.display()
    );
    Ok(())
}

/// A new run's config from the flags (clap has made --model and --steps present).
fn new_config(args: &DspritesTrainArgs) -> anyhow::Result<DspritesTrainConfig> {
    let (Some(model), Some(steps)) = (args.model, args.steps) else {
        anyhow::bail!(
            "--model and --steps are needed to start a run (or --resume to continue one)"
        );
    };
    let mut config = DspritesTrainConfig::new(model, steps);
    if let Some(beta) = args.beta {
        config.beta = beta;
    }
    config.gamma = args.gamma;
    config.lambda = args.lambda;
    config.lr = args.lr;
    config.batch_size = args.batch;
    config.seed = args.seed;
    Ok(config)
}

fn eval(args: DspritesEvalArgs) -> anyhow::Result<()> {
    let backend = args.backend.open()?;
    let record = DspritesRun::load(&args.run)?;
    // Scoring needs no gradients, and forward passes on an autodiff device keep their graphs
    // (an evaluation grew to 13 GB and was killed).
    let device = backend.device.clone().without_autodiff();
    let model = Checkpoint::load_run(&args.run)?.build(&device)?;
    let mut config = DspritesEvalConfig {
        seed: args.seed,
        ..Default::default()
    };
    config.factorvae.train_votes = args.votes;
    config.factorvae.eval_votes = args.votes.div_ceil(2);
    config.factorvae.variance_samples = args.samples;
    config.mig.samples = args.samples;
    config.reconstruction_samples = args.samples.min(config.reconstruction_samples);
    let bar = progress::bar(config.total_images() as u64, "encoding");
    let report = evaluate_dsprites(&model, &device, &config, &mut |done, _| {
        bar.set_position(done as u64);
        true
    })
    .ok_or_else(|| anyhow::anyhow!("the evaluation stopped before it finished"))?;
    bar.finish_and_clear();
    let mut json = serde_json::to_value(&report)?;
    json["model"] = serde_json::to_value(record.config.model)?;
    json["steps"] = record.steps_done.into();
    json["train_seed"] = record.config.seed.into();
    let bytes = serde_json::to_vec_pretty(&json)?;
    vaelens::fsx::write_bytes_atomic(&args.report, &bytes)?;
    write_grid(&model, &device, &args.run)?;
    println!(
        "FactorVAE score {:.3}, MIG {:.3}, reconstruction {:.1} nats, {} active units",
        report.factorvae_score, report.mig, report.reconstruction, report.active_units
    );
    Ok(())
}

fn write_grid(
    model: &vaelens::model::Vae,
    device: &burn::tensor::Device,
    run: &Path,
) -> anyhow::Result<()> {
    let path = run.join(TRAVERSAL_FILE);
    write_traversal_grid(model, device, &path)
        .with_context(|| format!("cannot write the traversal grid {}", path.display()))
}
