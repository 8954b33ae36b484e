//! Generates a synthetic MVTec-layout category (train/good, test/<defect>, ground_truth masks)
//! from a texture photo with `vaelens::data::synth_category`, or, with `--object disc|nut`, an
//! object category with `vaelens::data::synth_object_category`: one object centred on a plain
//! backdrop, its pose, lighting and surface varying a little, the texture used for the object's
//! surface, defects (scratch, crack, missing, contamination, stain) on the object only.
//!
//! cargo run --example make_sample_data -- <texture.png> <out_dir> [--object disc|nut]
//!     [--size N] [--train N] [--good N] [--per-defect N] [--seed N] [--rgb]
//!
//! The CC0 photos in sample_data/textures/ are ready to use; sample_data/brick was made with
//! `cargo run --example make_sample_data -- sample_data/textures/brick.png sample_data/brick
//! --size 128 --train 80 --good 12 --per-defect 6 --seed 7` (sample_data/README.md). An object
//! set: `cargo run --example make_sample_data -- sample_data/textures/gravel.png
//! /tmp/disc192 --object disc --size 192 --train 120 --good 20 --per-defect 10 --seed 5 --rgb`.

use std::path::PathBuf;
use std::process::ExitCode;

use vaelens::data::{ObjectShape, SynthConfig, load_image, synth_category, synth_object_category};

const USAGE: &str = "usage: make_sample_data <texture.png> <out_dir> [--object disc|nut] [--size N] \
                     [--train N] [--good N] [--per-defect N] [--seed N] [--rgb]";

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
    let mut object: Option<ObjectShape> = None;
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
            "--object" => {
                let v = args
                    .next()
                    .ok_or_else(|| format!("--object needs a value\n{USAGE}"))?;
                object =
                    Some(ObjectShape::from_name(&v).ok_or_else(|| {
                        format!("--object: '{v}' is not one of disc, nut\n{USAGE}")
                    })?);
            }
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
    let out = PathBuf::from(out);
    let (root, n_train, n_test_good, files_written, defects) = match object {
        None => {
            let s = synth_category(&texture_img, &out, &cfg).map_err(|e| e.to_string())?;
            let d: Vec<_> = s
                .defects
                .iter()
                .map(|d| (d.kind.name(), d.count, d.min_area, d.max_area, d.mean_area))
                .collect();
            (s.root, s.n_train, s.n_test_good, s.files_written, d)
        }
        Some(shape) => {
            let s = synth_object_category(&texture_img, shape, &out, &cfg)
                .map_err(|e| e.to_string())?;
            let d: Vec<_> = s
                .defects
                .iter()
                .map(|d| (d.kind.name(), d.count, d.min_area, d.max_area, d.mean_area))
                .collect();
            (s.root, s.n_train, s.n_test_good, s.files_written, d)
        }
    };
    println!(
        "wrote {} files to {}: {}{} train, {} test good, size {}, seed {}",
        files_written,
        root.display(),
        object.map_or(String::new(), |s| format!("object {}, ", s.name())),
        n_train,
        n_test_good,
        cfg.size,
        cfg.seed
    );
    for (name, count, min, max, mean) in &defects {
        println!(
            "  {:13} {:3} images, mask area {:.2}%..{:.2}% (mean {:.2}%)",
            name,
            count,
            100.0 * min,
            100.0 * max,
            100.0 * mean
        );
    }
    Ok(())
}
