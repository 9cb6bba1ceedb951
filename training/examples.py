"""Write the app's example images to ``examples/`` from the real test sets.

    python -m training.examples --data-dir ../shared/data

Digits: a few test digits as files, and a few as ink-on-paper photos. Clothing: two test
images per class, and a few items turned into product-photo-like pictures.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from training import synthetic
from classifier.datasets import DATASETS
from training.data import read_split


def write_examples(data_dir: str, out: Path) -> None:
    rng = np.random.default_rng(0)
    for dataset in DATASETS.values():
        digits = dataset.kind == "digits"
        images, labels = read_split(data_dir, dataset.name, "test")
        folder = out / ("digit" if digits else "clothing")
        folder.mkdir(parents=True, exist_ok=True)
        names = dataset.class_names
        per_class = 1 if digits else 2
        for k, name in enumerate(names):
            for j, index in enumerate((labels == k).nonzero().flatten()[:per_class].tolist()):
                slug = name.lower().replace("/", "-").replace(" ", "-")
                Image.fromarray(images[index].numpy()).save(folder / f"{slug}-{j + 1}.png")
        make, kind = ((synthetic.paper, "paper") if digits
                      else (synthetic.product, "photo"))
        for index in (3, 11, 25, 42):
            slug = names[labels[index]].lower().replace("/", "-").replace(" ", "-")
            Image.fromarray(make(images[index].numpy(), rng)).save(
                folder / f"{kind}-{slug}.jpg", quality=90)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.examples", description=__doc__)
    p.add_argument("--data-dir", default="data", help="(default: data)")
    p.add_argument("--out", default="examples", help="(default: examples)")
    args = p.parse_args(argv)
    write_examples(args.data_dir, Path(args.out))


if __name__ == "__main__":
    main()
