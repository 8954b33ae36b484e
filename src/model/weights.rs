//! Weights by PyTorch name and layout (docs/method.md §7), read from and written to safetensors.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::{ModelError, VaeConfig};

/// One tensor in PyTorch's layout: row-major values and their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Tensors by PyTorch name (`encoder.convs.0.weight`, ...).
pub type NamedTensors = BTreeMap<String, NamedTensor>;

/// Every tensor the architecture has, with its PyTorch shape.
pub fn expected_shapes(config: &VaeConfig) -> Vec<(String, Vec<usize>)> {
    let mut shapes = Vec::new();
    let mut add = |name: String, weight: Vec<usize>, bias: usize| {
        shapes.push((format!("{name}.weight"), weight));
        shapes.push((format!("{name}.bias"), vec![bias]));
    };
    // Trained stages start from the last frozen one's features.
    let mut c_in = config
        .backbone
        .map_or(config.channels, |stage| stage.channels());
    for (n, &width) in config.stages.iter().enumerate() {
        add(format!("encoder.convs.{n}"), vec![width, c_in, 4, 4], width);
        c_in = width;
    }
    let (hidden, latent, flat) = (config.hidden, config.latent_dim, config.flat());
    add("encoder.fc".into(), vec![hidden, flat], hidden);
    add("encoder.mu".into(), vec![latent, hidden], latent);
    add("encoder.logvar".into(), vec![latent, hidden], latent);
    add("decoder.fc".into(), vec![hidden, latent], hidden);
    add("decoder.proj".into(), vec![flat, hidden], flat);
    let mut c_in = *config.stage_widths().last().unwrap_or(&0);
    for (n, c_out) in decoder_widths(config).into_iter().enumerate() {
        // PyTorch's ConvTranspose2d stores [in, out, kh, kw].
        add(
            format!("decoder.deconvs.{n}"),
            vec![c_in, c_out, 4, 4],
            c_out,
        );
        c_in = c_out;
    }
    shapes
}

/// Output widths of the decoder's transposed convolutions: the stages (frozen ones included)
/// reversed, ending at the image's channel count.
pub(crate) fn decoder_widths(config: &VaeConfig) -> Vec<usize> {
    let mut widths: Vec<usize> = config.stage_widths().into_iter().rev().skip(1).collect();
    widths.push(config.channels);
    widths
}

/// Checks that `tensors` holds exactly the architecture's tensors with the right shapes.
/// Names starting with `vaelens.` are vaelens' own extras and are allowed.
pub(crate) fn check_complete(config: &VaeConfig, tensors: &NamedTensors) -> Result<(), ModelError> {
    let expected = expected_shapes(config);
    for (name, shape) in &expected {
        let Some(found) = tensors.get(name) else {
            return Err(ModelError::MissingTensor {
                name: name.clone(),
                expected: shape.clone(),
            });
        };
        if &found.shape != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.clone(),
                expected: shape.clone(),
                found: found.shape.clone(),
            });
        }
        if found.values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite { name: name.clone() });
        }
    }
    for name in tensors.keys() {
        if !name.starts_with("vaelens.") && !expected.iter().any(|(n, _)| n == name) {
            return Err(ModelError::ExtraTensor { name: name.clone() });
        }
    }
    Ok(())
}

/// Reads every tensor (f32, f16 or bf16, converted to f32) and the string metadata of a
/// safetensors file.
pub fn read_safetensors(
    path: &Path,
) -> Result<(NamedTensors, HashMap<String, String>), ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| ModelError::BadWeightsFile {
        path: path.to_path_buf(),
        reason,
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut tensors = NamedTensors::new();
    let in_file = |problem: ModelError| ModelError::InFile {
        path: path.to_path_buf(),
        problem: Box::new(problem),
    };
    for (name, view) in file.tensors() {
        let values = to_f32(&name, &view).map_err(in_file)?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(in_file(ModelError::NonFinite { name }));
        }
        tensors.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok((tensors, metadata))
}

fn to_f32(name: &str, view: &TensorView<'_>) -> Result<Vec<f32>, ModelError> {
    let data = view.data();
    let pairs = || data.chunks_exact(2).map(|b| [b[0], b[1]]);
    Ok(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => pairs()
            .map(|b| half::f16::from_le_bytes(b).to_f32())
            .collect(),
        Dtype::BF16 => pairs()
            .map(|b| half::bf16::from_le_bytes(b).to_f32())
            .collect(),
        other => {
            return Err(ModelError::BadDtype {
                name: name.to_string(),
                dtype: format!("{other:?}"),
            });
        }
    })
}

/// Writes tensors (as f32, or f16 to halve the file) with string metadata, atomically. Tensors
/// named `vaelens.*` (data a checkpoint carries beside the weights) are always f16.
pub fn write_safetensors(
    path: &Path,
    tensors: &NamedTensors,
    metadata: HashMap<String, String>,
    half_precision: bool,
) -> Result<(), ModelError> {
    let encoded: Vec<(String, Dtype, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| {
            let half = half_precision || name.starts_with("vaelens.");
            let bytes = if half {
                t.values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect()
            } else {
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect()
            };
            let dtype = if half { Dtype::F16 } else { Dtype::F32 };
            (name.clone(), dtype, bytes, t.shape.clone())
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = encoded
        .iter()
        .map(|(name, dtype, bytes, shape)| {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .expect("byte length follows from the shape");
            (name.clone(), view)
        })
        .collect();
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| ModelError::BadWeightsFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    crate::fsx::write_bytes_atomic(path, &bytes).map_err(ModelError::Write)
}
