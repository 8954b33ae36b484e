//! The network: strided conv encoder (optionally behind frozen pretrained stages) with mu / logvar
//! heads, and a mirrored transposed-conv decoder.

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::conv_gemm::{self, conv_transpose2d, conv2d};
use super::leaky_relu::leaky_relu;
use super::pretrained::{Lite0Config, Lite0Features, Lite0Stage};
use super::weights::{check_complete, decoder_widths};
use super::{ModelError, NamedTensor, NamedTensors, VaeConfig};

pub(crate) const SLOPE: f64 = 0.2;

#[derive(Module, Debug)]
pub struct Encoder {
    /// Frozen ImageNet-pretrained stages in front of `convs` (None: every stage is trained).
    pub backbone: Option<Lite0Features>,
    pub convs: Vec<Conv2d>,
    pub fc: Linear,
    pub mu: Linear,
    pub logvar: Linear,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub fc: Linear,
    pub proj: Linear,
    pub deconvs: Vec<ConvTranspose2d>,
    /// Channels and side of the last encoder stage, which `proj`'s output is reshaped to.
    last_channels: usize,
    last_side: usize,
}

#[derive(Module, Debug)]
pub struct Vae {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

/// The posterior's parameters for a batch: `[batch, D]` each.
#[derive(Clone, Debug)]
pub struct EncoderOutput {
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
}

impl Encoder {
    /// The frozen stages, shallowest first (empty without a backbone).
    fn frozen_stages(&self) -> &'static [Lite0Stage] {
        match &self.backbone {
            Some(backbone) => &Lite0Stage::ALL[..=backbone.deepest() as usize],
            None => &[],
        }
    }

    /// Output of stage `k` (frozen stages first; a trained stage after its LeakyReLU) for input
    /// images `[batch, C, S, S]`.
    pub fn stage_features(&self, input: Tensor<4>, k: usize) -> Tensor<4> {
        let frozen = self.frozen_stages();
        let x = match &self.backbone {
            Some(backbone) => {
                let upto = frozen[k.min(frozen.len() - 1)];
                backbone.forward(input, &[upto]).remove(0)
            }
            None => input,
        };
        if k < frozen.len() {
            return x;
        }
        self.convs[..=k - frozen.len()]
            .iter()
            .fold(x, |x, conv| leaky_relu(conv2d(conv, x), SLOPE))
    }

    /// The outputs of every stage, first to last, from one pass.
    pub fn all_stage_features(&self, input: Tensor<4>) -> Vec<Tensor<4>> {
        let mut outputs = match &self.backbone {
            Some(backbone) => backbone.forward(input.clone(), self.frozen_stages()),
            None => Vec::new(),
        };
        let mut x = outputs.last().cloned().unwrap_or(input);
        for conv in &self.convs {
            x = leaky_relu(conv2d(conv, x), SLOPE);
            outputs.push(x.clone());
        }
        outputs
    }

    /// mu and logvar from the features of stage `k`: the rest of the encoder.
    pub fn head_from_stage(&self, features: Tensor<4>, k: usize) -> EncoderOutput {
        let frozen = self.frozen_stages();
        let (x, next_conv) = match &self.backbone {
            Some(backbone) if k < frozen.len() => {
                let deepest = frozen[frozen.len() - 1];
                (backbone.forward_from(features, frozen[k], deepest), 0)
            }
            _ => (features, k + 1 - frozen.len()),
        };
        let x = self.convs[next_conv..]
            .iter()
            .fold(x, |x, conv| leaky_relu(conv2d(conv, x), SLOPE));
        let hidden = leaky_relu(conv_gemm::linear(&self.fc, x.flatten::<2>(1, 3)), SLOPE);
        EncoderOutput {
            mu: self.mu.forward(hidden.clone()),
            logvar: self.logvar.forward(hidden),
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> EncoderOutput {
        let last = self.stage_count() - 1;
        self.head_from_stage(self.stage_features(input, last), last)
    }

    /// Number of stages, frozen ones included.
    pub fn stage_count(&self) -> usize {
        self.frozen_stages().len() + self.convs.len()
    }
}

impl Decoder {
    /// Images `[batch, C, S, S]` in (0, 1) from latents `[batch, D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        sigmoid(self.forward_logits(z))
    }

    /// The decoder's output before the final sigmoid, for numerically stable BCE.
    pub fn forward_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let hidden = leaky_relu(conv_gemm::linear(&self.fc, z), SLOPE);
        let flat = leaky_relu(conv_gemm::linear(&self.proj, hidden), SLOPE);
        let mut x: Tensor<4> =
            flat.reshape([batch, self.last_channels, self.last_side, self.last_side]);
        let last = self.deconvs.len() - 1;
        for (n, deconv) in self.deconvs.iter().enumerate() {
            x = conv_transpose2d(deconv, x);
            if n != last {
                x = leaky_relu(x, SLOPE);
            }
        }
        x
    }
}

