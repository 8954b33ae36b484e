//! The loop itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};

use super::adam::adam;
use burn::prelude::*;
use crossbeam_channel::Sender;

use super::optimizer_state::{
    self, OPTIMIZER_FILE, OptimizerStateError, param_ids, with_param_ids,
};
use super::step_random::{mix, noise};
use super::{EpochSummary, TrainConfig, TrainEvent, TrainState, active_units};
use crate::backend::Backend;
use crate::data::TrainSet;
use crate::model::{
    LossTerms, ModelError, NamedTensors, Vae, VaeConfig, init_weights, to_host, vae_loss,
};
use crate::tiling::Tiling;

/// Everything one training run needs.
pub struct TrainJob<'a> {
    pub data: &'a TrainSet,
    pub model: VaeConfig,
    pub config: TrainConfig,
    pub run_dir: PathBuf,
    pub backend: Backend,
    /// Continue from these weights and this progress.
    pub resume: Option<Resume>,
    pub data_dir: Option<PathBuf>,
    /// Set for a patch model: trained on random windows of the images, which are at
    /// `tiling.image_size`.
    pub tiling: Option<Tiling>,
}

/// Where a resumed run starts: its saved weights and, when recorded, its progress.
#[derive(Clone, Debug)]
pub struct Resume {
    pub tensors: NamedTensors,
    pub state: Option<TrainState>,
}

/// How a run ended without error; either way its last weights have just been saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainOutcome {
    Finished,
    /// Stopped by the user; the weights were saved at the moment of stopping.
    Cancelled,
}

