"""What keeps a public server safe and bounded: a request reads only what it uploaded, the
upload folder stays within its budget, freed memory goes back to the system, and Hub models
are fetched once, at start, with a time limit.

    path = uploaded_file(image)          # the upload's path, or ImageError(NO_IMAGE)
    source = received_image(image)       # the same, or the bytes of a data URL it sent
    keep_bounded()                       # a background thread, for the server's life
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import os
import stat
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from classifier import ImageError, load_model
from classifier.image import data_url_bytes
from classifier.checkpoint import resolve_checkpoint

log = logging.getLogger("app")

HUB_TIMEOUT_S = float(os.environ.get("HUB_TIMEOUT_S", 60))
# Uploads and results live in Gradio's upload folder: files older than CACHE_AGE_S are
# deleted every CACHE_SWEEP_S, and the folder never holds more than DISK_BUDGET_MB.
CACHE_SWEEP_S, CACHE_AGE_S = 60, 600
DISK_BUDGET_MB = float(os.environ.get("DISK_BUDGET_MB", 500))
NO_IMAGE = "No image was received: upload an image file (PNG, JPEG, WebP, ...)."
NO_FETCH = ("This app never fetches a URL: send the image itself, as a "
            "data:image/png;base64,... URL, or upload the file to the app and pass the path "
            "that the upload returns.")
# An API caller's data URL: a 6 MB photo; the queue's bound on waiting requests bounds the rest
API_DATA_URL_CHARS = 8_000_000


def fetch_hub_models(repo_ids: list[str], timeout: float = HUB_TIMEOUT_S) -> dict[str, str]:
    """{repo id: local folder} of the Hub models that download and load within ``timeout``
    seconds each; the others are skipped with a log line. Runs once, at start."""
    found = {}
    for repo_id in repo_ids:
        result: dict = {}
        worker = threading.Thread(target=_fetch, args=(repo_id, result), daemon=True)
        worker.start()
        worker.join(timeout)
        if "folder" in result:
            found[repo_id] = result["folder"]
        else:
            log.warning("skipping Hub model %s: %s", repo_id,
                        result.get("error", f"no answer within {timeout:g} s"))
    return found


def _fetch(repo_id: str, result: dict) -> None:
    try:
        folder = str(resolve_checkpoint(repo_id))
        load_model(folder)  # a checkpoint that does not load is skipped now, not per request
        result["folder"] = folder
    except Exception as err:  # offline, unknown repo, broken checkpoint: skip it
        result["error"] = str(err)


def upload_folder() -> Path:
    return Path(gr.utils.get_upload_folder()).resolve()


def received_image(image) -> str | bytes:
    """What an API request sent as its image: the bytes of a ``data:image/...;base64,`` URL,
    decoded here, or the path of a file it uploaded to this app (Gradio's file dict, as
    ``gradio_client.handle_file`` sends it, or the bare path that ``/gradio_api/upload``
    returned). A web address is refused, never fetched."""
    if isinstance(image, str):
        if image.startswith("data:"):
            return data_url_bytes(image, API_DATA_URL_CHARS)
        if "://" in image[:16] or image.startswith("file:"):
            raise ImageError(NO_FETCH)
        image = {"path": image, "meta": {"_type": "gradio.FileData"}}
    return uploaded_file(image)


def uploaded_file(image) -> str:
    """The path of a file that Gradio received as an upload. Anything else (a bare path, a
    dict without Gradio's file marker, a file outside the upload folder, a missing file) is
    refused with the one message of a missing image: a caller learns nothing of the disk."""
    meta = image.get("meta") if isinstance(image, dict) else None
    path = image.get("path") if isinstance(meta, dict) else None
    if meta and meta.get("_type") == "gradio.FileData" and isinstance(path, str):
        try:
            real = Path(path).resolve()
            if real.is_relative_to(upload_folder()) and real.is_file():
                return str(real)
        except (OSError, ValueError):  # a null byte, a loop of links, ...
            pass
    raise ImageError(NO_IMAGE)


def save_result(rgb: np.ndarray) -> str:
    """A PNG in the upload folder named by its content, so repeated answers share one file;
    Gradio tracks it and deletes it with the other temporary files."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    data = buffer.getvalue()
    out = upload_folder() / "results" / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if out.is_file():
        os.utime(out)  # handed out again: its age starts over
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{threading.get_ident()}")
    staging.write_bytes(data)
    staging.replace(out)
    return str(out)


def prune(folder: Path, max_bytes: float, started: float = 0.0,
          max_age: float = CACHE_AGE_S) -> int:
    """Keep ``folder`` within ``max_bytes``: delete what an earlier run left (files older than
    ``max_age`` seconds, untouched since before ``started``), then the oldest of this run's
    files until the rest fit. Files made or touched at start (examples), and copies of
    shipped files, are kept: Gradio caches a shipped file (the comparison plot, a model
    card's figures) as a copy that keeps the original's old modification time, so a file's
    age counts from its last change of content or inode. Returns the bytes left."""
    now = time.time()
    files, total = [], 0
    for path in folder.rglob("*"):
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        touched = max(st.st_mtime, st.st_ctime)
        if touched < started and now - touched > max_age:
            path.unlink(missing_ok=True)
            continue
        total += st.st_size
        if st.st_mtime >= started:  # written by this run: uploads and results
            files.append((st.st_mtime, st.st_size, path))
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
    return total


def keep_bounded(every_s: float = 10.0) -> threading.Thread:
    """For the server's life, in the background: prune the upload folder to DISK_BUDGET_MB,
    and hand memory that requests freed back to the system."""
    started = time.time()
    libc = _glibc()
    if libc:  # few malloc arenas: threads that took turns on a model share freed memory
        libc.mallopt(-8, 2)  # M_ARENA_MAX

    def loop():
        while True:
            if libc:
                libc.malloc_trim(0)
            try:
                prune(upload_folder(), DISK_BUDGET_MB * 2**20, started=started)
            except OSError as err:
                log.warning("pruning the upload folder failed: %s", err)
            time.sleep(every_s)

    thread = threading.Thread(target=loop, name="keep-bounded", daemon=True)
    thread.start()
    return thread


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not Linux with glibc: nothing to tune
        return None
