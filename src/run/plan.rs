//! One way to plan a training run: the defaults, the checks and the loading of the images that
//! the command line and the explorer share.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::data::{Category, DataError, TrainSet, detect_channels};
use crate::model::pretrained::Lite0Stage;
use crate::model::{ModelError, VaeConfig};
use crate::tiling::Tiling;
use crate::train::TrainConfig;

use super::RunJob;

/// How the encoder starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EncoderChoice {
    /// Frozen ImageNet-pretrained stages (EfficientNet-Lite0), then trained ones.
    #[default]
    Pretrained,
    /// Every stage trained from scratch (the paper's setting).
    Scratch,
}

/// What the model sees of each training image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// What suits the encoder: over pretrained features the whole image (the frozen stages see
    /// all of it, and scoring is one pass per image); from scratch a patch VAE on windows of
    /// about a quarter of the image side (`Tiling::default_window`), which learns more from few
    /// images (docs/experiments.md).
    Auto,
    /// A patch VAE on windows of this many pixels.
    Patch(usize),
    /// The paper's setting: the whole image at once.
    WholeImage,
}

/// A training run as the user asks for it. A resumed run keeps the architecture, the windows and
/// (unless `epochs` is set) the epoch count of the run it continues.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Side the images are resized to.
    pub image_size: usize,
    pub window: Window,
    pub encoder: EncoderChoice,
    /// The deepest frozen stage of a pretrained encoder.
    pub backbone: Lite0Stage,
    pub latent_dim: usize,
    /// Encoder stage widths (None: `VaeConfig::default_for`'s).
    pub stages: Option<Vec<usize>>,
    /// Width of the fully connected hidden layer (None: the default).
    pub hidden: Option<usize>,
    /// Epochs to train (None: automatic, see `TrainConfig::auto_epochs` and its siblings).
    pub epochs: Option<usize>,
    /// Everything else about training; its `epochs` is replaced by the plan's.
    pub train: TrainConfig,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            image_size: 128,
            window: Window::Auto,
            encoder: EncoderChoice::default(),
            backbone: Lite0Stage::Stride8,
            latent_dim: 16,
            stages: None,
            hidden: None,
            epochs: None,
            train: TrainConfig::default(),
        }
    }
}

