#!/usr/bin/env bash
# vaelens against PyTorch on this machine's CPU: runs examples/speed_bench.rs and
# bench/torch_baseline.py one after the other, ROUNDS times (interleaved, so that a change in the
# machine's load hits both), and prints the medians over rounds and their ratios.
#
#   PYTHON=~/venvs/vaelens-bench/bin/python bench/compare.sh [--size 128] [--batch 32] ...
#
# Options are passed to both sides. Environment: PYTHON (a Python with torch; see docs/speed.md),
# THREADS (CPU threads of each side, default 2), ROUNDS (default 3), PEAK_GFLOP_S (the peak of
# THREADS cores, for the percentage; default 95 per thread: 3 GHz x 32 single-precision FLOP per
# cycle with AVX2 and two FMA units, or 190 where the CPU has AVX-512, whose FMA units are twice
# as wide). Builds speed_bench in the dev profile (CARGO_TARGET_DIR is used).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PER_THREAD=95
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    PER_THREAD=190
fi
PEAK_GFLOP_S=${PEAK_GFLOP_S:-$((PER_THREAD * THREADS))}

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "compare.sh: $PYTHON cannot import torch; set PYTHON to a Python with torch (docs/speed.md)" >&2
    exit 1
fi
cargo build --quiet --example speed_bench
bench="${CARGO_TARGET_DIR:-target}/debug/examples/speed_bench"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

for round in $(seq "$ROUNDS"); do
    echo "round $round of $ROUNDS: vaelens" >&2
    RAYON_NUM_THREADS=$THREADS "$bench" --backend cpu --json "$results/vaelens_$round.json" "$@" >/dev/null
    echo "round $round of $ROUNDS: PyTorch" >&2
    "$PYTHON" bench/torch_baseline.py --threads "$THREADS" --json "$results/torch_$round.json" "$@" >/dev/null
done

python3 - "$results" "$ROUNDS" "$THREADS" "$PEAK_GFLOP_S" <<'PY'
import json, statistics, sys

folder, rounds, threads, peak = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
load = lambda side: [json.load(open(f"{folder}/{side}_{r}.json")) for r in range(1, rounds + 1)]
ours, theirs = load("vaelens"), load("torch")
median = lambda runs, key: statistics.median(run[key] for run in runs)
flop = ours[0]["train_gflop_per_img"]
first = theirs[0]
print(f"vaelens ({ours[0]['backend']}) against PyTorch {first['torch']}, {threads} threads, "
      f"size {first['size']}, batch {first['batch']}; medians of {rounds} interleaved rounds")
print("| figure | vaelens | PyTorch | vaelens speed / PyTorch's |")
print("|---|---|---|---|")
for key, faster_is_higher in [("train_img_per_s", True), ("attention_ms", False), ("decode_ms", False)]:
    a, b = median(ours, key), median(theirs, key)
    print(f"| {key} | {a:.2f} | {b:.2f} | {(a / b if faster_is_higher else b / a):.2f}x |")
a, b = median(ours, "train_img_per_s") * flop, median(theirs, "train_img_per_s") * flop
print(f"| train_gflop_per_s ({flop:.2f} GFLOP/img; % of {peak:.0f}) | {a:.1f} ({100 * a / peak:.0f}%) "
      f"| {b:.1f} ({100 * b / peak:.0f}%) | {a / b:.2f}x |")
print(f"| eval_img_per_s | {median(ours, 'eval_img_per_s'):.2f} | | |")
PY
