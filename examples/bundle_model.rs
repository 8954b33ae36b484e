//! Packs a training run (or a checkpoint file) into the single-file, half-precision checkpoint
//! that ships in assets/, optionally taking its normal statistics anew over a category's
//! training images (after a change to what the statistics hold). feature-knn's memory is left
//! out (the explorer fits it when it opens the model).
//!
//!     cargo run --example bundle_model -- <RUN_DIR | IN.safetensors> assets/brick.safetensors
//!         [--stats-from sample_data/brick]

use std::path::PathBuf;

use vaelens::backend::{BackendChoice, select};
use vaelens::checkpoint::Checkpoint;
use vaelens::data::{Category, TrainSet};
use vaelens::explain::NormalStats;

const USAGE: &str =
    "usage: bundle_model <RUN_DIR | IN.safetensors> <OUT.safetensors> [--stats-from DATA_DIR]";

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (input, out, stats_from) = match args.as_slice() {
        [input, out] => (input, out, None),
        [input, out, flag, data] if flag.as_os_str() == "--stats-from" => (input, out, Some(data)),
        _ => anyhow::bail!(USAGE),
    };
    let mut checkpoint = if input.is_file() {
        Checkpoint::load_file(input)?
    } else {
        Checkpoint::load_run(input)?
    };
    if let Some(data) = stats_from {
        let category = Category::discover(data)?;
        let config = &checkpoint.config;
        let image_size = checkpoint
            .tiling
            .map_or(config.input_size, |t| t.image_size);
        let set = TrainSet::load(
            &category.train,
            config.channels,
            image_size as u32,
            &mut |_, _| {},
        )?;
        let device = select(BackendChoice::Cpu)?.device;
        let model = checkpoint.build(&device)?;
        checkpoint.stats = Some(NormalStats::of_train_set(
            &model,
            &set,
            checkpoint.tiling,
            &device,
        ));
        println!(
            "normal statistics taken over {} images of {}",
            set.n,
            data.display()
        );
    }
    // feature-knn's memory (6.6 MB for brick) stays out of the repository: the explorer fits it
    // over the sample data's training images when it opens the bundled model.
    if let Some(memory) = checkpoint.stats.as_mut().and_then(|s| s.memory.take()) {
        println!("left out feature-knn's memory ({} vectors)", memory.rows);
    }
    checkpoint.save_file(out, true)?;
    let bytes = std::fs::metadata(out)?.len();
    println!(
        "wrote {} ({:.1} MB, f16)",
        out.display(),
        bytes as f64 / 1e6
    );
    Ok(())
}
