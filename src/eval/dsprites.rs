//! Scoring a model trained on dSprites (docs/method.md §4): FactorVAE score, MIG, reconstruction
//! error and active units, on images rendered from the factor grid; and its traversal grid.

use std::path::Path;

use burn::prelude::*;
use image::{Rgba, RgbaImage};
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::data::dsprites::{DspritesBatch, FACTOR_SIZES, Factors, IMAGE_SIDE, random_factors};
use crate::metrics::disentanglement::{
    FactorVaeConfig, FactorVaeScore, MigConfig, factorvae_score, mig,
};
use crate::model::{Vae, bernoulli_nll, to_host};
use crate::train::ACTIVE_UNIT_VARIANCE;

/// How much of the grid each figure sees.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DspritesEvalConfig {
    pub factorvae: FactorVaeConfig,
    pub mig: MigConfig,
    /// Images whose reconstruction error and posterior means are measured.
    pub reconstruction_samples: usize,
    pub seed: u64,
}

impl Default for DspritesEvalConfig {
    fn default() -> Self {
        Self {
            factorvae: FactorVaeConfig::default(),
            mig: MigConfig::default(),
            reconstruction_samples: 2_000,
            seed: 0,
        }
    }
}

/// The figures of one model, written as the report's JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DspritesReport {
    pub factorvae_score: f64,
    pub mig: f64,
    /// Bernoulli negative log-likelihood of an image given decoder(mu), summed over its pixels
    /// (nats per image), averaged over the sample.
    pub reconstruction: f64,
    /// Dimensions whose posterior mean varies over the data (variance above 0.01).
    pub active_units: usize,
    pub factorvae: FactorVaeScore,
    /// MIG of each factor: shape, scale, orientation, x, y.
    pub mig_per_factor: Vec<f64>,
    pub config: DspritesEvalConfig,
}

