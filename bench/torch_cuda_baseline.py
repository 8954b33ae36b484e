#!/usr/bin/env python3
"""The three figures of bench/torch_baseline.py (same model, same operations, same warm-ups and
medians) on a CUDA GPU, for comparing `cargo run --example speed_bench -- --backend wgpu` with
PyTorch on the same card. Each timed call ends with torch.cuda.synchronize() and the results are
copied to the host, as vaelens' timed calls end by reading their results back.

Run from the repository root, with a CUDA build of PyTorch (see docs/speed.md):

  python3 bench/torch_cuda_baseline.py [--size 128] [--channels 1] [--latent 32] [--batch 32]
      [--json out.json]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_baseline  # noqa: E402  (bench/torch_baseline.py, beside this file)


def main():
    parser = torch_baseline.arguments("PyTorch CUDA timings of the vaelens speed benchmark")
    a = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this script times PyTorch on a GPU (bench/torch_baseline.py is the CPU one)")
    figures = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "size": a.size,
        "batch": a.batch,
    }
    figures.update(
        torch_baseline.measure(
            a.size, a.channels, a.latent, a.batch, device="cuda", sync=torch.cuda.synchronize
        )
    )
    torch_baseline.report(figures, a.json)


if __name__ == "__main__":
    main()
