//! Errors of model building, weight loading and saving.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid model config: {0}")]
    BadConfig(String),
    #[error("{path}: not a valid model config: {reason}")]
    BadConfigFile { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a safetensors file: {reason}")]
    BadWeightsFile { path: PathBuf, reason: String },
    #[error("weights lack tensor `{name}` (expected shape {expected:?}) for this architecture")]
    MissingTensor { name: String, expected: Vec<usize> },
    #[error(
        "tensor `{name}` has shape {found:?} but this architecture needs {expected:?}: the weights were trained with another config"
    )]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("weights hold tensor `{name}` that this architecture does not have")]
    ExtraTensor { name: String },
    #[error("tensor `{name}` has dtype {dtype}; f32, f16 or bf16 expected")]
    BadDtype { name: String, dtype: String },
    #[error("tensor `{name}` holds NaN or infinite values")]
    NonFinite { name: String },
    /// A problem with one tensor of a weights file, with the file's name.
    #[error("{path}: {problem}")]
    InFile {
        path: PathBuf,
        problem: Box<ModelError>,
    },
    /// Writing a weights file failed; the atomic writer's message names the file.
    #[error(transparent)]
    Write(std::io::Error),
}
