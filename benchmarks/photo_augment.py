"""Which photo-style augmentations help on real photos: fine-tune a shipped clothing model
briefly with each part of ``training.augment.photo_style`` added on its own, and with all
of them, from the same start, seed and data, and print validation accuracy (Fashion-MNIST)
and accepted answers on the development photos (which never train anything).

    python -m benchmarks.photo_augment --data-dir ../shared/data --epochs 2
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from classifier.checkpoint import load_checkpoint
from classifier.preprocess import normalize, prepare, recipe_for
from training.augment import PHOTO_PARTS
from training.config import resolve_config
from training.data import read_split, train_val_split
from training.run import seed_everything
from training.served import ACCEPTED, photo_labels
from training.train import evaluate, fit

VARIANTS = {"full (control)": ("full", ()), "full + all": ("photo", PHOTO_PARTS),
            **{f"full + {p}": ("photo", (p,)) for p in PHOTO_PARTS}}


def photo_set(folder: str, recipe: str):
    """The development photos as the recipe prepares them, and each one's accepted labels."""
    rows = photo_labels(folder)
    seen = np.stack([prepare(path, recipe) for path, _ in rows])
    return seen, [c for _, c in rows]


def photo_accuracy(model, seen, classes, config) -> float:
    with torch.no_grad():
        pred = model(normalize(seen, config["mean"], config["std"])).argmax(1).tolist()
    names = config["class_names"]
    return float(np.mean([names[p] in ACCEPTED[c] for p, c in zip(pred, classes)]))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.photo_augment",
                                description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--photos", default="../shared/data/clothing-photos")
    p.add_argument("--checkpoint", default="checkpoints/fashion-mnist-cnn")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--limit", type=int, help="train on the first N training images only")
    p.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = p.parse_args(argv)

    start, config = load_checkpoint(args.checkpoint)
    seen, classes = photo_set(args.photos, recipe_for(config))
    images, labels = read_split(args.data_dir, config["dataset"], "train")
    t = config["training"]
    train_idx, val_idx = train_val_split(len(images), t["val_size"], config["seed"])
    if args.limit:
        train_idx = train_idx[:args.limit]
    train, val = (images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx])
    device = torch.device("cpu")
    base = resolve_config(config["dataset"], config["arch"], epochs=args.epochs, lr=args.lr,
                          patience=args.epochs, progress=False, device="cpu",
                          mean=config["mean"], std=config["std"],
                          arch_kwargs=config["arch_kwargs"])
    print(f"{config['name']}: {len(train[0])} train images, {args.epochs} epochs at lr "
          f"{args.lr:g} from the shipped weights; {len(seen)} development photos")
    _, acc = evaluate(start, *val, base, device)
    print(f"| variant | val accuracy | development photos accepted | minutes |\n"
          f"| --- | --- | --- | --- |\n"
          f"| shipped, not fine-tuned | {acc:.2%} | "
          f"{photo_accuracy(start, seen, classes, config):.1%} | - |", flush=True)
    for name, (strength, parts) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        seed_everything(0)
        model, _ = load_checkpoint(args.checkpoint)
        cfg = base.replace(augment=strength, photo_parts=parts)
        t0 = time.perf_counter()
        model, _, _ = fit(model.train(), train, val, cfg, device, log=lambda *a: None)
        _, acc = evaluate(model, *val, cfg, device)
        print(f"| {name} | {acc:.2%} | {photo_accuracy(model, seen, classes, config):.1%} | "
              f"{(time.perf_counter() - t0) / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
