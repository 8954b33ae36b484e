//! Time of `feature-knn` per image, by part: the features of one image (enlarged 2x) and the
//! nearest-neighbour search over a memory of 120 images' positions, for several chunk sizes.
//!
//! Run: `cargo run --example knn_bench -- [--size 192] [--rows 276480] [--repeats 3]`.

use std::time::Instant;

use burn::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use vaelens::explain::{FeatureExtractor, MemoryConfig, nearest_distances_chunked};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> anyhow::Result<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args
                .get(i + 1)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or(default)),
            None => Ok(default),
        }
    };
    let (size, rows, repeats) = (
        arg("--size", 192)?,
        arg("--rows", 276_480)?,
        arg("--repeats", 3)?,
    );
    let device = Device::flex().autodiff();
    let config = MemoryConfig::default();
    let mut rng = StdRng::seed_from_u64(0);
    let image: Vec<f32> = (0..3 * size * size).map(|_| rng.random()).collect();
    let mut extract = Vec::new();
    let mut queries = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        let extractor = FeatureExtractor::new(config, &device)?;
        let input =
            Tensor::<4>::from_data(TensorData::new(image.clone(), [1, 3, size, size]), &device);
        queries = extractor.rows(input).values;
        extract.push(start.elapsed().as_secs_f64());
    }
    println!(
        "features of one {size} px image: {:.3} s (median of {repeats})",
        median(extract)
    );
    let channels = config.stage.channels();
    let memory: Vec<f32> = (0..rows * channels)
        .map(|_| rng.random_range(0.0..4.0))
        .collect();
    for chunk in [1024, 2048, 4096, 8192, 16384] {
        let times: Vec<f64> = (0..repeats)
            .map(|_| {
                let start = Instant::now();
                nearest_distances_chunked(&queries, &memory, channels, chunk, &device);
                start.elapsed().as_secs_f64()
            })
            .collect();
        let t = median(times);
        let gflop =
            2.0 * (queries.len() / channels) as f64 * rows as f64 * (channels + 1) as f64 / 1e9;
        println!(
            "search over {rows} rows, chunks of {chunk}: {t:.3} s ({:.1} GFLOP/s)",
            gflop / t
        );
    }
    Ok(())
}
