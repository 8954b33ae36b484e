//! What a dSprites run trains and saves: the VAE, the discriminator (FactorVAEs) and an Adam for
//! each. One save writes their files, then `dsprites.json` last, recording each file's CRC-32 so
//! that a resume never pairs files of two saves (a kill between the writes).

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;

use crate::train::adam::adam;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{DspritesRun, DspritesTrainConfig, RUN_FILE, TrainDspritesError};
use crate::checkpoint::{Checkpoint, MODEL_FILE};
use crate::model::discriminator::{Discriminator, DiscriminatorConfig};
use crate::model::{Vae, init_weights, read_safetensors, write_safetensors};
use crate::train::optimizer_state::{self, OPTIMIZER_FILE, param_ids, with_param_ids};

/// The discriminator's weights in a run folder.
pub const DISCRIMINATOR_FILE: &str = "discriminator.safetensors";
/// The discriminator's Adam state in a run folder (the VAE's is `optimizer.bpk`).
pub const DISCRIMINATOR_OPTIMIZER_FILE: &str = "discriminator_optimizer.bpk";

/// `dsprites.json` as a save writes it and a resume reads it: the run's record and the state saved
/// with it (which `DspritesRun::load` passes over).
#[derive(Serialize, Deserialize)]
pub(super) struct SavedRun {
    #[serde(flatten)]
    pub record: DspritesRun,
    /// None in records written before runs could resume.
    #[serde(default)]
    pub saved: Option<SavedState>,
}

impl SavedRun {
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

/// What `dsprites.json` records of the files saved with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub model_crc32: u32,
    pub optimizer_crc32: u32,
    /// The VAE's parameter ids, which its Adam state is keyed by.
    pub param_ids: Vec<u64>,
    pub discriminator: Option<SavedDiscriminator>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedDiscriminator {
    pub weights_crc32: u32,
    pub optimizer_crc32: u32,
    pub param_ids: Vec<u64>,
}

/// The networks of a run and their optimizers.
pub(super) struct Networks {
    pub model: Vae,
    pub optimizer: ModuleOptimizer,
    /// Present for the FactorVAEs.
    pub discriminator: Option<Discriminator>,
    pub discriminator_optimizer: ModuleOptimizer,
}

/// The VAE's Adam: betas 0.9, 0.999.
fn vae_adam() -> ModuleOptimizer {
    adam(0.9, 0.999)
}

/// The discriminator's Adam with Kim & Mnih's betas 0.5, 0.9.
fn discriminator_adam() -> ModuleOptimizer {
    adam(0.5, 0.9)
}

impl Networks {
    /// Freshly initialised networks for `config`, from its seed.
    pub fn fresh(
        config: &DspritesTrainConfig,
        device: &Device,
    ) -> Result<Self, TrainDspritesError> {
        let vae = &config.vae;
        let model = Vae::from_tensors(vae, &init_weights(vae, config.seed), device)?;
        let discriminator = config.model.uses_discriminator().then(|| {
            DiscriminatorConfig::kim_mnih(vae.latent_dim).init(config.seed ^ 0xd15c, device)
        });
        Ok(Self {
            model,
            optimizer: vae_adam(),
            discriminator,
            discriminator_optimizer: discriminator_adam(),
        })
    }

    /// Writes the networks and optimizers to `run_dir`, then `record` (with their CRC-32s) last.
    pub fn save(&self, record: &DspritesRun, run_dir: &Path) -> Result<(), TrainDspritesError> {
        let optimizer_crc32 =
            optimizer_state::save(&run_dir.join(OPTIMIZER_FILE), &self.optimizer)?;
        let discriminator = match &self.discriminator {
            Some(d) => {
                let optimizer_crc32 = optimizer_state::save(
                    &run_dir.join(DISCRIMINATOR_OPTIMIZER_FILE),
                    &self.discriminator_optimizer,
                )?;
                let path = run_dir.join(DISCRIMINATOR_FILE);
                write_safetensors(&path, &d.to_tensors(), Default::default(), false)?;
                Some(SavedDiscriminator {
                    weights_crc32: file_crc32(&path)?,
                    optimizer_crc32,
                    param_ids: param_ids(d),
                })
            }
            None => None,
        };
        let checkpoint = Checkpoint {
            config: record.config.vae.clone(),
            tensors: self.model.to_tensors(),
            stats: None,
            state: None,
            tiling: None,
        };
        checkpoint.save_run(run_dir)?;
        let saved = SavedState {
            model_crc32: file_crc32(&run_dir.join(MODEL_FILE))?,
            optimizer_crc32,
            param_ids: param_ids(&self.model),
            discriminator,
        };
        SavedRun {
            record: record.clone(),
            saved: Some(saved),
        }
        .save(run_dir)
    }

