#!/usr/bin/env python3
"""Where PyTorch spends the time of bench/torch_baseline.py's train step and decode, per
operator (torch.profiler, CPU), to set beside a profile of vaelens (docs/speed.md).

    python bench/torch_profile.py [--threads 2] [--size 128] [--batch 32] [--rows 15]

Needs torch (see docs/speed.md); prints two tables of operators by their own CPU time, summed
over 5 train steps and over 50 decodes.
"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from torch_baseline import Vae, operations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rows", type=int, default=15)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Vae(a.size, a.channels, latent=a.latent)
    train_step, _, decode = operations(model, a.size, a.channels, a.latent, a.batch, "cpu")
    for name, fn, warmup, repeats in [("train step", train_step, 3, 5), ("decode", decode, 5, 50)]:
        for _ in range(warmup):
            fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeats):
                fn()
        print(f"{name}: {repeats} calls, {a.threads} threads")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))


if __name__ == "__main__":
    main()
