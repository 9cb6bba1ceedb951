"""Accuracy through the serving path, as the app serves it: the test set (each image through
``prepare``, where dataset images pass unchanged, and ``normalize``) and the real clothing
photos kept for development.

    python -m training.served --model mnist-cnn --data-dir ../shared/data [--json]
    python -m training.served --model fashion-mnist-resnet18 --photos ../shared/data/clothing-photos
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from classifier.checkpoint import CheckpointError
from classifier.predict import load_model
from classifier.preprocess import BlankImageError, normalize
from training.data import DataNotFoundError, read_split


def evaluate_dataset(clf, data_dir: str | Path, batch_size: int = 500) -> dict:
    images, labels = read_split(data_dir, clf.dataset, "test", download=False)
    seen = np.stack([clf.preprocess(img) for img in images.numpy()])  # (N, 28, 28) uint8
    preds = torch.cat([clf.logits(normalize(seen[i:i + batch_size], clf.mean, clf.std)).argmax(1)
                       for i in range(0, len(seen), batch_size)])
    correct = int((preds == labels).sum())
    return {"model": clf.name, "dataset": clf.dataset, "accuracy": correct / len(labels),
            "correct": correct, "total": len(labels)}


# Real clothing photos (development only, never for training): the Fashion-MNIST answers a
# sensible person accepts for each photo class; hat, shorts and skirt have none.
ACCEPTED = {"t-shirt": ("T-shirt/top", "Shirt"), "pants": ("Trouser",),
            "longsleeve": ("Pullover", "Coat", "Shirt"), "outwear": ("Coat", "Pullover"),
            "dress": ("Dress",), "shirt": ("Shirt", "T-shirt/top"),
            "shoes": ("Sandal", "Sneaker", "Ankle boot")}
NONE_OF_THE_TEN = ("hat", "shorts", "skirt")  # photo classes no Fashion-MNIST class fits


def photo_labels(folder: str | Path, classes=ACCEPTED) -> list[tuple[Path, str]]:
    """(photo path, photo class) for ``classes`` (default: the mapped ones) of a
    ``clothing-photos`` folder."""
    folder = Path(folder)
    rows = [line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:]]
    return [(folder / "images" / f, c.strip()) for f, c in rows if c.strip() in classes]


def evaluate_photos(clf, folder: str | Path) -> dict:
    """Accepted answers, refusals and photos flagged as not one of the ten kinds
    (out-of-distribution) of ``clf`` on the real photos, overall and per class; and how
    many of the photos of hats, shorts and skirts, which no class fits, it flags."""
    per_class: dict[str, list[int]] = {c: [0, 0, 0] for c in ACCEPTED}  # accepted, refused, n
    flagged = 0
    for path, photo_class in photo_labels(folder):
        counts = per_class[photo_class]
        counts[2] += 1
        try:
            probs, _, ood = clf.assess(path)
        except BlankImageError:
            counts[1] += 1
            continue
        counts[0] += max(probs, key=probs.get) in ACCEPTED[photo_class]
        flagged += ood
    others = {c: [0, 0] for c in NONE_OF_THE_TEN}  # flagged (or refused), n
    for path, photo_class in photo_labels(folder, NONE_OF_THE_TEN):
        others[photo_class][1] += 1
        try:
            others[photo_class][0] += clf.assess(path)[2]
        except BlankImageError:
            others[photo_class][0] += 1
    total = sum(c[2] for c in per_class.values())
    n_other = sum(n for _, n in others.values())
    return {"model": clf.name, "accepted": sum(c[0] for c in per_class.values()) / total,
            "refused": sum(c[1] for c in per_class.values()), "total": total,
            "flagged": flagged / total,
            "per_class": {k: {"accepted": a, "refused": r, "n": n}
                          for k, (a, r, n) in per_class.items()},
            "others_flagged": sum(f for f, _ in others.values()) / max(n_other, 1),
            "others": {k: {"flagged": f, "n": n} for k, (f, n) in others.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.served", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model name, folder or Hub repo id")
    p.add_argument("--data-dir", default="data", help="folder holding mnist/ and "
                   "fashion-mnist/ (default: data)")
    p.add_argument("--photos", help="a clothing-photos folder: score the photos instead")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        clf = load_model(args.model)
        result = (evaluate_photos(clf, args.photos) if args.photos
                  else evaluate_dataset(clf, args.data_dir))
    except (CheckpointError, DataNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    elif args.photos:
        print(f"{result['model']} on {result['total']} photos: accepted answer "
              f"{100 * result['accepted']:.1f}%, refused {result['refused']}, flagged as not "
              f"clothing {100 * result['flagged']:.1f}%")
    else:
        print(f"{result['model']} on {result['dataset']} test: accuracy "
              f"{100 * result['accuracy']:.2f}% ({result['correct']}/{result['total']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
