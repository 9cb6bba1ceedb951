"""Per-checkpoint plots and model cards, and the comparison study ``checkpoints/REPORT.md``.

    python -m training.study --data-dir ../shared/data   # refresh every folder and the study

``python -m training`` calls the same functions for the folder it writes.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from classifier.checkpoint import (available_models, load_checkpoint,
                                   read_metrics)
from classifier.datasets import DATASETS
from classifier.preprocess import normalize
from training.data import read_split

ARCH_TITLES = {"linear": "logistic regression", "svm": "RBF-kernel SVM (random Fourier features)",
               "mlp": "MLP", "lenet5": "LeNet-5", "cnn": "modern small CNN",
               "resnet18": "ResNet-18 (timm)",
               "efficientnet_lite0": "EfficientNet-Lite0 (timm), fine-tuned from ImageNet"}


def checkpoint_files(model, config: dict, metrics: dict, test_images, test_labels) -> dict:
    """{file name: writer or text} for a checkpoint folder: the plots and the model card."""
    from training import plots  # Matplotlib, only when plots are drawn

    name, names = config["name"], config["class_names"]
    m, s, t = config["mean"], config["std"], config.get("temperature", 1.0)
    with torch.no_grad():
        probs = (model.eval()(normalize(test_images[:36], m, s)) / t).softmax(1)
    conf, pred = probs.max(1)
    wrong = metrics["misclassified"][:36]
    files = {
        "curves.png": lambda p: plots.plot_curves(p, metrics["history"], name,
                                                  metrics.get("swa")),
        "confusion.png": lambda p: plots.plot_confusion(p, metrics["confusion_matrix"],
                                                        names, name),
        "misclassified.png": lambda p: plots.plot_grid(
            p, test_images[[w["index"] for w in wrong]],
            [f"#{w['index']} {names[w['true']]}->{names[w['pred']]}" for w in wrong],
            f"{name}: misclassified test images (true->predicted), "
            f"{len(metrics['misclassified'])} in all"),
        "samples.png": lambda p: plots.plot_grid(
            p, test_images[:36], [f"{names[k]} {c:.0%}" for k, c in zip(pred, conf)],
            f"{name}: predictions on the first 36 test images (red: wrong)",
            ["black" if k == y else "red" for k, y in zip(pred, test_labels[:36])]),
        "filters.png": lambda p: plots.plot_filters(p, model, test_images[0], m, s, name),
        "README.md": model_card(config, metrics),
    }
    return files


def runs_line(tr: dict) -> str:
    """For a checkpoint continued more than once, a line naming each run, oldest first."""
    runs, run = [], tr
    while run:
        runs.append(run)
        run = run.get("init_from_training")
    if len(runs) < 3:
        return ""
    steps = []
    for r in reversed(runs):
        parts = [f"{r['epochs']} epochs at peak lr {r['lr']:g}"] if r["epochs"] else []
        if r.get("swa_epochs"):
            parts.append(f"{r['swa_epochs']} epochs of weight averaging at lr {r['swa_lr']:g}")
        if r.get("resolution"):
            parts.append(f"input {r['resolution']} px from here on")
        steps.append(", ".join(parts) or "no training")
    return ("- Runs, each from the weights of the one before: "
            + "; ".join(f"{i}) {s}" for i, s in enumerate(steps, 1)) + ".\n")


def model_card(config: dict, metrics: dict) -> str:
    ds, arch, name = config["dataset"], config["arch"], config["name"]
    tr = config["training"]
    acc = 100 * metrics["test_accuracy"]
    rows = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |"
                     for c, v in metrics["per_class"].items())
    init = ("fine-tuned from ImageNet weights" if config["init"] == "imagenet"
            else "trained from scratch (random initialisation)")
    main = tr.get("init_from_training") or tr  # a continued run: the run it continued
    main_epochs = sum(h.get("phase") != "swa" for h in metrics["history"])
    swa, then_line = metrics.get("swa"), ""
    chain = runs_line(tr)
    if tr.get("init_from") and not swa and not chain:  # a second run went on from the first
        first = main_epochs - tr["epochs"]
        extras = [f"outlier exposure {tr['outlier_exposure']:g} on {tr['outliers']:,} drawn "
                  "scribbles and letters"] if tr.get("outlier_exposure") else []
        if tr.get("drawn"):
            extras.append(f"{tr['drawn']:,} training digits redrawn as on the page's canvas")
        then_line = (f"then {tr['epochs']} more epochs at peak lr {tr['lr']:g} (a second run, "
                    f"from {tr['init_from']})" + (",\n  with " + " and ".join(extras)
                                                  if extras else "") + "; ")
        main_epochs = first
    epochs_line = (f"{main_epochs} epochs in all" if chain
                   else f"{main_epochs} epochs (at most {main['epochs']})")
    lr_line = "" if chain else f" with peak lr {tr['lr']}"
    if swa:
        second = (f" (a second run, from {tr['init_from']})" if tr.get("init_from") and not chain
                  else "")
        then_line = (f"then {swa['epochs']} epochs of stochastic weight averaging at lr "
                    f"{swa['lr']:g}{second}\n  with batch-norm statistics recomputed: "
                    f"validation loss {swa['before_val_loss']:.4f} -> {swa['val_loss']:.4f}, "
                    f"accuracy {100 * swa['before_val_acc']:.2f}% -> "
                    f"{100 * swa['val_acc']:.2f}%,\n  so the "
                    f"{'average' if swa['kept'] else 'model before averaging'} ships; ")
    seen, batch = config.get("input"), tr["batch_size"]
    input_line = (f"- Input: the 28x28 image, upsampled inside the model to {seen['resolution']} "
                  f"px ({seen['interpolation']}), {seen['channels']} channel.\n" if seen else "")
    return f"""---
