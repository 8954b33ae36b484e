//! Training on dSprites (docs/method.md §4): beta-VAE, FactorVAE, and FactorVAE with the attention
//! disentanglement loss, for a step budget, on batches rendered on the fly.

mod config;
mod networks;
mod objective;
mod resume;
mod run;

pub use config::{DspritesModel, DspritesTrainConfig, RUN_FILE};
pub use networks::{DISCRIMINATOR_FILE, DISCRIMINATOR_OPTIMIZER_FILE};
pub use objective::{StepTerms, objective};
pub use resume::DspritesResume;
pub use run::{DspritesRun, StepReport, TrainDspritesError, train_dsprites};
