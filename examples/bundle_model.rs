//! Packs a training run into the single-file, half-precision checkpoint that ships in assets/.
//!
//!     cargo run --example bundle_model -- <RUN_DIR> assets/brick.safetensors

use std::path::PathBuf;

use vaelens::checkpoint::Checkpoint;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [run, out] = args.as_slice() else {
        anyhow::bail!("usage: bundle_model <RUN_DIR> <OUT.safetensors>");
    };
    let checkpoint = Checkpoint::load_run(run)?;
    checkpoint.save_file(out, true)?;
    let bytes = std::fs::metadata(out)?.len();
    println!(
        "wrote {} ({:.1} MB, f16)",
        out.display(),
        bytes as f64 / 1e6
    );
    Ok(())
}
