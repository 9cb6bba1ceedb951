"""One training run, end to end: data -> split -> model -> fit -> calibrate -> evaluate -> save.

    folder = run(resolve_config("mnist", "cnn", data_dir="../shared/data"))   # training.config

Under torchrun every process trains its shard (``training/train.py``); rank 0 alone then
evaluates and writes the checkpoint, and the others return None.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from classifier.checkpoint import (CheckpointError, load_checkpoint, read_metrics,
                                   save_checkpoint)
from classifier.datasets import DATASETS
from classifier.models import build_model, count_parameters
from training.config import Config, TrainingError
from training.data import read_corrections, read_split, train_val_split
from training.evaluate import classification_metrics, fit_temperature
from training.ood import calibrate, model_outputs
from training.outliers import drawn_digits, outlier_pool, touching_pairs
from training.pretrained import WeightsError, add_photo_view, imagenet_weights, source
from training.report import checkpoint_files
from training.train import evaluate, fit, fit_swa, predict_logits, rank_and_world


def pick_device(name: str) -> torch.device:
    """The device asked for; under torchrun on GPUs, this process's own GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and rank_and_world()[1] > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


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


def make_model(cfg: Config, train_images: torch.Tensor) -> tuple[torch.nn.Module, Config]:
    """A new model for ``cfg``, and ``cfg`` with the SVM's measured kernel in its arch_kwargs."""
    if cfg.arch == "svm":
        # sigma = sigma_ratio x median distance (MNIST: 0.6, best of 0.3-1.0 on a held-out check)
        k = cfg.arch_kwargs.get("num_components", 50)
        mu, components, median = pca(train_images, cfg.mean, cfg.std, k)
        cfg = cfg.replace(arch_kwargs={"num_components": k,
                                       "sigma": round(cfg.sigma_ratio * median, 3),
                                       **cfg.arch_kwargs})
    kwargs = dict(cfg.arch_kwargs)
    if cfg.arch == "resnet18":
        kwargs.update(pretrained=cfg.pretrained, weights_file=cfg.weights_file)
    elif cfg.arch == "efficientnet_lite0":
        if cfg.pretrained or cfg.weights_file:
            kwargs.update(weights_file=cfg.weights_file or str(pretrained_weights()))
    elif cfg.pretrained or cfg.weights_file:
        raise TrainingError("--pretrained and --weights-file apply to resnet18 and "
                            "efficientnet_lite0 only")
    try:
        model = build_model(cfg.arch, **kwargs)
        if cfg.arch == "svm":
            model.pca_mean.copy_(mu)
            model.pca_components.copy_(components)
        return model, cfg
    except (OSError, RuntimeError) as err:  # offline, missing or unreadable weights file
        raise TrainingError(
            f"could not load ImageNet weights for {cfg.arch}: {type(err).__name__}: {err}\n"
            f"Offline? Pass --weights-file PATH with timm {cfg.arch} weights (.safetensors), "
            "or train from scratch without --pretrained.") from err


def pretrained_weights() -> Path:
    """EfficientNet-Lite0's ImageNet weights as safetensors (converted on first use)."""
    try:
        return imagenet_weights()
    except WeightsError as err:
        raise TrainingError(str(err)) from err


