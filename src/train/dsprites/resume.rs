//! A saved dSprites run loaded to continue where it stopped: `DspritesResume::load` reads and
//! checks the run folder, `train_dsprites` takes it and trains on from its last step.

use std::path::Path;

use burn::prelude::*;

use super::networks::{Networks, SavedRun};
use super::{DspritesRun, DspritesTrainConfig, RUN_FILE, TrainDspritesError};

/// Largest batch a run record may ask for (each image is 16 KiB of floats).
const MAX_BATCH: usize = 1 << 16;

/// A run's networks, optimizers and record, as its last save left them.
pub struct DspritesResume {
    pub(super) record: DspritesRun,
    pub(super) networks: Networks,
    warnings: Vec<String>,
}

impl DspritesResume {
    /// Loads the run saved in `run_dir` onto `device`. Weights that do not match `dsprites.json`
    /// are an error; an Adam state that cannot be used restarts, with a warning (`warnings`).
    pub fn load(run_dir: &Path, device: &Device) -> Result<Self, TrainDspritesError> {
        let run = SavedRun::load(run_dir)?;
        let (record, config) = (&run.record, &run.record.config);
        if record.steps_done > config.steps || !(1..=MAX_BATCH).contains(&config.batch_size) {
            return Err(TrainDspritesError::BadRunFile {
                path: run_dir.join(RUN_FILE),
                reason: format!(
                    "{} of {} steps done with batches of {} (at most {MAX_BATCH}) cannot come from \
                     a run",
                    record.steps_done, config.steps, config.batch_size
                ),
            });
        }
        let (networks, warnings) = Networks::load(&run, run_dir, device)?;
        Ok(Self {
            record: run.record,
            networks,
            warnings,
        })
    }

    /// The run's config: a resumed run trains with it, its step budget raised at will.
    pub fn config(&self) -> &DspritesTrainConfig {
        &self.record.config
    }

    pub fn steps_done(&self) -> usize {
        self.record.steps_done
    }

    /// What could not be restored exactly (an optimizer that restarts), for the user.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Why `config` cannot continue this run, if it cannot: only the step budget may differ, and
    /// not below the steps done.
    pub(super) fn refuse(&self, config: &DspritesTrainConfig) -> Option<TrainDspritesError> {
        let saved = self.config();
        if config.steps < self.steps_done() {
            return Some(TrainDspritesError::BudgetBelowProgress {
                steps: config.steps,
                done: self.steps_done(),
            });
        }
        let same_budget = DspritesTrainConfig {
            steps: saved.steps,
            ..config.clone()
        };
        (same_budget != *saved).then(|| TrainDspritesError::ResumeMismatch {
            fields: differing_fields(saved, config).join(", "),
        })
    }
}

/// The top-level settings in which two configs differ, by name (`steps` left out).
fn differing_fields(a: &DspritesTrainConfig, b: &DspritesTrainConfig) -> Vec<String> {
    let (serde_json::Value::Object(a), Ok(serde_json::Value::Object(b))) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b),
    ) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(key, value)| *key != "steps" && b.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect()
}