/// What the loop hands to its caller's `save` at each checkpoint: finite weights and the
/// progress (with the parameter ids the optimizer's saved state is keyed by).
pub struct Snapshot<'a> {
    pub model: &'a Vae,
    pub tensors: NamedTensors,
    pub state: TrainState,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "training diverged at epoch {epoch}, step {step}: {what}; {}. Try a lower learning rate or a larger beta",
        match kept {
            Some(dir) => format!("the last good checkpoint in {} is kept", dir.display()),
            None => "no checkpoint had been written yet".to_string(),
        }
    )]
    Diverged {
        epoch: usize,
        step: usize,
        what: String,
        /// The run folder, when it holds a good checkpoint.
        kept: Option<PathBuf>,
    },
    #[error(
        "the training images have {found} channel(s) at {found_size} px but the model expects {expected} at {expected_size} px"
    )]
    DataMismatch {
        found: usize,
        found_size: usize,
        expected: usize,
        expected_size: usize,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    OptimizerState(#[from] OptimizerStateError),
}

/// Trains `job.model` on `job.data`, reporting through `events`, until done or until `cancel` is
/// set. Every `checkpoint_every` epochs, when cancelled and at the end, Adam's state goes to
/// `job.run_dir` and the weights to `save` (which writes the checkpoint).
pub fn train<E: From<TrainError>>(
    job: TrainJob<'_>,
    events: &Sender<TrainEvent>,
    cancel: &AtomicBool,
    save: &mut dyn FnMut(Snapshot<'_>) -> Result<(), E>,
) -> Result<TrainOutcome, E> {
    let TrainJob {
        data,
        model: model_config,
        config,
        run_dir,
        backend,
        resume,
        data_dir,
        tiling,
    } = job;
    let image_size = tiling.map_or(model_config.input_size, |t| t.image_size);
    if data.channels != model_config.channels || data.size as usize != image_size {
        return Err(TrainError::DataMismatch {
            found: data.channels,
            found_size: data.size as usize,
            expected: model_config.channels,
            expected_size: image_size,
        }
        .into());
    }
    let sampler = Sampler {
        data,
        tiling,
        window: model_config.input_size,
    };
    let device = backend.device.clone();
    let resuming = resume.is_some();
    let (tensors, mut state) = match resume {
        Some(Resume { tensors, state }) => (tensors, state.unwrap_or_else(|| fresh_state(&config))),
        None => (
            init_weights(&model_config, config.seed),
            fresh_state(&config),
        ),
    };
    state.config = config.clone();
    state.data_dir = data_dir;
    let mut model =
        Vae::from_tensors(&model_config, &tensors, &device).map_err(TrainError::from)?;
    let mut optimizer = adam(0.9, 0.999);
    // Adam's moments continue where the run left them when its state was saved with these weights.
    if resuming
        && state.param_ids.len() == param_ids(&model).len()
        && run_dir.join(OPTIMIZER_FILE).exists()
    {
        model = with_param_ids(model, &state.param_ids);
        match optimizer_state::load(
            &run_dir.join(OPTIMIZER_FILE),
            optimizer,
            state.optimizer_crc32,
        ) {
            Ok(loaded) => optimizer = loaded,
            Err(why) => {
                let _ = events.send(TrainEvent::Warning(format!("Adam's state restarts: {why}")));
                optimizer = adam(0.9, 0.999);
            }
        }
    }

    let samples_per_epoch = sampler.per_epoch();
    let steps_per_epoch = samples_per_epoch.div_ceil(config.batch_size.max(1));
    let first_epoch = state.epochs_done;
    let total_steps = steps_per_epoch * config.epochs;
    let _ = events.send(TrainEvent::Started {
        images: samples_per_epoch,
        steps_per_epoch,
        first_epoch,
        epochs: config.epochs,
        backend: backend.description.clone(),
    });
    let started = Instant::now();
    let mut images_seen = 0usize;
    let remaining_images = samples_per_epoch * config.epochs.saturating_sub(first_epoch);
    let side = model_config.input_size;
    // Whether the run folder holds a good checkpoint (the resumed one, or one written since).
    let saved = std::cell::Cell::new(resuming);
    let mut checkpoint_now =
        |model: &Vae, optimizer: &ModuleOptimizer, state: &TrainState| -> Result<(), E> {
            let kept = saved.get().then_some(run_dir.as_path());
            let tensors = finite_weights(model, state, kept)?;
            // The checkpoint records the checksum of Adam's state written with it, so a resume never
            // pairs these weights with the state of another checkpoint (a kill between the writes).
            let crc = optimizer_state::save(&run_dir.join(OPTIMIZER_FILE), optimizer)
                .map_err(TrainError::from)?;
            let state = TrainState {
                param_ids: param_ids(model),
                optimizer_crc32: Some(crc),
                ..state.clone()
            };
            save(Snapshot {
                model,
                tensors,
                state,
            })?;
            saved.set(true);
            Ok(())
        };
    let dims = model_config.latent_dim;

    for epoch in first_epoch..config.epochs {
        let epoch_start = Instant::now();
        let mut sums = LossTerms {
            kl_per_dim: vec![0.0; dims],
            ..Default::default()
        };
        let mut mu_moments = MuMoments::new(dims);
        let mut epoch_images = 0usize;
        let order = sampler.order(epoch, config.seed);
        let batches: Vec<&[usize]> = order.chunks(config.batch_size.max(1)).collect();
        // A run stopped mid-epoch resumes at the batch where it stopped: the order, the flips
        // and the noise are functions of the seed, the epoch and the step, so the weights end as
        // an uninterrupted run's would.
        let resume_at = std::mem::take(&mut state.batches_done).min(batches.len());
        let mut cancelled = false;
        for (b, indices) in batches.iter().enumerate().skip(resume_at) {
            let step = state.steps_done;
            let pixels = sampler.batch(indices, config.flip, mix(config.seed, step as u64));
            let n = indices.len();
            let input = Tensor::<4>::from_data(
                TensorData::new(pixels, [n, model_config.channels, side, side]),
                &device,
            );
            let progress = epoch as f64 + b as f64 / batches.len() as f64;
            let scale = config.noise_scale(progress);
            let eps: Vec<f32> = noise(config.seed, step, n * dims)
                .into_iter()
                .map(|e| e * scale)
                .collect();
            let eps = Tensor::<2>::from_data(TensorData::new(eps, [n, dims]), &device);
            let (loss, [recon, kl, kl_dims], mu) = vae_loss(
                &model,
                input,
                eps,
                config.recon,
                config.kl_weight(progress),
                config.free_bits,
            );
            let terms = LossTerms {
                total: scalar(&loss),
                recon: scalar(&recon),
                kl: scalar(&kl),
                kl_per_dim: to_host(kl_dims).into_iter().map(f64::from).collect(),
            };
            if !terms.total.is_finite() {
                return Err(TrainError::Diverged {
                    epoch: epoch + 1,
                    step,
                    what: format!("the loss became {}", terms.total),
                    kept: saved.get().then_some(run_dir),
                }
                .into());
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(config.lr, model, grads);
            state.steps_done += 1;
            images_seen += n;
            epoch_images += n;
            accumulate(&mut sums, &terms, n);
            mu_moments.add(&to_host(mu));
            let rate = images_seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let _ = events.send(TrainEvent::Step {
                epoch: epoch + 1,
                step: state.steps_done,
                total_steps,
                loss: terms,
                images_per_second: rate,
                eta_seconds: remaining_images.saturating_sub(images_seen) as f64 / rate,
            });
            // Checked after the step's event (never before a step), so that a stop asked for
            // while an event waits to be read takes effect right after the next step.
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                if b + 1 < batches.len() {
                    state.batches_done = b + 1;
                    checkpoint_now(&model, &optimizer, &state)?;
                    return Ok(TrainOutcome::Cancelled);
                }
                break;
            }
        }
        let summary = summarize(
            &sums,
            &mu_moments,
            epoch_images,
            epoch + 1,
            epoch_start.elapsed().as_secs_f64(),
        );
        state.history.push(summary.clone());
        state.epochs_done = epoch + 1;
        let warning = collapse_warning(&summary, &config);
        let _ = events.send(TrainEvent::Epoch(summary));
        if let Some(text) = warning {
            let _ = events.send(TrainEvent::Warning(text));
        }
        let last = epoch + 1 == config.epochs;
        if cancelled || last || (epoch + 1) % config.checkpoint_every.max(1) == 0 {
            checkpoint_now(&model, &optimizer, &state)?;
            let _ = events.send(TrainEvent::Checkpoint(run_dir.clone()));
        }
        if cancelled {
            return Ok(TrainOutcome::Cancelled);
        }
    }
    if first_epoch >= config.epochs {
        // Nothing left to train (a resumed run that had finished): save as asked all the same.
        checkpoint_now(&model, &optimizer, &state)?;
    }
    Ok(TrainOutcome::Finished)
}

/// What one training step sees: whole images, or for a patch model random windows of them
/// (as many per image and epoch as there are whole windows in an image).
struct Sampler<'a> {
    data: &'a TrainSet,
    tiling: Option<Tiling>,
    window: usize,
}

impl Sampler<'_> {
    fn crops_per_image(&self) -> usize {
        self.tiling
            .map_or(1, |t| (t.image_size / t.window.max(1)).pow(2).max(1))
    }

    fn per_epoch(&self) -> usize {
        self.data.n * self.crops_per_image()
    }

    /// Image indices for one epoch, each image `crops_per_image` times.
    fn order(&self, epoch: usize, seed: u64) -> Vec<usize> {
        let k = self.crops_per_image();
        (0..k)
            .flat_map(|r| self.data.batch_order(epoch * k + r, seed))
            .collect()
    }

    fn batch(&self, indices: &[usize], flip: bool, seed: u64) -> Vec<f32> {
        match self.tiling {
            Some(_) => self.data.crop_batch(indices, self.window, flip, seed),
            None => self.data.batch(indices, flip.then_some(seed)),
        }
    }
}

