"""One training run, end to end: data -> split -> model -> fit -> calibrate -> evaluate -> save.

    folder = run(resolve_config(dataset="mnist", arch="cnn", data_dir="../shared/data"))
"""
from __future__ import annotations

import copy
import json
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from classifier.checkpoint import (CheckpointError, load_checkpoint, read_metrics,
                                   save_checkpoint)
from classifier.models import build_model, count_parameters
from classifier.preprocess import DEFAULT_RECIPE
from training.data import DATASETS, read_split, train_val_split
from training.evaluate import classification_metrics, fit_temperature
from training.ood import calibrate
from training.outliers import outlier_pool
from training.report import checkpoint_files
from training.train import evaluate, fit, fit_swa, predict_logits

# Per-architecture defaults, tuned for a 2-core CPU budget (a GPU finishes them in minutes).
# lr is the peak of the one-cycle schedule; epochs is the most that run (early stopping).
# linear, svm and mlp let the schedule run out (patience = epochs): their validation loss
# wobbles while the one-cycle learning rate is high, and the last, low-rate epochs matter.
ARCH_DEFAULTS = {
    "linear":   dict(epochs=20, batch_size=256, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.0, augment="off", loss="ce", patience=20),
    "svm":      dict(epochs=30, batch_size=256, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.0, augment="light", loss="hinge", patience=30),
    "mlp":      dict(epochs=30, batch_size=128, optimizer="adamw", lr=1e-3, weight_decay=1e-4,
                     label_smoothing=0.1, augment="light", loss="ce", patience=30),
    "lenet5":   dict(epochs=25, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.1, augment="full", loss="ce"),
    "cnn":      dict(epochs=15, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=5e-4,
                     label_smoothing=0.1, augment="full", loss="ce", arch_kwargs={"width": 48}),
    "resnet18": dict(epochs=10, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-4,
                     label_smoothing=0.1, augment="full", loss="ce"),
}
# Where one dataset needs other settings. Fashion-MNIST's kernel SVM underfits with 50
# principal components (held-out ridge check: 86.7% with 50 at 0.6 x median distance, 88.7%
# with 100 at 1.0 x). With 100 components and the hinge loss, validation accuracy by kernel
# width: 88.7% at 1.0 x, 89.3% at 0.7 x, 89.2% at 0.5 x; 32,768 features instead of 16,384
# or 200 components did not help (88.9%, 89.1%). Shifted copies make it underfit, and so does
# a small step: its features are scaled by sqrt(2/D) ~ 0.01, and on a 20k-image check Adam
# at 3e-3 reached 83.5% train accuracy where steps 64x larger reached 90.8%.
DATASET_OVERRIDES = {
    ("fashion-mnist", "svm"): dict(arch_kwargs={"num_components": 100}, sigma_ratio=0.7,
                                   augment="off", lr=0.2),
    # The MLP on digits stops early: validation loss bottoms out by epoch 11 (98.76% test)
    ("mnist", "mlp"): dict(patience=5),
    # LeNet-5 is too small to fit clothing under random erasing (train 89.3%, test 90.4%)
    ("fashion-mnist", "lenet5"): dict(augment="light", epochs=30),
    # 15 epochs left the CNN underfitting clothing (train 94.0% augmented, test 93.4%)
    ("fashion-mnist", "cnn"): dict(epochs=20),
    # 10 epochs left ResNet-18 at 92.1% on clothing with validation accuracy still rising;
    # 45 epochs reach 94.28% test (val 94.32%, 101 min on 2 CPU cores), 60 epochs 94.33%
    # (best val loss at epoch 55: val 94.40%, 135 min). Near the peak of a long one-cycle
    # schedule the validation loss stalls for several epochs, so no early stop here.
    # Averaging the weights of 20 more epochs at lr 0.01 then lowers val loss 0.2365 ->
    # 0.2206 (val 94.40% -> 94.66%) and reaches 94.83% test (47 min more). The shipped
    # checkpoint was made in two runs, the second with --init-from (see its config.json);
    # this override does the same in one.
    ("fashion-mnist", "resnet18"): dict(epochs=60, patience=60, swa_epochs=20),
}
COMMON_DEFAULTS = dict(schedule="onecycle", patience=8, val_size=5000, seed=0, device="auto",
                       precision="bf16", limit=None, progress=True, pretrained=False,
                       weights_file=None, init_from=None, swa_epochs=0, swa_lr=None,
                       outlier_exposure=0.0, outliers=5000,
                       data_dir="data", out_dir="checkpoints")


class TrainingError(ValueError):
    """A run that cannot start as asked; the message says why and what to do."""


