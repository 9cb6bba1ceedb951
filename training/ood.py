"""Fit each checkpoint's out-of-distribution score and threshold (``classifier.ood``).

    python -m training.ood --data-dir ../shared/data                 # every shipped model
    python -m training.ood --data-dir ../shared/data mnist-cnn

Class means and one shared covariance of the features are fitted on the checkpoint's own training images, its validation images left
out; the threshold is the 99th percentile of the score on those validation images, so about
1% of inputs like the training data are flagged. Writes ``ood.safetensors`` and the ``"ood"`` entry of ``config.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from classifier.checkpoint import CHECKPOINTS_DIR, available_models, load_checkpoint
from classifier.datasets import DATASETS
from classifier.ood import OOD_FILE, features, scores
from classifier.preprocess import normalize, prepare, recipe_for
from training.data import read_split, train_val_split
from training.synthetic import sketch

# Measured against msp and energy with benchmarks/ood.py: the feature distance separates
# scribbles, letters and the other dataset best for every model trained without outliers.
# A model trained with outlier exposure (training.outliers) learns to be unsure of them, and
# then its logits separate best: for mnist-cnn, letters of other fonts it never saw are
# flagged 92% by energy, 90% by msp, 75% by the distance (benchmarks/ood.py).
METHOD = "mahalanobis"
METHOD_AFTER_OUTLIERS = "energy"


def method_for(config: dict) -> str:
    return METHOD_AFTER_OUTLIERS if config["training"].get("outlier_exposure") else METHOD
FLAG_RATE = 0.01
FIT_IMAGES = 20000
QUICK_FIT_IMAGES = 5000
CANVAS_IMAGES = 2000


@torch.no_grad()
def model_outputs(model, images: torch.Tensor, mean: float, std: float, batch: int = 256):
    """(logits, features) of uint8 images (N, 28, 28), in channels-last batches of 256 (as
    ``training.train.predict_logits``, for speed)."""
    logits, feats = [], []
    for chunk in images.split(batch):
        x = normalize(chunk, mean, std).contiguous(memory_format=torch.channels_last)
        lo, fe = features(model, x)
        logits.append(lo.float())
        feats.append(fe.float())
    return torch.cat(logits), torch.cat(feats)


def fit_stats(feats: torch.Tensor, labels: torch.Tensor, classes: int,
              shrinkage: float = 0.01) -> dict:
    """Class means (C, D) and the precision (D, D) of the covariance shared by the classes,
    shrunk toward its mean variance so it inverts even where features are degenerate;
    rounded to float16, as stored."""
    means = torch.stack([feats[labels == c].mean(0) for c in range(classes)])
    centred = (feats - means[labels]).double()
    cov = centred.T @ centred / len(feats)
    cov = (1 - shrinkage) * cov + shrinkage * cov.diagonal().mean() * torch.eye(len(cov),
                                                                                dtype=cov.dtype)
    precision = torch.linalg.inv(cov)
    return {"means": means.half().float(), "precision": precision.float().half().float()}


def fitted(model, config: dict, images: torch.Tensor, labels: torch.Tensor,
           fit_images: int = FIT_IMAGES, val_outputs=None) -> tuple:
    """(statistics, every score of the validation images) for a checkpoint, the statistics
    fitted on up to ``fit_images`` of the images it trained on (its ``limit``, if any)."""
    train_idx, val_idx = train_val_split(len(images), config["training"]["val_size"],
                                         config["seed"])
    limit = config["training"].get("limit") or FIT_IMAGES
    train_idx, val_idx = train_idx[:limit], val_idx[:limit]
    fit_idx = train_idx[torch.randperm(len(train_idx),
                                       generator=torch.Generator().manual_seed(0))[:fit_images]]
    _, feats = model_outputs(model, images[fit_idx], config["mean"], config["std"])
    stats = fit_stats(feats, labels[fit_idx], len(config["class_names"]))
    if val_outputs is not None:  # the same validation images, already through the model
        logits, feats = (t[:len(val_idx)] for t in val_outputs)
        return stats, scores(logits, feats, config.get("temperature", 1.0), stats)
    return stats, score_images(model, config, stats, images[val_idx])


def canvas_drawings(config: dict, images: torch.Tensor, n: int = CANVAS_IMAGES) -> torch.Tensor:
    """``n`` validation digits redrawn as on the page's canvas (thick strokes, anywhere,
    any size) and prepared by the app's recipe: uint8 (n, 28, 28)."""
    _, val_idx = train_val_split(len(images), config["training"]["val_size"], config["seed"])
    rng = np.random.default_rng(0)
    return torch.as_tensor(np.stack([prepare(sketch(x, rng), recipe_for(config))
                                     for x in images[val_idx[:n]].numpy()]))


def score_images(model, config: dict, stats: dict, images: torch.Tensor) -> dict:
    """Every score of uint8 images (N, 28, 28)."""
    logits, feats = model_outputs(model, images, config["mean"], config["std"])
    return scores(logits, feats, config.get("temperature", 1.0), stats)


def calibrate(name, data_dir: str, log=print, quick: bool = False, train=None,
              val_outputs=None) -> dict:
    """Fit a checkpoint's score, write ``ood.safetensors`` and its config's ``"ood"``.
    ``quick`` (the fast recipe) fits on QUICK_FIT_IMAGES and leaves out the check of the
    threshold on canvas drawings, which takes most of the time; ``python -m training.ood``
    does both later.
    ``train``: the (images, labels) of the training split, when already read;
    ``val_outputs``: the model's (logits, features) of its validation images, when known."""
    model, config = load_checkpoint(name)
    folder = Path(config["folder"])
    images, labels = train or read_split(data_dir, config["dataset"], "train", download=False)
    stats, val = fitted(model, config, images, labels,
                        QUICK_FIT_IMAGES if quick else FIT_IMAGES, val_outputs)
    method = method_for(config)
    threshold = float(torch.quantile(val[method], 1 - FLAG_RATE))
    source = f"99th percentile on {len(val[method])} validation images"
    if not quick and DATASETS[config["dataset"]].kind == "digits":  # drawings on the page, too, are rarely flagged
        # half the rate on them: drawings vary more than the images they are drawn from
        limit = config["training"].get("limit")  # a quick run: fewer drawings
        n = CANVAS_IMAGES if not limit else max(50, min(CANVAS_IMAGES, limit // 10))
        drawn = score_images(model, config, stats, canvas_drawings(config, images, n))[method]
        if float(torch.quantile(drawn, 1 - FLAG_RATE / 2)) > threshold:
            threshold = float(torch.quantile(drawn, 1 - FLAG_RATE / 2))
            source = (f"99.5th percentile on {len(drawn)} canvas drawings of validation "
                      "images, above the 99th on the validation images")
    if method == "mahalanobis":
        save_file({k: v.half().contiguous() for k, v in stats.items()}, str(folder / OOD_FILE))
    else:
        (folder / OOD_FILE).unlink(missing_ok=True)
    path = folder / "config.json"
    full = json.loads(path.read_text())
    full["ood"] = {"method": method, "threshold": round(threshold, 4),
                   "fitted_on": "training images (validation images left out)",
                   "threshold_from": source}
    path.write_text(json.dumps(full, indent=2) + "\n")
    log(f"{config['name']}: {method} threshold {threshold:.3f}")
    return full["ood"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.ood", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="checkpoint names or folders (default: all shipped)")
    p.add_argument("--data-dir", default="data")
    args = p.parse_args(argv)
    for name in args.models or available_models(CHECKPOINTS_DIR):
        calibrate(name, args.data_dir)


if __name__ == "__main__":
    main()
