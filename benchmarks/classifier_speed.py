"""Speed of the classifier library on this machine: batch of one, after warm-up, median and
95th percentile of many runs. Prints one line per measurement.

    python -m benchmarks.classifier_speed [--runs 200]

Inputs are what users send: a 280x280 Sketchpad drawing (RGBA) for digit models, a product
photo (JPEG-decoded RGB) for clothing models, both made from real test images.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from classifier import load_model
from training import synthetic
from training.data import read_split

MODELS = sys.argv[sys.argv.index("--models") + 1].split(",") if "--models" in sys.argv else [
    "mnist-cnn", "mnist-resnet18", "fashion-mnist-cnn", "fashion-mnist-resnet18"]


def timed(fn, runs: int, warmup: int = 5) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.classifier_speed",
                                description=__doc__)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--models", help="comma-separated names (default: the CNNs and ResNets)")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    args = p.parse_args()
    rng = np.random.default_rng(0)
    inputs = {}
    for ds, make in (("mnist", lambda x: synthetic.sketch(x, rng, canvas=280)),
                     ("fashion-mnist", lambda x: synthetic.product(x, rng))):
        images, _ = read_split(args.data_dir, ds, "test")
        inputs[ds] = make(images[0].numpy())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, runs {args.runs}")
    for name in MODELS:
        clf = load_model(name)
        image = inputs[clf.dataset]
        seen = clf.preprocess(image)
        rows = {
            "preprocess only": lambda: clf.preprocess(image),
            "preprocess + predict": lambda: clf.predict_proba(image),
            "grad-cam (28x28 input)": lambda: clf.explain(seen, method="gradcam"),
            "saliency (28x28 input)": lambda: clf.explain(seen, method="saliency"),
            "smoothgrad (28x28 input)": lambda: clf.explain(seen, method="smoothgrad"),
            "integrated gradients (28x28 input)":
                lambda: clf.explain(seen, method="integrated_gradients"),
        }
        for what, fn in rows.items():
            runs = args.runs if "integrated" not in what and "smooth" not in what \
                else max(20, args.runs // 5)
            med, p95 = timed(fn, runs)
            print(f"{name:<24} {what:<36} median {med:8.2f} ms   p95 {p95:8.2f} ms")


if __name__ == "__main__":
    main()
