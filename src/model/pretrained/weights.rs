//! The bundled stage weights (float16, batch norm folded in), read by their source names and checked.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::stage::{BLOCKS, STEM_CHANNELS};
use crate::model::{ModelError, NamedTensor, NamedTensors};

/// Where the bundled bytes come from, for error messages.
const BUNDLED_PATH: &str = "assets/efficientnet-lite0/stages.safetensors";
const BUNDLED: &[u8] = include_bytes!("../../../assets/efficientnet-lite0/stages.safetensors");

/// Every tensor of the stem and blocks 0..=10 with its PyTorch shape, in source names
/// (`_conv_stem`, `_blocks.N._expand_conv`, `_depthwise_conv`, `_project_conv`).
pub(super) fn expected_shapes() -> Vec<(String, Vec<usize>)> {
    let mut shapes = Vec::new();
    let mut add = |name: String, out: usize, per_group_in: usize, kernel: usize| {
        shapes.push((
            format!("{name}.weight"),
            vec![out, per_group_in, kernel, kernel],
        ));
        shapes.push((format!("{name}.bias"), vec![out]));
    };
    add("_conv_stem".into(), STEM_CHANNELS, 3, 3);
    for (n, b) in BLOCKS.iter().enumerate() {
        let hidden = b.c_in * b.expand;
        if b.expand != 1 {
            add(format!("_blocks.{n}._expand_conv"), hidden, b.c_in, 1);
        }
        add(format!("_blocks.{n}._depthwise_conv"), hidden, 1, b.kernel);
        add(format!("_blocks.{n}._project_conv"), b.c_out, hidden, 1);
    }
    shapes
}

/// The bundled weights, as f32, after checking that they are exactly the expected tensors.
pub(super) fn bundled() -> Result<NamedTensors, ModelError> {
    parse(BUNDLED, Path::new(BUNDLED_PATH))
}

fn parse(bytes: &[u8], origin: &Path) -> Result<NamedTensors, ModelError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| ModelError::BadWeightsFile {
        path: origin.to_path_buf(),
        reason: e.to_string(),
    })?;
    let expected = expected_shapes();
    let mut tensors = NamedTensors::new();
    for (name, shape) in &expected {
        let view = file.tensor(name).map_err(|_| ModelError::MissingTensor {
            name: name.clone(),
            expected: shape.clone(),
        })?;
        if view.shape() != shape.as_slice() {
            return Err(ModelError::ShapeMismatch {
                name: name.clone(),
                expected: shape.clone(),
                found: view.shape().to_vec(),
            });
        }
        let data = view.data();
        let pairs = || data.chunks_exact(2).map(|b| [b[0], b[1]]);
        let values: Vec<f32> = match view.dtype() {
            Dtype::F16 => pairs()
                .map(|b| half::f16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::BF16 => pairs()
                .map(|b| half::bf16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            other => {
                return Err(ModelError::BadDtype {
                    name: name.clone(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite { name: name.clone() });
        }
        tensors.insert(
            name.clone(),
            NamedTensor {
                shape: shape.clone(),
                values,
            },
        );
    }
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|name| !expected.iter().any(|(n, _)| n == *name))
    {
        return Err(ModelError::ExtraTensor {
            name: extra.to_string(),
        });
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::write_safetensors;

    #[test]
    fn bundled_weights_are_complete() {
        let tensors = bundled().unwrap();
        assert_eq!(tensors.len(), expected_shapes().len());
        let numbers: usize = tensors.values().map(|t| t.values.len()).sum();
        assert_eq!(numbers, 692_688);
    }

    #[test]
    fn damaged_weights_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stages.safetensors");
        let write = |tensors: &NamedTensors| {
            write_safetensors(&path, tensors, HashMap::new(), true).unwrap();
            std::fs::read(&path).unwrap()
        };
        let good = bundled().unwrap();

        let mut missing = good.clone();
        missing.remove("_blocks.4._depthwise_conv.weight");
        let err = parse(&write(&missing), &path).unwrap_err().to_string();
        assert!(err.contains("_blocks.4._depthwise_conv.weight"), "{err}");

        let mut reshaped = good.clone();
        reshaped.get_mut("_conv_stem.bias").unwrap().shape = vec![16, 2];
        let err = parse(&write(&reshaped), &path).unwrap_err().to_string();
        assert!(err.contains("_conv_stem.bias"), "{err}");

        let mut extra = good.clone();
        extra.insert("_fc.bias".into(), good["_conv_stem.bias"].clone());
        let err = parse(&write(&extra), &path).unwrap_err().to_string();
        assert!(err.contains("_fc.bias"), "{err}");

        let mut broken = good;
        broken
            .get_mut("_blocks.0._project_conv.bias")
            .unwrap()
            .values[3] = f32::NAN;
        let err = parse(&write(&broken), &path).unwrap_err().to_string();
        assert!(err.contains("_blocks.0._project_conv.bias"), "{err}");

        let err = parse(b"not safetensors", &path).unwrap_err().to_string();
        assert!(err.contains("stages.safetensors"), "{err}");
    }
}