    /// The networks `run` was saved with in `run_dir`, and a warning for each Adam state that
    /// could not be restored (that optimizer restarts). Weights that do not match the record are
    /// an error: they belong to another save.
    pub fn load(
        run: &SavedRun,
        run_dir: &Path,
        device: &Device,
    ) -> Result<(Self, Vec<String>), TrainDspritesError> {
        let config = &run.record.config;
        let saved = run.saved.as_ref().ok_or_else(|| {
            not_resumable(
                run_dir.join(RUN_FILE),
                "it records no optimizer state (written before runs could resume); train it again",
            )
        })?;
        let model_path = run_dir.join(MODEL_FILE);
        check_crc32(&model_path, saved.model_crc32)?;
        let checkpoint = Checkpoint::load_run(run_dir)?;
        if checkpoint.config != config.vae {
            return Err(not_resumable(
                model_path,
                "its architecture differs from the one in dsprites.json",
            ));
        }
        let model = Vae::from_tensors(&config.vae, &checkpoint.tensors, device)?;
        let mut warnings = Vec::new();
        let (model, optimizer) = restore_adam(
            model,
            vae_adam,
            &run_dir.join(OPTIMIZER_FILE),
            &saved.param_ids,
            saved.optimizer_crc32,
            "the VAE's",
            &mut warnings,
        );
        let mut networks = Self {
            model,
            optimizer,
            discriminator: None,
            discriminator_optimizer: discriminator_adam(),
        };
        if config.model.uses_discriminator() {
            let path = run_dir.join(DISCRIMINATOR_FILE);
            let Some(saved) = &saved.discriminator else {
                return Err(not_resumable(
                    path,
                    "dsprites.json records no discriminator",
                ));
            };
            check_crc32(&path, saved.weights_crc32)?;
            let (tensors, _) = read_safetensors(&path)?;
            let discriminator = DiscriminatorConfig::kim_mnih(config.vae.latent_dim)
                .from_tensors(&tensors, device)
                .map_err(|problem| not_resumable(path, problem.to_string()))?;
            let (discriminator, optimizer) = restore_adam(
                discriminator,
                discriminator_adam,
                &run_dir.join(DISCRIMINATOR_OPTIMIZER_FILE),
                &saved.param_ids,
                saved.optimizer_crc32,
                "the discriminator's",
                &mut warnings,
            );
            networks.discriminator = Some(discriminator);
            networks.discriminator_optimizer = optimizer;
        }
        Ok((networks, warnings))
    }
}

/// `module` with the recorded parameter ids and a `new_adam` with the state saved in `path`; when
/// that state cannot be used, a new Adam and a warning naming the file.
fn restore_adam<M: Module>(
    module: M,
    new_adam: fn() -> ModuleOptimizer,
    path: &Path,
    ids: &[u64],
    crc32: u32,
    whose: &str,
    warnings: &mut Vec<String>,
) -> (M, ModuleOptimizer) {
    let expected = param_ids(&module).len();
    if ids.len() != expected {
        warnings.push(format!(
            "{whose} Adam state restarts: dsprites.json records {} parameter ids for {}, the \
             network has {expected}",
            ids.len(),
            path.display()
        ));
        return (module, new_adam());
    }
    let module = with_param_ids(module, ids);
    match optimizer_state::load(path, new_adam(), Some(crc32)) {
        Ok(loaded) => (module, loaded),
        Err(why) => {
            warnings.push(format!("{whose} Adam state restarts: {why}"));
            (module, new_adam())
        }
    }
}

fn file_crc32(path: &Path) -> Result<u32, TrainDspritesError> {
    let bytes = std::fs::read(path).map_err(|source| TrainDspritesError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(crc32fast::hash(&bytes))
}

fn check_crc32(path: &Path, expected: u32) -> Result<(), TrainDspritesError> {
    if file_crc32(path)? == expected {
        Ok(())
    } else {
        Err(not_resumable(
            path.to_path_buf(),
            "it was not written by the save dsprites.json records (an interrupted save, or a \
             changed file)",
        ))
    }
}

fn not_resumable(path: PathBuf, reason: impl Into<String>) -> TrainDspritesError {
    TrainDspritesError::NotResumable {
        path,
        reason: reason.into(),
    }
}
