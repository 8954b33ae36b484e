//! Generates a synthetic MVTec-layout category (train/good, test/<defect>, ground_truth masks)
//! from a texture photo with `vaelens::data::synth_category`.
//!
//! cargo run --example make_sample_data -- <texture.png> <out_dir> [--size N] [--train N]
//!     [--good N] [--per-defect N] [--seed N] [--rgb]
//!
//! The CC0 photos in sample_data/textures/ are ready to use; sample_data/brick was made with
//! `cargo run --example make_sample_data -- sample_data/textures/brick.png sample_data/brick
//! --size 128 --train 80 --good 12 --per-defect 6 --seed 7` (sample_data/README.md).

use std::path::PathBuf;
use std::process::ExitCode;

use vaelens::data::{SynthConfig, load_image, synth_category};

const USAGE: &str = "usage: make_sample_data <texture.png> <out_dir> [--size N] [--train N] [--good N] \
                     [--per-defect N] [--seed N] [--rgb]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut cfg = SynthConfig::default();
    let mut positional: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
            v.parse::<u64>()
                .map_err(|_| format!("{name}: '{v}' is not a non-negative integer\n{USAGE}"))
        };
        match arg.as_str() {
            "--size" => {
                cfg.size =
                    u32::try_from(number("--size")?).map_err(|_| "--size too large".to_string())?
            }
            "--train" => cfg.n_train = number("--train")? as usize,
            "--good" => cfg.n_test_good = number("--good")? as usize,
            "--per-defect" => cfg.n_per_defect = number("--per-defect")? as usize,
            "--seed" => cfg.seed = number("--seed")?,
            "--rgb" => cfg.rgb = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if other.starts_with("--") => {
                return Err(format!("unknown option {other}\n{USAGE}"));
            }
            _ => positional.push(arg),
        }
    }
    let [texture, out] = positional.as_slice() else {
        return Err(format!("expected a texture and an output folder\n{USAGE}"));
    };
    let texture_img = load_image(&PathBuf::from(texture)).map_err(|e| e.to_string())?;
    let summary =
        synth_category(&texture_img, &PathBuf::from(out), &cfg).map_err(|e| e.to_string())?;
    println!(
        "wrote {} files to {}: {} train, {} test good, size {}, seed {}",
        summary.files_written,
        summary.root.display(),
        summary.n_train,
        summary.n_test_good,
        cfg.size,
        cfg.seed
    );
    for d in &summary.defects {
        println!(
            "  {:8} {:3} images, mask area {:.2}%..{:.2}% (mean {:.2}%)",
            d.kind.name(),
            d.count,
            100.0 * d.min_area,
            100.0 * d.max_area,
            100.0 * d.mean_area
        );
    }
    Ok(())
}