/// Images of `factors` as a `[n, 1, 64, 64]` tensor.
fn images(factors: Vec<Factors>, device: &Device) -> Tensor<4> {
    let n = factors.len();
    let batch = DspritesBatch::render(factors);
    Tensor::from_data(
        TensorData::new(batch.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// Posterior means of the images with these factor indices.
fn encode(model: &Vae, factors: &[Vec<usize>], device: &Device) -> Vec<Vec<f32>> {
    let factors: Vec<Factors> = factors
        .iter()
        .map(|f| Factors([f[0], f[1], f[2], f[3], f[4]]))
        .collect();
    let mu = model.encoder.forward(images(factors, device)).mu.detach();
    let dims = mu.dims()[1];
    to_host(mu).chunks(dims).map(<[f32]>::to_vec).collect()
}

impl DspritesEvalConfig {
    /// Images the whole evaluation encodes (the unit of its progress).
    pub fn total_images(&self) -> usize {
        let f = &self.factorvae;
        f.variance_samples
            + (f.train_votes + f.eval_votes) * f.batch
            + self.mig.samples
            + self.reconstruction_samples
    }
}

/// Told the images encoded so far and the total; answers whether to go on.
pub type EvalProgress<'a> = dyn FnMut(usize, usize) -> bool + 'a;

/// Every figure of `model`, or None when `progress` asked to stop.
pub fn evaluate_dsprites(
    model: &Vae,
    device: &Device,
    config: &DspritesEvalConfig,
    progress: &mut EvalProgress<'_>,
) -> Option<DspritesReport> {
    let total = config.total_images();
    let mut done = 0;
    let mut stopped = false;
    let mut dims = None;
    let mut encoder = |f: &[Vec<usize>]| {
        stopped = stopped || !progress(done, total);
        done += f.len();
        if let (true, Some(d)) = (stopped, dims) {
            // The metrics still ask for the rest; zeros end them quickly, and the result is
            // dropped.
            return vec![vec![0.0; d]; f.len()];
        }
        let codes = encode(model, f, device);
        dims = codes.first().map(Vec::len);
        codes
    };
    let factorvae = factorvae_score(&FACTOR_SIZES, &mut encoder, &config.factorvae, config.seed);
    let mig = mig(
        &FACTOR_SIZES,
        &mut encoder,
        &config.mig,
        config.seed.wrapping_add(1),
    );
    if stopped || !progress(done, total) {
        return None;
    }
    let (reconstruction, active_units) = reconstruction_and_active_units(model, device, config);
    progress(total, total);
    Some(DspritesReport {
        factorvae_score: factorvae.score,
        mig: mig.mig,
        reconstruction,
        active_units,
        factorvae,
        mig_per_factor: mig.per_factor,
        config: config.clone(),
    })
}

fn reconstruction_and_active_units(
    model: &Vae,
    device: &Device,
    config: &DspritesEvalConfig,
) -> (f64, usize) {
    let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(2));
    let batch = config.mig.batch.max(1);
    let mut nll = 0.0;
    let mut means: Vec<Vec<f32>> = Vec::new();
    let mut left = config.reconstruction_samples;
    while left > 0 {
        let n = left.min(batch);
        left -= n;
        let input = images(random_factors(&mut rng, n), device);
        let mu = model.encoder.forward(input.clone()).mu.detach();
        let dims = mu.dims()[1];
        let logits = model.decoder.forward_logits(mu.clone()).detach();
        nll += bernoulli_nll(logits, input).into_scalar::<f32>() as f64;
        means.extend(to_host(mu).chunks(dims).map(<[f32]>::to_vec));
    }
    let count = means.len().max(1) as f64;
    let dims = means.first().map_or(0, Vec::len);
    let active = (0..dims)
        .filter(|&j| {
            let mean = means.iter().map(|m| m[j] as f64).sum::<f64>() / count;
            let var = means
                .iter()
                .map(|m| (m[j] as f64 - mean).powi(2))
                .sum::<f64>()
                / count;
            var > ACTIVE_UNIT_VARIANCE
        })
        .count();
    (nll / count, active)
}

/// Values each latent takes along a row of the traversal grid.
pub const TRAVERSAL_VALUES: [f32; 9] = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0];
/// The image the grid starts from: a heart of middle size in the middle.
const TRAVERSAL_BASE: Factors = Factors([2, 3, 0, 16, 16]);

/// The traversal grid as an image: row i decodes the base image's mu with dimension i set to each
/// of `TRAVERSAL_VALUES`; 2 px gaps.
pub fn traversal_grid(model: &Vae, device: &Device) -> RgbaImage {
    let mu = model
        .encoder
        .forward(images(vec![TRAVERSAL_BASE], device))
        .mu
        .detach();
    let base = to_host(mu);
    let dims = base.len();
    let cols = TRAVERSAL_VALUES.len();
    let mut latents = Vec::with_capacity(dims * cols * dims);
    for i in 0..dims {
        for &v in &TRAVERSAL_VALUES {
            let mut z = base.clone();
            z[i] = v;
            latents.extend(z);
        }
    }
    let z = Tensor::<2>::from_data(TensorData::new(latents, [dims * cols, dims]), device);
    let decoded = to_host(model.decoder.forward(z).detach());
    let (side, gap) = (IMAGE_SIDE as u32, 2u32);
    let mut grid = RgbaImage::from_pixel(
        cols as u32 * (side + gap) - gap,
        dims as u32 * (side + gap) - gap,
        Rgba([110, 110, 110, 255]),
    );
    let plane = IMAGE_SIDE * IMAGE_SIDE;
    for (t, tile) in decoded.chunks(plane).enumerate() {
        let (row, col) = ((t / cols) as u32, (t % cols) as u32);
        for (p, &v) in tile.iter().enumerate() {
            let byte = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            let (x, y) = (p as u32 % side, p as u32 / side);
            grid.put_pixel(
                col * (side + gap) + x,
                row * (side + gap) + y,
                Rgba([byte, byte, byte, 255]),
            );
        }
    }
    grid
}

/// Writes `traversal_grid` to `path` atomically.
pub fn write_traversal_grid(model: &Vae, device: &Device, path: &Path) -> std::io::Result<()> {
    crate::render::save_png_atomic(&traversal_grid(model, device), path)
}
