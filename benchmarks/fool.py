"""Fool it, measured: how small a change flips each digit model's answer, on held-out
drawings of digits (drawn with the page's pen, a seed apart from training's and the other
benchmarks'), and how long the search takes.

    python -m benchmarks.fool [-n 200] [--models mnist-cnn ...] [--seed 77]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from classifier import load_model
from classifier.attack import fool
from classifier.checkpoint import available_models
from training.handwriting import handwritten_digit

LIMIT = 0.35  # the largest pixel change (0-1) a flip must stay within to count


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fool", description=__doc__)
    p.add_argument("-n", type=int, default=200, help="drawings per model (default: 200)")
    p.add_argument("--models", nargs="+", default=None, help="default: every digit model")
    p.add_argument("--seed", type=int, default=77)
    args = p.parse_args(argv)
    names = args.models or [m for m in available_models() if m.startswith("mnist-")]
    rng = np.random.default_rng(args.seed)
    drawings = [handwritten_digit(rng) for _ in range(args.n)]
    print(f"{'model':<26} {'right':>6} {'flipped <= 0.35':>16} {'median linf':>12} "
          f"{'median l2':>10} {'median s':>9} {'max s':>6}")
    for name in names:
        clf = load_model(name)
        rows = []
        for rgba, digit in drawings:
            start = time.perf_counter()
            seen = clf.preprocess(rgba)
            right = clf.predict(seen) == digit
            r = fool(clf, seen)
            rows.append((right, r.flipped and r.linf <= LIMIT, r.linf if r.flipped else np.nan,
                         r.l2 if r.flipped else np.nan, time.perf_counter() - start))
        right, flipped, linf, l2, seconds = (np.array(c, float) for c in zip(*rows))
        print(f"{name:<26} {100 * right.mean():5.1f}% {100 * flipped.mean():15.1f}% "
              f"{np.nanmedian(linf):12.3f} {np.nanmedian(l2):10.2f} {np.median(seconds):9.2f} "
              f"{seconds.max():6.2f}", flush=True)


if __name__ == "__main__":
    main()
