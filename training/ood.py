"""Fit each checkpoint's out-of-distribution score and threshold (``classifier.ood``).

    python -m training.ood --data-dir ../shared/data                 # every shipped model
    python -m training.ood --data-dir ../shared/data mnist-cnn

Class centres (``OWN_PROTOTYPES``: k-means centres for digits, the class means for clothing)
and one covariance about the class means, shared by the classes, are fitted on the
checkpoint's own training images, its validation images left out, and 10 cluster centres
per class of the other dataset's training images in the same features (for the
``contrast`` score); the threshold is the 99th percentile of the score on those validation
images, so about 1% of inputs like the training data are flagged, or higher where more of
those images made into what the page receives (canvas drawings, product photos) would be.
Writes ``ood.safetensors`` and the ``"ood"`` entry of ``config.json``.
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
from classifier.ood import NEEDS, OOD_FILE, features, scores
from classifier.preprocess import normalize, prepare, recipe_for
from training.data import read_split, train_val_split
from training.handwriting import handwritten_digit
from training.synthetic import product, sketch

# Feature distance, not msp or energy: it separates outliers best, flags few drawn digits and
# gives the number reader a distance; the contrast also flags what lies near the other dataset
METHOD = "contrast"
METHOD_WITHOUT_OTHER = "mahalanobis"
FLAG_RATE = 0.01
FIT_IMAGES = 20000
QUICK_FIT_IMAGES = 5000
OTHER_IMAGES = 5000
# the other dataset by k-means centres per class, not its class means: one of its classes
# spans shapes that a model's features keep apart
OTHER_PROTOTYPES = 10
# digits: a class holds several ways of writing it (a 1 with a foot lies far from MNIST's
# mean 1); clothing: more centres only flagged more real photos, so the class means
OWN_PROTOTYPES = {"digits": 3, "clothing": 1}
# Digits drawn as on the page, in styles MNIST has few of (a 1 with a flag or a foot), join
# a digit model's fit of its own centres so that they are not flagged
HANDWRITTEN = {"digits": 3000, "clothing": 0}
HANDWRITTEN_SEED = 100  # apart from the benchmarks' seeds
# Validation images made into what the page receives, of which at most 1% may be flagged
# too; fewer product photos, as each goes through GrabCut
PAGE_INPUTS = {"digits": (sketch, "canvas drawings", 5000),
               "clothing": (product, "product photos", 1000)}


def other_dataset(config: dict, data_dir: str, n: int = OTHER_IMAGES):
    """(images, labels) of up to ``n`` training images of the dataset this checkpoint was not
    trained on, or None where its files are not in ``data_dir``."""
    name = next(d for d in DATASETS if d != config["dataset"])
    try:
        images, labels = read_split(data_dir, name, "train", download=False)
    except (OSError, ValueError):
        return None
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]
    return images[pick], labels[pick]


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
              shrinkage: float = 0.01, per_class: int = 1) -> dict:
    """Centres of each class (C x per_class, D; k-means, or the class means for 1) and the
    precision (D, D) of the covariance about the class means, shared by the classes, shrunk
    toward its mean variance so it inverts even where features are degenerate; rounded to
    float16, as stored."""
    means = torch.stack([feats[labels == c].mean(0) for c in range(classes)])
    centres = means if per_class == 1 else prototypes(feats, labels, per_class)
    centred = (feats - means[labels]).double()
    cov = centred.T @ centred / len(feats)
    cov = (1 - shrinkage) * cov + shrinkage * cov.diagonal().mean() * torch.eye(len(cov),
                                                                                dtype=cov.dtype)
    precision = torch.linalg.inv(cov).float()
    return {"means": centres.half().float(), "precision": as_stored(precision)}


def as_stored(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded to float16, as stored, unless that overflows: the precision of features
    with tiny variances (EfficientNet's 1,280, on digits) passes float16's 65,504."""
    half = t.half()
    return half.float() if torch.isfinite(half).all() else t


def prototypes(feats: torch.Tensor, labels: torch.Tensor, per_class: int = OTHER_PROTOTYPES,
               steps: int = 20) -> torch.Tensor:
    """(C x per_class, D) centres of ``per_class`` clusters of each class's features (Lloyd's
    k-means from seeded picks; a class with fewer images gives one centre per image)."""
    centres = []
    for c in labels.unique().tolist():
        x = feats[labels == c]
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(c))[:per_class]
        means = x[pick].clone()
        for _ in range(steps):
            nearest = torch.cdist(x, means).argmin(1)
            counts = torch.bincount(nearest, minlength=len(means))[:, None]
            sums = torch.zeros_like(means).index_add_(0, nearest, x)
            means = torch.where(counts > 0, sums / counts.clamp_min(1), means)  # empty: stays
        centres.append(means)
    return torch.cat(centres)


