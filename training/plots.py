"""The PNGs of a checkpoint folder, each a function ``(path, ...) -> None`` (matplotlib, Agg).

curves.png (loss and accuracy per epoch), confusion.png, misclassified.png, samples.png,
and filters.png: what the first layer learned (conv kernels, or the linear model's ten
templates) with its feature maps for one test image.
"""
from __future__ import annotations

import matplotlib
import torch
from torch import nn

from classifier.preprocess import normalize

matplotlib.use("Agg")  # files only, no display: set before pyplot is first imported (below)


def _pyplot():
    """matplotlib.pyplot, imported once the Agg backend is set."""
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path, history: list[dict], title: str, summary: dict | None = None) -> None:
    """``summary``: the ``swa`` entry of metrics.json, when the run averaged weights."""
    epochs = [h["epoch"] for h in history]
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, style in (("train", "-"), ("val", "--")):
        ax1.plot(epochs, [h[f"{key}_loss"] for h in history], style, label=key)
        ax2.plot(epochs, [100 * h[f"{key}_acc"] for h in history], style, label=key)
    swa = [h["epoch"] for h in history if h.get("phase") == "swa"]
    if swa:  # per-epoch figures there are of the weights being averaged, not of the average
        for ax in (ax1, ax2):
            ax.axvline(swa[0] - 0.5, color="grey", lw=0.8, ls=":", label="weight averaging")
    if summary:  # the average itself, measured once at the end
        ax1.plot(epochs[-1], summary["val_loss"], "k*", label="val, average")
        ax2.plot(epochs[-1], 100 * summary["val_acc"], "k*", label="val, average")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax1.legend(), ax2.legend()
    fig.suptitle(f"{title} (train: augmented batches, model in training mode)", fontsize=9)
    _save(fig, path)


def plot_confusion(path, matrix: list[list[int]], class_names: list[str], title: str) -> None:
    m = torch.tensor(matrix)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.4))
    ax.imshow(m.float().log1p(), cmap="Blues")
    for i in range(len(m)):
        for j in range(len(m)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if i == j else "black")
    ax.set_xticks(range(len(m)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(m)), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=f"{title}: confusion matrix (test)")
    _save(fig, path)


def plot_grid(path, images: torch.Tensor, captions: list[str], title: str, colors=None) -> None:
    """Up to 36 uint8 (28, 28) images in a 6-column grid with a caption each."""
    n = min(36, len(images))
    rows = max(1, -(-n // 6))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, 6, figsize=(9, 1.6 * rows + 0.4))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap="gray", vmin=0, vmax=255)
            ax.set_title(captions[k], fontsize=7, color=(colors[k] if colors else "black"))
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_filters(path, model: nn.Module, image: torch.Tensor, mean: float, std: float,
                 title: str) -> bool:
    """First-layer weights and, for conv models, their feature maps for ``image``.
    Returns False (and writes nothing) for models without a first layer to show."""
    first = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
    if isinstance(first, nn.Linear) and first.in_features == 28 * 28:
        weights = first.weight.detach()[:10].reshape(-1, 28, 28)  # class templates
        maps = None
    elif isinstance(first, nn.Conv2d):
        weights = first.weight.detach()[:, 0]  # (C, k, k)
        with torch.no_grad():
            maps = first(normalize(image, mean, std))[0]  # (C, H, W)
    else:
        return False
    n = min(16, len(weights))
    rows = 1 if maps is None else 2
    plt = _pyplot()
    fig, axes = plt.subplots(rows, n, figsize=(1.1 * n, 1.3 * rows + 0.5), squeeze=False)
    for k in range(n):
        v = float(weights[k].abs().max()) or 1.0
        axes[0, k].imshow(weights[k], cmap="RdBu_r", vmin=-v, vmax=v)  # red +, blue -
        if maps is not None:
            axes[1, k].imshow(maps[k], cmap="viridis")
    for ax in axes.flat:
        ax.axis("off")
    what = "first-layer kernels (top) and their feature maps for a test image (bottom)"
    fig.suptitle(f"{title}: {what if maps is not None else 'learned weight templates'}",
                 fontsize=9)
    _save(fig, path)
    return True


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
