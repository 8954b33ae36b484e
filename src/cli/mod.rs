//! Subcommands and their arguments.

mod dsprites;
mod eval;
mod explain;
mod export;
mod progress;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use vaelens::backend::{self, Backend, BackendChoice};

#[derive(Parser, Debug)]
#[command(
    name = "vaelens",
    version,
    about = "Train VAEs and see why they encode what they encode",
    long_about = "Train VAEs and see why they encode what they encode.\n\n\
        With no subcommand, opens the explorer window: `vaelens` on the bundled sample data and \
        model, `vaelens DIR` on a data folder.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub gui: GuiArgs,
}

/// Arguments of the explorer window (no subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct GuiArgs {
    /// Data folder to open in the explorer (default: the bundled sample data); `dsprites:` opens
    /// the built-in dSprites set.
    pub data_dir: Option<PathBuf>,
    /// Checkpoint to load: a single `.safetensors` file or a run folder (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Compute device: wgpu GPU when one exists (auto), wgpu forced, or the CPU.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Panel shown first.
    #[cfg(feature = "gui")]
    #[arg(long, value_enum, default_value_t = vaelens::gui::Tab::Attention)]
    pub tab: vaelens::gui::Tab,
    /// Save a screenshot of the window to this PNG once the panel shows what it is for (maps
    /// explained, test set scored); fails (non-zero exit) when that cannot happen.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Close the window after `--screenshot` is written.
    #[arg(long, requires = "screenshot")]
    pub exit_after_screenshot: bool,
    /// Seconds the window may take to get ready for `--screenshot` before it gives up.
    #[arg(long, requires = "screenshot", default_value_t = 600)]
    pub screenshot_timeout: u64,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a VAE on a folder: one MVTec AD category or a plain folder of images.
    Train(train::TrainArgs),
    /// Write per-dimension attention maps, the overall map and an anomaly map for images.
    Explain(explain::ExplainArgs),
    /// Score anomaly maps against the ground truth of a test set and write a report.
    Eval(eval::EvalArgs),
    /// Write overlay PNGs (heat map, predicted mask, ground-truth contour) for a whole test set.
    Export(export::ExportArgs),
    /// Disentanglement on generated dSprites: train beta-VAE / FactorVAE / AD-FactorVAE, score them.
    Dsprites(dsprites::DspritesArgs),
}

/// `--backend`, shared by every command that computes.
#[derive(Args, Debug, Clone)]
pub struct BackendArg {
    /// Compute device: wgpu GPU when one exists (auto), wgpu forced, or the CPU.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

impl BackendArg {
    fn open(&self) -> anyhow::Result<Backend> {
        let backend = backend::select(self.backend)?;
        eprintln!("backend: {}", backend.description);
        Ok(backend)
    }
}

/// Where a model comes from: a vaelens run, or PyTorch weights with their config.
#[derive(Args, Debug, Clone)]
pub struct ModelSource {
    /// A run directory written by `vaelens train`, or a single checkpoint file such as the
    /// bundled assets/brick.safetensors.
    #[arg(long, conflicts_with_all = ["weights", "config"])]
    pub run: Option<PathBuf>,
    /// PyTorch weights (safetensors, docs/method.md §7 names); needs --config.
    #[arg(long, requires = "config")]
    pub weights: Option<PathBuf>,
    /// Architecture config (JSON: input_size, channels, stages, hidden, latent_dim).
    #[arg(long, requires = "weights")]
    pub config: Option<PathBuf>,
}

impl ModelSource {
    fn load(&self) -> anyhow::Result<vaelens::checkpoint::Checkpoint> {
        use vaelens::checkpoint::Checkpoint;
        match (&self.run, &self.weights, &self.config) {
            (Some(run), _, _) if !run.exists() => anyhow::bail!(
                "{} does not exist: --run takes a run folder or a .safetensors checkpoint",
                run.display()
            ),
            (Some(run), _, _) if run.is_file() => Ok(Checkpoint::load_file(run)?),
            (Some(run), _, _) => Ok(Checkpoint::load_run(run)?),
            (None, Some(weights), Some(config)) => Ok(Checkpoint::load_pytorch(weights, config)?),
            _ => anyhow::bail!("say which model to use: --run RUN_DIR, or --weights W --config C"),
        }
    }
}

impl Cli {
    /// The compute device the command asked for.
    pub fn backend_choice(&self) -> BackendChoice {
        match &self.command {
            Some(Command::Train(args)) => args.backend.backend,
            Some(Command::Explain(args)) => args.backend.backend,
            Some(Command::Eval(args)) => args.backend.backend,
            Some(Command::Export(args)) => args.backend.backend,
            Some(Command::Dsprites(args)) => args.backend().backend,
            None => self.gui.backend,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Explain(args)) => explain::run(args),
        Some(Command::Eval(args)) => eval::run(args),
        Some(Command::Export(args)) => export::run(args),
        Some(Command::Dsprites(args)) => dsprites::run(args),
        None => open_explorer(cli.gui),
    }
}

#[cfg(feature = "gui")]
fn open_explorer(gui: GuiArgs) -> anyhow::Result<()> {
    vaelens::gui::run_gui(vaelens::gui::GuiOptions {
        data_dir: gui.data_dir,
        model: gui.model,
        backend: gui.backend,
        screenshot: gui.screenshot,
        exit_after_screenshot: gui.exit_after_screenshot,
        screenshot_timeout: Some(std::time::Duration::from_secs(gui.screenshot_timeout)),
        screenshot_outcome: Default::default(),
        tab: gui.tab,
    })
}

#[cfg(not(feature = "gui"))]
fn open_explorer(_: GuiArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this vaelens was built without the explorer window (cargo feature `gui`); \
         use one of the subcommands (see --help)"
    )
}

/// Accepts the ids of the registered anomaly methods.
fn method_parser() -> clap::builder::PossibleValuesParser {
    let ids: Vec<&'static str> = vaelens::explain::anomaly_methods()
        .iter()
        .map(|m| m.id())
        .collect();
    clap::builder::PossibleValuesParser::new(ids)
}

/// The encoder stage to explain: `--layer`, checked, or the last stage.
fn stage_arg(
    layer: Option<usize>,
    explainer: &vaelens::explain::Explainer,
) -> anyhow::Result<usize> {
    let stages = explainer.config.stage_count();
    match layer {
        None => Ok(explainer.default_stage()),
        Some(k) if k < stages => Ok(k),
        Some(k) => anyhow::bail!(
            "--layer {k}: the model has {stages} encoder stages (0..{})",
            stages - 1
        ),
    }
}

/// The file name of `path` without its extension, for output names.
fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}

/// Fits what the checkpoint's statistics lack over the category's training images (PyTorch
/// weights, runs written before feature statistics or feature-knn's memory existed). Returns a
/// note saying so.
pub(crate) fn refresh_stats(
    explainer: &mut vaelens::explain::Explainer,
    category: &vaelens::data::Category,
) -> anyhow::Result<String> {
    let (channels, size) = (explainer.config.channels, explainer.image_size());
    let set =
        vaelens::data::TrainSet::load(&category.train, channels, size as u32, &mut |_, _| {})?;
    let fitted = explainer.stats.fill_missing(
        &explainer.model,
        &set,
        explainer.tiling,
        &explainer.device,
    )?;
    Ok(format!(
        "the weights lacked {}: fitted over the {} training images of {}",
        fitted.join(" and "),
        set.n,
        category.root.display()
    ))
}
