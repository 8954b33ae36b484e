//! A training run from either face: `plan` turns what the user asked for into a checked plan with
//! its images loaded, and `execute` runs the training loop, writing each checkpoint with the
//! normal statistics of the weights it saves.

mod execute;
mod plan;

pub use execute::{RunError, RunJob, RunOutcome, execute};
pub use plan::{EncoderChoice, PlanError, RunOptions, RunPlan, Window, plan_run};
