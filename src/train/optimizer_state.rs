//! Adam's state across `--resume`: burn keys it by parameter id, and a model rebuilt from saved
//! tensors gets new ids, so a run records its parameters' ids (in `TrainState`, or `dsprites.json`)
//! and its optimizer (`RUN/optimizer.bpk`, burnpack), and a resumed model takes the recorded ids
//! back.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use crate::fsx::write_bytes_atomic;

/// The optimizer's file in a run directory.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// The ids of the model's parameters, in the module's (fixed) visiting order.
pub fn param_ids<M: Module>(model: &M) -> Vec<u64> {
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
pub fn with_param_ids<M: Module>(model: M, ids: &[u64]) -> M {
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

/// Why Adam's state could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum OptimizerStateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: Adam's state does not (de)serialise: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{0} was written with another checkpoint than the run's weights")]
    Mismatch(PathBuf),
}

/// Writes the optimizer's state to `path` (a run folder's `OPTIMIZER_FILE`, say), atomically and
/// creating the folder, and returns the file's CRC-32.
pub fn save(path: &Path, optimizer: &ModuleOptimizer) -> Result<u32, OptimizerStateError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OptimizerStateError::Io { path, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let bytes = optimizer
        .into_bytes()
        .map_err(|e| OptimizerStateError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_bytes_atomic(path, &bytes).map_err(io(path))?;
    Ok(crc32fast::hash(&bytes))
}

/// The optimizer with the state saved in `path`, if there is one and its CRC-32 is `expected`
/// (when known); an unreadable or mismatched file is an error that names it (training then
/// restarts the optimizer and says so).
pub fn load(
    path: &Path,
    optimizer: ModuleOptimizer,
    expected: Option<u32>,
) -> Result<ModuleOptimizer, OptimizerStateError> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|source| OptimizerStateError::Io {
        path: path.clone(),
        source,
    })?;
    if expected.is_some_and(|crc| crc != crc32fast::hash(&bytes)) {
        return Err(OptimizerStateError::Mismatch(path));
    }
    optimizer
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| OptimizerStateError::Format {
            path,
            reason: e.to_string(),
        })
}
