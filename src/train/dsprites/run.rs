//! The dSprites training loop: a fixed number of steps on rendered batches, the discriminator
//! (for the FactorVAEs) trained after each VAE step on the step's detached codes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::networks::Networks;
use super::objective::objective;
use super::{DspritesResume, DspritesTrainConfig, StepTerms};
use crate::backend::Backend;
use crate::checkpoint::CheckpointError;
use crate::data::dsprites::{BatchStream, IMAGE_SIDE};
use crate::model::discriminator::permute_dims;
use crate::model::{ModelError, Vae};
use crate::train::OptimizerStateError;
use crate::train::step_random::{mix, noise};

/// Steps between two entries of the recorded loss history.
const HISTORY_EVERY: usize = 10;
/// Keeps the discriminator's permutations apart from the reparameterisation noise of a step.
const PERMUTATION_STREAM: u64 = 0x7065_726d_0000_0000;

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
        super::networks::SavedRun::load(run_dir).map(|saved| saved.record)
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
    #[error("{path} cannot be resumed: {reason}")]
    NotResumable { path: PathBuf, reason: String },
    #[error(
        "the run was trained with other settings ({fields}): only the step budget may change when resuming"
    )]
    ResumeMismatch { fields: String },
    #[error("the run has done {done} steps: a budget of {steps} steps cannot continue it")]
    BudgetBelowProgress { steps: usize, done: usize },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    OptimizerState(#[from] OptimizerStateError),
}

/// Trains for `config.steps` steps (or until `cancel`), from scratch or, given `resume`, on from
/// where that run stopped (its config with only `steps` changed). Writes the networks, their
/// optimizers and `dsprites.json` to `run_dir` every `config.checkpoint_every` steps, at a stop and
/// at the end. Returns the trained model and the record.
pub fn train_dsprites(
    config: &DspritesTrainConfig,
    run_dir: &Path,
    resume: Option<DspritesResume>,
    backend: &Backend,
    cancel: &AtomicBool,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<(Vae, DspritesRun), TrainDspritesError> {
    let device = &backend.device;
    let (mut networks, mut record) = match resume {
        Some(resume) => {
            if let Some(refusal) = resume.refuse(config) {
                return Err(refusal);
            }
            let mut record = resume.record;
            record.config = config.clone();
            (resume.networks, record)
        }
        None => (
            Networks::fresh(config, device)?,
            DspritesRun {
                config: config.clone(),
                steps_done: 0,
                seconds: 0.0,
                history: Vec::new(),
            },
        ),
    };
    let first_step = record.steps_done;
    let seconds_before = record.seconds;
    // Every draw is a function of (seed, step): a resumed run continues as an uninterrupted one.
    let stream = BatchStream::spawn(config.batch_size, config.seed, first_step);
    let started = Instant::now();
    let dims = config.vae.latent_dim;
    for step in first_step..config.steps {
        let batch = stream
            .next_batch()
            .ok_or(TrainDspritesError::RendererStopped)?;
        let n = batch.len();
        let input = Tensor::<4>::from_data(
            TensorData::new(batch.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
            device,
        );
        let eps = noise(config.seed, step, n * dims);
        let eps = Tensor::<2>::from_data(TensorData::new(eps, [n, dims]), device);
        let out = objective(
            &networks.model,
            networks.discriminator.as_ref(),
            input,
            eps,
            config,
        )?;
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
        let grads = GradientsParams::from_grads(out.loss.backward(), &networks.model);
        networks.model = networks.optimizer.step(config.lr, networks.model, grads);
        if let Some(d) = networks.discriminator.take() {
            let mut rng = StdRng::seed_from_u64(mix(config.seed, step as u64 ^ PERMUTATION_STREAM));
            let permuted = permute_dims(out.z.clone(), &mut rng);
            let loss = d.loss(out.z, permuted);
            terms.discriminator = Some(scalar(&loss));
            let grads = GradientsParams::from_grads(loss.backward(), &d);
            networks.discriminator = Some(networks.discriminator_optimizer.step(
                config.discriminator_lr,
                d,
                grads,
            ));
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
            record.seconds = seconds_before + elapsed;
            networks.save(&record, run_dir)?;
        }
        on_step(&StepReport {
            terms,
            steps: config.steps,
            steps_per_second: (record.steps_done - first_step) as f64 / elapsed.max(1e-9),
            checkpoint,
        });
        if stop {
            return Ok((networks.model, record));
        }
    }
    record.seconds = seconds_before + started.elapsed().as_secs_f64();
    networks.save(&record, run_dir)?;
    Ok((networks.model, record))
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}
