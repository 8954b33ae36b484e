//! The training loop: events out, cancellable, atomic checkpoints, resume, NaN guard, and
//! deterministic for a seed on the CPU backend.

pub mod adam;
mod config;
pub mod dsprites;
mod events;
mod optimizer_state;
mod run;
mod state;
mod step_random;

pub use config::TrainConfig;
pub use events::TrainEvent;
pub use optimizer_state::{OPTIMIZER_FILE, OptimizerStateError};
pub use run::{Resume, Snapshot, TrainError, TrainJob, TrainOutcome, train};
pub use state::{ACTIVE_UNIT_VARIANCE, EpochSummary, TrainState, active_units};
