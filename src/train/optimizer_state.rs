//! Adam's state across `--resume`: burn keys it by parameter id, and a model rebuilt from saved
//! tensors gets new ids, so a run records its parameters' ids (in `TrainState`) and its optimizer
//! (`RUN/optimizer.bpk`, burnpack), and a resumed model takes the recorded ids back.

use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use crate::fsx::write_bytes_atomic;
use crate::model::Vae;

/// The optimizer's file in a run directory.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// The ids of the model's parameters, in the module's (fixed) visiting order.
pub fn param_ids(model: &Vae) -> Vec<u64> {
    struct Collect(Vec<u64>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id.val());
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// The model with its parameters carrying `ids` (from `param_ids` of the same architecture).
pub fn with_param_ids(model: Vae, ids: &[u64]) -> Vae {
    struct Assign<'a>(std::slice::Iter<'a, u64>);
    impl ModuleMapper for Assign<'_> {
        fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if let Some(&id) = self.0.next() {
                param.id = ParamId::from(id);
            }
            param
        }
    }
    model.map(&mut Assign(ids.iter()))
}

/// Writes the optimizer's state beside the run's checkpoint, atomically (creating the folder).
pub fn save(run_dir: &Path, optimizer: &ModuleOptimizer) -> Result<(), String> {
    let path = run_dir.join(OPTIMIZER_FILE);
    std::fs::create_dir_all(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let bytes = optimizer
        .into_bytes()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    write_bytes_atomic(&path, &bytes).map_err(|e| e.to_string())
}

/// The optimizer with the state saved in `run_dir`, if there is one; an unreadable file is an
/// error that names it (training then restarts the optimizer and says so).
pub fn load(run_dir: &Path, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer, String> {
    let path = run_dir.join(OPTIMIZER_FILE);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    optimizer
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}
