"""Visitors' corrections ("That's wrong: it is a 7"), kept as a dataset to train on.

    store = Corrections("corrections", max_rows=5000, max_mb=200)
    row = store.add(seen, photo, dataset="mnist", model="mnist-cnn", answer="1", label="7")

The folder is in Hugging Face's ``imagefolder`` layout, so
``datasets.load_dataset("imagefolder", data_dir="corrections")`` reads it and
``python -m training --extra-data corrections`` trains on it:

    corrections/train/metadata.jsonl        one JSON object per correction
    corrections/train/inputs/<id>.png       the model's 28x28 input (``file_name``)
    corrections/train/originals/<id>.jpg    the image sent, at most 512 px (``original_file_name``)

The app's store comes from the environment (``store()``): CORRECTIONS_DIR (default
``corrections/`` beside the app; ``off`` keeps nothing), CORRECTIONS_MAX_ROWS,
CORRECTIONS_MAX_MB, and on a Space CORRECTIONS_REPO with HF_TOKEN, which pushes the folder to
that Hub dataset every CORRECTIONS_PUSH_MINUTES.

A row holds the dataset, the model, its answer, the given label and the day: nothing about
the person. The folder is bounded in rows and bytes; when full, a correction is refused with a
message. Writes from threads and processes are serialised by a lock file, and a row is
appended only after its images are complete, so a reader never sees a half-written row.
"""
from __future__ import annotations

import datetime
import fcntl
import io
import json
import logging
import os
import threading
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger("app")

ORIGINAL_SIZE = 512
FULL = ("Thank you, but the store of corrections is full for now, so this one was not kept.")
KEPT = ("Thank you: kept as a correction ({label} for {model}'s {answer}). Stored: the "
        "model's 28x28 input, the image shrunk to at most 512 px, the model, its answer, "
        "your label and the day; nothing about you.")


class StoreFull(Exception):
    """The store holds as many rows or bytes as it may."""


class Corrections:
    def __init__(self, folder: str | Path, max_rows: int = 5000, max_mb: float = 200,
                 scheduler=None):
        self.root = Path(folder)
        self.split = self.root / "train"
        self.max_rows, self.max_bytes = max_rows, max_mb * 2**20
        self.scheduler = scheduler  # a huggingface_hub CommitScheduler pushing the folder
        self._lock = threading.Lock()
        for sub in ("inputs", "originals"):
            (self.split / sub).mkdir(parents=True, exist_ok=True)

    @property
    def metadata(self) -> Path:
        return self.split / "metadata.jsonl"

    def rows(self) -> list[dict]:
        if not self.metadata.is_file():
            return []
        with open(self.metadata, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def size(self) -> tuple[int, int]:
        """(rows, bytes) of the store."""
        count = len(self.rows())
        total = sum(p.stat().st_size for p in self.split.rglob("*") if p.is_file())
        return count, total

    def add(self, seen: np.ndarray, photo: np.ndarray, *, dataset: str, model: str,
            answer: str, label: str) -> dict:
        """Keep one correction: ``seen`` the model's 28x28 input in [0, 1], ``photo`` the image
        as float RGBA in [0, 1]. Returns the row; StoreFull when the store is full."""
        inputs = _png(Image.fromarray(_bytes(seen), mode="L"))
        original, suffix = _original(photo)
        key = uuid.uuid4().hex
        row = {"file_name": f"inputs/{key}.png", "original_file_name": f"originals/{key}{suffix}",
               "dataset": dataset, "model": model, "answer": answer, "label": label,
               "day": datetime.date.today().isoformat()}
        with self._locked():
            count, total = self.size()
            if count >= self.max_rows or total + len(inputs) + len(original) > self.max_bytes:
                raise StoreFull(FULL)
            _write(self.split / row["file_name"], inputs)
            _write(self.split / row["original_file_name"], original)
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
            with open(self.metadata, "ab") as f:  # one write of one whole line
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        return row

    @contextmanager
    def _locked(self):
        """This process's threads, other processes (a lock file), and a push in progress."""
        pushing = self.scheduler.lock if self.scheduler is not None else nullcontext()
        with self._lock, pushing, open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


_STORE: list = []


def store() -> Corrections | None:
    """The app's store, made from the environment on first use; None where it is off."""
    if not _STORE:
        _STORE.append(_from_environment())
    return _STORE[0]


def _from_environment() -> Corrections | None:
    folder = os.environ.get("CORRECTIONS_DIR", str(Path(__file__).resolve().parents[1]
                                                   / "corrections"))
    if folder.strip().lower() in ("", "off", "none", "0"):
        return None
    repo, token = os.environ.get("CORRECTIONS_REPO"), os.environ.get("HF_TOKEN")
    scheduler = None
    if repo and token:
        try:
            scheduler = push_every(folder, repo, token,
                                   float(os.environ.get("CORRECTIONS_PUSH_MINUTES", 5)))
        except Exception as err:  # offline, a bad token: keep collecting locally
            log.warning("corrections stay local, not pushed to %s: %s", repo, err)
    try:
        return Corrections(folder, int(os.environ.get("CORRECTIONS_MAX_ROWS", 5000)),
                           float(os.environ.get("CORRECTIONS_MAX_MB", 200)), scheduler)
    except OSError as err:  # a read-only disk: the app runs, and keeps no corrections
        log.warning("keeping no corrections: %s", err)
        return None


def push_every(folder: str | Path, repo_id: str, token: str | None, minutes: float = 5,
               hf_api=None):
    """A CommitScheduler that pushes ``folder`` to the Hub dataset ``repo_id`` every
    ``minutes`` in the background (it creates the repository, once, at start)."""
    from huggingface_hub import CommitScheduler

    return CommitScheduler(repo_id=repo_id, repo_type="dataset", folder_path=folder,
                           every=minutes, token=token, private=True, hf_api=hf_api,
                           ignore_patterns=[".lock", "**/.*.tmp"])


def _bytes(seen: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(seen, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _original(photo: np.ndarray) -> tuple[bytes, str]:
    """The image sent, at most ORIGINAL_SIZE px across: a PNG where it is transparent (a
    drawing), else a JPEG (a photo)."""
    rgba = Image.fromarray(_bytes(photo), mode="RGBA")
    rgba.thumbnail((ORIGINAL_SIZE, ORIGINAL_SIZE))
    if rgba.getextrema()[3][0] < 255:
        return _png(rgba), ".png"
    buffer = io.BytesIO()
    rgba.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), ".jpg"


def _write(path: Path, data: bytes) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_bytes(data)
    staging.replace(path)