def library_versions() -> dict:
    """Versions from the installed packages' metadata (importing timm would take a second)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__, "safetensors": version("safetensors")}
    try:
        versions["timm"] = version("timm")
    except PackageNotFoundError:
        pass
    return versions


def run(cfg: Config, log=print) -> Path | None:
    """Train, evaluate and write the checkpoint folder ``<out_dir>/<dataset>-<arch>``."""
    rank, world = rank_and_world()
    if rank > 0:
        log = quiet
    check_extras(cfg)
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    images, labels = read_split(cfg.data_dir, cfg.dataset, "train", download=rank == 0)
    train_idx, val_idx = train_val_split(len(images), cfg.val_size, cfg.seed)
    if cfg.limit:
        train_idx = train_idx[:cfg.limit]
    train = (images[train_idx], labels[train_idx])
    val = (images[val_idx], labels[val_idx])
    pixels = train[0].float() / 255  # the statistics of the dataset's own images
    cfg = cfg.replace(mean=round(pixels.mean().item(), 4), std=round(pixels.std().item(), 4),
                      world_size=world)

    if cfg.init_from:
        model, history, seconds, cfg = start_from(cfg)
    else:
        (model, cfg), history, seconds = make_model(cfg, train[0]), [], 0.0
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    log(f"{cfg.name}: {count_parameters(model):,} parameters, {len(train[0])} train / "
        f"{len(val[0])} val images, device {device}"
        + (f", {world} processes" if world > 1 else ""))
    torch.manual_seed(cfg.seed + rank)  # each process its own shuffles and augmentations
    digits = train[0]
    if cfg.drawn:
        log(f"redrawing {cfg.drawn} training digits as on the page's canvas")
        extra = drawn_digits(*train, cfg.drawn, cfg.seed + rank)
        train = (torch.cat([train[0], extra[0]]), torch.cat([train[1], extra[1]]))
    if cfg.extra_data:
        extra = read_corrections(cfg.extra_data, cfg.dataset, cfg.extra_repeat)
        log(f"adding {len(extra[0]) // max(cfg.extra_repeat, 1)} corrections from "
            f"{cfg.extra_data}, each {cfg.extra_repeat} times")
        train = (torch.cat([train[0], extra[0]]),
                 torch.cat([train[1], extra[1].to(train[1].dtype)]))
    outliers = None
    if cfg.outlier_exposure:
        log(f"drawing {cfg.outliers} outliers (scribbles and letters)"
            + (f" and {cfg.touching_pairs} pairs of touching digits" if cfg.touching_pairs
               else ""))
        outliers = outlier_pool(cfg.outliers, cfg.seed + rank)
        if cfg.touching_pairs:
            pairs = touching_pairs(digits, cfg.touching_pairs, cfg.seed + rank)
            outliers = torch.cat([outliers, pairs])
        outliers = outliers.to(device)
    model, more, took = fit(model, train, val, cfg, device, log=log, outliers=outliers)
    history, seconds = renumber(history, more), seconds + took
    swa = None
    if cfg.swa_epochs:
        model, swa, more, took = average_weights(model, train, val, cfg, device, log, outliers)
        history, seconds = renumber(history, more), seconds + took
    if rank > 0:
        return None  # rank 0 evaluates and writes the one checkpoint
    return finish(model, cfg, (images, labels), val, history, seconds, device, swa, log)


def check_extras(cfg: Config) -> None:
    """Refuse, before any work, extra training images that make no sense for ``cfg``."""
    if (cfg.drawn or cfg.touching_pairs) and DATASETS[cfg.dataset].kind != "digits":
        raise TrainingError("--drawn and --touching-pairs draw digits; they are for digit "
                            "datasets")
    if cfg.touching_pairs and not cfg.outlier_exposure:
        raise TrainingError("--touching-pairs are outliers: give --outlier-exposure too")


def finish(model, cfg: Config, train, val, history, seconds, device, swa=None,
           log=print) -> Path:
    """After training: calibrate, evaluate once, choose the storage type, write the folder.
    ``train`` is the whole training split (images, labels), for the OOD score's fit."""
    t0 = time.perf_counter()
    model = model.to("cpu").float()  # still channels-last for a conv net: faster to evaluate
    cpu = torch.device("cpu")
    test_images, test_labels = read_split(cfg.data_dir, cfg.dataset, "test", download=False)
    val_outputs = model_outputs(model, val[0], cfg.mean, cfg.std)  # (logits, features)
    temperature = fit_temperature(val_outputs[0], val[1])
    if cfg.quick_finish:  # one pass over the test set, not two
        dtype = torch.float32
        test_logits = predict_logits(model, test_images, cfg.mean, cfg.std, cpu)
    else:
        dtype, test_logits = choose_dtype(model, test_images, test_labels, cfg)
    names = list(DATASETS[cfg.dataset].class_names)
    metrics = classification_metrics(test_logits, test_labels, names, temperature)
    metrics.update(temperature=temperature, parameters=count_parameters(model),
                   train_seconds=round(seconds, 1), epochs_run=len(history),
                   device=device_name(device), history=history,
                   val_accuracy=max(h["val_acc"] for h in history))
    if cfg.world_size > 1:
        metrics["world_size"] = cfg.world_size
    if swa:
        metrics["swa"] = swa
    log(f"test accuracy {metrics['test_accuracy']:.4f}  loss {metrics['test_loss']:.4f}  "
        f"T {temperature:.3f}  weights {dtype}  {seconds:.0f}s")
    config = checkpoint_config(cfg, names, temperature)
    config["weights_dtype"] = str(dtype).removeprefix("torch.")
    files = {"metrics.json": json.dumps(metrics, indent=1) + "\n"}
    if not cfg.quick_finish:
        files.update(checkpoint_files(model, config, metrics, test_images, test_labels))
    folder = Path(cfg.out_dir) / config["name"]
    model = model.to(memory_format=torch.contiguous_format)
    save_checkpoint(folder, model, config, dtype=dtype, extra_files=files)
    calibrate(folder, cfg.data_dir, log=log, quick=cfg.quick_finish, train=train,
              val_outputs=val_outputs)  # its OOD score
    if photo_view_wanted(cfg):
        add_photo_view(folder)
        log("added the photo view: the ImageNet network, to read clothing photos with")
    log(f"after training: {time.perf_counter() - t0:.1f}s")
    return folder


