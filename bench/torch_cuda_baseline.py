#!/usr/bin/env python3
"""The three figures of shared/bench/torch_baseline.py (same model, same operations, same medians)
on a CUDA GPU, for comparing `examples/speed_bench.rs --backend wgpu` with PyTorch on one card.
Each timed call ends with torch.cuda.synchronize(), as vaelens' timed calls end by reading back.

Run: python3 torch_cuda_baseline.py --baseline path/to/torch_baseline.py [--size 128] [--latent 32]
"""
import argparse, importlib.util, json, statistics, time
import torch
import torch.nn.functional as F


def load_baseline(path):
    spec = importlib.util.spec_from_file_location("torch_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, warmup=3, repeats=15):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    tb = load_baseline(a.baseline)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    m = tb.Vae(a.size, a.channels, latent=a.latent).to(dev)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    x = torch.rand(a.batch, a.channels, a.size, a.size, device=dev)

    def step():
        mu, lv = m.head(m.features(x))
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        xr = m.decode(z)
        rec = F.binary_cross_entropy(xr, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        loss = (rec + kl) / a.batch
        opt.zero_grad()
        loss.backward()
        opt.step()

    one = torch.rand(1, a.channels, a.size, a.size, device=dev)
    D = a.latent

    def attention():
        with torch.no_grad():
            feats = m.features(one)
        rep = feats.repeat(D, 1, 1, 1).requires_grad_(True)
        mu, _ = m.head(rep)
        torch.diagonal(mu).sum().backward()
        alpha = rep.grad.mean(dim=(2, 3), keepdim=True)
        maps = F.relu((alpha * rep.detach()).sum(1, keepdim=True))
        maps = F.interpolate(maps, size=(a.size, a.size), mode="bilinear", align_corners=False)
        return maps.mean(0).cpu()

    zd = torch.randn(1, D, device=dev)

    def decode():
        with torch.no_grad():
            m.decode(zd).cpu()

    res = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "size": a.size,
        "batch": a.batch,
        "train_img_per_s": a.batch / timed(step, 2, 8),
        "attention_ms": timed(attention) * 1e3,
        "decode_ms": timed(decode, 5, 50) * 1e3,
    }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
