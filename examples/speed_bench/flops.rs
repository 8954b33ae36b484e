//! Floating-point operations of the benchmark's model, counted analytically from its config: a
//! multiply-add is two operations; convolutions and linear layers only (activations, the loss and
//! Adam are elementwise, under 1% of the total).

use vaelens::model::VaeConfig;

/// Side of every convolution kernel (docs/method.md §1: 4 x 4, stride 2, padding 1).
const KERNEL_AREA: usize = 16;

/// One image through encoder and decoder, forward only. Scratch encoders only: `None` for a
/// pretrained backbone, whose stages are counted nowhere here.
pub fn forward_per_image(config: &VaeConfig) -> Option<u64> {
    if config.backbone.is_some() {
        return None;
    }
    let mut total = 0;
    let mut widths = vec![config.channels];
    widths.extend(&config.stages);
    for (k, pair) in widths.windows(2).enumerate() {
        total += conv(pair[0], pair[1], config.stage_side(k));
    }
    let (flat, hidden, latent) = (config.flat(), config.hidden, config.latent_dim);
    total += 2 * (flat * hidden + 2 * hidden * latent);
    total += 2 * (latent * hidden + hidden * flat);
    let mut reversed: Vec<usize> = config.stages.iter().rev().copied().collect();
    reversed.push(config.channels);
    for (n, pair) in reversed.windows(2).enumerate() {
        // A transposed convolution does the work of the convolution it transposes.
        total += conv(pair[1], pair[0], config.last_side() << n);
    }
    Some(total as u64)
}

/// One image's share of a training step: the forward pass, and a backward pass of twice its
/// work (gradients of inputs and of weights), less the input gradient of the first layer,
/// which nothing needs.
pub fn train_step_per_image(config: &VaeConfig) -> Option<u64> {
    let forward = forward_per_image(config)?;
    let first_layer = conv(config.channels, config.stages[0], config.stage_side(0)) as u64;
    Some(3 * forward - first_layer)
}

/// A 4 x 4 convolution from `cin` to `cout` channels with a `side` x `side` output.
fn conv(cin: usize, cout: usize, side: usize) -> usize {
    2 * cin * cout * KERNEL_AREA * side * side
}
