"""Can the explanations be trusted, measured: for every model and method, on test images of
each dataset, the deletion test (the class's probability fall when the map's top 10% of
pixels are blanked, against as many random ink pixels) and the model-randomisation test
(rank correlation with the map of the model with random weights, layer by layer from the
top; by default only the last step, all layers random, is measured). Targets: each model's
own answer. Integrated Gradients and SmoothGrad cost 32 and 16 passes a map, so they run on
the first ``--n-costly`` images.

    python -m benchmarks.explanations --data-dir ../shared/data [-n 500] [--n-costly 100]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from classifier import load_model
from classifier.checkpoint import available_models
from classifier.explain import METHODS, methods_for
from classifier.preprocess import normalize
from classifier.trust import Checks, check_many
from training.data import read_split

BATCH = 50
COSTLY = ("integrated_gradients", "smoothgrad")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.explanations", description=__doc__)
    p.add_argument("--data-dir", default="data")
    p.add_argument("-n", type=int, default=500, help="test images per dataset (default: 500)")
    p.add_argument("--models", nargs="+", default=None, help="default: every shipped model")
    p.add_argument("--n-costly", type=int, default=100,
                   help="images for Integrated Gradients and SmoothGrad (default: 100)")
    p.add_argument("--cascade", type=int, default=1,
                   help="randomisation steps from the top (default: 1, all layers at once)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = p.parse_args(argv)
    images = {}
    checks = Checks(cascade=args.cascade)
    print(f"{'model':<33} {'method':<21} {'n':>4} {'deletion':>8} {'random':>7} "
          f"{'del>rand':>8} {'randomised':>10}  {'cascade, top down':<26} {'s':>5}")
    for name in args.models or available_models():
        clf = load_model(name)
        if clf.dataset not in images:
            x, _ = read_split(args.data_dir, clf.dataset, "test", download=False)
            images[clf.dataset] = x[:args.n].numpy()
        seen = images[clf.dataset]
        targets = clf.probabilities(normalize(seen, clf.mean, clf.std)).argmax(1).numpy()
        for method in args.methods:
            if methods_for(clf)[method]:
                continue
            start = time.perf_counter()
            n = min(len(seen), args.n_costly) if method in COSTLY else len(seen)
            parts = [check_many(clf, seen[i:min(i + BATCH, n)], method,
                                targets[i:min(i + BATCH, n)], checks)
                     for i in range(0, n, BATCH)]
            cat = {k: np.concatenate([q[k] for q in parts])
                   for k in ("deletion_drop", "random_drop", "randomized_similarity")}
            cascade = [np.median(np.concatenate([q["cascade"][k][1] for q in parts]))
                       for k in range(len(parts[0]["cascade"]))]
            print(f"{name:<33} {METHODS[method]:<21} {n:4d} {np.mean(cat['deletion_drop']):8.3f} "
                  f"{np.mean(cat['random_drop']):7.3f} "
                  f"{100 * np.mean(cat['deletion_drop'] > cat['random_drop']):7.1f}% "
                  f"{np.median(cat['randomized_similarity']):10.3f}  "
                  f"{' '.join(f'{c:5.2f}' for c in cascade):<26} "
                  f"{time.perf_counter() - start:5.0f}", flush=True)


if __name__ == "__main__":
    main()
