"""Test-set accuracy through the serving path: each test image goes through ``prepare``
(dataset images pass through unchanged) and ``normalize``, exactly as the app serves it.

The IDX reader is small enough to keep here, so the classifier needs nothing from training.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from classifier.preprocess import normalize

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _read(folder: Path, stem: str) -> np.ndarray:
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        if (folder / name).is_file():
            with opener(folder / name, "rb") as f:
                data = f.read()
            offset = 16 if int.from_bytes(data[:4], "big") == 2051 else 8
            return np.frombuffer(data, np.uint8, offset=offset)
    raise FileNotFoundError(f"no {stem}(.gz) in {folder}")


def evaluate_dataset(clf, data_dir: str | Path, batch_size: int = 500) -> dict:
    folder = Path(data_dir) / clf.dataset
    images = _read(folder, TEST_FILES[0]).reshape(-1, 28, 28)
    labels = torch.from_numpy(_read(folder, TEST_FILES[1]).astype(np.int64))
    seen = np.stack([clf.preprocess(img) for img in images])  # (N, 28, 28) uint8
    preds = torch.cat([clf.logits(normalize(seen[i:i + batch_size], clf.mean, clf.std)).argmax(1)
                       for i in range(0, len(seen), batch_size)])
    correct = int((preds == labels).sum())
    return {"model": clf.name, "dataset": clf.dataset, "accuracy": correct / len(labels),
            "correct": correct, "total": len(labels)}
