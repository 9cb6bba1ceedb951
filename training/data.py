"""MNIST and Fashion-MNIST from their IDX files, as uint8 tensors.

    images, labels = read_split("../shared/data", "mnist", "train")   # (60000, 28, 28), (60000,)

Files may be gzip-compressed or plain. When they are absent, ``ensure_files`` downloads them
through torchvision (online users) or says exactly what is missing and where to put it.
"""
from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from classifier.datasets import DATASETS, FILES

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DataNotFoundError(FileNotFoundError):
    pass


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


def ensure_files(data_dir: str | Path, dataset: str, download: bool = True) -> Path:
    """Return the folder holding ``dataset``'s four files, downloading them if allowed."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    folder = Path(data_dir) / dataset
    stems = [s for pair in FILES.values() for s in pair]
    missing = [s for s in stems if find_idx(folder, s) is None]
    if missing and download:
        try:
            _download(folder, dataset)
        except Exception as err:  # offline or blocked: fall through to the clear message
            print(f"download of {dataset} failed: {type(err).__name__}: {err}")
        missing = [s for s in stems if find_idx(folder, s) is None]
    if missing:
        raise DataNotFoundError(
            f"{dataset}: missing {', '.join(m + '.gz' for m in missing)} in {folder.resolve()}. "
            f"Put the four standard IDX files there (.gz or plain), or run once with network "
            f"access so torchvision can download them.")
    return folder


def _download(folder: Path, dataset: str) -> None:
    """Fetch the files with torchvision and copy its raw .gz files into ``folder``."""
    from torchvision import datasets

    cls = getattr(datasets, DATASETS[dataset].torchvision)
    cache = folder / ".torchvision"
    for train in (True, False):
        cls(root=str(cache), train=train, download=True)
    for gz in cache.rglob("*.gz"):
        shutil.copy(gz, folder / gz.name)
    shutil.rmtree(cache, ignore_errors=True)


def read_split(data_dir: str | Path, dataset: str, split: str,
               download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (n, 28, 28), labels int64 (n,)) of the ``train`` or ``test`` split."""
    folder = ensure_files(data_dir, dataset, download)
    image_stem, label_stem = FILES[split]
    images = torch.from_numpy(read_idx(find_idx(folder, image_stem)).copy())
    labels = torch.from_numpy(read_idx(find_idx(folder, label_stem)).astype(np.int64))
    if len(images) != len(labels):
        raise ValueError(f"{dataset} {split}: {len(images)} images but {len(labels)} labels")
    return images, labels


def train_val_split(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded disjoint index sets carved from the training set."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:], perm[:val_size]


def read_corrections(folder: str | Path, dataset: str, repeat: int = 1):
    """(uint8 (n, 28, 28), labels) of the visitors' corrections for ``dataset`` in an
    ``imagefolder`` folder that the app's store wrote (``web/corrections.py``: each row's
    ``file_name`` is the model's 28x28 input, its ``label`` the class a visitor gave), each
    ``repeat`` times. Rows of another dataset, or with a label that is no class of it, are
    skipped."""
    names = DATASETS[dataset].class_names
    metadata = sorted(Path(folder).rglob("metadata.jsonl"))
    if not metadata:
        raise DataNotFoundError(f"No metadata.jsonl under {folder}: not a corrections folder.")
    images, labels = [], []
    for path in metadata:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("dataset") != dataset or row.get("label") not in names:
                continue
            with Image.open(path.parent / row["file_name"]) as image:
                pixels = np.asarray(image.convert("L"))
            if pixels.shape == (28, 28):
                images.append(pixels)
                labels.append(names.index(row["label"]))
    if not images:
        return torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)
    x, y = torch.as_tensor(np.stack(images)), torch.as_tensor(labels)
    return x.repeat(repeat, 1, 1), y.repeat(repeat)
