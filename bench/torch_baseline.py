#!/usr/bin/env python3
"""PyTorch reference timings for vaelens' speed benchmark (examples/speed_bench.rs).

Builds the reference VAE of docs/method.md §1 in PyTorch (128 px, encoder stages 32-64-128-256,
hidden 512, D = 32; module names as in §7) and times the three operations that
`cargo run --example speed_bench` times, the same way (median of repeats after warm-up):

  train_img_per_s  one training step at batch 32 (forward, summed BCE + KL, backward, Adam 1e-3),
                   in images per second
  attention_ms     one image: encoder forward, all D per-dimension Grad-CAM maps at the last stage
                   from a single backward pass through D copies of the features (docs/method.md §2),
                   upsampled to the input size, and their mean (the overall map)
  decode_ms        one latent vector decoded to an image (the cost of a latent slider move)

This is a benchmark helper, not part of the tests or CI. It needs PyTorch (see docs/speed.md):

  python3 -m venv ~/venvs/vaelens-bench && ~/venvs/vaelens-bench/bin/pip install torch numpy
  ~/venvs/vaelens-bench/bin/python bench/torch_baseline.py --threads 2 [--size 128] [--channels 1]
      [--latent 32] [--batch 32] [--json out.json]

bench/torch_cuda_baseline.py imports this file and runs the same model and operations on a CUDA GPU.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SLOPE = 0.2  # LeakyReLU slope after every conv, linear and transposed-conv layer but the last


class Encoder(nn.Module):
    def __init__(self, size, channels, stages, hidden, latent):
        super().__init__()
        widths = [channels, *stages]
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, kernel_size=4, stride=2, padding=1)
            for cin, cout in zip(widths[:-1], widths[1:])
        )
        side = size >> len(stages)
        self.fc = nn.Linear(stages[-1] * side * side, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def stage_features(self, x):
        """The last stage's feature maps A (after its LeakyReLU)."""
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
        return x

    def heads(self, features):
        """(mu, logvar) from the last stage's feature maps."""
        h = F.leaky_relu(self.fc(features.flatten(1)), SLOPE)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    def __init__(self, size, channels, stages, hidden, latent):
        super().__init__()
        self.shape = (stages[-1], size >> len(stages), size >> len(stages))
        self.fc = nn.Linear(latent, hidden)
        self.proj = nn.Linear(hidden, stages[-1] * self.shape[1] * self.shape[2])
        widths = [*reversed(stages), channels]
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1)
            for cin, cout in zip(widths[:-1], widths[1:])
        )

    def forward(self, z):
        h = F.leaky_relu(self.fc(z), SLOPE)
        h = F.leaky_relu(self.proj(h), SLOPE).view(-1, *self.shape)
        last = len(self.deconvs) - 1
        for n, deconv in enumerate(self.deconvs):
            h = deconv(h)
            h = torch.sigmoid(h) if n == last else F.leaky_relu(h, SLOPE)
        return h


class Vae(nn.Module):
    """The reference architecture; its state_dict keys are vaelens' weight names."""

    def __init__(self, size=128, channels=1, stages=(32, 64, 128, 256), hidden=512, latent=32):
        super().__init__()
        if size % (1 << len(stages)):
            raise ValueError(f"size {size} is not a multiple of {1 << len(stages)}")
        self.encoder = Encoder(size, channels, stages, hidden, latent)
        self.decoder = Decoder(size, channels, stages, hidden, latent)


def median_seconds(fn, warmup, repeats, sync=lambda: None):
    """Median wall time of `fn` over `repeats` calls after `warmup` untimed ones. `sync` waits
    for queued device work, so that asynchronous GPU work is inside each timed call."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def operations(model, size, channels, latent, batch, device):
    """The three timed operations as zero-argument callables: (train_step, attention, decode).
    Results are moved to the host (a no-op on the CPU), as vaelens reads its results back."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(batch, channels, size, size, device=device)

    def train_step():
        mu, logvar = model.encoder.heads(model.encoder.stage_features(images))
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = model.decoder(z)
        bce = F.binary_cross_entropy(recon, images, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (bce + kl) / batch
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    image = torch.rand(1, channels, size, size, device=device)

    def attention():
        with torch.no_grad():
            features = model.encoder.stage_features(image)
        # One backward pass for all D maps: copy i of the features only feeds mu_i's gradient.
        copies = features.repeat(latent, 1, 1, 1).requires_grad_(True)
        mu, _ = model.encoder.heads(copies)
        mu.diagonal().sum().backward()
        alpha = copies.grad.mean(dim=(2, 3), keepdim=True)
        maps = F.relu((alpha * copies.detach()).sum(dim=1, keepdim=True))
        maps = F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)
        return maps.mean(dim=0).cpu()

    z = torch.randn(1, latent, device=device)

    def decode():
        with torch.no_grad():
            return model.decoder(z).cpu()

    return train_step, attention, decode


def measure(size, channels, latent, batch, device="cpu", sync=lambda: None):
    """The three figures (same warm-ups and repeats on every device)."""
    torch.manual_seed(0)
    model = Vae(size, channels, latent=latent).to(device)
    train_step, attention, decode = operations(model, size, channels, latent, batch, device)
    return {
        "train_img_per_s": batch / median_seconds(train_step, 2, 8, sync),
        "attention_ms": median_seconds(attention, 3, 15, sync) * 1e3,
        "decode_ms": median_seconds(decode, 5, 50, sync) * 1e3,
    }


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser


def report(figures, path):
    print(json.dumps(figures, indent=1))
    if path:
        with open(path, "w") as out:
            json.dump(figures, out, indent=1)


def main():
    parser = arguments("PyTorch CPU timings of the vaelens speed benchmark's three operations")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    figures = {
        "torch": torch.__version__,
        "threads": a.threads,
        "size": a.size,
        "batch": a.batch,
    }
    figures.update(measure(a.size, a.channels, a.latent, a.batch))
    report(figures, a.json)


if __name__ == "__main__":
    main()