impl Vae {
    /// Builds the network from PyTorch-named weights, checking names and shapes first.
    pub fn from_tensors(
        config: &VaeConfig,
        tensors: &NamedTensors,
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        check_complete(config, tensors)?;
        let get = |name: &str| &tensors[name];
        let convs = (0..config.stages.len())
            .map(|n| conv(get, &format!("encoder.convs.{n}"), device))
            .collect();
        let deconvs = (0..decoder_widths(config).len())
            .map(|n| deconv(get, &format!("decoder.deconvs.{n}"), device))
            .collect();
        let backbone = config
            .backbone
            .map(|deepest| Lite0Config::new(deepest).init(device))
            .transpose()?;
        Ok(Self {
            encoder: Encoder {
                backbone,
                convs,
                fc: linear(get, "encoder.fc", device),
                mu: linear(get, "encoder.mu", device),
                logvar: linear(get, "encoder.logvar", device),
            },
            decoder: Decoder {
                fc: linear(get, "decoder.fc", device),
                proj: linear(get, "decoder.proj", device),
                deconvs,
                last_channels: *config.stage_widths().last().expect("validated"),
                last_side: config.last_side(),
            },
        })
    }

    /// The weights in PyTorch's names and layouts (linear weights transposed back to [out, in]).
    pub fn to_tensors(&self) -> NamedTensors {
        let mut out = NamedTensors::new();
        let enc = &self.encoder;
        for (n, c) in enc.convs.iter().enumerate() {
            put(
                &mut out,
                &format!("encoder.convs.{n}"),
                &c.weight.val(),
                &c.bias,
            );
        }
        for (name, l) in [
            ("encoder.fc", &enc.fc),
            ("encoder.mu", &enc.mu),
            ("encoder.logvar", &enc.logvar),
            ("decoder.fc", &self.decoder.fc),
            ("decoder.proj", &self.decoder.proj),
        ] {
            put(&mut out, name, &l.weight.val().transpose(), &l.bias);
        }
        for (n, d) in self.decoder.deconvs.iter().enumerate() {
            put(
                &mut out,
                &format!("decoder.deconvs.{n}"),
                &d.weight.val(),
                &d.bias,
            );
        }
        out
    }

    /// Reconstruction of `input` through the posterior mean.
    pub fn reconstruct(&self, input: Tensor<4>) -> Tensor<4> {
        self.decoder.forward(self.encoder.forward(input).mu)
    }
}

pub(super) fn put<const N: usize>(
    out: &mut NamedTensors,
    name: &str,
    weight: &Tensor<N>,
    bias: &Option<Param<Tensor<1>>>,
) {
    out.insert(format!("{name}.weight"), host(weight));
    if let Some(b) = bias {
        out.insert(format!("{name}.bias"), host(&b.val()));
    }
}

fn host<const N: usize>(t: &Tensor<N>) -> NamedTensor {
    NamedTensor {
        shape: t.dims().to_vec(),
        values: super::to_host(t.clone()),
    }
}

fn param<const N: usize>(t: &NamedTensor, device: &Device) -> Param<Tensor<N>> {
    let shape: [usize; N] = t.shape.clone().try_into().expect("checked rank");
    Param::from_tensor(Tensor::from_data(
        TensorData::new(t.values.clone(), shape),
        device,
    ))
}

fn conv<'a>(get: impl Fn(&str) -> &'a NamedTensor, name: &str, device: &Device) -> Conv2d {
    Conv2d {
        weight: param(get(&format!("{name}.weight")), device),
        bias: Some(param(get(&format!("{name}.bias")), device)),
        stride: [2, 2],
        kernel_size: [4, 4],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(1, 1, 1, 1),
    }
}

fn deconv<'a>(
    get: impl Fn(&str) -> &'a NamedTensor,
    name: &str,
    device: &Device,
) -> ConvTranspose2d {
    let weight = get(&format!("{name}.weight"));
    ConvTranspose2d {
        weight: param(weight, device),
        bias: Some(param(get(&format!("{name}.bias")), device)),
        stride: [2, 2],
        kernel_size: [4, 4],
        dilation: [1, 1],
        groups: 1,
        padding: [1, 1],
        padding_out: [0, 0],
        channels: [weight.shape[0], weight.shape[1]],
    }
}

pub(super) fn linear<'a>(
    get: impl Fn(&str) -> &'a NamedTensor,
    name: &str,
    device: &Device,
) -> Linear {
    let w = get(&format!("{name}.weight"));
    // PyTorch stores [out, in]; burn's Linear multiplies by [in, out].
    let (out_f, in_f) = (w.shape[0], w.shape[1]);
    let mut transposed = vec![0.0f32; w.values.len()];
    for o in 0..out_f {
        for i in 0..in_f {
            transposed[i * out_f + o] = w.values[o * in_f + i];
        }
    }
    let weight = NamedTensor {
        shape: vec![in_f, out_f],
        values: transposed,
    };
    Linear {
        weight: param(&weight, device),
        bias: Some(param(get(&format!("{name}.bias")), device)),
    }
}
