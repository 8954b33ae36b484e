//! `vaelens export`: overlay PNGs for a whole test set. The output folder is checked (writable,
//! nothing to overwrite unless asked) before any scoring.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use vaelens::data::Category;
use vaelens::eval::{Report, score_test_set};
use vaelens::explain::{DEFAULT_METHOD, MethodId, anomaly_method};
use vaelens::export::{ExportError, export_overlays, overlay_path_for};
use vaelens::render::{OverlayOptions, human32};

use super::{BackendArg, progress};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A run directory written by `vaelens train`, or a single checkpoint file such as the
    /// bundled assets/brick.safetensors.
    #[arg(long)]
    pub run: PathBuf,
    /// One MVTec AD category.
    pub data_dir: PathBuf,
    /// Output directory: <OUT>/<defect>/<stem>.png.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = DEFAULT_METHOD.as_str(), value_parser = super::method_parser())]
    pub method: String,
    /// Map value at or above which a pixel is predicted anomalous (default: the F1-max
    /// threshold on this test set, when it has ground truth).
    #[arg(long, value_parser = finite_f32)]
    pub threshold: Option<f32>,
    /// Encoder stage for the attention methods (default: the last).
    #[arg(long)]
    pub layer: Option<usize>,
    /// Replace overlays that already exist.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let category = Category::discover(&args.data_dir)?;
    if !args.overwrite
        && let Some(existing) = category
            .test
            .iter()
            .map(|t| overlay_path_for(&args.out, &t.defect, &t.path))
            .find(|p| p.exists())
    {
        return Err(would_overwrite(ExportError::WouldOverwrite {
            existing,
            out: args.out.clone(),
        }));
    }
    vaelens::fsx::ensure_writable_dir(&args.out).context("cannot write the overlays")?;
    let checkpoint = if args.run.is_file() {
        vaelens::checkpoint::Checkpoint::load_file(&args.run)?
    } else {
        vaelens::checkpoint::Checkpoint::load_run(&args.run)?
    };
    let backend = args.backend.open()?;
    let mut explainer = checkpoint.explainer(&backend.device)?;
    if explainer.stats.incomplete() {
        eprintln!("note: {}", super::refresh_stats(&mut explainer, &category)?);
    }
    let stage = super::stage_arg(args.layer, &explainer)?;
    let method = anomaly_method(&args.method).expect("clap checked the name");
    let id = MethodId::of(method.as_ref());
    let bar = progress::bar(category.test.len() as u64, "scoring");
    let (tests, notes) = score_test_set(
        &explainer,
        &category,
        std::slice::from_ref(&method),
        stage,
        &mut |done, _| bar.set_position(done as u64),
        None,
    )?;
    bar.finish_and_clear();
    for note in notes {
        eprintln!("note: {note}");
    }
    let threshold = match args.threshold {
        Some(t) => Some(t),
        None => {
            let (report, _) = Report::build(&tests, &[id], Vec::new(), None)?;
            report.overall.f1_threshold.map(|t| t as f32)
        }
    };
    match threshold {
        Some(t) => eprintln!("threshold: {}", human32(t)),
        None => eprintln!("no threshold (no ground truth): overlays show the heat map only"),
    }
    let options = OverlayOptions {
        threshold,
        ..OverlayOptions::default()
    };
    let bar = progress::bar(tests.len() as u64, "exporting");
    let written = export_overlays(
        &tests,
        id,
        &options,
        &args.out,
        args.overwrite,
        &mut |done, _| bar.set_position(done as u64),
    )
    .map_err(would_overwrite)?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} overlay(s) to {}",
        written.len(),
        args.out.display()
    );
    Ok(())
}

/// The library's error, with the flag that allows overwriting when that is what stopped it.
fn would_overwrite(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::WouldOverwrite { .. } => {
            anyhow::anyhow!("{e}; pass --overwrite to replace them")
        }
        other => other.into(),
    }
}

/// A finite number: NaN or infinity would mark every pixel or none without saying so.
fn finite_f32(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{text} is not a finite number")),
        Err(e) => Err(format!("{text}: {e}")),
    }
}
