//! Runs the training loop, turning each of its snapshots into a checkpoint on disk: the weights,
//! the progress and the normal statistics of those weights over the training set.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crossbeam_channel::Sender;

use super::PlanError;
use crate::backend::Backend;
use crate::checkpoint::{CONFIG_FILE, Checkpoint, CheckpointError, MODEL_FILE};
use crate::data::TrainSet;
use crate::explain::{FeatureMemory, MemoryConfig, NormalStats};
use crate::model::VaeConfig;
use crate::tiling::Tiling;
use crate::train::{
    OPTIMIZER_FILE, Resume, Snapshot, TrainError, TrainEvent, TrainJob, TrainOutcome, train,
};

/// Everything one training run needs.
pub struct RunJob<'a> {
    pub data: &'a TrainSet,
    pub model: VaeConfig,
    pub config: crate::train::TrainConfig,
    pub run_dir: PathBuf,
    pub backend: Backend,
    /// Continue from this checkpoint's weights and progress.
    pub resume: Option<Checkpoint>,
    pub data_dir: Option<PathBuf>,
    /// Set for a patch model: trained on random windows of the images, which are at
    /// `tiling.image_size`.
    pub tiling: Option<Tiling>,
}

/// How a run ended without error, with its last checkpoint (also on disk in the run folder).
#[derive(Debug)]
pub enum RunOutcome {
    Finished(Checkpoint),
    /// Stopped by the user; the checkpoint holds the weights at the moment of stopping.
    Cancelled(Checkpoint),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cleaning up the run folder: {0}")]
    Cleanup(std::io::Error),
}

/// Trains `job`, reporting through `events`, until done or until `cancel` is set; checkpoints go
/// to `job.run_dir` (see `Checkpoint::save_run`).
pub fn execute(
    job: RunJob<'_>,
    events: &Sender<TrainEvent>,
    cancel: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let RunJob {
        data,
        model,
        config,
        run_dir,
        backend,
        resume,
        data_dir,
        tiling,
    } = job;
    // Temporary files of a run that was killed mid-write.
    for file in [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE] {
        crate::fsx::remove_stale_temps(&run_dir.join(file)).map_err(RunError::Cleanup)?;
    }
    let device = backend.device.clone();
    let mut last = None;
    // feature-knn's memory depends on the images only: fitted at the first checkpoint, reused.
    let mut memory: Option<FeatureMemory> = None;
    let mut save = |snapshot: Snapshot<'_>| -> Result<(), RunError> {
        // Over the unflipped training set, and for a patch model over every scoring window.
        let mut stats = NormalStats::of_train_set(snapshot.model, data, tiling, &device);
        stats.memory = Some(match &memory {
            Some(fitted) => fitted.clone(),
            None => {
                let fitted = FeatureMemory::fit(data, MemoryConfig::default(), &device)
                    .map_err(CheckpointError::from)?;
                memory.insert(fitted).clone()
            }
        });
        let checkpoint = Checkpoint {
            config: model.clone(),
            stats: Some(stats),
            tensors: snapshot.tensors,
            state: Some(snapshot.state),
            tiling,
        };
        checkpoint.save_run(&run_dir)?;
        last = Some(checkpoint);
        Ok(())
    };
    let job = TrainJob {
        data,
        model: model.clone(),
        config,
        run_dir: run_dir.clone(),
        backend,
        resume: resume.map(|c| Resume {
            tensors: c.tensors,
            state: c.state,
        }),
        data_dir,
        tiling,
    };
    let outcome = train(job, events, cancel, &mut save)?;
    let checkpoint = last.expect("the loop saves a checkpoint before it returns");
    Ok(match outcome {
        TrainOutcome::Finished => RunOutcome::Finished(checkpoint),
        TrainOutcome::Cancelled => RunOutcome::Cancelled(checkpoint),
    })
}
