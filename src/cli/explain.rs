//! `vaelens explain`: per-dimension maps, the overall map and an anomaly map for each image, as
//! 32-bit float TIFFs at the image's own resolution, plus a PNG overlay, in
//! `OUT/<the image's folder>/<stem>/` (MVTec categories repeat stems across defect folders).
//! Nothing is overwritten without `--overwrite`; every check happens before any work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use vaelens::data::{Category, load_image, to_model_input};
use vaelens::explain::cam::{DEFAULT_CAM, cam_method, cam_methods};
use vaelens::explain::{AttentionTarget, DEFAULT_METHOD, anomaly_method};
use vaelens::map::resize_bilinear;
use vaelens::render::{self, OverlayOptions};

use super::{BackendArg, ModelSource, progress};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelSource,
    /// Images to explain.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Output directory: one sub-directory per image, OUT/<its folder>/<stem>/ (e.g.
    /// OUT/hole/000/ for test/hole/000.png).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace maps that already exist.
    #[arg(long)]
    pub overwrite: bool,
    /// Encoder stage to explain, 0-based as in `encoder.convs.{K}` (default: the last).
    #[arg(long)]
    pub layer: Option<usize>,
    /// CAM rule of the per-dimension attention maps: the paper's Grad-CAM, LayerCAM or Grad-CAM++.
    #[arg(long, default_value = DEFAULT_CAM, value_parser = cam_parser())]
    pub cam: String,
    /// Data set whose training images fit what the checkpoint lacks (feature-knn's memory, the
    /// feature Gaussians), e.g. for the bundled model. Default: the MVTec category of the first
    /// image (CATEGORY/test/<kind>/<image>), when it has a train folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Anomaly map to write beside the attention maps.
    #[arg(long, default_value = DEFAULT_METHOD.as_str(), value_parser = super::method_parser())]
    pub method: String,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let checkpoint = args.model.load()?;
    let method = anomaly_method(&args.method).expect("clap checked the name");
    let dirs = output_dirs(&args.out, &args.images)?;
    let names = file_names(checkpoint.config.latent_dim, method.id());
    if !args.overwrite
        && let Some(existing) = dirs
            .iter()
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|file| file.exists())
    {
        anyhow::bail!(
            "{} already exists; pass --overwrite to replace it (nothing was written)",
            existing.display()
        );
    }
    vaelens::fsx::ensure_writable_dir(&args.out).context("cannot write the maps")?;
    let backend = args.backend.open()?;
    let mut explainer = checkpoint.explainer(&backend.device)?;
    if explainer.stats.incomplete() {
        match args.data.clone().or_else(|| category_of(&args.images[0])) {
            Some(dir) => {
                let category = Category::discover(&dir)?;
                eprintln!("note: {}", super::refresh_stats(&mut explainer, &category)?);
            }
            None => eprintln!(
                "warning: the checkpoint has no feature statistics or feature-knn memory and no \
                 training images were found to fit them: feature-knn and feature-distance maps \
                 will be flat; pass --data <CATEGORY_DIR>"
            ),
        }
    }
    let stage = super::stage_arg(args.layer, &explainer)?;
    let cam = cam_method(&args.cam).expect("clap checked the name");
    let (size, channels) = (explainer.image_size() as u32, explainer.config.channels);
    let bar = progress::bar(args.images.len() as u64, "explaining");
    for (path, dir) in args.images.iter().zip(&dirs) {
        let image = load_image(path)?;
        let (width, height) = (image.width(), image.height());
        let input = to_model_input(&image, channels, size);
        vaelens::fsx::ensure_writable_dir(dir)?;
        let attention =
            explainer.attention_of_image(&input, stage, AttentionTarget::Mu, cam.as_ref());
        for (i, map) in attention.per_dim.iter().enumerate() {
            let full = resize_bilinear(map, width, height);
            render::save_float_tiff_atomic(&full, &dir.join(format!("dim_{i:02}.tiff")))?;
        }
        let overall = resize_bilinear(&attention.overall, width, height);
        render::save_float_tiff_atomic(&overall, &dir.join("overall.tiff"))?;
        let anomaly = explainer.anomaly(method.as_ref(), &input, stage);
        let full = resize_bilinear(&anomaly.map, width, height);
        render::save_float_tiff_atomic(&full, &dir.join(format!("{}.tiff", method.id())))?;
        let overlay = render::anomaly_overlay(
            &render::to_rgba(&image),
            &full,
            &OverlayOptions::default(),
            None,
        );
        render::save_png_atomic(&overlay, &dir.join(format!("{}_overlay.png", method.id())))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "wrote maps of {} image(s) at stage {stage} to {}",
        args.images.len(),
        args.out.display()
    );
    Ok(())
}

/// The category folder of an MVTec test image, CATEGORY/test/<kind>/<image>, if it has a train
/// folder.
fn category_of(image: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(image).ok()?;
    let test = absolute.parent()?.parent()?;
    let root = test.parent()?;
    (test.file_name()? == "test" && root.join("train").is_dir()).then(|| root.to_path_buf())
}

/// The folder of each image's maps: `out/<the image's folder>/<stem>`; an error names two images
/// that would share one.
fn output_dirs(out: &Path, images: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut owners: BTreeMap<PathBuf, &Path> = BTreeMap::new();
    let mut dirs = Vec::with_capacity(images.len());
    for image in images {
        let absolute = std::path::absolute(image).unwrap_or_else(|_| image.clone());
        let folder = absolute.parent().and_then(Path::file_name);
        let dir = match folder {
            Some(folder) => out.join(folder).join(super::stem(image)),
            None => out.join(super::stem(image)),
        };
        if let Some(first) = owners.insert(dir.clone(), image) {
            anyhow::bail!(
                "{} and {} would both write their maps to {}: explain them with different --out",
                first.display(),
                image.display(),
                dir.display()
            );
        }
        dirs.push(dir);
    }
    Ok(dirs)
}

/// The files written per image for a latent of `dims` dimensions and anomaly method `method`.
fn file_names(dims: usize, method: &str) -> Vec<String> {
    let mut names: Vec<String> = (0..dims).map(|i| format!("dim_{i:02}.tiff")).collect();
    names.push("overall.tiff".into());
    names.push(format!("{method}.tiff"));
    names.push(format!("{method}_overlay.png"));
    names
}

fn cam_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(cam_methods().iter().map(|c| c.id()))
}
