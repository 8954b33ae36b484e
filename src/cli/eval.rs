//! `vaelens eval`: score a model's anomaly maps (or a folder of maps) on a test set. The report's
//! folder is checked writable before any scoring.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use vaelens::data::Category;
use vaelens::eval::{
    ConstantBaseline, FOLDER_MAPS, MeanImageBaseline, Report, load_maps_dir, score_test_set,
};
use vaelens::explain::{DEFAULT_METHOD, MethodId, anomaly_methods};

use super::{BackendArg, ModelSource, progress};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// One MVTec AD category (its test/ and ground_truth/ are used).
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub model: ModelSource,
    /// Score maps made by any tool instead of a model: MAPS_DIR/<defect>/<stem>.tiff.
    #[arg(long, conflicts_with_all = ["run", "weights", "config"])]
    pub maps: Option<PathBuf>,
    /// The JSON report to write; curves go beside it as CSV.
    #[arg(long)]
    pub report: PathBuf,
    /// Encoder stage for the attention methods (default: the last).
    #[arg(long)]
    pub layer: Option<usize>,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    check_report_path(&args.report)?;
    let category = Category::discover(&args.data_dir)?;
    let (report, evaluations) = match &args.maps {
        Some(maps_dir) => {
            let tests = load_maps_dir(&category, maps_dir)?;
            Report::build(&tests, &[FOLDER_MAPS], category.notes.clone(), None)?
        }
        None => {
            let checkpoint = args.model.load()?;
            let backend = args.backend.open()?;
            let mut explainer = checkpoint.explainer(&backend.device)?;
            let mut notes = category.notes.clone();
            if explainer.stats.incomplete() {
                notes.push(super::refresh_stats(&mut explainer, &category)?);
            }
            let stage = super::stage_arg(args.layer, &explainer)?;
            let mut methods = anomaly_methods();
            let (channels, size) = (explainer.config.channels, explainer.image_size());
            match MeanImageBaseline::from_category(&category, channels, size) {
                Ok(baseline) => methods.push(Box::new(baseline)),
                Err(e) => eprintln!("note: no mean-image baseline: {e}"),
            }
            methods.push(Box::new(ConstantBaseline));
            let bar = progress::bar(category.test.len() as u64, "scoring");
            let (tests, scoring_notes) = score_test_set(
                &explainer,
                &category,
                &methods,
                stage,
                &mut |done, _| bar.set_position(done as u64),
                None,
            )?;
            bar.finish_and_clear();
            notes.extend(scoring_notes);
            let ids: Vec<MethodId> = methods.iter().map(|m| MethodId::of(m.as_ref())).collect();
            debug_assert_eq!(ids.first(), Some(&DEFAULT_METHOD));
            Report::build(&tests, &ids, notes, Some(stage))?
        }
    };
    let curves = report.write(&args.report, &evaluations)?;
    print!("{}", report.table());
    eprintln!(
        "wrote {} and {} curve file(s)",
        args.report.display(),
        curves.len()
    );
    Ok(())
}

/// Fails unless the report (and its curves beside it) can be written: its folder is created and
/// probed, and the report itself must not be a folder.
fn check_report_path(report: &Path) -> anyhow::Result<()> {
    if report.is_dir() {
        anyhow::bail!(
            "{} is a folder: give the report's file name, e.g. report.json",
            report.display()
        );
    }
    let folder = match report.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    vaelens::fsx::ensure_writable_dir(folder).context("cannot write the report")
}