def quiet(*_args, **_kwargs) -> None:
    pass


def start_from(cfg: Config):
    """Model, history, training seconds of the checkpoint ``init_from``, which must be the
    same architecture trained on the same dataset and training/validation split, and the
    config with that checkpoint's architecture settings."""
    try:
        model, source = load_checkpoint(cfg.init_from)
        metrics = read_metrics(source["folder"])
    except (CheckpointError, OSError, ValueError) as err:
        raise TrainingError(f"--init-from {cfg.init_from}: {err}") from err
    mine = dict(dataset=cfg.dataset, arch=cfg.arch, mean=cfg.mean, std=cfg.std)
    theirs = {k: source[k] for k in mine}
    if mine != theirs or source["training"]["val_size"] != cfg.val_size \
            or source["seed"] != cfg.seed:
        raise TrainingError(f"--init-from {cfg.init_from}: that checkpoint was trained as "
                            f"{theirs} (seed {source['seed']}, val size "
                            f"{source['training']['val_size']}), not as {mine} (seed "
                            f"{cfg.seed}, val size {cfg.val_size})")
    arch_kwargs = dict(source["arch_kwargs"])
    if cfg.resolution and cfg.resolution != arch_kwargs.get("resolution"):
        # the weights do not depend on the input size: the same ones, upsampled further
        arch_kwargs["resolution"] = cfg.resolution
        resized = build_model(cfg.arch, **arch_kwargs)
        resized.load_state_dict(model.state_dict())
        model = resized
    cfg = cfg.replace(arch_kwargs=arch_kwargs,
                      pretrained=source["init"] == "imagenet",  # the new config's init stays true
                      init_from_training=source["training"])
    return model.train(), metrics["history"], metrics["train_seconds"], cfg