def own_centres(config: dict) -> int:
    """Centres per class of a checkpoint's own classes: the count its score was fitted with,
    or for a new checkpoint its kind of dataset's (``OWN_PROTOTYPES``)."""
    return ((config.get("ood") or {}).get("centres_per_class")
            or OWN_PROTOTYPES[DATASETS[config["dataset"]].kind])


def handwritten_count(config: dict) -> int:
    """Digits drawn as on the page in a checkpoint's fit: the count it records, or for a new
    checkpoint its kind of dataset's (``HANDWRITTEN``)."""
    recorded = (config.get("ood") or {}).get("handwritten")
    return HANDWRITTEN[DATASETS[config["dataset"]].kind] if recorded is None else recorded


def handwritten(config: dict, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 (n, 28, 28), labels) digits drawn as on the page (``HANDWRITTEN_SEED``) and
    prepared by the checkpoint's recipe; for a run on fewer images (its ``limit``), at most
    a tenth as many."""
    limit = config["training"].get("limit")
    n = min(n, limit // 10) if limit else n
    rng = np.random.default_rng(HANDWRITTEN_SEED)
    drawn = [handwritten_digit(rng) for _ in range(n)]
    if not drawn:
        return torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)
    images = np.stack([prepare(d, recipe_for(config)) for d, _ in drawn])
    return torch.as_tensor(images), torch.tensor([int(y) for _, y in drawn])


def fitted(model, config: dict, images: torch.Tensor, labels: torch.Tensor,
           fit_images: int = FIT_IMAGES, val_outputs=None, other=None,
           per_class: int | None = None, drawn=None) -> tuple:
    """(statistics, every score of the validation images) for a checkpoint, the statistics
    fitted on up to ``fit_images`` of the images it trained on (its ``limit``, if any) and
    the images and labels ``drawn`` (``handwritten``), with ``per_class`` centres per class
    (default: ``own_centres``), and with ``other`` (the other dataset's images and labels)
    its cluster centres as well."""
    train_idx, val_idx = train_val_split(len(images), config["training"]["val_size"],
                                         config["seed"])
    limit = config["training"].get("limit") or FIT_IMAGES
    train_idx, val_idx = train_idx[:limit], val_idx[:limit]
    fit_idx = train_idx[torch.randperm(len(train_idx),
                                       generator=torch.Generator().manual_seed(0))[:fit_images]]
    fit_images, fit_labels = images[fit_idx], labels[fit_idx]
    if drawn is not None and len(drawn[0]):
        fit_images = torch.cat([fit_images, drawn[0]])
        fit_labels = torch.cat([fit_labels, drawn[1]])
    _, feats = model_outputs(model, fit_images, config["mean"], config["std"])
    stats = fit_stats(feats, fit_labels, len(config["class_names"]),
                      per_class=per_class or own_centres(config))
    if other is not None:
        _, other_feats = model_outputs(model, other[0], config["mean"], config["std"])
        stats["other_means"] = prototypes(other_feats, other[1]).half().float()  # as stored
    if val_outputs is not None:  # the same validation images, already through the model
        logits, feats = (t[:len(val_idx)] for t in val_outputs)
        return stats, scores(logits, feats, config.get("temperature", 1.0), stats)
    return stats, score_images(model, config, stats, images[val_idx])


def page_inputs(config: dict, images: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` validation images made into what the page receives (``PAGE_INPUTS``: digits
    redrawn as on its canvas, clothing as product photos) and prepared by the app's recipe:
    uint8 (n, 28, 28)."""
    make = PAGE_INPUTS[DATASETS[config["dataset"]].kind][0]
    _, val_idx = train_val_split(len(images), config["training"]["val_size"], config["seed"])
    rng = np.random.default_rng(0)
    return torch.as_tensor(np.stack([prepare(make(x, rng), recipe_for(config))
                                     for x in images[val_idx[:n]].numpy()]))


def score_images(model, config: dict, stats: dict, images: torch.Tensor) -> dict:
    """Every score of uint8 images (N, 28, 28)."""
    logits, feats = model_outputs(model, images, config["mean"], config["std"])
    return scores(logits, feats, config.get("temperature", 1.0), stats)


def calibrate(name, data_dir: str, log=print, quick: bool = False, train=None,
              val_outputs=None, centres: int | None = None,
              handwritten_digits: int | None = None) -> dict:
    """Fit a checkpoint's score, write ``ood.safetensors`` and its config's ``"ood"``.
    ``quick`` (the fast recipe) fits on QUICK_FIT_IMAGES and leaves out the check of the
    threshold on inputs as the page receives them, which takes most of the time;
    ``python -m training.ood`` does both later.
    ``train``: the (images, labels) of the training split, when already read;
    ``val_outputs``: the model's (logits, features) of its validation images, when known;
    ``centres``: per class of its own classes (default: ``own_centres``);
    ``handwritten_digits``: digits drawn as on the page in the fit (default:
    ``handwritten_count``), recorded for later refits."""
    model, config = load_checkpoint(name)
    centres = centres or own_centres(config)
    folder = Path(config["folder"])
    images, labels = train or read_split(data_dir, config["dataset"], "train", download=False)
    other = other_dataset(config, data_dir, QUICK_FIT_IMAGES // 2 if quick else OTHER_IMAGES)
    if handwritten_digits is None:
        handwritten_digits = handwritten_count(config)
    hand = None if quick else handwritten(config, handwritten_digits)  # a refit adds them
    stats, val = fitted(model, config, images, labels,
                        QUICK_FIT_IMAGES if quick else FIT_IMAGES, val_outputs, other, centres,
                        hand)
    method = METHOD if other is not None else METHOD_WITHOUT_OTHER
    threshold = float(torch.quantile(val[method], 1 - FLAG_RATE))
    source = f"99th percentile on {len(val[method])} validation images"
    if not quick:  # inputs as the page receives them, too, are rarely flagged: at most the
        # same rate on them, which a higher percentile would flag too rarely (docs/log.md)
        _, kind, most = PAGE_INPUTS[DATASETS[config["dataset"]].kind]
        limit = config["training"].get("limit")  # a quick run: fewer of them
        n = most if not limit else max(50, min(most, limit // 10))
        drawn = score_images(model, config, stats, page_inputs(config, images, n))[method]
        if float(torch.quantile(drawn, 1 - FLAG_RATE)) > threshold:
            threshold = float(torch.quantile(drawn, 1 - FLAG_RATE))
            source = (f"99th percentile on {len(drawn)} {kind} of validation images, above "
                      "the 99th on the validation images")
    if method in NEEDS:
        save_file({k: (v.half() if torch.isfinite(v.half()).all() else v).contiguous()
                   for k, v in stats.items()}, str(folder / OOD_FILE))
    else:
        (folder / OOD_FILE).unlink(missing_ok=True)
    path = folder / "config.json"
    full = json.loads(path.read_text())
    fitted_on = ("training images (validation images left out)" if centres == 1 else
                 f"{centres} k-means centres per class of training images (validation images "
                 "left out)")
    if hand is not None and len(hand[0]):
        fitted_on += f" and {len(hand[0])} digits drawn as on the page (training.handwriting)"
    if other is not None:
        fitted_on += (f"; the other dataset: {OTHER_PROTOTYPES} k-means centres per class of "
                      f"{len(other[0])} of its images")
    full["ood"] = {"method": method, "threshold": round(threshold, 4), "fitted_on": fitted_on,
                   "threshold_from": source, "centres_per_class": centres,
                   "handwritten": handwritten_digits}
    path.write_text(json.dumps(full, indent=2) + "\n")
    log(f"{config['name']}: {method} threshold {threshold:.3f}")
    return full["ood"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.ood", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="checkpoint names or folders (default: all shipped)")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--centres", type=int, help="k-means centres per class of the model's own "
                   "classes (1: the class means; default: what the checkpoint was fitted with, "
                   f"else {OWN_PROTOTYPES})")
    p.add_argument("--handwritten", type=int, help="digits drawn as on the page added to the "
                   "fit (default: what the checkpoint was fitted with, else "
                   f"{HANDWRITTEN})")
    args = p.parse_args(argv)
    if args.centres is not None and args.centres < 1:
        p.error("--centres must be at least 1")
    if args.handwritten is not None and args.handwritten < 0:
        p.error("--handwritten must be 0 or more")
    for name in args.models or available_models(CHECKPOINTS_DIR):
        calibrate(name, args.data_dir, centres=args.centres,
                  handwritten_digits=args.handwritten)


if __name__ == "__main__":
    main()