def resolve_config(dataset: str, arch: str, **overrides) -> dict:
    """Defaults for ``arch`` overlaid with every override that is not None."""
    cfg = {**COMMON_DEFAULTS, **ARCH_DEFAULTS[arch],
           **DATASET_OVERRIDES.get((dataset, arch), {}), "dataset": dataset, "arch": arch}
    cfg.setdefault("arch_kwargs", {})
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    cfg["arch_kwargs"] = dict(cfg["arch_kwargs"])
    cfg["channels_last"] = arch in ("cnn", "resnet18", "lenet5")
    if cfg["swa_lr"] is None:
        cfg["swa_lr"] = cfg["lr"] / 10
    return cfg


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pca(images: torch.Tensor, mean: float, std: float, k: int, n: int = 20000):
    """Mean (784,), top-k components (784, k) of normalised images, and the median pairwise
    distance of the projected images (the usual RBF bandwidth heuristic)."""
    x = ((images[:n].float() / 255 - mean) / std).flatten(1)  # (n, 784)
    mu = x.mean(0)
    _, _, v = torch.linalg.svd(x - mu, full_matrices=False)
    components = v[:k].T.contiguous()  # (784, k)
    p = (x[:2000] - mu) @ components
    d = torch.cdist(p, p)
    return mu, components, float(d[torch.triu(torch.ones_like(d, dtype=torch.bool), 1)].median())


def make_model(cfg: dict, train_images: torch.Tensor) -> torch.nn.Module:
    if cfg["arch"] == "svm":
        # sigma = sigma_ratio x median distance (MNIST: 0.6, best of 0.3-1.0 on a held-out check)
        k = cfg["arch_kwargs"].setdefault("num_components", 50)
        mu, components, median = pca(train_images, cfg["mean"], cfg["std"], k)
        cfg["arch_kwargs"].setdefault("sigma", round(cfg.get("sigma_ratio", 0.6) * median, 3))
    kwargs = dict(cfg["arch_kwargs"])
    if cfg["arch"] == "resnet18":
        kwargs.update(pretrained=cfg["pretrained"], weights_file=cfg["weights_file"])
    elif cfg["pretrained"] or cfg["weights_file"]:
        raise TrainingError("--pretrained and --weights-file apply to resnet18 only")
    try:
        model = build_model(cfg["arch"], **kwargs)
        if cfg["arch"] == "svm":
            model.pca_mean.copy_(mu)
            model.pca_components.copy_(components)
        return model
    except (OSError, RuntimeError) as err:  # offline, missing or unreadable weights file
        raise TrainingError(
            f"could not load ImageNet weights for resnet18: {type(err).__name__}: {err}\n"
            "Offline? Pass --weights-file PATH with timm resnet18 weights (.safetensors), "
            "or train from scratch without --pretrained.") from err


def library_versions() -> dict:
    import safetensors
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__, "safetensors": safetensors.__version__}
    try:
        import timm
        versions["timm"] = timm.__version__
    except ImportError:
        pass
    return versions


def run(cfg: dict, log=print) -> Path:
    """Train, evaluate and write the checkpoint folder ``<out_dir>/<dataset>-<arch>``."""
    seed_everything(cfg["seed"])
    device = pick_device(cfg["device"])
    images, labels = read_split(cfg["data_dir"], cfg["dataset"], "train")
    test_images, test_labels = read_split(cfg["data_dir"], cfg["dataset"], "test")
    train_idx, val_idx = train_val_split(len(images), cfg["val_size"], cfg["seed"])
    if cfg["limit"]:
        train_idx = train_idx[:cfg["limit"]]
    train = (images[train_idx], labels[train_idx])
    val = (images[val_idx], labels[val_idx])
    pixels = train[0].float() / 255
    cfg["mean"], cfg["std"] = round(pixels.mean().item(), 4), round(pixels.std().item(), 4)

    if cfg["init_from"]:
        model, history, seconds = start_from(cfg)
    else:
        model, history, seconds = make_model(cfg, train[0]), [], 0.0
    model = model.to(device)
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    log(f"{cfg['dataset']}-{cfg['arch']}: {count_parameters(model):,} parameters, "
        f"{len(train[0])} train / {len(val[0])} val images, device {device}")
    outliers = None
    if cfg["outlier_exposure"]:
        log(f"drawing {cfg['outliers']} outliers (scribbles and letters)")
        outliers = outlier_pool(cfg["outliers"], cfg["seed"]).to(device)
    model, more, took = fit(model, train, val, cfg, device, log=log, outliers=outliers)
    history, seconds = renumber(history, more), seconds + took
    swa = None
    if cfg["swa_epochs"]:
        model, swa, more, took = average_weights(model, train, val, cfg, device, log, outliers)
        history, seconds = renumber(history, more), seconds + took
    model = model.to("cpu", memory_format=torch.contiguous_format).float()

    val_logits = predict_logits(model, val[0], cfg["mean"], cfg["std"], torch.device("cpu"))
    temperature = fit_temperature(val_logits, val[1])
    dtype = choose_dtype(model, test_images, test_labels, cfg)
    test_logits = predict_logits(model, test_images, cfg["mean"], cfg["std"],
                                 torch.device("cpu"))
    names = DATASETS[cfg["dataset"]]
    metrics = classification_metrics(test_logits, test_labels, names, temperature)
    metrics.update(temperature=temperature, parameters=count_parameters(model),
                   train_seconds=round(seconds, 1), epochs_run=len(history),
                   device=device_name(device), history=history,
                   val_accuracy=max(h["val_acc"] for h in history))
    if swa:
        metrics["swa"] = swa
    log(f"test accuracy {metrics['test_accuracy']:.4f}  loss {metrics['test_loss']:.4f}  "
        f"T {temperature:.3f}  weights {dtype}  {seconds:.0f}s")
    config = checkpoint_config(cfg, names, temperature)
    config["weights_dtype"] = str(dtype).removeprefix("torch.")
    files = {"metrics.json": json.dumps(metrics, indent=1) + "\n",
             **checkpoint_files(model, config, metrics, test_images, test_labels)}
    folder = Path(cfg["out_dir"]) / config["name"]
    save_checkpoint(folder, model, config, dtype=dtype, extra_files=files)
    calibrate(folder, cfg["data_dir"], log=log)  # its out-of-distribution score
    return folder