fn fresh_state(config: &TrainConfig) -> TrainState {
    TrainState {
        epochs_done: 0,
        steps_done: 0,
        config: config.clone(),
        history: Vec::new(),
        data_dir: None,
        param_ids: Vec::new(),
        optimizer_crc32: None,
        batches_done: 0,
    }
}

/// The model's weights on the host, or a divergence error: the loss can stay finite for a step
/// after the weights overflow, and such weights are never saved.
fn finite_weights(
    model: &Vae,
    state: &TrainState,
    kept: Option<&Path>,
) -> Result<NamedTensors, TrainError> {
    let tensors = model.to_tensors();
    match tensors
        .values()
        .flat_map(|t| &t.values)
        .find(|v| !v.is_finite())
    {
        Some(bad) => Err(TrainError::Diverged {
            epoch: state.epochs_done,
            step: state.steps_done,
            what: format!("a weight became {bad}"),
            kept: kept.map(Path::to_path_buf),
        }),
        None => Ok(tensors),
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}

fn accumulate(sums: &mut LossTerms, terms: &LossTerms, n: usize) {
    let w = n as f64;
    sums.total += terms.total * w;
    sums.recon += terms.recon * w;
    sums.kl += terms.kl * w;
    for (s, v) in sums.kl_per_dim.iter_mut().zip(&terms.kl_per_dim) {
        *s += v * w;
    }
}

/// Epochs after which a latent with no active unit counts as collapsed (at least the KL warm-up).
const COLLAPSE_CHECK_EPOCH: usize = 5;

/// A warning when no latent dimension is active at the end of the KL warm-up (it may still wake:
/// gravel once woke in epoch 13) and again at the end of training (collapsed: the decoder paints
/// the mean window and the maps say little).
fn collapse_warning(summary: &EpochSummary, config: &TrainConfig) -> Option<String> {
    if summary.active_units > 0 || summary.mu_variance.is_empty() {
        return None;
    }
    let what = if summary.epoch == config.epochs {
        "the latent has collapsed"
    } else if summary.epoch == config.kl_warmup_epochs.max(COLLAPSE_CHECK_EPOCH) {
        "the latent has not come alive yet (it may still)"
    } else {
        return None;
    };
    Some(format!(
        "{what}: after {} epochs no latent dimension's mean varies over the data (KL {:.2} \
         nats), so the decoder paints the average image and the attention and anomaly maps say \
         little. Whether a VAE comes alive varies from seed to seed: if it stays so, train again \
         with another --seed.",
        summary.epoch, summary.kl
    ))
}

/// Running per-dimension sums of the posterior means and their squares over one epoch.
struct MuMoments {
    sum: Vec<f64>,
    squares: Vec<f64>,
    count: usize,
}

impl MuMoments {
    fn new(dims: usize) -> Self {
        Self {
            sum: vec![0.0; dims],
            squares: vec![0.0; dims],
            count: 0,
        }
    }

    /// Adds a batch of posterior means laid out `[n, D]`.
    fn add(&mut self, mu: &[f32]) {
        let dims = self.sum.len();
        for row in mu.chunks(dims) {
            for ((s, q), &m) in self.sum.iter_mut().zip(&mut self.squares).zip(row) {
                *s += f64::from(m);
                *q += f64::from(m) * f64::from(m);
            }
            self.count += 1;
        }
    }

    fn variance(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.sum
            .iter()
            .zip(&self.squares)
            .map(|(s, q)| (q / n - (s / n).powi(2)).max(0.0))
            .collect()
    }
}

fn summarize(
    sums: &LossTerms,
    mu_moments: &MuMoments,
    n: usize,
    epoch: usize,
    seconds: f64,
) -> EpochSummary {
    let n = n.max(1) as f64;
    let kl_per_dim: Vec<f64> = sums.kl_per_dim.iter().map(|v| v / n).collect();
    let mu_variance = mu_moments.variance();
    EpochSummary {
        epoch,
        total: sums.total / n,
        recon: sums.recon / n,
        kl: sums.kl / n,
        active_units: active_units(&mu_variance),
        kl_per_dim,
        mu_variance,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_units_count_dimensions_whose_mean_varies() {
        // Three inputs, D = 3: z0 varies (mean 2, variance 2/3), z1 is constant at 5 (a dead
        // dimension however large its KL), z2 varies a little (variance 0.0008 < 0.01).
        let mut moments = MuMoments::new(3);
        moments.add(&[1.0, 5.0, 0.0, 2.0, 5.0, 0.06]);
        moments.add(&[3.0, 5.0, 0.0]);
        let var = moments.variance();
        assert!((var[0] - 2.0 / 3.0).abs() < 1e-9, "{var:?}");
        assert!(var[1].abs() < 1e-9, "{var:?}");
        assert!((var[2] - 0.0008).abs() < 1e-9, "{var:?}");
        let sums = LossTerms {
            kl_per_dim: vec![3.0, 36.0, 5.4],
            ..Default::default()
        };
        let summary = summarize(&sums, &moments, 3, 1, 0.5);
        assert_eq!(summary.active_units, 1);
        assert_eq!(summary.kl_per_dim, vec![1.0, 12.0, 1.8]);
    }

    #[test]
    fn collapse_is_reported_after_warm_up_and_at_the_end() {
        let config = TrainConfig {
            kl_warmup_epochs: 10,
            ..TrainConfig::default()
        };
        let dead = MuMoments::new(2);
        let mut alive = MuMoments::new(2);
        alive.add(&[0.0, 0.0, 1.0, 0.0]);
        let sums = LossTerms {
            kl_per_dim: vec![0.0, 0.0],
            ..Default::default()
        };
        let at = |moments: &MuMoments, epoch| summarize(&sums, moments, 1, epoch, 1.0);
        assert!(
            collapse_warning(&at(&dead, 9), &config).is_none(),
            "still warming up"
        );
        let text = collapse_warning(&at(&dead, 10), &config).expect("not alive");
        assert!(
            text.contains("not come alive yet") && text.contains("--seed"),
            "{text}"
        );
        assert!(
            collapse_warning(&at(&dead, 11), &config).is_none(),
            "said once"
        );
        let text = collapse_warning(&at(&dead, config.epochs), &config).expect("collapsed");
        assert!(
            text.starts_with("the latent has collapsed: after 60 epochs"),
            "{text}"
        );
        assert!(collapse_warning(&at(&alive, 10), &config).is_none());
        assert!(collapse_warning(&at(&alive, config.epochs), &config).is_none());
    }
}
