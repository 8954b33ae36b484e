//! What the window asks of the worker and what the worker answers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use image::RgbaImage;

use crate::checkpoint::Checkpoint;
use crate::data::Category;
use crate::eval::dsprites::{DspritesEvalConfig, DspritesReport};
use crate::eval::{Report, ScoredTest};
use crate::explain::{AttentionMaps, MethodId};
use crate::metrics::Evaluation;
use crate::model::VaeConfig;
use crate::render::OverlayOptions;
use crate::run::{RunError, RunOptions};
use crate::train::dsprites::{DspritesRun, DspritesTrainConfig, StepReport};
use crate::train::{EpochSummary, TrainEvent};

/// Requests from the window.
#[derive(Debug)]
pub enum Command {
    /// Discover a data set folder (one MVTec category or a plain folder of images).
    OpenData(PathBuf),
    /// Open the built-in dSprites gallery (no folder: rendered on demand).
    OpenDsprites,
    /// Load a single-file checkpoint (`*.safetensors`) or a run directory.
    LoadModel(PathBuf),
    /// Save the current model as a single-file checkpoint (the window asked before overwriting).
    SaveModel(PathBuf),
    /// Attention maps (all D dimensions, from mu), reconstruction and latent of one image.
    Explain {
        path: PathBuf,
        stage: usize,
        /// The CAM rule's id (`explain::cam::cam_methods`).
        cam: &'static str,
        /// For a patch model, the window to explain (top-left corner in image-size pixels);
        /// None for the centre one.
        window: Option<(usize, usize)>,
    },
    /// Decode one latent; only the newest queued one is served.
    Decode {
        seq: u64,
        latent: Vec<f32>,
    },
    /// A traversal grid: for each of `dims` (rows), `mu` with that dimension set to each value.
    Traverse {
        mu: Vec<f32>,
        dims: Vec<usize>,
        values: Vec<f32>,
    },
    /// Anomaly maps of every test image for every method, then the evaluation report.
    Score {
        stage: usize,
    },
    StartTraining(TrainRequest),
    /// Train beta-VAE, FactorVAE or AD-FactorVAE on dSprites (pause, resume and stop as for
    /// `StartTraining`).
    StartDspritesTraining(DspritesTrainRequest),
    /// FactorVAE score, MIG, reconstruction and active units of the model in use, in a thread
    /// of its own; answered by progress and a `Disentanglement` event.
    EvaluateDisentanglement(DspritesEvalConfig),
    /// Stops the disentanglement evaluation under way (its figures are dropped).
    CancelDisentanglement,
    /// Pause, resume and stop act at once (see `engine::control`), answered by a
    /// `TrainingStatus` event.
    PauseTraining,
    ResumeTraining,
    StopTraining,
    /// Overlay PNGs of the whole test set for method `method` (one of `ScoredSet::method_ids`).
    ExportOverlays {
        method: MethodId,
        options: OverlayOptions,
        out: PathBuf,
        overwrite: bool,
    },
    /// The evaluation report as JSON with the curves as CSV beside it.
    WriteReport(PathBuf),
    /// An image drawn by the window (an overlay, a traversal grid, a screenshot) as a PNG,
    /// written atomically (the window asked before overwriting); `what` names it for the
    /// status bar.
    WritePng {
        image: RgbaImage,
        path: PathBuf,
        what: String,
    },
    /// Read an image file for display; answered with `Event::Image` (or an error).
    LoadImage(PathBuf),
    /// Stop training (its checkpoint is saved) and end the worker.
    Shutdown,
    /// Sent by the training threads: a checkpoint was written to this run directory.
    #[doc(hidden)]
    CheckpointWritten(PathBuf),
    /// Sent by the training thread when it ends.
    #[doc(hidden)]
    TrainingEnded(Result<(Box<Checkpoint>, bool), RunError>),
    /// Sent by the dSprites training thread when it ends: its run folder and record, or why it
    /// failed.
    #[doc(hidden)]
    DspritesTrainingEnded(PathBuf, Result<(DspritesRun, bool), String>),
    /// Sent by the disentanglement thread: its figures (None when cancelled) for job `ticket`.
    #[doc(hidden)]
    DisentanglementDone {
        ticket: u64,
        result: Result<Option<DspritesReport>, String>,
    },
    /// Sent by the evaluation thread: the scored test set with its report, for scoring job
    /// `ticket`.
    #[doc(hidden)]
    Evaluated {
        ticket: u64,
        set: Arc<ScoredSet>,
    },
}

/// A training run as the window configures it.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub options: RunOptions,
    pub run_dir: PathBuf,
    /// Continue from the loaded model (its architecture and epoch count) instead of starting anew.
    pub resume: bool,
}

/// A dSprites training run as the window configures it.
#[derive(Debug, Clone)]
pub struct DspritesTrainRequest {
    pub config: DspritesTrainConfig,
    pub run_dir: PathBuf,
    /// Continue the run saved in `run_dir` (its own config, the step budget raised to
    /// `config.steps`) instead of starting anew.
    pub resume: bool,
}

