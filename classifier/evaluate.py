"""Test-set accuracy through the serving path: each test image goes through ``prepare``
(dataset images pass through unchanged) and ``normalize``, exactly as the app serves it.

The IDX reader lives here, so the classifier needs nothing from training (which uses it).
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from classifier.preprocess import normalize

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (.gz or plain): images as (n, rows, cols) uint8, labels as (n,) uint8."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic == IMAGE_MAGIC:
        n, rows, cols = struct.unpack(">III", data[4:16])
        shape, offset = (n, rows, cols), 16
    elif magic == LABEL_MAGIC:
        (n,) = struct.unpack(">I", data[4:8])
        shape, offset = (n,), 8
    else:
        raise ValueError(f"{path} is not an IDX image or label file (magic {magic})")
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: {array.size} values for shape {shape}")
    return array.reshape(shape)


def find_idx(folder: Path, stem: str) -> Path | None:
    """``folder/stem.gz`` or ``folder/stem``, whichever exists (the .gz first), else None."""
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _read(folder: Path, stem: str) -> np.ndarray:
    path = find_idx(folder, stem)
    if path is None:
        raise FileNotFoundError(f"no {stem}(.gz) in {folder}")
    return read_idx(path)


def evaluate_dataset(clf, data_dir: str | Path, batch_size: int = 500) -> dict:
    folder = Path(data_dir) / clf.dataset
    images = _read(folder, TEST_FILES[0])
    labels = torch.from_numpy(_read(folder, TEST_FILES[1]).astype(np.int64))
    seen = np.stack([clf.preprocess(img) for img in images])  # (N, 28, 28) uint8
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


def photo_labels(folder: str | Path) -> list[tuple[Path, str]]:
    """(photo path, photo class) for the mapped classes of a ``clothing-photos`` folder."""
    folder = Path(folder)
    rows = [line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:]]
    return [(folder / "images" / f, c.strip()) for f, c in rows if c.strip() in ACCEPTED]


def evaluate_photos(clf, folder: str | Path) -> dict:
    """Accepted answers and refusals of ``clf`` on the real photos, overall and per class."""
    from classifier.preprocess import BlankImageError

    per_class: dict[str, list[int]] = {c: [0, 0, 0] for c in ACCEPTED}  # accepted, refused, n
    for path, photo_class in photo_labels(folder):
        counts = per_class[photo_class]
        counts[2] += 1
        try:
            counts[0] += clf.predict(path) in ACCEPTED[photo_class]
        except BlankImageError:
            counts[1] += 1
    total = sum(c[2] for c in per_class.values())
    return {"model": clf.name, "accepted": sum(c[0] for c in per_class.values()) / total,
            "refused": sum(c[1] for c in per_class.values()), "total": total,
            "per_class": {k: {"accepted": a, "refused": r, "n": n}
                          for k, (a, r, n) in per_class.items()}}
