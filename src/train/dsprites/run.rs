//! The dSprites training loop: a fixed number of steps on rendered batches, the discriminator
//! (for the FactorVAEs) trained after each VAE step on the step's detached codes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::objective::objective;
use super::{DspritesTrainConfig, RUN_FILE, StepTerms};
use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::dsprites::{BatchStream, IMAGE_SIDE};
use crate::model::discriminator::{DiscriminatorConfig, permute_dims};
use crate::model::{ModelError, Vae, init_weights};

/// Steps between two entries of the recorded loss history.
const HISTORY_EVERY: usize = 10;

/// What `dsprites.json` holds: the config, how far training got, and the loss history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DspritesRun {
    pub config: DspritesTrainConfig,
    pub steps_done: usize,
    pub seconds: f64,
    pub history: Vec<StepTerms>,
}

impl DspritesRun {
    pub fn load(run_dir: &Path) -> Result<Self, TrainDspritesError> {
        let path = run_dir.join(RUN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| TrainDspritesError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| TrainDspritesError::BadRunFile {
            path,
            reason: e.to_string(),
        })
    }

    fn save(&self, run_dir: &Path) -> Result<(), TrainDspritesError> {
        let path = run_dir.join(RUN_FILE);
        let bytes = serde_json::to_vec_pretty(self).expect("a run record serialises");
        crate::fsx::write_bytes_atomic(&path, &bytes)
            .map_err(|source| TrainDspritesError::Io { path, source })
    }
}

/// Progress after each step, for a progress bar.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub terms: StepTerms,
    pub steps: usize,
    pub steps_per_second: f64,
    /// The run folder's checkpoint was written after this step.
    pub checkpoint: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainDspritesError {
    #[error("training diverged at step {step}: the loss became {value}; try a lower learning rate")]
    Diverged { step: usize, value: f64 },
    #[error("the dSprites batch renderer stopped")]
    RendererStopped,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a dSprites run record: {reason}")]
    BadRunFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Trains for `config.steps` steps (or until `cancel`), writing the weights to `run_dir` every
/// `config.checkpoint_every` steps and at the end, with `dsprites.json` beside them. Returns the
/// trained model and the record.
pub fn train_dsprites(
    config: &DspritesTrainConfig,
    run_dir: &Path,
    backend: &Backend,
    cancel: &AtomicBool,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<(Vae, DspritesRun), TrainDspritesError> {
    let device = &backend.device;
    let vae_config = &config.vae;
    let mut model = Vae::from_tensors(vae_config, &init_weights(vae_config, config.seed), device)?;
    let mut discriminator = config.model.uses_discriminator().then(|| {
        DiscriminatorConfig::kim_mnih(vae_config.latent_dim).init(config.seed ^ 0xd15c, device)
    });
    let mut optimizer = AdamConfig::new().init();
    let mut discriminator_optimizer = AdamConfig::new().with_beta_1(0.5).with_beta_2(0.9).init();
    let stream = BatchStream::spawn(config.batch_size, config.seed);
    let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(1));
    let mut record = DspritesRun {
        config: config.clone(),
        steps_done: 0,
        seconds: 0.0,
        history: Vec::new(),
    };
    let started = Instant::now();
    let dims = vae_config.latent_dim;
    for step in 0..config.steps {
        let batch = stream
            .next_batch()
            .ok_or(TrainDspritesError::RendererStopped)?;
        let n = batch.len();
        let input = Tensor::<4>::from_data(
            TensorData::new(batch.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
            device,
        );
        let eps: Vec<f32> = (0..n * dims)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let eps = Tensor::<2>::from_data(TensorData::new(eps, [n, dims]), device);
        let out = objective(&model, discriminator.as_ref(), input, eps, config)?;
        let mut terms = StepTerms {
            step: step + 1,
            loss: scalar(&out.loss),
            recon: scalar(&out.recon),
            kl: scalar(&out.kl),
            total_correlation: out.total_correlation.as_ref().map(scalar),
            attention: out.attention.as_ref().map(scalar),
            discriminator: None,
        };
        if !terms.loss.is_finite() {
            return Err(TrainDspritesError::Diverged {
                step: step + 1,
                value: terms.loss,
            });
        }
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optimizer.step(config.lr, model, grads);
        if let Some(d) = discriminator.take() {
            let permuted = permute_dims(out.z.clone(), &mut rng);
            let loss = d.loss(out.z, permuted);
            terms.discriminator = Some(scalar(&loss));
            let grads = GradientsParams::from_grads(loss.backward(), &d);
            discriminator = Some(discriminator_optimizer.step(config.discriminator_lr, d, grads));
        }
        record.steps_done = step + 1;
        let elapsed = started.elapsed().as_secs_f64();
        if record.steps_done.is_multiple_of(HISTORY_EVERY) || record.steps_done == 1 {
            record.history.push(terms.clone());
        }
        let stop = cancel.load(Ordering::Relaxed);
        let checkpoint = stop
            || record
                .steps_done
                .is_multiple_of(config.checkpoint_every.max(1));
        if checkpoint {
            record.seconds = elapsed;
            save(&model, &record, run_dir)?;
        }
        on_step(&StepReport {
            terms,
            steps: config.steps,
            steps_per_second: record.steps_done as f64 / elapsed.max(1e-9),
            checkpoint,
        });
        if stop {
            return Ok((model, record));
        }
    }
    record.seconds = started.elapsed().as_secs_f64();
    save(&model, &record, run_dir)?;
    Ok((model, record))
}

/// The weights as a vaelens run (model.safetensors, config.json), then the record.
fn save(model: &Vae, record: &DspritesRun, run_dir: &Path) -> Result<(), TrainDspritesError> {
    let checkpoint = Checkpoint {
        config: record.config.vae.clone(),
        tensors: model.to_tensors(),
        stats: None,
        state: None,
        tiling: None,
    };
    checkpoint.save_run(run_dir)?;
    record.save(run_dir)
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}