def start_from(cfg: dict):
    """Model, history and training seconds of the checkpoint ``init_from``, which must be the
    same architecture trained on the same dataset and training/validation split."""
    try:
        model, source = load_checkpoint(cfg["init_from"])
        metrics = read_metrics(source["folder"])
    except (CheckpointError, OSError, ValueError) as err:
        raise TrainingError(f"--init-from {cfg['init_from']}: {err}") from err
    mine = dict(dataset=cfg["dataset"], arch=cfg["arch"], mean=cfg["mean"], std=cfg["std"])
    theirs = {k: source[k] for k in mine}
    if mine != theirs or source["training"]["val_size"] != cfg["val_size"] \
            or source["seed"] != cfg["seed"]:
        raise TrainingError(f"--init-from {cfg['init_from']}: that checkpoint was trained as "
                         f"{theirs} (seed {source['seed']}, val size "
                         f"{source['training']['val_size']}), not as {mine} (seed "
                         f"{cfg['seed']}, val size {cfg['val_size']})")
    cfg["arch_kwargs"] = source["arch_kwargs"]
    cfg["pretrained"] = source["init"] == "imagenet"  # so the new config's init stays true
    cfg["init_from_training"] = source["training"]
    return model.train(), metrics["history"], metrics["train_seconds"]


def average_weights(model, train, val, cfg, device, log=print, outliers=None):
    """Weight averaging after the main schedule; the average replaces ``model`` only when
    its validation loss is lower. Returns (model, summary, history, seconds)."""
    base_loss, base_acc = evaluate(model, *val, cfg, device)
    before = copy.deepcopy(model.state_dict())
    averaged, more, seconds = fit_swa(model, train, val, cfg, device, log, outliers)
    loss, acc = evaluate(averaged, *val, cfg, device)
    keep = loss < base_loss
    log(f"weight average of {cfg['swa_epochs']} epochs: val loss {loss:.4f} acc {acc:.4f}, "
        f"before averaging {base_loss:.4f} / {base_acc:.4f}: "
        f"{'keeping the average' if keep else 'keeping the model before averaging'}")
    summary = dict(epochs=cfg["swa_epochs"], lr=cfg["swa_lr"], val_loss=loss, val_acc=acc,
                   before_val_loss=base_loss, before_val_acc=base_acc, kept=keep)
    if not keep:
        model.load_state_dict(before)
    return (averaged if keep else model.eval()), summary, more, seconds


def renumber(history: list[dict], more: list[dict]) -> list[dict]:
    """``history`` followed by ``more``, whose epochs continue the count."""
    return history + [{**h, "epoch": len(history) + i} for i, h in enumerate(more, 1)]


def choose_dtype(model, images, labels, cfg) -> torch.dtype:
    """float16 storage when it leaves the test predictions unchanged; the model is left
    holding the stored (rounded) weights, so the metrics describe exactly what ships."""
    cpu = torch.device("cpu")
    before = predict_logits(model, images, cfg["mean"], cfg["std"], cpu).argmax(1)
    full = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                           for k, v in full.items()})
    after = predict_logits(model, images, cfg["mean"], cfg["std"], cpu).argmax(1)
    if (before == labels).sum() == (after == labels).sum():
        return torch.float16
    model.load_state_dict(full)
    return torch.float32


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def checkpoint_config(cfg: dict, class_names: list[str], temperature: float) -> dict:
    training = {k: v for k, v in cfg.items()
                if k not in ("arch", "arch_kwargs", "dataset", "mean", "std", "progress",
                             "data_dir", "out_dir")}
    return {
        "format_version": 1,
        "name": f"{cfg['dataset']}-{cfg['arch']}",
        "arch": cfg["arch"],
        "arch_kwargs": cfg["arch_kwargs"],
        "dataset": cfg["dataset"],
        "class_names": class_names,
        "input_size": [1, 28, 28],
        "preprocess": DEFAULT_RECIPE[cfg["dataset"]],  # how user images become model input
        "mean": cfg["mean"],
        "std": cfg["std"],
        "temperature": round(temperature, 4),
        "init": "imagenet" if cfg["pretrained"] or cfg["weights_file"] else "scratch",
        "seed": cfg["seed"],
        "training": training,
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%d"),
    }