/// A checked run, its images in memory.
#[derive(Debug)]
pub struct RunPlan {
    /// Where checkpoints go (checked writable).
    pub run_dir: PathBuf,
    pub data: TrainSet,
    pub model: VaeConfig,
    /// Set for a patch model.
    pub tiling: Option<Tiling>,
    pub config: TrainConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0} has no training images")]
    NoTrainingImages(PathBuf),
    #[error("the window of {window} px is larger than the images ({image_size} px)")]
    WindowTooLarge { window: usize, image_size: usize },
    #[error("cannot write the run folder: {0}")]
    RunDir(std::io::Error),
    #[error("{0}")]
    BadSetting(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Checks `options` against the data and `run_dir` for writing (before any work), then loads the
/// training images of `category` (reporting `(done, total)` to `on_loaded`). `resume` is the run
/// being continued.
pub fn plan_run(
    category: &Category,
    options: &RunOptions,
    run_dir: &Path,
    resume: Option<&Checkpoint>,
    on_loaded: &mut dyn FnMut(usize, usize),
) -> Result<RunPlan, PlanError> {
    if category.train.is_empty() {
        return Err(PlanError::NoTrainingImages(category.root.clone()));
    }
    // The automatic epoch count (known once the images are loaded) is always in range.
    let settings = TrainConfig {
        epochs: options.epochs.unwrap_or(1),
        ..options.train.clone()
    };
    if let Some(why) = settings.mismatch() {
        return Err(PlanError::BadSetting(why));
    }
    let (model, tiling) = match resume {
        Some(checkpoint) => (checkpoint.config.clone(), checkpoint.tiling),
        None => {
            let mut config = options.architecture(detect_channels(&category.train));
            let tiling = options.tiling(config.stage_count());
            config.input_size = tiling.map_or(options.image_size, |t| t.window);
            (config, tiling)
        }
    };
    if let Some(t) = tiling.filter(|t| t.window > t.image_size) {
        return Err(PlanError::WindowTooLarge {
            window: t.window,
            image_size: t.image_size,
        });
    }
    model.validate()?;
    crate::fsx::ensure_writable_dir(run_dir).map_err(PlanError::RunDir)?;
    let data = TrainSet::load(
        &category.train,
        model.channels,
        tiling.map_or(model.input_size, |t| t.image_size) as u32,
        on_loaded,
    )?;
    let resumed_epochs = resume
        .and_then(|c| c.state.as_ref())
        .map(|s| s.config.epochs);
    let epochs =
        options
            .epochs
            .or(resumed_epochs)
            .unwrap_or_else(|| match (tiling, model.backbone) {
                (Some(t), _) => TrainConfig::auto_epochs_for_windows(data.n, t),
                (None, Some(_)) => TrainConfig::auto_epochs_pretrained(data.n),
                (None, None) => TrainConfig::auto_epochs(data.n),
            });
    let config = TrainConfig {
        epochs,
        ..options.train.clone()
    };
    Ok(RunPlan {
        run_dir: run_dir.to_path_buf(),
        data,
        model,
        tiling,
        config,
    })
}

impl RunOptions {
    /// The network a new run builds for images of `channels` channels (its input size that of
    /// whole images; a patch model's is its window's).
    pub fn architecture(&self, channels: usize) -> VaeConfig {
        let (size, latent) = (self.image_size, self.latent_dim);
        let mut config = match self.encoder {
            EncoderChoice::Pretrained => VaeConfig {
                backbone: Some(self.backbone),
                ..VaeConfig::pretrained_for(channels, size, latent)
            },
            EncoderChoice::Scratch => VaeConfig::default_for(channels, size, latent),
        };
        config.stages = self.stages.clone().unwrap_or(config.stages);
        config.hidden = self.hidden.unwrap_or(config.hidden);
        config
    }

    /// How whole images are cut for a model whose encoder halves its input `stages` times.
    pub fn tiling(&self, stages: usize) -> Option<Tiling> {
        let size = self.image_size;
        match (self.window, self.encoder) {
            (Window::WholeImage, _) | (Window::Auto, EncoderChoice::Pretrained) => None,
            (Window::Auto, EncoderChoice::Scratch) => {
                Some(Tiling::new(size, Tiling::default_window(size, stages)))
            }
            (Window::Patch(window), _) => Some(Tiling::new(size, window)),
        }
    }
}

impl RunPlan {
    /// The job that trains this plan on `backend`.
    pub fn job(&self, backend: Backend, resume: Option<Checkpoint>, data_dir: &Path) -> RunJob<'_> {
        RunJob {
            data: &self.data,
            model: self.model.clone(),
            config: self.config.clone(),
            run_dir: self.run_dir.clone(),
            backend,
            resume,
            data_dir: Some(data_dir.to_path_buf()),
            tiling: self.tiling,
        }
    }

    /// One line describing the run, for logs and the status bar.
    pub fn describe(&self) -> String {
        let windows = self
            .tiling
            .map_or(String::new(), |t| format!(" in windows of {} px", t.window));
        // Colour files whose R, G and B agree everywhere train a gray model (detect_channels).
        let colour = match self.model.channels {
            1 => "gray (1 channel)".to_string(),
            3 => "RGB (3 channels)".to_string(),
            n => format!("{n} channels"),
        };
        format!(
            "training on {} images ({} skipped), {colour} at {} px{windows}, D = {}, {} epochs",
            self.data.n,
            self.data.skipped.len(),
            self.data.size,
            self.model.latent_dim,
            self.config.epochs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_windows_follow_the_encoder() {
        let pretrained = RunOptions::default();
        let config = pretrained.architecture(3);
        assert_eq!(config.stage_widths(), [16, 24, 40, 64, 64]);
        assert_eq!(
            pretrained.tiling(config.stage_count()),
            None,
            "whole images"
        );
        let scratch = RunOptions {
            encoder: EncoderChoice::Scratch,
            ..RunOptions::default()
        };
        let config = scratch.architecture(1);
        assert_eq!(config.backbone, None);
        assert_eq!(
            scratch.tiling(config.stage_count()),
            Some(Tiling::new(128, 32)),
            "a patch VAE on a quarter of the side"
        );
        // A chosen window holds for either encoder, and so does the whole image.
        for encoder in [EncoderChoice::Pretrained, EncoderChoice::Scratch] {
            let patch = RunOptions {
                encoder,
                window: Window::Patch(64),
                ..RunOptions::default()
            };
            assert_eq!(patch.tiling(5), Some(Tiling::new(128, 64)));
            let whole = RunOptions {
                encoder,
                window: Window::WholeImage,
                ..RunOptions::default()
            };
            assert_eq!(whole.tiling(5), None);
        }
    }

    #[test]
    fn stage_and_width_overrides_reach_the_architecture() {
        let options = RunOptions {
            backbone: Lite0Stage::Stride16,
            stages: Some(vec![32]),
            hidden: Some(48),
            latent_dim: 8,
            ..RunOptions::default()
        };
        let config = options.architecture(1);
        assert_eq!(config.stage_widths(), [16, 24, 40, 112, 32]);
        assert_eq!((config.hidden, config.latent_dim), (48, 8));
    }
}
