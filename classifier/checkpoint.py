"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (+ metrics, plots, model card).

The config describes everything needed to rebuild the model *and its preprocessing*
(architecture and arguments, class names, mean/std, input size, calibration temperature).
Nothing is ever unpickled: weights are safetensors, everything else is JSON.

    model, config = load_checkpoint("mnist-cnn")              # a shipped checkpoint
    model, config = load_checkpoint("checkpoints/mnist-cnn")  # any folder
    model, config = load_checkpoint("user/mnist-cnn")         # a Hugging Face Hub repo id
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from classifier.models import build_model

CHECKPOINTS_DIR = Path(os.environ.get("CLASSIFIER_CHECKPOINTS",
                                      Path(__file__).resolve().parent.parent / "checkpoints"))
CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "model.safetensors", "metrics.json"
REQUIRED_KEYS = ("arch", "arch_kwargs", "dataset", "class_names", "mean", "std", "input_size")


class CheckpointError(ValueError):
    """A checkpoint that cannot be found, is incomplete, or does not match its config."""


def resolve_checkpoint(name: str | os.PathLike) -> Path:
    """Map a model name, a folder path or a Hub repo id to a local folder."""
    path = Path(name)
    if path.is_dir():
        return path
    shipped = CHECKPOINTS_DIR / str(name)
    if shipped.is_dir():
        return shipped
    if isinstance(name, str) and name.count("/") == 1 and not name.startswith((".", "/")):
        return _download_from_hub(name)
    known = ", ".join(available_models()) or "none"
    raise CheckpointError(f"no model called {str(name)!r}: not a folder, not a shipped model "
                          f"(shipped: {known}), not a Hub repo id (user/name)")


def _download_from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors"]))
    except Exception as err:  # offline, unknown repo, no access: one clear message
        raise CheckpointError(f"could not fetch {repo_id!r} from the Hugging Face Hub: "
                              f"{type(err).__name__}: {err}") from err


def available_models(root: Path | None = None) -> list[str]:
    """Names of the complete checkpoint folders under ``root`` (default: ``checkpoints/``)."""
    root = Path(root or CHECKPOINTS_DIR)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file())


def read_config(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint folder {folder} is incomplete: missing {missing}")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{folder / CONFIG_FILE} is not valid JSON: {err}") from err
    absent = [k for k in REQUIRED_KEYS if k not in config]
    if absent:
        raise CheckpointError(f"{folder / CONFIG_FILE} lacks the keys {absent}")
    return config


def read_metrics(folder: str | os.PathLike) -> dict:
    """The test metrics training wrote beside the weights ({} if there are none)."""
    path = Path(folder) / METRICS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from err


def load_checkpoint(name: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode (float32) and return it with its config."""
    folder = resolve_checkpoint(name)
    config = read_config(folder)
    model = build_model(config["arch"], **config["arch_kwargs"])
    state = {k: v.float() for k, v in load_file(folder / WEIGHTS_FILE).items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{folder} does not match its config ({config['arch']}): missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}")
    model.load_state_dict(state)
    if len(config["class_names"]) != _num_outputs(model):
        raise CheckpointError(f"{folder}: {len(config['class_names'])} class names for a "
                              f"model with {_num_outputs(model)} outputs")
    config["folder"] = str(folder)
    return model.to(device).eval(), config


def _num_outputs(model: nn.Module) -> int:
    with torch.no_grad():
        return model.eval()(torch.zeros(1, 1, 28, 28)).shape[1]


def save_checkpoint(folder: str | os.PathLike, model: nn.Module, config: dict,
                    dtype: torch.dtype = torch.float32, extra_files: dict | None = None) -> Path:
    """Write a checkpoint folder atomically: all files go to a temporary sibling folder that
    replaces ``folder`` in one rename, so an interrupted run never leaves half a checkpoint.

    ``extra_files`` maps file names to ``str`` (text), ``bytes``, or a callable that writes
    the file given its path (used for plots).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype)
                 .contiguous() for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS_FILE)
        config = {**config, "weights_dtype": str(dtype).removeprefix("torch.")}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        for name, content in (extra_files or {}).items():
            target = tmp / name
            if callable(content):
                content(target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        old = folder.with_name(f".{folder.name}-old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