def average_weights(model, train, val, cfg: Config, device, log=print, outliers=None):
    """Weight averaging after the main schedule; the average replaces ``model`` only when
    its validation loss is lower. Returns (model, summary, history, seconds). Under
    torchrun every process trains; rank 0 judges, and only its answer is used."""
    lead = rank_and_world()[0] == 0
    base_loss, base_acc = evaluate(model, *val, cfg, device) if lead else (0.0, 0.0)
    before = copy.deepcopy(model.state_dict())
    averaged, more, seconds = fit_swa(model, train, val, cfg, device, log, outliers)
    if not lead:
        return averaged, None, more, seconds
    loss, acc = evaluate(averaged, *val, cfg, device)
    keep = loss < base_loss
    log(f"weight average of {cfg.swa_epochs} epochs: val loss {loss:.4f} acc {acc:.4f}, "
        f"before averaging {base_loss:.4f} / {base_acc:.4f}: "
        f"{'keeping the average' if keep else 'keeping the model before averaging'}")
    summary = dict(epochs=cfg.swa_epochs, lr=cfg.swa_lr, val_loss=loss, val_acc=acc,
                   before_val_loss=base_loss, before_val_acc=base_acc, kept=keep)
    if not keep:
        model.load_state_dict(before)
    return (averaged if keep else model.eval()), summary, more, seconds


def renumber(history: list[dict], more: list[dict]) -> list[dict]:
    """``history`` followed by ``more``, whose epochs continue the count."""
    return history + [{**h, "epoch": len(history) + i} for i, h in enumerate(more, 1)]


def choose_dtype(model, images, labels, cfg: Config) -> tuple[torch.dtype, torch.Tensor]:
    """float16 storage when it leaves the test predictions unchanged; the model is left
    holding the stored (rounded) weights, so the metrics describe exactly what ships.
    Returns the storage type and the test logits of what ships."""
    cpu = torch.device("cpu")
    full_logits = predict_logits(model, images, cfg.mean, cfg.std, cpu)
    full = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                           for k, v in full.items()})
    half_logits = predict_logits(model, images, cfg.mean, cfg.std, cpu)
    if (full_logits.argmax(1) == labels).sum() == (half_logits.argmax(1) == labels).sum():
        return torch.float16, half_logits
    model.load_state_dict(full)
    return torch.float32, full_logits


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def checkpoint_config(cfg: Config, class_names: list[str], temperature: float) -> dict:
    settings = dataclasses.asdict(cfg)
    training = {k: v for k, v in settings.items()
                if k not in ("arch", "arch_kwargs", "dataset", "mean", "std", "progress",
                             "data_dir", "out_dir") and v is not None}
    return {
        "format_version": 1,
        "name": cfg.name,
        "arch": cfg.arch,
        "arch_kwargs": cfg.arch_kwargs,
        "dataset": cfg.dataset,
        "class_names": class_names,
        "input_size": [1, 28, 28],
        "preprocess": DATASETS[cfg.dataset].recipe,  # how user images become model input
        "mean": cfg.mean,
        "std": cfg.std,
        "temperature": round(temperature, 4),
        "init": "imagenet" if cfg.pretrained or cfg.weights_file else "scratch",
        **init_details(cfg),
        "seed": cfg.seed,
        "training": training,
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%d"),
    }


def photo_view_wanted(cfg: Config) -> bool:
    """A clothing model fine-tuned from the package's ImageNet weights keeps that network to
    read photos with (``classifier.photo``)."""
    return (cfg.arch == "efficientnet_lite0" and cfg.pretrained and not cfg.weights_file
            and DATASETS[cfg.dataset].kind == "clothing")


def init_details(cfg: Config) -> dict:
    """For a fine-tuned EfficientNet-Lite0: where its ImageNet weights came from, and the
    input it takes, in the spirit of timm's ``pretrained_cfg``."""
    if cfg.arch != "efficientnet_lite0":
        return {}
    details = {"input": {"resolution": cfg.arch_kwargs.get("resolution", 64), "channels": 1,
                         "upsampled_from": 28, "interpolation": "bilinear",
                         "mean": cfg.mean, "std": cfg.std}}
    if cfg.pretrained and not cfg.weights_file:
        details["init_source"] = source()
    elif cfg.weights_file:
        details["init_source"] = {"weights": "ImageNet-1k", "file": Path(cfg.weights_file).name}
    return details