license: mit
library_name: pytorch
pipeline_tag: image-classification
datasets:
- {DATASETS[ds].hub_id}
metrics:
- accuracy
tags:
- {ds}
- {arch}
- safetensors
model-index:
- name: {name}
  results:
  - task: {{type: image-classification}}
    dataset: {{name: {ds}, type: {DATASETS[ds].hub_id}, split: test}}
    metrics:
    - {{type: accuracy, value: {acc:.2f}}}
---

# {name}: {ARCH_TITLES.get(arch, arch)} for {ds}

A {ARCH_TITLES.get(arch, arch)} that classifies 28x28 grayscale {ds} images into
{len(config['class_names'])} classes: {', '.join(config['class_names'])}.
**Test accuracy {acc:.2f}%** on the {metrics['test_size']:,} test images; {metrics['parameters']:,}
trainable parameters; weights stored in {config.get('weights_dtype', 'float32')}.

## How it was trained
- Init: {init} (`"init": "{config['init']}"` in `config.json`).
- Data: the {ds} training set less a seeded validation split of {tr['val_size']:,} images
  (early stopping, temperature); the test set was used only for the final evaluation.
  Normalisation: mean {config['mean']}, std {config['std']} (from the training images).
{input_line}{chain}- {tr['optimizer']}{lr_line}, {tr['schedule']} schedule, batch {batch},
  weight decay {tr['weight_decay']}, {'hinge loss' if tr['loss'] == 'hinge' else f"label smoothing {tr['label_smoothing']}"},
  augmentation {tr['augment']}; {epochs_line},
  {then_line}{metrics['train_seconds'] / 60:.1f} min in all on {metrics['device']}; seed {config['seed']}.

## Test metrics
- accuracy {acc:.2f}%, cross-entropy {metrics['test_loss']:.4f}
- expected calibration error {100 * metrics['ece_before_temperature']:.2f}% before and
  {100 * metrics['ece_after_temperature']:.2f}% after temperature scaling (T = {config['temperature']})

| class | precision | recall | F1 |
| --- | --- | --- | --- |
{rows}

Plots: `curves.png`, `confusion.png`, `misclassified.png`, `samples.png`, `filters.png`.

## Intended use and limits
For learning and demonstration. It knows only these {len(config['class_names'])} classes and
answers one of them for any input. It was trained on centred, size-normalised 28x28 images:
drawings and photos must go through the same preprocessing (`classifier` does this), and real
photos still differ from {ds}. Not for any decision that matters.

## Load it
```python
from classifier import load_model
model = load_model("{name}")          # or a folder, or a Hub repo id
print(model.predict_proba("digit.png"))
```
"""


def latency_ms(model, runs: int = 100) -> float:
    """Median CPU latency of one 28x28 image through the model (batch 1, after warm-up)."""
    x = torch.randn(1, 1, 28, 28)
    times = []
    with torch.inference_mode():
        for k in range(runs + 10):
            t0 = time.perf_counter()
            model(x)
            if k >= 10:
                times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def write_folder_files(folder: Path, files: dict) -> None:
    for file_name, content in files.items():
        if callable(content):
            content(folder / file_name)
        else:
            (folder / file_name).write_text(content)


def refresh(root: Path, data_dir: str, files: bool = True) -> list[dict]:
    """Rewrite every checkpoint's plots and card (unless ``files`` is False); return one
    summary row per checkpoint."""
    rows, tests = [], {}
    for name in available_models(root):
        model, config = load_checkpoint(root / name)
        metrics = read_metrics(root / name)
        ds = config["dataset"]
        if ds not in tests:
            tests[ds] = read_split(data_dir, ds, "test")
        if files:
            write_folder_files(root / name, checkpoint_files(model, config, metrics, *tests[ds]))
        rows.append(dict(name=name, dataset=ds, arch=config["arch"], init=config["init"],
                         accuracy=100 * metrics["test_accuracy"], params=metrics["parameters"],
                         minutes=metrics["train_seconds"] / 60, device=metrics["device"],
                         latency=latency_ms(model), megabytes=folder_megabytes(root / name),
                         photos=photo_accuracy(model, config, data_dir)))
        print(f"{name}: {rows[-1]['accuracy']:.2f}%  {rows[-1]['latency']:.2f} ms")
    return rows


def folder_megabytes(folder: Path) -> float:
    """What the model weighs on disk: its weights files (model, photo view, OOD statistics)."""
    return sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 2**20


def photo_accuracy(model, config: dict, data_dir: str) -> float | None:
    """Accepted answers (%) on the development clothing photos, as the app serves them;
    None for a digit model or where the photos are absent."""
    from classifier.predict import Classifier
    from training.served import evaluate_photos

    photos = Path(data_dir) / "clothing-photos"
    if DATASETS[config["dataset"]].kind != "clothing" or not photos.is_dir():
        return None
    return 100 * evaluate_photos(Classifier(model, config), photos)["accepted"]