/// Answers and progress from the worker.
#[derive(Debug)]
pub enum Event {
    /// The device in use, for the status bar.
    Backend {
        description: String,
        is_gpu: bool,
    },
    Data(Arc<DataSummary>),
    /// `OpenData` found an MVTec root with these categories: the user picks one.
    Categories(Vec<PathBuf>),
    Thumbnails(Vec<(PathBuf, RgbaImage)>),
    /// The image `Command::LoadImage` asked for, at its own size.
    Image {
        path: PathBuf,
        image: RgbaImage,
    },
    Model(Arc<ModelInfo>),
    Explained(Arc<Explained>),
    Decoded {
        seq: u64,
        image: RgbaImage,
    },
    Traversal {
        dims: Vec<usize>,
        values: Vec<f32>,
        tiles: Vec<RgbaImage>,
    },
    ScoringProgress {
        done: usize,
        total: usize,
    },
    Scored(Arc<ScoredSet>),
    Train(TrainEvent),
    /// One dSprites training step: its loss terms and the run's pace.
    DspritesStep(StepReport),
    DisentanglementProgress {
        done: usize,
        total: usize,
    },
    /// The disentanglement figures of the model of `generation`.
    Disentanglement {
        generation: u64,
        report: Arc<DspritesReport>,
    },
    Training(TrainingStatus),
    ExportProgress {
        done: usize,
        total: usize,
    },
    /// Files written (exports, reports, checkpoints), with a sentence for the status bar.
    Written {
        what: String,
        paths: Vec<PathBuf>,
    },
    /// Something went wrong; the worker keeps running.
    Error(String),
    /// Something worth telling the user that is not an error.
    Info(String),
}

/// Where training stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingStatus {
    Loading,
    Running,
    Paused,
    /// Asked to stop: the step in flight finishes and the checkpoint is being written.
    Stopping,
    /// Ended: how (finished, stopped, failed).
    Ended(String),
}

/// What the data panel shows of an opened folder.
#[derive(Debug, Clone)]
pub struct DataSummary {
    pub category: Category,
    /// `train` first, then each defect type of the test split.
    pub groups: Vec<GroupSummary>,
}

/// One split or defect type.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub name: String,
    pub images: Vec<PathBuf>,
    /// Images with a ground-truth mask.
    pub masks: usize,
}

/// The model in use.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub config: VaeConfig,
    /// Where it came from, for the status bar.
    pub source: String,
    /// Increases with every model the worker loads; results carry it.
    pub generation: u64,
    pub has_stats: bool,
    /// The stage explained by default (`Explainer::default_stage`).
    pub default_stage: usize,
    /// Set for patch models: whole images are explained window by window.
    pub tiling: Option<crate::tiling::Tiling>,
    /// Normal statistics (prior N(0, I) when the checkpoint has none): latent slider ranges.
    pub normal_mu: Vec<f32>,
    pub normal_var: Vec<f32>,
    pub history: Vec<EpochSummary>,
}

impl ModelInfo {
    /// Active latent units after the last epoch of training (Burda et al.'s measure); None when
    /// the model's history does not record them.
    pub fn active_units(&self) -> Option<usize> {
        let last = self.history.last()?;
        (!last.mu_variance.is_empty()).then(|| crate::train::active_units(&last.mu_variance))
    }
}

/// Everything the attention and traversal panels show of one image.
#[derive(Debug, Clone)]
pub struct Explained {
    pub path: PathBuf,
    pub stage: usize,
    /// The CAM rule of the maps.
    pub cam: &'static str,
    pub generation: u64,
    /// The patch model's window that the maps explain (top-left corner in image-size pixels);
    /// None for a whole-image model.
    pub window: Option<(usize, usize)>,
    /// The image at its own size.
    pub original: RgbaImage,
    /// The model's input (resized, channel-converted) as an image.
    pub input: RgbaImage,
    /// decoder(mu) at the model's input size.
    pub reconstruction: RgbaImage,
    pub maps: AttentionMaps,
    /// This image's KL divergence per dimension (nats).
    pub kl: Vec<f32>,
    /// The normal difference d_i of docs/method.md §3 against the model's normal statistics.
    pub difference: Vec<f32>,
}

/// Anomaly maps of the test set and their evaluation.
#[derive(Debug, Clone)]
pub struct ScoredSet {
    pub generation: u64,
    pub stage: usize,
    /// Every method scored, in the order the window lists them (the default first).
    pub method_ids: Vec<MethodId>,
    pub tests: Vec<ScoredTest>,
    /// `None` when the report could not be built (reason in `notes`).
    pub report: Option<Report>,
    /// Each method's figures; empty when the report could not be built.
    pub evaluations: BTreeMap<MethodId, Evaluation>,
    pub notes: Vec<String>,
}
