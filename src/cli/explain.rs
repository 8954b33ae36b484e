//! `vaelens explain`: per-dimension maps, the overall map and an anomaly map for each image, as
//! 32-bit float TIFFs at the image's own resolution, plus a PNG overlay.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use vaelens::data::{load_image, to_model_input};
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
    /// Output directory: one sub-directory per image.
    #[arg(long)]
    pub out: PathBuf,
    /// Encoder stage to explain, 0-based as in `encoder.convs.{K}` (default: the last).
    #[arg(long)]
    pub layer: Option<usize>,
    /// CAM rule of the per-dimension attention maps: the paper's Grad-CAM, LayerCAM or Grad-CAM++.
    #[arg(long, default_value = DEFAULT_CAM, value_parser = cam_parser())]
    pub cam: String,
    /// Anomaly map to write beside the attention maps.
    #[arg(long, default_value = DEFAULT_METHOD.as_str(), value_parser = super::method_parser())]
    pub method: String,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let checkpoint = args.model.load()?;
    let backend = args.backend.open()?;
    let explainer = checkpoint.explainer(&backend.device)?;
    let stage = super::stage_arg(args.layer, &explainer)?;
    let method = anomaly_method(&args.method).expect("clap checked the name");
    let cam = cam_method(&args.cam).expect("clap checked the name");
    let (size, channels) = (explainer.image_size() as u32, explainer.config.channels);
    let bar = progress::bar(args.images.len() as u64, "explaining");
    for path in &args.images {
        let image = load_image(path)?;
        let (width, height) = (image.width(), image.height());
        let input = to_model_input(&image, channels, size);
        let dir = args.out.join(super::stem(path));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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

fn cam_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(cam_methods().iter().map(|c| c.id()))
}
